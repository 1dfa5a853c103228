/* dfissue readers: the PC/SC readers pcscd knows and whether a card is in each. */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"
#include "dfissue/pcsc.h"
#include "dfissue/util.h"

static void
readers_usage(FILE *f)
{
	fprintf(f, "usage: dfissue readers [--json]\n\n"
		   "Lists the PC/SC readers (through pcscd) and card presence with the ATR.\n"
		   "Use a name shown here as --reader 'pcsc:NAME'.\n\n"
		   "  --json   one JSON object: {\"readers\": [{\"name\", \"card_present\", \"atr\"}]}\n");
}

int
cmd_readers(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': readers_usage(stdout); return DFI_EXIT_OK;
		default: readers_usage(stderr); return DFI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_errorf("readers: unexpected argument '%s'", argv[optind]);
		return DFI_EXIT_USAGE;
	}

	struct dfi_pcsc_reader *r = NULL;
	size_t n = 0;
	dfi_err e = dfi_pcsc_list_readers(&r, &n);
	if (e != DFI_OK)
		return cli_fail("readers", e);

	int rc = DFI_EXIT_OK;
	if (json) {
		json_t *arr = json_array(), *root = json_object();
		for (size_t i = 0; arr != NULL && i < n; i++) {
			char atr[2 * sizeof(r[i].atr) + 1] = "";
			(void)dfi_hex_encode(r[i].atr, r[i].atr_len, atr, sizeof(atr));
			json_array_append_new(arr, json_pack("{s:s, s:b, s:s}", "name", r[i].name,
			    "card_present", r[i].card_present, "atr", atr));
		}
		if (root == NULL || arr == NULL || json_object_set_new(root, "readers", arr) != 0 ||
		    json_dumpf(root, stdout, JSON_INDENT(2)) != 0) {
			rc = cli_fail("readers", DFI_E_NOMEM);
		} else {
			putchar('\n');
		}
		json_decref(root);
	} else if (n == 0) {
		printf("no readers (is the reader plugged in and pcscd running?)\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			char atr[2 * sizeof(r[i].atr) + 1] = "";
			(void)dfi_hex_encode(r[i].atr, r[i].atr_len, atr, sizeof(atr));
			if (r[i].card_present)
				printf("%s: card present, ATR %s\n", r[i].name, atr);
			else
				printf("%s: no card\n", r[i].name);
		}
	}
	dfi_pcsc_readers_free(r, n);
	return rc;
}
