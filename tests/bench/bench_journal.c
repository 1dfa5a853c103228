/* Journal benchmark: appends/s with one fdatasync per record and with group
 * commit (1, 4, 16 threads), verification records/s over a journal of at
 * least 1,000,000 records, open (index build) time, and the checkpoint sign
 * cost with the SoftHSM2 journal key.
 *
 * usage: bench_journal [--records N] [--appends N] [--hsm-dir DIR] [--no-hsm] [--dir DIR]
 *   --hsm-dir  a token made by hsm-config/make-dev-token.sh (default: make one)
 *   --dir      where journals are written (default: a directory under /tmp;
 *              fdatasync figures depend on that file system) */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dfissue/hsm.h"
#include "clock.h"
#include "jtest.h"
#include "workers.h"

static void
die(const char *what, dfi_err e)
{
	fprintf(stderr, "bench_journal: %s: %s\n", what, dfi_strerror(e));
	exit(1);
}

static char *
fresh_dir(const char *base, const char *name)
{
	char *p = malloc(strlen(base) + strlen(name) + 2);
	sprintf(p, "%s/%s", base, name);
	jt_rmrf(p);
	return p;
}

static dfi_journal *
new_journal(const char *dir, dfi_signer *s)
{
	struct dfi_journal_opts o = { .station = "bench" };
	dfi_err e = dfi_journal_create(dir, "bench.example/journal", s, &o);
	dfi_journal *j;
	if (e != DFI_OK || (e = dfi_journal_open(&j, dir, s, &o, NULL)) != DFI_OK)
		die("journal", e);
	return j;
}

static dfi_jrec
intent_n(uint64_t i)
{
	char uid[32];
	snprintf(uid, sizeof(uid), "04%012" PRIX64, (uint64_t)(i & 0xFFFFFFFFFFFFULL));
	return jt_intent(uid, 0x3042F5, 1, 0, 1);
}

/* ---- per-record fdatasync --------------------------------------------------------- */

static void
bench_serial(const char *base, dfi_signer *s, const char *sname, int n)
{
	char *d = fresh_dir(base, "serial");
	dfi_journal *j = new_journal(d, s);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		dfi_jrec r = intent_n((uint64_t)i);
		dfi_err e = dfi_journal_intent(j, &r, NULL);
		if (e != DFI_OK)
			die("append", e);
	}
	double dt = now_s() - t0;
	printf("append, one record + checkpoint + fdatasync each (%s signer): %d appends in %.2f s = %.0f appends/s\n",
	    sname, n, dt, n / dt);
	dfi_journal_close(j);
	jt_rmrf(d);
	free(d);
}

/* ---- group commit -------------------------------------------------------------------- */

struct gthr {
	dfi_journal *j;
	uint64_t first;
	int n;
};

static void
gthread(void *arg)
{
	struct gthr *g = arg;
	for (int i = 0; i < g->n; i++) {
		dfi_jrec r = intent_n(g->first + (uint64_t)i);
		uint64_t seq;
		dfi_err e = dfi_journal_intent(g->j, &r, &seq);
		if (e == DFI_OK)
			e = dfi_journal_commit(g->j, seq);
		if (e != DFI_OK)
			die("group append", e);
	}
}

static void
bench_group(const char *base, dfi_signer *s, const char *sname, int threads, int per_thread)
{
	char *d = fresh_dir(base, "group");
	dfi_journal *j = new_journal(d, s);
	struct gthr g[WORKERS_MAX];
	for (int i = 0; i < threads; i++)
		g[i] = (struct gthr){ j, (uint64_t)i * 1000000u, per_thread };
	double t0 = now_s();
	if (workers_each((unsigned)threads, g, sizeof(g[0]), gthread) != 0)
		die("group threads", DFI_E_NOMEM);
	double dt = now_s() - t0;
	dfi_journal_close(j);
	struct dfi_jverify_opts vo = { 0 };
	struct dfi_jverify_result r;
	dfi_journal_verify_file(d, &vo, &r);
	uint64_t appends = (uint64_t)threads * (uint64_t)per_thread * 2;
	printf("group commit, %2d threads (%s signer): %" PRIu64 " appends in %.2f s = %.0f appends/s, "
	       "%.1f records per checkpoint+fdatasync\n",
	    threads, sname, appends, dt, (double)appends / dt, (double)(r.records - 1) / (double)(r.checkpoints - 1));
	jt_rmrf(d);
	free(d);
}

/* ---- a big journal: verify and open ----------------------------------------------------- */

static int
no_fdatasync(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

/* A journal of records records, a checkpoint per half records (intents,
 * then their commits), written without fdatasync (benchmark data: only its
 * content matters). */
static char *
build_big(const char *base, const char *name, dfi_signer *s, uint64_t records, size_t half)
{
	char *d = fresh_dir(base, name);
	struct dfi_journal_io io = *dfi_journal_io_posix();
	io.fdatasync = no_fdatasync;
	io.fsync = no_fdatasync;
	struct dfi_journal_opts o = { .station = "bench", .io = &io };
	dfi_journal *j;
	dfi_err e = dfi_journal_create(d, "bench.example/journal", s, &o);
	if (e != DFI_OK || (e = dfi_journal_open(&j, d, s, &o, NULL)) != DFI_OK)
		die("journal", e);
	dfi_jrec *b = malloc(half * sizeof(*b));
	uint64_t *seqs = malloc(half * sizeof(*seqs));
	if (b == NULL || seqs == NULL)
		die("malloc", DFI_E_NOMEM);
	uint64_t done = 1; /* genesis */
	while (done < records) {
		size_t k = (records - done) / 2 > half ? half : (size_t)((records - done) / 2);
		if (k == 0)
			k = 1;
		for (size_t i = 0; i < k; i++)
			b[i] = intent_n(done + i);
		if ((e = dfi_journal_append(j, b, k, seqs)) != DFI_OK)
			die("big append", e);
		done += k;
		if (done >= records)
			break;
		for (size_t i = 0; i < k; i++) {
			memset(&b[i], 0, sizeof(b[i]));
			b[i].type = DFI_JREC_COMMIT;
			b[i].intent = seqs[i];
		}
		if ((e = dfi_journal_append(j, b, k, NULL)) != DFI_OK)
			die("big append", e);
		done += k;
	}
	free(seqs);
	free(b);
	dfi_journal_close(j);
	return d;
}

/* --verify-file: one verification in a process of its own, so that the
 * peak RSS it prints is the verification's. */
static int
verify_one(const char *path, const char *pem_path)
{
	size_t n = 0;
	char *pem = (char *)jt_read(pem_path, &n);
	dfi_jpubkey *pub = NULL;
	if (pem == NULL || dfi_jpubkey_from_pem(pem, n, &pub) != DFI_OK)
		die("public key", DFI_E_INVALID_ARG);
	free(pem);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	struct dfi_jverify_opts vo = { .pubkey = pub };
	struct dfi_jverify_result r;
	double t0 = now_s();
	dfi_err e = dfi_journal_verify_file(path, &vo, &r);
	double tv = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	if (e != DFI_OK)
		die("verify", e);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	    (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	printf("verify (every signature, tree, seq, pairing, versions): %" PRIu64 " records, %" PRIu64
	       " checkpoints in %.2f s = %.0f records/s, CPU %.2f s (%.2f cores), peak RSS %.1f MB\n",
	    r.records, r.checkpoints, tv, (double)r.records / tv, cpu, cpu / tv,
	    (double)ru1.ru_maxrss / 1024.0);
	fflush(stdout);
	dfi_jpubkey_free(pub);
	return 0;
}

/* Runs verify_one in a child process (this program, --verify-file). */
static void
verify_child(const char *path, const char *pem)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("readlink /proc/self/exe", DFI_E_IO);
	self[n] = '\0';
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", DFI_E_IO);
	if (pid == 0) {
		execl(self, self, "--verify-file", path, "--pubkey", pem, (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("verify child", DFI_E_JOURNAL_CORRUPT);
}

/* The auditor's figures: a journal of records records with a checkpoint
 * per half*2 records, and one of 100,000 checkpoints over 2 records each. */
/* --keep: the journals and the key stay (for a profiler); paths printed. */
static int keep_journals;

static void
bench_verify(const char *base, dfi_signer *s, uint64_t records, size_t half, uint64_t many_cps)
{
	char pem[700];
	snprintf(pem, sizeof(pem), "%s/journal-pub.pem", base);
	if (jt_write_pubkey_pem(s, pem) != 0)
		die("public key PEM", DFI_E_IO);
	double t0 = now_s();
	char *d = build_big(base, "verify-big", s, records, half);
	printf("built a journal of %" PRIu64 " records, a checkpoint per %zu, in %.1f s\n", records,
	    2 * half, now_s() - t0);
	verify_child(d, pem);
	if (keep_journals)
		printf("kept: %s (public key %s)\n", d, pem);
	else
		jt_rmrf(d);
	free(d);
	if (many_cps > 0) {
		t0 = now_s();
		d = build_big(base, "verify-cps", s, 2 * many_cps, 2);
		printf("built a journal of %" PRIu64 " records, a checkpoint per 2, in %.1f s\n",
		    2 * many_cps, now_s() - t0);
		verify_child(d, pem);
		if (keep_journals)
			printf("kept: %s\n", d);
		else
			jt_rmrf(d);
		free(d);
	}
	if (!keep_journals)
		unlink(pem);
}

static void
bench_big(const char *base, dfi_signer *s, const dfi_jpubkey *pub, uint64_t records)
{
	/* 500 intents, then their 500 commits: a checkpoint per 500 records */
	double t0 = now_s();
	char *d = build_big(base, "big", s, records, 500);
	double tb = now_s() - t0;
	dfi_journal *j;
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", d, DFI_JOURNAL_FILE);
	struct stat st;
	stat(p, &st);
	printf("built a journal of %" PRIu64 " records (%.1f MB, without fdatasync) in %.1f s\n", records,
	    (double)st.st_size / 1e6, tb);

	struct dfi_jverify_opts vo = { .pubkey = pub };
	struct dfi_jverify_result r;
	t0 = now_s();
	dfi_err e = dfi_journal_verify_file(d, &vo, &r);
	double tv = now_s() - t0;
	if (e != DFI_OK)
		die("verify", e);
	printf("verify (every signature, tree, seq, pairing, versions): %" PRIu64 " records, %" PRIu64
	       " checkpoints in %.2f s = %.0f records/s\n",
	    r.records, r.checkpoints, tv, (double)r.records / tv);
	struct dfi_journal_opts o = { .station = "bench" };
	t0 = now_s();
	if ((e = dfi_journal_open(&j, d, s, &o, NULL)) != DFI_OK)
		die("open", e);
	double to = now_s() - t0;
	printf("writer open of that journal (roots and signatures of all checkpoints, index): %.2f s\n", to);
	dfi_journal_close(j);
	jt_rmrf(d);
	free(d);
}

/* ---- checkpoint signing cost ---------------------------------------------------------- */

static void
bench_sign(dfi_signer *s, const char *sname, int n)
{
	dfi_checkpoint cp;
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "bench.example/journal");
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	uint32_t id;
	dfi_jpubkey *pk = jt_pubkey(s);
	if (pk == NULL || dfi_jpubkey_key_id(pk, cp.origin, &id) != DFI_OK)
		die("key id", DFI_E_CRYPTO);
	dfi_jpubkey_free(pk);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		cp.size = (uint64_t)i + 1;
		cp.prev_size = (uint64_t)i;
		memcpy(cp.root, &i, sizeof(i));
		dfi_err e = dfi_note_sign_id(&cp, s, id, note, sizeof(note), &nl);
		if (e != DFI_OK)
			die("sign", e);
	}
	double dt = now_s() - t0;
	printf("checkpoint sign (%s): %d notes in %.2f s = %.0f signs/s, %.1f us each\n", sname, n, dt, n / dt,
	    dt * 1e6 / n);
}

static dfi_signer *
hsm_signer(const char *hsm_dir, dfi_hsm **h)
{
	char conf[600], pin[600];
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", hsm_dir);
	snprintf(pin, sizeof(pin), "%s/user.pin", hsm_dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	struct dfi_hsm_config cfg = { .token_uri = "pkcs11:token=dfissue-dev", .pin_file = pin };
	dfi_signer *s = NULL;
	dfi_err e = dfi_hsm_open(h, &cfg);
	if (e == DFI_OK)
		e = dfi_hsm_signer_new(*h, "pkcs11:object=journal;type=private", &s);
	if (e != DFI_OK) {
		fprintf(stderr, "bench_journal: SoftHSM2 journal key unavailable (%s): HSM figures skipped\n",
		    dfi_strerror(e));
		return NULL;
	}
	return s;
}

int
main(int argc, char **argv)
{
	uint64_t records = 1000000, many_cps = 100000;
	int appends = 2000, no_hsm = 0, verify_only = 0;
	const char *hsm_dir = NULL, *dir = NULL, *vfile = NULL, *vpem = NULL;
	static const struct option lo[] = { { "records", required_argument, NULL, 'r' },
		{ "appends", required_argument, NULL, 'a' }, { "hsm-dir", required_argument, NULL, 'H' },
		{ "no-hsm", no_argument, NULL, 'N' }, { "dir", required_argument, NULL, 'd' },
		{ "verify-only", no_argument, NULL, 'V' }, { "keep", no_argument, NULL, 'K' },
		{ "checkpoints", required_argument, NULL, 'C' },
		{ "verify-file", required_argument, NULL, 'f' }, { "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': records = strtoull(optarg, NULL, 10); break;
		case 'a': appends = atoi(optarg); break;
		case 'H': hsm_dir = optarg; break;
		case 'N': no_hsm = 1; break;
		case 'd': dir = optarg; break;
		case 'V': verify_only = 1; break;
		case 'K': keep_journals = 1; break;
		case 'C': many_cps = strtoull(optarg, NULL, 10); break;
		case 'f': vfile = optarg; break;
		case 'k': vpem = optarg; break;
		default:
			printf("usage: bench_journal [--records N] [--appends N] [--hsm-dir DIR] [--no-hsm] [--dir DIR]\n"
			       "                     [--verify-only [--checkpoints N]]\n"
			       "  --verify-only   only the auditor's figures: verify a journal of --records\n"
			       "                  records (a checkpoint per 1,000) and one of --checkpoints\n"
			       "                  checkpoints (default 100000, 0: none) over 2 records each,\n"
			       "                  each in a process of its own (peak RSS)\n"
			       "  --keep          (with --dir) leave those journals and the public key there\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (vfile != NULL)
		return vpem != NULL ? verify_one(vfile, vpem) : 2;
	if (records < 2 || appends < 16) {
		fprintf(stderr, "bench_journal: --records >= 2, --appends >= 16\n");
		return 2;
	}
	if (verify_only) {
		char *vtmp = jt_tmpdir();
		dfi_signer *vs = jt_signer_new(DFI_SIG_ED25519);
		printf("journal verification benchmark (journals in %s)\n", dir != NULL ? dir : vtmp);
		bench_verify(dir != NULL ? dir : vtmp, vs, records, 500, many_cps);
		dfi_signer_free(vs);
		jt_rmrf(vtmp);
		free(vtmp);
		return 0;
	}
	char *tmp = jt_tmpdir();
	const char *base = dir != NULL ? dir : tmp;
	char made[600] = "";
	dfi_hsm *h = NULL;
	dfi_signer *hs = NULL;
	if (!no_hsm) {
		if (hsm_dir == NULL) {
			snprintf(made, sizeof(made), "%s/token", tmp);
			char cmd[2000];
			snprintf(cmd, sizeof(cmd), "'%s/hsm-config/make-dev-token.sh' '%s' '%s/bin/dfissue' >/dev/null </dev/null",
			    DFI_SOURCE_DIR, made, DFI_BUILD_DIR);
			if (system(cmd) == 0)
				hsm_dir = made;
			else
				fprintf(stderr, "bench_journal: could not make a SoftHSM2 token: HSM figures skipped\n");
		}
		if (hsm_dir != NULL)
			hs = hsm_signer(hsm_dir, &h);
	}
	dfi_signer *os = jt_signer_new(DFI_SIG_ED25519);
	dfi_jpubkey *opub = jt_pubkey(os);
	printf("journal benchmark (journals in %s)\n", base);
	if (hs != NULL) {
		bench_sign(hs, "SoftHSM2 Ed25519 via PKCS#11", 2000);
	}
	bench_sign(os, "OpenSSL Ed25519 in memory", 2000);
	dfi_signer *as = hs != NULL ? hs : os;
	const char *an = hs != NULL ? "SoftHSM2" : "OpenSSL";
	bench_serial(base, as, an, appends);
	int per[3] = { 1, 4, 16 };
	for (int i = 0; i < 3; i++)
		bench_group(base, as, an, per[i], appends / per[i] / 2 > 0 ? appends / per[i] / 2 : 1);
	bench_big(base, os, opub, records);
	dfi_jpubkey_free(opub);
	dfi_signer_free(os);
	dfi_signer_free(hs);
	dfi_hsm_free(h);
	jt_rmrf(tmp);
	free(tmp);
	return 0;
}
