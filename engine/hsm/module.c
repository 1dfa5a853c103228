/*
 * Loading a PKCS#11 module through p11-kit: by the name of a module
 * registered in p11-kit's configuration (p11-kit then applies that
 * configuration, x-init-reserved included), by the path of the library, or
 * by the path of a p11-kit module file ("NAME.module", pkcs11.conf(5))
 * that is not registered anywhere: its "module:" and "x-init-reserved:"
 * lines are honoured, so a module needing initialization arguments (NSS
 * softoken's configdir) runs from a private file without touching the
 * system's or the user's p11-kit configuration.
 *
 * The library itself is always loaded by p11-kit; only C_Initialize is
 * called here, with CKF_OS_LOCKING_OK and pReserved, since p11-kit's own
 * p11_kit_module_initialize() takes no arguments (p11-kit passes a
 * managed module's C_Initialize arguments through to the module).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/trim.h"
#include "core/unconst.h"

#define MODFILE_LINE_MAX 4096

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads "module:" and "x-init-reserved:" from a p11-kit module file. Other
 * keys (critical, trust-policy, ...) concern p11-kit's proxy and are
 * ignored. *module and *init are malloc()ed. */
static dfi_err
read_module_file(dfi_hsm *h, const char *path, char **module, char **init)
{
	*module = *init = NULL;
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_MODULE, "cannot read p11-kit module file '%s': %s",
		    path, strerror(errno));
	}
	char line[MODFILE_LINE_MAX];
	unsigned lineno = 0;
	dfi_err e = DFI_OK;
	while (e == DFI_OK && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			e = dfi_hsm_set_detail(h, DFI_E_HSM_MODULE, "%s:%u: line longer than %d bytes",
			    path, lineno, MODFILE_LINE_MAX - 1);
			break;
		}
		char *p = dfi_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		char *colon = strchr(p, ':');
		if (colon == NULL) {
			e = dfi_hsm_set_detail(h, DFI_E_HSM_MODULE, "%s:%u: not 'key: value'", path,
			    lineno);
			break;
		}
		*colon = '\0';
		char *key = dfi_trim(p), *val = dfi_trim(colon + 1);
		char **dst = strcmp(key, "module") == 0 ? module
		    : strcmp(key, "x-init-reserved") == 0 ? init
							  : NULL;
		if (dst == NULL)
			continue;
		free(*dst);
		if ((*dst = strdup(val)) == NULL)
			e = DFI_E_NOMEM;
	}
	fclose(f);
	if (e == DFI_OK && (*module == NULL || **module == '\0')) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_MODULE,
		    "p11-kit module file '%s' has no 'module:' line", path);
	}
	if (e != DFI_OK) {
		free(*module);
		free(*init);
		*module = *init = NULL;
	}
	return e;
}

void
dfi_hsm_text(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	/* Blank-padded by the standard; some modules (opencryptoki's slot
	 * description) end with NULs instead. */
	const unsigned char *nul = memchr(src, 0, n);
	size_t len = p11_kit_space_strlen(src, nul != NULL ? (size_t)(nul - src) : n);
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	/* Token strings are untrusted: printable ASCII only. */
	dfi_hsm_printable(dst);
}

/* Return values by which a module says it will not run with the arguments
 * it was given (PKCS#11 3.0 §5.4 C_Initialize; NSS softoken answers
 * CKR_ARGUMENTS_BAD without a configuration). */
static int
init_args_refused(CK_RV rv)
{
	return rv == CKR_ARGUMENTS_BAD || rv == CKR_NEED_TO_CREATE_THREADS || rv == CKR_CANT_LOCK;
}

static dfi_err
initialize(dfi_hsm *h, const char *init)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK, .pReserved = dfi_unconst(init) };
	DFI_LSAN_OFF();
	CK_RV rv = h->fl->C_Initialize(&args);
	DFI_LSAN_ON();
	atomic_fetch_add(&h->calls, 1);
	if (rv == CKR_OK)
		return DFI_OK;
	dfi_hsm_fail(h, "C_Initialize", rv);
	if (init_args_refused(rv) || (init != NULL && rv == CKR_FUNCTION_FAILED)) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_INIT, "C_Initialize %s: %s (CKR 0x%lx)",
		    init != NULL ? "with the x-init-reserved arguments" : "without arguments",
		    p11_kit_strerror(rv), (unsigned long)rv);
	}
	return DFI_E_HSM_MODULE;
}

dfi_err
dfi_hsm_module_load(dfi_hsm *h, const struct dfi_hsm_config *cfg)
{
	const char *module = cfg->module != NULL ? cfg->module : DFI_HSM_DEFAULT_MODULE;
	char *file_module = NULL, *file_init = NULL;
	const char *init = cfg->init_args;
	const char *lib = module;
	dfi_err e = DFI_OK;

	if (strchr(module, '/') != NULL && ends_with(module, ".module")) {
		e = read_module_file(h, module, &file_module, &file_init);
		if (e != DFI_OK)
			return e;
		lib = file_module;
		if (init == NULL)
			init = file_init;
	}
	if (lib != module || strchr(module, '/') != NULL) {
		h->fl = p11_kit_module_load(lib, 0);
		if (h->fl == NULL) {
			e = dfi_hsm_set_detail(h, DFI_E_HSM_MODULE,
			    "cannot load the PKCS#11 library '%s'%s%s", lib,
			    lib != module ? " named in " : "", lib != module ? module : "");
		}
	} else {
		h->registered = p11_kit_modules_load(NULL, 0);
		if (h->registered != NULL)
			h->fl = p11_kit_module_for_name(h->registered, module);
		if (h->fl == NULL) {
			e = dfi_hsm_set_detail(h, DFI_E_HSM_MODULE, "no p11-kit registered module is "
			    "named '%s' (a path to the library or to a .module file works too)", module);
		}
	}
	if (e == DFI_OK) {
		char *path = p11_kit_module_get_filename(h->fl);
		snprintf(h->module.path, sizeof(h->module.path), "%s", path != NULL ? path : lib);
		free(path);
		h->module.init_args = init != NULL;
		/* A registered module gets its configured arguments from p11-kit. */
		if (h->registered != NULL && init == NULL) {
			DFI_LSAN_OFF();
			CK_RV rv = p11_kit_module_initialize(h->fl);
			DFI_LSAN_ON();
			atomic_fetch_add(&h->calls, 1);
			if (rv != CKR_OK) {
				dfi_hsm_fail(h, "C_Initialize", rv);
				e = init_args_refused(rv) ? DFI_E_HSM_INIT : DFI_E_HSM_MODULE;
				if (e == DFI_E_HSM_INIT)
					dfi_hsm_detail_set(h, e, "C_Initialize refused the arguments of "
					    "the registered module '%s': %s (check its x-init-reserved)",
					    module, p11_kit_strerror(rv));
			}
		} else {
			e = initialize(h, init);
		}
		if (e == DFI_OK)
			h->initialized = 1;
	}
	if (e == DFI_OK) {
		CK_INFO ci;
		if (P11(h, C_GetInfo, &ci) == CKR_OK) {
			dfi_hsm_text(h->module.manufacturer, sizeof(h->module.manufacturer),
			    ci.manufacturerID, sizeof(ci.manufacturerID));
			dfi_hsm_text(h->module.description, sizeof(h->module.description),
			    ci.libraryDescription, sizeof(ci.libraryDescription));
			h->module.cryptoki_major = ci.cryptokiVersion.major;
			h->module.cryptoki_minor = ci.cryptokiVersion.minor;
			h->module.lib_major = ci.libraryVersion.major;
			h->module.lib_minor = ci.libraryVersion.minor;
		}
	}
	free(file_module);
	free(file_init);
	return e;
}

void
dfi_hsm_module_unload(dfi_hsm *h)
{
	if (h->fl != NULL && h->initialized) {
		DFI_LSAN_OFF();
		p11_kit_module_finalize(h->fl);
		DFI_LSAN_ON();
		h->initialized = 0;
	}
	if (h->registered != NULL)
		p11_kit_modules_release(h->registered);
	else if (h->fl != NULL)
		p11_kit_module_release(h->fl);
	h->registered = NULL;
	h->fl = NULL;
}

void
dfi_hsm_module(const dfi_hsm *h, struct dfi_hsm_module_info *info)
{
	if (h != NULL && info != NULL)
		*info = h->module;
}

/* ---- probing: slots and tokens without a session ------------------------ */

CK_RV
dfi_hsm_slot_list(dfi_hsm *h, CK_BBOOL present, CK_SLOT_ID **ids, CK_ULONG *n)
{
	*ids = NULL;
	*n = 0;
	/* A slot may appear between the count and the list (a token plugged
	 * in): the module then says CKR_BUFFER_TOO_SMALL, and the count is
	 * asked again, a few times; a count beyond the list on success is a
	 * lie. */
	CK_RV rv = CKR_BUFFER_TOO_SMALL;
	for (int tries = 0; rv == CKR_BUFFER_TOO_SMALL && tries < 4; tries++) {
		CK_ULONG want = 0;
		rv = P11(h, C_GetSlotList, present, NULL, &want);
		if (rv == CKR_OK)
			rv = dfi_hsm_check_count(h, "C_GetSlotList", want, DFI_HSM_SLOTS_MAX);
		if (rv != CKR_OK || want == 0)
			return rv;
		CK_SLOT_ID *list = calloc(want, sizeof(*list));
		if (list == NULL)
			return CKR_HOST_MEMORY;
		CK_ULONG got = want;
		rv = P11(h, C_GetSlotList, present, list, &got);
		if (rv == CKR_OK)
			rv = dfi_hsm_check_count(h, "C_GetSlotList", got, want);
		if (rv != CKR_OK) {
			free(list);
			continue;
		}
		*ids = list;
		*n = got;
	}
	return rv;
}

static void
slot_fill(dfi_hsm *h, CK_SLOT_ID id, struct dfi_hsm_slot_info *si)
{
	CK_SLOT_INFO s;
	CK_TOKEN_INFO t;
	memset(si, 0, sizeof(*si));
	si->id = id;
	if (P11(h, C_GetSlotInfo, id, &s) == CKR_OK) {
		dfi_hsm_text(si->description, sizeof(si->description), s.slotDescription,
		    sizeof(s.slotDescription));
		si->token_present = (s.flags & CKF_TOKEN_PRESENT) != 0;
	}
	if (!si->token_present || P11(h, C_GetTokenInfo, id, &t) != CKR_OK)
		return;
	dfi_hsm_text(si->label, sizeof(si->label), t.label, sizeof(t.label));
	dfi_hsm_text(si->manufacturer, sizeof(si->manufacturer), t.manufacturerID,
	    sizeof(t.manufacturerID));
	dfi_hsm_text(si->model, sizeof(si->model), t.model, sizeof(t.model));
	dfi_hsm_text(si->serial, sizeof(si->serial), t.serialNumber, sizeof(t.serialNumber));
	si->initialized = (t.flags & CKF_TOKEN_INITIALIZED) != 0;
	si->login_required = (t.flags & CKF_LOGIN_REQUIRED) != 0;
	si->protected_path = (t.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	si->user_pin_locked = (t.flags & CKF_USER_PIN_LOCKED) != 0;
	si->user_pin_initialized = (t.flags & CKF_USER_PIN_INITIALIZED) != 0;
	si->user_pin_to_be_changed = (t.flags & CKF_USER_PIN_TO_BE_CHANGED) != 0;
}

dfi_err
dfi_hsm_probe(const struct dfi_hsm_config *cfg, struct dfi_hsm_module_info *info,
    struct dfi_hsm_slot_info **slots, size_t *nslots)
{
	if (cfg == NULL || info == NULL || slots == NULL || nslots == NULL)
		return DFI_E_INVALID_ARG;
	*slots = NULL;
	*nslots = 0;
	memset(info, 0, sizeof(*info));
	dfi_hsm *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return DFI_E_NOMEM;
	if (dfi_hsm_calls_init(h) != DFI_OK) {
		free(h);
		return DFI_E_NOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	dfi_err e = dfi_hsm_module_load(h, cfg);
	CK_SLOT_ID *ids = NULL;
	CK_ULONG n = 0;
	if (e == DFI_OK) {
		e = dfi_hsm_fail(h, "C_GetSlotList", dfi_hsm_slot_list(h, CK_FALSE, &ids, &n));
	}
	if (e == DFI_OK && n > 0 && ids != NULL) {
		*slots = calloc(n, sizeof(**slots));
		if (*slots == NULL)
			e = DFI_E_NOMEM;
		for (CK_ULONG i = 0; e == DFI_OK && i < n; i++)
			slot_fill(h, ids[i], &(*slots)[i]);
		if (e == DFI_OK)
			*nslots = n;
	}
	*info = h->module;
	if (e != DFI_OK && cfg->detail != NULL && cfg->detail_cap > 0)
		dfi_hsm_last_detail(h, cfg->detail, cfg->detail_cap);
	free(ids);
	dfi_hsm_module_unload(h);
	pthread_mutex_destroy(&h->mu);
	dfi_hsm_calls_fini(h);
	dfi_hsm_detail_wipe(h);
	free(h);
	return e;
}
