/*
 * Path-to-line map for profile diagnostics.
 *
 * jansson gives positions only for syntax errors; a validation error found
 * later ("applications[1].files[0].size: must be ...") needs the line too.
 * This scanner runs once over the same text jansson accepted and records,
 * for every object member and array element, its JSON path and where it
 * starts. It tracks only nesting, member names and element indexes; it never
 * interprets values (jansson does that), so it cannot disagree with jansson
 * about what the document means, only about where things are.
 */
#include <stdlib.h>
#include <string.h>

#include "profile_int.h"
#include "core/grow.h"

/* Paths longer than a diagnostic can show are not recorded; lookups fall
 * back to the nearest recorded ancestor. */
#define PATH_RECORD_MAX DFI_DIAG_FIELD_MAX

struct entry {
	char *path;
	int line, column;
};

struct dfi_linemap {
	struct entry *e;
	size_t n, cap;
};

struct frame {
	char type; /* '{' or '[' */
	size_t base; /* path length of the container itself */
	size_t index;
	int expect_key;
};

struct scan {
	dfi_linemap *m;
	char *path;
	size_t plen, pcap;
	struct frame *st;
	size_t depth, stcap;
	dfi_err err;
};

static void
path_set_len(struct scan *s, size_t len)
{
	s->plen = len;
	s->path[len] = '\0';
}

/* dfi_grow (core/grow.h) that records running out of memory in s->err,
 * which ends the scan. */
static void *
grow(struct scan *s, void *p, size_t *cap, size_t need, size_t first, size_t elem)
{
	void *np = dfi_grow(p, cap, need, first, elem);
	if (np == NULL)
		s->err = DFI_E_NOMEM;
	return np;
}

static void
path_append(struct scan *s, const char *p, size_t n)
{
	if (s->err != DFI_OK)
		return;
	char *np = grow(s, s->path, &s->pcap, s->plen + n + 1, 256, 1);
	if (np == NULL)
		return;
	s->path = np;
	memcpy(s->path + s->plen, p, n);
	path_set_len(s, s->plen + n);
}

static void
record(struct scan *s, int line, int column)
{
	if (s->err != DFI_OK || s->plen >= PATH_RECORD_MAX)
		return;
	dfi_linemap *m = s->m;
	struct entry *ne = grow(s, m->e, &m->cap, m->n + 1, 64, sizeof(*ne));
	if (ne == NULL)
		return;
	m->e = ne;
	char *p = strdup(s->path);
	if (p == NULL) {
		s->err = DFI_E_NOMEM;
		return;
	}
	m->e[m->n++] = (struct entry){ p, line, column };
}

/* A value starts: as an array element it gets its own path. */
static void
value_start(struct scan *s, int line, int column)
{
	if (s->depth == 0) {
		path_set_len(s, 0);
		record(s, line, column);
		return;
	}
	struct frame *f = &s->st[s->depth - 1];
	if (f->type != '[')
		return;
	char idx[32];
	int n = snprintf(idx, sizeof(idx), "[%zu]", f->index);
	path_set_len(s, f->base);
	path_append(s, idx, (size_t)n);
	record(s, line, column);
}

static void
push(struct scan *s, char type)
{
	if (s->err != DFI_OK)
		return;
	struct frame *ns = grow(s, s->st, &s->stcap, s->depth + 1, 16, sizeof(*ns));
	if (ns == NULL)
		return;
	s->st = ns;
	s->st[s->depth++] = (struct frame){ type, s->plen, 0, type == '{' };
}

/* Decodes a member name well enough to match the names jansson returns for
 * ASCII keys; other characters become '?' (lookups then fall back to the
 * enclosing object, which is still the right neighbourhood). Returns the
 * index after the closing quote. */
static size_t
scan_string(const char *t, size_t len, size_t i, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	i++; /* opening quote */
	while (i < len && t[i] != '"') {
		char c = t[i++];
		if (c == '\\' && i < len) {
			char e = t[i++];
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;
				int ok = 1;
				for (int k = 0; k < 4; k++) {
					char h = i < len ? t[i] : '\0';
					unsigned d;
					if (h >= '0' && h <= '9') d = (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f') d = (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F') d = (unsigned)(h - 'A' + 10);
					else { ok = 0; break; }
					v = v * 16 + d;
					i++;
				}
				c = (ok && v > 0 && v < 0x80) ? (char)v : '?';
				break;
			}
			default: c = e; break; /* \" \\ \/ */
			}
		}
		if (o + 1 < cap)
			out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return i < len ? i + 1 : len;
}

dfi_err
dfi_linemap_build(dfi_linemap **out, const char *t, size_t len)
{
	*out = NULL;
	struct scan s = { 0 };
	s.m = calloc(1, sizeof(*s.m));
	s.pcap = 256;
	s.path = malloc(s.pcap);
	if (s.m == NULL || s.path == NULL) {
		free(s.m);
		free(s.path);
		return DFI_E_NOMEM;
	}
	path_set_len(&s, 0);
	char key[PATH_RECORD_MAX + 1];
	int line = 1;
	size_t linestart = 0;
	size_t i = 0;
	while (i < len && s.err == DFI_OK) {
		char c = t[i];
		int col = (int)(i - linestart + 1);
		switch (c) {
		case '\n':
			line++;
			linestart = ++i;
			continue;
		case ' ': case '\t': case '\r': case ':':
			if (c == ':' && s.depth > 0)
				s.st[s.depth - 1].expect_key = 0;
			i++;
			continue;
		case '{': case '[':
			value_start(&s, line, col);
			push(&s, c);
			i++;
			continue;
		case '}': case ']':
			if (s.depth > 0)
				path_set_len(&s, s.st[--s.depth].base);
			i++;
			continue;
		case ',':
			if (s.depth > 0) {
				struct frame *f = &s.st[s.depth - 1];
				if (f->type == '{')
					f->expect_key = 1;
				else
					f->index++;
			}
			i++;
			continue;
		case '"':
			if (s.depth > 0 && s.st[s.depth - 1].type == '{' && s.st[s.depth - 1].expect_key) {
				struct frame *f = &s.st[s.depth - 1];
				size_t klen;
				i = scan_string(t, len, i, key, sizeof(key), &klen);
				path_set_len(&s, f->base);
				if (f->base > 0)
					path_append(&s, ".", 1);
				path_append(&s, key, klen);
				record(&s, line, col);
			} else {
				value_start(&s, line, col);
				size_t klen;
				i = scan_string(t, len, i, key, sizeof(key), &klen);
			}
			continue;
		default:
			/* number or literal: skip to the next delimiter */
			value_start(&s, line, col);
			do
				i++;
			while (i < len && t[i] != '\0' && strchr(",}] \t\r\n:{[\"", t[i]) == NULL);
			continue;
		}
	}
	free(s.path);
	free(s.st);
	if (s.err != DFI_OK) {
		dfi_linemap_free(s.m);
		return s.err;
	}
	*out = s.m;
	return DFI_OK;
}

static const struct entry *
find_exact(const dfi_linemap *m, const char *path, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->e[i].path) == len && memcmp(m->e[i].path, path, len) == 0)
			return &m->e[i];
	return NULL;
}

void
dfi_linemap_find(const dfi_linemap *m, const char *path, int *line, int *column)
{
	*line = 0;
	*column = 0;
	if (m == NULL || path == NULL)
		return;
	size_t len = strlen(path);
	for (;;) {
		const struct entry *e = find_exact(m, path, len);
		if (e != NULL) {
			*line = e->line;
			*column = e->column;
			return;
		}
		if (len == 0)
			return;
		/* strip the last component: ".name" or "[n]" */
		size_t k = len;
		while (k > 0 && path[k - 1] != '.' && path[k - 1] != '[')
			k--;
		if (k == 0)
			len = 0;
		else
			len = k - 1;
	}
}

void
dfi_linemap_free(dfi_linemap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].path);
	free(m->e);
	free(m);
}
