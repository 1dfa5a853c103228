/*
 * dfissue journal: create a journal (init) and audit one (verify, show,
 * proof, checkpoint). Auditing needs no HSM: only the journal file and the
 * journal key's public key (PEM). docs/JOURNAL.md specifies the format.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_html.h"

#define DEFAULT_KEY_URI "pkcs11:object=journal;type=private"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dfissue journal init --origin ORIGIN --station NAME [--key URI] [HSM options] DIR\n"
	    "       dfissue journal recover --station NAME [--key URI] [HSM options] DIR\n"
	    "       dfissue journal verify --pubkey KEY [--origin O] [--last-seen CHECKPOINT_FILE] JOURNAL\n"
	    "       dfissue journal verify --pubkey KEY --consistency PROOF [--last-seen CHECKPOINT_FILE] [JOURNAL]\n"
	    "       dfissue journal show [--json] [--uid HEX] [--journal] JOURNAL\n"
	    "       dfissue journal show --html FILE [--pubkey KEY.pem] [--journal] JOURNAL\n"
	    "       dfissue journal proof --seq N [--journal] JOURNAL\n"
	    "       dfissue journal checkpoint [--journal] JOURNAL\n"
	    "       dfissue journal consistency --from N [--to M] [--journal] JOURNAL\n\n"
	    "JOURNAL is a journal directory (holding " DFI_JOURNAL_FILE ") or the file itself.\n\n"
	    "init        creates DIR/" DFI_JOURNAL_FILE " with a genesis record and its checkpoint\n"
	    "            signed by the HSM key URI (default " DEFAULT_KEY_URI ").\n"
	    "            ORIGIN names the log in every checkpoint, e.g. issuer.example/journal/1.\n"
	    "recover     opens DIR as its writer would (takes the lock, checks it, moves an\n"
	    "            uncovered or torn tail to DIR/" DFI_JOURNAL_QDIR "/ and records it) and\n"
	    "            reports what it found; the engine does the same at every start.\n"
	    "verify      checks every checkpoint signature with KEY.pem, recomputes the Merkle\n"
	    "            tree, checks sequence numbers, intent/outcome pairing and per-card key\n"
	    "            version continuity; with --last-seen, that the journal extends a\n"
	    "            checkpoint kept earlier (truncation, rollback). Prints one line per\n"
	    "            finding; exit 0 only when there is none. Unresolved intents are listed.\n"
	    "show        every key change per card, unresolved intents, recoveries, refused cards\n"
	    "            and re-issue authorizations (signatures are not checked: use verify).\n"
	    "            --uid HEX: that card only, and each key slot's generation history.\n"
	    "            --html FILE writes a self-contained page for auditors ('-': stdout): per\n"
	    "            card a timeline of key changes, tears, refusals; recoveries; every\n"
	    "            checkpoint with its verification result (with --pubkey; exit 1 when\n"
	    "            verification fails, the page says why).\n"
	    "proof       an RFC 9162 inclusion proof of record N against the last checkpoint.\n"
	    "checkpoint  prints the last checkpoint (a signed note): keep it for --last-seen.\n"
	    "consistency an RFC 9162 consistency proof that the checkpoint of size M (default:\n"
	    "            the last) extends the tree of the first N records; verify checks it\n"
	    "            with --consistency PROOF against the proof's own old checkpoint or the\n"
	    "            one you kept (--last-seen), and then the JOURNAL, if given, against the\n"
	    "            proof's new checkpoint. KEY is a PEM public key or a signed-note\n"
	    "            verifier key (name+hash+base64, see 'dfissue journal-key vkey').\n\n"
	    "%s%s",
	    cli_hsm_help(), cli_journal_hsm_help());
}

/* ---- init ----------------------------------------------------------------------- */

static int
j_init(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *origin = NULL, *station = NULL, *key = DEFAULT_KEY_URI;
	const struct cli_opt opts[] = { CLI_STR("origin", &origin), CLI_STR("station", &station),
		CLI_STR("key", &key), CLI_OPTS_END };
	const struct cli_spec spec = { "journal init", usage, opts, &o, 1, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (argc - optind != 1 || origin == NULL || station == NULL) {
		cli_errorf("journal init: needs --origin, --station and one DIR (try --help)");
		return DFI_EXIT_USAGE;
	}
	dfi_hsm *h;
	dfi_signer *s;
	rc = cli_signer_open(&o, key, "journal init", &h, &s);
	if (rc != DFI_EXIT_OK)
		return rc;
	char detail[512] = "";
	struct dfi_journal_opts jo = { .station = station, .detail = detail,
		.detail_cap = sizeof(detail) };
	dfi_err e = dfi_journal_create(argv[optind], origin, s, &jo);
	if (e == DFI_E_INVALID_ARG)
		cli_errorf("journal init: '%s' already holds a journal, or the origin/station is invalid "
			   "(origin: printable ASCII, no spaces or '+')", argv[optind]);
	else if (e != DFI_OK && detail[0] != '\0')
		cli_errorf("journal init: %s", detail);
	else if (e != DFI_OK)
		rc = cli_hsm_fail(h, "journal init", e);
	if (e != DFI_OK && detail[0] != '\0')
		rc = DFI_EXIT_FAIL;
	else
		printf("created journal %s/%s (origin %s, %s key)\n", argv[optind], DFI_JOURNAL_FILE, origin,
		    dfi_signer_alg(s) == DFI_SIG_ED25519 ? "Ed25519" : "ECDSA P-256");
	if (e == DFI_E_INVALID_ARG)
		rc = DFI_EXIT_FAIL;
	dfi_signer_free(s);
	dfi_hsm_free(h);
	return rc;
}

/* ---- shared helpers ---------------------------------------------------------------- */

static void
hexs(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (n == 0)
		snprintf(out, cap, "-");
	else if (dfi_hex_encode(p, n, out, cap) != DFI_OK)
		snprintf(out, cap, "?");
}

/* Takes JOURNAL from --journal or the one positional argument. */
static const char *
journal_arg(const char *opt, int argc, char **argv)
{
	if (opt != NULL)
		return optind == argc ? opt : NULL;
	return argc - optind == 1 ? argv[optind] : NULL;
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
	const struct cli_opt opts[] = { CLI_STR("station", &station), CLI_STR("key", &key),
		CLI_OPTS_END };
	const struct cli_spec spec = { "journal recover", usage, opts, &o, 1, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (argc - optind != 1 || station == NULL) {
		cli_errorf("journal recover: needs --station and one DIR (try --help)");
		return DFI_EXIT_USAGE;
	}
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
		cli_errorf("journal recover: %s is in use: another writer holds its lock", path);
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
				hexs(r->key.uid, r->key.uid_len, uid, sizeof(uid));
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
	if (line > 0)
		printf("%s:%" PRIu64 ": %s\n", v->path, line, msg);
	else
		printf("%s: %s\n", v->path, msg);
}

static void
v_unresolved(void *ctx, const dfi_jrec *r)
{
	(void)ctx;
	char uid[2 * DFI_J_UID_MAX + 1], t[32];
	hexs(r->key.uid, r->key.uid_len, uid, sizeof(uid));
	cli_utc_time(r->time, 'T', t, sizeof(t));
	printf("unresolved intent %" PRIu64 ": card %s AID " DFI_AID_FMT " key %u version %u -> %u (%s, station %s)\n",
	    r->seq, uid, DFI_AID_ARGS(r->key.aid), r->key.keyno, r->old_version, r->new_version, t, r->station);
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
		printf("%s: FAILED: %s\n", proof, why);
	} else {
		dfi_checkpoint cp;
		(void)dfi_note_open(c->new_note, c->new_note_len, NULL, &cp);
		if (origin != NULL && strcmp(origin, cp.origin) != 0) {
			printf("%s: FAILED: the checkpoints are of '%s', not '%s'\n", proof, cp.origin, origin);
			free(text);
			free(c);
			return DFI_EXIT_FAIL;
		}
		printf("%s: OK: the checkpoint of %" PRIu64 " records of %s extends its tree of %" PRIu64 " records\n",
		    proof, c->to, cp.origin, c->from);
		free(*ls);
		*ls = malloc(c->new_note_len);
		if (*ls != NULL) {
			memcpy(*ls, c->new_note, c->new_note_len);
			*ll = c->new_note_len;
			rc = DFI_EXIT_OK;
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
	const struct cli_opt opts[] = { CLI_STR("pubkey", &pubkey), CLI_STR("origin", &origin),
		CLI_STR("last-seen", &last_seen), CLI_STR("journal", &jopt),
		CLI_STR("consistency", &proof), CLI_OPTS_END };
	const struct cli_spec spec = { "journal verify", usage, opts, NULL, 0, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if ((path == NULL && (proof == NULL || optind != argc)) || pubkey == NULL) {
		cli_errorf("journal verify: needs --pubkey KEY and one JOURNAL, or --consistency PROOF (try --help)");
		return DFI_EXIT_USAGE;
	}
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
				hexs(cp.root, 32, root, sizeof(root));
		}
		if (e == DFI_OK) {
			printf("%s: OK: %" PRIu64 " records under %" PRIu64 " signed checkpoints, tree size %" PRIu64
			       ", root %s; %" PRIu64 " intents, %" PRIu64 " commits, %" PRIu64 " aborts, %" PRIu64
			       " resolves, %" PRIu64 " recoveries, %" PRIu64 " unresolved\n",
			    path, res.records, res.checkpoints, res.covered, root, res.intents, res.commits,
			    res.aborts, res.resolves, res.recoveries, res.unresolved);
		} else {
			printf("%s: FAILED: %" PRIu64 " finding(s)\n", path, res.findings);
			rc = DFI_EXIT_FAIL;
		}
	}
	free(ls);
	dfi_jpubkey_free(pk);
	return rc;
}

/* ---- show ---------------------------------------------------------------------------- */

struct change {
	dfi_jrec in;
	dfi_jrec out; /* type 0 = none yet */
};

struct sstate {
	struct change *v;
	size_t n, cap;
	dfi_jrec *rec;
	size_t nrec, caprec;
	dfi_jrec *ev;   /* refusals and authorizations, in journal order */
	size_t nev, capev;
	int oom;
};

/* Appends r to a growable record list; 0, or -1 when out of memory. */
static int
push_rec(dfi_jrec **v, size_t *n, size_t *cap, const dfi_jrec *r)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *p = realloc(*v, nc * sizeof(**v));
		if (p == NULL)
			return -1;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = *r;
	return 0;
}

static struct change *
find_change(struct sstate *s, uint64_t seq)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid].in.seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo].in.seq == seq ? &s->v[lo] : NULL;
}

static void
s_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct sstate *s = ctx;
	if (r->type == DFI_JREC_INTENT) {
		if (s->n > 0 && s->v[s->n - 1].in.seq >= r->seq)
			return; /* out of order: verify reports it */
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 64;
			void *p = realloc(s->v, nc * sizeof(*s->v));
			if (p == NULL) {
				s->oom = 1;
				return;
			}
			s->v = p;
			s->cap = nc;
		}
		memset(&s->v[s->n], 0, sizeof(s->v[0]));
		s->v[s->n++].in = *r;
	} else if (r->type == DFI_JREC_COMMIT || r->type == DFI_JREC_ABORT || r->type == DFI_JREC_RESOLVE) {
		struct change *ch = find_change(s, r->intent);
		if (ch != NULL && ch->out.type == 0)
			ch->out = *r;
	} else if (r->type == DFI_JREC_RECOVERY) {
		if (push_rec(&s->rec, &s->nrec, &s->caprec, r) != 0)
			s->oom = 1;
	} else if (r->type == DFI_JREC_REFUSAL || r->type == DFI_JREC_AUTHORIZATION) {
		if (push_rec(&s->ev, &s->nev, &s->capev, r) != 0)
			s->oom = 1;
	}
}

static int
by_uid(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	if (x->in.key.uid_len != y->in.key.uid_len)
		return x->in.key.uid_len - y->in.key.uid_len;
	int c = memcmp(x->in.key.uid, y->in.key.uid, x->in.key.uid_len);
	if (c != 0)
		return c;
	return x->in.seq < y->in.seq ? -1 : x->in.seq > y->in.seq;
}

static const char *
outcome_name(const dfi_jrec *o)
{
	switch (o->type) {
	case DFI_JREC_COMMIT: return "committed";
	case DFI_JREC_ABORT: return "aborted";
	case DFI_JREC_RESOLVE:
		return o->matched == DFI_JMATCH_NEW ? "resolved-new" :
		    o->matched == DFI_JMATCH_OLD ? "resolved-old" : "resolved-unknown";
	default: return "unresolved";
	}
}

static json_t *
change_json(const struct change *c)
{
	char uid[2 * DFI_J_UID_MAX + 1], aid[8], oid[2 * DFI_J_BLOB_MAX + 1], div[2 * DFI_J_BLOB_MAX + 1], t[32];
	hexs(c->in.key.uid, c->in.key.uid_len, uid, sizeof(uid));
	snprintf(aid, sizeof(aid), DFI_AID_FMT, DFI_AID_ARGS(c->in.key.aid));
	hexs(c->in.key_objid, c->in.key_objid_len, oid, sizeof(oid));
	hexs(c->in.div_input, c->in.div_input_len, div, sizeof(div));
	cli_utc_time(c->in.time, 'T', t, sizeof(t));
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:I, s:s, s:s, s:s}",
	    "intent_seq", (json_int_t)c->in.seq, "time", t, "uid", uid, "aid", aid, "keyno",
	    (int)c->in.key.keyno, "old_version", (int)c->in.old_version, "new_version",
	    (int)c->in.new_version, "key_label", c->in.key_label, "key_objid", oid, "key_gen",
	    (json_int_t)c->in.key_gen, "div_input", div, "station", c->in.station, "outcome",
	    outcome_name(&c->out));
	if (o != NULL && c->in.has_old_gen)
		json_object_set_new(o, "old_key_gen", json_integer((json_int_t)c->in.old_key_gen));
	if (o != NULL && c->out.type != 0) {
		json_object_set_new(o, "outcome_seq", json_integer((json_int_t)c->out.seq));
		if (c->out.type == DFI_JREC_ABORT)
			json_object_set_new(o, "reason", json_string(c->out.reason));
		if (c->out.type == DFI_JREC_RESOLVE && c->out.observed_version >= 0)
			json_object_set_new(o, "observed_version", json_integer(c->out.observed_version));
	}
	return o;
}

static void
print_change(const struct change *c)
{
	char oid[2 * DFI_J_BLOB_MAX + 1], t[32];
	hexs(c->in.key_objid, c->in.key_objid_len, oid, sizeof(oid));
	cli_utc_time(c->in.time, 'T', t, sizeof(t));
	printf("  %s  AID " DFI_AID_FMT " key %-2u v%u -> v%u  %-16s intent %" PRIu64, t, DFI_AID_ARGS(c->in.key.aid),
	    c->in.key.keyno, c->in.old_version, c->in.new_version, outcome_name(&c->out), c->in.seq);
	if (c->out.type != 0)
		printf(", %s %" PRIu64, dfi_jrec_type_name(c->out.type), c->out.seq);
	if (c->out.type == DFI_JREC_ABORT)
		printf(" (%s)", c->out.reason);
	if (c->in.has_old_gen)
		printf("  key %s id %s gen %" PRIu32 " -> %" PRIu32 "  station %s\n", c->in.key_label,
		    oid, c->in.old_key_gen, c->in.key_gen, c->in.station);
	else
		printf("  key %s id %s gen %" PRIu32 "  station %s\n", c->in.key_label, oid,
		    c->in.key_gen, c->in.station);
}

/* --uid: each key slot's generation history, oldest first: the key the
 * slot started from (its generation when the intent names it, else the
 * version: factory or transport), then every change that reached the card
 * (committed, or resolved with the new key). */
static int
same_uid(const dfi_jrec *r, const uint8_t *uid, size_t uidlen)
{
	return r->key.uid_len == uidlen && memcmp(r->key.uid, uid, uidlen) == 0;
}

static int
landed(const struct change *c)
{
	return c->out.type == DFI_JREC_COMMIT ||
	    (c->out.type == DFI_JREC_RESOLVE && c->out.matched == DFI_JMATCH_NEW);
}

static void
print_slots(const struct sstate *s, const uint8_t *uid, size_t uidlen)
{
	printf("key slots (generation history):\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct change *c = &s->v[i];
		int first = 1, any = 0;
		if (!same_uid(&c->in, uid, uidlen))
			continue;
		for (size_t j = 0; j < i && first; j++)
			if (same_uid(&s->v[j].in, uid, uidlen) && s->v[j].in.key.aid == c->in.key.aid &&
			    s->v[j].in.key.keyno == c->in.key.keyno)
				first = 0;
		if (!first)
			continue;
		printf("  AID " DFI_AID_FMT " key %-2u ", DFI_AID_ARGS(c->in.key.aid), c->in.key.keyno);
		for (size_t j = i; j < s->n; j++) {
			const struct change *d = &s->v[j];
			if (!same_uid(&d->in, uid, uidlen) || d->in.key.aid != c->in.key.aid ||
			    d->in.key.keyno != c->in.key.keyno || !landed(d))
				continue;
			if (!any) {
				if (d->in.has_old_gen)
					printf("gen %" PRIu32 " v%u", d->in.old_key_gen, d->in.old_version);
				else
					printf("%s v%u", d->in.old_version == 0 ? "factory" : "initial",
					    d->in.old_version);
			}
			printf(" -> gen %" PRIu32 " v%u (intent %" PRIu64 ")", d->in.key_gen,
			    d->in.new_version, d->in.seq);
			any = 1;
		}
		printf("%s\n", any ? "" : "no change reached the card");
	}
}

/* Refusals (cards that got nothing) and re-issue authorizations. */
static int
event_wanted(const dfi_jrec *r, const uint8_t *uid, size_t uidlen)
{
	return uidlen == 0 || (r->key.uid_len == uidlen && memcmp(r->key.uid, uid, uidlen) == 0);
}

static size_t
count_events(const struct sstate *s, dfi_jrec_type t, const uint8_t *uid, size_t uidlen)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nev; i++)
		n += s->ev[i].type == t && event_wanted(&s->ev[i], uid, uidlen);
	return n;
}

/* The next event of type t (and of the --uid card) from *i on, with its
 * UID and time formatted; NULL at the end. */
static const dfi_jrec *
next_event(const struct sstate *s, dfi_jrec_type t, const uint8_t *uid, size_t uidlen, size_t *i,
    char u[2 * DFI_J_UID_MAX + 1], char tm[32])
{
	for (; *i < s->nev; (*i)++) {
		const dfi_jrec *r = &s->ev[*i];
		if (r->type != t || !event_wanted(r, uid, uidlen))
			continue;
		hexs(r->key.uid, r->key.uid_len, u, 2 * DFI_J_UID_MAX + 1);
		cli_utc_time(r->time, 'T', tm, 32);
		(*i)++;
		return r;
	}
	return NULL;
}

static void
print_events(const struct sstate *s, dfi_jrec_type t, const uint8_t *uid, size_t uidlen)
{
	char u[2 * DFI_J_UID_MAX + 1], tm[32];
	const dfi_jrec *r;
	printf("%s: %zu\n", t == DFI_JREC_REFUSAL ? "refusals" : "authorizations",
	    count_events(s, t, uid, uidlen));
	for (size_t i = 0; (r = next_event(s, t, uid, uidlen, &i, u, tm)) != NULL;) {
		if (t == DFI_JREC_REFUSAL)
			printf("  %s  card %s refused (%s): %s  record %" PRIu64 " (tap from %" PRIu64
			       "), station %s\n", tm, u, dfi_jcause_name(r->cause), r->reason, r->seq, r->tap,
			    r->station);
		else
			printf("  %s  card %s re-issue authorized: %s  record %" PRIu64 ", station %s\n", tm,
			    u, r->reason, r->seq, r->station);
	}
}

static json_t *
events_json(const struct sstate *s, dfi_jrec_type t, const uint8_t *uid, size_t uidlen)
{
	char u[2 * DFI_J_UID_MAX + 1], tm[32];
	const dfi_jrec *r;
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && (r = next_event(s, t, uid, uidlen, &i, u, tm)) != NULL;) {
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)r->seq, "time", tm,
		    "uid", u, "reason", r->reason, "station", r->station);
		if (o != NULL && t == DFI_JREC_REFUSAL) {
			json_object_set_new(o, "cause", json_string(dfi_jcause_name(r->cause)));
			json_object_set_new(o, "tap", json_integer((json_int_t)r->tap));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static int
j_show(int argc, char **argv)
{
	int json = 0;
	const char *uidhex = NULL, *jopt = NULL, *html = NULL, *pubkey = NULL;
	const struct cli_opt opts[] = { CLI_FLAG("json", &json), CLI_STR("uid", &uidhex),
		CLI_STR("journal", &jopt), CLI_STR("html", &html), CLI_STR("pubkey", &pubkey),
		CLI_OPTS_END };
	const struct cli_spec spec = { "journal show", usage, opts, NULL, 0, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if (path == NULL) {
		cli_errorf("journal show: needs one JOURNAL (try --help)");
		return DFI_EXIT_USAGE;
	}
	if (html != NULL && (json || uidhex != NULL)) {
		cli_errorf("journal show: --html writes the whole journal: no --json or --uid with it");
		return DFI_EXIT_USAGE;
	}
	if (html != NULL)
		return journal_html_write(path, pubkey, html);
	if (pubkey != NULL) {
		cli_errorf("journal show: --pubkey goes with --html (or use 'dfissue journal verify')");
		return DFI_EXIT_USAGE;
	}
	uint8_t uid[DFI_J_UID_MAX];
	size_t uidlen = 0;
	if (uidhex != NULL && (dfi_hex_decode(uidhex, uid, sizeof(uid), &uidlen) != DFI_OK || uidlen == 0)) {
		cli_errorf("journal show: --uid must be 1 to %d bytes of hex", DFI_J_UID_MAX);
		return DFI_EXIT_USAGE;
	}
	struct sstate s;
	memset(&s, 0, sizeof(s));
	struct dfi_jverify_opts vo = { .record = s_record, .ctx = &s };
	struct dfi_jverify_result res;
	memset(&res, 0, sizeof(res));
	dfi_err e = dfi_journal_verify_file(path, &vo, &res);
	uint64_t problems = res.findings;
	if (e == DFI_E_IO || e == DFI_E_NOT_FOUND || e == DFI_E_NOMEM || s.oom) {
		free(s.v);
		free(s.rec);
		free(s.ev);
		return cli_fail(path, s.oom ? DFI_E_NOMEM : e);
	}
	qsort(s.v, s.n, sizeof(*s.v), by_uid);
	if (json) {
		json_t *root = json_object(), *cards = json_array(), *unres = json_array(), *recs = json_array();
		json_t *card = NULL;
		for (size_t i = 0; i < s.n; i++) {
			const struct change *ch = &s.v[i];
			if (uidlen && (ch->in.key.uid_len != uidlen || memcmp(ch->in.key.uid, uid, uidlen) != 0))
				continue;
			if (card == NULL || s.v[i - 1].in.key.uid_len != ch->in.key.uid_len ||
			    memcmp(s.v[i - 1].in.key.uid, ch->in.key.uid, ch->in.key.uid_len) != 0) {
				char u[2 * DFI_J_UID_MAX + 1];
				hexs(ch->in.key.uid, ch->in.key.uid_len, u, sizeof(u));
				card = json_pack("{s:s, s:[]}", "uid", u, "changes");
				json_array_append_new(cards, card);
			}
			json_array_append_new(json_object_get(card, "changes"), change_json(ch));
			if (ch->out.type == 0)
				json_array_append_new(unres, change_json(ch));
		}
		for (size_t i = 0; i < s.nrec; i++) {
			char sha[65], t[32];
			hexs(s.rec[i].q_sha256, 32, sha, sizeof(sha));
			cli_utc_time(s.rec[i].time, 'T', t, sizeof(t));
			json_array_append_new(recs, json_pack("{s:I, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "seq",
							(json_int_t)s.rec[i].seq, "time", t, "quarantined_lines",
							(json_int_t)s.rec[i].q_lines, "quarantined_bytes",
							(json_int_t)s.rec[i].q_bytes, "quarantined_intents",
							(json_int_t)s.rec[i].q_intents, "sha256", sha, "file",
							s.rec[i].q_file, "station", s.rec[i].station));
		}
		json_object_set_new(root, "records", json_integer((json_int_t)res.records));
		json_object_set_new(root, "covered", json_integer((json_int_t)res.covered));
		json_object_set_new(root, "problems", json_integer((json_int_t)problems));
		json_object_set_new(root, "signatures_checked", json_false());
		json_object_set_new(root, "cards", cards);
		json_object_set_new(root, "unresolved", unres);
		json_object_set_new(root, "recoveries", recs);
		json_object_set_new(root, "refusals", events_json(&s, DFI_JREC_REFUSAL, uid, uidlen));
		json_object_set_new(root, "authorizations",
		    events_json(&s, DFI_JREC_AUTHORIZATION, uid, uidlen));
		char *txt = json_dumps(root, JSON_INDENT(2));
		if (txt != NULL)
			puts(txt);
		free(txt);
		json_decref(root);
	} else {
		printf("journal %s: %" PRIu64 " records, %" PRIu64 " covered by checkpoints\n", path, res.records,
		    res.covered);
		size_t nunres = 0;
		for (size_t i = 0; i < s.n; i++) {
			const struct change *ch = &s.v[i];
			if (uidlen && (ch->in.key.uid_len != uidlen || memcmp(ch->in.key.uid, uid, uidlen) != 0))
				continue;
			if (i == 0 || s.v[i - 1].in.key.uid_len != ch->in.key.uid_len ||
			    memcmp(s.v[i - 1].in.key.uid, ch->in.key.uid, ch->in.key.uid_len) != 0) {
				char u[2 * DFI_J_UID_MAX + 1];
				hexs(ch->in.key.uid, ch->in.key.uid_len, u, sizeof(u));
				printf("card %s\n", u);
			}
			print_change(ch);
			nunres += ch->out.type == 0;
		}
		if (uidlen)
			print_slots(&s, uid, uidlen);
		printf("unresolved intents: %zu\n", nunres);
		for (size_t i = 0; i < s.n; i++) {
			const struct change *ch = &s.v[i];
			if (ch->out.type != 0 ||
			    (uidlen && (ch->in.key.uid_len != uidlen || memcmp(ch->in.key.uid, uid, uidlen) != 0)))
				continue;
			char u[2 * DFI_J_UID_MAX + 1];
			hexs(ch->in.key.uid, ch->in.key.uid_len, u, sizeof(u));
			printf("  card %s", u);
			print_change(ch);
		}
		printf("recoveries: %zu\n", s.nrec);
		for (size_t i = 0; i < s.nrec; i++) {
			char sha[65], t[32];
			hexs(s.rec[i].q_sha256, 32, sha, sizeof(sha));
			cli_utc_time(s.rec[i].time, 'T', t, sizeof(t));
			printf("  %s  record %" PRIu64 ": quarantined %" PRIu64 " line(s), %" PRIu64
			       " byte(s), %" PRIu64 " intent(s) into %s/%s (sha256 %s), station %s\n",
			    t, s.rec[i].seq, s.rec[i].q_lines, s.rec[i].q_bytes, s.rec[i].q_intents,
			    DFI_JOURNAL_QDIR, s.rec[i].q_file, sha, s.rec[i].station);
		}
		print_events(&s, DFI_JREC_REFUSAL, uid, uidlen);
		print_events(&s, DFI_JREC_AUTHORIZATION, uid, uidlen);
		if (problems > 0)
			printf("warning: %" PRIu64 " problem(s) found; signatures were not checked: run "
			       "'dfissue journal verify'\n", problems);
	}
	free(s.v);
	free(s.rec);
	free(s.ev);
	return DFI_EXIT_OK;
}

/* ---- proof and checkpoint ------------------------------------------------------------- */

static int
j_proof(int argc, char **argv)
{
	const char *jopt = NULL;
	unsigned long seq = ULONG_MAX; /* none given */
	const struct cli_opt opts[] = { CLI_UINT("seq", &seq, 0, ULONG_MAX - 1, "a record number"),
		CLI_STR("journal", &jopt), CLI_OPTS_END };
	const struct cli_spec spec = { "journal proof", usage, opts, NULL, 0, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if (path == NULL || seq == ULONG_MAX) {
		cli_errorf("journal proof: needs --seq N (a record number) and one JOURNAL (try --help)");
		return DFI_EXIT_USAGE;
	}
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
	hexs(p->leaf, 32, h, sizeof(h));
	printf("leaf %s\n", h);
	for (size_t i = 0; i < p->plen; i++) {
		hexs(p->proof[i], 32, h, sizeof(h));
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
	const struct cli_spec spec = { "journal checkpoint", usage, opts, NULL, 0, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if (path == NULL) {
		cli_errorf("journal checkpoint: needs one JOURNAL (try --help)");
		return DFI_EXIT_USAGE;
	}
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
	unsigned long from = 0, to = 0; /* 0: none given (to: the last checkpoint) */
	const struct cli_opt opts[] = { CLI_UINT("from", &from, 1, ULONG_MAX, "a record count, 1 or more"),
		CLI_UINT("to", &to, 1, ULONG_MAX, "a checkpoint's size, 1 or more"), CLI_STR("journal", &jopt),
		CLI_OPTS_END };
	const struct cli_spec spec = { "journal consistency", usage, opts, NULL, 0, 1, NULL };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *path = journal_arg(jopt, argc, argv);
	if (path == NULL || from == 0) {
		cli_errorf("journal consistency: needs --from N (a record count, 1 or more), optionally --to M, "
			   "and one JOURNAL (try --help)");
		return DFI_EXIT_USAGE;
	}
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
	if (argc < 2) {
		usage(stderr);
		return DFI_EXIT_USAGE;
	}
	static const struct cli_sub sub[] = { { "init", j_init }, { "recover", j_recover },
		{ "verify", j_verify }, { "show", j_show }, { "proof", j_proof },
		{ "checkpoint", j_checkpoint }, { "consistency", j_consistency }, { NULL, NULL } };
	return cli_subcommand("journal", argc, argv, usage, sub);
}
