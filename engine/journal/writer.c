/* The journal writer: create, open (lock, check, quarantine, recover),
 * close, and the index queries. Appending is in append.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dfissue/util.h"
#include "journal_int.h"
#include "core/grow.h"
#include "core/monitor.h"
#include "crypto/signer_int.h"
#include "writer_int.h"


static int64_t
now_of(const struct dfi_journal_opts *o)
{
	return o != NULL && o->now != NULL ? o->now(o->now_ctx) : (int64_t)time(NULL);
}

static const struct dfi_journal_io *
io_of(const struct dfi_journal_opts *o)
{
	return o != NULL && o->io != NULL ? o->io : dfi_journal_io_posix();
}

static int
station_ok(const struct dfi_journal_opts *o)
{
	return o != NULL && o->station != NULL && o->station[0] != '\0' &&
	    strlen(o->station) < DFI_J_STR_MAX;
}

/* The argument checks create and open share, each refusal with its reason
 * in opts->detail (when opts is there to carry it). */
static dfi_err
args_ok(const char *dir, dfi_signer *signer, const struct dfi_journal_opts *opts)
{
	if (dir == NULL || signer == NULL || opts == NULL)
		return DFI_E_INVALID_ARG;
	if (!station_ok(opts))
		return jdetail(opts, DFI_E_INVALID_ARG, "the station name must be 1..%d bytes",
		    DFI_J_STR_MAX - 1);
	return DFI_OK;
}

static dfi_err
fsync_fd(const struct dfi_journal_io *io, int fd)
{
	return io->fsync(io->ctx, fd) == 0 ? DFI_OK : DFI_E_IO;
}

static dfi_err
open_dir(const struct dfi_journal_io *io, const char *dir, int *fd)
{
	*fd = io->open(io->ctx, dir, O_RDONLY | O_DIRECTORY, 0);
	return *fd < 0 ? jio_errno(errno) : DFI_OK;
}

/* ---- create ---------------------------------------------------------------- */

dfi_err
dfi_journal_create(const char *dir, const char *origin, dfi_signer *signer,
    const struct dfi_journal_opts *opts)
{
	dfi_err ae = args_ok(dir, signer, opts);
	if (ae != DFI_OK)
		return ae;
	if (!dfi_journal_origin_valid(origin))
		return jdetail(opts, DFI_E_INVALID_ARG, "origin '%s' is not a key name: 1..127 "
		    "printable ASCII bytes without spaces or '+' (docs/JOURNAL.md section 5)",
		    origin != NULL ? origin : "(none)");
	const struct dfi_journal_io *io = io_of(opts);
	int created_dir = 0;
	if (mkdir(dir, 0700) == 0)
		created_dir = 1;
	else if (errno != EEXIST)
		return jdetail_errno(opts, errno, "cannot create the journal directory", dir);
	int dfd, fd = -1;
	dfi_err e = open_dir(io, dir, &dfd);
	if (e != DFI_OK)
		return jdetail_errno(opts, errno, "cannot open the journal directory", dir);
	if ((e = jdir_check(opts, dfd, dir)) != DFI_OK) {
		io->close(io->ctx, dfd);
		return e;
	}
	struct stat st;
	if (fstatat(dfd, DFI_JOURNAL_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		io->close(io->ctx, dfd);
		return jdetail(opts, DFI_E_INVALID_ARG, "'%s' already holds a journal", dir);
	}
	dfi_jpubkey *pk = NULL;
	dfi_jrec g;
	memset(&g, 0, sizeof(g));
	g.type = DFI_JREC_GENESIS;
	g.time = now_of(opts);
	g.alg = dfi_signer_alg(signer);
	snprintf(g.origin, sizeof(g.origin), "%s", origin);
	snprintf(g.station, sizeof(g.station), "%s", opts->station);
	if ((e = dfi_jpubkey_from_signer(signer, &pk)) != DFI_OK ||
	    (e = dfi_jpubkey_key_id(pk, origin, &g.key_id)) != DFI_OK)
		goto out;
	char buf[2 * DFI_J_LINE_MAX + 4];
	size_t n, cn;
	if ((e = dfi_jrec_format(&g, buf, sizeof(buf), &n)) != DFI_OK)
		goto out;
	dfi_merkle t;
	dfi_checkpoint cp;
	uint8_t leaf[DFI_HASH_LEN], note[DFI_J_NOTE_MAX];
	size_t nl;
	dfi_merkle_init(&t);
	dfi_merkle_leaf_hash(buf, n, leaf);
	(void)dfi_merkle_push(&t, leaf);
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	cp.size = 1;
	dfi_merkle_root(&t, cp.root);
	if ((e = dfi_note_sign_id(&cp, signer, g.key_id, note, sizeof(note), &nl)) != DFI_OK) {
		/* The signer's reason (an HSM's: the call and its CK_RV), or the
		 * caller would have only the error's generic text. */
		char why[320];
		dfi_signer_why(signer, why, sizeof(why));
		e = jdetail(opts, e, "the journal key could not sign the first checkpoint: %s%s%s%s",
		    dfi_strerror(e), why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "");
		goto out;
	}
	buf[n++] = '\n';
	if ((e = jcp_line(note, nl, buf + n, sizeof(buf) - n - 1, &cn)) != DFI_OK)
		goto out;
	n += cn;
	buf[n++] = '\n';
	/* Written whole under a temporary name, then renamed: a journal
	 * either exists with its signed genesis or not at all. */
	static const char tmp[] = DFI_JOURNAL_FILE ".tmp";
	/* A temporary file left by a create that died is ours (the directory
	 * is nobody else's): remove it, never open through it. O_EXCL and
	 * O_NOFOLLOW create a new file or fail, whatever stands there. */
	if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT) {
		e = jdetail_errno(opts, errno, "cannot remove the stale temporary file in", dir);
		goto out;
	}
	fd = io->openat(io->ctx, dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e = jdetail_errno(opts, errno, "cannot create the journal file in", dir);
		goto out;
	}
	if (jio_write_all(io, fd, buf, n, 0) != DFI_OK) {
		e = jdetail_errno(opts, errno, "cannot write the journal file in", dir);
		goto out;
	}
	if (io->fdatasync(io->ctx, fd) != 0) {
		e = jdetail_errno(opts, errno, "cannot sync the journal file in", dir);
		goto out;
	}
	if (io->renameat(io->ctx, dfd, tmp, dfd, DFI_JOURNAL_FILE) != 0) {
		e = jdetail_errno(opts, errno, "cannot rename the journal file into place in", dir);
		goto out;
	}
	e = fsync_fd(io, dfd);
	if (e == DFI_OK && created_dir) {
		/* the new directory's own entry in its parent */
		char parent[4096];
		snprintf(parent, sizeof(parent), "%s/..", dir);
		int pfd;
		if (open_dir(io, parent, &pfd) == DFI_OK) {
			e = fsync_fd(io, pfd);
			io->close(io->ctx, pfd);
		}
	}
out:
	if (fd >= 0)
		io->close(io->ctx, fd);
	io->close(io->ctx, dfd);
	dfi_jpubkey_free(pk);
	return e;
}

/* ---- open and recovery -------------------------------------------------------- */

struct names {
	char (*v)[DFI_J_STR_MAX];
	size_t n, cap;
};

static void
collect_recovery(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct names *nm = ctx;
	if (r->type != DFI_JREC_RECOVERY)
		return;
	char(*v)[DFI_J_STR_MAX] = dfi_grow(nm->v, &nm->cap, nm->n + 1, 8, sizeof(*v));
	if (v == NULL)
		return;
	nm->v = v;
	memcpy(nm->v[nm->n++], r->q_file, DFI_J_STR_MAX);
}

static int
names_has(const struct names *nm, const char *s)
{
	for (size_t i = 0; i < nm->n; i++)
		if (strcmp(nm->v[i], s) == 0)
			return 1;
	return 0;
}

struct walkctx {
	struct names names;
	const struct dfi_journal_opts *opts;
};

static void
walk_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	collect_recovery(&((struct walkctx *)ctx)->names, line, r);
}

static void
walk_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	const struct dfi_journal_opts *o = ((struct walkctx *)ctx)->opts;
	if (o != NULL && o->finding != NULL)
		o->finding(o->finding_ctx, line, code, msg);
}

static dfi_err
walk_file(dfi_journal *j, const dfi_jpubkey *pk, struct jwalk *w, struct walkctx *wc)
{
	jwalk_init(w);
	w->pub = pk;
	/* Every checkpoint's signature, not only the last: a covered line whose
	 * checkpoint fails verification halts the writer (BRIEF §6). About one
	 * Ed25519 verify per 500 records (bench_journal: open of 1,000,000). */
	w->verify_all = 1;
	w->ix = jindex_new();
	w->record = walk_record;
	w->finding = walk_finding;
	w->ctx = wc;
	if (w->ix == NULL)
		return DFI_E_NOMEM;
	dfi_err e = jscan_fd(j->io, j->fd, UINT64_MAX, jwalk_line, w);
	if (e != DFI_OK)
		return e;
	jwalk_finish(w, w->end);
	return DFI_OK;
}

struct qstats {
	uint64_t lines, bytes, intents;
	uint8_t sha[32];
	struct dfi_journal_recovery *rec;
	unsigned format; /* the journal's (its intents' AID order) */
};

static int
qline(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	(void)complete;
	(void)off;
	struct qstats *q = ctx;
	q->lines++;
	dfi_jrec r;
	if (line != NULL && dfi_jrec_parse(line, len, &r) == DFI_OK && r.type == DFI_JREC_INTENT) {
		q->intents++;
		jrec_aid_format1(&r, q->format);
		if (q->rec != NULL && q->rec->n_lost_intents < 16)
			q->rec->lost_intents[q->rec->n_lost_intents++] = r;
	}
	return 0;
}

/* Reads a quarantined file and describes it. */
static dfi_err
qdescribe(const struct dfi_journal_io *io, int qdfd, const char *name, struct qstats *q)
{
	int fd = io->openat(io->ctx, qdfd, name, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return jio_errno(errno);
	uint8_t *buf = malloc(1 << 16);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	dfi_err e = DFI_OK;
	if (buf == NULL || c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		e = DFI_E_NOMEM;
		goto out;
	}
	uint64_t off = 0;
	for (;;) {
		ssize_t n = io->pread(io->ctx, fd, buf, 1 << 16, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = DFI_E_IO;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	q->bytes = off;
	unsigned hl;
	EVP_DigestFinal_ex(c, q->sha, &hl);
	e = jscan_fd(io, fd, UINT64_MAX, qline, q);
out:
	EVP_MD_CTX_free(c);
	free(buf);
	io->close(io->ctx, fd);
	return e;
}

/* Why moving the tail failed, with errno err: the open stops there and the
 * journal is as it was, so the operator mends the file system and runs
 * again (the tail is never dropped to make room). */
static dfi_err
qfail(const struct dfi_journal_opts *o, const char *dir, uint64_t nlines, dfi_err e, int err)
{
	if (err == 0)
		return e;
	/* Callers put the journal's name before it ("journal 'DIR': ..."). */
	return jdetail(o, e == DFI_E_NOMEM ? e : DFI_E_IO, "its unsigned tail (%" PRIu64
	    " line(s) after a failed write) must be moved to %s/%s/ first, and that failed: %s. %c%s "
	    "and run again (the journal is unchanged).", nlines, dir, DFI_JOURNAL_QDIR,
	    strerror(err), toupper((unsigned char)jremedy(err, 0)[0]), jremedy(err, 0) + 1);
}

/* Moves [from, end) of the journal (nlines lines) into quarantine/NAME,
 * durably, then cuts the journal back to `from`. The copy is synced (file
 * and directory) before the cut, so a crash in between loses nothing. A
 * failure before the cut leaves the journal as it was, no partial copy,
 * and no quarantine/ this call made; o->detail says why. */
static dfi_err
quarantine_tail(dfi_journal *j, const struct dfi_journal_opts *o, uint64_t from, uint64_t end,
    uint64_t nlines, int64_t now, char *name, size_t cap)
{
	const struct dfi_journal_io *io = j->io;
	dfi_err e;
	int made = 0, err = 0;
	if (io->mkdirat(io->ctx, j->dirfd, DFI_JOURNAL_QDIR, 0700) == 0) {
		made = 1;
		if ((e = fsync_fd(io, j->dirfd)) != DFI_OK)
			return qfail(o, j->dir, nlines, e, errno);
	} else if (errno != EEXIST) {
		return qfail(o, j->dir, nlines, DFI_E_IO, errno);
	}
	int qd = io->openat(io->ctx, j->dirfd, DFI_JOURNAL_QDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (qd < 0)
		return qfail(o, j->dir, nlines, jio_errno(errno), errno);
	int fd = -1;
	for (unsigned k = 0; k < 1000 && fd < 0; k++) {
		snprintf(name, cap, "tail-%" PRId64 "-%" PRIu64 "-%u.log", now, from, k);
		fd = io->openat(io->ctx, qd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = errno;
		io->close(io->ctx, qd);
		if (made)
			(void)unlinkat(j->dirfd, DFI_JOURNAL_QDIR, AT_REMOVEDIR);
		return qfail(o, j->dir, nlines, DFI_E_IO, err);
	}
	char *buf = malloc(1 << 16);
	e = buf == NULL ? DFI_E_NOMEM : DFI_OK;
	if (buf == NULL)
		err = ENOMEM;
	for (uint64_t off = from; e == DFI_OK && off < end;) {
		size_t want = end - off > (1 << 16) ? (1 << 16) : (size_t)(end - off);
		ssize_t n = io->pread(io->ctx, j->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			e = DFI_E_IO;
			break;
		}
		if ((e = jio_write_all(io, fd, buf, (size_t)n, off - from)) != DFI_OK)
			err = errno;
		off += (uint64_t)n;
	}
	free(buf);
	if (e == DFI_OK && io->fdatasync(io->ctx, fd) != 0) {
		err = errno;
		e = DFI_E_IO;
	}
	io->close(io->ctx, fd);
	if (e == DFI_OK && (e = fsync_fd(io, qd)) != DFI_OK)
		err = errno;
	/* The journal still holds the whole tail (it is cut only below): a
	 * partial copy left behind would be recorded by the next open as a
	 * second recovery of the same bytes; an empty quarantine/ this call
	 * made would say a tail was moved. */
	if (e != DFI_OK) {
		(void)unlinkat(qd, name, 0);
		if (made)
			(void)unlinkat(j->dirfd, DFI_JOURNAL_QDIR, AT_REMOVEDIR);
	}
	io->close(io->ctx, qd);
	if (e != DFI_OK)
		return qfail(o, j->dir, nlines, e, err);
	if (io->ftruncate(io->ctx, j->fd, (off_t)from) != 0 || io->fdatasync(io->ctx, j->fd) != 0)
		return jdetail(o, DFI_E_IO, "its unsigned tail was copied to %s/%s/%s, but "
		    "cutting it from %s failed: %s: %s and run again", j->dir, DFI_JOURNAL_QDIR, name,
		    DFI_JOURNAL_FILE, strerror(errno), jremedy(errno, 0));
	return DFI_OK;
}

static int
cmpname(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recovery records for every quarantined file no recovery record names yet
 * (the one just written, or one a crash left unrecorded). */
static dfi_err
record_quarantines(dfi_journal *j, const struct names *known, struct dfi_journal_recovery *rec)
{
	const struct dfi_journal_io *io = j->io;
	int qd = io->openat(io->ctx, j->dirfd, DFI_JOURNAL_QDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (qd < 0)
		return errno == ENOENT ? DFI_OK : jio_errno(errno);
	int dd = dup(qd);
	DIR *d = dd >= 0 ? fdopendir(dd) : NULL;
	if (d == NULL) {
		if (dd >= 0)
			close(dd);
		io->close(io->ctx, qd);
		return DFI_E_IO;
	}
	char **todo = NULL;
	size_t n = 0, cap = 0;
	dfi_err e = DFI_OK;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= DFI_J_STR_MAX || names_has(known, de->d_name))
			continue;
		char **p = dfi_grow(todo, &cap, n + 1, 4, sizeof(*p));
		if (p == NULL) {
			e = DFI_E_NOMEM;
			break;
		}
		todo = p;
		if ((todo[n] = strdup(de->d_name)) == NULL) {
			e = DFI_E_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(todo, n, sizeof(*todo), cmpname);
	for (size_t i = 0; e == DFI_OK && i < n; i++) {
		struct qstats q;
		memset(&q, 0, sizeof(q));
		q.rec = rec;
		q.format = j->format;
		if ((e = qdescribe(io, qd, todo[i], &q)) != DFI_OK)
			break;
		dfi_jrec r;
		memset(&r, 0, sizeof(r));
		r.type = DFI_JREC_RECOVERY;
		r.q_lines = q.lines;
		r.q_bytes = q.bytes;
		r.q_intents = q.intents;
		memcpy(r.q_sha256, q.sha, 32);
		snprintf(r.q_file, sizeof(r.q_file), "%s", todo[i]);
		if ((e = dfi_journal_append(j, &r, 1, NULL)) != DFI_OK)
			break;
		if (rec != NULL) {
			rec->recoveries++;
			rec->quarantined_lines += q.lines;
			rec->quarantined_bytes += q.bytes;
			rec->quarantined_intents += q.intents;
			snprintf(rec->quarantine_file, sizeof(rec->quarantine_file), "%s", todo[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(todo[i]);
	free(todo);
	io->close(io->ctx, qd);
	return e;
}

static dfi_err
halt_code(const struct jwalk *w)
{
	return w->first_err == DFI_E_JOURNAL_SIGNATURE ? DFI_E_JOURNAL_SIGNATURE : DFI_E_JOURNAL_CORRUPT;
}

dfi_err
jw_reload(dfi_journal *j)
{
	dfi_jpubkey *pk = NULL;
	struct walkctx wc;
	memset(&wc, 0, sizeof(wc));
	struct jwalk *w = calloc(1, sizeof(*w));
	dfi_err e = w == NULL ? DFI_E_NOMEM : dfi_jpubkey_from_signer(j->signer, &pk);
	if (e == DFI_OK)
		e = walk_file(j, pk, w, &wc);
	/* The file must be exactly what this handle last made durable. */
	if (e == DFI_OK && (w->findings > 0 || w->end != j->file_len || w->t.tree.size != j->tree.size))
		e = DFI_E_JOURNAL_CORRUPT;
	if (e == DFI_OK) {
		jindex_free(j->ix);
		j->ix = w->ix;
		w->ix = NULL;
		j->next_seq = w->nrec;
	}
	if (w != NULL)
		jindex_free(w->ix);
	free(w);
	free(wc.names.v);
	dfi_jpubkey_free(pk);
	return e;
}

dfi_err
dfi_journal_open(dfi_journal **out, const char *dir, dfi_signer *signer,
    const struct dfi_journal_opts *opts, struct dfi_journal_recovery *rec)
{
	if (out == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err ae = args_ok(dir, signer, opts);
	if (ae != DFI_OK)
		return ae;
	*out = NULL;
	if (rec != NULL)
		memset(rec, 0, sizeof(*rec));
	dfi_journal *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return DFI_E_NOMEM;
	j->io = io_of(opts);
	j->dirfd = j->fd = -1;
	j->signer = signer;
	j->now = opts->now;
	j->now_ctx = opts->now_ctx;
	snprintf(j->station, sizeof(j->station), "%s", opts->station);
	/* dfi_journal_close needs both: without them nothing of j is usable. */
	if ((j->dir = strdup(dir)) == NULL || dfi_monitor_init(&j->mu, &j->cv) != DFI_OK) {
		free(j->dir);
		free(j);
		return DFI_E_NOMEM;
	}

	dfi_jpubkey *pk = NULL;
	struct jwalk *w = calloc(1, sizeof(*w));
	struct walkctx wc;
	memset(&wc, 0, sizeof(wc));
	wc.opts = opts;
	dfi_err e = w == NULL ? DFI_E_NOMEM : open_dir(j->io, dir, &j->dirfd);
	if (e != DFI_OK) {
		if (w != NULL)
			e = jdetail_errno(opts, errno, "cannot open the journal directory", dir);
		goto fail;
	}
	if ((e = jdir_check(opts, j->dirfd, dir)) != DFI_OK)
		goto fail;
	j->fd = j->io->openat(j->io->ctx, j->dirfd, DFI_JOURNAL_FILE, O_RDWR | O_NOFOLLOW, 0);
	if (j->fd < 0) {
		e = jdetail_errno(opts, errno, "cannot open " DFI_JOURNAL_FILE " in", dir);
		goto fail;
	}
	if ((e = jfile_check(opts, j->fd, dir, DFI_JOURNAL_FILE)) != DFI_OK)
		goto fail;
	if (j->io->flock(j->io->ctx, j->fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno == EWOULDBLOCK ? DFI_E_JOURNAL_LOCKED :
		    jdetail_errno(opts, errno, "cannot lock the journal in", dir);
		goto fail;
	}
	if ((e = dfi_jpubkey_from_signer(signer, &pk)) != DFI_OK)
		goto fail;
	if ((e = walk_file(j, pk, w, &wc)) != DFI_OK)
		goto fail;
	/* A finding before the last checkpoint line is in covered data (or is
	 * a checkpoint): halt, repair nothing. */
	if (w->first_bad_off < w->last_cp_line_end || !w->have_genesis || w->ncp == 0) {
		e = halt_code(w);
		goto fail;
	}
	if (w->end > w->good_cp_end) {
		char name[DFI_J_STR_MAX];
		if ((e = quarantine_tail(j, opts, w->good_cp_end, w->end, w->lines - w->good_cp_line,
		    now_of(opts), name, sizeof(name))) != DFI_OK)
			goto fail;
		/* The index must not hold the quarantined records: walk again. */
		jindex_free(w->ix);
		free(wc.names.v);
		memset(&wc.names, 0, sizeof(wc.names));
		if ((e = walk_file(j, pk, w, &wc)) != DFI_OK)
			goto fail;
		if (w->findings > 0 || w->end != w->good_cp_end) {
			e = halt_code(w);
			goto fail;
		}
	}
	j->tree = w->t.tree;
	j->file_len = w->end;
	j->next_seq = w->nrec;
	j->ix = w->ix;
	w->ix = NULL;
	snprintf(j->origin, sizeof(j->origin), "%s", w->genesis.origin);
	j->key_id = w->genesis.key_id;
	j->format = w->genesis.format;
	memcpy(j->note, w->last_note, w->last_note_len);
	j->note_len = w->last_note_len;
	if ((e = record_quarantines(j, &wc.names, rec)) != DFI_OK) {
		/* A recovery record that could not be appended: its file stays
		 * in quarantine/ and the next open records it. */
		struct dfi_journal_failure f;
		if (dfi_journal_last_failure(j, &f) == DFI_OK && f.kind != DFI_JFAIL_NONE)
			jdetail(opts, e, "%s: %s and run again (the tail is in %s/%s/; the next open "
			    "records it)", f.what, f.todo, dir, DFI_JOURNAL_QDIR);
		goto fail;
	}
	if (rec != NULL)
		rec->records = j->tree.size;
	free(wc.names.v);
	free(w);
	dfi_jpubkey_free(pk);
	*out = j;
	return DFI_OK;
fail:
	if (w != NULL)
		jindex_free(w->ix);
	free(w);
	free(wc.names.v);
	dfi_jpubkey_free(pk);
	dfi_journal_close(j);
	return e;
}

void
dfi_journal_close(dfi_journal *j)
{
	if (j == NULL)
		return;
	/* What was queued and not waited for is still written (or failed with
	 * the handle) before the file is closed. */
	pthread_mutex_lock(&j->mu);
	j->stopping = 1;
	pthread_cond_broadcast(&j->cv);
	while (j->done_through < j->enq_ticket) {
		if (!j->leading)
			jw_lead(j);
		else
			pthread_cond_wait(&j->cv, &j->mu);
	}
	int joinit = j->has_flusher;
	pthread_mutex_unlock(&j->mu);
	if (joinit)
		pthread_join(j->flusher, NULL);
	if (j->fd >= 0)
		j->io->close(j->io->ctx, j->fd);
	if (j->dirfd >= 0)
		j->io->close(j->io->ctx, j->dirfd);
	jindex_free(j->ix);
	free(j->pbuf);
	free(j->pleaf);
	free(j->dir);
	dfi_monitor_destroy(&j->mu, &j->cv);
	free(j);
}

/* ---- queries -------------------------------------------------------------------- */

/* What the index knows of one key, under the lock and only while the
 * journal has not failed: its version when version is not NULL, its open
 * intent when intent is not NULL (a call asking neither is refused). */
static dfi_err
key_query(dfi_journal *j, const dfi_jkey *key, uint8_t *version, dfi_jrec *intent)
{
	if (j == NULL || key == NULL || (version == NULL && intent == NULL))
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&j->mu);
	dfi_err e = j->fatal;
	if (e == DFI_OK && version != NULL)
		e = jindex_key_version(j->ix, key, version);
	if (e == DFI_OK && intent != NULL)
		e = jindex_open_intent(j->ix, key, intent);
	pthread_mutex_unlock(&j->mu);
	return e;
}

dfi_err
dfi_journal_key_version(dfi_journal *j, const dfi_jkey *key, uint8_t *version)
{
	return key_query(j, key, version, NULL);
}

dfi_err
dfi_journal_open_intent(dfi_journal *j, const dfi_jkey *key, dfi_jrec *intent)
{
	return key_query(j, key, NULL, intent);
}

size_t
dfi_journal_open_intents(dfi_journal *j, void (*fn)(void *ctx, const dfi_jrec *intent), void *ctx)
{
	if (j == NULL)
		return 0;
	pthread_mutex_lock(&j->mu);
	size_t n = jindex_foreach_open(j->ix, fn, ctx);
	pthread_mutex_unlock(&j->mu);
	return n;
}

uint64_t
dfi_journal_size(dfi_journal *j)
{
	if (j == NULL)
		return 0;
	pthread_mutex_lock(&j->mu);
	uint64_t n = j->tree.size;
	pthread_mutex_unlock(&j->mu);
	return n;
}

dfi_err
dfi_journal_checkpoint(dfi_journal *j, uint8_t *note, size_t cap, size_t *len)
{
	if (j == NULL || note == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&j->mu);
	dfi_err e = j->note_len > cap ? DFI_E_BUFFER_TOO_SMALL : DFI_OK;
	if (e == DFI_OK) {
		memcpy(note, j->note, j->note_len);
		*len = j->note_len;
	}
	pthread_mutex_unlock(&j->mu);
	return e;
}
