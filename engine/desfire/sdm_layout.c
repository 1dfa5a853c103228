/*
 * SDM file layouts from a template ("https://t.example/v?e={picc}&c={mac}"),
 * and taps matched against them (include/dfissue/sdm.h). One template
 * gives both what the personalization writes (the file, its SDM offsets)
 * and how a backend reads a tap back, so the two cannot disagree.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/sdm.h"
#include "dfissue/util.h"

/* NFC Forum URI RTD abbreviations the layout uses (longest first). */
static const struct {
	uint8_t code;
	const char *prefix;
} uri_prefix[] = {
	{ 0x02, "https://www." },
	{ 0x01, "http://www." },
	{ 0x04, "https://" },
	{ 0x03, "http://" },
};

static dfi_err fail(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static dfi_err
fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return DFI_E_PARSE;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* Places a placeholder of w characters at the end of the text. */
static dfi_err
place(struct dfi_sdm_layout *l, size_t *at, size_t w, const char *name, char *why, size_t cap)
{
	if (*at != SIZE_MAX)
		return fail(why, cap, "{%s} appears twice", name);
	if (l->text_len + w > DFI_SDM_TEMPLATE_MAX)
		return fail(why, cap, "the text is longer than %d characters", DFI_SDM_TEMPLATE_MAX);
	*at = l->text_len;
	memset(l->text + l->text_len, '0', w);
	l->text_len += w;
	return DFI_OK;
}

dfi_err
dfi_sdm_layout_parse(const char *tmpl, enum dfi_sdm_cipher c, int ndef,
    struct dfi_sdm_layout *l, char *why, size_t cap)
{
	dfi_err e;
	if (tmpl == NULL || l == NULL || (c != DFI_SDM_AES && c != DFI_SDM_LRP))
		return DFI_E_INVALID_ARG;
	memset(l, 0, sizeof(*l));
	l->cipher = c;
	l->ndef = ndef != 0;
	l->uid_at = l->ctr_at = l->picc_at = l->enc_at = l->mac_at = l->macin_at = SIZE_MAX;
	for (const char *p = tmpl; *p != 0;) {
		if (*p == '}')
			return fail(why, cap, "'}' without '{'");
		if (*p != '{') {
			unsigned char ch = (unsigned char)*p;
			if (ch < 0x21 || ch > 0x7E)
				return fail(why, cap, "the template holds a space or a non-ASCII "
				    "character");
			if (l->text_len + 1 > DFI_SDM_TEMPLATE_MAX)
				return fail(why, cap, "the text is longer than %d characters",
				    DFI_SDM_TEMPLATE_MAX);
			l->text[l->text_len++] = *p++;
			continue;
		}
		const char *end = strchr(p, '}');
		char name[16];
		if (end == NULL || (size_t)(end - p - 1) >= sizeof(name))
			return fail(why, cap, "unterminated or unknown placeholder at '%.12s'", p);
		memcpy(name, p + 1, (size_t)(end - p - 1));
		name[end - p - 1] = 0;
		p = end + 1;
		if (strcmp(name, "uid") == 0) {
			e = place(l, &l->uid_at, 14, name, why, cap);
		} else if (strcmp(name, "ctr") == 0) {
			e = place(l, &l->ctr_at, 6, name, why, cap);
		} else if (strcmp(name, "picc") == 0) {
			e = place(l, &l->picc_at, c == DFI_SDM_LRP ? 48 : 32, name, why, cap);
		} else if (strcmp(name, "mac") == 0) {
			e = place(l, &l->mac_at, 16, name, why, cap);
		} else if (strcmp(name, "macin") == 0) {
			e = place(l, &l->macin_at, 0, name, why, cap);
		} else if (strncmp(name, "enc:", 4) == 0) {
			char *num_end;
			unsigned long n = strtoul(name + 4, &num_end, 10);
			if (*num_end != 0 || name[4] == 0 || n == 0 || n % 16 != 0 || n > 96)
				return fail(why, cap, "{%s}: N must be 16, 32, .. 96 bytes", name);
			l->enc_bytes = n;
			e = place(l, &l->enc_at, 2 * n, "enc", why, cap);
		} else {
			return fail(why, cap, "unknown placeholder {%s} (allowed: uid, ctr, picc, "
			    "enc:N, mac, macin)", name);
		}
		if (e != DFI_OK)
			return e;
	}
	l->text[l->text_len] = 0;
	l->has_uid = l->uid_at != SIZE_MAX;
	l->has_ctr = l->ctr_at != SIZE_MAX;
	l->has_picc = l->picc_at != SIZE_MAX;
	l->has_enc = l->enc_at != SIZE_MAX;
	l->has_mac = l->mac_at != SIZE_MAX;
	if (l->has_picc && (l->has_uid || l->has_ctr))
		return fail(why, cap, "{picc} already holds the UID and counter: no {uid}/{ctr} "
		    "with it");
	if (!l->has_picc && !l->has_uid && !l->has_ctr && !l->has_mac)
		return fail(why, cap, "the template mirrors nothing (no placeholder)");
	if ((l->has_enc || l->macin_at != SIZE_MAX) && !l->has_mac)
		return fail(why, cap, "{enc:N} and {macin} need a {mac}");
	if (l->macin_at == SIZE_MAX && l->has_mac)
		l->macin_at = l->has_enc ? l->enc_at : l->mac_at;
	if (l->has_mac && l->macin_at > l->mac_at)
		return fail(why, cap, "{macin} comes after {mac}");

	/* The file: an NDEF URI record, or the text itself. */
	size_t body_at = 0;
	if (l->ndef) {
		size_t i = 0;
		for (; i < sizeof(uri_prefix) / sizeof(uri_prefix[0]); i++)
			if (strncmp(l->text, uri_prefix[i].prefix, strlen(uri_prefix[i].prefix)) == 0)
				break;
		if (i == sizeof(uri_prefix) / sizeof(uri_prefix[0]))
			return fail(why, cap, "an NDEF template is an http:// or https:// URL");
		l->prefix_len = strlen(uri_prefix[i].prefix);
		size_t rest = l->text_len - l->prefix_len, payload = 1 + rest;
		if (payload > 255)
			return fail(why, cap, "the URL is too long for a short NDEF record");
		/* NLEN (2, big-endian) || D1 01 len 'U' || prefix code || rest */
		size_t nlen = 4 + payload;
		l->file[0] = (uint8_t)(nlen >> 8);
		l->file[1] = (uint8_t)nlen;
		l->file[2] = 0xD1; /* MB ME SR, TNF well-known */
		l->file[3] = 0x01;
		l->file[4] = (uint8_t)payload;
		l->file[5] = 'U';
		l->file[6] = uri_prefix[i].code;
		body_at = 7;
	}
	l->text_at = body_at;
	memcpy(l->file + body_at, l->text + l->prefix_len, l->text_len - l->prefix_len);
	l->file_len = body_at + l->text_len - l->prefix_len;
	const size_t all[] = { l->uid_at, l->ctr_at, l->picc_at, l->enc_at, l->mac_at, l->macin_at };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] != SIZE_MAX && all[i] < l->prefix_len)
			return fail(why, cap, "a placeholder inside the URL's scheme");

	/* SDM options and offsets (file offsets; rights are the caller's). */
#define OFF(at) ((uint32_t)(body_at + (at) - l->prefix_len))
	struct dfi_df_sdm *s = &l->sdm;
	s->options = DFI_DF_SDM_ASCII;
	s->ctr_ret = s->meta_read = s->file_read = 0xF;
	if (l->has_uid || (l->has_picc)) /* {picc} mirrors both */
		s->options |= DFI_DF_SDM_UID;
	if (l->has_ctr || l->has_picc)
		s->options |= DFI_DF_SDM_CTR;
	if (l->has_enc)
		s->options |= DFI_DF_SDM_ENC;
	if (l->has_uid)
		s->uid_offset = OFF(l->uid_at);
	if (l->has_ctr)
		s->ctr_offset = OFF(l->ctr_at);
	if (l->has_picc)
		s->picc_offset = OFF(l->picc_at);
	if (l->has_mac) {
		s->mac_offset = OFF(l->mac_at);
		s->mac_input_offset = OFF(l->macin_at);
	}
	if (l->has_enc) {
		s->enc_offset = OFF(l->enc_at);
		s->enc_length = (uint32_t)(2 * l->enc_bytes);
	}
#undef OFF
	return DFI_OK;
}

/* Matches text (text_len characters, the full text) against the layout. */
static dfi_err
match(const struct dfi_sdm_layout *l, struct dfi_sdm_tap *t, char *why, size_t cap)
{
	const struct {
		size_t at, w;
	} ph[] = {
		{ l->uid_at, 14 }, { l->ctr_at, 6 },
		{ l->picc_at, l->cipher == DFI_SDM_LRP ? 48u : 32u },
		{ l->enc_at, 2 * l->enc_bytes }, { l->mac_at, 16 },
	};
	if (t->text_len != l->text_len)
		return fail(why, cap, "the tap's text has another length than the template's");
	for (size_t i = 0; i < l->text_len; i++) {
		int in_ph = 0;
		for (size_t k = 0; k < sizeof(ph) / sizeof(ph[0]); k++)
			if (ph[k].at != SIZE_MAX && i >= ph[k].at && i < ph[k].at + ph[k].w)
				in_ph = 1;
		if (in_ph ? !is_hex(t->text[i]) : t->text[i] != l->text[i]) {
			if (in_ph)
				return fail(why, cap, "a mirrored field is not hex (character %zu)", i);
			return fail(why, cap, "the tap differs from the template at character %zu", i);
		}
	}
	char hex[97];
	size_t n;
#define FIELD(at, w, dst, cap_)                                                         \
	do {                                                                            \
		memcpy(hex, t->text + (at), (w));                                       \
		hex[w] = 0;                                                             \
		if (dfi_hex_decode(hex, (dst), (cap_), &n) != DFI_OK)                   \
			return fail(why, cap, "a mirrored field is not hex");    \
	} while (0)
	if (l->has_uid)
		FIELD(l->uid_at, 14, t->uid, sizeof(t->uid));
	if (l->has_ctr) {
		uint8_t c[3];
		FIELD(l->ctr_at, 6, c, sizeof(c));
		t->ctr = (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2]; /* ASCII: MSB first */
	}
	if (l->has_picc) {
		size_t w = l->cipher == DFI_SDM_LRP ? 48 : 32;
		FIELD(l->picc_at, w, t->picc, sizeof(t->picc));
		t->picc_len = n;
	}
	if (l->has_enc) {
		FIELD(l->enc_at, 2 * l->enc_bytes, t->enc, sizeof(t->enc));
		t->enc_len = n;
	}
	if (l->has_mac) {
		FIELD(l->mac_at, 16, t->mac, sizeof(t->mac));
		t->mac_in_at = l->macin_at;
		t->mac_in_len = l->mac_at - l->macin_at;
	}
#undef FIELD
	return DFI_OK;
}

static int
all_hex(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_hex(p[i]))
			return 0;
	return len % 2 == 0;
}

/* Text as the template writes it: the whole of it. */
static dfi_err
take_text(struct dfi_sdm_tap *t, const char *p, size_t len, char *why, size_t cap)
{
	if (len > DFI_SDM_TEMPLATE_MAX)
		return fail(why, cap, "the tap is longer than the template's text");
	memcpy(t->text, p, len);
	t->text_len = len;
	return DFI_OK;
}

static dfi_err
take_query(const struct dfi_sdm_layout *l, struct dfi_sdm_tap *t, const char *p, size_t len,
    char *why, size_t cap)
{
	/* the template's text up to its '?' is literal */
	const char *tq = strchr(l->text, '?');
	if (tq == NULL)
		return fail(why, cap, "the template has no query ('?') to match this against");
	size_t head = (size_t)(tq - l->text) + 1;
	const size_t mirrors[] = { l->uid_at, l->ctr_at, l->picc_at, l->enc_at, l->mac_at };
	for (size_t i = 0; i < sizeof(mirrors) / sizeof(mirrors[0]); i++)
		if (mirrors[i] != SIZE_MAX && mirrors[i] < head)
			return fail(why, cap, "the template mirrors before its '?': give the whole URL");
	const char *q = memchr(p, '?', len);
	if (q != NULL) {
		len -= (size_t)(q + 1 - p);
		p = q + 1;
	}
	if (head + len > DFI_SDM_TEMPLATE_MAX)
		return fail(why, cap, "the query is longer than the template's");
	memcpy(t->text, l->text, head);
	memcpy(t->text + head, p, len);
	t->text_len = head + len;
	return DFI_OK;
}

static dfi_err
take_hex(const struct dfi_sdm_layout *l, struct dfi_sdm_tap *t, const char *p, size_t len,
    char *why, size_t cap)
{
	/* a whole file read (DFI_DF_MAX_DATA at most) may be longer than its
	 * content: zeros follow */
	if (len > 2 * DFI_DF_MAX_DATA)
		return fail(why, cap, "the file data is longer than a DESFire file");
	size_t n;
	char *hex = malloc(len + 1);
	uint8_t *file = malloc(len / 2 + 1);
	dfi_err e = DFI_E_NOMEM;
	if (hex == NULL || file == NULL)
		goto out;
	memcpy(hex, p, len);
	hex[len] = 0;
	if (dfi_hex_decode(hex, file, len / 2 + 1, &n) != DFI_OK) {
		e = fail(why, cap, "the file data is not hex");
		goto out;
	}
	e = DFI_E_PARSE;
	if (n < l->file_len) {
		fail(why, cap, "the file data is shorter than the template's");
		goto out;
	}
	if (memcmp(file, l->file, l->text_at) != 0) {
		fail(why, cap, "the file's NDEF header is not the template's");
		goto out;
	}
	for (size_t i = l->file_len; i < n; i++)
		if (file[i] != 0) {
			fail(why, cap, "the file has data after the template's end");
			goto out;
		}
	memcpy(t->text, l->text, l->prefix_len);
	memcpy(t->text + l->prefix_len, file + l->text_at, l->file_len - l->text_at);
	t->text_len = l->prefix_len + l->file_len - l->text_at;
	e = DFI_OK;
out:
	free(hex);
	free(file);
	return e;
}

dfi_err
dfi_sdm_tap_parse(const struct dfi_sdm_layout *l, const char *data, enum dfi_sdm_input kind,
    struct dfi_sdm_tap *t, char *why, size_t cap)
{
	dfi_err e;
	if (l == NULL || data == NULL || t == NULL)
		return DFI_E_INVALID_ARG;
	memset(t, 0, sizeof(*t));
	/* trim white space around (a line read from a file or a pipe) */
	while (*data == ' ' || *data == '\t' || *data == '\n' || *data == '\r')
		data++;
	size_t len = strlen(data);
	while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t' || data[len - 1] == '\n' ||
	    data[len - 1] == '\r'))
		len--;
	if (len == 0)
		return fail(why, cap, "no tap data");
	if (kind == DFI_SDM_IN_AUTO) {
		if (strstr(data, "://") != NULL)
			kind = DFI_SDM_IN_URL;
		else if (all_hex(data, len))
			kind = DFI_SDM_IN_HEX;
		else if (memchr(data, '?', len) != NULL || memchr(data, '=', len) != NULL)
			kind = DFI_SDM_IN_QUERY;
		else
			kind = DFI_SDM_IN_TEXT;
	}
	switch (kind) {
	case DFI_SDM_IN_URL:
	case DFI_SDM_IN_TEXT:
		e = take_text(t, data, len, why, cap);
		break;
	case DFI_SDM_IN_QUERY:
		e = take_query(l, t, data, len, why, cap);
		break;
	case DFI_SDM_IN_HEX:
		e = take_hex(l, t, data, len, why, cap);
		break;
	default:
		return DFI_E_INVALID_ARG;
	}
	if (e != DFI_OK)
		return e;
	t->text[t->text_len] = 0;
	return match(l, t, why, cap);
}
