/*
 * dfissue hsm check: what a PKCS#11 module and token offer dfissue, in
 * plain words. Lists the slots and tokens, the mechanisms dfissue can use,
 * the derivation path each key type would take (and why the better ones do
 * not apply), runs the AN10922 vectors through every path the token offers
 * with temporary session keys, checks the journal key (found, sensitive,
 * signs a checkpoint that verifies), lists the base keys and the path each
 * takes, and ends with what is missing and what would fix it. Exit 0 only
 * when personalization can run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "cli.h"
#include "termtext.h"
#include "opts.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/profile.h"
#include "perso_cli.h"

#define DEFAULT_JOURNAL_KEY "pkcs11:object=journal;type=private"
#define MAX_FIXES 16

static const char *const help[] = {
	"usage: dfissue hsm check [--journal-key URI] [--profile P.json [--batch FILE]]\n"
	"                         [HSM options] [journal HSM options]\n\n"
	"Checks a PKCS#11 module and token for dfissue and says in plain words what is\n"
	"missing and how to fix it:\n"
	"  - the module, its slots and tokens (also when the token cannot be opened);\n"
	"  - the mechanisms dfissue can use, as the token reports them;\n"
	"  - per key type (AES-128, 2K3DES, 3K3DES) the derivation paths in order of\n"
	"    preference (sp800-108, ecb-encrypt-data, cbc-encrypt-data, host) and the one\n"
	"    personalization would take; the NXP AN10922 vectors are run through every\n"
	"    path the token offers, with temporary session keys (no token object is\n"
	"    created or changed);\n"
	"  - the journal signing key URI (default " DEFAULT_JOURNAL_KEY "):\n"
	"    found, sensitive and non-extractable, and a test checkpoint it signs\n"
	"    verifies;\n"
	"  - the token's base keys and the path each would take;\n"
	"  - with --profile, every key the profile names: its base key found, of the\n"
	"    profile's type, and a path for its diversification input's length (built\n"
	"    for a 7-byte UID and the batch's first row, --batch, where the recipe has\n"
	"    batch fields), and every rule personalize applies at its start (the\n"
	"    engine is built as personalize builds it, without a journal).\n"
	"Exit status 0 only when personalization can run: an AES-128 path whose vector\n"
	"passed, a usable journal key, and with --profile a profile personalize accepts.\n\n",
	cli_hsm_help,
	"\n",
	cli_journal_hsm_help,
	NULL,
};

struct report {
	char fix[MAX_FIXES][640];
	int nfix;
};

static void fixf(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fixf(struct report *r, const char *fmt, ...)
{
	if (r->nfix >= MAX_FIXES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->fix[r->nfix++], sizeof(r->fix[0]), fmt, ap);
	va_end(ap);
}

static void
print_slots(const struct dfi_hsm_config *cfg, struct report *r, int *ok)
{
	struct dfi_hsm_module_info mi;
	struct dfi_hsm_slot_info *slots = NULL;
	size_t n = 0;
	char detail[200] = "";
	struct dfi_hsm_config c = *cfg;
	c.detail = detail;
	c.detail_cap = sizeof(detail);
	dfi_err e = dfi_hsm_probe(&c, &mi, &slots, &n);
	char why[320];
	snprintf(why, sizeof(why), "%s%s%s%s", dfi_strerror(e), detail[0] ? " (" : "", detail,
	    detail[0] ? ")" : "");
	/* Only these two mean the module itself failed; after them it loaded
	 * and what failed is its slot list (a device error, a lie refused). */
	if (e == DFI_E_HSM_MODULE || e == DFI_E_HSM_INIT || (e != DFI_OK && mi.path[0] == '\0')) {
		printf("module      %s: %s\n", cfg->module != NULL ? cfg->module : "softhsm2", why);
		fixf(r, "the module does not load: %s", e == DFI_E_HSM_INIT
			? "give its initialization arguments as x-init-reserved in a p11-kit module "
			  "file and pass that file's path to --module (docs/OPERATIONS.md)"
			: "check --module (a library path, a .module file, or a p11-kit module name)");
		*ok = 0;
		free(slots);
		return;
	}
	printf("module      %s\n", mi.path);
	printf("            %s, %s, library %u.%u, PKCS#11 %u.%u%s\n", mi.manufacturer,
	    mi.description, mi.lib_major, mi.lib_minor, mi.cryptoki_major, mi.cryptoki_minor,
	    mi.init_args ? ", with x-init-reserved arguments" : "");
	if (e != DFI_OK) {
		printf("slots       the module refused its slot list: %s\n", why);
		fixf(r, "the module loads but does not list its slots (the call above): check that the "
		     "HSM is connected and powered and that the module's configuration reaches it, "
		     "then run 'dfissue hsm check' again");
		*ok = 0;
		free(slots);
		return;
	}
	printf("slots       %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct dfi_hsm_slot_info *s = &slots[i];
		printf("  slot %lu  %s\n", s->id, s->description);
		if (!s->token_present) {
			printf("            no token\n");
			continue;
		}
		printf("            token '%s' (%s %s, serial %s)%s%s%s%s\n", s->label,
		    s->manufacturer, s->model, s->serial, s->initialized ? "" : ", NOT initialized",
		    s->login_required ? ", login required" : "",
		    s->user_pin_locked ? ", user PIN LOCKED" : "",
		    s->user_pin_to_be_changed ? ", user PIN to be changed" : "");
	}
	free(slots);
}

static const dfi_keytype types[] = { DFI_KT_AES128, DFI_KT_2K3DES, DFI_KT_3K3DES };
static const dfi_hsm_path paths[] = { DFI_HSM_PATH_SP800_108, DFI_HSM_PATH_ECB, DFI_HSM_PATH_CBC,
	DFI_HSM_PATH_HOST };

static void
print_mechanisms(dfi_hsm *h)
{
	const struct dfi_hsm_mech_info *m;
	size_t n = dfi_hsm_mechanisms(h, &m);
	size_t width = 0;
	for (size_t i = 0; i < n; i++)
		if (strlen(m[i].name) > width)
			width = strlen(m[i].name);
	printf("mechanisms  (what dfissue uses each for)\n");
	for (size_t i = 0; i < n; i++) {
		char fl[64] = "";
		static const struct {
			unsigned long f;
			const char *s;
		} names[] = { { CKF_ENCRYPT, "encrypt" }, { CKF_DECRYPT, "decrypt" }, { CKF_SIGN, "sign" },
			{ CKF_WRAP, "wrap" }, { CKF_DERIVE, "derive" }, { CKF_GENERATE, "generate" },
			{ CKF_GENERATE_KEY_PAIR, "generate" } };
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if ((m[i].flags & names[j].f) && strstr(fl, names[j].s) == NULL)
				snprintf(fl + strlen(fl), sizeof(fl) - strlen(fl), "%s%s", fl[0] ? "," : "",
				    names[j].s);
		printf("  %-*s %-8s %-22s %s\n", (int)width, m[i].name,
		    !m[i].present ? "missing" : m[i].usable ? "yes" : "partial",
		    m[i].present ? fl : "-", m[i].use);
	}
}

/* One key type: every path with its verdict and vector; returns the path
 * personalization takes when its vector passed, else NONE. */
static dfi_hsm_path
check_type(dfi_hsm *h, dfi_keytype t, struct report *r, int *host_would)
{
	dfi_hsm_path chosen = dfi_hsm_token_path(h, t), usable = DFI_HSM_PATH_NONE;
	int chosen_failed = 0;
	printf("  %s\n", dfi_keytype_name(t));
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		dfi_hsm_path p = paths[i];
		char why[240], tw[240];
		uint8_t kcv[3];
		dfi_err e = dfi_hsm_token_path_check(h, t, p, why, sizeof(why));
		int optin_only = 0;
		if (e != DFI_OK && p == DFI_HSM_PATH_HOST && strstr(why, "--allow-host-derivation") != NULL)
			optin_only = 1; /* the mechanisms are there: try the vector anyway */
		if (e != DFI_OK && !optin_only) {
			printf("    %-17s no: %s\n", dfi_hsm_path_name(p), why);
			continue;
		}
		dfi_err te = dfi_hsm_selftest(h, t, p, kcv, tw, sizeof(tw));
		char vec[400];
		if (te == DFI_OK)
			snprintf(vec, sizeof(vec), "AN10922 vector PASS (derived key KCV %02X%02X%02X)",
			    kcv[0], kcv[1], kcv[2]);
		else if (te == DFI_E_UNSUPPORTED)
			snprintf(vec, sizeof(vec), "AN10922 vector NOT RUN: %s; check one card's key "
			    "with 'dfissue key derive-kcv' against a reference", tw);
		else
			snprintf(vec, sizeof(vec), "AN10922 vector FAIL: %s: %s", dfi_strerror(te), tw);
		if (optin_only) {
			printf("    %-17s off (--allow-host-derivation); %s\n", dfi_hsm_path_name(p), vec);
			if (te == DFI_OK)
				*host_would = 1;
			continue;
		}
		printf("    %-17s yes%s; %s\n", dfi_hsm_path_name(p), p == chosen ? ", CHOSEN" : "", vec);
		/* A vector that cannot run is no verdict on the path. */
		if (p == chosen && te != DFI_OK && te != DFI_E_UNSUPPORTED)
			chosen_failed = 1;
		if (te == DFI_OK && usable == DFI_HSM_PATH_NONE)
			usable = p;
	}
	if (chosen_failed) {
		fixf(r, "%s: the token offers %s but it gave a wrong or no result on the AN10922 "
		     "vector%s%s", dfi_keytype_name(t), dfi_hsm_path_name(chosen),
		    usable != DFI_HSM_PATH_NONE ? ": use --derivation " : "",
		    usable != DFI_HSM_PATH_NONE ? dfi_hsm_path_name(usable) : "");
		return DFI_HSM_PATH_NONE;
	}
	return chosen;
}

/* The token's secret keys of a DESFire type and the path each takes. */
static void
print_base_keys(dfi_hsm *h, struct report *r)
{
	struct dfi_hsm_key_info *ki = NULL;
	size_t n = 0, shown = 0;
	dfi_err le = dfi_hsm_key_list(h, NULL, &ki, &n);
	if (le != DFI_OK) {
		char d[320];
		dfi_hsm_detail_for(h, le, d, sizeof(d));
		printf("base keys   (cannot list the token's keys: %s%s%s%s)\n", dfi_strerror(le),
		    d[0] ? " (" : "", d, d[0] ? ")" : "");
		return;
	}
	printf("base keys   (AES, 2K3DES and 3K3DES secret keys on the token)\n");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ki[i].cls, "secret") != 0 || ki[i].label[0] == '\0' ||
		    (strcmp(ki[i].type, "aes") != 0 && strcmp(ki[i].type, "2k3des") != 0 &&
			strcmp(ki[i].type, "3k3des") != 0))
			continue;
		shown++;
		char *uri = NULL;
		dfi_hsm_key *k = NULL;
		/* a label is the token's bytes, any of them: shown in its
		 * terminal form (termtext.h) */
		char label[CLI_TT_CAP(sizeof(ki[i].label))];
		cli_tt(label, sizeof(label), ki[i].label);
		dfi_err e = dfi_hsm_secret_key_uri(ki[i].label, &uri);
		if (e == DFI_OK)
			e = dfi_hsm_key_find(h, uri, &k);
		free(uri);
		char usage_s[40];
		snprintf(usage_s, sizeof(usage_s), "%s%s%s", ki[i].encrypt ? "encrypt" : "",
		    ki[i].encrypt && ki[i].derive ? "," : "", ki[i].derive ? "derive" : "");
		if (e == DFI_OK) {
			dfi_hsm_path p;
			/* M of 17 bytes: UID || AID || a 7-byte system identifier. */
			e = dfi_hsm_key_path(k, 17, &p);
			printf("  %-24s %-7s %-15s %s%s\n", label, ki[i].type,
			    usage_s[0] ? usage_s : "-", e == DFI_OK ? dfi_hsm_path_name(p) : "no path",
			    ki[i].value_len_unknown ? " (token reports no CKA_VALUE_LEN: taken as 128 bits)" : "");
		} else if (e == DFI_E_HSM_MECHANISM) {
			/* The derivation table above says why and what to do. */
			printf("  %-24s %-7s %-15s no path on this token (derivation above)\n",
			    ki[i].label, ki[i].type, usage_s[0] ? usage_s : "-");
		} else {
			char d[200];
			dfi_hsm_detail_for(h, e, d, sizeof(d));
			printf("  %-24s %-7s %-15s UNUSABLE: %s\n", label, ki[i].type,
			    usage_s[0] ? usage_s : "-", d[0] ? d : dfi_strerror(e));
			fixf(r, "base key '%s' is unusable (%s): re-import it with 'dfissue key import'",
			    ki[i].label, d[0] ? d : dfi_strerror(e));
		}
		dfi_hsm_key_free(k);
	}
	if (shown == 0)
		printf("  none yet: import them with 'dfissue key import' (the key ceremony)\n");
	free(ki);
}

/* One profile key: base key found, of the profile's type, with a path for
 * its M (built for a sample UID and the batch's first row). */
static int
check_profile_key(dfi_hsm *h, const struct dfi_profile_key *pk, const uint8_t aid[3],
    const dfi_batch_row *row, const char *where, struct report *r)
{
	static const uint8_t uid[DFI_PROFILE_UID_LEN] = { 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t mlen = 0;
	struct dfi_diag diag;
	char d[240];
	dfi_hsm_key *k = NULL;
	dfi_hsm_path p;
	int ok = 0;
	dfi_err e = dfi_hsm_key_find(h, pk->base_key, &k);
	if (e != DFI_OK) {
		dfi_hsm_detail_for(h, e, d, sizeof(d));
		printf("  %-28s %s: %s\n", where, pk->base_key, d[0] ? d : dfi_strerror(e));
		fixf(r, "%s: base key %s: %s", where, pk->base_key, d[0] ? d : dfi_strerror(e));
		return 0;
	}
	char label[CLI_TT_CAP(64)]; /* the token's bytes: its terminal form */
	cli_tt(label, sizeof(label), dfi_hsm_key_label(k));
	if (dfi_hsm_key_type(k) != pk->type) {
		printf("  %-28s %s is %s, the profile wants %s\n", where, label,
		    dfi_keytype_name(dfi_hsm_key_type(k)), dfi_keytype_name(pk->type));
		fixf(r, "%s: base key '%s' has the wrong type", where, label);
	} else if (dfi_profile_div_input(pk, uid, aid, row, m, sizeof(m), &mlen, &diag) != DFI_OK) {
		printf("  %-28s %s: M not built: %s\n", where, label, diag.message);
		fixf(r, "%s: %s%s", where, diag.message, row == NULL ? " (give --batch)" : "");
	} else if ((e = dfi_hsm_key_path(k, mlen, &p)) != DFI_OK) {
		dfi_hsm_detail_for(h, e, d, sizeof(d));
		printf("  %-28s %s, M %zu bytes: NO PATH: %s\n", where, label, mlen, d);
		fixf(r, "%s: %s", where, d);
	} else {
		printf("  %-28s %s, M %zu bytes: %s\n", where, label, mlen,
		    dfi_hsm_path_name(p));
		ok = 1;
	}
	dfi_hsm_key_free(k);
	return ok;
}

/* Every rule personalize applies at its start, beyond keys and paths (a
 * factory key version, originality keys...): "can run" must mean that
 * personalize accepts the profile. */
static int
check_engine(dfi_hsm *h, const dfi_profile *prof, const char *path, struct report *r)
{
	char detail[256] = "";
	dfi_err e = cli_perso_check(h, prof, "hsm-check", NULL, detail, sizeof(detail));
	if (e == DFI_OK) {
		printf("profile     %s: personalize accepts it\n", path);
		return 1;
	}
	printf("profile     %s: personalize refuses it: %s\n", path,
	    detail[0] ? detail : dfi_strerror(e));
	fixf(r, "profile '%s': %s", path, detail[0] ? detail : dfi_strerror(e));
	return 0;
}

static int
check_profile(dfi_hsm *h, const char *path, const char *batch_path, struct report *r)
{
	dfi_profile *prof = NULL;
	dfi_batch *batch = NULL;
	dfi_batch_row *row = NULL;
	struct dfi_diag diag;
	char where[64];
	int ok = 1;
	if (cli_profile_open(path, batch_path, &prof, &batch) != DFI_EXIT_OK) {
		fixf(r, "the profile '%s' does not load (above)", path);
		return 0;
	}
	if (batch != NULL && (dfi_batch_next(batch, &row, &diag) != DFI_OK || row == NULL)) {
		fixf(r, "the batch '%s' has no first row to build diversification inputs from",
		    batch_path);
		ok = 0;
	}
	const struct dfi_profile_spec *sp = dfi_profile_spec(prof);
	static const uint8_t picc_aid[3] = { 0, 0, 0 };
	printf("profile     %s: base keys and paths (M for a 7-byte UID%s)\n", path,
	    row != NULL ? " and the batch's first row" : "");
	ok &= check_profile_key(h, &sp->picc.key, picc_aid, row, "picc.key", r);
	for (size_t i = 0; i < sp->napps; i++)
		for (size_t k = 0; k < sp->apps[i].nkeys; k++) {
			snprintf(where, sizeof(where), "applications[%zu].keys[%zu]", i, k);
			ok &= check_profile_key(h, &sp->apps[i].keys[k], sp->apps[i].aid, row, where, r);
		}
	if (ok) /* a missing key is fixed first: the engine would refuse it too */
		ok = check_engine(h, prof, path, r);
	dfi_batch_row_free(row);
	dfi_batch_free(batch);
	dfi_profile_free(prof);
	return ok;
}

/* Appends " --OPT VALUE" to out, the value as a shell word: bare when it
 * holds only characters a shell leaves alone, else double-quoted. */
static void
add_word(char *out, size_t cap, const char *opt, const char *v)
{
	size_t n = strlen(out);
	int bare = v[0] != '\0' && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-.,:/=@+%") == strlen(v);
	int k = snprintf(out + n, cap - n, " --%s %s", opt, bare ? v : "\"");
	if (k < 0 || (size_t)k >= cap - n || bare)
		return; /* cap is the caller's: a line of a report, cut if it must */
	n += (size_t)k;
	for (const char *c = v; *c != '\0' && n + 3 < cap; c++) {
		if (*c == '"' || *c == '\\' || *c == '$' || *c == '`')
			out[n++] = '\\';
		out[n++] = *c;
	}
	snprintf(out + n, cap - n, "\"");
}

/* The command that creates the journal key uri names: its label (object=)
 * and, when the journal key has its own HSM, that HSM's options as
 * journal-key generate takes them (--module, --token, --pin-*). Empty when
 * the URI names no label (an id= only: generate cannot set one). */
static void
generate_command(const struct cli_hsm_opts *o, const char *uri, char *out, size_t cap)
{
	char label[256];
	out[0] = '\0';
	if (dfi_hsm_uri_label(uri, label, sizeof(label)) != DFI_OK)
		return;
	snprintf(out, cap, "dfissue journal-key generate");
	add_word(out, cap, "label", label);
	if (o->jmodule != NULL)
		add_word(out, cap, "module", o->jmodule);
	if (o->jtoken != NULL)
		add_word(out, cap, "token", o->jtoken);
	if (o->jpin_file != NULL)
		add_word(out, cap, "pin-file", o->jpin_file);
	if (o->jpin_env != NULL)
		add_word(out, cap, "pin-env", o->jpin_env);
}

/* The journal key: found, secure, signs a checkpoint that verifies. */
static int
check_journal(const struct cli_hsm_opts *o, dfi_hsm *h, const char *uri, struct report *r)
{
	dfi_hsm *jh = NULL;
	dfi_signer *s = NULL;
	dfi_jpubkey *pk = NULL;
	int ok = 0;
	struct cli_hsm_opts jo;
	cli_journal_hsm_opts(o, &jo);
	if (cli_journal_hsm_separate(o)) {
		char detail[200] = "";
		struct dfi_hsm_config cfg;
		dfi_err e = cli_hsm_config(&jo, NULL, &cfg, detail, sizeof(detail)) == DFI_EXIT_OK
		    ? dfi_hsm_open(&jh, &cfg)
		    : DFI_E_INVALID_ARG;
		if (e != DFI_OK) {
			printf("journal key %s: the journal HSM does not open: %s (%s)\n", uri,
			    dfi_strerror(e), detail);
			fixf(r, "the journal key's HSM (--journal-module/--journal-token) does not open: %s",
			    detail[0] ? detail : dfi_strerror(e));
			return 0;
		}
		h = jh;
	}
	const struct dfi_hsm_mech_info *m;
	size_t nm = dfi_hsm_mechanisms(h, &m);
	int can_ed = 0, can_ec = 0;
	for (size_t i = 0; i < nm; i++) {
		if (m[i].type == CKM_EDDSA)
			can_ed = m[i].usable;
		if (m[i].type == CKM_ECDSA)
			can_ec = m[i].usable;
	}
	dfi_err e = dfi_hsm_signer_new(h, uri, &s);
	if (e != DFI_OK) {
		char d[200];
		dfi_hsm_detail_for(h, e, d, sizeof(d));
		printf("journal key %s on token '%s': %s (%s)\n", uri, dfi_hsm_token_label(h),
		    dfi_strerror(e), d);
		char gen[400];
		generate_command(o, uri, gen, sizeof(gen));
		if (e == DFI_E_HSM_KEY_NOT_FOUND && (can_ed || can_ec) && gen[0] != '\0')
			fixf(r, "no journal key: create it with '%s' (the token signs with %s)", gen,
			    can_ed ? "Ed25519" : "ECDSA P-256 only");
		else if (e == DFI_E_HSM_KEY_NOT_FOUND && (can_ed || can_ec))
			fixf(r, "no journal key: create it with 'dfissue journal-key generate --label "
			     "LABEL' and name it in --journal-key by object=LABEL (the token signs with "
			     "%s)", can_ed ? "Ed25519" : "ECDSA P-256 only");
		else if (e == DFI_E_HSM_KEY_NOT_FOUND)
			fixf(r, "no journal key, and this token signs with neither Ed25519 (CKM_EDDSA) nor "
			     "ECDSA P-256 (CKM_ECDSA): keep the journal key on another HSM "
			     "(--journal-module, --journal-token)");
		else
			fixf(r, "the journal key is unusable: %s", d[0] ? d : dfi_strerror(e));
		goto out;
	}
	/* A checkpoint signed here must verify as the auditor verifies it. */
	dfi_checkpoint cp = { .size = 1, .prev_size = 0 };
	snprintf(cp.origin, sizeof(cp.origin), "dfissue.invalid/hsm-check");
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl = 0;
	dfi_checkpoint back;
	e = dfi_note_sign(&cp, s, note, sizeof(note), &nl);
	if (e != DFI_OK) {
		/* The HSM refused to sign (or its signature was refused): which
		 * call and its CK_RV, not "does not verify". */
		char d[320];
		dfi_hsm_detail_for(h, e, d, sizeof(d));
		printf("journal key %s: could not sign a test checkpoint: %s%s%s%s\n", uri,
		    dfi_strerror(e), d[0] ? " (" : "", d, d[0] ? ")" : "");
		fixf(r, "the journal key does not sign (the call above): check its HSM, then run "
		     "'dfissue hsm check' again");
		goto out;
	}
	e = dfi_jpubkey_from_signer(s, &pk);
	if (e == DFI_OK)
		e = dfi_note_open(note, nl, pk, &back);
	if (e != DFI_OK) {
		printf("journal key %s: a test checkpoint does not verify: %s\n", uri, dfi_strerror(e));
		fixf(r, "the journal key's signatures do not verify (%s)", dfi_strerror(e));
		goto out;
	}
	printf("journal key %s on token '%s': %s, sensitive, non-extractable; a test checkpoint "
	       "signed and verified\n", uri, dfi_hsm_token_label(h),
	    dfi_signer_alg(s) == DFI_SIG_ED25519 ? "Ed25519" : "ECDSA P-256");
	ok = 1;
out:
	dfi_jpubkey_free(pk);
	dfi_signer_free(s);
	dfi_hsm_free(jh);
	return ok;
}

static int
hsm_check(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *jkey = DEFAULT_JOURNAL_KEY, *profile = NULL, *batch = NULL;
	const struct cli_opt opts[] = { CLI_STR("journal-key", &jkey), CLI_STR("profile", &profile),
		CLI_STR("batch", &batch), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "hsm check", .help = help, .opts = opts, .hsm = &o, .journal_hsm = 1 };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (batch != NULL && profile == NULL)
		return cli_usagef("hsm check: --batch goes with --profile (see 'dfissue hsm check --help')");
	if ((rc = cli_uri_check("hsm check: --journal-key", jkey, "key")) != DFI_EXIT_OK)
		return rc;
	char detail[200] = "";
	struct dfi_hsm_config cfg;
	rc = cli_hsm_config(&o, NULL, &cfg, detail, sizeof(detail));
	if (rc != DFI_EXIT_OK)
		return rc;
	struct report r = { .nfix = 0 };
	int ok = 1, host_would = 0;
	print_slots(&cfg, &r, &ok);
	dfi_hsm *h = NULL;
	if (ok) {
		dfi_err e = dfi_hsm_open(&h, &cfg);
		if (e != DFI_OK) {
			/* A PIN error's detail says it all. */
			int pin = e == DFI_E_HSM_PIN_REQUIRED && detail[0];
			printf("token       %s: %s%s%s%s\n", cfg.token_uri != NULL ? cfg.token_uri
									: "(no --token)",
			    pin ? "" : dfi_strerror(e), pin ? "" : " (", detail, pin ? "" : ")");
			if (e == DFI_E_HSM_TOKEN_NOT_FOUND)
				fixf(&r, "select one initialized token with --token 'pkcs11:token=LABEL' (the "
				     "slots above)");
			else
				fixf(&r, "the token does not open: %s",
				    pin ? detail : dfi_strerror(e));
			ok = 0;
		}
	}
	dfi_hsm_path chosen[3] = { DFI_HSM_PATH_NONE, DFI_HSM_PATH_NONE, DFI_HSM_PATH_NONE };
	if (ok) {
		printf("token       '%s' (opened%s)\n", dfi_hsm_token_label(h),
		    o.allow_host ? "; --allow-host-derivation" : "");
		print_mechanisms(h);
		printf("derivation  paths in order of preference; each offered one is run on the AN10922 "
		       "vectors with temporary session keys\n");
		for (size_t i = 0; i < 3; i++)
			chosen[i] = check_type(h, types[i], &r, &host_would);
		if (chosen[0] == DFI_HSM_PATH_NONE) {
			ok = 0;
			if (host_would)
				fixf(&r, "no derive mechanism dfissue can use for AES-128: only host derivation "
				     "works here; accept it with --allow-host-derivation (per-card keys then "
				     "exist in host memory, SECURITY.md), or use an HSM with "
				     "CKM_SP800_108_COUNTER_KDF, CKM_AES_ECB_ENCRYPT_DATA or "
				     "CKM_AES_CBC_ENCRYPT_DATA (docs/OPERATIONS.md)");
			else if (r.nfix == 0)
				fixf(&r, "no derivation path for AES-128 on this token (docs/OPERATIONS.md)");
		}
		print_base_keys(h, &r);
		if (profile != NULL && !check_profile(h, profile, batch, &r))
			ok = 0;
		if (!check_journal(&o, h, jkey, &r))
			ok = 0;
	}
	if (ok) {
		printf("result      personalization can run: ");
		for (size_t i = 0; i < 3; i++)
			printf("%s%s on %s", i ? ", " : "", dfi_keytype_name(types[i]),
			    chosen[i] != DFI_HSM_PATH_NONE ? dfi_hsm_path_name(chosen[i])
							   : "no path (no such keys here)");
		printf("\n");
	} else {
		printf("result      personalization cannot run\n");
	}
	for (int i = 0; i < r.nfix; i++)
		printf("%s %s\n", i == 0 ? "to fix     " : "           ", r.fix[i]);
	dfi_hsm_free(h);
	return ok ? DFI_EXIT_OK : DFI_EXIT_FAIL;
}

static const char *const hsm_help[] = {
	"usage: dfissue hsm check [options]\n\n"
	"  check  what the PKCS#11 module and token offer dfissue, the derivation\n"
	"         path, the AN10922 vectors, the journal key; what is missing\n\n"
	"'dfissue hsm check --help' describes it.\n",
	NULL,
};

int
sub_hsm(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "check", hsm_check }, { NULL, NULL } };
	return cli_subcommand("hsm", argc, argv, hsm_help, sub);
}
