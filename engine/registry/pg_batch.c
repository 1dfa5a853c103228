/* The records a station tells the registry in one call, as PostgreSQL
 * array literals: one text array per column of journaled() and its
 * variants (schema/006_change_records.sql). Split from pg_backend.c, which
 * sends them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "dfissue/util.h"
#include "pg_batch.h"
#include "pg_int.h"

static int
arr_put(struct arr *a, const char *s, size_t n)
{
	/* n is a journal line's length at most: no overflow */
	char *p = dfi_grow(a->p, &a->cap, a->len + n + 4, 256, 1);
	if (p == NULL)
		return -1;
	a->p = p;
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
	return 0;
}

/* Appends one element, quoted (array literal syntax: " and \ escaped), or
 * NULL when s is NULL. */
static int
arr_add(struct arr *a, const char *s)
{
	if (arr_put(a, a->n++ == 0 ? "{" : ",", 1) != 0)
		return -1;
	if (s == NULL)
		return arr_put(a, "NULL", 4);
	if (arr_put(a, "\"", 1) != 0)
		return -1;
	for (const char *c = s; *c; c++)
		if ((*c == '"' || *c == '\\') ? arr_put(a, "\\", 1) != 0 || arr_put(a, c, 1) != 0 : arr_put(a, c, 1) != 0)
			return -1;
	return arr_put(a, "\"", 1);
}

static int
arr_addu(struct arr *a, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	return arr_add(a, b);
}

const char *
pgb_arr_end(struct arr *a)
{
	if (a->n == 0)
		return arr_put(a, "{", 1) != 0 || arr_put(a, "}", 1) != 0 ? NULL : a->p;
	return arr_put(a, "}", 1) != 0 ? NULL : a->p;
}

void
pgb_clear(struct batch *b)
{
	for (int i = 0; i < A_N; i++) {
		free(b->a[i].p);
		memset(&b->a[i], 0, sizeof(b->a[i]));
	}
	b->n = 0;
	b->intents = 0;
}

void
pgb_free(struct batch *b)
{
	if (b != NULL) {
		pgb_clear(b);
		free(b);
	}
}

/* Appends src's records to dst's (arrays of the same columns). */
int
pgb_merge(struct batch *dst, const struct batch *src)
{
	for (int i = 0; i < A_N && src->n > 0; i++) {
		const struct arr *a = &src->a[i];
		struct arr *d = &dst->a[i];
		/* a->p is "{x,y,...": its elements after the brace */
		if (arr_put(d, d->n == 0 ? "{" : ",", 1) != 0 || arr_put(d, a->p + 1, a->len - 1) != 0)
			return -1;
		d->n += a->n;
	}
	dst->n += src->n;
	dst->intents += src->intents;
	return 0;
}

/* pgb_arr_end closed the arrays: reopens them for more elements. */
void
pgb_reopen(struct batch *b)
{
	for (int i = 0; i < A_N; i++)
		if (b->a[i].n > 0 && b->a[i].len > 0 && b->a[i].p[b->a[i].len - 1] == '}')
			b->a[i].p[--b->a[i].len] = '\0';
}

int
pgb_is_card_record(dfi_jrec_type t)
{
	return t == DFI_JREC_INTENT || t == DFI_JREC_COMMIT || t == DFI_JREC_ABORT || t == DFI_JREC_RESOLVE ||
	    t == DFI_JREC_REFUSAL || t == DFI_JREC_AUTHORIZATION || t == DFI_JREC_CHANGE;
}

int
pgb_is_outcome(dfi_jrec_type t)
{
	return t == DFI_JREC_COMMIT || t == DFI_JREC_ABORT || t == DFI_JREC_RESOLVE;
}

/* An intent (key or change), a refusal or an authorization names its card;
 * an outcome names its intent. */
int
pgb_names_uid(dfi_jrec_type t)
{
	return t == DFI_JREC_INTENT || t == DFI_JREC_CHANGE || t == DFI_JREC_REFUSAL || t == DFI_JREC_AUTHORIZATION;
}

static int
arr_addu_if(struct arr *a, int on, uint64_t v)
{
	return on ? arr_addu(a, v) : arr_add(a, NULL);
}

/* Adds record r (parsed from line) to the batch. The UID of an outcome is
 * its intent's: the registry knows it, the batch sends an empty one. */
int
pgb_add(struct batch *b, const dfi_jrec *r, const char *line)
{
	char uid[2 * DFI_J_UID_MAX + 3] = "\\x", prof[2 * DFI_J_PROFILE_LEN + 3] = "";
	if (pgb_names_uid(r->type))
		(void)dfi_hex_encode(r->key.uid, r->key.uid_len, uid + 2, sizeof(uid) - 2);
	int in = r->type == DFI_JREC_INTENT, ch = r->type == DFI_JREC_CHANGE, out = pgb_is_outcome(r->type);
	if (in && r->has_profile)
		pg_bytea_hex(r->profile, DFI_J_PROFILE_LEN, prof);
	const char *match = r->type != DFI_JREC_RESOLVE ? NULL : r->matched == DFI_JMATCH_NEW ? "new" :
	    r->matched == DFI_JMATCH_OLD ? "old" : "none";
	int bad = arr_addu(&b->a[A_SEQ], r->seq) | arr_add(&b->a[A_TYPE], dfi_jrec_type_name(r->type)) |
	    arr_add(&b->a[A_UID], uid[2] ? uid : NULL) | arr_addu_if(&b->a[A_AID], in || ch, r->key.aid) |
	    arr_addu_if(&b->a[A_KEYNO], in, r->key.keyno) | arr_addu_if(&b->a[A_OLD], in, r->old_version) |
	    arr_addu_if(&b->a[A_NEW], in, r->new_version) | arr_addu_if(&b->a[A_GEN], in, r->key_gen) |
	    arr_addu_if(&b->a[A_INTENT], out, r->intent) | arr_add(&b->a[A_MATCH], match) |
	    arr_add(&b->a[A_WHAT], ch ? r->what : NULL) | arr_add(&b->a[A_PROFILE], prof[0] ? prof : NULL) |
	    arr_add(&b->a[A_LINE], line);
	if (bad)
		return -1;
	b->n++;
	b->intents += in || ch;
	return 0;
}
