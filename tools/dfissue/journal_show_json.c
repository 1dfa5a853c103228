/*
 * journal show --json (journal_show.h). The listing of a 1M-record journal
 * is 500,000 change objects: as one jansson tree it was most of the
 * command's peak. Each element (a card with its changes, an unresolved
 * intent, a recovery, a refusal, an authorization) is built and dumped by
 * jansson alone and freed, at the place json_dumps(root, JSON_INDENT(2))
 * put it: the output is the same bytes. Only the containers' brackets,
 * commas and indentation are written here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "dfissue/util.h"
#include "journal_show.h"
#include "jtext.h"
#include "jwipe.h"
#include "sub_journal_int.h"

/* An open container: its depth (the root is 0), the elements written, and
 * the root's flag that one could not be dumped. */
struct jc {
	int depth;
	size_t n;
	int *lost;
};

/* A newline and the indentation of depth, as JSON_INDENT(2) writes them. */
static void
indent(int depth)
{
	printf("\n%*s", 2 * depth, "");
}

/* Writes txt, a dump, every line after its first indented to depth
 * (jansson escapes a newline inside a string: each one in txt is its own). */
static void
put_value(const char *txt, int depth)
{
	for (const char *p = txt; *p != '\0'; p++) {
		putchar(*p);
		if (*p == '\n')
			printf("%*s", 2 * depth, "");
	}
}

/* The separator before c's next element, and its key in an object. */
static void
next(struct jc *c, const char *key)
{
	if (c->n++ > 0)
		putchar(',');
	indent(c->depth + 1);
	if (key != NULL)
		printf("\"%s\": ", key); /* the keys are this file's constants */
}

/* An element of c; one jansson could not make (NULL: a text that is not
 * UTF-8) is left out, as json_array_append_new did. One it cannot dump
 * (out of memory) is left out and sets *c->lost. */
static void
elem(struct jc *c, const char *key, json_t *v)
{
	if (v == NULL)
		return;
	char *txt = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	json_decref(v);
	if (txt == NULL) {
		*c->lost = 1;
		return;
	}
	next(c, key);
	put_value(txt, c->depth + 1);
	cli_json_free(txt); /* jansson's: the CLI's allocator wipes (jwipe.c) */
}

/* Opens a container inside c (an array when key names a member of c's). */
static struct jc
open_in(struct jc *c, const char *key, char bracket)
{
	next(c, key);
	putchar(bracket);
	return (struct jc){ .depth = c->depth + 1, .lost = c->lost };
}

static void
close_c(const struct jc *c, char bracket)
{
	if (c->n > 0)
		indent(c->depth);
	putchar(bracket);
}

/* A change record (not a key change): what it changes and to what. */
static json_t *
card_change_json(const struct js_show *s, const struct jh_rec *in, const char *uid, const char *aid,
    const char *t, const struct jh_rec *out)
{
	char tgt[2 * DFI_J_TARGET_MAX + 1];
	size_t tl;
	const uint8_t *target = jh_bytes(&s->st, in->text, 0, &tl);
	cli_hexs(target, tl, tgt, sizeof(tgt));
	const char *station = jh_text(&s->st, in->text);
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "intent_seq",
	    (json_int_t)in->seq, "time", t, "uid", uid, "aid", aid, "what", jh_text2(&s->st, in->text),
	    "target", tgt, "station", cli_json_text(station), "outcome", js_outcome_name(out));
	cli_json_text_hex(j, "station", station);
	return j;
}

static json_t *
key_change_json(const struct js_show *s, const struct jh_rec *in, const char *uid, const char *aid,
    const char *t, const struct jh_rec *out)
{
	char oid[2 * DFI_J_BLOB_MAX + 1], div[2 * DFI_J_BLOB_MAX + 1];
	size_t ol, dl, gl;
	const uint8_t *o = jh_bytes(&s->st, in->text, 0, &ol), *d = jh_bytes(&s->st, in->text, 1, &dl);
	const uint8_t *g = jh_bytes(&s->st, in->text, 2, &gl);
	cli_hexs(o, ol, oid, sizeof(oid));
	cli_hexs(d, dl, div, sizeof(div));
	const char *label = jh_text2(&s->st, in->text), *station = jh_text(&s->st, in->text);
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:i, s:o, s:s, s:I, s:s, s:o, s:s}",
	    "intent_seq", (json_int_t)in->seq, "time", t, "uid", uid, "aid", aid, "keyno",
	    (int)in->u.in.keyno, "old_version", (int)in->u.in.old_version, "new_version",
	    (int)in->u.in.new_version, "key_label", cli_json_text(label), "key_objid", oid,
	    "key_gen", (json_int_t)in->u.in.key_gen, "div_input", div, "station", cli_json_text(station),
	    "outcome", js_outcome_name(out));
	cli_json_text_hex(j, "key_label", label);
	cli_json_text_hex(j, "station", station);
	if (j != NULL && gl == sizeof(uint32_t)) {
		uint32_t old;
		memcpy(&old, g, sizeof(old));
		json_object_set_new(j, "old_key_gen", json_integer((json_int_t)old));
	}
	return j;
}

static json_t *
change_json(const struct js_show *s, const struct js_change *c)
{
	const struct jh_rec *in = js_in(s, c), *out = js_out(s, c);
	char uid[2 * DFI_J_UID_MAX + 1], aid[8], t[32];
	cli_hexs(in->u.in.uid, in->u.in.uid_len, uid, sizeof(uid));
	snprintf(aid, sizeof(aid), DFI_AID_FMT, DFI_AID_ARGS(in->u.in.aid));
	cli_utc_time(in->time, 'T', t, sizeof(t));
	json_t *o = in->type == DFI_JREC_CHANGE ? card_change_json(s, in, uid, aid, t, out) :
	    key_change_json(s, in, uid, aid, t, out);
	if (o != NULL && out != NULL) {
		json_object_set_new(o, "outcome_seq", json_integer((json_int_t)out->seq));
		if (out->type == DFI_JREC_ABORT) {
			json_object_set_new(o, "reason", cli_json_text(jh_text2(&s->st, out->text)));
			cli_json_text_hex(o, "reason", jh_text2(&s->st, out->text));
		}
		if (out->type == DFI_JREC_RESOLVE && out->u.out.observed >= 0)
			json_object_set_new(o, "observed_version", json_integer(out->u.out.observed));
	}
	return o;
}

/* "cards": each card's object, made when its last change is read. */
static void
cards_json(const struct js_show *s, struct jc *root)
{
	struct jc cards = open_in(root, "cards", '[');
	json_t *card = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct jh_rec *in = js_in(s, &s->v[i]);
		if (!js_wanted(s, in))
			continue;
		if (card == NULL || jh_uid_cmp(js_in(s, &s->v[i - 1]), in) != 0) {
			char u[2 * DFI_J_UID_MAX + 1];
			cli_hexs(in->u.in.uid, in->u.in.uid_len, u, sizeof(u));
			elem(&cards, NULL, card);
			card = json_pack("{s:s, s:[]}", "uid", u, "changes");
		}
		json_array_append_new(json_object_get(card, "changes"), change_json(s, &s->v[i]));
	}
	elem(&cards, NULL, card);
	close_c(&cards, ']');
}

static json_t *
recovery_json(const struct js_show *s, const struct jh_recovery *r)
{
	char sha[65], t[32];
	cli_hexs(r->q_sha256, 32, sha, sizeof(sha));
	cli_utc_time(r->time, 'T', t, sizeof(t));
	const char *file = jh_text2(&s->st, r->text), *station = jh_text(&s->st, r->text);
	json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:I, s:s, s:o, s:o}", "seq", (json_int_t)r->seq, "time",
	    t, "quarantined_lines", (json_int_t)r->q_lines, "quarantined_bytes",
	    (json_int_t)r->q_bytes, "quarantined_intents", (json_int_t)r->q_intents, "sha256", sha,
	    "file", cli_json_text(file), "station", cli_json_text(station));
	cli_json_text_hex(j, "file", file);
	cli_json_text_hex(j, "station", station);
	return j;
}

/* Refusals or authorizations (t) of the --uid card, in journal order. */
static void
events_json(const struct js_show *s, struct jc *root, const char *key, dfi_jrec_type t)
{
	struct jc a = open_in(root, key, '[');
	char u[2 * DFI_J_UID_MAX + 1], tm[32];
	const struct jh_rec *r;
	for (size_t i = 0; (r = js_next_event(s, t, &i, u, tm)) != NULL;) {
		const char *reason = jh_text2(&s->st, r->text), *station = jh_text(&s->st, r->text);
		json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o}", "seq", (json_int_t)r->seq, "time", tm,
		    "uid", u, "reason", cli_json_text(reason), "station", cli_json_text(station));
		cli_json_text_hex(o, "reason", reason);
		cli_json_text_hex(o, "station", station);
		if (o != NULL && t == DFI_JREC_REFUSAL) {
			json_object_set_new(o, "cause", json_string(dfi_jcause_name(r->u.ev.cause)));
			json_object_set_new(o, "tap", json_integer((json_int_t)r->u.ev.tap));
		}
		elem(&a, NULL, o);
	}
	close_c(&a, ']');
}

int
js_write_json(const struct js_show *s, const struct dfi_jverify_result *res, uint64_t problems)
{
	int lost = 0;
	struct jc root = { .lost = &lost };
	putchar('{');
	elem(&root, "records", json_integer((json_int_t)res->records));
	elem(&root, "covered", json_integer((json_int_t)res->covered));
	elem(&root, "problems", json_integer((json_int_t)problems));
	elem(&root, "signatures_checked", json_false());
	cards_json(s, &root);
	struct jc unres = open_in(&root, "unresolved", '[');
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].out == JS_NONE && js_wanted(s, js_in(s, &s->v[i])))
			elem(&unres, NULL, change_json(s, &s->v[i]));
	close_c(&unres, ']');
	struct jc recs = open_in(&root, "recoveries", '[');
	for (size_t i = 0; i < s->st.nrcv; i++)
		elem(&recs, NULL, recovery_json(s, &s->st.rcv[i]));
	close_c(&recs, ']');
	events_json(s, &root, "refusals", DFI_JREC_REFUSAL);
	events_json(s, &root, "authorizations", DFI_JREC_AUTHORIZATION);
	close_c(&root, '}');
	putchar('\n');
	return lost ? -1 : 0;
}
