/* Helpers for the journal tests: a real signer over an OpenSSL in-memory key
 * (for the pure-logic tests; the tamper tests use the SoftHSM2 key), temp
 * directories, and file helpers. */
#ifndef DFI_JTEST_H
#define DFI_JTEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/ec.h>

#include "dfissue/journal.h"
#include "dfissue/util.h"

struct jt_key {
	EVP_PKEY *pk;
	dfi_sigalg alg;
};

static dfi_err
jt_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	struct jt_key *k = ctx;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t der[128];
	size_t n = sizeof(der);
	int ok = c != NULL &&
	    EVP_DigestSignInit(c, NULL, k->alg == DFI_SIG_ED25519 ? NULL : EVP_sha256(), NULL, k->pk) == 1 &&
	    EVP_DigestSign(c, der, &n, msg, len) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return DFI_E_CRYPTO;
	if (k->alg == DFI_SIG_ED25519) {
		memcpy(sig, der, n);
		*siglen = n;
		return DFI_OK;
	}
	/* the signer contract: raw r || s */
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	if (es == NULL)
		return DFI_E_CRYPTO;
	BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
	ECDSA_SIG_free(es);
	*siglen = 64;
	return DFI_OK;
}

static dfi_err
jt_pub(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	struct jt_key *k = ctx;
	int n = i2d_PUBKEY(k->pk, NULL);
	if (n <= 0 || (size_t)n > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	unsigned char *p = der;
	i2d_PUBKEY(k->pk, &p);
	*len = (size_t)n;
	return DFI_OK;
}

static void
jt_destroy(void *ctx)
{
	struct jt_key *k = ctx;
	EVP_PKEY_free(k->pk);
	free(k);
}

static const struct dfi_signer_ops jt_ops = { jt_sign, jt_pub, jt_destroy };

static inline dfi_signer *
jt_signer_from_pkey(EVP_PKEY *pk, dfi_sigalg alg)
{
	struct jt_key *k = calloc(1, sizeof(*k));
	dfi_signer *s = NULL;
	k->pk = pk;
	k->alg = alg;
	if (dfi_signer_new(&s, alg, &jt_ops, k) != DFI_OK)
		return NULL;
	return s;
}

static inline dfi_signer *
jt_signer_new(dfi_sigalg alg)
{
	EVP_PKEY *pk = alg == DFI_SIG_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return pk ? jt_signer_from_pkey(pk, alg) : NULL;
}

static inline dfi_signer *
jt_signer_ed25519_seed(const uint8_t seed[32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	return pk ? jt_signer_from_pkey(pk, DFI_SIG_ED25519) : NULL;
}

/* The RFC 8032 section 7.1 TEST 1 key: the signer of the journals kept in
 * tests/data (journal-format1) and of the fuzz seeds. */
static inline dfi_signer *
jt_signer_rfc8032(void)
{
	static const uint8_t seed[32] = {
		0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
		0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
	};
	return jt_signer_ed25519_seed(seed);
}

/* The signer's public key as PEM, written to path. */
static inline int
jt_write_pubkey_pem(dfi_signer *s, const char *path)
{
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t n = 0;
	if (dfi_signer_public_key_der(s, der, sizeof(der), &n) != DFI_OK)
		return -1;
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)n);
	FILE *f = fopen(path, "w");
	int ok = pk != NULL && f != NULL && PEM_write_PUBKEY(f, pk) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

static inline dfi_jpubkey *
jt_pubkey(dfi_signer *s)
{
	dfi_jpubkey *k = NULL;
	return dfi_jpubkey_from_signer(s, &k) == DFI_OK ? k : NULL;
}

static inline char *
jt_tmpdir(void)
{
	char t[] = "/tmp/dfi-journal-XXXXXX";
	char *d = mkdtemp(t);
	return d ? strdup(d) : NULL;
}

static int
jt_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline void
jt_rmrf(const char *d)
{
	if (d != NULL)
		nftw(d, jt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole file; *len receives its size. */
static inline uint8_t *
jt_read(const char *path, size_t *len)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b != NULL) {
		b[n] = 0;
		*len = (size_t)n;
	}
	return b;
}

static inline int
jt_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	int ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* buf (n bytes) with the checkpoint whose base64 note starts at s (after
 * "checkpoint ") and ends with its line signed again by signer over the
 * very same text: a genuine signature by the wrong key. Returns the new
 * file bytes (malloc'd; their length in *len), NULL when the note does
 * not open with pub. */
static inline uint8_t *
jt_resign_checkpoint(const uint8_t *buf, size_t n, size_t s, const dfi_jpubkey *pub,
    dfi_signer *signer, size_t *len)
{
	uint8_t note[DFI_J_NOTE_MAX + 4], other[DFI_J_NOTE_MAX];
	char b64[DFI_J_LINE_MAX];
	dfi_checkpoint cp;
	size_t ol, e = s;
	while (e < n && buf[e] != '\n')
		e++;
	if (s > n || (e - s) / 4 * 3 > sizeof(note))
		return NULL;
	int nl = EVP_DecodeBlock(note, buf + s, (int)(e - s));
	if (nl <= 0)
		return NULL;
	for (size_t q = e; q > s && buf[q - 1] == '='; q--)
		nl--; /* EVP_DecodeBlock counts the padding */
	if (dfi_note_open(note, (size_t)nl, pub, &cp) != DFI_OK ||
	    dfi_note_sign(&cp, signer, other, sizeof(other), &ol) != DFI_OK)
		return NULL;
	size_t bl = (size_t)EVP_EncodeBlock((unsigned char *)b64, other, (int)ol);
	uint8_t *t = malloc(s + bl + (n - e));
	if (t == NULL)
		return NULL;
	memcpy(t, buf, s);
	memcpy(t + s, b64, bl);
	memcpy(t + s + bl, buf + e, n - e);
	*len = s + bl + (n - e);
	return t;
}

/* Creates the journal at dir and opens it in *j; returns the first
 * failure's code (a test asserts DFI_OK). */
static inline dfi_err
jt_create_open(dfi_journal **j, const char *dir, const char *origin, dfi_signer *s,
    const struct dfi_journal_opts *o)
{
	dfi_err e = dfi_journal_create(dir, origin, s, o);
	return e != DFI_OK ? e : dfi_journal_open(j, dir, s, o, NULL);
}

/* Writes the intent r and commits it (its number in *seq); returns the
 * first failure's code. */
static inline dfi_err
jt_intent_commit(dfi_journal *j, const dfi_jrec *r, uint64_t *seq)
{
	dfi_err e = dfi_journal_intent(j, r, seq);
	return e != DFI_OK ? e : dfi_journal_commit(j, *seq);
}

static inline dfi_jrec
jt_intent(const char *uid_hex, uint32_t aid, uint8_t keyno, uint8_t oldv, uint8_t newv)
{
	dfi_jrec r;
	size_t n = 0;
	memset(&r, 0, sizeof(r));
	r.type = DFI_JREC_INTENT;
	dfi_hex_decode(uid_hex, r.key.uid, sizeof(r.key.uid), &n);
	r.key.uid_len = (uint8_t)n;
	r.key.aid = aid;
	r.key.keyno = keyno;
	r.old_version = oldv;
	r.new_version = newv;
	snprintf(r.key_label, sizeof(r.key_label), "app-key-%u", keyno);
	r.key_objid[0] = 0x42;
	r.key_objid_len = 1;
	r.key_gen = 1;
	memcpy(r.div_input, r.key.uid, n);
	r.div_input_len = n;
	return r;
}

static int
jt_no_sync(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

/* The POSIX journal I/O without fsync (for tests of reading, not of
 * durability: cheap on a busy machine); its pread replaced by pread_fn
 * with ctx when pread_fn is not NULL. */
static inline struct dfi_journal_io
jt_io_nosync(ssize_t (*pread_fn)(void *ctx, int fd, void *buf, size_t len, off_t off), void *ctx)
{
	struct dfi_journal_io io = *dfi_journal_io_posix();
	io.fdatasync = jt_no_sync;
	io.fsync = jt_no_sync;
	if (pread_fn != NULL) {
		io.pread = pread_fn;
		io.ctx = ctx;
	}
	return io;
}

/* A journal in a new directory (*dir) signed by s, written without fsync:
 * the genesis checkpoint and n intents of one checkpoint each (UIDs
 * 04 + i in 12 hex digits). Returns journal.log's path. */
static inline char *
jt_journal_of_intents(dfi_signer *s, const char *origin, unsigned n, char **dir)
{
	struct dfi_journal_io io = jt_io_nosync(NULL, NULL);
	struct dfi_journal_opts o = { .station = "t", .io = &io };
	dfi_journal *j = NULL;
	*dir = jt_tmpdir();
	if (*dir == NULL || dfi_journal_create(*dir, origin, s, &o) != DFI_OK ||
	    dfi_journal_open(&j, *dir, s, &o, NULL) != DFI_OK)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		char uid[16];
		snprintf(uid, sizeof(uid), "04%012X", i);
		dfi_jrec r = jt_intent(uid, 0x000001, 1, 0, 1);
		if (dfi_journal_intent(j, &r, NULL) != DFI_OK) {
			dfi_journal_close(j);
			return NULL;
		}
	}
	dfi_journal_close(j);
	char *path = malloc(strlen(*dir) + 32);
	if (path != NULL)
		sprintf(path, "%s/%s", *dir, DFI_JOURNAL_FILE);
	return path;
}

/* The Ed25519 signer and public key most journal tests work with: g_signer
 * and g_pub, made by setup() before each test and freed by teardown()
 * (a checked fixture). One line in a test program instead of a copy.
 * JT_SIGNER_DIR_FIXTURE also gives each test an empty directory of its
 * own, g_dir (NULL under JT_SIGNER_FIXTURE), removed with all it holds by
 * the teardown: the tests that write journals make, then remove, one. */
#define JT_SIGNER_FIXTURE JT_FIXTURE_(0)
#define JT_SIGNER_DIR_FIXTURE JT_FIXTURE_(1)
#define JT_FIXTURE_(with_dir)                                                  \
	static dfi_signer *g_signer;                                           \
	static dfi_jpubkey *g_pub;                                             \
	static char *g_dir;                                                    \
	static void setup(void)                                                \
	{                                                                      \
		g_signer = jt_signer_new(DFI_SIG_ED25519);                     \
		g_pub = jt_pubkey(g_signer);                                   \
		g_dir = (with_dir) ? jt_tmpdir() : NULL;                       \
		ck_assert_msg(!(with_dir) || g_dir != NULL, "mkdtemp in /tmp"); \
	}                                                                      \
	static void teardown(void)                                             \
	{                                                                      \
		jt_rmrf(g_dir);                                                \
		free(g_dir);                                                   \
		dfi_jpubkey_free(g_pub);                                       \
		dfi_signer_free(g_signer);                                     \
	}
/* The Certificate Transparency reference tree's 8 leaf inputs
 * (certificate-transparency-go, transparency-dev/merkle testonly), hashed. */
static inline void
jt_ct_leaf_hashes(uint8_t out[8][DFI_HASH_LEN])
{
	static const char *const leaves[8] = {
		"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
		"606162636465666768696A6B6C6D6E6F",
	};
	for (int i = 0; i < 8; i++) {
		uint8_t b[32];
		size_t n = 0;
		if (leaves[i][0] != '\0' && dfi_hex_decode(leaves[i], b, sizeof(b), &n) != DFI_OK)
			abort();
		dfi_merkle_leaf_hash(b, n, out[i]);
	}
}

/* A journal in a temp dir with an in-memory Ed25519 or P-256 key, open for
 * appending; jt_journal_add appends n intents of distinct cards (tag makes
 * the UIDs of one history differ from another's), one append each. */
struct jt_journal {
	char *dir;
	char path[300];
	dfi_signer *s;
	dfi_jpubkey *pk;
	dfi_journal *j;
	uint32_t key_id;
};

static inline int
jt_journal_open(struct jt_journal *f, const char *origin, dfi_sigalg alg)
{
	memset(f, 0, sizeof(*f));
	struct dfi_journal_opts o = { .station = "st" };
	f->dir = jt_tmpdir();
	f->s = jt_signer_new(alg);
	f->pk = f->s != NULL ? jt_pubkey(f->s) : NULL;
	if (f->dir == NULL || f->pk == NULL || dfi_journal_create(f->dir, origin, f->s, &o) != DFI_OK ||
	    dfi_journal_open(&f->j, f->dir, f->s, &o, NULL) != DFI_OK ||
	    dfi_jpubkey_key_id(f->pk, origin, &f->key_id) != DFI_OK)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/" DFI_JOURNAL_FILE, f->dir);
	return 0;
}

static inline int
jt_journal_reopen(struct jt_journal *f)
{
	struct dfi_journal_opts o = { .station = "st" };
	if (f->j != NULL)
		dfi_journal_close(f->j);
	f->j = NULL;
	return dfi_journal_open(&f->j, f->dir, f->s, &o, NULL) == DFI_OK ? 0 : -1;
}

static inline int
jt_journal_add(struct jt_journal *f, unsigned n, unsigned tag)
{
	for (unsigned i = 0; i < n; i++) {
		char uid[16];
		snprintf(uid, sizeof(uid), "04%02X%02X%06X", tag & 0xFF, i & 0xFF, (unsigned)dfi_journal_size(f->j));
		dfi_jrec r = jt_intent(uid, 0x123456, 1, 0, 1);
		uint64_t seq;
		if (dfi_journal_intent(f->j, &r, &seq) != DFI_OK)
			return -1;
	}
	return 0;
}

static inline void
jt_journal_close(struct jt_journal *f)
{
	if (f->j != NULL)
		dfi_journal_close(f->j);
	dfi_jpubkey_free(f->pk);
	dfi_signer_free(f->s);
	jt_rmrf(f->dir);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

/* The main() of a program with JT_SIGNER_FIXTURE: the suite NAME runs the
 * tests given (each with a fresh signer, 120 s each). */
#define JT_SIGNER_MAIN(name, ...)                                              \
	int main(void)                                                         \
	{                                                                      \
		return dfi_test_main(name,                                     \
		    &(struct dfi_test_case){ .setup = setup,                   \
			.teardown = teardown, .timeout = 120 },                \
		    (const TTest *[]){ __VA_ARGS__, NULL });                   \
	}

#endif
