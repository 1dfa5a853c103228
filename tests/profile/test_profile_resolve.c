/* Per-card resolution: file contents from literals and batch fields, and
 * AN10922 diversification inputs built from key recipes. */
#include <stdio.h>

#include "testutil.h"

#include "dfissue/profile.h"

static dfi_profile *
load_reference(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/reference.json", getenv("DFI_SOURCE_DIR"));
	dfi_profile *p;
	struct dfi_diag d;
	if (dfi_profile_load(&p, path, &d) != DFI_OK)
		ck_abort_msg("%s", d.message);
	return p;
}

static dfi_profile *
load_text(const char *text)
{
	dfi_profile *p;
	struct dfi_diag d;
	if (dfi_profile_load_buffer(&p, "t.json", text, strlen(text), &d) != DFI_OK)
		ck_abort_msg("%s", d.message);
	return p;
}

/* Row number n (0-based) of a batch given as text. */
static dfi_batch_row *
row_of(const char *name, const char *text, int n)
{
	dfi_batch *b;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_batch_open_buffer(&b, name, DFI_BATCH_AUTO, text, strlen(text), &d), DFI_OK);
	dfi_batch_row *r = NULL;
	for (int i = 0; i <= n; i++) {
		dfi_batch_row_free(r);
		if (dfi_batch_next(b, &r, &d) != DFI_OK)
			ck_abort_msg("%s", d.message);
		ck_assert_ptr_nonnull(r);
	}
	dfi_batch_free(b);
	return r;
}

static const char batch_csv[] =
    "card_number:int,holder,secret_id:hex,site_code:hex\n"
    "1001,Ada Lovelace,00112233445566778899AABBCCDDEEFF,5349544530303031\n"
    "1002,\"Grace Hopper, RADM\",102132435465768798A9BACBDCEDFE0F,5349544530303031\n"
    "4294967296,x,00,5349544530303031\n"
    "7,Someone with a name far too long to fit,00,5349544530303031\n";

START_TEST(reference_card_data)
{
	dfi_profile *p = load_reference();
	dfi_batch_row *row = row_of("b.csv", batch_csv, 1);
	struct dfi_card_data *cd;
	struct dfi_diag d;
	if (dfi_profile_card_data(p, row, &cd, &d) != DFI_OK)
		ck_abort_msg("%s", d.message);
	ck_assert_uint_eq(cd->napps, 2);

	/* app 1 file 0: "DFI1" || be32(1002) || holder, zero padded to 32 */
	const struct dfi_file_data *f = &cd->apps[0].files[0];
	ck_assert_uint_eq(f->len, 32);
	ck_assert_uint_eq(f->content_len, 4 + 4 + 18);
	ck_assert_hex_eq(f->data, f->len,
	    "44464931" "000003EA" "477261636520486F707065722C205241444D" "000000000000");
	/* backup file: the secret */
	f = &cd->apps[0].files[1];
	ck_assert_uint_eq(f->len, 16);
	ck_assert_hex_eq(f->data, f->len, "102132435465768798A9BACBDCEDFE0F");
	/* value file: no data */
	f = &cd->apps[0].files[2];
	ck_assert_ptr_null(f->data);
	ck_assert_uint_eq(f->len, 0);
	ck_assert_ptr_eq(f->file, &dfi_profile_spec(p)->apps[0].files[2]);

	/* linear records: 01 || le32(1002) || "issued", then 02 || "1002" */
	f = &cd->apps[1].files[0];
	ck_assert_uint_eq(f->nrecords, 2);
	ck_assert_uint_eq(f->len, 32);
	ck_assert_hex_eq(f->data, 16, "01" "EA030000" "697373756564" "0000000000");
	ck_assert_hex_eq(f->data + 16, 16, "02" "31303032" "0000000000000000000000");
	f = &cd->apps[1].files[1];
	ck_assert_uint_eq(f->nrecords, 1);
	ck_assert_hex_eq(f->data, f->len, "0011223344556677");
	f = &cd->apps[1].files[2];
	ck_assert_hex_eq(f->data, f->len, "5349544530303031");
	dfi_card_data_free(cd);
	dfi_batch_row_free(row);
	dfi_profile_free(p);
}
END_TEST

START_TEST(card_data_errors)
{
	dfi_profile *p = load_reference();
	struct dfi_card_data *cd = (struct dfi_card_data *)1;
	struct dfi_diag d;

	/* no row at all */
	ck_assert_int_eq(dfi_profile_card_data(p, NULL, &cd, &d), DFI_E_PROFILE);
	ck_assert_ptr_null(cd);
	ck_assert_str_eq(d.message,
	    "card_number: the profile refers to this batch field, but no batch row was given");

	/* a field the row lacks */
	dfi_batch_row *row = row_of("m.jsonl", "{\"card_number\": 5, \"holder\": \"x\"}\n", 0);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "m.jsonl:1: secret_id: missing: the profile needs this field");
	dfi_batch_row_free(row);

	/* an integer beyond its format */
	row = row_of("b.csv", batch_csv, 2);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "b.csv:4: card_number: must be 0..4294967295 for the profile's be32 "
				    "(got 4294967296)");
	dfi_batch_row_free(row);

	/* content longer than the file */
	row = row_of("b.csv", batch_csv, 3);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message,
	    "b.csv:5: holder: 39 bytes do not fit applications[0].files[0] (8 of 32 bytes already used)");
	dfi_batch_row_free(row);

	/* a string where the format wants an integer */
	row = row_of("s.jsonl", "{\"card_number\": \"12\"}\n", 0);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "s.jsonl:1: card_number: must be an integer: the profile formats it as be32");
	dfi_batch_row_free(row);
	dfi_profile_free(p);
}
END_TEST

#define MINI_HEAD                                                                                 \
	"{\"schema\": \"dfissue-profile/1\", \"name\": \"t\", \"picc\": {\"key\": {\"type\": \"aes\", " \
	"\"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, "          \
	"\"key_settings\": 11},\n"

START_TEST(integer_field_needs_format)
{
	dfi_profile *p = load_text(MINI_HEAD
	    "\"applications\": [{\"aid\": \"010203\", \"key_type\": \"aes\", \"key_settings\": 11, "
	    "\"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": "
	    "[\"uid\"]}], \"files\": [{\"number\": 0, \"type\": \"std\", \"comm\": \"plain\", "
	    "\"access\": {\"read\": 0, \"write\": 0, \"read_write\": 0, \"change\": 0}, \"size\": 8, "
	    "\"content\": {\"field\": \"n\"}}]}]}");
	ck_assert_int_eq(dfi_profile_needs_batch(p), 1);
	dfi_batch_row *row = row_of("n.csv", "n:int\n5\n", 0);
	struct dfi_card_data *cd;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "n.csv:1: n: the profile uses its bytes: declare the column n:hex "
				    "or n:string, or give the content segment a \"format\"");
	dfi_batch_row_free(row);
	/* in JSON lines the value is typed by the row */
	row = row_of("n.jsonl", "{\"n\": 5}\n", 0);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "n.jsonl:1: n: is an integer: give the content segment a \"format\" "
				    "(u8, le16, be16, le32, be32 or decimal)");
	dfi_batch_row_free(row);
	/* the same value typed as a string is its ASCII text */
	row = row_of("n.csv", "n\n5\n", 0);
	ck_assert_int_eq(dfi_profile_card_data(p, row, &cd, &d), DFI_OK);
	ck_assert_uint_eq(cd->apps[0].files[0].content_len, 1);
	ck_assert_hex_eq(cd->apps[0].files[0].data, 8, "3500000000000000");
	dfi_card_data_free(cd);
	dfi_batch_row_free(row);
	dfi_profile_free(p);
}
END_TEST

START_TEST(no_batch_needed)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/minimal.json", getenv("DFI_SOURCE_DIR"));
	dfi_profile *p;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load(&p, path, &d), DFI_OK);
	struct dfi_card_data *cd;
	ck_assert_int_eq(dfi_profile_card_data(p, NULL, &cd, &d), DFI_OK);
	ck_assert_uint_eq(cd->apps[0].files[0].content_len, 14);
	ck_assert_hex_eq(cd->apps[0].files[0].data, 16, "68656C6C6F2C2044455346697265" "0000");
	dfi_card_data_free(cd);
	dfi_profile_free(p);
}
END_TEST

/* NXP AN10922 "Symmetric key diversifications", section 2.2.1 (AES-128
 * example): M = UID || AID || system identifier for UID 04782E21801D80,
 * AID 3042F5, system identifier 4E585020416275 ("NXP Abu"). The same
 * values are in tests/data/an10922.txt. */
START_TEST(div_input_an10922_vector)
{
	dfi_profile *p = load_text(MINI_HEAD
	    "\"applications\": [{\"aid\": \"3042F5\", \"key_type\": \"aes\", \"key_settings\": 11, "
	    "\"keys\": [{\"base_key\": \"pkcs11:object=an10922-master\", \"version\": 1, "
	    "\"diversification\": [\"uid\", \"aid\", \"sysid:4E585020416275\"]}]}]}");
	const struct dfi_profile_app *app = &dfi_profile_spec(p)->apps[0];
	uint8_t uid[7], m[DFI_PROFILE_MAX_DIV_INPUT];
	HEX(uid, "04782E21801D80");
	size_t n;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_div_input(&app->keys[0], uid, app->aid, NULL, m, sizeof(m), &n, &d),
	    DFI_OK);
	ck_assert_hex_eq(m, n, "04782E21801D803042F54E585020416275");
	/* too small an output buffer */
	ck_assert_int_eq(dfi_profile_div_input(&app->keys[0], uid, app->aid, NULL, m, 16, &n, &d),
	    DFI_E_BUFFER_TOO_SMALL);
	dfi_profile_free(p);
}
END_TEST

START_TEST(div_input_reference_keys)
{
	dfi_profile *p = load_reference();
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	uint8_t uid[7], m[DFI_PROFILE_MAX_DIV_INPUT];
	HEX(uid, "04782E21801D80");
	static const uint8_t picc_aid[3] = { 0, 0, 0 };
	size_t n;
	struct dfi_diag d;
	/* PICC key: the AID is 000000 */
	ck_assert_int_eq(dfi_profile_div_input(&s->picc.key, uid, picc_aid, NULL, m, sizeof(m), &n, &d),
	    DFI_OK);
	ck_assert_hex_eq(m, n, "04782E21801D80" "000000" "4E585020416275");
	/* application keys differ by their key-number constant */
	ck_assert_int_eq(dfi_profile_div_input(&s->apps[0].keys[2], uid, s->apps[0].aid, NULL, m,
			     sizeof(m), &n, &d), DFI_OK);
	ck_assert_hex_eq(m, n, "04782E21801D80" "F54010" "02" "4E585020416275");
	/* a recipe with a batch field */
	dfi_batch_row *row = row_of("b.csv", batch_csv, 0);
	ck_assert_int_eq(dfi_profile_div_input(&s->apps[1].keys[1], uid, s->apps[1].aid, row, m,
			     sizeof(m), &n, &d), DFI_OK);
	ck_assert_hex_eq(m, n, "04782E21801D80" "F54020" "01" "5349544530303031");
	dfi_batch_row_free(row);
	/* ... which needs the row */
	ck_assert_int_eq(dfi_profile_div_input(&s->apps[1].keys[1], uid, s->apps[1].aid, NULL, m,
			     sizeof(m), &n, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.field, "site_code");
	/* ... and must keep M within 31 bytes */
	row = row_of("long.jsonl",
	    "{\"site_code:hex\": \"000102030405060708090A0B0C0D0E0F1011121314\"}\n", 0);
	ck_assert_int_eq(dfi_profile_div_input(&s->apps[1].keys[1], uid, s->apps[1].aid, row, m,
			     sizeof(m), &n, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "long.jsonl:1: site_code: 21 bytes do not fit the diversification "
				    "input (AN10922: at most 31 bytes) (11 of 31 bytes already used)");
	dfi_batch_row_free(row);
	/* an integer field cannot be part of M */
	row = row_of("int.jsonl", "{\"site_code\": 12}\n", 0);
	ck_assert_int_eq(dfi_profile_div_input(&s->apps[1].keys[1], uid, s->apps[1].aid, row, m,
			     sizeof(m), &n, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "int.jsonl:1: site_code: an integer cannot be part of a "
				    "diversification input: give the field as hex (name:hex)");
	dfi_batch_row_free(row);
	dfi_profile_free(p);
}
END_TEST

/* What dfi_profile_check_row says of the row at index n of a batch, or
 * "" when the row is fine. */
static const char *
check(dfi_profile *p, const char *name, const char *text, int n, struct dfi_diag *d)
{
	dfi_batch_row *row = row_of(name, text, n);
	dfi_err e = dfi_profile_check_row(p, row, d);
	dfi_batch_row_free(row);
	ck_assert_int_eq(e, d->message[0] != '\0' ? DFI_E_PROFILE : DFI_OK);
	return d->message;
}

/* Each row checked before any card: content, every key's M, re-issue. */
START_TEST(check_row_before_any_card)
{
	dfi_profile *p = load_reference();
	struct dfi_diag d;
	/* good rows, and no row for a profile that needs none */
	ck_assert_str_eq(check(p, "b.csv", batch_csv, 0, &d), "");
	ck_assert_str_eq(check(p, "b.csv", batch_csv, 1, &d), "");
	/* a value beyond its format, content too long for its file */
	ck_assert_str_eq(check(p, "b.csv", batch_csv, 2, &d),
	    "b.csv:4: card_number: must be 0..4294967295 for the profile's be32 (got 4294967296)");
	ck_assert_str_eq(check(p, "b.csv", batch_csv, 3, &d),
	    "b.csv:5: holder: 39 bytes do not fit applications[0].files[0] (8 of 32 bytes already used)");
	/* CSV: the header decides types and columns, so it is named */
	ck_assert_str_eq(check(p, "h.csv", "card_number,holder,secret_id:hex,site_code:hex\n"
				     "1,x,00,53\n", 0, &d),
	    "h.csv:1: card_number: the profile formats it as be32: declare the column card_number:int");
	ck_assert_str_eq(check(p, "h.csv", "\ncard_number:int,holder:int,secret_id:hex,site_code:hex\n"
				     "1,2,00,53\n", 0, &d),
	    "h.csv:2: holder: the profile uses its bytes: declare the column holder:hex or "
	    "holder:string, or give the content segment a \"format\"");
	ck_assert_str_eq(check(p, "h.csv", "card_number:int,holder,secret_id:hex\n1,x,00\n", 0, &d),
	    "h.csv:1: site_code: missing: the profile needs this field: add a column site_code to "
	    "the header");
	/* JSON lines type each value: the row is named */
	ck_assert_str_eq(check(p, "j.jsonl", "{\"card_number\": 1, \"holder\": \"x\", "
					 "\"secret_id:hex\": \"00\"}\n", 0, &d),
	    "j.jsonl:1: site_code: missing: the profile needs this field");
	dfi_profile_free(p);
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/minimal.json", getenv("DFI_SOURCE_DIR"));
	ck_assert_int_eq(dfi_profile_load(&p, path, &d), DFI_OK);
	ck_assert_int_eq(dfi_profile_check_row(p, NULL, &d), DFI_OK);
	dfi_profile_free(p);

	/* a field only a key's diversification input uses */
	p = load_text(MINI_HEAD
	    "\"applications\": [{\"aid\": \"010203\", \"key_type\": \"aes\", \"key_settings\": 11, "
	    "\"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": "
	    "[\"uid\", \"field:site\"]}]}]}");
	ck_assert_str_eq(check(p, "k.csv", "site:hex\n0011\n", 0, &d), "");
	ck_assert_str_eq(check(p, "k.csv", "site:hex\n000102030405060708090A0B0C0D0E0F101112131415161718\n",
			     0, &d),
	    "k.csv:2: site: 25 bytes do not fit the diversification input (AN10922: at most 31 "
	    "bytes) (7 of 31 bytes already used)");
	ck_assert_str_eq(check(p, "k.csv", "site:int\n12\n", 0, &d),
	    "k.csv:1: site: an integer cannot be part of a diversification input: declare the "
	    "column site:hex");
	ck_assert_str_eq(check(p, "k.csv", "other:hex\n00\n", 0, &d),
	    "k.csv:1: site: missing: the profile needs this field: add a column site to the header");
	/* the re-issue fields, with the same parser admission uses */
	ck_assert_str_eq(check(p, "k.csv", "site:hex,reissue_uid,reissue_reason\n00,04:8B:88:A3:4E:A6:37,x\n",
			     0, &d),
	    "k.csv:2: reissue_uid: must be a 7-byte UID as 14 hex digits, as --reissue takes it "
	    "(got \"04:8B:88:A3:4E:A6:37\")");
	ck_assert_str_eq(check(p, "k.csv", "site:hex,reissue_uid,reissue_reason\n00,048B88A34EA637,why\n",
			     0, &d), "");
	dfi_profile_free(p);
}
END_TEST

int
main(void)
{
	return dfi_test_main("profile_resolve", NULL,
	    (const TTest *[]){ reference_card_data, card_data_errors,
	    integer_field_needs_format, no_batch_needed, div_input_an10922_vector,
	    div_input_reference_keys, check_row_before_any_card, NULL });
}
