/* The auditor's verify with its checkpoint signatures checked by threads
 * ahead of the walk (engine/journal/sigpool.c): on a journal with more
 * checkpoints than the threads may hold ahead, the file and the buffer
 * paths agree, a forged signature deep in the journal is reported on its
 * own line with the error the one-pass verify gives, and a wrong key fails
 * every checkpoint. Forgeries spread through the journal are each reported
 * once, whichever thread checked them (a verifier, or the walk while it
 * would wait: sigpool.c). */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "jtest.h"

/* More than SIGPOOL_AHEAD (4096): the ring of queued notes wraps around. */
#define NCP 4300
#define FORGED 4200

JT_SIGNER_FIXTURE

struct seen {
	uint64_t first_line, n;
	dfi_err first_code;
};

static void
finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct seen *s = ctx;
	(void)msg;
	if (s->n++ == 0) {
		s->first_line = line;
		s->first_code = code;
	}
}

/* A journal of NCP - 2 intents, one checkpoint each (with the genesis
 * checkpoint: NCP - 1). Returns the journal file's path. */
static char *
make_journal(char **dir)
{
	char *path = jt_journal_of_intents(g_signer, "test.example/sigpool", NCP - 2, dir);
	ck_assert_ptr_nonnull(path);
	return path;
}

START_TEST(agrees_and_finds_forgery)
{
	char *dir;
	char *path = make_journal(&dir);
	struct seen sf = { 0 }, sb = { 0 };
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = finding, .ctx = &sf };
	struct dfi_jverify_result rf, rb;
	ck_assert_int_eq(dfi_journal_verify_file(path, &o, &rf), DFI_OK);
	ck_assert_uint_eq(rf.checkpoints, NCP - 1);
	ck_assert_uint_eq(sf.n, 0);
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	o.ctx = &sb;
	ck_assert_int_eq(dfi_journal_verify_buf(buf, n, &o, &rb), DFI_OK);
	ck_assert_uint_eq(rb.checkpoints, rf.checkpoints);
	ck_assert_int_eq(memcmp(rb.root, rf.root, sizeof(rf.root)), 0);

	/* Another key's signature over checkpoint FORGED's very text. */
	size_t k = 0, s = 0, line = 0, cpline = 0;
	for (size_t i = 0, ln = 1; i < n; i++) {
		if (i == 0 || buf[i - 1] == '\n') {
			if (n - i > 11 && memcmp(buf + i, "checkpoint ", 11) == 0 && k++ == FORGED) {
				s = i + 11;
				cpline = ln;
				break;
			}
			line = ln++;
		}
	}
	(void)line;
	ck_assert_uint_gt(s, 0);
	dfi_signer *os = jt_signer_new(DFI_SIG_ED25519);
	size_t tl;
	uint8_t *t = jt_resign_checkpoint(buf, n, s, g_pub, os, &tl);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(jt_write(path, t, tl), 0);

	struct seen f1 = { 0 }, f2 = { 0 };
	o.ctx = &f1;
	ck_assert_int_eq(dfi_journal_verify_file(path, &o, &rf), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_ge(f1.n, 1);
	ck_assert_uint_eq(f1.first_line, cpline);
	ck_assert_int_eq(f1.first_code, DFI_E_JOURNAL_SIGNATURE);
	o.ctx = &f2;
	ck_assert_int_eq(dfi_journal_verify_buf(t, tl, &o, &rb), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(f2.first_line, cpline);
	ck_assert_uint_eq(f2.n, f1.n);

	/* The wrong key: no checkpoint verifies, whichever thread checks it. */
	dfi_jpubkey *opub = jt_pubkey(os);
	struct seen f3 = { 0 };
	struct dfi_jverify_opts wo = { .pubkey = opub, .finding = finding, .ctx = &f3 };
	ck_assert_int_ne(dfi_journal_verify_buf(buf, n, &wo, &rb), DFI_OK);
	ck_assert_uint_eq(rb.checkpoints, 0);
	ck_assert_uint_ge(f3.n, 1);
	dfi_jpubkey_free(opub);
	dfi_signer_free(os);
	free(t);
	free(buf);
	free(path);
	jt_rmrf(dir);
	free(dir);
}
END_TEST

/* Every STEP-th checkpoint (from STEP / 2) signed again by another key. */
#define STEP 90
#define NFORGED ((NCP - 1 - STEP / 2 + STEP - 1) / STEP)

struct forged {
	const uint64_t *lines; /* the forged checkpoints' lines, in order */
	size_t n, in_order, other;
};

static void
forged_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct forged *f = ctx;
	(void)msg;
	if (code != DFI_E_JOURNAL_SIGNATURE)
		f->other++;
	else if (f->n < NFORGED && line == f->lines[f->n])
		f->in_order++;
	f->n++;
}

START_TEST(every_forgery_once)
{
	char *dir;
	char *path = make_journal(&dir);
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	ck_assert_ptr_nonnull(buf);
	size_t at[NFORGED], m = 0, k = 0;
	uint64_t lines[NFORGED], ln = 1;
	for (size_t i = 0; i < n; i++) {
		if (i != 0 && buf[i - 1] != '\n')
			continue;
		uint64_t cur = ln++;
		if (n - i > 11 && memcmp(buf + i, "checkpoint ", 11) == 0 && k++ % STEP == STEP / 2 &&
		    m < NFORGED) {
			at[m] = i + 11;
			lines[m++] = cur;
		}
	}
	ck_assert_uint_eq(m, NFORGED);
	/* From the last: an earlier checkpoint's offset stays where it was. */
	dfi_signer *os = jt_signer_new(DFI_SIG_ED25519);
	for (size_t f = m; f-- > 0;) {
		size_t tl;
		uint8_t *t = jt_resign_checkpoint(buf, n, at[f], g_pub, os, &tl);
		ck_assert_ptr_nonnull(t);
		free(buf);
		buf = t;
		n = tl;
	}
	ck_assert_int_eq(jt_write(path, buf, n), 0);
	struct forged ff = { lines, 0, 0, 0 }, fb = { lines, 0, 0, 0 };
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = forged_finding, .ctx = &ff };
	struct dfi_jverify_result rf, rb;
	ck_assert_int_eq(dfi_journal_verify_file(path, &o, &rf), DFI_E_JOURNAL_SIGNATURE);
	o.ctx = &fb;
	ck_assert_int_eq(dfi_journal_verify_buf(buf, n, &o, &rb), DFI_E_JOURNAL_SIGNATURE);
	for (int i = 0; i < 2; i++) {
		const struct forged *f = i == 0 ? &ff : &fb;
		ck_assert_uint_eq(f->n, NFORGED);
		ck_assert_uint_eq(f->in_order, NFORGED);
		ck_assert_uint_eq(f->other, 0);
	}
	dfi_signer_free(os);
	free(buf);
	free(path);
	jt_rmrf(dir);
	free(dir);
}
END_TEST

JT_SIGNER_MAIN("journal_sigpool",
    agrees_and_finds_forgery,
    every_forgery_once)
