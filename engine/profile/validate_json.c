/*
 * Profile validation, the JSON half: typed getters for members, each range-
 * and kind-checked, whose errors name the file, the line and the field.
 * validate.c walks the schema with them.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/hsm.h"
#include "dfissue/util.h"
#include "validate_int.h"
/* Reports at the line of lookup, naming the field shown. */
dfi_err
pv_verr_at(struct vctx *c, const char *lookup, const char *shown, const char *fmt, ...)
{
	int line, col;
	dfi_linemap_find(c->lm, lookup, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	dfi_diag_vset(c->diag, c->file, line, col, shown, fmt, ap);
	va_end(ap);
	return DFI_E_PROFILE;
}



dfi_err
pv_nomem(void)
{
	return DFI_E_NOMEM;
}

/* Paths are built piecewise; a path too long for a diagnostic is cut (the
 * line map then answers for its nearest ancestor). */
void
pv_path_cat(char *out, const char *a, const char *b, const char *c)
{
	size_t n = 0;
	const char *parts[3] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(parts[i]);
		if (l > PATH_MAX_LEN - 1 - n)
			l = PATH_MAX_LEN - 1 - n;
		memmove(out + n, parts[i], l);
		n += l;
	}
	out[n] = '\0';
}

void
pv_join(char *out, const char *base, const char *key)
{
	pv_path_cat(out, base, base[0] != '\0' ? "." : "", key);
}

void
pv_join_idx(char *out, const char *base, size_t i)
{
	char idx[32];
	snprintf(idx, sizeof(idx), "[%zu]", i);
	pv_path_cat(out, base, idx, "");
}

const char *
dfi_profile_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* Every member of obj must be one of allowed (NULL-terminated). */
dfi_err
pv_check_members(struct vctx *c, json_t *obj, const char *path, const char *const *allowed,
    const char *what)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		int ok = 0;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = 1;
		if (ok)
			continue;
		/* shown with anything unprintable replaced: a report is one line */
		char shownkey[NAME_MAX_LEN + 4];
		size_t k;
		for (k = 0; key[k] != '\0' && k < NAME_MAX_LEN; k++)
			shownkey[k] = (key[k] >= 0x20 && key[k] < 0x7F) ? key[k] : '?';
		strcpy(shownkey + k, key[k] != '\0' ? "..." : "");
		char list[256] = "";
		for (size_t i = 0; allowed[i] != NULL; i++) {
			if (i > 0)
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
		}
		char p[PATH_MAX_LEN], shown[PATH_MAX_LEN];
		pv_join(p, path, key);
		pv_join(shown, path, shownkey);
		return pv_verr_at(c, p, shown, "unknown member in %s (allowed: %s)", what, list);
	}
	return DFI_OK;
}

/* *v = obj[key] and p = its path, for the caller's own messages; missing
 * is an error when required. */
dfi_err
pv_member_at(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    json_t **v, char p[PATH_MAX_LEN])
{
	pv_join(p, path, key);
	*v = json_object_get(obj, key);
	if (*v == NULL && required)
		return verr(c, p, "required member missing");
	return DFI_OK;
}

/* *v = obj[key]; missing is an error when required. */
dfi_err
pv_member(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    json_t **v)
{
	char p[PATH_MAX_LEN];
	return pv_member_at(c, obj, path, key, required, v, p);
}

/* The JSON type each kind needs and how an error words it. jansson types
 * true and false apart, hence two types a row. */
static const struct {
	json_type t1, t2;
	const char *wording;
} kinds[] = {
	[PV_OBJECT] = { JSON_OBJECT, JSON_OBJECT, "an object" },
	[PV_ARRAY] = { JSON_ARRAY, JSON_ARRAY, "an array" },
	[PV_STRING] = { JSON_STRING, JSON_STRING, "a string" },
	[PV_BOOL] = { JSON_TRUE, JSON_FALSE, "true or false" },
};

dfi_err
pv_want(struct vctx *c, json_t *v, const char *path, enum pv_kind k)
{
	json_type t = json_typeof(v);
	if (t != kinds[k].t1 && t != kinds[k].t2)
		return verr(c, path, "must be %s (got %s)", kinds[k].wording,
		    dfi_profile_json_kind(v));
	return DFI_OK;
}

dfi_err
pv_want_object(struct vctx *c, json_t *v, const char *path)
{
	return pv_want(c, v, path, PV_OBJECT);
}

dfi_err
pv_get_typed(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    enum pv_kind k, json_t **v, char p[PATH_MAX_LEN])
{
	dfi_err e = pv_member_at(c, obj, path, key, required, v, p);
	if (e != DFI_OK || *v == NULL)
		return e;
	return pv_want(c, *v, p, k);
}

void *
pv_array_table(struct vctx *c, json_t *v, const char *path, size_t min, size_t max, size_t elem,
    size_t *n, dfi_err *e)
{
	*n = json_array_size(v);
	if ((*e = pv_want(c, v, path, PV_ARRAY)) != DFI_OK)
		return NULL;
	if (*n < min || *n > max)
		*e = verr(c, path, "must have %zu..%zu elements (got %zu)", min, max, *n);
	else if (elem != 0 && *n > SIZE_MAX / elem)
		*e = pv_nomem();
	else {
		void *t = dfi_profile_alloc(c->p, *n * elem);
		*e = t != NULL ? DFI_OK : pv_nomem();
		return t;
	}
	return NULL;
}

dfi_err
pv_int_range(struct vctx *c, json_t *v, const char *path, long long min, long long max,
    long long *out)
{
	if (!json_is_integer(v))
		return verr(c, path, "must be an integer in %lld..%lld (got %s)", min, max,
		    dfi_profile_json_kind(v));
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return verr(c, path, "must be %lld..%lld (got %lld)", min, max, x);
	*out = x;
	return DFI_OK;
}

dfi_err
pv_get_int(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    long long min, long long max, long long def, long long *out)
{
	json_t *v;
	char p[PATH_MAX_LEN];
	*out = def; /* an absent optional member */
	dfi_err e = pv_member_at(c, obj, path, key, required, &v, p);
	if (e != DFI_OK || v == NULL)
		return e;
	return pv_int_range(c, v, p, min, max, out);
}

dfi_err
pv_get_bool(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    int def, int *out)
{
	json_t *v;
	char p[PATH_MAX_LEN];
	*out = def; /* an absent optional member */
	dfi_err e = pv_get_typed(c, obj, path, key, required, PV_BOOL, &v, p);
	if (e != DFI_OK || v == NULL)
		return e;
	*out = json_is_true(v);
	return DFI_OK;
}

/* A string member of 1..maxlen bytes; *out points into the JSON tree. */
dfi_err
pv_get_string(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    size_t maxlen, const char **out)
{
	json_t *v;
	char p[PATH_MAX_LEN];
	*out = NULL;
	dfi_err e = pv_get_typed(c, obj, path, key, required, PV_STRING, &v, p);
	if (e != DFI_OK || v == NULL)
		return e;
	size_t n = json_string_length(v);
	if (n == 0 || n > maxlen)
		return verr(c, p, "must be 1..%zu characters (got %zu)", maxlen, n);
	if (strlen(json_string_value(v)) != n)
		return verr(c, p, "must not contain NUL characters");
	*out = json_string_value(v);
	return DFI_OK;
}



/* A string member that must be one of the names in tbl; *out is its row
 * (NULL when the member is absent and not required). allowed lists the
 * names for the error message. */
dfi_err
pv_get_choice(struct vctx *c, json_t *obj, const char *path, const char *key, int required,
    const struct choice *tbl, const char *allowed, const struct choice **out)
{
	const char *s;
	*out = NULL;
	dfi_err e = pv_get_string(c, obj, path, key, required, 16, &s);
	if (e != DFI_OK || s == NULL)
		return e;
	for (size_t i = 0; tbl[i].name != NULL; i++) {
		if (strcmp(s, tbl[i].name) == 0) {
			*out = &tbl[i];
			return DFI_OK;
		}
	}
	char p[PATH_MAX_LEN];
	pv_join(p, path, key);
	return verr(c, p, "must be %s (got \"%.20s\")", allowed, s);
}

/* A required key type member: "des", "2k3des", "3k3des" or "aes". */
dfi_err
pv_get_keytype(struct vctx *c, json_t *obj, const char *path, const char *key, dfi_keytype *out)
{
	const char *s;
	dfi_err e = pv_get_string(c, obj, path, key, 1, 16, &s);
	if (e != DFI_OK)
		return e;
	if (dfi_keytype_parse(s, out) == DFI_OK)
		return DFI_OK;
	char p[PATH_MAX_LEN];
	pv_join(p, path, key);
	return verr(c, p, "must be \"des\", \"2k3des\", \"3k3des\" or \"aes\" (got \"%s\")", s);
}

/* Member "key" as a copy owned by the profile (NULL when absent). */
dfi_err
pv_get_owned_string(struct vctx *c, json_t *obj, const char *path, const char *key,
    int required, size_t maxlen, const char **out)
{
	const char *s;
	dfi_err e = pv_get_string(c, obj, path, key, required, maxlen, &s);
	*out = NULL;
	if (e != DFI_OK || s == NULL)
		return e;
	if ((*out = dfi_profile_strdup(c->p, s)) == NULL)
		return pv_nomem();
	return DFI_OK;
}

/* Decodes a non-empty hex string of at most max bytes into profile memory. */
dfi_err
pv_hex_bytes(struct vctx *c, const char *hex, const char *path, size_t max, uint8_t **out,
    size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0)
		return verr(c, path, "hex must not be empty");
	uint8_t *b = dfi_profile_alloc(c->p, n / 2 + 1);
	if (b == NULL)
		return pv_nomem();
	dfi_err e = dfi_hex_decode(hex, b, n / 2 + 1, len);
	if (e != DFI_OK || *len == 0)
		return verr(c, path, "not a valid hex string (pairs of 0-9, A-F)");
	if (*len > max)
		return verr(c, path, "%zu bytes: at most %zu allowed here", *len, max);
	*out = b;
	return DFI_OK;
}

/* ---- keys ------------------------------------------------------------------ */

/* The URI is checked by the rule the HSM layer reads it with when the key
 * is opened (dfi_hsm_uri_check: p11-kit parses it; an attribute p11-kit
 * does not know, as a misspelt "objet=", or a PIN in it is refused), so the
 * error names the profile's line and member, before any HSM is opened. The scheme and the alphabet are the profile's own
 * rules: p11-kit would take "PKCS11:" and drop white space. */
static dfi_err
check_uri(struct vctx *c, const char *uri, const char *path)
{
	if (strncmp(uri, "pkcs11:", 7) != 0)
		return verr(c, path, "must be a PKCS#11 URI starting with \"pkcs11:\" (RFC 7512)");
	if (uri[7] == '\0')
		return verr(c, path, "the URI names no key (add object= and/or id=)");
	for (const char *s = uri; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7F || ch == '"' || ch == '<' || ch == '>' || ch == '\\')
			return verr(c, path,
			    "characters outside the URI alphabet must be percent-encoded (RFC 7512)");
	}
	char why[300];
	dfi_err e = dfi_hsm_uri_check(uri, "key", why, sizeof(why));
	if (e == DFI_E_NOMEM)
		return pv_nomem();
	return e == DFI_OK ? DFI_OK : verr(c, path, "%s", why);
}

dfi_err
pv_get_uri(struct vctx *c, json_t *obj, const char *path, const char *key, const char **out)
{
	char p[PATH_MAX_LEN];
	dfi_err e = pv_get_owned_string(c, obj, path, key, 1, URI_MAX_LEN, out);
	if (e != DFI_OK)
		return e;
	pv_join(p, path, key);
	return check_uri(c, *out, p);
}
