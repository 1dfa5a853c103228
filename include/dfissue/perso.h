/*
 * dfissue — the personalization engine: brings one card, tap after tap, to
 * the target state a profile describes (docs/PERSONALIZATION.md).
 *
 * Each tap reads what the card holds (UID, version, key versions,
 * applications, files), resolves open key-change intents of the journal by
 * probing the card, plans the remaining steps and executes them in an order
 * that keeps risk low: applications and files first, application keys next,
 * the PICC master key, its settings and the configuration last. Every
 * ChangeKey is wrapped in journal intent -> APDU -> commit/abort; the intent
 * is durable and signed before the APDU leaves. A tap ends by verifying:
 * every new key authenticates, every file reads back as written.
 *
 * Before the first key leaves for a card, the card must earn it: the
 * issuance registry (registry.h) is asked about its UID (a UID already
 * issued whose card shows factory or transport keys is refused), a
 * transport key, when the profile names one, must authenticate, and the
 * NXP originality signature is checked as the profile's policy says. A
 * refused card gets nothing and a refusal record goes into the journal.
 *
 * Thread safety: a dfi_perso handle is used by one thread at a time (one
 * handle per reader thread). Several handles may share one dfi_hsm, one
 * dfi_journal and one dfi_registry (all thread-safe) and one dfi_profile
 * (read-only).
 *
 * The card after a tap: dfi_perso_card and dfi_perso_inspect end with the
 * card still authenticated (the last key they used, EV2 secure messaging
 * or D40/EV1), and the session that authenticated ends with the call. A
 * caller who talks to the same card on the same transport afterwards with
 * its own dfi_desfire session starts unauthenticated while the card is
 * not: its first plain command gets a MAC-less frame the card refuses
 * (DFI_E_DF_LENGTH_ERROR for GetVersion). Begin such a session with
 * dfi_desfire_select_application(d, 0), which the card accepts plain and
 * which ends its authentication, or have the card presented again (it
 * powers up unauthenticated). The next dfi_perso_card needs neither: every
 * tap starts that way itself.
 */
#ifndef DFISSUE_PERSO_H
#define DFISSUE_PERSO_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/profile.h"
#include "dfissue/registry.h"
#include "dfissue/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_perso dfi_perso;

/* An operator's authorization to issue a UID again (a replaced chip, a card
 * the issuer formatted): journaled, with its reason, before it is used. */
struct dfi_perso_reissue {
	uint8_t uid[10];
	size_t uid_len;
	const char *reason;       /* required, at most 127 bytes, never secrets */
};

struct dfi_perso_config {
	dfi_hsm *hsm;                 /* shared, thread-safe; outlives the handle */
	dfi_journal *journal;         /* shared, thread-safe (group commit); may be NULL for inspect only */
	const dfi_profile *profile;   /* outlives the handle */
	const char *station;          /* name in progress lines (the journal has its own) */
	/* Optional: one line per step, no secrets. */
	void (*progress)(void *ctx, const char *event);
	void *progress_ctx;
	/* Optional: receives one line saying why dfi_perso_new failed. */
	char *detail;
	size_t detail_cap;
	/* The issuance registry. Station threads of one process must share
	 * one (their claims must see each other). NULL: a local registry of
	 * this handle's own over journal. */
	dfi_registry *registry;
	/* Operator re-issue authorizations for this run (copied); each is used
	 * at most once per run, and only for a UID the registry says is issued.
	 * A batch row can carry one too: fields reissue_uid (hex) and
	 * reissue_reason (string). */
	const struct dfi_perso_reissue *reissue;
	size_t nreissue;
	/* A file of more trusted originality keys (originality.h), added to the
	 * profile's; NULL: none. */
	const char *originality_keys;
	/* Another handle on the same HSM and profile whose base keys this one
	 * uses instead of looking them up again (several readers, many
	 * stations in tests); it must outlive this handle. NULL: look up. */
	const dfi_perso *keys_from;
	/* How long a card's claim in a shared registry lasts, in ms, from the
	 * claim and from each key change told since (docs/OPERATIONS.md 12.5):
	 * another station may take the card of a station that died only once
	 * it has run out. 0: DFI_PERSO_CLAIM_LEASE_DEFAULT_MS; else
	 * DFI_PERSO_CLAIM_LEASE_MIN_MS .. DFI_PERSO_CLAIM_LEASE_MAX_MS
	 * (DFI_E_INVALID_ARG otherwise). The local registry's claims do not
	 * expire (one process). */
	unsigned claim_lease_ms;
};

#define DFI_PERSO_CLAIM_LEASE_DEFAULT_MS 60000u
#define DFI_PERSO_CLAIM_LEASE_MIN_MS 1000u
#define DFI_PERSO_CLAIM_LEASE_MAX_MS 3600000u

/* Validates the profile for personalization (every base key found in the
 * HSM with the right type; target key versions differ from the factory
 * version 0) and looks the base keys up once. DFI_E_PROFILE (or the HSM's
 * error) with a one-line reason in cfg->detail when the profile cannot be
 * used. */
dfi_err dfi_perso_new(dfi_perso **out, const struct dfi_perso_config *cfg);
/* Frees the handle and what it made itself (its key handles, a local
 * registry); what the config named (HSM, journal, registry, profile)
 * stays the caller's and must outlive the handle. */
void dfi_perso_free(dfi_perso *p);


enum dfi_perso_outcome {
	DFI_PERSO_DONE,          /* personalized and verified on this tap */
	DFI_PERSO_RESUMED,       /* same, after finishing work an earlier tap began */
	DFI_PERSO_UNKNOWN_KEYS,  /* a key matches no candidate: card left untouched */
	DFI_PERSO_FAILED,        /* see err; a tear is DFI_E_CARD_TORN */
	DFI_PERSO_REFUSED,       /* the card has not earned keys: nothing was sent, journaled */
};

/* "done", "resumed", "unknown-keys", "failed", "refused"; "?" for another
 * value. Static strings. */
const char *dfi_perso_outcome_name(enum dfi_perso_outcome o);

struct dfi_perso_result {
	enum dfi_perso_outcome outcome;
	dfi_err err;                  /* why FAILED (e.g. DFI_E_CARD_TORN) */
	uint8_t uid[10];
	size_t uid_len;
	unsigned steps_total, steps_done; /* of the plan made on this tap */
	unsigned key_changes, intents_resolved;
	uint64_t apdus;               /* on this tap */
	char detail[640];             /* one line for the operator; never secrets */
	/* REFUSED: why, and the seq of the journal's refusal record. */
	dfi_jcause refusal_cause;
	uint64_t refusal_seq;
	/* A re-issue authorization journaled on this tap (seq), 0 if none. */
	uint64_t authorization_seq;
	/* The originality check: "verified by KEY", "no signature", "bad
	 * signature", "not supported (EV1)", "off", or "" when not reached. */
	char originality[96];
	/* The reader saw a random ID: the UID above was read with GetCardUID
	 * after authenticating with a key that does not depend on it. */
	int random_id;
	/* REFUSED with cause conflict: how many (each one progress line). */
	unsigned conflicts;
};

/* What a tap's APDUs are for, as the engine tags them on its transport
 * (dfi_transport_set_phase) so that a benchmark can count them per phase:
 * reading the card's state before planning (the UID, version, keys,
 * applications, files), executing the plan, the final verification, and
 * settling the intents a torn tap left open. */
enum dfi_perso_phase {
	DFI_PERSO_PHASE_NONE = 0,
	DFI_PERSO_PHASE_STATE,
	DFI_PERSO_PHASE_EXEC,
	DFI_PERSO_PHASE_VERIFY,
	DFI_PERSO_PHASE_RECOVERY,
};
#define DFI_PERSO_NPHASES 5

/* One tap: claim the UID, read state, recover open intents, check that the
 * card may get keys (else REFUSED), plan, execute, verify. A tear
 * returns DFI_OK with outcome FAILED and err DFI_E_CARD_TORN (the caller
 * waits for the card again). A UID another reader is working on ends FAILED
 * with DFI_E_UID_CLAIMED after the UID was read and nothing else. Any other failure also returns DFI_OK with
 * outcome FAILED and err set; the return value is an error only when the
 * call itself was wrong (DFI_E_INVALID_ARG) or the journal could not be
 * written (then nothing more is sent to any card). row may be NULL when the
 * profile needs no batch. The transport must already hold a card. */
dfi_err dfi_perso_card(dfi_perso *p, dfi_transport *t, const dfi_batch_row *row,
    struct dfi_perso_result *res);

/* dfi_perso_card for a run that hands out the rows of the batch file
 * batch_path in order, row being the next one. A card the journal or the
 * registry already knows under this profile (torn in an earlier run, or
 * issued and presented again) is given back the row it began with: the
 * row whose target for this UID has the profile digest its intents
 * carry (docs/PERSONALIZATION.md, "A card's own batch row"). Then *own is
 * that row, the caller's (dfi_batch_row_free), even when the tap did not
 * end done: give it to the card's next tap; row was not used, and goes to
 * the next card. Else *own is NULL and the tap used row. A card whose
 * history matches no row of the file is given row, as dfi_perso_card
 * does. The file is read again only for a card with history that row
 * does not match. DFI_E_INVALID_ARG when batch_path is given without
 * own. */
dfi_err dfi_perso_card_batch(dfi_perso *p, dfi_transport *t, const char *batch_path,
    const dfi_batch_row *row, struct dfi_perso_result *res, dfi_batch_row **own);

/* Read-only: what the card holds and the steps that remain (printable,
 * multi-line); no key changes, nothing journaled. Without keys where the
 * card allows (free listing); with trial authentication otherwise.
 * On DFI_OK *report is a NUL-terminated string of the caller's, to free
 * with free(); else *report is NULL (also when an argument is), except
 * when the inspection failed after the UID and before it asked the card
 * what it holds (the card's history unreadable from the handle's
 * registry, the batch row not fitting the profile): that error is
 * returned with *report holding its reason, one line without a newline,
 * the caller's (NULL when memory ran out). And except when the card's
 * state was read but the plan stopped on the host's side (an HSM call,
 * the journal, the registry, memory: not something the card holds): that
 * error is returned with *report holding the report, whose "no plan" line
 * names the failure; it ends with a newline, as a report on DFI_OK does. */
dfi_err dfi_perso_inspect(dfi_perso *p, dfi_transport *t, const dfi_batch_row *row,
    char **report);

/* dfi_perso_inspect for an operator who knows the card's batch file but
 * not its row: row is the one to compare with when the card's history
 * names none (the file's first, say). A card whose history under this
 * profile (the registry's, or the journal's) carries the digest of
 * another row of batch_path is compared with that row, found as
 * dfi_perso_card_batch finds it, and the report names its line. The
 * history comes from the perso handle's registry: without one there is
 * none, and row is used. batch_path NULL is dfi_perso_inspect. */
dfi_err dfi_perso_inspect_batch(dfi_perso *p, dfi_transport *t, const char *batch_path,
    const dfi_batch_row *row, char **report);

/* The minimum APDU count the profile needs on a factory card (for
 * benchmarks); the formula is in docs/PERSONALIZATION.md. */
unsigned dfi_perso_min_apdus(const dfi_profile *profile);

#ifdef __cplusplus
}
#endif
#endif
