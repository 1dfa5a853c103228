/*
 * dfissue — the issuance registry: what is known of each card UID, asked
 * before a card gets its first key, and a claim so that one station at a
 * time works on a UID.
 *
 * The journal stays the proof and the point of durability (journal.h): it
 * is append-only, signed, and synced before any ChangeKey. The registry is
 * state derived from journals, shaped for questions the engine asks per
 * card:
 *
 *   - lookup: has this UID been issued (a key slot holds a committed key)?
 *     which key versions and generations does each slot hold? which intents
 *     are open? is a re-issue authorized?
 *   - claim: one station (reader) at a time per UID, with a lease;
 *   - journaled: records the engine appended, AFTER the journal made them
 *     durable (never before: a registry update never precedes the intent of
 *     a ChangeKey);
 *   - witness: a signed checkpoint of the station's journal.
 *
 * The registry is never trusted over the journal: an auditor replays the
 * journals against it. Backends implement a private vtable
 * (engine/registry/registry_int.h). Today there is one:
 *
 *   local — the journal index of the station's own journal (no server).
 *     lookup reads the index (dfi_journal_card); claims are in-process (a
 *     mutex-protected table shared by the station threads of one handle:
 *     the journal's writer lock already keeps every other process off this
 *     journal, so the claims of one process are all the claims there are;
 *     leases do not expire, a claim lives until released); journaled
 *     checks that the records are indeed covered by the journal (the index
 *     took them in at the append) and stores nothing; witness checks the
 *     checkpoint is this journal's and does not go back (it has no state
 *     outside the journal, so it cannot detect a journal rolled back between
 *     runs: that needs a registry on another machine).
 *
 *   postgresql — many stations on many hosts share one database
 *     (pgregistry.h, dfi_registry_new_pg): claims with leases that expire
 *     (and that a later process of the same journal takes over at once:
 *     the same writer lock makes it the holder's successor), issued state
 *     and open intents of every station's journal, and every journal
 *     witnessed.
 *
 * Thread safety: one dfi_registry may be shared by threads (the station
 * threads of one process must share one, so their claims see each other).
 * A dfi_reg_claim belongs to the thread that took it.
 */
#ifndef DFISSUE_REGISTRY_H
#define DFISSUE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"
#include "dfissue/journal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_registry dfi_registry;
typedef struct dfi_reg_claim dfi_reg_claim;

/* The local backend over the station's journal, which must outlive it. */
dfi_err dfi_registry_new_local(dfi_registry **out, dfi_journal *journal);

/* A read-only backend over one station's journal file (a journal directory
 * or its journal.log), for a reader that must write nothing, such as
 * dfissue inspect --journal: each lookup verifies the file again (its
 * station may be appending to it) and answers from its records as the
 * local backend answers from an open journal (dfi_journal_file_card); a
 * journal with any finding answers nothing, and dfi_registry_last_error
 * names its first finding. pubkey checks the checkpoints' signatures;
 * NULL: not checked. It is borrowed and must outlive the handle. Claims,
 * records and witnessing are refused with DFI_E_INVALID_ARG: no tap may
 * write through it. */
dfi_err dfi_registry_new_journal_file(dfi_registry **out, const char *path,
    const dfi_jpubkey *pubkey);
void dfi_registry_free(dfi_registry *r);
/* Frees r as dfi_registry_free does, after sending what still waits for
 * the registry: the PostgreSQL backend's queued releases (sent off the
 * card's path) and the outcomes deferred to go with them. Returns DFI_OK
 * when all of it reached the registry (always for the local backend, and
 * for r NULL); else the first failure, a release that failed earlier
 * included, with its reason (one line, never secret) in why (may be NULL).
 * Then the cards whose release failed stay claimed until their leases run
 * out, and outcomes not told reach the registry at the journal's next open
 * (reconciliation). r is freed in every case; no other thread may use it
 * any more. For a station closing after work; dfi_registry_free is for
 * error paths. */
dfi_err dfi_registry_close(dfi_registry *r, char *why, size_t cap);

/* Gives up on r's backend at once, for a process that must stop now even
 * if the registry does not answer: for PostgreSQL, dfi_pgreg_abandon() on
 * the dfi_pgreg r was made on (pgregistry.h says what follows: every call
 * in flight returns within milliseconds with DFI_E_REGISTRY_ABANDONED, no
 * new call is sent, dfi_registry_close does not wait for the queued
 * releases or the witness; the claims held run out with their leases and
 * the records not told reach the registry at the journal's next open).
 * The local backend (no server to wait for): nothing. Thread-safe and
 * async-signal-safe; r NULL: nothing. */
void dfi_registry_abandon(dfi_registry *r);

/* "local", ... (for logs and `dfissue inspect`). */
const char *dfi_registry_backend(const dfi_registry *r);

/* ---- claims ------------------------------------------------------------- */

/* Takes the UID for holder (a station/reader name, shown to others) for
 * lease_ms milliseconds (0: the backend's default). DFI_E_UID_CLAIMED when
 * another holder has it; then who (may be NULL) names that holder. A claim
 * is released with dfi_registry_release (which frees it) and renewed before
 * its lease runs out with dfi_registry_renew. */
dfi_err dfi_registry_claim(dfi_registry *r, const uint8_t *uid, size_t uid_len, const char *holder,
    unsigned lease_ms, dfi_reg_claim **out, char *who, size_t who_cap);
dfi_err dfi_registry_renew(dfi_reg_claim *c, unsigned lease_ms);
void dfi_registry_release(dfi_reg_claim *c);

/* ---- lookup ------------------------------------------------------------- */

enum dfi_reg_slot_state {
	DFI_REG_SLOT_UNKNOWN = 0, /* nothing known (never recorded, forgotten by an authorization, resolved none) */
	DFI_REG_SLOT_INITIAL,     /* the key the card arrived with (a change was aborted or did not happen) */
	DFI_REG_SLOT_CHANGED,     /* the new key of a committed (or resolved-new) key change */
};

/* One key slot of a card. */
struct dfi_reg_slot {
	uint32_t aid;             /* 0 = PICC level */
	uint8_t keyno;
	enum dfi_reg_slot_state state;
	int version;              /* last recorded key version, -1 unknown */
	uint32_t generation;      /* CHANGED: the generation of the key it holds */
	uint64_t changed_by;      /* CHANGED: seq of that intent in its journal */
	int has_open_intent;      /* a key change of this slot has no outcome yet */
	/* The journal that recorded it (its checkpoint origin). Borrowed from
	 * the backend for the visitor's call only: copy it to keep it. */
	const char *origin;
	/* The profile digest of the intent behind state (dfi_jrec profile),
	 * when it carried one (both backends keep it; PostgreSQL from schema
	 * version 6). */
	int has_profile;
	uint8_t profile[DFI_J_PROFILE_LEN];
};

/* What is known of a card UID. */
struct dfi_reg_card {
	int issued;               /* at least one slot is CHANGED */
	unsigned slots, changed, open_intents;
	unsigned refusals;
	uint64_t last_refusal;    /* seq in the local journal, valid when refusals > 0 */
	unsigned authorizations;
	uint64_t last_authorization; /* ditto, valid when authorizations > 0 */
	int authorization_pending;   /* authorized, and no key change since */
};

/* Optional visitors of a lookup: every key slot, and every open intent,
 * key or change (DFI_JREC_CHANGE; counted in open_intents too, in both
 * backends) (the full intent record; local = it is in this station's journal, so
 * this station can record its outcome). They must not call back into the
 * registry or the journal. */
struct dfi_reg_visit {
	void (*slot)(void *ctx, const struct dfi_reg_slot *s);
	void (*intent)(void *ctx, const dfi_jrec *intent, int local);
	void *ctx;
};

/* Fills *out (all zero for a UID never seen) and calls the visitors. */
dfi_err dfi_registry_lookup(dfi_registry *r, const uint8_t *uid, size_t uid_len,
    struct dfi_reg_card *out, const struct dfi_reg_visit *visit);

/* ---- after the journal ---------------------------------------------------- */

/* Records the engine appended (with their seq) once the journal made them
 * durable: intents, outcomes, refusals, authorizations. Calling it before
 * the journal is an error the local backend detects (DFI_E_INVALID_ARG). */
dfi_err dfi_registry_journaled(dfi_registry *r, const dfi_jrec *recs, size_t n);

/* A signed checkpoint note of the station's journal (dfi_journal_checkpoint).
 * DFI_E_JOURNAL_ROLLBACK when it does not extend the last one witnessed,
 * DFI_E_JOURNAL_FORMAT when it is not a note of this journal. */
dfi_err dfi_registry_witness(dfi_registry *r, const uint8_t *note, size_t len);

/* The same off the caller's path (a station's card): the backend witnesses
 * the journal's newest checkpoint on a thread of its own and this returns
 * at once. A backend without such a thread (local) witnesses now. Once an
 * asynchronous witnessing failed (a checkpoint refused: the journal was
 * rolled back or forked; or the registry did not answer within its
 * timeout), this, dfi_registry_witness_failed, and every later claim and
 * journaled call of the handle return that failure: the station takes no
 * new card and announces no key change (docs/JOURNAL.md, "Witnessing"). */
dfi_err dfi_registry_witness_async(dfi_registry *r, const uint8_t *note, size_t len);
/* That kept failure, without waiting (DFI_OK when none). */
dfi_err dfi_registry_witness_failed(dfi_registry *r);

/* The reason the backend's last failed call gave (the server's message,
 * what broke), for logs; empty when it has none. Never secret. */
void dfi_registry_last_error(dfi_registry *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
