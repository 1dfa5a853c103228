/* Personalization benchmark: the reference profile (profiles/reference.json,
 * rows of reference-batch.csv used in turn) on in-process simulated cards
 * with keys in a SoftHSM2 dev token and a real journal on disk.
 *
 * Parts (--parts, comma-separated; default zero,datasheet,scale,tear):
 *   zero       one reader, the simulator answering at once: cards/s, host
 *              CPU per card, PKCS#11 calls, logins and sessions per card,
 *              APDUs per card against dfi_perso_min_apdus(), bytes
 *   datasheet  one reader, the simulator's datasheet timing model: wall time
 *              per card, the card's modeled time, the host's share
 *   scale      1, 2, 4, 8, 16 readers in parallel (threads, each with its own
 *              card, transport and dfi_perso, sharing one dfi_hsm and one
 *              dfi_journal), timing model on: cards/min and ratio to 1
 *   tear       the singles tear matrix (a tear at every APDU of a clean run,
 *              both modes, then one recovery tap): extra APDUs, card time
 *              and host time of the worst case against a clean card
 *   mem        16 readers, --mem-cards cards (default 1000), zero latency:
 *              peak RSS, RSS after card 100 and after the last card; the
 *              heap in use (mallinfo2) and, of it, what this binary's own
 *              code holds (heapcount.h), after card 100, after the last
 *              card and after every handle is closed (the leak check)
 *   pcsc       --pcsc PREFIX: every PC/SC reader whose name starts with
 *              PREFIX and holds a card, one thread each, one card each
 *
 * Output: one markdown table row per figure on stdout
 * ("| part | figure | value |"); progress on stderr. tools/bench.sh runs
 * every part and prints the table. Exit 1 when a card does not end done. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "desfire_sim.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/pcsc.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"
#include "dfissue/transport.h"
#include "heapcount.h"
#include "workers.h"

#define MAX_ROWS 64
#define MAX_READERS 64

struct env {
	char tmp[256];
	char token[320];
	const char *jbase;      /* journals go here */
	unsigned jserial;
	dfi_hsm *hsm;
	dfi_signer *signer;
	dfi_profile *profile;
	dfi_batch *batch;
	dfi_batch_row *rows[MAX_ROWS];
	size_t nrows;
	int verbose;
	const char *tag;        /* appended to the zero/datasheet part names */
	struct dfi_journal_io jio; /* POSIX, with fdatasync timed */
};

/* The journal's fdatasync, timed: the disk's time per card (one per batch
 * of records; the journal's own thread waits for it while the card works,
 * and a ChangeKey only waits for the batch of its intent). Process-wide
 * like the disk it measures. */
static atomic_uint_fast64_t fsync_ns, fsync_calls;
/* --fsync-delay-ms: added to every fdatasync, to see the engine on a disk
 * slower than this one (set once before any journal opens). */
static long fsync_delay_ms;
/* --start-at: the pcsc part's timed section begins at this wall-clock time
 * (seconds since the epoch), so that bench processes started one after the
 * other (two pcscd for 16 readers) run their cards at the same time. */
static double start_at;
/* --trace: the first timed card's APDUs on stderr (phase, CLA INS, model). */
static int trace_apdus;
/* --trace-tear N: also the case torn at APDU N (both modes), its APDUs. */
static unsigned trace_tear;

static const char *const phase_names[DFI_PERSO_NPHASES] = { "none", "state read",
	"plan execution", "verification", "recovery" };

static int
timed_fdatasync(void *ctx, int fd)
{
	const struct dfi_journal_io *posix = dfi_journal_io_posix();
	struct timespec a, b;
	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int r = posix->fdatasync(posix->ctx, fd);
	if (fsync_delay_ms > 0) {
		struct timespec d = { fsync_delay_ms / 1000, (fsync_delay_ms % 1000) * 1000000L };
		while (nanosleep(&d, &d) != 0 && errno == EINTR)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	atomic_fetch_add(&fsync_ns, (uint_fast64_t)((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec)));
	atomic_fetch_add(&fsync_calls, 1);
	return r;
}

static double
cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Current resident set in kB (VmRSS); ru_maxrss is only the peak. */
static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static long
peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

__attribute__((noreturn)) static void
die(const char *what, dfi_err e)
{
	fprintf(stderr, "bench_perso: %s: %s\n", what, dfi_strerror(e));
	exit(1);
}

__attribute__((format(printf, 3, 4))) static void
row(const char *part, const char *figure, const char *fmt, ...)
{
	char v[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	printf("| %s | %s | %s |\n", part, figure, v);
	fflush(stdout);
}

static int
run_cmd(const char *cmd)
{
	int r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* ---- environment ----------------------------------------------------------- */

static void
env_open(struct env *e, const char *hsm_dir, const char *jdir)
{
	char cmd[1400], conf[400], pin[400], path[600];
	struct dfi_diag diag;

	snprintf(e->tmp, sizeof(e->tmp), "/tmp/dfi-bench.XXXXXX");
	if (mkdtemp(e->tmp) == NULL)
		die("mkdtemp", DFI_E_IO);
	e->jbase = jdir != NULL ? jdir : e->tmp;
	if (hsm_dir == NULL) {
		snprintf(e->token, sizeof(e->token), "%s/token", e->tmp);
		snprintf(cmd, sizeof(cmd),
		    "'%s/hsm-config/make-dev-token.sh' '%s' '%s/bin/dfissue' >/dev/null </dev/null",
		    DFI_SOURCE_DIR, e->token, DFI_BUILD_DIR);
		if (run_cmd(cmd) != 0)
			die("make-dev-token.sh", DFI_E_IO);
	} else {
		snprintf(e->token, sizeof(e->token), "%s", hsm_dir);
	}
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", e->token);
	snprintf(pin, sizeof(pin), "%s/user.pin", e->token);
	setenv("SOFTHSM2_CONF", conf, 1);
	char detail[256] = "";
	struct dfi_hsm_config cfg = { .module = getenv("SOFTHSM2_MODULE"),
		.token_uri = "pkcs11:token=dfissue-dev", .pin_file = pin,
		.max_sessions = 32, .detail = detail, .detail_cap = sizeof(detail) };
	dfi_err r = dfi_hsm_open(&e->hsm, &cfg);
	if (r != DFI_OK) {
		fprintf(stderr, "bench_perso: %s\n", detail);
		die("dfi_hsm_open", r);
	}
	if ((r = dfi_hsm_signer_new(e->hsm, "pkcs11:object=journal;type=private", &e->signer)) != DFI_OK)
		die("journal signer", r);
	snprintf(path, sizeof(path), "%s/profiles/reference.json", DFI_SOURCE_DIR);
	if (dfi_profile_load(&e->profile, path, &diag) != DFI_OK) {
		fprintf(stderr, "bench_perso: %s\n", diag.message);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/profiles/reference-batch.csv", DFI_SOURCE_DIR);
	if (dfi_batch_open(&e->batch, path, &diag) != DFI_OK) {
		fprintf(stderr, "bench_perso: %s\n", diag.message);
		exit(1);
	}
	while (e->nrows < MAX_ROWS) {
		dfi_batch_row *rw;
		if (dfi_batch_next(e->batch, &rw, &diag) != DFI_OK) {
			fprintf(stderr, "bench_perso: %s\n", diag.message);
			exit(1);
		}
		if (rw == NULL)
			break;
		e->rows[e->nrows++] = rw;
	}
	if (e->nrows == 0)
		die("batch has no row", DFI_E_PROFILE);
}

static void
env_close(struct env *e)
{
	char cmd[400];
	for (size_t i = 0; i < e->nrows; i++)
		dfi_batch_row_free(e->rows[i]);
	dfi_batch_free(e->batch);
	dfi_profile_free(e->profile);
	dfi_signer_free(e->signer);
	dfi_hsm_free(e->hsm);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->tmp);
	if (run_cmd(cmd) != 0)
		fprintf(stderr, "bench_perso: could not remove %s\n", e->tmp);
}

static dfi_journal *
journal_new_at(struct env *e, const char *name, char *dir, size_t cap)
{
	struct dfi_journal_opts jo = { .station = "bench", .io = &e->jio };
	dfi_journal *j;
	dfi_err r;
	snprintf(dir, cap, "%s/journal-%s-%d-%u", e->jbase, name, (int)getpid(), e->jserial++);
	if ((r = dfi_journal_create(dir, "bench.example/perso", e->signer, &jo)) != DFI_OK)
		die("dfi_journal_create", r);
	if ((r = dfi_journal_open(&j, dir, e->signer, &jo, NULL)) != DFI_OK)
		die("dfi_journal_open", r);
	return j;
}

static dfi_journal *
journal_new(struct env *e, const char *name)
{
	char dir[700];
	return journal_new_at(e, name, dir, sizeof(dir));
}

/* Checkpoints (= signatures = fdatasyncs) in the journal file so far. */
static uint64_t
journal_checkpoints(const char *dir)
{
	char path[800];
	struct dfi_jverify_opts o = { 0 };
	struct dfi_jverify_result res;
	snprintf(path, sizeof(path), "%s/%s", dir, DFI_JOURNAL_FILE);
	if (dfi_journal_verify_file(path, &o, &res) != DFI_OK)
		die("journal verify", DFI_E_JOURNAL_CORRUPT);
	return res.checkpoints;
}

static void
progress(void *ctx, const char *ev)
{
	if (*(const int *)ctx)
		fprintf(stderr, "  perso: %s\n", ev);
}

static dfi_perso *
perso_new(struct env *e, dfi_journal *j)
{
	char detail[256] = "";
	dfi_perso *p;
	struct dfi_perso_config pc = { .hsm = e->hsm, .journal = j, .profile = e->profile,
		.station = "bench", .progress = progress, .progress_ctx = &e->verbose,
		.detail = detail, .detail_cap = sizeof(detail) };
	dfi_err r = dfi_perso_new(&p, &pc);
	if (r != DFI_OK) {
		fprintf(stderr, "bench_perso: dfi_perso_new: %s\n", detail);
		die("dfi_perso_new", r);
	}
	return p;
}

/* ---- one card ----------------------------------------------------------------- */

/* The transport the engine sees: the simulator's, wrapped to clock the
 * time spent inside the card (its modeled delay, the timer's overshoot and
 * the simulator's own work), so host time = wall - card time exactly. */
#define TRACE_MAX 512

/* One APDU as the wrapper saw it: the engine's phase tag, CLA/INS, the
 * timing model's charge. */
struct traced {
	uint8_t phase, cla, ins;
	int arg;      /* the command's first data byte (key or file number), -1 none */
	uint32_t us;
};

struct clocked {
	dfi_transport *inner;
	dfi_transport *outer;  /* the handle the engine tags (dfi_transport_set_phase) */
	dfi_sim *sim;
	double in_card;
	/* Per phase (enum dfi_perso_phase): APDUs and the model's time. */
	uint64_t ph_apdus[DFI_PERSO_NPHASES], ph_us[DFI_PERSO_NPHASES];
	struct traced tr[TRACE_MAX];
	size_t ntr;
};

static dfi_err
ck_transmit(void *ctx, const uint8_t *c, size_t cl, uint8_t *r, size_t rcap, size_t *rl)
{
	struct clocked *k = ctx;
	struct dfi_sim_stats s0, s1;
	unsigned ph = dfi_transport_phase(k->outer);
	if (ph >= DFI_PERSO_NPHASES)
		ph = DFI_PERSO_PHASE_NONE;
	dfi_sim_stats(k->sim, &s0);
	double t0 = now_s();
	dfi_err e = dfi_transport_transmit(k->inner, c, cl, r, rcap, rl);
	k->in_card += now_s() - t0;
	dfi_sim_stats(k->sim, &s1);
	k->ph_apdus[ph]++;
	k->ph_us[ph] += s1.modeled_us - s0.modeled_us;
	if (k->ntr < TRACE_MAX)
		k->tr[k->ntr++] = (struct traced){ (uint8_t)ph, c[0], c[1], cl > 5 ? c[5] : -1,
			(uint32_t)(s1.modeled_us - s0.modeled_us) };
	return e;
}

static dfi_err
ck_wait_card(void *ctx, int ms)
{
	return dfi_transport_wait_card(((struct clocked *)ctx)->inner, ms);
}

static dfi_err
ck_wait_removed(void *ctx, int ms)
{
	return dfi_transport_wait_removed(((struct clocked *)ctx)->inner, ms);
}

static const char *
ck_name(void *ctx)
{
	return dfi_transport_name(((struct clocked *)ctx)->inner);
}

static void
ck_destroy(void *ctx)
{
	free(ctx);
}

static const struct dfi_transport_ops clocked_ops = { .transmit = ck_transmit,
	.wait_card = ck_wait_card, .wait_removed = ck_wait_removed, .name = ck_name,
	.destroy = ck_destroy };

struct card {
	dfi_sim *sim;
	dfi_transport *inner;
	dfi_transport *t;      /* clocked, over inner */
	struct clocked *clk;   /* owned by t */
};

/* A factory card, memory only, with a UID unique to (part, id). */
static void
card_new(struct card *c, unsigned part, uint32_t id, enum dfi_sim_timing timing)
{
	struct dfi_sim_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.has_uid = true;
	cfg.uid[0] = 0x04;
	cfg.uid[1] = 0xBE;
	cfg.uid[2] = (uint8_t)part;
	cfg.uid[3] = (uint8_t)(id >> 24);
	cfg.uid[4] = (uint8_t)(id >> 16);
	cfg.uid[5] = (uint8_t)(id >> 8);
	cfg.uid[6] = (uint8_t)id;
	cfg.has_seed = true;
	cfg.seed = ((uint64_t)part << 32) | id;
	cfg.timing = timing;
	cfg.no_fsync = true;
	cfg.model = DFI_SIM_MODEL_EV2;
	dfi_err r = dfi_sim_new(&c->sim, &cfg);
	if (r != DFI_OK)
		die("dfi_sim_new", r);
	if ((r = dfi_sim_transport_new(c->sim, &c->inner)) != DFI_OK)
		die("dfi_sim_transport_new", r);
	if ((c->clk = calloc(1, sizeof(*c->clk))) == NULL)
		die("calloc", DFI_E_NOMEM);
	c->clk->inner = c->inner;
	c->clk->sim = c->sim;
	if ((r = dfi_transport_new(&c->t, &clocked_ops, c->clk)) != DFI_OK)
		die("dfi_transport_new", r);
	c->clk->outer = c->t;
}

static void
card_free(struct card *c)
{
	dfi_transport_free(c->t);
	dfi_transport_free(c->inner);
	dfi_sim_free(c->sim);
}

static int
finished(const struct dfi_perso_result *res)
{
	return res->outcome == DFI_PERSO_DONE || res->outcome == DFI_PERSO_RESUMED;
}

/* A tap on a card that is already on the reader. 0 when the card ended done
 * (or resumed); -1 otherwise (the reason on stderr). */
static int
tap(dfi_perso *p, struct card *c, const dfi_batch_row *rw, struct dfi_perso_result *res)
{
	dfi_err r = dfi_perso_card(p, c->t, rw, res);
	if (r != DFI_OK)
		die("dfi_perso_card", r);
	if (!finished(res)) {
		fprintf(stderr, "bench_perso: card ended %s: %s (%s)\n", dfi_perso_outcome_name(res->outcome),
		    dfi_strerror(res->err), res->detail);
		return -1;
	}
	return 0;
}

/* ---- zero latency and datasheet: one reader ------------------------------------- */

/* The profile's minimum sequence on this card (docs/PERSONALIZATION.md,
 * "APDU minimum formula"): the UID's GET DATA, the originality check's
 * Read_Sig, and the commands of the plan with the authentications they
 * need, i.e. the plan-execution phase of a factory card: nothing read and
 * nothing verified. The row prints its count beside dfi_perso_min_apdus()
 * (the formula counts an authentication before the CreateFiles of a new
 * application, which the engine does not need: a new application's key
 * settings let files be created freely). */
static int
in_minimum(const struct traced *t)
{
	return (t->cla == 0xFF && t->ins == 0xCA) || (t->cla == 0x90 && t->ins == 0x3C) ||
	    t->phase == DFI_PERSO_PHASE_EXEC;
}

static void
min_sequence(const struct traced *tr, size_t ntr, uint64_t *n, uint64_t *us)
{
	for (size_t i = 0; i < ntr; i++)
		if (in_minimum(&tr[i])) {
			(*n)++;
			*us += tr[i].us;
		}
}

static const char *
arg_hex(int arg, char buf[4])
{
	if (arg < 0)
		return "";
	snprintf(buf, 4, "%02X", (unsigned)arg & 0xFFu);
	return buf;
}

static void
print_trace(const struct clocked *k)
{
	char a[4];

	for (size_t i = 0; i < k->ntr; i++)
		fprintf(stderr, "  apdu %3zu  %-14s %02X %02X %-2s  %5u us\n", i + 1,
		    phase_names[k->tr[i].phase], k->tr[i].cla, k->tr[i].ins, arg_hex(k->tr[i].arg, a),
		    k->tr[i].us);
}

/* A DESFire command's name for the overhead rows (the commands a state
 * read or a verification sends); NULL for the others. */
static const char *
ins_name(uint8_t ins)
{
	static const struct { uint8_t ins; const char *name; } names[] = {
		{ 0x5A, "SelectApplication" }, { 0x60, "GetVersion" }, { 0x64, "GetKeyVersion" },
		{ 0x0A, "Authenticate (DES)" }, { 0x1A, "Authenticate (3K3DES)" },
		{ 0xAA, "AuthenticateAES" }, { 0x71, "AuthenticateEV2First" },
		{ 0x77, "AuthenticateEV2NonFirst" }, { 0x45, "GetKeySettings" },
		{ 0x6A, "GetApplicationIDs" }, { 0x6F, "GetFileIDs" }, { 0xF5, "GetFileSettings" },
		{ 0xBD, "ReadData" }, { 0xBB, "ReadRecords" }, { 0x6C, "GetValue" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].ins == ins)
			return names[i].name;
	return NULL;
}

/* What a factory card spends beyond its minimum sequence (min_sequence),
 * command by command: the APDUs of the state read and the verification
 * other than GET DATA and Read_Sig, a command's AF frames counted with it,
 * and what the goal (+10 % over the minimum, issue 19) leaves for them.
 * The model is deterministic, so one card shows every card's. */
static void
overhead_rows(const char *part, const struct traced *tr, size_t ntr)
{
	struct { uint8_t phase, ins; unsigned n, frames; uint64_t us; } g[32];
	size_t ng = 0;
	uint64_t min_n = 0, min_us = 0, over_us = 0, over_n = 0;
	uint8_t cur = 0;

	min_sequence(tr, ntr, &min_n, &min_us);
	for (size_t i = 0; i < ntr; i++) {
		const struct traced *t = &tr[i];
		int chained = t->cla == 0x90 && t->ins == 0xAF;
		if (!chained)
			cur = t->ins;
		if (in_minimum(t))
			continue;
		size_t j = 0;
		while (j < ng && !(g[j].phase == t->phase && g[j].ins == cur))
			j++;
		if (j == ng) {
			if (ng == sizeof(g) / sizeof(g[0]))
				continue;
			g[ng].phase = t->phase;
			g[ng].ins = cur;
			g[ng].n = g[ng].frames = 0;
			g[ng++].us = 0;
		}
		g[j].n += !chained;
		g[j].frames++;
		g[j].us += t->us;
		over_us += t->us;
		over_n++;
	}
	for (size_t j = 0; j < ng; j++) {
		char fig[96];
		const char *nm = ins_name(g[j].ins);
		snprintf(fig, sizeof(fig), "beyond the minimum: %s, %s", phase_names[g[j].phase],
		    nm != NULL ? nm : "other");
		row(part, fig, "%u x (INS %02X), %u APDUs, %.1f ms", g[j].n, g[j].ins, g[j].frames,
		    (double)g[j].us / 1e3);
	}
	row(part, "beyond the minimum: total (first card)", "%llu APDUs, %.1f ms; +10 %% of the "
	    "minimum (%.1f ms) leaves %.1f ms", (unsigned long long)over_n, (double)over_us / 1e3,
	    (double)min_us / 1e3, (double)min_us / 1e4);
}

static void
phase_rows(const char *part, const uint64_t *apdus, const uint64_t *us, double n)
{
	char v[256];
	size_t o = 0;
	for (int k = DFI_PERSO_PHASE_STATE; k < DFI_PERSO_NPHASES && o < sizeof(v); k++)
		o += (size_t)snprintf(v + o, sizeof(v) - o, "%s%s %.1f", o ? ", " : "",
		    phase_names[k], (double)apdus[k] / n);
	row(part, "APDUs per card by phase", "%s", v);
	o = 0;
	for (int k = DFI_PERSO_PHASE_STATE; k < DFI_PERSO_NPHASES && o < sizeof(v); k++)
		o += (size_t)snprintf(v + o, sizeof(v) - o, "%s%s %.0f ms", o ? ", " : "",
		    phase_names[k], (double)us[k] / 1e3 / n);
	row(part, "modeled card time per card by phase", "%s", v);
}

static int
part_single(struct env *e, const char *part, enum dfi_sim_timing timing, unsigned ncards)
{
	char jdir[700], pname[64];
	dfi_journal *j = journal_new_at(e, part, jdir, sizeof(jdir));
	dfi_perso *p = perso_new(e, j);
	struct dfi_hsm_stats h0, h1;
	uint64_t apdus = 0, bout = 0, bin = 0, modeled = 0, keych = 0;
	uint64_t ph_apdus[DFI_PERSO_NPHASES] = { 0 }, ph_us[DFI_PERSO_NPHASES] = { 0 };
	uint64_t min_us = 0, min_n = 0;
	struct traced first[TRACE_MAX];
	size_t nfirst = 0;
	double in_card = 0;
	int fails = 0;
	unsigned ptag = timing == DFI_SIM_TIMING_NONE ? 1 : 2;

	/* One card first, untimed: the perso handle's and the session pool's
	 * one-time work (key lookups, sessions) is not a per-card cost. */
	struct card c;
	struct dfi_perso_result res;
	card_new(&c, ptag, 0xFFFFFF, DFI_SIM_TIMING_NONE);
	fails += tap(p, &c, e->rows[0], &res) != 0;
	card_free(&c);

	uint64_t cp0 = journal_checkpoints(jdir);
	snprintf(pname, sizeof(pname), "%s%s", part, e->tag != NULL ? e->tag : "");
	part = pname;
	dfi_hsm_stats(e->hsm, &h0);
	uint64_t fs_ns0 = atomic_load(&fsync_ns), fs_n0 = atomic_load(&fsync_calls);
	double w0 = now_s(), c0 = cpu_s();
	for (unsigned i = 0; i < ncards; i++) {
		struct dfi_transport_stats ts;
		struct dfi_sim_stats ss;
		card_new(&c, ptag, i, timing);
		fails += tap(p, &c, e->rows[i % e->nrows], &res) != 0;
		dfi_transport_stats(c.t, &ts);
		dfi_sim_stats(c.sim, &ss);
		apdus += ts.apdus;
		bout += ts.bytes_out;
		bin += ts.bytes_in;
		modeled += ss.modeled_us;
		keych += res.key_changes;
		in_card += c.clk->in_card;
		for (int k = 0; k < DFI_PERSO_NPHASES; k++) {
			ph_apdus[k] += c.clk->ph_apdus[k];
			ph_us[k] += c.clk->ph_us[k];
		}
		min_sequence(c.clk->tr, c.clk->ntr, &min_n, &min_us);
		if (trace_apdus && i == 0)
			print_trace(c.clk);
		if (i == 0) {
			nfirst = c.clk->ntr;
			memcpy(first, c.clk->tr, nfirst * sizeof(first[0]));
		}
		card_free(&c);
	}
	double wall = now_s() - w0, cpu = cpu_s() - c0;
	dfi_hsm_stats(e->hsm, &h1);
	double n = ncards;
	double fs_s = (double)(atomic_load(&fsync_ns) - fs_ns0) / 1e9;
	double fs_n = (double)(atomic_load(&fsync_calls) - fs_n0);
	double cps = (double)(journal_checkpoints(jdir) - cp0) / n;
	if (timing == DFI_SIM_TIMING_NONE) {
		row(part, "cards", "%u (one reader, simulator at zero latency, SoftHSM2)", ncards);
		row(part, "cards/s", "%.1f", n / wall);
		row(part, "wall ms per card", "%.1f", wall * 1e3 / n);
		row(part, "host CPU ms per card (user+sys)", "%.1f", cpu * 1e3 / n);
		row(part, "PKCS#11 calls per card", "%.1f", (double)(h1.calls - h0.calls) / n);
		row(part, "C_Login per card", "%.2f (sessions opened per card %.2f)",
		    (double)(h1.logins - h0.logins) / n, (double)(h1.sessions - h0.sessions) / n);
		row(part, "APDUs per card", "%.1f", (double)apdus / n);
		row(part, "minimum APDUs (dfi_perso_min_apdus)", "%u", dfi_perso_min_apdus(e->profile));
		row(part, "ChangeKey per card", "%.1f", (double)keych / n);
		row(part, "journal appends per card (checkpoint signature + fdatasync each)", "%.1f", cps);
		row(part, "journal fdatasync per card", "%.2f ms (%.1f calls, %.2f ms each)",
		    fs_s * 1e3 / n, fs_n / n, fs_n > 0 ? fs_s * 1e3 / fs_n : 0.0);
		row(part, "bytes over the air per card", "%.0f (%.0f out, %.0f in)",
		    (double)(bout + bin) / n, (double)bout / n, (double)bin / n);
		row(part, "modeled card time per card (datasheet model, not slept)", "%.0f ms",
		    (double)modeled / 1e3 / n);
		phase_rows(part, ph_apdus, ph_us, n);
		row(part, "minimum sequence vs the engine, modeled card time per card",
		    "%.0f ms (%.0f APDUs: GET DATA, Read_Sig, the plan's commands) vs %.0f ms: %+.1f %%",
		    (double)min_us / 1e3 / n, (double)min_n / n, (double)modeled / 1e3 / n,
		    100.0 * ((double)modeled - (double)min_us) / (double)min_us);
		overhead_rows(part, first, nfirst);
	} else {
		double card_s = (double)modeled / 1e6;
		row(part, "cards", "%u (one reader, simulator timing model datasheet)", ncards);
		row(part, "wall ms per card", "%.0f", wall * 1e3 / n);
		row(part, "card (modeled) ms per card", "%.0f", card_s * 1e3 / n);
		row(part, "time inside the card's transmit per card", "%.0f ms (model + timer overshoot + simulator)",
		    in_card * 1e3 / n);
		row(part, "host share of wall time", "%.2f %% (host ms per card %.1f = wall - time inside the card; goal < 2 %%)",
		    100.0 * (wall - in_card) / wall, (wall - in_card) * 1e3 / n);
		row(part, "journal fdatasync per card (the journal's thread, overlapping the card's time)",
		    "%.1f ms (%.1f calls, %.2f ms each%s)", fs_s * 1e3 / n, fs_n / n,
		    fs_n > 0 ? fs_s * 1e3 / fs_n : 0.0,
		    fsync_delay_ms > 0 ? ", with the added delay" : "");
		row(part, "wall over modeled card time", "+%.2f %% (host + the simulator's timer overshoot)",
		    100.0 * (wall - card_s) / card_s);
		row(part, "host CPU share of wall time", "%.2f %% (user+sys / wall)", 100.0 * cpu / wall);
	}
	dfi_perso_free(p);
	dfi_journal_close(j);
	return fails;
}

/* ---- parallel readers (threads) ------------------------------------------------- */

struct shared {
	struct env *e;
	dfi_journal *j;
	enum dfi_sim_timing timing;
	unsigned part;
	unsigned total;
	atomic_int fails;
};

/* Card k of the run, on worker w's reader. */
static void
worker_card(void *arg, unsigned k)
{
	struct workers_reader *w = arg;
	struct shared *sh = w->run;
	struct card c;
	struct dfi_perso_result res;
	card_new(&c, sh->part, k, sh->timing);
	if (tap(w->p, &c, sh->e->rows[k % sh->e->nrows], &res) != 0)
		atomic_fetch_add(&sh->fails, 1);
	card_free(&c);
}

/* Runs total cards over nreaders threads; returns the wall time. */
static double
run_parallel(struct shared *sh, unsigned nreaders)
{
	struct workers_reader w[MAX_READERS];
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < nreaders; i++) {
		w[i].run = sh;
		w[i].p = perso_new(sh->e, sh->j);
	}
	double t0 = now_s();
	if (workers_jobs(nreaders, w, sizeof(w[0]), sh->total, worker_card) != 0)
		die("pthread_create", DFI_E_NOMEM);
	double wall = now_s() - t0;
	for (unsigned i = 0; i < nreaders; i++)
		dfi_perso_free(w[i].p);
	return wall;
}

static void
shared_init(struct shared *sh, struct env *e, dfi_journal *j, unsigned part, unsigned total,
    enum dfi_sim_timing timing)
{
	memset(sh, 0, sizeof(*sh));
	sh->e = e;
	sh->j = j;
	sh->part = part;
	sh->total = total;
	sh->timing = timing;
	atomic_init(&sh->fails, 0);
}

static int
part_scale(struct env *e, unsigned per_reader, const unsigned *readers, size_t nr)
{
	int fails = 0;
	double base = 0;
	dfi_journal *j = journal_new(e, "scale");
	for (size_t i = 0; i < nr; i++) {
		struct shared sh;
		unsigned n = readers[i];
		double cpu0 = cpu_s();
		shared_init(&sh, e, j, 16 + (unsigned)i, n * per_reader, DFI_SIM_TIMING_DATASHEET);
		double wall = run_parallel(&sh, n);
		double cpu = cpu_s() - cpu0;
		double cpm = 60.0 * sh.total / wall;
		if (i == 0)
			base = cpm;
		char fig[96];
		snprintf(fig, sizeof(fig), "%2u reader%s in-process, timing model", n, n == 1 ? "" : "s");
		row("scale", fig, "%.0f cards/min, x%.2f of %u reader (%u cards in %.1f s, host CPU %.0f %% of one core)",
		    cpm, base > 0 ? cpm / base : 0, readers[0], sh.total, wall, 100.0 * cpu / wall);
		fails += atomic_load(&sh.fails);
	}
	dfi_journal_close(j);
	return fails;
}

/* Memory at a quiet point: no card on a reader, no perso handle open; what
 * is left is what the process keeps across cards. */
struct memsample {
	long rss_kb;
	size_t heap;          /* the whole heap in use (mallinfo2) */
	struct heapcount own; /* this binary's own live heap (heapcount.h) */
};

static void
mem_sample(struct memsample *m)
{
	m->rss_kb = rss_kb();
	m->heap = mallinfo2().uordblks;
	heapcount_now(&m->own);
}

static int
part_mem(struct env *e, unsigned ncards, unsigned nreaders)
{
	struct shared sh;
	struct memsample m0, m1, m2;
	int fails = 0;
	/* Two runs over the same journal and HSM: cards 1..N, then N+1..last;
	 * growth is measured between the two quiet points, so cards in flight
	 * do not count. Counting starts before the journal opens, so that what
	 * is left once it is closed is a leak. */
	unsigned n1 = ncards >= 200 ? 100 : ncards / 2 > 0 ? ncards / 2 : 1;
	unsigned n2 = ncards > n1 ? ncards - n1 : 0;
	heapcount_start();
	dfi_journal *j = journal_new(e, "mem");
	mem_sample(&m0);
	shared_init(&sh, e, j, 40, n1, DFI_SIM_TIMING_NONE);
	double wall = run_parallel(&sh, nreaders);
	fails += atomic_load(&sh.fails);
	mem_sample(&m1);
	m2 = m1;
	if (n2 > 0) {
		shared_init(&sh, e, j, 41, n2, DFI_SIM_TIMING_NONE);
		wall += run_parallel(&sh, nreaders);
		fails += atomic_load(&sh.fails);
		mem_sample(&m2);
	}
	row("mem", "run", "%u readers, %u cards, zero latency, %.1f s (%.1f cards/s)", nreaders, ncards,
	    wall, ncards / wall);
	row("mem", "peak RSS (ru_maxrss)", "%.1f MB", (double)peak_rss_kb() / 1024.0);
	row("mem", "RSS before / after card N / after the last", "%.1f / %.1f (N=%u) / %.1f MB",
	    (double)m0.rss_kb / 1024.0, (double)m1.rss_kb / 1024.0, n1, (double)m2.rss_kb / 1024.0);
	if (n2 > 0) {
		row("mem", "RSS growth per card after card N", "%.0f bytes",
		    1024.0 * (double)(m2.rss_kb - m1.rss_kb) / n2);
		row("mem", "heap in use growth per card after card N (mallinfo2, every library)", "%.0f bytes",
		    ((double)m2.heap - (double)m1.heap) / n2);
		row("mem", "of it, dfissue's own heap growth per card (engine + simulator + bench)",
		    "%.0f bytes, %.2f blocks (%.1f kB live after card N, %.1f kB after the last)",
		    (double)(m2.own.bytes - m1.own.bytes) / n2,
		    ((double)m2.own.blocks - (double)m1.own.blocks) / n2,
		    (double)m1.own.bytes / 1024.0, (double)m2.own.bytes / 1024.0);
	}
	dfi_journal_close(j);
	struct heapcount left;
	heapcount_now(&left);
	heapcount_stop();
	row("mem", "leak check: dfissue's heap left after closing the journal and every handle",
	    "%" PRId64 " bytes in %" PRIu64 " blocks", left.bytes, left.blocks);
	return fails + (left.bytes != 0 || left.blocks != 0);
}

/* ---- tear recovery cost ---------------------------------------------------------------- */

struct tear_cost {
	uint64_t apdus, modeled_us;
	double wall;
};

/* One card: a tear at APDU n (0 = none) in mode m, then taps until done
 * (at most 3). 0 when the card ended done and the tear fired. */
static int
tear_case(struct env *e, dfi_perso *p, uint32_t id, unsigned n, enum dfi_sim_tear_mode m,
    struct tear_cost *out, int trace)
{
	struct card c;
	struct dfi_perso_result res;
	struct dfi_sim_stats ss;
	int ok = -1;
	card_new(&c, 60, id, DFI_SIM_TIMING_NONE);
	double t0 = now_s();
	if (n > 0) {
		dfi_sim_set_tear(c.sim, n, m);
		if (dfi_perso_card(p, c.t, e->rows[0], &res) != DFI_OK)
			die("dfi_perso_card", DFI_E_INVALID_ARG);
		dfi_sim_stats(c.sim, &ss);
		if (ss.tears != 1 || res.outcome != DFI_PERSO_FAILED) {
			fprintf(stderr, "bench_perso: tear at %u: tap ended %s\n", n,
			    dfi_perso_outcome_name(res.outcome));
			goto out;
		}
	}
	for (int tries = 0; tries < 3; tries++) {
		if (n > 0 || tries > 0) {
			dfi_transport_wait_removed(c.t, 0);
			if (dfi_transport_wait_card(c.t, 0) != DFI_OK)
				goto out;
		}
		if (dfi_perso_card(p, c.t, e->rows[0], &res) != DFI_OK)
			die("dfi_perso_card", DFI_E_INVALID_ARG);
		if (finished(&res)) {
			ok = tries == 0 ? 0 : 1; /* 1: needed more than one recovery tap */
			break;
		}
	}
out:
	out->wall = now_s() - t0;
	dfi_sim_stats(c.sim, &ss);
	out->apdus = ss.apdus;
	out->modeled_us = ss.modeled_us;
	if (trace)
		print_trace(c.clk);
	card_free(&c);
	return ok;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Of a sorted array. */
static double
median(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
part_tear(struct env *e, unsigned stride)
{
	dfi_journal *j = journal_new(e, "tear");
	dfi_perso *p = perso_new(e, j);
	struct tear_cost clean, tc, worst_a = { 0 }, worst_t = { 0 }, worst_w = { 0 };
	char at_a[64] = "", at_t[64] = "", at_w[64] = "";
	unsigned worst_n = 0;
	enum dfi_sim_tear_mode worst_m = DFI_SIM_TEAR_BEFORE;
	uint32_t id = 0;
	int fails = 0;
	unsigned cases = 0, extra_taps = 0;
	double sum_extra_apdus = 0, sum_extra_ms = 0;
	/* Per mode: every case's extra APDUs and card time, for the median. */
	double *xa_of[2], *xm_of[2];
	size_t nx[2] = { 0, 0 };

	/* Warm-up, then the clean reference (median of 5 wall times). */
	if (tear_case(e, p, id++, 0, DFI_SIM_TEAR_AFTER, &clean, 0) != 0)
		fails++;
	double walls[5];
	for (int i = 0; i < 5; i++) {
		if (tear_case(e, p, id++, 0, DFI_SIM_TEAR_AFTER, &clean, 0) != 0)
			fails++;
		walls[i] = clean.wall;
	}
	for (int a = 0; a < 5; a++)
		for (int b = a + 1; b < 5; b++)
			if (walls[b] < walls[a]) {
				double t = walls[a];
				walls[a] = walls[b];
				walls[b] = t;
			}
	clean.wall = walls[2];
	unsigned c = (unsigned)clean.apdus;
	for (int k = 0; k < 2; k++) {
		xa_of[k] = calloc(c + 1, sizeof(double));
		xm_of[k] = calloc(c + 1, sizeof(double));
		if (xa_of[k] == NULL || xm_of[k] == NULL)
			die("calloc", DFI_E_NOMEM);
	}
	for (int m = DFI_SIM_TEAR_BEFORE; m <= DFI_SIM_TEAR_AFTER; m++)
		for (unsigned n = 1; n <= c; n += stride) {
			const char *mn = m == DFI_SIM_TEAR_BEFORE ? "before" : "after";
			int r = tear_case(e, p, id++, n, (enum dfi_sim_tear_mode)m, &tc, 0);
			cases++;
			if (r < 0) {
				fails++;
				continue;
			}
			extra_taps += r > 0;
			double xa = (double)tc.apdus - (double)clean.apdus;
			double xm = ((double)tc.modeled_us - (double)clean.modeled_us) / 1e3;
			sum_extra_apdus += xa;
			sum_extra_ms += xm;
			int mi = m == DFI_SIM_TEAR_BEFORE ? 0 : 1;
			if (e->verbose) /* every case: where the extra APDUs are */
				fprintf(stderr, "tear at APDU %u, %s: %+.0f APDUs, %+.0f ms\n", n, mn,
				    xa, xm);
			xa_of[mi][nx[mi]] = xa;
			xm_of[mi][nx[mi]++] = xm;
			if (tc.apdus > worst_a.apdus) {
				worst_a = tc;
				worst_n = n;
				worst_m = (enum dfi_sim_tear_mode)m;
				snprintf(at_a, sizeof(at_a), "tear at APDU %u, %s", n, mn);
			}
			if (tc.modeled_us > worst_t.modeled_us) {
				worst_t = tc;
				snprintf(at_t, sizeof(at_t), "tear at APDU %u, %s", n, mn);
			}
			if (tc.wall > worst_w.wall) {
				worst_w = tc;
				snprintf(at_w, sizeof(at_w), "tear at APDU %u, %s", n, mn);
			}
		}
	row("tear", "clean card", "%u APDUs, %.0f ms card time (model), %.1f ms host (zero latency)", c,
	    (double)clean.modeled_us / 1e3, clean.wall * 1e3);
	row("tear", "cases", "%u (tear at every %sAPDU 1..%u, before and after), %d failed, %u needed a 2nd recovery tap",
	    cases, stride > 1 ? "k-th " : "", c, fails, extra_taps);
	if (cases > 0) {
		row("tear", "worst extra APDUs (torn tap + recovery tap vs clean)", "+%.0f (%s)",
		    (double)worst_a.apdus - (double)clean.apdus, at_a);
		row("tear", "worst extra card time (model)", "+%.0f ms (%s)",
		    ((double)worst_t.modeled_us - (double)clean.modeled_us) / 1e3, at_t);
		row("tear", "worst extra host time (zero latency)", "+%.1f ms (%s)",
		    (worst_w.wall - clean.wall) * 1e3, at_w);
		row("tear", "mean extra over the matrix", "+%.1f APDUs, +%.0f ms card time",
		    sum_extra_apdus / cases, sum_extra_ms / cases);
	}
	for (int k = 0; k < 2; k++) {
		char fig[64];
		if (nx[k] == 0)
			continue;
		qsort(xa_of[k], nx[k], sizeof(double), cmp_double);
		qsort(xm_of[k], nx[k], sizeof(double), cmp_double);
		/* Issue 19's goal for the worst case: at most +20 APDUs. */
		size_t over = 0;
		while (over < nx[k] && xa_of[k][nx[k] - 1 - over] > 20)
			over++;
		snprintf(fig, sizeof(fig), "extra by mode: %s", k == 0 ? "before" : "after");
		row("tear", fig, "worst +%.0f APDUs, +%.0f ms card time; median +%.0f APDUs, "
		    "+%.0f ms (%zu cases, %zu above +20 APDUs)", xa_of[k][nx[k] - 1], xm_of[k][nx[k] - 1],
		    median(xa_of[k], nx[k]), median(xm_of[k], nx[k]), nx[k], over);
	}
	/* --trace: the worst case again, its APDUs (torn tap, then the
	 * recovery tap) on stderr. */
	if (trace_apdus && worst_n > 0) {
		fprintf(stderr, "tear at APDU %u, %s, then the recovery tap:\n", worst_n,
		    worst_m == DFI_SIM_TEAR_BEFORE ? "before" : "after");
		fails += tear_case(e, p, id++, worst_n, worst_m, &tc, 1) < 0;
	}
	for (int m = DFI_SIM_TEAR_BEFORE; trace_tear > 0 && m <= DFI_SIM_TEAR_AFTER; m++) {
		fprintf(stderr, "tear at APDU %u, %s, then the recovery tap:\n", trace_tear,
		    m == DFI_SIM_TEAR_BEFORE ? "before" : "after");
		fails += tear_case(e, p, id++, trace_tear, (enum dfi_sim_tear_mode)m, &tc, 1) < 0;
	}
	for (int k = 0; k < 2; k++) {
		free(xa_of[k]);
		free(xm_of[k]);
	}
	dfi_perso_free(p);
	dfi_journal_close(j);
	return fails;
}

/* ---- through pcscd + vpcd ----------------------------------------------------------------- */

struct pworker {
	struct env *e;
	dfi_perso *p;
	char *reader;
	int ok;
	uint64_t apdus;
};

static void
pworker_run(void *arg)
{
	struct pworker *w = arg;
	dfi_transport *t;
	struct dfi_perso_result res;
	if (dfi_pcsc_transport_new(&t, w->reader) != DFI_OK)
		return;
	if (dfi_transport_wait_card(t, 10000) == DFI_OK && dfi_perso_card(w->p, t, w->e->rows[0], &res) == DFI_OK)
		w->ok = finished(&res);
	if (!w->ok)
		fprintf(stderr, "bench_perso: %s: %s: %s (%s)\n", w->reader, dfi_perso_outcome_name(res.outcome),
		    dfi_strerror(res.err), res.detail);
	struct dfi_transport_stats ts;
	dfi_transport_stats(t, &ts);
	w->apdus = ts.apdus;
	dfi_transport_free(t);
}

static int
part_pcsc(struct env *e, const char *prefix)
{
	struct dfi_pcsc_reader *rd;
	size_t n, k = 0;
	struct pworker w[MAX_READERS];
	dfi_err r = dfi_pcsc_list_readers(&rd, &n);
	if (r != DFI_OK)
		die("dfi_pcsc_list_readers", r);
	dfi_journal *j = journal_new(e, "pcsc");
	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < n && k < MAX_READERS; i++)
		if (strncmp(rd[i].name, prefix, strlen(prefix)) == 0 && rd[i].card_present) {
			w[k].e = e;
			w[k].reader = rd[i].name;
			w[k].p = perso_new(e, j);
			k++;
		}
	if (k == 0) {
		fprintf(stderr, "bench_perso: no reader named %s* with a card\n", prefix);
		dfi_pcsc_readers_free(rd, n);
		dfi_journal_close(j);
		return 1;
	}
	if (start_at > 0) {
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		double wait = start_at - ((double)rt.tv_sec + (double)rt.tv_nsec / 1e9);
		if (wait > 0) {
			struct timespec d = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
			while (nanosleep(&d, &d) != 0 && errno == EINTR)
				;
		} else {
			fprintf(stderr, "bench_perso: --start-at passed %.2f s ago: starting now\n", -wait);
		}
	}
	double t0 = now_s();
	if (workers_each((unsigned)k, w, sizeof(w[0]), pworker_run) != 0)
		die("pthread_create", DFI_E_NOMEM);
	double wall = now_s() - t0;
	int fails = 0;
	uint64_t apdus = 0;
	for (size_t i = 0; i < k; i++) {
		fails += !w[i].ok;
		apdus += w[i].apdus;
		dfi_perso_free(w[i].p);
	}
	char fig[64];
	snprintf(fig, sizeof(fig), "%2zu reader%s pcscd+vpcd", k, k == 1 ? "" : "s");
	/* Machine-readable for tools/bench.sh: readers, cards, seconds. */
	row("pcsc", fig, "%.0f cards/min (%zu cards in %.2f s, %.0f APDUs/card) [raw %zu %zu %.3f]",
	    60.0 * (double)k / wall, k, wall, (double)apdus / (double)k, k, k - (size_t)fails, wall);
	dfi_pcsc_readers_free(rd, n);
	dfi_journal_close(j);
	return fails;
}

/* ---- main ------------------------------------------------------------------------------ */

static int
has_part(const char *parts, const char *p)
{
	size_t l = strlen(p);
	for (const char *s = parts; (s = strstr(s, p)) != NULL; s += l)
		if ((s == parts || s[-1] == ',') && (s[l] == '\0' || s[l] == ','))
			return 1;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_perso [--parts LIST] [--cards N] [--datasheet-cards N] [--per-reader N]\n"
	    "                   [--readers 1,2,4,8,16] [--mem-cards N] [--mem-readers N]\n"
	    "                   [--tear-stride S] [--pcsc PREFIX] [--hsm-dir DIR] [--dir DIR] [--tag T] [-v]\n"
	    "                   [--fsync-delay-ms MS]  (added to every journal fdatasync: a slower disk)\n"
	    "                   [--start-at EPOCH]     (pcsc: begin the timed cards at this time)\n"
	    "                   [--trace]              (zero/datasheet: the first card's APDUs on stderr;\n"
	    "                                           tear: the worst case's)\n"
	    "                   [--trace-tear N]       (tear: also the cases torn at APDU N, their APDUs)\n"
	    "  parts: zero,datasheet,scale,tear,mem,pcsc (default zero,datasheet,scale,tear)\n");
}

int
main(int argc, char **argv)
{
	const char *parts = "zero,datasheet,scale,tear", *hsm_dir = NULL, *dir = NULL, *prefix = NULL;
	unsigned cards = 200, ds_cards = 5, per_reader = 3, mem_cards = 1000, mem_readers = 16, stride = 1;
	unsigned readers[16] = { 1, 2, 4, 8, 16 };
	size_t nr = 5;
	struct env e;
	static const struct option lo[] = { { "parts", required_argument, NULL, 'P' },
		{ "cards", required_argument, NULL, 'c' }, { "datasheet-cards", required_argument, NULL, 'd' },
		{ "per-reader", required_argument, NULL, 'r' }, { "readers", required_argument, NULL, 'R' },
		{ "mem-cards", required_argument, NULL, 'm' }, { "mem-readers", required_argument, NULL, 'M' },
		{ "tear-stride", required_argument, NULL, 's' }, { "pcsc", required_argument, NULL, 'p' },
		{ "hsm-dir", required_argument, NULL, 'H' }, { "dir", required_argument, NULL, 'D' },
		{ "tag", required_argument, NULL, 'T' },
		{ "fsync-delay-ms", required_argument, NULL, 'F' },
		{ "start-at", required_argument, NULL, 'S' },
		{ "trace", no_argument, NULL, 't' },
		{ "trace-tear", required_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int ch;

	memset(&e, 0, sizeof(e));
	e.jio = *dfi_journal_io_posix();
	e.jio.fdatasync = timed_fdatasync;
	while ((ch = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		switch (ch) {
		case 'P': parts = optarg; break;
		case 'c': cards = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': ds_cards = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': per_reader = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': mem_cards = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'M': mem_readers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': stride = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 'H': hsm_dir = optarg; break;
		case 'D': dir = optarg; break;
		case 'v': e.verbose = 1; break;
		case 'T': e.tag = optarg; break;
		case 'F': fsync_delay_ms = strtol(optarg, NULL, 10); break;
		case 'S': start_at = strtod(optarg, NULL); break;
		case 't': trace_apdus = 1; break;
		case 'X': trace_tear = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'R': {
			char *s = optarg, *end;
			nr = 0;
			while (*s != '\0' && nr < 16) {
				unsigned long v = strtoul(s, &end, 10);
				if (end == s || v == 0 || v > MAX_READERS) {
					fprintf(stderr, "bench_perso: --readers: numbers 1..%d separated by commas\n",
					    MAX_READERS);
					return 2;
				}
				readers[nr++] = (unsigned)v;
				s = *end == ',' ? end + 1 : end;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || fsync_delay_ms < 0 || fsync_delay_ms > 10000 || cards == 0 ||
	    ds_cards == 0 || per_reader == 0 || mem_cards == 0 || mem_readers == 0 ||
	    mem_readers > MAX_READERS || stride == 0 || nr == 0) {
		usage(stderr);
		return 2;
	}
	if (has_part(parts, "pcsc") && prefix == NULL) {
		fprintf(stderr, "bench_perso: part pcsc needs --pcsc PREFIX\n");
		return 2;
	}
	env_open(&e, hsm_dir, dir);
	int fails = 0;
	if (has_part(parts, "zero"))
		fails += part_single(&e, "zero", DFI_SIM_TIMING_NONE, cards);
	if (has_part(parts, "datasheet"))
		fails += part_single(&e, "datasheet", DFI_SIM_TIMING_DATASHEET, ds_cards);
	if (has_part(parts, "scale"))
		fails += part_scale(&e, per_reader, readers, nr);
	if (has_part(parts, "tear"))
		fails += part_tear(&e, stride);
	if (has_part(parts, "mem"))
		fails += part_mem(&e, mem_cards, mem_readers);
	if (has_part(parts, "pcsc"))
		fails += part_pcsc(&e, prefix);
	env_close(&e);
	if (fails > 0)
		fprintf(stderr, "bench_perso: %d card(s) did not end done\n", fails);
	return fails > 0 ? 1 : 0;
}
