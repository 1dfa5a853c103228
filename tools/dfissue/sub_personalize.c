/*
 * dfissue personalize: waits for cards and brings each to the profile's
 * target state (engine/perso), one batch row per card, with every key
 * change journaled. Reports per card done, resumed, unknown-keys or an
 * error; continues with the next card.
 */
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jtext.h"
#include "jwipe.h"
#include "core/errclass.h"
#include "opts.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/originality.h"
#include "cli_registry.h"
#include "dfissue/perso.h"
#include "dfissue/registry.h"
#include "dfissue/util.h"
#include "config.h"
#include "hsm_watch.h"
#include "log.h"
#include "perso_cli.h"
#include "signals.h"
#include "stations.h"
#include "termtext.h"

#define DEFAULT_JOURNAL_KEY "pkcs11:object=journal;type=private"
/* The journal's station field holds more, but 63 characters is what a
 * status line and a reader's report can show: longer is refused, not cut. */
#define STATION_MAX 63

/* Apart from the rest of the help: one string literal has a size limit. */
static const char claim_lease_help[] =
    "  --claim-lease SECONDS  with --registry: how long a card stays claimed by this\n"
    "                         station after its claim or last key change (1..3600,\n"
    "                         default 60); a card torn here when this station dies is\n"
    "                         free for another station once it runs out. Longer than\n"
    "                         the longest tap (docs/OPERATIONS.md 12.5)\n";

#define TEXT_(x) #x
#define TEXT(x) TEXT_(x) /* a number macro's value as a string literal */

static const char *const help[] = {
	"usage: dfissue personalize --profile P.json [--batch FILE] --reader SPEC\n"
	"           --journal DIR [--create-journal [--origin O]] [--station NAME]\n"
	"           [--journal-key URI] [--cards N | --once] [--json] [--wait-ms MS]\n"
	"           [--hsm-stall SECONDS] [-v | -q | --log-level LEVEL] [--config FILE]\n"
	"           [--reissue UID --reason TEXT] [--originality-keys FILE]\n"
	"           [--registry URL [--claim-lease SECONDS]] [HSM options]\n"
	"Waits for a card, personalizes it as the profile says (the next batch row per\n"
	"card), reports 'done', 'resumed', 'unknown-keys', 'refused' or an error, then\n"
	"waits for the card to leave and for the next one. A torn card is finished when\n"
	"it comes back. A card that has not earned keys is 'refused' and gets nothing: a\n"
	"UID already issued whose card shows factory (or transport) keys, a card without\n"
	"the profile's transport key, or one without the originality signature the\n"
	"profile requires; the journal records each refusal. Progress lines go to\n"
	"stderr; --json prints one JSON object per card on stdout. Exit status 0 when\n"
	"every card ended done or resumed.\n"
	"\n"
	"  --profile P.json       the target card (docs/PROFILE.md)\n"
	"  --batch FILE           per-card data (.csv or .jsonl), one row per card\n",
	cli_reader_help,
	"  --reader 'pcsc:PATTERN'  every PC/SC reader matching a shell pattern ('pcsc:*'\n"
	"                         = all); several --reader options or a pattern serve the\n"
	"                         readers in parallel (one thread each, shared HSM and\n"
	"                         journal; --cards counts cards over all readers, an idle\n"
	"                         reader stops after --wait-ms). PC/SC readers end with a\n"
	"                         summary; a card finished in this run and presented\n"
	"                         again takes no new batch row\n"
	"  --journal DIR          the signed key-change journal (must exist, see below)\n"
	"  --create-journal       create the journal in DIR if it does not exist yet\n"
	"  --origin O             origin of a journal created here (default\n"
	"                         dfissue/STATION); an existing journal of another origin\n"
	"                         is refused\n"
	"  --station NAME         this station's name in the journal (default: host name)\n"
	"  --journal-key URI      the journal signing key (default\n"
	"                         " DEFAULT_JOURNAL_KEY ")\n"
	"  --cards N              stop after N cards (default: until the batch ends; a\n"
	"                         sim: reader holds one card)\n"
	"  --once                 the same as --cards 1\n"
	"  --json                 one JSON object per card on stdout\n"
	"  --wait-ms MS           give up waiting for a card after MS ms (default:\n"
	"                         forever); also bounds a pcsc:PATTERN's wait for a first\n"
	"                         matching reader (10 s at most)\n"
	"  --hsm-stall SECONDS    warn when an HSM call has not returned for SECONDS\n"
	"                         (default " TEXT(CLI_HSM_STALL_DEFAULT_S) "; 0: never), again once a minute, and\n"
	"                         when it answers: a network HSM that lost its peer may\n"
	"                         never answer, and the cards wait for it\n"
	"  --reissue UID          authorize issuing this UID (14 hex digits) again, once\n"
	"                         in this run: a replaced chip, a card the issuer\n"
	"                         formatted. Journaled with --reason before its first key\n"
	"                         change. Repeatable; a batch row can do the same with\n"
	"                         the fields reissue_uid and reissue_reason\n"
	"  --reason TEXT          why (required with --reissue; the journal keeps it)\n"
	"  --originality-keys FILE  more trusted originality public keys\n"
	"                         (docs/PROFILE.md)\n",
	CLI_REGISTRY_HELP,
	claim_lease_help,
	"  --config FILE          options from FILE, one 'key = value' per line, the key\n"
	"                         being an option's name (dfissue-station.conf(5)); the\n"
	"                         command line's options come after the file's\n"
	"  -v, --verbose          also the engine's per-step lines (one level more)\n"
	"  -q, --quiet            warnings and errors only on stderr (the warning level);\n"
	"                         the per-card lines (or --json) and the exit status\n"
	"                         carry the result\n"
	"  --log-level LEVEL      error, warning, notice, info (default) or debug; lines\n"
	"                         go to stderr, to the systemd journal under systemd\n"
	"Signals: SIGTERM or SIGINT stops taking cards; the card in each reader is\n"
	"finished (every ChangeKey gets its journal outcome), the summary printed, exit\n"
	"0. A second signal stops at once (no further APDU; the card's next tap\n"
	"finishes it; --registry is abandoned, even when it does not answer: the\n"
	"cards' claims run out with their leases, the journal's next open tells it\n"
	"what it missed), exit 3. On a terminal a status line per reader shows\n"
	"progress.\n"
	"Test options (sim: readers only, for demonstrations of tear recovery):\n"
	"  --tear-at N[,M,...]    tear the N-th APDU of the first tap (M-th of the\n"
	"                         second)\n"
	"  --tear-mode before|after  the command is lost / executed with its answer lost\n",
	cli_hsm_help,
	cli_journal_hsm_help,
	NULL,
};

#define TEARS_MAX 3
#define MAX_REISSUE 64

struct opts {
	const char *profile, *batch, *reader, *journal, *origin, *station, *jkey, *registry;
	int create, json, wait_ms;
	unsigned long cards;
	unsigned long claim_lease; /* seconds, 0: the engine's default */
	unsigned long hsm_stall;   /* seconds, 0: no stall warnings */
	unsigned tear_at;
	enum dfi_sim_tear_mode tear_mode;
	unsigned tears[TEARS_MAX]; /* --tear-at N,M,...: one per tap */
	unsigned ntears;
	struct cli_hsm_opts hsm;
	struct stations_spec readers; /* every --reader (parallel stations) */
	struct dfi_perso_reissue reissue[MAX_REISSUE];
	size_t nreissue;
	const char *reason, *orig_keys;
	/* The strings the last --reissue and --claim-lease were given as: a
	 * check of them after parsing names a configuration file's line. */
	const char *reissue_arg, *claim_lease_arg, *tear_arg;
};

static void
progress(void *ctx, const char *ev)
{
	(void)ctx;
	/* Conflicts (a refusal names each one) are for the operator, not -v. */
	cli_log(strstr(ev, ": conflict") != NULL ? CLI_LOG_WARNING : CLI_LOG_DEBUG, "  %s", ev);
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return 0;
	*out = v;
	return 1;
}

/* --tear-at N[,M,...]: the APDU to tear on each tap, in order. */
static int
parse_tears(const char *arg, struct opts *o)
{
	char buf[64];
	unsigned long v;
	snprintf(buf, sizeof(buf), "%s", arg);
	o->ntears = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		if (o->ntears == TEARS_MAX || !parse_uint(t, 1000000UL, &v) || v == 0)
			return 0;
		o->tears[o->ntears++] = (unsigned)v;
	}
	o->tear_at = o->ntears > 0 ? o->tears[0] : 0;
	return o->ntears > 0;
}

/* Options that do more than store their value. */

static int
opt_once(void *ctx, const char *v)
{
	(void)v;
	((struct opts *)ctx)->cards = 1;
	return 0;
}

static int
opt_tear_at(void *ctx, const char *v)
{
	((struct opts *)ctx)->tear_arg = v;
	return parse_tears(v, ctx) ? 0 : -1; /* the table's "wants" says what */
}

static int
opt_tear_mode(void *ctx, const char *v)
{
	struct opts *o = ctx;
	if (strcmp(v, "before") == 0)
		o->tear_mode = DFI_SIM_TEAR_BEFORE;
	else if (strcmp(v, "after") == 0)
		o->tear_mode = DFI_SIM_TEAR_AFTER;
	else
		return -1; /* the table's "wants" says what */
	return 0;
}

static int
opt_reissue(void *ctx, const char *v, size_t i)
{
	struct opts *o = ctx;
	struct dfi_perso_reissue *r = &o->reissue[i];
	o->reissue_arg = v;
	if (dfi_hex_decode(v, r->uid, sizeof(r->uid), &r->uid_len) != DFI_OK || r->uid_len != 7)
		return -1; /* the table's "wants" says what */
	return 0;
}

static int
opt_log_level(void *ctx, const char *v)
{
	(void)ctx;
	return cli_log_set_level(v) == 0 ? 0 : -1;
}

static int
opt_verbose(void *ctx, const char *v)
{
	(void)ctx, (void)v;
	cli_log_adjust(+1);
	return 0;
}

static int
opt_quiet(void *ctx, const char *v)
{
	(void)ctx, (void)v;
	cli_log_quiet();
	return 0;
}

/* cli_config_expand() has taken the first --config out of argv. */
static int
opt_config_again(void *ctx, const char *v)
{
	(void)ctx, (void)v;
	cli_errorf("personalize: --config is given once");
	return -1;
}

/* personalize's options, parsed into o (which it also initializes). */
struct popts {
	struct opts *o;
	unsigned long wait_ms;
	struct cli_opt t[25];
	struct cli_spec spec;
};

/* ctx: the struct popts, whose spec tells a value from the file. */
static int
opt_reader(void *ctx, const char *v)
{
	struct popts *p = ctx;
	char where[PATH_MAX + 128];
	/* The form is checked here, before the HSM login and the journal: a
	 * typo must not leave a new journal behind. */
	cli_opt_where(&p->spec, "reader", v, 0, where, sizeof(where));
	if (cli_reader_form_check(where, v) != DFI_EXIT_OK)
		return -1;
	p->o->reader = v;
	return stations_add(&p->o->readers, v);
}

static void
popts_init(struct popts *p, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->jkey = DEFAULT_JOURNAL_KEY;
	o->tear_mode = DFI_SIM_TEAR_AFTER;
	o->hsm_stall = CLI_HSM_STALL_DEFAULT_S;
	p->o = o;
	p->wait_ms = ULONG_MAX; /* none: the engine's default */
	const struct cli_opt t[] = {
		CLI_NEED_STR("profile", &o->profile), CLI_STR("batch", &o->batch),
		CLI_NEED_FN("reader", opt_reader, p), CLI_NEED_STR("journal", &o->journal),
		CLI_FLAG("create-journal", &o->create), CLI_STR("origin", &o->origin),
		CLI_STR("station", &o->station), CLI_STR("journal-key", &o->jkey),
		CLI_UINT("cards", &o->cards, 1, 1000000000UL, "a positive number"),
		CLI_ACT("once", 0, opt_once, o), CLI_FLAG("json", &o->json),
		CLI_UINT("wait-ms", &p->wait_ms, 0, 86400000UL, "milliseconds"),
		CLI_UINT("hsm-stall", &o->hsm_stall, 0, 86400UL, "seconds"),
		CLI_FN("tear-at", opt_tear_at, o, "APDU numbers >= 1 (at most " TEXT(TEARS_MAX)
		    ", comma-separated)"),
		CLI_FN("tear-mode", opt_tear_mode, o, "before or after"),
		CLI_LIST("reissue", opt_reissue, o, &o->nreissue, MAX_REISSUE,
		    "a 7-byte UID as 14 hex digits"),
		CLI_STR("reason", &o->reason),
		CLI_STR("originality-keys", &o->orig_keys), CLI_STR("registry", &o->registry),
		CLI_UINT_GIVEN("claim-lease", &o->claim_lease, DFI_PERSO_CLAIM_LEASE_MIN_MS / 1000,
		    DFI_PERSO_CLAIM_LEASE_MAX_MS / 1000, "seconds", &o->claim_lease_arg),
		CLI_FN("config", opt_config_again, NULL, NULL),
		CLI_FN("log-level", opt_log_level, NULL, "error, warning, notice, info or debug"),
		CLI_ACT("verbose", 'v', opt_verbose, NULL), CLI_ACT("quiet", 'q', opt_quiet, NULL),
		CLI_OPTS_END,
	};
	_Static_assert(sizeof(t) <= sizeof(p->t), "struct popts holds the table");
	memcpy(p->t, t, sizeof(t));
	p->spec = (struct cli_spec){ .cmd = "personalize", .help = help, .opts = p->t, .hsm = &o->hsm,
		.journal_hsm = 1, .needs = "needs --profile, --reader and --journal (see --help)" };
}

static int
parse(int argc, char **argv, struct popts *p)
{
	struct opts *o = p->o;
	int rc = cli_parse(&p->spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc == DFI_EXIT_OK ? -1 : rc; /* -1: --help printed */
	o->wait_ms = p->wait_ms == ULONG_MAX ? -1 : (int)p->wait_ms;
	char where[PATH_MAX + 128];
	if (o->ntears > 0 && stations_wanted(&o->readers)) {
		/* The line of the value that came from a file: the tear's, else
		 * the (last) reader's; "personalize:" when both are arguments. */
		if (cli_config_line(p->spec.from, o->tear_arg) > 0)
			cli_value_where(&p->spec, "tear-at", o->tear_arg, where, sizeof(where));
		else
			cli_value_where(&p->spec, "reader", o->reader, where, sizeof(where));
		cli_errorf("%s --tear-at works with a single sim: reader only", where);
		return DFI_EXIT_USAGE;
	}
	if (o->station != NULL && (strlen(o->station) > STATION_MAX || o->station[0] == '\0')) {
		cli_opt_where(&p->spec, "station", o->station, 0, where, sizeof(where));
		cli_errorf("%s takes 1 to %d characters, not %zu: give a shorter name (it names "
		    "this station in every journal record)", where, STATION_MAX,
		    strlen(o->station));
		return DFI_EXIT_USAGE;
	}
	if ((o->nreissue > 0) != (o->reason != NULL) || (o->reason != NULL &&
	    (o->reason[0] == '\0' || strlen(o->reason) >= DFI_J_STR_MAX))) {
		/* The line of the value that is there: the reason, else the UID. */
		if (o->reason != NULL)
			cli_value_where(&p->spec, "reason", o->reason, where, sizeof(where));
		else
			cli_value_where(&p->spec, "reissue", o->reissue_arg, where, sizeof(where));
		cli_errorf("%s --reissue and --reason go together; the reason is 1..%d characters the "
		    "journal keeps (never secrets)", where, DFI_J_STR_MAX - 1);
		return DFI_EXIT_USAGE;
	}
	for (size_t i = 0; i < o->nreissue; i++)
		o->reissue[i].reason = o->reason;
	if (o->claim_lease > 0 && o->registry == NULL) {
		cli_value_where(&p->spec, "claim-lease", o->claim_lease_arg, where, sizeof(where));
		cli_errorf("%s --claim-lease is the lease of a card's claim in a shared registry: "
		    "give --registry URL too (without one, claims are this process's own and never "
		    "expire)", where);
		return DFI_EXIT_USAGE;
	}
	/* cli_uri_check() puts the colon after the name itself. */
	cli_opt_where(&p->spec, "journal-key", o->jkey, 1, where, sizeof(where));
	where[strlen(where) - 1] = '\0';
	int urc = cli_uri_check(where, o->jkey, "key");
	if (urc != DFI_EXIT_OK)
		return urc;
	char why[600];
	if (o->registry != NULL && dfi_pgreg_check_url(o->registry, why, sizeof(why)) != DFI_OK) {
		cli_opt_where(&p->spec, "registry", o->registry, 1, where, sizeof(where));
		cli_errorf("%s %s", where, why);
		return DFI_EXIT_USAGE;
	}
	return DFI_EXIT_OK;
}

/* A journal created here gets --origin, else dfissue/STATION: an origin
 * the journal refuses is a usage error found before the HSM login, not
 * when the journal is created. */
static int
check_new_origin(const struct opts *o, const struct cli_spec *spec, const char *station)
{
	char path[4096], origin[DFI_J_STR_MAX + 16], where[PATH_MAX + 128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", o->journal, DFI_JOURNAL_FILE);
	if (!o->create || stat(path, &st) == 0)
		return DFI_EXIT_OK;
	if (o->origin != NULL && !dfi_journal_origin_valid(o->origin)) {
		cli_opt_where(spec, "origin", o->origin, 0, where, sizeof(where));
		return cli_usagef("%s '%s' cannot name the new journal: 1..%d printable ASCII "
		    "bytes without spaces or '+'", where, o->origin, DFI_J_STR_MAX - 1);
	}
	snprintf(origin, sizeof(origin), "dfissue/%s", station);
	if (o->origin != NULL || dfi_journal_origin_valid(origin))
		return DFI_EXIT_OK;
	if (o->station != NULL) {
		cli_opt_where(spec, "station", o->station, 0, where, sizeof(where));
		return cli_usagef("%s '%s' makes the new journal's origin '%s', which may not hold "
		    "spaces or '+': give --origin NAME", where, station, origin);
	}
	return cli_usagef("personalize: the host name '%s' makes the new journal's origin '%s', "
	    "which may not hold spaces or '+': give --origin NAME", station, origin);
}

static int
open_journal(const struct opts *o, dfi_hsm *h, const char *station, dfi_hsm **jh,
    dfi_signer **s, dfi_journal **j)
{
	char detail[512] = "";
	struct dfi_journal_opts jo = { .station = station, .detail = detail,
		.detail_cap = sizeof(detail) };
	char path[4096], origin[DFI_J_STR_MAX];
	struct stat st;
	dfi_err e;

	/* On h, or on the journal's own module/token (--journal-module). */
	int rc = cli_journal_signer(&o->hsm, o->jkey, "personalize", h, jh, s);
	if (rc != DFI_EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", o->journal, DFI_JOURNAL_FILE);
	int existed = stat(path, &st) == 0;
	if (!existed) {
		if (!o->create) {
			cli_errorf("no journal in '%s': give --create-journal, or create it with "
			    "'dfissue journal init'", o->journal);
			return DFI_EXIT_FAIL;
		}
		snprintf(origin, sizeof(origin), "%s", o->origin ? o->origin : "");
		if (o->origin == NULL)
			snprintf(origin, sizeof(origin), "dfissue/%s", station);
		e = dfi_journal_create(o->journal, origin, *s, &jo);
		if (e != DFI_OK) {
			cli_errorf("creating the journal in '%s': %s", o->journal,
			    detail[0] ? detail : dfi_strerror(e));
			return DFI_EXIT_FAIL;
		}
		cli_log(CLI_LOG_NOTICE, "created journal %s (origin %s)", path, origin);
	}
	struct dfi_journal_recovery rec;
	e = dfi_journal_open(j, o->journal, *s, &jo, &rec);
	if (e != DFI_OK) {
		cli_errorf("journal '%s': %s", o->journal, detail[0] ? detail : dfi_strerror(e));
		return DFI_EXIT_FAIL;
	}
	/* An origin is a journal's name for good (the registry and auditors
	 * know it by it): --origin cannot rename an existing journal, and one
	 * that differs means this is not the journal the user meant. */
	if (existed && o->origin != NULL && strcmp(dfi_journal_origin(*j), o->origin) != 0) {
		cli_errorf("journal '%s' has origin '%s', not '%s' (--origin): --origin names a journal "
		    "created here and never renames one: give the journal of that origin, or drop "
		    "--origin", o->journal, dfi_journal_origin(*j), o->origin);
		return DFI_EXIT_FAIL;
	}
	if (rec.quarantined_lines > 0)
		cli_log(CLI_LOG_WARNING, "journal: %llu unsigned line(s) quarantined in %s/%s/%s",
		    (unsigned long long)rec.quarantined_lines, o->journal, DFI_JOURNAL_QDIR,
		    rec.quarantine_file);
	return DFI_EXIT_OK;
}

static void
report(const struct opts *o, unsigned long n, const dfi_batch_row *row,
    const struct dfi_perso_result *res, int taps)
{
	char uid[21] = "";
	if (res->uid_len > 0)
		dfi_hex_encode(res->uid, res->uid_len, uid, sizeof(uid));
	if (o->json) {
		/* the detail may quote a registry row or be cut inside a
		 * character: null and detail_hex then (jtext.h) */
		json_t *obj = json_pack("{s:I, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:I, s:o}",
		    "card", (json_int_t)n, "uid", uid, "outcome",
		    dfi_perso_outcome_name(res->outcome),
		    "error", res->outcome == DFI_PERSO_DONE || res->outcome == DFI_PERSO_RESUMED ?
			NULL : dfi_errname(res->err),
		    "steps_total", (int)res->steps_total, "steps_done", (int)res->steps_done,
		    "key_changes", (int)res->key_changes, "intents_resolved",
		    (int)res->intents_resolved, "apdus", (json_int_t)res->apdus, "detail",
		    cli_json_text(res->detail));
		cli_json_text_hex(obj, "detail", res->detail);
		if (obj != NULL && row != NULL)
			json_object_set_new(obj, "batch_line", json_integer(dfi_batch_row_line(row)));
		if (obj != NULL) {
			json_object_set_new(obj, "taps", json_integer(taps));
			perso_cli_json_extra(obj, res);
		}
		if (obj != NULL) {
			cli_json_puts(obj, JSON_COMPACT);
			json_decref(obj);
		}
		fflush(stdout);
		return;
	}
	/* the detail may quote the registry or the journal (a refusal's reason) */
	char detail[CLI_TT_CAP(sizeof(res->detail) - 1)];
	printf("card %lu %s: %s (%u/%u steps, %u key changes, %u resolved, %llu APDUs)%s%s\n", n,
	    uid[0] ? uid : "?", dfi_perso_outcome_name(res->outcome), res->steps_done,
	    res->steps_total, res->key_changes, res->intents_resolved,
	    (unsigned long long)res->apdus, res->detail[0] ? ": " : "",
	    cli_tt(detail, sizeof(detail), res->detail));
	fflush(stdout);
}

/* A sim: reader holds one card: it is personalized, tapped again at once
 * after a tear (three taps at most). PC/SC readers are served by
 * stations.c, which waits for cards, tells them apart by UID and waits
 * for a torn card to come back. */
static int
run_sim(const struct opts *o, dfi_perso *p, dfi_journal *j, struct cli_reader *r, dfi_batch *b,
    const char *jtoken)
{
	dfi_batch_row *row = NULL;
	struct dfi_perso_result res, tap;
	struct dfi_diag diag;
	dfi_err e;

	if (b != NULL) {
		e = dfi_batch_next(b, &row, &diag);
		if (e != DFI_OK) {
			cli_errorf("%s", diag.message);
			return DFI_EXIT_FAIL;
		}
		if (row == NULL) {
			cli_log(CLI_LOG_NOTICE, "batch finished");
			cli_log(CLI_LOG_NOTICE, "0 card(s), 0 done or resumed");
			return DFI_EXIT_FAIL;
		}
	}
	cli_log(CLI_LOG_INFO, "card 1: waiting for a card on %s", dfi_transport_name(r->t));
	int taps;
	for (taps = 1;; taps++) {
		e = dfi_transport_wait_card(r->t, o->wait_ms);
		if (e != DFI_OK) {
			cli_fail("waiting for a card", e);
			dfi_batch_row_free(row);
			return DFI_EXIT_FAIL;
		}
		/* --tear-at N,M: the second tap tears at M, and so on. */
		if (taps > 1 && (unsigned)taps <= o->ntears)
			(void)dfi_sim_set_tear(r->sim, o->tears[taps - 1], o->tear_mode);
		/* A card that began with another row of the batch is given
		 * that row (one card per run here: nothing to hand back). */
		dfi_batch_row *own = NULL;
		e = dfi_perso_card_batch(p, r->t, row != NULL ? o->batch : NULL, row, &tap, &own);
		if (own != NULL) {
			cli_log(CLI_LOG_INFO, "card 1: given line %d of the batch, the row it began with "
			    "in an earlier run (not line %d)", dfi_batch_row_line(own), dfi_batch_row_line(row));
			dfi_batch_row_free(row);
			row = own;
		}
		/* The card's counters cover all its taps. */
		cli_result_merge(&res, &tap, taps == 1);
		if (e != DFI_OK) {
			/* The journal or the registry failed (an abandoned
			 * registry is said once, at its close). */
			report(o, 1, row, &res, taps);
			if (dfi_err_is_registry(e) && e != DFI_E_REGISTRY_ABANDONED)
				cli_fail("stopping", e);
			else if (!dfi_err_is_registry(e))
				cli_journal_fail(j, e, jtoken);
			dfi_batch_row_free(row);
			return cli_signal_count() >= 2 ? DFI_EXIT_INTERRUPTED : DFI_EXIT_FAIL;
		}
		if (res.outcome != DFI_PERSO_FAILED || res.err != DFI_E_CARD_TORN || taps >= 3 ||
		    cli_signal_count() > 0)
			break;
		cli_log(CLI_LOG_WARNING, "card 1: torn (%s): present the card again", res.detail);
	}
	report(o, 1, row, &res, taps);
	dfi_batch_row_free(row);
	int ok = res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED;
	cli_log(CLI_LOG_NOTICE, "1 card(s), %d done or resumed", ok);
	if (cli_signal_count() >= 2)
		return DFI_EXIT_INTERRUPTED;
	return ok ? DFI_EXIT_OK : DFI_EXIT_FAIL;
}

/* Every batch row this run may reach (the first --cards rows, or one per
 * sim: reader when only those serve) is checked against the profile before
 * the HSM is opened or a journal created: a bad row found at its card's tap
 * would fail mid-batch, after other cards were done. The rows are read on a
 * second handle; their count gives "card n of N" (*total, 0 = unknown). */
static int
check_batch(const struct opts *o, const dfi_profile *prof, unsigned long *total)
{
	unsigned long rows = 0, cards = o->cards;
	/* sim: readers hold one card each: that many cards at most. */
	unsigned sims = 0;
	for (unsigned i = 0; i < o->readers.n; i++)
		sims += strncmp(o->readers.spec[i], "sim:", 4) == 0;
	if (sims == o->readers.n && (cards == 0 || sims < cards))
		cards = sims;
	*total = cards;
	if (o->batch == NULL)
		return DFI_EXIT_OK;
	dfi_batch *b = NULL;
	dfi_batch_row *row = NULL;
	struct dfi_diag diag;
	dfi_err e = dfi_batch_open(&b, o->batch, &diag);
	while (e == DFI_OK && (cards == 0 || rows < cards) &&
	    (e = dfi_batch_next(b, &row, &diag)) == DFI_OK && row != NULL) {
		e = dfi_profile_check_row(prof, row, &diag);
		dfi_batch_row_free(row);
		rows += e == DFI_OK;
	}
	dfi_batch_free(b);
	if (e != DFI_OK) {
		cli_error_code("batch");
		cli_errorf("%s: nothing was personalized",
		    diag.message[0] ? diag.message : dfi_strerror(e));
		return DFI_EXIT_FAIL;
	}
	if (cards == 0 || rows < cards)
		*total = rows;
	return DFI_EXIT_OK;
}

/* --originality-keys FILE is read before the HSM is opened, by the parser
 * personalization uses, and a bad line is told as the option's (the
 * profile did not name that file). With the profile's policy "off" no key
 * file is read, here as in personalization. */
static int
check_orig_keys(const struct opts *o, const dfi_profile *prof)
{
	if (o->orig_keys == NULL ||
	    dfi_profile_spec(prof)->originality.policy == DFI_ORIGINALITY_OFF)
		return DFI_EXIT_OK;
	struct dfi_diag d;
	dfi_err e = dfi_orig_keys_check(o->orig_keys, &d);
	if (e == DFI_OK)
		return DFI_EXIT_OK;
	cli_errorf("personalize: --originality-keys: %s", e == DFI_E_PARSE || e == DFI_E_IO ?
	    d.message : dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

/* The profile is checked against the HSM (every base key there, of the
 * right type) before anything is created: a journal made for a profile
 * that cannot run would be a stray file to explain. */
static int
check_profile(const struct opts *o, dfi_hsm *h, const dfi_profile *prof, const char *station)
{
	char detail[256] = "";
	dfi_err e = cli_perso_check(h, prof, station, o->orig_keys, detail, sizeof(detail));
	if (e == DFI_OK)
		return DFI_EXIT_OK;
	cli_error_code("profile_keys");
	cli_errorf("profile '%s': %s (nothing was created)", o->profile,
	    detail[0] ? detail : dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

int
sub_personalize(int argc, char **argv)
{
	struct opts o;
	struct cli_argv args;
	struct cli_reader r = { 0 };
	dfi_profile *prof = NULL;
	dfi_batch *batch = NULL;
	dfi_hsm *h = NULL, *jh = NULL;
	dfi_signer *s = NULL;
	dfi_journal *j = NULL;
	struct cli_registry creg = { 0 };
	dfi_registry *reg = NULL;
	dfi_perso *p = NULL;
	char station[STATION_MAX + 1], detail[256] = "";
	unsigned long total = 0; /* cards this run may serve, 0: unknown */
	int rc;

	/* --config FILE: its options first, then the command line's. */
	struct popts po;
	struct option lo[CLI_LONGOPTS_MAX];
	popts_init(&po, &o);
	if (cli_longopts(&po.spec, lo) != 0)
		return DFI_EXIT_FAIL;
	rc = cli_config_expand(argc, argv, lo, &args);
	if (rc != DFI_EXIT_OK)
		return rc;
	po.spec.from = &args; /* a value from the file is refused with its line */
	rc = parse(args.argc, args.argv, &po);
	if (rc != DFI_EXIT_OK) {
		cli_config_free(&args);
		return rc < 0 ? DFI_EXIT_OK : rc;
	}
	if (o.station != NULL)
		snprintf(station, sizeof(station), "%s", o.station);
	else if (gethostname(station, sizeof(station)) != 0 || station[0] == '\0')
		snprintf(station, sizeof(station), "station");
	station[sizeof(station) - 1] = '\0';
	rc = check_new_origin(&o, &po.spec, station);
	if (rc == DFI_EXIT_OK)
		rc = cli_profile_open(o.profile, o.batch, &prof, &batch);
	if (rc == DFI_EXIT_OK)
		rc = check_batch(&o, prof, &total);
	if (rc == DFI_EXIT_OK)
		rc = check_orig_keys(&o, prof);
	/* From the first HSM call on: a call that never returns is said. */
	struct cli_hsm_watch watch = { 0 };
	if (rc == DFI_EXIT_OK)
		cli_hsm_watch_start(&watch, (unsigned)o.hsm_stall);
	cli_hsm_watch_opening(&watch, "opening the HSM");
	if (rc == DFI_EXIT_OK)
		rc = cli_hsm_open(&o.hsm, NULL, &h);
	cli_hsm_watch_opening(&watch, NULL);
	cli_hsm_watch_set(&watch, h, NULL, 0);
	if (rc == DFI_EXIT_OK)
		rc = check_profile(&o, h, prof, station);
	if (rc == DFI_EXIT_OK)
		rc = stations_check(&o.readers, o.wait_ms);
	/* The registry is reached before the journal is created: one that is
	 * down or of another schema leaves nothing behind (audit k34a, 7). */
	if (rc == DFI_EXIT_OK)
		rc = cli_registry_connect(&creg, "personalize", o.registry, station, 1);
	cli_hsm_watch_opening(&watch, "opening the journal and its key's HSM");
	if (rc == DFI_EXIT_OK)
		rc = open_journal(&o, h, station, &jh, &s, &j);
	cli_hsm_watch_opening(&watch, NULL);
	cli_hsm_pin_env_forget(&o.hsm); /* every HSM is open: the handles hold the PINs */
	cli_hsm_watch_set(&watch, h, jh, 0);
	/* One registry for every reader: their claims must see each other. */
	if (rc == DFI_EXIT_OK && (rc = cli_registry_attach(&creg, "personalize", j, o.journal, s)) == DFI_EXIT_OK)
		reg = creg.reg;
	if (rc == DFI_EXIT_OK) {
		struct dfi_perso_config pc = { .hsm = h, .journal = j, .profile = prof,
			.station = station, .progress = progress, .detail = detail,
			.detail_cap = sizeof(detail), .registry = reg, .reissue = o.reissue,
			.nreissue = o.nreissue, .originality_keys = o.orig_keys,
			.claim_lease_ms = (unsigned)o.claim_lease * 1000u };
		dfi_err e = dfi_perso_new(&p, &pc);
		if (e == DFI_E_NOMEM) {
			cli_nomem_advice(detail, sizeof(detail));
			cli_errorf("%s; no card was touched", detail);
			rc = DFI_EXIT_FAIL;
		} else if (e != DFI_OK) {
			cli_errorf("profile '%s': %s", o.profile, detail[0] ? detail : dfi_strerror(e));
			rc = DFI_EXIT_FAIL;
		}
	}
	/* From here a stop signal lets the card in each reader finish; a
	 * second one abandons the registry, which may not be answering. */
	if (rc == DFI_EXIT_OK) {
		cli_signals_abandons(creg.pg);
		cli_signals_install();
		cli_hsm_watch_set(&watch, h, jh, 1);
	}
	const char *jtoken = dfi_hsm_token_label(jh != NULL ? jh : h);
	if (rc == DFI_EXIT_OK && stations_wanted(&o.readers)) {
		/* PC/SC readers, several readers or a pattern: one thread per reader (stations.c). */
		struct stations_config sc = { .hsm = h, .journal = j, .journal_token = jtoken,
			.profile = prof, .batch = batch, .batch_path = o.batch, .station = station, .cards = o.cards, .wait_ms = o.wait_ms,
			.json = o.json, .total = total, .registry = reg, .reissue = o.reissue,
			.nreissue = o.nreissue, .originality_keys = o.orig_keys, .keys_from = p,
			.claim_lease_ms = (unsigned)o.claim_lease * 1000u };
		rc = stations_run(&o.readers, &sc); /* parse() refused --tear-at here */
	} else {
		if (rc == DFI_EXIT_OK)
			rc = cli_reader_open(&r, o.reader, o.tear_at, o.tear_mode);
		/* The second signal's "no further APDU" holds here too. */
		if (rc == DFI_EXIT_OK && cli_signals_wrap(&r.t) != DFI_OK)
			rc = cli_fail(o.reader, DFI_E_NOMEM);
		if (rc == DFI_EXIT_OK)
			rc = run_sim(&o, p, j, &r, batch, jtoken);
	}
	cli_reader_close(&r);
	dfi_perso_free(p);
	if (rc != DFI_EXIT_USAGE)
		rc = cli_registry_finish(&creg, "personalize", j, rc);
	cli_registry_close(&creg);
	/* The close waits for the journal's last signature: still watched. */
	dfi_journal_close(j);
	cli_hsm_watch_stop(&watch);
	dfi_signer_free(s);
	dfi_hsm_free(jh);
	dfi_hsm_free(h);
	dfi_batch_free(batch);
	dfi_profile_free(prof);
	cli_config_free(&args);
	return rc;
}
