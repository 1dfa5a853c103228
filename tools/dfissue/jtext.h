/* Untrusted texts (a journal's, a registry row's) as JSON values.
 *
 * A journal's text field may hold any byte but NUL (docs/JOURNAL.md), and
 * jansson takes UTF-8 only: json_string() refuses the rest, and an element
 * packed with a text it refused is not made at all, so a listing left it
 * out, silently. Here such a text is null, and a member named after it
 * with "_hex" carries its exact bytes. */
#ifndef DFISSUE_CLI_JTEXT_H
#define DFISSUE_CLI_JTEXT_H

#include <jansson.h>

/* s as a new JSON string when it is UTF-8, else JSON null (never NULL:
 * for json_pack's "o"). */
json_t *cli_json_text(const char *s);

/* When o's member key is null (cli_json_text refused s), sets o's member
 * "<key>_hex" to s's bytes in upper-case hex. Nothing when o is NULL. */
void cli_json_text_hex(json_t *o, const char *key, const char *s);

#endif
