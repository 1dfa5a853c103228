/* Trust lists of originality keys and signature verification (originality.h).
 * Key files are operator input: every line is length-checked, every point
 * is checked to be on secp224r1 by OpenSSL before it is trusted. It lives
 * in the profile layer because a profile names a key file
 * (originality.trusted_keys): the loader checks that file with this one
 * parser, and personalization (above) loads it again to verify with. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "dfissue/originality.h"
#include "dfissue/util.h"
#include "core/nelem.h"

#define POINT_LEN 57            /* 04 || X || Y on secp224r1 */
#define NAME_MAX_LEN 64
#define FILE_MAX (64 * 1024)
#define LINE_MAX_LEN 4096

struct okey {
	char name[NAME_MAX_LEN];
	EVP_PKEY *pk;
};

struct dfi_orig_keys {
	struct okey *v;
	size_t n, cap;
};

/* NXP's published DESFire originality public keys (uncompressed points on
 * secp224r1), as listed by the Proxmark3 client (cmdhfmfdes.c) and NXP
 * AN12343 for DESFire Light; profiles/originality-nxp.keys holds the same
 * lines for operators to copy and extend (a unit test keeps them equal).
 * Every point is checked to be on the curve when loaded: the "DESFire
 * Light EV2" entry of that client (the EV2 key with its last byte 3B) is
 * not a point on secp224r1 and is left out. */
static const struct {
	const char *name, *hex;
} nxp_keys[] = {
	{ "NXP-DESFire-EV2", "04B304DC4C615F5326FE9383DDEC9AA892DF3A57FA7FFB3276192BC0EAA252ED45A865E3B093A3D0DCE5BE29E92F1392CE7DE321E3E5C52B3A" },
	{ "NXP-DESFire-EV2-XL", "04CD5D45E50B1502F0BA4656FF37669597E7E183251150F9574CC8DA56BF01C7ABE019E29FEA48F9CE22C3EA4029A765E1BC95A89543BAD1BC" },
	{ "NXP-DESFire-EV3", "041DB46C145D0A36539C6544BD6D9B0AA62FF91EC48CBC6ABAE36E0089A46F0D08C8A715EA40A63313B92E90DDC1730230E0458A33276FB743" },
	{ "NXP-DESFire-Light", "040E98E117AAA36457F43173DC920A8757267F44CE4EC5ADD3C54075571AEBBF7B942A9774A1D94AD02572427E5AE0A2DD36591B1FB34FCF3D" },
	{ "NXP-NTAG424DNA-DESFire-EV2", "048A9B380AF2EE1B98DC417FECC263F8449C7625CECE82D9B916C992DA209D68422B81EC20B65A66B5102A61596AF3379200599316A00A1410" },
};

static dfi_err
diag(struct dfi_diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static dfi_err
diag(struct dfi_diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d != NULL) {
		memset(d, 0, sizeof(*d));
		snprintf(d->file, sizeof(d->file), "%s", file);
		d->line = line;
		if (line > 0)
			snprintf(d->message, sizeof(d->message), "%s:%d: %s", file, line, msg);
		else
			snprintf(d->message, sizeof(d->message), "%s: %s", file, msg);
	}
	return DFI_E_PARSE;
}

dfi_err
dfi_orig_keys_new(dfi_orig_keys **out, int builtin)
{
	if (out == NULL)
		return DFI_E_INVALID_ARG;
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return DFI_E_NOMEM;
	if (!builtin)
		return DFI_OK;
	char buf[4096];
	size_t n = 0;
	for (size_t i = 0; i < DFI_NELEM(nxp_keys); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s %s\n", nxp_keys[i].name, nxp_keys[i].hex);
	dfi_err e = dfi_orig_keys_load_buffer(*out, "built-in NXP keys", buf, n, NULL);
	if (e != DFI_OK) {
		dfi_orig_keys_free(*out);
		*out = NULL;
		return e == DFI_E_NOMEM ? e : DFI_E_INTERNAL;
	}
	return DFI_OK;
}

void
dfi_orig_keys_free(dfi_orig_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->v[i].pk);
	free(k->v);
	free(k);
}

size_t
dfi_orig_keys_count(const dfi_orig_keys *k)
{
	return k != NULL ? k->n : 0;
}

const char *
dfi_orig_keys_name(const dfi_orig_keys *k, size_t i)
{
	return k != NULL && i < k->n ? k->v[i].name : NULL;
}

static int
is_secp224r1(EVP_PKEY *pk)
{
	char group[64];
	size_t gl = 0;
	return pk != NULL && EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &gl) == 1 &&
	    strcmp(group, "secp224r1") == 0;
}

/* The point must be on the curve: OpenSSL checks it. */
static EVP_PKEY *
key_from_point(const uint8_t *pt, size_t len)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	if (b != NULL && ctx != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "secp224r1", 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, len) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(b)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
		EVP_PKEY_CTX_free(chk);
	}
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static dfi_err
add_key(dfi_orig_keys *k, const char *name, size_t nlen, EVP_PKEY *pk)
{
	if (k->n >= DFI_ORIG_MAX_KEYS) {
		EVP_PKEY_free(pk);
		return DFI_E_OVERFLOW;
	}
	if (k->n == k->cap) {
		size_t nc = k->cap ? 2 * k->cap : 8;
		struct okey *v = realloc(k->v, nc * sizeof(*v));
		if (v == NULL) {
			EVP_PKEY_free(pk);
			return DFI_E_NOMEM;
		}
		k->v = v;
		k->cap = nc;
	}
	struct okey *o = &k->v[k->n++];
	if (nlen >= sizeof(o->name))
		nlen = sizeof(o->name) - 1;
	memcpy(o->name, name, nlen);
	o->name[nlen] = '\0';
	o->pk = pk;
	return DFI_OK;
}

static int
printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7E)
			return 0;
	return 1;
}

dfi_err
dfi_orig_keys_load_buffer(dfi_orig_keys *k, const char *name, const char *buf, size_t len,
    struct dfi_diag *d)
{
	if (k == NULL || (buf == NULL && len > 0))
		return DFI_E_INVALID_ARG;
	if (name == NULL)
		name = "<keys>";
	if (len > FILE_MAX)
		return diag(d, name, 0, "larger than %d bytes: not a key list", FILE_MAX);
	size_t pos = 0;
	int line = 0, pem_line = 0, added = 0;
	char last_comment[NAME_MAX_LEN] = "";
	const char *pem_start = NULL;
	while (pos < len) {
		const char *l = buf + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t)(nl - l) : len - pos;
		pos += ll + (nl != NULL);
		line++;
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (ll > LINE_MAX_LEN)
			return diag(d, name, line, "line longer than %d bytes", LINE_MAX_LEN);
		if (!printable(l, ll))
			return diag(d, name, line, "only printable ASCII is allowed");
		if (pem_start != NULL) {
			if (ll == 24 && memcmp(l, "-----END PUBLIC KEY-----", 24) == 0) {
				BIO *bio = BIO_new_mem_buf(pem_start, (int)(l + ll - pem_start));
				EVP_PKEY *pk = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
				BIO_free(bio);
				if (!is_secp224r1(pk)) {
					EVP_PKEY_free(pk);
					return diag(d, name, pem_line,
					    "this PEM block is not an EC public key on secp224r1");
				}
				char nm[NAME_MAX_LEN];
				if (last_comment[0] != '\0')
					snprintf(nm, sizeof(nm), "%s", last_comment);
				else
					snprintf(nm, sizeof(nm), "%s:%d", name, pem_line);
				dfi_err e = add_key(k, nm, strlen(nm), pk);
				if (e != DFI_OK)
					return e == DFI_E_OVERFLOW ?
					    diag(d, name, pem_line, "more than %d keys", DFI_ORIG_MAX_KEYS) : e;
				added++;
				pem_start = NULL;
				last_comment[0] = '\0';
			}
			continue;
		}
		size_t i = 0;
		while (i < ll && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == ll)
			continue;
		if (l[i] == '#') {
			size_t c = i + 1;
			while (c < ll && l[c] == ' ')
				c++;
			snprintf(last_comment, sizeof(last_comment), "%.*s", (int)(ll - c), l + c);
			continue;
		}
		if (ll - i == 26 && memcmp(l + i, "-----BEGIN PUBLIC KEY-----", 26) == 0) {
			pem_start = l;
			pem_line = line;
			continue;
		}
		/* NAME HEX, or HEX alone */
		const char *tok[3];
		size_t tl[3], nt = 0;
		while (i < ll && nt < 3) {
			tok[nt] = l + i;
			while (i < ll && l[i] != ' ' && l[i] != '\t')
				i++;
			tl[nt] = (size_t)(l + i - tok[nt]);
			nt++;
			while (i < ll && (l[i] == ' ' || l[i] == '\t'))
				i++;
		}
		if (nt == 3 || i < ll)
			return diag(d, name, line, "expected NAME HEX (a name, then the public key as "
						    "%d hex digits), a PEM block or a # comment", 2 * POINT_LEN);
		const char *hex = tok[nt - 1];
		size_t hl = tl[nt - 1];
		uint8_t pt[POINT_LEN];
		char hx[2 * POINT_LEN + 1];
		size_t n = 0;
		if (hl != 2 * POINT_LEN)
			return diag(d, name, line, "the public key must be %d hex digits (04 || X || Y on "
						    "secp224r1), got %zu", 2 * POINT_LEN, hl);
		memcpy(hx, hex, hl);
		hx[hl] = '\0';
		if (dfi_hex_decode(hx, pt, sizeof(pt), &n) != DFI_OK || n != POINT_LEN)
			return diag(d, name, line, "the public key is not valid hex");
		EVP_PKEY *pk = pt[0] == 0x04 ? key_from_point(pt, sizeof(pt)) : NULL;
		if (pk == NULL)
			return diag(d, name, line, "not an uncompressed point (04 || X || Y) on secp224r1");
		char nm[NAME_MAX_LEN];
		if (nt == 2)
			snprintf(nm, sizeof(nm), "%.*s", (int)tl[0], tok[0]);
		else
			snprintf(nm, sizeof(nm), "%s:%d", name, line);
		dfi_err e = add_key(k, nm, strlen(nm), pk);
		if (e != DFI_OK)
			return e == DFI_E_OVERFLOW ? diag(d, name, line, "more than %d keys", DFI_ORIG_MAX_KEYS) : e;
		added++;
		last_comment[0] = '\0';
	}
	if (pem_start != NULL)
		return diag(d, name, pem_line, "PEM block without its END line");
	if (added == 0)
		return diag(d, name, 0, "no key in the file");
	return DFI_OK;
}

dfi_err
dfi_orig_keys_load(dfi_orig_keys *k, const char *path, struct dfi_diag *d)
{
	if (k == NULL || path == NULL)
		return DFI_E_INVALID_ARG;
	/* Non-blocking open, then a regular file only: the profile loader reads
	 * this file too, and a profile naming a FIFO or a terminal must not
	 * hang it. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		diag(d, path, 0, "cannot open the trusted originality keys: %s", strerror(errno));
		return DFI_E_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		diag(d, path, 0, "the trusted originality keys must be a regular file");
		return DFI_E_IO;
	}
	FILE *f = fdopen(fd, "rb");
	if (f == NULL) {
		close(fd);
		return DFI_E_NOMEM;
	}
	char *buf = malloc(FILE_MAX + 1);
	size_t n = buf != NULL ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	int err = ferror(f);
	fclose(f);
	if (buf == NULL)
		return DFI_E_NOMEM;
	dfi_err e;
	if (err) {
		diag(d, path, 0, "cannot read the trusted originality keys");
		e = DFI_E_IO;
	} else {
		e = dfi_orig_keys_load_buffer(k, path, buf, n, d);
	}
	free(buf);
	return e;
}

dfi_err
dfi_orig_keys_check(const char *path, struct dfi_diag *d)
{
	dfi_orig_keys *k = NULL;
	dfi_err e = dfi_orig_keys_new(&k, 0);
	if (e == DFI_OK)
		e = dfi_orig_keys_load(k, path, d);
	dfi_orig_keys_free(k);
	return e;
}

dfi_err
dfi_orig_verify(const dfi_orig_keys *k, const uint8_t *uid, size_t uid_len,
    const uint8_t sig[DFI_ORIG_SIG_LEN], const char **key_name)
{
	if (key_name != NULL)
		*key_name = NULL;
	if (k == NULL || uid == NULL || uid_len == 0 || uid_len > 10 || sig == NULL)
		return DFI_E_INVALID_ARG;
	/* r || s to DER for OpenSSL */
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 28, NULL), *s = BN_bin2bn(sig + 28, 28, NULL);
	unsigned char *der = NULL;
	int dl = -1;
	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL; /* owned by es */
		dl = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	if (dl <= 0)
		return DFI_E_CRYPTO;
	dfi_err e = DFI_E_NOT_FOUND;
	for (size_t i = 0; i < k->n && e == DFI_E_NOT_FOUND; i++) {
		/* No digest: the UID itself is the message representative, as
		 * NXP's originality check defines it. */
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->v[i].pk, NULL);
		if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		    EVP_PKEY_verify(ctx, der, (size_t)dl, uid, uid_len) == 1) {
			e = DFI_OK;
			if (key_name != NULL)
				*key_name = k->v[i].name;
		}
		EVP_PKEY_CTX_free(ctx);
	}
	OPENSSL_free(der);
	ERR_clear_error(); /* the failed verifications' entries */
	return e;
}
