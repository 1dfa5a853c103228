/* Issue 17, finding 7: the signature rules of the journal's checkpoints,
 * each reproduced as the auditor reported it first, then the fix.
 *   - ECDSA P-256: the writer writes low-s only (s <= n/2), whatever the
 *     signer gave; n - s in a checkpoint is refused by verify, the writer's
 *     open and a --last-seen anchor; Ed25519's S + L is refused too.
 *   - A checkpoint carries exactly one signature line, the journal key's:
 *     a foreign key name or key ID, or a second line with the journal's key
 *     ID, is a finding ("checkpoint N: foreign signature line ...").
 *   - One finding per root cause: one bad middle checkpoint signature in a
 *     journal of 200 checkpoints is one finding (verify, the writer's open
 *     and `dfissue journal verify`'s printed lines), not 191.
 *   - A key of the other type names its own key ID and both types. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "testutil.h"
#include "jtest.h"
#include "journal/journal_int.h"

JT_SIGNER_FIXTURE

#define NCP 200    /* checkpoints of the many-checkpoint journal */
#define MIDDLE 100 /* the one whose signature is changed */

static const char emdash[] = "\xE2\x80\x94";

/* ---- findings ------------------------------------------------------------- */

struct seen {
	unsigned n;
	uint64_t first_line;
	dfi_err first_code;
	char first[512];
};

static void
on_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct seen *s = ctx;
	if (s->n++ == 0) {
		s->first_line = line;
		s->first_code = code;
		snprintf(s->first, sizeof(s->first), "%s", msg);
	}
	fprintf(stderr, "  finding line %" PRIu64 " (%s): %s\n", line, dfi_errname(code), msg);
}

static dfi_err
verify(const char *path, const dfi_jpubkey *pub, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	struct dfi_jverify_opts o = { .pubkey = pub, .finding = on_finding, .ctx = s };
	struct dfi_jverify_result res;
	return dfi_journal_verify_file(path, &o, &res);
}

static void
writer_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	on_finding(ctx, line, code, msg);
}

/* The writer's open (what `dfissue journal recover` runs). */
static dfi_err
writer_open(const char *dir, dfi_signer *s, struct seen *sn)
{
	memset(sn, 0, sizeof(*sn));
	struct dfi_journal_opts o = { .station = "t", .finding = writer_finding, .finding_ctx = sn };
	dfi_journal *j = NULL;
	dfi_err e = dfi_journal_open(&j, dir, s, &o, NULL);
	dfi_journal_close(j);
	return e;
}

/* ---- a journal and its checkpoint lines ------------------------------------ */

/* A journal signed by s with ncp checkpoints (the genesis's and one per
 * intent); returns journal.log's path, *dir its directory. */
static char *
make_journal(dfi_signer *s, unsigned ncp, char **dir)
{
	char *path = jt_journal_of_intents(s, "test.example/sigrules", ncp - 1, dir);
	ck_assert_ptr_nonnull(path);
	return path;
}

static void
drop_journal(char *path, char *dir)
{
	jt_rmrf(dir);
	free(dir);
	free(path);
}

/* The k-th checkpoint line (0-based, k = -1: the last): its bytes [*s, *e)
 * without the newline, its line number; the number of checkpoint lines. */
static size_t
cp_find(const uint8_t *buf, size_t n, long k, size_t *s, size_t *e, uint64_t *line)
{
	size_t count = 0;
	uint64_t ln = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && buf[i - 1] != '\n')
			continue;
		ln++;
		if (n - i > JCP_PREFIX_LEN && memcmp(buf + i, JCP_PREFIX, JCP_PREFIX_LEN) == 0) {
			if (k < 0 || count == (size_t)k) {
				*s = i;
				*line = ln;
				size_t q = i;
				while (q < n && buf[q] != '\n')
					q++;
				*e = q;
			}
			count++;
		}
	}
	return count;
}

/* Replaces [s, e) of the file at path by the checkpoint line of note. */
static void
put_note(const char *path, size_t s, size_t e, const uint8_t *note, size_t nlen)
{
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	char line[DFI_J_LINE_MAX + 1];
	size_t ll;
	ck_assert_int_eq(jcp_line(note, nlen, line, sizeof(line), &ll), DFI_OK);
	uint8_t *t = malloc(n + ll);
	memcpy(t, buf, s);
	memcpy(t + s, line, ll);
	memcpy(t + s + ll, buf + e, n - e);
	ck_assert_int_eq(jt_write(path, t, s + ll + (n - e)), 0);
	free(t);
	free(buf);
}

struct cpnote {
	size_t s, e;
	uint64_t line;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nlen;
	size_t sigline; /* offset of the first signature line in note */
};

static void
get_note(const char *path, long k, struct cpnote *c)
{
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	ck_assert_uint_gt(cp_find(buf, n, k, &c->s, &c->e, &c->line), 0);
	ck_assert_int_eq(dfi_note_from_line((const char *)buf + c->s, c->e - c->s, c->note, sizeof(c->note),
	    &c->nlen), DFI_OK);
	free(buf);
	const uint8_t *sep = memmem(c->note, c->nlen, "\n\n", 2);
	ck_assert_ptr_nonnull(sep);
	c->sigline = (size_t)(sep - c->note) + 2;
}

/* The signature line's decoded key ID || signature. */
static size_t
sig_bytes(const struct cpnote *c, uint8_t *out, size_t cap)
{
	const uint8_t *l = c->note + c->sigline, *end = c->note + c->nlen - 1;
	const uint8_t *sp = end;
	while (sp > l && *sp != ' ')
		sp--;
	size_t n = 0;
	ck_assert_int_eq(dfi_b64_decode((const char *)sp + 1, (size_t)(end - sp - 1), out, cap, &n),
	    DFI_OK);
	return n;
}

/* Rebuilds the note's one signature line from key ID || signature. */
static void
set_sig_bytes(struct cpnote *c, const uint8_t *sig, size_t sl)
{
	const uint8_t *l = c->note + c->sigline, *end = c->note + c->nlen - 1;
	const uint8_t *sp = end;
	while (sp > l && *sp != ' ')
		sp--;
	size_t head = (size_t)(sp + 1 - c->note);
	char b64[200];
	size_t bl = dfi_b64_encode(sig, sl, b64, sizeof(b64));
	ck_assert_uint_gt(bl, 0);
	memcpy(c->note + head, b64, bl);
	c->note[head + bl] = '\n';
	c->nlen = head + bl + 1;
}

/* ---- ECDSA: low-s --------------------------------------------------------------- */

static BIGNUM *
p256_order(void)
{
	BIGNUM *n = NULL;
	ck_assert_int_gt(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"), 0);
	return n;
}

/* s of a DER ECDSA signature > n/2? */
static int
high_s(const uint8_t *der, size_t len)
{
	const unsigned char *q = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)len);
	ck_assert_ptr_nonnull(es);
	BIGNUM *half = p256_order();
	BN_rshift1(half, half);
	int r = BN_cmp(ECDSA_SIG_get0_s(es), half) > 0;
	BN_free(half);
	ECDSA_SIG_free(es);
	return r;
}

/* DER signature with s replaced by n - s. */
static size_t
flip_s(const uint8_t *der, size_t len, uint8_t *out)
{
	const unsigned char *q = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)len);
	ck_assert_ptr_nonnull(es);
	BIGNUM *n = p256_order(), *r = BN_dup(ECDSA_SIG_get0_r(es)), *s = BN_new();
	ck_assert_int_eq(BN_sub(s, n, ECDSA_SIG_get0_s(es)), 1);
	ck_assert_int_eq(ECDSA_SIG_set0(es, r, s), 1);
	unsigned char *p = out;
	int l = i2d_ECDSA_SIG(es, &p);
	ck_assert_int_gt(l, 0);
	BN_free(n);
	ECDSA_SIG_free(es);
	return (size_t)l;
}

/* A signer whose every ECDSA signature comes out high-s (as an HSM may
 * give them): the writer must store the low-s form. */
static dfi_signer *g_inner;

static dfi_err
high_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	(void)ctx;
	dfi_err e = dfi_signer_sign(g_inner, msg, len, sig, siglen);
	if (e != DFI_OK)
		return e;
	BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL), *n = p256_order(), *half = BN_dup(n);
	BN_rshift1(half, half);
	if (BN_cmp(s, half) <= 0)
		BN_sub(s, n, s);
	BN_bn2binpad(s, sig + 32, 32);
	BN_free(s);
	BN_free(n);
	BN_free(half);
	return DFI_OK;
}

static dfi_err
high_pub(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	(void)ctx;
	return dfi_signer_public_key_der(g_inner, der, cap, len);
}

static void
high_destroy(void *ctx)
{
	(void)ctx;
}

static const struct dfi_signer_ops high_ops = { high_sign, high_pub, high_destroy };

START_TEST(ecdsa_written_low_s)
{
	g_inner = jt_signer_new(DFI_SIG_ECDSA_P256);
	dfi_signer *hs = NULL;
	ck_assert_int_eq(dfi_signer_new(&hs, DFI_SIG_ECDSA_P256, &high_ops, NULL), DFI_OK);
	char *dir, *path = make_journal(hs, 6, &dir);
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	size_t s = 0, e = 0;
	uint64_t ln = 0;
	size_t count = cp_find(buf, n, 0, &s, &e, &ln);
	free(buf);
	ck_assert_uint_eq(count, 6);
	for (size_t k = 0; k < count; k++) {
		struct cpnote c;
		uint8_t sig[200];
		get_note(path, (long)k, &c);
		size_t sl = sig_bytes(&c, sig, sizeof(sig));
		ck_assert_msg(!high_s(sig + 4, sl - 4), "checkpoint %zu was written with a high s", k + 1);
		/* one signature line */
		ck_assert_ptr_null(memmem(c.note + c.sigline, c.nlen - c.sigline, "\n\xE2\x80\x94", 4));
	}
	dfi_jpubkey *pub = jt_pubkey(hs);
	struct seen sn;
	ck_assert_int_eq(verify(path, pub, &sn), DFI_OK);
	dfi_jpubkey_free(pub);
	dfi_signer_free(hs);
	dfi_signer_free(g_inner);
	drop_journal(path, dir);
}
END_TEST

/* The reproduction: s -> n - s in the last checkpoint verified. */
START_TEST(ecdsa_high_s_refused)
{
	dfi_signer *es = jt_signer_new(DFI_SIG_ECDSA_P256);
	dfi_jpubkey *pub = jt_pubkey(es);
	char *dir, *path = make_journal(es, 5, &dir);
	struct seen sn;
	ck_assert_int_eq(verify(path, pub, &sn), DFI_OK);
	struct cpnote c;
	get_note(path, -1, &c);
	uint8_t sig[200], flipped[200];
	size_t sl = sig_bytes(&c, sig, sizeof(sig));
	ck_assert(!high_s(sig + 4, sl - 4));
	memcpy(flipped, sig, 4);
	size_t fl = 4 + flip_s(sig + 4, sl - 4, flipped + 4);
	ck_assert(high_s(flipped + 4, fl - 4));
	set_sig_bytes(&c, flipped, fl);
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(c.note, c.nlen, pub, &cp), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_int_eq(dfi_note_open(c.note, c.nlen, NULL, &cp), DFI_OK);
	put_note(path, c.s, c.e, c.note, c.nlen);

	/* verify (file and buffer: the signature threads and the walk) */
	ck_assert_int_eq(verify(path, pub, &sn), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sn.n, 1);
	ck_assert_uint_eq(sn.first_line, c.line);
	ck_assert_ptr_nonnull(strstr(sn.first, "checkpoint 5 "));
	ck_assert_ptr_nonnull(strstr(sn.first, "high s"));
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	struct seen sb = { 0 };
	struct dfi_jverify_opts o = { .pubkey = pub, .finding = on_finding, .ctx = &sb };
	struct dfi_jverify_result res;
	ck_assert_int_eq(dfi_journal_verify_buf(buf, n, &o, &res), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sb.n, 1);
	free(buf);
	/* the writer's open */
	ck_assert_int_eq(writer_open(dir, es, &sn), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sn.n, 1);
	/* the malleated note as a --last-seen anchor */
	drop_journal(path, dir);
	path = make_journal(es, 2, &dir);
	o.last_seen = c.note;
	o.last_seen_len = c.nlen;
	memset(&sb, 0, sizeof(sb));
	ck_assert_int_eq(dfi_journal_verify_file(path, &o, &res), DFI_E_JOURNAL_SIGNATURE);
	dfi_jpubkey_free(pub);
	dfi_signer_free(es);
	drop_journal(path, dir);
}
END_TEST

/* Ed25519 is not malleable: S + L (the group order) is refused by
 * OpenSSL's verify (RFC 8032 §5.1.7 "S < L"). */
START_TEST(ed25519_s_plus_l_refused)
{
	static const uint8_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c,
		0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
	char *dir, *path = make_journal(g_signer, 3, &dir);
	struct cpnote c;
	get_note(path, -1, &c);
	uint8_t sig[200];
	size_t sl = sig_bytes(&c, sig, sizeof(sig));
	ck_assert_uint_eq(sl, 4 + 64);
	unsigned carry = 0;
	for (int i = 0; i < 32; i++) { /* S is little-endian */
		unsigned v = sig[4 + 32 + i] + L[i] + carry;
		sig[4 + 32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	ck_assert_uint_eq(carry, 0); /* S < L < 2^253: S + L fits */
	set_sig_bytes(&c, sig, sl);
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(c.note, c.nlen, g_pub, &cp), DFI_E_JOURNAL_SIGNATURE);
	put_note(path, c.s, c.e, c.note, c.nlen);
	struct seen sn;
	ck_assert_int_eq(verify(path, g_pub, &sn), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sn.n, 1);
	drop_journal(path, dir);
}
END_TEST

/* ---- exactly one signature line ---------------------------------------------- */

/* The note's text with the signature lines given (each "name b64"). */
static void
with_lines(struct cpnote *c, const char *const *lines, size_t n)
{
	size_t at = c->sigline;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf((char *)c->note + at, sizeof(c->note) - at, "%s %s\n", emdash, lines[i]);
		ck_assert_int_gt(w, 0);
		at += (size_t)w;
	}
	c->nlen = at;
}

START_TEST(foreign_signature_lines_refused)
{
	char *dir, *path = make_journal(g_signer, 4, &dir);
	struct cpnote orig;
	get_note(path, -1, &orig);
	char own[300];
	size_t ol = orig.nlen - orig.sigline - (sizeof(emdash) - 1) - 2;
	memcpy(own, orig.note + orig.sigline + sizeof(emdash), ol);
	own[ol] = '\0'; /* "name b64" of the journal key's line */
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(orig.note, orig.nlen, g_pub, &cp), DFI_OK);
	/* Another key's signature over the same text, under the origin's name
	 * and under a witness's name. */
	dfi_signer *other = jt_signer_new(DFI_SIG_ED25519);
	uint8_t on[DFI_J_NOTE_MAX];
	size_t onl;
	ck_assert_int_eq(dfi_note_sign(&cp, other, on, sizeof(on), &onl), DFI_OK);
	const uint8_t *osl = (const uint8_t *)memmem(on, onl, "\n\n", 2) + 2;
	char oline[300], witness[300];
	size_t oll = onl - (size_t)(osl - on) - (sizeof(emdash) - 1) - 2;
	memcpy(oline, osl + sizeof(emdash), oll);
	oline[oll] = '\0';
	snprintf(witness, sizeof(witness), "witness.example/w1 %s", strchr(oline, ' ') + 1);
	const char *const cases[][2] = {
		{ own, oline },    /* another key ID under the journal's key name */
		{ own, witness },  /* a foreign key name (C2SP: a cosignature) */
		{ own, own },      /* a second line with the journal's key ID */
		{ witness, own },  /* the foreign line first */
		{ oline, NULL },   /* only another key's line */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpnote c = orig;
		with_lines(&c, cases[i], cases[i][1] != NULL ? 2 : 1);
		ck_assert_int_eq(dfi_note_open(c.note, c.nlen, g_pub, &cp), DFI_E_JOURNAL_SIGNATURE);
		if (i < 4) /* without a key too: one line, named after the origin */
			ck_assert_int_eq(dfi_note_open(c.note, c.nlen, NULL, &cp), DFI_E_JOURNAL_SIGNATURE);
		put_note(path, orig.s, orig.e, c.note, c.nlen);
		struct seen sn;
		ck_assert_int_eq(verify(path, g_pub, &sn), DFI_E_JOURNAL_SIGNATURE);
		ck_assert_uint_eq(sn.n, 1);
		ck_assert_uint_eq(sn.first_line, orig.line);
		ck_assert_msg(strstr(sn.first, "checkpoint 4 ") != NULL &&
		    (i == 4 ? strstr(sn.first, "foreign signature line 1") :
			      strstr(sn.first, "foreign signature line")) != NULL,
		    "case %zu: %s", i, sn.first);
		ck_assert_int_eq(writer_open(dir, g_signer, &sn), DFI_E_JOURNAL_SIGNATURE);
		/* back to the original line for the next case */
		size_t n;
		uint8_t *buf = jt_read(path, &n);
		size_t s = 0, e = 0;
		uint64_t ln = 0;
		cp_find(buf, n, -1, &s, &e, &ln);
		free(buf);
		put_note(path, s, e, orig.note, orig.nlen);
		ck_assert_int_eq(verify(path, g_pub, &sn), DFI_OK);
	}
	dfi_signer_free(other);
	drop_journal(path, dir);
}
END_TEST

/* ---- one finding per root cause ------------------------------------------------ */

/* Runs `dfissue journal verify` and returns the lines it printed, but for
 * the "unresolved intent" lines (make_journal's intents stay open). */
static unsigned
cli_verify_lines(const char *path, dfi_signer *s, char *first, size_t cap)
{
	char pem[600], cmd[2000], line[1024];
	snprintf(pem, sizeof(pem), "%s.pub.pem", path);
	ck_assert_int_eq(jt_write_pubkey_pem(s, pem), 0);
	snprintf(cmd, sizeof(cmd), "%s/bin/dfissue journal verify --pubkey %s %s 2>&1",
	    getenv("DFI_BUILD_DIR"), pem, path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	unsigned n = 0;
	first[0] = '\0';
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strncmp(line, "unresolved intent ", 18) == 0)
			continue;
		fprintf(stderr, "  dfissue: %s", line);
		if (n++ == 0)
			snprintf(first, cap, "%s", line);
	}
	ck_assert_int_ne(pclose(p), 0);
	remove(pem);
	return n;
}

START_TEST(one_finding_for_a_bad_middle_signature)
{
	char *dir, *path = make_journal(g_signer, NCP, &dir);
	struct cpnote c;
	get_note(path, MIDDLE - 1, &c);
	uint8_t sig[200];
	size_t sl = sig_bytes(&c, sig, sizeof(sig));
	sig[4 + 10] ^= 0x01; /* one byte of the signature */
	set_sig_bytes(&c, sig, sl);
	put_note(path, c.s, c.e, c.note, c.nlen);

	struct seen sn;
	ck_assert_int_eq(verify(path, g_pub, &sn), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sn.n, 1);
	ck_assert_uint_eq(sn.first_line, c.line);
	char want[64];
	snprintf(want, sizeof(want), "checkpoint %d ", MIDDLE);
	ck_assert_msg(strstr(sn.first, want) != NULL, "%s", sn.first);
	ck_assert_ptr_nonnull(strstr(sn.first, "does not verify"));
	/* the writer's open (journal recover) */
	ck_assert_int_eq(writer_open(dir, g_signer, &sn), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_uint_eq(sn.n, 1);
	ck_assert_uint_eq(sn.first_line, c.line);
	/* the CLI: one finding line and the verdict */
	char first[1024];
	ck_assert_uint_eq(cli_verify_lines(path, g_signer, first, sizeof(first)), 2);
	char at[64];
	snprintf(at, sizeof(at), ":%" PRIu64 ": checkpoint %d ", c.line, MIDDLE);
	ck_assert_msg(strstr(first, at) != NULL, "%s", first);
	drop_journal(path, dir);
}
END_TEST

/* A removed middle checkpoint line: one finding, at the next checkpoint. */
START_TEST(one_finding_for_a_removed_checkpoint)
{
	char *dir, *path = make_journal(g_signer, 40, &dir);
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	size_t s = 0, e = 0;
	uint64_t ln = 0;
	cp_find(buf, n, 19, &s, &e, &ln);
	memmove(buf + s, buf + e + 1, n - e - 1);
	ck_assert_int_eq(jt_write(path, buf, n - (e + 1 - s)), 0);
	free(buf);
	struct seen sn;
	ck_assert_int_eq(verify(path, g_pub, &sn), DFI_E_JOURNAL_CORRUPT);
	ck_assert_uint_eq(sn.n, 1);
	ck_assert_ptr_nonnull(strstr(sn.first, "removed or moved"));
	drop_journal(path, dir);
}
END_TEST

/* ---- a key of the other type ------------------------------------------------------ */

static void
other_type(dfi_sigalg journal_alg, dfi_sigalg key_alg)
{
	dfi_signer *js = jt_signer_new(journal_alg), *ks = jt_signer_new(key_alg);
	dfi_jpubkey *kp = jt_pubkey(ks);
	char *dir, *path = make_journal(js, 12, &dir);
	uint32_t id = 0;
	ck_assert_int_eq(dfi_jpubkey_key_id(kp, "test.example/sigrules", &id), DFI_OK);
	struct seen sn;
	ck_assert_int_eq(verify(path, kp, &sn), DFI_E_JOURNAL_SIGNATURE);
	char want[120];
	snprintf(want, sizeof(want), "given public key %08" PRIX32 " is %s", id,
	    key_alg == DFI_SIG_ED25519 ? "ed25519" : "ecdsa-p256");
	ck_assert_msg(strstr(sn.first, want) != NULL, "%s", sn.first);
	ck_assert_ptr_nonnull(strstr(sn.first, journal_alg == DFI_SIG_ED25519 ? "(ed25519)" : "(ecdsa-p256)"));
	ck_assert_ptr_nonnull(strstr(sn.first, "key type does not match the journal's"));
	ck_assert_ptr_null(strstr(sn.first, "00000000"));
	ck_assert_uint_eq(sn.n, 1); /* the wrong key is one root cause */
	ck_assert_uint_eq(sn.first_line, 1);
	dfi_jpubkey_free(kp);
	dfi_signer_free(js);
	dfi_signer_free(ks);
	drop_journal(path, dir);
}

START_TEST(key_of_the_other_type)
{
	other_type(DFI_SIG_ED25519, DFI_SIG_ECDSA_P256);
	other_type(DFI_SIG_ECDSA_P256, DFI_SIG_ED25519);
}
END_TEST

JT_SIGNER_MAIN("journal_sigrules",
    ecdsa_written_low_s, ecdsa_high_s_refused, ed25519_s_plus_l_refused,
    foreign_signature_lines_refused, one_finding_for_a_bad_middle_signature,
    one_finding_for_a_removed_checkpoint, key_of_the_other_type)
