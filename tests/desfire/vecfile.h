/*
 * Reads the project's vector files (files in tests/data): '#' comments, then
 * one vector per line, "KIND NAME=VALUE NAME=VALUE ...", VALUE "-" meaning
 * empty. Header-only, for the check tests.
 */
#ifndef DFI_TEST_VECFILE_H
#define DFI_TEST_VECFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define VEC_MAX_FIELDS 12

struct vec {
	char kind[32];
	size_t n;
	char name[VEC_MAX_FIELDS][16];
	char *value[VEC_MAX_FIELDS];
	char line[4096];
	int lineno;
};

/* Opens DFI_TEST_DATA/name; fails the test when it cannot. */
static inline FILE *
vec_open(const char *name)
{
	const char *dir = getenv("DFI_TEST_DATA");
	char path[4096];
	ck_assert_msg(dir != NULL, "DFI_TEST_DATA is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	return f;
}

/* The next vector, or 0 at the end of the file. */
static inline int
vec_next(FILE *f, struct vec *v)
{
	while (fgets(v->line, sizeof(v->line), f) != NULL) {
		v->lineno++;
		char *save = NULL, *tok = strtok_r(v->line, " \t\r\n", &save);
		if (tok == NULL || tok[0] == '#')
			continue;
		ck_assert_uint_lt(strlen(tok), sizeof(v->kind));
		strcpy(v->kind, tok);
		v->n = 0;
		while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			char *eq = strchr(tok, '=');
			ck_assert_msg(eq != NULL && v->n < VEC_MAX_FIELDS, "line %d: bad field %s",
			    v->lineno, tok);
			*eq = 0;
			ck_assert_uint_lt(strlen(tok), sizeof(v->name[0]));
			strcpy(v->name[v->n], tok);
			v->value[v->n] = strcmp(eq + 1, "-") == 0 ? eq + 1 + 1 : eq + 1;
			v->n++;
		}
		return 1;
	}
	return 0;
}

/* The field's text; fails the test when the vector lacks it. */
static inline const char *
vec_str(const struct vec *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->name[i], name) == 0)
			return v->value[i];
	ck_abort_msg("line %d: no field %s", v->lineno, name);
	return NULL;
}

/* The field as bytes into buf (cap bytes); returns the length. */
static inline size_t
vec_hex(const struct vec *v, const char *name, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ck_assert_msg(dfi_hex_decode(vec_str(v, name), buf, cap, &n) == DFI_OK,
	    "line %d: field %s is not hex", v->lineno, name);
	return n;
}

static inline long
vec_int(const struct vec *v, const char *name)
{
	return strtol(vec_str(v, name), NULL, 10);
}

#endif
