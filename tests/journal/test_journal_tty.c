/* A journal's texts on a terminal (tools/dfissue/termtext.c and the
 * listings that print through it). A journal's text fields hold any byte
 * but NUL once percent-decoded: printed raw, a station, key label or
 * reason could forge lines of `journal show`, `journal verify` or
 * `recover` (a newline, then a fake "committed") or drive the auditor's
 * terminal (ESC, the C1 CSI, a bidi override). Each is printed in its
 * terminal form (termtext.h), --json keeps the exact bytes. */
#include <stdarg.h>

#include <jansson.h>

#include "testutil.h"
#include "jtest.h"
#include "termtext.h"

JT_SIGNER_DIR_FIXTURE

/* ---- the terminal form ------------------------------------------------------------- */

static void
form_is(const char *in, const char *want)
{
	char out[CLI_TT_CAP(64)];
	ck_assert_uint_le(strlen(in), 64);
	ck_assert_str_eq(cli_tt(out, sizeof(out), in), want);
}

START_TEST(form_of_each_kind_of_byte)
{
	form_is("line 1 (ok)", "line 1 (ok)");
	form_is("a\\b", "a\\\\b");                           /* the backslash, doubled */
	form_is("\x1B[2J\n\r\t\x01\x1F\x7F", "\\x1B[2J\\x0A\\x0D\\x09\\x01\\x1F\\x7F");
	form_is("caf\xC3\xA9 \xC2\xA0\xF0\x9F\x98\x80", "caf\xC3\xA9 \xC2\xA0\xF0\x9F\x98\x80");
	form_is("\xC2\x9B" "2J\xC2\x80\xC2\x9F", "\\xC2\\x9B2J\\xC2\\x80\\xC2\\x9F"); /* C1 */
	form_is("\x9B" "2J\xFF", "\\x9B2J\\xFF");          /* bytes that start no sequence */
	form_is("\xC0\x8A\xC1\x9B", "\\xC0\\x8A\\xC1\\x9B"); /* overlong newline, CSI */
	form_is("\xED\xA0\x80", "\\xED\\xA0\\x80");        /* a surrogate */
	form_is("\xF4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"); /* past U+10FFFF */
	form_is("ab\xE2\x80", "ab\\xE2\\x80");               /* cut short */
	/* the bidi controls: U+202E RLO, U+2066 LRI, U+200F RLM, U+061C ALM */
	form_is("\xE2\x80\xAE" "x\xE2\x81\xA6\xE2\x80\x8F\xD8\x9C",
	    "\\xE2\\x80\\xAEx\\xE2\\x81\\xA6\\xE2\\x80\\x8F\\xD8\\x9C");
	form_is("\xE2\x80\x94", "\xE2\x80\x94"); /* an em dash is no control */
}
END_TEST

START_TEST(form_stops_at_a_whole_unit)
{
	char out[8];
	/* "ab" + "\x1B" (4) = 6 bytes fit with the NUL; the second escape does not */
	ck_assert_str_eq(cli_tt(out, sizeof(out), "ab\x1B\x1B"), "ab\\x1B");
	ck_assert_str_eq(cli_tt(out, 5, "\xC3\xA9\xC3\xA9\xC3\xA9"), "\xC3\xA9\xC3\xA9");
	ck_assert_str_eq(cli_tt(out, 4, "\x01"), "");
	ck_assert_str_eq(cli_tt(out, 1, "abc"), "");
	/* the documented size holds the longest field whole */
	char field[DFI_J_STR_MAX], big[CLI_TT_FIELD];
	memset(field, 0x1B, sizeof(field) - 1);
	field[sizeof(field) - 1] = '\0';
	ck_assert_uint_eq(strlen(cli_tt(big, sizeof(big), field)), 4 * (DFI_J_STR_MAX - 1));
}
END_TEST

START_TEST(lines_keep_their_newlines)
{
	char *b = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&b, &n);
	ck_assert_ptr_nonnull(f);
	cli_tt_lines(f, "one\x1B\ntwo\\\n\nlast\r");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(b, "one\\x1B\ntwo\\\\\n\nlast\\x0D");
	free(b);
}
END_TEST

/* ---- the CLI's listings -------------------------------------------------------------- */

/* The texts of the journal: every kind of trouble, and a UTF-8 name. */
#define STATION "caf\xC3\xA9\x1B[2J\\"
#define STATION_TT "caf\xC3\xA9\\x1B[2J\\\\"
#define FORGED "k\n  fake committed intent 9"
#define FORGED_TT "k\\x0A  fake committed intent 9"
#define CSI "\xC2\x9B" "31m" /* valid UTF-8: --json drops a text that is not */
#define CSI_TT "\\xC2\\x9B31m"
#define REASON "r\r\xE2\x80\xAE" "evil\x7F"
#define REASON_TT "r\\x0D\\xE2\\x80\\xAEevil\\x7F"
#define REFUSED "ok\x1B]0;t\x07"
#define REFUSED_TT "ok\\x1B]0;t\\x07"

/* Card ...01: an intent of key label FORGED, committed; ...02: one of
 * label CSI, aborted for REASON; ...03: one of label FORGED, unresolved;
 * ...04: refused for REFUSED. Every record by station STATION. */
static void
hostile_journal(void)
{
	struct dfi_journal_io io = jt_io_nosync(NULL, NULL);
	struct dfi_journal_opts o = { .station = STATION, .io = &io };
	dfi_journal *j;
	uint64_t seq;
	ck_assert_int_eq(jt_create_open(&j, g_dir, "dfissue.test/tty", g_signer, &o), DFI_OK);
	dfi_jrec a = jt_intent("04000000000001", 0x3042F5, 1, 0, 1);
	snprintf(a.key_label, sizeof(a.key_label), "%s", FORGED);
	ck_assert_int_eq(jt_intent_commit(j, &a, &seq), DFI_OK);
	dfi_jrec b = jt_intent("04000000000002", 0x3042F5, 1, 0, 1);
	snprintf(b.key_label, sizeof(b.key_label), "%s", CSI);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &seq), DFI_OK);
	ck_assert_int_eq(dfi_journal_abort(j, seq, REASON), DFI_OK);
	dfi_jrec c = jt_intent("04000000000003", 0x3042F5, 1, 0, 1);
	snprintf(c.key_label, sizeof(c.key_label), "%s", FORGED);
	ck_assert_int_eq(dfi_journal_intent(j, &c, &seq), DFI_OK);
	dfi_jrec r;
	const uint8_t uid[] = { 0x04, 0, 0, 0, 0, 0, 0x04 };
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, sizeof(uid), DFI_JCAUSE_ISSUED,
	    dfi_journal_size(j), REFUSED), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &r, 1, NULL), DFI_OK);
	dfi_journal_close(j);
}

/* `dfissue ARGS` (ARGS quoted by the caller): its exit status, stdout in
 * *out and stderr in *err (malloc'd). */
static int
run(const char *args, char **out, char **err)
{
	char cmd[3000], o[700], e[700];
	snprintf(o, sizeof(o), "%s/out", g_dir);
	snprintf(e, sizeof(e), "%s/err", g_dir);
	snprintf(cmd, sizeof(cmd), "'%s/bin/dfissue' %s >'%s' 2>'%s'", getenv("DFI_BUILD_DIR"), args, o, e);
	int st = system(cmd);
	size_t n;
	*out = (char *)jt_read(o, &n);
	*err = (char *)jt_read(e, &n);
	ck_assert_ptr_nonnull(*out);
	ck_assert_ptr_nonnull(*err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* No control byte but the newline, and no byte past ASCII but the é of
 * the station's name (every other one is escaped). */
static void
assert_inert(const char *what, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		ck_assert_msg((*p >= 0x20 && *p != 0x7F) || *p == '\n', "%s: byte %02X at %zu", what, *p,
		    (size_t)(p - (const unsigned char *)s));
		if (*p >= 0x80) {
			ck_assert_msg(p[0] == 0xC3 && p[1] == 0xA9, "%s: byte %02X at %zu", what, *p,
			    (size_t)(p - (const unsigned char *)s));
			p++;
		}
	}
}

static void
assert_has(const char *what, const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want) != NULL, "%s lacks \"%s\":\n%s", what, want, text);
}

/* `dfissue <fmt...>` (what: its name in messages), which must succeed
 * with both its outputs inert: its stdout (malloc'd). */
static char *listing(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
listing(const char *what, const char *fmt, ...)
{
	char args[1600], *out, *err, name[100];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(run(args, &out, &err), 0);
	assert_inert(what, out);
	snprintf(name, sizeof(name), "%s's stderr", what);
	assert_inert(name, err);
	free(err);
	return out;
}

START_TEST(show_prints_each_text_escaped)
{
	hostile_journal();
	char *out = listing("journal show", "journal show '%s'", g_dir);
	assert_has("journal show", out, "key " FORGED_TT " id 42 gen 1  station " STATION_TT "\n");
	assert_has("journal show", out, "aborted          intent 3, abort 4 (" REASON_TT ")  key " CSI_TT
	    " id 42 gen 1  station " STATION_TT "\n");
	assert_has("journal show", out, "refused (issued): " REFUSED_TT "  record ");
	assert_has("journal show", out, "unresolved intents: 1\n");
	/* the forged line is no line of its own */
	ck_assert_ptr_null(strstr(out, "\n  fake committed"));
	free(out);
}
END_TEST

/* Is want one of the string values anywhere in j? */
static int
has_string(json_t *j, const char *want)
{
	if (json_is_string(j))
		return strcmp(json_string_value(j), want) == 0;
	size_t i;
	json_t *v;
	const char *k;
	if (json_is_array(j))
		json_array_foreach(j, i, v)
			if (has_string(v, want))
				return 1;
	if (json_is_object(j))
		json_object_foreach(j, k, v)
			if (has_string(v, want))
				return 1;
	return 0;
}

/* `dfissue journal show --json` of the journal in g_dir, read back; *out:
 * its text (malloc'd). */
static json_t *
show_json(char **out)
{
	char *err, args[800];
	snprintf(args, sizeof(args), "journal show --json '%s'", g_dir);
	ck_assert_int_eq(run(args, out, &err), 0);
	free(err);
	json_error_t je;
	json_t *root = json_loads(*out, 0, &je);
	ck_assert_msg(root != NULL, "not JSON: %s", je.text);
	return root;
}

START_TEST(show_json_keeps_the_exact_bytes)
{
	hostile_journal();
	char *out;
	json_t *root = show_json(&out);
	/* the station holds the é as it is: its record is not left out of the JSON */
	static const char *const exact[] = { STATION, FORGED, CSI, REASON, REFUSED };
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		ck_assert_msg(has_string(root, exact[i]), "--json lacks text %zu as it is", i);
	ck_assert_ptr_null(strstr(out, "\\\\x1B")); /* not the terminal form */
	json_decref(root);
	free(out);
}
END_TEST

/* The element of arr (a card's changes) whose intent_seq or seq is seq,
 * or NULL. */
static json_t *
by_seq(json_t *arr, json_int_t seq)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (json_integer_value(json_object_get(v, "intent_seq")) == seq ||
		    json_integer_value(json_object_get(v, "seq")) == seq)
			return v;
	return NULL;
}

/* A text that is not UTF-8 cannot be a JSON string: its element was left
 * out of --json whole (a key change gone from the card's list, an
 * unresolved intent from recover's) or lost its member (an abort's
 * reason). It is null now, with its exact bytes in <member>_hex. */
START_TEST(show_json_keeps_text_that_is_not_utf8)
{
	struct dfi_journal_io io = jt_io_nosync(NULL, NULL);
	struct dfi_journal_opts o = { .station = "st\xFF", .io = &io };
	dfi_journal *j;
	uint64_t s1, s2;
	ck_assert_int_eq(jt_create_open(&j, g_dir, "dfissue.test/utf8", g_signer, &o), DFI_OK);
	dfi_jrec a = jt_intent("04000000000001", 0x3042F5, 1, 0, 1);
	snprintf(a.key_label, sizeof(a.key_label), "lab\xFF");
	ck_assert_int_eq(jt_intent_commit(j, &a, &s1), DFI_OK);
	dfi_jrec b = jt_intent("04000000000002", 0x3042F5, 1, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &s2), DFI_OK);
	ck_assert_int_eq(dfi_journal_abort(j, s2, "bad\xC0\x80"), DFI_OK); /* overlong NUL */
	dfi_jrec c = jt_intent("04000000000003", 0x3042F5, 1, 0, 1); /* left unresolved */
	snprintf(c.key_label, sizeof(c.key_label), "x\xFE");
	uint64_t s3;
	ck_assert_int_eq(dfi_journal_intent(j, &c, &s3), DFI_OK);
	dfi_journal_close(j);

	char *out, *err, args[800];
	json_t *root = show_json(&out);
	json_t *cards = json_object_get(root, "cards");
	ck_assert_int_eq(json_array_size(cards), 3);
	json_t *c1 = by_seq(json_object_get(json_array_get(cards, 0), "changes"), (json_int_t)s1);
	json_t *c2 = by_seq(json_object_get(json_array_get(cards, 1), "changes"), (json_int_t)s2);
	ck_assert_msg(c1 != NULL && c2 != NULL, "a change is missing: %s", out);
	ck_assert(json_is_null(json_object_get(c1, "key_label")));
	ck_assert_str_eq(json_string_value(json_object_get(c1, "key_label_hex")), "6C6162FF");
	ck_assert(json_is_null(json_object_get(c1, "station")));
	ck_assert_str_eq(json_string_value(json_object_get(c1, "station_hex")), "7374FF");
	ck_assert_str_eq(json_string_value(json_object_get(c2, "key_label")), "app-key-1");
	ck_assert_ptr_null(json_object_get(c2, "key_label_hex"));
	ck_assert(json_is_null(json_object_get(c2, "reason")));
	ck_assert_str_eq(json_string_value(json_object_get(c2, "reason_hex")), "626164C080");
	json_decref(root);
	free(out);

	/* recover --json: the unresolved intent is listed, not left out */
	char pem[700];
	snprintf(pem, sizeof(pem), "%s/pub.pem", g_dir);
	ck_assert_int_eq(jt_write_pubkey_pem(g_signer, pem), 0);
	snprintf(args, sizeof(args), "recover --journal '%s' --pubkey '%s' --json", g_dir, pem);
	ck_assert_int_eq(run(args, &out, &err), 0);
	json_error_t je;
	root = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
	ck_assert_msg(root != NULL, "no JSON intent: %s%s", out, err);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "intent_seq")), (json_int_t)s3);
	ck_assert(json_is_null(json_object_get(root, "key_label")));
	ck_assert_str_eq(json_string_value(json_object_get(root, "key_label_hex")), "78FE");
	ck_assert_str_eq(json_string_value(json_object_get(root, "station_hex")), "7374FF");
	json_decref(root);
	free(out);
	free(err);
}
END_TEST

/* The journal, and its public key's PEM in pem. */
static void
hostile_journal_and_key(char *pem, size_t cap)
{
	hostile_journal();
	snprintf(pem, cap, "%s/pub.pem", g_dir);
	ck_assert_int_eq(jt_write_pubkey_pem(g_signer, pem), 0);
}

START_TEST(verify_prints_each_text_escaped)
{
	char pem[700];
	hostile_journal_and_key(pem, sizeof(pem));
	/* an unresolved intent is no finding: verify says OK, and lists it */
	char *out = listing("journal verify", "journal verify --pubkey '%s' '%s'", pem, g_dir);
	assert_has("journal verify", out, "unresolved intent 5: card 04000000000003 AID F54230 key 1 version 0 -> 1 (");
	assert_has("journal verify", out, ", station " STATION_TT ")\n");
	free(out);
}
END_TEST

START_TEST(recover_prints_each_text_escaped)
{
	char pem[700];
	hostile_journal_and_key(pem, sizeof(pem));
	char *out = listing("recover", "recover --journal '%s' --pubkey '%s'", g_dir, pem);
	assert_has("recover", out, "  station " STATION_TT "  card 04000000000003  app F54230 key 1  version 0 -> 1  "
	    "(base key " FORGED_TT ", generation 1)\n");
	assert_has("recover", out, "1 unresolved intent(s) in ");
	free(out);
}
END_TEST

JT_SIGNER_MAIN("journal_tty",
    form_of_each_kind_of_byte,
    form_stops_at_a_whole_unit,
    lines_keep_their_newlines,
    show_prints_each_text_escaped,
    show_json_keeps_the_exact_bytes,
    show_json_keeps_text_that_is_not_utf8,
    verify_prints_each_text_escaped,
    recover_prints_each_text_escaped)
