/* dfissue readers: the PC/SC readers pcscd knows and whether a card is in
 * each; and the reader errors every PC/SC subcommand shares (pcscd down, a
 * reader name pcscd does not know). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "jtext.h"
#include "opts.h"
#include "termtext.h"
#include "dfissue/pcsc.h"
#include "dfissue/util.h"

/* PC/SC names a reader in at most 128 bytes (pcsc-lite's MAX_READERNAME);
 * a longer one is shown cut, at a whole character. */
#define PCSC_NAME_SHOWN 128

static const char *const readers_help[] = {
	"usage: dfissue readers [--json | --names]\n\n"
	"Lists the PC/SC readers (through pcscd) and card presence with the ATR.\n"
	"Use a name shown here as --reader 'pcsc:NAME'.\n\n"
	"  --json   one JSON object: {\"readers\": [{\"name\", \"card_present\", \"atr\"}]};\n"
	"           on failure {\"error\": CODE, \"message\": TEXT, \"exit\": 1}\n"
	"  --names  the reader names only, one per line (for scripts and completion)\n"
	"           A byte of a name that is no printable character shows as \\xHH.\n\n"
	"Exit status 1 when pcscd cannot be reached (error code pcscd_unreachable).\n",
	NULL,
};

int
cli_pcsc_fail(const char *what, dfi_err e)
{
	if (e != DFI_E_PCSC_NO_SERVICE)
		return cli_fail(what, e);
	const char *sock = getenv("PCSCLITE_CSOCK_NAME");
	cli_error_code("pcscd_unreachable");
	cli_errorf("%s: cannot reach pcscd, the PC/SC daemon (socket %s): it is not running. "
	    "Start it with 'systemctl start pcscd.socket' (or run 'pcscd' as root), check "
	    "'systemctl status pcscd', then 'dfissue readers'", what,
	    sock != NULL && *sock ? sock : "/run/pcscd/pcscd.comm");
	return DFI_EXIT_FAIL;
}

int
cli_pcsc_unknown(const char *spec, const char *what, const struct dfi_pcsc_reader *r, size_t n)
{
	char list[1024] = "";
	size_t used = 0;
	for (size_t i = 0; i < n && used < sizeof(list); i++) {
		int k = snprintf(list + used, sizeof(list) - used, "%s'%s'", i ? ", " : "", r[i].name);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	cli_error_code("unknown_reader");
	if (n == 0)
		cli_errorf("reader '%s': pcscd has no reader at all: plug the reader in (or check "
		    "its driver), then 'dfissue readers'", spec);
	else
		cli_errorf("reader '%s': %s; it has %zu: %s (names as 'dfissue readers' prints "
		    "them, 'pcsc:*' for all)", spec, what, n, list);
	return DFI_EXIT_FAIL;
}

int
cli_pcsc_check_reader(const char *cmd, const char *name)
{
	struct dfi_pcsc_reader *r = NULL;
	size_t n = 0;
	dfi_err e;
	/* A pcscd started a moment ago lists its readers as their drivers
	 * come up: while it lists none, wait a little (10 s at most). */
	for (int tries = 0;; tries++) {
		e = dfi_pcsc_reader_check(name, &r, &n);
		if (e != DFI_E_UNKNOWN_READER || n > 0 || tries >= 40)
			break;
		dfi_pcsc_readers_free(r, n);
		r = NULL;
		struct timespec ts = { 0, 250 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (e == DFI_OK || (e != DFI_E_UNKNOWN_READER && e != DFI_E_PCSC_NO_SERVICE)) {
		/* Other PC/SC trouble is waited out by the station like a
		 * reader unplugged mid-run. */
		dfi_pcsc_readers_free(r, n);
		return DFI_EXIT_OK;
	}
	if (e == DFI_E_PCSC_NO_SERVICE)
		return cli_pcsc_fail(cmd, e);
	char spec[300];
	snprintf(spec, sizeof(spec), "pcsc:%s", name);
	int rc = cli_pcsc_unknown(spec, "pcscd knows no reader of that name", r, n);
	dfi_pcsc_readers_free(r, n);
	return rc;
}

static void
print_json(struct dfi_pcsc_reader *r, size_t n, int *rc)
{
	json_t *arr = json_array(), *root = json_object();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		char atr[2 * sizeof(r[i].atr) + 1] = "";
		(void)dfi_hex_encode(r[i].atr, r[i].atr_len, atr, sizeof(atr));
		/* a name that is not UTF-8: null and name_hex (jtext.h), not a
		 * reader left out of the list */
		json_t *o = json_pack("{s:o, s:b, s:s}", "name", cli_json_text(r[i].name),
		    "card_present", r[i].card_present, "atr", atr);
		cli_json_text_hex(o, "name", r[i].name);
		json_array_append_new(arr, o);
	}
	if (root == NULL || arr == NULL || json_object_set_new(root, "readers", arr) != 0 ||
	    json_dumpf(root, stdout, JSON_INDENT(2)) != 0)
		*rc = cli_fail("readers", DFI_E_NOMEM);
	else
		putchar('\n');
	json_decref(root);
}

int
sub_readers(int argc, char **argv)
{
	int json = 0, names = 0;
	const struct cli_opt opts[] = { CLI_FLAG("json", &json), CLI_FLAG("names", &names),
		CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "readers", .help = readers_help, .opts = opts };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;

	struct dfi_pcsc_reader *r = NULL;
	size_t n = 0;
	dfi_err e = dfi_pcsc_list_readers(&r, &n);
	if (e != DFI_OK)
		return cli_pcsc_fail("readers", e);

	rc = DFI_EXIT_OK;
	if (json) {
		print_json(r, n, &rc);
	} else if (names) {
		/* names come from pcscd's drivers, from what each device says of
		 * itself: in their terminal form (termtext.h), as below */
		for (size_t i = 0; i < n; i++) {
			char name[CLI_TT_CAP(PCSC_NAME_SHOWN)];
			printf("%s\n", cli_tt(name, sizeof(name), r[i].name));
		}
	} else if (n == 0) {
		printf("no readers (is the reader plugged in and pcscd running?)\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			char atr[2 * sizeof(r[i].atr) + 1] = "", name[CLI_TT_CAP(PCSC_NAME_SHOWN)];
			(void)dfi_hex_encode(r[i].atr, r[i].atr_len, atr, sizeof(atr));
			cli_tt(name, sizeof(name), r[i].name);
			if (r[i].card_present)
				printf("%s: card present, ATR %s\n", name, atr);
			else
				printf("%s: no card\n", name);
		}
	}
	dfi_pcsc_readers_free(r, n);
	return rc;
}
