/* Parallel stations: one thread per reader, shared HSM, journal and batch. */
#include <fnmatch.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "jtext.h"
#include "jwipe.h"
#include "core/clock.h"
#include "core/errclass.h"
#include "core/grow.h"
#include "dfissue/pcsc.h"
#include "dfissue/perso.h"
#include "dfissue/util.h"
#include "log.h"
#include "perso_cli.h"
#include "signals.h"
#include "stations.h"
#include "status.h"
#include "termtext.h"

/* How long a pattern waits for pcscd to show a matching reader. */
#define EXPAND_WAIT_MS 10000
/* Slices of every wait, so a stop request is seen quickly. */
#define SLICE_MS 500

struct shared {
	pthread_mutex_t mu;
	const struct stations_config *cfg;
	unsigned long claimed, finished;
	unsigned long done, resumed, unknown, failed, tears;
	unsigned long refused;
	int stop, fatal;
	long start_ms, last_ms;
	/* UIDs finished in this run: such a card left in (or put back into) a
	 * reader must not take another batch row. */
	uint8_t (*uids)[10];
	size_t n_uids, cap_uids;
	/* Rows handed back: a card given the row it began with in an earlier
	 * run (dfi_perso_card_batch) leaves the row it was claimed with for
	 * the next card, in the batch's order. */
	dfi_batch_row **back;
	size_t n_back, cap_back;
};

struct station {
	struct shared *sh;
	struct cli_reader r;
	dfi_perso *p;
	char *spec;
	const char *name; /* short: the reader name without "pcsc:" */
	int is_sim;
	pthread_t tid;
	int started;
	unsigned long cards, done, resumed, unknown, failed, tears;
	unsigned long refused;
	unsigned idx; /* its line in the status block */
	int left_torn; /* serve(): the card left torn and did not come back */
};

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int
is_pattern(const char *spec)
{
	return strncmp(spec, "pcsc:", 5) == 0 && strpbrk(spec + 5, "*?[") != NULL;
}

int
stations_add(struct stations_spec *s, const char *spec)
{
	if (s->n >= STATIONS_MAX) {
		cli_errorf("personalize: at most %d --reader options", STATIONS_MAX);
		return -1;
	}
	s->spec[s->n++] = spec;
	return 0;
}

int
stations_wanted(const struct stations_spec *s)
{
	/* One PC/SC reader too: a station keeps the finished-UID guard (a card
	 * put back takes no new batch row) and refuses another card while a
	 * torn one is awaited. A single sim: reader keeps the plain loop (it
	 * holds one card, and --tear-at works there only). */
	return s->n > 1 || (s->n == 1 && strncmp(s->spec[0], "pcsc:", 5) == 0);
}

static int
stopped(struct shared *sh)
{
	pthread_mutex_lock(&sh->mu);
	int s = sh->stop || cli_signal_count() > 0; /* SIGTERM/SIGINT: no new card */
	pthread_mutex_unlock(&sh->mu);
	return s;
}

/* Stops the run; returns 1 for the first fatal stop (its cause is said
 * once for the run, not once per reader that meets it). */
static int
request_stop(struct shared *sh, int fatal)
{
	pthread_mutex_lock(&sh->mu);
	int first = fatal && !sh->fatal;
	sh->stop = 1;
	if (fatal)
		sh->fatal = 1;
	pthread_mutex_unlock(&sh->mu);
	return first;
}

/* The engine's per-step lines: debug level (-v); the status block shows
 * the current one on a terminal. */
static void
progress(void *ctx, const char *ev)
{
	const struct station *st = ctx;
	unsigned a, b;
	char uid[21];
	if (sscanf(ev, "step %u/%u", &a, &b) == 2)
		cli_status_reader(st->idx, NULL, ev);
	else if (sscanf(ev, "card %20[0-9A-F]: %u step", uid, &a) == 2)
		cli_status_reader(st->idx, uid, "read: planning");
	/* Conflicts (a refusal names each one) are for the operator, not -v. */
	cli_log(strstr(ev, ": conflict") != NULL ? CLI_LOG_WARNING : CLI_LOG_DEBUG, "  [%s] %s",
	    st->name, ev);
}

/* Adds spec to the list unless already there; takes ownership of spec. */
static int
list_add(char ***list, unsigned *n, char *spec)
{
	if (spec == NULL)
		return cli_fail("personalize", DFI_E_NOMEM);
	for (unsigned i = 0; i < *n; i++)
		if (strcmp((*list)[i], spec) == 0) {
			free(spec);
			return DFI_EXIT_OK;
		}
	if (*n >= STATIONS_MAX) {
		free(spec);
		return cli_usagef("personalize: more than %d readers", STATIONS_MAX);
	}
	(*list)[(*n)++] = spec;
	return DFI_EXIT_OK;
}

/* How long a pattern may wait for its first match: EXPAND_WAIT_MS, or
 * less when the run gives up on an idle reader sooner (--wait-ms). */
static long
pattern_wait_ms(int wait_ms)
{
	return wait_ms >= 0 && wait_ms < EXPAND_WAIT_MS ? wait_ms : EXPAND_WAIT_MS;
}

/* pcscd adds readers as their drivers come up: a pattern waits a little
 * (wait_ms) for at least one match rather than failing on a freshly
 * started pcscd. pcscd down is said at once. */
static int
expand_pattern(const char *spec, long wait_ms, char ***list, unsigned *n)
{
	const char *pat = spec + 5;
	long deadline = dfi_now_ms() + wait_ms;

	for (;;) {
		struct dfi_pcsc_reader *r = NULL;
		size_t count = 0, matched = 0;
		int rc = DFI_EXIT_OK;
		dfi_err e = dfi_pcsc_list_readers(&r, &count);
		for (size_t i = 0; e == DFI_OK && rc == DFI_EXIT_OK && i < count; i++) {
			if (fnmatch(pat, r[i].name, 0) != 0)
				continue;
			char buf[300];
			snprintf(buf, sizeof(buf), "pcsc:%s", r[i].name);
			rc = list_add(list, n, strdup(buf));
			matched++;
		}
		int late = dfi_now_ms() >= deadline;
		if (rc == DFI_EXIT_OK && matched == 0 && e == DFI_OK && late)
			rc = cli_pcsc_unknown(spec, "pcscd knows no reader that matches", r, count);
		dfi_pcsc_readers_free(r, count);
		if (rc != DFI_EXIT_OK || matched > 0)
			return rc;
		if (e == DFI_E_PCSC_NO_SERVICE || (e != DFI_OK && late))
			return cli_pcsc_fail("personalize", e);
		nap(250);
	}
}

/* Why a reader is unavailable, for the line that says the station waits
 * for it: pcscd gone is said as such, with how to start it, as at start. */
static const char *
reader_gone_why(void)
{
	struct dfi_pcsc_reader *r = NULL;
	size_t n = 0;
	dfi_err e = dfi_pcsc_list_readers(&r, &n);
	dfi_pcsc_readers_free(r, n);
	return e == DFI_E_PCSC_NO_SERVICE ?
	    "pcscd stopped answering: start it ('systemctl start pcscd.socket', or 'pcscd'); a "
	    "card cut short is finished by its next tap" :
	    "reader unavailable (unplugged, or pcscd restarted)";
}

/* How often a station still waiting for its reader says so again. */
#define GONE_REMIND_MS 60000L

/* Waits for a card: 1 when one is connected, 0 when the run stops or the
 * reader stayed idle past wait_ms, -1 on an error (printed). A reader
 * that vanishes (unplugged, pcscd stopped or restarted) is waited for
 * again, said when the cause changes and once a minute while it lasts. */
static int
wait_card(struct station *st)
{
	const struct stations_config *c = st->sh->cfg;
	long idle_from = dfi_now_ms(), said_at = 0;
	const char *said_gone = NULL;
	int said_busy = 0;

	for (;;) {
		if (stopped(st->sh))
			return 0;
		dfi_err e = dfi_transport_wait_card(st->r.t, SLICE_MS);
		if (e == DFI_OK)
			return 1;
		if (e == DFI_E_CARD_TORN || e == DFI_E_NO_CARD) {
			/* Left mid-command: pcscd still reports it for ~400 ms. */
			nap(200);
		} else if (e == DFI_E_READER) {
			const char *why = reader_gone_why();
			if (why != said_gone || dfi_now_ms() - said_at >= GONE_REMIND_MS) {
				cli_log(CLI_LOG_WARNING, "[%s] %s: %s", st->name, why,
				    said_gone == why ? "still waiting for it" : "waiting for it");
				said_gone = why;
				said_at = dfi_now_ms();
			}
			nap(1000);
		} else if (e == DFI_E_READER_BUSY) {
			if (!said_busy)
				cli_log(CLI_LOG_WARNING, "[%s] %s", st->name, dfi_strerror(e));
			said_busy = 1;
			nap(1000);
		} else if (e != DFI_E_TIMEOUT) {
			cli_log(CLI_LOG_ERR, "[%s] waiting for a card: %s", st->name, dfi_strerror(e));
			return -1;
		}
		if (c->wait_ms >= 0 && dfi_now_ms() - idle_from >= c->wait_ms)
			return 0;
	}
}

/* Waits until the card has left: 1, or 0 when the run stops or the
 * reader stays idle (the card left in it) past wait_ms. */
static int
wait_removed(struct station *st)
{
	const struct stations_config *c = st->sh->cfg;
	long idle_from = dfi_now_ms();

	while (!stopped(st->sh)) {
		dfi_err e = dfi_transport_wait_removed(st->r.t, SLICE_MS);
		if (e == DFI_OK || e == DFI_E_NO_CARD)
			return 1;
		if (e == DFI_E_READER)
			nap(1000);
		else if (e != DFI_E_TIMEOUT)
			return 1;
		if (c->wait_ms >= 0 && dfi_now_ms() - idle_from >= c->wait_ms)
			return 0;
	}
	return 0;
}

/* The card's UID as the reader reports it (PC/SC part 3 GET DATA), as the
 * engine reads it; len 0 when the reader gives none (the checks that use
 * it are then skipped). A tear is returned as such. */
static dfi_err
card_uid(struct station *st, uint8_t uid[10], size_t *len)
{
	static const uint8_t getdata[5] = { 0xFF, 0xCA, 0x00, 0x00, 0x00 };
	uint8_t r[16];
	size_t n = 0;

	*len = 0;
	dfi_err e = dfi_transport_transmit(st->r.t, getdata, sizeof(getdata), r, sizeof(r), &n);
	if (e != DFI_OK)
		return e;
	if (n >= 2 && n - 2 <= 10 && r[n - 2] == 0x90 && r[n - 1] == 0x00) {
		memcpy(uid, r, n - 2);
		*len = n - 2;
	}
	return DFI_OK;
}

static int
uid_finished(struct shared *sh, const uint8_t *uid, size_t len)
{
	int found = 0;
	if (len != 7)
		return 0; /* random IDs (4 bytes) say nothing */
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n_uids && !found; i++)
		found = memcmp(sh->uids[i], uid, len) == 0;
	pthread_mutex_unlock(&sh->mu);
	return found;
}

static void
uid_add(struct shared *sh, const uint8_t *uid, size_t len)
{
	if (len != 7)
		return;
	pthread_mutex_lock(&sh->mu);
	void *v = dfi_grow(sh->uids, &sh->cap_uids, sh->n_uids + 1, 64, sizeof(*sh->uids));
	if (v != NULL) {
		sh->uids = v;
		memcpy(sh->uids[sh->n_uids++], uid, len);
	}
	pthread_mutex_unlock(&sh->mu);
}

static void
hex_uid(const uint8_t *uid, size_t len, char out[21])
{
	out[0] = '\0';
	if (len == 0 || dfi_hex_encode(uid, len, out, 21) != DFI_OK)
		snprintf(out, 21, "?");
}

static void
report(struct station *st, unsigned long n, const dfi_batch_row *row,
    const struct dfi_perso_result *res, int taps)
{
	char uid[21] = "";
	int ok = res->outcome == DFI_PERSO_DONE || res->outcome == DFI_PERSO_RESUMED;

	if (res->uid_len > 0)
		dfi_hex_encode(res->uid, res->uid_len, uid, sizeof(uid));
	if (st->sh->cfg->json) {
		/* the reader's name (from the device) and the detail (it may quote
		 * a registry row, or be cut inside a character) need not be UTF-8:
		 * null and *_hex then (jtext.h), never a card's line left out */
		json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:I, s:i, s:o}",
		    "card", (json_int_t)n, "reader", cli_json_text(st->spec), "uid", uid, "outcome",
		    dfi_perso_outcome_name(res->outcome), "error",
		    ok ? NULL : dfi_errname(res->err), "steps_total", (int)res->steps_total,
		    "steps_done", (int)res->steps_done, "key_changes", (int)res->key_changes,
		    "intents_resolved", (int)res->intents_resolved, "apdus",
		    (json_int_t)res->apdus, "taps", taps, "detail", cli_json_text(res->detail));
		cli_json_text_hex(o, "reader", st->spec);
		cli_json_text_hex(o, "detail", res->detail);
		if (o != NULL && row != NULL)
			json_object_set_new(o, "batch_line", json_integer(dfi_batch_row_line(row)));
		if (o != NULL)
			perso_cli_json_extra(o, res);
		if (o != NULL) {
			/* One write per line: threads must not interleave; the
			 * status block (on the same terminal) is redrawn below. */
			cli_status_lock();
			cli_status_erase();
			flockfile(stdout);
			cli_json_puts(o, JSON_COMPACT);
			fflush(stdout);
			funlockfile(stdout);
			cli_status_draw();
			cli_status_unlock();
		}
		json_decref(o);
		return;
	}
	/* the detail may quote the registry or the journal (a refusal's reason) */
	char detail[CLI_TT_CAP(sizeof(res->detail) - 1)];
	cli_tt(detail, sizeof(detail), res->detail);
	cli_status_lock();
	cli_status_erase();
	flockfile(stdout);
	printf("card %lu [%s] %s: %s (%u/%u steps, %u key changes, %u resolved, %llu APDUs, "
	       "%d tap%s)%s%s\n",
	    n, st->name, uid[0] ? uid : "?", dfi_perso_outcome_name(res->outcome),
	    res->steps_done, res->steps_total, res->key_changes, res->intents_resolved,
	    (unsigned long long)res->apdus, taps, taps == 1 ? "" : "s",
	    res->detail[0] ? ": " : "", detail);
	fflush(stdout);
	funlockfile(stdout);
	cli_status_draw();
	cli_status_unlock();
}

/* Claims the next card number and batch row; 0 when the run is over. */
static int
claim(struct station *st, unsigned long *n, dfi_batch_row **row)
{
	struct shared *sh = st->sh;
	const struct stations_config *c = sh->cfg;
	int ok = 0;

	*row = NULL;
	pthread_mutex_lock(&sh->mu);
	if (sh->stop || (c->cards > 0 && sh->claimed >= c->cards))
		goto out;
	if (c->batch != NULL && sh->n_back > 0) {
		size_t first = 0;
		for (size_t i = 1; i < sh->n_back; i++)
			if (dfi_batch_row_line(sh->back[i]) < dfi_batch_row_line(sh->back[first]))
				first = i;
		*row = sh->back[first];
		sh->back[first] = sh->back[--sh->n_back];
	} else if (c->batch != NULL) {
		struct dfi_diag diag;
		memset(&diag, 0, sizeof(diag));
		dfi_err e = dfi_batch_next(c->batch, row, &diag);
		if (e != DFI_OK) {
			cli_error_code("batch");
			cli_errorf("%s", diag.message[0] ? diag.message : dfi_strerror(e));
			sh->stop = sh->fatal = 1;
			goto out;
		}
		if (*row == NULL) {
			cli_log(CLI_LOG_NOTICE, "batch finished");
			sh->stop = 1;
			goto out;
		}
	}
	*n = ++sh->claimed;
	ok = 1;
out:
	pthread_mutex_unlock(&sh->mu);
	return ok;
}

/* The card began with another row: its claimed row goes to the next
 * card. Without room to keep it the row is lost to this run (said). */
static void
put_back(struct station *st, dfi_batch_row *row)
{
	struct shared *sh = st->sh;
	pthread_mutex_lock(&sh->mu);
	void *v = dfi_grow(sh->back, &sh->cap_back, sh->n_back + 1, 8, sizeof(*sh->back));
	if (v != NULL) {
		sh->back = v;
		sh->back[sh->n_back++] = row;
		row = NULL;
	}
	pthread_mutex_unlock(&sh->mu);
	if (row != NULL) {
		cli_log(CLI_LOG_WARNING, "[%s] out of memory: line %d of the batch is not given to "
		    "another card in this run", st->name, dfi_batch_row_line(row));
		dfi_batch_row_free(row);
	}
}

static void
tally(struct station *st, const struct dfi_perso_result *res, int torn)
{
	struct shared *sh = st->sh;
	unsigned long *mine, *all;

	switch (res->outcome) {
	case DFI_PERSO_DONE: mine = &st->done; all = &sh->done; break;
	case DFI_PERSO_RESUMED: mine = &st->resumed; all = &sh->resumed; break;
	case DFI_PERSO_UNKNOWN_KEYS: mine = &st->unknown; all = &sh->unknown; break;
	case DFI_PERSO_REFUSED: mine = &st->refused; all = &sh->refused; break;
	default: mine = &st->failed; all = &sh->failed; break;
	}
	pthread_mutex_lock(&sh->mu);
	(*mine)++;
	(*all)++;
	st->tears += (unsigned long)torn;
	sh->tears += (unsigned long)torn;
	sh->finished++;
	sh->last_ms = dfi_now_ms();
	if (sh->cfg->cards > 0 && sh->finished >= sh->cfg->cards)
		sh->stop = 1;
	double secs = (double)(sh->last_ms - sh->start_ms) / 1000.0;
	cli_status_counts(st->idx, st->done + st->resumed, st->failed + st->unknown);
	cli_status_total(sh->done + sh->resumed, sh->failed + sh->unknown,
	    secs > 0 ? (double)(sh->done + sh->resumed) * 60.0 / secs : 0.0);
	pthread_mutex_unlock(&sh->mu);
}

/* After a tear: waits for the torn card itself. Another card presented
 * meanwhile is refused (it would take the torn card's batch row); 1 when
 * the card is back, 0 when the run stops or the reader stays idle. */
static int
wait_same_card(struct station *st, const struct dfi_perso_result *torn)
{
	for (;;) {
		int w = wait_card(st);
		if (w <= 0)
			return w;
		uint8_t uid[10];
		size_t len;
		if (card_uid(st, uid, &len) != DFI_OK)
			continue; /* torn again while reading the UID */
		if (torn->uid_len != 7 || len != 7 || memcmp(uid, torn->uid, 7) == 0)
			return 1;
		char want[21], got[21];
		hex_uid(torn->uid, torn->uid_len, want);
		hex_uid(uid, len, got);
		cli_log(CLI_LOG_WARNING, "[%s] card %s is not the torn card %s: remove it and "
		    "present %s", st->name, got, want, want);
		if (!wait_removed(st))
			return 0;
	}
}

/* "card 3 of 40" when the run's size is known, else "card 3". */
static void
card_label(const struct station *st, unsigned long n, char *buf, size_t cap)
{
	unsigned long total = st->sh->cfg->total;
	/* A card given back its own row leaves its claimed row to a later
	 * card: a run may serve more cards than its rows. */
	if (total > 0 && n <= total)
		snprintf(buf, cap, "card %lu of %lu", n, total);
	else
		snprintf(buf, cap, "card %lu", n);
}

/* One card, tap after tap until it is finished or given up. The result
 * reported covers every tap (cli_result_merge). */
static int
serve(struct station *st, unsigned long n, dfi_batch_row **claimed)
{
	struct dfi_perso_result res, tap;
	int taps = 0, torn = 0;
	char label[64];
	const char *batch = st->sh->cfg->batch_path;
	const dfi_batch_row *row = *claimed;
	dfi_batch_row *own = NULL; /* the row the card began with, when not *claimed */
	int rc = 0;

	st->left_torn = 0;
	card_label(st, n, label, sizeof(label));
	cli_log(CLI_LOG_INFO, "[%s] %s: personalizing", st->name, label);
	cli_status_reader(st->idx, "", label);
	for (;;) {
		dfi_batch_row *found = NULL;
		dfi_err e = dfi_perso_card_batch(st->p, st->r.t, row != NULL ? batch : NULL, row, &tap,
		    &found);
		if (found != NULL) {
			if (own == NULL) {
				cli_log(CLI_LOG_INFO, "[%s] card %lu: given line %d of the batch, the row it "
				    "began with in an earlier run; line %d goes to the next card", st->name, n,
				    dfi_batch_row_line(found), dfi_batch_row_line(*claimed));
				put_back(st, *claimed);
				*claimed = NULL;
			}
			dfi_batch_row_free(own);
			own = found;
			row = own;
		}
		cli_result_merge(&res, &tap, taps == 0);
		taps++;
		if (e != DFI_OK) {
			/* The journal or the registry failed: no station may touch
			 * another card. */
			int first = request_stop(st->sh, 1);
			report(st, n, row, &res, taps);
			tally(st, &res, torn); /* the summary counts it: failed */
			if (e == DFI_E_REGISTRY_ABANDONED) {
				/* a second signal: said once for the run, at the
				 * registry's close (cli_registry_finish) */
			} else if (dfi_err_is_registry(e)) {
				if (first)
					cli_fail("stopping", e);
				cli_log(CLI_LOG_WARNING, "[%s] card %lu: nothing more is sent to any card; "
				    "the card keeps what the journal recorded: present it again once the "
				    "registry answers, to this station's next run on this journal at once, to "
				    "another station once this run's claim of it has lapsed (--claim-lease)",
				    st->name, n);
			} else if (first) {
				cli_journal_fail(st->sh->cfg->journal, e, st->sh->cfg->journal_token);
			}
			rc = -1;
			goto out;
		}
		if (res.outcome != DFI_PERSO_FAILED || res.err != DFI_E_CARD_TORN)
			break;
		torn++;
		char uid[21] = "?";
		if (res.uid_len > 0)
			dfi_hex_encode(res.uid, res.uid_len, uid, sizeof(uid));
		cli_log(CLI_LOG_WARNING, "[%s] card %lu %s: torn (%s): present the card again",
		    st->name, n, uid, res.detail);
		cli_status_reader(st->idx, uid, "torn: present the card again");
		/* A simulated card comes back at once; three tears in a row end it. */
		if (st->is_sim && (taps >= 3 || cli_signal_count() > 0))
			break;
		if (!st->is_sim && cli_signal_count() == 0)
			(void)dfi_transport_wait_removed(st->r.t, 2000);
		if (wait_same_card(st, &res) <= 0) {
			cli_log(CLI_LOG_WARNING, "[%s] card %lu %s: left torn; the next tap of this "
			    "card finishes it", st->name, n, uid);
			st->left_torn = 1;
			break;
		}
	}
	report(st, n, row, &res, taps);
	tally(st, &res, torn);
	char uid[21];
	hex_uid(res.uid, res.uid_len, uid);
	cli_status_reader(st->idx, uid, dfi_perso_outcome_name(res.outcome));
	if (res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED)
		uid_add(st->sh, res.uid, res.uid_len);
out:
	dfi_batch_row_free(own);
	return rc;
}

static void *
station_main(void *arg)
{
	struct station *st = arg;

	for (;;) {
		if (st->is_sim && st->cards >= 1)
			break; /* a simulated reader holds one card */
		if (wait_card(st) <= 0)
			break;
		uint8_t uid[10];
		size_t len;
		if (card_uid(st, uid, &len) != DFI_OK)
			continue; /* gone again: wait for it */
		if (uid_finished(st->sh, uid, len)) {
			char hex[21];
			hex_uid(uid, len, hex);
			cli_log(CLI_LOG_WARNING, "[%s] card %s was personalized in this run: "
			    "remove it", st->name, hex);
			if (!wait_removed(st))
				break;
			continue;
		}
		unsigned long n;
		dfi_batch_row *row;
		if (!claim(st, &n, &row))
			break;
		st->cards++;
		int rc = serve(st, n, &row);
		dfi_batch_row_free(row);
		if (rc != 0 || st->is_sim)
			break;
		/* A card left torn is not in the reader: nothing to remove. */
		if (!stopped(st->sh) && !st->left_torn) {
			cli_log(CLI_LOG_INFO, "[%s] card %lu: remove the card", st->name, n);
			cli_status_reader(st->idx, NULL, "remove the card");
			if (!wait_removed(st))
				break;
			cli_status_reader(st->idx, "", "waiting for a card");
		}
	}
	return NULL;
}

int
stations_check(const struct stations_spec *s, int wait_ms)
{
	for (unsigned i = 0; i < s->n; i++) {
		const char *spec = s->spec[i];
		if (strncmp(spec, "pcsc:", 5) != 0)
			continue;
		if (!is_pattern(spec)) {
			/* A name pcscd does not know is a typo, not an unplugged
			 * reader: say so now instead of waiting for it for ever. */
			int rc = cli_pcsc_check_reader("personalize", spec + 5);
			if (rc != DFI_EXIT_OK)
				return rc;
			continue;
		}
		/* A pattern that matches nothing must fail before the journal
		 * is created, after the same wait for readers coming up as
		 * stations_run() gives it; the readers are matched again there
		 * (by then they are up). */
		char *found[STATIONS_MAX], **fp = found;
		unsigned nf = 0;
		int rc = expand_pattern(spec, pattern_wait_ms(wait_ms), &fp, &nf);
		for (unsigned k = 0; k < nf; k++)
			free(found[k]);
		if (rc != DFI_EXIT_OK)
			return rc;
	}
	return DFI_EXIT_OK;
}

static int
open_station(struct station *st, struct shared *sh, char *spec)
{
	const struct stations_config *c = sh->cfg;
	char detail[256] = "";

	st->sh = sh;
	st->spec = spec;
	st->is_sim = strncmp(spec, "sim:", 4) == 0;
	st->name = strncmp(spec, "pcsc:", 5) == 0 ? spec + 5 : spec;
	int rc = cli_reader_open(&st->r, spec, 0, DFI_SIM_TEAR_AFTER);
	if (rc != DFI_EXIT_OK)
		return rc;
	if (cli_signals_wrap(&st->r.t) != DFI_OK)
		return cli_fail(spec, DFI_E_NOMEM);
	struct dfi_perso_config pc = { .hsm = c->hsm, .journal = c->journal,
		.profile = c->profile, .station = c->station, .progress = progress,
		.progress_ctx = st, .detail = detail, .detail_cap = sizeof(detail),
		.registry = c->registry, .reissue = c->reissue, .nreissue = c->nreissue,
		.originality_keys = c->originality_keys, .keys_from = c->keys_from,
		.claim_lease_ms = c->claim_lease_ms };
	dfi_err e = dfi_perso_new(&st->p, &pc);
	if (e == DFI_E_NOMEM) {
		cli_nomem_advice(detail, sizeof(detail));
		cli_errorf("[%s] %s; no card was touched", st->name, detail);
		return DFI_EXIT_FAIL;
	} else if (e != DFI_OK) {
		cli_errorf("profile: %s", detail[0] ? detail : dfi_strerror(e));
		return DFI_EXIT_FAIL;
	}
	return DFI_EXIT_OK;
}

static void
summary(const struct shared *sh, const struct station *st, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cli_log(CLI_LOG_NOTICE, "[%s] %lu card(s): %lu done, %lu resumed, %lu unknown-keys, "
		    "%lu refused, %lu failed, %lu tear(s)", st[i].name, st[i].cards, st[i].done,
		    st[i].resumed, st[i].unknown, st[i].refused, st[i].failed, st[i].tears);
	long end = sh->finished > 0 ? sh->last_ms : dfi_now_ms();
	double secs = (double)(end - sh->start_ms) / 1000.0;
	double per_min = secs > 0 ? (double)(sh->done + sh->resumed) * 60.0 / secs : 0.0;
	int sig = cli_signal_count();
	cli_log(CLI_LOG_NOTICE, "summary: %lu card(s) on %u reader(s): %lu done, %lu resumed, "
	    "%lu unknown-keys, %lu refused, %lu failed, %lu tear(s); %.1f s, %.1f cards/min%s",
	    sh->finished, n, sh->done, sh->resumed, sh->unknown, sh->refused, sh->failed, sh->tears,
	    secs, per_min, sig >= 2 ? "; stopped at once by a second signal" :
	    sig == 1 ? "; stopped by a signal" : "");
}

int
stations_run(const struct stations_spec *s, const struct stations_config *c)
{
	char **specs = calloc(STATIONS_MAX, sizeof(*specs));
	struct station *st = calloc(STATIONS_MAX, sizeof(*st));
	struct shared sh;
	unsigned n = 0, opened = 0;
	int rc = DFI_EXIT_OK;

	memset(&sh, 0, sizeof(sh));
	sh.cfg = c;
	if (specs == NULL || st == NULL || pthread_mutex_init(&sh.mu, NULL) != 0) {
		free(specs);
		free(st);
		return cli_fail("stations", DFI_E_NOMEM);
	}
	for (unsigned i = 0; rc == DFI_EXIT_OK && i < s->n; i++) {
		if (is_pattern(s->spec[i]))
			rc = expand_pattern(s->spec[i], pattern_wait_ms(c->wait_ms), &specs, &n);
		else
			rc = list_add(&specs, &n, strdup(s->spec[i]));
	}
	for (unsigned i = 0; rc == DFI_EXIT_OK && i < n; i++) {
		rc = open_station(&st[i], &sh, specs[i]);
		specs[i] = NULL; /* owned by the station now */
		opened = i + 1;
	}
	if (rc == DFI_EXIT_OK) {
		char line[1024];
		size_t used = (size_t)snprintf(line, sizeof(line), "%u station(s):", n);
		const char *names[STATIONS_MAX];
		for (unsigned i = 0; i < n; i++) {
			if (used < sizeof(line))
				used += (size_t)snprintf(line + used, sizeof(line) - used, " [%s]",
				    st[i].name);
			st[i].idx = i;
			names[i] = st[i].name;
		}
		cli_log(CLI_LOG_INFO, "%s", line);
		cli_status_start(n, names);
		sh.start_ms = dfi_now_ms();
		for (unsigned i = 0; i < n; i++) {
			if (pthread_create(&st[i].tid, NULL, station_main, &st[i]) != 0) {
				request_stop(&sh, 1);
				rc = cli_fail("starting a station thread", DFI_E_NOMEM);
				break;
			}
			st[i].started = 1;
		}
		for (unsigned i = 0; i < n; i++)
			if (st[i].started)
				pthread_join(st[i].tid, NULL);
		cli_status_stop();
		summary(&sh, st, n);
		if (rc == DFI_EXIT_OK && (sh.fatal || sh.finished == 0 || sh.failed > 0 ||
		    sh.unknown > 0 || sh.refused > 0))
			rc = DFI_EXIT_FAIL;
		/* A stop signal is a clean stop (a service's `systemctl stop`):
		 * exit 0 unless the journal or the HSM failed; the summary and
		 * the per-card results say how each card ended. A second signal
		 * says it stopped at once. */
		if (cli_signal_count() == 1 && !sh.fatal)
			rc = DFI_EXIT_OK;
		else if (cli_signal_count() >= 2 && rc != DFI_EXIT_USAGE)
			rc = DFI_EXIT_INTERRUPTED;
	}
	for (unsigned i = 0; i < opened; i++) {
		dfi_perso_free(st[i].p);
		cli_reader_close(&st[i].r);
		free(st[i].spec);
	}
	for (unsigned i = 0; i < n; i++)
		free(specs[i]);
	pthread_mutex_destroy(&sh.mu);
	free(sh.uids);
	for (size_t i = 0; i < sh.n_back; i++)
		dfi_batch_row_free(sh.back[i]);
	free(sh.back);
	free(specs);
	free(st);
	return rc;
}
