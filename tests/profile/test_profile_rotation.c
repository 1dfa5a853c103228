/*
 * Key rotation's input (issue 12): a key's "previous" generations in a
 * profile (every length and integer checked, line-precise errors), and
 * the intent record's optional old_key_gen field (canonical, and journals
 * without it parse as before).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dfissue/journal.h"
#include "dfissue/profile.h"

#define HEAD "{\"schema\": \"dfissue-profile/1\", \"name\": \"t\",\n"
#define KEY(prev) \
	"\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p2\", \"version\": 2, " \
	"\"generation\": 2, \"diversification\": [\"uid\"],\n\"previous\": " prev "}, \"key_settings\": 11},\n"
#define DOC(prev) HEAD KEY(prev) "\"applications\": []}"

START_TEST(previous_loads)
{
	const char *json = DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1, \"generation\": 1},"
			       " {\"base_key\": \"pkcs11:object=p0\", \"version\": 7, \"generation\": 0}]");
	dfi_profile *p;
	struct dfi_diag d;
	ck_assert_msg(dfi_profile_load_buffer(&p, "t.json", json, strlen(json), &d) == DFI_OK, "%s",
	    d.message);
	const struct dfi_profile_key *k = &dfi_profile_spec(p)->picc.key;
	ck_assert_uint_eq(k->nprevious, 2);
	ck_assert_str_eq(k->previous[0].base_key, "pkcs11:object=p1");
	ck_assert_uint_eq(k->previous[0].version, 1);
	ck_assert_uint_eq(k->previous[0].generation, 1);
	ck_assert_uint_eq(k->previous[1].version, 7);
	ck_assert_uint_eq(k->previous[1].generation, 0);
	dfi_profile_free(p);

	/* Without "previous": none. */
	const char *plain = HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": "
			    "\"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, "
			    "\"key_settings\": 11},\n\"applications\": []}";
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "t.json", plain, strlen(plain), &d), DFI_OK);
	ck_assert_uint_eq(dfi_profile_spec(p)->picc.key.nprevious, 0);
	ck_assert_ptr_null(dfi_profile_spec(p)->picc.key.previous);
	dfi_profile_free(p);
}
END_TEST

static const struct {
	const char *json, *msg;
} bad[] = {
	{ DOC("[]"), "t.json:3: picc.key.previous: must have 1..8 elements (got 0)" },
	{ DOC("{}"), "t.json:3: picc.key.previous: must be an array (got an object)" },
	{ DOC("[1]"), "t.json:3: picc.key.previous[0]: must be an object (got an integer)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 2, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[0].version: must differ from the key's version 2: the "
	    "version tells a rotated key from one still to rotate" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 256, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[0].version: must be 0..255 (got 256)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1, \"generation\": 2}]"),
	    "t.json:3: picc.key.previous[0].generation: must be older than the key's generation 2 (got 2)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1, \"generation\": -1}]"),
	    "t.json:3: picc.key.previous[0].generation: must be 0..65535 (got -1)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1, \"generation\": 1},"
	      " {\"base_key\": \"pkcs11:object=p0\", \"version\": 3, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[1].generation: generation 1 is named twice" },
	{ DOC("[{\"base_key\": \"file:p1\", \"version\": 1, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[0].base_key: must be a PKCS#11 URI starting with \"pkcs11:\" "
	    "(RFC 7512)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=%ZZ\", \"version\": 1, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[0].base_key: a '%' must be followed by two hex digits (RFC 7512)" },
	{ DOC("[{\"version\": 1, \"generation\": 1}]"),
	    "t.json:3: picc.key.previous[0].base_key: required member missing" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1}]"),
	    "t.json:3: picc.key.previous[0].generation: required member missing" },
	{ DOC("[{\"base_key\": \"pkcs11:object=p1\", \"version\": 1, \"generation\": 1, \"type\": \"aes\"}]"),
	    "t.json:3: picc.key.previous[0].type: unknown member in a previous generation (allowed: "
	    "base_key, version, generation)" },
	{ DOC("[{\"base_key\": \"pkcs11:object=a\", \"version\": 1, \"generation\": 1},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 3, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 4, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 5, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 6, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 7, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 8, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 9, \"generation\": 0},"
	      "{\"base_key\": \"pkcs11:object=a\", \"version\": 10, \"generation\": 0}]"),
	    "t.json:3: picc.key.previous: must have 1..8 elements (got 9)" },
	/* a transport key has nothing to rotate from */
	{ HEAD "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", "
	       "\"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11,\n"
	       "\"transport_key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=t\", "
	       "\"version\": 5, \"generation\": 2, \"diversification\": [\"uid\"], \"previous\": "
	       "[{\"base_key\": \"pkcs11:object=t1\", \"version\": 4, \"generation\": 1}]}},\n"
	       "\"applications\": []}",
	    "t.json:3: picc.transport_key.previous: a transport key has no generations to rotate "
	    "from: name older PICC keys in picc.key.previous" },
};

START_TEST(previous_rejected)
{
	dfi_profile *p = (dfi_profile *)1;
	struct dfi_diag d;
	dfi_err e = dfi_profile_load_buffer(&p, "t.json", bad[_i].json, strlen(bad[_i].json), &d);
	ck_assert_msg(e == DFI_E_PROFILE, "case %d loaded", _i);
	ck_assert_ptr_null(p);
	if (bad[_i].msg != NULL && strcmp(d.message, bad[_i].msg) != 0)
		ck_abort_msg("case %d: got \"%s\", want \"%s\"", _i, d.message, bad[_i].msg);
	ck_assert_int_eq(d.line, 3);
	ck_assert_msg(strstr(d.field, "previous") != NULL, "case %d: field %s", _i, d.field);
}
END_TEST

#define INTENT "seq=5 time=2026-12-05T15:36:14Z type=intent uid=04A07A00000001 aid=000000 " \
	"keyno=0 old_version=1 new_version=2 key_label=picc-master-g2 key_objid=- key_gen=2 " \
	"div_input=04A07A00000001"

START_TEST(intent_old_key_gen)
{
	static const char with[] = INTENT " old_key_gen=1 station=e2e";
	static const char without[] = INTENT " station=e2e";
	static const char *const bad_lines[] = {
		INTENT " old_key_gen=01 station=e2e",        /* not canonical */
		INTENT " old_key_gen= station=e2e",
		INTENT " old_key_gen=4294967296 station=e2e", /* > 32 bits */
		INTENT " station=e2e old_key_gen=1",          /* out of order */
		INTENT " old_key_gen=1 old_key_gen=1 station=e2e",
	};
	char line[DFI_J_LINE_MAX + 1];
	dfi_jrec r;
	size_t n;

	ck_assert_int_eq(dfi_jrec_parse(with, strlen(with), &r), DFI_OK);
	ck_assert_int_eq(r.has_old_gen, 1);
	ck_assert_uint_eq(r.old_key_gen, 1);
	ck_assert_uint_eq(r.key_gen, 2);
	ck_assert_int_eq(dfi_jrec_format(&r, line, sizeof(line), &n), DFI_OK);
	ck_assert_str_eq(line, with);

	/* A journal from before rotation: no field, nothing claimed. */
	ck_assert_int_eq(dfi_jrec_parse(without, strlen(without), &r), DFI_OK);
	ck_assert_int_eq(r.has_old_gen, 0);
	ck_assert_int_eq(dfi_jrec_format(&r, line, sizeof(line), &n), DFI_OK);
	ck_assert_str_eq(line, without);

	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++)
		ck_assert_msg(dfi_jrec_parse(bad_lines[i], strlen(bad_lines[i]), &r) ==
		    DFI_E_JOURNAL_FORMAT, "accepted: %s", bad_lines[i]);
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("profile_rotation", previous_rejected, DFI_TEST_ROWS(bad),
	    (const TTest *[]){ previous_loads, intent_old_key_gen, NULL });
}
