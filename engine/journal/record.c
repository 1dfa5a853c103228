/* Record grammar: one strict-ASCII line per record, fields in a fixed order.
 * Every record has exactly one accepted spelling (a flipped bit cannot hide
 * in an alternative encoding of the same value): the parser takes each
 * field only in the spelling dfi_jrec_format writes (decimals without a
 * leading zero, upper-case hex, a byte escaped only when it must be, a date
 * that exists, fields in order, nothing after the last). It proves that as
 * it reads instead of formatting the record again and comparing, which was
 * a quarter of a big journal's parse time; tests/fuzz/fuzz_journal.c
 * formats every line the parser accepts and traps unless the bytes come
 * back the same, so the two cannot drift apart. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dfissue/journal.h"
#include "journal_int.h"
#include "core/nelem.h"
#include "core/hexdigit.h"

/* ---- formatting --------------------------------------------------------- */

struct out {
	char *p;
	size_t cap, len;
	int err;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->err || n > o->cap - o->len || o->cap - o->len - n < 1) {
		o->err = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

/* A decimal by hand, not snprintf: a big journal's verify re-formats a
 * million records, and printf's machinery was a sixth of that. */
static size_t
dec(char *end, uint64_t v)
{
	char *p = end;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return (size_t)(end - p);
}

static void
putu(struct out *o, const char *key, uint64_t v)
{
	char b[24];
	puts_(o, " ");
	puts_(o, key);
	puts_(o, "=");
	size_t n = dec(b + sizeof(b), v);
	put(o, b + sizeof(b) - n, n);
}

static void
puthex(struct out *o, const char *key, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	puts_(o, " ");
	puts_(o, key);
	puts_(o, "=");
	if (n == 0) {
		puts_(o, "-");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c[2] = { hx[p[i] >> 4], hx[p[i] & 15] };
		put(o, c, 2);
	}
}

/* Printable ASCII except space and '%' stands for itself; every other byte
 * is %XX (upper-case hex). */
static int
raw_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7F && c != '%';
}

static void
putstr(struct out *o, const char *key, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t n = strnlen(s, DFI_J_STR_MAX);
	if (n == 0 || n == DFI_J_STR_MAX) {
		o->err = 1;
		return;
	}
	puts_(o, " ");
	puts_(o, key);
	puts_(o, "=");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (raw_ok(c)) {
			put(o, (const char *)&c, 1);
		} else {
			char e[3] = { '%', hx[c >> 4], hx[c & 15] };
			put(o, e, 3);
		}
	}
}

/* Days since 1970-01-01 of a proleptic Gregorian date and back (the
 * civil-calendar arithmetic of eras of 400 years, 146097 days each),
 * instead of timegm and gmtime_r, which take the time-zone lock and
 * normalize through struct tm on every record. m is 1..12; an out-of-range
 * day (Feb 30) counts on into the next month, as timegm does. */
static int64_t
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

static void
puttime(struct out *o, int64_t t)
{
	if (t < 0 || t > 253402300799LL) {
		o->err = 1;
		return;
	}
	int y, m, d, sec = (int)(t % 86400);
	civil_from_days(t / 86400, &y, &m, &d);
	char b[] = " time=YYYY-MM-DDThh:mm:ssZ";
	put2(b + 6, y / 100);
	put2(b + 8, y % 100);
	put2(b + 11, m);
	put2(b + 14, d);
	put2(b + 17, sec / 3600);
	put2(b + 20, sec / 60 % 60);
	put2(b + 23, sec % 60);
	put(o, b, sizeof(b) - 1);
}

dfi_err
dfi_jrec_outcome(dfi_jrec *r, dfi_jrec_type t, uint64_t intent, const char *reason, int observed,
    dfi_jmatch m)
{
	if (r == NULL || (t != DFI_JREC_COMMIT && t != DFI_JREC_ABORT && t != DFI_JREC_RESOLVE))
		return DFI_E_INVALID_ARG;
	if (t == DFI_JREC_ABORT && (reason == NULL || reason[0] == '\0'))
		return DFI_E_INVALID_ARG;
	if (reason != NULL && strlen(reason) >= sizeof(r->reason))
		return DFI_E_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	r->type = t;
	r->intent = intent;
	r->observed_version = observed;
	r->matched = m;
	if (reason != NULL)
		memcpy(r->reason, reason, strlen(reason) + 1);
	return DFI_OK;
}

int
dfi_jrec_what_valid(const char *what)
{
	if (what == NULL)
		return 0;
	size_t n = strnlen(what, DFI_J_WHAT_MAX);
	if (n == 0 || n == DFI_J_WHAT_MAX || what[0] < 'a' || what[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = what[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(":=._-", c) != NULL))
			return 0;
	}
	return 1;
}

dfi_err
dfi_jrec_change(dfi_jrec *r, const uint8_t *uid, size_t uid_len, uint32_t aid, const char *what,
    const uint8_t *target, size_t target_len)
{
	if (r == NULL || uid == NULL || uid_len == 0 || uid_len > DFI_J_UID_MAX || aid > 0xFFFFFF ||
	    !dfi_jrec_what_valid(what) || target_len > DFI_J_TARGET_MAX ||
	    (target == NULL && target_len > 0))
		return DFI_E_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	r->type = DFI_JREC_CHANGE;
	memcpy(r->key.uid, uid, uid_len);
	r->key.uid_len = (uint8_t)uid_len;
	r->key.aid = aid;
	memcpy(r->what, what, strlen(what) + 1);
	if (target_len > 0)
		memcpy(r->target, target, target_len);
	r->target_len = target_len;
	r->observed_version = -1;
	return DFI_OK;
}

/* The words of the record grammar, indexed by their enum's value (0 is
 * none of them): the formatter writes them and the parser reads them from
 * these same tables. */
static const char *const type_words[DFI_JREC_LAST + 1] = { NULL, "genesis", "intent", "commit",
	"abort", "resolve", "recovery", "refusal", "authorization", "change" };
static const char *const cause_words[] = { NULL, "issued", "transport-key", "originality",
	"conflict" };
static const char *const alg_words[] = { NULL, "ed25519", "ecdsa-p256" };
static const char *const match_words[] = { NULL, "old", "new", "none" };

static const char *
word_of(const char *const *words, size_t n, int v)
{
	return v > 0 && (size_t)v < n ? words[v] : NULL;
}

/* The record's grammar needs to tell an unknown value (NULL) from a word;
 * the public names give "?" for it (error.h, "NULL and unknown values"). */
#define TYPE_WORD(t) word_of(type_words, DFI_NELEM(type_words), (int)(t))
#define CAUSE_WORD(c) word_of(cause_words, DFI_NELEM(cause_words), (int)(c))

static const char *
known(const char *w)
{
	return w != NULL ? w : "?";
}

const char *
dfi_jrec_type_name(dfi_jrec_type t)
{
	return known(TYPE_WORD(t));
}

const char *
dfi_jcause_name(dfi_jcause c)
{
	return known(CAUSE_WORD(c));
}

dfi_err
dfi_jrec_card_event(dfi_jrec *r, dfi_jrec_type t, const uint8_t *uid, size_t uid_len,
    dfi_jcause cause, uint64_t tap, const char *reason)
{
	if (r == NULL || uid == NULL || uid_len == 0 || uid_len > DFI_J_UID_MAX ||
	    (t != DFI_JREC_REFUSAL && t != DFI_JREC_AUTHORIZATION) || reason == NULL ||
	    reason[0] == '\0' || strlen(reason) >= sizeof(r->reason) ||
	    (t == DFI_JREC_REFUSAL && CAUSE_WORD(cause) == NULL))
		return DFI_E_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	r->type = t;
	memcpy(r->key.uid, uid, uid_len);
	r->key.uid_len = (uint8_t)uid_len;
	memcpy(r->reason, reason, strlen(reason) + 1);
	if (t == DFI_JREC_REFUSAL) {
		r->cause = cause;
		r->tap = tap;
	}
	return DFI_OK;
}

static const char *
alg_name(dfi_sigalg a)
{
	return word_of(alg_words, DFI_NELEM(alg_words), (int)a);
}

static const char *
match_name(dfi_jmatch m)
{
	return word_of(match_words, DFI_NELEM(match_words), (int)m);
}

/* " uid=<hex> aid=<hex, command order>" of an intent or a change; -1 for
 * a UID of 0 or more than 10 bytes or an AID over 24 bits. */
static int
put_uid_aid(struct out *o, const dfi_jkey *k)
{
	if (k->uid_len == 0 || k->uid_len > DFI_J_UID_MAX || k->aid > 0xFFFFFF)
		return -1;
	puthex(o, "uid", k->uid, k->uid_len);
	uint8_t aid[3] = { (uint8_t)k->aid, (uint8_t)(k->aid >> 8), (uint8_t)(k->aid >> 16) };
	puthex(o, "aid", aid, 3);
	return 0;
}

dfi_err
dfi_jrec_format(const dfi_jrec *r, char *buf, size_t cap, size_t *len)
{
	if (r == NULL || buf == NULL || cap == 0)
		return DFI_E_INVALID_ARG;
	struct out o = { buf, cap, 0, 0 };
	buf[0] = '\0';
	const char *tn = TYPE_WORD(r->type);
	if (tn == NULL)
		return DFI_E_INVALID_ARG;
	char b[24];
	size_t n = dec(b + sizeof(b), r->seq);
	puts_(&o, "seq=");
	put(&o, b + sizeof(b) - n, n);
	puttime(&o, r->time);
	puts_(&o, " type=");
	puts_(&o, tn);
	switch (r->type) {
	case DFI_JREC_GENESIS: {
		const char *an = alg_name(r->alg);
		if (an == NULL)
			return DFI_E_INVALID_ARG;
		unsigned fmt = r->format != 0 ? r->format : DFI_JOURNAL_FORMAT;
		if (fmt > DFI_JOURNAL_FORMAT)
			return DFI_E_INVALID_ARG;
		putu(&o, "format", fmt);
		putstr(&o, "origin", r->origin);
		puts_(&o, " alg=");
		puts_(&o, an);
		uint8_t id[4] = { (uint8_t)(r->key_id >> 24), (uint8_t)(r->key_id >> 16),
			(uint8_t)(r->key_id >> 8), (uint8_t)r->key_id };
		puthex(&o, "key_id", id, 4);
		break;
	}
	case DFI_JREC_INTENT: {
		const dfi_jkey *k = &r->key;
		if (r->key_objid_len > DFI_J_BLOB_MAX || r->div_input_len > DFI_J_BLOB_MAX ||
		    put_uid_aid(&o, k) != 0)
			return DFI_E_INVALID_ARG;
		putu(&o, "keyno", k->keyno);
		putu(&o, "old_version", r->old_version);
		putu(&o, "new_version", r->new_version);
		putstr(&o, "key_label", r->key_label);
		puthex(&o, "key_objid", r->key_objid, r->key_objid_len);
		putu(&o, "key_gen", r->key_gen);
		puthex(&o, "div_input", r->div_input, r->div_input_len);
		if (r->has_old_gen)
			putu(&o, "old_key_gen", r->old_key_gen);
		if (r->has_profile)
			puthex(&o, "profile", r->profile, DFI_J_PROFILE_LEN);
		break;
	}
	case DFI_JREC_COMMIT:
		putu(&o, "intent", r->intent);
		break;
	case DFI_JREC_ABORT:
		putu(&o, "intent", r->intent);
		putstr(&o, "reason", r->reason);
		break;
	case DFI_JREC_RESOLVE: {
		const char *mn = match_name(r->matched);
		if (mn == NULL || r->observed_version < -1 || r->observed_version > 255)
			return DFI_E_INVALID_ARG;
		putu(&o, "intent", r->intent);
		if (r->observed_version < 0)
			puts_(&o, " observed_version=-");
		else
			putu(&o, "observed_version", (uint64_t)r->observed_version);
		puts_(&o, " matched=");
		puts_(&o, mn);
		break;
	}
	case DFI_JREC_RECOVERY:
		putu(&o, "quarantined_lines", r->q_lines);
		putu(&o, "quarantined_bytes", r->q_bytes);
		putu(&o, "quarantined_intents", r->q_intents);
		puthex(&o, "sha256", r->q_sha256, 32);
		putstr(&o, "file", r->q_file);
		break;
	case DFI_JREC_REFUSAL: {
		const char *cn = CAUSE_WORD(r->cause);
		if (r->key.uid_len == 0 || r->key.uid_len > DFI_J_UID_MAX || cn == NULL)
			return DFI_E_INVALID_ARG;
		puthex(&o, "uid", r->key.uid, r->key.uid_len);
		puts_(&o, " cause=");
		puts_(&o, cn);
		putu(&o, "tap", r->tap);
		putstr(&o, "reason", r->reason);
		break;
	}
	case DFI_JREC_AUTHORIZATION:
		if (r->key.uid_len == 0 || r->key.uid_len > DFI_J_UID_MAX)
			return DFI_E_INVALID_ARG;
		puthex(&o, "uid", r->key.uid, r->key.uid_len);
		putstr(&o, "reason", r->reason);
		break;
	case DFI_JREC_CHANGE:
		if (!dfi_jrec_what_valid(r->what) || r->target_len > DFI_J_TARGET_MAX ||
		    put_uid_aid(&o, &r->key) != 0)
			return DFI_E_INVALID_ARG;
		putstr(&o, "what", r->what);
		puthex(&o, "target", r->target, r->target_len);
		break;
	}
	putstr(&o, "station", r->station);
	if (o.err)
		return o.len + 1 >= cap ? DFI_E_BUFFER_TOO_SMALL : DFI_E_INVALID_ARG;
	if (o.len > DFI_J_LINE_MAX)
		return DFI_E_INVALID_ARG;
	if (len != NULL)
		*len = o.len;
	return DFI_OK;
}

/* ---- parsing ------------------------------------------------------------- */

struct in {
	const char *p, *end;
};

/* Takes the next " key=value" (the first field has no leading space) and
 * points *v at the value. */
static int
field(struct in *in, const char *key, int first, const char **v, size_t *vn)
{
	size_t kl = strlen(key);
	if (!first) {
		if (in->p >= in->end || *in->p != ' ')
			return -1;
		in->p++;
	}
	if ((size_t)(in->end - in->p) < kl + 1 || memcmp(in->p, key, kl) != 0 || in->p[kl] != '=')
		return -1;
	in->p += kl + 1;
	const char *s = in->p;
	while (in->p < in->end && *in->p != ' ')
		in->p++;
	*v = s;
	*vn = (size_t)(in->p - s);
	return *vn == 0 ? -1 : 0;
}

static int
getu(struct in *in, const char *key, int first, uint64_t max, uint64_t *out)
{
	const char *v;
	size_t n;
	if (field(in, key, first, &v, &n) != 0 || n > 20 || (n > 1 && v[0] == '0'))
		return -1; /* "007" is 7 spelled another way */
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

static int
hexval(char c)
{
	return c >= 'a' && c <= 'f' ? -1 : dfi_hex_digit(c); /* lower case is not canonical */
}

/* "-" is the empty blob when allow_empty. */
static int
gethex(struct in *in, const char *key, uint8_t *out, size_t cap, size_t *outlen, int allow_empty)
{
	const char *v;
	size_t n;
	if (field(in, key, 0, &v, &n) != 0)
		return -1;
	if (n == 1 && v[0] == '-') {
		*outlen = 0;
		return allow_empty ? 0 : -1;
	}
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int h = hexval(v[2 * i]), l = hexval(v[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	*outlen = n / 2;
	return 0;
}

static int
getstr(struct in *in, const char *key, char *out)
{
	const char *v;
	size_t n, o = 0;
	if (field(in, key, 0, &v, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			int h = hexval(v[i + 1]), l = hexval(v[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h << 4 | l);
			if (c == 0 || raw_ok(c))
				return -1; /* "%41" is "A" spelled another way */
			i += 2;
		} else if (!raw_ok(c)) {
			return -1;
		}
		if (o + 1 >= DFI_J_STR_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o == 0 ? -1 : 0;
}

static int
digits(const char *s, int n, int *out)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*out = x;
	return 0;
}

static int
gettime(struct in *in, int64_t *t)
{
	const char *v;
	size_t n;
	if (field(in, "time", 0, &v, &n) != 0 || n != 20)
		return -1;
	int Y, M, D, h, m, s;
	if (digits(v, 4, &Y) || v[4] != '-' || digits(v + 5, 2, &M) || v[7] != '-' ||
	    digits(v + 8, 2, &D) || v[10] != 'T' || digits(v + 11, 2, &h) || v[13] != ':' ||
	    digits(v + 14, 2, &m) || v[16] != ':' || digits(v + 17, 2, &s) || v[19] != 'Z')
		return -1;
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
	    h > 23 || m > 59 || s > 59)
		return -1; /* Feb 30 would count on to Mar 2, a date spelled another way */
	*t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + s;
	return 0;
}

/* One of words[1..nwords-1]; *idx is its index (its enum's value). */
static int
getword(struct in *in, const char *key, const char *const *words, size_t nwords, int *idx)
{
	const char *v;
	size_t n;
	if (field(in, key, 0, &v, &n) != 0)
		return -1;
	for (size_t i = 1; i < nwords; i++)
		if (strlen(words[i]) == n && memcmp(words[i], v, n) == 0) {
			*idx = (int)i;
			return 0;
		}
	return -1;
}

/* " uid=<hex> aid=<hex>" of an intent or a change. */
static int
get_uid_aid(struct in *in, dfi_jkey *k)
{
	size_t n;
	uint8_t aid[3];
	if (gethex(in, "uid", k->uid, DFI_J_UID_MAX, &n, 0))
		return -1;
	k->uid_len = (uint8_t)n;
	if (gethex(in, "aid", aid, 3, &n, 0) || n != 3)
		return -1;
	k->aid = (uint32_t)aid[0] | (uint32_t)aid[1] << 8 | (uint32_t)aid[2] << 16;
	return 0;
}

static int
parse_fields(struct in *in, dfi_jrec *r)
{
	uint64_t u;
	int w;
	if (getu(in, "seq", 1, UINT64_MAX, &r->seq) || gettime(in, &r->time) ||
	    getword(in, "type", type_words, DFI_NELEM(type_words), &w))
		return -1;
	r->type = (dfi_jrec_type)w;
	switch (r->type) {
	case DFI_JREC_GENESIS: {
		uint8_t id[4];
		size_t idn;
		if (getu(in, "format", 0, DFI_JOURNAL_FORMAT, &u) || u < 1 ||
		    getstr(in, "origin", r->origin) || getword(in, "alg", alg_words, DFI_NELEM(alg_words), &w) ||
		    gethex(in, "key_id", id, 4, &idn, 0) || idn != 4)
			return -1;
		r->format = (unsigned)u;
		r->alg = (dfi_sigalg)w;
		r->key_id = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
		break;
	}
	case DFI_JREC_INTENT: {
		if (get_uid_aid(in, &r->key) || getu(in, "keyno", 0, 255, &u))
			return -1;
		r->key.keyno = (uint8_t)u;
		if (getu(in, "old_version", 0, 255, &u))
			return -1;
		r->old_version = (uint8_t)u;
		if (getu(in, "new_version", 0, 255, &u))
			return -1;
		r->new_version = (uint8_t)u;
		if (getstr(in, "key_label", r->key_label) ||
		    gethex(in, "key_objid", r->key_objid, DFI_J_BLOB_MAX, &r->key_objid_len, 1) ||
		    getu(in, "key_gen", 0, UINT32_MAX, &u))
			return -1;
		r->key_gen = (uint32_t)u;
		if (gethex(in, "div_input", r->div_input, DFI_J_BLOB_MAX, &r->div_input_len, 1))
			return -1;
		/* Optional (rotation): absent in journals written before it. */
		struct in save = *in;
		if (getu(in, "old_key_gen", 0, UINT32_MAX, &u) == 0) {
			r->old_key_gen = (uint32_t)u;
			r->has_old_gen = 1;
		} else {
			*in = save;
		}
		/* Optional (profile digest): absent in journals written before it. */
		save = *in;
		size_t pn;
		if (gethex(in, "profile", r->profile, DFI_J_PROFILE_LEN, &pn, 0) == 0 &&
		    pn == DFI_J_PROFILE_LEN)
			r->has_profile = 1;
		else
			*in = save;
		break;
	}
	case DFI_JREC_COMMIT:
		if (getu(in, "intent", 0, UINT64_MAX, &r->intent))
			return -1;
		break;
	case DFI_JREC_ABORT:
		if (getu(in, "intent", 0, UINT64_MAX, &r->intent) || getstr(in, "reason", r->reason))
			return -1;
		break;
	case DFI_JREC_RESOLVE: {
		static const char *const dash[] = { NULL, "-" };
		if (getu(in, "intent", 0, UINT64_MAX, &r->intent))
			return -1;
		struct in save = *in;
		if (getu(in, "observed_version", 0, 255, &u) == 0) {
			r->observed_version = (int)u;
		} else {
			*in = save;
			if (getword(in, "observed_version", dash, 2, &w))
				return -1;
			r->observed_version = -1;
		}
		if (getword(in, "matched", match_words, DFI_NELEM(match_words), &w))
			return -1;
		r->matched = (dfi_jmatch)w;
		break;
	}
	case DFI_JREC_RECOVERY: {
		size_t n;
		if (getu(in, "quarantined_lines", 0, UINT64_MAX, &r->q_lines) ||
		    getu(in, "quarantined_bytes", 0, UINT64_MAX, &r->q_bytes) ||
		    getu(in, "quarantined_intents", 0, UINT64_MAX, &r->q_intents) ||
		    gethex(in, "sha256", r->q_sha256, 32, &n, 0) || n != 32 ||
		    getstr(in, "file", r->q_file))
			return -1;
		break;
	}
	case DFI_JREC_REFUSAL: {
		size_t n;
		if (gethex(in, "uid", r->key.uid, DFI_J_UID_MAX, &n, 0) ||
		    getword(in, "cause", cause_words, DFI_NELEM(cause_words), &w) || getu(in, "tap", 0, UINT64_MAX, &r->tap) ||
		    getstr(in, "reason", r->reason))
			return -1;
		r->key.uid_len = (uint8_t)n;
		r->cause = (dfi_jcause)w;
		break;
	}
	case DFI_JREC_AUTHORIZATION: {
		size_t n;
		if (gethex(in, "uid", r->key.uid, DFI_J_UID_MAX, &n, 0) || getstr(in, "reason", r->reason))
			return -1;
		r->key.uid_len = (uint8_t)n;
		break;
	}
	case DFI_JREC_CHANGE: {
		char what[DFI_J_STR_MAX] = "";
		if (get_uid_aid(in, &r->key) || getstr(in, "what", what) ||
		    strlen(what) >= sizeof(r->what) || !dfi_jrec_what_valid(what) ||
		    gethex(in, "target", r->target, DFI_J_TARGET_MAX, &r->target_len, 1))
			return -1;
		memcpy(r->what, what, strlen(what) + 1);
		break;
	}
	}
	if (getstr(in, "station", r->station) || in->p != in->end)
		return -1;
	return 0;
}

void
jrec_aid_format1(dfi_jrec *r, unsigned format)
{
	if (format == 1 && r->type == DFI_JREC_INTENT)
		r->key.aid = (r->key.aid & 0xFFu) << 16 | (r->key.aid & 0xFF00u) | r->key.aid >> 16;
}

dfi_err
dfi_jrec_parse(const char *line, size_t len, dfi_jrec *r)
{
	if (line == NULL || r == NULL)
		return DFI_E_INVALID_ARG;
	if (len == 0 || len > DFI_J_LINE_MAX)
		return DFI_E_JOURNAL_FORMAT;
	memset(r, 0, sizeof(*r));
	r->observed_version = -1;
	struct in in = { line, line + len };
	return parse_fields(&in, r) != 0 ? DFI_E_JOURNAL_FORMAT : DFI_OK;
}
