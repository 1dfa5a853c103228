/* Witnessing off the card's path (docs/JOURNAL.md, "Witnessing"): a
 * station with the PostgreSQL registry personalizes simulated cards while
 * its witness thread submits the journal's checkpoints. The registry's
 * witnessed checkpoint is then made another tree's (as a journal rolled
 * back or forked would show): the next asynchronous witnessing is refused,
 * and the station's next card stops at its claim, with nothing but the
 * UID read sent to it, no claim and no intent in the registry. */
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

/* The registry's witnessed size of the journal, as text. */
static const char *
witnessed_size(void)
{
	return rt_val(DB, "SELECT coalesce(max(size), 0) FROM dfissue.journals");
}

START_TEST(a_refused_asynchronous_witness_stops_the_station_before_its_next_card)
{
	struct pfix f;
	char url[PATH_MAX + 160], why[600], detail[256] = "", want[24];
	pf_open(&f, "reference");
	dfi_pgreg *pg = rt_registry(DB, "wasync", url, sizeof(url));
	dfi_jpubkey *pk = NULL;
	dfi_registry *reg = NULL;
	ck_assert_int_eq(dfi_jpubkey_from_signer(f.signer, &pk), DFI_OK);
	ck_assert_msg(dfi_registry_new_pg(&reg, pg, f.journal, f.jdir, pk, why, sizeof(why)) == DFI_OK, "%s", why);
	struct dfi_perso_config pc = { .hsm = f.hsm, .journal = f.journal, .profile = f.profile, .station = "wasync",
		.detail = detail, .detail_cap = sizeof(detail), .registry = reg };
	dfi_perso *p = NULL;
	ck_assert_msg(dfi_perso_new(&p, &pc) == DFI_OK, "%s", detail);

	/* a card: done, its checkpoint witnessed by the thread shortly after */
	struct dfi_perso_result res;
	struct counted k;
	ck_assert_int_eq(card(p, f.row, 0xA51, &res, &k), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	ck_assert_uint_gt(k.change_keys, 0);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)dfi_journal_size(f.journal));
	long t0 = dfi_pg_now_ms();
	while (strcmp(witnessed_size(), want) != 0) {
		ck_assert_msg(dfi_pg_now_ms() - t0 < 10000, "not witnessed: %s of %s", witnessed_size(), want);
		usleep(20 * 1000);
	}
	/* requests for a checkpoint already witnessed cost no round trip (the
	 * synchronous witness waits for the thread's sync in progress) */
	struct dfi_pgreg_stats s0, s1;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(f.journal, note, sizeof(note), &nl), DFI_OK);
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
	dfi_err e = card(p, f.row, 0xA52, &res, &k);
	if (e == DFI_OK)
		ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s", res.detail);
	else
		ck_assert_msg(e == DFI_E_JOURNAL_ROLLBACK && res.outcome == DFI_PERSO_FAILED, "%d: %s", (int)e, res.detail);
	t0 = dfi_pg_now_ms();
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
	e = card(p, f.row, 0xA53, &res, &k);
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

	dfi_perso_free(p);
	dfi_registry_free(reg);
	dfi_jpubkey_free(pk);
	dfi_pgreg_free(pg);
	pf_close(&f);
}
END_TEST

static int
run(Suite *s)
{
	return rt_main(s);
}

int
main(void)
{
	if (pf_make_token() != 0) {
		fprintf(stderr, "dev token could not be made\n");
		pf_remove_root();
		return EXIT_FAILURE;
	}
	int rc = dfi_test_main("registry_witness_async", &(struct dfi_test_case){ .timeout = 120, .run = run },
	    (const TTest *[]){ a_refused_asynchronous_witness_stops_the_station_before_its_next_card, NULL });
	pf_remove_root();
	return rc;
}
