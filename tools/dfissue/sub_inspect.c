/*
 * dfissue inspect: what a card holds, read without keys where the card
 * allows (UID, version, key versions, key settings and applications when
 * listing is free), and with --profile what remains to do (the engine's
 * read-only state reading and plan; authentication with candidate keys
 * where the card requires it, nothing written, nothing journaled).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/desfire.h"
#include "dfissue/hsm.h"
#include "dfissue/perso.h"
#include "dfissue/util.h"
#include "cli_registry.h"
#include "perso_cli.h"
#include "termtext.h"

static const char *const help[] = {
	"usage: dfissue inspect --reader SPEC [--profile P.json [--batch FILE [--row N]]\n"
	"           [--registry URL | --journal DIR [--pubkey KEY.pem]] [HSM options]]\n"
	"           [--wait-ms MS]\n"
	"Shows what the card holds. Without --profile no key is used: UID, version,\n"
	"key versions, and what free listing allows. With --profile, also which keys\n"
	"the card holds (factory, target: by version or by authentication with\n"
	"keys derived in the HSM) and the steps that remain; nothing is written.\n"
	"\n",
	cli_reader_help,
	"  --profile P.json       compare with this profile\n"
	"  --batch FILE, --row N  the card's batch row: the N-th data row; without --row,\n"
	"                         the row the card's history (--registry, --journal)\n"
	"                         names, its line shown; else the first\n"
	"  --wait-ms MS           wait at most MS ms for a card (default 10000)\n"
	CLI_REGISTRY_URL_HELP
	"                         With --profile: what every station recorded for the\n"
	"                         card's UID, and whether a station would refuse it.\n"
	"                         Without --registry or --journal, no station's record\n"
	"                         is consulted.\n"
	"  --journal DIR          instead of --registry: what this one station's journal\n"
	"                         recorded for the card, read as a file (nothing is\n"
	"                         written to it; its station may be running)\n"
	"  --pubkey KEY.pem       with --journal: also verify its checkpoints' signatures\n",
	cli_hsm_help,
	NULL,
};

static void
raw_keys(dfi_desfire *d, const char *indent, unsigned nkeys)
{
	for (unsigned k = 0; k < nkeys; k++) {
		uint8_t v;
		dfi_err e = dfi_desfire_get_key_version(d, (uint8_t)k, &v);
		if (e == DFI_OK)
			printf("%skey %u: version %u\n", indent, k, v);
		else
			printf("%skey %u: version not readable (%s)\n", indent, k, dfi_strerror(e));
	}
}

/* Keyless: everything a card shows without authentication. */
static int
inspect_raw(dfi_transport *t)
{
	static const uint8_t getdata[5] = { 0xFF, 0xCA, 0x00, 0x00, 0x00 };
	uint8_t r[32];
	char hex[2 * 32 + 1];
	size_t n;
	struct dfi_df_version v;
	struct dfi_df_key_settings ks;
	uint32_t aids[28];
	size_t naids;
	dfi_desfire *d;
	dfi_err e;

	e = dfi_transport_transmit(t, getdata, sizeof(getdata), r, sizeof(r), &n);
	if (e != DFI_OK)
		return cli_fail("reading the UID", e);
	if (n >= 2 && r[n - 2] == 0x90 && r[n - 1] == 0x00 &&
	    dfi_hex_encode(r, n - 2, hex, sizeof(hex)) == DFI_OK)
		printf("UID %s%s\n", hex, n - 2 == 4 && r[0] == 0x08 ? " (a random ID: the real UID "
		    "is read with GetCardUID by inspect --profile with a picc.uid_key)" : "");
	e = dfi_desfire_new(&d, t);
	if (e != DFI_OK)
		return cli_fail("inspect", e);
	/* End any session an earlier connection left on the card. */
	e = dfi_desfire_select_application(d, 0);
	if (e == DFI_OK)
		e = dfi_desfire_get_version(d, &v);
	if (e != DFI_OK) {
		dfi_desfire_free(d);
		return cli_fail("GetVersion", e);
	}
	printf("DESFire hardware %02X.%02X, software %02X.%02X, storage %02X, batch %02X%02X%02X%02X%02X, "
	    "week %02X year %02X\n", v.hw_major, v.hw_minor, v.sw_major, v.sw_minor, v.hw_storage,
	    v.batch[0], v.batch[1], v.batch[2], v.batch[3], v.batch[4], v.week, v.year);
	raw_keys(d, "PICC master ", 1);
	if (dfi_desfire_get_key_settings(d, &ks) == DFI_OK)
		printf("PICC key settings %02X\n", ks.settings);
	else
		printf("PICC key settings: not readable without the PICC master key\n");
	e = dfi_desfire_get_application_ids(d, aids, 28, &naids);
	if (e != DFI_OK) {
		printf("applications: not listed without the PICC master key\n");
		dfi_desfire_free(d);
		return DFI_EXIT_OK;
	}
	printf("%zu application(s)\n", naids);
	for (size_t i = 0; i < naids; i++) {
		uint8_t ids[32];
		size_t nf;
		printf("  application " DFI_AID_FMT "\n", DFI_AID_ARGS(aids[i]));
		if (dfi_desfire_select_application(d, aids[i]) != DFI_OK)
			continue;
		if (dfi_desfire_get_key_settings(d, &ks) == DFI_OK) {
			printf("    key settings %02X, %u key(s)\n", ks.settings, ks.max_keys);
			raw_keys(d, "    ", ks.max_keys);
		} else {
			printf("    key settings: not readable without its master key\n");
		}
		if (dfi_desfire_get_file_ids(d, ids, sizeof(ids), &nf) == DFI_OK) {
			for (size_t f = 0; f < nf; f++) {
				struct dfi_df_file_settings fs;
				if (dfi_desfire_get_file_settings(d, ids[f], &fs) == DFI_OK)
					printf("    file %u: type %u, comm %u, access %04X\n", ids[f],
					    fs.type, (unsigned)fs.comm, dfi_df_access_encode(&fs.access));
				else
					printf("    file %u\n", ids[f]);
			}
		} else {
			printf("    files: not listed without its master key\n");
		}
		if (dfi_desfire_select_application(d, 0) != DFI_OK)
			break;
	}
	dfi_desfire_free(d);
	return DFI_EXIT_OK;
}

/* The card's history: the stations' registry, or one station's journal
 * read as a file (then also its public key, when given). */
struct history {
	const char *registry, *journal, *pubkey;
	struct cli_registry creg;
	dfi_jpubkey *pk;
	dfi_registry *jreg;
};

static int
history_open(struct history *hi)
{
	if (hi->journal == NULL)
		return cli_registry_open(&hi->creg, "inspect", hi->registry, "inspect", NULL, NULL, NULL);
	dfi_err e = dfi_registry_new_journal_file(&hi->jreg, hi->journal, hi->pk);
	return e == DFI_OK ? DFI_EXIT_OK : cli_fail("inspect", e);
}

/* A --journal that names no readable journal, or a --pubkey that is no
 * key, fails before the reader opens: a typo must not cost the operator a
 * card's wait. The key is kept for history_open. */
static int
history_check(struct history *hi)
{
	char p[PATH_MAX];
	struct stat st;
	if (hi->journal == NULL)
		return DFI_EXIT_OK;
	if (stat(hi->journal, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(p, sizeof(p), "%s/%s", hi->journal, DFI_JOURNAL_FILE);
	else
		snprintf(p, sizeof(p), "%s", hi->journal);
	if (access(p, R_OK) != 0) {
		cli_errorf("inspect: --journal '%s': cannot read %s: %s (give a journal directory or its %s)",
		    hi->journal, p, strerror(errno), DFI_JOURNAL_FILE);
		return DFI_EXIT_FAIL;
	}
	if (hi->pubkey != NULL && cli_load_pubkey("inspect", hi->pubkey, &hi->pk, NULL, 0) != DFI_EXIT_OK)
		return DFI_EXIT_FAIL;
	return DFI_EXIT_OK;
}

static void
history_close(struct history *hi)
{
	cli_registry_close(&hi->creg);
	dfi_registry_free(hi->jreg);
	dfi_jpubkey_free(hi->pk);
}

/* rowno 0: no --row; the first row, unless the card's history names its
 * own (dfi_perso_inspect_batch). */
static int
inspect_profile(const char *profile, const char *batch, unsigned long rowno,
    const struct cli_hsm_opts *ho, struct history *hi, dfi_transport *t)
{
	dfi_profile *prof = NULL;
	dfi_batch *b = NULL;
	dfi_batch_row *row = NULL;
	dfi_hsm *h = NULL;
	dfi_perso *p = NULL;
	struct dfi_diag diag;
	char detail[256] = "", *rep = NULL;
	int rc = cli_profile_open(profile, batch, &prof, &b);
	dfi_err e;

	for (unsigned long i = 0; rc == DFI_EXIT_OK && b != NULL && i < (rowno ? rowno : 1); i++) {
		dfi_batch_row_free(row);
		row = NULL;
		if (dfi_batch_next(b, &row, &diag) != DFI_OK || row == NULL) {
			cli_errorf("batch '%s': %s", batch, row == NULL && diag.message[0] == '\0' ?
			    "no such row" : diag.message);
			rc = DFI_EXIT_FAIL;
		}
	}
	if (rc == DFI_EXIT_OK)
		rc = cli_hsm_open(ho, NULL, &h);
	/* --registry or --journal: what the stations recorded for the card
	 * (lookups only) */
	if (rc == DFI_EXIT_OK)
		rc = history_open(hi);
	if (rc == DFI_EXIT_OK) {
		struct dfi_perso_config pc = { .hsm = h, .profile = prof, .station = "inspect",
			.detail = detail, .detail_cap = sizeof(detail),
			.registry = hi->jreg != NULL ? hi->jreg : hi->creg.reg };
		e = dfi_perso_new(&p, &pc);
		if (e != DFI_OK) {
			cli_errorf("profile '%s': %s", profile, detail[0] ? detail : dfi_strerror(e));
			rc = DFI_EXIT_FAIL;
		}
	}
	if (rc == DFI_EXIT_OK) {
		e = dfi_perso_inspect_batch(p, t, rowno == 0 ? batch : NULL, row, &rep);
		/* A report ends with a newline; a reason alone (the card's state
		 * never read) does not (perso.h). */
		int is_report = rep != NULL && strchr(rep, '\n') != NULL;
		/* line by line in its terminal form: it quotes the registry's
		 * or the journal's records of the card (termtext.h) */
		if (is_report)
			cli_tt_lines(stdout, rep);
		if (is_report && hi->journal != NULL && hi->pk == NULL)
			printf("  (the journal's signatures not checked: give --pubkey)\n");
		if (e != DFI_OK && is_report) { /* the plan stopped on this side */
			fflush(stdout);
			cli_errorf("inspect: the report above is incomplete: the plan stopped on this "
			    "side (%s), not on the card, so its remaining steps are unknown; its "
			    "'no plan' line says why", dfi_errname(e));
			rc = DFI_EXIT_FAIL;
		} else if (e != DFI_OK && rep != NULL) { /* failed before the card's state: why */
			cli_errorf("inspect: %s", rep);
			rc = DFI_EXIT_FAIL;
		} else if (e != DFI_OK) {
			rc = cli_fail("inspect", e);
		}
	}
	free(rep);
	dfi_perso_free(p); /* before the history it looks up in (sub_inspect closes it) */
	dfi_hsm_free(h);
	dfi_batch_row_free(row);
	dfi_batch_free(b);
	dfi_profile_free(prof);
	return rc;
}

int
sub_inspect(int argc, char **argv)
{
	const char *reader = NULL, *profile = NULL, *batch = NULL;
	struct history hi = { 0 };
	unsigned long rowno = 0, wait_ms = 10000;
	struct cli_hsm_opts ho = { 0 };
	struct cli_reader r;
	const struct cli_opt opts[] = { CLI_NEED_STR("reader", &reader), CLI_STR("profile", &profile),
		CLI_STR("batch", &batch), CLI_UINT("row", &rowno, 1, 100000000UL, "a row number"),
		CLI_UINT("wait-ms", &wait_ms, 0, 86400000UL, "milliseconds"), CLI_STR("registry", &hi.registry),
		CLI_STR("journal", &hi.journal), CLI_STR("pubkey", &hi.pubkey), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "inspect", .help = help, .opts = opts, .hsm = &ho,
		.needs = "needs --reader SPEC (see --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if ((hi.registry != NULL || hi.journal != NULL) && profile == NULL)
		return cli_usagef("inspect: --%s needs --profile", hi.registry != NULL ? "registry" : "journal");
	if (hi.registry != NULL && hi.journal != NULL)
		return cli_usagef("inspect: give --registry (every station's records) or --journal (one "
		    "station's), not both");
	if (hi.pubkey != NULL && hi.journal == NULL)
		return cli_usagef("inspect: --pubkey needs --journal");
	if (batch != NULL && profile == NULL)
		return cli_usagef("inspect: --batch needs --profile");
	if (rowno != 0 && batch == NULL)
		return cli_usagef("inspect: --row needs --batch");
	if ((rc = history_check(&hi)) != DFI_EXIT_OK || (rc = cli_reader_check("inspect", reader)) != DFI_EXIT_OK ||
	    (rc = cli_reader_open(&r, reader, 0, DFI_SIM_TEAR_AFTER)) != DFI_EXIT_OK) {
		history_close(&hi);
		return rc;
	}
	dfi_err e = dfi_transport_wait_card(r.t, (int)wait_ms);
	if (e != DFI_OK)
		rc = cli_fail("waiting for a card", e);
	else if (profile == NULL)
		rc = inspect_raw(r.t);
	else
		rc = inspect_profile(profile, batch, rowno, &ho, &hi, r.t);
	cli_reader_close(&r);
	history_close(&hi);
	return rc;
}
