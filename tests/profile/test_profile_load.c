/* Profile loading: every shipped example loads; broken profiles are
 * rejected with a message naming file, line and field. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "dfissue/profile.h"

static const char *
src_dir(void)
{
	const char *s = getenv("DFI_SOURCE_DIR");
	ck_assert_ptr_nonnull(s);
	return s;
}

static dfi_profile *
load_example(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/%s", src_dir(), name);
	dfi_profile *p = NULL;
	struct dfi_diag d;
	dfi_err e = dfi_profile_load(&p, path, &d);
	if (e != DFI_OK)
		ck_abort_msg("%s", d.message);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(every_example_loads)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/profiles", src_dir());
	DIR *dp = opendir(dir);
	ck_assert_ptr_nonnull(dp);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		dfi_profile *p = load_example(de->d_name);
		ck_assert_ptr_nonnull(dfi_profile_spec(p)->name);
		dfi_profile_free(p);
		n++;
	}
	closedir(dp);
	ck_assert_int_ge(n, 3); /* reference, minimal, des-legacy */
}
END_TEST

START_TEST(reference_tree)
{
	dfi_profile *p = load_example("reference.json");
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	ck_assert_str_eq(s->name, "reference");
	ck_assert_int_eq(dfi_profile_needs_batch(p), 1);
	ck_assert_uint_eq(dfi_profile_field_count(p), 4);
	ck_assert_str_eq(dfi_profile_field_name(p, 0), "card_number");
	ck_assert_str_eq(dfi_profile_field_name(p, 1), "holder");
	ck_assert_str_eq(dfi_profile_field_name(p, 2), "secret_id");
	ck_assert_str_eq(dfi_profile_field_name(p, 3), "site_code");
	ck_assert_ptr_null(dfi_profile_field_name(p, 4));

	/* PICC: AES key, settings hardened to "change MK only", format disabled */
	ck_assert_int_eq(s->picc.key.type, DFI_KT_AES128);
	ck_assert_str_eq(s->picc.key.base_key,
	    "pkcs11:object=picc-master;type=secret-key");
	ck_assert_uint_eq(s->picc.key.version, 1);
	ck_assert_uint_eq(s->picc.key.generation, 1);
	ck_assert_uint_eq(s->picc.key.ndiv, 3);
	ck_assert_int_eq(s->picc.key.div[0].kind, DFI_SEG_UID);
	ck_assert_int_eq(s->picc.key.div[1].kind, DFI_SEG_AID);
	ck_assert_int_eq(s->picc.key.div[2].kind, DFI_SEG_BYTES);
	ck_assert_hex_eq(s->picc.key.div[2].bytes, s->picc.key.div[2].len, "4E585020416275");
	ck_assert_uint_eq(s->picc.key_settings, 0x01);
	ck_assert_int_eq(s->picc.config.present, 1);
	ck_assert_int_eq(s->picc.config.format_disabled, 1);
	ck_assert_int_eq(s->picc.config.random_uid, 0);

	ck_assert_uint_eq(s->napps, 2);
	const struct dfi_profile_app *a = &s->apps[0];
	ck_assert_hex_eq(a->aid, 3, "F54010");
	ck_assert_str_eq(a->name, "access");
	ck_assert_uint_eq(a->key_settings, 0x01);
	ck_assert_uint_eq(a->nkeys, 3);
	for (size_t i = 0; i < a->nkeys; i++) {
		ck_assert_uint_eq(a->keys[i].number, i);
		ck_assert_int_eq(a->keys[i].type, DFI_KT_AES128);
	}
	ck_assert_uint_eq(a->nfiles, 3);
	ck_assert_int_eq(a->files[0].type, DFI_DF_FILE_STD);
	ck_assert_int_eq(a->files[0].comm, DFI_DF_COMM_PLAIN);
	ck_assert_uint_eq(a->files[0].size, 32);
	ck_assert_uint_eq(a->files[0].ncontent, 3);
	ck_assert_uint_eq(dfi_df_access_encode(&a->files[0].access), 0xE220);
	ck_assert_int_eq(a->files[1].type, DFI_DF_FILE_BACKUP);
	ck_assert_int_eq(a->files[1].comm, DFI_DF_COMM_ENC);
	ck_assert_int_eq(a->files[2].type, DFI_DF_FILE_VALUE);
	ck_assert_int_eq(a->files[2].comm, DFI_DF_COMM_MAC);
	ck_assert_int_eq(a->files[2].lower_limit, 0);
	ck_assert_int_eq(a->files[2].upper_limit, 100000);
	ck_assert_int_eq(a->files[2].value, 500);
	ck_assert_int_eq(a->files[2].limited_credit, 1);

	a = &s->apps[1];
	ck_assert_hex_eq(a->aid, 3, "F54020");
	/* free listing, keys change themselves */
	ck_assert_uint_eq(a->key_settings, 0xE2);
	ck_assert_uint_eq(a->keys[1].version, 2);
	ck_assert_int_eq(a->keys[1].div[3].kind, DFI_SEG_FIELD);
	ck_assert_str_eq(a->keys[1].div[3].field, "site_code");
	ck_assert_int_eq(a->files[0].type, DFI_DF_FILE_LINEAR_RECORD);
	ck_assert_uint_eq(a->files[0].record_size, 16);
	ck_assert_uint_eq(a->files[0].max_records, 4);
	ck_assert_uint_eq(a->files[0].nrecords, 2);
	ck_assert_int_eq(a->files[1].type, DFI_DF_FILE_CYCLIC_RECORD);
	ck_assert_uint_eq(a->files[1].nrecords, 1);
	ck_assert_uint_eq(dfi_df_access_encode(&a->files[2].access), 0xEF0F);
	dfi_profile_free(p);
}
END_TEST

START_TEST(other_examples)
{
	dfi_profile *p = load_example("minimal.json");
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	ck_assert_int_eq(dfi_profile_needs_batch(p), 0);
	ck_assert_uint_eq(dfi_profile_field_count(p), 0);
	ck_assert_uint_eq(s->picc.key_settings, 11);
	ck_assert_int_eq(s->picc.config.present, 0);
	ck_assert_uint_eq(s->apps[0].nfiles, 1);
	ck_assert_uint_eq(s->apps[0].files[0].content[0].len, 14);
	dfi_profile_free(p);

	p = load_example("des-legacy.json");
	s = dfi_profile_spec(p);
	ck_assert_int_eq(s->apps[0].key_type, DFI_KT_2K3DES);
	ck_assert_int_eq(s->apps[0].keys[1].type, DFI_KT_2K3DES);
	ck_assert_uint_eq(s->apps[0].key_settings, 0x0B);
	ck_assert_int_eq(s->apps[0].files[0].lower_limit, -1000);
	ck_assert_int_eq(s->apps[1].key_type, DFI_KT_3K3DES);
	ck_assert_uint_eq(s->apps[1].key_settings, 0x0F);
	dfi_profile_free(p);
}
END_TEST

START_TEST(missing_file_is_io_error)
{
	dfi_profile *p = (dfi_profile *)1;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load(&p, "/nonexistent/dir/x.json", &d), DFI_E_IO);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(d.file, "/nonexistent/dir/x.json");
	ck_assert_ptr_nonnull(strstr(d.message, "/nonexistent/dir/x.json: cannot open"));
}
END_TEST

/* ---- the table of broken profiles ------------------------------------------ */

/* Building blocks, one line each, so the expected line numbers below can be
 * read off: HEAD is line 1, PICC line 2, APPS line 3, KEYS line 4. */
#define HEAD "{\"schema\": \"dfissue-profile/1\", \"name\": \"t\",\n"
#define PICC "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n"
#define APPS "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"aes\", \"key_settings\": 11,\n"
#define KEYS "\"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\", \"aid\"]}, {\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\", \"aid\", \"hex:01\"]}],\n"
#define ACC "\"access\": {\"read\": \"free\", \"write\": 0, \"read_write\": 0, \"change\": 0}"
#define STD(n, size) "{\"number\": " #n ", \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": " #size "}"
#define FILES(...) "\"files\": [\n" __VA_ARGS__ "]}]}\n"
/* A document with one application whose files (from line 6 on) are given. */
#define DOC(...) HEAD PICC APPS KEYS FILES(__VA_ARGS__)

struct bad {
	const char *json;
	const char *msg; /* the whole expected message, or its start if prefix */
	int prefix;
};

static const struct bad bad_profiles[] = {
	/* syntax and structure */
	{ "{\"schema\": \n", "t.json:2: invalid JSON: ", 1 },
	{ HEAD "\"name\": \"u\"}", "t.json:2: invalid JSON: duplicate object key", 1 },
	{ "[1, 2]", "t.json:1: the profile must be a JSON object (got an array)", 0 },
	{ "{\"schema\": 1}", "t.json:1: schema: must be a string (got an integer)", 0 },
	{ "{\"schema\": \"dfissue-profile/2\"}",
	    "t.json:1: schema: must be \"dfissue-profile/1\" (got \"dfissue-profile/2\")", 0 },
	{ HEAD PICC "\"aplications\": []}",
	    "t.json:3: aplications: unknown member in the profile (allowed: schema, name, "
	    "description, picc, applications, originality, secure_messaging)", 0 },
	/* a member name written with an escape is found on its line too */
	{ HEAD PICC "\"applications\": [],\n\"\\u0061ppl\\tications\": []}",
	    "t.json:4: appl?ications: unknown member in the profile (allowed: schema, name, "
	    "description, picc, applications, originality, secure_messaging)", 0 },
	{ HEAD PICC "\"applications\": [],\n\"\\u0061pplication\": []}",
	    "t.json:4: application: unknown member in the profile (allowed: schema, name, "
	    "description, picc, applications, originality, secure_messaging)", 0 },
	{ "{\"schema\": \"dfissue-profile/1\", \"name\": \"t\",\n" PICC "\"description\": \"d\"}",
	    "t.json:1: applications: required member missing", 0 },
	{ HEAD "\"picc\": {\"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key: required member missing", 0 },
	{ HEAD "\"picc\": 7, \"applications\": []}", "t.json:2: picc: must be an object (got an integer)", 0 },
	/* keys */
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes256\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.type: must be \"des\", \"2k3des\", \"3k3des\" or \"aes\" (got \"aes256\")", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\",\n\"base_key\": \"file:/tmp/k\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.base_key: must be a PKCS#11 URI starting with \"pkcs11:\" (RFC 7512)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=a b\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.base_key: characters outside the URI alphabet must be percent-encoded (RFC 7512)", 0 },
	/* What the HSM layer's p11-kit parse would refuse is refused at load. */
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:objet=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.base_key: has an attribute p11-kit does not know, so it would match no key (a key is named with object=, id= and type=, its token with token=)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p;type=secret\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.base_key: has an attribute p11-kit does not know, so it would match no key (a key is named with object=, id= and type=, its token with token=)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p;id\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.base_key: each attribute must be NAME=VALUE, separated by ';' (RFC 7512)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p?pin-value=1234\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:2: picc.key.base_key: a PIN in a URI is refused: give dfissue the PIN in a file, a variable or at the prompt", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:token=T%20X;object=p;type=secret-key;id=%01?module-name=softhsm2\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": [],\n\"x\": 1}",
	    "t.json:4: x: unknown member in the profile (allowed: schema, name, description, picc, "
	    "applications, originality, secure_messaging)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\",\n\"version\": 256, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.version: must be 0..255 (got 256)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1,\n\"diversification\": [\"aid\", \"sysid:4E585020416275\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.diversification: must contain \"uid\": every card needs its own keys", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1,\n\"diversification\": [\"uid\",\n\"serial\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:4: picc.key.diversification[1]: unknown item \"serial\" (expected \"uid\", \"aid\", \"sysid:HEX\", \"hex:HEX\" or \"field:NAME\")", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1,\n\"diversification\": [\"uid\", \"hex:00112233445566778899AABBCCDDEEFF00112233445566778899\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.diversification[1]: diversification input exceeds 31 bytes (AN10922)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1,\n\"diversification\": [\"uid\", \"sysid:4E58502\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.diversification[1]: not a valid hex string (pairs of 0-9, A-F)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]},\n\"key_settings\": 31},\n\"applications\": []}",
	    "t.json:3: picc.key_settings: bits 7..4 of the PICC key settings are reserved and must be 0 (got 0x1F)", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]},\n\"key_settings\": {\"allow_change_mk\": true, \"free_listing\": false, \"free_create_delete\": false}},\n\"applications\": []}",
	    "t.json:3: picc.key_settings.config_changeable: required member missing", 0 },
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n\"configuration\": {\"random_uid\": 1}},\n\"applications\": []}",
	    "t.json:3: picc.configuration.random_uid: must be true or false (got an integer)", 0 },
	/* random ID and the UID key (issue 12) */
#define PICC_U(extra) "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n" extra "},\n"
#define APP_U(div) "\"applications\": [{\"aid\": \"A1A2A3\", \"key_type\": \"aes\", \"key_settings\": 11, \"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1,\n\"diversification\": " div "}]}]}"
	{ HEAD PICC_U("\"configuration\": {\"random_uid\": true}") "\"applications\": []}",
	    "t.json:3: picc.configuration.random_uid: needs picc.uid_key: a key diversified without the UID, to read a random-ID card's UID with", 0 },
	{ HEAD PICC_U("\"configuration\": {\"random_uid_early\": true}") "\"applications\": []}",
	    "t.json:3: picc.configuration.random_uid_early: needs \"random_uid\": true", 0 },
	{ HEAD PICC_U("\"uid_key\": {\"application\": \"A1A2A4\", \"key\": 0}") APP_U("[\"uid\", \"aid\"]"),
	    "t.json:3: picc.uid_key.application: no application A1A2A4 in the profile", 0 },
	{ HEAD PICC_U("\"uid_key\": {\"application\": \"A1A2A3\", \"key\": 1}") APP_U("[\"uid\", \"aid\"]"),
	    "t.json:3: picc.uid_key.key: application A1A2A3 has 1 key(s): no key 1", 0 },
	{ HEAD PICC_U("\"uid_key\": {\"application\": \"000000\", \"key\": 0}") APP_U("[\"aid\"]"),
	    "t.json:3: picc.uid_key.application: must be the 6 hex digits of one of the profile's applications (the PICC master key is diversified with the UID), got \"000000\"", 0 },
	{ HEAD PICC_U("\"uid_key\": {\"application\": \"A1A2A3\", \"key\": 0}") APP_U("[\"aid\", \"uid\"]"),
	    "t.json:5: applications[0].keys[0].diversification[1]: the UID key (picc.uid_key) opens random-ID cards before their UID is known: its diversification takes no \"uid\" nor \"field:\" (use \"aid\", \"sysid:HEX\", \"hex:HEX\")", 0 },
	{ HEAD PICC_U("\"uid_key\": {\"application\": \"A1A2A3\", \"key\": 0}") APP_U("[\"aid\", \"field:serial\"]"),
	    "t.json:5: applications[0].keys[0].diversification[1]: the UID key (picc.uid_key) opens random-ID cards before their UID is known: its diversification takes no \"uid\" nor \"field:\" (use \"aid\", \"sysid:HEX\", \"hex:HEX\")", 0 },
	/* transport keys and originality */
#define PICC_T(t) "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n\"transport_key\": " t "},\n\"applications\": []}"
	{ HEAD PICC_T("\"zero\""),
	    "t.json:3: picc.transport_key: must be \"factory\" or a key object (got \"zero\")", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"version\": 0}"),
	    "t.json:3: picc.transport_key: needs exactly one of \"key\" (one static HSM key for every card) and \"base_key\" with \"diversification\" (a key per card)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"key\": \"pkcs11:object=t\", \"base_key\": \"pkcs11:object=t\", \"version\": 0}"),
	    "t.json:3: picc.transport_key: needs exactly one of \"key\" (one static HSM key for every card) and \"base_key\" with \"diversification\" (a key per card)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"key\": \"pkcs11:object=t\", \"version\": 0, \"diversification\": [\"uid\"]}"),
	    "t.json:3: picc.transport_key.diversification: unknown member in a static transport key (allowed: type, key, version)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"key\": \"nope\", \"version\": 0}"),
	    "t.json:3: picc.transport_key.key: must be a PKCS#11 URI starting with \"pkcs11:\" (RFC 7512)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"key\": \"pkcs11:object=t%4\", \"version\": 0}"),
	    "t.json:3: picc.transport_key.key: a '%' must be followed by two hex digits (RFC 7512)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"base_key\": \"pkcs11:object=t\", \"version\": 0, \"diversification\": [\"aid\"]}"),
	    "t.json:3: picc.transport_key.diversification: must contain \"uid\": every card needs its own keys", 0 },
	/* a target key's version is not the factory's 0, a transport key's is
	 * not the target PICC key's (at load, with the line: audit k33p) */
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\",\n\"version\": 0, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n\"applications\": []}",
	    "t.json:3: picc.key.version: must be 1..255: 0 is the factory version, and a changed key must be told from a factory one (got 0)", 0 },
	{ HEAD PICC APPS "\"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\"]},\n{\"base_key\": \"pkcs11:object=k\", \"version\": 0, \"diversification\": [\"uid\"]}]}]}",
	    "t.json:5: applications[0].keys[1].version: must be 1..255: 0 is the factory version, and a changed key must be told from a factory one (got 0)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"key\": \"pkcs11:object=t\", \"version\": 1}"),
	    "t.json:3: picc.transport_key.version: must differ from picc.key.version 1: the version tells a changed PICC key from the transport key (got 1)", 0 },
	{ HEAD PICC_T("{\"type\": \"aes\", \"base_key\": \"pkcs11:object=t\", \"version\": 1, \"diversification\": [\"uid\"]}"),
	    "t.json:3: picc.transport_key.version: must differ from picc.key.version 1: the version tells a changed PICC key from the transport key (got 1)", 0 },
	{ HEAD PICC "\"applications\": [],\n\"originality\": \"maybe\"}",
	    "t.json:4: originality: must be \"require\", \"warn\" or \"off\" (got \"maybe\")", 0 },
	{ HEAD PICC "\"applications\": [],\n\"originality\": {\"policy\": \"strict\"}}",
	    "t.json:4: originality.policy: must be \"require\", \"warn\" or \"off\" (got \"strict\")", 0 },
	{ HEAD PICC "\"applications\": [],\n\"originality\": {\"policy\": \"require\", \"keys\": \"k\"}}",
	    "t.json:4: originality.keys: unknown member in originality (allowed: policy, trusted_keys)", 0 },
	{ HEAD PICC "\"applications\": [],\n\"secure_messaging\": \"ev2\"}",
	    "t.json:4: secure_messaging: must be \"auto\", \"ev1\" or \"lrp\" (got \"ev2\")", 0 },
	/* LRP authenticates AES keys only (issue 20) */
	{ HEAD "\"picc\": {\"key\": {\"type\": \"2k3des\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n"
	  "\"applications\": [],\n\"secure_messaging\": \"lrp\"}",
	    "t.json:4: secure_messaging: \"lrp\" needs AES keys: picc.key is 2K3DES (LRP authenticates AES keys only)", 0 },
	{ HEAD PICC "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"2k3des\", \"key_settings\": 11,\n" KEYS "\"files\": []}],\n\"secure_messaging\": \"lrp\"}",
	    "t.json:6: secure_messaging: \"lrp\" needs AES keys: applications[0] has 2K3DES keys (LRP authenticates AES keys only)", 0 },
	{ HEAD PICC "\"applications\": [],\n\"secure_messaging\": 1}",
	    "t.json:4: secure_messaging: ", 1 },
	/* applications */
	{ HEAD PICC "\"applications\": [{\"aid\": \"000000\", \"key_type\": \"aes\"}]}",
	    "t.json:3: applications[0].aid: 000000 is the PICC itself, not an application", 0 },
	{ HEAD PICC "\"applications\": [{\"aid\": \"F5401\", \"key_type\": \"aes\"}]}",
	    "t.json:3: applications[0].aid: must be 6 hex digits (3 bytes in command order), got \"F5401\"", 0 },
	{ HEAD PICC APPS KEYS "\"files\": []},\n{\"aid\": \"f00001\"}]}",
	    "t.json:6: applications[1].aid: AID f00001 is already used by applications[0]", 0 },
	{ HEAD PICC APPS "\"keys\": []}]}",
	    "t.json:4: applications[0].keys: must have 1..14 elements (got 0)", 0 },
	{ HEAD PICC APPS "\"keys\": [{\"type\": \"aes\", \"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\"]}]}]}",
	    "t.json:4: applications[0].keys[0].type: unknown member in an application key (its type is the application's key_type) (allowed: base_key, version, generation, diversification, previous)", 0 },
	{ HEAD PICC "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"aes\",\n\"key_settings\": {\"allow_change_mk\": true, \"free_listing\": true, \"free_create_delete\": false, \"config_changeable\": true, \"change_key_access\": 3},\n" KEYS "\"files\": []}]}",
	    "t.json:4: applications[0].key_settings.change_key_access: must be 0..1 (got 3)", 0 },
	{ HEAD PICC "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"aes\",\n\"key_settings\": 82,\n" KEYS "\"files\": []}]}",
	    "t.json:4: applications[0].key_settings: bits 7..4 name key 5, but the application has 2 keys", 0 },
	{ HEAD PICC "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"aes\",\n\"key_settings\": {\"allow_change_mk\": true, \"free_listing\": true, \"free_create_delete\": false, \"config_changeable\": true, \"change_key_access\": \"anyone\"},\n" KEYS "\"files\": []}]}",
	    "t.json:4: applications[0].key_settings.change_key_access: must be \"master\", \"same\", \"frozen\" or a key number 0..1", 0 },
	/* files */
	{ DOC(STD(0, 0)), "t.json:6: applications[0].files[0].size: must be 1..8192 (got 0)", 0 },
	{ DOC(STD(32, 16)), "t.json:6: applications[0].files[0].number: must be 0..31 (got 32)", 0 },
	{ DOC(STD(1, 16) ",\n" STD(1, 16)),
	    "t.json:7: applications[0].files[1].number: file number 1 is already used by files[0]", 0 },
	{ DOC(STD(1, 8192) ",\n" STD(2, 32)),
	    "t.json:7: applications[0].files[1]: the files up to here need 8224 bytes of card memory (32-byte blocks); no DESFire card has more than 8192", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\",\n\"access\": {\"read\": \"free\", \"write\": 2, \"read_write\": 0, \"change\": 0}, \"size\": 8}"),
	    "t.json:7: applications[0].files[0].access.write: key 2 does not exist: the application has keys 0..1", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\",\n\"access\": {\"read\": \"anyone\", \"write\": 0, \"read_write\": 0, \"change\": 0}, \"size\": 8}"),
	    "t.json:7: applications[0].files[0].access.read: must be a key number 0..1, \"free\" or \"never\"", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", \"access\": {\"read\": 0, \"write\": 0, \"change\": 0}, \"size\": 8}"),
	    "t.json:6: applications[0].files[0].access.read_write: required member missing", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"encrypted\", " ACC ", \"size\": 8}"),
	    "t.json:6: applications[0].files[0].comm: must be \"plain\", \"mac\" or \"full\" (got \"encrypted\")", 0 },
	{ DOC("{\"number\": 0, \"type\": \"data\", \"comm\": \"plain\", " ACC ", \"size\": 8}"),
	    "t.json:6: applications[0].files[0].type: must be \"std\", \"backup\", \"value\", \"linear\" or \"cyclic\" (got \"data\")", 0 },
	{ DOC("{\"number\": 0, \"type\": \"value\", \"comm\": \"plain\", " ACC ",\n\"size\": 8}"),
	    "t.json:7: applications[0].files[0].size: unknown member in a value file (allowed: number, name, type, comm, access, lower_limit, upper_limit, value, limited_credit)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"value\", \"comm\": \"plain\", " ACC ",\n\"lower_limit\": 10, \"upper_limit\": 5, \"value\": 7}"),
	    "t.json:7: applications[0].files[0].upper_limit: must be >= lower_limit (10 > 5)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"value\", \"comm\": \"plain\", " ACC ",\n\"lower_limit\": 0, \"upper_limit\": 5,\n\"value\": 7}"),
	    "t.json:8: applications[0].files[0].value: must be within lower_limit..upper_limit (0..5, got 7)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"value\", \"comm\": \"plain\", " ACC ",\n\"lower_limit\": -2147483649, \"upper_limit\": 5, \"value\": 0}"),
	    "t.json:7: applications[0].files[0].lower_limit: must be -2147483648..2147483647 (got -2147483649)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"cyclic\", \"comm\": \"plain\", " ACC ",\n\"record_size\": 8, \"max_records\": 1}"),
	    "t.json:7: applications[0].files[0].max_records: must be 2..8192 (got 1)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"linear\", \"comm\": \"plain\", " ACC ",\n\"record_size\": 100, \"max_records\": 100}"),
	    "t.json:7: applications[0].files[0].max_records: record_size * max_records = 10000 bytes: more than the 8192 of the largest card", 0 },
	{ DOC("{\"number\": 0, \"type\": \"cyclic\", \"comm\": \"plain\", " ACC ",\n\"record_size\": 4, \"max_records\": 2,\n\"records\": [{\"hex\": \"01\"}, {\"hex\": \"02\"}]}"),
	    "t.json:8: applications[0].files[0].records: must have 0..1 elements (got 2)", 0 },
	{ DOC("{\"number\": 0, \"type\": \"linear\", \"comm\": \"plain\", " ACC ",\n\"record_size\": 4, \"max_records\": 2,\n\"records\": [{\"hex\": \"01\"},\n[{\"hex\": \"0102\"}, {\"text\": \"abc\"}]]}"),
	    "t.json:9: applications[0].files[0].records[1][1]: content is at least 5 bytes, more than the 4 available", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": {\"text\": \"hello\"}}"),
	    "t.json:7: applications[0].files[0].content: content is at least 5 bytes, more than the 4 available", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": {\"text\": \"hi\", \"hex\": \"00\"}}"),
	    "t.json:7: applications[0].files[0].content: must have exactly one of \"hex\", \"text\" or \"field\"", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": [{\"text\": \"hi\",\n\"format\": \"be16\"}]}"),
	    "t.json:8: applications[0].files[0].content[0].format: only a \"field\" segment has a format", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": [{\"field\": \"n\", \"format\": \"be64\"}]}"),
	    "t.json:7: applications[0].files[0].content[0].format: must be one of auto, u8, le16, be16, le32, be32, decimal (got \"be64\")", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": [{\"field\": \"n\", \"format\": \"be32\"}, {\"field\": \"m\", \"format\": \"u8\"}]}"),
	    "t.json:7: applications[0].files[0].content[1]: content is at least 5 bytes, more than the 4 available", 0 },
	{ DOC("{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", " ACC ", \"size\": 4,\n\"content\": {\"field\": \"bad name\"}}"),
	    "t.json:7: applications[0].files[0].content.field: field name must be 1..64 of A-Z a-z 0-9 _ . -", 0 },
};

START_TEST(broken_profile)
{
	const struct bad *b = &bad_profiles[_i];
	dfi_profile *p = (dfi_profile *)1;
	struct dfi_diag d;
	dfi_err e = dfi_profile_load_buffer(&p, "t.json", b->json, strlen(b->json), &d);
	ck_assert_int_eq(e, DFI_E_PROFILE);
	ck_assert_ptr_null(p);
	if (b->prefix) {
		if (strncmp(d.message, b->msg, strlen(b->msg)) != 0)
			ck_abort_msg("case %d: got \"%s\", want prefix \"%s\"", _i, d.message, b->msg);
	} else if (strcmp(d.message, b->msg) != 0) {
		ck_abort_msg("case %d: got \"%s\", want \"%s\"", _i, d.message, b->msg);
	}
	ck_assert_str_eq(d.file, "t.json");
	ck_assert_int_gt(d.line, 0);
}
END_TEST

/* The same document without the fault loads: the table tests what it says. */
START_TEST(transport_and_originality)
{
	static const char doc[] = HEAD
	    "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n"
	    "\"transport_key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=t\", \"version\": 0, \"generation\": 2, \"diversification\": [\"uid\", \"sysid:01\"]}},\n"
	    "\"applications\": [], \"originality\": {\"policy\": \"require\", \"trusted_keys\": \"../profiles/originality-nxp.keys\"}}";
	dfi_profile *p;
	struct dfi_diag d;
	char name[4096], keys[4096];
	snprintf(name, sizeof(name), "%s/tests/t.json", src_dir());
	snprintf(keys, sizeof(keys), "%s/tests/../profiles/originality-nxp.keys", src_dir());
	ck_assert_msg(dfi_profile_load_buffer(&p, name, doc, strlen(doc), &d) == DFI_OK,
	    "%s", d.message);
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	ck_assert_int_eq(s->picc.transport.kind, DFI_TRANSPORT_DIVERSIFIED);
	ck_assert_int_eq(s->picc.transport.key.type, DFI_KT_AES128);
	ck_assert_str_eq(s->picc.transport.key.base_key, "pkcs11:object=t");
	ck_assert_uint_eq(s->picc.transport.key.version, 0);
	ck_assert_uint_eq(s->picc.transport.key.generation, 2);
	ck_assert_uint_eq(s->picc.transport.key.ndiv, 2);
	ck_assert_int_eq(s->originality.policy, DFI_ORIGINALITY_REQUIRE);
	/* relative to the profile's directory */
	ck_assert_str_eq(s->originality.trusted_keys, keys);
	dfi_profile_free(p);

	static const char doc2[] = HEAD
	    "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n"
	    "\"transport_key\": {\"type\": \"2k3des\", \"key\": \"pkcs11:object=t\", \"version\": 7}},\n"
	    "\"applications\": [], \"originality\": \"off\"}";
	ck_assert_msg(dfi_profile_load_buffer(&p, "t.json", doc2, strlen(doc2), &d) == DFI_OK, "%s", d.message);
	s = dfi_profile_spec(p);
	ck_assert_int_eq(s->picc.transport.kind, DFI_TRANSPORT_STATIC);
	ck_assert_int_eq(s->picc.transport.key.type, DFI_KT_2K3DES);
	ck_assert_uint_eq(s->picc.transport.key.version, 7);
	ck_assert_ptr_null(s->picc.transport.key.div);
	ck_assert_int_eq(s->originality.policy, DFI_ORIGINALITY_OFF);
	ck_assert_ptr_null(s->originality.trusted_keys);
	dfi_profile_free(p);

	/* absent: factory cards, originality warn with the built-in keys */
	static const char doc3[] = HEAD PICC "\"applications\": []}";
	ck_assert_msg(dfi_profile_load_buffer(&p, "t.json", doc3, strlen(doc3), &d) == DFI_OK, "%s", d.message);
	s = dfi_profile_spec(p);
	ck_assert_int_eq(s->picc.transport.kind, DFI_TRANSPORT_FACTORY);
	ck_assert_int_eq(s->originality.policy, DFI_ORIGINALITY_WARN);
	ck_assert_ptr_null(s->originality.trusted_keys);
	dfi_profile_free(p);
}
END_TEST

/* originality.trusted_keys is read at load by the parser personalization
 * uses: a bad line or a missing file is named with the profile's line
 * (audit k33p); with the policy "off" the file is not read. */
START_TEST(trusted_keys_checked_at_load)
{
	char dir[] = "/tmp/dfi-tk-XXXXXX", name[128], keys[128], want[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(name, sizeof(name), "%s/tk.json", dir);
	snprintf(keys, sizeof(keys), "%s/my-keys.keys", dir);
#define TK_DOC HEAD PICC "\"applications\": [],\n\"originality\": {\"policy\": \"%s\",\n\"trusted_keys\": \"my-keys.keys\"}}"
	char text[2048];
	dfi_profile *p = NULL;
	struct dfi_diag d;

	/* missing */
	int n = snprintf(text, sizeof(text), TK_DOC, "warn");
	ck_assert_int_eq(dfi_profile_load_buffer(&p, name, text, (size_t)n, &d), DFI_E_PROFILE);
	snprintf(want, sizeof(want), "%s:5: originality.trusted_keys: %s: cannot open the trusted "
	    "originality keys: No such file or directory", name, keys);
	ck_assert_str_eq(d.message, want);
	ck_assert_str_eq(d.field, "originality.trusted_keys");

	/* not a regular file: a FIFO or a terminal would hang the loader */
	ck_assert_int_eq(mkdir(keys, 0700), 0);
	ck_assert_int_eq(dfi_profile_load_buffer(&p, name, text, (size_t)n, &d), DFI_E_PROFILE);
	snprintf(want, sizeof(want), "%s:5: originality.trusted_keys: %s: the trusted originality "
	    "keys must be a regular file", name, keys);
	ck_assert_str_eq(d.message, want);
	ck_assert_int_eq(rmdir(keys), 0);

	/* a bad line, as the audit's my-keys.keys */
	FILE *f = fopen(keys, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# vendor keys\nvendor 04AB\n", f);
	fclose(f);
	n = snprintf(text, sizeof(text), TK_DOC, "require");
	ck_assert_int_eq(dfi_profile_load_buffer(&p, name, text, (size_t)n, &d), DFI_E_PROFILE);
	snprintf(want, sizeof(want), "%s:5: originality.trusted_keys: %s:2: the public key must be "
	    "114 hex digits (04 || X || Y on secp224r1), got 4", name, keys);
	ck_assert_str_eq(d.message, want);

	/* "off" reads no file (personalization does not either) */
	n = snprintf(text, sizeof(text), TK_DOC, "off");
	ck_assert_msg(dfi_profile_load_buffer(&p, name, text, (size_t)n, &d) == DFI_OK, "%s",
	    d.message);
	dfi_profile_free(p);
	ck_assert_int_eq(unlink(keys), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(table_base_is_valid)
{
	static const char ok[] = DOC(STD(1, 16) ",\n" STD(2, 32));
	dfi_profile *p;
	struct dfi_diag d;
	dfi_err e = dfi_profile_load_buffer(&p, "t.json", ok, strlen(ok), &d);
	if (e != DFI_OK)
		ck_abort_msg("%s", d.message);
	ck_assert_uint_eq(dfi_profile_spec(p)->apps[0].nfiles, 2);
	dfi_profile_free(p);
}
END_TEST

START_TEST(too_many_applications)
{
	char buf[16384];
	size_t n = (size_t)snprintf(buf, sizeof(buf), HEAD PICC "\"applications\": [\n");
	for (int i = 0; i < 29; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "%s{\"aid\": \"%06X\", \"key_type\": \"aes\", \"key_settings\": 11, \"keys\": "
		    "[{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": "
		    "[\"uid\"]}]}\n",
		    i ? "," : "", i + 1);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}");
	ck_assert_uint_lt(n, sizeof(buf));
	dfi_profile *p;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "t.json", buf, n, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "t.json:3: applications: must have 0..28 elements (got 29)");
	ck_assert_str_eq(d.field, "applications");
}
END_TEST

/* Errors deep in a long, indented document point at the right line. */
START_TEST(line_of_deep_field)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/reference.json", src_dir());
	char buf[65536];
	size_t n = dfi_test_read_file(path, buf, sizeof(buf));
	/* Break the cyclic file's record size and find its line by hand. */
	char *at = strstr(buf, "\"record_size\": 8,");
	ck_assert_ptr_nonnull(at);
	memcpy(at, "\"record_size\": 0,", 17);
	int line = 1;
	for (char *q = buf; q < at; q++)
		line += *q == '\n';
	dfi_profile *p;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "reference.json", buf, n, &d), DFI_E_PROFILE);
	char want[256];
	snprintf(want, sizeof(want),
	    "reference.json:%d: applications[1].files[1].record_size: must be 1..8192 (got 0)", line);
	ck_assert_str_eq(d.message, want);
	ck_assert_str_eq(d.field, "applications[1].files[1].record_size");
	ck_assert_int_eq(d.line, line);
	ck_assert_int_gt(d.column, 1);
}
END_TEST

START_TEST(no_diag_and_empty_input)
{
	dfi_profile *p;
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "e.json", "", 0, NULL), DFI_E_PROFILE);
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "e.json", "{}", 2, NULL), DFI_E_PROFILE);
	ck_assert_int_eq(dfi_profile_load_buffer(NULL, "e.json", "{}", 2, NULL), DFI_E_INVALID_ARG);
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "e.json", "{}", 2, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "e.json:1: schema: required member missing");
	static const char nul[] = "{\"schema\":\n 0\0}";
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "n.json", nul, sizeof(nul) - 1, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "n.json:2: invalid JSON: NUL byte in the text");
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("profile_load", broken_profile, DFI_TEST_ROWS(bad_profiles),
	    (const TTest *[]){ every_example_loads, reference_tree, other_examples,
	    missing_file_is_io_error, table_base_is_valid, transport_and_originality,
	    trusted_keys_checked_at_load,
	    too_many_applications, line_of_deep_field, no_diag_and_empty_input, NULL });
}
