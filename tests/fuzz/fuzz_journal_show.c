/* libFuzzer harness: `dfissue journal show` and `--json`, the listing of a
 * journal (tools/dfissue/journal_show.c, journal_show_json.c, what it
 * keeps in journal_store.c), from a journal someone handed over: untrusted.
 *
 * An input is the bytes of journal.log as they are. Each is listed four
 * times: as text and as JSON, of every card and of the card the first
 * uid= of the input names (when it is hex).
 *
 * What must hold (__builtin_trap otherwise):
 *  - the listing is made (js_list returns DFI_OK: the file is there);
 *  - the JSON, which is written element by element, is one JSON object
 *    that jansson reads back, with its nine members in their order and of
 *    their types;
 *  - the text holds no control byte but the newline and nothing but
 *    well-formed UTF-8 that is no C1 or bidi control: every text of the
 *    journal is in its terminal form (termtext.h), so none can forge a
 *    line or drive the auditor's terminal;
 *  - when every byte is ASCII and no %XX decodes to a byte past it (such
 *    bytes may be no UTF-8, and jansson leaves a value that is not out
 *    with its element), it counts what the text counts: records,
 *    unresolved intents, recoveries, refusals, authorizations (a decoded
 *    newline cannot start a line like the text's counts: it shows as
 *    \x0A);
 *  - with a UID, every card listed is that card.
 * ASan/UBSan/LSan catch the rest. Seeds: corpus/journal_show/ (signed
 * journals of every record type, authorizations among them). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/asn1.h>

#include "cli_fuzz.h"
#include "dfissue/journal.h"
#include "dfissue/journal_show.h"
#include "dfissue/jwipe.h"
#include "dfissue/termtext.h"
#include "dfissue/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], jpath[128], out[128];

/* js_list's stdout, in out; the text or JSON in *text (NUL-terminated). */
static char *
list(int json, const uint8_t *uid, size_t uidlen)
{
	fflush(stdout);
	int keep = dup(STDOUT_FILENO), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (keep < 0 || fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		abort();
	close(fd);
	struct dfi_jverify_result res;
	dfi_err e = js_list(jpath, json, uid, uidlen, &res);
	fflush(stdout);
	if (dup2(keep, STDOUT_FILENO) < 0)
		abort();
	close(keep);
	if (e != DFI_OK)
		FAIL("no listing of a journal that is there");
	FILE *f = fopen(out, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0)
		abort();
	long n = ftell(f);
	char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (b == NULL || fseek(f, 0, SEEK_SET) != 0 || fread(b, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	b[n] = '\0';
	return b;
}

/* The number after "\n<label>: " in the text (its first line for
 * "records"), or -1. */
static long long
text_count(const char *text, const char *label)
{
	char key[64];
	const char *p;
	if (strcmp(label, "records") == 0) {
		p = strstr(text, ": ");
		return p != NULL ? strtoll(p + 2, NULL, 10) : -1;
	}
	snprintf(key, sizeof(key), "\n%s: ", label);
	p = strstr(text, key);
	return p != NULL ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void
check(const char *text, const char *js, int exact, const uint8_t *uid, size_t uidlen)
{
	static const char *const keys[] = { "records", "covered", "problems", "signatures_checked",
		"cards", "unresolved", "recoveries", "refusals", "authorizations" };
	json_error_t err;
	json_t *root = json_loads(js, 0, &err);
	if (!json_is_object(root) || json_object_size(root) != 9)
		FAIL("the JSON is not one object of nine members");
	void *it = json_object_iter(root);
	for (size_t i = 0; i < 9; i++, it = json_object_iter_next(root, it)) {
		json_t *v = json_object_iter_value(it);
		if (strcmp(json_object_iter_key(it), keys[i]) != 0)
			FAIL("a member of the JSON out of its place");
		if (i < 3 ? !json_is_integer(v) : i == 3 ? !json_is_false(v) : !json_is_array(v))
			FAIL("a member of the JSON of another type");
	}
	if (exact && json_integer_value(json_object_get(root, "records")) != text_count(text, "records"))
		FAIL("the JSON and the text count other records");
	static const char *const lists[][2] = { { "unresolved", "unresolved intents" },
		{ "recoveries", "recoveries" }, { "refusals", "refusals" },
		{ "authorizations", "authorizations" } };
	for (size_t i = 0; i < 4; i++) {
		long long j = (long long)json_array_size(json_object_get(root, lists[i][0]));
		long long t = text_count(text, lists[i][1]);
		if (exact && j != t)
			FAIL("the JSON and the text list other numbers");
	}
	json_t *cards = json_object_get(root, "cards");
	char want[2 * DFI_J_UID_MAX + 1] = "";
	if (uidlen > 0 && dfi_hex_encode(uid, uidlen, want, sizeof(want)) != DFI_OK)
		abort();
	for (size_t i = 0; uidlen > 0 && i < json_array_size(cards); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(cards, i), "uid")), want) != 0)
			FAIL("--uid lists another card");
	json_decref(root);
}

/* The text is inert on a terminal: newlines its own, no other control. */
static void
check_inert(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text);
	while (len > 0) {
		size_t k = 1;
		if (*p >= 0x80) {
			unsigned long u;
			int n = UTF8_getc(p, len < 4 ? (int)len : 4, &u);
			if (n <= 0 || u < 0xA0 || cli_tt_bidi(u))
				FAIL("the text holds a byte that is no printable UTF-8");
			k = (size_t)n;
		} else if ((*p < 0x20 && *p != '\n') || *p == 0x7F) {
			FAIL("the text holds a control byte");
		}
		p += k, len -= k;
	}
}

static void
list_both(int exact, const uint8_t *uid, size_t uidlen)
{
	char *text = list(0, uid, uidlen), *js = list(1, uid, uidlen);
	size_t n = strlen(text);
	if (n == 0 || text[n - 1] != '\n')
		FAIL("the text does not end its last line");
	check_inert(text);
	check(text, js, exact, uid, uidlen);
	free(text);
	free(js);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		cli_jwipe_install(); /* as dfissue's main() does: the JSON is dumped through it */
		snprintf(dir, sizeof(dir), "%s", cli_fuzz_dir());
		snprintf(jpath, sizeof(jpath), "%s/%s", dir, DFI_JOURNAL_FILE);
		snprintf(out, sizeof(out), "%s/listing", dir);
	}
	FILE *f = fopen(jpath, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	int exact = 1;
	for (size_t i = 0; i < size && exact; i++)
		exact = data[i] < 0x80 && !(data[i] == '%' && i + 1 < size && data[i + 1] >= '8' &&
		    data[i + 1] <= 'F' && (data[i + 1] <= '9' || data[i + 1] >= 'A'));
	list_both(exact, NULL, 0);
	/* the first uid= of the input, when it is 1 to 10 bytes of hex */
	const uint8_t *u = size >= 4 ? memmem(data, size, "uid=", 4) : NULL;
	if (u != NULL) {
		char hex[2 * DFI_J_UID_MAX + 1];
		size_t k = 0, at = (size_t)(u - data) + 4;
		while (k < sizeof(hex) - 1 && at + k < size && data[at + k] != ' ' && data[at + k] != '\n')
			k++;
		memcpy(hex, data + at, k);
		hex[k] = '\0';
		uint8_t uid[DFI_J_UID_MAX];
		size_t uidlen;
		if (dfi_hex_decode(hex, uid, sizeof(uid), &uidlen) == DFI_OK && uidlen > 0)
			list_both(exact, uid, uidlen);
	}
	return 0;
}
