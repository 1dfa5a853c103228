/* C2SP tlog-checkpoint bodies and C2SP signed notes around them.
 *
 *   <origin>\n<size>\n<base64 root>\n      (the signed text)
 *   \n
 *   \xE2\x80\x94 <key name> <base64(key ID || signature)>\n
 *
 * Key name = origin. Ed25519 (type 0x01): key ID = SHA-256(name || 0x0A ||
 * 0x01 || 32-byte key)[:4], signature over the text. ECDSA P-256 (type 0x02,
 * as transparency-dev/witness): key ID = SHA-256(DER SPKI)[:4], ASN.1 DER
 * signature over SHA-256(text).
 *
 * Issue 17, finding 7: a checkpoint is literally unchangeable. ECDSA
 * signatures are written low-s (s <= n/2) and a high-s one is refused, so
 * n - s is no second valid spelling; Ed25519 needs nothing (OpenSSL refuses
 * S >= L, RFC 8032 §5.1.7). A note carries exactly one signature line, by
 * the journal key: any other line (another key name or key ID, or a second
 * line with the journal's key ID) is refused, where C2SP would ignore it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_int.h"

static const char emdash[] = "\xE2\x80\x94";

struct dfi_jpubkey {
	EVP_PKEY *pkey;
	dfi_sigalg alg;
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t der_len;
	uint8_t raw[32];  /* Ed25519 only */
};

static dfi_err
wrap(EVP_PKEY *p, dfi_jpubkey **out)
{
	dfi_jpubkey *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(p);
		return DFI_E_NOMEM;
	}
	k->pkey = p;
	if (EVP_PKEY_get_id(p) == EVP_PKEY_ED25519) {
		size_t n = sizeof(k->raw);
		if (EVP_PKEY_get_raw_public_key(p, k->raw, &n) != 1 || n != 32)
			goto bad;
		k->alg = DFI_SIG_ED25519;
	} else if (EVP_PKEY_get_id(p) == EVP_PKEY_EC) {
		char grp[64];
		size_t gl = 0;
		if (EVP_PKEY_get_utf8_string_param(p, "group", grp, sizeof(grp), &gl) != 1 ||
		    strcmp(grp, "prime256v1") != 0)
			goto bad;
		k->alg = DFI_SIG_ECDSA_P256;
	} else {
		goto bad;
	}
	int n = i2d_PUBKEY(p, NULL);
	if (n <= 0 || (size_t)n > sizeof(k->der))
		goto bad;
	unsigned char *q = k->der;
	i2d_PUBKEY(p, &q);
	k->der_len = (size_t)n;
	*out = k;
	return DFI_OK;
bad:
	dfi_jpubkey_free(k);
	return DFI_E_UNSUPPORTED;
}

dfi_err
dfi_jpubkey_from_pem(const char *pem, size_t len, dfi_jpubkey **out)
{
	if (pem == NULL || out == NULL || len > INT32_MAX)
		return DFI_E_INVALID_ARG;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (b == NULL)
		return DFI_E_NOMEM;
	EVP_PKEY *p = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (p == NULL)
		return DFI_E_PARSE;
	return wrap(p, out);
}

dfi_err
dfi_jpubkey_from_der(const uint8_t *der, size_t len, dfi_jpubkey **out)
{
	if (der == NULL || out == NULL || len > INT32_MAX)
		return DFI_E_INVALID_ARG;
	const unsigned char *q = der;
	EVP_PKEY *p = d2i_PUBKEY(NULL, &q, (long)len);
	if (p == NULL)
		return DFI_E_PARSE;
	if (q != der + len) {
		EVP_PKEY_free(p);
		return DFI_E_PARSE;
	}
	return wrap(p, out);
}

dfi_err
dfi_jpubkey_from_signer(dfi_signer *s, dfi_jpubkey **out)
{
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t n;
	dfi_err e = dfi_signer_public_key_der(s, der, sizeof(der), &n);
	if (e != DFI_OK)
		return e;
	e = dfi_jpubkey_from_der(der, n, out);
	if (e == DFI_OK && (*out)->alg != dfi_signer_alg(s)) {
		dfi_jpubkey_free(*out);
		*out = NULL;
		return DFI_E_HSM_KEY_TYPE;
	}
	return e;
}

void
dfi_jpubkey_free(dfi_jpubkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

dfi_sigalg dfi_jpubkey_alg(const dfi_jpubkey *k) { return k != NULL ? k->alg : (dfi_sigalg)0; }

dfi_err
dfi_jpubkey_key_id(const dfi_jpubkey *k, const char *name, uint32_t *id)
{
	if (k == NULL || name == NULL || id == NULL)
		return DFI_E_INVALID_ARG;
	uint8_t h[32];
	if (k->alg == DFI_SIG_ED25519) {
		size_t nl = strlen(name);
		if (nl >= DFI_J_STR_MAX)
			return DFI_E_INVALID_ARG;
		uint8_t b[DFI_J_STR_MAX + 2 + 32];
		memcpy(b, name, nl);
		b[nl] = 0x0A;
		b[nl + 1] = 0x01;
		memcpy(b + nl + 2, k->raw, 32);
		SHA256(b, nl + 2 + 32, h);
	} else {
		SHA256(k->der, k->der_len, h);
	}
	*id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	return DFI_OK;
}

/* ---- base64 (RFC 4648 §4, padded), strict ------------------------------- */

size_t
dfi_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t need = 4 * ((len + 2) / 3) + 1;
	if (cap < need || len > INT32_MAX / 2)
		return 0;
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static int
b64ch(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

dfi_err
dfi_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	if (len == 0 || len % 4 != 0 || len > INT32_MAX / 2)
		return DFI_E_PARSE;
	size_t pad = 0;
	for (size_t i = 0; i < len; i++) {
		if (b64ch(in[i]) && pad == 0)
			continue;
		if (in[i] == '=' && i >= len - 2) {
			pad++;
			continue;
		}
		return DFI_E_PARSE;
	}
	size_t n = len / 4 * 3 - pad;
	if (n > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	/* EVP_DecodeBlock writes the padding's zero bytes too: a note's
	 * worth decodes on the stack (a malloc per field was ~2 % of a
	 * checkpoint-dense verify, issue 19), anything longer on the heap. */
	uint8_t stack[DFI_J_NOTE_MAX * 2];
	uint8_t *tmp = len / 4 * 3 <= sizeof(stack) ? stack : malloc(len / 4 * 3);
	if (tmp == NULL)
		return DFI_E_NOMEM;
	int r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (r >= 0)
		memcpy(out, tmp, n);
	if (tmp != stack)
		free(tmp);
	if (r < 0)
		return DFI_E_PARSE;
	/* Non-zero bits in the padding would be a second spelling. Only the
	 * last quantum can hold padding (checked above), and four alphabet
	 * characters without it have one spelling: encoding the last quantum
	 * again and comparing is the whole check. */
	size_t q = (len / 4 - 1) * 3;
	char chk[8];
	if (dfi_b64_encode(out + q, n - q, chk, sizeof(chk)) != 4 || memcmp(chk, in + len - 4, 4) != 0)
		return DFI_E_PARSE;
	*outlen = n;
	return DFI_OK;
}

/* ---- checkpoint text ----------------------------------------------------- */

static int
origin_ok(const char *o)
{
	size_t n = strlen(o);
	if (n == 0 || n >= DFI_J_STR_MAX)
		return 0;
	/* A key name has no spaces and no '+'; we also keep it printable ASCII
	 * so it survives the journal's record grammar unchanged. */
	for (size_t i = 0; i < n; i++)
		if (o[i] <= 0x20 || o[i] >= 0x7F || o[i] == '+')
			return 0;
	return 1;
}

int dfi_journal_origin_valid(const char *origin) { return origin != NULL && origin_ok(origin); }

static dfi_err
cp_text(const dfi_checkpoint *cp, char *buf, size_t cap, size_t *len)
{
	char root[64];
	if (!origin_ok(cp->origin) || dfi_b64_encode(cp->root, DFI_HASH_LEN, root, sizeof(root)) == 0)
		return DFI_E_INVALID_ARG;
	if (cp->prev_size >= cp->size)
		return DFI_E_INVALID_ARG;
	int n = snprintf(buf, cap, "%s\n%" PRIu64 "\n%s\nprev %" PRIu64 "\n", cp->origin, cp->size, root,
	    cp->prev_size);
	if (n < 0 || (size_t)n >= cap)
		return DFI_E_BUFFER_TOO_SMALL;
	*len = (size_t)n;
	return DFI_OK;
}

/* The order n of P-256 (FIPS 186-4 D.1.2.3). */
static const uint8_t p256_n[32] = { 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9,
	0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51 };

/* 1 when s > n/2 (a high-s ECDSA signature), 0 when not, -1 on failure. */
static int
p256_high_s(const BIGNUM *s)
{
	BIGNUM *half = BN_bin2bn(p256_n, sizeof(p256_n), NULL);
	int r = half != NULL && BN_rshift1(half, half) == 1 ? BN_cmp(s, half) > 0 : -1;
	BN_free(half);
	return r;
}

/* s -> n - s when s > n/2: whichever produced the signature (the HSM or
 * OpenSSL), the journal holds its one low-s form. */
static int
p256_low_s(BIGNUM *s)
{
	int high = p256_high_s(s);
	if (high <= 0)
		return high == 0;
	BIGNUM *n = BN_bin2bn(p256_n, sizeof(p256_n), NULL);
	int ok = n != NULL && BN_sub(s, n, s) == 1;
	BN_free(n);
	return ok;
}

static dfi_err
raw_to_der(const uint8_t *sig, size_t n, uint8_t *der, size_t cap, size_t *dlen)
{
	if (n != 64)
		return DFI_E_CRYPTO;
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	if (ss != NULL && !p256_low_s(ss)) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return DFI_E_CRYPTO;
	}
	if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return DFI_E_NOMEM;
	}
	int l = i2d_ECDSA_SIG(s, NULL);
	if (l <= 0 || (size_t)l > cap) {
		ECDSA_SIG_free(s);
		return DFI_E_CRYPTO;
	}
	unsigned char *q = der;
	i2d_ECDSA_SIG(s, &q);
	ECDSA_SIG_free(s);
	*dlen = (size_t)l;
	return DFI_OK;
}

dfi_err
dfi_note_sign(const dfi_checkpoint *cp, dfi_signer *s, uint8_t *note, size_t cap, size_t *len)
{
	if (cp == NULL || s == NULL || note == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	dfi_jpubkey *pk = NULL;
	uint32_t id;
	dfi_err e;
	if ((e = dfi_jpubkey_from_signer(s, &pk)) != DFI_OK)
		return e;
	e = dfi_jpubkey_key_id(pk, cp->origin, &id);
	dfi_jpubkey_free(pk);
	if (e != DFI_OK)
		return e;
	return dfi_note_sign_id(cp, s, id, note, cap, len);
}

dfi_err
dfi_note_sign_id(const dfi_checkpoint *cp, dfi_signer *s, uint32_t id, uint8_t *note, size_t cap,
    size_t *len)
{
	char text[DFI_J_NOTE_MAX];
	size_t tl;
	dfi_err e = cp_text(cp, text, sizeof(text), &tl);
	if (e != DFI_OK)
		return e;
	uint8_t sig[4 + 80];
	size_t sl = 0;
	uint8_t raw[DFI_SIG_MAX];
	if ((e = dfi_signer_sign(s, (const uint8_t *)text, tl, raw, &sl)) != DFI_OK)
		return e;
	sig[0] = (uint8_t)(id >> 24);
	sig[1] = (uint8_t)(id >> 16);
	sig[2] = (uint8_t)(id >> 8);
	sig[3] = (uint8_t)id;
	if (dfi_signer_alg(s) == DFI_SIG_ED25519) {
		if (sl != 64)
			return DFI_E_CRYPTO;
		memcpy(sig + 4, raw, 64);
		sl += 4;
	} else {
		size_t dl;
		if ((e = raw_to_der(raw, sl, sig + 4, sizeof(sig) - 4, &dl)) != DFI_OK)
			return e;
		sl = dl + 4;
	}
	char b64[160];
	if (dfi_b64_encode(sig, sl, b64, sizeof(b64)) == 0)
		return DFI_E_INTERNAL;
	int n = snprintf((char *)note, cap, "%s\n%s %s %s\n", text, emdash, cp->origin, b64);
	if (n < 0 || (size_t)n >= cap)
		return DFI_E_BUFFER_TOO_SMALL;
	*len = (size_t)n;
	return DFI_OK;
}

enum { SIG_BAD = 0, SIG_GOOD = 1, SIG_HIGH_S = 2 };

/* A verify context for k, initialized; NULL on failure. */
static EVP_MD_CTX *
verify_ctx(const dfi_jpubkey *k)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c != NULL && EVP_DigestVerifyInit(c, NULL, k->alg == DFI_SIG_ED25519 ? NULL : EVP_sha256(),
			     NULL, k->pkey) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

struct jnotever {
	const dfi_jpubkey *key;
	EVP_MD_CTX *tmpl;              /* initialized for key, never used itself */
	EVP_MD_CTX *ctx;               /* a copy of tmpl per signature */
	char origin[DFI_J_STR_MAX];    /* the last origin ("" none) and its key ID */
	uint32_t id;
};

struct jnotever *
jnotever_new(const dfi_jpubkey *key)
{
	if (key == NULL)
		return NULL;
	struct jnotever *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->key = key;
	v->tmpl = verify_ctx(key);
	v->ctx = EVP_MD_CTX_new();
	if (v->tmpl == NULL || v->ctx == NULL) {
		jnotever_free(v);
		return NULL;
	}
	return v;
}

void
jnotever_free(struct jnotever *v)
{
	if (v == NULL)
		return;
	EVP_MD_CTX_free(v->tmpl);
	EVP_MD_CTX_free(v->ctx);
	free(v);
}

/* The key ID of k under origin, from v's last one when it is the same
 * origin (a SHA-256 and its fetch per note otherwise). */
static dfi_err
key_id_for(const dfi_jpubkey *k, struct jnotever *v, const char *origin, uint32_t *id)
{
	if (v != NULL && v->origin[0] != '\0' && strcmp(v->origin, origin) == 0) {
		*id = v->id;
		return DFI_OK;
	}
	dfi_err e = dfi_jpubkey_key_id(k, origin, id);
	if (e == DFI_OK && v != NULL && strlen(origin) < sizeof(v->origin)) {
		strcpy(v->origin, origin);
		v->id = *id;
	}
	return e;
}

/* SIG_GOOD, SIG_BAD, or SIG_HIGH_S for an ECDSA signature whose s > n/2
 * (refused before OpenSSL, which accepts both s and n - s). Ed25519 needs
 * no such check: OpenSSL's verify refuses S >= L (RFC 8032 §5.1.7), so an
 * Ed25519 signature has one encoding (test_journal_sigrules). OpenSSL also
 * refuses an ECDSA signature whose DER is not the one canonical encoding. */
static int
verify_sig(const dfi_jpubkey *k, struct jnotever *v, const uint8_t *msg, size_t mlen,
    const uint8_t *sig, size_t slen)
{
	if (k->alg == DFI_SIG_ECDSA_P256) {
		const unsigned char *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)slen);
		int high = es != NULL ? p256_high_s(ECDSA_SIG_get0_s(es)) : 0;
		ECDSA_SIG_free(es);
		if (high != 0)
			return high > 0 ? SIG_HIGH_S : SIG_BAD;
	}
	if (v != NULL) {
		/* A copy of the context initialized once: the init's provider
		 * fetches cost ~4 % of each verify (issue 19). */
		int ok = EVP_MD_CTX_copy_ex(v->ctx, v->tmpl) == 1 &&
		    EVP_DigestVerify(v->ctx, sig, slen, msg, mlen) == 1;
		return ok ? SIG_GOOD : SIG_BAD;
	}
	EVP_MD_CTX *c = verify_ctx(k);
	if (c == NULL)
		return SIG_BAD;
	int ok = EVP_DigestVerify(c, sig, slen, msg, mlen) == 1;
	EVP_MD_CTX_free(c);
	return ok ? SIG_GOOD : SIG_BAD;
}

int
jparse_u64(const char *p, const char *end, uint64_t *out)
{
	if (p == end || end - p > 20 || (end - p > 1 && *p == '0'))
		return -1;
	uint64_t v = 0;
	for (const char *q = p; q < end; q++) {
		if (*q < '0' || *q > '9')
			return -1;
		unsigned d = (unsigned)(*q - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Parses "<origin>\n<size>\n<root>\nprev <n>\n" exactly: our one
 * extension line and no other. */
static dfi_err
parse_text(const char *t, size_t n, dfi_checkpoint *cp)
{
	const char *nl1 = memchr(t, '\n', n);
	if (nl1 == NULL || nl1 == t || (size_t)(nl1 - t) >= DFI_J_STR_MAX)
		return DFI_E_JOURNAL_FORMAT;
	memcpy(cp->origin, t, (size_t)(nl1 - t));
	cp->origin[nl1 - t] = '\0';
	if (!origin_ok(cp->origin))
		return DFI_E_JOURNAL_FORMAT;
	const char *p = nl1 + 1, *end = t + n;
	const char *nl2 = memchr(p, '\n', (size_t)(end - p));
	if (nl2 == NULL || jparse_u64(p, nl2, &cp->size) != 0)
		return DFI_E_JOURNAL_FORMAT;
	p = nl2 + 1;
	const char *nl3 = memchr(p, '\n', (size_t)(end - p));
	size_t rl;
	if (nl3 == NULL || dfi_b64_decode(p, (size_t)(nl3 - p), cp->root, DFI_HASH_LEN, &rl) != DFI_OK ||
	    rl != DFI_HASH_LEN)
		return DFI_E_JOURNAL_FORMAT;
	p = nl3 + 1;
	const char *nl4 = memchr(p, '\n', (size_t)(end - p));
	if (nl4 == NULL || nl4 + 1 != end || nl4 - p < 6 || memcmp(p, "prev ", 5) != 0 ||
	    jparse_u64(p + 5, nl4, &cp->prev_size) != 0 || cp->prev_size >= cp->size)
		return DFI_E_JOURNAL_FORMAT;
	return DFI_OK;
}

/* One signature line's key name and key ID, for a finding. */
static void
sig_line_name(char *out, size_t cap, int no, const char *name, size_t nl, uint32_t id)
{
	snprintf(out, cap, "signature line %d (key name '%.*s%s', key ID %08" PRIX32 ")", no,
	    (int)(nl > 64 ? 64 : nl), name, nl > 64 ? "..." : "", id);
}

static dfi_err
note_open(const uint8_t *note, size_t len, const dfi_jpubkey *key, struct jnotever *v,
    dfi_checkpoint *cp, char *why, size_t cap)
{
	char dummy[1];
	if (why == NULL || cap == 0) {
		why = dummy;
		cap = sizeof(dummy);
	}
	why[0] = '\0';
	if (note == NULL || cp == NULL)
		return DFI_E_INVALID_ARG;
	memset(cp, 0, sizeof(*cp));
	if (len < 2 || len > DFI_J_NOTE_MAX || note[len - 1] != '\n')
		return DFI_E_JOURNAL_FORMAT;
	const char *s = (const char *)note;
	for (size_t i = 0; i < len; i++)
		if ((note[i] < 0x20 && note[i] != '\n') || note[i] == 0x7F)
			return DFI_E_JOURNAL_FORMAT;
	/* The text ends at the last blank line ("\n\n"). */
	size_t sep = 0;
	int found = 0;
	for (size_t i = len - 1; i > 0; i--)
		if (s[i] == '\n' && s[i - 1] == '\n') {
			sep = i;
			found = 1;
			break;
		}
	if (!found)
		return DFI_E_JOURNAL_FORMAT;
	size_t tl = sep; /* text includes its final newline */
	dfi_err e = parse_text(s, tl, cp);
	if (e != DFI_OK)
		return e;
	uint32_t want = 0;
	if (key != NULL && (e = key_id_for(key, v, cp->origin, &want)) != DFI_OK)
		return e;
	/* Signature lines: "— name base64\n", at least one, at most 16 parsed;
	 * exactly one may be there, the journal key's: key name = origin and,
	 * with a key, its key ID (without a key, the first line named after
	 * the origin stands for it). */
	const char *p = s + sep + 1, *end = s + len;
	int nsig = 0, mine = 0, verdict = SIG_GOOD, nforeign = 0;
	char foreign[160] = "";
	size_t el = sizeof(emdash) - 1, ol = strlen(cp->origin);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || ++nsig > 16)
			return DFI_E_JOURNAL_FORMAT;
		if ((size_t)(nl - p) < el + 1 || memcmp(p, emdash, el) != 0 || p[el] != ' ')
			return DFI_E_JOURNAL_FORMAT;
		const char *name = p + el + 1;
		const char *sp = memchr(name, ' ', (size_t)(nl - name));
		if (sp == NULL || sp == name)
			return DFI_E_JOURNAL_FORMAT;
		uint8_t sig[4 + 160];
		size_t sl;
		if (dfi_b64_decode(sp + 1, (size_t)(nl - sp - 1), sig, sizeof(sig), &sl) != DFI_OK ||
		    sl < 5)
			return DFI_E_JOURNAL_FORMAT;
		uint32_t id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 |
		    sig[3];
		size_t nlen = (size_t)(sp - name);
		int journal_key = nlen == ol && memcmp(name, cp->origin, ol) == 0 &&
		    (key == NULL || id == want);
		if (journal_key && !mine) {
			mine = nsig;
			if (key != NULL)
				verdict = verify_sig(key, v, note, tl, sig + 4, sl - 4);
		} else if (nforeign++ == 0) {
			sig_line_name(foreign, sizeof(foreign), nsig, name, nlen, id);
		}
		p = nl + 1;
	}
	if (nsig == 0)
		return DFI_E_JOURNAL_FORMAT;
	if (nforeign > 0) {
		char own[40] = "";
		if (key != NULL)
			snprintf(own, sizeof(own), ", key ID %08" PRIX32, want);
		snprintf(why, cap, "foreign %s: a checkpoint carries exactly one signature line, by the "
		    "journal key (key name '%s'%s), and this one has %d%s%s", foreign, cp->origin, own,
		    nsig, !mine ? ", none of them the journal key's" : "",
		    mine && verdict != SIG_GOOD ? "; the journal key's own signature does not verify either" : "");
		return DFI_E_JOURNAL_SIGNATURE;
	}
	if (verdict == SIG_HIGH_S) {
		snprintf(why, cap, "ECDSA signature has a high s (s > n/2): n - s of a signature is "
		    "refused, only the low-s form is valid");
		return DFI_E_JOURNAL_SIGNATURE;
	}
	if (verdict != SIG_GOOD) {
		snprintf(why, cap, "signature does not verify with the given public key");
		return DFI_E_JOURNAL_SIGNATURE;
	}
	return DFI_OK;
}

dfi_err
jnote_open(const uint8_t *note, size_t len, const dfi_jpubkey *key, dfi_checkpoint *cp, char *why,
    size_t cap)
{
	return note_open(note, len, key, NULL, cp, why, cap);
}

dfi_err
dfi_note_open(const uint8_t *note, size_t len, const dfi_jpubkey *key, dfi_checkpoint *cp)
{
	return note_open(note, len, key, NULL, cp, NULL, 0);
}

dfi_err
jnotever_open(struct jnotever *v, const uint8_t *note, size_t len, dfi_checkpoint *cp)
{
	return note_open(note, len, v->key, v, cp, NULL, 0);
}

/* ---- checkpoint lines ------------------------------------------------------ */

dfi_err
jcp_line(const uint8_t *note, size_t nlen, char *out, size_t cap, size_t *len)
{
	if (cap < JCP_PREFIX_LEN + 1)
		return DFI_E_BUFFER_TOO_SMALL;
	memcpy(out, JCP_PREFIX, JCP_PREFIX_LEN);
	size_t n = dfi_b64_encode(note, nlen, out + JCP_PREFIX_LEN, cap - JCP_PREFIX_LEN);
	if (n == 0)
		return DFI_E_BUFFER_TOO_SMALL;
	*len = JCP_PREFIX_LEN + n;
	return *len > DFI_J_LINE_MAX ? DFI_E_OVERFLOW : DFI_OK;
}

dfi_err
dfi_note_from_line(const char *line, size_t len, uint8_t *note, size_t cap, size_t *nlen)
{
	if (note == NULL || nlen == NULL)
		return DFI_E_INVALID_ARG;
	if (!jcp_is_line(line, len))
		return DFI_E_NOT_FOUND;
	if (dfi_b64_decode(line + JCP_PREFIX_LEN, len - JCP_PREFIX_LEN, note, cap, nlen) != DFI_OK)
		return DFI_E_JOURNAL_FORMAT;
	return DFI_OK;
}

dfi_err
jcp_note_sized(const char *line, size_t len, uint64_t size, uint8_t *note, size_t cap,
    size_t *nlen, dfi_checkpoint *cp)
{
	if (dfi_note_from_line(line, len, note, cap, nlen) != DFI_OK ||
	    dfi_note_open(note, *nlen, NULL, cp) != DFI_OK || cp->size != size)
		return DFI_E_NOT_FOUND;
	return DFI_OK;
}

/* ---- C2SP signed-note verifier keys ------------------------------------------ */

/* "<name>+<key ID, 8 lower-case hex>+<base64(type || key)>", the form of
 * golang.org/x/mod/sumdb/note and transparency-dev/formats: type 0x01 and
 * the 32-byte Ed25519 key, or type 0x02 and the DER SubjectPublicKeyInfo
 * (ECDSA P-256, as transparency-dev/witness). */
dfi_err
dfi_jpubkey_vkey(const dfi_jpubkey *k, const char *name, char *out, size_t cap)
{
	if (k == NULL || name == NULL || out == NULL || !origin_ok(name))
		return DFI_E_INVALID_ARG;
	uint8_t blob[1 + DFI_PUBKEY_DER_MAX];
	size_t bl;
	if (k->alg == DFI_SIG_ED25519) {
		blob[0] = 0x01;
		memcpy(blob + 1, k->raw, 32);
		bl = 33;
	} else {
		blob[0] = 0x02;
		memcpy(blob + 1, k->der, k->der_len);
		bl = 1 + k->der_len;
	}
	uint32_t id;
	dfi_err e = dfi_jpubkey_key_id(k, name, &id);
	if (e != DFI_OK)
		return e;
	char b64[2 * sizeof(blob)];
	if (dfi_b64_encode(blob, bl, b64, sizeof(b64)) == 0)
		return DFI_E_INTERNAL;
	int n = snprintf(out, cap, "%s+%08" PRIx32 "+%s", name, id, b64);
	if (n < 0 || (size_t)n >= cap)
		return DFI_E_BUFFER_TOO_SMALL;
	return DFI_OK;
}

dfi_err
dfi_jpubkey_from_vkey(const char *vkey, size_t len, dfi_jpubkey **out, char *name, size_t namecap)
{
	if (vkey == NULL || out == NULL || name == NULL)
		return DFI_E_INVALID_ARG;
	/* name+hash+base64; the base64 may itself hold '+', so split at the
	 * first two. */
	const char *p1 = memchr(vkey, '+', len);
	const char *p2 = p1 ? memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - vkey)) : NULL;
	if (p1 == NULL || p2 == NULL || p1 == vkey || (size_t)(p1 - vkey) >= namecap ||
	    (size_t)(p1 - vkey) >= DFI_J_STR_MAX || p2 - p1 != 9)
		return DFI_E_PARSE;
	memcpy(name, vkey, (size_t)(p1 - vkey));
	name[p1 - vkey] = '\0';
	if (!origin_ok(name))
		return DFI_E_PARSE;
	uint32_t want = 0;
	for (const char *q = p1 + 1; q < p2; q++) {
		int d = (*q >= '0' && *q <= '9') ? *q - '0' : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10 :
		    (*q >= 'A' && *q <= 'F')			     ? *q - 'A' + 10 :
									       -1;
		if (d < 0)
			return DFI_E_PARSE;
		want = want << 4 | (uint32_t)d;
	}
	uint8_t blob[1 + DFI_PUBKEY_DER_MAX];
	size_t bl;
	const char *b = p2 + 1;
	size_t blen = len - (size_t)(b - vkey);
	if (dfi_b64_decode(b, blen, blob, sizeof(blob), &bl) != DFI_OK || bl < 2)
		return DFI_E_PARSE;
	dfi_err e;
	if (blob[0] == 0x01) {
		if (bl != 33)
			return DFI_E_PARSE;
		EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, blob + 1, 32);
		if (p == NULL)
			return DFI_E_PARSE;
		e = wrap(p, out);
	} else if (blob[0] == 0x02) {
		e = dfi_jpubkey_from_der(blob + 1, bl - 1, out);
		if (e == DFI_OK && (*out)->alg != DFI_SIG_ECDSA_P256)
			e = DFI_E_UNSUPPORTED;
	} else {
		return DFI_E_UNSUPPORTED;
	}
	if (e != DFI_OK)
		return e == DFI_E_UNSUPPORTED ? e : DFI_E_PARSE;
	uint32_t id;
	if ((e = dfi_jpubkey_key_id(*out, name, &id)) != DFI_OK || id != want) {
		dfi_jpubkey_free(*out);
		*out = NULL;
		return e != DFI_OK ? e : DFI_E_PARSE; /* the key ID must be the key's */
	}
	return DFI_OK;
}
