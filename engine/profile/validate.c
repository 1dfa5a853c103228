/*
 * Profile validation: walks the jansson tree once, checks every member
 * against the schema of docs/PROFILE.md and builds the typed tree of
 * profile.h. Unknown members are errors (typo protection); every number is
 * range-checked; the only defaults are the documented ones. The typed
 * member getters live in validate_json.c; keys in validate_key.c, files in
 * validate_file.c.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/originality.h"
#include "dfissue/util.h"
#include "validate_int.h"
#include "core/nelem.h"

static dfi_err
parse_app(struct vctx *c, json_t *v, const char *path, struct dfi_profile_app *app,
    const struct dfi_profile_app *prev, size_t nprev)
{
	static const char *const members[] = { "aid", "name", "key_type", "key_settings", "keys",
		"files", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "an application")) != DFI_OK)
		return e;

	const char *aid;
	pv_join(p, path, "aid");
	if ((e = pv_get_string(c, v, path, "aid", 1, 16, &aid)) != DFI_OK)
		return e;
	size_t n;
	if (strlen(aid) != 6 || dfi_hex_decode(aid, app->aid, sizeof(app->aid), &n) != DFI_OK ||
	    n != 3)
		return verr(c, p, "must be 6 hex digits (3 bytes in command order), got \"%.16s\"",
		    aid);
	if (app->aid[0] == 0 && app->aid[1] == 0 && app->aid[2] == 0)
		return verr(c, p, "000000 is the PICC itself, not an application");
	for (size_t i = 0; i < nprev; i++)
		if (memcmp(prev[i].aid, app->aid, 3) == 0)
			return verr(c, p, "AID %s is already used by applications[%zu]", aid, i);

	if ((e = pv_get_owned_string(c, v, path, "name", 0, NAME_MAX_LEN, &app->name)) != DFI_OK)
		return e;
	if ((e = pv_get_keytype(c, v, path, "key_type", &app->key_type)) != DFI_OK)
		return e;

	json_t *keys;
	struct dfi_profile_key *k;
	if ((e = pv_member_at(c, v, path, "keys", 1, &keys, p)) != DFI_OK ||
	    (k = pv_array_table(c, keys, p, 1, DFI_PROFILE_MAX_KEYS, sizeof(*k), &app->nkeys,
		 &e)) == NULL)
		return e;
	for (size_t i = 0; i < app->nkeys; i++) {
		char kp[PATH_MAX_LEN];
		pv_join_idx(kp, p, i);
		const struct dfi_profile_uid_key *uk = &c->p->spec.uid_key;
		int is_uid_key = uk->present && memcmp(uk->aid, app->aid, 3) == 0 && uk->number == i;
		if ((e = parse_key(c, json_array_get(keys, i), kp, PV_KEY_APP, is_uid_key,
			 app->key_type, (uint8_t)i, &k[i])) != DFI_OK)
			return e;
	}
	app->keys = k;

	json_t *ks;
	if ((e = pv_member_at(c, v, path, "key_settings", 1, &ks, p)) != DFI_OK ||
	    (e = parse_key_settings(c, ks, p, 1, app->nkeys, &app->key_settings)) != DFI_OK)
		return e;

	json_t *files = json_object_get(v, "files");
	if (files != NULL) {
		pv_join(p, path, "files");
		struct dfi_profile_file *f = pv_array_table(c, files, p, 0, DFI_PROFILE_MAX_FILES,
		    sizeof(*f), &app->nfiles, &e);
		if (f == NULL)
			return e;
		for (size_t i = 0; i < app->nfiles; i++) {
			char fp[PATH_MAX_LEN];
			pv_join_idx(fp, p, i);
			if ((e = parse_file(c, json_array_get(files, i), fp, app->nkeys, &f[i])) != DFI_OK)
				return e;
			for (size_t j = 0; j < i; j++) {
				if (f[j].number == f[i].number) {
					char np[PATH_MAX_LEN];
					pv_join(np, fp, "number");
					return verr(c, np, "file number %u is already used by files[%zu]",
					    f[i].number, j);
				}
			}
		}
		app->files = f;
	}
	return DFI_OK;
}

/* ---- PICC and top level ----------------------------------------------------- */

/* "factory", or a static HSM key {type, key, version}, or a diversified
 * key object {type, base_key, version, generation, diversification}. */
static dfi_err
parse_transport(struct vctx *c, json_t *v, const char *path, struct dfi_profile_transport *t)
{
	static const char *const static_members[] = { "type", "key", "version", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	memset(t, 0, sizeof(*t));
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "factory") != 0)
			return verr(c, path, "must be \"factory\" or a key object (got \"%.40s\")",
			    json_string_value(v));
		t->kind = DFI_TRANSPORT_FACTORY;
		return DFI_OK;
	}
	if ((e = pv_want_object(c, v, path)) != DFI_OK)
		return e;
	int has_key = json_object_get(v, "key") != NULL, has_base = json_object_get(v, "base_key") != NULL;
	if (has_key == has_base)
		return verr(c, path, "needs exactly one of \"key\" (one static HSM key for every card) "
				  "and \"base_key\" with \"diversification\" (a key per card)");
	if (has_base) {
		t->kind = DFI_TRANSPORT_DIVERSIFIED;
		if ((e = parse_key(c, v, path, PV_KEY_TRANSPORT, 0, DFI_KT_AES128, 0, &t->key)) !=
		    DFI_OK)
			return e;
		if (t->key.nprevious > 0) {
			pv_join(p, path, "previous");
			return verr(c, p, "a transport key has no generations to rotate from: name "
					  "older PICC keys in picc.key.previous");
		}
		return DFI_OK;
	}
	t->kind = DFI_TRANSPORT_STATIC;
	if ((e = pv_check_members(c, v, path, static_members, "a static transport key")) != DFI_OK ||
	    (e = pv_get_keytype(c, v, path, "type", &t->key.type)) != DFI_OK)
		return e;
	if ((e = pv_get_uri(c, v, path, "key", &t->key.base_key)) != DFI_OK)
		return e;
	long long x;
	if ((e = pv_get_int(c, v, path, "version", 1, 0, 255, 0, &x)) != DFI_OK)
		return e;
	t->key.version = (uint8_t)x;
	return DFI_OK;
}

/* The trusted keys file, read now with the parser personalization will use
 * (originality.c): a bad line shows at load with the profile's line, not
 * after the HSM login. */
static dfi_err
trusted_keys_check(struct vctx *c, const char *path, const char *file)
{
	char p[PATH_MAX_LEN];
	struct dfi_diag d;
	dfi_err e = dfi_orig_keys_check(file, &d);
	if (e == DFI_E_NOMEM)
		return pv_nomem();
	if (e == DFI_OK)
		return DFI_OK;
	pv_join(p, path, "trusted_keys");
	if (e == DFI_E_PARSE || e == DFI_E_IO)
		return verr(c, p, "%s", d.message);
	return verr(c, p, "%s: %s", file, dfi_strerror(e));
}

/* "require" | "warn" | "off", or {"policy": ..., "trusted_keys": FILE}. */
static dfi_err
parse_originality(struct vctx *c, json_t *v, const char *path, struct dfi_profile_originality *o)
{
	static const struct choice policies[] = { { "warn", DFI_ORIGINALITY_WARN, 0 },
		{ "require", DFI_ORIGINALITY_REQUIRE, 0 }, { "off", DFI_ORIGINALITY_OFF, 0 },
		{ NULL, 0, 0 } };
	static const char *const members[] = { "policy", "trusted_keys", NULL };
	const struct choice *ch;
	dfi_err e;
	memset(o, 0, sizeof(*o));
	if (json_is_string(v)) {
		for (ch = policies; ch->name != NULL; ch++)
			if (strcmp(ch->name, json_string_value(v)) == 0) {
				o->policy = (enum dfi_originality_policy)ch->value;
				return DFI_OK;
			}
		return verr(c, path, "must be \"require\", \"warn\" or \"off\" (got \"%.40s\")",
		    json_string_value(v));
	}
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "originality")) != DFI_OK ||
	    (e = pv_get_choice(c, v, path, "policy", 0, policies, "\"require\", \"warn\" or \"off\"",
		 &ch)) != DFI_OK)
		return e;
	o->policy = ch != NULL ? (enum dfi_originality_policy)ch->value : DFI_ORIGINALITY_WARN;
	const char *file;
	if ((e = pv_get_string(c, v, path, "trusted_keys", 0, 4096, &file)) != DFI_OK)
		return e;
	if (file == NULL)
		return DFI_OK;
	if (file[0] == '\0') {
		char p[PATH_MAX_LEN];
		pv_join(p, path, "trusted_keys");
		return verr(c, p, "must name a file");
	}
	/* Relative to the profile's directory, as an operator reads it. */
	const char *slash = strrchr(c->file, '/');
	size_t dl = file[0] == '/' || slash == NULL ? 0 : (size_t)(slash - c->file) + 1;
	char *full = dfi_profile_alloc(c->p, dl + strlen(file) + 1);
	if (full == NULL)
		return pv_nomem();
	memcpy(full, c->file, dl);
	memcpy(full + dl, file, strlen(file) + 1);
	o->trusted_keys = full;
	return o->policy == DFI_ORIGINALITY_OFF ? DFI_OK : trusted_keys_check(c, path, full);
}

/* "uid_key": {"application": AID, "key": N}: which application key reads
 * a random-ID card's UID. It must exist (checked once the applications
 * are parsed, uid_key_check) and is diversified without the UID. */
static dfi_err
parse_uid_key(struct vctx *c, json_t *v, const char *path, struct dfi_profile_uid_key *uk)
{
	static const char *const members[] = { "application", "key", NULL };
	const char *aid;
	char p[PATH_MAX_LEN];
	long long x;
	size_t n;
	dfi_err e;
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "the UID key")) != DFI_OK ||
	    (e = pv_get_string(c, v, path, "application", 1, 16, &aid)) != DFI_OK ||
	    (e = pv_get_int(c, v, path, "key", 1, 0, DFI_PROFILE_MAX_KEYS - 1, 0, &x)) != DFI_OK)
		return e;
	pv_join(p, path, "application");
	if (strlen(aid) != 6 || dfi_hex_decode(aid, uk->aid, sizeof(uk->aid), &n) != DFI_OK ||
	    n != 3 || (uk->aid[0] | uk->aid[1] | uk->aid[2]) == 0)
		return verr(c, p, "must be the 6 hex digits of one of the profile's applications "
				  "(the PICC master key is diversified with the UID), got \"%.16s\"", aid);
	uk->number = (uint8_t)x;
	uk->present = 1;
	return DFI_OK;
}

/* After the applications: the UID key names one of them and one of its
 * keys; random ID needs it (a random-ID card whose every key is
 * diversified with the UID could never be opened again). */
static dfi_err
uid_key_check(struct vctx *c, const struct dfi_profile_spec *s)
{
	const struct dfi_profile_uid_key *uk = &s->uid_key;
	if (!uk->present) {
		if (s->picc.config.random_uid)
			return verr(c, "picc.configuration.random_uid", "needs picc.uid_key: a key "
					  "diversified without the UID, to read a random-ID card's UID with");
		return DFI_OK;
	}
	for (size_t i = 0; i < s->napps; i++) {
		if (memcmp(s->apps[i].aid, uk->aid, 3) != 0)
			continue;
		if (uk->number < s->apps[i].nkeys)
			return DFI_OK;
		return verr(c, "picc.uid_key.key", "application %02X%02X%02X has %zu key(s): no key %u",
		    uk->aid[0], uk->aid[1], uk->aid[2], s->apps[i].nkeys, uk->number);
	}
	return verr(c, "picc.uid_key.application", "no application %02X%02X%02X in the profile",
	    uk->aid[0], uk->aid[1], uk->aid[2]);
}

static dfi_err
parse_picc(struct vctx *c, json_t *v, const char *path, struct dfi_profile_picc *picc)
{
	static const char *const members[] = { "key", "key_settings", "configuration",
		"transport_key", "uid_key", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "picc")) != DFI_OK)
		return e;
	json_t *k;
	if ((e = pv_member_at(c, v, path, "key", 1, &k, p)) != DFI_OK ||
	    (e = parse_key(c, k, p, PV_KEY_PICC, 0, DFI_KT_AES128, 0, &picc->key)) != DFI_OK)
		return e;
	json_t *ks;
	if ((e = pv_member_at(c, v, path, "key_settings", 1, &ks, p)) != DFI_OK ||
	    (e = parse_key_settings(c, ks, p, 0, 1, &picc->key_settings)) != DFI_OK)
		return e;
	json_t *cf = json_object_get(v, "configuration");
	if (cf != NULL) {
		static const char *const cmembers[] = { "format_disabled", "random_uid",
			"random_uid_early", NULL };
		pv_join(p, path, "configuration");
		if ((e = pv_want_object(c, cf, p)) != DFI_OK ||
		    (e = pv_check_members(c, cf, p, cmembers, "the PICC configuration")) != DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "format_disabled", 0, 0, &picc->config.format_disabled)) !=
			DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "random_uid", 0, 0, &picc->config.random_uid)) != DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "random_uid_early", 0, 0,
			 &picc->config.random_uid_early)) != DFI_OK)
			return e;
		picc->config.present = 1;
		if (picc->config.random_uid_early && !picc->config.random_uid) {
			char q[PATH_MAX_LEN];
			pv_join(q, p, "random_uid_early");
			return verr(c, q, "needs \"random_uid\": true");
		}
	}
	json_t *uk = json_object_get(v, "uid_key");
	if (uk != NULL) {
		pv_join(p, path, "uid_key");
		if ((e = parse_uid_key(c, uk, p, &c->p->spec.uid_key)) != DFI_OK)
			return e;
	}
	json_t *tk = json_object_get(v, "transport_key");
	if (tk != NULL) {
		pv_join(p, path, "transport_key");
		if ((e = parse_transport(c, tk, p, &picc->transport)) != DFI_OK)
			return e;
		/* The version tells a card still on its transport key from one
		 * whose PICC key was changed: the two must differ. */
		if (picc->transport.kind != DFI_TRANSPORT_FACTORY &&
		    picc->transport.key.version == picc->key.version) {
			char q[PATH_MAX_LEN];
			pv_join(q, p, "version");
			return verr(c, q, "must differ from picc.key.version %u: the version tells "
			    "a changed PICC key from the transport key (got %u)",
			    picc->key.version, picc->transport.key.version);
		}
	}
	return DFI_OK;
}

dfi_err
dfi_profile_validate(struct dfi_profile *p, json_t *root, const dfi_linemap *lm,
    struct dfi_diag *diag)
{
	struct vctx c = { p, lm, p->file, diag, 0 };
	static const char *const members[] = { "schema", "name", "description", "picc",
		"applications", "originality", "secure_messaging", NULL };
	dfi_err e;
	if (!json_is_object(root))
		return verr(&c, "", "the profile must be a JSON object (got %s)",
		    dfi_profile_json_kind(root));
	if ((e = pv_check_members(&c, root, "", members, "the profile")) != DFI_OK)
		return e;
	const char *schema;
	if ((e = pv_get_string(&c, root, "", "schema", 1, 64, &schema)) != DFI_OK)
		return e;
	if (strcmp(schema, SCHEMA_ID) != 0)
		return verr(&c, "schema", "must be \"" SCHEMA_ID "\" (got \"%s\")", schema);
	if ((e = pv_get_owned_string(&c, root, "", "name", 1, NAME_MAX_LEN, &p->spec.name)) != DFI_OK ||
	    (e = pv_get_owned_string(&c, root, "", "description", 0, 4096, &p->spec.description)) !=
		DFI_OK)
		return e;
	json_t *picc;
	if ((e = pv_member(&c, root, "", "picc", 1, &picc)) != DFI_OK ||
	    (e = parse_picc(&c, picc, "picc", &p->spec.picc)) != DFI_OK)
		return e;
	json_t *orig = json_object_get(root, "originality");
	if (orig != NULL && (e = parse_originality(&c, orig, "originality", &p->spec.originality)) != DFI_OK)
		return e;
	if ((e = pv_secure_messaging(&c, root, &p->spec)) != DFI_OK)
		return e;
	json_t *apps;
	struct dfi_profile_app *a;
	size_t n;
	if ((e = pv_member(&c, root, "", "applications", 1, &apps)) != DFI_OK ||
	    (a = pv_array_table(&c, apps, "applications", 0, DFI_PROFILE_MAX_APPS, sizeof(*a), &n,
		 &e)) == NULL)
		return e;
	p->spec.apps = a;
	for (size_t i = 0; i < n; i++) {
		char ap[PATH_MAX_LEN];
		pv_join_idx(ap, "applications", i);
		if ((e = parse_app(&c, json_array_get(apps, i), ap, &a[i], a, i)) != DFI_OK)
			return e;
		p->spec.napps = i + 1;
	}
	if ((e = pv_secure_messaging_keys(&c, &p->spec)) != DFI_OK)
		return e;
	if ((e = uid_key_check(&c, &p->spec)) != DFI_OK)
		return e;
	return pv_validate_sdm(&c, root); /* validate_sdm.c */
}
