/*
 * dfissue audit --registry URL JOURNAL...: every station journal verified
 * as `journal verify` does, and against what the registry witnessed; then
 * the registry cross-checked against the journals. One line per finding;
 * exit 0 only when there is none. docs/OPERATIONS.md (section 12) and
 * docs/JOURNAL.md (section 12).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "core/grow.h"
#include "opts.h"
#include "termtext.h"
#include "dfissue/journal.h"
#include "dfissue/pgregistry.h"

static const char *const help[] = {
	"usage: dfissue audit --registry URL --pubkey KEY [--pubkey KEY]... JOURNAL...\n\n"
	"Audits every station journal and the registry they share. For each JOURNAL (a\n"
	"journal directory or journal.log): everything 'dfissue journal verify' checks,\n"
	"with the key (PEM or signed-note verifier key) whose key ID the journal's\n"
	"genesis names; then every checkpoint the registry witnessed for it: signed by\n"
	"that key, and contained in the journal (its tree of that size has that root: a\n"
	"journal rolled back or forked since does not). Then the registry: a checkpoint\n"
	"it refused, or a journal it witnessed that is not among the JOURNALs, is a\n"
	"finding. Then the cards: every record the registry holds is its journal's line,\n"
	"every card record of every journal was told to it; replaying its records in the\n"
	"order it took them, no UID issued twice without an authorization, every intent\n"
	"(key change or change record: LRP switch, SDM settings) resolved at some\n"
	"station, and its key slots equal to the replay, profile digests included.\n\n"
	"Give every station's journal. Prints one line per finding and a summary; exit 0\n"
	"only when there is no finding. The URL carries no password (see\n"
	"'dfissue registry --help'); an auditor role needs only SELECT on the\n"
	"registry's tables.\n",
	NULL,
};

/* Every finding's line is written in its terminal form (termtext.h): it
 * quotes the registry's rows (stations, database users, reasons) and the
 * journals' texts, untrusted, so no text can start a line of its own or
 * reach the terminal as a control. */
void
audit_finding(struct audit *a, const char *where, const char *fmt, ...)
{
	char m[8192];
	va_list ap;
	a->findings++;
	va_start(ap, fmt);
	int n = vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	cli_tt_fwrite(stdout, where, strlen(where));
	fputs(": ", stdout);
	cli_tt_fwrite(stdout, m, n < 0 ? 0 : (size_t)n < sizeof(m) ? (size_t)n : sizeof(m) - 1);
	putchar('\n');
}

struct audit_journal *
audit_journal_of(struct audit *a, const char *origin)
{
	for (size_t i = 0; i < a->nj; i++)
		if (strcmp(a->j[i].origin, origin) == 0)
			return &a->j[i];
	return NULL;
}

/* ---- the journals --------------------------------------------------------------- */

static void
genesis_cb(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct audit_journal *j = ctx;
	if (r->type == DFI_JREC_GENESIS && r->seq == 0 && j->origin[0] == '\0') {
		memcpy(j->origin, r->origin, sizeof(j->origin));
		j->key_id = r->key_id;
		j->alg = r->alg;
	}
}

struct vctx {
	struct audit *a;
	const char *path;
};

static void
vfinding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)code;
	struct vctx *v = ctx;
	char where[4200];
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%" PRIu64, v->path, line);
	else
		snprintf(where, sizeof(where), "%s", v->path);
	audit_finding(v->a, where, "%s", msg);
}

struct rctx {
	struct audit_journal *j;
	struct vctx v;
};

static void
fin_cb(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct rctx *x = ctx;
	vfinding(&x->v, line, code, msg);
}

static int
audit_journal(struct audit *a, struct audit_journal *j)
{
	/* which journal, which key */
	struct dfi_jverify_opts g = { .record = genesis_cb, .ctx = j };
	struct dfi_jverify_result *res = calloc(1, sizeof(*res));
	if (res == NULL)
		return -1;
	dfi_err e = dfi_journal_verify_file(j->path, &g, res);
	if (e == DFI_E_IO || e == DFI_E_NOT_FOUND || e == DFI_E_NOMEM) {
		free(res);
		cli_fail(j->path, e);
		return -1;
	}
	if (j->origin[0] == '\0') {
		audit_finding(a, j->path, "no genesis record: not a journal");
		free(res);
		return 0;
	}
	for (size_t k = 0; k < a->nkeys && j->key == NULL; k++) {
		uint32_t id;
		if (dfi_jpubkey_alg(a->keys[k]) == j->alg && dfi_jpubkey_key_id(a->keys[k], j->origin, &id) == DFI_OK &&
		    id == j->key_id && (a->key_names[k][0] == '\0' || strcmp(a->key_names[k], j->origin) == 0))
			j->key = a->keys[k];
	}
	if (j->key == NULL) {
		audit_finding(a, j->path, "none of the given keys is the journal key %08" PRIX32 " of %s: give it with --pubkey",
		    j->key_id, j->origin);
		free(res);
		return 0;
	}
	struct rctx x = { j, { a, j->path } };
	struct dfi_jverify_opts vo = { .pubkey = j->key, .finding = fin_cb, .ctx = &x };
	memset(res, 0, sizeof(*res));
	e = dfi_journal_verify_file(j->path, &vo, res);
	if (e == DFI_E_NOMEM) {
		free(res);
		cli_fail(j->path, DFI_E_NOMEM);
		return -1;
	}
	j->records = res->records;
	j->covered = res->covered;
	free(res);
	return 0;
}

/* ---- the witnessed checkpoints ------------------------------------------------------- */

struct cps {
	struct dfi_pgreg_checkpoint *v;
	size_t n, cap;
	int oom;
};

static void
cp_cb(void *ctx, const struct dfi_pgreg_checkpoint *cp)
{
	struct cps *c = ctx;
	struct dfi_pgreg_checkpoint *v = dfi_grow(c->v, &c->cap, c->n + 1, 64, sizeof(*v));
	if (v == NULL) {
		c->oom = 1;
		return;
	}
	c->v = v;
	c->v[c->n++] = *cp;
}

static void
refusal_cb(void *ctx, const struct dfi_pgreg_refusal *rf)
{
	struct audit *a = ctx;
	audit_finding(a, "registry",
	    "at %s the registry refused checkpoint %" PRIu64 " of %s from station %s (database user %s): %s", rf->when,
	    rf->new_size, rf->origin, rf->station, rf->db_user, rf->reason);
}

static int
audit_witnessed(struct audit *a, dfi_pgreg *r)
{
	struct cps c = { 0 };
	char why[600];
	dfi_err e = dfi_pgreg_each_checkpoint(r, cp_cb, &c, why, sizeof(why));
	if (e != DFI_OK || c.oom) {
		cli_errorf("audit: reading the registry's checkpoints: %s", c.oom ? "out of memory" : why);
		free(c.v);
		return -1;
	}
	a->witnessed = c.n;
	/* per origin: the rows c.v[from, to) */
	for (size_t from = 0; from < c.n;) {
		size_t to = from;
		while (to < c.n && strcmp(c.v[to].origin, c.v[from].origin) == 0)
			to++;
		struct audit_journal *j = audit_journal_of(a, c.v[from].origin);
		if (j == NULL) {
			audit_finding(a, "registry",
			    "the registry witnessed %zu checkpoint(s) of journal %s (last by station %s), which is not "
			    "among the journals given: audit every station's journal",
			    to - from, c.v[from].origin, c.v[to - 1].station);
			from = to;
			continue;
		}
		j->witnessed = 1;
		size_t n = to - from;
		uint64_t *sizes = calloc(n, sizeof(*sizes));
		uint8_t(*roots)[DFI_HASH_LEN] = calloc(n, DFI_HASH_LEN);
		int *found = calloc(n, sizeof(*found));
		if (sizes == NULL || roots == NULL || found == NULL) {
			free(sizes);
			free(roots);
			free(found);
			free(c.v);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			sizes[i] = c.v[from + i].size;
		uint64_t records = 0;
		e = dfi_journal_roots_file(j->path, sizes, n, roots, found, &records);
		for (size_t i = 0; e == DFI_OK && i < n; i++) {
			const struct dfi_pgreg_checkpoint *cp = &c.v[from + i];
			dfi_checkpoint nc;
			if (j->key == NULL)
				break;
			if (dfi_note_open(cp->note, cp->note_len, j->key, &nc) != DFI_OK)
				audit_finding(a, "registry",
				    "witnessed checkpoint %" PRIu64 " of %s (station %s, %s) is not signed by its journal key",
				    cp->size, cp->origin, cp->station, cp->when);
			else if (nc.size != cp->size || memcmp(nc.root, cp->root, DFI_HASH_LEN) != 0 ||
			    strcmp(nc.origin, cp->origin) != 0)
				audit_finding(a, "registry",
				    "witnessed checkpoint %" PRIu64 " of %s: its note names another size or root than its row",
				    cp->size, cp->origin);
			if (!found[i])
				audit_finding(a, j->path,
				    "the registry witnessed %" PRIu64 " records of %s (%s, station %s), the journal has %" PRIu64
				    ": it was truncated or rolled back",
				    cp->size, cp->origin, cp->when, cp->station, records);
			else if (memcmp(roots[i], cp->root, DFI_HASH_LEN) != 0)
				audit_finding(a, j->path,
				    "the journal's first %" PRIu64 " records are not those the registry witnessed (%s, station "
				    "%s): it was rolled back or forked",
				    cp->size, cp->when, cp->station);
			if (cp->latest)
				j->witnessed_size = cp->size;
		}
		if (e != DFI_OK)
			cli_fail(j->path, e);
		free(sizes);
		free(roots);
		free(found);
		from = to;
		if (e != DFI_OK) {
			free(c.v);
			return -1;
		}
	}
	free(c.v);
	for (size_t i = 0; i < a->nj; i++)
		if (!a->j[i].witnessed && a->j[i].origin[0] != '\0')
			audit_finding(a, a->j[i].path, "the registry never witnessed journal %s", a->j[i].origin);
	if (dfi_pgreg_each_refusal(r, refusal_cb, a, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: reading the registry's refusals: %s", why);
		return -1;
	}
	return 0;
}

/* --pubkey KEY (repeatable): every key a journal may be signed with. */
static int
opt_pubkey(void *ctx, const char *v, size_t i)
{
	struct audit *a = ctx;
	return cli_load_pubkey("audit", v, &a->keys[i], a->key_names[i], sizeof(a->key_names[0])) == DFI_EXIT_OK
	    ? 0 : -1;
}

int
sub_audit(int argc, char **argv)
{
	const char *url = NULL;
	struct audit a;
	memset(&a, 0, sizeof(a));
	const struct cli_opt opts[] = { CLI_NEED_STR("registry", &url),
		CLI_NEED_LIST("pubkey", opt_pubkey, &a, &a.nkeys, AUDIT_MAX_KEYS), CLI_OPTS_END };
	const struct cli_spec spec = { .cmd = "audit", .help = help, .opts = opts, .min_operands = 1,
		.max_operands = 1 << 16,
		.needs = "needs --registry URL, --pubkey KEY and at least one JOURNAL (try --help)" };
	int rc = cli_parse(&spec, argc, argv);
	if (rc != CLI_GO_ON)
		goto out;
	rc = DFI_EXIT_OK;
	char why[600];
	if (dfi_pgreg_check_url(url, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: %s", why);
		rc = DFI_EXIT_USAGE;
		goto out;
	}
	a.nj = (size_t)(argc - optind);
	a.j = calloc(a.nj, sizeof(*a.j));
	if (a.j == NULL) {
		rc = cli_fail("audit", DFI_E_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < a.nj; i++)
		a.j[i].path = argv[optind + (int)i];
	struct dfi_pgreg_opts o = { .station = "audit", .max_conns = 1, .timeout_ms = 60000 };
	dfi_pgreg *r = NULL;
	if (dfi_pgreg_open(&r, url, &o, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: %s", why);
		rc = DFI_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < a.nj && rc == DFI_EXIT_OK; i++) {
		if (audit_journal(&a, &a.j[i]) != 0)
			rc = DFI_EXIT_FAIL;
		for (size_t k = 0; k < i; k++)
			if (a.j[i].origin[0] != '\0' && strcmp(a.j[k].origin, a.j[i].origin) == 0) {
				audit_finding(&a, a.j[i].path, "the same journal as %s (origin %s): give each once",
				    a.j[k].path, a.j[i].origin);
				a.j[i].origin[0] = '\0'; /* checked once, as the first */
				a.j[i].witnessed = 1;
			}
	}
	if (rc == DFI_EXIT_OK && audit_witnessed(&a, r) != 0)
		rc = DFI_EXIT_FAIL;
	if (rc == DFI_EXIT_OK && audit_cards(&a, r) != 0)
		rc = DFI_EXIT_FAIL;
	dfi_pgreg_free(r);
	if (rc == DFI_EXIT_OK) {
		uint64_t records = 0;
		for (size_t i = 0; i < a.nj; i++)
			records += a.j[i].records;
		if (a.findings == 0)
			printf("audit: OK: %zu journal(s), %" PRIu64 " records, %zu witnessed checkpoint(s) all in their "
			       "journals, %" PRIu64 " card record(s) in the registry, all the journals' own, its key slots "
			       "their replay\n",
			    a.nj, records, a.witnessed, a.card_records);
		else
			printf("audit: FAILED: %" PRIu64 " finding(s)\n", a.findings);
		rc = a.findings == 0 ? DFI_EXIT_OK : DFI_EXIT_FAIL;
	}
out:
	free(a.j);
	for (size_t k = 0; k < a.nkeys; k++)
		dfi_jpubkey_free(a.keys[k]);
	return rc;
}
