/*
 * `dfissue sdm verify` against a SoftHSM2 dev token:
 *  - the AN12196 SUN taps and the LRP taps of tests/data, with their zero
 *    keys imported into the token (the keys are then HSM objects like any
 *    other): accepted with the note's UID, counter and file data; the same
 *    tap again refused as a replay; an altered tap refused (MAC); a tap of
 *    another layout refused (format); JSON; one tap per stdin line;
 *  - taps of a simulated EV3 card whose SDM keys were diversified in the HSM
 *    (AN10922) and written with ChangeKey: accepted with the recipes,
 *    refused with the wrong ones, counters moving on;
 *  - usage errors with one clear line.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dfissue/hsm.h"
#include "dfissue/sdm.h"
#include "hsm_fixture.h"
#include "proc.h"
#include "simcard.h"
#include "testutil.h"
#include "vecfile.h"

static struct hsm_fixture fx;
static const char zero_uri[] = "pkcs11:token=dfissue-dev;object=sdm-zero;type=secret-key";

struct out {
	int status;
	long maxrss_kb; /* dfissue's peak resident set */
	char out[8192];
	char err[4096];
};

static void
slurp_file(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = fp != NULL ? fread(buf, 1, cap - 1, fp) : 0;
	buf[n] = '\0';
	if (fp != NULL)
		fclose(fp);
}

/* Runs "dfissue ARGS" through the shell (ARGS quoted by the caller), stdin
 * from the file in (NULL: /dev/null); the dev token's PIN file comes from
 * $DFISSUE_PIN_FILE (make_token). */
static void
vsh(struct out *o, const char *in, const char *fmt, va_list ap)
{
	char args[4096], cmd[6000], outp[300], errp[300];
	vsnprintf(args, sizeof(args), fmt, ap);
	snprintf(outp, sizeof(outp), "%s/out.txt", fx.dir);
	snprintf(errp, sizeof(errp), "%s/err.txt", fx.dir);
	snprintf(cmd, sizeof(cmd), "'%s' %s <'%s' >'%s' 2>'%s'", fx.dfissue, args,
	    in != NULL ? in : "/dev/null", outp, errp);
	o->status = dfi_test_sh_rss(cmd, &o->maxrss_kb);
	ck_assert_msg(o->status != -1, "%s", cmd);
	slurp_file(outp, o->out, sizeof(o->out));
	slurp_file(errp, o->err, sizeof(o->err));
}

static void
sh(struct out *o, const char *in, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsh(o, in, fmt, ap);
	va_end(ap);
}

/* Runs "dfissue ARGS" (stdin /dev/null), which must end with status and,
 * unless says is NULL, say so on stderr: a refusal that names its cause. */
static void
refused(int status, const char *says, const char *fmt, ...)
{
	struct out o;
	va_list ap;
	va_start(ap, fmt);
	vsh(&o, NULL, fmt, ap);
	va_end(ap);
	ck_assert_msg(o.status == status, "status %d, not %d: %s", o.status, status, o.err);
	ck_assert_msg(says == NULL || strstr(o.err, says) != NULL, "\"%s\" not said: %s", says,
	    o.err);
}

static void
make_token(void)
{
	char c1[300], c2[300], cmd[2000];
	hsm_fixture_pin_module();
	ck_assert_int_eq(hsm_fixture_make(&fx), 0);
	/* the notes' zero key, imported like any key (two zero components);
	 * used without diversification, so as an SDM key (decrypt, CMAC) */
	snprintf(c1, sizeof(c1), "%s/c1", fx.dir);
	snprintf(c2, sizeof(c2), "%s/c2", fx.dir);
	dfi_test_write_secret(c1, "00000000000000000000000000000000\n");
	dfi_test_write_secret(c2, "00000000000000000000000000000000\n");
	snprintf(cmd, sizeof(cmd), "'%s' key import --pin-file '%s' --label sdm-zero --type aes "
	    "--usage sdm --components 2 --component-file '%s' --component-file '%s' >/dev/null", fx.dfissue,
	    fx.pin_file, c1, c2);
	ck_assert_int_eq(system(cmd), 0);
	setenv("DFISSUE_PIN_FILE", fx.pin_file, 1);
}

static void
setup(void)
{
	make_token();
}

static void
teardown(void)
{
	hsm_fixture_remove(&fx);
}

/* The path of the state file name in the fixture's directory, in p
 * (STATE_PATH_MAX bytes); state_path(name) writes it into a buffer of the
 * caller's block (a compound literal), no static one. */
#define STATE_PATH_MAX 400
static const char *
state_path_in(char *p, const char *name)
{
	snprintf(p, STATE_PATH_MAX, "%s/%s", fx.dir, name);
	return p;
}
#define state_path(name) state_path_in((char[STATE_PATH_MAX]){ 0 }, (name))

/* Every tap vector of a data file: accepted once, refused the second time,
 * refused altered. */
static void
vector_taps(const char *file, const char *extra)
{
	FILE *fp = vec_open(file);
	struct vec v = { 0 };
	struct out o;
	unsigned n = 0;
	while (vec_next(fp, &v)) {
		char want[200];
		if (strcmp(v.kind, "tap") != 0)
			continue;
		const char *data = vec_str(&v, "data"), *tmpl = vec_str(&v, "template");
		const char *st = state_path("an.state");
		unlink(st);
		sh(&o, NULL, "sdm verify %s --template '%s' --meta-key '%s' --file-key '%s' "
		    "--state '%s' '%s'", extra, tmpl, zero_uri, zero_uri, st, data);
		ck_assert_msg(o.status == 0, "line %d: %s%s", v.lineno, o.out, o.err);
		snprintf(want, sizeof(want), "sdm verify: accepted: uid %s counter %ld",
		    vec_str(&v, "uid"), vec_int(&v, "counter"));
		ck_assert_msg(strncmp(o.out, want, strlen(want)) == 0, "got %s", o.out);
		if (vec_str(&v, "filedata")[0] != 0)
			ck_assert_ptr_nonnull(strstr(o.out, vec_str(&v, "filedata")));
		/* the same tap again: a replay */
		sh(&o, NULL, "sdm verify %s --template '%s' --meta-key '%s' --file-key '%s' "
		    "--state '%s' '%s'", extra, tmpl, zero_uri, zero_uri, st, data);
		ck_assert_int_eq(o.status, 1);
		ck_assert_ptr_nonnull(strstr(o.out, "refused (replay)"));
		/* altered: the last character of the MAC */
		char alt[512];
		snprintf(alt, sizeof(alt), "%s", data);
		char *last = alt + strlen(alt) - 1;
		*last = *last == '0' ? '1' : '0';
		unlink(st);
		sh(&o, NULL, "sdm verify %s --template '%s' --meta-key '%s' --file-key '%s' "
		    "--state '%s' '%s'", extra, tmpl, zero_uri, zero_uri, st, alt);
		ck_assert_int_eq(o.status, 1);
		ck_assert_msg(strstr(o.out, "refused (mac)") != NULL, "%s", o.out);
		/* a refused tap leaves no trace in the state */
		struct stat sb;
		ck_assert_int_ne(stat(st, &sb), 0);
		n++;
	}
	fclose(fp);
	ck_assert_uint_eq(n, 2);
}

START_TEST(an12196_taps)
{
	vector_taps("an12196_sdm.txt", "");
}
END_TEST

START_TEST(lrp_taps)
{
	vector_taps("sdm_lrp.txt", "--lrp");
}
END_TEST

/* A tap of AN12196 (an12196_sdm.txt's first) and a template it matches. */
static const char note_tmpl[] = "https://sdm.example/tag?picc_data={picc}&cmac={mac}";
#define NOTE_TAP "https://sdm.example/tag?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086"

/* JSON, one tap per line, every refusal reason, state file content. */
START_TEST(stdin_lines_json)
{
	const char *tmpl = note_tmpl, *tap = NOTE_TAP;
	char in[400], text[2048];
	struct out o;
	snprintf(in, sizeof(in), "%s/taps.txt", fx.dir);
	snprintf(text, sizeof(text), "%s\n%s\npicc_data=EF963FF7828658A599F3041510671E88"
	    "&cmac=94EED9EE65337087\nhttps://other.example/\n", tap, tap);
	dfi_test_write_file(in, text);
	const char *st = state_path("lines.state");
	unlink(st);
	sh(&o, in, "sdm verify --json --template '%s' --meta-key '%s' --file-key '%s' --state '%s'",
	    tmpl, zero_uri, zero_uri, st);
	ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
	const char *want[] = { "accepted", "refused", "refused", "refused" };
	const char *reason[] = { NULL, "replay", "mac", "format" };
	char *save = NULL, *line = strtok_r(o.out, "\n", &save);
	for (int i = 0; i < 4; i++, line = strtok_r(NULL, "\n", &save)) {
		ck_assert_ptr_nonnull(line);
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		ck_assert_msg(j != NULL, "not JSON: %s", line);
		ck_assert_str_eq(json_string_value(json_object_get(j, "result")), want[i]);
		if (reason[i] != NULL)
			ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), reason[i]);
		if (i < 2) {
			ck_assert_str_eq(json_string_value(json_object_get(j, "uid")), "04DE5F1EACC040");
			ck_assert_int_eq(json_integer_value(json_object_get(j, "counter")), 61);
		}
		if (i == 1)
			ck_assert_int_eq(json_integer_value(json_object_get(j, "last_counter")), 61);
		json_decref(j);
	}
	ck_assert_ptr_null(line);
	char stf[1024];
	slurp_file(st, stf, sizeof(stf));
	ck_assert_ptr_nonnull(strstr(stf, "\n04DE5F1EACC040 61\n"));
}
END_TEST

/* Taps come from a pipe anything can feed: a line of 32 MiB without a
 * newline before its end is refused as longer than any tap without being
 * held whole (getline held it: the peak resident set grew by the line),
 * and the tap after it is still verified. The longest line a tap can be
 * (a whole 8 KiB file as hex, and a CR) goes to the parser; one byte more
 * does not. */
#define LONG_LINE (32u << 20)
START_TEST(long_line_is_not_held)
{
	const char *tmpl = note_tmpl, *tap = NOTE_TAP "\n";
	char in[400], one[400];
	struct out o;
	snprintf(one, sizeof(one), "%s/one.txt", fx.dir);
	dfi_test_write_file(one, tap);
	/* a long line, the longest tap, one byte more, a tap */
	snprintf(in, sizeof(in), "%s/long.txt", fx.dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < LONG_LINE / 64; i++)
		fputs("https://sdm.example/tag?picc_data=EF963FF7828658A599F3041510671", f);
	fputc('\n', f);
	for (unsigned i = 0; i < 2 * DFI_DF_MAX_DATA + 1; i++)
		fputc(i < 2 * DFI_DF_MAX_DATA ? 'A' : '\r', f);
	fputc('\n', f);
	for (unsigned i = 0; i < 2 * DFI_DF_MAX_DATA + 2; i++)
		fputc('A', f);
	fprintf(f, "\n%s", tap);
	ck_assert_int_eq(fclose(f), 0);
	const char *st = state_path("long.state");
	/* the peak without the line, then with it */
	unlink(st);
	sh(&o, one, "sdm verify --json --template '%s' --meta-key '%s' --file-key '%s' --state '%s'", tmpl,
	    zero_uri, zero_uri, st);
	ck_assert_msg(o.status == 0 && strstr(o.out, "\"accepted\"") != NULL, "%s%s", o.out, o.err);
	long base = o.maxrss_kb;
	unlink(st);
	sh(&o, in, "sdm verify --json --template '%s' --meta-key '%s' --file-key '%s' --state '%s'", tmpl,
	    zero_uri, zero_uri, st);
	ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
	printf("sdm verify: peak RSS %ld kB with one tap, %ld kB with a %u MiB line before it\n", base,
	    o.maxrss_kb, LONG_LINE >> 20);
	const char *too_long = "{\"result\":\"refused\",\"reason\":\"format\",\"detail\":\"the line is "
			       "longer than any tap\"}";
	const char *want[] = { too_long,
		"{\"result\":\"refused\",\"reason\":\"format\",\"detail\":\"the file's NDEF header is not the "
		"template's\"}",
		too_long, "{\"result\":\"accepted\"" };
	char *save = NULL, *line = strtok_r(o.out, "\n", &save);
	for (int i = 0; i < 4; i++, line = strtok_r(NULL, "\n", &save)) {
		ck_assert_ptr_nonnull(line);
		ck_assert_msg(strncmp(line, want[i], strlen(want[i])) == 0, "line %d: %s", i + 1, line);
	}
	ck_assert_ptr_null(line);
	ck_assert_msg(o.maxrss_kb < base + 8192, "a %u MiB line took the peak from %ld to %ld kB: held whole?",
	    LONG_LINE >> 20, base, o.maxrss_kb);
}
END_TEST

START_TEST(usage_errors)
{
	const char *st = state_path("u.state");
	refused(2, "--state", "sdm verify --template 'https://x.example/?e={picc}&c={mac}' "
	    "--meta-key '%s' --file-key '%s' x", zero_uri, zero_uri);
	refused(2, "{mac}", "sdm verify --template 'https://x.example/?e={picc}' --meta-key '%s' "
	    "--file-key '%s' --state '%s' x", zero_uri, zero_uri, st);
	/* no counter: replays would pass */
	refused(2, NULL, "sdm verify --template 'https://x.example/?e={mac}' --meta-key '%s' "
	    "--file-key '%s' --state '%s' x", zero_uri, zero_uri, st);
	refused(2, "meta-read key is the same for every card", "sdm verify --template "
	    "'https://x.example/?e={picc}&c={mac}' --meta-key '%s' --meta-div uid,aid --aid 010203 "
	    "--file-key '%s' --state '%s' x", zero_uri, zero_uri, st);
	refused(2, "--aid", "sdm verify --template 'https://x.example/?e={picc}&c={mac}' "
	    "--meta-key '%s' --file-key '%s' --file-div uid,aid --state '%s' x", zero_uri, zero_uri,
	    st);
	refused(1, "--meta-key", "sdm verify --template 'https://x.example/?e={picc}&c={mac}' "
	    "--meta-key 'pkcs11:token=dfissue-dev;object=nope' --file-key '%s' --state '%s' x",
	    zero_uri, st);
	refused(2, NULL, "sdm frob");
}
END_TEST

/* A base key imported without --usage sdm gets only its derivation path's
 * usages: used as it is it cannot decrypt the PICC data, and the refusal
 * says what to do. --usage sdm is for AES keys only. */
START_TEST(key_without_sdm_usage)
{
	struct out o;
	char c1[300];
	snprintf(c1, sizeof(c1), "%s/c1", fx.dir);
	sh(&o, NULL, "key import --label sdm-plain --type aes --components 2 --component-file '%s' "
	    "--component-file '%s'", c1, c1);
	ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
	ck_assert_ptr_null(strstr(o.out, "SDM:"));
	refused(1, "--meta-key 'pkcs11:object=sdm-plain' is used as it is (no --meta-div), so it "
	    "must be allowed to decrypt and CMAC: import it with 'dfissue key import --usage sdm'",
	    "sdm verify --template "
	    "'https://sdm.example/tag?picc_data={picc}&cmac={mac}' --meta-key "
	    "'pkcs11:object=sdm-plain' --file-key 'pkcs11:object=sdm-plain' --state '%s' "
	    "'https://sdm.example/tag?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086'",
	    state_path("plain.state"));
	/* Audit k34, finding 2: plain {uid}/{ctr} mirrors need no meta key, and
	 * the file key alone used as it is must CMAC (SoftHSM2 refuses a
	 * mechanism outside CKA_ALLOWED_MECHANISMS as CKR_MECHANISM_INVALID):
	 * the same advice, naming the key, before the tap is looked at. */
	sh(&o, NULL, "sdm verify --template 'https://sdm.example/t?uid={uid}&ctr={ctr}&m={mac}' "
	    "--file-key 'pkcs11:object=sdm-plain;type=secret-key' --state '%s' "
	    "'https://sdm.example/t?uid=04DE5F1EACC040&ctr=00003D&m=94EED9EE65337086'",
	    state_path("plain2.state"));
	ck_assert_msg(o.status == 1, "status %d: %s", o.status, o.err);
	ck_assert_str_eq(o.out, "");
	static const char want[] = "dfissue: sdm verify: --file-key 'pkcs11:object=sdm-plain;"
	    "type=secret-key' is used as it is (no --file-div), so it must be allowed to decrypt "
	    "and CMAC: import it with 'dfissue key import --usage sdm' (";
	ck_assert_msg(strncmp(o.err, want, sizeof(want) - 1) == 0 && strchr(o.err, '\n') ==
	    o.err + strlen(o.err) - 1, "%s", o.err);
	/* the HSM's own detail of the refused call, not "()" */
	ck_assert_msg(strstr(o.err, "(CKR 0x") != NULL, "%s", o.err);
	struct stat sb;
	ck_assert_int_ne(stat(state_path("plain2.state"), &sb), 0);
	refused(2, "AES", "key import --label sdm-des --type 2k3des --usage sdm --components 2 "
	    "--component-file '%s' --component-file '%s'", c1, c1);
	refused(2, NULL, "key import --label sdm-x --usage all --components 2");
}
END_TEST

/* ---- a simulated EV3 card with HSM-diversified SDM keys ------------------ */

#define AID 0xE30001
#define SYSID "4E585020416275"

struct ev3 {
	dfi_hsm *h;
	dfi_hsm_key *mbase, *fbase;
	dfi_sim *s;
	dfi_transport *t;
	dfi_desfire *d;
};

/* AN10922 with M = [UID ||] AID || sysid, in the HSM. */
static dfi_cardkey *
div_key(struct ev3 *c, dfi_hsm_key *base, int with_uid)
{
	uint8_t m[32], uid[7];
	size_t n = 0;
	dfi_sim_uid(c->s, uid);
	if (with_uid) {
		memcpy(m, uid, 7);
		n = 7;
	}
	/* the AID in command order, least significant byte first */
	m[n++] = (uint8_t)AID;
	m[n++] = (uint8_t)(AID >> 8);
	m[n++] = (uint8_t)(AID >> 16);
	size_t sl;
	ck_assert_int_eq(dfi_hex_decode(SYSID, m + n, sizeof(m) - n, &sl), DFI_OK);
	n += sl;
	dfi_cardkey *k;
	ck_assert_int_eq(dfi_hsm_cardkey_diversified(c->h, base, DFI_KT_AES128, m, n, 1, &k),
	    DFI_OK);
	return k;
}

static void
ev3_card(struct ev3 *c, struct dfi_sdm_layout *l, int lrp, const char *image)
{
	struct dfi_hsm_config cfg = { .pin_file = fx.pin_file };
	char why[200];
	uint8_t z[16] = { 0 };
	ck_assert_int_eq(dfi_hsm_open(&c->h, &cfg), DFI_OK);
	ck_assert_int_eq(dfi_hsm_key_find(c->h, "pkcs11:object=app1-master", &c->mbase), DFI_OK);
	ck_assert_int_eq(dfi_hsm_key_find(c->h, "pkcs11:object=app2-master", &c->fbase), DFI_OK);
	struct dfi_sim_config sc = { .has_seed = true, .seed = 20, .model = DFI_SIM_MODEL_EV3,
		.image = image, .no_fsync = true };
	dfi_test_card_open(&sc, &c->s, &c->t, &c->d);
	dfi_cardkey *des0, *aes0, *meta = div_key(c, c->mbase, 0), *file = div_key(c, c->fbase, 1);
	ck_assert_int_eq(dfi_cardkey_new_plain(&des0, DFI_KT_DES, z, 8, 0), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&aes0, DFI_KT_AES128, z, 16, 0), DFI_OK);
	/* a card switched to LRP first when asked: the PICC key AES, then option 05 */
	ck_assert_int_eq(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_LEGACY, 0, des0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key(c->d, 0, aes0, NULL), DFI_OK);
	ck_assert_int_eq(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_EV2_FIRST, 0, aes0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_create_application(c->d, AID, 0x0B, 3, DFI_KT_AES128), DFI_OK);
	if (lrp) {
		uint8_t cap[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };
		ck_assert_int_eq(dfi_desfire_set_configuration(c->d, 0x05, cap, 10), DFI_OK);
	}
	dfi_df_authcmd how = lrp ? DFI_DF_AUTH_LRP_FIRST : DFI_DF_AUTH_EV2_FIRST;
	ck_assert_int_eq(dfi_desfire_select_application(c->d, AID), DFI_OK);
	ck_assert_int_eq(dfi_desfire_authenticate(c->d, how, 0, aes0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key(c->d, 1, meta, aes0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key(c->d, 2, file, aes0), DFI_OK);
	ck_assert_int_eq(dfi_sdm_layout_parse("https://tap.example/c?p={picc}&m={mac}",
	    lrp ? DFI_SDM_LRP : DFI_SDM_AES, 1, l, why, sizeof(why)), DFI_OK);
	l->sdm.ctr_ret = 0xF;
	l->sdm.meta_read = 1;
	l->sdm.file_read = 2;
	struct dfi_df_access acc = { .read = 0xE, .write = 0, .read_write = 0, .change = 0 };
	ck_assert_int_eq(dfi_desfire_create_std_file(c->d, 2, DFI_DF_COMM_PLAIN, &acc, 128), DFI_OK);
	ck_assert_int_eq(dfi_desfire_write_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, l->file,
	    (uint32_t)l->file_len), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_file_settings_sdm(c->d, 2, DFI_DF_COMM_ENC,
	    DFI_DF_COMM_PLAIN, &acc, &l->sdm), DFI_OK);
	dfi_cardkey_free(des0);
	dfi_cardkey_free(aes0);
	dfi_cardkey_free(meta);
	dfi_cardkey_free(file);
}

static void
ev3_free(struct ev3 *c)
{
	dfi_test_card_close(c->s, c->t, c->d);
	dfi_hsm_key_free(c->mbase);
	dfi_hsm_key_free(c->fbase);
	dfi_hsm_free(c->h);
}

/* The file as an unauthenticated reader sees it, in hex. */
static void
read_tap(struct ev3 *c, char *hex, size_t cap)
{
	uint8_t f[128];
	dfi_desfire_reset(c->d);
	ck_assert_int_eq(dfi_desfire_select_application(c->d, AID), DFI_OK);
	ck_assert_int_eq(dfi_desfire_read_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, 128, f), DFI_OK);
	ck_assert_int_eq(dfi_hex_encode(f, 128, hex, cap), DFI_OK);
}

static void
diversified(int lrp)
{
	struct ev3 c;
	struct dfi_sdm_layout l;
	struct out o;
	char t1[300], t2[300], args[1024];
	ev3_card(&c, &l, lrp, NULL);
	read_tap(&c, t1, sizeof(t1));
	read_tap(&c, t2, sizeof(t2));
	const char *st = state_path(lrp ? "div-lrp.state" : "div.state");
	unlink(st);
	snprintf(args, sizeof(args), "sdm verify %s --template 'https://tap.example/c?p={picc}&m={mac}' "
	    "--meta-key 'pkcs11:object=app1-master' --meta-div aid,sysid:" SYSID
	    " --file-key 'pkcs11:object=app2-master' --file-div uid,aid,sysid:" SYSID
	    " --aid 0100E3 --state '%s'", lrp ? "--lrp" : "", st);
	sh(&o, NULL, "%s %s", args, t1);
	ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
	uint8_t uid[7];
	char uh[15], want[100];
	dfi_sim_uid(c.s, uid);
	dfi_hex_encode(uid, 7, uh, sizeof(uh));
	snprintf(want, sizeof(want), "sdm verify: accepted: uid %s counter 1\n", uh);
	ck_assert_str_eq(o.out, want);
	sh(&o, NULL, "%s %s", args, t2);
	ck_assert_int_eq(o.status, 0);
	snprintf(want, sizeof(want), "sdm verify: accepted: uid %s counter 2\n", uh);
	ck_assert_str_eq(o.out, want);
	sh(&o, NULL, "%s %s", args, t1); /* the older tap now */
	ck_assert_int_eq(o.status, 1);
	ck_assert_ptr_nonnull(strstr(o.out, "refused (replay)"));
	ck_assert_ptr_nonnull(strstr(o.out, "counter 1 is not above 2"));
	/* the file key of another card (no UID in M): the MAC fails */
	unlink(st);
	snprintf(args, sizeof(args), "sdm verify %s --template 'https://tap.example/c?p={picc}&m={mac}' "
	    "--meta-key 'pkcs11:object=app1-master' --meta-div aid,sysid:" SYSID
	    " --file-key 'pkcs11:object=app2-master' --file-div aid,sysid:" SYSID
	    " --aid 0100E3 --state '%s' %s", lrp ? "--lrp" : "", st, t2);
	sh(&o, NULL, "%s", args);
	ck_assert_int_eq(o.status, 1);
	ck_assert_ptr_nonnull(strstr(o.out, "refused (mac)"));
	ev3_free(&c);
}

START_TEST(diversified_keys_aes)
{
	diversified(0);
}
END_TEST

START_TEST(diversified_keys_lrp)
{
	diversified(1);
}
END_TEST

/* `sdm read` on a simulated card (sim:IMAGE), piped into `sdm verify`. */
START_TEST(read_then_verify)
{
	struct ev3 c;
	struct dfi_sdm_layout l;
	struct out o;
	char img[400], url[sizeof(((struct out *)0)->out)], cmd[9000];
	uint8_t uid[7];
	char uh[15], want[100];
	snprintf(img, sizeof(img), "%s/ev3-read.img", fx.dir);
	unlink(img);
	ev3_card(&c, &l, 1, img);
	dfi_sim_uid(c.s, uid);
	dfi_hex_encode(uid, 7, uh, sizeof(uh));
	ev3_free(&c);
	const char *st = state_path("read.state");
	unlink(st);
	for (int tap = 1; tap <= 2; tap++) {
		sh(&o, NULL, "sdm read --reader 'sim:%s' --aid 0100E3 --file 2", img);
		ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
		ck_assert(strncmp(o.out, "https://tap.example/c?p=", 24) == 0);
		ck_assert_uint_lt(strlen(o.out), sizeof(url));
		memcpy(url, o.out, strlen(o.out) + 1);
		url[strcspn(url, "\n")] = 0;
		snprintf(cmd, sizeof(cmd), "sdm verify --lrp --template "
		    "'https://tap.example/c?p={picc}&m={mac}' --meta-key 'pkcs11:object=app1-master' "
		    "--meta-div aid,sysid:" SYSID " --file-key 'pkcs11:object=app2-master' "
		    "--file-div uid,aid,sysid:" SYSID " --aid 0100E3 --state '%s' '%s'", st, url);
		sh(&o, NULL, "%s", cmd);
		ck_assert_msg(o.status == 0, "%s%s", o.out, o.err);
		snprintf(want, sizeof(want), "sdm verify: accepted: uid %s counter %d\n", uh, tap);
		ck_assert_str_eq(o.out, want);
	}
	/* the file's bytes, and a read that fits no SDM layout */
	sh(&o, NULL, "sdm read --reader 'sim:%s' --aid 0100E3 --file 2 --hex --size 128", img);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(strlen(o.out), 2 * 128 + 1);
	refused(1, "FILE_NOT_FOUND", "sdm read --reader 'sim:%s' --aid 0100E3 --file 9", img);
	refused(2, NULL, "sdm read --reader 'sim:%s' --aid 01E3 --file 2", img);
}
END_TEST

int
main(void)
{
	/* Under the sanitizers (SDM_CLI_SUBSET, tests/sdm/CMakeLists.txt)
	 * every path of the command once: AES vectors with replays and
	 * alterations, standard input with JSON answers, LRP with HSM-
	 * diversified keys, and sdm read; release builds run them all (the
	 * list ends at its first NULL). */
	int subset = getenv("SDM_CLI_SUBSET") != NULL;
	if (subset)
		fprintf(stderr, "sdm-cli: the sanitizer subset (5 of 9 tests: no LRP vectors, "
		    "usage errors, key usage, AES diversified keys)\n");
	return dfi_test_main("sdm-cli",
	    &(struct dfi_test_case){ .setup = setup, .teardown = teardown, .once = 1, .timeout = 300 },
	    (const TTest *[]){ an12196_taps, stdin_lines_json, long_line_is_not_held, diversified_keys_lrp,
	    read_then_verify,
	    subset ? NULL : lrp_taps, usage_errors, key_without_sdm_usage, diversified_keys_aes,
	    NULL });
}
