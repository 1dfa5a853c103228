/*
 * The HSM options every HSM-using subcommand shares (cli.h): their help
 * text, the dfi_hsm_config they make, opening the HSM and the journal's
 * signing key with them, and the error line of a failing HSM call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "dfissue/hsm.h"
#include "dfissue/util.h"

/* One error line, with the PKCS#11 detail when the HSM layer left one. */
static int
hsm_error(const char *what, dfi_err e, const char *detail)
{
	/* The detail of a PIN error names the source that failed and what to
	 * do; the error's text ("give --pin-file...") fits no source at all. */
	if (e == DFI_E_HSM_PIN_REQUIRED && detail[0] != '\0')
		cli_errorf("%s: %s", what, detail);
	else if (detail[0] != '\0')
		cli_errorf("%s: %s (%s)", what, dfi_strerror(e), detail);
	else
		cli_errorf("%s: %s", what, dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

int
cli_hsm_fail(dfi_hsm *h, const char *what, dfi_err e)
{
	char detail[400];
	/* The detail of e only: the handle also keeps that of a failure the
	 * library tolerated before (a key looked up under another class),
	 * which would name the wrong call after an error that set none. */
	dfi_hsm_detail_for(h, e, detail, sizeof(detail));
	return hsm_error(what, e, detail);
}

int
cli_uri_check(const char *name, const char *uri, const char *what)
{
	char why[300];
	if (uri == NULL || dfi_hsm_uri_check(uri, what, why, sizeof(why)) != DFI_E_HSM_URI)
		return DFI_EXIT_OK; /* anything else is the HSM layer's to report */
	return cli_usagef("%s: '%s': %s", name, uri, why);
}

int
cli_hsm_config(const struct cli_hsm_opts *o, const char *fallback_uri, struct dfi_hsm_config *cfg,
    char *detail, size_t cap)
{
	dfi_hsm_path path = DFI_HSM_PATH_AUTO;
	/* Before the module loads: a typo in a URI is not an absent HSM. The
	 * journal's token first: the journal's options carry it as their token. */
	int rc = cli_uri_check("--journal-token", o->jtoken, "token");
	if (rc == DFI_EXIT_OK && o->token != NULL)
		rc = cli_uri_check("--token", o->token, "token");
	else if (rc == DFI_EXIT_OK)
		rc = cli_uri_check("DFISSUE_TOKEN", getenv("DFISSUE_TOKEN"), "token");
	if (rc != DFI_EXIT_OK)
		return rc;
	if (o->derivation != NULL && dfi_hsm_path_parse(o->derivation, &path) != DFI_OK)
		return cli_usagef("--derivation is auto, sp800-108, ecb-encrypt-data, cbc-encrypt-data or "
				  "host, not '%s'", o->derivation);
	if (path == DFI_HSM_PATH_HOST && !o->allow_host)
		return cli_usagef("--derivation host computes per-card keys on this host: it needs "
				  "--allow-host-derivation as well (SECURITY.md)");
	*cfg = (struct dfi_hsm_config){
		.derivation = path,
		.allow_host_derivation = o->allow_host,
		.module = o->module != NULL ? o->module : getenv("DFISSUE_MODULE"),
		.token_uri = o->token != NULL		   ? o->token
			     : getenv("DFISSUE_TOKEN") != NULL ? getenv("DFISSUE_TOKEN")
							       : fallback_uri,
		.pin_file = o->pin_file,
		.pin_env = o->pin_env,
		.allow_prompt = isatty(STDIN_FILENO) && isatty(STDERR_FILENO),
		.allow_insecure_keys = o->allow_insecure,
		.detail = detail,
		.detail_cap = cap,
		.log = cli_engine_log,
	};
	if (cfg->pin_file == NULL && cfg->pin_env == NULL)
		cfg->pin_file = getenv("DFISSUE_PIN_FILE");
	return DFI_EXIT_OK;
}

/* Opens the HSM o names; a failure's line starts with what. */
static int
hsm_open_as(const struct cli_hsm_opts *o, const char *fallback_uri, const char *what, dfi_hsm **out)
{
	char detail[320] = ""; /* as much as the handle keeps */
	struct dfi_hsm_config cfg;
	*out = NULL;
	int rc = cli_hsm_config(o, fallback_uri, &cfg, detail, sizeof(detail));
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_err e = dfi_hsm_open(out, &cfg);
	/* A PIN file the system would not open is its own error (hsm.h), and
	 * the detail already names the file and the system's reason: said
	 * alone, as for the other PIN sources. */
	if ((e == DFI_E_NOT_FOUND || e == DFI_E_PERMISSION || e == DFI_E_IO) && detail[0] != '\0') {
		cli_errorf("%s: %s", what, detail);
		return DFI_EXIT_FAIL;
	}
	return e != DFI_OK ? hsm_error(what, e, detail) : DFI_EXIT_OK;
}

int
cli_hsm_open(const struct cli_hsm_opts *o, const char *fallback_uri, dfi_hsm **out)
{
	return hsm_open_as(o, fallback_uri, "opening the HSM", out);
}

static void
wipe_env(const char *name)
{
	char *v = name != NULL ? getenv(name) : NULL;
	if (v != NULL)
		dfi_wipe(v, strlen(v));
}

void
cli_hsm_pin_env_forget(const struct cli_hsm_opts *o)
{
	wipe_env(o->pin_env != NULL ? o->pin_env : DFI_HSM_DEFAULT_PIN_ENV);
	wipe_env(o->jpin_env);
}

int
cli_journal_hsm_separate(const struct cli_hsm_opts *o)
{
	return o->jmodule != NULL || o->jtoken != NULL || o->jpin_file != NULL || o->jpin_env != NULL;
}

void
cli_journal_hsm_opts(const struct cli_hsm_opts *o, struct cli_hsm_opts *out)
{
	*out = *o;
	if (o->jmodule != NULL)
		out->module = o->jmodule;
	if (o->jtoken != NULL)
		out->token = o->jtoken;
	/* Another device has its own PIN: the journal's PIN options, if any. */
	if (o->jpin_file != NULL || o->jpin_env != NULL) {
		out->pin_file = o->jpin_file;
		out->pin_env = o->jpin_env;
	}
	/* Derivation concerns base keys only. */
	out->derivation = NULL;
	out->allow_host = 0;
}

/* The signer on an open handle; prints "<what>: journal key: ..." on failure. */
static int
signer_on(dfi_hsm *h, const char *key_uri, const char *what, dfi_signer **s)
{
	char w[160];
	dfi_err e = dfi_hsm_signer_new(h, key_uri, s);
	if (e == DFI_OK)
		return DFI_EXIT_OK;
	snprintf(w, sizeof(w), "%s: journal key", what);
	return cli_hsm_fail(h, w, e);
}

int
cli_signer_open(const struct cli_hsm_opts *o, const char *key_uri, const char *what, dfi_hsm **h,
    dfi_signer **s)
{
	struct cli_hsm_opts jo;
	*s = NULL;
	cli_journal_hsm_opts(o, &jo);
	/* With --journal-* options the failing HSM is the journal key's: say
	 * so, or a token that does not open reads as the master keys' one. */
	int rc = hsm_open_as(&jo, NULL, cli_journal_hsm_separate(o) ?
	    "opening the journal key's HSM (--journal-module, --journal-token)" : "opening the HSM", h);
	if (rc == DFI_EXIT_OK)
		rc = signer_on(*h, key_uri, what, s);
	if (rc != DFI_EXIT_OK) {
		dfi_hsm_free(*h);
		*h = NULL;
	}
	return rc;
}

int
cli_journal_signer(const struct cli_hsm_opts *o, const char *key_uri, const char *what,
    dfi_hsm *h, dfi_hsm **jh, dfi_signer **s)
{
	*jh = NULL;
	*s = NULL;
	if (!cli_journal_hsm_separate(o))
		return signer_on(h, key_uri, what, s);
	return cli_signer_open(o, key_uri, what, jh, s);
}

const char cli_hsm_help[] =
    "HSM options:\n"
    "  --module PATH|NAME   PKCS#11 module: a path, or a p11-kit module name\n"
    "                       (default $DFISSUE_MODULE, else softhsm2)\n"
    "  --token URI          pkcs11: URI of the token (default $DFISSUE_TOKEN)\n"
    "  --pin-file FILE      user PIN from the first line of FILE ($DFISSUE_PIN_FILE)\n"
    "  --pin-env VAR        user PIN from environment variable VAR (default\n"
    "                       DFISSUE_PIN); without either, the PIN is prompted for\n"
    "                       on a terminal\n"
    "  --allow-insecure-keys  accept extractable/non-sensitive master keys\n"
    "                       (throwaway test tokens ONLY)\n"
    "  --derivation PATH    per-card key derivation: auto (default: the best the\n"
    "                       token and key allow), sp800-108, ecb-encrypt-data,\n"
    "                       cbc-encrypt-data or host ('dfissue hsm check' lists\n"
    "                       them)\n"
    "  --allow-host-derivation  let per-card keys be computed on this host (C_Encrypt\n"
    "                       into locked memory) when the token has no usable derive;\n"
    "                       they then exist in host memory: see SECURITY.md\n";

const char cli_journal_hsm_help[] =
    "Journal key on another HSM (default: the HSM options above):\n"
    "  --journal-module PATH|NAME  the journal key's PKCS#11 module\n"
    "  --journal-token URI     the journal key's token\n"
    "  --journal-pin-file FILE, --journal-pin-env VAR  its PIN (default: as above)\n";
