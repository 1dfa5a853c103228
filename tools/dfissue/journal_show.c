/* journal show's listing, as text (journal_show.h; JSON: journal_show_json.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/grow.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_show.h"
#include "sub_journal_int.h"
#include "termtext.h"

const struct jh_rec *
js_in(const struct js_show *s, const struct js_change *c)
{
	return &s->st.rec[c->in];
}

const struct jh_rec *
js_out(const struct js_show *s, const struct js_change *c)
{
	return c->out == JS_NONE ? NULL : &s->st.rec[c->out];
}

int
js_wanted(const struct js_show *s, const struct jh_rec *r)
{
	size_t len;
	const uint8_t *uid = jh_uid(r, &len);
	return s->uidlen == 0 || (len == s->uidlen && memcmp(uid, s->uid, len) == 0);
}

static struct js_change *
find_change(struct js_show *s, uint64_t seq)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (js_in(s, &s->v[mid])->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && js_in(s, &s->v[lo])->seq == seq ? &s->v[lo] : NULL;
}

/* Keeps r if it is shown: an intent in order (verify reports the others),
 * the first outcome of one read before it, a recovery, a refusal, an
 * authorization. */
static void
s_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct js_show *s = ctx;
	size_t at = s->st.n;
	if (r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE) {
		if (s->n > 0 && js_in(s, &s->v[s->n - 1])->seq >= r->seq)
			return;
		struct js_change *v = dfi_grow(s->v, &s->cap, s->n + 1, 64, sizeof(*v));
		if (v == NULL) {
			s->st.oom = 1;
			return;
		}
		s->v = v;
		jh_store_record(&s->st, r);
		if (s->st.n > at)
			s->v[s->n++] = (struct js_change){ .in = at, .out = JS_NONE };
	} else if (r->type == DFI_JREC_COMMIT || r->type == DFI_JREC_ABORT || r->type == DFI_JREC_RESOLVE) {
		struct js_change *ch = find_change(s, r->intent);
		if (ch == NULL || ch->out != JS_NONE)
			return;
		jh_store_record(&s->st, r);
		if (s->st.n > at)
			ch->out = at;
	} else if (r->type == DFI_JREC_RECOVERY || r->type == DFI_JREC_REFUSAL ||
	    r->type == DFI_JREC_AUTHORIZATION) {
		jh_store_record(&s->st, r);
	}
}

/* By card, then number (numbers are unique: out of order ones are not kept). */
static int
by_uid(const void *a, const void *b, void *ctx)
{
	const struct js_show *s = ctx;
	const struct jh_rec *x = js_in(s, a), *y = js_in(s, b);
	int c = jh_uid_cmp(x, y);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

const char *
js_outcome_name(const struct jh_rec *o)
{
	switch (o != NULL ? o->type : DFI_JREC_GENESIS) {
	case DFI_JREC_COMMIT: return "committed";
	case DFI_JREC_ABORT: return "aborted";
	case DFI_JREC_RESOLVE:
		return o->u.out.matched == DFI_JMATCH_NEW ? "resolved-new" :
		    o->u.out.matched == DFI_JMATCH_OLD ? "resolved-old" : "resolved-unknown";
	default: return "unresolved";
	}
}

/* ", <outcome> M (reason)" after "intent N", when there is an outcome. */
static void
print_outcome(const struct js_show *s, const struct jh_rec *out)
{
	if (out == NULL)
		return;
	char reason[CLI_TT_FIELD];
	printf(", %s %" PRIu64, dfi_jrec_type_name(out->type), out->seq);
	if (out->type == DFI_JREC_ABORT)
		printf(" (%s)", cli_tt(reason, sizeof(reason), jh_text2(&s->st, out->text)));
}

/* "  <time>  AID <aid> change <what> -> <target>  <outcome> intent N[, outcome M (reason)]" */
static void
print_card_change(const struct js_show *s, const struct jh_rec *in, const struct jh_rec *out,
    const char *t)
{
	char tgt[2 * DFI_J_TARGET_MAX + 1], what[CLI_TT_FIELD], station[CLI_TT_FIELD];
	size_t tl;
	const uint8_t *target = jh_bytes(&s->st, in->text, 0, &tl);
	cli_hexs(target, tl, tgt, sizeof(tgt));
	printf("  %s  AID " DFI_AID_FMT " change %s -> %s  %-16s intent %" PRIu64, t,
	    DFI_AID_ARGS(in->u.in.aid), cli_tt(what, sizeof(what), jh_text2(&s->st, in->text)),
	    tl > 0 ? tgt : "-", js_outcome_name(out), in->seq);
	print_outcome(s, out);
	printf("  station %s\n", cli_tt(station, sizeof(station), jh_text(&s->st, in->text)));
}

/* An intent's old key generation, if it names one (1), in *gen. */
static int
old_gen(const struct js_show *s, const struct jh_rec *in, uint32_t *gen)
{
	size_t gl;
	const uint8_t *g = jh_bytes(&s->st, in->text, 2, &gl);
	if (gl != sizeof(*gen))
		return 0;
	memcpy(gen, g, sizeof(*gen));
	return 1;
}

static void
print_change(const struct js_show *s, const struct js_change *c)
{
	const struct jh_rec *in = js_in(s, c), *out = js_out(s, c);
	char oid[2 * DFI_J_BLOB_MAX + 1], t[32];
	size_t ol;
	const uint8_t *o = jh_bytes(&s->st, in->text, 0, &ol);
	cli_hexs(o, ol, oid, sizeof(oid));
	cli_utc_time(in->time, 'T', t, sizeof(t));
	if (in->type == DFI_JREC_CHANGE) {
		print_card_change(s, in, out, t);
		return;
	}
	printf("  %s  AID " DFI_AID_FMT " key %-2u v%u -> v%u  %-16s intent %" PRIu64, t,
	    DFI_AID_ARGS(in->u.in.aid), in->u.in.keyno, in->u.in.old_version, in->u.in.new_version,
	    js_outcome_name(out), in->seq);
	print_outcome(s, out);
	uint32_t gen;
	char lb[CLI_TT_FIELD], st[CLI_TT_FIELD];
	const char *label = cli_tt(lb, sizeof(lb), jh_text2(&s->st, in->text)),
		   *station = cli_tt(st, sizeof(st), jh_text(&s->st, in->text));
	if (old_gen(s, in, &gen))
		printf("  key %s id %s gen %" PRIu32 " -> %" PRIu32 "  station %s\n", label, oid, gen,
		    in->u.in.key_gen, station);
	else
		printf("  key %s id %s gen %" PRIu32 "  station %s\n", label, oid, in->u.in.key_gen,
		    station);
}

/* --uid: each key slot's generation history, oldest first: the key the
 * slot started from (its generation when the intent names it, else the
 * version: factory or transport), then every change that reached the card
 * (committed, or resolved with the new key). */
static int
key_intent(const struct js_show *s, const struct js_change *c)
{
	const struct jh_rec *in = js_in(s, c);
	return in->type == DFI_JREC_INTENT && js_wanted(s, in);
}

static int
same_slot(const struct jh_rec *a, const struct jh_rec *b)
{
	return a->u.in.aid == b->u.in.aid && a->u.in.keyno == b->u.in.keyno;
}

static int
landed(const struct jh_rec *out)
{
	return out != NULL && (out->type == DFI_JREC_COMMIT ||
	    (out->type == DFI_JREC_RESOLVE && out->u.out.matched == DFI_JMATCH_NEW));
}

static void
print_slots(const struct js_show *s)
{
	printf("key slots (generation history):\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct jh_rec *c = js_in(s, &s->v[i]);
		int first = 1, any = 0;
		if (!key_intent(s, &s->v[i]))
			continue;
		for (size_t j = 0; j < i && first; j++)
			if (key_intent(s, &s->v[j]) && same_slot(js_in(s, &s->v[j]), c))
				first = 0;
		if (!first)
			continue;
		printf("  AID " DFI_AID_FMT " key %-2u ", DFI_AID_ARGS(c->u.in.aid), c->u.in.keyno);
		for (size_t j = i; j < s->n; j++) {
			const struct jh_rec *d = js_in(s, &s->v[j]);
			if (!key_intent(s, &s->v[j]) || !same_slot(d, c) || !landed(js_out(s, &s->v[j])))
				continue;
			uint32_t gen;
			if (!any && old_gen(s, d, &gen))
				printf("gen %" PRIu32 " v%u", gen, d->u.in.old_version);
			else if (!any)
				printf("%s v%u", d->u.in.old_version == 0 ? "factory" : "initial",
				    d->u.in.old_version);
			printf(" -> gen %" PRIu32 " v%u (intent %" PRIu64 ")", d->u.in.key_gen,
			    d->u.in.new_version, d->seq);
			any = 1;
		}
		printf("%s\n", any ? "" : "no change reached the card");
	}
}

const struct jh_rec *
js_next_event(const struct js_show *s, dfi_jrec_type t, size_t *i, char u[2 * DFI_J_UID_MAX + 1],
    char tm[32])
{
	for (; *i < s->st.n; (*i)++) {
		const struct jh_rec *r = &s->st.rec[*i];
		if (r->type != t || !js_wanted(s, r))
			continue;
		cli_hexs(r->u.ev.uid, r->u.ev.uid_len, u, 2 * DFI_J_UID_MAX + 1);
		cli_utc_time(r->time, 'T', tm, 32);
		(*i)++;
		return r;
	}
	return NULL;
}

/* Refusals (cards that got nothing) or re-issue authorizations (t), in
 * journal order. */
static void
print_events(const struct js_show *s, dfi_jrec_type t)
{
	size_t n = 0;
	for (size_t i = 0; i < s->st.n; i++)
		n += s->st.rec[i].type == t && js_wanted(s, &s->st.rec[i]);
	printf("%s: %zu\n", t == DFI_JREC_REFUSAL ? "refusals" : "authorizations", n);
	char u[2 * DFI_J_UID_MAX + 1], tm[32], rs[CLI_TT_FIELD], st[CLI_TT_FIELD];
	const struct jh_rec *r;
	for (size_t i = 0; (r = js_next_event(s, t, &i, u, tm)) != NULL;) {
		const char *reason = cli_tt(rs, sizeof(rs), jh_text2(&s->st, r->text)),
			   *station = cli_tt(st, sizeof(st), jh_text(&s->st, r->text));
		if (t == DFI_JREC_REFUSAL)
			printf("  %s  card %s refused (%s): %s  record %" PRIu64 " (tap from %" PRIu64
			       "), station %s\n", tm, u, dfi_jcause_name(r->u.ev.cause), reason, r->seq,
			    r->u.ev.tap, station);
		else
			printf("  %s  card %s re-issue authorized: %s  record %" PRIu64 ", station %s\n", tm,
			    u, reason, r->seq, station);
	}
}

/* A card's header line before its first change. */
static void
print_card(const struct jh_rec *in, const char *prefix)
{
	char u[2 * DFI_J_UID_MAX + 1];
	cli_hexs(in->u.in.uid, in->u.in.uid_len, u, sizeof(u));
	printf("%scard %s", prefix, u);
}

static void
print_text(const struct js_show *s, const char *path, const struct dfi_jverify_result *res,
    uint64_t problems)
{
	printf("journal %s: %" PRIu64 " records, %" PRIu64 " covered by checkpoints\n", path,
	    res->records, res->covered);
	size_t nunres = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct jh_rec *in = js_in(s, &s->v[i]);
		if (!js_wanted(s, in))
			continue;
		if (i == 0 || jh_uid_cmp(js_in(s, &s->v[i - 1]), in) != 0) {
			print_card(in, "");
			putchar('\n');
		}
		print_change(s, &s->v[i]);
		nunres += s->v[i].out == JS_NONE;
	}
	if (s->uidlen)
		print_slots(s);
	printf("unresolved intents: %zu\n", nunres);
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].out != JS_NONE || !js_wanted(s, js_in(s, &s->v[i])))
			continue;
		print_card(js_in(s, &s->v[i]), "  ");
		print_change(s, &s->v[i]);
	}
	printf("recoveries: %zu\n", s->st.nrcv);
	for (size_t i = 0; i < s->st.nrcv; i++) {
		const struct jh_recovery *r = &s->st.rcv[i];
		char sha[65], t[32], file[CLI_TT_FIELD], station[CLI_TT_FIELD];
		cli_hexs(r->q_sha256, 32, sha, sizeof(sha));
		cli_utc_time(r->time, 'T', t, sizeof(t));
		printf("  %s  record %" PRIu64 ": quarantined %" PRIu64 " line(s), %" PRIu64
		       " byte(s), %" PRIu64 " intent(s) into %s/%s (sha256 %s), station %s\n",
		    t, r->seq, r->q_lines, r->q_bytes, r->q_intents, DFI_JOURNAL_QDIR,
		    cli_tt(file, sizeof(file), jh_text2(&s->st, r->text)), sha,
		    cli_tt(station, sizeof(station), jh_text(&s->st, r->text)));
	}
	print_events(s, DFI_JREC_REFUSAL);
	print_events(s, DFI_JREC_AUTHORIZATION);
	if (problems > 0)
		printf("warning: %" PRIu64 " problem(s) found; signatures were not checked: run "
		       "'dfissue journal verify'\n", problems);
}

dfi_err
js_list(const char *path, int json, const uint8_t *uid, size_t uidlen, struct dfi_jverify_result *res)
{
	struct js_show s;
	memset(&s, 0, sizeof(s));
	s.st.full = 1;
	s.uid = uid;
	s.uidlen = uidlen;
	struct dfi_jverify_opts vo = { .record = s_record, .ctx = &s };
	memset(res, 0, sizeof(*res));
	dfi_err e = dfi_journal_verify_file(path, &vo, res);
	if (e != DFI_E_IO && e != DFI_E_NOT_FOUND && e != DFI_E_NOMEM)
		e = s.st.oom ? DFI_E_NOMEM : DFI_OK;
	if (e == DFI_OK) {
		if (s.n > 0) /* s.v is NULL then: qsort's pointer must not be */
			qsort_r(s.v, s.n, sizeof(*s.v), by_uid, &s);
		if (json && js_write_json(&s, res, res->findings) != 0)
			e = DFI_E_NOMEM;
		else if (!json)
			print_text(&s, path, res, res->findings);
	}
	free(s.v);
	jh_store_free(&s.st);
	return e;
}
