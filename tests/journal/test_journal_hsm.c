/* Tamper detection on journals signed by the journal key in a real SoftHSM2
 * token (made by hsm-config/make-dev-token.sh): every kind of tampering the
 * auditor must catch, through the library and through `dfissue journal`. */
#include <stdarg.h>
#include <sys/wait.h>

#include <jansson.h>

#include "testutil.h"
#include "jtest.h"
#include "dfissue/hsm.h"

static char g_dir[256];      /* fixture root */
static char g_pin[320], g_pem[320], g_cli[512];
static dfi_hsm *g_hsm;
static dfi_signer *g_signer, *g_other;
static dfi_jpubkey *g_pub, *g_other_pub;
static const struct dfi_journal_opts jopts = { .station = "hsm-test" };
#define ORIGIN "issuer.example/journal/hsm-test"

static void
setup(void)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(bld);
	snprintf(g_dir, sizeof(g_dir), "/tmp/dfi-journal-hsm.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	snprintf(g_cli, sizeof(g_cli), "%s/bin/dfissue", bld);
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s' >/dev/null </dev/null", src,
	    g_dir, g_cli);
	ck_assert_int_eq(system(cmd), 0);
	char conf[400];
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", g_dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(g_pin, sizeof(g_pin), "%s/dev/user.pin", g_dir);
	snprintf(g_pem, sizeof(g_pem), "%s/dev/journal.pub.pem", g_dir);
	struct dfi_hsm_config cfg = { .token_uri = "pkcs11:token=dfissue-dev", .pin_file = g_pin };
	ck_assert_int_eq(dfi_hsm_open(&g_hsm, &cfg), DFI_OK);
	ck_assert_int_eq(dfi_hsm_signer_new(g_hsm, "pkcs11:object=journal;type=private", &g_signer), DFI_OK);
	size_t n;
	char *pem = (char *)jt_read(g_pem, &n);
	ck_assert_ptr_nonnull(pem);
	ck_assert_int_eq(dfi_jpubkey_from_pem(pem, n, &g_pub), DFI_OK);
	free(pem);
	/* a second key in the same token, for "signed by another key" */
	ck_assert_int_eq(dfi_hsm_journal_key_generate(g_hsm, "intruder", dfi_signer_alg(g_signer)), DFI_OK);
	ck_assert_int_eq(dfi_hsm_signer_new(g_hsm, "pkcs11:object=intruder;type=private", &g_other), DFI_OK);
	g_other_pub = jt_pubkey(g_other);
	ck_assert_ptr_nonnull(g_other_pub);
}

static void
teardown(void)
{
	dfi_jpubkey_free(g_pub);
	dfi_jpubkey_free(g_other_pub);
	dfi_signer_free(g_signer);
	dfi_signer_free(g_other);
	dfi_hsm_free(g_hsm);
	jt_rmrf(g_dir);
}

/* A journal with every record type, built through an HSM signer. Returns
 * the journal bytes; *mid_note receives a checkpoint from the middle. */
static uint8_t *
build_as(const char *dir, dfi_signer *signer, const char *station, size_t *len, uint8_t *mid_note,
    size_t *mid_len, size_t *mid_file_len)
{
	struct dfi_journal_opts jo = { .station = station };
	ck_assert_int_eq(dfi_journal_create(dir, ORIGIN, signer, &jo), DFI_OK);
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, dir, signer, &jo, NULL), DFI_OK);
	uint64_t s;
	dfi_jrec a = jt_intent("04782E21801D80", 0x3042F5, 1, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &a, &s), DFI_OK);
	ck_assert_int_eq(dfi_journal_commit(j, s), DFI_OK);
	dfi_jrec b = jt_intent("04782E21801D80", 0x000000, 0, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &s), DFI_OK);
	ck_assert_int_eq(dfi_journal_abort(j, s, "PERMISSION_DENIED"), DFI_OK);
	ck_assert_int_eq(dfi_journal_checkpoint(j, mid_note, DFI_J_NOTE_MAX, mid_len), DFI_OK);
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, DFI_JOURNAL_FILE);
	free(jt_read(p, mid_file_len));
	dfi_jrec c = jt_intent("04112233445566", 0x000000, 0, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &c, &s), DFI_OK);
	ck_assert_int_eq(dfi_journal_resolve(j, s, 1, DFI_JMATCH_NEW), DFI_OK);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &s), DFI_OK); /* left unresolved */
	dfi_journal_close(j);
	return jt_read(p, len);
}

/* That journal in a directory of its own, as every tamper test starts. */
struct built {
	char *dir;
	uint8_t *b;                  /* the journal file */
	size_t n;
	uint8_t mid[DFI_J_NOTE_MAX]; /* a checkpoint from the middle */
	size_t ml, mfl;              /* its length; the file's length then */
};

static void
built_open(struct built *j, dfi_signer *signer, const char *station)
{
	j->dir = jt_tmpdir();
	j->b = build_as(j->dir, signer, station, &j->n, j->mid, &j->ml, &j->mfl);
}

static void
built_close(struct built *j)
{
	free(j->b);
	jt_rmrf(j->dir);
	free(j->dir);
}

static dfi_err
verify_bytes(const uint8_t *b, size_t n, const dfi_jpubkey *pk, const char *origin, const uint8_t *ls,
    size_t lslen)
{
	struct dfi_jverify_opts o = { .pubkey = pk, .origin = origin, .last_seen = ls, .last_seen_len = lslen };
	struct dfi_jverify_result r;
	return dfi_journal_verify_buf(b, n, &o, &r);
}

/* line starts */
static size_t
lines_of(const uint8_t *b, size_t n, size_t *starts, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < cap; i++)
		if (i == 0 || b[i - 1] == '\n')
			starts[k++] = i;
	return k;
}

START_TEST(pristine_journal_verifies)
{
	struct built j;
	built_open(&j, g_signer, jopts.station);
	struct dfi_jverify_opts o = { .pubkey = g_pub, .last_seen = j.mid, .last_seen_len = j.ml };
	struct dfi_jverify_result r;
	ck_assert_int_eq(dfi_journal_verify_buf(j.b, j.n, &o, &r), DFI_OK);
	ck_assert_uint_eq(r.records, 8);
	ck_assert_uint_eq(r.covered, 8);
	ck_assert_uint_eq(r.unresolved, 1);
	ck_assert_uint_eq(r.intents, 4);
	built_close(&j);
}
END_TEST

/* The step between the bytes whose bits every_flipped_bit_is_detected
 * flips: DFI_FLIP_STRIDE, 1 (every byte) when unset. Sanitizer builds set
 * a prime (tests/journal/CMakeLists.txt): every line, of each kind, still
 * has bytes flipped, through the same verify paths, in a fraction of the
 * time. */
static size_t
flip_stride(void)
{
	const char *v = getenv("DFI_FLIP_STRIDE");
	if (v == NULL)
		return 1;
	char *end;
	unsigned long k = strtoul(v, &end, 10);
	ck_assert_msg(end != v && *end == '\0' && k >= 1 && k <= 64, "DFI_FLIP_STRIDE=%s: wanted 1 to 64", v);
	return k;
}

START_TEST(every_flipped_bit_is_detected)
{
	struct built j;
	built_open(&j, g_signer, jopts.station);
	size_t stride = flip_stride(), st[64], nl = lines_of(j.b, j.n, st, 64);
	/* every line's start was found (lines_of stops at 64), and no line is
	 * stepped over */
	ck_assert_uint_lt(nl, 64);
	for (size_t l = 0; l < nl; l++)
		ck_assert_uint_le(stride, (l + 1 < nl ? st[l + 1] : j.n) - st[l]);
	for (size_t i = 0; i < j.n; i += stride)
		for (int bit = 0; bit < 8; bit += 3) {
			j.b[i] ^= (uint8_t)(1u << bit);
			ck_assert_msg(verify_bytes(j.b, j.n, g_pub, NULL, NULL, 0) != DFI_OK, "byte %zu bit %d", i, bit);
			j.b[i] ^= (uint8_t)(1u << bit);
		}
	ck_assert_int_eq(verify_bytes(j.b, j.n, g_pub, NULL, NULL, 0), DFI_OK);
	built_close(&j);
}
END_TEST

START_TEST(deleted_swapped_duplicated_lines_are_detected)
{
	size_t st[64];
	struct built j;
	built_open(&j, g_signer, jopts.station);
	size_t nl = lines_of(j.b, j.n, st, 64);
	ck_assert_uint_eq(nl, 16); /* 8 records, 8 checkpoints */
	uint8_t *t = malloc(2 * j.n);
	for (size_t i = 0; i < nl; i++) {
		size_t s = st[i], e = i + 1 < nl ? st[i + 1] : j.n;
		/* deleted */
		memcpy(t, j.b, s);
		memcpy(t + s, j.b + e, j.n - e);
		ck_assert_msg(verify_bytes(t, j.n - (e - s), g_pub, NULL, NULL, 0) != DFI_OK, "deleted line %zu", i + 1);
		/* duplicated */
		memcpy(t, j.b, e);
		memcpy(t + e, j.b + s, e - s);
		memcpy(t + e + (e - s), j.b + e, j.n - e);
		ck_assert_msg(verify_bytes(t, j.n + (e - s), g_pub, NULL, NULL, 0) != DFI_OK, "duplicated line %zu", i + 1);
		/* swapped with the next */
		if (i + 1 < nl) {
			size_t e2 = i + 2 < nl ? st[i + 2] : j.n;
			memcpy(t, j.b, s);
			memcpy(t + s, j.b + e, e2 - e);
			memcpy(t + s + (e2 - e), j.b + s, e - s);
			memcpy(t + e2, j.b + e2, j.n - e2);
			ck_assert_msg(verify_bytes(t, j.n, g_pub, NULL, NULL, 0) != DFI_OK, "swapped lines %zu,%zu", i + 1, i + 2);
		}
	}
	/* two records swapped together with their checkpoints still fail */
	free(t);
	built_close(&j);
}
END_TEST

/* Replaces the last checkpoint line of b (len n) by the line for note. */
static uint8_t *
replace_last_checkpoint(const uint8_t *b, size_t n, const uint8_t *note, size_t nl, size_t *out_len)
{
	size_t st[64];
	size_t k = lines_of(b, n, st, 64);
	size_t s = st[k - 1];
	ck_assert_int_eq(memcmp(b + s, "checkpoint ", 11), 0);
	char line[DFI_J_LINE_MAX];
	size_t ll = (size_t)EVP_EncodeBlock((unsigned char *)line, note, (int)nl);
	uint8_t *t = malloc(s + 11 + ll + 1);
	memcpy(t, b, s);
	memcpy(t + s, "checkpoint ", 11);
	memcpy(t + s + 11, line, ll);
	t[s + 11 + ll] = '\n';
	*out_len = s + 11 + ll + 1;
	return t;
}

START_TEST(edited_or_foreign_checkpoints_are_detected)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl, tl;
	struct built j;
	built_open(&j, g_signer, jopts.station);
	/* the genuine last checkpoint, decoded */
	struct dfi_jverify_opts o = { .pubkey = g_pub };
	struct dfi_jverify_result r;
	ck_assert_int_eq(dfi_journal_verify_buf(j.b, j.n, &o, &r), DFI_OK);
	memcpy(note, r.last_note, r.last_note_len);
	nl = r.last_note_len;
	uint8_t *t = replace_last_checkpoint(j.b, j.n, note, nl, &tl);
	ck_assert_int_eq(verify_bytes(t, tl, g_pub, NULL, NULL, 0), DFI_OK); /* the helper is faithful */
	free(t);
	/* edited: size 8 -> 9 in the text, signature unchanged */
	char *p = memmem(note, nl, "\n8\n", 3);
	ck_assert_ptr_nonnull(p);
	p[1] = '9';
	t = replace_last_checkpoint(j.b, j.n, note, nl, &tl);
	ck_assert_int_eq(verify_bytes(t, tl, g_pub, NULL, NULL, 0), DFI_E_JOURNAL_SIGNATURE);
	free(t);
	/* edited: the root's first character */
	p[1] = '8';
	note[strlen(ORIGIN) + 3] ^= 0x01;
	t = replace_last_checkpoint(j.b, j.n, note, nl, &tl);
	ck_assert_int_ne(verify_bytes(t, tl, g_pub, NULL, NULL, 0), DFI_OK);
	free(t);
	/* the same checkpoint signed by another HSM key */
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(r.last_note, r.last_note_len, g_pub, &cp), DFI_OK);
	ck_assert_int_eq(dfi_note_sign(&cp, g_other, note, sizeof(note), &nl), DFI_OK);
	t = replace_last_checkpoint(j.b, j.n, note, nl, &tl);
	ck_assert_int_eq(verify_bytes(t, tl, g_pub, NULL, NULL, 0), DFI_E_JOURNAL_SIGNATURE);
	/* and with the intruder's public key substituted, the genuine journal fails */
	ck_assert_int_ne(verify_bytes(j.b, j.n, g_other_pub, NULL, NULL, 0), DFI_OK);
	free(t);
	built_close(&j);
}
END_TEST

/* A journal built by signer verifies under the public key and origin it
 * was made for, and fails with want under the ones given as bad. */
static void
verifies_only_as_made(dfi_signer *signer, const dfi_jpubkey *pub, const char *origin,
    const dfi_jpubkey *bad_pub, const char *bad_origin, dfi_err want)
{
	struct built j;
	built_open(&j, signer, jopts.station);
	ck_assert_int_eq(verify_bytes(j.b, j.n, pub, origin, NULL, 0), DFI_OK);
	ck_assert_int_eq(verify_bytes(j.b, j.n, bad_pub, bad_origin, NULL, 0), want);
	built_close(&j);
}

START_TEST(a_journal_rebuilt_with_another_key_is_detected)
{
	/* the whole journal, forged end to end with a key of the same token */
	verifies_only_as_made(g_other, g_other_pub, NULL, g_pub, NULL, DFI_E_JOURNAL_SIGNATURE);
}
END_TEST

START_TEST(truncation_to_an_older_checkpoint_needs_last_seen)
{
	uint8_t latest[DFI_J_NOTE_MAX];
	struct built j, j2;
	built_open(&j, g_signer, jopts.station);
	struct dfi_jverify_opts o = { .pubkey = g_pub };
	struct dfi_jverify_result r;
	ck_assert_int_eq(dfi_journal_verify_buf(j.b, j.n, &o, &r), DFI_OK);
	size_t ll = r.last_note_len;
	memcpy(latest, r.last_note, ll);
	/* cut back to the genuine middle checkpoint: valid on its own ... */
	ck_assert_int_eq(verify_bytes(j.b, j.mfl, g_pub, NULL, NULL, 0), DFI_OK);
	/* ... but not against the checkpoint the auditor kept */
	ck_assert_int_eq(verify_bytes(j.b, j.mfl, g_pub, NULL, latest, ll), DFI_E_JOURNAL_ROLLBACK);
	/* the full journal extends both the middle and the latest checkpoint */
	ck_assert_int_eq(verify_bytes(j.b, j.n, g_pub, NULL, j.mid, j.ml), DFI_OK);
	ck_assert_int_eq(verify_bytes(j.b, j.n, g_pub, NULL, latest, ll), DFI_OK);
	/* a rewritten history (another genuine journal of the same key and
	 * origin) does not extend the checkpoint either */
	built_open(&j2, g_signer, "rewriter");
	ck_assert_int_eq(verify_bytes(j2.b, j2.n, g_pub, NULL, NULL, 0), DFI_OK);
	ck_assert_int_eq(verify_bytes(j2.b, j2.n, g_pub, NULL, latest, ll), DFI_E_JOURNAL_ROLLBACK);
	/* a forged last-seen checkpoint is refused outright */
	latest[0] ^= 1;
	ck_assert_int_ne(verify_bytes(j.b, j.n, g_pub, NULL, latest, ll), DFI_OK);
	built_close(&j2);
	built_close(&j);
}
END_TEST

START_TEST(origin_mismatch_is_detected)
{
	verifies_only_as_made(g_signer, g_pub, ORIGIN, g_pub, "issuer.example/journal/other",
	    DFI_E_JOURNAL_CORRUPT);
}
END_TEST

/* ---- the CLI ------------------------------------------------------------------ */

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Asserts that the file at path (a CLI run's output) holds text. */
static void
says(const char *path, const char *text)
{
	size_t n;
	char *got = (char *)jt_read(path, &n);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strstr(got, text) != NULL, "%s does not say \"%s\": %s", path, text, got);
	free(got);
}

static void
lacks(const char *path, const char *text)
{
	size_t n;
	char *got = (char *)jt_read(path, &n);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strstr(got, text) == NULL, "%s says \"%s\": %s", path, text, got);
	free(got);
}

START_TEST(cli_init_verify_show_proof_checkpoint)
{
	char *d = jt_tmpdir();
	char jd[512], out[600], cp[600], bad[600];
	snprintf(jd, sizeof(jd), "%s/j", d);
	snprintf(out, sizeof(out), "%s/out.txt", d);
	snprintf(cp, sizeof(cp), "%s/cp.txt", d);
	ck_assert_int_eq(run("'%s' journal init --token pkcs11:token=dfissue-dev --pin-file '%s' --origin "
			     "%s --station cli-test '%s' >'%s'",
			     g_cli, g_pin, ORIGIN, jd, out),
	    0);
	ck_assert_int_eq(run("'%s' journal init --token pkcs11:token=dfissue-dev --pin-file '%s' --origin "
			     "%s --station cli-test '%s' 2>'%s'",
			     g_cli, g_pin, ORIGIN, jd, out),
	    1);
	/* add records through the library with the same key */
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, jd, g_signer, &jopts, NULL), DFI_OK);
	uint64_t s;
	dfi_jrec a = jt_intent("04782E21801D80", 0x3042F5, 1, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &a, &s), DFI_OK);
	ck_assert_int_eq(run("'%s' journal checkpoint '%s' >'%s'", g_cli, jd, cp), 0);
	ck_assert_int_eq(dfi_journal_commit(j, s), DFI_OK);
	dfi_jrec b = jt_intent("04AABBCCDDEEFF", 0x000000, 0, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &s), DFI_OK);
	dfi_journal_close(j);

	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' --origin %s --last-seen '%s' '%s' >'%s'", g_cli,
			     g_pem, ORIGIN, cp, jd, out),
	    0);
	size_t n;
	says(out, ": OK: 4 records under 4 signed checkpoints");
	says(out, "unresolved intent 3: card 04AABBCCDDEEFF");
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' --origin other.example '%s' >'%s'", g_cli, g_pem, jd, out), 1);
	says(out, "is not the expected 'other.example'");
	ck_assert_int_eq(run("'%s' journal verify '%s' 2>/dev/null", g_cli, jd), 2);
	ck_assert_int_eq(run("'%s' journal verify --help >/dev/null", g_cli), 0);

	/* tampered copy: one digit of a covered record changed */
	snprintf(bad, sizeof(bad), "%s/bad.log", d);
	char jf[600];
	snprintf(jf, sizeof(jf), "%s/%s", jd, DFI_JOURNAL_FILE);
	uint8_t *raw = jt_read(jf, &n);
	char *k = strstr((char *)raw, "keyno=1");
	ck_assert_ptr_nonnull(k);
	k[6] = '2';
	ck_assert_int_eq(jt_write(bad, raw, n), 0);
	free(raw);
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' '%s' >'%s'", g_cli, g_pem, bad, out), 1);
	says(out, "bad.log:4: checkpoint root does not match");
	says(out, "FAILED");
	lacks(out, "unsigned tail"); /* covered data: no advice to quarantine it */

	/* truncated back to the kept checkpoint's predecessor */
	raw = jt_read(jf, &n);
	char *second_cp = strstr(strstr((char *)raw, "\ncheckpoint ") + 1, "\n") + 1; /* after line 2 */
	ck_assert_int_eq(jt_write(bad, raw, (size_t)(second_cp - (char *)raw)), 0);
	free(raw);
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' '%s' >/dev/null", g_cli, g_pem, bad), 0);
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' --last-seen '%s' '%s' >'%s'", g_cli, g_pem, cp, bad, out), 1);
	says(out, "truncated or rolled back");

	/* show */
	ck_assert_int_eq(run("'%s' journal show --json '%s' >'%s'", g_cli, jd, out), 0);
	json_error_t je;
	json_t *root = json_load_file(out, 0, &je);
	ck_assert_ptr_nonnull(root);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "records")), 4);
	ck_assert_int_eq(json_array_size(json_object_get(root, "cards")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(root, "unresolved")), 1);
	json_t *ch = json_array_get(json_object_get(json_array_get(json_object_get(root, "cards"), 0), "changes"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ch, "uid")), "04782E21801D80");
	ck_assert_str_eq(json_string_value(json_object_get(ch, "outcome")), "committed");
	json_decref(root);
	ck_assert_int_eq(run("'%s' journal show --uid 04aabbccddeeff '%s' >'%s'", g_cli, jd, out), 0);
	char *txt = (char *)jt_read(out, &n);
	ck_assert_ptr_nonnull(strstr(txt, "card 04AABBCCDDEEFF"));
	ck_assert_ptr_null(strstr(txt, "card 04782E21801D80"));
	free(txt);
	/* without a JOURNAL, or with two, show is a usage error (exit 2) that
	 * says what it wants */
	ck_assert_int_eq(run("'%s' journal show 2>'%s'", g_cli, out), 2);
	says(out, "dfissue: journal show: needs one JOURNAL (try --help)\n");
	ck_assert_int_eq(run("'%s' journal show '%s' '%s' 2>'%s'", g_cli, jd, jd, out), 2);
	says(out, "journal show: unexpected argument");
	says(out, "dfissue journal show --help");

	/* proof of record 1 */
	ck_assert_int_eq(run("'%s' journal proof --seq 1 '%s' >'%s'", g_cli, jd, out), 0);
	says(out, "index 1\nsize 4\nleaf ");
	says(out, "\nrecord seq=1 ");
	says(out, "\ncheckpoint\n" ORIGIN "\n4\n");
	ck_assert_int_eq(run("'%s' journal proof --seq 9 '%s' 2>/dev/null", g_cli, jd), 1);

	/* a torn tail: verify flags it, recover quarantines it, then all verifies */
	raw = jt_read(jf, &n);
	uint8_t *torn = malloc(n + 64);
	memcpy(torn, raw, n);
	memcpy(torn + n, "seq=4 time=2026-11-25T09:00:00Z type=intent uid=04", 50);
	ck_assert_int_eq(jt_write(jf, torn, n + 50), 0);
	free(torn);
	free(raw);
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' '%s' >'%s'", g_cli, g_pem, jd, out), 1);
	says(out, ":9: last line is incomplete (a torn write)");
	/* audit k34a, finding 6: a torn tail alone gets its next step, in
	 * verify and in show */
	char advice[2048];
	snprintf(advice, sizeof(advice), "%s: every finding is in its unsigned tail (1 line(s) from "
	    "line 9, after the last signed checkpoint): the trace of a failed write or a crash, not "
	    "tampering; its intents were never covered by a signature, so no ChangeKey was sent for "
	    "them. 'dfissue journal recover --station NAME [HSM options] %s', or the next "
	    "personalize run on this journal, moves it to %s/quarantine/\n", jd, jd, jd);
	says(out, advice);
	ck_assert_int_eq(run("'%s' journal show '%s' >'%s'", g_cli, jd, out), 0);
	says(out, advice);
	/* while a writer holds the journal, recover is refused with a clear error */
	ck_assert_int_eq(dfi_journal_open(&j, jd, g_signer, &jopts, NULL), DFI_OK);
	ck_assert_int_eq(run("'%s' journal recover --token pkcs11:token=dfissue-dev --pin-file '%s' --station cli "
			     "'%s' 2>'%s'", g_cli, g_pin, jd, out), 1);
	says(out, "is in use: another dfissue process (a station still running?) holds its lock: "
	    "stop it, then run recover again");
	dfi_journal_close(j);
	/* (the library open above already recovered; cut it again for the CLI) */
	raw = jt_read(jf, &n);
	torn = malloc(n + 64);
	memcpy(torn, raw, n);
	memcpy(torn + n, "seq=5 time=2026-11-25T09:00:00Z type=intent uid=04", 50);
	ck_assert_int_eq(jt_write(jf, torn, n + 50), 0);
	free(torn);
	free(raw);
	ck_assert_int_eq(run("'%s' journal recover --token pkcs11:token=dfissue-dev --pin-file '%s' --station cli "
			     "'%s' >'%s'", g_cli, g_pin, jd, out), 0);
	says(out, "recovered: 1 line(s), 50 byte(s) quarantined");
	ck_assert_int_eq(run("'%s' journal recover --token pkcs11:token=dfissue-dev --pin-file '%s' --station cli "
			     "'%s' >'%s'", g_cli, g_pin, jd, out), 0);
	says(out, "nothing to recover");
	ck_assert_int_eq(run("'%s' journal verify --pubkey '%s' --last-seen '%s' '%s' >'%s'", g_cli, g_pem, cp, jd, out), 0);
	says(out, "2 recoveries");
	jt_rmrf(d);
	free(d);
}
END_TEST

START_TEST(ecdsa_p256_fallback_key)
{
	dfi_signer *ec;
	ck_assert_int_eq(dfi_hsm_journal_key_generate(g_hsm, "journal-ec", DFI_SIG_ECDSA_P256), DFI_OK);
	ck_assert_int_eq(dfi_hsm_signer_new(g_hsm, "pkcs11:object=journal-ec;type=private", &ec), DFI_OK);
	ck_assert_int_eq(dfi_signer_alg(ec), DFI_SIG_ECDSA_P256);
	dfi_jpubkey *pk = jt_pubkey(ec);
	struct built j;
	built_open(&j, ec, jopts.station);
	ck_assert_int_eq(verify_bytes(j.b, j.n, pk, NULL, j.mid, j.ml), DFI_OK);
	j.b[j.n / 2] ^= 4;
	ck_assert_int_ne(verify_bytes(j.b, j.n, pk, NULL, NULL, 0), DFI_OK);
	dfi_jpubkey_free(pk);
	dfi_signer_free(ec);
	built_close(&j);
}
END_TEST

int
main(void)
{
	/* one token for the whole suite: run in this process */
	return dfi_test_main("journal_hsm",
	    &(struct dfi_test_case){ .setup = setup, .teardown = teardown, .once = 1,
		.timeout = 600, .in_process = 1 },
	    (const TTest *[]){ pristine_journal_verifies,
	    every_flipped_bit_is_detected, deleted_swapped_duplicated_lines_are_detected,
	    edited_or_foreign_checkpoints_are_detected,
	    a_journal_rebuilt_with_another_key_is_detected,
	    truncation_to_an_older_checkpoint_needs_last_seen, origin_mismatch_is_detected,
	    cli_init_verify_show_proof_checkpoint, ecdsa_p256_fallback_key, NULL });
}
