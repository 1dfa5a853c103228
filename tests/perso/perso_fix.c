/* The perso tests' fixture (perso_fix.h). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "card_check.h"
#include "perso_fix.h"
#include "testutil.h"

char pf_root[256];

int
pf_make_token(void)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	char cmd[1400], conf[400];
	if (src == NULL || bld == NULL)
		return -1;
	snprintf(pf_root, sizeof(pf_root), "/tmp/dfi-perso.XXXXXX");
	if (mkdtemp(pf_root) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
	    "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s/bin/dfissue' >/dev/null </dev/null",
	    src, pf_root, bld);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", pf_root);
	setenv("SOFTHSM2_CONF", conf, 1);
	return 0;
}

int
pf_add_generation2(void)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	char cmd[1400];
	if (src == NULL || bld == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
	    "'%s/hsm-config/make-dev-token.sh' --generation2 '%s/dev' '%s/bin/dfissue' >/dev/null "
	    "</dev/null", src, pf_root, bld);
	return system(cmd) == 0 ? 0 : -1;
}

int
pf_run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return dfi_test_run(cmd, out, cap);
}

void
pf_remove_root(void)
{
	char cmd[400];
	if (pf_root[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pf_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pf_root);
}

int
pf_test_main(const char *name, const struct dfi_test_case *c, int gen2, const TTest *const *tests)
{
	int rc = EXIT_FAILURE;
	if (pf_make_token() != 0)
		fprintf(stderr, "dev token could not be made\n");
	else if (gen2 && pf_add_generation2() != 0)
		fprintf(stderr, "generation-2 keys could not be imported\n");
	else
		rc = dfi_test_main(name, c, tests);
	pf_remove_root();
	return rc;
}

static void
progress(void *ctx, const char *ev)
{
	(void)ctx;
	if (getenv("DFI_TEST_VERBOSE") != NULL)
		fprintf(stderr, "  perso: %s\n", ev);
}

/* The personalizer over the fixture's HSM, journal and profile: made
 * once at open and again after each simulated restart. */
static void
perso_start(struct pfix *f)
{
	char detail[256] = "";
	struct dfi_perso_config pc = { .hsm = f->hsm, .journal = f->journal, .profile = f->profile,
		.station = "perso-test", .progress = progress, .detail = detail,
		.detail_cap = sizeof(detail) };
	ck_assert_msg(dfi_perso_new(&f->perso, &pc) == DFI_OK, "dfi_perso_new: %s", detail);
}

void
pf_open(struct pfix *f, const char *profile_name)
{
	const char *src = getenv("DFI_SOURCE_DIR");
	char pin[400], path[512];
	struct dfi_diag diag;
	struct dfi_journal_opts jo = { .station = "perso-test" };

	memset(f, 0, sizeof(*f));
	ck_assert_ptr_nonnull(src);
	snprintf(pin, sizeof(pin), "%s/dev/user.pin", pf_root);
	struct dfi_hsm_config cfg = { .module = getenv("SOFTHSM2_MODULE"),
		.token_uri = "pkcs11:token=dfissue-dev", .pin_file = pin };
	OK(dfi_hsm_open(&f->hsm, &cfg));
	OK(dfi_hsm_signer_new(f->hsm, "pkcs11:object=journal;type=private", &f->signer));
	/* a directory of its own, named by mkdtemp (no counter to keep) */
	snprintf(f->jdir, sizeof(f->jdir), "%s/journal-XXXXXX", pf_root);
	ck_assert_msg(mkdtemp(f->jdir) != NULL, "mkdtemp %s", f->jdir);
	OK(dfi_journal_create(f->jdir, "issuer.example/perso-test", f->signer, &jo));
	OK(dfi_journal_open(&f->journal, f->jdir, f->signer, &jo, NULL));
	/* a name under profiles/, or a profile file's absolute path */
	if (profile_name[0] == '/')
		snprintf(path, sizeof(path), "%s", profile_name);
	else
		snprintf(path, sizeof(path), "%s/profiles/%s.json", src, profile_name);
	ck_assert_msg(dfi_profile_load(&f->profile, path, &diag) == DFI_OK, "%s", diag.message);
	if (dfi_profile_needs_batch(f->profile)) {
		snprintf(path, sizeof(path), "%s/profiles/%s-batch.csv", src, profile_name);
		if (access(path, R_OK) != 0) /* profiles made from the reference one use its batch */
			snprintf(path, sizeof(path), "%s/profiles/reference-batch.csv", src);
		ck_assert_msg(dfi_batch_open(&f->batch, path, &diag) == DFI_OK, "%s", diag.message);
		ck_assert_msg(dfi_batch_next(f->batch, &f->row, &diag) == DFI_OK, "%s", diag.message);
		ck_assert_ptr_nonnull(f->row);
	}
	perso_start(f);
}

void
pf_restart(struct pfix *f)
{
	struct dfi_journal_opts jo = { .station = "perso-test" };
	dfi_perso_free(f->perso);
	f->perso = NULL;
	dfi_journal_close(f->journal);
	f->journal = NULL;
	OK(dfi_journal_open(&f->journal, f->jdir, f->signer, &jo, NULL));
	perso_start(f);
}

void
pf_close(struct pfix *f)
{
	dfi_perso_free(f->perso);
	dfi_batch_row_free(f->row);
	dfi_batch_free(f->batch);
	dfi_profile_free(f->profile);
	dfi_journal_close(f->journal);
	dfi_signer_free(f->signer);
	dfi_hsm_free(f->hsm);
}

static void
unresolved(void *ctx, const dfi_jrec *in)
{
	(void)in;
	(*(unsigned *)ctx)++;
}

unsigned
pf_journal_verifies(struct pfix *f)
{
	char path[600], pem[400];
	FILE *fp;
	char buf[2048];
	size_t n;
	dfi_jpubkey *pub;
	unsigned open = 0;
	struct dfi_jverify_result res;

	snprintf(pem, sizeof(pem), "%s/dev/journal.pub.pem", pf_root);
	fp = fopen(pem, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	OK(dfi_jpubkey_from_pem(buf, n, &pub));
	struct dfi_jverify_opts o = { .pubkey = pub, .unresolved = unresolved, .ctx = &open };
	snprintf(path, sizeof(path), "%s/%s", f->jdir, DFI_JOURNAL_FILE);
	dfi_err e = dfi_journal_verify_file(path, &o, &res);
	dfi_jpubkey_free(pub);
	ck_assert_msg(e == DFI_OK, "journal verify: %s", dfi_strerror(e));
	ck_assert_uint_eq(res.findings, 0);
	ck_assert_uint_eq(open, 0);
	ck_assert_uint_eq(res.unresolved, 0);
	/* An intent queued ahead of its ChangeKey by a tap that ended first is
	 * aborted "not sent": it never reached a card. */
	ck_assert_uint_ge(res.intents, res.aborts);
	return (unsigned)(res.intents - res.aborts);
}

void
pf_card_config(struct dfi_sim_config *cfg, uint64_t seed, const char *image)
{
	*cfg = (struct dfi_sim_config){ .image = image, .has_seed = true, .seed = seed,
		.no_fsync = true, .model = DFI_SIM_MODEL_EV2 };
}

dfi_sim *
pf_card(uint64_t seed, const char *image)
{
	struct dfi_sim_config cfg;
	dfi_sim *sim;
	pf_card_config(&cfg, seed, image);
	OK(dfi_sim_new(&sim, &cfg));
	return sim;
}

void
pf_assert_image_is(const char *profile_name, uint64_t seed, const char *image)
{
	struct pfix f;
	char why[256];
	pf_open(&f, profile_name);
	dfi_sim *sim = pf_card(seed, image);
	ck_assert_msg(dfi_test_card_matches_profile(sim, f.hsm, f.profile, f.row, why,
	    sizeof(why)) == 1, "%s", why);
	dfi_sim_free(sim);
	pf_close(&f);
}

/* ---- a transport that shows every command -------------------------------- */

struct watch {
	dfi_transport *inner;
	pf_seen_fn seen;
	void *arg;
};

static dfi_err
w_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	struct watch *w = ctx;
	w->seen(w->arg, c, clen);
	return dfi_transport_transmit(w->inner, c, clen, r, rcap, rlen);
}

static dfi_err
w_wait(void *ctx, int ms)
{
	struct watch *w = ctx;
	w->seen(w->arg, NULL, 0);
	return dfi_transport_wait_card(w->inner, ms);
}

static dfi_err
w_removed(void *ctx, int ms)
{
	return dfi_transport_wait_removed(((struct watch *)ctx)->inner, ms);
}

static const char *
w_name(void *ctx)
{
	(void)ctx;
	return "watch";
}

static void
w_free(void *ctx)
{
	free(ctx);
}

static const struct dfi_transport_ops watch_ops = { w_transmit, w_wait, w_removed, w_name,
	w_free };

void
pf_watch_new(dfi_transport *inner, pf_seen_fn seen, void *arg, dfi_transport **out)
{
	struct watch *w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	*w = (struct watch){ inner, seen, arg };
	OK(dfi_transport_new(out, &watch_ops, w));
}
