/* The tear tests' scenarios (tear_fix.h): a profile and how a fresh card
 * arrives. Every tear test (matrix singles and pairs, kill, HSM faults,
 * cross-station) runs over each; CMakeLists.txt lists which with what
 * strides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_check.h"
#include "tear_fix.h"

/* The first issue's APDU at which rotation_torn tears it (AFTER mode). */
#define TEAR_ROTATION_FIRST_TEAR 60

/* The card's supplier loaded the PICC transport key the profile names,
 * diversified for this card's UID. */
static int
arrives_with_transport_key(struct tear_env *e, struct tear_card *c, char *why, size_t cap)
{
	return dfi_test_card_arrives_with_transport(c->sim, e->hsm, e->profile, e->row, why, cap);
}

/* Rotation scenarios: the card was issued with profiles/reference.json
 * (generation 1) at another station, under that station's own journal
 * (this one's knows nothing of it); first_tear > 0 tears that first issue
 * at its first_tear-th APDU (the card executed it, the answer was lost),
 * leaving a half-issued card with an intent open at the other station. */
static int
issued_elsewhere_with(struct tear_env *e, struct tear_card *c, const char *first,
    unsigned first_tear, char *why, size_t cap)
{
	const char *src = getenv("DFI_SOURCE_DIR");
	char path[600], dir[400], detail[256] = "";
	struct dfi_journal_opts jo = { .station = "first-issue" };
	struct dfi_perso_result res;
	struct dfi_diag diag;
	dfi_journal *j = NULL;
	dfi_perso *p = NULL;
	dfi_transport *t = NULL;
	int rc = -1;

	if (e->first_profile == NULL) {
		snprintf(path, sizeof(path), "%s/profiles/%s", src ? src : ".", first);
		if (dfi_profile_load(&e->first_profile, path, &diag) != DFI_OK)
			return tear_fail(why, cap, "first issue profile: %s", diag.message);
	}
	struct dfi_perso_config pc = { .hsm = e->hsm, .profile = e->first_profile,
		.station = "first-issue", .detail = detail, .detail_cap = sizeof(detail) };
	if (e->first_keys == NULL && dfi_perso_new(&e->first_keys, &pc) != DFI_OK)
		return tear_fail(why, cap, "first issue keys: %s", detail);
	if (tear_env_case_dir(e, dir, sizeof(dir)) != 0)
		return tear_fail(why, cap, "first issue journal directory");
	if (dfi_journal_create(dir, "issuer.example/first-issue", e->signer, &jo) != DFI_OK ||
	    dfi_journal_open(&j, dir, e->signer, &jo, NULL) != DFI_OK) {
		tear_fail(why, cap, "first issue journal");
		goto out;
	}
	pc.journal = j;
	pc.keys_from = e->first_keys;
	if (dfi_perso_new(&p, &pc) != DFI_OK) {
		tear_fail(why, cap, "first issue perso: %s", detail);
		goto out;
	}
	/* Straight to the card: the guard watches this scenario's station. */
	if (dfi_sim_transport_new(c->sim, &t) != DFI_OK) {
		tear_fail(why, cap, "first issue transport");
		goto out;
	}
	if (first_tear > 0 && dfi_sim_set_tear(c->sim, first_tear, DFI_SIM_TEAR_AFTER) != DFI_OK) {
		tear_fail(why, cap, "first issue tear");
		goto out;
	}
	if (dfi_perso_card(p, t, e->row, &res) != DFI_OK) {
		tear_fail(why, cap, "first issue: %s", res.detail);
		goto out;
	}
	if (first_tear > 0 ? !(res.outcome == DFI_PERSO_FAILED && res.err == DFI_E_CARD_TORN) :
			     res.outcome != DFI_PERSO_DONE) {
		tear_fail(why, cap, "first issue ended %s: %s", dfi_perso_outcome_name(res.outcome),
		    res.detail);
		goto out;
	}
	/* Back on a reader: a new activation (a random-ID card now shows
	 * a random ID). */
	if ((first_tear > 0 ? dfi_sim_insert(c->sim) : dfi_sim_power_cycle(c->sim)) != DFI_OK) {
		tear_fail(why, cap, "first issue: card not back");
		goto out;
	}
	rc = 0;
out:
	dfi_transport_free(t);
	dfi_perso_free(p);
	dfi_journal_close(j);
	tear_rmtree(dir);
	return rc;
}

static int
issued_elsewhere(struct tear_env *e, struct tear_card *c, unsigned first_tear, char *why,
    size_t cap)
{
	return issued_elsewhere_with(e, c, "reference.json", first_tear, why, cap);
}

static int
issued_generation1(struct tear_env *e, struct tear_card *c, char *why, size_t cap)
{
	return issued_elsewhere(e, c, 0, why, cap);
}

/* Issued with profiles/random-id.json at another station: random ID on,
 * the card shows a fresh random ID at each activation. */
static int
issued_random_id(struct tear_env *e, struct tear_card *c, char *why, size_t cap)
{
	return issued_elsewhere_with(e, c, "random-id.json", 0, why, cap);
}

/* Torn right after its third ChangeKey's APDU reached the card: the PICC
 * key and application F54010 are at generation 1, F54020 half done. */
static int
torn_first_issue(struct tear_env *e, struct tear_card *c, char *why, size_t cap)
{
	return issued_elsewhere(e, c, TEAR_ROTATION_FIRST_TEAR, why, cap);
}

static const struct tear_scenario scenarios[] = {
	{ "reference", "reference.json", "reference-batch.csv", NULL,
	    "profiles/reference.json on factory EV2 cards (DES zero PICC key; EV2 secure "
	    "messaging)", DFI_SIM_MODEL_EV2, 0 },
	{ "transport", "transport.json", "reference-batch.csv", arrives_with_transport_key,
	    "profiles/transport.json on cards that arrive with an AES PICC transport key "
	    "diversified from transport-master (the zero key is never tried)", DFI_SIM_MODEL_EV2, 0 },
	{ "rotation", "rotation-g2.json", "reference-batch.csv", issued_generation1,
	    "profiles/rotation-g2.json on cards issued with profiles/reference.json (generation 1) "
	    "at another station: every key rotates to generation 2", DFI_SIM_MODEL_EV2, 1 },
	{ "rotation_torn", "rotation-g2.json", "reference-batch.csv", torn_first_issue,
	    "profiles/rotation-g2.json on cards whose first issue (reference.json, another "
	    "station) was torn midway: generation 1, factory and an unknown intent's keys mixed",
	    DFI_SIM_MODEL_EV2, 1 },
	{ "ev1", "reference.json", "reference-batch.csv", NULL,
	    "profiles/reference.json on factory DESFire EV1 cards (AuthenticateAES, EV1 secure "
	    "messaging; the reference scenario's EV2 cards get AuthenticateEV2First and EV2 "
	    "messaging)", DFI_SIM_MODEL_EV1, 0 },
	/* Issue 12 items 2-3. */
	{ "random_id", "random-id.json", "reference-batch.csv", NULL,
	    "profiles/random-id.json on factory EV2 cards: random ID set right after the UID key's "
	    "change, so torn cards come back with random IDs and are opened with the UID key",
	    DFI_SIM_MODEL_EV2, 0 },
	{ "random_id_rotation", "random-id-g2.json", "reference-batch.csv", issued_random_id,
	    "profiles/random-id-g2.json on random-ID cards issued with profiles/random-id.json at "
	    "another station: the UID key and every other key rotate to generation 2",
	    DFI_SIM_MODEL_EV2, 1 },
	{ "add_app", "add-app.json", "reference-batch.csv", issued_generation1,
	    "profiles/add-app.json on cards issued with profiles/reference.json at another "
	    "station: application F54050 is added, nothing else changes", DFI_SIM_MODEL_EV2, 0 },
	/* Issue 20: LRP and SDM together. */
	{ "ev3", "ev3-reference.json", "reference-batch.csv", NULL,
	    "profiles/ev3-reference.json on factory EV3 cards: switched to LRP (a journaled change) "
	    "after the PICC master key change, then LRP authentication and messaging; its SDM file "
	    "turned on by ChangeFileSettings and verified by a read without a key",
	    DFI_SIM_MODEL_EV3, 0 },
};

const struct tear_scenario *
tear_scenario_find(const char *name)
{
	if (name == NULL)
		name = getenv("TEAR_SCENARIO");
	if (name == NULL || name[0] == '\0')
		name = "reference";
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}
