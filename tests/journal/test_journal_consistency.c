/* RFC 9162 §2.1.4 consistency proofs: the transparency-dev/merkle reference
 * vectors over the Certificate Transparency 8-leaf tree, and a brute-force
 * cross-check of both generators against a direct recursive transcription
 * of the RFC's SUBPROOF (written here, independent of merkle.c) for every
 * 1 <= m <= n <= 70, with every corruption the verifier must refuse. */
#include <openssl/sha.h>

#include "testutil.h"
#include "jtest.h"

/* ---- the reference: RFC 6962 §2.1 / RFC 9162 §2.1.4.1, recursively -------- */

static void
ref_node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
	uint8_t b[65];
	b[0] = 0x01;
	memcpy(b + 1, l, 32);
	memcpy(b + 33, r, 32);
	SHA256(b, sizeof(b), out);
}

static uint64_t
ref_k(uint64_t n) /* the largest power of two smaller than n */
{
	uint64_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
ref_mth(const uint8_t (*d)[32], uint64_t n, uint8_t out[32])
{
	if (n == 1) {
		memcpy(out, d[0], 32);
		return;
	}
	uint64_t k = ref_k(n);
	uint8_t l[32], r[32];
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	ref_node(l, r, out);
}

static void
ref_subproof(uint64_t m, const uint8_t (*d)[32], uint64_t n, int b, uint8_t (*out)[32], size_t *len)
{
	if (m == n) {
		if (!b)
			ref_mth(d, n, out[(*len)++]);
		return;
	}
	uint64_t k = ref_k(n);
	if (m <= k) {
		ref_subproof(m, d, k, b, out, len);
		ref_mth(d + k, n - k, out[(*len)++]);
	} else {
		ref_subproof(m - k, d + k, n - k, 0, out, len);
		ref_mth(d, k, out[(*len)++]);
	}
}

static void
root_of(const uint8_t (*lh)[32], uint64_t n, uint8_t out[32])
{
	dfi_merkle t;
	dfi_merkle_init(&t);
	for (uint64_t i = 0; i < n; i++)
		ck_assert_int_eq(dfi_merkle_push(&t, lh[i]), DFI_OK);
	dfi_merkle_root(&t, out);
}

/* Every way the transparency-dev verifier test corrupts a proof: each
 * must be refused. */
static void
assert_corruptions_refused(uint64_t m, uint64_t n, const uint8_t rm[32], const uint8_t rn[32],
    uint8_t (*p)[32], size_t len)
{
	typedef const uint8_t(*cp)[32];
	uint8_t q[DFI_MERKLE_CPROOF_MAX + 2][32], other[32];
	memset(other, 0xAB, 32);
	if (len == 0)
		return;
	ck_assert_int_ne(dfi_merkle_verify_consistency(m - 1, n, rm, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m + 1, n, rm, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m ^ 2, n, rm, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n * 2, rm, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n / 2, rm, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, other, rn, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, other, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rn, rm, (cp)p, len), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)p, 0), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)p, len - 1), DFI_OK);
	/* trailing and preceding extra hashes */
	memcpy(q, p, len * 32);
	memcpy(q[len], rm, 32);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)q, len + 1), DFI_OK);
	memcpy(q[len], rn, 32);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)q, len + 1), DFI_OK);
	memcpy(q[0], rm, 32);
	memcpy(q + 1, p, len * 32);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)q, len + 1), DFI_OK);
	memcpy(q[0], p[0], 32);
	ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)q, len + 1), DFI_OK);
	/* one flipped bit in any hash */
	for (size_t i = 0; i < len; i++) {
		memcpy(q, p, len * 32);
		q[i][i % 32] ^= 0x10;
		ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, rm, rn, (cp)q, len), DFI_OK);
	}
}

START_TEST(consistency_ct_reference_vectors)
{
	/* transparency-dev/merkle proof/verify_test.go, consistencyProofs */
	static const struct {
		uint64_t m, n;
		size_t len;
		const char *h[3];
	} v[] = {
		{ 1, 1, 0, { NULL } },
		{ 1, 8, 3,
		    { "96A296D224F285C67BEE93C30F8A309157F0DAA35DC5B87E410B78630A09CFC7",
			"5F083F0A1A33CA076A95279832580DB3E0EF4584BDFF1F54C8A360F50DE3031E",
			"6B47AAF29EE3C2AF9AF889BC1FB9254DABD31177F16232DD6AAB035CA39BF6E4" } },
		{ 6, 8, 3,
		    { "0EBC5D3437FBE2DB158B9F126A1D118E308181031D0A949F8DEDEDEBC558EF6A",
			"CA854EA128ED050B41B35FFC1B87B8EB2BDE461E9E3B5596ECE6B9D5975A0AE0",
			"D37EE418976DD95753C1C73862B9398FA2A2CF9B4FF0FDFE8B30CD95209614B7" } },
		{ 2, 5, 2,
		    { "5F083F0A1A33CA076A95279832580DB3E0EF4584BDFF1F54C8A360F50DE3031E",
			"BC1A0643B12E4D2D7C77918F44E0F4F79A838B6CF9EC5B5C283E1F4D88599E6B" } },
		{ 6, 7, 3,
		    { "0EBC5D3437FBE2DB158B9F126A1D118E308181031D0A949F8DEDEDEBC558EF6A",
			"B08693EC2E721597130641E8211E7EEDCCB4C26413963EEE6C1E2ED16FFB1A5F",
			"D37EE418976DD95753C1C73862B9398FA2A2CF9B4FF0FDFE8B30CD95209614B7" } },
	};
	uint8_t lh[8][32], proof[DFI_MERKLE_CPROOF_MAX][32], rm[32], rn[32];
	jt_ct_leaf_hashes(lh);
	for (size_t t = 0; t < sizeof(v) / sizeof(v[0]); t++) {
		size_t len = 99;
		ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, v[t].n, v[t].m, proof,
				     DFI_MERKLE_CPROOF_MAX, &len),
		    DFI_OK);
		ck_assert_uint_eq(len, v[t].len);
		for (size_t i = 0; i < len; i++)
			ck_assert_hex_eq(proof[i], 32, v[t].h[i]);
		root_of((const uint8_t(*)[32])lh, v[t].m, rm);
		root_of((const uint8_t(*)[32])lh, v[t].n, rn);
		ck_assert_int_eq(dfi_merkle_verify_consistency(v[t].m, v[t].n, rm, rn, (const uint8_t(*)[32])proof, len),
		    DFI_OK);
		assert_corruptions_refused(v[t].m, v[t].n, rm, rn, proof, len);
	}
	/* the verifier's edge cases (verify_test.go TestVerifyConsistency) */
	uint8_t a[32], b[32];
	memset(a, 1, 32);
	memset(b, 2, 32);
	ck_assert_int_ne(dfi_merkle_verify_consistency(1, 1, a, b, NULL, 0), DFI_OK);
	ck_assert_int_eq(dfi_merkle_verify_consistency(1, 1, b, b, NULL, 0), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(2, 1, a, b, NULL, 0), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(1, 2, a, b, NULL, 0), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(1, 1, a, a, (const uint8_t(*)[32])b, 1), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_consistency(0, 1, a, b, NULL, 0), DFI_OK);
	/* m = 0 has no proof (RFC 9162: 0 < m) */
	size_t len;
	ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, 8, 0, proof, DFI_MERKLE_CPROOF_MAX, &len),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, 7, 8, proof, DFI_MERKLE_CPROOF_MAX, &len),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, 8, 6, proof, 2, &len),
	    DFI_E_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(consistency_brute_force_against_reference)
{
	enum { N = 70 };
	uint8_t lh[N][32], roots[N + 1][32];
	for (int i = 0; i < N; i++) {
		uint8_t b[3] = { (uint8_t)i, (uint8_t)(i * 13), 0x5A };
		dfi_merkle_leaf_hash(b, 3, lh[i]);
	}
	for (uint64_t n = 1; n <= N; n++) {
		uint8_t r[32];
		root_of((const uint8_t(*)[32])lh, n, roots[n]);
		ref_mth((const uint8_t(*)[32])lh, n, r);
		ck_assert_mem_eq(r, roots[n], 32);
	}
	unsigned checked = 0;
	for (uint64_t n = 1; n <= N; n++) {
		for (uint64_t m = 1; m <= n; m++) {
			uint8_t want[DFI_MERKLE_CPROOF_MAX][32], got[DFI_MERKLE_CPROOF_MAX][32];
			size_t wl = 0, gl = 99, el = 99;
			ref_subproof(m, (const uint8_t(*)[32])lh, n, 1, want, &wl);
			ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, n, m, got,
					     DFI_MERKLE_CPROOF_MAX, &gl),
			    DFI_OK);
			ck_assert_uint_eq(gl, wl);
			ck_assert_mem_eq(got, want, wl * 32);
			/* the station's generator: the old edge and the new leaves only */
			dfi_merkle old;
			dfi_merkle_init(&old);
			for (uint64_t i = 0; i < m; i++)
				dfi_merkle_push(&old, lh[i]);
			ck_assert_int_eq(dfi_merkle_consistency_proof_edge(&old, (const uint8_t(*)[32])lh + m, n - m,
					     got, DFI_MERKLE_CPROOF_MAX, &el),
			    DFI_OK);
			ck_assert_uint_eq(el, wl);
			ck_assert_mem_eq(got, want, wl * 32);
			ck_assert_int_eq(dfi_merkle_verify_consistency(m, n, roots[m], roots[n],
					     (const uint8_t(*)[32])want, wl),
			    DFI_OK);
			if (m < n)
				assert_corruptions_refused(m, n, roots[m], roots[n], want, wl);
			checked++;
		}
	}
	ck_assert_uint_eq(checked, N * (N + 1) / 2);
}
END_TEST

START_TEST(consistency_refuses_a_fork)
{
	/* Two histories that agree on the first f leaves and then differ: no
	 * proof made from the second binds the first's root of any size > f. */
	enum { N = 40 };
	uint8_t a[N][32], b[N][32];
	for (int i = 0; i < N; i++) {
		uint8_t x[2] = { (uint8_t)i, 1 };
		dfi_merkle_leaf_hash(x, 2, a[i]);
		memcpy(b[i], a[i], 32);
	}
	for (uint64_t f = 0; f < 20; f += 3) {
		uint8_t x[2] = { (uint8_t)f, 2 };
		dfi_merkle_leaf_hash(x, 2, b[f]); /* b forks at leaf f */
		for (uint64_t m = f + 1; m <= 20; m++) {
			for (uint64_t n = m; n <= N; n += 7) {
				uint8_t ra[32], rb[32], p[DFI_MERKLE_CPROOF_MAX][32];
				size_t len;
				root_of((const uint8_t(*)[32])a, m, ra); /* what was witnessed */
				root_of((const uint8_t(*)[32])b, n, rb); /* the forked journal now */
				ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])b, n, m, p,
						     DFI_MERKLE_CPROOF_MAX, &len),
				    DFI_OK);
				ck_assert_int_ne(dfi_merkle_verify_consistency(m, n, ra, rb, (const uint8_t(*)[32])p, len),
				    DFI_OK);
			}
		}
		memcpy(b[f], a[f], 32);
	}
}
END_TEST

/* ---- whole journals: proofs from the file, the text form, the checks ------ */

static void
jfix_open(struct jt_journal *f, dfi_sigalg alg)
{
	ck_assert_int_eq(jt_journal_open(f, "witness.example/j", alg), 0);
}

static void
jfix_append(struct jt_journal *f, unsigned n, unsigned tag)
{
	ck_assert_int_eq(jt_journal_add(f, n, tag), 0);
}

static void
jfix_note(struct jt_journal *f, uint8_t *note, size_t *len)
{
	ck_assert_int_eq(dfi_journal_checkpoint(f->j, note, DFI_J_NOTE_MAX, len), DFI_OK);
}

START_TEST(consistency_of_a_journal_file)
{
	struct jt_journal f;
	jfix_open(&f, _i == 0 ? DFI_SIG_ED25519 : DFI_SIG_ECDSA_P256);
	jfix_append(&f, 9, 1); /* checkpoints at sizes 1 (genesis) .. 10 */
	uint8_t seen[DFI_J_NOTE_MAX];
	size_t seen_len;
	jfix_note(&f, seen, &seen_len); /* an auditor keeps size 10 */
	jfix_append(&f, 13, 2);
	struct dfi_jconsistency *c = malloc(sizeof(*c)), *back = malloc(sizeof(*back));
	char *text = malloc(DFI_JCONSISTENCY_TEXT_MAX), why[512];
	size_t tl;
	for (uint64_t from = 1; from <= 23; from++) {
		for (uint64_t to = from; to <= 23; to += 5) {
			ck_assert_int_eq(dfi_journal_consistency_file(f.path, from, to, c), DFI_OK);
			ck_assert_uint_eq(c->from, from);
			ck_assert_uint_eq(c->to, to);
			ck_assert_uint_gt(c->old_note_len, 0); /* every size has a checkpoint here */
			ck_assert_int_eq(dfi_jconsistency_format(c, text, DFI_JCONSISTENCY_TEXT_MAX, &tl), DFI_OK);
			ck_assert_int_eq(dfi_jconsistency_parse(text, tl, back), DFI_OK);
			ck_assert_mem_eq(back, c, sizeof(*c));
			ck_assert_int_eq(dfi_jconsistency_verify(back, f.pk, NULL, 0, why, sizeof(why)), DFI_OK);
			if (from == 10)
				ck_assert_int_eq(dfi_jconsistency_verify(back, f.pk, seen, seen_len, why, sizeof(why)), DFI_OK);
			else
				ck_assert_int_eq(dfi_jconsistency_verify(back, f.pk, seen, seen_len, why, sizeof(why)),
				    DFI_E_JOURNAL_ROLLBACK);
		}
	}
	/* to = 0: the last checkpoint */
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 10, 0, c), DFI_OK);
	ck_assert_uint_eq(c->to, 23);
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, seen, seen_len, why, sizeof(why)), DFI_OK);
	/* without the old checkpoint, the last-seen one must be given */
	c->old_note_len = 0;
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, NULL, 0, why, sizeof(why)), DFI_E_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "--last-seen"));
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, seen, seen_len, why, sizeof(why)), DFI_OK);
	/* a flipped proof hash, a root, a size */
	c->proof[0][3] ^= 4;
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, seen, seen_len, why, sizeof(why)), DFI_E_JOURNAL_ROLLBACK);
	c->proof[0][3] ^= 4;
	c->new_root[0] ^= 1;
	ck_assert_int_ne(dfi_jconsistency_verify(c, f.pk, seen, seen_len, why, sizeof(why)), DFI_OK);
	c->new_root[0] ^= 1;
	c->to++;
	ck_assert_int_ne(dfi_jconsistency_verify(c, f.pk, seen, seen_len, why, sizeof(why)), DFI_OK);
	c->to--;
	/* another key signed nothing here */
	dfi_signer *other = jt_signer_new(DFI_SIG_ED25519);
	dfi_jpubkey *opk = jt_pubkey(other);
	ck_assert_int_eq(dfi_jconsistency_verify(c, opk, seen, seen_len, why, sizeof(why)), DFI_E_JOURNAL_SIGNATURE);
	dfi_jpubkey_free(opk);
	dfi_signer_free(other);
	/* sizes that are no checkpoint, and impossible ranges */
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 5, 24, c), DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 0, 20, c), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 21, 20, c), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 24, 0, c), DFI_E_INVALID_ARG);
	free(c);
	free(back);
	free(text);
	jt_journal_close(&f);
}
END_TEST

START_TEST(consistency_finds_a_rolled_back_journal)
{
	/* The journal is copied at 10 records, grows to 20; the copy is put
	 * back (a restored backup) and appended to: its proof from the
	 * checkpoint witnessed at 20 cannot exist (it has 15 records), and
	 * the proof from 10 to its new head does not bind the witnessed 20. */
	struct jt_journal f;
	jfix_open(&f, DFI_SIG_ED25519);
	jfix_append(&f, 9, 1);
	size_t blen;
	uint8_t *backup = jt_read(f.path, &blen);
	jfix_append(&f, 10, 2);
	uint8_t witnessed[DFI_J_NOTE_MAX];
	size_t wl;
	jfix_note(&f, witnessed, &wl);
	dfi_journal_close(f.j);
	f.j = NULL;
	ck_assert_int_eq(jt_write(f.path, backup, blen), 0);
	ck_assert_int_eq(jt_journal_reopen(&f), 0);
	jfix_append(&f, 5, 3);
	struct dfi_jconsistency *c = malloc(sizeof(*c));
	char why[512];
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 20, 0, c), DFI_E_INVALID_ARG);
	jfix_append(&f, 7, 4); /* now 22 records, the first 10 shared */
	ck_assert_int_eq(dfi_journal_consistency_file(f.path, 20, 0, c), DFI_OK);
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, witnessed, wl, why, sizeof(why)), DFI_E_JOURNAL_ROLLBACK);
	ck_assert_ptr_nonnull(strstr(why, "rolled back"));
	/* its own old checkpoint of size 20 is genuine, but not the witnessed one */
	ck_assert_int_eq(dfi_jconsistency_verify(c, f.pk, NULL, 0, why, sizeof(why)), DFI_OK);
	free(c);
	free(backup);
	jt_journal_close(&f);
}
END_TEST

START_TEST(consistency_text_parser_refuses)
{
	struct dfi_jconsistency c;
	static const char *const bad[] = {
		"",
		"from 1\n",
		"from 0\nto 1\nold-root " "00" "\n",
		"to 1\nfrom 1\n",
		"from 2\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint AAAA\n",
		"from 01\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint AAAA\n",
		"from 1\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\n",
		"from 1\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint AAAA\nx\n",
		"from 1\nto 2\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\npath 00\nnew-checkpoint AAAA\n",
		"from 1\nto 2\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint A===\n",
		"from 1\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
		"new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint AAAA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dfi_jconsistency_parse(bad[i], strlen(bad[i]), &c) == DFI_E_PARSE, "case %zu", i);
	const char *good = "from 1\nto 1\nold-root 0000000000000000000000000000000000000000000000000000000000000000\n"
			   "new-root 0000000000000000000000000000000000000000000000000000000000000000\nnew-checkpoint AAAA\n";
	ck_assert_int_eq(dfi_jconsistency_parse(good, strlen(good), &c), DFI_OK);
	ck_assert_uint_eq(c.new_note_len, 3);
}
END_TEST

START_TEST(vkey_round_trip_and_key_id)
{
	/* the verifier key names the key ID the journal's genesis record and
	 * every checkpoint signature carry */
	struct jt_journal f;
	jfix_open(&f, _i == 0 ? DFI_SIG_ED25519 : DFI_SIG_ECDSA_P256);
	char vkey[DFI_VKEY_MAX], name[DFI_J_STR_MAX];
	ck_assert_int_eq(dfi_jpubkey_vkey(f.pk, "witness.example/j", vkey, sizeof(vkey)), DFI_OK);
	uint32_t id;
	ck_assert_int_eq(dfi_jpubkey_key_id(f.pk, "witness.example/j", &id), DFI_OK);
	char want[64];
	snprintf(want, sizeof(want), "witness.example/j+%08x+%s", id, _i == 0 ? "A" /* 0x01 */ : "A" /* 0x02 */);
	ck_assert_msg(strncmp(vkey, want, strlen(want)) == 0, "%s", vkey);
	/* genesis key_id */
	size_t n;
	uint8_t *j = jt_read(f.path, &n);
	char gen[32];
	snprintf(gen, sizeof(gen), "key_id=%08X", id);
	ck_assert_ptr_nonnull(strstr((char *)j, gen));
	free(j);
	/* the checkpoint's signature line starts with the same 4 bytes */
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	jfix_note(&f, note, &nl);
	const char *sig = strstr((const char *)note, "\xE2\x80\x94 witness.example/j ");
	ck_assert_ptr_nonnull(sig);
	sig += strlen("\xE2\x80\x94 witness.example/j ");
	uint8_t raw[200];
	size_t rl = 0;
	EVP_ENCODE_CTX *ec = EVP_ENCODE_CTX_new();
	int ol = 0, fl = 0;
	EVP_DecodeInit(ec);
	EVP_DecodeUpdate(ec, raw, &ol, (const unsigned char *)sig, (int)(strchr(sig, '\n') - sig));
	EVP_DecodeFinal(ec, raw + ol, &fl);
	EVP_ENCODE_CTX_free(ec);
	rl = (size_t)(ol + fl);
	ck_assert_uint_gt(rl, 4);
	ck_assert_uint_eq((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3], id);
	/* parse back: same key, and it verifies the journal's checkpoints */
	dfi_jpubkey *back = NULL;
	ck_assert_int_eq(dfi_jpubkey_from_vkey(vkey, strlen(vkey), &back, name, sizeof(name)), DFI_OK);
	ck_assert_str_eq(name, "witness.example/j");
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(note, nl, back, &cp), DFI_OK);
	struct dfi_jverify_opts vo = { .pubkey = back };
	ck_assert_int_eq(dfi_journal_verify_file(f.path, &vo, NULL), DFI_OK);
	dfi_jpubkey_free(back);
	/* a key ID that is not the key's, a bad type byte, junk */
	char bad[DFI_VKEY_MAX];
	snprintf(bad, sizeof(bad), "%s", vkey);
	char *h = strchr(bad, '+') + 1;
	h[0] = h[0] == '0' ? '1' : '0';
	ck_assert_int_eq(dfi_jpubkey_from_vkey(bad, strlen(bad), &back, name, sizeof(name)), DFI_E_PARSE);
	ck_assert_int_eq(dfi_jpubkey_from_vkey("x+1234", 6, &back, name, sizeof(name)), DFI_E_PARSE);
	ck_assert_int_eq(dfi_jpubkey_from_vkey("a b+12345678+AQ==", 17, &back, name, sizeof(name)), DFI_E_PARSE);
	ck_assert_int_ne(dfi_jpubkey_vkey(f.pk, "has+plus", vkey, sizeof(vkey)), DFI_OK);
	jt_journal_close(&f);
}
END_TEST

int
main(void)
{
	const struct dfi_test_loop loops[] = {
		{ consistency_of_a_journal_file, 2 },
		{ vkey_round_trip_and_key_id, 2 },
		{ NULL, 0 },
	};
	return dfi_test_main("journal_consistency", &(const struct dfi_test_case){ .loops = loops },
	    (const TTest *[]){ consistency_ct_reference_vectors,
	    consistency_brute_force_against_reference, consistency_refuses_a_fork,
	    consistency_finds_a_rolled_back_journal, consistency_text_parser_refuses, NULL });
}
