/*
 * dfissue journal show: every key change of a journal with its outcome, the
 * refusals and authorizations, per card (--uid), as JSON (--json) or as an
 * HTML page (--html). Split from sub_journal.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "jwipe.h"
#include "core/grow.h"
#include "opts.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_html.h"
#include "sub_journal_int.h"

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
	dfi_jrec *nv = dfi_grow(*v, cap, *n + 1, 8, sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	nv[(*n)++] = *r;
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
	if (r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE) {
		if (s->n > 0 && s->v[s->n - 1].in.seq >= r->seq)
			return; /* out of order: verify reports it */
		struct change *v = dfi_grow(s->v, &s->cap, s->n + 1, 64, sizeof(*v));
		if (v == NULL) {
			s->oom = 1;
			return;
		}
		s->v = v;
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

/* A change record (not a key change): what it changes and to what. */
static json_t *
card_change_json(const struct change *c, const char *uid, const char *aid, const char *t)
{
	char tgt[2 * DFI_J_TARGET_MAX + 1];
	hexs(c->in.target, c->in.target_len, tgt, sizeof(tgt));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "intent_seq",
	    (json_int_t)c->in.seq, "time", t, "uid", uid, "aid", aid, "what", c->in.what, "target",
	    tgt, "station", c->in.station, "outcome", outcome_name(&c->out));
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
	json_t *o = c->in.type == DFI_JREC_CHANGE ? card_change_json(c, uid, aid, t) : json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:I, s:s, s:s, s:s}",
	    "intent_seq", (json_int_t)c->in.seq, "time", t, "uid", uid, "aid", aid, "keyno",
	    (int)c->in.key.keyno, "old_version", (int)c->in.old_version, "new_version",
	    (int)c->in.new_version, "key_label", c->in.key_label, "key_objid", oid, "key_gen",
	    (json_int_t)c->in.key_gen, "div_input", div, "station", c->in.station, "outcome",
	    outcome_name(&c->out));
	if (o != NULL && c->in.type == DFI_JREC_INTENT && c->in.has_old_gen)
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

/* "  <time>  AID <aid> change <what> -> <target>  <outcome> intent N[, outcome M (reason)]" */
static void
print_card_change(const struct change *c, const char *t)
{
	char tgt[2 * DFI_J_TARGET_MAX + 1];
	hexs(c->in.target, c->in.target_len, tgt, sizeof(tgt));
	printf("  %s  AID " DFI_AID_FMT " change %s -> %s  %-16s intent %" PRIu64, t,
	    DFI_AID_ARGS(c->in.key.aid), c->in.what, c->in.target_len > 0 ? tgt : "-",
	    outcome_name(&c->out), c->in.seq);
	if (c->out.type != 0)
		printf(", %s %" PRIu64, dfi_jrec_type_name(c->out.type), c->out.seq);
	if (c->out.type == DFI_JREC_ABORT)
		printf(" (%s)", c->out.reason);
	printf("  station %s\n", c->in.station);
}

static void
print_change(const struct change *c)
{
	char oid[2 * DFI_J_BLOB_MAX + 1], t[32];
	hexs(c->in.key_objid, c->in.key_objid_len, oid, sizeof(oid));
	cli_utc_time(c->in.time, 'T', t, sizeof(t));
	if (c->in.type == DFI_JREC_CHANGE) {
		print_card_change(c, t);
		return;
	}
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
		if (!same_uid(&c->in, uid, uidlen) || c->in.type != DFI_JREC_INTENT)
			continue;
		for (size_t j = 0; j < i && first; j++)
			if (same_uid(&s->v[j].in, uid, uidlen) && s->v[j].in.type == DFI_JREC_INTENT &&
			    s->v[j].in.key.aid == c->in.key.aid &&
			    s->v[j].in.key.keyno == c->in.key.keyno)
				first = 0;
		if (!first)
			continue;
		printf("  AID " DFI_AID_FMT " key %-2u ", DFI_AID_ARGS(c->in.key.aid), c->in.key.keyno);
		for (size_t j = i; j < s->n; j++) {
			const struct change *d = &s->v[j];
			if (!same_uid(&d->in, uid, uidlen) || d->in.type != DFI_JREC_INTENT ||
			    d->in.key.aid != c->in.key.aid || d->in.key.keyno != c->in.key.keyno || !landed(d))
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

int
j_show(int argc, char **argv)
{
	int json = 0;
	const char *uidhex = NULL, *jopt = NULL, *html = NULL, *pubkey = NULL;
	const struct cli_opt opts[] = { CLI_FLAG("json", &json), CLI_STR("uid", &uidhex),
		CLI_STR("journal", &jopt), CLI_STR("html", &html), CLI_STR("pubkey", &pubkey),
		CLI_OPTS_END };
	const char *path;
	int rc = journal_parse_one("journal show", opts, NULL, &jopt, argc, argv, &path);
	if (rc != CLI_GO_ON)
		return rc;
	if (html != NULL && (json || uidhex != NULL))
		return cli_usagef("journal show: --html writes the whole journal: no --json or --uid with it");
	if (html != NULL)
		return journal_html_write(path, pubkey, html);
	if (pubkey != NULL)
		return cli_usagef("journal show: --pubkey goes with --html (or use 'dfissue journal verify')");
	uint8_t uid[DFI_J_UID_MAX];
	size_t uidlen = 0;
	if (uidhex != NULL && (dfi_hex_decode(uidhex, uid, sizeof(uid), &uidlen) != DFI_OK || uidlen == 0))
		return cli_usagef("journal show: --uid must be 1 to %d bytes of hex", DFI_J_UID_MAX);
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
		cli_json_puts(root, JSON_INDENT(2));
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
		journal_tail_advice(path, &res);
	}
	free(s.v);
	free(s.rec);
	free(s.ev);
	return DFI_EXIT_OK;
}
