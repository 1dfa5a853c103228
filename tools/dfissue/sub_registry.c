/*
 * dfissue registry: create or migrate the PostgreSQL registry's schema and
 * grant database roles what a station or an auditor needs.
 * docs/OPERATIONS.md ("Many stations on many hosts") describes deployment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/journal.h"
#include "dfissue/pgregistry.h"

#define SCHEMA_VERSION CLI_STRING_OF(DFI_PGREG_SCHEMA_VERSION)

static const char *const help[] = {
	"usage: dfissue registry init [--station-role ROLE]... [--auditor-role ROLE]...\n"
	"                             [--schema-version N] URL\n"
	"       dfissue registry witness --pubkey KEY [--station NAME] URL JOURNAL\n\n"
	"URL is a libpq connection URI\n"
	"(postgresql://[user@]host[:port]/dbname?sslmode=verify-full ...), never a\n"
	"key=value string. It must not carry a password (nor sslpassword): put it in\n"
	"the libpq password file (~/.pgpass, or the file PGPASSFILE names, mode 0600) or\n"
	"in PGPASSWORD, or authenticate with a client certificate (sslcert, sslkey).\n\n"
	"init   creates the schema '" DFI_PGREG_SCHEMA "' (tables and functions) or migrates it to the\n"
	"       version this dfissue uses (" SCHEMA_VERSION "), in one transaction; running it again is\n"
	"       harmless. Connect as the role that is to own the schema (not a\n"
	"       station's).\n"
	"       --station-role ROLE   lets ROLE (an existing database role) call the\n"
	"                             registry's functions, and nothing else\n"
	"       --auditor-role ROLE   lets ROLE read every table, and nothing else\n"
	"       Granted roles are granted again after every later migration.\n"
	"       --schema-version N    stops at version N (for staged upgrades)\n"
	"witness  submits JOURNAL's last checkpoint (signed by KEY: PEM or verifier key)\n"
	"       with a consistency proof from the one the registry witnessed last; the\n"
	"       registry refuses it when the journal does not extend that one. Stations\n"
	"       witness by themselves; this is for a journal written while the registry\n"
	"       was out of reach, or checked by hand.\n",
	NULL,
};

/* The roles --station-role and --auditor-role name, in their order. */
struct roles {
	const char *name[32];
	dfi_pgreg_role kind[32];
	size_t n;
};

static int
add_role(struct roles *r, const char *name, dfi_pgreg_role kind)
{
	if (r->n == sizeof(r->name) / sizeof(r->name[0])) {
		cli_errorf("registry init: at most %zu roles at once", r->n);
		return -1;
	}
	r->name[r->n] = name;
	r->kind[r->n++] = kind;
	return 0;
}

static int
opt_station_role(void *ctx, const char *v)
{
	return add_role(ctx, v, DFI_PGREG_ROLE_STATION);
}

static int
opt_auditor_role(void *ctx, const char *v)
{
	return add_role(ctx, v, DFI_PGREG_ROLE_AUDITOR);
}

static int
r_init(int argc, char **argv)
{
	struct roles ro = { .n = 0 };
	unsigned long target = 0; /* 0: the newest */
	const struct cli_opt opts[] = { CLI_FN("station-role", opt_station_role, &ro, NULL),
		CLI_FN("auditor-role", opt_auditor_role, &ro, NULL),
		CLI_UINT("schema-version", &target, 1, 1000, "a version number"), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "registry init", .help = help, .opts = opts,
		.min_operands = 1, .max_operands = 1, .needs = "needs one URL (try --help)" };
	int prc = cli_parse(&spec, argc, argv);
	if (prc != CLI_GO_ON)
		return prc;
	const char *url = argv[optind];
	char why[600];
	dfi_err e = dfi_pgreg_check_url(url, why, sizeof(why));
	if (e != DFI_OK)
		return cli_usagef("registry init: %s", why);
	struct dfi_pgreg_opts o = { .station = "registry-init", .skip_schema_check = 1, .max_conns = 1 };
	dfi_pgreg *r = NULL;
	if (dfi_pgreg_open(&r, url, &o, why, sizeof(why)) != DFI_OK) {
		cli_errorf("registry init: %s", why);
		return DFI_EXIT_FAIL;
	}
	int from = 0, to = 0, rc = DFI_EXIT_OK;
	e = dfi_pgreg_migrate(r, (int)target, &from, &to, why, sizeof(why));
	if (e != DFI_OK) {
		cli_errorf("registry init: %s", why);
		rc = DFI_EXIT_FAIL;
	} else if (from == to) {
		printf("registry schema %s is at version %d: nothing to do\n", DFI_PGREG_SCHEMA, to);
	} else if (from == 0) {
		printf("created registry schema %s, version %d\n", DFI_PGREG_SCHEMA, to);
	} else {
		printf("migrated registry schema %s from version %d to %d\n", DFI_PGREG_SCHEMA, from, to);
	}
	for (size_t i = 0; rc == DFI_EXIT_OK && i < ro.n; i++) {
		if (dfi_pgreg_grant(r, ro.name[i], ro.kind[i], why, sizeof(why)) != DFI_OK) {
			cli_errorf("registry init: %s", why);
			rc = DFI_EXIT_FAIL;
		} else {
			printf("granted %s role to %s\n", ro.kind[i] == DFI_PGREG_ROLE_STATION ? "station" : "auditor",
			    ro.name[i]);
		}
	}
	dfi_pgreg_free(r);
	return rc;
}

static int
r_witness(int argc, char **argv)
{
	const char *pubkey = NULL, *station = "registry-witness";
	const struct cli_opt opts[] = { CLI_NEED_STR("pubkey", &pubkey), CLI_STR("station", &station),
		CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "registry witness", .help = help, .opts = opts,
		.min_operands = 2, .max_operands = 2,
		.needs = "needs --pubkey KEY, a URL and a JOURNAL (try --help)" };
	int prc = cli_parse(&spec, argc, argv);
	if (prc != CLI_GO_ON)
		return prc;
	const char *url = argv[optind], *journal = argv[optind + 1];
	char why[600];
	if (dfi_pgreg_check_url(url, why, sizeof(why)) != DFI_OK)
		return cli_usagef("registry witness: %s", why);
	dfi_jpubkey *pk = NULL;
	if (cli_load_pubkey("registry witness", pubkey, &pk, NULL, 0) != DFI_EXIT_OK)
		return DFI_EXIT_FAIL;
	struct dfi_pgreg_opts o = { .station = station, .max_conns = 1 };
	dfi_pgreg *r = NULL;
	dfi_pgwitness *w = NULL;
	int rc = DFI_EXIT_OK;
	dfi_err e = dfi_pgreg_open(&r, url, &o, why, sizeof(why));
	if (e == DFI_OK)
		e = dfi_pgwitness_new(&w, r, journal, pk, why, sizeof(why));
	if (e != DFI_OK) {
		cli_errorf("registry witness: %s", why);
		rc = DFI_EXIT_FAIL;
	} else {
		printf("%s: witnessed, %" PRIu64 " records\n", journal, dfi_pgwitness_size(w));
	}
	dfi_pgwitness_free(w);
	dfi_pgreg_free(r);
	dfi_jpubkey_free(pk);
	return rc;
}

int
sub_registry(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "init", r_init }, { "witness", r_witness }, { NULL, NULL } };
	return cli_subcommand("registry", argc, argv, help, sub);
}
