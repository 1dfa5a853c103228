/*
 * What the token offers and which derivation path each base key takes.
 * The mechanism list and each known mechanism's info are read once, when
 * the handle opens; every later choice is a table lookup.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hsm_int.h"
#include "core/nelem.h"

static const struct {
	CK_MECHANISM_TYPE type;
	const char *name;
	CK_FLAGS need; /* the flags dfissue uses */
	const char *use;
} mechdefs[DFI_M_COUNT] = {
	[DFI_M_SP800_108] = { CKM_SP800_108_COUNTER_KDF, "CKM_SP800_108_COUNTER_KDF", CKF_DERIVE,
		"derive (path sp800-108, AES)" },
	[DFI_M_AES_CMAC] = { CKM_AES_CMAC, "CKM_AES_CMAC", CKF_SIGN,
		"card-key CMAC; the SP 800-108 PRF" },
	[DFI_M_AES_ECB] = { CKM_AES_ECB, "CKM_AES_ECB", CKF_ENCRYPT,
		"AN10922 first block, KCV, card keys" },
	[DFI_M_AES_CBC] = { CKM_AES_CBC, "CKM_AES_CBC", CKF_ENCRYPT | CKF_DECRYPT,
		"card-key cipher (secure messaging)" },
	[DFI_M_AES_ECB_DATA] = { CKM_AES_ECB_ENCRYPT_DATA, "CKM_AES_ECB_ENCRYPT_DATA", CKF_DERIVE,
		"derive (path ecb-encrypt-data, AES)" },
	[DFI_M_AES_CBC_DATA] = { CKM_AES_CBC_ENCRYPT_DATA, "CKM_AES_CBC_ENCRYPT_DATA", CKF_DERIVE,
		"derive (path cbc-encrypt-data, AES)" },
	[DFI_M_AES_KEY_GEN] = { CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", CKF_GENERATE,
		"ephemeral wrapping key (sp800-108 ChangeKey)" },
	[DFI_M_AES_KEY_WRAP] = { CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", CKF_WRAP | CKF_DECRYPT,
		"wrap a derived key for ChangeKey (sp800-108)" },
	[DFI_M_DES3_CMAC] = { CKM_DES3_CMAC, "CKM_DES3_CMAC", CKF_SIGN, "card-key CMAC (3DES)" },
	[DFI_M_DES3_ECB] = { CKM_DES3_ECB, "CKM_DES3_ECB", CKF_ENCRYPT,
		"AN10922 first block, KCV, card keys (3DES)" },
	[DFI_M_DES3_CBC] = { CKM_DES3_CBC, "CKM_DES3_CBC", CKF_ENCRYPT | CKF_DECRYPT,
		"card-key cipher (3DES)" },
	[DFI_M_DES3_ECB_DATA] = { CKM_DES3_ECB_ENCRYPT_DATA, "CKM_DES3_ECB_ENCRYPT_DATA", CKF_DERIVE,
		"derive (path ecb-encrypt-data, 2K3DES/3K3DES)" },
	[DFI_M_EC_EDWARDS_GEN] = { CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN",
		CKF_GENERATE_KEY_PAIR, "journal key generation (Ed25519)" },
	[DFI_M_EDDSA] = { CKM_EDDSA, "CKM_EDDSA", CKF_SIGN, "journal signatures (Ed25519)" },
	[DFI_M_EC_GEN] = { CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR,
		"journal key generation (P-256)" },
	[DFI_M_ECDSA] = { CKM_ECDSA, "CKM_ECDSA", CKF_SIGN, "journal signatures (P-256)" },
	/* CKM_NSS_SP800_108_COUNTER_KDF_DERIVE_DATA: CKM_VENDOR_DEFINED |
	 * NSSCK_VENDOR_NSS ("NSCP"), + 42 (NSS lib/util/pkcs11n.h). */
	[DFI_M_NSS_SP800_DATA] = { (CKM_VENDOR_DEFINED | 0x4E534350UL) + 42,
		"CKM_NSS_SP800_108_COUNTER_KDF_DERIVE_DATA", CKF_DERIVE,
		"(NSS) ChangeKey bytes on the sp800-108 path" },
};

CK_MECHANISM_TYPE
dfi_hsm_mech_type(enum dfi_mech m)
{
	return mechdefs[m].type;
}

dfi_err
dfi_hsm_mechs_load(dfi_hsm *h)
{
	for (int i = 0; i < DFI_M_COUNT; i++)
		h->mech[i] = (struct dfi_hsm_mech_info){ .name = mechdefs[i].name,
			.type = mechdefs[i].type, .use = mechdefs[i].use };
	/* A module that will not list its mechanisms is taken as offering
	 * none (every path then says what it lacks); one that lists more than
	 * any token has, or more than it said it would, is refused. */
	enum { MAXMECH = 4096 };
	CK_ULONG n = 0, want;
	if (P11(h, C_GetMechanismList, h->slot, NULL, &n) != CKR_OK || n == 0)
		return DFI_OK;
	CK_RV rv = dfi_hsm_check_count(h, "C_GetMechanismList", n, MAXMECH);
	CK_MECHANISM_TYPE list[MAXMECH];
	want = n;
	if (rv == CKR_OK && P11(h, C_GetMechanismList, h->slot, list, &n) != CKR_OK)
		return DFI_OK;
	if (rv == CKR_OK)
		rv = dfi_hsm_check_count(h, "C_GetMechanismList", n, want);
	if (rv != CKR_OK)
		return dfi_hsm_fail(h, "C_GetMechanismList", rv);
	for (CK_ULONG j = 0; j < n; j++) {
		for (int i = 0; i < DFI_M_COUNT; i++) {
			if (list[j] != mechdefs[i].type || h->mech[i].present)
				continue;
			CK_MECHANISM_INFO mi;
			h->mech[i].present = 1;
			if (P11(h, C_GetMechanismInfo, h->slot, list[j], &mi) == CKR_OK)
				h->mech[i].flags = mi.flags;
			h->mech[i].usable = (h->mech[i].flags & mechdefs[i].need) == mechdefs[i].need;
		}
	}
	return DFI_OK;
}

int
dfi_hsm_mech_ok(const dfi_hsm *h, enum dfi_mech m, CK_FLAGS need)
{
	return h->mech[m].present && (h->mech[m].flags & need) == need;
}

size_t
dfi_hsm_mechanisms(dfi_hsm *h, const struct dfi_hsm_mech_info **out)
{
	if (out != NULL)
		*out = h != NULL ? h->mech : NULL;
	return h != NULL && out != NULL ? DFI_M_COUNT : 0;
}

/* ---- paths ------------------------------------------------------------- */

static const char *const path_names[DFI_HSM_PATH_COUNT] = {
	[DFI_HSM_PATH_AUTO] = "auto",
	[DFI_HSM_PATH_SP800_108] = "sp800-108",
	[DFI_HSM_PATH_ECB] = "ecb-encrypt-data",
	[DFI_HSM_PATH_CBC] = "cbc-encrypt-data",
	[DFI_HSM_PATH_HOST] = "host",
};

const char *
dfi_hsm_path_name(dfi_hsm_path p)
{
	return (unsigned)p < DFI_HSM_PATH_COUNT ? path_names[p] : "?";
}

dfi_err
dfi_hsm_path_parse(const char *name, dfi_hsm_path *out)
{
	static const struct {
		const char *s;
		dfi_hsm_path p;
	} alias[] = { { "sp800", DFI_HSM_PATH_SP800_108 }, { "ecb", DFI_HSM_PATH_ECB },
		{ "cbc", DFI_HSM_PATH_CBC } };
	if (name == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	for (int p = 0; p < DFI_HSM_PATH_COUNT; p++)
		if (strcmp(name, path_names[p]) == 0) {
			*out = (dfi_hsm_path)p;
			return DFI_OK;
		}
	for (size_t i = 0; i < DFI_NELEM(alias); i++)
		if (strcmp(name, alias[i].s) == 0) {
			*out = alias[i].p;
			return DFI_OK;
		}
	return DFI_E_PARSE;
}

/* The token's mechanisms for a path: the derive and the block encryption
 * (ECB, or CBC as its stand-in) each needs. */
struct path_mechs {
	enum dfi_mech derive; /* DFI_M_COUNT: none */
	int need_encrypt;
};

static int
path_mechs(dfi_keytype t, dfi_hsm_path p, struct path_mechs *pm)
{
	const int aes = t == DFI_KT_AES128;
	switch (p) {
	case DFI_HSM_PATH_SP800_108:
		*pm = (struct path_mechs){ DFI_M_SP800_108, 0 };
		return aes;
	case DFI_HSM_PATH_ECB:
		*pm = (struct path_mechs){ aes ? DFI_M_AES_ECB_DATA : DFI_M_DES3_ECB_DATA, 1 };
		return 1;
	case DFI_HSM_PATH_CBC:
		*pm = (struct path_mechs){ DFI_M_AES_CBC_DATA, 1 };
		return aes;
	case DFI_HSM_PATH_HOST:
		*pm = (struct path_mechs){ DFI_M_COUNT, 1 };
		return 1;
	default:
		return 0;
	}
}

static void
say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t cap, const char *fmt, ...)
{
	if (why == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* Block encryption this token offers for type t (0 = none). */
static CK_MECHANISM_TYPE
token_enc_mech(const dfi_hsm *h, dfi_keytype t)
{
	const int aes = t == DFI_KT_AES128;
	if (dfi_hsm_mech_ok(h, aes ? DFI_M_AES_ECB : DFI_M_DES3_ECB, CKF_ENCRYPT))
		return aes ? CKM_AES_ECB : CKM_DES3_ECB;
	if (dfi_hsm_mech_ok(h, aes ? DFI_M_AES_CBC : DFI_M_DES3_CBC, CKF_ENCRYPT))
		return aes ? CKM_AES_CBC : CKM_DES3_CBC;
	return 0;
}

dfi_err
dfi_hsm_token_path_check(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, char *why, size_t cap)
{
	return dfi_hsm_path_check_optin(h, t, p, 0, why, cap);
}

dfi_err
dfi_hsm_path_check_optin(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, int ignore_optin, char *why,
    size_t cap)
{
	struct path_mechs pm = { DFI_M_COUNT, 0 };
	const char *tn = dfi_keytype_name(t);
	say(why, cap, "%s", "");
	if (h == NULL)
		return DFI_E_INVALID_ARG;
	if (t != DFI_KT_AES128 && t != DFI_KT_2K3DES && t != DFI_KT_3K3DES)
		return dfi_hsm_bad_arg(h, "a %s key has no AN10922 derivation path", tn != NULL ? tn : "?");
	if (!path_mechs(t, p, &pm)) {
		if (p == DFI_HSM_PATH_SP800_108)
			say(why, cap, "the SP 800-108 counter KDF cannot give AN10922's %s keys (their "
			    "CMACs start with 0x%s where the KDF's counter gives 0x01, 0x02...): "
			    "DES keys take ecb-encrypt-data or host", tn,
			    t == DFI_KT_2K3DES ? "21, 0x22" : "31..0x33");
		else if (p == DFI_HSM_PATH_CBC)
			say(why, cap, "CBC_ENCRYPT_DATA gives only single-block AN10922 keys (AES); %s "
			    "chains two or three CMACs: DES keys take ecb-encrypt-data or host", tn);
		else
			say(why, cap, "no such path");
		return DFI_E_HSM_MECHANISM;
	}
	if (p == DFI_HSM_PATH_HOST && !h->allow_host && !ignore_optin) {
		say(why, cap, "host derivation is off: it computes per-card keys on this host "
		    "(SECURITY.md §2.4); only --allow-host-derivation turns it on");
		return DFI_E_HSM_MECHANISM;
	}
	if (pm.derive != DFI_M_COUNT && !dfi_hsm_mech_ok(h, pm.derive, CKF_DERIVE)) {
		say(why, cap, "the token offers no %s for C_DeriveKey%s", mechdefs[pm.derive].name,
		    h->mech[pm.derive].present ? " (listed without CKF_DERIVE)" : "");
		return DFI_E_HSM_MECHANISM;
	}
	if (pm.need_encrypt && token_enc_mech(h, t) == 0) {
		say(why, cap, "the token offers neither %s nor %s for C_Encrypt",
		    t == DFI_KT_AES128 ? "CKM_AES_ECB" : "CKM_DES3_ECB",
		    t == DFI_KT_AES128 ? "CKM_AES_CBC" : "CKM_DES3_CBC");
		return DFI_E_HSM_MECHANISM;
	}
	return DFI_OK;
}

static const dfi_hsm_path prefer[] = { DFI_HSM_PATH_SP800_108, DFI_HSM_PATH_ECB, DFI_HSM_PATH_CBC,
	DFI_HSM_PATH_HOST };

dfi_hsm_path
dfi_hsm_token_path(dfi_hsm *h, dfi_keytype t)
{
	if (h == NULL)
		return DFI_HSM_PATH_NONE;
	if (h->derivation != DFI_HSM_PATH_AUTO)
		return dfi_hsm_token_path_check(h, t, h->derivation, NULL, 0) == DFI_OK ? h->derivation
										      : DFI_HSM_PATH_NONE;
	for (size_t i = 0; i < DFI_NELEM(prefer); i++)
		if (dfi_hsm_token_path_check(h, t, prefer[i], NULL, 0) == DFI_OK)
			return prefer[i];
	return DFI_HSM_PATH_NONE;
}

static int
allowed(const struct dfi_hsm_key_caps *c, CK_MECHANISM_TYPE m)
{
	if (!c->have_allowed)
		return 1;
	for (size_t i = 0; i < c->nallowed; i++)
		if (c->allowed[i] == m)
			return 1;
	return 0;
}

/* The block encryption this key may use (0: none). */
static CK_MECHANISM_TYPE
key_enc_mech(const dfi_hsm *h, dfi_keytype t, const struct dfi_hsm_key_caps *c)
{
	const int aes = t == DFI_KT_AES128;
	if (!c->encrypt)
		return 0;
	CK_MECHANISM_TYPE ecb = aes ? CKM_AES_ECB : CKM_DES3_ECB, cbc = aes ? CKM_AES_CBC : CKM_DES3_CBC;
	if (dfi_hsm_mech_ok(h, aes ? DFI_M_AES_ECB : DFI_M_DES3_ECB, CKF_ENCRYPT) && allowed(c, ecb))
		return ecb;
	if (dfi_hsm_mech_ok(h, aes ? DFI_M_AES_CBC : DFI_M_DES3_CBC, CKF_ENCRYPT) && allowed(c, cbc))
		return cbc;
	return 0;
}

/* Can key k (capabilities c) take path p? DFI_OK or the reason in why. */
static dfi_err
key_path_check(dfi_hsm *h, const struct dfi_hsm_key *k, const struct dfi_hsm_key_caps *c,
    dfi_hsm_path p, char *why, size_t cap)
{
	dfi_err e = dfi_hsm_token_path_check(h, k->type, p, why, cap);
	if (e != DFI_OK)
		return e;
	struct path_mechs pm = { DFI_M_COUNT, 0 };
	path_mechs(k->type, p, &pm);
	if (pm.derive != DFI_M_COUNT) {
		if (!c->derive) {
			say(why, cap, "the key has CKA_DERIVE false");
			return DFI_E_HSM_KEY_TYPE;
		}
		if (!allowed(c, mechdefs[pm.derive].type)) {
			say(why, cap, "the key's CKA_ALLOWED_MECHANISMS lacks %s", mechdefs[pm.derive].name);
			return DFI_E_HSM_KEY_TYPE;
		}
	}
	if (pm.need_encrypt && key_enc_mech(h, k->type, c) == 0) {
		say(why, cap, c->encrypt ? "the key's CKA_ALLOWED_MECHANISMS allow no ECB/CBC encryption"
					 : "the key has CKA_ENCRYPT false");
		return DFI_E_HSM_KEY_TYPE;
	}
	return DFI_OK;
}

void
dfi_hsm_key_choose(dfi_hsm *h, struct dfi_hsm_key *k, const struct dfi_hsm_key_caps *c)
{
	char why[120];
	size_t used = 0;
	k->paths = 0;
	k->path = DFI_HSM_PATH_NONE;
	k->enc_mech = key_enc_mech(h, k->type, c);
	k->why[0] = '\0';
	for (size_t i = 0; i < DFI_NELEM(prefer); i++) {
		dfi_hsm_path p = prefer[i];
		if (h->derivation != DFI_HSM_PATH_AUTO && p != h->derivation)
			continue;
		if (key_path_check(h, k, c, p, why, sizeof(why)) == DFI_OK) {
			k->paths |= 1u << p;
			if (k->path == DFI_HSM_PATH_NONE)
				k->path = p;
		} else if (k->path == DFI_HSM_PATH_NONE && used < sizeof(k->why)) {
			/* Only the reasons the better paths failed are kept. */
			int n = snprintf(k->why + used, sizeof(k->why) - used, "%s%s: %s",
			    used > 0 ? "; " : "", dfi_hsm_path_name(p), why);
			used = n < 0 ? used : used + (size_t)n;
		}
	}
}

size_t
dfi_hsm_path_mechs(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, CK_MECHANISM_TYPE *out, size_t cap)
{
	struct path_mechs pm = { DFI_M_COUNT, 0 };
	size_t n = 0;
	if (cap < 2 || !path_mechs(t, p, &pm))
		return 0;
	if (pm.derive != DFI_M_COUNT)
		out[n++] = mechdefs[pm.derive].type;
	if (pm.need_encrypt) {
		CK_MECHANISM_TYPE m = token_enc_mech(h, t);
		if (m != 0)
			out[n++] = m;
	}
	return n;
}

dfi_err
dfi_hsm_key_path(const dfi_hsm_key *k, size_t mlen, dfi_hsm_path *out)
{
	return dfi_hsm_key_path_skip(k, mlen, 0, out);
}

dfi_err
dfi_hsm_key_path_skip(const dfi_hsm_key *k, size_t mlen, unsigned skip, dfi_hsm_path *out)
{
	if (k == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	size_t bl = dfi_keytype_blocklen(k->type);
	for (size_t i = 0; i < DFI_NELEM(prefer); i++) {
		dfi_hsm_path p = prefer[i];
		if (!(k->paths & ~skip & (1u << p)))
			continue;
		/* CMAC pads 0x01 || M to a multiple of the block and AN10922 to
		 * two blocks: they agree from 17 bytes on. */
		if (p == DFI_HSM_PATH_SP800_108 && mlen + 1 <= bl)
			continue;
		*out = p;
		return DFI_OK;
	}
	*out = DFI_HSM_PATH_NONE;
	if (k->paths & (1u << DFI_HSM_PATH_SP800_108))
		return dfi_hsm_set_detail(k->h, DFI_E_HSM_MECHANISM, "'%s': M of %zu bytes: "
		    "sp800-108 gives AN10922 only for 16..31: lengthen M (the system identifier) or "
		    "give the key another path", k->label, mlen);
	return dfi_hsm_set_detail(k->h, DFI_E_HSM_MECHANISM, "'%s': no derivation path: %s",
	    k->label, k->why[0] ? k->why : "none configured");
}
