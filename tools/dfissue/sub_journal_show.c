/*
 * dfissue journal show: every key change of a journal with its outcome, the
 * refusals and authorizations, per card (--uid), as JSON (--json) or as an
 * HTML page (--html). Split from sub_journal.c; the listing is
 * journal_show.c's, the page journal_html.c's.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_html.h"
#include "journal_show.h"
#include "sub_journal_int.h"

int
j_show(int argc, char **argv)
{
	int json = 0;
	const char *uidhex = NULL, *jopt = NULL, *html = NULL, *pubkey = NULL;
	const struct cli_opt opts[] = { CLI_FLAG("json", &json), CLI_STR("uid", &uidhex),
		CLI_STR("journal", &jopt), CLI_STR("html", &html), CLI_STR("pubkey", &pubkey),
		CLI_OPTS_END };
	const char *path;
	int rc = journal_parse_one("journal show", opts, NULL, &jopt, argc, argv, &path);
	if (rc != CLI_GO_ON)
		return rc;
	if (html != NULL && (json || uidhex != NULL))
		return cli_usagef("journal show: --html writes the whole journal: no --json or --uid with it");
	if (html != NULL)
		return journal_html_write(path, pubkey, html);
	if (pubkey != NULL)
		return cli_usagef("journal show: --pubkey goes with --html (or use 'dfissue journal verify')");
	uint8_t uid[DFI_J_UID_MAX];
	size_t uidlen = 0;
	if (uidhex != NULL && (dfi_hex_decode(uidhex, uid, sizeof(uid), &uidlen) != DFI_OK || uidlen == 0))
		return cli_usagef("journal show: --uid must be 1 to %d bytes of hex", DFI_J_UID_MAX);
	struct dfi_jverify_result res;
	dfi_err e = js_list(path, json, uid, uidlen, &res);
	if (e != DFI_OK)
		return cli_fail(path, e);
	if (!json)
		journal_tail_advice(path, &res);
	return DFI_EXIT_OK;
}
