/* The tear tests' process-wide environment (tear_fix.h): dev token, HSM,
 * journal key, reference profile and batch row. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tear_fix.h"

#define SIGNER_URI "pkcs11:token=dfissue-dev;object=journal;type=private"

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
	return 0;
}

void
tear_rmtree(const char *path)
{
	if (path == NULL || path[0] != '/')
		return;
	/* In-process: the matrix removes thousands of case directories. */
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
}

/* ---- environment -------------------------------------------------------- */

static int
load_profile(struct tear_env *e, char *why, size_t cap)
{
	const char *src = getenv("DFI_SOURCE_DIR");
	char path[600];
	struct dfi_diag diag;
	if (src == NULL)
		return tear_fail(why, cap, "DFI_SOURCE_DIR not set");
	snprintf(path, sizeof(path), "%s/profiles/%s", src, e->sc->profile);
	if (dfi_profile_load(&e->profile, path, &diag) != DFI_OK)
		return tear_fail(why, cap, "profile: %s", diag.message);
	if (e->sc->batch == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/profiles/%s", src, e->sc->batch);
	if (dfi_batch_open(&e->batch, path, &diag) != DFI_OK ||
	    dfi_batch_next(e->batch, &e->row, &diag) != DFI_OK || e->row == NULL)
		return tear_fail(why, cap, "batch: %s", diag.message);
	return 0;
}

/* The base keys once (a token search each), for every station of the env. */
static int
env_keys(struct tear_env *e, char *why, size_t cap)
{
	char detail[256] = "";
	struct dfi_perso_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.hsm = e->hsm;
	pc.profile = e->profile;
	pc.station = "keys";
	pc.detail = detail;
	pc.detail_cap = sizeof(detail);
	dfi_err r = dfi_perso_new(&e->keys, &pc);
	if (r != DFI_OK)
		return tear_fail(why, cap, "dfi_perso_new (keys): %s (%s)", dfi_strerror(r), detail);
	return 0;
}

int
tear_env_open_hsm(struct tear_env *e, char *why, size_t cap)
{
	char conf[400], pin[400], detail[256] = "";
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", e->token);
	snprintf(pin, sizeof(pin), "%s/user.pin", e->token);
	setenv("SOFTHSM2_CONF", conf, 1);
	struct dfi_hsm_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = e->module;
	cfg.token_uri = "pkcs11:token=dfissue-dev";
	cfg.pin_file = pin;
	cfg.detail = detail;
	cfg.detail_cap = sizeof(detail);
	dfi_err r = dfi_hsm_open(&e->hsm, &cfg);
	if (r != DFI_OK)
		return tear_fail(why, cap, "dfi_hsm_open: %s (%s)", dfi_strerror(r), detail);
	r = dfi_hsm_signer_new(e->hsm, SIGNER_URI, &e->signer);
	if (r == DFI_OK)
		r = dfi_jpubkey_from_signer(e->signer, &e->pub);
	if (r != DFI_OK)
		return tear_fail(why, cap, "journal key: %s", dfi_strerror(r));
	return e->profile != NULL ? env_keys(e, why, cap) : 0;
}

void
tear_env_close_hsm(struct tear_env *e)
{
	dfi_perso_free(e->keys);
	e->keys = NULL;
	dfi_perso_free(e->first_keys);
	e->first_keys = NULL;
	dfi_jpubkey_free(e->pub);
	dfi_signer_free(e->signer);
	dfi_hsm_free(e->hsm);
	e->pub = NULL;
	e->signer = NULL;
	e->hsm = NULL;
}

int
tear_env_open(struct tear_env *e, const char *module, const char *existing_root, char *why,
    size_t cap)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	char cmd[1600];
	memset(e, 0, sizeof(*e));
	if (src == NULL || bld == NULL)
		return tear_fail(why, cap, "DFI_SOURCE_DIR / DFI_BUILD_DIR not set");
	e->sc = tear_scenario_find(NULL);
	if (e->sc == NULL)
		return tear_fail(why, cap, "no tear scenario '%s' (see tests/tear/tear_scenario.c)",
		    getenv("TEAR_SCENARIO"));
	if (existing_root != NULL) {
		snprintf(e->root, sizeof(e->root), "%s", existing_root);
	} else {
		const char *base = getenv("TEAR_ROOT");
		if (base != NULL)
			snprintf(e->root, sizeof(e->root), "%s/env.XXXXXX", base);
		else
			snprintf(e->root, sizeof(e->root), "%s/dfi-tear.XXXXXX",
			    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(e->root) == NULL)
			return tear_fail(why, cap, "mkdtemp: %s", strerror(errno));
		e->own_root = 1;
	}
	snprintf(e->token, sizeof(e->token), "%s/dev", e->root);
	snprintf(e->cases, sizeof(e->cases), "%s/cases", e->root);
	if (existing_root == NULL) {
		snprintf(cmd, sizeof(cmd),
		    "'%s/hsm-config/make-dev-token.sh' '%s' '%s/bin/dfissue' >/dev/null </dev/null",
		    src, e->token, bld);
		if (system(cmd) != 0)
			return tear_fail(why, cap, "make-dev-token.sh failed");
		snprintf(cmd, sizeof(cmd),
		    "'%s/hsm-config/make-dev-token.sh' --generation2 '%s' '%s/bin/dfissue' >/dev/null "
		    "</dev/null", src, e->token, bld);
		if (e->sc->generation2 && system(cmd) != 0)
			return tear_fail(why, cap, "make-dev-token.sh --generation2 failed");
		if (mkdir(e->cases, 0700) != 0)
			return tear_fail(why, cap, "mkdir %s: %s", e->cases, strerror(errno));
	}
	if (module == NULL)
		module = getenv("SOFTHSM2_MODULE");
	if (module == NULL)
		return tear_fail(why, cap, "SOFTHSM2_MODULE not set");
	snprintf(e->module, sizeof(e->module), "%s", module);
	if (tear_env_open_hsm(e, why, cap) != 0)
		return -1;
	if (existing_root == NULL) {
		printf("tear scenario %s: %s\n", e->sc->name, e->sc->about);
		fflush(stdout);
	}
	if (load_profile(e, why, cap) != 0)
		return -1;
	return env_keys(e, why, cap);
}

void
tear_env_close(struct tear_env *e)
{
	tear_env_close_hsm(e); /* first: the shared keys refer to the profile */
	dfi_batch_row_free(e->row);
	dfi_batch_free(e->batch);
	dfi_profile_free(e->profile);
	dfi_profile_free(e->first_profile);
	if (e->own_root)
		tear_rmtree(e->root);
	memset(e, 0, sizeof(*e));
}

int
tear_env_case_dir(struct tear_env *e, char *path, size_t cap)
{
	snprintf(path, cap, "%s/c%u", e->cases, ++e->seq);
	return mkdir(path, 0700) == 0 ? 0 : -1;
}


int
tear_run_suite(Suite *s)
{
	/* check runs each test in a child that exits at a failed assertion:
	 * the temporary tree lives under a directory this parent removes. */
	char root[256];
	snprintf(root, sizeof(root), "%s/dfi-tear.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(root) == NULL) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	setenv("TEAR_ROOT", root, 1);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tear_rmtree(root);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
