/* The writer: create, append, index, lock, group commit, crash recovery at
 * every byte of the last batch, and injected write/sync failures. */
#include <pthread.h>

#include "testutil.h"
#include "jtest.h"

static const struct dfi_journal_opts base_opts = { .station = "test-station" };

JT_SIGNER_DIR_FIXTURE

static void
print_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "  finding line %llu (%s): %s\n", (unsigned long long)line, dfi_errname(code), msg);
}

static dfi_err
verify_dir(const char *dir, struct dfi_jverify_result *res)
{
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = print_finding };
	return dfi_journal_verify_file(dir, &o, res);
}

static char *
jpath(const char *dir)
{
	char *p = malloc(strlen(dir) + 32);
	sprintf(p, "%s/%s", dir, DFI_JOURNAL_FILE);
	return p;
}

/* The test's journal of the suite (its origin, signer and options) in
 * g_dir; returns g_dir (the teardown removes it). */
static const char *
new_journal_dir(void)
{
	ck_assert_int_eq(dfi_journal_create(g_dir, "dfissue.test/j", g_signer, &base_opts), DFI_OK);
	return g_dir;
}

/* The same, opened for writing. */
static dfi_journal *
new_journal(void)
{
	dfi_journal *j;
	ck_assert_int_eq(jt_create_open(&j, g_dir, "dfissue.test/j", g_signer, &base_opts), DFI_OK);
	return j;
}

START_TEST(create_append_reopen_index)
{
	const char *d = new_journal_dir();
	ck_assert_int_eq(dfi_journal_create(d, "dfissue.test/j", g_signer, &base_opts), DFI_E_INVALID_ARG);
	dfi_journal *j;
	struct dfi_journal_recovery rec;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.records, 1);
	ck_assert_uint_eq(rec.recoveries, 0);

	dfi_jrec a = jt_intent("04782E21801D80", 0x3042F5, 1, 0, 1);
	dfi_jrec b = jt_intent("04782E21801D80", 0x000000, 0, 0, 1);
	uint64_t sa, sb;
	uint8_t v;
	ck_assert_int_eq(dfi_journal_key_version(j, &a.key, &v), DFI_E_NOT_FOUND);
	ck_assert_int_eq(dfi_journal_intent(j, &a, &sa), DFI_OK);
	ck_assert_uint_eq(sa, 1);
	/* one open intent per key */
	ck_assert_int_eq(dfi_journal_intent(j, &a, NULL), DFI_E_INVALID_ARG);
	dfi_jrec open;
	ck_assert_int_eq(dfi_journal_open_intent(j, &a.key, &open), DFI_OK);
	ck_assert_uint_eq(open.seq, 1);
	ck_assert_int_eq(dfi_journal_commit(j, sa), DFI_OK);
	ck_assert_int_eq(dfi_journal_commit(j, sa), DFI_E_INVALID_ARG); /* no second outcome */
	ck_assert_int_eq(dfi_journal_key_version(j, &a.key, &v), DFI_OK);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &sb), DFI_OK);
	ck_assert_uint_eq(dfi_journal_size(j), 4);
	dfi_journal_close(j);

	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.records, 4);
	ck_assert_int_eq(dfi_journal_key_version(j, &a.key, &v), DFI_OK);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(dfi_journal_open_intent(j, &b.key, &open), DFI_OK);
	ck_assert_uint_eq(open.seq, sb);
	ck_assert_uint_eq(dfi_journal_open_intents(j, NULL, NULL), 1);
	ck_assert_int_eq(dfi_journal_resolve(j, sb, 1, DFI_JMATCH_NEW), DFI_OK);
	ck_assert_uint_eq(dfi_journal_open_intents(j, NULL, NULL), 0);
	dfi_jrec c = jt_intent("04782E21801D80", 0x3042F5, 1, 1, 2);
	uint64_t sc;
	ck_assert_int_eq(dfi_journal_intent(j, &c, &sc), DFI_OK);
	ck_assert_int_eq(dfi_journal_abort(j, sc, "card answered PERMISSION_DENIED"), DFI_OK);
	ck_assert_int_eq(dfi_journal_key_version(j, &a.key, &v), DFI_OK);
	ck_assert_uint_eq(v, 1);
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(j, note, sizeof(note), &nl), DFI_OK);
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(note, nl, g_pub, &cp), DFI_OK);
	ck_assert_uint_eq(cp.size, 7);
	dfi_journal_close(j);

	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
	ck_assert_uint_eq(res.records, 7);
	ck_assert_uint_eq(res.covered, 7);
	ck_assert_uint_eq(res.checkpoints, 7);
	ck_assert_uint_eq(res.intents, 3);
	ck_assert_uint_eq(res.unresolved, 0);
	ck_assert_int_eq(memcmp(res.last_note, note, nl), 0);

	/* an inclusion proof of every record verifies against the checkpoint */
	for (uint64_t s = 0; s < 7; s++) {
		struct dfi_jproof *p = malloc(sizeof(*p));
		ck_assert_int_eq(dfi_journal_proof_file(d, s, p), DFI_OK);
		ck_assert_uint_eq(p->size, 7);
		ck_assert_int_eq(dfi_merkle_verify_inclusion(p->index, p->size, p->leaf,
					 (const uint8_t(*)[32])p->proof, p->plen, cp.root), DFI_OK);
		uint8_t lh[32];
		dfi_merkle_leaf_hash(p->line, strlen(p->line), lh);
		ck_assert_int_eq(memcmp(lh, p->leaf, 32), 0);
		free(p);
	}
}
END_TEST

START_TEST(second_writer_is_locked_out)
{
	const char *d = new_journal_dir();
	dfi_journal *j, *j2 = NULL;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, NULL), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j2, d, g_signer, &base_opts, NULL), DFI_E_JOURNAL_LOCKED);
	ck_assert_ptr_null(j2);
	ck_assert_ptr_nonnull(strstr(dfi_strerror(DFI_E_JOURNAL_LOCKED), "locked"));
	dfi_journal_close(j);
	ck_assert_int_eq(dfi_journal_open(&j2, d, g_signer, &base_opts, NULL), DFI_OK);
	dfi_journal_close(j2);
	/* a journal signed by another key is refused */
	dfi_signer *other = jt_signer_new(DFI_SIG_ED25519);
	ck_assert_int_eq(dfi_journal_open(&j2, d, other, &base_opts, NULL), DFI_E_JOURNAL_SIGNATURE);
	dfi_signer_free(other);
}
END_TEST

/* ---- group commit ---------------------------------------------------------- */

struct gc {
	dfi_journal *j;
	int id, n;
	int fails;
};

static void *
gc_thread(void *arg)
{
	struct gc *g = arg;
	for (int i = 0; i < g->n; i++) {
		char uid[32];
		snprintf(uid, sizeof(uid), "04%02X%02X%02X000000", g->id, i >> 8, i & 0xFF);
		dfi_jrec r = jt_intent(uid, 0x112233, 0, 0, 1);
		uint64_t s;
		if (dfi_journal_intent(g->j, &r, &s) != DFI_OK || dfi_journal_commit(g->j, s) != DFI_OK)
			g->fails++;
	}
	return NULL;
}

START_TEST(group_commit_many_threads)
{
	dfi_journal *j = new_journal();
	enum { T = 8, N = 40 };
	pthread_t th[T];
	struct gc g[T];
	for (int i = 0; i < T; i++) {
		g[i] = (struct gc){ j, i, N, 0 };
		pthread_create(&th[i], NULL, gc_thread, &g[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(g[i].fails, 0);
	}
	ck_assert_uint_eq(dfi_journal_size(j), 1 + 2 * T * N);
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(g_dir, &res), DFI_OK);
	ck_assert_uint_eq(res.records, 1 + 2 * T * N);
	ck_assert_uint_eq(res.unresolved, 0);
	ck_assert_uint_le(res.checkpoints, res.records);
	printf("group commit: %llu records under %llu checkpoints\n", (unsigned long long)res.records,
	    (unsigned long long)res.checkpoints);
}
END_TEST

/* ---- crash at every byte of the last batch ------------------------------- */

START_TEST(cut_at_every_byte_of_last_batch)
{
	dfi_journal *j = new_journal();
	dfi_jrec a = jt_intent("04AABBCCDDEEFF", 0x000001, 2, 0, 1);
	uint64_t sa;
	ck_assert_int_eq(jt_intent_commit(j, &a, &sa), DFI_OK);
	char *jp = jpath(g_dir);
	size_t prev_len = 0;
	uint8_t *prev = jt_read(jp, &prev_len);
	dfi_jrec b = jt_intent("04AABBCCDDEEFF", 0x000001, 2, 1, 2);
	ck_assert_int_eq(dfi_journal_intent(j, &b, NULL), DFI_OK); /* the last batch: intent + checkpoint */
	dfi_journal_close(j);
	size_t full_len = 0;
	uint8_t *full = jt_read(jp, &full_len);
	ck_assert_uint_gt(full_len, prev_len);
	ck_assert_int_eq(memcmp(full, prev, prev_len), 0);

	unsigned lost_reported = 0;
	for (size_t cut = prev_len; cut <= full_len; cut++) {
		char *d2 = jt_tmpdir();
		char *jp2 = jpath(d2);
		ck_assert_int_eq(jt_write(jp2, full, cut), 0);
		struct dfi_journal_recovery rec;
		dfi_journal *j2;
		ck_assert_msg(dfi_journal_open(&j2, d2, g_signer, &base_opts, &rec) == DFI_OK, "cut %zu", cut);
		uint8_t v;
		dfi_jrec open;
		if (cut == full_len) {
			ck_assert_uint_eq(rec.recoveries, 0);
			ck_assert_int_eq(dfi_journal_open_intent(j2, &b.key, &open), DFI_OK);
		} else if (cut == prev_len) {
			ck_assert_uint_eq(rec.recoveries, 0);
			ck_assert_int_eq(dfi_journal_open_intent(j2, &b.key, &open), DFI_E_NOT_FOUND);
		} else {
			ck_assert_uint_eq(rec.recoveries, 1);
			ck_assert_uint_eq(rec.quarantined_bytes, cut - prev_len);
			ck_assert_uint_eq(rec.records, 4); /* genesis, intent, commit, recovery */
			/* the quarantined intent is not in the index; the caller probes it */
			ck_assert_int_eq(dfi_journal_open_intent(j2, &b.key, &open), DFI_E_NOT_FOUND);
			lost_reported += rec.n_lost_intents;
			char qp[512];
			snprintf(qp, sizeof(qp), "%s/%s/%s", d2, DFI_JOURNAL_QDIR, rec.quarantine_file);
			size_t ql = 0;
			uint8_t *q = jt_read(qp, &ql);
			ck_assert_ptr_nonnull(q);
			ck_assert_uint_eq(ql, cut - prev_len);
			ck_assert_int_eq(memcmp(q, full + prev_len, ql), 0); /* kept, not deleted */
			free(q);
		}
		ck_assert_int_eq(dfi_journal_key_version(j2, &a.key, &v), DFI_OK);
		ck_assert_uint_eq(v, 1);
		dfi_journal_close(j2);
		/* nothing covered was lost, and the result verifies */
		size_t nl = 0;
		uint8_t *now = jt_read(jp2, &nl);
		ck_assert_uint_ge(nl, prev_len);
		ck_assert_int_eq(memcmp(now, full, prev_len), 0);
		free(now);
		struct dfi_jverify_result res;
		ck_assert_msg(verify_dir(d2, &res) == DFI_OK, "cut %zu", cut);
		ck_assert_uint_eq(res.recoveries, cut == full_len || cut == prev_len ? 0 : 1);
		/* a second open changes nothing */
		ck_assert_int_eq(dfi_journal_open(&j2, d2, g_signer, &base_opts, &rec), DFI_OK);
		ck_assert_uint_eq(rec.recoveries, 0);
		dfi_journal_close(j2);
		jt_rmrf(d2);
		free(d2);
		free(jp2);
	}
	/* the intent's line is complete in the cuts between its LF and the end of the checkpoint */
	ck_assert_uint_gt(lost_reported, 0);
	free(prev);
	free(full);
	free(jp);
}
END_TEST

START_TEST(unrecorded_quarantine_file_gets_a_recovery_record)
{
	/* A crash between the quarantine copy and the recovery record leaves a
	 * quarantined file no record names; the next open records it. */
	const char *d = new_journal_dir();
	char qd[512], qf[600];
	snprintf(qd, sizeof(qd), "%s/%s", d, DFI_JOURNAL_QDIR);
	mkdir(qd, 0700);
	snprintf(qf, sizeof(qf), "%s/tail-1-2-0.log", qd);
	ck_assert_int_eq(jt_write(qf, "seq=9 time=", 11), 0);
	dfi_journal *j;
	struct dfi_journal_recovery rec;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.recoveries, 1);
	ck_assert_uint_eq(rec.quarantined_bytes, 11);
	dfi_journal_close(j);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.recoveries, 0);
	dfi_journal_close(j);
	/* the auditor checks the quarantined bytes against the record */
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
	ck_assert_int_eq(jt_write(qf, "seq=9 time=X", 12), 0);
	ck_assert_int_eq(verify_dir(d, &res), DFI_E_JOURNAL_CORRUPT);
	ck_assert_int_eq(unlink(qf), 0);
	ck_assert_int_eq(verify_dir(d, &res), DFI_E_JOURNAL_CORRUPT);
	/* the journal file alone, without its quarantine directory, still verifies */
	char *jp = jpath(d), alone[600];
	size_t n;
	uint8_t *b = jt_read(jp, &n);
	snprintf(alone, sizeof(alone), "%s.alone", d);
	ck_assert_int_eq(jt_write(alone, b, n), 0);
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = print_finding };
	ck_assert_int_eq(dfi_journal_verify_file(alone, &o, &res), DFI_OK);
	ck_assert_uint_eq(res.recoveries, 1);
	unlink(alone);
	free(b);
	free(jp);
}
END_TEST

START_TEST(covered_corruption_halts_and_repairs_nothing)
{
	dfi_journal *j = new_journal();
	dfi_jrec a = jt_intent("04AABBCCDDEEFF", 0x000001, 2, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &a, NULL), DFI_OK);
	dfi_journal_close(j);
	char *jp = jpath(g_dir);
	size_t n = 0;
	uint8_t *b = jt_read(jp, &n);
	char *p = strstr((char *)b, "keyno=2");
	ck_assert_ptr_nonnull(p);
	p[6] = '3';
	ck_assert_int_eq(jt_write(jp, b, n), 0);
	ck_assert_int_eq(dfi_journal_open(&j, g_dir, g_signer, &base_opts, NULL), DFI_E_JOURNAL_CORRUPT);
	size_t n2 = 0;
	uint8_t *b2 = jt_read(jp, &n2);
	ck_assert_uint_eq(n2, n);
	ck_assert_int_eq(memcmp(b, b2, n), 0);
	free(b);
	free(b2);
	free(jp);
}
END_TEST

/* ---- injected I/O failures ---------------------------------------------------- */

struct fault {
	int fail_pwrite_after; /* -1: never; else fail the (n+1)th call */
	int fail_sync_after;
	int partial;           /* write half, then fail */
	int err;
	int pwrites, syncs;
};

static ssize_t
f_pwrite(void *c, int fd, const void *b, size_t n, off_t o)
{
	struct fault *f = c;
	if (f->fail_pwrite_after >= 0 && f->pwrites++ >= f->fail_pwrite_after) {
		if (f->partial && n > 1) {
			ssize_t w = pwrite(fd, b, n / 2, o);
			f->partial = 0;
			return w;
		}
		errno = f->err;
		return -1;
	}
	return pwrite(fd, b, n, o);
}

static int
f_fdatasync(void *c, int fd)
{
	struct fault *f = c;
	if (f->fail_sync_after >= 0 && f->syncs++ >= f->fail_sync_after) {
		errno = f->err;
		return -1;
	}
	return fdatasync(fd);
}

static struct dfi_journal_io
fault_io(struct fault *f)
{
	struct dfi_journal_io io = *dfi_journal_io_posix();
	io.pwrite = f_pwrite;
	io.fdatasync = f_fdatasync;
	io.ctx = f;
	return io;
}

/* The caller's rule: ChangeKey goes out only after the intent is durable. */
static int
tap(dfi_journal *j, const dfi_jrec *intent, int *sent)
{
	uint64_t s;
	dfi_err e = dfi_journal_intent(j, intent, &s);
	if (e != DFI_OK)
		return e;
	(*sent)++;
	return dfi_journal_commit(j, s);
}

static void
fault_case(int fail_write, int fail_sync, int partial, int err)
{
	const char *d = new_journal_dir();
	struct fault f = { fail_write, fail_sync, partial, err, 0, 0 };
	struct dfi_journal_io io = fault_io(&f);
	struct dfi_journal_opts o = base_opts;
	o.io = &io;
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_OK);
	int sent = 0;
	dfi_jrec a = jt_intent("04000000000001", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &a, &sent), DFI_OK);
	ck_assert_int_eq(sent, 1);
	dfi_jrec b = jt_intent("04000000000002", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &b, &sent), DFI_E_IO);
	ck_assert_int_eq(sent, 1); /* nothing was sent for b */
	/* the handle is dead: every later append fails too */
	dfi_jrec c = jt_intent("04000000000003", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &c, &sent), DFI_E_IO);
	ck_assert_int_eq(sent, 1);
	/* the first failure's reason, for the message: which file, which
	 * call, the system's words (an I/O code alone says none of them) */
	struct dfi_journal_failure jf;
	char want[700];
	ck_assert_int_eq(dfi_journal_last_failure(j, &jf), DFI_OK);
	ck_assert_int_eq(jf.kind, DFI_JFAIL_FILE);
	ck_assert_int_eq(jf.code, DFI_E_IO);
	ck_assert_int_eq(jf.sys_errno, err);
	snprintf(want, sizeof(want), "journal %s/journal.log: %s failed: %s", d,
	    fail_sync >= 0 ? "fdatasync" : "write", strerror(err));
	ck_assert_str_eq(jf.what, want);
	ck_assert_str_eq(jf.todo, err == ENOSPC ? "free space on that file system" :
	    "the device failed: check the kernel log (dmesg) and the disk");
	dfi_journal_close(j);
	/* reopening with working I/O gives a consistent, verifiable journal */
	struct dfi_journal_recovery rec;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	uint8_t v;
	ck_assert_int_eq(dfi_journal_key_version(j, &a.key, &v), DFI_OK);
	ck_assert_uint_eq(v, 1);
	dfi_jrec open;
	dfi_err oe = dfi_journal_open_intent(j, &b.key, &open);
	if (fail_sync >= 0)
		ck_assert_int_eq(oe, DFI_OK); /* written but unacknowledged: probed later, never lost */
	else
		ck_assert_int_eq(oe, DFI_E_NOT_FOUND);
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
}

/* A signer that fails its next sign when told to (an HSM session that
 * dropped), forwarding everything else to g_signer. */
struct flaky {
	int fail_next;
	int fails;
};

static dfi_err
flaky_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	struct flaky *f = ctx;
	if (f->fail_next) {
		f->fail_next = 0;
		f->fails++;
		return DFI_E_HSM_DEVICE;
	}
	return dfi_signer_sign(g_signer, msg, len, sig, siglen);
}

static dfi_err
flaky_pub(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	(void)ctx;
	return dfi_signer_public_key_der(g_signer, der, cap, len);
}

static const struct dfi_signer_ops flaky_ops = { flaky_sign, flaky_pub, NULL };

/* A checkpoint that cannot be signed leaves the file untouched: that batch
 * fails with the signer's error (nothing is sent for it), and the handle
 * goes on from the file instead of stopping (append.c, jw_reload). */
START_TEST(unsigned_batch_fails_alone_and_the_handle_goes_on)
{
	const char *d = new_journal_dir();
	struct flaky fl = { 0, 0 };
	dfi_signer *s;
	ck_assert_int_eq(dfi_signer_new(&s, dfi_signer_alg(g_signer), &flaky_ops, &fl), DFI_OK);
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, d, s, &base_opts, NULL), DFI_OK);
	int sent = 0;
	dfi_jrec a = jt_intent("04000000000001", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &a, &sent), DFI_OK);
	uint64_t size = dfi_journal_size(j);
	fl.fail_next = 1;
	dfi_jrec b = jt_intent("04000000000002", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &b, &sent), DFI_E_HSM_DEVICE);
	ck_assert_int_eq(fl.fails, 1);
	ck_assert_int_eq(sent, 1); /* nothing was sent for b */
	ck_assert_uint_eq(dfi_journal_size(j), size);
	/* named as the signer's failure, not as the file's nor as start-up */
	struct dfi_journal_failure jf;
	char want[700];
	ck_assert_int_eq(dfi_journal_last_failure(j, &jf), DFI_OK);
	ck_assert_int_eq(jf.kind, DFI_JFAIL_SIGNER);
	ck_assert_int_eq(jf.code, DFI_E_HSM_DEVICE);
	snprintf(want, sizeof(want), "journal %s: the journal key (checkpoint origin %s) could not "
	    "sign a checkpoint (DFI_E_HSM_DEVICE): it signed at start, so its HSM lost it: the "
	    "token was removed or its store became unreadable", d, dfi_journal_origin(j));
	ck_assert_str_eq(jf.what, want);
	ck_assert_str_eq(jf.todo, "bring the HSM back (reconnect the token, restore its store)");
	dfi_jrec open;
	ck_assert_int_eq(dfi_journal_open_intent(j, &b.key, &open), DFI_E_NOT_FOUND);
	/* the same card again, and another: both go through */
	ck_assert_int_eq(tap(j, &b, &sent), DFI_OK);
	dfi_jrec c = jt_intent("04000000000003", 0x000001, 0, 0, 1);
	ck_assert_int_eq(tap(j, &c, &sent), DFI_OK);
	ck_assert_int_eq(sent, 3);
	uint8_t v;
	ck_assert_int_eq(dfi_journal_key_version(j, &b.key, &v), DFI_OK);
	ck_assert_uint_eq(v, 1);
	dfi_journal_close(j);
	dfi_signer_free(s);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
	ck_assert_uint_eq(res.intents, 3);
	ck_assert_uint_eq(res.unresolved, 0);
}
END_TEST

START_TEST(enospc_on_write_fails_the_append) { fault_case(2, -1, 0, ENOSPC); }
END_TEST
START_TEST(short_write_then_eio_fails_the_append) { fault_case(2, -1, 1, EIO); }
END_TEST
START_TEST(eio_on_fdatasync_fails_the_append) { fault_case(-1, 2, 0, EIO); }
END_TEST

/* The torn tail is copied to quarantine/, then the disk fills before its
 * recovery record: the open fails saying why, where the tail is, and that
 * the next open records it; that open does. */
START_TEST(recovery_record_on_a_full_disk_says_where_the_tail_is)
{
	const char *d = new_journal_dir();
	char jl[600], detail[800] = "", want[1200];
	snprintf(jl, sizeof(jl), "%s/journal.log", d);
	FILE *tf = fopen(jl, "ab");
	ck_assert_ptr_nonnull(tf);
	fputs("seq=1 time=2026-11-25T09:00:00Z type=intent uid=04", tf); /* torn */
	ck_assert_int_eq(fclose(tf), 0);
	struct fault f = { 1, -1, 0, ENOSPC, 0, 0 }; /* the copy is written, the record is not */
	struct dfi_journal_io io = fault_io(&f);
	struct dfi_journal_opts o = base_opts;
	o.io = &io;
	o.detail = detail;
	o.detail_cap = sizeof(detail);
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_E_IO);
	fprintf(stderr, "recovery record on a full disk: %s\n", detail);
	snprintf(want, sizeof(want), "journal %s/journal.log: write failed: No space left on device: "
	    "free space on that file system and run again (the tail is in %s/quarantine/; the next "
	    "open records it)", d, d);
	ck_assert_str_eq(detail, want);
	struct dfi_journal_recovery rec;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.recoveries, 1);
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
}
END_TEST

/* A failure in the middle of group commit: every thread's append after it
 * fails, nothing more is written, and the journal reopens consistent. */
struct gf {
	dfi_journal *j;
	int id, ok, failed, sent;
};

static void *
gf_thread(void *arg)
{
	struct gf *g = arg;
	for (int i = 0; i < 30; i++) {
		char uid[32];
		snprintf(uid, sizeof(uid), "04%02X%02X00000000", g->id, i);
		dfi_jrec r = jt_intent(uid, 0x000001, 0, 0, 1);
		if (tap(g->j, &r, &g->sent) == DFI_OK)
			g->ok++;
		else
			g->failed++;
	}
	return NULL;
}

START_TEST(failure_under_group_commit)
{
	const char *d = new_journal_dir();
	struct fault f = { 20, -1, 1, ENOSPC, 0, 0 };
	struct dfi_journal_io io = fault_io(&f);
	struct dfi_journal_opts o = base_opts;
	o.io = &io;
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, NULL), DFI_OK);
	enum { T = 8 };
	pthread_t th[T];
	struct gf g[T];
	for (int i = 0; i < T; i++) {
		g[i] = (struct gf){ j, i, 0, 0, 0 };
		pthread_create(&th[i], NULL, gf_thread, &g[i]);
	}
	int ok = 0, failed = 0;
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ok += g[i].ok;
		failed += g[i].failed;
	}
	ck_assert_int_gt(failed, 0);
	/* 20 good writes, then half of the 21st batch and the failing rest of
	 * it: the failed call was the last one, nothing was written after it */
	ck_assert_int_eq(f.pwrites, 22);
	dfi_journal_close(j);
	struct dfi_journal_recovery rec;
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, &rec), DFI_OK);
	ck_assert_uint_eq(rec.recoveries, 1); /* the half-written batch */
	/* every tap that returned OK (intent and commit durable) is in the journal */
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(d, &res), DFI_OK);
	ck_assert_uint_ge(res.commits, (uint64_t)ok);
	ck_assert_uint_le(res.intents, (uint64_t)(ok + T));
}
END_TEST

/* ---- asynchronous appends ---------------------------------------------------- */

/* An fdatasync that blocks until the test opens the gate: proves that
 * dfi_journal_append_async() returns while the sync is still pending and
 * that dfi_journal_wait() does not return before it is done. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open, entered, done, fail;
};

static int
g_fdatasync(void *c, int fd)
{
	struct gate *g = c;
	pthread_mutex_lock(&g->mu);
	g->entered++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	int fail = g->fail;
	pthread_mutex_unlock(&g->mu);
	int r = fail ? -1 : fdatasync(fd);
	if (fail)
		errno = EIO;
	pthread_mutex_lock(&g->mu);
	g->done++;
	pthread_mutex_unlock(&g->mu);
	return r;
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_wait_entered(struct gate *g, int n)
{
	pthread_mutex_lock(&g->mu);
	while (g->entered < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static dfi_journal *
gate_journal(struct gate *g, struct dfi_journal_io *io)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	*io = *dfi_journal_io_posix();
	io->fdatasync = g_fdatasync;
	io->ctx = g;
	struct dfi_journal_opts o = base_opts;
	o.io = io;
	dfi_journal *j;
	ck_assert_int_eq(dfi_journal_create(g_dir, "dfissue.test/j", g_signer, &base_opts), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j, g_dir, g_signer, &o, NULL), DFI_OK);
	return j;
}

START_TEST(async_append_returns_before_the_sync_and_wait_after_it)
{
	struct gate g;
	struct dfi_journal_io io;
	memset(&g, 0, sizeof(g));
	dfi_journal *j = gate_journal(&g, &io);
	dfi_jrec a = jt_intent("04000000000011", 0x000001, 0, 0, 1);
	dfi_jrec b = jt_intent("04000000000012", 0x000001, 0, 0, 1);
	uint64_t sa, sb, ta, tb;
	ck_assert_int_eq(dfi_journal_append_async(j, &a, 1, &sa, &ta), DFI_OK);
	/* The flusher thread took the batch and is inside fdatasync. */
	gate_wait_entered(&g, 1);
	/* The index has the intent at once: a second intent for the key is
	 * refused, a second batch queues behind the first. */
	ck_assert_int_eq(dfi_journal_append_async(j, &a, 1, NULL, &tb), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_journal_append_async(j, &b, 1, &sb, &tb), DFI_OK);
	ck_assert_uint_eq(sb, sa + 1);
	ck_assert_uint_gt(tb, ta);
	dfi_jrec open;
	ck_assert_int_eq(dfi_journal_open_intent(j, &a.key, &open), DFI_OK);
	pthread_mutex_lock(&g.mu);
	ck_assert_int_eq(g.done, 0);
	pthread_mutex_unlock(&g.mu);
	gate_open(&g);
	/* Waited out of order: the later ticket covers its batch only. */
	ck_assert_int_eq(dfi_journal_wait(j, tb), DFI_OK);
	ck_assert_int_eq(dfi_journal_wait(j, ta), DFI_OK);
	pthread_mutex_lock(&g.mu);
	ck_assert_int_ge(g.done, 2);
	pthread_mutex_unlock(&g.mu);
	ck_assert_int_eq(dfi_journal_wait(j, tb + 1), DFI_E_INVALID_ARG); /* never issued */
	ck_assert_int_eq(dfi_journal_wait(j, 0), DFI_E_INVALID_ARG);
	/* A commit queued and never waited for is still written by close. */
	dfi_jrec c;
	memset(&c, 0, sizeof(c));
	c.type = DFI_JREC_COMMIT;
	c.intent = sa;
	c.observed_version = -1;
	uint64_t tc;
	ck_assert_int_eq(dfi_journal_append_async(j, &c, 1, NULL, &tc), DFI_OK);
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(g_dir, &res), DFI_OK);
	ck_assert_uint_eq(res.records, 4);
	ck_assert_uint_eq(res.covered, 4);
	ck_assert_uint_eq(res.commits, 1);
	ck_assert_uint_eq(res.unresolved, 1);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}
END_TEST

START_TEST(async_sync_failure_reaches_the_waiter_and_kills_the_handle)
{
	struct gate g;
	struct dfi_journal_io io;
	memset(&g, 0, sizeof(g));
	g.fail = 1;
	dfi_journal *j = gate_journal(&g, &io);
	dfi_jrec a = jt_intent("04000000000021", 0x000001, 0, 0, 1);
	dfi_jrec b = jt_intent("04000000000022", 0x000001, 0, 0, 1);
	uint64_t ta, tb;
	ck_assert_int_eq(dfi_journal_append_async(j, &a, 1, NULL, &ta), DFI_OK);
	gate_open(&g);
	ck_assert_int_eq(dfi_journal_wait(j, ta), DFI_E_IO);
	/* the handle is dead: nothing more is queued or written */
	ck_assert_int_eq(dfi_journal_append_async(j, &b, 1, NULL, &tb), DFI_E_IO);
	ck_assert_int_eq(dfi_journal_intent(j, &b, NULL), DFI_E_IO);
	dfi_journal_close(j);
	/* written but unacknowledged: the reopened journal still has the
	 * intent open (a card would be probed), and it verifies */
	ck_assert_int_eq(dfi_journal_open(&j, g_dir, g_signer, &base_opts, NULL), DFI_OK);
	dfi_jrec open;
	ck_assert_int_eq(dfi_journal_open_intent(j, &a.key, &open), DFI_OK);
	ck_assert_int_eq(dfi_journal_open_intent(j, &b.key, &open), DFI_E_NOT_FOUND);
	dfi_journal_close(j);
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(g_dir, &res), DFI_OK);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}
END_TEST

/* A middle checkpoint re-signed by another key: every root still matches,
 * only that signature is wrong. The writer's open checks every checkpoint
 * signature and halts (nothing is repaired), as the verifier does. */
START_TEST(open_halts_on_a_middle_checkpoint_signed_by_another_key)
{
	dfi_journal *j = new_journal();
	dfi_jrec a = jt_intent("04000000000031", 0x000001, 0, 0, 1);
	dfi_jrec b = jt_intent("04000000000032", 0x000001, 0, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &a, NULL), DFI_OK);
	ck_assert_int_eq(dfi_journal_intent(j, &b, NULL), DFI_OK);
	dfi_journal_close(j);

	/* genesis, checkpoint, intent a, checkpoint (the middle one), intent b,
	 * checkpoint */
	char *path = jpath(g_dir);
	size_t n;
	uint8_t *buf = jt_read(path, &n);
	size_t cps[8], ncp = 0;
	for (size_t i = 0; i < n && ncp < 8; i++)
		if ((i == 0 || buf[i - 1] == '\n') && n - i > 11 && memcmp(buf + i, "checkpoint ", 11) == 0)
			cps[ncp++] = i;
	ck_assert_uint_eq(ncp, 3);
	size_t s = cps[1] + 11;
	dfi_signer *other = jt_signer_new(DFI_SIG_ED25519);
	size_t tl;
	uint8_t *t = jt_resign_checkpoint(buf, n, s, g_pub, other, &tl);
	dfi_signer_free(other);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(jt_write(path, t, tl), 0);

	ck_assert_int_eq(dfi_journal_open(&j, g_dir, g_signer, &base_opts, NULL), DFI_E_JOURNAL_SIGNATURE);
	size_t n2;
	uint8_t *after = jt_read(path, &n2);
	ck_assert_uint_eq(n2, tl);
	ck_assert_int_eq(memcmp(after, t, tl), 0); /* nothing repaired */
	struct dfi_jverify_result res;
	ck_assert_int_eq(verify_dir(g_dir, &res), DFI_E_JOURNAL_SIGNATURE);
	free(after);
	free(t);
	free(buf);
	free(path);
}
END_TEST

JT_SIGNER_MAIN("journal_writer",
    create_append_reopen_index, second_writer_is_locked_out,
    group_commit_many_threads, cut_at_every_byte_of_last_batch,
    unrecorded_quarantine_file_gets_a_recovery_record,
    covered_corruption_halts_and_repairs_nothing, enospc_on_write_fails_the_append,
    short_write_then_eio_fails_the_append, eio_on_fdatasync_fails_the_append,
    failure_under_group_commit, async_append_returns_before_the_sync_and_wait_after_it,
    async_sync_failure_reaches_the_waiter_and_kills_the_handle,
    open_halts_on_a_middle_checkpoint_signed_by_another_key,
    unsigned_batch_fails_alone_and_the_handle_goes_on,
    recovery_record_on_a_full_disk_says_where_the_tail_is)
