/* The journal's pure logic: RFC 6962 Merkle hashing against the Certificate
 * Transparency reference tree, record grammar, C2SP signed notes. */
#include <ctype.h>

#include <openssl/evp.h>

#include "testutil.h"
#include "jtest.h"
#include "journal/journal_int.h"

/* The 8-leaf reference tree of Certificate Transparency, used by
 * certificate-transparency-go and transparency-dev/merkle
 * (testonly/constants.go: LeafInputs, RootHashes, inclusion proofs):
 * leaf inputs, then the tree head for sizes 1..8. */
static const char *const ct_roots[9] = {
	"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"6E340B9CFFB37A989CA544E6BB780A2C78901D3FB33738768511A30617AFA01D",
	"FAC54203E7CC696CF0DFCB42C92A1D9DBAF70AD9E621F4BD8D98662F00E3C125",
	"AEB6BCFE274B70A14FB067A5E5578264DB0FA9B51AF5E0BA159158F329E06E77",
	"D37EE418976DD95753C1C73862B9398FA2A2CF9B4FF0FDFE8B30CD95209614B7",
	"4E3BBB1F7B478DCFE71FB631631519A3BCA12C9AEFCA1612BFCE4C13A86264D4",
	"76E67DADBCDF1E10E1B74DDC608ABD2F98DFB16FBCE75277B5232A127F2087EF",
	"DDB89BE403809E325750D3D263CD78929C2942B7942A34B77E122C9594A74C8C",
	"5DC9DA79A70659A9AD559CB701DED9A2AB9D823AAD2F4960CFE370EFF4604328",
};

START_TEST(merkle_ct_reference_roots)
{
	uint8_t lh[8][DFI_HASH_LEN], root[DFI_HASH_LEN];
	jt_ct_leaf_hashes(lh);
	dfi_merkle m;
	dfi_merkle_init(&m);
	dfi_merkle_root(&m, root);
	ck_assert_hex_eq(root, 32, ct_roots[0]);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(dfi_merkle_push(&m, lh[i]), DFI_OK);
		dfi_merkle_root(&m, root);
		ck_assert_hex_eq(root, 32, ct_roots[i + 1]);
	}
}
END_TEST

START_TEST(merkle_ct_reference_inclusion_proofs)
{
	/* transparency-dev/merkle testonly: inclusion proofs of leaf 0 and
	 * leaf 5 in the tree of 8. */
	static const char *const p0[] = {
		"96A296D224F285C67BEE93C30F8A309157F0DAA35DC5B87E410B78630A09CFC7",
		"5F083F0A1A33CA076A95279832580DB3E0EF4584BDFF1F54C8A360F50DE3031E",
		"6B47AAF29EE3C2AF9AF889BC1FB9254DABD31177F16232DD6AAB035CA39BF6E4",
	};
	static const char *const p5[] = {
		"BC1A0643B12E4D2D7C77918F44E0F4F79A838B6CF9EC5B5C283E1F4D88599E6B",
		"CA854EA128ED050B41B35FFC1B87B8EB2BDE461E9E3B5596ECE6B9D5975A0AE0",
		"D37EE418976DD95753C1C73862B9398FA2A2CF9B4FF0FDFE8B30CD95209614B7",
	};
	uint8_t lh[8][DFI_HASH_LEN], proof[64][DFI_HASH_LEN], root[32];
	size_t n;
	jt_ct_leaf_hashes(lh);
	HEX(root, ct_roots[8]);
	ck_assert_int_eq(dfi_merkle_inclusion_proof((const uint8_t(*)[32])lh, 8, 0, proof, 64, &n), DFI_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_hex_eq(proof[i], 32, p0[i]);
	ck_assert_int_eq(dfi_merkle_verify_inclusion(0, 8, lh[0], (const uint8_t(*)[32])proof, n, root), DFI_OK);
	ck_assert_int_eq(dfi_merkle_inclusion_proof((const uint8_t(*)[32])lh, 8, 5, proof, 64, &n), DFI_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_hex_eq(proof[i], 32, p5[i]);
	ck_assert_int_eq(dfi_merkle_verify_inclusion(5, 8, lh[5], (const uint8_t(*)[32])proof, n, root), DFI_OK);
	/* the wrong leaf, index or size fails */
	ck_assert_int_ne(dfi_merkle_verify_inclusion(5, 8, lh[4], (const uint8_t(*)[32])proof, n, root), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_inclusion(4, 8, lh[5], (const uint8_t(*)[32])proof, n, root), DFI_OK);
	ck_assert_int_ne(dfi_merkle_verify_inclusion(5, 5, lh[5], (const uint8_t(*)[32])proof, n, root), DFI_OK);
}
END_TEST

START_TEST(merkle_every_proof_of_every_size)
{
	enum { N = 70 };
	uint8_t lh[N][DFI_HASH_LEN], proof[64][DFI_HASH_LEN], root[32];
	for (int i = 0; i < N; i++) {
		uint8_t b[2] = { (uint8_t)i, (uint8_t)(i * 7) };
		dfi_merkle_leaf_hash(b, 2, lh[i]);
	}
	for (uint64_t size = 1; size <= N; size++) {
		dfi_merkle m;
		dfi_merkle_init(&m);
		for (uint64_t i = 0; i < size; i++)
			dfi_merkle_push(&m, lh[i]);
		dfi_merkle_root(&m, root);
		for (uint64_t i = 0; i < size; i++) {
			size_t n;
			ck_assert_int_eq(dfi_merkle_inclusion_proof((const uint8_t(*)[32])lh, size, i, proof, 64, &n), DFI_OK);
			ck_assert_int_eq(dfi_merkle_verify_inclusion(i, size, lh[i], (const uint8_t(*)[32])proof, n, root), DFI_OK);
			if (n > 0) {
				proof[n - 1][0] ^= 1;
				ck_assert_int_ne(dfi_merkle_verify_inclusion(i, size, lh[i], (const uint8_t(*)[32])proof, n, root), DFI_OK);
			}
		}
	}
}
END_TEST

START_TEST(record_roundtrip_all_types)
{
	dfi_jrec r[6], back;
	memset(r, 0, sizeof(r));
	r[0].type = DFI_JREC_GENESIS;
	strcpy(r[0].origin, "dfissue.example/journal/test");
	r[0].alg = DFI_SIG_ED25519;
	r[0].key_id = 0xC74F20A3;
	r[1] = jt_intent("04782E21801D80", 0xF54230, 1, 0, 1); /* sent 30 42 F5 */
	r[2].type = DFI_JREC_COMMIT;
	r[2].intent = 1;
	r[3].type = DFI_JREC_ABORT;
	r[3].intent = 1;
	strcpy(r[3].reason, "card said PERMISSION_DENIED (0x9D) 100%");
	r[4].type = DFI_JREC_RESOLVE;
	r[4].intent = 1;
	r[4].observed_version = -1;
	r[4].matched = DFI_JMATCH_NONE;
	r[5].type = DFI_JREC_RECOVERY;
	r[5].q_lines = 3;
	r[5].q_bytes = 411;
	r[5].q_intents = 1;
	memset(r[5].q_sha256, 0xAB, 32);
	strcpy(r[5].q_file, "tail-1-2-0.log");
	for (int i = 0; i < 6; i++) {
		char line[DFI_J_LINE_MAX + 1];
		size_t n;
		r[i].seq = (uint64_t)i;
		r[i].time = 1764059400 + i;
		strcpy(r[i].station, "station 1/reader\xC3\xA9");
		if (r[i].type == DFI_JREC_INTENT || r[i].type == DFI_JREC_GENESIS)
			r[i].observed_version = 0;
		ck_assert_int_eq(dfi_jrec_format(&r[i], line, sizeof(line), &n), DFI_OK);
		ck_assert_uint_eq(strlen(line), n);
		for (size_t k = 0; k < n; k++)
			ck_assert(line[k] >= 0x20 && line[k] < 0x7F);
		ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
		ck_assert_int_eq(back.type, r[i].type);
		ck_assert_uint_eq(back.seq, r[i].seq);
		ck_assert_str_eq(back.station, r[i].station);
	}
	char line[DFI_J_LINE_MAX + 1];
	size_t n;
	ck_assert_int_eq(dfi_jrec_format(&r[1], line, sizeof(line), &n), DFI_OK);
	ck_assert_str_eq(line,
	    "seq=1 time=2025-11-25T08:30:01Z type=intent uid=04782E21801D80 aid=3042F5 keyno=1 "
	    "old_version=0 new_version=1 key_label=app-key-1 key_objid=42 key_gen=1 "
	    "div_input=04782E21801D80 station=station%201/reader%C3%A9");
	ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
	ck_assert_int_eq(memcmp(back.key.uid, r[1].key.uid, 7), 0);
	ck_assert_uint_eq(back.key.aid, 0xF54230); /* format 2: command order */
	ck_assert_uint_eq(back.new_version, 1);
	ck_assert_uint_eq(back.div_input_len, 7);
	/* a new genesis is format 3; formats 1 and 2 still parse and say so */
	ck_assert_int_eq(dfi_jrec_format(&r[0], line, sizeof(line), &n), DFI_OK);
	ck_assert_ptr_nonnull(strstr(line, " type=genesis format=3 "));
	r[0].format = 2;
	ck_assert_int_eq(dfi_jrec_format(&r[0], line, sizeof(line), &n), DFI_OK);
	ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
	ck_assert_uint_eq(back.format, 2);
	r[0].format = 1;
	ck_assert_int_eq(dfi_jrec_format(&r[0], line, sizeof(line), &n), DFI_OK);
	ck_assert_ptr_nonnull(strstr(line, " type=genesis format=1 "));
	ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
	ck_assert_uint_eq(back.format, 1);
	r[0].format = 4;
	ck_assert_int_eq(dfi_jrec_format(&r[0], line, sizeof(line), &n), DFI_E_INVALID_ARG);
}
END_TEST

/* Records of one intent's key as a journal reader hands them out. */
struct aids {
	uint32_t v[8];
	size_t n;
};

static void
collect_aid(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct aids *a = ctx;
	if (r->type == DFI_JREC_INTENT && a->n < 8)
		a->v[a->n++] = r->key.aid;
}

static void
verify_aids(const uint8_t *buf, size_t len, const dfi_jpubkey *pub, struct aids *a)
{
	struct dfi_jverify_opts o = { .pubkey = pub, .record = collect_aid, .ctx = a };
	struct dfi_jverify_result res;
	memset(a, 0, sizeof(*a));
	ck_assert_int_eq(dfi_journal_verify_buf(buf, len, &o, &res), DFI_OK);
	ck_assert_uint_eq(res.findings, 0);
}

/* DIR's journal.log, which verifies (its AIDs into *a); the caller frees it. */
static char *
read_verified(const char *dir, const dfi_jpubkey *pub, struct aids *a, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/" DFI_JOURNAL_FILE, dir);
	uint8_t *b = jt_read(path, len);
	ck_assert_ptr_nonnull(b);
	verify_aids(b, *len, pub, a);
	return (char *)b;
}

static int64_t
fixed_clock(void *ctx)
{
	(void)ctx;
	return 1764924600;
}

/* Issue 18: AIDs in command order. tests/data/journal-format1/ was written
 * by the format-1 writer (RFC 8032 test key): it records the AIDs the
 * profile writes F54010 and F54020 as aid=1040F5 and aid=2040F5. It still
 * verifies, reads as the same AIDs a format-2 journal holds, and appending
 * to it keeps its format; a new journal writes format 2, command order. */
START_TEST(aid_order_format1_kept_format2_new)
{
	dfi_signer *s = jt_signer_rfc8032();
	dfi_jpubkey *pub = jt_pubkey(s);
	ck_assert_ptr_nonnull(pub);
	const char *data = getenv("DFI_TEST_DATA");
	ck_assert_ptr_nonnull(data);
	char path[512];
	snprintf(path, sizeof(path), "%s/journal-format1/journal.log", data);
	size_t len;
	uint8_t *kept = jt_read(path, &len);
	ck_assert_ptr_nonnull(kept);
	ck_assert_ptr_nonnull(strstr((char *)kept, " format=1 "));
	ck_assert_ptr_nonnull(strstr((char *)kept, " aid=1040F5 keyno=1 "));
	struct aids a;
	verify_aids(kept, len, pub, &a);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_uint_eq(a.v[0], 0);
	ck_assert_uint_eq(a.v[1], 0x1040F5); /* F54010 */
	ck_assert_uint_eq(a.v[2], 0x2040F5); /* F54020 */

	/* appended to, it stays format 1 throughout */
	char *dir = jt_tmpdir();
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/" DFI_JOURNAL_FILE, dir);
	ck_assert_int_eq(jt_write(path, kept, len), 0);
	struct dfi_journal_opts jo = { .station = "t", .now = fixed_clock };
	dfi_journal *j = NULL;
	ck_assert_int_eq(dfi_journal_open(&j, dir, s, &jo, NULL), DFI_OK);
	dfi_jrec in = jt_intent("04782E21801D80", 0x1040F5, 2, 0, 1);
	dfi_jkey k1 = in.key;
	k1.keyno = 1;
	uint8_t v = 0;
	ck_assert_int_eq(dfi_journal_key_version(j, &k1, &v), DFI_OK);
	ck_assert_uint_eq(v, 1); /* the kept commit of F54010 key 1, found by the new order */
	uint64_t seq;
	ck_assert_int_eq(dfi_journal_intent(j, &in, &seq), DFI_OK);
	ck_assert_int_eq(dfi_journal_commit(j, seq), DFI_OK);
	/* and takes no change record (issue 20): format 1 has none */
	dfi_jrec ch;
	ck_assert_int_eq(dfi_jrec_change(&ch, in.key.uid, in.key.uid_len, 0, "lrp", NULL, 0), DFI_OK);
	uint64_t size = dfi_journal_size(j);
	ck_assert_int_eq(dfi_journal_append(j, &ch, 1, NULL), DFI_E_UNSUPPORTED);
	ck_assert_uint_eq(dfi_journal_size(j), size);
	dfi_journal_close(j);
	size_t len2;
	char *grown = read_verified(dir, pub, &a, &len2);
	ck_assert_ptr_nonnull(strstr(grown + len, " aid=1040F5 keyno=2 "));
	ck_assert_uint_eq(a.n, 4);
	ck_assert_uint_eq(a.v[3], 0x1040F5);
	free(grown);
	jt_rmrf(dir);
	free(dir);

	/* a new journal: format 3, the AID as the profile writes it */
	dir = jt_tmpdir();
	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(dfi_journal_create(dir, "dfissue.example/format-2", s, &jo), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j, dir, s, &jo, NULL), DFI_OK);
	ck_assert_int_eq(dfi_journal_intent(j, &in, &seq), DFI_OK);
	dfi_journal_close(j);
	grown = read_verified(dir, pub, &a, &len2);
	ck_assert_ptr_nonnull(strstr(grown, " type=genesis format=3 "));
	ck_assert_ptr_nonnull(strstr(grown, " aid=F54010 keyno=2 "));
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(a.v[0], 0x1040F5);
	free(grown);
	jt_rmrf(dir);
	free(dir);
	free(kept);
	dfi_jpubkey_free(pub);
	dfi_signer_free(s);
}
END_TEST

START_TEST(record_rejects_non_canonical)
{
	static const char *const bad[] = {
		/* lower-case hex, leading zero, extra space, field order, unknown type */
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=s ",
		"seq=01 time=2025-11-25T08:30:01Z type=commit intent=1 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1  station=s",
		"seq=1 type=commit time=2025-11-25T08:30:01Z intent=1 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=commitx intent=1 station=s",
		"seq=1 time=2025-02-30T08:30:01Z type=commit intent=1 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=%73",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=a%2",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=a%00",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=18446744073709551616 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=abort intent=1 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=intent uid=04782e21801d80 aid=3042F5 keyno=1 "
		"old_version=0 new_version=1 key_label=k key_objid=- key_gen=1 div_input=- station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=resolve intent=1 observed_version=256 matched=new station=s",
		/* each field spelled only one way (the parser proves it as it
		 * reads, without formatting the record again) */
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=01 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=00 station=s",
		"seq=1 time=2025-02-29T08:30:01Z type=commit intent=1 station=s",
		"seq=1 time=2100-02-29T08:30:01Z type=commit intent=1 station=s",
		"seq=1 time=2025-04-31T08:30:01Z type=commit intent=1 station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=a%7E",
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=a%c3",
		"seq=1 time=2025-11-25T08:30:01Z type=resolve intent=1 observed_version=07 matched=new station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=intent uid=04782E21801D80 aid=3042F5 keyno=1 "
		"old_version=0 new_version=1 key_label=k key_objid=- key_gen=1 div_input=- old_key_gen=01 station=s",
		/* formats other than 1 and 2 */
		"seq=0 time=2025-11-25T08:30:01Z type=genesis format=0 origin=o alg=ed25519 key_id=8A1512F8 station=s",
		"seq=0 time=2025-11-25T08:30:01Z type=genesis format=4 origin=o alg=ed25519 key_id=8A1512F8 station=s",
		"",
	};
	dfi_jrec r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dfi_jrec_parse(bad[i], strlen(bad[i]), &r) == DFI_E_JOURNAL_FORMAT, "accepted: %s", bad[i]);
	static const char *const good[] = {
		"seq=1 time=2025-11-25T08:30:01Z type=commit intent=1 station=s",
		"seq=0 time=2024-02-29T08:30:01Z type=commit intent=0 station=a%25%7F%C3",
		"seq=1 time=2000-02-29T23:59:59Z type=commit intent=10 station=s",
	};
	char back[DFI_J_LINE_MAX + 1];
	size_t n;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(dfi_jrec_parse(good[i], strlen(good[i]), &r) == DFI_OK, "refused: %s", good[i]);
		ck_assert_int_eq(dfi_jrec_format(&r, back, sizeof(back), &n), DFI_OK);
		ck_assert_str_eq(back, good[i]);
	}
	/* no key bytes or cryptograms can be expressed: only the fields above */
}
END_TEST

START_TEST(outcome_records)
{
	dfi_jrec r;
	char line[DFI_J_LINE_MAX + 1], reason[sizeof(r.reason) + 1];
	size_t ll;
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_ABORT, 7, "not sent: superseded", -1, 0), DFI_OK);
	ck_assert_int_eq(r.type, DFI_JREC_ABORT);
	ck_assert_uint_eq(r.intent, 7);
	ck_assert_str_eq(r.reason, "not sent: superseded");
	r.time = 1;
	snprintf(r.station, sizeof(r.station), "s");
	ck_assert_int_eq(dfi_jrec_format(&r, line, sizeof(line), &ll), DFI_OK);
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_RESOLVE, 9, NULL, 2, DFI_JMATCH_NEW), DFI_OK);
	ck_assert_int_eq(r.observed_version, 2);
	ck_assert_int_eq(r.matched, DFI_JMATCH_NEW);
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_COMMIT, 3, NULL, -1, 0), DFI_OK);
	ck_assert_str_eq(r.reason, "");
	/* refused: an abort without a reason, a reason that does not fit, not an outcome */
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_ABORT, 7, NULL, -1, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_ABORT, 7, "", -1, 0), DFI_E_INVALID_ARG);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_ABORT, 7, reason, -1, 0), DFI_E_INVALID_ARG);
	reason[sizeof(r.reason) - 1] = '\0';
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_ABORT, 7, reason, -1, 0), DFI_OK);
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_INTENT, 7, NULL, -1, 0), DFI_E_INVALID_ARG);
}
END_TEST

START_TEST(note_go_sumdb_reference_vector)
{
	/* golang.org/x/mod/sumdb/note, note_test.go / package doc example:
	 * signer key PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
	 * (base64 of 0x01 || seed), and the note's signature line
	 * "— PeterNeumann x08go/ZJ...JnAM=" (base64 of key ID || signature). */
	uint8_t seed[32], want[68];
	HEX(seed, "810A1402D5146C8D84F2443330F54080EBF98EE17D9C74F6252FC5D5C7283173");
	HEX(want, "C74F20A3F64992E052F541BF49F7DCBC8010C5506D885BA92CBAFCA40704959227348B86"
		  "52060DD451580B6A5948D5E02AFA9FA9D9E0A2DA5165BE8A13A472C81C099C03");
	dfi_signer *s = jt_signer_ed25519_seed(seed);
	ck_assert_ptr_nonnull(s);
	dfi_jpubkey *pk = jt_pubkey(s);
	uint32_t id;
	ck_assert_int_eq(dfi_jpubkey_key_id(pk, "PeterNeumann", &id), DFI_OK);
	ck_assert_uint_eq(id, 0xC74F20A3);
	const char *text = "If you think cryptography is the answer to your problem,\n"
			   "then you don't know what your problem is.\n";
	uint8_t sig[64];
	size_t sl;
	ck_assert_int_eq(dfi_signer_sign(s, (const uint8_t *)text, strlen(text), sig, &sl), DFI_OK);
	ck_assert_uint_eq(sl, 64);
	ck_assert_int_eq(memcmp(sig, want + 4, 64), 0);
	dfi_jpubkey_free(pk);
	dfi_signer_free(s);
}
END_TEST

static void
note_roundtrip(dfi_sigalg alg)
{
	dfi_signer *s = jt_signer_new(alg), *other = jt_signer_new(alg);
	dfi_jpubkey *pk = jt_pubkey(s), *opk = jt_pubkey(other);
	dfi_checkpoint cp, back;
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "dfissue.example/j1");
	cp.size = 12345;
	memset(cp.root, 0x5A, 32);
	uint8_t note[DFI_J_NOTE_MAX];
	size_t n;
	ck_assert_int_eq(dfi_note_sign(&cp, s, note, sizeof(note), &n), DFI_OK);
	ck_assert_int_eq(memcmp(note, "dfissue.example/j1\n12345\nWlpa", 29), 0);
	ck_assert_ptr_nonnull(memmem(note, n, "\n\n\xE2\x80\x94 dfissue.example/j1 ", 24));
	ck_assert_int_eq(dfi_note_open(note, n, pk, &back), DFI_OK);
	ck_assert_str_eq(back.origin, cp.origin);
	ck_assert_uint_eq(back.size, 12345);
	ck_assert_int_eq(memcmp(back.root, cp.root, 32), 0);
	/* another key: its signature is "unknown" (different key ID), so none verifies */
	ck_assert_int_eq(dfi_note_open(note, n, opk, &back), DFI_E_JOURNAL_SIGNATURE);
	/* a changed size */
	note[19] = '3';
	ck_assert_int_eq(dfi_note_open(note, n, pk, &back), DFI_E_JOURNAL_SIGNATURE);
	ck_assert_int_eq(dfi_note_open(note, n, NULL, &back), DFI_OK);
	note[19] = '2';
	/* truncated signature line */
	ck_assert_int_ne(dfi_note_open(note, n - 5, pk, &back), DFI_OK);
	dfi_jpubkey_free(pk);
	dfi_jpubkey_free(opk);
	dfi_signer_free(s);
	dfi_signer_free(other);
}

/* dfi_note_from_line: what a journal reader outside the library (the
 * HTML page) takes a checkpoint line's note from. */
START_TEST(note_from_checkpoint_line)
{
	dfi_signer *s = jt_signer_new(DFI_SIG_ED25519);
	dfi_checkpoint cp;
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "dfissue.example/j1");
	cp.size = 7;
	uint8_t note[DFI_J_NOTE_MAX], back[DFI_J_NOTE_MAX];
	size_t n, bn;
	ck_assert_int_eq(dfi_note_sign(&cp, s, note, sizeof(note), &n), DFI_OK);
	char line[DFI_J_LINE_MAX + 1] = "checkpoint ";
	int bl = EVP_EncodeBlock((unsigned char *)line + 11, note, (int)n);
	size_t ll = 11 + (size_t)bl;
	ck_assert_int_eq(dfi_note_from_line(line, ll, back, sizeof(back), &bn), DFI_OK);
	ck_assert_uint_eq(bn, n);
	ck_assert_mem_eq(back, note, n);
	/* too small a buffer, a broken or cut encoding: a malformed checkpoint */
	ck_assert_int_eq(dfi_note_from_line(line, ll, back, n - 1, &bn), DFI_E_JOURNAL_FORMAT);
	ck_assert_int_eq(dfi_note_from_line(line, ll - 1, back, sizeof(back), &bn), DFI_E_JOURNAL_FORMAT);
	line[20] = '*';
	ck_assert_int_eq(dfi_note_from_line(line, ll, back, sizeof(back), &bn), DFI_E_JOURNAL_FORMAT);
	/* a record, the prefix without its space, nothing: no checkpoint line */
	const char *rec = "seq=1 time=2026-12-05T15:36:14Z type=genesis";
	ck_assert_int_eq(dfi_note_from_line(rec, strlen(rec), back, sizeof(back), &bn), DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_note_from_line("checkpoint", 10, back, sizeof(back), &bn), DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_note_from_line(NULL, 0, back, sizeof(back), &bn), DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_note_from_line(line, ll, NULL, sizeof(back), &bn), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_note_from_line(line, ll, back, sizeof(back), NULL), DFI_E_INVALID_ARG);
	dfi_signer_free(s);
}
END_TEST

START_TEST(note_ed25519_roundtrip) { note_roundtrip(DFI_SIG_ED25519); }
END_TEST
START_TEST(note_ecdsa_p256_roundtrip) { note_roundtrip(DFI_SIG_ECDSA_P256); }
END_TEST

/* The intent's optional profile digest (profile=, 16 bytes after
 * old_key_gen): canonical upper-case hex of exactly 16 bytes; a journal
 * without it parses with has_profile 0 and formats back unchanged. */
#define PINTENT "seq=7 time=2026-12-05T15:36:14Z type=intent uid=04A07A00000001 aid=F54010 " \
	"keyno=1 old_version=0 new_version=1 key_label=app-key key_objid=- key_gen=1 " \
	"div_input=04A07A00000001"

START_TEST(intent_profile_digest)
{
#define DG "00112233445566778899AABBCCDDEEFF"
	static const struct {
		const char *line;
		int profile, old_gen; /* -1: rejected */
	} cases[] = {
		{ PINTENT " old_key_gen=1 profile=" DG " station=s", 1, 1 },
		{ PINTENT " profile=" DG " station=s", 1, 0 },
		{ PINTENT " station=s", 0, 0 },  /* written before the field */
		{ PINTENT " profile=00112233445566778899aabbccddeeff station=s", -1, 0 },
		{ PINTENT " profile=00112233445566778899AABBCCDDEE station=s", -1, 0 },
		{ PINTENT " profile=" DG "00 station=s", -1, 0 },
		{ PINTENT " profile=- station=s", -1, 0 },
		{ PINTENT " profile=" DG " old_key_gen=1 station=s", -1, 0 },
		{ PINTENT " station=s profile=" DG, -1, 0 },
	};
#undef DG
	char out[DFI_J_LINE_MAX + 1];
	dfi_jrec r;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *l = cases[i].line;
		dfi_err e = dfi_jrec_parse(l, strlen(l), &r);
		if (cases[i].profile < 0) {
			ck_assert_msg(e == DFI_E_JOURNAL_FORMAT, "accepted: %s", l);
			continue;
		}
		ck_assert_msg(e == DFI_OK, "rejected: %s", l);
		ck_assert_int_eq(r.has_profile, cases[i].profile);
		ck_assert_int_eq(r.has_old_gen, cases[i].old_gen);
		ck_assert(!r.has_profile || (r.profile[0] == 0x00 && r.profile[15] == 0xFF));
		ck_assert_int_eq(dfi_jrec_format(&r, out, sizeof(out), &n), DFI_OK);
		ck_assert_str_eq(out, l);
	}
}
END_TEST

/* The reference of base64's one spelling: s is accepted iff it is
 * EVP_EncodeBlock's output for the bytes it decodes to (what
 * dfi_b64_decode did before it checked only the last quantum). */
static int
b64_canonical(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '=' ? i < len - 2 || (i == len - 2 && s[len - 1] != '=') :
				  !(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/'))
			return 0;
	static unsigned char dec[4096], enc[8192];
	int r = EVP_DecodeBlock(dec, (const unsigned char *)s, (int)len);
	if (r < 0)
		return 0;
	size_t n = (size_t)r - (s[len - 1] == '=') - (s[len - 2] == '=');
	return EVP_EncodeBlock(enc, dec, (int)n) == (int)len && memcmp(enc, s, len) == 0;
}

START_TEST(base64_one_spelling)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	static uint8_t in[3000], out[3000];
	static char txt[4100];
	/* Every remainder mod 3, and lengths on both sides of the decoder's
	 * stack buffer (2,048 bytes: 2,046 decode on the stack, 2,047 on the
	 * heap). */
	static const size_t lens[] = { 1, 2, 3, 4, 5, 6, 7, 2045, 2046, 2047, 2048, 2049, 2999 };
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li];
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i * 131u + len);
		size_t tl = dfi_b64_encode(in, len, txt, sizeof(txt)), n = 0;
		ck_assert_uint_gt(tl, 0);
		ck_assert_int_eq(dfi_b64_decode(txt, tl, out, sizeof(out), &n), DFI_OK);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(out, in, len);
		/* Every spelling of the last two characters: accepted exactly
		 * when it is the canonical encoding of what it decodes to. */
		char keep[2] = { txt[tl - 2], txt[tl - 1] };
		for (size_t a = 0; a < sizeof(alpha) - 1; a++)
			for (size_t b = 0; b < sizeof(alpha) - 1; b++) {
				txt[tl - 2] = alpha[a];
				txt[tl - 1] = alpha[b];
				int want = b64_canonical(txt, tl);
				dfi_err e = dfi_b64_decode(txt, tl, out, sizeof(out), &n);
				ck_assert_msg((e == DFI_OK) == want, "len %zu, tail %c%c: %d, want %d", len,
				    alpha[a], alpha[b], e, want);
			}
		txt[tl - 2] = keep[0];
		txt[tl - 1] = keep[1];
	}
}
END_TEST

int
main(void)
{
	return dfi_test_main("journal_format", NULL,
	    (const TTest *[]){ merkle_ct_reference_roots,
	    merkle_ct_reference_inclusion_proofs, merkle_every_proof_of_every_size,
	    record_roundtrip_all_types, record_rejects_non_canonical, outcome_records,
	    aid_order_format1_kept_format2_new, intent_profile_digest,
	    note_go_sumdb_reference_vector, note_from_checkpoint_line, note_ed25519_roundtrip,
	    note_ecdsa_p256_roundtrip,
	    base64_one_spelling, NULL });
}
