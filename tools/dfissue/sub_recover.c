/*
 * dfissue recover: lists the journal's unresolved intents (key changes
 * whose outcome no station has seen yet) with their cards. Presenting such
 * a card to `dfissue personalize` resolves the intent by probing the card.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "jtext.h"
#include "jwipe.h"
#include "opts.h"
#include "cli_registry.h"
#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "sub_journal_int.h"
#include "termtext.h"

static const char *const help[] = {
	"usage: dfissue recover [--journal DIR [--pubkey KEY.pem]] [--registry URL]\n"
	"                       [--json]\n"
	"Lists the unresolved intents of a journal: key changes sent (or about to be\n"
	"sent) to a card whose outcome was never seen, with the card's UID, the key\n"
	"and the versions. Present each card to 'dfissue personalize' to resolve them.\n"
	"With --registry, also (or only) the intents every station of the registry left\n"
	"open: a torn card put aside at one station is finished at any other that shares\n"
	"the registry.\n"
	"\n"
	"  --journal DIR      the journal directory (or its journal.log)\n"
	"  --pubkey KEY.pem   also verify the checkpoint signatures with this key\n"
	"  --json             one JSON object per unresolved intent on stdout\n"
	CLI_REGISTRY_HELP,
	NULL,
};

struct ctx {
	int json;
	unsigned long n;
	const char *origin; /* from the registry: the intent's journal */
};

static void
one(void *vctx, const dfi_jrec *in)
{
	struct ctx *c = vctx;
	char uid[2 * DFI_J_UID_MAX + 1] = "", when[32] = "";
	time_t t = (time_t)in->time;
	struct tm tm;

	dfi_hex_encode(in->key.uid, in->key.uid_len, uid, sizeof(uid));
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	c->n++;
	char tgt[2 * DFI_J_TARGET_MAX + 1] = "-";
	if (in->type == DFI_JREC_CHANGE && in->target_len > 0)
		dfi_hex_encode(in->target, in->target_len, tgt, sizeof(tgt));
	if (c->json) {
		char aid[7];
		snprintf(aid, sizeof(aid), DFI_AID_FMT, DFI_AID_ARGS(in->key.aid));
		/* texts that are not UTF-8: null, and their bytes in *_hex (jtext.h);
		 * an intent left out here would be one nobody finishes */
		json_t *o = in->type == DFI_JREC_CHANGE ?
		    json_pack("{s:I, s:s, s:o, s:s, s:s, s:s, s:s}", "intent_seq", (json_int_t)in->seq,
		    "time", when, "station", cli_json_text(in->station), "uid", uid, "aid", aid, "what",
		    in->what, "target", tgt) : json_pack("{s:I, s:s, s:o, s:s, s:s, s:i, s:i, s:i, s:o, s:I}",
		    "intent_seq", (json_int_t)in->seq, "time", when, "station", cli_json_text(in->station),
		    "uid", uid, "aid", aid, "keyno", in->key.keyno, "old_version", in->old_version,
		    "new_version", in->new_version, "key_label", cli_json_text(in->key_label),
		    "key_generation", (json_int_t)in->key_gen);
		cli_json_text_hex(o, "station", in->station);
		if (in->type != DFI_JREC_CHANGE)
			cli_json_text_hex(o, "key_label", in->key_label);
		if (o != NULL && c->origin != NULL) {
			json_object_set_new(o, "origin", cli_json_text(c->origin));
			cli_json_text_hex(o, "origin", c->origin);
		}
		cli_json_puts(o, JSON_COMPACT);
		json_decref(o);
		return;
	}
	/* the texts are the journal's or the registry's rows: untrusted */
	char tt[CLI_TT_FIELD], station[CLI_TT_FIELD];
	cli_tt(station, sizeof(station), in->station);
	if (c->origin != NULL)
		printf("registry: %s ", cli_tt(tt, sizeof(tt), c->origin));
	if (in->type == DFI_JREC_CHANGE) {
		printf("intent %llu  %s  station %s  card %s  app " DFI_AID_FMT " change %s -> %s\n",
		    (unsigned long long)in->seq, when, station, uid, DFI_AID_ARGS(in->key.aid),
		    cli_tt(tt, sizeof(tt), in->what), tgt);
		return;
	}
	printf("intent %llu  %s  station %s  card %s  app " DFI_AID_FMT " key %u  version %u -> %u  "
	    "(base key %s, generation %u)\n", (unsigned long long)in->seq, when, station, uid,
	    DFI_AID_ARGS(in->key.aid), in->key.keyno, in->old_version, in->new_version,
	    cli_tt(tt, sizeof(tt), in->key_label), in->key_gen);
}

static void
one_remote(void *vctx, const char *origin, const dfi_jrec *in, const char *station)
{
	struct ctx *c = vctx;
	(void)station; /* the record names the station that wrote it */
	c->origin = origin;
	one(c, in);
	c->origin = NULL;
}

/* --registry: every station's open intents. */
static int
registry_intents(const char *url, struct ctx *c)
{
	struct cli_registry r;
	char why[600];
	int rc = cli_registry_open(&r, "recover", url, "recover", NULL, NULL, NULL);
	if (rc != DFI_EXIT_OK)
		return rc;
	unsigned long before = c->n;
	if (dfi_pgreg_each_open_intent(r.pg, one_remote, c, why, sizeof(why)) != DFI_OK) {
		cli_errorf("recover: registry: %s", why);
		rc = DFI_EXIT_FAIL;
	} else if (!c->json) {
		printf("%lu intent(s) open in the registry, at every station\n", c->n - before);
	}
	cli_registry_close(&r);
	return rc;
}

static void
finding(void *vctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)vctx;
	cli_errorf("journal line %llu: %s (%s)", (unsigned long long)line, msg, dfi_errname(code));
}

int
sub_recover(int argc, char **argv)
{
	const char *journal = NULL, *pubkey = NULL, *registry = NULL;
	struct ctx c = { 0, 0, NULL };
	char path[4096];
	struct stat st;
	dfi_jpubkey *pk = NULL;
	const struct cli_opt opts[] = { CLI_STR("journal", &journal), CLI_STR("pubkey", &pubkey),
		CLI_FLAG("json", &c.json), CLI_STR("registry", &registry), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "recover", .help = help, .opts = opts };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (journal == NULL && registry == NULL) {
		cli_errorf("recover: needs --journal DIR or --registry URL (see --help)");
		return DFI_EXIT_USAGE;
	}
	if (journal == NULL)
		return registry_intents(registry, &c);
	if (stat(journal, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(path, sizeof(path), "%s/%s", journal, DFI_JOURNAL_FILE);
	else
		snprintf(path, sizeof(path), "%s", journal);
	if (pubkey != NULL) {
		FILE *f = fopen(pubkey, "r");
		char pem[4096];
		size_t n = f != NULL ? fread(pem, 1, sizeof(pem), f) : 0;
		if (f != NULL)
			fclose(f);
		dfi_err e = n > 0 ? dfi_jpubkey_from_pem(pem, n, &pk) : DFI_E_IO;
		if (e != DFI_OK)
			return cli_fail(pubkey, e);
	}
	struct dfi_jverify_opts o = { .pubkey = pk, .unresolved = one, .finding = finding,
		.ctx = &c };
	struct dfi_jverify_result res;
	dfi_err e = dfi_journal_verify_file(path, &o, &res);
	dfi_jpubkey_free(pk);
	if (e == DFI_E_IO || e == DFI_E_NOT_FOUND)
		return cli_fail(path, e);
	if (!c.json) {
		printf("%lu unresolved intent(s) in %llu record(s)%s\n", c.n,
		    (unsigned long long)res.records,
		    pk == NULL && pubkey == NULL ? " (signatures not checked: give --pubkey)" : "");
		journal_tail_advice(journal, &res);
	}
	if (e != DFI_OK && pubkey != NULL)
		return cli_fail("journal verification", e);
	return registry != NULL ? registry_intents(registry, &c) : DFI_EXIT_OK;
}
