/* Shared fixture of the perso tests: a dev token (made once per test
 * program), the HSM, a journal, the reference profile and its first batch
 * row, simulated cards. */
#ifndef DFI_PERSO_FIX_H
#define DFI_PERSO_FIX_H

#include "desfire_sim.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"
#include "testutil.h"

struct pfix {
	dfi_hsm *hsm;
	dfi_signer *signer;
	dfi_journal *journal;
	char jdir[512];
	dfi_profile *profile;
	dfi_batch *batch;
	dfi_batch_row *row;
	dfi_perso *perso;
};

/* The fixture root (a temp dir holding dev/ with the token). */
extern char pf_root[256];
int pf_make_token(void);
void pf_remove_root(void);

/* The main() of a test program on the dev token: makes it (with the
 * generation-2 keys too when gen2), runs the tests (dfi_test_main,
 * testutil.h, c as there), removes it. Returns the exit status. */
int pf_test_main(const char *name, const struct dfi_test_case *c, int gen2,
    const TTest *const *tests);
#define PF_TEST_MAIN(name, timeout_s, ...)                                       \
	int main(void)                                                           \
	{                                                                        \
		return pf_test_main(name,                                        \
		    &(struct dfi_test_case){ .timeout = (timeout_s) }, 0,        \
		    (const TTest *[]){ __VA_ARGS__, NULL });                     \
	}
void pf_open(struct pfix *f, const char *profile_name);
void pf_close(struct pfix *f);
/* As a restarted station: the journal reopened from its directory (its
 * index rebuilt from the file) and a new perso on it. */
void pf_restart(struct pfix *f);
/* A journal verifying with the token's public key, with no unresolved
 * intent; returns the number of intents it holds that were not aborted
 * (none of these tests has a card refuse a ChangeKey). */
unsigned pf_journal_verifies(struct pfix *f);
/* The fixture's cards: a factory EV2 card from seed (its UID and
 * randomness), kept in image (NULL: in memory), without fsync (test
 * speed). pf_card_config fills those settings for a caller that changes
 * some before dfi_sim_new. */
void pf_card_config(struct dfi_sim_config *cfg, uint64_t seed, const char *image);
dfi_sim *pf_card(uint64_t seed, const char *image);
/* Asserts that the card saved in image (the simulator's state file)
 * equals the profile and its first batch row, as the card_check oracle
 * reads it; its own fixture, so the caller's journal is not touched. */
void pf_assert_image_is(const char *profile_name, uint64_t seed, const char *image);
/* The generation-2 key ceremony on the token (make-dev-token.sh
 * --generation2); 0 on success. */
int pf_add_generation2(void);
/* Runs a shell command; its exit status (-1 when it did not exit), its
 * output (NUL-terminated, cut at cap) in out. */
int pf_run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A transport that forwards to inner and shows seen(arg, APDU) every
 * command before it is sent, and seen(arg, NULL, 0) when a card is waited
 * for (a new connection). The caller frees *out, then inner. */
typedef void (*pf_seen_fn)(void *arg, const uint8_t *capdu, size_t clen);
void pf_watch_new(dfi_transport *inner, pf_seen_fn seen, void *arg, dfi_transport **out);

#endif
