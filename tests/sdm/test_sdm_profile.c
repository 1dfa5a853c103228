/*
 * The "sdm" member of a profile's data file (docs/PROFILE.md): a valid one
 * gives the settings ChangeFileSettings sends and the file's content from
 * its template; each broken one is refused with file, line, field and what
 * to do (engine/profile/validate_sdm.c).
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "dfissue/profile.h"
#include "dfissue/sdm.h"

/* One line each: HEAD line 1, PICC line 2, APP line 3, KEYS line 4, the
 * file from line 6 ("files" on line 5). */
#define HEAD "{\"schema\": \"dfissue-profile/1\", \"name\": \"t\",\n"
#define PICC "\"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1, \"diversification\": [\"uid\"]}, \"key_settings\": 11},\n"
#define APP(kt) "\"applications\": [{\"aid\": \"F00001\", \"key_type\": \"" kt "\", \"key_settings\": 11,\n"
#define KEYS "\"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\", \"aid\"]}, {\"base_key\": \"pkcs11:object=k\", \"version\": 1, \"diversification\": [\"uid\", \"aid\", \"hex:01\"]}],\n"
#define ACC(r, rw, ch) "\"access\": {\"read\": " r ", \"write\": 0, \"read_write\": " rw ", \"change\": " ch "}"
#define URL "\"https://t.example/c?u={uid}&c={ctr}&m={mac}\""
#define FILE_(type, comm, acc, size, extra, sdm) "\"files\": [\n{\"number\": 1, \"type\": \"" type "\", \"comm\": \"" comm "\", " acc ", \"size\": " #size extra ",\n\"sdm\": " sdm "}]}]}\n"
#define DOCK(kt, type, comm, acc, size, extra, sdm) HEAD PICC APP(kt) KEYS FILE_(type, comm, acc, size, extra, sdm)
#define DOC(sdm) DOCK("aes", "std", "plain", ACC("\"free\"", "0", "0"), 128, "", sdm)
/* The file's own rules: a valid "sdm", the file around it varied. */
#define RULE(kt, type, comm, acc, size, extra) \
	DOCK(kt, type, comm, acc, size, extra, "{\"template\": " URL ", \"file_read\": 1}")
#define AT(line, field, msg) "t.json:" #line ": applications[0].files[0]" field ": " msg

START_TEST(valid_plain_mirrors)
{
	const char *doc = DOC("{\"template\": " URL ", \"file_read\": 1, \"counter_limit\": 500}");
	dfi_profile *p;
	struct dfi_diag d;
	ck_assert_msg(dfi_profile_load_buffer(&p, "t.json", doc, strlen(doc), &d) == DFI_OK, "%s",
	    d.message);
	const struct dfi_profile_file *f = &dfi_profile_spec(p)->apps[0].files[0];
	ck_assert_ptr_nonnull(f->sdm);
	ck_assert_int_eq(f->sdm->ndef, 1);
	ck_assert_int_eq(f->sdm->lrp, 0);
	const struct dfi_df_sdm *s = &f->sdm->settings;
	ck_assert_uint_eq(s->options, DFI_DF_SDM_UID | DFI_DF_SDM_CTR | DFI_DF_SDM_CTR_LIMIT |
	    DFI_DF_SDM_ASCII);
	ck_assert_uint_eq(s->meta_read, 0xE);
	ck_assert_uint_eq(s->file_read, 1);
	ck_assert_uint_eq(s->ctr_ret, 0xF);
	ck_assert_uint_eq(s->ctr_limit, 500);
	/* The content is the template's file, as the layout lays it out. */
	struct dfi_sdm_layout l;
	char why[160];
	ck_assert_int_eq(dfi_sdm_layout_parse("https://t.example/c?u={uid}&c={ctr}&m={mac}",
	    DFI_SDM_AES, 1, &l, why, sizeof(why)), DFI_OK);
	ck_assert_uint_eq(f->ncontent, 1);
	ck_assert_uint_eq(f->content[0].len, l.file_len);
	ck_assert_mem_eq(f->content[0].bytes, l.file, l.file_len);
	ck_assert_uint_eq(s->uid_offset, l.sdm.uid_offset);
	ck_assert_uint_eq(s->ctr_offset, l.sdm.ctr_offset);
	ck_assert_uint_eq(s->mac_offset, l.sdm.mac_offset);
	uint8_t enc[64];
	size_t n;
	ck_assert_int_eq(dfi_df_sdm_encode(s, enc, sizeof(enc), &n), DFI_OK);
	dfi_profile_free(p);
	/* A text file (no NDEF), counter readable by key 0. */
	const char *doc2 = DOC("{\"template\": \"u={uid}c={ctr}m={mac}\", \"file_read\": 1, "
	    "\"meta_read\": \"plain\", \"counter_read\": 0}");
	ck_assert_msg(dfi_profile_load_buffer(&p, "t.json", doc2, strlen(doc2), &d) == DFI_OK, "%s",
	    d.message);
	f = &dfi_profile_spec(p)->apps[0].files[0];
	ck_assert_int_eq(f->sdm->ndef, 0);
	ck_assert_uint_eq(f->sdm->settings.ctr_ret, 0);
	ck_assert_uint_eq(f->content[0].len, strlen("u=00000000000000c=000000m=0000000000000000"));
	dfi_profile_free(p);
}
END_TEST

struct bad {
	const char *json;
	const char *msg;
};

static const struct bad bad[] = {
	{ DOC("{\"template\": " URL ", \"file_read\": 1, \"mirror\": 1}"),
	    AT(7, ".sdm.mirror", "unknown member in an SDM file "
	    "(allowed: template, ndef, meta_read, file_read, counter_read, counter_limit)") },
	{ DOC("[1]"), AT(7, ".sdm", "must be an object (got an array)") },
	{ DOC("{\"file_read\": 1}"), AT(7, ".sdm.template", "required member missing") },
	{ DOC("{\"template\": \"https://t.example/c?u={uid}&m={mac}\", \"file_read\": 1}"),
	    AT(7, ".sdm.template", "must mirror the UID and the read "
	    "counter ({picc}, or {uid} and {ctr}) and a MAC ({mac}): a backend proves a tap and "
	    "refuses replays with them") },
	{ DOC("{\"template\": \"https://t.example/c?u={uid}&c={ctr}&m={cmac}\", \"file_read\": 1}"),
	    AT(7, ".sdm.template", "unknown placeholder {cmac} (allowed: "
	    "uid, ctr, picc, enc:N, mac, macin)") },
	{ DOC("{\"template\": " URL "}"), AT(7, ".sdm.file_read",
	    "missing: the key number (0..1) that computes the SDMMAC") },
	{ DOC("{\"template\": " URL ", \"file_read\": 2}"),
	    AT(7, ".sdm.file_read", "key 2 does not exist: the application has keys 0..1") },
	{ DOC("{\"template\": " URL ", \"file_read\": \"free\"}"),
	    AT(7, ".sdm.file_read", "must be a key number 0..1") },
	{ DOC("{\"template\": " URL ", \"file_read\": 1, \"meta_read\": 0}"),
	    AT(7, ".sdm.meta_read", "the template mirrors {uid}/{ctr} in "
	    "plain: \"plain\" or leave it out ({picc} is what a meta-read key encrypts)") },
	{ DOC("{\"template\": \"https://t.example/c?p={picc}&m={mac}\", \"file_read\": 1}"),
	    AT(7, ".sdm.meta_read", "missing: the key number (0..1) that "
	    "encrypts the PICC data") },
	{ DOC("{\"template\": \"https://t.example/c?p={picc}&m={mac}\", \"file_read\": 1, "
	      "\"meta_read\": 0}"),
	    AT(7, ".sdm.meta_read", "key 0 is diversified with the UID: a "
	    "backend cannot derive it before it has decrypted the UID with it; give the meta-read "
	    "key a diversification without \"uid\"") },
	{ DOC("{\"template\": " URL ", \"file_read\": 1, \"counter_read\": \"never\"}"),
	    AT(7, ".sdm.counter_read", "must be a key number 0..1, "
	    "\"free\" or \"none\"") },
	{ DOC("{\"template\": " URL ", \"file_read\": 1, \"counter_limit\": 0}"),
	    AT(7, ".sdm.counter_limit", "must be 1..16777215 (got 0)") },
	{ RULE("aes", "std", "plain", ACC("\"free\"", "0", "0"), 40, ""),
	    AT(6, ".size", "the template's file takes 63 bytes: more than the file's 40") },
	{ RULE("aes", "backup", "plain", ACC("\"free\"", "0", "0"), 128, ""),
	    AT(7, ".sdm", "SDM is for standard data files (\"type\": \"std\")") },
	{ RULE("2k3des", "std", "plain", ACC("\"free\"", "0", "0"), 128, ""), AT(7, ".sdm",
	    "SDM needs an AES application (key_type \"aes\"): its keys compute the mirrors") },
	{ RULE("aes", "std", "mac", ACC("\"free\"", "0", "0"), 128, ""), AT(6, ".comm",
	    "an SDM file is read by phones without a session: it must be \"plain\"") },
	{ RULE("aes", "std", "plain", ACC("0", "0", "0"), 128, ""), AT(6, ".access.read",
	    "an SDM file mirrors on a read without a key: it must be \"free\"") },
	{ RULE("aes", "std", "plain", ACC("\"free\"", "\"free\"", "0"), 128, ""),
	    AT(6, ".access.read_write", "must be a key number for an SDM file: the engine reads "
	    "the file back with it (a free read moves the SDM read counter)") },
	{ RULE("aes", "std", "plain", ACC("\"free\"", "0", "\"never\""), 128, ""), AT(6,
	    ".access.change", "SDM is turned on with ChangeFileSettings: an SDM file's change right "
	    "cannot be \"never\"") },
	{ RULE("aes", "std", "plain", ACC("\"free\"", "0", "0"), 128, ", \"content\": {\"hex\": \"00\"}"),
	    AT(6, ".content", "an SDM file's content is its template: leave \"content\" out") },
};

START_TEST(broken_sdm)
{
	const struct bad *b = &bad[_i];
	dfi_profile *p = (dfi_profile *)1;
	struct dfi_diag d;
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "t.json", b->json, strlen(b->json), &d),
	    DFI_E_PROFILE);
	ck_assert_ptr_null(p);
	if (strcmp(d.message, b->msg) != 0)
		ck_abort_msg("case %d: got \"%s\", want \"%s\"", _i, d.message, b->msg);
}
END_TEST

int
main(void)
{
	const struct dfi_test_loop loops[] = { { broken_sdm, (int)(sizeof(bad) / sizeof(bad[0])) },
		{ NULL, 0 } };
	return dfi_test_main("sdm-profile", &(struct dfi_test_case){ .loops = loops, .in_process = 1 },
	    (const TTest *[]){ valid_plain_mirrors, NULL });
}
