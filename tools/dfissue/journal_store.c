/* What journal show keeps of a journal (journal_store.h). */
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "journal_store.h"

/* Appends len bytes to the arena; 0, or -1 with s->oom set. */
static int
put(struct jh_store *s, const void *p, size_t len)
{
	if (len > SIZE_MAX - s->used) {
		s->oom = 1;
		return -1;
	}
	char *a = dfi_grow(s->arena, &s->capa, s->used + len, 4096, 1);
	if (a == NULL) {
		s->oom = 1;
		return -1;
	}
	s->arena = a;
	memcpy(a + s->used, p, len);
	s->used += len;
	return 0;
}

/* A text field of cap bytes (its NUL included), NUL-terminated in the
 * arena even if the field was not. */
static int
put_str(struct jh_store *s, const char *str, size_t cap)
{
	size_t len = strnlen(str, cap - 1);
	return put(s, str, len) == 0 && put(s, "", 1) == 0 ? 0 : -1;
}

/* A length byte, then the bytes: len is at most cap (a field of cap bytes). */
static int
put_bytes(struct jh_store *s, const void *p, size_t len, size_t cap)
{
	uint8_t l = (uint8_t)(len < cap ? len : cap); /* cap <= 255: DFI_J_TARGET_MAX, DFI_J_BLOB_MAX */
	return put(s, &l, 1) == 0 && put(s, p, l) == 0 ? 0 : -1;
}

/* An intent's texts after its station: the key label; in a full store its
 * key id, diversification input and old generation (jh_bytes 0, 1, 2). */
static int
put_intent(struct jh_store *s, const dfi_jrec *r)
{
	if (put_str(s, r->key_label, sizeof(r->key_label)) != 0)
		return -1;
	if (!s->full)
		return 0;
	size_t gl = r->has_old_gen ? sizeof(r->old_key_gen) : 0;
	return put_bytes(s, r->key_objid, r->key_objid_len, sizeof(r->key_objid)) == 0 &&
	    put_bytes(s, r->div_input, r->div_input_len, sizeof(r->div_input)) == 0 &&
	    put_bytes(s, &r->old_key_gen, gl, gl) == 0 ? 0 : -1;
}

static void
keep_recovery(struct jh_store *s, const dfi_jrec *r)
{
	struct jh_recovery q = { .seq = r->seq, .q_lines = r->q_lines, .q_bytes = r->q_bytes,
		.q_intents = r->q_intents, .time = r->time, .text = s->used };
	memcpy(q.q_sha256, r->q_sha256, sizeof(q.q_sha256));
	struct jh_recovery *v = dfi_grow(s->rcv, &s->caprcv, s->nrcv + 1, 8, sizeof(*v));
	if (v == NULL) {
		s->oom = 1;
		return;
	}
	s->rcv = v;
	if (put_str(s, r->station, sizeof(r->station)) == 0 &&
	    put_str(s, r->q_file, sizeof(r->q_file)) == 0)
		s->rcv[s->nrcv++] = q;
}

/* The texts of a timeline record after its station: see jh_text2. */
static int
put_texts(struct jh_store *s, const dfi_jrec *r)
{
	switch (r->type) {
	case DFI_JREC_INTENT: return put_intent(s, r);
	case DFI_JREC_CHANGE:
		return put_str(s, r->what, sizeof(r->what)) == 0 &&
		    put_bytes(s, r->target, r->target_len, sizeof(r->target)) == 0 ? 0 : -1;
	case DFI_JREC_ABORT: case DFI_JREC_REFUSAL: case DFI_JREC_AUTHORIZATION:
		return put_str(s, r->reason, sizeof(r->reason));
	default: return 0;
	}
}

void
jh_store_record(struct jh_store *s, const dfi_jrec *r)
{
	s->records++;
	switch (r->type) {
	case DFI_JREC_GENESIS:
		if (s->origin[0] == '\0') {
			size_t len = strnlen(r->origin, sizeof(r->origin) - 1);
			memcpy(s->origin, r->origin, len);
			s->origin[len] = '\0';
		}
		return;
	case DFI_JREC_RECOVERY: keep_recovery(s, r); return;
	case DFI_JREC_INTENT: case DFI_JREC_CHANGE: case DFI_JREC_COMMIT: case DFI_JREC_ABORT:
	case DFI_JREC_RESOLVE: break;
	case DFI_JREC_REFUSAL: case DFI_JREC_AUTHORIZATION:
		if (s->full)
			break;
		return; /* not on the page */
	default: return;
	}
	struct jh_rec k;
	memset(&k, 0, sizeof(k));
	k.seq = r->seq;
	k.time = r->time;
	k.type = r->type;
	k.text = s->used;
	if (r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE) {
		k.u.in.aid = r->key.aid;
		k.u.in.key_gen = r->key_gen;
		k.u.in.keyno = r->key.keyno;
		k.u.in.old_version = r->old_version;
		k.u.in.new_version = r->new_version;
		k.u.in.uid_len = r->key.uid_len < DFI_J_UID_MAX ? r->key.uid_len : DFI_J_UID_MAX;
		memcpy(k.u.in.uid, r->key.uid, k.u.in.uid_len);
	} else if (r->type == DFI_JREC_REFUSAL || r->type == DFI_JREC_AUTHORIZATION) {
		k.u.ev.tap = r->tap;
		k.u.ev.cause = r->cause;
		k.u.ev.uid_len = r->key.uid_len < DFI_J_UID_MAX ? r->key.uid_len : DFI_J_UID_MAX;
		memcpy(k.u.ev.uid, r->key.uid, k.u.ev.uid_len);
	} else {
		k.u.out.intent = r->intent;
		k.u.out.observed = r->observed_version;
		k.u.out.matched = r->matched;
	}
	struct jh_rec *v = dfi_grow(s->rec, &s->cap, s->n + 1, 64, sizeof(*v));
	if (v == NULL) {
		s->oom = 1;
		return;
	}
	s->rec = v;
	if (put_str(s, r->station, sizeof(r->station)) == 0 && put_texts(s, r) == 0)
		s->rec[s->n++] = k;
}

void
jh_store_finding(struct jh_store *s, uint64_t line, const char *msg)
{
	struct jh_finding *v = dfi_grow(s->f, &s->capf, s->nf + 1, 64, sizeof(*v));
	if (v == NULL) {
		s->oom = 1;
		return;
	}
	s->f = v;
	struct jh_finding f = { .line = line, .text = s->used };
	if (put_str(s, msg, JH_FINDING_MAX + 1) == 0)
		s->f[s->nf++] = f;
}

void
jh_store_free(struct jh_store *s)
{
	free(s->rec);
	free(s->rcv);
	free(s->f);
	free(s->arena);
	memset(s, 0, sizeof(*s));
}

const char *
jh_text(const struct jh_store *s, uint64_t text)
{
	return s->arena + text;
}

const char *
jh_text2(const struct jh_store *s, uint64_t text)
{
	const char *first = jh_text(s, text);
	return first + strlen(first) + 1;
}

const uint8_t *
jh_bytes(const struct jh_store *s, uint64_t text, unsigned nth, size_t *len)
{
	const char *second = jh_text2(s, text);
	const uint8_t *p = (const uint8_t *)second + strlen(second) + 1;
	for (; nth > 0; nth--)
		p += 1 + p[0];
	*len = p[0];
	return p + 1;
}

int
jh_uid_cmp(const struct jh_rec *x, const struct jh_rec *y)
{
	size_t xl, yl;
	const uint8_t *xu = jh_uid(x, &xl), *yu = jh_uid(y, &yl);
	if (xl != yl)
		return xl < yl ? -1 : 1;
	return memcmp(xu, yu, xl);
}

const uint8_t *
jh_uid(const struct jh_rec *r, size_t *len)
{
	if (r->type == DFI_JREC_REFUSAL || r->type == DFI_JREC_AUTHORIZATION) {
		*len = r->u.ev.uid_len;
		return r->u.ev.uid;
	}
	*len = r->u.in.uid_len;
	return r->u.in.uid;
}
