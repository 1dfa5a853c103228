/*
 * libFuzzer: the HSM layer against a PKCS#11 module whose answers lie.
 *
 * The dev token (SoftHSM2, made once per process by make-dev-token.sh) is
 * opened through the engine's normal path; then the handle's function
 * list (hsm_int.h, the private seam: no public API) is swapped for a copy
 * whose C_GetAttributeValue, C_FindObjects, C_Encrypt, C_Decrypt and
 * C_Sign forward to SoftHSM2 and rewrite a successful answer as the input
 * says. Each input then finds a base key and reads its KCV, diversifies a
 * card key and CMACs and enciphers with it, and opens the journal key,
 * signs and reads its public key (`dfissue key list`, display only, is
 * left to tests/hsm/test_hsm_lie.sh: it costs more than all of these).
 *
 * Input: records [call][nth][kind][param]: the nth call (from 0, this
 * input) of call (% 5) gets kind (% 7) with param. Kinds: a length or
 * count grown past the buffer (by param + 1), shrunk (by param % len + 1),
 * set to param, 2^40 + param, CK_UNAVAILABLE_INFORMATION (these five
 * change only lengths: "honest bytes"), or the output bytes XORed with
 * param | 1, or (C_GetAttributeValue) a CKA_VALUE_LEN of param << 32.
 * C_GetAttributeValue applies it to attribute param % count.
 *
 * Oracles, besides the sanitizers (the answers never write past the
 * engine's buffers; only what they report does): an operation that
 * succeeds after lies that changed only lengths gives the true result
 * (the KCV, CMAC, ciphertext, signature and public key an honest module
 * gives); after every input no session is borrowed and no session object
 * (a per-card key) is left on the token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/cardkey.h"
#include "dfissue/hsm.h"
#include "dfissue/signer.h"
#include "hsm/hsm_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIE(...) (fprintf(stderr, "fuzz_hsm_returns: " __VA_ARGS__), fputc('\n', stderr), abort())

enum call { C_ATTR, C_FIND, C_ENC, C_DEC, C_SIGN, C_NCALLS };
enum kind { K_GROW, K_SHRINK, K_SET, K_HUGE, K_UNAVAIL, K_XOR, K_VLEN, K_NKINDS };

#define MAX_REC 16
static struct rec {
	uint8_t call, nth, kind, param;
} recs[MAX_REC];
static size_t nrec;
static unsigned seen[C_NCALLS];
static int lied, lied_bytes; /* this input: any lie; one that changed bytes */

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST lying;

/* The record for this call of c, if any (counts the call). */
static const struct rec *
due(enum call c)
{
	unsigned n = seen[c]++;
	for (size_t i = 0; i < nrec; i++)
		if (recs[i].call == c && recs[i].nth == n)
			return &recs[i];
	return NULL;
}

/* A reported length under kind k (cap: the buffer the caller gave). */
static CK_ULONG
lie_len(const struct rec *r, CK_ULONG len, CK_ULONG cap)
{
	switch (r->kind) {
	case K_GROW: return cap + r->param + 1;
	case K_SHRINK: return len > 0 ? len - (r->param % len) - 1 : 0;
	case K_SET: return r->param;
	case K_HUGE: return ((CK_ULONG)1 << 40) + r->param;
	case K_UNAVAIL: return CK_UNAVAILABLE_INFORMATION;
	default: return len;
	}
}

static void
lie_out(const struct rec *r, CK_BYTE_PTR out, CK_ULONG cap, CK_ULONG_PTR len)
{
	lied = 1;
	if (r->kind == K_XOR || r->kind == K_VLEN) {
		lied_bytes = 1;
		for (CK_ULONG i = 0; out != NULL && i < *len && i < cap; i++)
			out[i] ^= (uint8_t)(r->param | 1);
	} else {
		*len = lie_len(r, *len, cap);
	}
}

static CK_RV
l_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_ULONG cap = n > 0 ? t[0].ulValueLen : 0;
	const struct rec *r = due(C_ATTR);
	CK_ATTRIBUTE *a = r != NULL && n > 0 ? &t[r->param % n] : NULL;
	if (a != NULL)
		cap = a->ulValueLen;
	CK_RV rv = real->C_GetAttributeValue(s, o, t, n);
	int answered = rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL;
	if (a == NULL || !answered || a->ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return rv;
	if (r->kind == K_VLEN && a->type == CKA_VALUE_LEN && a->pValue != NULL &&
	    a->ulValueLen == sizeof(CK_ULONG)) {
		CK_ULONG v = (CK_ULONG)r->param << 32;
		memcpy(a->pValue, &v, sizeof(v));
		lied = lied_bytes = 1;
	} else if (r->kind != K_VLEN) {
		lie_out(r, a->pValue, cap, &a->ulValueLen);
	}
	return rv;
}

static CK_RV
l_find(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n)
{
	const struct rec *r = due(C_FIND);
	CK_RV rv = real->C_FindObjects(s, o, max, n);
	if (r != NULL && rv == CKR_OK && r->kind != K_VLEN)
		lie_out(r, (CK_BYTE_PTR)o, max * sizeof(*o), n);
	return rv;
}

/* The one-shot calls with a byte output. */
#define L_OUT(fn, call)                                                                   \
	static CK_RV l_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out, \
	    CK_ULONG_PTR outlen)                                                              \
	{                                                                                 \
		CK_ULONG cap = outlen != NULL ? *outlen : 0;                              \
		const struct rec *r = due(call);                                          \
		CK_RV rv = real->fn(s, in, inlen, out, outlen);                           \
		if (r != NULL && rv == CKR_OK && r->kind != K_VLEN)                      \
			lie_out(r, out, cap, outlen);                                     \
		return rv;                                                                \
	}
L_OUT(C_Encrypt, C_ENC)
L_OUT(C_Decrypt, C_DEC)
L_OUT(C_Sign, C_SIGN)

/* ---- the work of one input ------------------------------------------------ */

static dfi_hsm *hsm;
static CK_SESSION_HANDLE watch; /* a session of our own, to count session objects */

struct result {
	dfi_err find, kcv_e, card, cmac_e, enc_e, signer, sign_e, pub_e;
	uint8_t kcv[3], cmac[16], enc[16], sig[DFI_SIG_MAX], pub[DFI_PUBKEY_DER_MAX];
	size_t siglen, publen;
};
static struct result truth;

static const uint8_t uid_m[] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5,
	0x4E, 0x58, 0x50, 0x20, 0x41, 0x62, 0x75 }; /* AN10922's M: UID, AID, system id */
static const uint8_t msg[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void
run(struct result *r)
{
	memset(r, 0, sizeof(*r));
	/* An operation not reached (an earlier one failed) did not succeed. */
	r->kcv_e = r->card = r->cmac_e = r->enc_e = r->sign_e = r->pub_e = DFI_E_INVALID_ARG;
	dfi_hsm_key *k = NULL;
	r->find = dfi_hsm_key_find(hsm, "pkcs11:object=picc-master", &k);
	if (r->find == DFI_OK) {
		r->kcv_e = dfi_hsm_kcv(hsm, k, r->kcv);
		dfi_cardkey *ck = NULL;
		r->card = dfi_hsm_cardkey_diversified(hsm, k, DFI_KT_AES128, uid_m, sizeof(uid_m), 0, &ck);
		if (r->card == DFI_OK) {
			r->cmac_e = dfi_cardkey_cmac(ck, msg, sizeof(msg), r->cmac);
			r->enc_e = dfi_cardkey_cipher(ck, 1, NULL, msg, r->enc, sizeof(r->enc));
		}
		dfi_cardkey_free(ck);
	}
	dfi_hsm_key_free(k);
	dfi_signer *sg = NULL;
	r->signer = dfi_hsm_signer_new(hsm, "pkcs11:object=journal;type=private", &sg);
	if (r->signer == DFI_OK) {
		r->sign_e = dfi_signer_sign(sg, msg, sizeof(msg), r->sig, &r->siglen);
		r->pub_e = dfi_signer_public_key_der(sg, r->pub, sizeof(r->pub), &r->publen);
	}
	dfi_signer_free(sg);
}

/* Succeeded, then the true result. */
#define SAME(e, field, n)                                                             \
	do {                                                                          \
		if (got.e == DFI_OK && memcmp(got.field, truth.field, (n)) != 0)      \
			DIE("%s succeeded with a wrong result after lies of lengths", #field); \
	} while (0)

static void
check_left(void)
{
	pthread_mutex_lock(&hsm->mu);
	size_t open = hsm->nopen, idle = hsm->nidle;
	pthread_mutex_unlock(&hsm->mu);
	if (open != idle)
		DIE("%zu sessions open, %zu idle: one was not given back", open, idle);
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE t[] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_OBJECT_HANDLE o[4];
	CK_ULONG n = 0;
	if (real->C_FindObjectsInit(watch, t, 1) != CKR_OK ||
	    real->C_FindObjects(watch, o, 4, &n) != CKR_OK || real->C_FindObjectsFinal(watch) != CKR_OK)
		DIE("counting session objects");
	if (n != 0)
		DIE("%lu session objects left on the token", (unsigned long)n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nrec = 0;
	for (size_t i = 0; i + 4 <= size && nrec < MAX_REC; i += 4)
		recs[nrec++] = (struct rec){ data[i] % C_NCALLS, data[i + 1], data[i + 2] % K_NKINDS,
			data[i + 3] };
	memset(seen, 0, sizeof(seen));
	lied = lied_bytes = 0;
	struct result got;
	run(&got);
	check_left();
	if (!lied) {
		/* No lie told: exactly the honest run. */
		if (got.find != truth.find || got.kcv_e != truth.kcv_e || got.cmac_e != truth.cmac_e ||
		    got.sign_e != truth.sign_e || got.pub_e != truth.pub_e)
			DIE("an input that told no lie failed");
	}
	if (!lied_bytes) {
		SAME(kcv_e, kcv, sizeof(got.kcv));
		SAME(cmac_e, cmac, sizeof(got.cmac));
		SAME(enc_e, enc, sizeof(got.enc));
		SAME(pub_e, pub, truth.publen);
		if (got.sign_e == DFI_OK && (got.siglen != truth.siglen ||
		    memcmp(got.sig, truth.sig, truth.siglen) != 0))
			DIE("the signature succeeded with a wrong result after lies of lengths");
	}
	return 0;
}

static const char *
path_env(const char *var, const char *dflt)
{
	const char *v = getenv(var);
	return v != NULL && v[0] != '\0' ? v : dflt;
}

static char root[64] = "/tmp/dfissue-fuzz-hsm-XXXXXX";

static void
cleanup(void)
{
	if (hsm != NULL) {
		real->C_CloseSession(watch);
		hsm->fl = real; /* p11-kit finalizes the module by its own list */
		dfi_hsm_free(hsm);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_hsm_returns: could not remove %s\n", root);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *src = path_env("DFI_SOURCE_DIR", DFI_FUZZ_SOURCE_DIR);
	const char *bld = path_env("DFI_BUILD_DIR", DFI_FUZZ_BUILD_DIR);
	const char *mod = path_env("SOFTHSM2_MODULE", DFI_FUZZ_SOFTHSM2_MODULE);
	if (mkdtemp(root) == NULL)
		DIE("mkdtemp");
	atexit(cleanup);
	char cmd[1024], conf[128], pin[128], detail[320] = "";
	snprintf(cmd, sizeof(cmd),
	    "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s/bin/dfissue' >/dev/null </dev/null",
	    src, root, bld);
	if (system(cmd) != 0)
		DIE("could not make the dev token: %s", cmd);
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", root);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(pin, sizeof(pin), "%s/dev/user.pin", root);
	struct dfi_hsm_config hc = { .module = mod, .token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = pin, .detail = detail, .detail_cap = sizeof(detail) };
	if (dfi_hsm_open(&hsm, &hc) != DFI_OK)
		DIE("HSM: %s", detail);
	real = hsm->fl;
	if (real->C_OpenSession(hsm->slot, CKF_SERIAL_SESSION, NULL, NULL, &watch) != CKR_OK)
		DIE("C_OpenSession");
	run(&truth);
	if (truth.find != DFI_OK || truth.kcv_e != DFI_OK || truth.cmac_e != DFI_OK ||
	    truth.enc_e != DFI_OK || truth.sign_e != DFI_OK || truth.pub_e != DFI_OK)
		DIE("the honest run failed");
	lying = *real;
	lying.C_GetAttributeValue = l_attr;
	lying.C_FindObjects = l_find;
	lying.C_Encrypt = l_C_Encrypt;
	lying.C_Decrypt = l_C_Decrypt;
	lying.C_Sign = l_C_Sign;
	hsm->fl = &lying;
	return 0;
}
