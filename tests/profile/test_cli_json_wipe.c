/*
 * dfissue, as it is built, leaves no batch value in any block it frees
 * while it reads a JSON-lines batch: jansson's blocks too (the lexer's
 * buffers, string values, integer objects), which jansson frees itself and
 * which only the CLI's allocator (tools/dfissue/jwipe.c, installed first
 * thing in main) wipes. The engine's own copies are test_profile_batch_wipe's.
 *
 * The CLI runs under freecheck.so (LD_PRELOAD): every block handed to
 * free or realloc in the process, libjansson.so's included, is searched for
 * the values. `dfissue inspect --batch B --row 3` reads three rows, then
 * stops at the HSM (a module that is not there): every row has been parsed
 * and freed by then. The same search over this program parsing the same
 * lines with jansson's default allocator must find them: the check sees
 * what jansson frees.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define HOLDER "Hopper-7Q2x-holder"
#define SECRET_HEX "C0FFEE5AFE1DC0DE0BADF00D5EC2E7AA"
#define CARD_NO 7311768291738192LL

static char g_dir[] = "/tmp/dfi-jwipe-XXXXXX";

/* Three rows of reference.json's batch fields. */
static size_t
batch_text(char *buf, size_t cap)
{
	size_t at = 0;
	for (int i = 1; i <= 3 && at < cap; i++)
		at += (size_t)snprintf(buf + at, cap - at,
		    "{\"card_number\": %lld, \"holder\": \"%s %d\", \"secret_id:hex\": \"%s\", "
		    "\"site_code:hex\": \"5349544530303031\"}\n", CARD_NO, HOLDER, i, SECRET_HEX);
	return at; /* no check assertion: plain_jansson runs outside the suite */
}

/* The values freecheck.so searches for: length byte, bytes. */
static void
write_values(const char *path)
{
	uint8_t secret[16], buf[256];
	int64_t card = CARD_NO;
	size_t at = 0;
	HEX(secret, SECRET_HEX);
	const struct {
		const void *v;
		size_t len;
	} vals[] = {
		{ HOLDER, strlen(HOLDER) }, { SECRET_HEX, strlen(SECRET_HEX) }, { secret, sizeof(secret) },
		{ "7311768291738192", 16 }, { &card, sizeof(card) },
	};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		buf[at++] = (uint8_t)vals[i].len;
		memcpy(buf + at, vals[i].v, vals[i].len);
		at += vals[i].len;
	}
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, at, f), at);
	ck_assert_int_eq(fclose(f), 0);
}

/* Runs argv under freecheck.so, stdin empty, stdout and stderr to out
 * (cap bytes); returns its exit status, the report in rep. */
static int
run_checked(char *const argv[], char *out, size_t cap, char *rep, size_t repcap)
{
	char values[300], report[300], log[300];
	snprintf(values, sizeof(values), "%s/values", g_dir);
	snprintf(report, sizeof(report), "%s/report", g_dir);
	snprintf(log, sizeof(log), "%s/out", g_dir);
	write_values(values);
	unlink(report);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), o = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0)
			_exit(126);
		setenv("LD_PRELOAD", DFI_FREECHECK_SO, 1);
		setenv("DFI_FREECHECK_VALUES", values, 1);
		setenv("DFI_FREECHECK_REPORT", report, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	dfi_test_read_file(log, out, cap);
	ck_assert_msg(access(report, R_OK) == 0, "no report from freecheck.so: %s", out);
	dfi_test_read_file(report, rep, repcap);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned
searched(const char *rep)
{
	unsigned n = 0;
	ck_assert_msg(sscanf(rep, "searched %u", &n) == 1, "report: %s", rep);
	return n;
}

/* This program, run as a child: the lines parsed and freed by jansson
 * with its default allocator (the text is built, not read: stdio's
 * buffer would hold it too). */
static int
plain_jansson(void)
{
	static char text[4096];
	size_t n = batch_text(text, sizeof(text));
	for (char *p = text, *nl; p < text + n && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_error_t je;
		json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
		if (o == NULL)
			return 1;
		json_decref(o);
	}
	return 0;
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void
teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(the_check_sees_what_jansson_frees)
{
	char self[] = "/proc/self/exe", arg[] = "--plain-jansson", out[4096], rep[256];
	char *const argv[] = { self, arg, NULL };
	ck_assert_int_eq(run_checked(argv, out, sizeof(out), rep, sizeof(rep)), 0);
	ck_assert_uint_gt(searched(rep), 10);
	ck_assert_msg(strstr(rep, "found none") == NULL, "jansson's own frees not seen: %s", rep);
}
END_TEST

START_TEST(the_cli_frees_no_batch_value)
{
	static char text[4096];
	char cli[400], img[400], batch[400], profile[400], out[8192], rep[256];
	snprintf(cli, sizeof(cli), "%s/bin/dfissue", getenv("DFI_BUILD_DIR"));
	snprintf(img, sizeof(img), "sim:%s/card.img", g_dir);
	snprintf(batch, sizeof(batch), "%s/batch.jsonl", g_dir);
	snprintf(profile, sizeof(profile), "%s/profiles/reference.json", getenv("DFI_SOURCE_DIR"));
	ck_assert_uint_lt(batch_text(text, sizeof(text)), sizeof(text));
	dfi_test_write_file(batch, text);
	char a0[] = "inspect", a1[] = "--reader", a3[] = "--profile", a5[] = "--batch", a7[] = "--row",
	     a8[] = "3", a9[] = "--module", a10[] = "/nonexistent/dfi-no-module.so";
	char *const argv[] = { cli, a0, a1, img, a3, profile, a5, batch, a7, a8, a9, a10, NULL };
	int rc = run_checked(argv, out, sizeof(out), rep, sizeof(rep));
	/* the three rows read, then the HSM refused */
	ck_assert_msg(rc == 1 && strstr(out, "opening the HSM") != NULL, "rc %d: %s", rc, out);
	ck_assert_uint_gt(searched(rep), 100);
	ck_assert_msg(strstr(rep, "found none") != NULL, "a batch value in a freed block (value, size): %s",
	    rep);
}
END_TEST

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--plain-jansson") == 0)
		return plain_jansson();
	static const struct dfi_test_case c = { .setup = setup, .teardown = teardown };
	return dfi_test_main("cli_json_wipe", &c,
	    (const TTest *[]){ the_check_sees_what_jansson_frees, the_cli_frees_no_batch_value, NULL });
}
