/* The auditor's HTML page of a journal (journal_html.h). */
#include <inttypes.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/asn1.h>

#include "cli.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "journal_html.h"
#include "journal_html_index.h"
#include "linein.h"
#include "termtext.h"

struct page {
	struct jh_store st;  /* what the page shows of the records and findings */
	struct jh_index ix;  /* made once every record is in */
};

static void
on_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	jh_store_record(&((struct page *)ctx)->st, r);
}

static void
on_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)code;
	jh_store_finding(&((struct page *)ctx)->st, line, msg);
}

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD in UTF-8 */

/* Text from the journal is untrusted (any byte but NUL, %XX-decoded):
 * every byte that means something in HTML is escaped, control characters
 * are dropped, and what is not UTF-8 (the page says it is) or is a
 * bidirectional control (cli_tt_bidi: in a value it would reorder the
 * text an auditor reads after it, "Trojan Source") shows as U+FFFD.
 * OpenSSL's UTF8_getc refuses overlong forms, surrogates and code points
 * above U+10FFFF. */
static void
esc(FILE *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	while (len > 0) {
		if (*p >= 0x80) {
			unsigned long u;
			int n = UTF8_getc(p, len < 4 ? (int)len : 4, &u);
			if (n <= 0 || cli_tt_bidi(u)) {
				fputs(REPLACEMENT, o);
				n = n <= 0 ? 1 : n;
			} else if (u >= 0xA0) { /* U+0080..U+009F: C1 controls, dropped */
				fwrite(p, 1, (size_t)n, o);
			}
			p += n, len -= (size_t)n;
			continue;
		}
		switch (*p) {
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '&': fputs("&amp;", o); break;
		case '"': fputs("&quot;", o); break;
		case '\'': fputs("&#39;", o); break;
		default:
			if (*p >= 0x20 && *p != 0x7f)
				fputc(*p, o);
		}
		p++, len--;
	}
}

static bool
is_refusal(const struct jh_store *st, const struct jh_rec *r)
{
	return r->type == DFI_JREC_ABORT && strncmp(jh_text2(st, r->text), "refused", 7) == 0;
}

/* One timeline row: class names let a reader (or a test) find events. */
static void
event_row(FILE *o, const struct page *pg, const struct jh_rec *r, const struct jh_rec *in)
{
	const struct jh_store *st = &pg->st;
	char t[32], what[64] = "", detail[300] = "";
	const char *cls = "";
	int closed = jh_is_intent(r) && jh_has_outcome(&pg->ix, r->seq);
	cli_utc_time(r->time, ' ', t, sizeof(t));
	switch (r->type) {
	case DFI_JREC_INTENT:
		cls = closed ? "ev-intent" : "ev-intent ev-unresolved";
		snprintf(what, sizeof(what), "%s", closed ? "key change started" :
		    "key change UNRESOLVED");
		snprintf(detail, sizeof(detail), "base key %s, generation %" PRIu32, jh_text2(st, r->text),
		    r->u.in.key_gen);
		break;
	case DFI_JREC_CHANGE: {
		char tgt[2 * DFI_J_TARGET_MAX + 1] = "-";
		size_t tl;
		const uint8_t *target = jh_bytes(st, r->text, 0, &tl);
		if (tl > 0)
			cli_hexs(target, tl, tgt, sizeof(tgt));
		cls = closed ? "ev-change" : "ev-change ev-unresolved";
		snprintf(what, sizeof(what), "%s %s", closed ? "card change started:" :
		    "card change UNRESOLVED:", jh_text2(st, r->text));
		snprintf(detail, sizeof(detail), "target %s", tgt);
		break;
	}
	case DFI_JREC_COMMIT:
		cls = "ev-commit";
		snprintf(what, sizeof(what), "committed");
		snprintf(detail, sizeof(detail), "%s", in->type == DFI_JREC_CHANGE ?
		    "the card confirmed the change" : "the card confirmed the new key");
		break;
	case DFI_JREC_ABORT:
		cls = is_refusal(st, r) ? "ev-abort ev-refusal" : "ev-abort";
		snprintf(what, sizeof(what), "%s", is_refusal(st, r) ? "refused" : "aborted");
		snprintf(detail, sizeof(detail), "%s", jh_text2(st, r->text));
		break;
	case DFI_JREC_RESOLVE:
		cls = "ev-resolve ev-tear";
		snprintf(what, sizeof(what), "tear resolved");
		if (in->type == DFI_JREC_CHANGE)
			snprintf(detail, sizeof(detail), "the card's answer was lost; probing it showed %s",
			    r->u.out.matched == DFI_JMATCH_NEW ? "the change made" :
			    r->u.out.matched == DFI_JMATCH_OLD ? "the change not made" : "neither state");
		else
			snprintf(detail, sizeof(detail), "the card's answer was lost; probing it showed %s "
			    "(version %d)", r->u.out.matched == DFI_JMATCH_NEW ? "the new key" :
			    r->u.out.matched == DFI_JMATCH_OLD ? "the old key" : "neither key",
			    r->u.out.observed);
		break;
	default:
		return;
	}
	fprintf(o, "<tr class=\"ev %s\" data-seq=\"%" PRIu64 "\"><td>%" PRIu64 "</td><td>%s</td>"
		   "<td class=\"what\">", cls, r->seq, r->seq, t);
	esc(o, what);
	if (in->type == DFI_JREC_CHANGE)
		fprintf(o, "</td><td>" DFI_AID_FMT "</td><td>-</td><td>-</td><td>", DFI_AID_ARGS(in->u.in.aid));
	else
		fprintf(o, "</td><td>" DFI_AID_FMT "</td><td>%u</td><td>v%u &rarr; v%u</td><td>",
		    DFI_AID_ARGS(in->u.in.aid), in->u.in.keyno, in->u.in.old_version,
		    in->u.in.new_version);
	esc(o, detail);
	fputs("</td><td>", o);
	esc(o, jh_text(st, r->text));
	fputs("</td></tr>\n", o);
}

/* Card c's UID in hex. */
static void
card_uid(const struct page *pg, size_t c, char uid[2 * DFI_J_UID_MAX + 1])
{
	const struct jh_rec *in = &pg->st.rec[pg->ix.first[c]];
	cli_hexs(in->u.in.uid, in->u.in.uid_len, uid, 2 * DFI_J_UID_MAX + 1);
}

static void
cards_section(FILE *o, const struct page *pg)
{
	/* Cards in order of first appearance; ix.order holds each card's
	 * records together, in file order. */
	const struct jh_index *ix = &pg->ix;
	fputs("<h2>Cards</h2>\n<table id=\"cards\"><tr><th>card UID</th><th>changes</th>"
	      "<th>committed</th><th>tears resolved</th><th>aborted</th><th>refused</th>"
	      "<th>unresolved</th></tr>\n", o);
	for (size_t c = 0, at = 0; c < ix->ncards; c++) {
		unsigned changes = 0, commits = 0, resolves = 0, aborts = 0, refused = 0, open = 0;
		for (; at < ix->norder && ix->card[ix->order[at]] == c; at++) {
			const struct jh_rec *r = &pg->st.rec[ix->order[at]];
			changes += jh_is_intent(r) ? 1u : 0u;
			open += jh_is_intent(r) && !jh_has_outcome(ix, r->seq) ? 1u : 0u;
			commits += r->type == DFI_JREC_COMMIT;
			resolves += r->type == DFI_JREC_RESOLVE;
			refused += is_refusal(&pg->st, r);
			aborts += r->type == DFI_JREC_ABORT && !is_refusal(&pg->st, r);
		}
		char uid[2 * DFI_J_UID_MAX + 1];
		card_uid(pg, c, uid);
		fprintf(o, "<tr class=\"card-row%s\" data-uid=\"%s\"><td><a href=\"#card-%s\">%s</a></td>"
			   "<td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td></tr>\n",
		    open ? " has-unresolved" : "", uid, uid, uid, changes, commits, resolves, aborts,
		    refused, open);
	}
	fputs("</table>\n", o);
	if (ix->ncards == 0)
		fputs("<p>No key change in this journal.</p>\n", o);

	for (size_t c = 0, at = 0; c < ix->ncards; c++) {
		char uid[2 * DFI_J_UID_MAX + 1];
		card_uid(pg, c, uid);
		fprintf(o, "<section class=\"card\" id=\"card-%s\"><h3>Card %s</h3>\n"
			   "<table class=\"timeline\"><tr><th>seq</th><th>time (UTC)</th><th>event</th>"
			   "<th>AID</th><th>key</th><th>version</th><th>detail</th><th>station</th></tr>\n",
		    uid, uid);
		for (; at < ix->norder && ix->card[ix->order[at]] == c; at++) {
			size_t i = ix->order[at];
			event_row(o, pg, &pg->st.rec[i], &pg->st.rec[ix->owner[i]]);
		}
		fputs("</table></section>\n", o);
	}
}

static void
recoveries_section(FILE *o, const struct page *pg)
{
	fputs("<h2>Recoveries</h2>\n<table id=\"recoveries\"><tr><th>seq</th><th>time (UTC)</th>"
	      "<th>quarantined</th><th>file</th><th>SHA-256</th><th>station</th></tr>\n", o);
	size_t n = 0;
	for (size_t i = 0; i < pg->st.nrcv; i++) {
		const struct jh_recovery *r = &pg->st.rcv[i];
		char t[32], sha[65];
		cli_utc_time(r->time, ' ', t, sizeof(t));
		cli_hexs(r->q_sha256, sizeof(r->q_sha256), sha, sizeof(sha));
		fprintf(o, "<tr class=\"recovery\"><td>%" PRIu64 "</td><td>%s</td><td>%" PRIu64
			   " line(s), %" PRIu64 " byte(s), %" PRIu64 " intent(s)</td><td>",
		    r->seq, t, r->q_lines, r->q_bytes, r->q_intents);
		esc(o, jh_text2(&pg->st, r->text));
		fprintf(o, "</td><td class=\"hash\">%s</td><td>", sha);
		esc(o, jh_text(&pg->st, r->text));
		fputs("</td></tr>\n", o);
		n++;
	}
	fputs("</table>\n", o);
	if (n == 0)
		fputs("<p>None: the journal was never found torn.</p>\n", o);
}

/* Every "checkpoint <base64>" line of the file, decoded and checked. */
static int
checkpoints_section(FILE *o, const char *path, const dfi_jpubkey *pk, unsigned *bad)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char line[DFI_J_LINE_MAX + 1];
	size_t ll;
	int got;
	uint64_t ln = 0;
	fputs("<h2>Checkpoints</h2>\n<table id=\"checkpoints\"><tr><th>line</th><th>tree size</th>"
	      "<th>previous size</th><th>root hash</th><th>signature</th></tr>\n", o);
	*bad = 0;
	while ((got = cli_line_read(f, line, sizeof(line), &ll)) >= 0) {
		ln++;
		uint8_t note[DFI_J_NOTE_MAX];
		size_t nl;
		/* An over-long line is no record and no checkpoint (the verify
		 * reports it): read past, never held; a record line is not
		 * shown here. */
		if (got == 0)
			cli_line_skip(f);
		dfi_err e = got == 0 ? DFI_E_NOT_FOUND : dfi_note_from_line(line, ll, note, sizeof(note), &nl);
		if (e == DFI_E_NOT_FOUND)
			continue;
		dfi_checkpoint cp;
		memset(&cp, 0, sizeof(cp));
		if (e == DFI_OK)
			e = dfi_note_open(note, nl, pk, &cp);
		if (e == DFI_E_JOURNAL_FORMAT) {
			fprintf(o, "<tr class=\"cp cp-bad\"><td>%" PRIu64 "</td><td colspan=\"3\">not a "
				   "checkpoint note</td><td class=\"result\">MALFORMED</td></tr>\n", ln);
			(*bad)++;
			continue;
		}
		char root[2 * DFI_HASH_LEN + 1];
		cli_hexs(cp.root, sizeof(cp.root), root, sizeof(root));
		const char *cls = pk == NULL ? "cp-unchecked" : e == DFI_OK ? "cp-verified" : "cp-bad";
		const char *res = pk == NULL ? "not checked (no public key given)" :
		    e == DFI_OK ? "verified" : "INVALID signature";
		*bad += pk != NULL && e != DFI_OK;
		fprintf(o, "<tr class=\"cp %s\"><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
			   "</td><td class=\"hash\">%s</td><td class=\"result\">%s</td></tr>\n",
		    cls, ln, cp.size, cp.prev_size, root, res);
	}
	fclose(f);
	fputs("</table>\n", o);
	return 0;
}

static const char css[] =
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
    "margin:.5em 0 1.5em}th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left;"
    "font-size:.9em}th{background:#eee}.hash{font-family:monospace;font-size:.8em}"
    ".ev-commit .what,.cp-verified .result,.ok{color:#060}.ev-tear .what{color:#a60}"
    ".ev-abort .what{color:#666}.ev-refusal .what,.ev-unresolved .what,.cp-bad .result,"
    ".has-unresolved,.fail{color:#b00;font-weight:bold}.cp-unchecked .result{color:#666}";

static int
write_page(FILE *o, const char *path, const struct page *pg, const struct dfi_jverify_result *res,
    dfi_err verr, const char *pubkey, const dfi_jpubkey *pk)
{
	const char *origin = pg->st.origin;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"generator\" content=\"dfissue journal show --html\">\n<title>Journal ", o);
	esc(o, origin);
	fprintf(o, "</title>\n<style>%s</style></head><body>\n<h1>Key-change journal <code>", css);
	esc(o, origin);
	fputs("</code></h1>\n<table id=\"summary\"><tr><th>file</th><td>", o);
	esc(o, path);
	fprintf(o, "</td></tr><tr><th>records</th><td>%" PRIu64 " (%" PRIu64 " covered by "
		   "checkpoints)</td></tr><tr><th>key changes</th><td>%" PRIu64 " intents, %" PRIu64
		   " commits, %" PRIu64 " aborts, %" PRIu64 " resolves, %" PRIu64 " unresolved</td>"
		   "</tr><tr><th>checkpoints</th><td>%" PRIu64 "</td></tr>"
		   "<tr><th>verification</th><td id=\"verification\" class=\"%s\">",
	    res->records, res->covered, res->intents, res->commits, res->aborts, res->resolves,
	    res->unresolved, res->checkpoints, pk == NULL ? "" : verr == DFI_OK ? "ok" : "fail");
	if (pk == NULL)
		fputs("signatures not checked: give --pubkey KEY.pem", o);
	else if (verr == DFI_OK)
		fputs("OK: every checkpoint signature, the Merkle tree, sequence numbers and "
		      "intent/outcome pairing verified with ", o);
	else
		fprintf(o, "FAILED: %" PRIu64 " finding(s) with ", res->findings);
	if (pk != NULL)
		esc(o, pubkey);
	fputs("</td></tr></table>\n", o);
	cards_section(o, pg);
	recoveries_section(o, pg);
	unsigned bad;
	if (checkpoints_section(o, path, pk, &bad) != 0)
		return -1;
	if (pg->st.nf > 0) {
		fputs("<h2>Findings</h2>\n<table id=\"findings\"><tr><th>line</th><th>finding</th></tr>\n",
		    o);
		for (size_t i = 0; i < pg->st.nf; i++) {
			fprintf(o, "<tr class=\"finding\"><td>%" PRIu64 "</td><td>", pg->st.f[i].line);
			esc(o, jh_text(&pg->st, pg->st.f[i].text));
			fputs("</td></tr>\n", o);
		}
		fputs("</table>\n", o);
	}
	fputs("<p><small>Written by dfissue journal show --html. Verify independently with "
	      "<code>dfissue journal verify</code> or openssl and sha256sum "
	      "(docs/JOURNAL.md).</small></p>\n</body></html>\n", o);
	return ferror(o) ? -1 : 0;
}

int
journal_html_write(const char *journal, const char *pubkey, const char *out)
{
	char path[4200];
	struct stat st;
	if (stat(journal, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(path, sizeof(path), "%s/%s", journal, DFI_JOURNAL_FILE);
	else
		snprintf(path, sizeof(path), "%s", journal);

	dfi_jpubkey *pk = NULL;
	if (pubkey != NULL) {
		size_t pl;
		char *pem = cli_read_file(pubkey, 65536, &pl);
		dfi_err e = pem == NULL ? DFI_E_IO : dfi_jpubkey_from_pem(pem, pl, &pk);
		free(pem);
		if (e != DFI_OK) {
			cli_errorf("journal show: '%s' is not a readable Ed25519 or ECDSA P-256 public "
			    "key in PEM", pubkey);
			return DFI_EXIT_FAIL;
		}
	}
	struct page pg;
	memset(&pg, 0, sizeof(pg));
	struct dfi_jverify_opts vo = { .pubkey = pk, .record = on_record, .finding = on_finding,
		.ctx = &pg };
	struct dfi_jverify_result *res = calloc(1, sizeof(*res));
	dfi_err e = res == NULL ? DFI_E_NOMEM : dfi_journal_verify_file(path, &vo, res);
	int rc = DFI_EXIT_OK;
	if (e != DFI_E_IO && e != DFI_E_NOT_FOUND && e != DFI_E_NOMEM && !pg.st.oom &&
	    jh_index_make(pg.st.rec, pg.st.n, &pg.ix) != DFI_OK)
		pg.st.oom = 1;
	if (e == DFI_E_IO || e == DFI_E_NOT_FOUND || e == DFI_E_NOMEM || pg.st.oom) {
		rc = cli_fail(path, pg.st.oom ? DFI_E_NOMEM : e);
	} else {
		int to_stdout = strcmp(out, "-") == 0;
		FILE *o = to_stdout ? stdout : fopen(out, "w");
		if (o == NULL) {
			cli_errorf("journal show: cannot write '%s'", out);
			rc = DFI_EXIT_FAIL;
		} else {
			int w = write_page(o, path, &pg, res, e, pubkey, pk);
			if ((!to_stdout && fclose(o) != 0) || w != 0) {
				cli_errorf("journal show: writing '%s' failed", out);
				rc = DFI_EXIT_FAIL;
			}
		}
		if (rc == DFI_EXIT_OK && !to_stdout)
			fprintf(stderr, "wrote %s: %" PRIu64 " record(s), %" PRIu64 " checkpoint(s), %s\n", out,
			    pg.st.records, res->checkpoints, pk == NULL ? "signatures not checked" :
			    e == DFI_OK ? "verified" : "verification FAILED");
		/* As `journal verify`: a journal that fails verification is a
		 * failure, even though the page (which shows why) was written. */
		if (rc == DFI_EXIT_OK && pk != NULL && e != DFI_OK)
			rc = DFI_EXIT_FAIL;
	}
	free(res);
	jh_index_free(&pg.ix);
	jh_store_free(&pg.st);
	dfi_jpubkey_free(pk);
	return rc;
}
