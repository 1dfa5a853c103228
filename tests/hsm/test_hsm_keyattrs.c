/* Issue 17, finding 6, on a SoftHSM2 dev token made by
 * hsm-config/make-dev-token.sh (the dfissue CLI: `key import` for every
 * base key, `journal-key generate` for the journal key):
 *   - every key has only the usages its use needs: base keys no
 *     CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP (SoftHSM2's
 *     path, ecb-encrypt-data: CKA_ENCRYPT and CKA_DERIVE); the journal's
 *     private key CKA_SIGN only (no DECRYPT, UNWRAP, DERIVE, which SoftHSM2
 *     would default to TRUE), sensitive, never extractable, always
 *     sensitive; its public key CKA_VERIFY only;
 *   - a journal key that is sensitive and non-extractable now but was
 *     extractable once (CKA_NEVER_EXTRACTABLE false) is refused with a
 *     message naming the key and the fix, and accepted with
 *     allow_insecure_keys (a warning), as base keys are. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/hsm.h"
#include "dfissue/util.h"
#include "hsm/hsm_int.h"
#include "hsm_fixture.h"
#include "testutil.h"

static struct hsm_fixture fx;

struct logged {
	int warnings;
	char last[400];
};

static void
log_hook(void *ctx, dfi_log_level lvl, const char *msg)
{
	struct logged *l = ctx;
	if (lvl == DFI_LOG_WARNING) {
		l->warnings++;
		snprintf(l->last, sizeof(l->last), "%s", msg);
	}
}

static dfi_hsm *
open_hsm(int insecure, struct logged *lg)
{
	char detail[300];
	dfi_hsm *h;
	ck_assert_msg(hsm_fixture_open((struct dfi_hsm_config){
		.token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = fx.pin_file,
		.allow_insecure_keys = insecure,
		.log = lg != NULL ? log_hook : NULL,
		.log_ctx = lg,
	    }, &h, detail, sizeof(detail)) == DFI_OK, "%s", detail);
	return h;
}

/* ---- the usages of every key on the dev token ---------------------------- */

enum { U_ENCRYPT, U_DECRYPT, U_SIGN, U_VERIFY, U_WRAP, U_UNWRAP, U_DERIVE, U_SENSITIVE,
	U_EXTRACTABLE, U_ALWAYS_SENSITIVE, U_NEVER_EXTRACTABLE, U_N };
static const CK_ATTRIBUTE_TYPE u_type[U_N] = { CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
	CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE,
	CKA_NEVER_EXTRACTABLE };
static const char *const u_name[U_N] = { "ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "WRAP", "UNWRAP",
	"DERIVE", "SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE" };

struct usage_arg {
	CK_OBJECT_HANDLE obj;
	CK_BBOOL v[U_N];
	int have[U_N];
	char label[65];
};

static CK_RV
op_usage(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct usage_arg *a = argp;
	for (int i = 0; i < U_N; i++) {
		CK_ATTRIBUTE t = { u_type[i], &a->v[i], sizeof(a->v[i]) };
		a->have[i] = P11(h, C_GetAttributeValue, s, a->obj, &t, 1) == CKR_OK &&
		    t.ulValueLen == sizeof(CK_BBOOL);
	}
	CK_ATTRIBUTE l = { CKA_LABEL, a->label, sizeof(a->label) - 1 };
	CK_RV rv = P11(h, C_GetAttributeValue, s, a->obj, &l, 1);
	a->label[rv == CKR_OK && l.ulValueLen < sizeof(a->label) ? l.ulValueLen : 0] = '\0';
	return CKR_OK;
}

/* want[i]: 1 must be TRUE, 0 must be FALSE, -1 any. Every attribute a
 * wanted value is given for must be reported by SoftHSM2. */
static size_t
check_class(dfi_hsm *h, CK_OBJECT_CLASS cls, const int want[U_N])
{
	CK_OBJECT_HANDLE objs[64];
	size_t n = 0;
	ck_assert_int_eq(dfi_hsm_find(h, "pkcs11:", cls, objs, 64, &n), DFI_OK);
	for (size_t k = 0; k < n; k++) {
		struct usage_arg a = { .obj = objs[k] };
		ck_assert_int_eq(dfi_hsm_run(h, "C_GetAttributeValue", op_usage, &a), DFI_OK);
		for (int i = 0; i < U_N; i++) {
			if (want[i] < 0)
				continue;
			ck_assert_msg(a.have[i], "'%s': CKA_%s not reported", a.label, u_name[i]);
			ck_assert_msg(!!a.v[i] == want[i], "'%s': CKA_%s is %s", a.label, u_name[i],
			    a.v[i] ? "TRUE" : "FALSE");
		}
	}
	return n;
}

START_TEST(dev_token_usages)
{
	dfi_hsm *h = open_hsm(0, NULL);
	/* ENCRYPT DECRYPT SIGN VERIFY WRAP UNWRAP DERIVE SENS EXTR ALWAYS NEVER */
	static const int base[U_N] = { 1, 0, 0, 0, 0, 0, 1, 1, 0, -1, -1 };
	static const int priv[U_N] = { -1, 0, 1, -1, -1, 0, 0, 1, 0, 1, 1 };
	static const int pub[U_N] = { 0, -1, -1, 1, 0, -1, 0, -1, -1, -1, -1 };
	ck_assert_uint_eq(check_class(h, CKO_SECRET_KEY, base), 8);
	ck_assert_uint_eq(check_class(h, CKO_PRIVATE_KEY, priv), 1);
	ck_assert_uint_eq(check_class(h, CKO_PUBLIC_KEY, pub), 1);
	dfi_hsm_free(h);
}
END_TEST

/* ---- a journal key that was extractable once ------------------------------ */

static CK_RV
op_gen_once_extractable(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	(void)argp;
	static const uint8_t oid_ed[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	uint8_t id[] = { 0x4f, 0x6e, 0x63, 0x65 };
	CK_MECHANISM m = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) }, { CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)oid_ed, sizeof(oid_ed) }, { CKA_LABEL, "j-once", 6 },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) }, { CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) }, { CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) }, { CKA_LABEL, "j-once", 6 }, { CKA_ID, id, sizeof(id) },
	};
	CK_OBJECT_HANDLE hp, hk;
	CK_RV rv = P11(h, C_GenerateKeyPair, s, &m, pub, 5, priv, 7, &hp, &hk);
	if (rv != CKR_OK)
		return rv;
	/* Locked down afterwards: what it looks like now is what the old
	 * check looked at. */
	CK_ATTRIBUTE lock[] = { { CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) } };
	return P11(h, C_SetAttributeValue, s, hk, lock, 2);
}

START_TEST(journal_key_once_extractable_refused)
{
	dfi_hsm *h = open_hsm(0, NULL);
	ck_assert_int_eq(dfi_hsm_run(h, "C_GenerateKeyPair", op_gen_once_extractable, NULL), DFI_OK);
	const char *uri = "pkcs11:object=j-once;type=private";
	dfi_signer *s = NULL;
	ck_assert_int_eq(dfi_hsm_signer_new(h, uri, &s), DFI_E_HSM_KEY_INSECURE);
	ck_assert_ptr_null(s);
	char d[400];
	dfi_hsm_last_detail(h, d, sizeof(d));
	fprintf(stderr, "refused: %s\n", d);
	ck_assert_str_eq(d, "journal key 'pkcs11:object=j-once;type=private' (label 'j-once'): "
			    "CKA_NEVER_EXTRACTABLE is false (it was extractable once): refused; generate "
			    "one in the HSM with 'dfissue journal-key generate' (--allow-insecure-keys: "
			    "test tokens only)");
	/* the journal key the dev token was made with passes */
	ck_assert_int_eq(dfi_hsm_signer_new(h, "pkcs11:object=journal;type=private", &s), DFI_OK);
	dfi_signer_free(s);
	dfi_hsm_free(h);

	/* the base keys' escape hatch, said in the log */
	struct logged lg = { 0, "" };
	h = open_hsm(1, &lg);
	ck_assert_int_eq(dfi_hsm_signer_new(h, uri, &s), DFI_OK);
	ck_assert_int_eq(lg.warnings, 2);
	ck_assert_str_eq(lg.last, "using insecure journal key 'pkcs11:object=j-once;type=private' "
				  "(label 'j-once'; CKA_NEVER_EXTRACTABLE is false (it was extractable "
				  "once)): test tokens only");
	dfi_signer_free(s);
	dfi_hsm_free(h);

	/* the CLI prints the same line */
	char cmd[1600], line[600], all[2000] = "";
	snprintf(cmd, sizeof(cmd), "SOFTHSM2_CONF='%s' '%s' journal init --station st --token pkcs11:token=dfissue-dev "
	    "--pin-file '%s' --key '%s' --origin test.example/once '%s/jdir' 2>&1", getenv("SOFTHSM2_CONF"),
	    fx.dfissue, fx.pin_file, uri, fx.dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p) != NULL)
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	int rc = pclose(p);
	fprintf(stderr, "cli: %s", all);
	ck_assert_int_ne(rc, 0);
	ck_assert_ptr_nonnull(strstr(all, "CKA_NEVER_EXTRACTABLE is false (it was extractable once): "
					  "refused; generate one in the HSM with 'dfissue journal-key generate'"));
}
END_TEST

int
main(void)
{
	if (hsm_fixture_make(&fx) != 0) {
		fprintf(stderr, "test_hsm_keyattrs: could not create the dev token\n");
		hsm_fixture_remove(&fx);
		return EXIT_FAILURE;
	}
	int rc = dfi_test_main("hsm_keyattrs", &(struct dfi_test_case){ .timeout = 120 },
	    (const TTest *[]){ dev_token_usages, journal_key_once_extractable_refused, NULL });
	hsm_fixture_remove(&fx);
	return rc;
}
