/* A throwaway SoftHSM2 dev token for one test binary, and vector files. */
#ifndef DFI_HSM_FIXTURE_H
#define DFI_HSM_FIXTURE_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfissue/hsm.h"
#include "dfissue/util.h"
#include "testutil.h"

struct hsm_fixture {
	char dir[256];
	char pin_file[300];
	char dfissue[512];
};

/* Keeps SoftHSM2 mapped after dfi_hsm_free() unloads it, so that LSan can
 * name it in stacks and tests/lsan.supp's leak:libsofthsm2.so applies to
 * its known leaks (a dlclose()d module shows as "<unknown module>"). */
static inline void
hsm_fixture_pin_module(void)
{
	const char *mod = getenv("SOFTHSM2_MODULE");
	if (mod != NULL && mod[0] != '\0')
		(void)dlopen(mod, RTLD_NOW | RTLD_NODELETE);
}

/* Creates DIR with make-dev-token.sh and points SOFTHSM2_CONF at it.
 * Returns 0 on success. */
static inline int
hsm_fixture_make(struct hsm_fixture *f)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	if (src == NULL || bld == NULL)
		return -1;
	hsm_fixture_pin_module();
	snprintf(f->dir, sizeof(f->dir), "/tmp/dfi-hsm-test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->dfissue, sizeof(f->dfissue), "%s/bin/dfissue", bld);
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s' >/dev/null </dev/null",
	    src, f->dir, f->dfissue);
	/* make-dev-token.sh wants its own directory; keep DIR for extras. */
	snprintf(f->pin_file, sizeof(f->pin_file), "%s/dev/user.pin", f->dir);
	if (system(cmd) != 0)
		return -1;
	char conf[400];
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", f->dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	unsetenv("DFISSUE_PIN");
	unsetenv("DFISSUE_PIN_FILE");
	unsetenv("DFISSUE_TOKEN");
	unsetenv("DFISSUE_MODULE");
	return 0;
}

static inline void
hsm_fixture_remove(struct hsm_fixture *f)
{
	char cmd[400];
	if (f->dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}

/* The main() of a test program on a dev token: makes f, runs the tests as
 * dfi_test_main does (120 s each) and removes f whatever they did.
 * Returns the process exit status. */
static inline int
hsm_fixture_main(struct hsm_fixture *f, const char *name, const TTest *const *tests)
{
	if (hsm_fixture_make(f) != 0) {
		fprintf(stderr, "test_%s: could not create the dev token\n", name);
		hsm_fixture_remove(f);
		return EXIT_FAILURE;
	}
	int rc = dfi_test_main(name, &(struct dfi_test_case){ .timeout = 120 }, tests);
	hsm_fixture_remove(f);
	return rc;
}

/* dfi_hsm_open(cfg) with cfg's detail in detail (cap bytes), and what the
 * detail promises checked: empty once the handle is open; one line (which
 * call failed) and no handle when it is not. Returns dfi_hsm_open's result;
 * *h is the handle or NULL. */
static inline dfi_err
hsm_fixture_open(struct dfi_hsm_config cfg, dfi_hsm **h, char *detail, size_t cap)
{
	snprintf(detail, cap, "unset");
	cfg.detail = detail;
	cfg.detail_cap = cap;
	*h = NULL;
	dfi_err e = dfi_hsm_open(h, &cfg);
	if (e == DFI_OK) {
		ck_assert_str_eq(detail, "");
	} else {
		ck_assert_ptr_null(*h);
		ck_assert_uint_gt(strlen(detail), 0); /* says which call failed */
		ck_assert_ptr_null(strchr(detail, '\n'));
	}
	return e;
}

/* Reads "name = HEX" from a vector file in DFI_TEST_DATA. */
static inline int
vector_hex(const char *file, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	char path[512], line[512];
	snprintf(path, sizeof(path), "%s/%s", getenv("DFI_TEST_DATA"), file);
	FILE *fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	int rc = -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#')
			continue;
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		char *end = eq;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - line) != strlen(name) || strncmp(line, name, strlen(name)) != 0)
			continue;
		rc = dfi_hex_decode(eq + 1, out, cap, len) == DFI_OK ? 0 : -1;
		break;
	}
	fclose(fp);
	return rc;
}

/* The AN10922 DES vector <prefix> of hsm_an10922_des.txt: the
 * diversification input M (into m, 32 bytes) and the derived key (into
 * want, 24 bytes); fails the test when either is missing. */
static inline void
an10922_des_vector(const char *prefix, uint8_t m[32], size_t *ml, uint8_t want[24], size_t *wl)
{
	char name[64];
	snprintf(name, sizeof(name), "%s_m", prefix);
	ck_assert_int_eq(vector_hex("hsm_an10922_des.txt", name, m, 32, ml), 0);
	snprintf(name, sizeof(name), "%s_derived", prefix);
	ck_assert_int_eq(vector_hex("hsm_an10922_des.txt", name, want, 24, wl), 0);
}

#endif
