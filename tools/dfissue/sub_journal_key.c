/*
 * dfissue journal-key: generate the journal's signing key pair in the HSM
 * (Ed25519, or ECDSA P-256 where the HSM lacks EdDSA) and export its public
 * key as PEM for auditors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"

static const char *const help[] = {
	"usage: dfissue journal-key generate [--label LABEL]\n"
	"                                    [--alg ed25519|ecdsa-p256|auto]\n"
	"                                    [--pubkey-out FILE] [HSM options]\n"
	"       dfissue journal-key pubkey [--out FILE] [HSM options] KEY-URI\n"
	"       dfissue journal-key vkey (--origin ORIGIN | --journal JOURNAL)\n"
	"                                (--pubkey KEY.pem | [HSM options] KEY-URI)\n\n"
	"generate  creates a token key pair (private key sensitive, non-extractable)\n"
	"          labelled LABEL (default 'journal'); 'auto' (the default) uses\n"
	"          Ed25519 and falls back to ECDSA P-256 when the HSM lacks EdDSA.\n"
	"pubkey    prints the public key of KEY-URI as PEM (SubjectPublicKeyInfo).\n"
	"vkey      prints the key as a C2SP signed-note verifier key\n"
	"          (ORIGIN+KEYID+BASE64, as golang.org/x/mod/sumdb/note reads it), so\n"
	"          that standard note tools verify the journal's checkpoints. The key\n"
	"          name is the journal's origin (--origin, or the genesis record of\n"
	"          JOURNAL).\n\n",
	cli_hsm_help,
	NULL,
};

static int
write_pem(const char *path, const char *pem)
{
	if (path == NULL) {
		fputs(pem, stdout);
		return DFI_EXIT_OK;
	}
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(pem, f) < 0 || fclose(f) != 0) {
		cli_errorf("journal-key: cannot write '%s'", path);
		return DFI_EXIT_FAIL;
	}
	return DFI_EXIT_OK;
}

static int
jk_generate(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *label = "journal", *alg = "auto", *pubout = NULL;
	const struct cli_opt opts[] = { CLI_STR("label", &label), CLI_STR("alg", &alg),
		CLI_STR("pubkey-out", &pubout), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal-key generate", .help = help, .opts = opts, .hsm = &o };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (label[0] == '\0')
		return cli_usage_error("journal-key generate");
	int want_ed = strcmp(alg, "ed25519") == 0, want_ec = strcmp(alg, "ecdsa-p256") == 0;
	int autoalg = strcmp(alg, "auto") == 0;
	if (!want_ed && !want_ec && !autoalg)
		return cli_usagef("journal-key generate: --alg must be ed25519, ecdsa-p256 or auto");
	dfi_hsm *h;
	rc = cli_hsm_open(&o, NULL, &h);
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_sigalg sa = want_ec ? DFI_SIG_ECDSA_P256 : DFI_SIG_ED25519;
	dfi_err e = dfi_hsm_journal_key_generate(h, label, sa);
	if (e == DFI_E_HSM_MECHANISM && autoalg) {
		fprintf(stderr, "dfissue: the HSM has no Ed25519: using ECDSA P-256\n");
		sa = DFI_SIG_ECDSA_P256;
		e = dfi_hsm_journal_key_generate(h, label, sa);
	}
	char *pem = NULL;
	if (e == DFI_OK) {
		char *uri = NULL;
		/* the label's URI names both halves; the public one is exported */
		e = dfi_hsm_secret_key_uri(label, &uri);
		if (e == DFI_OK) {
			char *semi = strstr(uri, ";type=");
			if (semi != NULL)
				*semi = '\0';
			e = dfi_hsm_public_key_pem(h, uri, &pem);
		}
		free(uri);
	}
	if (e != DFI_OK) {
		rc = cli_hsm_fail(h, "journal-key generate", e);
	} else {
		printf("generated %s key pair '%s' in token '%s'\n",
		    sa == DFI_SIG_ED25519 ? "Ed25519" : "ECDSA P-256", label, dfi_hsm_token_label(h));
		rc = write_pem(pubout, pem); /* stdout without --pubkey-out */
	}
	free(pem);
	dfi_hsm_free(h);
	return rc;
}

/* The public key of the key pair KEY-URI as PEM into *pem (the caller
 * frees it), with the HSM open only meanwhile (KEY-URI names the token
 * when no --token does); on failure one line naming what. */
static int
hsm_pem(const struct cli_hsm_opts *o, const char *key_uri, const char *what, char **pem)
{
	dfi_hsm *h;
	int rc = cli_hsm_open(o, key_uri, &h);
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_err e = dfi_hsm_public_key_pem(h, key_uri, pem);
	if (e != DFI_OK)
		rc = cli_hsm_fail(h, what, e);
	dfi_hsm_free(h);
	return rc;
}

static int
jk_pubkey(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *out = NULL;
	const struct cli_opt opts[] = { CLI_STR("out", &out), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal-key pubkey", .help = help, .opts = opts,
		.hsm = &o, .min_operands = 1, .max_operands = 1,
		.needs = "needs one KEY-URI (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	char *pem = NULL;
	rc = hsm_pem(&o, argv[optind], "journal-key pubkey", &pem);
	if (rc == DFI_EXIT_OK)
		rc = write_pem(out, pem);
	free(pem);
	return rc;
}

static void
genesis_origin(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	char *origin = ctx;
	if (r->type == DFI_JREC_GENESIS && r->seq == 0 && origin[0] == '\0')
		memcpy(origin, r->origin, DFI_J_STR_MAX);
}

static int
jk_vkey(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *origin = NULL, *journal = NULL, *pubkey = NULL;
	const struct cli_opt opts[] = { CLI_STR("origin", &origin), CLI_STR("journal", &journal),
		CLI_STR("pubkey", &pubkey), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal-key vkey", .help = help, .opts = opts,
		.hsm = &o, .max_operands = 1, .needs = "needs --origin ORIGIN or --journal JOURNAL, and "
						       "--pubkey KEY.pem or a KEY-URI (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if ((origin == NULL) == (journal == NULL) || (pubkey != NULL) == (argc - optind == 1))
		return cli_needs(&spec);
	char name[DFI_J_STR_MAX] = "";
	if (journal != NULL) {
		struct dfi_jverify_opts vo = { .record = genesis_origin, .ctx = name };
		struct dfi_jverify_result *res = calloc(1, sizeof(*res));
		dfi_err e = res == NULL ? DFI_E_NOMEM : dfi_journal_verify_file(journal, &vo, res);
		free(res);
		if (name[0] == '\0') {
			cli_errorf("journal-key vkey: %s: %s", journal,
			    e == DFI_OK || e == DFI_E_JOURNAL_FORMAT || e == DFI_E_JOURNAL_CORRUPT ?
				"no genesis record (the journal's first line)" :
				dfi_strerror(e));
			return DFI_EXIT_FAIL;
		}
	} else if (strlen(origin) >= sizeof(name)) {
		return cli_usagef("journal-key vkey: the origin is longer than %zu bytes", sizeof(name) - 1);
	} else {
		strcpy(name, origin);
	}
	dfi_jpubkey *pk = NULL;
	if (pubkey != NULL) {
		rc = cli_load_pubkey("journal-key vkey", pubkey, &pk, NULL, 0);
	} else {
		char *pem = NULL;
		rc = hsm_pem(&o, argv[optind], "journal-key vkey", &pem);
		dfi_err e = rc == DFI_EXIT_OK ? dfi_jpubkey_from_pem(pem, strlen(pem), &pk) : DFI_OK;
		if (e != DFI_OK)
			rc = cli_fail("journal-key vkey", e);
		free(pem);
	}
	if (rc != DFI_EXIT_OK)
		return rc;
	char vkey[DFI_VKEY_MAX];
	dfi_err e = dfi_jpubkey_vkey(pk, name, vkey, sizeof(vkey));
	dfi_jpubkey_free(pk);
	if (e == DFI_E_INVALID_ARG)
		return cli_usagef("journal-key vkey: '%s' cannot be a key name (printable ASCII, no "
				  "spaces or '+')", name);
	if (e != DFI_OK)
		return cli_fail("journal-key vkey", e);
	printf("%s\n", vkey);
	return DFI_EXIT_OK;
}

int
sub_journal_key(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "generate", jk_generate }, { "pubkey", jk_pubkey }, { "vkey", jk_vkey },
		{ NULL, NULL } };
	return cli_subcommand("journal-key", argc, argv, help, sub);
}
