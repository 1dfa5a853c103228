/* Batch readers: JSON lines and CSV, typed values, errors with file, line
 * and field. */
#include <stdio.h>

#include "testutil.h"

#include "dfissue/journal.h"
#include "dfissue/profile.h"

static dfi_batch *
open_buf(const char *name, const char *text)
{
	dfi_batch *b = NULL;
	struct dfi_diag d;
	dfi_err e = dfi_batch_open_buffer(&b, name, DFI_BATCH_AUTO, text, strlen(text), &d);
	if (e != DFI_OK)
		ck_abort_msg("%s", d.message);
	return b;
}

/* Reads rows until the first error; returns it and leaves the message. */
static dfi_err
drain(dfi_batch *b, int *rows, struct dfi_diag *d)
{
	*rows = 0;
	for (;;) {
		dfi_batch_row *r;
		dfi_err e = dfi_batch_next(b, &r, d);
		if (e != DFI_OK) {
			ck_assert_ptr_null(r);
			return e;
		}
		if (r == NULL)
			return DFI_OK;
		(*rows)++;
		dfi_batch_row_free(r);
	}
}

/* The next row, which must be there and start at line. */
static dfi_batch_row *
next_row(dfi_batch *b, unsigned line)
{
	dfi_batch_row *r;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_batch_next(b, &r, &d), DFI_OK);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(dfi_batch_row_line(r), line);
	return r;
}

/* No row left, and no error after the last one; frees b. */
static void
end_of_rows(dfi_batch *b)
{
	dfi_batch_row *r;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_batch_next(b, &r, &d), DFI_OK);
	ck_assert_ptr_null(r);
	dfi_batch_free(b);
}

/* A batch file (name, text) whose reading stops at an error: rows good
 * rows first, then the message msg. */
struct error_case {
	const char *name, *text;
	int rows;
	const char *msg;
};

static void
expect_error(const struct error_case *c)
{
	dfi_batch *b = open_buf(c->name, c->text);
	struct dfi_diag d;
	int rows;
	dfi_err e = drain(b, &rows, &d);
	if (e != DFI_E_PROFILE || strcmp(d.message, c->msg) != 0)
		ck_abort_msg("%s: got %d \"%s\", want \"%s\"", c->name, e, e ? d.message : "", c->msg);
	ck_assert_int_eq(rows, c->rows);
	/* the error is sticky */
	dfi_batch_row *r;
	struct dfi_diag d2;
	ck_assert_int_eq(dfi_batch_next(b, &r, &d2), DFI_E_PROFILE);
	ck_assert_str_eq(d2.message, c->msg);
	dfi_batch_free(b);
}

static void
check_reference_rows(const char *file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles/%s", getenv("DFI_SOURCE_DIR"), file);
	dfi_batch *b;
	struct dfi_diag d;
	dfi_err e = dfi_batch_open(&b, path, &d);
	if (e != DFI_OK)
		ck_abort_msg("%s", d.message);
	static const char *holders[] = { "Ada Lovelace", "Grace Hopper, RADM",
		"Brian \"bwk\" Kernighan" };
	static const char *secrets[] = { "00112233445566778899AABBCCDDEEFF",
		"102132435465768798A9BACBDCEDFE0F", "FFEEDDCCBBAA99887766554433221100" };
	for (int i = 0; i < 3; i++) {
		dfi_batch_row *r = next_row(b, (unsigned)i + 2 - (strstr(file, ".jsonl") ? 1 : 0));
		ck_assert_str_eq(dfi_batch_row_file(r), path);
		ck_assert_uint_eq(dfi_batch_row_count(r), 4);
		const struct dfi_batch_value *v = dfi_batch_row_get(r, "card_number");
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(v->type, DFI_VAL_INT);
		ck_assert_int_eq(v->i, 1001 + i);
		v = dfi_batch_row_get(r, "holder");
		ck_assert_int_eq(v->type, DFI_VAL_STRING);
		ck_assert_str_eq(v->str, holders[i]);
		ck_assert_uint_eq(v->len, strlen(holders[i]));
		v = dfi_batch_row_get(r, "secret_id");
		ck_assert_int_eq(v->type, DFI_VAL_HEX);
		ck_assert_hex_eq(v->bytes, v->len, secrets[i]);
		ck_assert_str_eq(dfi_batch_row_at(r, 3)->name, "site_code");
		ck_assert_ptr_null(dfi_batch_row_at(r, 4));
		ck_assert_ptr_null(dfi_batch_row_get(r, "site"));
		dfi_batch_row_free(r);
	}
	end_of_rows(b);
}

START_TEST(reference_batches_agree)
{
	check_reference_rows("reference-batch.csv");
	check_reference_rows("reference-batch.jsonl");
}
END_TEST

START_TEST(csv_quoting)
{
	/* BOM, CRLF, a quoted comma, a doubled quote, a line break inside
	 * quotes, an empty string, blank lines, no final newline */
	const char *text = "\xEF\xBB\xBFname,note:string,n:int\r\n"
			   "\"a,b\",\"say \"\"hi\"\"\",1\r\n"
			   "\r\n"
			   "x,\"two\nlines\",-2\n"
			   "\n"
			   "y,,3";
	dfi_batch *b = open_buf("q.csv", text);
	dfi_batch_row *r = next_row(b, 2);
	ck_assert_str_eq(dfi_batch_row_get(r, "name")->str, "a,b");
	ck_assert_str_eq(dfi_batch_row_get(r, "note")->str, "say \"hi\"");
	ck_assert_int_eq(dfi_batch_row_get(r, "n")->i, 1);
	dfi_batch_row_free(r);
	r = next_row(b, 4);
	ck_assert_str_eq(dfi_batch_row_get(r, "note")->str, "two\nlines");
	ck_assert_int_eq(dfi_batch_row_get(r, "n")->i, -2);
	dfi_batch_row_free(r);
	r = next_row(b, 7);
	ck_assert_str_eq(dfi_batch_row_get(r, "note")->str, "");
	ck_assert_uint_eq(dfi_batch_row_get(r, "note")->len, 0);
	dfi_batch_row_free(r);
	end_of_rows(b);
}
END_TEST

/* CSV and JSON-lines files that stop at an error: file, line, field. */
START_TEST(row_errors)
{
	static const struct error_case cases[] = {
		{ "m.csv", "a,b:hex,c\n1,00,x\n2,01\n", 1,
		    "m.csv:3: c: missing: the record has 2 fields, the header names 3" },
		{ "e.csv", "a,b\n1,2\n3,4,5\n", 1,
		    "e.csv:3: extra fields: the record has 3 fields, the header names 2" },
		{ "h.csv", "a,uid:hex\n1,04782E21801D80\n2,04782E21801D8\n", 1,
		    "h.csv:3: uid: not valid hex (an even number of 0-9, A-F)" },
		{ "h2.csv", "a,uid:hex\n1,ZZ\n", 0,
		    "h2.csv:2: uid: not valid hex (an even number of 0-9, A-F)" },
		{ "h3.csv", "a,uid:hex\n1,\n", 0, "h3.csv:2: uid: empty hex value" },
		{ "i.csv", "n:int\n12\n1x\n", 1, "i.csv:3: n: not a decimal integer (got \"1x\")" },
		{ "i2.csv", "n:int\n99999999999999999999\n", 0,
		    "i2.csv:2: n: not a decimal integer (got \"99999999999999999999\")" },
		{ "q.csv", "a,b\n1,x\"y\n", 0,
		    "q.csv:2: quote inside an unquoted field (quote the whole field and double the "
		    "quote)" },
		{ "u.csv", "a,b\n1,2\n3,\"open\n\nstill open\n", 1,
		    "u.csv:3: quoted field opened here is never closed" },
		{ "t.csv", "a,b\n1,\"x\"y\n", 0,
		    "t.csv:2: text after a closing quote (a quote inside a quoted field is written "
		    "\"\")" },
		{ "cr.csv", "a,b\n1,2\r3\n", 0, "cr.csv:2: carriage return outside a quoted field" },
		{ "d.csv", "a,b,a\n1,2,3\n", 0, "d.csv:1: a: field named twice in the header" },
		{ "f.csv", "a,b:float\n1,2\n", 0,
		    "f.csv:1: header field 2 \"b:float\": a name of 1..64 of A-Z a-z 0-9 _ . -, "
		    "optionally with :hex, :int or :string" },
		{ "s.csv", "a,my field\n1,2\n", 0,
		    "s.csv:1: header field 2 \"my field\": a name of 1..64 of A-Z a-z 0-9 _ . -, "
		    "optionally with :hex, :int or :string" },
		{ "empty.csv", "", 0, "empty.csv:1: empty: the first line must name the fields" },
		/* JSON lines */
		{ "j.jsonl", "{\"a\": 1}\n[1]\n", 1, "j.jsonl:2: each line must be one JSON object" },
		{ "j.jsonl", "{\"a\": 1}\n{\"uid:hex\": \"0G\"}\n", 1,
		    "j.jsonl:2: uid: not valid hex (an even number of 0-9, A-F)" },
		{ "j.jsonl", "{\"a\": true}\n", 0,
		    "j.jsonl:1: a: must be a string or an integer (got a boolean)" },
		{ "j.jsonl", "{\"a\": 1.5}\n", 0,
		    "j.jsonl:1: a: must be a string or an integer (got a real number)" },
		{ "j.jsonl", "{\"a:hex\": 12}\n", 0, "j.jsonl:1: a: must be a hex string (got an integer)" },
		{ "j.jsonl", "{\"a:int\": \"12\"}\n", 0, "j.jsonl:1: a: must be an integer (got a string)" },
		{ "j.jsonl", "{\"a\": 1, \"a:string\": \"x\"}\n", 0, "j.jsonl:1: a: field given twice" },
		{ "j.jsonl", "{\"a b\": 1}\n", 0,
		    "j.jsonl:1: bad field name \"a b\": 1..64 of A-Z a-z 0-9 _ . -, optionally with :hex, "
		    ":int or :string" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(&cases[i]);
}
END_TEST

START_TEST(csv_nul_inside_buffer)
{
	/* strlen-based helpers would stop at the NUL: give the length */
	static const char text[] = "a\nx\0y\n";
	dfi_batch *b;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_batch_open_buffer(&b, "z.csv", DFI_BATCH_CSV, text, sizeof(text) - 1, &d),
	    DFI_OK);
	int rows;
	ck_assert_int_eq(drain(b, &rows, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.message, "z.csv:2: a: value contains a NUL character");
	dfi_batch_free(b);
}
END_TEST

START_TEST(jsonl_values_and_errors)
{
	const char *text = "{\"s\": \"x\", \"n\": -7, \"h:hex\": \"0a0B\", \"t:string\": \"12\", \"k:int\": 5}\n"
			   "\n"
			   "   \r\n"
			   "{\"s\": \"y\"}\r\n";
	dfi_batch *b = open_buf("v.jsonl", text);
	dfi_batch_row *r = next_row(b, 1);
	ck_assert_int_eq(dfi_batch_row_get(r, "s")->type, DFI_VAL_STRING);
	ck_assert_int_eq(dfi_batch_row_get(r, "n")->type, DFI_VAL_INT);
	ck_assert_int_eq(dfi_batch_row_get(r, "n")->i, -7);
	ck_assert_int_eq(dfi_batch_row_get(r, "h")->type, DFI_VAL_HEX);
	ck_assert_hex_eq(dfi_batch_row_get(r, "h")->bytes, dfi_batch_row_get(r, "h")->len, "0A0B");
	ck_assert_int_eq(dfi_batch_row_get(r, "t")->type, DFI_VAL_STRING);
	ck_assert_int_eq(dfi_batch_row_get(r, "k")->i, 5);
	dfi_batch_row_free(r);
	dfi_batch_row_free(next_row(b, 4));
	end_of_rows(b);
}
END_TEST

START_TEST(jsonl_syntax_error)
{
	/* jansson's own syntax messages: check file, line and our prefix */
	const char *dup = "{\"a\": 1}\n\n{\"a\": 1, \"a\": 2}\n";
	dfi_batch *b = open_buf("dup.jsonl", dup);
	struct dfi_diag d;
	int rows;
	ck_assert_int_eq(drain(b, &rows, &d), DFI_E_PROFILE);
	ck_assert_int_eq(rows, 1);
	ck_assert_int_eq(d.line, 3);
	ck_assert_ptr_nonnull(strstr(d.message, "dup.jsonl:3: invalid JSON: duplicate object key"));
	dfi_batch_free(b);
}
END_TEST

START_TEST(open_errors)
{
	dfi_batch *b = (dfi_batch *)1;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_batch_open_buffer(&b, "rows.txt", DFI_BATCH_AUTO, "a\n1\n", 4, &d),
	    DFI_E_PROFILE);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(d.message, "rows.txt: cannot tell the batch format: name the file *.jsonl or *.csv");
	ck_assert_int_eq(dfi_batch_open(&b, "/nonexistent/rows.csv", &d), DFI_E_IO);
	ck_assert_str_eq(d.file, "/nonexistent/rows.csv");
	/* an explicit format overrides the name */
	ck_assert_int_eq(dfi_batch_open_buffer(&b, "rows.txt", DFI_BATCH_CSV, "a\n1\n", 4, &d), DFI_OK);
	dfi_batch_row *r;
	ck_assert_int_eq(dfi_batch_next(b, &r, &d), DFI_OK);
	ck_assert_str_eq(dfi_batch_row_get(r, "a")->str, "1");
	dfi_batch_row_free(r);
	dfi_batch_free(b);
}
END_TEST

/* dfi_batch_row_reissue on the only row of a batch: returns the message
 * ("" when the row is fine), the reason (NULL: none) and the UID. */
static const char *
reissue_of(const char *name, const char *text, const char **reason, uint8_t uid[7],
    struct dfi_diag *d)
{
	dfi_batch *b = open_buf(name, text);
	dfi_batch_row *r = next_row(b, 2 - (strstr(name, ".jsonl") != NULL));
	static char keep[DFI_J_STR_MAX];
	dfi_err e = dfi_batch_row_reissue(r, uid, reason, d);
	ck_assert_int_eq(e, d->message[0] != '\0' ? DFI_E_PROFILE : DFI_OK);
	if (*reason != NULL) { /* the reason points into the row */
		snprintf(keep, sizeof(keep), "%s", *reason);
		*reason = keep;
	}
	dfi_batch_row_free(r);
	end_of_rows(b);
	return d->message;
}

/* The re-issue fields: both or neither, a 7-byte UID as --reissue takes
 * it, a reason the journal keeps whole; never silently ignored. */
START_TEST(reissue_fields)
{
	struct dfi_diag d;
	const char *why = "x";
	uint8_t uid[7];
	/* none, or empty CSV cells: no re-issue */
	ck_assert_str_eq(reissue_of("r.csv", "a\n1\n", &why, uid, &d), "");
	ck_assert_ptr_null(why);
	ck_assert_str_eq(reissue_of("r.csv", "reissue_uid,reissue_reason\n,\n", &why, uid, &d), "");
	ck_assert_ptr_null(why);
	ck_assert_int_eq(dfi_batch_row_reissue(NULL, uid, &why, &d), DFI_OK);
	ck_assert_ptr_null(why);
	/* good: hex text, or a hex-typed column */
	ck_assert_str_eq(reissue_of("r.csv", "reissue_uid,reissue_reason\n048b88a34ea637,lost\n", &why,
			     uid, &d), "");
	ck_assert_str_eq(why, "lost");
	ck_assert_hex_eq(uid, 7, "048B88A34EA637");
	ck_assert_str_eq(reissue_of("r.jsonl", "{\"reissue_uid:hex\": \"04AAAAAAAAAA01\", "
					       "\"reissue_reason\": \"chip replaced\"}\n", &why, uid, &d), "");
	ck_assert_str_eq(why, "chip replaced");
	ck_assert_hex_eq(uid, 7, "04AAAAAAAAAA01");
	/* one without the other, a UID --reissue would refuse, a reason the
	 * journal could not keep */
	static const struct { const char *name, *text, *message; } bad[] = {
		{ "r1.csv", "reissue_uid,reissue_reason\n048B88A34EA637,\n",
		    "r1.csv:2: reissue_uid: needs reissue_reason in the same row (1..127 characters "
		    "the journal keeps)" },
		{ "r1.csv", "reissue_reason\nlost\n",
		    "r1.csv:2: reissue_reason: needs reissue_uid in the same row (a 7-byte UID as 14 "
		    "hex digits)" },
		{ "r1.csv", "reissue_uid,reissue_reason\n04:8B:88:A3:4E:A6:37,lost\n",
		    "r1.csv:2: reissue_uid: must be a 7-byte UID as 14 hex digits, as --reissue takes "
		    "it (got \"04:8B:88:A3:4E:A6:37\")" },
		{ "r.csv", "reissue_uid:hex,reissue_reason\n048B88A34EA6,lost\n",
		    "r.csv:2: reissue_uid: must be a 7-byte UID as 14 hex digits, as --reissue takes "
		    "it (got 6 bytes)" },
		{ "r.jsonl", "{\"reissue_uid\": 12, \"reissue_reason\": \"x\"}\n",
		    "r.jsonl:1: reissue_uid: must be a 7-byte UID as 14 hex digits, as --reissue takes "
		    "it (got the integer 12)" },
		{ "r.jsonl", "{\"reissue_uid\": \"048B88A34EA637\", \"reissue_reason\": 7}\n",
		    "r.jsonl:1: reissue_reason: must be text of 1..127 characters the journal keeps "
		    "(got an integer)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_str_eq(reissue_of(bad[i].name, bad[i].text, &why, uid, &d), bad[i].message);
		ck_assert_ptr_null(why);
	}
	char text[400];
	snprintf(text, sizeof(text), "reissue_uid,reissue_reason\n048B88A34EA637,%0128d\n", 0);
	ck_assert_str_eq(reissue_of("r.csv", text, &why, uid, &d),
	    "r.csv:2: reissue_reason: must be text of 1..127 characters the journal keeps (got 128)");
	snprintf(text, sizeof(text), "reissue_uid,reissue_reason\n048B88A34EA637,%0127d\n", 0);
	ck_assert_str_eq(reissue_of("r.csv", text, &why, uid, &d), "");
	ck_assert_uint_eq(strlen(why), 127);
}
END_TEST

int
main(void)
{
	return dfi_test_main("profile_batch", NULL,
	    (const TTest *[]){ reference_batches_agree, csv_quoting, row_errors,
	    csv_nul_inside_buffer, jsonl_values_and_errors, jsonl_syntax_error, open_errors,
	    reissue_fields, NULL });
}
