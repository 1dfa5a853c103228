/*
 * The HSM layer on any PKCS#11 module (issue 15), run by with_token.sh on a
 * fresh token of SoftHSM2, NSS softoken and opencryptoki:
 *   - the derivation paths the token offers per key type are exactly the
 *     ones expected of that module (DFI_TEST_EXPECT), the preferred one is
 *     chosen, and the host path only with the opt-in;
 *   - the AN10922 vectors pass on every offered path (temporary session
 *     keys, dfi_hsm_selftest);
 *   - the key ceremony per path: the token key gets only that path's
 *     usages (no CKA_DECRYPT/SIGN/VERIFY; no CKA_ENCRYPT for SP 800-108;
 *     CKA_ALLOWED_MECHANISMS where taken), per-card keys derived from it
 *     equal the vectors (KCV in the HSM, ChangeKey bytes) and host crypto;
 *   - SP 800-108 refuses M under 16 bytes and matches AN10922 above;
 *   - an import failing at any PKCS#11 call after C_CreateObject leaves no
 *     object behind (faultp11 in front of the module);
 *   - the journal key: generated and verified where the token signs,
 *     refused when extractable; modules needing arguments say so.
 * DFI_TEST_EXPECT: "aes=PATH,... 2k3des=... 3k3des=..." (path names as
 * dfi_hsm_path_name), DFI_TEST_JOURNAL: ed25519, ecdsa-p256 or none.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/hsm.h"
#include "dfissue/util.h"
#include "faultp11_ctl.h"
#include "hsm_keycheck.h"
#include "hsm_fixture.h"
#include "hsm_int.h"
#include "testutil.h"

static const dfi_keytype types[] = { DFI_KT_AES128, DFI_KT_2K3DES, DFI_KT_3K3DES };
static const dfi_hsm_path paths[] = { DFI_HSM_PATH_SP800_108, DFI_HSM_PATH_ECB, DFI_HSM_PATH_CBC,
	DFI_HSM_PATH_HOST };

/* The AN10922 vectors (tests/data: an10922.txt, hsm_an10922_des.txt). */
static const struct {
	dfi_keytype t;
	const char *master, *m, *derived;
} vec[] = {
	{ DFI_KT_AES128, "00112233445566778899AABBCCDDEEFF", "04782E21801D803042F54E585020416275",
		"A8DD63A3B89D54B37CA802473FDA9175" },
	{ DFI_KT_2K3DES, "00112233445566778899AABBCCDDEEFF", "04782E21801D803042F54E58502041",
		"16F9587D9E8910C96B9649D007107DD6" },
	{ DFI_KT_3K3DES, "00112233445566778899AABBCCDDEEFF0102030405060708",
		"04782E21801D803042F54E5850", "2E0DD03774D3FA9B5705AB0BDA91CA0B55B8E07FCDBF10EC" },
};

/* Is (t, p) in DFI_TEST_EXPECT? */
static int
expected(dfi_keytype t, dfi_hsm_path p)
{
	const char *spec = getenv("DFI_TEST_EXPECT");
	ck_assert_ptr_nonnull(spec);
	char buf[512], want[64];
	snprintf(buf, sizeof(buf), " %s ", spec);
	const char *sec = strstr(buf, dfi_keytype_name(t));
	while (sec != NULL && sec[-1] != ' ')
		sec = strstr(sec + 1, dfi_keytype_name(t));
	if (sec == NULL)
		return 0;
	const char *end = strchr(sec, ' ');
	snprintf(want, sizeof(want), "%s", dfi_hsm_path_name(p));
	size_t wl = strlen(want);
	for (const char *q = strchr(sec, '=') + 1; q < end;) {
		const char *c = strchr(q, ',');
		if (c == NULL || c > end)
			c = end;
		if ((size_t)(c - q) == wl && strncmp(q, want, wl) == 0)
			return 1;
		q = c + 1;
	}
	return 0;
}

static dfi_hsm *
open_cfg(dfi_hsm_path path, int allow_host, int insecure)
{
	char detail[200];
	dfi_hsm *h;
	dfi_err e = hsm_fixture_open((struct dfi_hsm_config){
		.module = getenv("DFI_TEST_HSM_MODULE"),
		.token_uri = getenv("DFI_TEST_HSM_TOKEN"),
		.pin_file = getenv("DFI_TEST_HSM_PIN_FILE"),
		.derivation = path,
		.allow_host_derivation = allow_host,
		.allow_insecure_keys = insecure,
	    }, &h, detail, sizeof(detail));
	ck_assert_msg(e == DFI_OK, "dfi_hsm_open: %s (%s)", dfi_strerror(e), detail);
	return h;
}


static void
detail_of(dfi_hsm *h, char *d, size_t cap)
{
	dfi_hsm_last_detail(h, d, cap);
}

/* ---- what the token offers --------------------------------------------- */

START_TEST(paths_offered)
{
	dfi_hsm *h = open_cfg(DFI_HSM_PATH_AUTO, 1, 0);
	dfi_hsm *off = open_cfg(DFI_HSM_PATH_AUTO, 0, 0);
	for (size_t i = 0; i < 3; i++) {
		dfi_hsm_path first = DFI_HSM_PATH_NONE;
		for (size_t j = 0; j < 4; j++) {
			char why[240];
			dfi_err e = dfi_hsm_token_path_check(h, types[i], paths[j], why, sizeof(why));
			ck_assert_msg((e == DFI_OK) == expected(types[i], paths[j]),
			    "%s %s: %s (%s)", dfi_keytype_name(types[i]), dfi_hsm_path_name(paths[j]),
			    e == DFI_OK ? "offered, not expected" : "not offered", why);
			if (e != DFI_OK)
				ck_assert_uint_gt(strlen(why), 10); /* says why */
			else if (first == DFI_HSM_PATH_NONE)
				first = paths[j];
			/* Without the opt-in the host path is never offered. */
			e = dfi_hsm_token_path_check(off, types[i], paths[j], why, sizeof(why));
			if (paths[j] == DFI_HSM_PATH_HOST) {
				ck_assert_int_eq(e, DFI_E_HSM_MECHANISM);
				ck_assert_ptr_nonnull(strstr(why, "--allow-host-derivation"));
			}
		}
		ck_assert_int_eq(dfi_hsm_token_path(h, types[i]), first);
	}
	/* The mechanism table says what is there. */
	const struct dfi_hsm_mech_info *m;
	size_t n = dfi_hsm_mechanisms(h, &m);
	ck_assert_uint_ge(n, 16);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(m[i].name);
		if (!m[i].present)
			ck_assert_uint_eq(m[i].flags, 0);
	}
	dfi_hsm_free(off);
	dfi_hsm_free(h);
}
END_TEST

START_TEST(vectors_every_path)
{
	dfi_hsm *h = open_cfg(DFI_HSM_PATH_AUTO, 1, 0);
	unsigned ran = 0;
	for (size_t i = 0; i < 3; i++) {
		uint8_t want[24], k3[3], hk[3];
		size_t wl;
		ck_assert_int_eq(dfi_hex_decode(vec[i].derived, want, sizeof(want), &wl), DFI_OK);
		host_kcv(vec[i].t, want, hk);
		for (size_t j = 0; j < 4; j++) {
			if (!expected(vec[i].t, paths[j]))
				continue;
			char why[240];
			dfi_err e = dfi_hsm_selftest(h, vec[i].t, paths[j], k3, why, sizeof(why));
			ck_assert_msg(e == DFI_OK, "%s on %s: %s: %s", dfi_keytype_name(vec[i].t),
			    dfi_hsm_path_name(paths[j]), dfi_strerror(e), why);
			ck_assert_mem_eq(k3, hk, 3);
			fprintf(stderr, "%s: AN10922 %s on %s: PASS (KCV %02X%02X%02X)\n",
			    getenv("DFI_TEST_HSM"), dfi_keytype_name(vec[i].t),
			    dfi_hsm_path_name(paths[j]), k3[0], k3[1], k3[2]);
			ran++;
		}
	}
	ck_assert_uint_gt(ran, 0);
	dfi_hsm_free(h);
}
END_TEST

/* ---- the key ceremony per path ----------------------------------------- */

struct attrs_arg {
	CK_OBJECT_HANDLE obj;
	CK_BBOOL v[7];
	CK_ULONG got[7];
	CK_MECHANISM_TYPE allowed[8];
	CK_ULONG nallowed;
};

static CK_RV
op_attrs(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct attrs_arg *a = argp;
	static const CK_ATTRIBUTE_TYPE t[7] = { CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
		CKA_DERIVE, CKA_WRAP, CKA_EXTRACTABLE };
	for (int i = 0; i < 7; i++) {
		CK_ATTRIBUTE at = { t[i], &a->v[i], sizeof(a->v[i]) };
		a->got[i] = P11(h, C_GetAttributeValue, s, a->obj, &at, 1) == CKR_OK ? at.ulValueLen
										    : CK_UNAVAILABLE_INFORMATION;
	}
	CK_ATTRIBUTE al = { CKA_ALLOWED_MECHANISMS, a->allowed, sizeof(a->allowed) };
	a->nallowed = P11(h, C_GetAttributeValue, s, a->obj, &al, 1) == CKR_OK &&
		al.ulValueLen != CK_UNAVAILABLE_INFORMATION ? al.ulValueLen / sizeof(CK_MECHANISM_TYPE) : 0;
	return CKR_OK;
}

static void
check_usages(dfi_hsm *h, const char *label, dfi_hsm_path p)
{
	char *uri = NULL;
	CK_OBJECT_HANDLE o;
	size_t n = 0;
	ck_assert_int_eq(dfi_hsm_secret_key_uri(label, &uri), DFI_OK);
	ck_assert_int_eq(dfi_hsm_find(h, uri, CKO_SECRET_KEY, &o, 1, &n), DFI_OK);
	free(uri);
	ck_assert_uint_eq(n, 1);
	struct attrs_arg a = { .obj = o };
	ck_assert_int_eq(dfi_hsm_run(h, "attrs", op_attrs, &a), DFI_OK);
	/* A token that reports a usage must report what the ceremony set. */
	const int want[7] = { p != DFI_HSM_PATH_SP800_108, 0, 0, 0, p != DFI_HSM_PATH_HOST, 0, 0 };
	static const char *names[7] = { "ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "DERIVE", "WRAP",
		"EXTRACTABLE" };
	for (int i = 0; i < 7; i++)
		if (a.got[i] == sizeof(CK_BBOOL))
			ck_assert_msg(!!a.v[i] == want[i], "%s on %s: CKA_%s is %d", label,
			    dfi_hsm_path_name(p), names[i], a.v[i]);
	/* Where the token keeps CKA_ALLOWED_MECHANISMS: the path's, no more. */
	for (CK_ULONG i = 0; i < a.nallowed; i++) {
		CK_MECHANISM_TYPE m = a.allowed[i];
		int ok = m == CKM_SP800_108_COUNTER_KDF || m == CKM_AES_ECB_ENCRYPT_DATA ||
		    m == CKM_AES_CBC_ENCRYPT_DATA || m == CKM_DES3_ECB_ENCRYPT_DATA || m == CKM_AES_ECB ||
		    m == CKM_AES_CBC || m == CKM_DES3_ECB || m == CKM_DES3_CBC;
		ck_assert_msg(ok, "%s: CKA_ALLOWED_MECHANISMS has 0x%lx", label, (unsigned long)m);
		if (p == DFI_HSM_PATH_SP800_108)
			ck_assert_uint_eq(m, CKM_SP800_108_COUNTER_KDF);
	}
}

/* Derived key of the vector: KCV in the HSM, ChangeKey bytes, and every
 * card-key operation against host crypto on the same bytes. */
static void
check_derived(dfi_hsm *h, dfi_hsm_key *mk, size_t vi, dfi_hsm_path p)
{
	uint8_t m[32], want[24];
	size_t mlen, wl;
	dfi_keytype t = vec[vi].t;
	ck_assert_int_eq(dfi_hex_decode(vec[vi].m, m, sizeof(m), &mlen), DFI_OK);
	ck_assert_int_eq(dfi_hex_decode(vec[vi].derived, want, sizeof(want), &wl), DFI_OK);
	dfi_hsm_path used;
	ck_assert_int_eq(dfi_hsm_key_path(mk, mlen, &used), DFI_OK);
	ck_assert_int_eq(used, p);
	dfi_cardkey *ck = NULL, *plain = NULL;
	dfi_err e = dfi_hsm_cardkey_diversified(h, mk, t, m, mlen, 2, &ck);
	char d[200];
	detail_of(h, d, sizeof(d));
	ck_assert_msg(e == DFI_OK, "%s on %s: %s (%s)", dfi_keytype_name(t), dfi_hsm_path_name(p),
	    dfi_strerror(e), d);
	check_cardkey_value(ck, t, want, wl);
	struct got g = { { 0 }, 0 };
	ck_assert_int_eq(dfi_cardkey_with_bytes(ck, grab, &g), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&plain, t, g.key, g.len, 2), DFI_OK);
	check_cardkey_ops(ck, plain, t);
	dfi_cardkey_free(plain);
	dfi_cardkey_free(ck);
}

START_TEST(ceremony_per_path)
{
	unsigned done = 0;
	for (size_t vi = 0; vi < 3; vi++) {
		for (size_t j = 0; j < 4; j++) {
			if (!expected(vec[vi].t, paths[j]))
				continue;
			dfi_hsm *h = open_cfg(paths[j], 1, 0);
			uint8_t master[24];
			size_t ml;
			char label[64], d[200];
			ck_assert_int_eq(dfi_hex_decode(vec[vi].master, master, sizeof(master), &ml), DFI_OK);
			snprintf(label, sizeof(label), "t-%s-%s", dfi_keytype_name(vec[vi].t),
			    dfi_hsm_path_name(paths[j]));
			dfi_hsm_path used = DFI_HSM_PATH_NONE;
			dfi_err e = dfi_hsm_key_import_path(h, vec[vi].t, master, ml, label, NULL, 0,
			    DFI_HSM_PATH_AUTO, &used);
			detail_of(h, d, sizeof(d));
			ck_assert_msg(e == DFI_OK, "%s: %s (%s)", label, dfi_strerror(e), d);
			ck_assert_int_eq(used, paths[j]);
			/* The same label again is refused, and nothing is added. */
			ck_assert_int_eq(dfi_hsm_key_import_path(h, vec[vi].t, master, ml, label, NULL, 0,
					     paths[j], NULL), DFI_E_INVALID_ARG);
			check_usages(h, label, paths[j]);
			char *uri = NULL;
			dfi_hsm_key *mk = NULL;
			ck_assert_int_eq(dfi_hsm_secret_key_uri(label, &uri), DFI_OK);
			e = dfi_hsm_key_find(h, uri, &mk);
			detail_of(h, d, sizeof(d));
			ck_assert_msg(e == DFI_OK, "%s: %s (%s)", label, dfi_strerror(e), d);
			free(uri);
			ck_assert_int_eq(dfi_hsm_key_type(mk), vec[vi].t);
			/* KCV: computed where the key may encrypt, else the token's
			 * CKA_CHECK_VALUE or none; never a wrong one. */
			uint8_t k1[3], k2[3];
			host_kcv(vec[vi].t, master, k2);
			if (dfi_hsm_kcv(h, mk, k1) == DFI_OK)
				ck_assert_mem_eq(k1, k2, 3);
			else
				ck_assert_int_eq(paths[j], DFI_HSM_PATH_SP800_108);
			check_derived(h, mk, vi, paths[j]);
			dfi_hsm_key_free(mk);
			dfi_hsm_free(h);
			done++;
		}
	}
	ck_assert_uint_gt(done, 0);
}
END_TEST

/* SP 800-108's CMAC pads as AN10922 only from 17 bytes of 0x01 || M. */
START_TEST(sp800_m_lengths)
{
	if (!expected(DFI_KT_AES128, DFI_HSM_PATH_SP800_108))
		return;
	dfi_hsm *h = open_cfg(DFI_HSM_PATH_AUTO, 0, 0);
	static const uint8_t master[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 1, 2, 3, 4,
		5, 6, 7, 8 };
	dfi_hsm_path used;
	ck_assert_int_eq(dfi_hsm_key_import_path(h, DFI_KT_AES128, master, 16, "sp800-lengths", NULL,
			     0, DFI_HSM_PATH_SP800_108, &used), DFI_OK);
	dfi_hsm_key *mk = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(h, "pkcs11:object=sp800-lengths", &mk), DFI_OK);
	for (size_t mlen = 1; mlen <= 31; mlen++) {
		uint8_t m[31], want[16];
		for (size_t i = 0; i < mlen; i++)
			m[i] = (uint8_t)(0xa0 + i * 3);
		dfi_cardkey *ck = NULL;
		dfi_err e = dfi_hsm_cardkey_diversified(h, mk, DFI_KT_AES128, m, mlen, 1, &ck);
		if (mlen < 16) {
			char d[200];
			ck_assert_int_eq(e, DFI_E_HSM_MECHANISM);
			detail_of(h, d, sizeof(d));
			ck_assert_msg(strstr(d, "16..31") != NULL, "%s", d);
			continue;
		}
		ck_assert_int_eq(e, DFI_OK);
		struct got g = { { 0 }, 0 };
		ck_assert_int_eq(dfi_cardkey_with_bytes(ck, grab, &g), DFI_OK);
		ck_assert_int_eq(dfi_an10922_host(DFI_KT_AES128, master, m, mlen, want), DFI_OK);
		ck_assert_uint_eq(g.len, 16);
		ck_assert_mem_eq(g.key, want, 16);
		dfi_cardkey_free(ck);
	}
	dfi_hsm_key_free(mk);
	dfi_hsm_free(h);
}
END_TEST

/* ---- an import that fails after C_CreateObject leaves nothing ---------- */

static int
label_count(dfi_hsm *h, const char *label)
{
	char *uri = NULL;
	CK_OBJECT_HANDLE o[2];
	size_t n = 0;
	ck_assert_int_eq(dfi_hsm_secret_key_uri(label, &uri), DFI_OK);
	ck_assert_int_eq(dfi_hsm_find(h, uri, CKO_SECRET_KEY, o, 2, &n), DFI_OK);
	free(uri);
	return (int)n;
}

START_TEST(import_failure_leaves_nothing)
{
	const char *fp = getenv("DFI_TEST_FAULTP11");
	ck_assert_ptr_nonnull(fp);
	/* faultp11 in front of the module under test, with its arguments. */
	char modfile[600], line[700];
	snprintf(modfile, sizeof(modfile), "%s/fault.module", getenv("DFI_TEST_HSM_DIR"));
	const char *mod = getenv("DFI_TEST_HSM_MODULE");
	FILE *f = fopen(modfile, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "module: %s\n", fp);
	FILE *src = strstr(mod, ".module") != NULL ? fopen(mod, "r") : NULL;
	while (src != NULL && fgets(line, sizeof(line), src) != NULL)
		if (strncmp(line, "x-init-reserved:", 16) == 0)
			fputs(line, f);
	if (src != NULL)
		fclose(src);
	fclose(f);
	setenv("FAULTP11_MODULE", getenv("DFI_TEST_HSM_LIB"), 1);
	char detail[200];
	dfi_hsm *h;
	ck_assert_msg(hsm_fixture_open((struct dfi_hsm_config){ .module = modfile,
	    .token_uri = getenv("DFI_TEST_HSM_TOKEN"), .pin_file = getenv("DFI_TEST_HSM_PIN_FILE"),
	    .allow_host_derivation = 1 }, &h, detail, sizeof(detail)) == DFI_OK, "%s", detail);
	struct faultp11_ctl c;
	faultp11_ctl_open(&c, fp);
	static const uint8_t key[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
	int after_create = 0, ok = 0;
	for (unsigned long k = 1; k < 400 && !ok; k++) {
		char label[32];
		snprintf(label, sizeof(label), "cleanup-%lu", k);
		c.arm(k);
		dfi_err e = dfi_hsm_key_import(h, DFI_KT_AES128, key, 16, label, NULL, 0);
		int hit = c.fired();
		const char *name = c.name();
		c.arm(0);
		if (e == DFI_OK) {
			/* A tolerated failure (an optional attribute read) or none:
			 * the key is there once. */
			ck_assert_int_eq(label_count(h, label), 1);
			ok = !hit; /* every call of the import ran */
			continue;
		}
		ck_assert_int_eq(hit, 1);
		/* Whatever failed, no object of that label is left. */
		ck_assert_msg(label_count(h, label) == 0, "failure at call %lu (%s) left the key", k,
		    name);
		if (strcmp(name, "C_CreateObject") != 0 && strcmp(name, "C_FindObjectsInit") != 0 &&
		    strcmp(name, "C_FindObjects") != 0 && strcmp(name, "C_FindObjectsFinal") != 0)
			after_create++;
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_gt(after_create, 2);
	fprintf(stderr, "%s: %d import failures after C_CreateObject, none left a key\n",
	    getenv("DFI_TEST_HSM"), after_create);
	dfi_hsm_free(h);
}
END_TEST

/* ---- the journal key ---------------------------------------------------- */

START_TEST(journal_key)
{
	const char *alg = getenv("DFI_TEST_JOURNAL");
	ck_assert_ptr_nonnull(alg);
	dfi_hsm *h = open_cfg(DFI_HSM_PATH_AUTO, 0, 0);
	dfi_err e = dfi_hsm_journal_key_generate(h, "j-test", DFI_SIG_ED25519);
	if (e != DFI_OK)
		e = dfi_hsm_journal_key_generate(h, "j-test", DFI_SIG_ECDSA_P256);
	if (strcmp(alg, "none") == 0) {
		ck_assert_int_eq(e, DFI_E_HSM_MECHANISM);
		dfi_hsm_free(h);
		return;
	}
	ck_assert_int_eq(e, DFI_OK);
	dfi_signer *s = NULL;
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=j-test;type=private", &s), DFI_OK);
	ck_assert_int_eq(dfi_signer_alg(s),
	    strcmp(alg, "ed25519") == 0 ? DFI_SIG_ED25519 : DFI_SIG_ECDSA_P256);
	static const uint8_t msg[] = "checkpoint";
	uint8_t sig[DFI_SIG_MAX], der[DFI_PUBKEY_DER_MAX];
	size_t sl = 0, dl = 0;
	ck_assert_int_eq(dfi_signer_sign(s, msg, sizeof(msg) - 1, sig, &sl), DFI_OK);
	ck_assert_int_eq(dfi_signer_public_key_der(s, der, sizeof(der), &dl), DFI_OK);
	const uint8_t *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)dl);
	ck_assert_ptr_nonnull(pk);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	if (dfi_signer_alg(s) == DFI_SIG_ED25519) {
		ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk), 1);
		ck_assert_int_eq(EVP_DigestVerify(mc, sig, sl, msg, sizeof(msg) - 1), 1);
	} else {
		/* raw r||s to DER */
		ECDSA_SIG *es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		uint8_t ds[80], *q = ds;
		int n = i2d_ECDSA_SIG(es, &q);
		ECDSA_SIG_free(es);
		ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk), 1);
		ck_assert_int_eq(EVP_DigestVerify(mc, ds, (size_t)n, msg, sizeof(msg) - 1), 1);
	}
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	dfi_signer_free(s);
	dfi_hsm_free(h);
}
END_TEST

/* An extractable journal key is refused as base keys are (issue 17). */
struct genx_arg {
	int ed;
};

static CK_RV
op_gen_extractable(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct genx_arg *a = argp;
	static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t oid_ed[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	CK_MECHANISM m = { a->ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t id[] = { 0x4a, 0x58 };
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) }, { CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)(a->ed ? oid_ed : oid_p256), a->ed ? sizeof(oid_ed) : sizeof(oid_p256) },
		{ CKA_LABEL, "j-leaky", 7 }, { CKA_ID, id, sizeof(id) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) }, { CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) }, { CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) }, { CKA_LABEL, "j-leaky", 7 }, { CKA_ID, id, sizeof(id) },
	};
	CK_OBJECT_HANDLE hp, hk;
	return P11(h, C_GenerateKeyPair, s, &m, pub, 5, priv, 7, &hp, &hk);
}

START_TEST(journal_key_extractable_refused)
{
	const char *alg = getenv("DFI_TEST_JOURNAL");
	if (strcmp(alg, "none") == 0)
		return; /* the token makes no signing keys: nothing to refuse */
	dfi_hsm *h = open_cfg(DFI_HSM_PATH_AUTO, 0, 0);
	struct genx_arg a = { strcmp(alg, "ed25519") == 0 };
	ck_assert_int_eq(dfi_hsm_run(h, "C_GenerateKeyPair", op_gen_extractable, &a), DFI_OK);
	dfi_signer *s = NULL;
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=j-leaky;type=private", &s),
	    DFI_E_HSM_KEY_INSECURE);
	ck_assert_ptr_null(s);
	char d[200];
	detail_of(h, d, sizeof(d));
	ck_assert_ptr_nonnull(strstr(d, "refused"));
	dfi_hsm_free(h);
	h = open_cfg(DFI_HSM_PATH_AUTO, 0, 1);
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=j-leaky;type=private", &s), DFI_OK);
	dfi_signer_free(s);
	dfi_hsm_free(h);
}
END_TEST

/* ---- loading -------------------------------------------------------------- */

static dfi_err
try_module(const char *module, char *detail, size_t cap)
{
	struct dfi_hsm_config cfg = { .module = module, .token_uri = getenv("DFI_TEST_HSM_TOKEN"),
		.pin_file = getenv("DFI_TEST_HSM_PIN_FILE"), .detail = detail, .detail_cap = cap };
	dfi_hsm *h = NULL;
	dfi_err e = dfi_hsm_open(&h, &cfg);
	dfi_hsm_free(h);
	return e;
}

START_TEST(module_files)
{
	char path[600], d[200];
	const char *dir = getenv("DFI_TEST_HSM_DIR");
	/* A module file without "module:" */
	snprintf(path, sizeof(path), "%s/empty.module", dir);
	FILE *f = fopen(path, "w");
	fputs("# nothing\ncritical: yes\n", f);
	fclose(f);
	ck_assert_int_eq(try_module(path, d, sizeof(d)), DFI_E_HSM_MODULE);
	ck_assert_ptr_nonnull(strstr(d, "no 'module:' line"));
	/* A module file naming a library that is not there */
	snprintf(path, sizeof(path), "%s/gone.module", dir);
	f = fopen(path, "w");
	fputs("module: /nonexistent/libnothing.so\n", f);
	fclose(f);
	ck_assert_int_eq(try_module(path, d, sizeof(d)), DFI_E_HSM_MODULE);
	ck_assert_ptr_nonnull(strstr(d, "/nonexistent/libnothing.so"));
	/* The module file under test works, and so does the probe. */
	ck_assert_int_eq(try_module(getenv("DFI_TEST_HSM_MODULE"), d, sizeof(d)), DFI_OK);
	struct dfi_hsm_config cfg = { .module = getenv("DFI_TEST_HSM_MODULE") };
	struct dfi_hsm_module_info mi;
	struct dfi_hsm_slot_info *slots = NULL;
	size_t n = 0;
	ck_assert_int_eq(dfi_hsm_probe(&cfg, &mi, &slots, &n), DFI_OK);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_gt(strlen(mi.path), 0);
	int found = 0;
	const char *tok = strstr(getenv("DFI_TEST_HSM_TOKEN"), "token=") + 6;
	for (size_t i = 0; i < n; i++)
		found |= slots[i].token_present && strncmp(slots[i].label, tok, 3) == 0;
	ck_assert_int_eq(found, 1);
	free(slots);
	/* NSS refuses to start without its arguments: the error says so. */
	if (strcmp(getenv("DFI_TEST_HSM"), "nss") == 0) {
		ck_assert_int_eq(try_module(getenv("DFI_TEST_HSM_LIB"), d, sizeof(d)), DFI_E_HSM_INIT);
		ck_assert_ptr_nonnull(strstr(d, "C_Initialize"));
		ck_assert_ptr_nonnull(strstr(dfi_strerror(DFI_E_HSM_INIT), "x-init-reserved"));
	}
}
END_TEST

int
main(void)
{
	if (getenv("DFI_TEST_HSM_MODULE") == NULL || getenv("DFI_TEST_EXPECT") == NULL) {
		fprintf(stderr, "test_hsm_paths: run it through tests/hsm/with_token.sh (ctest does)\n");
		return EXIT_FAILURE;
	}
	/* named after the module, as its failures are */
	const char *name = getenv("DFI_TEST_HSM") ? getenv("DFI_TEST_HSM") : "module";
	return dfi_test_main(name, &(const struct dfi_test_case){ .timeout = 120 },
	    (const TTest *[]){ paths_offered, vectors_every_path, ceremony_per_path,
	    sp800_m_lengths, import_failure_leaves_nothing, journal_key,
	    journal_key_extractable_refused, module_files, NULL });
}
