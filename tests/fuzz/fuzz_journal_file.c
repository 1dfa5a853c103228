/* libFuzzer harness: the journal's FILE reader (engine/journal/scan.c's
 * chunked jscan_fd and everything reading through it: the auditor's
 * dfi_journal_verify_file with its signature threads in sigpool.c,
 * the inclusion-proof reader, and the writer's open with its quarantine
 * copy), on inputs far larger than one line or one read.
 *
 * An input is a 7-byte header followed by the bytes of journal.log:
 *
 *   byte 0  bit 0: short reads (each of a thread's first 4096 preads
 *           returns 1..cap bytes)
 *           bit 1: EINTR before some reads (at most two in a row)
 *           bit 2: the pread numbered by bytes 2-3 fails with EIO
 *           bits 3-7: how often EINTR comes (1 in 2..33 reads)
 *   byte 1  short-read cap: 1 + b*b bytes (1..65026)
 *   bytes 2-3  little-endian number (1-based) of the failing pread; also
 *           picks the record whose inclusion proof is asked for
 *   byte 4  a run of b * 8 KiB bytes (up to 2 MiB) inserted into the
 *           journal: lines longer than the reader's 1 MiB buffer and lines
 *           across its chunk boundaries, which libFuzzer would take long to
 *           grow byte by byte (and the seed corpus stays small)
 *   byte 5  the run's byte (an LF is taken as 'A': a million empty lines
 *           test nothing the rest does not)
 *   byte 6  where the run goes: at b/255 of the journal
 *
 * Faults are injected the way libfido2's fuzz/wrap.c does it for its
 * library calls: a wrapper around the one call, whose behaviour the input
 * decides, so the fuzzer explores failure paths as it explores data. Here
 * the wrapper is the journal's own I/O hook (struct dfi_journal_io). Each
 * thread draws from its own stream (thread-local), so the reading threads
 * do not make a run depend on scheduling.
 *
 * What must hold (__builtin_trap otherwise):
 *  - the file verifier and the memory verifier agree on the same bytes:
 *    verdict, findings, lines, records, checkpoints, coverage, root, note;
 *  - an OK verdict means fully covered and signed;
 *  - with short reads and EINTR the file walk still agrees exactly; with
 *    a failed read it never reports OK (it did not read the whole file);
 *  - a proof from the proof reader is self-consistent (leaf = hash of the
 *    line, inclusion verifies against the note's root), and exists for
 *    every covered record of a journal that verifies;
 *  - the writer's open gives the same result and leaves byte-identical
 *    files with and without short reads/EINTR (fixed clock, deterministic
 *    Ed25519), and fails when a read failed, after which an open with
 *    working reads ends byte for byte where one open would have (nothing
 *    lost, nothing quarantined or recorded twice).
 * ASan/UBSan/LSan catch the rest. Seeds: corpus/journal_file/ (real signed
 * journals by the key below with fault plans, and an over-long tail); the
 * options (-max_len above the 4096 default) are in
 * corpus/journal_file.options. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfissue/journal.h"
#include "journal/journal_int.h"
#include "journal/sigpool.h"
#include "../journal/jtest.h" /* the Ed25519 signer from a fixed seed */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property: say which, then crash so libFuzzer keeps the input. */
#define FAIL(why) \
	do { \
		fprintf(stderr, "fuzz_journal_file: %s\n", why); \
		__builtin_trap(); \
	} while (0)

#define HDR 7
#define SHORT_READS 4096 /* per thread and run */
#define RUN_UNIT 8192

/* A fixed test key (RFC 8032 §7.1 TEST 1 secret key): the seeds verify. */
static const uint8_t seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
	0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static int64_t
fixed_now(void *ctx)
{
	(void)ctx;
	return 1767225600; /* 2026-01-01: quarantine names and records repeat */
}

/* ---- the fault-injecting I/O table ---------------------------------------- */

struct plan {
	int shortreads, eintr, fail;
	unsigned eintr_period; /* 2..33 */
	size_t cap;            /* short reads: at most this many bytes */
	uint32_t fail_at;      /* 1-based pread number that fails */
	uint64_t seed;
};

/* One run of a reader: a generation number so every thread, the main one
 * and the pipe's, starts its own stream afresh when it first reads. */
struct fio {
	struct dfi_journal_io io;
	const struct plan *plan;   /* NULL: plain reads */
	unsigned gen;
	int failed;                /* an EIO was injected through it (any thread) */
};

struct tstate {
	unsigned gen;
	uint64_t rng;
	uint32_t calls;
	int last_eintr;
	int failed;     /* this thread saw an injected EIO in this run */
};
static __thread struct tstate ts;

static uint64_t
rnd(void)
{
	/* xorshift64*: deterministic per thread and run */
	ts.rng ^= ts.rng >> 12;
	ts.rng ^= ts.rng << 25;
	ts.rng ^= ts.rng >> 27;
	return ts.rng * 0x2545F4914F6CDD1DULL;
}

static ssize_t
f_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct fio *f = ctx;
	const struct plan *p = f->plan;
	if (ts.gen != f->gen) {
		memset(&ts, 0, sizeof(ts));
		ts.gen = f->gen;
		ts.rng = p != NULL ? p->seed | 1 : 1;
	}
	if (p == NULL)
		return pread(fd, buf, len, off);
	ts.calls++;
	if (p->fail && ts.calls == p->fail_at) {
		ts.failed = 1;
		f->failed = 1;
		errno = EIO;
		return -1;
	}
	/* at most two EINTRs in a row: a reader that retries must finish */
	if (p->eintr && ts.last_eintr < 2 && rnd() % p->eintr_period == 0) {
		ts.last_eintr++;
		errno = EINTR;
		return -1;
	}
	ts.last_eintr = 0;
	/* Short reads for the first SHORT_READS calls only: a reader that
	 * handles them there handles them anywhere, and 1-byte reads of a
	 * 2 MiB file would spend a million system calls on one input. */
	if (p->shortreads && len > 1 && ts.calls <= SHORT_READS) {
		size_t cap = len < p->cap ? len : p->cap;
		len = 1 + (size_t)(rnd() % cap);
	}
	return pread(fd, buf, len, off);
}

static void
fio_init(struct fio *f, const struct plan *p)
{
	static unsigned gen;
	f->io = jt_io_nosync(f_pread, f); /* durability is not what this harness tests */
	f->plan = p;
	f->gen = ++gen;
	f->failed = 0;
}

/* ---- set-up ------------------------------------------------------------------ */

static dfi_signer *signer;
static dfi_jpubkey *pub;
static char top[64], vdir[96], vpath[128], wdir[96], wpath[128], qdir[128];

static void
cleanup(void)
{
	jt_rmrf(top);
}

static void
init(void)
{
	if ((signer = jt_signer_ed25519_seed(seed)) == NULL ||
	    dfi_jpubkey_from_signer(signer, &pub) != DFI_OK)
		abort();
	/* one temporary tree for the whole run: v/ for the readers (never a
	 * quarantine/ beside it), w/ for the writer's open */
	snprintf(top, sizeof(top), "/tmp/fuzz-journal-file-XXXXXX");
	if (mkdtemp(top) == NULL)
		abort();
	atexit(cleanup); /* libFuzzer exits normally at -max_total_time */
	snprintf(vdir, sizeof(vdir), "%s/v", top);
	snprintf(wdir, sizeof(wdir), "%s/w", top);
	if (mkdir(vdir, 0700) != 0 || mkdir(wdir, 0700) != 0)
		abort();
	snprintf(vpath, sizeof(vpath), "%s/%s", vdir, DFI_JOURNAL_FILE);
	snprintf(wpath, sizeof(wpath), "%s/%s", wdir, DFI_JOURNAL_FILE);
	snprintf(qdir, sizeof(qdir), "%s/%s", wdir, DFI_JOURNAL_QDIR);
}

static void
put_file(const char *path, const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k <= 0)
			abort();
		b += k;
		n -= (size_t)k;
	}
	close(fd);
}

static uint8_t *
get_file(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		abort();
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t have = 0;
	ssize_t k;
	if (b == NULL)
		abort();
	while (have < (size_t)st.st_size && (k = read(fd, b + have, (size_t)st.st_size - have)) > 0)
		have += (size_t)k;
	if (have != (size_t)st.st_size)
		abort();
	close(fd);
	*n = have;
	return b;
}

static int
same_result(const struct dfi_jverify_result *a, const struct dfi_jverify_result *b)
{
	return a->lines == b->lines && a->records == b->records && a->checkpoints == b->checkpoints &&
	    a->covered == b->covered && a->findings == b->findings &&
	    memcmp(a->root, b->root, DFI_HASH_LEN) == 0 && a->last_note_len == b->last_note_len &&
	    memcmp(a->last_note, b->last_note, a->last_note_len) == 0;
}

/* ---- the checks ----------------------------------------------------------------- */

/* The proof reader on the file: whatever it returns must prove itself;
 * for a journal that verifies, every covered record has a proof against
 * the verified root. */
static void
check_proof(uint64_t seq, dfi_err ve, const struct dfi_jverify_result *r)
{
	struct dfi_jproof *p = malloc(sizeof(*p));
	if (p == NULL)
		abort();
	dfi_err e = dfi_journal_proof_file(vdir, seq, p);
	if (e == DFI_OK) {
		dfi_checkpoint cp;
		uint8_t leaf[DFI_HASH_LEN];
		dfi_merkle_leaf_hash(p->line, strlen(p->line), leaf);
		if (p->index != seq || seq >= p->size || memcmp(leaf, p->leaf, DFI_HASH_LEN) != 0 ||
		    dfi_note_open(p->note, p->note_len, NULL, &cp) != DFI_OK || cp.size != p->size ||
		    dfi_merkle_verify_inclusion(p->index, p->size, p->leaf,
		    (const uint8_t(*)[DFI_HASH_LEN])p->proof, p->plen, cp.root) != DFI_OK)
			FAIL("the proof reader returned a proof that does not prove");
		if (ve == DFI_OK && (p->size != r->covered || memcmp(cp.root, r->root, DFI_HASH_LEN) != 0))
			FAIL("the proof is not against the verified checkpoint");
	} else if (ve == DFI_OK && seq < r->covered) {
		FAIL("no proof for a covered record of a journal that verifies");
	}
	free(p);
}

/* The auditor's file walk (what dfi_journal_verify_file runs: the pipe's
 * reading thread, sigpool's threads, the walk and the index) through the faulty
 * table. Short reads and EINTR must change nothing; a failed read must
 * never end in OK. */
static void
check_faulty_walk(const struct plan *pl, dfi_err ve, const struct dfi_jverify_result *r)
{
	struct fio f;
	fio_init(&f, pl);
	int fd = open(vpath, O_RDONLY | O_CLOEXEC);
	struct jwalk *w = malloc(sizeof(*w));
	if (fd < 0 || w == NULL)
		abort();
	jwalk_init(w);
	w->pub = pub;
	w->verify_all = 1;
	w->semantic = 1;
	w->ix = jindex_new();
	if (w->ix == NULL)
		abort();
	/* The walk reads in the pipe's thread, which also queues the
	 * checkpoint lines for sigpool's threads. f.failed is read after
	 * jpipe_walk joined the thread that set it. */
	jsigpool *sp = NULL;
	if (jsigpool_start(&sp, pub) == DFI_OK)
		w->sigs = sp;
	dfi_err e = jpipe_walk(w, &f.io, fd, NULL, 0);
	jsigpool_free(sp);
	w->sigs = NULL;
	int failed = f.failed;
	if (e == DFI_OK)
		jwalk_finish(w, w->end);
	if (failed) {
		if (e == DFI_OK)
			FAIL("the file walk said OK after a read failed");
	} else {
		dfi_err we = w->findings == 0 ? DFI_OK : w->first_err;
		uint8_t root[DFI_HASH_LEN];
		if (e != DFI_OK)
			FAIL("the file walk failed with no read failure injected");
		memcpy(root, w->root, DFI_HASH_LEN);
		if (we != ve || w->findings != r->findings || w->lines != r->lines || w->nrec != r->records ||
		    w->ncp != r->checkpoints || w->covered != r->covered ||
		    memcmp(root, r->root, DFI_HASH_LEN) != 0 || w->last_note_len != r->last_note_len ||
		    memcmp(w->last_note, r->last_note, r->last_note_len) != 0)
			FAIL("short reads or EINTR changed what the file walk found");
	}
	jindex_free(w->ix);
	free(w);
	close(fd);
}

/* The writer's open of journal bytes j (NULL: of what the last open left),
 * with plain reads or with the plan; *out receives the file afterwards. */
static dfi_err
writer_open(const uint8_t *j, size_t n, const struct plan *pl, uint8_t **out, size_t *outlen,
    int *failed)
{
	struct fio f;
	fio_init(&f, pl);
	if (j != NULL) {
		put_file(wpath, j, n);
		jt_rmrf(qdir); /* the writer makes it again */
	}
	struct dfi_journal_opts jo = { .station = "fuzz", .io = &f.io, .now = fixed_now };
	dfi_journal *jh = NULL;
	dfi_err e = dfi_journal_open(&jh, wdir, signer, &jo, NULL);
	if (e == DFI_OK)
		dfi_journal_close(jh);
	*failed = ts.gen == f.gen && ts.failed;
	*out = get_file(wpath, outlen);
	return e;
}

static void
check_writer(const uint8_t *j, size_t n, const struct plan *pl)
{
	uint8_t *a, *b;
	size_t an, bn;
	int fa, fb;
	dfi_err ea = writer_open(j, n, NULL, &a, &an, &fa);
	if (pl == NULL) {
		free(a);
		return;
	}
	dfi_err eb = writer_open(j, n, pl, &b, &bn, &fb);
	if (fb) {
		if (eb == DFI_OK)
			FAIL("the writer opened the journal although a read failed");
		/* nothing lost, nothing recorded twice: an open with working
		 * reads after the failed one ends where one open would have */
		free(b);
		eb = writer_open(NULL, 0, NULL, &b, &bn, &fb);
		if (eb != ea || an != bn || memcmp(a, b, an) != 0)
			FAIL("an open after a failed read did not end as one open would");
	} else if (ea != eb || an != bn || memcmp(a, b, an) != 0) {
		FAIL("short reads or EINTR changed the writer's open");
	}
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (signer == NULL)
		init();
	if (size < HDR)
		return -1;
	struct plan pl = {
		.shortreads = data[0] & 1,
		.eintr = (data[0] >> 1) & 1,
		.fail = (data[0] >> 2) & 1,
		.eintr_period = 2 + (data[0] >> 3),
		.cap = 1 + (size_t)data[1] * data[1],
		.fail_at = (uint32_t)data[2] | (uint32_t)data[3] << 8,
		.seed = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
		    (uint64_t)data[3] << 24 | (uint64_t)data[4] << 32 | (uint64_t)size << 40,
	};
	const uint8_t *j = data + HDR;
	size_t n = size - HDR;
	static uint8_t *big;  /* kept: no 2 MiB mmap/munmap per input under ASan */
	static size_t bigcap;
	size_t run = (size_t)data[4] * RUN_UNIT;
	if (run > 0) {
		size_t at = n * data[6] / 255;
		if (bigcap < n + run) {
			free(big);
			bigcap = n + run;
			if ((big = malloc(bigcap)) == NULL)
				abort();
		}
		memcpy(big, j, at);
		memset(big + at, data[5] == '\n' ? 'A' : data[5], run);
		memcpy(big + at + run, j + at, n - at);
		j = big;
		n += run;
	}
	put_file(vpath, j, n);

	struct dfi_jverify_opts o = { .pubkey = pub };
	struct dfi_jverify_result rb, rf;
	dfi_err eb = dfi_journal_verify_buf(j, n, &o, &rb);
	if (eb == DFI_OK && (rb.findings != 0 || rb.covered != rb.records || rb.last_note_len == 0))
		FAIL("verify_buf said OK on a journal not fully covered and signed");
	dfi_err ef = dfi_journal_verify_file(vdir, &o, &rf);
	if (ef != eb || !same_result(&rb, &rf))
		FAIL("verify_file and verify_buf disagree on the same bytes");

	check_proof(rb.records ? pl.fail_at % (rb.records + 1) : 0, eb, &rb);
	/* Without faults the file walk is verify_file's, done above: the
	 * machine is shared, spend the time on inputs instead. */
	int faults = pl.shortreads || pl.eintr || pl.fail;
	if (faults)
		check_faulty_walk(&pl, eb, &rb);
	check_writer(j, n, faults ? &pl : NULL);
	return 0;
}
