/*
 * "Card equals profile": a test oracle that compares a simulated card's
 * committed state (simulator inspection API) with a profile, field by
 * field, keys included (the target keys are diversified in the HSM and
 * compared inside dfi_cardkey_with_bytes callbacks). Reusable by any test
 * directory: add card_check.c to the test's SOURCES and this directory to
 * its include path.
 */
#ifndef DFI_TEST_CARD_CHECK_H
#define DFI_TEST_CARD_CHECK_H

#include <stddef.h>

#include "desfire_sim.h"
#include "dfissue/cardkey.h"
#include "dfissue/hsm.h"
#include "dfissue/profile.h"

/* 1 when the card holds exactly the profile's target state (PICC key and
 * settings, configuration, the set of applications, their key settings,
 * key types and every key with its version, every file's settings and
 * content), 0 when not (why receives the first difference), -1 when the
 * check itself failed (why says so). row may be NULL. */
int dfi_test_card_matches_profile(dfi_sim *sim, dfi_hsm *hsm, const dfi_profile *p,
    const dfi_batch_row *row, char *why, size_t cap);

/* 1 when key keyno of aid (0 = PICC) on the card equals the profile key k
 * diversified for this card; 0 when not; -1 on error. */
int dfi_test_card_key_is(dfi_sim *sim, dfi_hsm *hsm, const struct dfi_profile_key *k,
    uint32_t aid, uint8_t keyno, const dfi_batch_row *row);

/* 1 when key keyno of aid (0 = PICC) on the card is ck, bytes and
 * version (compared inside the dfi_cardkey_with_bytes callback); 0 when
 * not; -1 on error. */
int dfi_test_sim_holds_key(dfi_sim *sim, uint32_t aid, uint8_t keyno, const dfi_cardkey *ck);

/* Makes a factory card arrive with the profile's transport key, as its
 * supplier would: a diversified one is derived in the HSM for this card's
 * UID and written into the card's committed state (dfi_sim_set_picc_key).
 * 0 (also for a factory profile), -1 with why. */
int dfi_test_card_arrives_with_transport(dfi_sim *sim, dfi_hsm *hsm, const dfi_profile *p,
    const dfi_batch_row *row, char *why, size_t cap);

/* Formats why (when not NULL; cap bytes) and returns rc: an oracle's "no,
 * because ..." in one statement (card_check answers 0 with it, the tear
 * fixture -1). */
int dfi_test_why(int rc, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
