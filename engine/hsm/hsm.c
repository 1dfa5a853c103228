/*
 * Opening a token: load the module through p11-kit (a path, or the name of
 * a module registered in p11-kit's configuration), pick the one token the
 * URI selects, log in once, and prepare the session pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/monitor.h"

static void
cfg_detail(const struct dfi_hsm_config *cfg, const char *msg)
{
	if (cfg->detail != NULL && cfg->detail_cap > 0)
		snprintf(cfg->detail, cfg->detail_cap, "%s", msg);
}

/* Picks the one initialized token the URI selects. */
static dfi_err
find_token(dfi_hsm *h, const char *token_uri)
{
	P11KitUri *uri = p11_kit_uri_new();
	if (uri == NULL)
		return DFI_E_NOMEM;
	dfi_err e = DFI_OK;
	CK_SLOT_ID *slots = NULL;
	if (token_uri != NULL) {
		char why[300];
		if ((e = dfi_hsm_uri_parse(token_uri, "token", uri, why, sizeof(why))) != DFI_OK) {
			if (e == DFI_E_HSM_URI)
				dfi_hsm_detail_set(h, e, "token URI '%s': %s", token_uri, why);
			goto out;
		}
	}
	CK_ULONG n = 0;
	CK_RV rv = dfi_hsm_slot_list(h, CK_TRUE, &slots, &n);
	if (rv != CKR_OK) {
		e = dfi_hsm_fail(h, "C_GetSlotList", rv);
		goto out;
	}
	size_t matches = 0, unread = 0;
	const char *unread_fn = NULL;
	CK_RV unread_rv = CKR_OK;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		CK_SLOT_INFO si;
		/* A slot that does not describe itself may hold the token: the
		 * refusal is said if no other slot matches. */
		if ((rv = P11(h, C_GetTokenInfo, slots[i], &ti)) != CKR_OK)
			unread_fn = "C_GetTokenInfo";
		else if ((rv = P11(h, C_GetSlotInfo, slots[i], &si)) != CKR_OK)
			unread_fn = "C_GetSlotInfo";
		if (rv != CKR_OK) {
			unread_rv = rv;
			unread++;
			continue;
		}
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (!p11_kit_uri_match_token_info(uri, &ti) || !p11_kit_uri_match_slot_info(uri, &si))
			continue;
		CK_SLOT_ID want = p11_kit_uri_get_slot_id(uri);
		if (want != (CK_SLOT_ID)-1 && want != slots[i])
			continue;
		if (matches++ == 0) {
			h->slot = slots[i];
			h->token = ti;
		}
	}
	if (matches == 0 && unread > 0) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_TOKEN_NOT_FOUND, "no initialized token matches "
		    "'%s'; %s failed on %zu of %lu slots: %s (CKR 0x%lx)",
		    token_uri != NULL ? token_uri : "pkcs11:", unread_fn, unread, (unsigned long)n,
		    p11_kit_strerror(unread_rv), (unsigned long)unread_rv);
	} else if (matches == 0) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_TOKEN_NOT_FOUND, "no initialized token matches '%s'",
		    token_uri != NULL ? token_uri : "pkcs11:");
	} else if (matches > 1) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_TOKEN_NOT_FOUND,
		    "%zu tokens match '%s': add token= to the URI", matches,
		    token_uri != NULL ? token_uri : "pkcs11:");
	} else {
		dfi_hsm_text(h->token_label, sizeof(h->token_label), h->token.label,
		    sizeof(h->token.label));
	}
out:
	free(slots);
	p11_kit_uri_free(uri);
	return e;
}

void
dfi_hsm_free(dfi_hsm *h)
{
	if (h == NULL)
		return;
	if (h->fl != NULL && h->initialized)
		dfi_hsm_pool_close(h);
	dfi_hsm_module_unload(h);
	if (h->pin != NULL)
		dfi_secure_free(h->pin, DFI_HSM_PIN_CAP);
	free(h->idle);
	dfi_hsm_scratch_fini(h);
	dfi_hsm_detail_wipe(h);
	pthread_mutex_destroy(&h->refmu);
	dfi_hsm_calls_fini(h);
	dfi_monitor_destroy(&h->mu, &h->cv);
	free(h);
}

dfi_err
dfi_hsm_open(dfi_hsm **out, const struct dfi_hsm_config *cfg)
{
	if (out == NULL || cfg == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	cfg_detail(cfg, "");
	dfi_hsm *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return DFI_E_NOMEM;
	if (dfi_monitor_init(&h->mu, &h->cv) != DFI_OK) {
		free(h);
		return DFI_E_NOMEM;
	}
	if (pthread_mutex_init(&h->refmu, NULL) != 0) {
		dfi_monitor_destroy(&h->mu, &h->cv);
		free(h);
		return DFI_E_NOMEM;
	}
	if (dfi_hsm_calls_init(h) != DFI_OK) {
		pthread_mutex_destroy(&h->refmu);
		dfi_monitor_destroy(&h->mu, &h->cv);
		free(h);
		return DFI_E_NOMEM;
	}
	h->max = cfg->max_sessions != 0 ? cfg->max_sessions : DFI_HSM_DEFAULT_SESSIONS;
	h->idle = calloc(h->max, sizeof(*h->idle));
	h->allow_insecure_keys = cfg->allow_insecure_keys;
	h->log = cfg->log;
	h->log_ctx = cfg->log_ctx;
	h->allow_host = cfg->allow_host_derivation;
	h->derivation = cfg->derivation;
	dfi_err e = h->idle == NULL ? DFI_E_NOMEM : dfi_hsm_scratch_init(h);
	if (e == DFI_OK && ((unsigned)cfg->derivation >= DFI_HSM_PATH_COUNT ||
			       (cfg->derivation == DFI_HSM_PATH_HOST && !cfg->allow_host_derivation))) {
		e = dfi_hsm_bad_arg(h, "%s", cfg->derivation == DFI_HSM_PATH_HOST
			? "derivation path 'host' needs allow_host_derivation (--allow-host-derivation)"
			: "unknown derivation path");
	}
	if (e == DFI_OK)
		e = dfi_hsm_module_load(h, cfg);
	if (e == DFI_OK)
		e = find_token(h, cfg->token_uri);
	if (e == DFI_OK)
		e = dfi_hsm_mechs_load(h);
	if (e == DFI_OK) {
		h->login_required = (h->token.flags & CKF_LOGIN_REQUIRED) != 0;
		h->protected_path = (h->token.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
		if (h->login_required && (h->token.flags & CKF_USER_PIN_LOCKED)) {
			/* Do not spend a try on a locked PIN. */
			e = dfi_hsm_set_detail(h, DFI_E_HSM_PIN_LOCKED,
			    "token '%s' reports its user PIN locked", h->token_label);
		} else if (h->login_required && !h->protected_path) {
			size_t cap;
			char why[DFI_HSM_DETAIL_MAX]; /* a PIN file path and the fix */
			e = dfi_hsm_pin_read(cfg, &h->pin, &cap, &h->pin_len, why, sizeof(why));
			/* why names the source tried and what to do about it. A
			 * PIN file the system would not let us open or read keeps
			 * the system's code (pin.c); any other failure is a PIN
			 * source that gave no usable PIN. */
			if (e != DFI_OK && e != DFI_E_NOMEM) {
				if (e != DFI_E_NOT_FOUND && e != DFI_E_PERMISSION && e != DFI_E_IO)
					e = DFI_E_HSM_PIN_REQUIRED;
				dfi_hsm_detail_set(h, e, "%s", why);
			}
		}
	}
	if (e == DFI_OK) {
		/* Log in on a first session; it stays in the pool so the login
		 * (which is per application, not per session) persists. */
		CK_SESSION_HANDLE s;
		CK_RV rv = P11(h, C_OpenSession, h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
		    NULL, &s);
		if (rv != CKR_OK) {
			e = dfi_hsm_fail(h, "C_OpenSession", rv);
		} else {
			atomic_fetch_add(&h->sessions, 1);
			h->nopen = 1;
			h->idle[h->nidle++] = s;
			e = dfi_hsm_login(h, s);
			if (e == DFI_E_HSM_PIN_INCORRECT && (h->token.flags & CKF_USER_PIN_FINAL_TRY))
				dfi_hsm_detail_set(h, e, "C_Login: PIN incorrect, and that was the "
				    "final try before the token locks the PIN");
		}
	}
	if (e == DFI_OK && cfg->allow_insecure_keys)
		dfi_hsm_log(h, DFI_LOG_WARNING, "insecure keys allowed: extractable or non-sensitive "
						"master keys are accepted. Use this only with a throwaway test token.");
	if (e != DFI_OK) {
		if (cfg->detail != NULL && cfg->detail_cap > 0)
			dfi_hsm_last_detail(h, cfg->detail, cfg->detail_cap);
		dfi_hsm_free(h);
		return e;
	}
	*out = h;
	return DFI_OK;
}

const char *
dfi_hsm_token_label(const dfi_hsm *h)
{
	return h != NULL ? h->token_label : "";
}

void
dfi_hsm_stats(dfi_hsm *h, struct dfi_hsm_stats *out)
{
	if (h == NULL || out == NULL)
		return;
	out->calls = atomic_load(&h->calls);
	out->sessions = atomic_load(&h->sessions);
	out->logins = atomic_load(&h->logins);
}
