/* libFuzzer harness: the auditor's HTML page of a journal, `dfissue
 * journal show --html` (tools/dfissue/journal_html.c), from a journal the
 * auditor received: untrusted.
 *
 * An input is the bytes of journal.log as they are. Each is rendered
 * twice: without a public key, and with the fixed Ed25519 key below (the
 * seeds are journals it signed, so their checkpoints verify and a mutated
 * one fills the findings table).
 *
 * What must hold for every page written (__builtin_trap otherwise):
 *  - it is UTF-8, as its <meta charset> says: no malformed or overlong
 *    sequence, no surrogate, nothing above U+10FFFF; no control character
 *    but '\n' (C0, DEL, C1) and no bidirectional control, with which a
 *    value could reorder what the auditor reads around it;
 *  - every '<' opens a tag of the fixed set the writer emits (or its
 *    <!DOCTYPE html>), every tag holds only attributes of its fixed set,
 *    each with a double-quoted value free of '<', '>', '&' and quotes;
 *    outside tags there is no '>' and every '&' opens one of the entities
 *    the writer uses: no byte of the journal opened a tag, an attribute, a
 *    script or a character reference;
 *  - the page ends with the writer's closing </body></html>;
 *  - with the key, a page is written whether or not the journal verifies
 *    (exit 0 or 1); without it the exit is 0 whenever a page is written.
 * ASan/UBSan/LSan catch the rest. Seeds: corpus/journal_html/ (signed
 * journals of every record type, and one whose values hold markup, bytes
 * that are not UTF-8 and bidirectional controls). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli_fuzz.h"
#include "dfissue/cli.h"
#include "dfissue/journal.h"
#include "dfissue/journal_html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed test key of fuzz_journal.c (RFC 8032 §7.1 TEST 1). */
static const uint8_t seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
	0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static char dir[64], jpath[128], pem[128], page[128];

static void
init(void)
{
	snprintf(dir, sizeof(dir), "%s", cli_fuzz_dir());
	snprintf(jpath, sizeof(jpath), "%s/%s", dir, DFI_JOURNAL_FILE);
	snprintf(pem, sizeof(pem), "%s/journal.pub.pem", dir);
	snprintf(page, sizeof(page), "%s/page.html", dir);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	FILE *f = fopen(pem, "w");
	if (pk == NULL || f == NULL || PEM_write_PUBKEY(f, pk) != 1 || fclose(f) != 0)
		abort();
	EVP_PKEY_free(pk);
}

/* The tags journal_html.c writes, and the attributes each may hold. */
static const struct {
	const char *name;
	const char *attrs[4];
} tags[] = {
	{ "html", { "lang" } }, { "head", { NULL } }, { "meta", { "charset", "name", "content" } },
	{ "title", { NULL } }, { "style", { NULL } }, { "body", { NULL } }, { "h1", { NULL } },
	{ "h2", { NULL } }, { "h3", { NULL } }, { "code", { NULL } }, { "p", { NULL } },
	{ "small", { NULL } }, { "table", { "id", "class" } }, { "tr", { "class", "data-seq", "data-uid" } },
	{ "th", { NULL } }, { "td", { "id", "class", "colspan" } }, { "a", { "href" } },
	{ "section", { "class", "id" } },
};

static const char *const entities[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&#39;", "&rarr;" };

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* A tag at p (after its '<'): its length up to and with its '>', or 0. */
static size_t
tag(const char *p, size_t len)
{
	static const char doctype[] = "!DOCTYPE html>";
	if (len >= sizeof(doctype) - 1 && memcmp(p, doctype, sizeof(doctype) - 1) == 0)
		return sizeof(doctype) - 1;
	size_t i = p[0] == '/', n = i;
	while (n < len && is_name_char(p[n]))
		n++;
	size_t t;
	for (t = 0; t < sizeof(tags) / sizeof(tags[0]); t++)
		if (strlen(tags[t].name) == n - i && memcmp(tags[t].name, p + i, n - i) == 0)
			break;
	if (t == sizeof(tags) / sizeof(tags[0]))
		return 0;
	while (n < len && p[n] == ' ' && p[0] != '/') {
		size_t a = ++n;
		while (n < len && is_name_char(p[n]))
			n++;
		int ok = 0;
		for (size_t k = 0; k < 4 && tags[t].attrs[k] != NULL; k++)
			ok |= strlen(tags[t].attrs[k]) == n - a && memcmp(tags[t].attrs[k], p + a, n - a) == 0;
		if (!ok || n + 1 >= len || p[n] != '=' || p[n + 1] != '"')
			return 0;
		for (n += 2; n < len && p[n] != '"'; n++)
			if (p[n] == '<' || p[n] == '>' || p[n] == '&' || p[n] == '\'')
				return 0;
		if (n++ >= len)
			return 0;
	}
	return n < len && p[n] == '>' ? n + 1 : 0;
}

/* Strict UTF-8 (RFC 3629), written out here rather than taken from the
 * library the writer uses, so that the oracle does not share its bugs:
 * the code point of the sequence at p, its length in *n, or -1. */
static long
utf8(const unsigned char *p, size_t len, size_t *n)
{
	static const long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t k = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 :
	    (p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (k == 0 || k > len)
		return -1;
	long u = k == 1 ? p[0] : p[0] & (0x7F >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		u = u << 6 | (p[i] & 0x3F);
	}
	if (u < min[k] || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
		return -1;
	*n = k;
	return u;
}

static void
check_page(const char *p, size_t len)
{
	static const char end[] = "</body></html>\n";
	if (len < sizeof(end) - 1 || memcmp(p + len - (sizeof(end) - 1), end, sizeof(end) - 1) != 0)
		FAIL("the page does not end as the writer ends it");
	for (size_t i = 0, n; i < len; i += n) {
		long u = utf8((const unsigned char *)p + i, len - i, &n);
		if (u < 0)
			FAIL("the page is not UTF-8");
		if ((u < 0x20 && u != '\n') || (u >= 0x7F && u < 0xA0))
			FAIL("a control character in the page");
		if (u == 0x061C || u == 0x200E || u == 0x200F || (u >= 0x202A && u <= 0x202E) ||
		    (u >= 0x2066 && u <= 0x2069))
			FAIL("a bidirectional control in the page");
	}
	for (size_t i = 0; i < len;) {
		if (p[i] == '<') {
			size_t t = tag(p + i + 1, len - i - 1);
			if (t == 0)
				FAIL("a '<' that opens no tag of the writer's");
			i += 1 + t;
		} else if (p[i] == '>') {
			FAIL("a '>' outside a tag");
		} else if (p[i] == '&') {
			size_t k, el = 0;
			for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
				el = strlen(entities[k]);
				if (len - i >= el && memcmp(p + i, entities[k], el) == 0)
					break;
			}
			if (k == sizeof(entities) / sizeof(entities[0]))
				FAIL("a '&' that opens no entity of the writer's");
			i += el;
		} else {
			i++;
		}
	}
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	for (size_t r; b != NULL && (r = fread(b + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap) {
			char *nb = realloc(b, cap *= 2);
			if (nb == NULL)
				free(b);
			b = nb;
		}
	}
	fclose(f);
	if (b == NULL)
		abort();
	*len = n;
	return b;
}

static void
render(const char *pubkey)
{
	unlink(page);
	shim_clear();
	/* its "wrote PAGE: ..." line on every run would drown libFuzzer's */
	int err = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	if (err < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0)
		abort();
	int rc = journal_html_write(dir, pubkey, page);
	if (dup2(err, STDERR_FILENO) < 0)
		abort();
	close(err);
	close(null);
	size_t len;
	char *p = slurp(page, &len);
	if (p == NULL) {
		if (rc == DFI_EXIT_OK || shim_last_error()[0] == '\0')
			FAIL("no page, and no error said why");
		return;
	}
	if (rc != DFI_EXIT_OK && (pubkey == NULL || rc != DFI_EXIT_FAIL))
		FAIL("a page written, with an exit that is no verdict");
	check_page(p, len);
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0')
		init();
	FILE *f = fopen(jpath, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	render(NULL);
	render(pem);
	return 0;
}
