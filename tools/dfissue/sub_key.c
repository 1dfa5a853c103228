/*
 * dfissue key: list keys, import a key from components (key ceremony),
 * print key check values, and the KCV of an AN10922-diversified key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "jwipe.h"
#include "opts.h"
#include "core/secfile.h"
#include "core/tty.h"
#include "dfissue/crypto.h"
#include "dfissue/hsm.h"
#include "dfissue/util.h"

/* ---- helpers ------------------------------------------------------------ */

static int
parse_hex_arg(const char *what, const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	if (dfi_hex_decode(hex, out, cap, len) != DFI_OK || *len == 0) {
		cli_errorf("%s: '%s' is not hex of at most %zu bytes", what, hex, cap);
		return 0;
	}
	return 1;
}

static void
print_kcv(const char *prefix, const uint8_t kcv[3])
{
	printf("%s%02X%02X%02X\n", prefix, kcv[0], kcv[1], kcv[2]);
}

/* KCV of host-held key bytes (components during the ceremony). */
static dfi_err
host_kcv(dfi_keytype t, const uint8_t *key, uint8_t kcv[3])
{
	uint8_t zero[DFI_MAX_BLOCK] = { 0 }, out[DFI_MAX_BLOCK];
	dfi_err e = dfi_cipher(t, key, 1, NULL, zero, out, dfi_keytype_blocklen(t));
	if (e == DFI_OK)
		memcpy(kcv, out, 3);
	dfi_wipe(out, sizeof(out));
	return e;
}

/* ---- key list ----------------------------------------------------------- */

static const char *const list_help[] = {
	"usage: dfissue key list [--token URI] [--json] [HSM options] [FILTER-URI]\n\n"
	"Lists the keys on the token: class, type, label, id, flags, and the key\n"
	"check value of secret keys allowed to encrypt.\n\n",
	cli_hsm_help,
	NULL,
};

/* One key of key list --json. The label is the token's bytes: a JSON
 * string when they are UTF-8 (jansson escapes any control), null when not;
 * label_hex is always the exact bytes. NULL when memory ran out. */
static json_t *
key_json(const struct dfi_hsm_key_info *k, const char *id, const char *kcv)
{
	char lhex[2 * sizeof(k->label) + 1] = "";
	size_t llen = strnlen(k->label, sizeof(k->label));
	if (llen > 0)
		dfi_hex_encode((const uint8_t *)k->label, llen, lhex, sizeof(lhex));
	json_t *label = json_stringn(k->label, llen);
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:b, s:b, s:b, s:o}", "class", k->cls, "type", k->type,
	    "label", label != NULL ? label : json_null(), "label_hex", lhex, "id", k->id_len > 0 ? id : "",
	    "bits", (json_int_t)(k->value_len * 8), "sensitive", k->sensitive, "extractable", k->extractable,
	    "token", k->is_token, "kcv", k->has_kcv ? json_string(kcv) : json_null());
}

static int
key_list(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	int json = 0;
	const struct cli_opt opts[] = { CLI_FLAG("json", &json), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "key list", .help = list_help, .opts = opts, .hsm = &o, .max_operands = 1 };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	const char *filter = optind < argc ? argv[optind] : NULL;
	dfi_hsm *h;
	rc = cli_hsm_open(&o, filter, &h);
	if (rc != DFI_EXIT_OK)
		return rc;
	struct dfi_hsm_key_info *ki = NULL;
	size_t n = 0;
	dfi_err e = dfi_hsm_key_list(h, filter, &ki, &n);
	if (e != DFI_OK) {
		rc = cli_hsm_fail(h, "key list", e);
		dfi_hsm_free(h);
		return rc;
	}
	json_t *arr = json ? json_array() : NULL;
	if (!json)
		printf("%-8s %-10s %-24s %-16s %-5s %-22s %s\n", "class", "type", "label", "id", "bits",
		    "flags", "kcv");
	for (size_t i = 0; i < n; i++) {
		char id[2 * sizeof(ki[i].id) + 1] = "-";
		if (ki[i].id_len > 0)
			dfi_hex_encode(ki[i].id, ki[i].id_len, id, sizeof(id));
		const char *cls = ki[i].cls;
		char kcv[7] = "-";
		if (ki[i].has_kcv)
			snprintf(kcv, sizeof(kcv), "%02X%02X%02X", ki[i].kcv[0], ki[i].kcv[1], ki[i].kcv[2]);
		if (json) {
			if (arr != NULL && json_array_append_new(arr, key_json(&ki[i], id, kcv)) != 0) {
				json_decref(arr); /* out of memory: said below */
				arr = NULL;
			}
		} else {
			char flags[64];
			snprintf(flags, sizeof(flags), "%s,%s%s",
			    ki[i].sensitive ? "sensitive" : "NOT-sensitive",
			    ki[i].extractable ? "EXTRACTABLE" : "non-extractable",
			    ki[i].is_token ? "" : ",session");
			char bits[16] = "-";
			if (ki[i].value_len > 0)
				snprintf(bits, sizeof(bits), "%zu", ki[i].value_len * 8);
			char label[80];
			int k = 0;
			for (const char *p = ki[i].label; *p != '\0' && k < 78; p++)
				label[k++] = isprint((unsigned char)*p) ? *p : '?';
			label[k] = '\0';
			printf("%-8s %-10s %-24s %-16s %-5s %-22s %s\n", cls, ki[i].type,
			    label[0] != '\0' ? label : "-", id, bits, flags, kcv);
		}
	}
	if (json && arr != NULL)
		cli_json_puts(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	else if (json)
		rc = cli_fail("key list", DFI_E_NOMEM);
	json_decref(arr);
	free(ki);
	dfi_hsm_free(h);
	return rc;
}

/* ---- key import --------------------------------------------------------- */

static const char *const import_help[] = {
	"usage: dfissue key import --token URI --label LABEL [--id HEX]\n"
	"                          [--type aes|2k3des|3k3des] [--usage sdm]\n"
	"                          --components N [--component-file FILE]...\n"
	"                          [HSM options]\n\n"
	"Key ceremony: combines N >= 2 key components (hex) by XOR and creates the\n"
	"result in the token as a sensitive, non-extractable token key allowed only\n"
	"what its derivation path needs (--derivation, default: the token's best;\n"
	"sp800-108 keys may only derive, the others encrypt and derive, with\n"
	"CKA_ALLOWED_MECHANISMS where the token has it). --usage sdm: an AES key\n"
	"that 'dfissue sdm verify' uses as it is (an SDM meta-read or file-read key\n"
	"without --meta-div/--file-div) may also encrypt, decrypt and CMAC. Each\n"
	"component is read from a --component-file (first line, hex; a regular\n"
	"file of yours that only you can read, mode 600, else it is refused) in the\n"
	"order given, or, for the rest, prompted for on the terminal without echo;\n"
	"never from the command line. Prints the KCV of every component and of the\n"
	"result (verified against the HSM, and a key derived from it against the\n"
	"host's computation; a key failing either is removed again), and wipes\n"
	"every component from memory.\n\n",
	cli_hsm_help,
	NULL,
};

/* Reads hex from fd into key (len bytes expected); white space is ignored,
 * and blank lines before the hex. At most 255 characters in all. */
static int
read_component(int fd, const char *name, uint8_t *key, size_t keylen)
{
	char *hex = dfi_secure_alloc(256);
	if (hex == NULL) {
		cli_errorf("component %s: cannot allocate locked memory", name);
		return 0;
	}
	size_t n = 0, nh = 0;
	int ok = 1;
	for (;;) {
		char ch;
		ssize_t r = dfi_read_byte(fd, &ch);
		if (r <= 0 || (ch == '\n' && nh > 0))
			break;
		if (n + 1 >= 256) {
			ok = 0;
			break;
		}
		n++;
		if (!isspace((unsigned char)ch))
			hex[nh++] = ch;
	}
	hex[nh] = '\0';
	size_t got = 0;
	if (!ok || dfi_hex_decode(hex, key, keylen, &got) != DFI_OK || got != keylen) {
		cli_errorf("component %s: expected %zu bytes of hex", name, keylen);
		ok = 0;
	}
	dfi_secure_free(hex, 256);
	return ok;
}

static int
prompt_component(unsigned i, uint8_t *key, size_t keylen)
{
	char prompt[64], name[16];
	snprintf(prompt, sizeof(prompt), "Component %u (%zu bytes, hex): ", i, keylen);
	struct dfi_tty_quiet t;
	if (!isatty(STDIN_FILENO) || dfi_tty_quiet_open(&t, prompt) != 0) {
		cli_errorf("component %u: no --component-file and no terminal to prompt on", i);
		return 0;
	}
	snprintf(name, sizeof(name), "%u", i);
	int ok = read_component(t.fd, name, key, keylen);
	dfi_tty_quiet_close(&t);
	return ok;
}

/* A component file passes the checks of every secret file (core/secfile.h),
 * as the PIN file does: a key component is the more sensitive of the two.
 * read_component reads at most 255 characters, so no longer file is one.
 * The refusal's code only makes the import fail: the reason is what the
 * operator reads. */
static const struct dfi_secfile_kind component_file_kind = {
	.what = "component file",
	.put = "the component",
	.holds = "one component in hex",
	.max = 255,
	.shown_max = 255,
	.refused = DFI_E_PERMISSION,
};

/* --component-file, once per file, in component order. */
#define MAX_COMPONENTS 64
struct component_files {
	const char *path[MAX_COMPONENTS];
	size_t n;
};

static int
key_import(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *label = NULL, *idhex = NULL, *typestr = "aes";
	struct component_files cf = { .n = 0 };
	unsigned long ncomp = 0;
	const char *usagestr = NULL;
	unsigned usage = 0;
	const struct cli_opt opts[] = { CLI_NEED_STR("label", &label), CLI_STR("id", &idhex),
		CLI_STR("usage", &usagestr),
		CLI_STR("type", &typestr), CLI_NEED_UINT("components", &ncomp, 2, MAX_COMPONENTS, "a number of components"),
		CLI_STRS("component-file", cf.path, &cf.n, MAX_COMPONENTS), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "key import", .help = import_help, .opts = opts, .hsm = &o,
		.operands_why = "key material never comes from the command line",
		.needs = "--label and --components are required" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	if (cf.n > ncomp)
		return cli_usagef("key import: %zu component files for %lu components", cf.n, ncomp);
	if (usagestr != NULL) {
		if (strcmp(usagestr, "sdm") != 0)
			return cli_usagef("key import: --usage must be sdm (the derivation path's usages "
			    "are always given)");
		usage |= DFI_HSM_USAGE_SDM;
	}
	dfi_keytype t;
	if (dfi_keytype_parse(typestr, &t) != DFI_OK || t == DFI_KT_DES)
		return cli_usagef("key import: --type must be aes, 2k3des or 3k3des");
	if (usage != 0 && t != DFI_KT_AES128)
		return cli_usagef("key import: --usage sdm is for AES keys (SDM is AES or LRP)");
	uint8_t id[32];
	size_t idlen = 0;
	if (idhex != NULL && !parse_hex_arg("key import: --id", idhex, id, sizeof(id), &idlen))
		return DFI_EXIT_USAGE;
	size_t keylen = dfi_keytype_keylen(t);

	/* Components and the sum live only in locked memory. */
	uint8_t *mem = dfi_secure_alloc(2 * DFI_MAX_KEY_LEN);
	if (mem == NULL) {
		cli_errorf("key import: cannot allocate locked memory");
		return DFI_EXIT_FAIL;
	}
	uint8_t *sum = mem, *comp = mem + DFI_MAX_KEY_LEN;
	uint8_t kcv[3];
	rc = DFI_EXIT_OK;
	for (size_t i = 0; i < ncomp && rc == DFI_EXIT_OK; i++) {
		int ok;
		if (i < cf.n) {
			int fd;
			char why[512];
			if (dfi_secfile_open(&component_file_kind, cf.path[i], &fd, why, sizeof(why))
			    != DFI_OK) {
				cli_errorf("key import: %s", why);
				rc = DFI_EXIT_FAIL;
				break;
			}
			ok = read_component(fd, cf.path[i], comp, keylen);
			close(fd);
		} else {
			ok = prompt_component((unsigned)i + 1, comp, keylen);
		}
		if (!ok) {
			rc = DFI_EXIT_FAIL;
			break;
		}
		if (host_kcv(t, comp, kcv) != DFI_OK) {
			cli_errorf("key import: KCV computation failed");
			rc = DFI_EXIT_FAIL;
			break;
		}
		printf("component %ld KCV: %02X%02X%02X\n", i + 1, kcv[0], kcv[1], kcv[2]);
		for (size_t j = 0; j < keylen; j++)
			sum[j] = (uint8_t)(i == 0 ? comp[j] : sum[j] ^ comp[j]);
	}
	uint8_t want[3];
	if (rc == DFI_EXIT_OK && host_kcv(t, sum, want) != DFI_OK) {
		cli_errorf("key import: KCV computation failed");
		rc = DFI_EXIT_FAIL;
	}
	dfi_hsm *h = NULL;
	if (rc == DFI_EXIT_OK)
		rc = cli_hsm_open(&o, NULL, &h);
	dfi_hsm_path path = DFI_HSM_PATH_NONE;
	if (rc == DFI_EXIT_OK) {
		/* The engine checks the new key through its derivation path and
		 * removes it again if anything fails. */
		dfi_err e = dfi_hsm_key_import_usage(h, t, sum, keylen, label, idlen > 0 ? id : NULL,
		    idlen, DFI_HSM_PATH_AUTO, usage, &path);
		if (e != DFI_OK)
			rc = cli_hsm_fail(h, "key import", e);
	}
	dfi_secure_free(mem, 2 * DFI_MAX_KEY_LEN);
	if (rc == DFI_EXIT_OK) {
		/* Read the key back by label as personalization will find it. */
		char *uri = NULL;
		dfi_hsm_key *k = NULL;
		dfi_err e = dfi_hsm_secret_key_uri(label, &uri);
		if (e == DFI_OK)
			e = dfi_hsm_key_find(h, uri, &k);
		free(uri);
		int have_kcv = e == DFI_OK && dfi_hsm_kcv(h, k, kcv) == DFI_OK;
		dfi_hsm_key_free(k);
		if (e != DFI_OK) {
			rc = cli_hsm_fail(h, "key import: reading the key back", e);
		} else if (have_kcv && memcmp(kcv, want, 3) != 0) {
			cli_errorf("key import: the HSM's KCV %02X%02X%02X differs from the components' %02X%02X%02X",
			    kcv[0], kcv[1], kcv[2], want[0], want[1], want[2]);
			rc = DFI_EXIT_FAIL;
		} else {
			if (have_kcv)
				print_kcv("key KCV: ", kcv);
			else
				printf("key KCV: not readable (the key may only derive); a key derived "
				       "from it matched the components\n");
			printf("imported %s key '%s' into token '%s' (sensitive, non-extractable; "
			       "derivation path %s%s)\n", dfi_keytype_name(t), label,
			    dfi_hsm_token_label(h), dfi_hsm_path_name(path),
			    usage != 0 ? "; SDM: encrypt, decrypt, CMAC" : "");
		}
	}
	dfi_hsm_free(h);
	return rc;
}

/* ---- key kcv ------------------------------------------------------------ */

static const char *const kcv_help[] = {
	"usage: dfissue key kcv [HSM options] KEY-URI\n\n"
	"Prints the key check value (leftmost 3 bytes of ECB(K, zero block)) of\n"
	"the secret key KEY-URI, computed in the HSM.\n\n",
	cli_hsm_help,
	NULL,
};

static int
key_kcv(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const struct cli_spec spec = { .cmd = "key kcv", .help = kcv_help, .hsm = &o, .min_operands = 1,
		.max_operands = 1, .needs = "needs one KEY-URI (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	dfi_hsm *h;
	rc = cli_hsm_open(&o, argv[optind], &h);
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_hsm_key *k = NULL;
	uint8_t kcv[3];
	dfi_err e = dfi_hsm_key_find(h, argv[optind], &k);
	if (e == DFI_OK)
		e = dfi_hsm_kcv(h, k, kcv);
	if (e != DFI_OK)
		rc = cli_hsm_fail(h, "key kcv", e);
	else
		print_kcv("", kcv);
	dfi_hsm_key_free(k);
	dfi_hsm_free(h);
	return rc;
}

/* ---- key derive-kcv ----------------------------------------------------- */

static const char *const derive_help[] = {
	"usage: dfissue key derive-kcv --master URI --uid HEX --aid HEX [--sysid HEX]\n"
	"                              [HSM options]\n\n"
	"Diversifies the master key in the HSM with NXP AN10922 for\n"
	"M = UID || AID || system identifier and prints the KCV of the result\n"
	"(never the key). The derived key has the master's type (AES-128, 2K3DES or\n"
	"3K3DES).\n\n"
	"  --master URI           the master key (a PKCS#11 URI)\n"
	"  --uid HEX, --aid HEX   the card's UID (up to 10 bytes) and the AID (3 bytes)\n"
	"  --sysid HEX            the system identifier (up to 31 bytes); without it\n"
	"                         M = UID || AID\n\n",
	cli_hsm_help,
	NULL,
};

static int
key_derive_kcv(int argc, char **argv)
{
	struct cli_hsm_opts o = { 0 };
	const char *master = NULL, *uidhex = NULL, *aidhex = NULL, *syshex = NULL;
	const struct cli_opt opts[] = { CLI_NEED_STR("master", &master), CLI_NEED_STR("uid", &uidhex),
		CLI_NEED_STR("aid", &aidhex), CLI_STR("sysid", &syshex), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "key derive-kcv", .help = derive_help, .opts = opts, .hsm = &o,
		.needs = "--master, --uid and --aid are required" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		return rc;
	uint8_t m[64];
	size_t ul, al, sl = 0;
	if (!parse_hex_arg("key derive-kcv: --uid", uidhex, m, 10, &ul) ||
	    !parse_hex_arg("key derive-kcv: --aid", aidhex, m + ul, 3, &al) ||
	    (syshex != NULL && !parse_hex_arg("key derive-kcv: --sysid", syshex, m + ul + al, 31, &sl)))
		return DFI_EXIT_USAGE;
	dfi_hsm *h;
	rc = cli_hsm_open(&o, master, &h);
	if (rc != DFI_EXIT_OK)
		return rc;
	dfi_hsm_key *k = NULL;
	dfi_cardkey *ck = NULL;
	uint8_t kcv[3];
	dfi_err e = dfi_hsm_key_find(h, master, &k);
	if (e == DFI_OK) {
		e = dfi_hsm_cardkey_diversified(h, k, dfi_hsm_key_type(k), m, ul + al + sl, 0, &ck);
		if (e == DFI_E_INVALID_ARG) {
			cli_errorf("key derive-kcv: UID || AID || system identifier is %zu bytes; %s allows 1..%zu",
			    ul + al + sl, dfi_keytype_name(dfi_hsm_key_type(k)),
			    2 * dfi_keytype_blocklen(dfi_hsm_key_type(k)) - 1);
			rc = DFI_EXIT_USAGE;
		}
	}
	if (e == DFI_OK)
		e = dfi_hsm_cardkey_kcv(ck, kcv);
	if (e == DFI_OK)
		print_kcv("", kcv);
	else if (rc == DFI_EXIT_OK) /* a length error was reported above */
		rc = cli_hsm_fail(h, "key derive-kcv", e);
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(k);
	dfi_hsm_free(h);
	return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

static const char *const key_help[] = {
	"usage: dfissue key <list|import|kcv|derive-kcv> [options]\n\n"
	"  list        list the token's keys, flags and KCVs\n"
	"  import      key ceremony: import a key from 2..N components\n"
	"  kcv         print a key's check value\n"
	"  derive-kcv  print the KCV of an AN10922-diversified key\n\n"
	"'dfissue key <command> --help' describes each.\n",
	NULL,
};

int
sub_key(int argc, char **argv)
{
	static const struct cli_sub sub[] = { { "list", key_list }, { "import", key_import },
		{ "kcv", key_kcv }, { "derive-kcv", key_derive_kcv }, { NULL, NULL } };
	return cli_subcommand("key", argc, argv, key_help, sub);
}
