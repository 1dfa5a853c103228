/*
 * dfissue sdm verify: checks taps of a Secure Dynamic Messaging file (a
 * DESFire EV3 or NTAG 424 DNA read without authentication) as a backend
 * must: matches the tap against the file's template, decrypts the PICC data
 * and checks the SDMMAC with keys derived in the HSM, deciphers the
 * encrypted file data, and refuses a counter not above the last one
 * accepted for that card (the state file). One tap from the command line,
 * or one per line on standard input with one answer line each (a
 * long-running helper for a web service: the HSM is opened once).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jwipe.h"
#include "linein.h"
#include "dfissue/desfire.h"
#include "dfissue/hsm.h"
#include "dfissue/pgregistry.h"
#include "dfissue/profile.h"
#include "dfissue/sdm.h"
#include "dfissue/util.h"
#include "perso_cli.h"
#include "opts.h"
#include "sdm_state.h"
#include "termtext.h"

static const char *const verify_help[] = {
	"usage: dfissue sdm verify --template TEMPLATE [--lrp] [--no-ndef]\n"
	"                          [--meta-key URI [--meta-div RECIPE]]\n"
	"                          --file-key URI [--file-div RECIPE] [--aid HEX]\n"
	"                          --state FILE | --registry URL\n"
	"                          [--format auto|url|query|hex|text]\n"
	"                          [--json] [HSM options] [TAP]\n"
	"Checks one tap of a Secure Dynamic Messaging file (TAP), or one tap per line\n"
	"of standard input with one answer line each, and prints the card's UID and\n"
	"read counter. A tap is refused when it does not match the template, when its\n"
	"MAC does not verify (altered, or another card's keys), or when its counter is\n"
	"not above the last one accepted for that UID (a replay).\n"
	"\n"
	"  --template T     the file's text as personalized, with {picc} or {uid}+{ctr},\n"
	"                   {mac}, and optionally {enc:N} and {macin} (docs/PROFILE.md);\n"
	"                   it must mirror the UID and the counter\n"
	"  --lrp            the card runs in LRP mode (48-character PICC data)\n"
	"  --no-ndef        the file holds the text itself, not an NDEF URI record\n"
	"                   (default: NDEF when the template is an http(s) URL)\n"
	"  --meta-key URI   pkcs11: URI of the SDM meta-read base key (templates with\n"
	"                   {picc}; plain {uid}/{ctr} mirrors need none)\n"
	"  --meta-div R     AN10922 diversification of that key, without \"uid\"\n"
	"                   (default: the base key itself, which then needs\n"
	"                   'dfissue key import --usage sdm')\n"
	"  --file-key URI   pkcs11: URI of the SDM file-read base key\n"
	"  --file-div R     its diversification, usually with \"uid\" (per card)\n"
	"  --aid HEX        the application's AID (3 bytes, command order) for \"aid\"\n"
	"  --state FILE     the replay state: last counter accepted per UID (one host)\n"
	"  --registry URL   the replay state in the PostgreSQL registry (schema 5),\n"
	"                   shared by every verifier: a libpq URI, credentials from the\n"
	"                   libpq password file or environment (docs/OPERATIONS.md\n"
	"                   section 13)\n"
	"  --format F       what a tap is (default auto: URL with \"://\", file bytes\n"
	"                   if all hex, a query with '?' or '=', else the text)\n"
	"  --json           one JSON object per tap\n"
	"\n"
	"A recipe R is a comma-separated list of diversification items as in a\n"
	"profile: uid, aid, sysid:HEX, hex:HEX.\n"
	"\n"
	"Exit status: 0 the tap was accepted (with TAP; on standard input: every line\n"
	"was answered), 1 refused or failed, 2 usage error.\n\n",
	cli_hsm_help,
	NULL,
};

/* The longest line a tap is: a whole file read as hex (dfi_sdm_tap_parse
 * takes up to 2 * DFI_DF_MAX_DATA digits; a URL or a query is at most the
 * template's 240 characters), and the CR of a CRLF line. A longer line is
 * no tap: refused without being held. */
#define TAP_LINE_MAX (2 * DFI_DF_MAX_DATA + 1)

struct verifier {
	struct dfi_sdm_layout layout;
	dfi_hsm *h;
	dfi_hsm_key *meta_base, *file_base;
	dfi_cardkey *meta; /* the meta-read key, the same for every card */
	struct dfi_profile_key meta_div, file_div;
	struct dfi_profile_segment mseg[16], fseg[16];
	uint8_t seg_bytes[32][32];
	uint8_t aid[3];
	const char *state;
	dfi_pgreg *reg; /* --registry: the replay state there instead of state */
	int json;
};

/* "uid,aid,sysid:HEX,hex:HEX" into segments (bytes stored in v). */
static int
parse_recipe(struct verifier *v, const char *what, const char *recipe,
    struct dfi_profile_segment *seg, size_t *nseg, size_t *nbytes, int allow_uid)
{
	char buf[256];
	if (strlen(recipe) >= sizeof(buf)) {
		cli_errorf("sdm verify: %s: recipe too long", what);
		return 0;
	}
	strcpy(buf, recipe);
	*nseg = 0;
	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it != NULL;
	    it = strtok_r(NULL, ",", &save)) {
		if (*nseg == 16) {
			cli_errorf("sdm verify: %s: at most 16 items", what);
			return 0;
		}
		struct dfi_profile_segment *s = &seg[(*nseg)++];
		memset(s, 0, sizeof(*s));
		if (strcmp(it, "uid") == 0) {
			if (!allow_uid) {
				cli_errorf("sdm verify: %s: \"uid\" is not known before the PICC data is "
				    "decrypted: the meta-read key is the same for every card", what);
				return 0;
			}
			s->kind = DFI_SEG_UID;
		} else if (strcmp(it, "aid") == 0) {
			s->kind = DFI_SEG_AID;
		} else if (strncmp(it, "sysid:", 6) == 0 || strncmp(it, "hex:", 4) == 0) {
			const char *hex = strchr(it, ':') + 1;
			size_t n;
			if (*nbytes == 32 || dfi_hex_decode(hex, v->seg_bytes[*nbytes], 32, &n) != DFI_OK ||
			    n == 0) {
				cli_errorf("sdm verify: %s: '%s' needs 1..31 bytes of hex", what, it);
				return 0;
			}
			s->kind = DFI_SEG_BYTES;
			s->bytes = v->seg_bytes[*nbytes];
			s->len = n;
			(*nbytes)++;
		} else {
			cli_errorf("sdm verify: %s: unknown item '%s' (allowed: uid, aid, sysid:HEX, "
			    "hex:HEX)", what, it);
			return 0;
		}
	}
	if (*nseg == 0) {
		cli_errorf("sdm verify: %s: empty recipe", what);
		return 0;
	}
	return 1;
}

/* A card key from a base key and an optional recipe. */
static dfi_err
card_key(struct verifier *v, dfi_hsm_key *base, const struct dfi_profile_key *div,
    const uint8_t *uid, dfi_cardkey **out)
{
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT], zero[DFI_PROFILE_UID_LEN] = { 0 };
	size_t mlen;
	struct dfi_diag d;
	if (div->ndiv == 0)
		return dfi_hsm_cardkey_base(v->h, base, DFI_KT_AES128, 0, out);
	dfi_err e = dfi_profile_div_input(div, uid != NULL ? uid : zero, v->aid, NULL, m,
	    sizeof(m), &mlen, &d);
	if (e == DFI_OK)
		e = dfi_hsm_cardkey_diversified(v->h, base, DFI_KT_AES128, m, mlen, 0, out);
	dfi_wipe(m, sizeof(m));
	return e;
}

static dfi_err
file_key(void *arg, const uint8_t *uid, dfi_cardkey **out)
{
	struct verifier *v = arg;
	return card_key(v, v->file_base, &v->file_div, uid, out);
}

/* Prints the verdict on one tap; returns 1 when accepted. */
static int
report(const struct verifier *v, int accepted, const char *reason, const char *detail,
    const struct dfi_sdm_result *r, int have_card, uint32_t last, int seen)
{
	char uid[2 * DFI_SDM_UID_LEN + 1] = "", data[2 * sizeof(r->file) + 1] = "";
	if (have_card) {
		dfi_hex_encode(r->uid, DFI_SDM_UID_LEN, uid, sizeof(uid));
		if (accepted && r->file_len > 0)
			dfi_hex_encode(r->file, r->file_len, data, sizeof(data));
	}
	if (v->json) {
		json_t *o = json_object();
		json_object_set_new(o, "result", json_string(accepted ? "accepted" : "refused"));
		if (!accepted) {
			json_object_set_new(o, "reason", json_string(reason));
			json_object_set_new(o, "detail", json_string(detail));
		}
		if (have_card) {
			json_object_set_new(o, "uid", json_string(uid));
			json_object_set_new(o, "counter", json_integer(r->ctr));
		}
		if (seen)
			json_object_set_new(o, "last_counter", json_integer(last));
		if (data[0] != 0)
			json_object_set_new(o, "file_data", json_string(data));
		cli_json_puts(o, JSON_COMPACT);
		json_decref(o);
	} else if (accepted) {
		printf("sdm verify: accepted: uid %s counter %u%s%s\n", uid, r->ctr,
		    data[0] ? " file data " : "", data);
	} else {
		/* a format detail may quote the tap: the card's, untrusted */
		char d[CLI_TT_CAP(255)];
		cli_tt(d, sizeof(d), detail);
		if (have_card)
			printf("sdm verify: refused (%s): uid %s counter %u: %s\n", reason, uid, r->ctr, d);
		else
			printf("sdm verify: refused (%s): %s\n", reason, d);
	}
	fflush(stdout);
	return accepted;
}

/* The replay check in the registry (dfi_pgreg_sdm_seen), answered as the
 * state file answers it. */
static dfi_err
registry_check(const struct verifier *v, const struct dfi_sdm_result *r, enum sdm_state_verdict *verdict,
    uint32_t *last, int *seen, char *why, size_t cap)
{
	int accepted = 0;
	int64_t prev = -1;
	why[0] = '\0';
	dfi_err e = dfi_pgreg_sdm_seen(v->reg, r->uid, DFI_SDM_UID_LEN, r->ctr, &accepted, &prev, why, cap);
	if (e != DFI_OK)
		return e;
	*verdict = accepted ? SDM_STATE_ACCEPTED : SDM_STATE_REPLAY;
	*seen = prev >= 0;
	*last = prev >= 0 ? (uint32_t)prev : 0;
	return DFI_OK;
}

/* One tap: 1 accepted, 0 refused, -1 a failure that stops the command. */
static int
verify_one(struct verifier *v, const char *data, enum dfi_sdm_input kind)
{
	struct dfi_sdm_tap t;
	struct dfi_sdm_result r;
	char why[256];
	memset(&r, 0, sizeof(r));
	if (dfi_sdm_tap_parse(&v->layout, data, kind, &t, why, sizeof(why)) != DFI_OK)
		return report(v, 0, "format", why, &r, 0, 0, 0);
	dfi_err e = dfi_sdm_verify(&v->layout, &t, v->meta, file_key, v, &r);
	if (e == DFI_E_CARD_MAC)
		return report(v, 0, "mac", "the MAC does not verify: an altered tap, or a card "
		    "whose keys are not these", &r, 0, 0, 0);
	if (e == DFI_E_PARSE)
		return report(v, 0, "format", "the tap's fields do not decode", &r, 0, 0, 0);
	if (e != DFI_OK) {
		cli_hsm_fail(v->h, "sdm verify", e);
		return -1;
	}
	enum sdm_state_verdict verdict;
	uint32_t last;
	int seen;
	e = v->reg != NULL ? registry_check(v, &r, &verdict, &last, &seen, why, sizeof(why)) :
	    sdm_state_check(v->state, r.uid, DFI_SDM_UID_LEN, r.ctr, &verdict, &last, &seen, why,
	    sizeof(why));
	if (e != DFI_OK) {
		cli_errorf("sdm verify: %s: %s", v->reg != NULL ? "registry" : "state",
		    why[0] ? why : dfi_strerror(e));
		return -1;
	}
	if (verdict == SDM_STATE_REPLAY) {
		snprintf(why, sizeof(why), "counter %u is not above %u, the last accepted for this "
		    "card: a replayed (or older) tap", r.ctr, last);
		report(v, 0, "replay", why, &r, 1, last, seen);
		dfi_wipe(&r, sizeof(r));
		return 0;
	}
	int ok = report(v, 1, NULL, NULL, &r, 1, last, seen);
	dfi_wipe(&r, sizeof(r));
	return ok;
}

/* The token refused the operation for the key's usages: a missing
 * CKA_DECRYPT/CKA_SIGN (CKR_KEY_FUNCTION_NOT_PERMITTED), or a mechanism
 * outside its CKA_ALLOWED_MECHANISMS (SoftHSM2: CKR_MECHANISM_INVALID). */
static int
usage_refused(dfi_err e)
{
	return e == DFI_E_HSM_KEY_TYPE || e == DFI_E_HSM_MECHANISM;
}

/* A base key used as it is (no recipe) does the SDM crypto itself: the
 * meta-read key decrypts the PICC data, the file-read key CMACs the
 * session vectors. The key ceremony gives a key only what its derivation
 * path needs unless told it is an SDM key (--usage sdm), so both run once
 * here on a dummy input, the first tap's operations: a key that may not
 * is named, with what to do, before any tap is answered. */
static int
check_plain_keys(struct verifier *v, const char *meta_uri, const char *file_uri)
{
	static const uint8_t dummy[DFI_SDM_PICC_LRP];
	const char *opt = "--meta-key", *div = "--meta-div", *uri = meta_uri;
	dfi_err e = DFI_OK;
	if (v->meta != NULL && v->meta_div.ndiv == 0) {
		struct dfi_sdm_picc picc;
		e = dfi_sdm_picc_decrypt(v->meta, v->layout.cipher, dummy, v->layout.cipher ==
		    DFI_SDM_LRP ? DFI_SDM_PICC_LRP : DFI_SDM_PICC_AES, &picc);
		dfi_wipe(&picc, sizeof(picc));
	}
	if (!usage_refused(e) && v->file_div.ndiv == 0) {
		dfi_cardkey *fk = NULL;
		dfi_sdm_keys *k = NULL;
		opt = "--file-key", div = "--file-div", uri = file_uri;
		e = card_key(v, v->file_base, &v->file_div, NULL, &fk);
		if (e == DFI_OK)
			e = dfi_sdm_keys_new(&k, fk, v->layout.cipher, NULL, NULL);
		dfi_sdm_keys_free(k);
		dfi_cardkey_free(fk);
	}
	if (!usage_refused(e))
		return DFI_EXIT_OK; /* anything else is the tap's to report */
	char detail[200];
	dfi_hsm_detail_for(v->h, e, detail, sizeof(detail));
	cli_errorf("sdm verify: %s '%s' is used as it is (no %s), so it must be allowed to "
	    "decrypt and CMAC: import it with 'dfissue key import --usage sdm' (%s)", opt, uri,
	    div, detail);
	return DFI_EXIT_FAIL;
}

static int
sdm_verify(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *tmpl = NULL, *meta_uri = NULL, *file_uri = NULL, *meta_div = NULL;
	const char *file_div = NULL, *aid = NULL, *format = "auto";
	const char *state = NULL, *registry = NULL;
	int lrp = 0, no_ndef = 0, json = 0, rc = DFI_EXIT_FAIL;
	const struct cli_opt opts[] = { CLI_STR("template", &tmpl), CLI_FLAG("lrp", &lrp),
		CLI_FLAG("no-ndef", &no_ndef), CLI_STR("meta-key", &meta_uri),
		CLI_STR("meta-div", &meta_div), CLI_STR("file-key", &file_uri),
		CLI_STR("file-div", &file_div), CLI_STR("aid", &aid), CLI_STR("state", &state),
		CLI_STR("registry", &registry), CLI_STR("format", &format), CLI_FLAG("json", &json), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "sdm verify", .help = verify_help, .opts = opts, .hsm = &o, .max_operands = 1 };
	int pr = cli_parse(&spec, argc, argv);
	if (pr != CLI_GO_ON)
		return pr;
	struct verifier *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return cli_fail("sdm verify", DFI_E_NOMEM);
	v->state = state;
	v->json = json;
	static const char *const kinds[] = { "auto", "url", "query", "hex", "text" };
	enum dfi_sdm_input kind = DFI_SDM_IN_AUTO;
	int known = 0;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(format, kinds[k]) == 0) {
			kind = (enum dfi_sdm_input)k;
			known = 1;
		}
	if (!known) {
		cli_errorf("sdm verify: --format must be auto, url, query, hex or text");
		free(v);
		return DFI_EXIT_USAGE;
	}
	if (tmpl == NULL || file_uri == NULL || (v->state == NULL) == (registry == NULL)) {
		cli_errorf("sdm verify: needs --template, --file-key and one of --state or --registry "
		    "(and --meta-key with {picc}), and at most one TAP (see --help)");
		free(v);
		return DFI_EXIT_USAGE;
	}
	char why[256];
	if (registry != NULL && dfi_pgreg_check_url(registry, why, sizeof(why)) != DFI_OK) {
		cli_errorf("sdm verify: --registry: %s", why);
		free(v);
		return DFI_EXIT_USAGE;
	}
	int ndef = !no_ndef && (strncmp(tmpl, "http://", 7) == 0 || strncmp(tmpl, "https://", 8) == 0);
	if (dfi_sdm_layout_parse(tmpl, lrp ? DFI_SDM_LRP : DFI_SDM_AES, ndef, &v->layout, why,
	    sizeof(why)) != DFI_OK) {
		cli_errorf("sdm verify: --template: %s", why);
		free(v);
		return DFI_EXIT_USAGE;
	}
	const struct dfi_sdm_layout *l = &v->layout;
	if (!l->has_mac || !(l->has_picc || (l->has_uid && l->has_ctr))) {
		cli_errorf("sdm verify: --template: a tap is only checked with {mac} and both the UID "
		    "and the counter ({picc}, or {uid} and {ctr}): without them replays pass");
		free(v);
		return DFI_EXIT_USAGE;
	}
	/* Plain {uid}/{ctr} mirrors need no meta-read key: none is opened. */
	if (!l->has_picc)
		meta_uri = NULL, meta_div = NULL;
	else if (meta_uri == NULL) {
		cli_errorf("sdm verify: the template has {picc}: give --meta-key, the key that "
		    "decrypts it");
		free(v);
		return DFI_EXIT_USAGE;
	}
	size_t nbytes = 0;
	if ((meta_div != NULL && !parse_recipe(v, "--meta-div", meta_div, v->mseg,
	    &v->meta_div.ndiv, &nbytes, 0)) || (file_div != NULL && !parse_recipe(v, "--file-div",
	    file_div, v->fseg, &v->file_div.ndiv, &nbytes, 1))) {
		free(v);
		return DFI_EXIT_USAGE;
	}
	v->meta_div.div = v->mseg;
	v->file_div.div = v->fseg;
	size_t al = 0;
	if (aid != NULL && (dfi_hex_decode(aid, v->aid, sizeof(v->aid), &al) != DFI_OK || al != 3)) {
		cli_errorf("sdm verify: --aid needs 3 bytes as 6 hex digits");
		free(v);
		return DFI_EXIT_USAGE;
	}
	for (size_t i = 0; i < v->meta_div.ndiv + v->file_div.ndiv; i++) {
		const struct dfi_profile_segment *s = i < v->meta_div.ndiv ? &v->mseg[i] :
		    &v->fseg[i - v->meta_div.ndiv];
		if (s->kind == DFI_SEG_AID && aid == NULL) {
			cli_errorf("sdm verify: a recipe uses \"aid\": give --aid");
			free(v);
			return DFI_EXIT_USAGE;
		}
	}

	int hrc = cli_hsm_open(&o, meta_uri != NULL ? meta_uri : file_uri, &v->h);
	cli_hsm_pin_env_forget(&o); /* verify may run on for hours: the handle holds the PIN */
	if (hrc != DFI_EXIT_OK) {
		free(v);
		return DFI_EXIT_FAIL;
	}
	dfi_err e = DFI_OK;
	if (registry != NULL) {
		/* one connection: taps are checked one after the other */
		struct dfi_pgreg_opts ro = { .station = "sdm-verify", .max_conns = 1 };
		if (dfi_pgreg_open(&v->reg, registry, &ro, why, sizeof(why)) != DFI_OK) {
			cli_errorf("sdm verify: --registry: %s", why);
			goto out;
		}
	}
	if (meta_uri != NULL && (e = dfi_hsm_key_find(v->h, meta_uri, &v->meta_base)) != DFI_OK) {
		rc = cli_hsm_fail(v->h, "sdm verify: --meta-key", e);
		goto out;
	}
	if ((e = dfi_hsm_key_find(v->h, file_uri, &v->file_base)) != DFI_OK) {
		rc = cli_hsm_fail(v->h, "sdm verify: --file-key", e);
		goto out;
	}
	if ((v->meta_base != NULL && dfi_hsm_key_type(v->meta_base) != DFI_KT_AES128) ||
	    dfi_hsm_key_type(v->file_base) != DFI_KT_AES128) {
		cli_errorf("sdm verify: SDM keys are AES-128 keys");
		goto out;
	}
	if (v->meta_base != NULL &&
	    (e = card_key(v, v->meta_base, &v->meta_div, NULL, &v->meta)) != DFI_OK) {
		rc = cli_hsm_fail(v->h, "sdm verify: the meta-read key", e);
		goto out;
	}
	if (check_plain_keys(v, meta_uri, file_uri) != DFI_EXIT_OK)
		goto out;
	if (optind < argc) {
		int r = verify_one(v, argv[optind], kind);
		rc = r == 1 ? DFI_EXIT_OK : DFI_EXIT_FAIL;
		goto out;
	}
	/* one tap per line; a longer line is skipped, never held */
	char line[TAP_LINE_MAX + 1];
	size_t n;
	int got;
	rc = DFI_EXIT_OK;
	while ((got = cli_line_read(stdin, line, sizeof(line), &n)) >= 0) {
		if (got == 0) {
			cli_line_skip(stdin);
			report(v, 0, "format", "the line is longer than any tap", NULL, 0, 0, 0);
			continue;
		}
		if (verify_one(v, line, kind) < 0) {
			rc = DFI_EXIT_FAIL;
			break;
		}
	}
out:
	dfi_pgreg_free(v->reg);
	dfi_cardkey_free(v->meta);
	dfi_hsm_key_free(v->meta_base);
	dfi_hsm_key_free(v->file_base);
	dfi_hsm_free(v->h);
	dfi_wipe(v, sizeof(*v));
	free(v);
	return rc;
}

/* ---- sdm read: a tap as a phone makes it ---------------------------------- */

static const char *const read_help[] = {
	"usage: dfissue sdm read --reader SPEC --aid HEX --file N [--size N] [--hex]\n"
	"                        [--wait-ms MS]\n"
	"Reads an SDM file the way a phone does, without authentication (so the card's\n"
	"read counter moves on), in one ReadData, and prints what the card showed: the\n"
	"URL of an NDEF URI record, else the file as hex. Pipe it into 'dfissue sdm\n"
	"verify' to check a freshly personalized card end to end.\n"
	"\n",
	cli_reader_help,
	"  --aid HEX        the application (3 bytes, command order)\n"
	"  --file N         the file number\n"
	"  --size N         bytes to read (default: the file's size from GetFileSettings,\n"
	"                   which needs free listing)\n"
	"  --hex            print the file's bytes as hex even when it holds a URL\n"
	"  --wait-ms MS     wait up to MS for a card (default 10000)\n",
	NULL,
};

/* The URL of an NDEF message holding one URI record (NFC Forum URI RTD),
 * into out; 0 when the data is no such message. */
static int
ndef_url(const uint8_t *p, size_t n, char *out, size_t cap)
{
	static const char *const prefix[] = { "", "http://www.", "https://www.", "http://",
		"https://" };
	if (n < 7 || p[2] != 0xD1 || p[3] != 0x01 || p[5] != 'U' || p[6] > 4)
		return 0;
	size_t nlen = (size_t)p[0] << 8 | p[1], plen = p[4];
	if (nlen != 4 + plen || 2 + nlen > n || plen < 1)
		return 0;
	size_t pl = strlen(prefix[p[6]]), rest = plen - 1;
	if (pl + rest + 1 > cap)
		return 0;
	for (size_t i = 0; i < rest; i++)
		if (p[7 + i] < 0x21 || p[7 + i] > 0x7E)
			return 0;
	memcpy(out, prefix[p[6]], pl);
	memcpy(out + pl, p + 7, rest);
	out[pl + rest] = 0;
	return 1;
}

static int
sdm_read(int argc, char **argv)
{
	const char *reader = NULL, *aidhex = NULL;
	unsigned long fileno = 0, size = 0, wait_ms = 10000;
	int hex = 0, rc;
	const struct cli_opt opts[] = { CLI_NEED_STR("reader", &reader), CLI_NEED_STR("aid", &aidhex),
		CLI_NEED_UINT("file", &fileno, 0, 31, "a file number 0..31"),
		CLI_UINT("size", &size, 1, DFI_DF_MAX_DATA, "a size in bytes"),
		CLI_FLAG("hex", &hex),
		CLI_UINT("wait-ms", &wait_ms, 0, 86400000UL, "milliseconds"), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "sdm read", .help = read_help, .opts = opts,
		.needs = "needs --reader, --aid (6 hex digits), --file 0..31, and --size 1.."
			 CLI_STRING_OF(DFI_DF_MAX_DATA) " when given (see --help)" };
	int pr = cli_parse(&spec, argc, argv);
	if (pr != CLI_GO_ON)
		return pr;
	uint8_t aidb[3];
	size_t al = 0;
	if (dfi_hex_decode(aidhex, aidb, sizeof(aidb), &al) != DFI_OK || al != 3)
		return cli_needs(&spec);
	if ((rc = cli_reader_check("sdm read", reader)) != DFI_EXIT_OK)
		return rc;
	struct cli_reader r;
	if ((rc = cli_reader_open(&r, reader, 0, DFI_SIM_TEAR_AFTER)) != DFI_EXIT_OK)
		return rc;
	dfi_desfire *d = NULL;
	uint8_t *buf = NULL;
	uint32_t aid = (uint32_t)aidb[0] | (uint32_t)aidb[1] << 8 | (uint32_t)aidb[2] << 16;
	dfi_err e = dfi_transport_wait_card(r.t, (int)wait_ms);
	if (e == DFI_OK)
		e = dfi_desfire_new(&d, r.t);
	/* a session an earlier connection left: start from the PICC level */
	if (e == DFI_OK && (e = dfi_desfire_select_application(d, 0)) == DFI_OK)
		e = dfi_desfire_select_application(d, aid);
	if (e == DFI_OK && size == 0) {
		struct dfi_df_file_settings fs;
		if ((e = dfi_desfire_get_file_settings(d, (uint8_t)fileno, &fs)) == DFI_OK)
			size = fs.size;
		if (e == DFI_E_DF_AUTHENTICATION_ERROR || e == DFI_E_DF_PERMISSION_DENIED) {
			cli_errorf("sdm read: the card does not list file settings freely: give --size");
			rc = DFI_EXIT_FAIL;
			goto out;
		}
	}
	if (e == DFI_OK && (size == 0 || size > DFI_DF_MAX_DATA))
		e = DFI_E_CARD_PROTOCOL;
	if (e == DFI_OK && (buf = malloc(size)) == NULL)
		e = DFI_E_NOMEM;
	if (e == DFI_OK)
		e = dfi_desfire_read_data(d, (uint8_t)fileno, DFI_DF_COMM_PLAIN, 0, (uint32_t)size, buf);
	if (e != DFI_OK) {
		rc = cli_fail("sdm read", e);
		goto out;
	}
	char url[512];
	if (!hex && ndef_url(buf, size, url, sizeof(url))) {
		printf("%s\n", url);
	} else {
		char *h = malloc(2 * size + 1);
		if (h == NULL || dfi_hex_encode(buf, size, h, 2 * size + 1) != DFI_OK) {
			free(h);
			rc = cli_fail("sdm read", DFI_E_NOMEM);
			goto out;
		}
		printf("%s\n", h);
		free(h);
	}
	rc = DFI_EXIT_OK;
out:
	free(buf);
	dfi_desfire_free(d);
	cli_reader_close(&r);
	return rc;
}

static const char *const sdm_help[] = {
	"usage: dfissue sdm <verify|read> [options]\n\n"
	"  verify   check taps of a Secure Dynamic Messaging file (UID, counter, MAC,\n"
	"           replays) with keys in the HSM\n"
	"  read     read an SDM file as a phone does and print the tap\n\n"
	"'dfissue sdm <command> --help' describes each.\n",
	NULL,
};

int
sub_sdm(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "verify", sdm_verify }, { "read", sdm_read }, { NULL, NULL } };
	return cli_subcommand("sdm", argc, argv, sdm_help, sub);
}
