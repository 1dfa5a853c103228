/*
 * FAULTP11_LIE (faultp11.c's header comment): the call was made and
 * succeeded; its answer is rewritten before the caller sees it. A lie
 * never writes past what the caller gave: an over-long answer is one that
 * *reports* more than the buffer, as a broken module or a remote-HSM
 * client would; what the caller then does with it is under test.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lie.h"

/* Under mu: the armed function, the call it lies at (0: every call). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char lie_fn[64];
static unsigned long lie_nth, lie_seen;
static enum lie_kind lie_kind;
static atomic_int lie_armed;

/* 2^40 where an unsigned long holds it (Linux LP64), else its largest. */
#define LIE_HUGE_VAL ((unsigned long)-1 > 0xffffffffUL ? (unsigned long)1 << 20 << 20 : 0xffffffffUL)

/* NULs, control characters (ESC [2J clears a terminal), printf
 * conversions and bytes above 0x7e: what a careless copy would print. */
static const unsigned char pattern[] = { 0x1b, '[', '2', 'J', '%', 'n', '%', 's', 0x00, 0x07,
	0x7f, 0xff, 0x80, '\n', 0x01, 0xc3 };

static const struct {
	const char *name;
	enum lie_kind kind;
} kinds[] = {
	{ "long", LIE_LONG }, { "huge", LIE_HUGE }, { "short", LIE_SHORT },
	{ "unavail", LIE_UNAVAIL }, { "garbage", LIE_GARBAGE }, { "vlen0", LIE_VLEN0 },
	{ "vlen40", LIE_VLEN40 }, { "grew", LIE_GREW },
};

void
lie_arm_from_env(void)
{
	const char *v = getenv("FAULTP11_LIE");
	const char *c1 = v != NULL ? strchr(v, ':') : NULL;
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL || c1 - v >= (long)sizeof(lie_fn)) {
		if (v != NULL)
			fprintf(stderr, "faultp11: FAULTP11_LIE=%s: want FN:N:KIND\n", v);
		return;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(c2 + 1, kinds[i].name) == 0)
			lie_kind = kinds[i].kind;
	if (lie_kind == LIE_NONE) {
		fprintf(stderr, "faultp11: FAULTP11_LIE: unknown kind '%s'\n", c2 + 1);
		return;
	}
	snprintf(lie_fn, sizeof(lie_fn), "%.*s", (int)(c1 - v), v);
	lie_nth = strtoul(c1 + 1, NULL, 10);
	atomic_store(&lie_armed, 1);
}

/* Which kinds a call can tell (1 << kind). */
#define CAN_TEXT (1u << LIE_GARBAGE)
#define CAN_LEN ((1u << LIE_LONG) | (1u << LIE_HUGE) | (1u << LIE_SHORT) | (1u << LIE_UNAVAIL) | \
	(1u << LIE_GARBAGE))
#define CAN_ATTR (CAN_LEN | (1u << LIE_VLEN0) | (1u << LIE_VLEN40))
#define CAN_LIST (CAN_LEN | (1u << LIE_GREW))

/* The kind to tell for this call of fn (counted when the armed kind is in
 * can), LIE_NONE mostly. */
static enum lie_kind
lie_due(const char *fn, unsigned can)
{
	if (!atomic_load(&lie_armed) || !(can & (1u << lie_kind)))
		return LIE_NONE;
	pthread_mutex_lock(&mu);
	int due = strcmp(fn, lie_fn) == 0 && (++lie_seen == lie_nth || lie_nth == 0);
	unsigned long seen = lie_seen;
	pthread_mutex_unlock(&mu);
	if (!due)
		return LIE_NONE;
	const char *name = "?";
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == lie_kind)
			name = kinds[i].name;
	/* The tests count these lines: each is one lie told. */
	fprintf(stderr, "faultp11: lie %s#%lu %s\n", fn, seen, name);
	return lie_kind;
}

static void
fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern[i % sizeof(pattern)];
}

/* A length the caller reads back: how each kind rewrites it. */
static unsigned long
lie_len(enum lie_kind k, int have_buf, unsigned long cap, unsigned long len)
{
	switch (k) {
	case LIE_LONG: return have_buf ? cap + 64 : len + 64;
	case LIE_HUGE: return LIE_HUGE_VAL;
	case LIE_SHORT: return len > 0 ? len - 1 : 0;
	case LIE_UNAVAIL: return CK_UNAVAILABLE_INFORMATION;
	default: return len;
	}
}

/* C_GetAttributeValue answers per attribute: the lie applies to the
 * answers PKCS#11 lets a caller use (the call succeeded, or it reports
 * attributes it does not have, may not reveal, or that did not fit). */
void
lie_attrs(const char *fn, ck_rv_t rv, struct ck_attribute *t, unsigned long n,
    const unsigned long *caps)
{
	int answered = rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL;
	enum lie_kind k = answered ? lie_due(fn, CAN_ATTR) : LIE_NONE;
	for (unsigned long i = 0; i < n && i < LIE_MAX_ATTRS; i++) {
		int have = t[i].value_len != CK_UNAVAILABLE_INFORMATION;
		if (k == LIE_GARBAGE && have && t[i].value != NULL)
			fill(t[i].value, t[i].value_len);
		else if ((k == LIE_VLEN0 || k == LIE_VLEN40) && t[i].type == CKA_VALUE_LEN && have &&
		    t[i].value != NULL && t[i].value_len == sizeof(unsigned long)) {
			unsigned long v = k == LIE_VLEN0 ? 0 : LIE_HUGE_VAL;
			memcpy(t[i].value, &v, sizeof(v));
		} else if (k == LIE_UNAVAIL || (have && (k == LIE_LONG || k == LIE_HUGE || k == LIE_SHORT)))
			t[i].value_len = lie_len(k, t[i].value != NULL, caps[i], t[i].value_len);
	}
}

void
lie_bytes(const char *fn, ck_rv_t rv, unsigned char *buf, unsigned long cap, unsigned long *len)
{
	enum lie_kind k = rv == CKR_OK && len != NULL ? lie_due(fn, CAN_LEN) : LIE_NONE;
	if (k == LIE_NONE)
		return;
	if (k == LIE_GARBAGE) {
		if (buf != NULL)
			fill(buf, *len < cap ? *len : cap);
		return;
	}
	*len = lie_len(k, buf != NULL, cap, *len);
}

ck_rv_t
lie_list(const char *fn, ck_rv_t rv, void *items, size_t item, unsigned long cap,
    unsigned long *count)
{
	enum lie_kind k = rv == CKR_OK && count != NULL ? lie_due(fn, CAN_LIST) : LIE_NONE;
	if (k == LIE_NONE)
		return rv;
	if (k == LIE_GARBAGE) {
		if (items != NULL)
			fill(items, (*count < cap ? *count : cap) * item);
		return rv;
	}
	/* No lie, strictly: what PKCS#11 says a module answers when an entry
	 * appeared since the caller asked for the count (a token plugged in
	 * between C_GetSlotList's two calls). */
	if (k == LIE_GREW) {
		if (items != NULL) {
			*count = cap + 1;
			return CKR_BUFFER_TOO_SMALL;
		}
		return rv;
	}
	*count = lie_len(k, items != NULL, cap, *count);
	return rv;
}

void
lie_fields(const char *fn, ck_rv_t rv, const struct text_field *f, size_t nf)
{
	enum lie_kind k = rv == CKR_OK ? lie_due(fn, CAN_TEXT) : LIE_NONE;
	for (size_t i = 0; k == LIE_GARBAGE && i < nf; i++)
		fill(f[i].p, f[i].n);
}
