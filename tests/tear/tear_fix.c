/* The tear tests' fixture (tear_fix.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "card_check.h"
#include "dfissue/util.h"
#include "tear_fix.h"

#define ORIGIN "dfissue.test/tear"


/* ---- guard transport ---------------------------------------------------- */

struct tear_guard {
	dfi_transport *inner;
	const char *jfile;      /* the current station's journal.log */
	struct tear_jtrack *track; /* its I/O, NULL when not tracked */
	struct tear_env *env;
	uint8_t uid[DFI_SIM_UID_LEN];
	int64_t aid;            /* selected application, -1 unknown */
	uint64_t apdus;
	uint64_t kill_at;       /* 0: off; counted from arming */
	uint64_t kill_base;
	int kill_after;
	unsigned violations, change_keys;
	uint64_t ck_at[32];     /* APDU numbers of the first ChangeKeys */
	char first[320];
};

static void
violation(struct tear_guard *g, const char *fmt, ...)
{
	va_list ap;
	if (g->violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(g->first, sizeof(g->first), fmt, ap);
		va_end(ap);
	}
}

struct intent_find {
	const struct tear_guard *g;
	uint32_t aid;
	uint8_t keyno;
	const char *what;  /* a change record's what=; NULL: a key intent */
	int found;
	uint64_t seq;
	char finding[200];
};

static void
on_unresolved(void *ctx, const dfi_jrec *in)
{
	struct intent_find *f = ctx;
	int kind = f->what != NULL ? in->type == DFI_JREC_CHANGE && strcmp(in->what, f->what) == 0 :
	    in->type == DFI_JREC_INTENT && in->key.keyno == f->keyno;
	if (kind && in->key.uid_len == DFI_SIM_UID_LEN &&
	    memcmp(in->key.uid, f->g->uid, DFI_SIM_UID_LEN) == 0 && in->key.aid == f->aid) {
		f->found = 1;
		f->seq = in->seq;
	}
}

/* Keeps a verify's first finding in out (cap bytes): the first names the
 * cause, later ones mostly follow from it. */
static void
keep_first_finding(char *out, size_t cap, uint64_t line, dfi_err code, const char *msg)
{
	if (out[0] == '\0')
		snprintf(out, cap, "line %llu: %s: %s", (unsigned long long)line, dfi_strerror(code), msg);
}

static void
on_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct intent_find *f = ctx;
	keep_first_finding(f->finding, sizeof(f->finding), line, code, msg);
}

/* The first limit bytes of a file (all of it when shorter). */
static uint8_t *
read_prefix(const char *path, uint64_t limit, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 65536;
			uint8_t *q = realloc(buf, nc);
			if (q == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = q;
			cap = nc;
		}
		size_t want = cap - n;
		if ((uint64_t)n + want > limit)
			want = (size_t)(limit - n);
		if (want == 0)
			break;
		size_t got = fread(buf + n, 1, want, f);
		n += got;
		if (got < want)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* The two-phase rule, checked on the journal file as it is durable on disk
 * when the command (cmd: "ChangeKey", ...) is about to leave: an open
 * intent of key keyno of application aid (what NULL), or an open change
 * record of that what (the LRP switch), covered by a checkpoint. */
static void
check_durable(struct tear_guard *g, const char *cmd, uint32_t aid, uint8_t keyno, const char *what)
{
	if (g->jfile == NULL) {
		violation(g, "%s with no journal attached", cmd);
		return;
	}
	/* What is durable: the journal file up to its last completed sync, and
	 * no other journal file (quarantine, temporary) written unsynced. */
	uint64_t limit = UINT64_MAX;
	unsigned other_dirty = 0;
	if (g->track != NULL) {
		struct tear_jtrack *t = g->track;
		pthread_mutex_lock(&t->mu);
		other_dirty = t->ndirty;
		if (t->log_fd >= 0)
			limit = t->log_synced;
		pthread_mutex_unlock(&t->mu);
	}
	if (other_dirty != 0) {
		violation(g, "%s aid %06X key %u while the journal has writes not yet synced", cmd,
		    (unsigned)aid, keyno);
		return;
	}
	struct intent_find f;
	memset(&f, 0, sizeof(f));
	f.g = g;
	f.aid = aid;
	f.keyno = keyno;
	f.what = what;
	struct dfi_jverify_opts o;
	memset(&o, 0, sizeof(o));
	/* Structure, tree and coverage here; every signature is verified by
	 * tear_check() at the end of the case (a verify per ChangeKey would
	 * dominate the matrix's time). */
	o.pubkey = NULL;
	o.finding = on_finding;
	o.unresolved = on_unresolved;
	o.ctx = &f;
	struct dfi_jverify_result res;
	size_t len = 0;
	uint8_t *buf = read_prefix(g->jfile, limit, &len);
	dfi_err r = buf == NULL ? DFI_E_IO : dfi_journal_verify_buf(buf, len, &o, &res);
	free(buf);
	if (r != DFI_OK)
		violation(g, "%s aid %06X key %u: journal does not verify: %s (%s)", cmd,
		    (unsigned)f.aid, f.keyno, dfi_strerror(r), f.finding);
	else if (!f.found)
		violation(g, "%s aid %06X key %u sent without an open intent", cmd,
		    (unsigned)f.aid, f.keyno);
	else if (f.seq >= res.covered)
		violation(g, "%s aid %06X key %u: intent %llu not covered by a checkpoint", cmd,
		    (unsigned)f.aid, f.keyno, (unsigned long long)f.seq);
}

static void
check_change_key(struct tear_guard *g, const uint8_t *capdu, size_t clen)
{
	if (g->change_keys < 32)
		g->ck_at[g->change_keys] = g->apdus;
	g->change_keys++;
	if (clen < 6) {
		violation(g, "ChangeKey without a key number");
		return;
	}
	if (g->aid < 0) {
		violation(g, "ChangeKey while the selected application is unknown");
		return;
	}
	check_durable(g, "ChangeKey", (uint32_t)g->aid, capdu[5] & 0x0F, NULL);
}

static dfi_err
guard_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	struct tear_guard *g = ctx;
	g->apdus++;
	int killing = g->kill_at != 0 && g->apdus - g->kill_base == g->kill_at;
	if (killing && !g->kill_after)
		raise(SIGKILL);
	int native = clen >= 5 && capdu[0] == 0x90;
	if (native && (capdu[1] == 0xC4 || capdu[1] == 0xC6))
		check_change_key(g, capdu, clen);
	/* SetConfiguration option 05 (the LRP switch, irreversible): only with
	 * its change record durable (issue 20). */
	if (native && capdu[1] == 0x5C && clen >= 6 && capdu[4] >= 1 && capdu[5] == 0x05)
		check_durable(g, "SetConfiguration 05 (LRP switch)", 0, 0, "lrp");
	dfi_err r = dfi_transport_transmit(g->inner, capdu, clen, rapdu, rcap, rlen);
	if (getenv("TEAR_VERBOSE") != NULL && getenv("TEAR_APDUS") != NULL) {
		char hc[2 * DFI_APDU_MAX + 1] = "", hr[2 * DFI_APDU_MAX + 1] = "";
		dfi_hex_encode(capdu, clen, hc, sizeof(hc));
		if (r == DFI_OK)
			dfi_hex_encode(rapdu, *rlen, hr, sizeof(hr));
		fprintf(stderr, "  apdu %llu > %s\n  apdu %llu < %s %s\n", (unsigned long long)g->apdus,
		    hc, (unsigned long long)g->apdus, hr, r == DFI_OK ? "" : dfi_strerror(r));
	}
	if (killing)
		raise(SIGKILL);
	if (native && capdu[1] == 0x5A) {
		if (r == DFI_OK && *rlen == 2 && rapdu[0] == 0x91 && rapdu[1] == 0x00 && clen >= 8)
			g->aid = (int64_t)capdu[5] | (int64_t)capdu[6] << 8 | (int64_t)capdu[7] << 16;
		else
			g->aid = -1;
	}
	return r;
}

static dfi_err
guard_wait_card(void *ctx, int timeout_ms)
{
	struct tear_guard *g = ctx;
	g->aid = 0; /* a card coming into the field is at the PICC level */
	return dfi_transport_wait_card(g->inner, timeout_ms);
}

static dfi_err
guard_wait_removed(void *ctx, int timeout_ms)
{
	struct tear_guard *g = ctx;
	return dfi_transport_wait_removed(g->inner, timeout_ms);
}

static const char *
guard_name(void *ctx)
{
	struct tear_guard *g = ctx;
	return dfi_transport_name(g->inner);
}

static void
guard_destroy(void *ctx)
{
	struct tear_guard *g = ctx;
	dfi_transport_free(g->inner);
	free(g);
}

static const struct dfi_transport_ops guard_ops = {
	guard_transmit, guard_wait_card, guard_wait_removed, guard_name, guard_destroy,
};

unsigned
tear_guard_violations(const struct tear_card *c, char *first, size_t cap)
{
	if (first != NULL && cap > 0)
		snprintf(first, cap, "%s", c->g->first);
	return c->g->violations;
}

uint64_t
tear_guard_apdus(const struct tear_card *c)
{
	return c->g->apdus;
}

unsigned
tear_guard_change_keys(const struct tear_card *c)
{
	return c->g->change_keys;
}

uint64_t
tear_guard_change_key_at(const struct tear_card *c, unsigned i)
{
	return i < 32 && i < c->g->change_keys ? c->g->ck_at[i] : 0;
}

void
tear_guard_kill_at(struct tear_card *c, uint64_t k, int after)
{
	c->g->kill_at = k;
	c->g->kill_base = c->g->apdus;
	c->g->kill_after = after;
}

/* ---- journal I/O tracking ------------------------------------------------ */

static const struct dfi_journal_io *
px(void *c)
{
	return ((struct tear_jtrack *)c)->posix;
}

/* Caller holds t->mu. */
static void
undirty(struct tear_jtrack *t, int fd)
{
	for (unsigned i = 0; i < t->ndirty; i++)
		if (t->dirty[i] == fd) {
			t->dirty[i] = t->dirty[--t->ndirty];
			return;
		}
}

static int
t_open(void *c, const char *p, int f, mode_t m)
{
	return px(c)->open(px(c)->ctx, p, f, m);
}
static int
t_openat(void *c, int d, const char *p, int f, mode_t m)
{
	struct tear_jtrack *t = c;
	int fd = px(c)->openat(px(c)->ctx, d, p, f, m);
	struct stat st;
	if (fd >= 0 && strcmp(p, DFI_JOURNAL_FILE) == 0 && fstat(fd, &st) == 0) {
		/* What is there at open was written and synced before. */
		pthread_mutex_lock(&t->mu);
		t->log_fd = fd;
		t->log_written = t->log_synced = (uint64_t)st.st_size;
		pthread_mutex_unlock(&t->mu);
	}
	return fd;
}
static ssize_t
t_pwrite(void *c, int fd, const void *b, size_t n, off_t o)
{
	struct tear_jtrack *t = c;
	ssize_t w = px(c)->pwrite(px(c)->ctx, fd, b, n, o);
	pthread_mutex_lock(&t->mu);
	t->writes++;
	if (fd == t->log_fd) {
		if (w > 0 && (uint64_t)o + (uint64_t)w > t->log_written)
			t->log_written = (uint64_t)o + (uint64_t)w;
	} else {
		unsigned i;
		for (i = 0; i < t->ndirty && t->dirty[i] != fd; i++)
			;
		if (i == t->ndirty && t->ndirty < 8)
			t->dirty[t->ndirty++] = fd;
	}
	pthread_mutex_unlock(&t->mu);
	return w;
}
static ssize_t
t_pread(void *c, int fd, void *b, size_t n, off_t o)
{
	return px(c)->pread(px(c)->ctx, fd, b, n, o);
}
/* A completed sync makes durable what was written before it began. */
static int
synced(struct tear_jtrack *t, int fd, int r, uint64_t written)
{
	if (r != 0)
		return r;
	pthread_mutex_lock(&t->mu);
	t->syncs++;
	if (fd == t->log_fd) {
		if (written > t->log_synced)
			t->log_synced = written;
	} else {
		undirty(t, fd);
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}
static uint64_t
written_now(struct tear_jtrack *t)
{
	pthread_mutex_lock(&t->mu);
	uint64_t w = t->log_written;
	pthread_mutex_unlock(&t->mu);
	return w;
}
static int
t_fdatasync(void *c, int fd)
{
	uint64_t w = written_now(c);
	return synced(c, fd, px(c)->fdatasync(px(c)->ctx, fd), w);
}
static int
t_fsync(void *c, int fd)
{
	uint64_t w = written_now(c);
	return synced(c, fd, px(c)->fsync(px(c)->ctx, fd), w);
}
static int
t_ftruncate(void *c, int fd, off_t l)
{
	struct tear_jtrack *t = c;
	int r = px(c)->ftruncate(px(c)->ctx, fd, l);
	pthread_mutex_lock(&t->mu);
	if (r == 0 && fd == t->log_fd) {
		if (t->log_written > (uint64_t)l)
			t->log_written = (uint64_t)l;
		if (t->log_synced > (uint64_t)l)
			t->log_synced = (uint64_t)l;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}
static int
t_flock(void *c, int fd, int op)
{
	return px(c)->flock(px(c)->ctx, fd, op);
}
static int
t_close(void *c, int fd)
{
	struct tear_jtrack *t = c;
	/* A written file closed unsynced stays unsynced: keep the mark only
	 * while the descriptor lives (its number may be reused). */
	pthread_mutex_lock(&t->mu);
	if (fd == t->log_fd)
		t->log_fd = -1;
	else
		undirty(t, fd);
	pthread_mutex_unlock(&t->mu);
	return px(c)->close(px(c)->ctx, fd);
}
static int
t_renameat(void *c, int a, const char *p, int b, const char *q)
{
	return px(c)->renameat(px(c)->ctx, a, p, b, q);
}
static int
t_mkdirat(void *c, int d, const char *p, mode_t m)
{
	return px(c)->mkdirat(px(c)->ctx, d, p, m);
}

static void
track_init(struct tear_jtrack *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	t->log_fd = -1;
	t->posix = dfi_journal_io_posix();
	t->io = (struct dfi_journal_io){ t_open, t_openat, t_pwrite, t_pread, t_fdatasync, t_fsync,
		t_ftruncate, t_flock, t_close, t_renameat, t_mkdirat, t };
}

/* ---- card --------------------------------------------------------------- */

int
tear_card_open(struct tear_card *c, const char *image, char *why, size_t cap)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->image, sizeof(c->image), "%s", image != NULL ? image : "");
	struct dfi_sim_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.image = image != NULL ? c->image : NULL;
	cfg.has_seed = true;
	cfg.seed = TEAR_SEED;
	const struct tear_scenario *sc = tear_scenario_find(NULL);
	cfg.model = sc != NULL ? sc->model : DFI_SIM_MODEL_EV2;
	cfg.no_fsync = true;
	dfi_err r = dfi_sim_new(&c->sim, &cfg);
	if (r != DFI_OK)
		return tear_fail(why, cap, "dfi_sim_new %s: %s", image != NULL ? image : "(memory)",
		    dfi_strerror(r));
	dfi_sim_uid(c->sim, c->uid);
	dfi_transport *inner;
	r = dfi_sim_transport_new(c->sim, &inner);
	if (r != DFI_OK)
		return tear_fail(why, cap, "sim transport: %s", dfi_strerror(r));
	c->g = calloc(1, sizeof(*c->g));
	if (c->g == NULL) {
		dfi_transport_free(inner);
		return tear_fail(why, cap, "out of memory");
	}
	c->g->inner = inner;
	memcpy(c->g->uid, c->uid, sizeof(c->uid));
	r = dfi_transport_new(&c->t, &guard_ops, c->g);
	if (r != DFI_OK) {
		c->g = NULL;
		return tear_fail(why, cap, "guard transport: %s", dfi_strerror(r));
	}
	return 0;
}

void
tear_card_close(struct tear_card *c)
{
	dfi_transport_free(c->t);
	dfi_sim_free(c->sim);
	c->t = NULL;
	c->g = NULL;
	c->sim = NULL;
}

/* ---- station ------------------------------------------------------------ */

/* TEAR_VERBOSE=1: the engine's progress lines on stderr (reproducing a case). */
static void
progress(void *ctx, const char *event)
{
	fprintf(stderr, "[%s] %s\n", (const char *)ctx, event);
}

static int
station_handles(struct tear_station *s, int create, char *why, size_t cap)
{
	struct dfi_journal_opts jo;
	memset(&jo, 0, sizeof(jo));
	jo.station = s->name;
	jo.io = s->io;
	dfi_err r;
	if (create) {
		r = dfi_journal_create(s->dir, ORIGIN, s->env->signer, &jo);
		if (r != DFI_OK)
			return tear_fail(why, cap, "journal create %s: %s", s->dir, dfi_strerror(r));
	}
	memset(&s->rec, 0, sizeof(s->rec));
	r = dfi_journal_open(&s->j, s->dir, s->env->signer, &jo, &s->rec);
	if (r != DFI_OK)
		return tear_fail(why, cap, "journal open %s: %s", s->dir, dfi_strerror(r));
	struct dfi_perso_config pc;
	char detail[256] = "";
	memset(&pc, 0, sizeof(pc));
	pc.detail = detail;
	pc.detail_cap = sizeof(detail);
	pc.hsm = s->env->hsm;
	pc.journal = s->j;
	pc.profile = s->env->profile;
	pc.station = s->name;
	pc.keys_from = s->env->keys;
	if (getenv("TEAR_VERBOSE") != NULL) {
		pc.progress = progress;
		pc.progress_ctx = s->name;
	}
	r = dfi_perso_new(&s->p, &pc);
	if (r != DFI_OK)
		return tear_fail(why, cap, "dfi_perso_new: %s (%s)", dfi_strerror(r), detail);
	return 0;
}

int
tear_station_open(struct tear_station *s, struct tear_env *e, const char *dir, const char *name,
    int create, char *why, size_t cap)
{
	return tear_station_open_io(s, e, dir, name, create, NULL, why, cap);
}

int
tear_station_open_io(struct tear_station *s, struct tear_env *e, const char *dir,
    const char *name, int create, const struct dfi_journal_io *io, char *why, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->env = e;
	track_init(&s->track);
	s->io = io != NULL ? io : &s->track.io;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->file, sizeof(s->file), "%s/%s", dir, DFI_JOURNAL_FILE);
	snprintf(s->name, sizeof(s->name), "%s", name);
	return station_handles(s, create, why, cap);
}

void
tear_station_close(struct tear_station *s)
{
	dfi_perso_free(s->p);
	dfi_journal_close(s->j);
	s->p = NULL;
	s->j = NULL;
}

int
tear_station_reopen(struct tear_station *s, char *why, size_t cap)
{
	tear_station_close(s);
	return station_handles(s, 0, why, cap);
}

/* ---- case ----------------------------------------------------------------- */

int
tear_case_open(struct tear_env *e, struct tear_case *k, char *why, size_t cap)
{
	memset(k, 0, sizeof(*k));
	if (tear_env_case_dir(e, k->dir, sizeof(k->dir)) != 0)
		return tear_fail(why, cap, "case directory: %s", strerror(errno));
	snprintf(k->image, sizeof(k->image), "%s/card.img", k->dir);
	snprintf(k->jdir, sizeof(k->jdir), "%s/j", k->dir);
	if (tear_card_open(&k->c, e->file_cards ? k->image : NULL, why, cap) != 0)
		return -1;
	if (e->sc->prepare != NULL && e->sc->prepare(e, &k->c, why, cap) != 0)
		return -1;
	return tear_station_open(&k->s, e, k->jdir, "station-a", 1, why, cap);
}

void
tear_case_close(struct tear_case *k)
{
	tear_station_close(&k->s);
	tear_card_close(&k->c);
	if (k->dir[0] != '\0')
		tear_rmtree(k->dir);
}

/* ---- taps and checks ---------------------------------------------------- */

dfi_err
tear_tap(struct tear_card *c, struct tear_station *s, struct dfi_perso_result *res)
{
	memset(res, 0, sizeof(*res));
	c->g->jfile = s->file;
	c->g->track = s->io == &s->track.io ? &s->track : NULL;
	c->g->env = s->env;
	/* A tap is a fresh presentation: the card leaves the field first (it
	 * loses any authentication of the previous tap), then comes back. */
	dfi_err r = dfi_transport_wait_removed(c->t, 0);
	if (r == DFI_OK)
		r = dfi_transport_wait_card(c->t, 0);
	if (r != DFI_OK) {
		res->outcome = DFI_PERSO_FAILED;
		res->err = r;
		snprintf(res->detail, sizeof(res->detail), "wait_card: %s", dfi_strerror(r));
		return r;
	}
	return dfi_perso_card(s->p, c->t, s->env->row, res);
}

enum dfi_perso_outcome
tear_finish(struct tear_card *c, struct tear_station *s, unsigned max_taps, int *unknown,
    char *why, size_t cap)
{
	struct dfi_perso_result res;
	enum dfi_perso_outcome last = DFI_PERSO_FAILED;
	for (unsigned i = 0; i < max_taps; i++) {
		dfi_err r = tear_tap(c, s, &res);
		if (r != DFI_OK) {
			tear_fail(why, cap, "tap %u: dfi_perso_card: %s (%s)", i + 1, dfi_strerror(r),
			    res.detail);
			if (s->j != NULL && tear_station_reopen(s, why, cap) != 0)
				return DFI_PERSO_FAILED;
			continue;
		}
		last = res.outcome;
		if (last == DFI_PERSO_UNKNOWN_KEYS && unknown != NULL)
			*unknown = 1;
		if (last == DFI_PERSO_DONE || last == DFI_PERSO_RESUMED)
			return last;
		tear_fail(why, cap, "tap %u: %s: %s (%s)", i + 1, dfi_perso_outcome_name(last),
		    dfi_strerror(res.err), res.detail);
	}
	return last;
}

struct jcheck {
	char finding[240];
	uint64_t unresolved;
	char first_unresolved[120];
};

static void
jc_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct jcheck *j = ctx;
	keep_first_finding(j->finding, sizeof(j->finding), line, code, msg);
}

static void
jc_unresolved(void *ctx, const dfi_jrec *in)
{
	struct jcheck *j = ctx;
	if (j->unresolved++ == 0)
		snprintf(j->first_unresolved, sizeof(j->first_unresolved),
		    "intent %llu aid %06X key %u", (unsigned long long)in->seq, (unsigned)in->key.aid,
		    in->key.keyno);
}

int
tear_journal_ok(struct tear_env *e, const char *file, char *why, size_t cap)
{
	struct jcheck jc;
	memset(&jc, 0, sizeof(jc));
	struct dfi_jverify_opts o;
	memset(&o, 0, sizeof(o));
	o.pubkey = e->pub;
	o.finding = jc_finding;
	o.unresolved = jc_unresolved;
	o.ctx = &jc;
	struct dfi_jverify_result res;
	dfi_err r = dfi_journal_verify_file(file, &o, &res);
	if (r != DFI_OK) {
		tear_fail(why, cap, "journal does not verify: %s (%s)", dfi_strerror(r), jc.finding);
		return 0;
	}
	if (jc.unresolved != 0 || res.unresolved != 0) {
		tear_fail(why, cap, "journal has %llu unresolved intent(s), first %s",
		    (unsigned long long)res.unresolved, jc.first_unresolved);
		return 0;
	}
	return 1;
}

static void
count_open(void *ctx, const dfi_jrec *in)
{
	(void)in;
	(*(unsigned *)ctx)++;
}

int
tear_check(struct tear_card *c, struct tear_station *s, char *why, size_t cap)
{
	char g[320];
	if (tear_guard_violations(c, g, sizeof(g)) != 0) {
		tear_fail(why, cap, "two-phase rule broken: %s", g);
		return 0;
	}
	int m = dfi_test_card_matches_profile(c->sim, s->env->hsm, s->env->profile, s->env->row,
	    why, cap);
	if (m != 1)
		return m;
	if (!tear_journal_ok(s->env, s->file, why, cap))
		return 0;
	unsigned open = 0;
	size_t n = dfi_journal_open_intents(s->j, count_open, &open);
	if (n != 0 || open != 0) {
		tear_fail(why, cap, "the writer still has %zu open intent(s)", n);
		return 0;
	}
	return 1;
}

/* ---- tally -------------------------------------------------------------- */

void
tear_tally_add(struct tear_tally *t, int recovered, int unknown, const char *label,
    const char *why)
{
	t->cases++;
	if (recovered)
		t->recovered++;
	else if (unknown)
		t->unknown++;
	else
		t->failures++;
	if (!recovered && t->printed < 20) {
		t->printed++;
		printf("FAILED %s: %s%s\n", label, unknown ? "unknown keys; " : "", why);
		fflush(stdout);
	}
}

void
tear_tally_print(const struct tear_env *e, const struct tear_tally *t, const char *what)
{
	printf("%s %s: tear cases: %u, recovered: %u, unknown-keys: %u, failures: %u\n",
	    e->sc->name, what, t->cases, t->recovered, t->unknown, t->failures);
	fflush(stdout);
}

const char *
tear_mode_name(enum dfi_sim_tear_mode m)
{
	return m == DFI_SIM_TEAR_BEFORE ? "before" : "after";
}
