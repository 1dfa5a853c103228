/*
 * bench_registry — many stations against one PostgreSQL registry (issue 13):
 * station processes, each with its own journal, its own copy of the dev
 * token (two hosts do not share an HSM) and R in-process simulated readers
 * with the simulator's datasheet timing, personalize factory cards through
 * one registry (a private cluster, tests/common/pgfix.h, fsync on).
 *
 * Prints (markdown rows, as bench_perso does):
 *   - cards/min of one station (--readers readers) and of --stations
 *     stations at once, and their ratio (the goal: >= 3.8 x for
 *     4 stations x 8 readers);
 *   - registry round trips per card (dfi_pgreg_get_stats / cards), those on
 *     the card's path and those of the witness thread (background);
 *   - p50 / p99 / max of the claim (dfi_pgreg_claim_times: the claim's
 *     round trip as the engine makes it, under the whole load).
 *
 * Each reader first personalizes one card untimed (a warm-up: the
 * registry's connections, the HSM's sessions), as a station that has been
 * running for a while; the figures are the timed cards after it.
 *
 *   bench_registry [--stations 4] [--readers 8] [--per-reader 3] [--hsm-dir DIR]
 *
 * The stations start their timed cards together (a byte on a pipe once
 * every process has opened its HSM, journal and registry); the run's wall
 * time is from that moment to the last station's last card.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/perso.h"
#include "dfissue/pgregistry.h"
#include "dfissue/profile.h"
#include "dfissue/registry.h"
#include "desfire_sim.h"
#include "clock.h"
#include "pgfix.h"
#include "workers.h"

#define MAX_STATIONS 16
#define MAX_READERS 16
#define MAX_ROWS 64

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_registry: %s: %s\n", what, why);
	exit(1);
}

static void
row(const char *fig, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
row(const char *fig, const char *fmt, ...)
{
	va_list ap;
	printf("| registry | %s | ", fig);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" |\n");
	fflush(stdout);
}

/* ---- one station process --------------------------------------------------------- */

struct station {
	int id, phase, readers, per_reader;
	const char *url, *tokdir, *dir;
	dfi_hsm *hsm;
	dfi_signer *signer;
	dfi_journal *j;
	dfi_pgreg *pg;
	dfi_jpubkey *pk;
	dfi_registry *reg;
	dfi_profile *profile;
	dfi_batch_row *rows[MAX_ROWS];
	size_t nrows;
	atomic_uint fails;
	unsigned total, base;  /* this round's cards, and the first card number */
};

/* The round's card k, on worker w's reader. */
static void
worker_card(void *arg, unsigned k)
{
	struct workers_reader *w = arg;
	struct station *st = w->run;
	k += st->base;
	struct dfi_sim_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.has_uid = true;
	/* distinct per (phase, station, card): no card is refused */
	uint8_t uid[7] = { 0x04, 0xB7, (uint8_t)st->phase, (uint8_t)st->id, 0, (uint8_t)(k >> 8), (uint8_t)k };
	memcpy(cfg.uid, uid, 7);
	cfg.has_seed = true;
	cfg.seed = ((uint64_t)st->phase << 40) | ((uint64_t)st->id << 32) | k;
	cfg.timing = DFI_SIM_TIMING_DATASHEET;
	cfg.no_fsync = true;
	cfg.model = DFI_SIM_MODEL_EV2;
	dfi_sim *sim = NULL;
	dfi_transport *t = NULL;
	if (dfi_sim_new(&sim, &cfg) != DFI_OK || dfi_sim_transport_new(sim, &t) != DFI_OK)
		die("simulator", "cannot create a card");
	struct dfi_perso_result res;
	dfi_err e = dfi_perso_card(w->p, t, st->rows[k % st->nrows], &res);
	if (e != DFI_OK || (res.outcome != DFI_PERSO_DONE && res.outcome != DFI_PERSO_RESUMED)) {
		fprintf(stderr, "bench_registry: station %d card %u: %s (%s)\n", st->id, k,
		    dfi_perso_outcome_name(res.outcome), res.detail);
		atomic_fetch_add(&st->fails, 1);
	}
	dfi_transport_free(t);
	dfi_sim_free(sim);
}

static void
station_open(struct station *st)
{
	char conf[700], pin[700], path[700], detail[256] = "", why[600];
	struct dfi_diag diag;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", st->tokdir);
	snprintf(pin, sizeof(pin), "%s/user.pin", st->tokdir);
	setenv("SOFTHSM2_CONF", conf, 1);
	struct dfi_hsm_config hc = { .module = getenv("SOFTHSM2_MODULE"), .token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = pin, .max_sessions = 32, .detail = detail, .detail_cap = sizeof(detail) };
	if (dfi_hsm_open(&st->hsm, &hc) != DFI_OK)
		die("HSM", detail);
	if (dfi_hsm_signer_new(st->hsm, "pkcs11:object=journal;type=private", &st->signer) != DFI_OK)
		die("journal key", "not found");
	char name[32], origin[64], jdir[700];
	snprintf(name, sizeof(name), "bench-%d", st->id);
	snprintf(origin, sizeof(origin), "bench.example/p%d/station-%d", st->phase, st->id);
	snprintf(jdir, sizeof(jdir), "%s/journal-p%d-s%d", st->dir, st->phase, st->id);
	struct dfi_journal_opts jo = { .station = name };
	if (dfi_journal_create(jdir, origin, st->signer, &jo) != DFI_OK ||
	    dfi_journal_open(&st->j, jdir, st->signer, &jo, NULL) != DFI_OK)
		die("journal", jdir);
	struct dfi_pgreg_opts po = { .station = name, .max_conns = (unsigned)st->readers };
	if (dfi_pgreg_open(&st->pg, st->url, &po, why, sizeof(why)) != DFI_OK)
		die("registry", why);
	if (dfi_jpubkey_from_signer(st->signer, &st->pk) != DFI_OK)
		die("journal key", "no public key");
	if (dfi_registry_new_pg(&st->reg, st->pg, st->j, jdir, st->pk, why, sizeof(why)) != DFI_OK)
		die("registry", why);
	snprintf(path, sizeof(path), "%s/profiles/reference.json", DFI_SOURCE_DIR);
	if (dfi_profile_load(&st->profile, path, &diag) != DFI_OK)
		die("profile", diag.message);
	dfi_batch *b = NULL;
	snprintf(path, sizeof(path), "%s/profiles/reference-batch.csv", DFI_SOURCE_DIR);
	if (dfi_batch_open(&b, path, &diag) != DFI_OK)
		die("batch", diag.message);
	dfi_batch_row *rw;
	while (st->nrows < MAX_ROWS && dfi_batch_next(b, &rw, &diag) == DFI_OK && rw != NULL)
		st->rows[st->nrows++] = rw;
	dfi_batch_free(b);
	if (st->nrows == 0)
		die("batch", "no row");
}

static void
run_round(struct station *st, struct workers_reader *w)
{
	if (workers_jobs((unsigned)st->readers, w, sizeof(w[0]), st->total, worker_card) != 0)
		die("thread", "cannot start");
}

/* A station process: opens everything, says ready (one byte on rfd), waits
 * for go (one byte on gfd), runs its cards, writes its figures to out. */
static int
station_main(struct station *st, int rfd, int gfd, const char *out)
{
	station_open(st);
	struct workers_reader w[MAX_READERS];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < st->readers; i++) {
		char detail[256] = "", name[32];
		snprintf(name, sizeof(name), "bench-%d", st->id);
		struct dfi_perso_config pc = { .hsm = st->hsm, .journal = st->j, .profile = st->profile, .station = name,
			.detail = detail, .detail_cap = sizeof(detail), .registry = st->reg };
		w[i].run = st;
		if (dfi_perso_new(&w[i].p, &pc) != DFI_OK)
			die("perso", detail);
	}
	/* Warm-up, untimed: one card per reader (the registry's connections,
	 * the HSM's sessions, the journal's first checkpoints), as a station
	 * that has been running for a while. */
	st->total = (unsigned)st->readers;
	st->base = 0x8000;
	run_round(st, w);
	uint32_t us[4096];
	size_t warm = dfi_pgreg_claim_times(st->pg, us, 4096);
	struct dfi_pgreg_stats s0, s1;
	dfi_pgreg_get_stats(st->pg, &s0);
	char b = 'r';
	if (write(rfd, &b, 1) != 1 || read(gfd, &b, 1) != 1)
		die("start", "the parent went away");
	st->total = (unsigned)(st->readers * st->per_reader);
	st->base = 0;
	double t0 = now_s();
	run_round(st, w);
	double t1 = now_s();
	dfi_pgreg_get_stats(st->pg, &s1);
	FILE *f = fopen(out, "w");
	if (f == NULL)
		die("results", out);
	fprintf(f, "%u %u %.6f %.6f %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", st->total, atomic_load(&st->fails), t0, t1,
	    s1.calls - s0.calls, s1.failures - s0.failures, s1.background - s0.background);
	/* the timed claims: those after the warm-up's */
	size_t n = dfi_pgreg_claim_times(st->pg, us, 4096);
	for (size_t i = warm; i < n; i++)
		fprintf(f, "%u\n", us[i]);
	fclose(f);
	for (int i = 0; i < st->readers; i++)
		dfi_perso_free(w[i].p);
	dfi_registry_free(st->reg);
	dfi_jpubkey_free(st->pk);
	dfi_pgreg_free(st->pg);
	dfi_journal_close(st->j);
	dfi_signer_free(st->signer);
	dfi_hsm_free(st->hsm);
	for (size_t i = 0; i < st->nrows; i++)
		dfi_batch_row_free(st->rows[i]);
	dfi_profile_free(st->profile);
	return atomic_load(&st->fails) == 0 ? 0 : 1;
}

/* ---- the parent --------------------------------------------------------------------- */

struct phase_result {
	unsigned cards, fails;
	double wall;
	double cpu;            /* the station processes' CPU seconds, warm-up included */
	double loadavg;        /* the machine's 1-minute load when the phase ended */
	uint64_t calls, failures, background;
	uint32_t *us;
	size_t nus;
};

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
run_phase(int phase, int nst, int readers, int per_reader, const char *url, const char *tmp, struct phase_result *pr)
{
	int rp[2], gp[2];
	pid_t pids[MAX_STATIONS];
	memset(pr, 0, sizeof(*pr));
	if (pipe(rp) != 0 || pipe(gp) != 0)
		die("pipe", "cannot create");
	for (int i = 0; i < nst; i++) {
		char tok[600], out[700];
		snprintf(tok, sizeof(tok), "%s/tok-%d", tmp, i);
		snprintf(out, sizeof(out), "%s/res-p%d-s%d", tmp, phase, i);
		/* one second apart: SoftHSM2 may miss its token when two processes
		 * load it at the same instant (tools/bench.sh does the same) */
		if (i > 0)
			sleep(1);
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork", "failed");
		if (pids[i] == 0) {
			close(rp[0]);
			close(gp[1]);
			struct station st;
			memset(&st, 0, sizeof(st));
			st.id = i;
			st.phase = phase;
			st.readers = readers;
			st.per_reader = per_reader;
			st.url = url;
			st.tokdir = tok;
			st.dir = tmp;
			_exit(station_main(&st, rp[1], gp[0], out));
		}
	}
	close(rp[1]);
	close(gp[0]);
	for (int i = 0; i < nst; i++) {
		char b;
		if (read(rp[0], &b, 1) != 1)
			die("station", "died before it was ready (see above)");
	}
	char go[MAX_STATIONS];
	memset(go, 'g', sizeof(go));
	if (nst < 1 || nst > MAX_STATIONS || write(gp[1], go, (size_t)nst) != (ssize_t)nst)
		die("start", "cannot signal the stations");
	close(gp[1]);
	close(rp[0]);
	double t0 = 1e300, t1 = 0;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_CHILDREN, &ru0);
	for (int i = 0; i < nst; i++) {
		int stt;
		waitpid(pids[i], &stt, 0);
		char out[700];
		snprintf(out, sizeof(out), "%s/res-p%d-s%d", tmp, phase, i);
		FILE *f = fopen(out, "r");
		unsigned c, fl;
		double a, b;
		uint64_t calls, fails, bg;
		if (f == NULL ||
		    fscanf(f, "%u %u %lf %lf %" SCNu64 " %" SCNu64 " %" SCNu64, &c, &fl, &a, &b, &calls, &fails, &bg) != 7)
			die("station", "no results (see above)");
		pr->cards += c;
		pr->fails += fl + (WIFEXITED(stt) && WEXITSTATUS(stt) == 0 ? 0 : 1);
		pr->calls += calls;
		pr->failures += fails;
		pr->background += bg;
		t0 = a < t0 ? a : t0;
		t1 = b > t1 ? b : t1;
		unsigned v;
		while (fscanf(f, "%u", &v) == 1) {
			uint32_t *p = realloc(pr->us, (pr->nus + 1) * sizeof(*p));
			if (p == NULL)
				die("memory", "out of it");
			pr->us = p;
			pr->us[pr->nus++] = v;
		}
		fclose(f);
	}
	pr->wall = t1 - t0;
	getrusage(RUSAGE_CHILDREN, &ru1);
	pr->cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	FILE *la = fopen("/proc/loadavg", "r");
	if (la == NULL || fscanf(la, "%lf", &pr->loadavg) != 1)
		pr->loadavg = -1;
	if (la != NULL)
		fclose(la);
	qsort(pr->us, pr->nus, sizeof(*pr->us), cmp_u32);
}

static double
pct(const struct phase_result *pr, double q)
{
	if (pr->nus == 0)
		return 0;
	size_t i = (size_t)(q * (double)(pr->nus - 1) + 0.5);
	return pr->us[i] / 1000.0;
}

static void
report(const char *what, int nst, int readers, const struct phase_result *pr, double base_cpm)
{
	char fig[128];
	double cpm = 60.0 * pr->cards / pr->wall;
	snprintf(fig, sizeof(fig), "%s: %d station%s x %d readers, timing model", what, nst, nst == 1 ? "" : "s", readers);
	if (base_cpm > 0)
		row(fig, "%.0f cards/min, x%.2f of one station (%u cards in %.1f s)", cpm, cpm / base_cpm, pr->cards,
		    pr->wall);
	else
		row(fig, "%.0f cards/min (%u cards in %.1f s)", cpm, pr->cards, pr->wall);
	row("  registry round trips per card", "%.1f (%" PRIu64 " round trips, %" PRIu64 " failed): %.1f on the card's "
	    "path, %.1f in the background (witnessing, releases)", (double)pr->calls / pr->cards, pr->calls, pr->failures,
	    (double)(pr->calls - pr->background) / pr->cards, (double)pr->background / pr->cards);
	row("  claim time p50 / p99 / max", "%.2f / %.2f / %.2f ms (%zu claims)", pct(pr, 0.50), pct(pr, 0.99),
	    pr->nus ? pr->us[pr->nus - 1] / 1000.0 : 0.0, pr->nus);
	row("  station processes' CPU, machine load", "%.1f s of CPU for %u timed + %d warm-up cards (%.0f ms per "
	    "card, PostgreSQL's own not counted); load average %.2f on %ld CPU(s) at the end",
	    pr->cpu, pr->cards, nst * readers, 1000.0 * pr->cpu / (pr->cards + (unsigned)(nst * readers)), pr->loadavg,
	    sysconf(_SC_NPROCESSORS_ONLN));
}

int
main(int argc, char **argv)
{
	int nst = 4, readers = 8, per_reader = 3;
	const char *hsm_dir = NULL;
	static const struct option lo[] = { { "stations", required_argument, NULL, 's' },
		{ "readers", required_argument, NULL, 'r' }, { "per-reader", required_argument, NULL, 'n' },
		{ "hsm-dir", required_argument, NULL, 'H' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': nst = atoi(optarg); break;
		case 'r': readers = atoi(optarg); break;
		case 'n': per_reader = atoi(optarg); break;
		case 'H': hsm_dir = optarg; break;
		case 'h':
			printf("usage: bench_registry [--stations N] [--readers R] [--per-reader K] [--hsm-dir DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (nst < 1 || nst > MAX_STATIONS || readers < 1 || readers > MAX_READERS || per_reader < 1 || per_reader > 1000) {
		fprintf(stderr, "bench_registry: 1..%d stations, 1..%d readers, 1..1000 cards per reader\n", MAX_STATIONS,
		    MAX_READERS);
		return 2;
	}
	char tmp[] = "/tmp/dfi-bench-reg.XXXXXX", cmd[2400];
	if (mkdtemp(tmp) == NULL)
		die("mkdtemp", "failed");
	char tok0[600];
	if (hsm_dir != NULL) {
		snprintf(tok0, sizeof(tok0), "%s", hsm_dir);
	} else {
		snprintf(tok0, sizeof(tok0), "%s/token", tmp);
		snprintf(cmd, sizeof(cmd), "'%s/hsm-config/make-dev-token.sh' '%s' '%s/bin/dfissue' >/dev/null </dev/null",
		    DFI_SOURCE_DIR, tok0, DFI_BUILD_DIR);
		if (system(cmd) != 0)
			die("make-dev-token.sh", "failed");
	}
	/* each station its own copy of the token (its own HSM, same keys) */
	for (int i = 0; i < nst; i++) {
		snprintf(cmd, sizeof(cmd),
		    "cp -a '%s/tokens' '%s/tok-%d-tokens' && mkdir -p '%s/tok-%d' && cp '%s/user.pin' '%s/tok-%d/' && "
		    "sed 's|^directories.tokendir = .*|directories.tokendir = %s/tok-%d-tokens|' '%s/softhsm2.conf' "
		    ">'%s/tok-%d/softhsm2.conf'",
		    tok0, tmp, i, tmp, i, tok0, tmp, i, tmp, i, tok0, tmp, i);
		if (system(cmd) != 0)
			die("token copy", cmd);
	}
	struct dfi_pg pg;
	if (dfi_pg_setup(&pg, NULL) != 0)
		die("PostgreSQL", "the private cluster did not start");
	setenv("PGPASSFILE", pg.passfile, 1);
	char why[600];
	dfi_pgreg *r = NULL;
	struct dfi_pgreg_opts io = { .station = "init", .skip_schema_check = 1 };
	if (dfi_pgreg_open(&r, pg.url, &io, why, sizeof(why)) != DFI_OK ||
	    dfi_pgreg_migrate(r, 0, NULL, NULL, why, sizeof(why)) != DFI_OK)
		die("registry init", why);
	dfi_pgreg_free(r);

	printf("| part | figure | value |\n|---|---|---|\n");
	row("setup", "a private PostgreSQL cluster (%s) on a Unix socket, fsync on; %d card(s) per reader, reference "
		     "profile, simulator datasheet timing, each station its own journal and token copy; one untimed warm-up "
		     "card per reader", pg.bindir,
	    per_reader);
	struct phase_result one, many;
	run_phase(1, 1, readers, per_reader, pg.url, tmp, &one);
	double base = 60.0 * one.cards / one.wall;
	report("one station", 1, readers, &one, 0);
	run_phase(2, nst, readers, per_reader, pg.url, tmp, &many);
	report("stations at once", nst, readers, &many, base);
	dfi_pg_teardown(&pg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_registry: could not remove %s\n", tmp);
	int bad = one.fails + many.fails;
	free(one.us);
	free(many.us);
	if (bad)
		fprintf(stderr, "bench_registry: %d card(s) or station(s) failed\n", bad);
	return bad ? 1 : 0;
}
