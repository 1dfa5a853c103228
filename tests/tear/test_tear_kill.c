/*
 * The station process killed (SIGKILL) at every step of a personalization,
 * then restarted on the same card image and journal directory.
 *
 * Each case runs the tap in a child: this test program exec'd again
 * ("child" mode) with its own HSM login, journal writer and card image.
 * The child dies by SIGKILL
 *   apdu-before k: just before the k-th APDU of the tap is sent;
 *   apdu-after k:  just after the k-th APDU's response came back;
 *   p11 k:         at the k-th PKCS#11 call of the tap (faultp11 raises it
 *                  instead of making the call): inside key diversification,
 *                  authentication, and the checkpoint signature of a
 *                  journal append;
 *   journal k:     in the k-th write of the journal (one append = records
 *                  and their checkpoint in one pwrite): half of it reaches
 *                  the file, then the process dies, leaving a torn tail.
 * for k over the whole clean tap; and, after each ChangeKey the card
 * executed (apdu-after at its APDU), a second kill at every APDU of the
 * restarted station's recovery tap. The parent then restarts the station:
 * opens the journal (the writer quarantines an uncovered tail and appends a
 * recovery record), loads the card image as the card left it, and one tap
 * must finish. Every case must end in the full invariant (tear_check).
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>

#include "testutil.h"

#include "faultp11.h"
#include "tear_fix.h"

/* Journal file operations: POSIX, counting pwrites, killing in the k-th
 * after half of it is written. */
struct jio {
	struct dfi_journal_io io;
	const struct dfi_journal_io *posix;
	unsigned long k, n;
};

static int
j_open(void *c, const char *p, int f, mode_t m)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->open(x->ctx, p, f, m);
}
static int
j_openat(void *c, int d, const char *p, int f, mode_t m)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->openat(x->ctx, d, p, f, m);
}
static ssize_t
j_pwrite(void *c, int fd, const void *b, size_t n, off_t o)
{
	struct jio *j = c;
	const struct dfi_journal_io *x = j->posix;
	if (++j->n == j->k) {
		if (x->pwrite(x->ctx, fd, b, n / 2, o) < 0)
			_exit(12);
		raise(SIGKILL);
	}
	return x->pwrite(x->ctx, fd, b, n, o);
}
static ssize_t
j_pread(void *c, int fd, void *b, size_t n, off_t o)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->pread(x->ctx, fd, b, n, o);
}
static int
j_fdatasync(void *c, int fd)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->fdatasync(x->ctx, fd);
}
static int
j_fsync(void *c, int fd)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->fsync(x->ctx, fd);
}
static int
j_ftruncate(void *c, int fd, off_t l)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->ftruncate(x->ctx, fd, l);
}
static int
j_flock(void *c, int fd, int op)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->flock(x->ctx, fd, op);
}
static int
j_close(void *c, int fd)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->close(x->ctx, fd);
}
static int
j_renameat(void *c, int a, const char *p, int b, const char *q)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->renameat(x->ctx, a, p, b, q);
}
static int
j_mkdirat(void *c, int d, const char *p, mode_t m)
{
	const struct dfi_journal_io *x = ((struct jio *)c)->posix;
	return x->mkdirat(x->ctx, d, p, m);
}

static void
jio_init(struct jio *j, unsigned long k)
{
	memset(j, 0, sizeof(*j));
	j->posix = dfi_journal_io_posix();
	j->k = k;
	j->io = (struct dfi_journal_io){ j_open, j_openat, j_pwrite, j_pread, j_fdatasync, j_fsync,
		j_ftruncate, j_flock, j_close, j_renameat, j_mkdirat, j };
}

/* Double kills at every k-th APDU of the recovery tap ($TEAR_KILL2_STRIDE,
 * default 1; CMake sets it per build and scenario: exec'd children are
 * slow under sanitizers). */
static unsigned long kill2_stride = 1;
/* Single kills at every k-th kill point ($TEAR_KILL_STRIDE, default 1:
 * every point). Sanitizer builds sample (the release build runs them all);
 * the points around each ChangeKey are always run. */
static unsigned long kill_stride = 1;

/* Whether kill point k (1-based) of a sweep is run: every kill_stride-th,
 * and every APDU kill point next to a ChangeKey (ck: the ChangeKeys' APDU
 * numbers, nck of them; NULL for the PKCS#11 and journal sweeps). */
static int
kill_point(unsigned long k, const uint64_t *ck, unsigned nck)
{
	if (kill_stride <= 1 || (k - 1) % kill_stride == 0)
		return 1;
	for (unsigned i = 0; ck != NULL && i < nck; i++)
		if (k + 1 >= ck[i] && k <= ck[i] + 1)
			return 1;
	return 0;
}

#define CHILD_NOT_REACHED 10
#define CHILD_SETUP_FAILED 11

static char self[4096];

static faultp11_arm_fn
p11_fn(const char *name)
{
	faultp11_arm_fn f = NULL;
	void *so = dlopen(FAULTP11_PATH, RTLD_NOW | RTLD_NOLOAD);
	if (so == NULL)
		return NULL;
	*(void **)&f = dlsym(so, name);
	dlclose(so);
	return f;
}

/* child ROOT DIR MODE K */
static int
child_main(char **argv)
{
	struct tear_env e;
	struct tear_card c;
	struct tear_station s;
	struct dfi_perso_result res;
	char why[400], image[600], jdir[600];
	const char *root = argv[2], *dir = argv[3], *mode = argv[4];
	unsigned long k = strtoul(argv[5], NULL, 10);
	if (tear_env_open(&e, FAULTP11_PATH, root, why, sizeof(why)) != 0)
		goto setup;
	snprintf(image, sizeof(image), "%s/card.img", dir);
	snprintf(jdir, sizeof(jdir), "%s/j", dir);
	struct jio jio;
	jio_init(&jio, 0);
	if (tear_card_open(&c, image, why, sizeof(why)) != 0 ||
	    tear_station_open_io(&s, &e, jdir, "station-a", 0, &jio.io, why, sizeof(why)) != 0)
		goto setup;
	if (strcmp(mode, "p11") == 0) {
		faultp11_arm_fn kill_at = p11_fn("faultp11_arm_kill");
		if (kill_at == NULL) {
			snprintf(why, sizeof(why), "faultp11 not loaded");
			goto setup;
		}
		kill_at(k);
	} else if (strcmp(mode, "journal") == 0) {
		jio.n = 0;
		jio.k = k;
	} else {
		tear_guard_kill_at(&c, k, strcmp(mode, "apdu-after") == 0);
	}
	tear_tap(&c, &s, &res);
	/* Not killed: the tap had fewer steps. No cleanup (no leak report). */
	_exit(CHILD_NOT_REACHED);
setup:
	fprintf(stderr, "kill child: %s\n", why);
	_exit(CHILD_SETUP_FAILED);
}

/* Runs the child; 0 when it died by SIGKILL, 1 when the kill point was not
 * reached, -1 otherwise (why). */
static int
run_child(struct tear_env *e, const char *dir, const char *mode, unsigned long k, char *why,
    size_t cap)
{
	char kbuf[32];
	snprintf(kbuf, sizeof(kbuf), "%lu", k);
	char *argv[] = { self, "child", e->root, (char *)dir, (char *)mode, kbuf, NULL };
	fflush(NULL);
	/* posix_spawn, not fork: the parent's address space (large under
	 * ASan, whose quarantine keeps freed memory mapped) is not copied for
	 * a child that execs at once. */
	pid_t pid;
	int se = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (se != 0)
		return tear_fail(why, cap, "posix_spawn %s: %s", self, strerror(se));
	/* Bounded wait: a child that hangs is killed and reported. */
	int st = 0;
	for (int i = 0; i < 30000; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0)
			return tear_fail(why, cap, "waitpid: %s", strerror(errno));
		if (i == 29999) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return tear_fail(why, cap, "child hung (killed after 60 s)");
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_NOT_REACHED)
		return 1;
	return tear_fail(why, cap, "child ended with status %d (setup failed?)", st);
}

struct counts {
	unsigned not_reached, quarantines, recovery_records;
};

/* One case: a child killed at (mode, k); with k2 > 0 the restarted station
 * is killed too, after the k2-th APDU of its recovery tap; then a restart
 * that must finish in one tap. Returns 0 when a kill point was not reached
 * (no case counted), 1 otherwise. */
static int
kill_case(struct tear_env *e, struct tear_tally *t, struct counts *n, const char *mode,
    unsigned long k, unsigned long k2)
{
	struct tear_case kc;
	char why[600] = "", label[128];
	if (k2 == 0)
		snprintf(label, sizeof(label), "kill %s k=%lu", mode, k);
	else
		snprintf(label, sizeof(label), "kill %s k=%lu, then apdu-after k=%lu in the recovery",
		    mode, k, k2);
	ck_assert_msg(tear_case_open(e, &kc, why, sizeof(why)) == 0, "%s", why);
	/* The child needs the journal lock and its own view of the card. */
	tear_station_close(&kc.s);
	tear_card_close(&kc.c);
	int r = run_child(e, kc.dir, mode, k, why, sizeof(why));
	if (r == 0 && k2 > 0)
		r = run_child(e, kc.dir, "apdu-after", k2, why, sizeof(why));
	if (r == 1) {
		n->not_reached++;
		tear_rmtree(kc.dir);
		return 0;
	}
	if (r < 0) {
		tear_tally_add(t, 0, 0, label, why);
		tear_rmtree(kc.dir);
		return 1;
	}
	/* Restart: the card as it was left, the journal as it is on disk. */
	int ok = 0, unknown = 0;
	if (tear_card_open(&kc.c, kc.image, why, sizeof(why)) == 0 &&
	    tear_station_open(&kc.s, e, kc.jdir, "station-a", 0, why, sizeof(why)) == 0) {
		if (kc.s.rec.quarantined_lines > 0)
			n->quarantines++;
		n->recovery_records += kc.s.rec.recoveries;
		enum dfi_perso_outcome o = tear_finish(&kc.c, &kc.s, 1, &unknown, why, sizeof(why));
		if (o == DFI_PERSO_DONE || o == DFI_PERSO_RESUMED)
			ok = tear_check(&kc.c, &kc.s, why, sizeof(why)) == 1;
	}
	tear_tally_add(t, ok && !unknown, unknown, label, why);
	tear_case_close(&kc);
	return 1;
}

/* Kills at points 1..points of one mode (those kill_point() selects);
 * returns how many points it left out. */
static unsigned long
sweep(struct tear_env *e, struct tear_tally *t, struct counts *n, const char *mode,
    unsigned long points, const uint64_t *ck, unsigned nck)
{
	unsigned long left = 0;
	for (unsigned long k = 1; k <= points; k++)
		if (kill_point(k, ck, nck))
			kill_case(e, t, n, mode, k, 0);
		else
			left++;
	return left;
}

START_TEST(kill_every_step)
{
	struct tear_env e;
	struct tear_tally t;
	struct tear_case kc;
	struct dfi_perso_result res;
	struct counts n;
	char why[600];
	memset(&t, 0, sizeof(t));
	memset(&n, 0, sizeof(n));
	ck_assert_msg(tear_env_open(&e, FAULTP11_PATH, NULL, why, sizeof(why)) == 0, "%s", why);
	e.file_cards = 1; /* the card outlives the killed process */
	faultp11_arm_fn arm = p11_fn("faultp11_arm");
	faultp11_calls_fn calls;
	*(void **)&calls = (void *)p11_fn("faultp11_calls");
	ck_assert(arm != NULL && calls != NULL);

	ck_assert_msg(tear_case_open(&e, &kc, why, sizeof(why)) == 0, "%s", why);
	struct jio jio;
	jio_init(&jio, 0);
	tear_station_close(&kc.s);
	ck_assert_msg(tear_station_open_io(&kc.s, &e, kc.jdir, "station-a", 0, &jio.io, why,
	    sizeof(why)) == 0, "%s", why);
	jio.n = 0;
	arm(0);
	ck_assert_int_eq(tear_tap(&kc.c, &kc.s, &res), DFI_OK);
	unsigned long jwrites = jio.n;
	unsigned long p11 = calls();
	unsigned long apdus = tear_guard_apdus(&kc.c);
	unsigned nck = tear_guard_change_keys(&kc.c);
	uint64_t ck[32];
	ck_assert_uint_le(nck, 32);
	for (unsigned i = 0; i < nck; i++)
		ck[i] = tear_guard_change_key_at(&kc.c, i);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "clean run: %s (%s)",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_msg(tear_check(&kc.c, &kc.s, why, sizeof(why)) == 1, "clean run: %s", why);
	tear_case_close(&kc);
	printf("kill: a clean tap is %lu APDUs, %lu PKCS#11 calls and %lu journal writes\n", apdus,
	    p11, jwrites);
	fflush(stdout);

	unsigned long sampled = sweep(&e, &t, &n, "apdu-before", apdus, ck, nck);
	sampled += sweep(&e, &t, &n, "apdu-after", apdus, ck, nck);
	/* The journal signs and writes queued batches in its own thread, and
	 * batches queued while one is being written go out together: a run
	 * can make fewer signing calls and journal writes than the clean one
	 * counted. Those kill points past the end of a run are not reached. */
	unsigned before_merged = n.not_reached;
	sampled += sweep(&e, &t, &n, "p11", p11, NULL, 0);
	unsigned long sampled_j = sweep(&e, &t, &n, "journal", jwrites, NULL, 0);
	if (kill_stride > 1)
		printf("kill: 1 in %lu kill points and those next to each ChangeKey: %lu points "
		       "left out (a deterministic subset)\n", kill_stride, sampled + sampled_j);
	unsigned merged = n.not_reached - before_merged;
	n.not_reached = before_merged;

	/* Killed again while recovering: after each ChangeKey was executed by
	 * the card (its intent open, no outcome), then at every APDU of the
	 * recovery tap (every kill2_stride-th). */
	unsigned singles = t.cases;
	for (unsigned i = 0; i < nck; i++)
		for (unsigned long k2 = 1; kill_case(&e, &t, &n, "apdu-after", ck[i], k2);
		     k2 += kill2_stride)
			;
	printf("kill: %u cases killed twice (after each of %u ChangeKeys, then in the recovery tap",
	    t.cases - singles, nck);
	if (kill2_stride > 1)
		printf(", every %luth APDU: a deterministic subset", kill2_stride);
	printf(")\n");
	/* Each double-kill sweep ends at the first k2 past its recovery tap;
	 * every other kill point must have been reached. */
	printf("kill: %u kill points not reached (besides the end of each of the %u sweeps), "
	       "%u restarts quarantined a journal tail, %u recovery records\n",
	    n.not_reached - nck, nck, n.quarantines, n.recovery_records);
	printf("kill: %u PKCS#11 / journal-write kill points past the end of a run with merged batches\n",
	    merged);
	ck_assert_uint_eq(n.not_reached, nck);
	/* At most every checkpoint of the tap merged away: its two signing
	 * calls and its write. */
	ck_assert_uint_le(merged, 3 * 7);
	tear_tally_print(&e, &t, "kill");
	tear_env_close(&e);
	ck_assert_uint_eq(t.recovered, t.cases);
	/* Every APDU and PKCS#11 kill point ran, or was left out by the stride. */
	ck_assert_uint_ge(t.cases + sampled, 2 * apdus + p11);
	if (jwrites > 0)
		ck_assert_uint_gt(n.quarantines, 0);
}
END_TEST

int
main(int argc, char **argv)
{
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 2;
	self[len] = '\0';
	if (argc == 6 && strcmp(argv[1], "child") == 0)
		return child_main(argv);
	if (getenv("TEAR_KILL2_STRIDE") != NULL)
		kill2_stride = strtoul(getenv("TEAR_KILL2_STRIDE"), NULL, 10);
	if (kill2_stride == 0)
		kill2_stride = 1;
	if (getenv("TEAR_KILL_STRIDE") != NULL)
		kill_stride = strtoul(getenv("TEAR_KILL_STRIDE"), NULL, 10);
	if (kill_stride == 0)
		kill_stride = 1;
	return dfi_test_main("tear-kill",
	    &(const struct dfi_test_case){ .timeout = DFI_TEST_NO_TIMEOUT, .run = tear_run_suite },
	    (const TTest *[]){ kill_every_step, NULL });
}
