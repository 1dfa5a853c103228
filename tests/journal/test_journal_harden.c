/* Regression tests of the security review's journal findings (issue 17):
 * an over-long unterminated tail, symbolic links and a journal directory
 * others can write, and file-system errors reported with path and errno.
 * Each test reproduces the finding as reported, then checks the fix. */
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "testutil.h"
#include "jtest.h"

JT_SIGNER_DIR_FIXTURE

static unsigned g_findings;
static char g_first[256];

static void
count_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)ctx;
	if (g_findings++ == 0)
		snprintf(g_first, sizeof(g_first), "%s", msg);
	fprintf(stderr, "  finding line %llu (%s): %s\n", (unsigned long long)line, dfi_errname(code), msg);
}

static dfi_err
verify_path(const char *path)
{
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = count_finding };
	struct dfi_jverify_result res;
	g_findings = 0;
	g_first[0] = '\0';
	return dfi_journal_verify_file(path, &o, &res);
}

/* A journal with a genesis and one committed intent in the directory d. */
static void
make_journal(const char *d)
{
	struct dfi_journal_opts o = { .station = "st" };
	dfi_journal *j;
	ck_assert_int_eq(jt_create_open(&j, d, "dfissue.test/h", g_signer, &o), DFI_OK);
	dfi_jrec a = jt_intent("04782E21801D80", 0x3042F5, 1, 0, 1);
	uint64_t seq;
	ck_assert_int_eq(jt_intent_commit(j, &a, &seq), DFI_OK);
	dfi_journal_close(j);
}

static void
append_bytes(const char *path, int c, size_t n)
{
	FILE *f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fputc(c, f);
	ck_assert_int_eq(fclose(f), 0);
}

static int
file_has_run(const char *path, int c, size_t run)
{
	size_t n;
	uint8_t *b = jt_read(path, &n);
	size_t cur = 0;
	int found = 0;
	for (size_t i = 0; b != NULL && i < n && !found; i++) {
		cur = b[i] == c ? cur + 1 : 0;
		found = cur >= run;
	}
	free(b);
	return found;
}

/* Finding 1: 70,000 bytes of 'A' without LF appended to journal.log made
 * `journal verify` print OK, and the writer opened without quarantining,
 * so the junk stayed behind later records. Sizes around the scanner's
 * line limit and its 1 MiB read chunk are checked too. */
START_TEST(overlong_unterminated_tail_is_found_and_quarantined)
{
	static const size_t sizes[] = { 4000, 4097, 70000, (1u << 20) - 300, (1u << 20) + 4097,
		3u << 20 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		/* a fresh journal for each size, in a directory of its own */
		char d[300], path[600];
		snprintf(d, sizeof(d), "%s/%zu", g_dir, sizes[k]);
		ck_assert_int_eq(mkdir(d, 0700), 0);
		make_journal(d);
		snprintf(path, sizeof(path), "%s/%s", d, DFI_JOURNAL_FILE);
		append_bytes(path, 'A', sizes[k]);
		fprintf(stderr, "tail of %zu bytes:\n", sizes[k]);
		ck_assert_int_ne(verify_path(path), DFI_OK);
		ck_assert_uint_ge(g_findings, 1);

		/* the writer quarantines the whole tail and records it */
		struct dfi_journal_opts o = { .station = "st" };
		struct dfi_journal_recovery rec;
		dfi_journal *j;
		ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, &rec), DFI_OK);
		ck_assert_uint_eq(rec.recoveries, 1);
		ck_assert_uint_eq(rec.quarantined_bytes, sizes[k]);
		dfi_jrec b = jt_intent("04782E21801D81", 0x3042F5, 1, 0, 1);
		ck_assert_int_eq(dfi_journal_intent(j, &b, NULL), DFI_OK);
		dfi_journal_close(j);
		ck_assert_int_eq(file_has_run(path, 'A', 64), 0);
		ck_assert_int_eq(verify_path(d), DFI_OK);
	}
}
END_TEST

/* Finding 2: in a 0777 journal directory, journal.log.tmp planted as a
 * symbolic link to another file: `journal init` overwrote that file with
 * the genesis record and journal.log became a link to it. */
START_TEST(planted_tmp_link_in_open_directory_is_refused)
{
	const char *d = g_dir;
	char victim[600], link[600], jl[600];
	snprintf(victim, sizeof(victim), "%s.victim", d);
	ck_assert_int_eq(jt_write(victim, "precious\n", 9), 0);
	ck_assert_int_eq(chmod(d, 0777), 0);
	snprintf(link, sizeof(link), "%s/%s.tmp", d, DFI_JOURNAL_FILE);
	ck_assert_int_eq(symlink(victim, link), 0);
	char detail[512] = "";
	struct dfi_journal_opts o = { .station = "st", .detail = detail, .detail_cap = sizeof(detail) };
	ck_assert_int_eq(dfi_journal_create(d, "dfissue.test/h", g_signer, &o), DFI_E_JOURNAL_UNSAFE);
	fprintf(stderr, "create in a 0777 directory: %s\n", detail);
	ck_assert_ptr_nonnull(strstr(detail, "writable by everyone"));
	ck_assert_ptr_nonnull(strstr(detail, "chmod go-w"));
	size_t n;
	uint8_t *v = jt_read(victim, &n);
	ck_assert_uint_eq(n, 9);
	ck_assert_int_eq(memcmp(v, "precious\n", 9), 0);
	free(v);
	snprintf(jl, sizeof(jl), "%s/%s", d, DFI_JOURNAL_FILE);
	struct stat st;
	ck_assert_int_ne(lstat(jl, &st), 0);

	/* group-writable is refused as well */
	ck_assert_int_eq(chmod(d, 0770), 0);
	ck_assert_int_eq(dfi_journal_create(d, "dfissue.test/h", g_signer, &o), DFI_E_JOURNAL_UNSAFE);
	ck_assert_ptr_nonnull(strstr(detail, "its group"));

	/* In a directory that is ours alone a stale link (left by whatever)
	 * is removed, not followed: the victim is untouched and journal.log
	 * is a regular file. */
	ck_assert_int_eq(chmod(d, 0700), 0);
	ck_assert_int_eq(dfi_journal_create(d, "dfissue.test/h", g_signer, &o), DFI_OK);
	v = jt_read(victim, &n);
	ck_assert_uint_eq(n, 9);
	free(v);
	ck_assert_int_eq(lstat(jl, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_ne(lstat(link, &st), 0);
	unlink(victim);
}
END_TEST

START_TEST(journal_file_behind_a_link_or_open_directory_is_not_opened)
{
	const char *d = g_dir;
	make_journal(d);
	char jl[600], real[600];
	snprintf(jl, sizeof(jl), "%s/%s", d, DFI_JOURNAL_FILE);
	snprintf(real, sizeof(real), "%s/real.log", d);
	ck_assert_int_eq(rename(jl, real), 0);
	ck_assert_int_eq(symlink("real.log", jl), 0);
	char detail[512] = "";
	struct dfi_journal_opts o = { .station = "st", .detail = detail, .detail_cap = sizeof(detail) };
	dfi_journal *j = NULL;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_E_JOURNAL_UNSAFE);
	fprintf(stderr, "journal.log as a link: %s\n", detail);
	ck_assert_ptr_nonnull(strstr(detail, "symbolic link"));
	ck_assert_int_eq(unlink(jl), 0);
	ck_assert_int_eq(rename(real, jl), 0);
	ck_assert_int_eq(chmod(d, 0757), 0);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_E_JOURNAL_UNSAFE);
	ck_assert_ptr_nonnull(strstr(detail, "writable by everyone"));
	ck_assert_int_eq(chmod(d, 0700), 0);
	ck_assert_int_eq(chmod(jl, 0666), 0);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_E_JOURNAL_UNSAFE);
	fprintf(stderr, "journal.log mode 0666: %s\n", detail);
	ck_assert_int_eq(chmod(jl, 0600), 0);
	if (geteuid() == 0) {
		/* a directory of another user (as root the test can make one) */
		ck_assert_int_eq(chown(d, 4242, 4242), 0);
		ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_E_JOURNAL_UNSAFE);
		fprintf(stderr, "foreign directory: %s\n", detail);
		ck_assert_ptr_nonnull(strstr(detail, "belongs to uid 4242"));
		ck_assert_int_eq(chown(d, 0, 0), 0);
	}
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_OK);
	dfi_journal_close(j);
}
END_TEST

/* Runs fn(dir, ctx) in a child of its own mount namespace where a tmpfs
 * (mount flags and options) is mounted on dir, made here; the child's
 * exit status (fn's: each check its own number) must be 0. Needs root,
 * which these tests have in CI (the e2e tests need it too). */
static void
in_tmpfs_child(const char *dir, unsigned long flags, const char *opts,
    int (*fn)(const char *dir, void *ctx), void *ctx)
{
	ck_assert_int_eq(geteuid(), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", dir, "tmpfs", flags, opts) != 0)
			_exit(10);
		_exit(fn(dir, ctx));
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static int
ro_create(const char *ro, void *ctx)
{
	const struct dfi_journal_opts *o = ctx;
	char sub[700];
	snprintf(sub, sizeof(sub), "%s/journal", ro);
	dfi_err e = dfi_journal_create(sub, "dfissue.test/h", g_signer, o);
	fprintf(stderr, "read-only mount: %s (%s)\n", o->detail, dfi_errname(e));
	if (e != DFI_E_PERMISSION)
		return 11;
	if (strstr(o->detail, "Read-only file system") == NULL || strstr(o->detail, sub) == NULL ||
	    strstr(o->detail, "remount") == NULL)
		return 12;
	return 0;
}

/* From issue 16: a journal under a missing directory or on a read-only
 * mount was reported as "input/output error" (errno lost). */
START_TEST(filesystem_errors_name_the_path_and_the_reason)
{
	char detail[512] = "";
	struct dfi_journal_opts o = { .station = "st", .detail = detail, .detail_cap = sizeof(detail) };
	const char *d = g_dir;
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/no/such/dir", d);
	ck_assert_int_eq(dfi_journal_create(missing, "dfissue.test/h", g_signer, &o), DFI_E_NOT_FOUND);
	fprintf(stderr, "missing parent: %s\n", detail);
	ck_assert_ptr_nonnull(strstr(detail, missing));
	ck_assert_ptr_nonnull(strstr(detail, "No such file or directory"));
	dfi_journal *j = NULL;
	ck_assert_int_eq(dfi_journal_open(&j, missing, g_signer, &o, NULL), DFI_E_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(detail, "cannot open the journal directory"));

	/* A read-only mount, in a private mount namespace of a child. */
	char ro[600];
	snprintf(ro, sizeof(ro), "%s/ro", d);
	in_tmpfs_child(ro, MS_RDONLY, "mode=0700", ro_create, &o);
}
END_TEST

/* Audit k34a, finding 5: opening a journal whose last append was torn, on
 * a full disk, said "input/output error" and left an empty quarantine/.
 * The open must say the tail has to move first, why that failed and what
 * to do; leave the journal and the directory as they were; and, once
 * space is freed, quarantine the tail as always. On an 8 KiB tmpfs. */
static int
full_disk_open(const char *mnt, void *ctx)
{
	char d[700], jl[760], q[760], filler[760], detail[512] = "", want[1024];
	struct dfi_journal_opts o = { .station = "st", .detail = detail, .detail_cap = sizeof(detail) };
	struct stat st0, st;
	(void)ctx;
	snprintf(d, sizeof(d), "%s/j", mnt);
	snprintf(jl, sizeof(jl), "%s/journal.log", d);
	snprintf(q, sizeof(q), "%s/quarantine", d);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	make_journal(d);
	append_bytes(jl, 'x', 100); /* a torn line: the trace of a failed write */
	/* the rest of the file system: a page */
	FILE *f = fopen(filler, "wb");
	if (f == NULL)
		return 11;
	static const char page[4096];
	while (fwrite(page, 1, sizeof(page), f) == sizeof(page) && fflush(f) == 0)
		;
	fclose(f);
	if (stat(jl, &st0) != 0)
		return 12;
	dfi_journal *j = NULL;
	dfi_err e = dfi_journal_open(&j, d, g_signer, &o, NULL);
	fprintf(stderr, "torn tail on a full disk: %s (%s)\n", detail, dfi_errname(e));
	snprintf(want, sizeof(want), "its unsigned tail (1 line(s) after a failed "
	    "write) must be moved to %s/quarantine/ first, and that failed: No space left on device. "
	    "Free space on that file system and run again (the journal is unchanged).", d);
	if (e != DFI_E_IO || strcmp(detail, want) != 0)
		return 13;
	if (stat(jl, &st) != 0 || st.st_size != st0.st_size || stat(q, &st) == 0 || errno != ENOENT)
		return 14; /* the journal unchanged, no empty quarantine/ left */
	if (unlink(filler) != 0)
		return 15;
	struct dfi_journal_recovery rec;
	e = dfi_journal_open(&j, d, g_signer, &o, &rec);
	if (e != DFI_OK || rec.quarantined_lines != 1)
		return 16;
	dfi_journal_close(j);
	return 0;
}

START_TEST(torn_tail_on_a_full_disk_says_move_it_first)
{
	char mnt[600];
	snprintf(mnt, sizeof(mnt), "%s/full", g_dir);
	in_tmpfs_child(mnt, 0, "size=8k,mode=0700", full_disk_open, NULL);
}
END_TEST

JT_SIGNER_MAIN("journal_harden",
    overlong_unterminated_tail_is_found_and_quarantined,
    planted_tmp_link_in_open_directory_is_refused,
    journal_file_behind_a_link_or_open_directory_is_not_opened,
    filesystem_errors_name_the_path_and_the_reason, torn_tail_on_a_full_disk_says_move_it_first)
