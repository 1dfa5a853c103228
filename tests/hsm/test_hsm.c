/*
 * HSM layer against a real SoftHSM2 token: AN10922 vectors (AES-128,
 * 2K3DES, 3K3DES) diversified inside the HSM, card-key operations against
 * host crypto, signing, the session pool under threads, re-login, and every
 * error the issue lists (wrong PIN, missing token, missing key, insecure
 * master, missing module, malformed URI).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/hsm.h"
#include "dfissue/util.h"
#include "hsm_fixture.h"
#include "hsm_keycheck.h"
#include "testutil.h"

static struct hsm_fixture fx;

static dfi_hsm *
open_hsm(unsigned max_sessions)
{
	struct dfi_hsm_config cfg = {
		.token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = fx.pin_file,
		.max_sessions = max_sessions,
	};
	dfi_hsm *h = NULL;
	ck_assert_int_eq(dfi_hsm_open(&h, &cfg), DFI_OK);
	return h;
}

/* A key the dev token holds (make-dev-token.sh), found by its URI. */
static dfi_hsm_key *
dev_key(dfi_hsm *h, const char *uri)
{
	dfi_hsm_key *k = NULL;
	ck_assert_msg(dfi_hsm_key_find(h, uri, &k) == DFI_OK, "%s not found", uri);
	return k;
}


/* ---- AN10922 vectors ---------------------------------------------------- */

/* Diversifies m under mk in the HSM and checks the card key against the
 * vector's key want (wl bytes): its KCV through the HSM session object, and
 * the bytes of the audited materialization (DES keys without their parity
 * bits, which carry the key version). Returns the card key. */
static dfi_cardkey *
check_diversified(dfi_hsm *h, dfi_hsm_key *mk, dfi_keytype t, const uint8_t *m, size_t mlen,
    uint8_t version, const uint8_t *want, size_t wl)
{
	dfi_cardkey *ck = NULL;
	ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, t, m, mlen, version, &ck), DFI_OK);
	check_cardkey_value(ck, t, want, wl);
	return ck;
}

START_TEST(an10922_aes128)
{
	uint8_t m[64], want[16], k0[16];
	size_t mlen, wl, k0l;
	ck_assert_int_eq(vector_hex("an10922.txt", "M", m, sizeof(m), &mlen), 0);
	ck_assert_int_eq(vector_hex("an10922.txt", "diversified", want, sizeof(want), &wl), 0);
	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *mk = dev_key(h, "pkcs11:object=an10922-master");
	ck_assert_int_eq(dfi_hsm_key_type(mk), DFI_KT_AES128);
	ck_assert_str_eq(dfi_hsm_key_label(mk), "an10922-master");

	/* The master's KCV is the first 3 bytes of the note's K0 = AES(K, 0). */
	uint8_t kcv[3];
	ck_assert_int_eq(dfi_hsm_kcv(h, mk, kcv), DFI_OK);
	FILE *fp = fopen(getenv("DFI_TEST_DATA") ? "/dev/null" : "/dev/null", "r");
	fclose(fp);
	char path[512], line[256];
	snprintf(path, sizeof(path), "%s/an10922.txt", getenv("DFI_TEST_DATA"));
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	k0l = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = strstr(line, "K0 = AES(K, 0^128) = ");
		if (p != NULL)
			ck_assert_int_eq(dfi_hex_decode(p + strlen("K0 = AES(K, 0^128) = "), k0, sizeof(k0), &k0l), DFI_OK);
	}
	fclose(fp);
	ck_assert_uint_eq(k0l, 16);
	ck_assert_mem_eq(kcv, k0, 3);

	/* The audited materialization reproduces the vector exactly. */
	dfi_cardkey *ck = check_diversified(h, mk, DFI_KT_AES128, m, mlen, 7, want, 16);
	ck_assert_int_eq(dfi_cardkey_version(ck), 7);
	ck_assert_int_eq(dfi_cardkey_type(ck), DFI_KT_AES128);
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}
END_TEST

static void
des_vector(const char *prefix, const char *label, dfi_keytype t)
{
	uint8_t m[32], want[24];
	size_t mlen, wl;
	an10922_des_vector(prefix, m, &mlen, want, &wl);
	ck_assert_uint_eq(wl, dfi_keytype_keylen(t));
	dfi_hsm *h = open_hsm(0);
	char uri[128];
	snprintf(uri, sizeof(uri), "pkcs11:token=dfissue-dev;object=%s;type=secret-key", label);
	dfi_hsm_key *mk = dev_key(h, uri);
	ck_assert_int_eq(dfi_hsm_key_type(mk), t);
	dfi_cardkey_free(check_diversified(h, mk, t, m, mlen, 0, want, wl));
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}

START_TEST(an10922_2k3des) { des_vector("2k3des", "an10922-2k3des-master", DFI_KT_2K3DES); }
END_TEST

START_TEST(an10922_3k3des) { des_vector("3k3des", "an10922-3k3des-master", DFI_KT_3K3DES); }
END_TEST

/* The host half alone, for lengths around the padding boundary: a plain
 * CMAC agrees with AN10922 exactly when DIV || M fills two blocks. */
START_TEST(an10922_blocks_vs_cmac)
{
	static const struct { const char *label; dfi_keytype t; } keys[] = {
		{ "app1-master", DFI_KT_AES128 },
		{ "an10922-2k3des-master", DFI_KT_2K3DES },
		{ "an10922-3k3des-master", DFI_KT_3K3DES },
	};
	dfi_hsm *h = open_hsm(0);
	for (size_t i = 0; i < 3; i++) {
		char uri[128];
		snprintf(uri, sizeof(uri), "pkcs11:object=%s", keys[i].label);
		dfi_hsm_key *mk = dev_key(h, uri);
		size_t bl = dfi_keytype_blocklen(keys[i].t);
		for (size_t mlen = 1; mlen <= 2 * bl - 1; mlen++) {
			uint8_t m[32];
			for (size_t j = 0; j < mlen; j++)
				m[j] = (uint8_t)(0x30 + j * 7);
			dfi_cardkey *ck = NULL;
			ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, keys[i].t, m, mlen, 1, &ck), DFI_OK);
			struct got g = { { 0 }, 0 };
			ck_assert_int_eq(dfi_cardkey_with_bytes(ck, grab, &g), DFI_OK);
			/* Recompute the first CMAC via the card key itself: a
			 * derived key's own KCV must match its materialized bytes. */
			uint8_t a[3], b[3];
			ck_assert_int_eq(dfi_hsm_cardkey_kcv(ck, a), DFI_OK);
			host_kcv(keys[i].t, g.key, b);
			ck_assert_mem_eq(a, b, 3);
			dfi_cardkey_free(ck);
		}
		/* Out of range lengths are refused. */
		uint8_t big[32] = { 0 };
		dfi_cardkey *ck = NULL;
		ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, keys[i].t, big, 2 * bl, 0, &ck),
		    DFI_E_INVALID_ARG);
		ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, keys[i].t, big, 0, 0, &ck),
		    DFI_E_INVALID_ARG);
		ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk,
				     keys[i].t == DFI_KT_AES128 ? DFI_KT_2K3DES : DFI_KT_AES128, big, 4, 0, &ck),
		    DFI_E_HSM_KEY_TYPE);
		dfi_hsm_key_free(mk);
	}
	dfi_hsm_free(h);
}
END_TEST

/* ---- card-key operations equal host crypto ------------------------------ */

static void
compare_ops(dfi_keytype t, const char *label)
{
	dfi_hsm *h = open_hsm(0);
	char uri[128];
	snprintf(uri, sizeof(uri), "pkcs11:object=%s", label);
	dfi_hsm_key *mk = dev_key(h, uri);
	static const uint8_t m[] = { 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xF4, 0x83, 0x01, 'x' };
	dfi_cardkey *ck = NULL, *plain = NULL;
	ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, t, m, sizeof(m), 3, &ck), DFI_OK);
	struct got g = { { 0 }, 0 };
	ck_assert_int_eq(dfi_cardkey_with_bytes(ck, grab, &g), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&plain, t, g.key, g.len, 3), DFI_OK);
	check_cardkey_ops(ck, plain, t);
	uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, a[16];
	/* The base key as a card key: operations work, bytes never come out. */
	dfi_cardkey *base = NULL;
	ck_assert_int_eq(dfi_hsm_cardkey_base(h, mk, t, 0, &base), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_with_bytes(base, grab, &g), DFI_E_UNSUPPORTED);
	uint8_t k1[3], k2[3];
	ck_assert_int_eq(dfi_hsm_cardkey_kcv(base, k1), DFI_OK);
	ck_assert_int_eq(dfi_hsm_kcv(h, mk, k2), DFI_OK);
	ck_assert_mem_eq(k1, k2, 3);
	/* A base key is created for its derivation path only (issue 17): it
	 * may not CMAC (no CKA_SIGN, CKA_ALLOWED_MECHANISMS without CBC). */
	ck_assert_int_ne(dfi_cardkey_cmac(base, in, 5, a), DFI_OK);
	dfi_cardkey_free(base);
	dfi_cardkey_free(plain);
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}

START_TEST(ops_aes) { compare_ops(DFI_KT_AES128, "picc-master"); }
END_TEST
START_TEST(ops_2k3des) { compare_ops(DFI_KT_2K3DES, "an10922-2k3des-master"); }
END_TEST
START_TEST(ops_3k3des) { compare_ops(DFI_KT_3K3DES, "an10922-3k3des-master"); }
END_TEST

/* ---- signing ------------------------------------------------------------ */

static void
verify(dfi_signer *s, const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t dl;
	ck_assert_int_eq(dfi_signer_public_key_der(s, der, sizeof(der), &dl), DFI_OK);
	const uint8_t *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)dl);
	ck_assert_ptr_nonnull(pk);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	int ok;
	if (dfi_signer_alg(s) == DFI_SIG_ED25519) {
		ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk), 1);
		ok = EVP_DigestVerify(mc, sig, siglen, msg, len);
	} else {
		/* raw r||s to DER for OpenSSL */
		ck_assert_uint_eq(siglen, 64);
		ECDSA_SIG *es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		uint8_t dsig[80], *q = dsig;
		int n = i2d_ECDSA_SIG(es, &q);
		ECDSA_SIG_free(es);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk), 1);
		ok = EVP_DigestVerify(mc, dsig, (size_t)n, msg, len);
	}
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	ck_assert_int_eq(ok, 1);
}

/* The signer of uri: a key of algorithm alg whose signature over msg
 * (into sig, *sl bytes) OpenSSL verifies with its public key. */
static dfi_signer *
signer_checked(dfi_hsm *h, const char *uri, dfi_sigalg alg, const uint8_t *msg, size_t len,
    uint8_t sig[DFI_SIG_MAX], size_t *sl)
{
	dfi_signer *s = NULL;
	ck_assert_int_eq(dfi_hsm_signer_new(h, uri, &s), DFI_OK);
	ck_assert_int_eq(dfi_signer_alg(s), alg);
	*sl = 0;
	ck_assert_int_eq(dfi_signer_sign(s, msg, len, sig, sl), DFI_OK);
	verify(s, msg, len, sig, *sl);
	return s;
}

START_TEST(sign_ed25519)
{
	dfi_hsm *h = open_hsm(0);
	static const uint8_t msg[] = "dfissue.test/journal\n42\nroot\n";
	uint8_t sig[DFI_SIG_MAX];
	size_t sl;
	dfi_signer *s = signer_checked(h, "pkcs11:object=journal", DFI_SIG_ED25519, msg,
	    sizeof(msg) - 1, sig, &sl);
	ck_assert_uint_eq(sl, 64);
	sig[3] ^= 1;
	/* a flipped bit must not verify: checked with OpenSSL directly */
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t dl;
	ck_assert_int_eq(dfi_signer_public_key_der(s, der, sizeof(der), &dl), DFI_OK);
	const uint8_t *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)dl);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk), 1);
	ck_assert_int_ne(EVP_DigestVerify(mc, sig, sl, msg, sizeof(msg) - 1), 1);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);

	/* PEM export agrees with the signer's DER and with the dev token's file. */
	char *pem = NULL, *pem2 = NULL;
	ck_assert_int_eq(dfi_hsm_public_key_pem(h, "pkcs11:object=journal", &pem), DFI_OK);
	ck_assert_int_eq(dfi_pubkey_der_to_pem(der, dl, &pem2), DFI_OK);
	ck_assert_str_eq(pem, pem2);
	ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	char path[400], filebuf[512] = { 0 };
	snprintf(path, sizeof(path), "%s/dev/journal.pub.pem", fx.dir);
	ck_assert_uint_gt(dfi_test_read_file(path, filebuf, sizeof(filebuf)), 0);
	ck_assert_str_eq(filebuf, pem);
	free(pem);
	free(pem2);
	dfi_signer_free(s);
	dfi_hsm_free(h);
}
END_TEST

START_TEST(sign_ecdsa_p256)
{
	dfi_hsm *h = open_hsm(0);
	ck_assert_int_eq(dfi_hsm_journal_key_generate(h, "journal-ec", DFI_SIG_ECDSA_P256), DFI_OK);
	/* a second key with the same label is refused */
	ck_assert_int_eq(dfi_hsm_journal_key_generate(h, "journal-ec", DFI_SIG_ECDSA_P256), DFI_E_INVALID_ARG);
	static const uint8_t msg[] = "checkpoint body";
	uint8_t sig[DFI_SIG_MAX];
	size_t sl;
	dfi_signer *s = signer_checked(h, "pkcs11:object=journal-ec;type=private",
	    DFI_SIG_ECDSA_P256, msg, sizeof(msg) - 1, sig, &sl);
	dfi_signer_free(s);
	/* a secret key is not a signing key */
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=picc-master", &s), DFI_E_HSM_KEY_NOT_FOUND);
	dfi_hsm_free(h);
}
END_TEST

/* ---- threads share one handle ------------------------------------------- */

struct worker {
	dfi_hsm *h;
	dfi_hsm_key *mk;
	int id;
	int ok;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	w->ok = 1;
	for (int i = 0; i < 40 && w->ok; i++) {
		uint8_t m[10] = { 0x04, (uint8_t)w->id, (uint8_t)i, 1, 2, 3, 4, 0xAA, 0xBB, 0xCC };
		dfi_cardkey *ck = NULL;
		struct got g = { { 0 }, 0 };
		uint8_t a[3], b[3];
		if (dfi_hsm_cardkey_diversified(w->h, w->mk, DFI_KT_AES128, m, sizeof(m), 0, &ck) != DFI_OK ||
		    dfi_hsm_cardkey_kcv(ck, a) != DFI_OK || dfi_cardkey_with_bytes(ck, grab, &g) != DFI_OK ||
		    dfi_cipher(DFI_KT_AES128, g.key, 1, NULL, (const uint8_t[16]){ 0 }, g.key, 16) != DFI_OK)
			w->ok = 0;
		memcpy(b, g.key, 3);
		if (w->ok && memcmp(a, b, 3) != 0)
			w->ok = 0;
		dfi_cardkey_free(ck);
	}
	return NULL;
}

START_TEST(threads_share_pool)
{
	dfi_hsm *h = open_hsm(2);
	dfi_hsm_key *mk = dev_key(h, "pkcs11:object=app2-master");
	struct dfi_hsm_stats st0, st1;
	dfi_hsm_stats(h, &st0);
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ h, mk, i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].ok, 1);
	}
	dfi_hsm_stats(h, &st1);
	/* at most max_sessions sessions were ever opened */
	ck_assert_uint_le(st1.sessions, 2);
	ck_assert_uint_gt(st1.calls, st0.calls + 4 * 40 * 3);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}
END_TEST

/* ---- the handle's locked scratch under nesting -------------------------- */

/* More ChangeKey materializations at once than the handle has locked
 * scratch slots (one page of 128-byte slots): each level's callback opens
 * the next key's bytes while its own are still lent. Every level must see
 * its own key (checked against the bytes it gave alone), in a buffer no
 * other level holds, and a slot must come back wiped. */
#define NEST 40
struct nest {
	dfi_cardkey *ck[NEST];
	struct got alone[NEST];
	const uint8_t *seen[NEST];
	int depth;
};

static dfi_err
nest_fn(void *arg, const uint8_t *key, size_t len)
{
	struct nest *n = arg;
	int d = n->depth;
	ck_assert_uint_eq(len, n->alone[d].len);
	ck_assert_mem_eq(key, n->alone[d].key, len);
	for (int i = 0; i < d; i++)
		ck_assert_ptr_ne(n->seen[i], key);
	n->seen[d] = key;
	if (++n->depth < NEST)
		ck_assert_int_eq(dfi_cardkey_with_bytes(n->ck[n->depth], nest_fn, n), DFI_OK);
	/* a deeper level's buffer was given back: ours still holds our key */
	ck_assert_mem_eq(key, n->alone[d].key, len);
	return DFI_OK;
}

START_TEST(scratch_nested)
{
	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *mk = dev_key(h, "pkcs11:object=app1-master");
	struct nest n = { .depth = 0 };
	for (int i = 0; i < NEST; i++) {
		uint8_t m[9] = { 0x04, (uint8_t)i, 0x5A, 1, 2, 3, 4, 5, 6 };
		ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, DFI_KT_AES128, m, sizeof(m), 0, &n.ck[i]),
		    DFI_OK);
		ck_assert_int_eq(dfi_cardkey_with_bytes(n.ck[i], grab, &n.alone[i]), DFI_OK);
	}
	ck_assert_int_eq(dfi_cardkey_with_bytes(n.ck[0], nest_fn, &n), DFI_OK);
	ck_assert_int_eq(n.depth, NEST);
	/* The outermost level had the first slot of the handle's page, which
	 * stays mapped while the handle is open: it was wiped on return. */
	static const uint8_t zero[16];
	ck_assert_mem_eq(n.seen[0], zero, sizeof(zero));
	for (int i = 0; i < NEST; i++)
		dfi_cardkey_free(n.ck[i]);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}
END_TEST

/* ---- re-login after the token dropped the login -------------------------- */

/* The dev token's PIN, from the fixture's PIN file. */
static void
dev_pin(char *pin, size_t cap)
{
	memset(pin, 0, cap);
	FILE *fp = fopen(fx.pin_file, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(pin, (int)cap, fp));
	fclose(fp);
	pin[strcspn(pin, "\r\n")] = '\0';
}

static CK_FUNCTION_LIST *
raw_module(CK_SESSION_HANDLE *s, int login)
{
	CK_FUNCTION_LIST *fl = p11_kit_module_load(getenv("SOFTHSM2_MODULE"), 0);
	ck_assert_ptr_nonnull(fl);
	ck_assert_int_eq(p11_kit_module_initialize(fl), CKR_OK);
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	ck_assert_int_eq(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CK_SLOT_ID slot = (CK_SLOT_ID)-1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		ck_assert_int_eq(fl->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (memcmp(ti.label, "dfissue-dev ", 12) == 0)
			slot = slots[i];
	}
	ck_assert(slot != (CK_SLOT_ID)-1);
	ck_assert_int_eq(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s), CKR_OK);
	if (login) {
		char pin[64];
		dev_pin(pin, sizeof(pin));
		CK_RV rv = fl->C_Login(*s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
		ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	}
	return fl;
}

static void
raw_close(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE s)
{
	fl->C_CloseSession(s);
	p11_kit_module_finalize(fl);
	p11_kit_module_release(fl);
}

START_TEST(relogin)
{
	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *mk = dev_key(h, "pkcs11:object=an10922-master");
	struct dfi_hsm_stats st0, st1;
	dfi_hsm_stats(h, &st0);
	/* Another user of the same token logs out: the login is token-wide. */
	CK_SESSION_HANDLE s;
	CK_FUNCTION_LIST *fl = raw_module(&s, 0);
	ck_assert_int_eq(fl->C_Logout(s), CKR_OK);
	raw_close(fl, s);
	uint8_t m[] = { 1, 2, 3 };
	dfi_cardkey *ck = NULL;
	ck_assert_int_eq(dfi_hsm_cardkey_diversified(h, mk, DFI_KT_AES128, m, sizeof(m), 0, &ck), DFI_OK);
	dfi_hsm_stats(h, &st1);
	ck_assert_uint_eq(st1.logins, st0.logins + 1);
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}
END_TEST

/* ---- a PIN changed under a live pool: one refused login, no more ----------
 * Issue 17, finding 4: every thread used to retry C_Login with the old PIN
 * and burn the token's retry counter. */

struct pinchg_worker {
	dfi_hsm *h;
	dfi_hsm_key *mk;
	dfi_err e;
};

static void *
pinchg_work(void *arg)
{
	struct pinchg_worker *w = arg;
	uint8_t m[] = { 9, 8, 7 };
	dfi_cardkey *ck = NULL;
	w->e = dfi_hsm_cardkey_diversified(w->h, w->mk, DFI_KT_AES128, m, sizeof(m), 0, &ck);
	dfi_cardkey_free(ck);
	return NULL;
}

static void
set_pin(const char *from, const char *to)
{
	CK_SESSION_HANDLE s;
	CK_FUNCTION_LIST *fl = raw_module(&s, 0);
	CK_RV rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)from, strlen(from));
	ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	ck_assert_int_eq(fl->C_SetPIN(s, (CK_UTF8CHAR *)from, strlen(from), (CK_UTF8CHAR *)to,
				 strlen(to)),
	    CKR_OK);
	ck_assert_int_eq(fl->C_Logout(s), CKR_OK);
	raw_close(fl, s);
}

START_TEST(pin_changed_one_login)
{
	char pin[64];
	dev_pin(pin, sizeof(pin));

	dfi_hsm *h = open_hsm(4);
	dfi_hsm_key *mk = dev_key(h, "pkcs11:object=an10922-master");
	struct dfi_hsm_stats st0, st1;
	dfi_hsm_stats(h, &st0);
	/* An administrator changes the PIN and the login drops (token-wide). */
	set_pin(pin, "changed-4711");

	enum { N = 6 };
	pthread_t th[N];
	struct pinchg_worker w[N];
	for (int i = 0; i < N; i++) {
		w[i] = (struct pinchg_worker){ h, mk, DFI_OK };
		ck_assert_int_eq(pthread_create(&th[i], NULL, pinchg_work, &w[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	/* Later calls fail fast too, and say why. */
	struct pinchg_worker again = { h, mk, DFI_OK };
	pinchg_work(&again);
	char detail[200];
	dfi_hsm_last_detail(h, detail, sizeof(detail));
	dfi_hsm_stats(h, &st1);
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
	/* Restore the PIN before asserting, so a failure here does not leave
	 * the other tests a token they cannot log in to. */
	set_pin("changed-4711", pin);

	for (int i = 0; i < N; i++)
		ck_assert_int_eq(w[i].e, DFI_E_HSM_PIN_INCORRECT);
	ck_assert_int_eq(again.e, DFI_E_HSM_PIN_INCORRECT);
	/* exactly one C_Login was tried with the old PIN */
	ck_assert_uint_eq(st1.logins, st0.logins + 1);
	ck_assert_ptr_nonnull(strstr(detail, "PIN refused before"));
	ck_assert_ptr_nonnull(strstr(detail, "retry counter was not touched again"));
	/* the token counted one failure, not N+1: the PIN is not locked */
	dfi_hsm_free(open_hsm(0));
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

static dfi_err
try_open(const char *module, const char *token, const char *pin_file)
{
	char detail[200];
	dfi_hsm *h;
	dfi_err e = hsm_fixture_open((struct dfi_hsm_config){ .module = module, .token_uri = token,
	    .pin_file = pin_file }, &h, detail, sizeof(detail));
	dfi_hsm_free(h);
	return e;
}

START_TEST(err_wrong_pin)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/wrong.pin", fx.dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("0000000000000000\n", fp);
	fclose(fp);
	ck_assert_int_eq(chmod(path, 0600), 0); /* else refused before C_Login */
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=dfissue-dev", path), DFI_E_HSM_PIN_INCORRECT);
	/* no PIN at all */
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=dfissue-dev", NULL), DFI_E_HSM_PIN_REQUIRED);
	/* the environment variable works */
	char pin[64] = { 0 };
	fp = fopen(fx.pin_file, "r");
	ck_assert_ptr_nonnull(fgets(pin, sizeof(pin), fp));
	fclose(fp);
	pin[strcspn(pin, "\n")] = '\0';
	setenv("DFISSUE_PIN", pin, 1);
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=dfissue-dev", NULL), DFI_OK);
	setenv("DFISSUE_PIN", "1234", 1);
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=dfissue-dev", NULL), DFI_E_HSM_PIN_INCORRECT);
	unsetenv("DFISSUE_PIN");
}
END_TEST

/* A PIN file the system will not open is the system's error, naming the
 * file and the system's reason, not "no PIN source was given" (audit k36l,
 * finding 11c). */
static void
assert_pin_file_error(const char *path, dfi_err want, const char *reason)
{
	char detail[400], want_detail[600];
	dfi_hsm *h;
	dfi_err e = hsm_fixture_open((struct dfi_hsm_config){ .token_uri = "pkcs11:token=dfissue-dev",
	    .pin_file = path }, &h, detail, sizeof(detail));
	ck_assert_str_eq(dfi_errname(e), dfi_errname(want));
	snprintf(want_detail, sizeof(want_detail), "cannot open PIN file '%s': %s", path, reason);
	ck_assert_str_eq(detail, want_detail);
}

START_TEST(err_pin_file_unreadable)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/absent.pin", fx.dir);
	assert_pin_file_error(path, DFI_E_NOT_FOUND, "No such file or directory");
	/* a path through a regular file */
	char through[400];
	snprintf(through, sizeof(through), "%s/x", fx.pin_file);
	assert_pin_file_error(through, DFI_E_IO, "Not a directory");
	/* a file of mode 000: root reads it anyway, so only as another user */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/sealed.pin", fx.dir);
		FILE *fp = fopen(path, "w");
		ck_assert_ptr_nonnull(fp);
		fputs("1234\n", fp);
		fclose(fp);
		ck_assert_int_eq(chmod(path, 0), 0);
		assert_pin_file_error(path, DFI_E_PERMISSION, "Permission denied");
	}
}
END_TEST

START_TEST(err_missing_token)
{
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=no-such-token", fx.pin_file), DFI_E_HSM_TOKEN_NOT_FOUND);
	ck_assert_int_eq(try_open(NULL, "pkcs11:serial=0000", fx.pin_file), DFI_E_HSM_TOKEN_NOT_FOUND);
}
END_TEST

START_TEST(err_module_path)
{
	ck_assert_int_eq(try_open("/nonexistent/libpkcs11.so", "pkcs11:token=dfissue-dev", fx.pin_file),
	    DFI_E_HSM_MODULE);
	ck_assert_int_eq(try_open("no-such-registered-module", "pkcs11:token=dfissue-dev", fx.pin_file),
	    DFI_E_HSM_MODULE);
	/* by path works too */
	ck_assert_int_eq(try_open(getenv("SOFTHSM2_MODULE"), "pkcs11:token=dfissue-dev", fx.pin_file), DFI_OK);
}
END_TEST

START_TEST(err_malformed_uri)
{
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=%zz", fx.pin_file), DFI_E_HSM_URI);
	ck_assert_int_eq(try_open(NULL, "http://example/", fx.pin_file), DFI_E_HSM_URI);
	ck_assert_int_eq(try_open(NULL, "pkcs11:token=dfissue-dev?pin-value=1234", fx.pin_file), DFI_E_HSM_URI);
	/* An attribute p11-kit does not know matches no token: a URI error
	 * that says so, not "no token matches" (audit k33, finding 3). */
	char why[300];
	ck_assert_int_eq(try_open(NULL, "pkcs11:tokn=dfissue-dev", fx.pin_file), DFI_E_HSM_URI);
	ck_assert_int_eq(dfi_hsm_uri_check("pkcs11:tokn=dfissue-dev", "token", why, sizeof(why)),
	    DFI_E_HSM_URI);
	ck_assert_str_eq(why, "has an attribute p11-kit does not know, so it would match no "
			      "token (a token is named with token=, manufacturer=, serial=, model=)");
	ck_assert_int_eq(dfi_hsm_uri_check("pkcs11:token=%zz", "token", why, sizeof(why)),
	    DFI_E_HSM_URI);
	ck_assert_str_eq(why, "a '%' must be followed by two hex digits (RFC 7512)");
	/* The one rule the key lookup reads a URI with refuses a PIN in it too. */
	ck_assert_int_eq(dfi_hsm_uri_check("pkcs11:object=k?pin-value=1234", "key", why,
			     sizeof(why)),
	    DFI_E_HSM_URI);
	ck_assert_str_eq(why, "a PIN in a URI is refused: give dfissue the PIN in a file, a "
			      "variable or at the prompt");
	ck_assert_int_eq(dfi_hsm_uri_check("pkcs11:token=dfissue-dev;object=journal;"
					   "type=private;id=%01?module-path=/x.so",
			     "key", why, sizeof(why)),
	    DFI_OK);
	ck_assert_str_eq(why, "");
	/* The label a key URI names, percent-decoded as the key lookup reads
	 * it (hsm check's advice for a missing journal key, audit k34). */
	char label[16];
	ck_assert_int_eq(dfi_hsm_uri_label("pkcs11:object=jk%20a;type=private", label,
			     sizeof(label)), DFI_OK);
	ck_assert_str_eq(label, "jk a");
	ck_assert_int_eq(dfi_hsm_uri_label("pkcs11:id=%01;type=private", label, sizeof(label)),
	    DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_hsm_uri_label("pkcs11:object=a%00b", label, sizeof(label)),
	    DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_hsm_uri_label("pkcs11:object=0123456789abcdef", label, sizeof(label)),
	    DFI_E_BUFFER_TOO_SMALL);
	ck_assert_int_eq(dfi_hsm_uri_label("pkcs11:objct=j", label, sizeof(label)), DFI_E_HSM_URI);
	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *k = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(h, "not a uri", &k), DFI_E_HSM_URI);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=%4", &k), DFI_E_HSM_URI);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:objekt=picc-master", &k), DFI_E_HSM_URI);
	char d[200];
	dfi_hsm_last_detail(h, d, sizeof(d));
	ck_assert_uint_gt(strlen(d), 0);
	ck_assert_ptr_null(k);
	dfi_hsm_free(h);
}
END_TEST

START_TEST(err_missing_and_ambiguous_key)
{
	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *k = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=no-such-key", &k), DFI_E_HSM_KEY_NOT_FOUND);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:type=secret-key", &k), DFI_E_HSM_KEY_AMBIGUOUS);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:token=other;object=picc-master", &k),
	    DFI_E_HSM_TOKEN_NOT_FOUND);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=journal;type=private", &k), DFI_E_HSM_KEY_TYPE);
	ck_assert_ptr_null(k);
	dfi_signer *s = NULL;
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=nope", &s), DFI_E_HSM_KEY_NOT_FOUND);
	char *pem = NULL;
	ck_assert_int_eq(dfi_hsm_public_key_pem(h, "pkcs11:object=nope", &pem), DFI_E_HSM_KEY_NOT_FOUND);
	dfi_hsm_free(h);
}
END_TEST

/* What a dfi_log_fn receives (dfissue/log.h). */
struct logged {
	int warnings, other;
	char last[DFI_LOG_MAX];
};

static void
log_hook(void *ctx, dfi_log_level level, const char *msg)
{
	struct logged *lg = ctx;
	if (level == DFI_LOG_WARNING)
		lg->warnings++;
	else
		lg->other++;
	snprintf(lg->last, sizeof(lg->last), "%s", msg);
}

START_TEST(err_insecure_master)
{
	/* Create an extractable AES key through plain PKCS#11. */
	CK_SESSION_HANDLE s;
	CK_FUNCTION_LIST *fl = raw_module(&s, 1);
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t val[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) }, { CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) }, { CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) }, { CKA_DERIVE, &yes, sizeof(yes) },
		{ CKA_LABEL, "insecure-master", 15 }, { CKA_VALUE, val, sizeof(val) },
	};
	CK_OBJECT_HANDLE o;
	ck_assert_int_eq(fl->C_CreateObject(s, t, 10, &o), CKR_OK);
	raw_close(fl, s);

	dfi_hsm *h = open_hsm(0);
	dfi_hsm_key *k = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=insecure-master", &k), DFI_E_HSM_KEY_INSECURE);
	ck_assert_ptr_null(k);
	/* key list shows the flags */
	struct dfi_hsm_key_info *ki = NULL;
	size_t n = 0;
	ck_assert_int_eq(dfi_hsm_key_list(h, NULL, &ki, &n), DFI_OK);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ki[i].label, "insecure-master") == 0) {
			seen = 1;
			ck_assert_int_eq(ki[i].extractable, 1);
			ck_assert_int_eq(ki[i].sensitive, 0);
			ck_assert_str_eq(ki[i].cls, "secret");
		}
		if (strcmp(ki[i].label, "an10922-master") == 0) {
			ck_assert_int_eq(ki[i].extractable, 0);
			ck_assert_int_eq(ki[i].sensitive, 1);
			ck_assert_int_eq(ki[i].has_kcv, 1);
			ck_assert_hex_eq(ki[i].kcv, 3, "FDE4FB");
		}
	}
	ck_assert_int_eq(seen, 1);
	free(ki);
	dfi_hsm_free(h);

	/* explicitly allowed for throwaway tokens, and said through the log
	 * handler: once when the handle opens, once for the key */
	struct logged lg = { 0, 0, "" };
	struct dfi_hsm_config cfg = {
		.token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = fx.pin_file,
		.allow_insecure_keys = 1,
		.log = log_hook,
		.log_ctx = &lg,
	};
	ck_assert_int_eq(dfi_hsm_open(&h, &cfg), DFI_OK);
	ck_assert_int_eq(lg.warnings, 1);
	ck_assert_msg(strstr(lg.last, "insecure keys allowed") != NULL, "%s", lg.last);
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=insecure-master", &k), DFI_OK);
	ck_assert_int_eq(lg.warnings, 2);
	ck_assert_str_eq(lg.last, "using insecure key 'insecure-master' (extractable): test tokens only");
	ck_assert_int_eq(lg.other, 0);
	uint8_t kcv[3], want[3];
	ck_assert_int_eq(dfi_hsm_kcv(h, k, kcv), DFI_OK);
	host_kcv(DFI_KT_AES128, val, want);
	ck_assert_mem_eq(kcv, want, 3);
	dfi_hsm_key_free(k);
	dfi_hsm_free(h);
}
END_TEST

START_TEST(import_rules)
{
	dfi_hsm *h = open_hsm(0);
	uint8_t key[24];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x10 + i);
	uint8_t id[2] = { 0xab, 0xcd };
	ck_assert_int_eq(dfi_hsm_key_import(h, DFI_KT_3K3DES, key, 24, "imported-3k", id, 2), DFI_OK);
	ck_assert_int_eq(dfi_hsm_key_import(h, DFI_KT_3K3DES, key, 24, "imported-3k", NULL, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_hsm_key_import(h, DFI_KT_AES128, key, 24, "bad-len", NULL, 0), DFI_E_INVALID_ARG);
	dfi_hsm_key *k = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:id=%AB%CD", &k), DFI_OK);
	ck_assert_int_eq(dfi_hsm_key_type(k), DFI_KT_3K3DES);
	uint8_t kcv[3], want[3];
	ck_assert_int_eq(dfi_hsm_kcv(h, k, kcv), DFI_OK);
	host_kcv(DFI_KT_3K3DES, key, want);
	ck_assert_mem_eq(kcv, want, 3);
	dfi_hsm_key_free(k);
	/* a label needing percent-encoding round-trips */
	char *uri = NULL;
	ck_assert_int_eq(dfi_hsm_key_import(h, DFI_KT_AES128, key, 16, "a key; with/odd chars", NULL, 0), DFI_OK);
	ck_assert_int_eq(dfi_hsm_secret_key_uri("a key; with/odd chars", &uri), DFI_OK);
	ck_assert_int_eq(dfi_hsm_key_find(h, uri, &k), DFI_OK);
	free(uri);
	dfi_hsm_key_free(k);
	dfi_hsm_free(h);
}
END_TEST

/* Issue 17, finding 5: a FIFO blocked forever; wrong mode only warned. */
static void
pin_file_refused(const char *path, const char *want)
{
	char detail[200] = "";
	struct dfi_hsm_config cfg = {
		.token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = path,
		.detail = detail,
		.detail_cap = sizeof(detail),
	};
	dfi_hsm *h = NULL;
	ck_assert_int_eq(dfi_hsm_open(&h, &cfg), DFI_E_HSM_PIN_REQUIRED);
	ck_assert_ptr_null(h);
	ck_assert_msg(strstr(detail, path) != NULL, "detail '%s' names no file", detail);
	ck_assert_msg(strstr(detail, want) != NULL, "detail '%s' lacks '%s'", detail, want);
}

START_TEST(pin_file_checks)
{
	char dir[] = "/tmp/dfi-pinfile-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char fifo[64], wide[64], link[64], big[64];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(wide, sizeof(wide), "%s/wide", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	FILE *fp = fopen(wide, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("1234\n", fp);
	fclose(fp);
	ck_assert_int_eq(chmod(wide, 0644), 0);
	ck_assert_int_eq(symlink(fx.pin_file, link), 0);
	fp = fopen(big, "w");
	ck_assert_ptr_nonnull(fp);
	for (int i = 0; i < 4096; i++)
		fputc('7', fp);
	fclose(fp);
	ck_assert_int_eq(chmod(big, 0600), 0);

	pin_file_refused(fifo, "not a regular file"); /* returns: no block */
	pin_file_refused(wide, "chmod 600");
	pin_file_refused(link, "symbolic link");
	pin_file_refused(big, "bytes");
	/* the good file still works */
	dfi_hsm_free(open_hsm(0));

	unlink(fifo);
	unlink(wide);
	unlink(link);
	unlink(big);
	rmdir(dir);
}
END_TEST

int
main(void)
{
	return hsm_fixture_main(&fx, "hsm", (const TTest *[]){
	    an10922_aes128, an10922_2k3des, an10922_3k3des,
	    an10922_blocks_vs_cmac, ops_aes, ops_2k3des, ops_3k3des, sign_ed25519,
	    sign_ecdsa_p256, threads_share_pool, scratch_nested, relogin, pin_changed_one_login, err_wrong_pin,
	    err_pin_file_unreadable,
	    pin_file_checks, err_missing_token,
	    err_module_path, err_malformed_uri, err_missing_and_ambiguous_key,
	    err_insecure_master, import_rules, NULL });
}
