/*
 * dfissue journal: create a journal (init) and audit one (verify, show,
 * proof, checkpoint). Auditing needs no HSM: only the journal file and the
 * journal key's public key (PEM). docs/JOURNAL.md specifies the format.
 * show lives in sub_journal_show.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "sub_journal_int.h"
#include "termtext.h"

#define DEFAULT_KEY_URI "pkcs11:object=journal;type=private"

const char *const journal_help[] = {
	"usage: dfissue journal init --origin ORIGIN --station NAME [--key URI]\n"
	"                            [HSM options] DIR\n"
	"       dfissue journal recover --station NAME [--key URI] [HSM options] DIR\n"
	"       dfissue journal verify --pubkey KEY [--origin O]\n"
	"                              [--last-seen CHECKPOINT_FILE] JOURNAL\n"
	"       dfissue journal verify --pubkey KEY --consistency PROOF\n"
	"                              [--last-seen CHECKPOINT_FILE] [JOURNAL]\n"
	"       dfissue journal show [--json] [--uid HEX] [--journal] JOURNAL\n"
	"       dfissue journal show --html FILE [--pubkey KEY.pem] [--journal] JOURNAL\n"
	"       dfissue journal proof --seq N [--journal] JOURNAL\n"
	"       dfissue journal checkpoint [--journal] JOURNAL\n"
	"       dfissue journal consistency --from N [--to M] [--journal] JOURNAL\n\n"
	"JOURNAL is a journal directory (holding "
	DFI_JOURNAL_FILE
	") or the file itself.\n\n"
	"init        creates DIR/"
	DFI_JOURNAL_FILE
	" with a genesis record and its checkpoint\n"
	"            signed by the HSM key URI\n"
	"            (default "
	DEFAULT_KEY_URI
	"). ORIGIN names the log\n"
	"            in every checkpoint, e.g. issuer.example/journal/1.\n"
	"recover     opens DIR as its writer would (takes the lock, checks it, moves an\n"
	"            uncovered or torn tail to DIR/"
	DFI_JOURNAL_QDIR
	"/ and records it) and\n"
	"            reports what it found; the engine does the same at every start.\n"
	"verify      checks every checkpoint signature with KEY.pem, recomputes the\n"
	"            Merkle tree, checks sequence numbers, intent/outcome pairing and\n"
	"            per-card key version continuity; with --last-seen, that the journal\n"
	"            extends a checkpoint kept earlier (truncation, rollback); with\n"
	"            --origin O, that the journal is O's: its genesis record and every\n"
	"            checkpoint name O (default: a verifier key's name, else the genesis\n"
	"            record's origin). Prints one line per finding; exit 0 only when\n"
	"            there is none, else 1. Unresolved intents are listed.\n"
	"show        every key change per card, unresolved intents, recoveries, refused\n"
	"            cards and re-issue authorizations (signatures are not checked: use\n"
	"            verify).\n"
	"            --uid HEX: that card only, and each key slot's generation history.\n"
	"            --html FILE writes a self-contained page for auditors ('-': stdout):\n"
	"            per card a timeline of key changes, tears, refusals; recoveries;\n"
	"            every checkpoint with its verification result (with --pubkey; exit 1\n"
	"            when verification fails, the page says why).\n"
	"proof       an RFC 9162 inclusion proof of record N against the last checkpoint.\n"
	"checkpoint  prints the last checkpoint (a signed note): keep it for --last-seen.\n"
	"consistency an RFC 9162 consistency proof that the checkpoint of size M\n"
	"            (default: the last) extends the tree of the first N records; verify\n"
	"            checks it with --consistency PROOF against the proof's own old\n"
	"            checkpoint or the one you kept (--last-seen), and then the JOURNAL,\n"
	"            if given, against the proof's new checkpoint. KEY is a PEM public\n"
	"            key or a signed-note verifier key (name+hash+base64, see\n"
	"            'dfissue journal-key vkey').\n\n",
	cli_hsm_help,
	cli_journal_hsm_help,
	NULL,
};

/* ---- init ----------------------------------------------------------------------- */

static int
j_init(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *origin = NULL, *station = NULL, *key = DEFAULT_KEY_URI;
	const struct cli_opt opts[] = { CLI_NEED_STR("origin", &origin), CLI_NEED_STR("station", &station),
		CLI_STR("key", &key), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal init", .help = journal_help, .opts = opts,
		.hsm = &o, .journal_hsm = 1, .min_operands = 1, .max_operands = 1,
		.needs = "needs --origin, --station and one DIR (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	/* Before the HSM login: nothing to type a PIN for. */
	if (!dfi_journal_origin_valid(origin))
		return cli_usagef("journal init: --origin '%s' cannot name a journal: 1..%d "
		    "printable ASCII bytes without spaces or '+' (docs/JOURNAL.md section 5)",
		    origin, DFI_J_STR_MAX - 1);
	if ((rc = cli_uri_check("journal init: --key", key, "key")) != DFI_EXIT_OK)
		return rc;
	dfi_hsm *h;
	dfi_signer *s;
	rc = cli_signer_open(&o, key, "journal init", &h, &s);
	if (rc != DFI_EXIT_OK)
		return rc;
	char detail[512] = "";
	struct dfi_journal_opts jo = { .station = station, .detail = detail,
		.detail_cap = sizeof(detail) };
	dfi_err e = dfi_journal_create(argv[optind], origin, s, &jo);
	/* One line either way: a failure without the journal's detail said
	 * "created journal" after its error (k38h). */
	if (e == DFI_E_INVALID_ARG) {
		cli_errorf("journal init: '%s' already holds a journal, or the origin/station is invalid "
			   "(origin: printable ASCII, no spaces or '+')", argv[optind]);
		rc = DFI_EXIT_FAIL;
	} else if (e != DFI_OK && detail[0] != '\0') {
		cli_errorf("journal init: %s", detail);
		rc = DFI_EXIT_FAIL;
	} else if (e != DFI_OK) {
		rc = cli_hsm_fail(h, "journal init", e);
	} else {
		printf("created journal %s/%s (origin %s, %s key)\n", argv[optind], DFI_JOURNAL_FILE, origin,
		    dfi_signer_alg(s) == DFI_SIG_ED25519 ? "Ed25519" : "ECDSA P-256");
	}
	dfi_signer_free(s);
	dfi_hsm_free(h);
	return rc;
}

/* ---- shared helpers ---------------------------------------------------------------- */

void
journal_tail_advice(const char *journal, const struct dfi_jverify_result *res)
{
	if (res->tail_lines == 0)
		return;
	/* The directory, whether JOURNAL named it or its journal.log. */
	size_t n = strlen(journal), fl = strlen(DFI_JOURNAL_FILE);
	if (n > fl && journal[n - fl - 1] == '/' && strcmp(journal + n - fl, DFI_JOURNAL_FILE) == 0)
		n -= fl + 1;
	printf("%.*s: every finding is in its unsigned tail (%" PRIu64 " line(s) from line %" PRIu64
	       ", after the last signed checkpoint): the trace of a failed write or a crash, not "
	       "tampering; its intents were never covered by a signature, so no ChangeKey was sent "
	       "for them. 'dfissue journal recover --station NAME [HSM options] %.*s', or the next "
	       "personalize run on this journal, moves it to %.*s/%s/\n", (int)n, journal,
	    res->tail_lines, res->tail_from, (int)n, journal, (int)n, journal, DFI_JOURNAL_QDIR);
}

/* Takes JOURNAL from --journal or the one positional argument. */
const char *
journal_arg(const char *opt, int argc, char **argv)
{
	if (opt != NULL)
		return optind == argc ? opt : NULL;
	return argc - optind == 1 ? argv[optind] : NULL;
}

/* The start of every subcommand whose only operand is one JOURNAL: the
 * options, then the journal, refused with the needs line when missing. */
int
journal_parse_one(const char *cmd, const struct cli_opt *opts, const char *needs,
    const char *const *jopt, int argc, char **argv, const char **path)
{
	const struct cli_spec spec = { .cmd = cmd, .help = journal_help, .opts = opts, .max_operands = 1,
		.needs = needs != NULL ? needs : "needs one JOURNAL (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	*path = journal_arg(*jopt, argc, argv);
	if (*path == NULL)
		return cli_needs(&spec);
	return CLI_GO_ON;
}

/* ---- recover ------------------------------------------------------------------------ */

static void
r_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)code;
	fprintf(stderr, "dfissue: %s:%" PRIu64 ": %s\n", (const char *)ctx, line, msg);
}

static int
j_recover(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *station = NULL, *key = DEFAULT_KEY_URI;
	const struct cli_opt opts[] = { CLI_NEED_STR("station", &station), CLI_STR("key", &key),
		CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal recover", .help = journal_help, .opts = opts,
		.hsm = &o, .journal_hsm = 1, .min_operands = 1, .max_operands = 1,
		.needs = "needs --station and one DIR (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if ((rc = cli_uri_check("journal recover: --key", key, "key")) != DFI_EXIT_OK)
		return rc;
	const char *dir = argv[optind];
	dfi_hsm *h;
	dfi_signer *s;
	rc = cli_signer_open(&o, key, "journal recover", &h, &s);
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_err e;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, DFI_JOURNAL_FILE);
	char detail[512] = "";
	struct dfi_journal_opts jo = { .station = station, .finding = r_finding, .finding_ctx = path,
		.detail = detail, .detail_cap = sizeof(detail) };
	struct dfi_journal_recovery *rec = calloc(1, sizeof(*rec));
	dfi_journal *j = NULL;
	e = rec == NULL ? DFI_E_NOMEM : dfi_journal_open(&j, dir, s, &jo, rec);
	if (e == DFI_E_JOURNAL_LOCKED) {
		cli_errorf("journal recover: %s is in use: another dfissue process (a station still "
		    "running?) holds its lock: stop it, then run recover again", path);
		rc = DFI_EXIT_FAIL;
	} else if (e != DFI_OK && detail[0] != '\0') {
		cli_errorf("journal recover: %s", detail);
		rc = DFI_EXIT_FAIL;
	} else if (e != DFI_OK) {
		rc = cli_fail(path, e);
	} else {
		printf("%s: %" PRIu64 " records, covered and signed\n", path, rec->records);
		if (rec->recoveries == 0) {
			printf("nothing to recover\n");
		} else {
			printf("recovered: %" PRIu64 " line(s), %" PRIu64 " byte(s) quarantined in %s/%s/%s, "
			       "%u recovery record(s) appended\n",
			    rec->quarantined_lines, rec->quarantined_bytes, dir, DFI_JOURNAL_QDIR,
			    rec->quarantine_file, rec->recoveries);
			for (unsigned i = 0; i < rec->n_lost_intents; i++) {
				const dfi_jrec *r = &rec->lost_intents[i];
				char uid[2 * DFI_J_UID_MAX + 1];
				cli_hexs(r->key.uid, r->key.uid_len, uid, sizeof(uid));
				printf("unacknowledged intent (no ChangeKey was sent): card %s AID " DFI_AID_FMT
				       " key %u version %u -> %u: probe this card\n",
				    uid, DFI_AID_ARGS(r->key.aid), r->key.keyno, r->old_version, r->new_version);
			}
		}
		size_t nopen = dfi_journal_open_intents(j, NULL, NULL);
		printf("unresolved intents: %zu\n", nopen);
		dfi_journal_close(j);
	}
	free(rec);
	dfi_signer_free(s);
	dfi_hsm_free(h);
	return rc;
}

/* ---- verify -------------------------------------------------------------------------- */

struct vstate {
	const char *path;
};

static void
v_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct vstate *v = ctx;
	(void)code;
	/* the message quotes the journal (its origin, a note's key name) */
	char m[CLI_TT_LINE];
	if (line > 0)
		printf("%s:%" PRIu64 ": %s\n", v->path, line, cli_tt(m, sizeof(m), msg));
	else
		printf("%s: %s\n", v->path, cli_tt(m, sizeof(m), msg));
}

static void
v_unresolved(void *ctx, const dfi_jrec *r)
{
	(void)ctx;
	char uid[2 * DFI_J_UID_MAX + 1], t[32], st[CLI_TT_FIELD];
	const char *station = cli_tt(st, sizeof(st), r->station);
	cli_hexs(r->key.uid, r->key.uid_len, uid, sizeof(uid));
	cli_utc_time(r->time, 'T', t, sizeof(t));
	if (r->type == DFI_JREC_CHANGE) {
		char tgt[2 * DFI_J_TARGET_MAX + 1] = "-", what[CLI_TT_CAP(sizeof(r->what) - 1)];
		if (r->target_len > 0)
			cli_hexs(r->target, r->target_len, tgt, sizeof(tgt));
		printf("unresolved intent %" PRIu64 ": card %s AID " DFI_AID_FMT " change %s -> %s (%s, station %s)\n",
		    r->seq, uid, DFI_AID_ARGS(r->key.aid), cli_tt(what, sizeof(what), r->what), tgt, t, station);
		return;
	}
	printf("unresolved intent %" PRIu64 ": card %s AID " DFI_AID_FMT " key %u version %u -> %u (%s, station %s)\n",
	    r->seq, uid, DFI_AID_ARGS(r->key.aid), r->key.keyno, r->old_version, r->new_version, t, station);
}

/* verify --consistency PROOF: checks the proof (against its own old
 * checkpoint or the last-seen one). On success, *ls becomes the proof's new
 * checkpoint: a JOURNAL given too must extend it. */
static int
verify_consistency(const char *proof, const dfi_jpubkey *pk, const char *origin, char **ls, size_t *ll)
{
	size_t tl;
	char *text = cli_read_file(proof, DFI_JCONSISTENCY_TEXT_MAX, &tl);
	struct dfi_jconsistency *c = calloc(1, sizeof(*c));
	int rc = DFI_EXIT_FAIL;
	char why[512];
	if (text == NULL || c == NULL) {
		cli_errorf("journal verify: cannot read consistency proof '%s'", proof);
	} else if (dfi_jconsistency_parse(text, tl, c) != DFI_OK) {
		printf("%s: FAILED: not a consistency proof (see 'dfissue journal consistency')\n", proof);
	} else if (dfi_jconsistency_verify(c, pk, (const uint8_t *)*ls, *ll, why, sizeof(why)) != DFI_OK) {
		char w[CLI_TT_CAP(sizeof(why) - 1)]; /* a foreign signature's key name, as the proof has it */
		printf("%s: FAILED: %s\n", proof, cli_tt(w, sizeof(w), why));
	} else {
		dfi_checkpoint cp;
		(void)dfi_note_open(c->new_note, c->new_note_len, NULL, &cp);
		if (origin != NULL && strcmp(origin, cp.origin) != 0) {
			printf("%s: FAILED: the checkpoints are of '%s', not '%s'\n", proof, cp.origin, origin);
		} else {
			printf("%s: OK: the checkpoint of %" PRIu64 " records of %s extends its tree of %" PRIu64
			       " records\n", proof, c->to, cp.origin, c->from);
			free(*ls);
			*ls = malloc(c->new_note_len);
			if (*ls != NULL) {
				memcpy(*ls, c->new_note, c->new_note_len);
				*ll = c->new_note_len;
				rc = DFI_EXIT_OK;
			}
		}
	}
	free(text);
	free(c);
	return rc;
}

static int
j_verify(int argc, char **argv)
{
	const char *pubkey = NULL, *origin = NULL, *last_seen = NULL, *jopt = NULL, *proof = NULL;
	const struct cli_opt opts[] = { CLI_NEED_STR("pubkey", &pubkey), CLI_STR("origin", &origin),
		CLI_STR("last-seen", &last_seen), CLI_STR("journal", &jopt),
		CLI_STR("consistency", &proof), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "journal verify", .help = journal_help, .opts = opts,
		.max_operands = 1,
		.needs = "needs --pubkey KEY and one JOURNAL, or --consistency PROOF (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if (path == NULL && (proof == NULL || optind != argc))
		return cli_needs(&spec);
	size_t ll = 0;
	char *ls = NULL;
	dfi_jpubkey *pk = NULL;
	dfi_err e;
	char vname[DFI_J_STR_MAX];
	if (cli_load_pubkey("journal verify", pubkey, &pk, vname, sizeof(vname)) != DFI_EXIT_OK)
		return DFI_EXIT_FAIL;
	/* A verifier key names its log: the journal's origin must be it. */
	if (vname[0] != '\0' && origin != NULL && strcmp(origin, vname) != 0) {
		cli_errorf("journal verify: --origin '%s' is not the verifier key's name '%s'", origin, vname);
		dfi_jpubkey_free(pk);
		return DFI_EXIT_USAGE;
	}
	if (vname[0] != '\0')
		origin = vname;
	if (last_seen != NULL && (ls = cli_read_file(last_seen, DFI_J_NOTE_MAX, &ll)) == NULL) {
		cli_errorf("journal verify: cannot read last-seen checkpoint '%s'", last_seen);
		dfi_jpubkey_free(pk);
		return DFI_EXIT_FAIL;
	}
	if (proof != NULL) {
		int r = verify_consistency(proof, pk, origin, &ls, &ll);
		if (r != DFI_EXIT_OK || path == NULL) {
			free(ls);
			dfi_jpubkey_free(pk);
			return r;
		}
	}
	struct vstate vs = { path };
	struct dfi_jverify_opts vo = {
		.pubkey = pk,
		.origin = origin,
		.last_seen = (const uint8_t *)ls,
		.last_seen_len = ll,
		.finding = v_finding,
		.unresolved = v_unresolved,
		.ctx = &vs,
	};
	struct dfi_jverify_result res;
	memset(&res, 0, sizeof(res));
	e = dfi_journal_verify_file(path, &vo, &res);
	rc = DFI_EXIT_OK;
	if (e == DFI_E_JOURNAL_SIGNATURE && res.lines == 0 && ls != NULL) {
		printf("%s: the last-seen checkpoint '%s' is not signed by this key\n", path, last_seen);
		rc = DFI_EXIT_FAIL;
	} else if (e == DFI_E_JOURNAL_FORMAT && res.lines == 0 && ls != NULL) {
		printf("%s: the last-seen checkpoint '%s' is not a signed checkpoint note\n", path, last_seen);
		rc = DFI_EXIT_FAIL;
	} else if (e == DFI_E_IO || e == DFI_E_NOT_FOUND || e == DFI_E_NOMEM || e == DFI_E_INVALID_ARG) {
		rc = cli_fail(path, e);
	} else {
		char root[2 * DFI_HASH_LEN + 1] = "";
		if (res.last_note_len > 0) {
			dfi_checkpoint cp;
			if (dfi_note_open(res.last_note, res.last_note_len, NULL, &cp) == DFI_OK)
				cli_hexs(cp.root, 32, root, sizeof(root));
		}
		if (e == DFI_OK) {
			printf("%s: OK: %" PRIu64 " records under %" PRIu64 " signed checkpoints, tree size %" PRIu64
			       ", root %s; %" PRIu64 " intents, %" PRIu64 " commits, %" PRIu64 " aborts, %" PRIu64
			       " resolves, %" PRIu64 " recoveries, %" PRIu64 " unresolved\n",
			    path, res.records, res.checkpoints, res.covered, root, res.intents, res.commits,
			    res.aborts, res.resolves, res.recoveries, res.unresolved);
		} else {
			printf("%s: FAILED: %" PRIu64 " finding(s)\n", path, res.findings);
			journal_tail_advice(path, &res);
			rc = DFI_EXIT_FAIL;
		}
	}
	free(ls);
	dfi_jpubkey_free(pk);
	return rc;
}

/* ---- proof and checkpoint ------------------------------------------------------------- */

static int
j_proof(int argc, char **argv)
{
	const char *jopt = NULL;
	unsigned long seq = 0; /* cli_parse() refuses a run without --seq */
	const struct cli_opt opts[] = { CLI_NEED_UINT("seq", &seq, 0, ULONG_MAX - 1, "a record number"),
		CLI_STR("journal", &jopt), CLI_OPTS_END };
	const char *path;
	int rc = journal_parse_one("journal proof", opts,
	    "needs --seq N (a record number) and one JOURNAL (try --help)", &jopt, argc, argv, &path);
	if (rc != CLI_GO_ON)
		return rc;
	struct dfi_jproof *p = malloc(sizeof(*p));
	if (p == NULL)
		return cli_fail("journal proof", DFI_E_NOMEM);
	dfi_err e = dfi_journal_proof_file(path, seq, p);
	if (e == DFI_E_NOT_FOUND) {
		cli_errorf("journal proof: record %lu is not covered by a checkpoint in %s", seq, path);
		free(p);
		return DFI_EXIT_FAIL;
	}
	if (e != DFI_OK) {
		free(p);
		return cli_fail(path, e);
	}
	char h[65];
	printf("index %" PRIu64 "\nsize %" PRIu64 "\n", p->index, p->size);
	cli_hexs(p->leaf, 32, h, sizeof(h));
	printf("leaf %s\n", h);
	for (size_t i = 0; i < p->plen; i++) {
		cli_hexs(p->proof[i], 32, h, sizeof(h));
		printf("path %s\n", h);
	}
	printf("record %s\ncheckpoint\n", p->line);
	fwrite(p->note, 1, p->note_len, stdout);
	free(p);
	return DFI_EXIT_OK;
}

static int
j_checkpoint(int argc, char **argv)
{
	const char *jopt = NULL;
	const struct cli_opt opts[] = { CLI_STR("journal", &jopt), CLI_OPTS_END };
	const char *path;
	int rc = journal_parse_one("journal checkpoint", opts, NULL, &jopt, argc, argv, &path);
	if (rc != CLI_GO_ON)
		return rc;
	struct dfi_jverify_opts vo = { 0 };
	struct dfi_jverify_result *res = calloc(1, sizeof(*res));
	if (res == NULL)
		return cli_fail("journal checkpoint", DFI_E_NOMEM);
	dfi_err e = dfi_journal_verify_file(path, &vo, res);
	rc = DFI_EXIT_OK;
	if (e == DFI_E_IO || e == DFI_E_NOT_FOUND || e == DFI_E_NOMEM)
		rc = cli_fail(path, e);
	else if (res->last_note_len == 0) {
		cli_errorf("journal checkpoint: %s has no valid checkpoint", path);
		rc = DFI_EXIT_FAIL;
	} else
		fwrite(res->last_note, 1, res->last_note_len, stdout);
	free(res);
	return rc;
}

/* ---- consistency ---------------------------------------------------------------- */

static int
j_consistency(int argc, char **argv)
{
	const char *jopt = NULL;
	unsigned long from = 0, to = 0; /* --from is needed; to 0: the last checkpoint */
	const struct cli_opt opts[] = { CLI_NEED_UINT("from", &from, 1, ULONG_MAX, "a record count, 1 or more"),
		CLI_UINT("to", &to, 1, ULONG_MAX, "a checkpoint's size, 1 or more"), CLI_STR("journal", &jopt),
		CLI_OPTS_END };
	const char *path;
	int rc = journal_parse_one("journal consistency", opts, "needs --from N (a record count, 1 or "
	    "more), optionally --to M, and one JOURNAL (try --help)", &jopt, argc, argv, &path);
	if (rc != CLI_GO_ON)
		return rc;
	struct dfi_jconsistency *p = malloc(sizeof(*p));
	char *text = malloc(DFI_JCONSISTENCY_TEXT_MAX);
	size_t tl;
	dfi_err e = p == NULL || text == NULL ? DFI_E_NOMEM : dfi_journal_consistency_file(path, from, to, p);
	if (e == DFI_E_NOT_FOUND && to != 0) {
		cli_errorf("journal consistency: %s has no valid checkpoint of size %lu"
			   " (--to must be the size of one of its checkpoints)", path, to);
		rc = DFI_EXIT_FAIL;
	} else if (e == DFI_E_NOT_FOUND) {
		cli_errorf("journal consistency: %s has no valid checkpoint", path);
		rc = DFI_EXIT_FAIL;
	} else if (e == DFI_E_INVALID_ARG) {
		cli_errorf("journal consistency: --from %lu is beyond the checkpoint it is proven against", from);
		rc = DFI_EXIT_FAIL;
	} else if (e != DFI_OK) {
		rc = cli_fail(path, e);
	} else if ((e = dfi_jconsistency_format(p, text, DFI_JCONSISTENCY_TEXT_MAX, &tl)) != DFI_OK) {
		rc = cli_fail("journal consistency", e);
	} else {
		rc = DFI_EXIT_OK;
		fwrite(text, 1, tl, stdout);
	}
	free(p);
	free(text);
	return rc;
}

int
sub_journal(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "init", j_init }, { "recover", j_recover },
		{ "verify", j_verify }, { "show", j_show }, { "proof", j_proof },
		{ "checkpoint", j_checkpoint }, { "consistency", j_consistency }, { NULL, NULL } };
	return cli_subcommand("journal", argc, argv, journal_help, sub);
}
