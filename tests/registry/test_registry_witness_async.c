/* The registry off and on the card's path. Witnessing off it
 * (docs/JOURNAL.md, "Witnessing"): a
 * station with the PostgreSQL registry personalizes simulated cards while
 * its witness thread submits the journal's checkpoints. The registry's
 * witnessed checkpoint is then made another tree's (as a journal rolled
 * back or forked would show): the next asynchronous witnessing is refused,
 * and the station's next card stops at its claim, with nothing but the
 * UID read sent to it, no claim and no intent in the registry. On it: an
 * application's intents told in one round trip before its first ChangeKey
 * (issue 13). */
#include "perso_fix.h"
#include "regtest.h"

#include "dfissue/registry.h"

#define DB "t_wasync"

struct counted {
	unsigned apdus, change_keys;
};

static void
seen(void *arg, const uint8_t *c, size_t n)
{
	struct counted *k = arg;
	if (c == NULL)
		return;
	k->apdus++;
	k->change_keys += n >= 2 && c[0] == 0x90 && c[1] == 0xC4;
}

/* One card through perso (seed: its UID); the APDUs it got, counted. */
static dfi_err
card(dfi_perso *p, const dfi_batch_row *row, uint64_t seed, struct dfi_perso_result *res, struct counted *k)
{
	dfi_sim *sim = pf_card(seed, NULL);
	dfi_transport *t = NULL, *w = NULL;
	ck_assert_int_eq(dfi_sim_transport_new(sim, &t), DFI_OK);
	memset(k, 0, sizeof(*k));
	pf_watch_new(t, seen, k, &w);
	dfi_err e = dfi_perso_card(p, w, row, res);
	dfi_transport_free(w);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	return e;
}

/* Until the registry has witnessed the journal's newest checkpoint (the
 * station's witness thread is idle then). */
static void
wait_witnessed(const char *db, dfi_journal *j)
{
	char want[24];
	const char *q = "SELECT coalesce(max(size), 0) FROM dfissue.journals";
	snprintf(want, sizeof(want), "%llu", (unsigned long long)dfi_journal_size(j));
	long t0 = dfi_pg_now_ms();
	while (strcmp(rt_val(db, q), want) != 0) {
		ck_assert_msg(dfi_pg_now_ms() - t0 < 10000, "not witnessed: %s of %s", rt_val(db, q), want);
		usleep(20 * 1000);
	}
}

/* A station of the reference profile (a dev token, a journal) on database
 * db's registry, its witness thread running. */
struct station {
	struct pfix f;
	dfi_pgreg *pg;
	dfi_jpubkey *pk;
	dfi_registry *reg;
	dfi_perso *p;
	char detail[256];
};

static void
station_open(struct station *s, const char *db, const char *name)
{
	char url[PATH_MAX + 160], why[600];
	memset(s, 0, sizeof(*s));
	pf_open(&s->f, "reference");
	s->pg = rt_registry(db, name, url, sizeof(url));
	ck_assert_int_eq(dfi_jpubkey_from_signer(s->f.signer, &s->pk), DFI_OK);
	ck_assert_msg(dfi_registry_new_pg(&s->reg, s->pg, s->f.journal, s->f.jdir, s->pk, why, sizeof(why)) == DFI_OK,
	    "%s", why);
	struct dfi_perso_config pc = { .hsm = s->f.hsm, .journal = s->f.journal, .profile = s->f.profile,
		.station = name, .detail = s->detail, .detail_cap = sizeof(s->detail), .registry = s->reg };
	ck_assert_msg(dfi_perso_new(&s->p, &pc) == DFI_OK, "%s", s->detail);
}

static void
station_close(struct station *s)
{
	dfi_perso_free(s->p);
	dfi_registry_free(s->reg);
	dfi_jpubkey_free(s->pk);
	dfi_pgreg_free(s->pg);
	pf_close(&s->f);
}

/* A witnessing now: after the releases queued before it (their failure). */
static dfi_err
drain(struct station *s)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(s->f.journal, note, sizeof(note), &nl), DFI_OK);
	return dfi_registry_witness(s->reg, note, nl);
}

START_TEST(a_refused_asynchronous_witness_stops_the_station_before_its_next_card)
{
	struct station st;
	char why[600];
	station_open(&st, DB, "wasync");
	dfi_pgreg *pg = st.pg;
	dfi_registry *reg = st.reg;
	dfi_perso *p = st.p;

	/* a card: done, its checkpoint witnessed by the thread shortly after */
	struct dfi_perso_result res;
	struct counted k;
	ck_assert_int_eq(card(p, st.f.row, 0xA51, &res, &k), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	ck_assert_uint_gt(k.change_keys, 0);
	wait_witnessed(DB, st.f.journal);
	/* requests for a checkpoint already witnessed cost no round trip (the
	 * synchronous witness waits for the thread's sync in progress) */
	struct dfi_pgreg_stats s0, s1;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(st.f.journal, note, sizeof(note), &nl), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(reg, note, nl), DFI_OK);
	dfi_pgreg_get_stats(pg, &s0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(dfi_registry_witness_async(reg, note, nl), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(reg, note, nl), DFI_OK); /* after the thread's sync */
	dfi_pgreg_get_stats(pg, &s1);
	ck_assert_uint_eq(s1.background, s0.background);

	/* the registry's witnessed tree is another one now */
	rt_sql(DB, "UPDATE dfissue.journals SET root = '\\x" "00000000000000000000000000000000"
		   "00000000000000000000000000000000'");
	/* a card begun before any refusal is known: done, its checkpoint's
	 * witnessing refused behind it. Or, when a request of the 20 above was
	 * still waiting out the thread's 200 ms gap (a loaded machine), that
	 * witnessing met this card's newer checkpoint and was refused while the
	 * card ran: then the card's next key change was not announced and the
	 * card stopped with the refusal. Both are the rule (JOURNAL.md 12.4). */
	dfi_err e = card(p, st.f.row, 0xA52, &res, &k);
	if (e == DFI_OK)
		ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	else
		ck_assert_msg(e == DFI_E_JOURNAL_ROLLBACK && res.outcome == DFI_PERSO_FAILED, "%d: %s", (int)e, res.detail);
	long t0 = dfi_pg_now_ms();
	while ((e = dfi_registry_witness_failed(reg)) == DFI_OK) {
		ck_assert_msg(dfi_pg_now_ms() - t0 < 10000, "the refusal was not seen");
		usleep(20 * 1000);
	}
	ck_assert_int_eq(e, DFI_E_JOURNAL_ROLLBACK);
	dfi_registry_last_error(reg, why, sizeof(why));
	ck_assert_msg(strstr(why, "refused checkpoint") != NULL, "%s", why);
	ck_assert_str_eq(rt_val(DB, "SELECT count(*) FROM dfissue.witness_refusals"), "1");

	/* the next card: the station stops at its claim (the call fails: the
	 * station's loop ends), no key change, nothing in the registry */
	e = card(p, st.f.row, 0xA53, &res, &k);
	ck_assert_int_eq(e, DFI_E_JOURNAL_ROLLBACK);
	ck_assert_int_eq(res.outcome, DFI_PERSO_FAILED);
	ck_assert_msg(strstr(res.detail, "not witnessed") != NULL, "%s", res.detail);
	ck_assert_uint_eq(k.change_keys, 0);
	ck_assert_uint_gt(k.apdus, 0); /* the UID read, nothing after it */
	ck_assert_str_eq(rt_val(DB, "SELECT count(*) FROM dfissue.claims"), "0");
	char q[200], uid[21];
	dfi_hex_encode(res.uid, res.uid_len, uid, sizeof(uid));
	snprintf(q, sizeof(q), "SELECT count(*) FROM dfissue.intents WHERE uid = '\\x%s'", uid);
	ck_assert_str_eq(rt_val(DB, q), "0");
	/* and every registry call that would announce a key change */
	dfi_reg_claim *c = NULL;
	ck_assert_int_eq(dfi_registry_claim(reg, res.uid, res.uid_len, "wasync/r2", 0, &c, NULL, 0), DFI_E_JOURNAL_ROLLBACK);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(dfi_registry_witness_async(reg, note, nl), DFI_E_JOURNAL_ROLLBACK);
	printf("witnessing off the card's path: a refused checkpoint stopped the next card at its claim (%u APDUs, "
	       "the UID read): %s\n", k.apdus, why);

	station_close(&st);
}
END_TEST

/* ---- the card's path: an application's intents in one round trip ---------- */

#define DB_TOLD "t_itold"
#define MAX_CK 64

/* What the registry showed as each ChangeKey left. */
struct ck_seen {
	uint32_t aid;
	uint8_t keyno;
	unsigned slot_open;  /* open intents of this key slot */
	unsigned all_open;   /* open intents of the card */
	uint64_t path_calls; /* the station's round trips so far, off the witness thread's */
};

struct ck_watch {
	dfi_pgreg *pg;
	uint32_t aid; /* selected */
	struct ck_seen ck[MAX_CK];
	size_t nck;
};

static uint64_t
path_calls(dfi_pgreg *pg)
{
	struct dfi_pgreg_stats s;
	dfi_pgreg_get_stats(pg, &s);
	return s.calls - s.background;
}

static unsigned
told_count(const char *sql)
{
	return (unsigned)strtoul(rt_val(DB_TOLD, sql), NULL, 10);
}

static void
seen_ck(void *arg, const uint8_t *c, size_t n)
{
	struct ck_watch *w = arg;
	char q[200];
	if (c == NULL || n < 6 || c[0] != 0x90)
		return;
	if (c[1] == 0x5A && n >= 8) { /* SelectApplication, AID LSB first */
		w->aid = (uint32_t)c[5] | (uint32_t)c[6] << 8 | (uint32_t)c[7] << 16;
		return;
	}
	if (c[1] != 0xC4) /* ChangeKey: the key number is the plain header */
		return;
	ck_assert_uint_lt(w->nck, MAX_CK);
	struct ck_seen *k = &w->ck[w->nck++];
	k->aid = w->aid;
	k->keyno = c[5] & 0x0F;
	k->path_calls = path_calls(w->pg);
	snprintf(q, sizeof(q), "SELECT count(*) FROM dfissue.intents WHERE open AND aid = %u AND keyno = %u",
	    (unsigned)k->aid, (unsigned)k->keyno);
	k->slot_open = told_count(q);
	k->all_open = told_count("SELECT count(*) FROM dfissue.intents WHERE open");
}

/* Issue 13: every ChangeKey a reference card receives is checked against
 * the registry as it leaves. The registry holds that key slot's intent,
 * open (another station sees it after a tear); the intents of one
 * application (or of the PICC) are told together, so each ChangeKey of an
 * application finds them all open, with no round trip between them; and
 * the card's path costs the claim and one round trip per application with
 * key changes (and the PICC); the release goes off it (release thread). */
START_TEST(each_changekey_finds_its_intent_told_with_its_applications)
{
	struct station st;
	station_open(&st, DB_TOLD, "itold");

	/* a first card, as a station that has been running (the bench's
	 * warm-up; a handle's first card makes one round trip more, outside
	 * this test's question): then the card the figures are about */
	struct dfi_perso_result res;
	struct counted k;
	ck_assert_int_eq(card(st.p, st.f.row, 0x1D6, &res, &k), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	wait_witnessed(DB_TOLD, st.f.journal);

	struct ck_watch *w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	w->pg = st.pg;
	dfi_sim *sim = pf_card(0x1D7, NULL);
	dfi_transport *t = NULL, *wt = NULL;
	ck_assert_int_eq(dfi_sim_transport_new(sim, &t), DFI_OK);
	pf_watch_new(t, seen_ck, w, &wt);
	uint64_t before = path_calls(st.pg);
	ck_assert_int_eq(dfi_perso_card(st.p, wt, st.f.row, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	wait_witnessed(DB_TOLD, st.f.journal);
	uint64_t calls = path_calls(st.pg) - before;

	/* every ChangeKey: its slot's intent open in the registry, and the
	 * whole run of its application's ChangeKeys (told together, the
	 * earlier applications' commits with them) open, with no round trip
	 * since the run's first */
	ck_assert_uint_gt(w->nck, 1);
	ck_assert_uint_eq(w->nck, res.key_changes);
	size_t runs = 0;
	for (size_t i = 0, first = 0; i < w->nck; i++) {
		const struct ck_seen *c = &w->ck[i];
		ck_assert_msg(c->slot_open == 1, "ChangeKey %06X/%u left with %u open intent(s) of its slot in the registry",
		    (unsigned)c->aid, c->keyno, c->slot_open);
		if (i == 0 || c->aid != w->ck[i - 1].aid) {
			first = i;
			runs++;
			if (i > 0)
				ck_assert_uint_eq(c->path_calls, w->ck[i - 1].path_calls + 1);
		}
		size_t end = first;
		while (end < w->nck && w->ck[end].aid == c->aid)
			end++;
		ck_assert_msg(c->all_open == end - first, "ChangeKey %06X/%u: %u intents open, the application has %zu",
		    (unsigned)c->aid, c->keyno, c->all_open, end - first);
		ck_assert_uint_eq(c->path_calls, w->ck[first].path_calls);
	}
	ck_assert_uint_eq(runs, 3); /* the reference profile: two applications and the PICC */
	/* the claim (with the lookup), one per run; the release (with the
	 * outcomes) is the release thread's, counted as background */
	ck_assert_uint_eq(calls, 1 + runs);
	drain(&st);
	ck_assert_str_eq(rt_val(DB_TOLD, "SELECT count(*) FROM dfissue.intents WHERE open"), "0");
	ck_assert_str_eq(rt_val(DB_TOLD, "SELECT count(*) FROM dfissue.claims"), "0");
	printf("%zu ChangeKeys in %zu runs, each with its intent open in the registry; %llu round trips on the "
	       "card's path\n", w->nck, runs, (unsigned long long)calls);

	dfi_transport_free(wt);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	free(w);
	station_close(&st);
}
END_TEST

/* ---- the release off the card's path ---------------------------------------- */

#define DB_REL "t_relbg"

/* Issue 13: a card's release is sent by the release thread. The same UID
 * claimed again at once by the same handle waits for that release and ends
 * claimed (the late release does not delete the new claim). A release the
 * registry fails stops the station as a refused witnessing does: the next
 * claim and tell fail with it, and the close-time witnessing reports it. */
START_TEST(a_release_goes_off_the_path_and_a_failed_one_stops_the_station)
{
	struct station st;
	char why[600];
	station_open(&st, DB_REL, "relbg");
	struct dfi_perso_result res;
	struct counted k;
	struct dfi_pgreg_stats s0, s1;
	dfi_pgreg_get_stats(st.pg, &s0);
	ck_assert_int_eq(card(st.p, st.f.row, 0x7E1, &res, &k), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);

	/* claimed again at once: after the pending release, and kept */
	dfi_reg_claim *c = NULL;
	ck_assert_int_eq(dfi_registry_claim(st.reg, res.uid, res.uid_len, "relbg/again", 0, &c, NULL, 0), DFI_OK);
	ck_assert_int_eq(drain(&st), DFI_OK);
	dfi_pgreg_get_stats(st.pg, &s1);
	ck_assert_uint_gt(s1.background, s0.background); /* the release, at least */
	ck_assert_str_eq(rt_val(DB_REL, "SELECT count(*) FROM dfissue.claims"), "1");
	ck_assert_str_eq(rt_val(DB_REL, "SELECT count(*) FROM dfissue.intents WHERE open"), "0");
	dfi_registry_release(c);
	ck_assert_int_eq(drain(&st), DFI_OK);
	ck_assert_str_eq(rt_val(DB_REL, "SELECT count(*) FROM dfissue.claims"), "0");

	/* the registry now fails every release (a server error) */
	rt_refuse_releases(DB_REL);
	ck_assert_int_eq(card(st.p, st.f.row, 0x7E2, &res, &k), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	long t0 = dfi_pg_now_ms();
	while (dfi_registry_witness_failed(st.reg) == DFI_OK)
		ck_assert_msg(dfi_pg_now_ms() - t0 < 10000, "the failed release was not seen");
	dfi_registry_last_error(st.reg, why, sizeof(why));
	ck_assert_msg(strstr(why, "the test refuses releases") != NULL, "%s", why);
	ck_assert_int_ne(dfi_registry_claim(st.reg, (const uint8_t *)"\x04\x11\x22\x33\x44\x55\x66", 7, "relbg/next", 0,
	    &c, NULL, 0), DFI_OK);
	ck_assert_ptr_null(c);
	/* the next card: refused at its claim, nothing but its UID read */
	ck_assert_int_ne(card(st.p, st.f.row, 0x7E3, &res, &k), DFI_OK);
	ck_assert_uint_eq(k.change_keys, 0);
	ck_assert_int_ne(drain(&st), DFI_OK);
	/* the card whose release failed stays claimed until its lease ends */
	ck_assert_str_eq(rt_val(DB_REL, "SELECT count(*) FROM dfissue.claims"), "1");
	station_close(&st);
}
END_TEST

int
main(void)
{
	if (pf_make_token() != 0) {
		fprintf(stderr, "dev token could not be made\n");
		pf_remove_root();
		return EXIT_FAILURE;
	}
	int rc = dfi_test_main("registry_witness_async", &(struct dfi_test_case){ .timeout = 120, .run = rt_main },
	    (const TTest *[]){ a_refused_asynchronous_witness_stops_the_station_before_its_next_card,
		each_changekey_finds_its_intent_told_with_its_applications,
		a_release_goes_off_the_path_and_a_failed_one_stops_the_station, NULL });
	pf_remove_root();
	return rc;
}
