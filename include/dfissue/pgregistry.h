/*
 * dfissue — the registry's PostgreSQL backend (libpq).
 *
 * Many stations on many hosts share one PostgreSQL database: the schema
 * `dfissue` (versioned, created and migrated by `dfissue registry init
 * URL`, i.e. dfi_pgreg_migrate()) holds what every station must agree on,
 * and witnesses every station journal: each checkpoint a station signs is
 * submitted with an RFC 9162 consistency proof from the last one witnessed,
 * and the database refuses one that does not extend it (a journal rolled
 * back or forked). docs/OPERATIONS.md (deployment, roles, TLS) and
 * docs/JOURNAL.md ("Witnessing and consistency proofs") describe it.
 *
 * The URL is a libpq connection URI (a key=value string is refused). It
 * never carries a password: credentials come from the libpq password file (~/.pgpass or
 * PGPASSFILE), PGPASSWORD, or a client certificate (sslcert/sslkey).
 *
 * A dfi_pgreg is thread-safe: it keeps a small pool of connections, one per
 * call in flight. Every call has a deadline (opts.timeout_ms, connection
 * included, and the lookup of the URL's host names with it: they are
 * resolved on threads of their own and given to libpq as hostaddr, since
 * libpq would wait for the system's resolver); a connection that breaks or
 * times out is dropped and the call fails with DFI_E_REGISTRY_UNREACHABLE
 * (the next call connects again).
 */
#ifndef DFISSUE_PGREGISTRY_H
#define DFISSUE_PGREGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"
#include "dfissue/journal.h"
#include "dfissue/registry.h"
#include "dfissue/signer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this build reads and writes. */
#define DFI_PGREG_SCHEMA_VERSION 7
#define DFI_PGREG_SCHEMA "dfissue"

typedef struct dfi_pgreg dfi_pgreg;

struct dfi_pgreg_opts {
	const char *station;   /* this station's name (application_name, rows it writes); required */
	int timeout_ms;        /* per call, connecting included; 0: 10000 */
	unsigned max_conns;    /* pool size; 0: 8 */
	int skip_schema_check; /* registry init only: do not require the current schema */
};

/* DFI_OK when url is a libpq connection URI (postgresql:// or postgres://;
 * a key=value string is refused) that libpq parses and that carries no
 * password and no sslpassword; otherwise DFI_E_INVALID_ARG (or
 * DFI_E_PARSE) and a message saying what to do in why. */
dfi_err dfi_pgreg_check_url(const char *url, char *why, size_t whycap);

/* Opens the registry: checks the URL, connects once, and (unless
 * skip_schema_check) checks the schema version: DFI_E_REGISTRY_SCHEMA when
 * it is not DFI_PGREG_SCHEMA_VERSION. why receives a one-line reason. */
dfi_err dfi_pgreg_open(dfi_pgreg **out, const char *url, const struct dfi_pgreg_opts *o, char *why,
    size_t whycap);
/* Frees r; no call on it may be in flight (abandoned ones included). */
void dfi_pgreg_free(dfi_pgreg *r);
/* Gives up on the registry for good, for a process that must stop at once
 * (a station's second stop signal) while the server may not answer (frozen,
 * or a network that drops packets): every call on r in flight returns
 * within milliseconds with DFI_E_REGISTRY_ABANDONED (whether the server
 * took it is unknown), a connection being made included (the lookup of
 * its host names too), and every later call fails so without sending
 * anything; it is never undone. So every
 * dfi_registry on r (dfi_registry_new_pg) stops waiting too: its queued
 * releases and deferred outcomes are not sent, its witness thread ends,
 * and dfi_registry_close returns at once with that failure. What that
 * leaves: the cards r's handles held stay claimed until their leases run
 * out (a later process of the same journal takes them over at once), and
 * the records the registry was not told reach it at the journal's next
 * open (reconciliation, dfi_registry_new_pg). (PQcancel would not do:
 * it waits for the server.) Thread-safe and async-signal-safe (an atomic
 * flag and one write(2)): a signal handler may call it. r NULL: nothing.
 * r must not be freed while this runs. */
void dfi_pgreg_abandon(dfi_pgreg *r);

/* Every call below that can fail on the server's side takes why/whycap:
 * a one-line reason (the server's message, or what broke) when it fails. */

/* Counters, for the benchmark and monitoring. Given a NULL handle,
 * dfi_pgreg_get_stats zeroes *s, dfi_pgreg_claim_times and
 * dfi_pgwitness_size return 0 (error.h's rule for getters). */
struct dfi_pgreg_stats {
	uint64_t calls;        /* round trips attempted */
	uint64_t failures;     /* of them, failed (connection or server error) */
	uint64_t connects;     /* connections opened */
	uint64_t background;   /* of calls, made off the station threads' path (the witness thread's) */
};
/* The counters so far, copied into *s. */
void dfi_pgreg_get_stats(dfi_pgreg *r, struct dfi_pgreg_stats *s);
/* How long the registry backend's claims took (dfi_registry_claim, the
 * round trip included, retries too), microseconds, oldest first: the most
 * recent min(cap, 4096). Returns how many were copied. */
size_t dfi_pgreg_claim_times(dfi_pgreg *r, uint32_t *us, size_t cap);

/* ---- schema ------------------------------------------------------------- */

/* Creates the schema or migrates it to `target` (0: the latest this build
 * knows), in one transaction under an advisory lock. from/to receive the
 * versions before and after. DFI_E_REGISTRY_SCHEMA when the database's
 * schema is newer than this build, or an applied migration differs from
 * this build's (edited by hand). */
dfi_err dfi_pgreg_migrate(dfi_pgreg *r, int target, int *from, int *to, char *why, size_t whycap);
/* The schema version (0 when there is none). */
dfi_err dfi_pgreg_schema_version(dfi_pgreg *r, int *version, char *why, size_t whycap);

typedef enum dfi_pgreg_role {
	DFI_PGREG_ROLE_STATION = 1, /* may call the registry's functions, nothing else */
	DFI_PGREG_ROLE_AUDITOR,     /* may read every table, nothing else */
} dfi_pgreg_role;
/* Grants an existing database role what its kind needs (and remembers it:
 * every later migration grants it again). */
dfi_err dfi_pgreg_grant(dfi_pgreg *r, const char *role, dfi_pgreg_role kind, char *why, size_t whycap);

/* ---- witnessing ---------------------------------------------------------- */

typedef enum dfi_pgreg_wstatus {
	DFI_PGREG_W_REGISTERED = 1, /* first checkpoint of this journal: trusted on first use */
	DFI_PGREG_W_WITNESSED,      /* the proof held: this is the witnessed checkpoint now */
	DFI_PGREG_W_SAME,           /* it already was (a retry) */
	DFI_PGREG_W_STALE,          /* old_size was not the witnessed size: prove from w_size */
	DFI_PGREG_W_REFUSED,        /* it does not extend the witnessed one: reason says why */
} dfi_pgreg_wstatus;

struct dfi_pgreg_witness {
	dfi_pgreg_wstatus status;
	uint64_t w_size;               /* the witnessed checkpoint after the call */
	uint8_t w_root[DFI_HASH_LEN];
	char reason[512];
};

/* Submits checkpoint note (of journal `origin`, signed by key key_id/alg),
 * with the consistency proof from old_size (the size the station believes
 * the registry witnessed; 0 when it knows of none) to the note's size. */
dfi_err dfi_pgreg_witness(dfi_pgreg *r, const char *origin, uint32_t key_id, dfi_sigalg alg,
    uint64_t old_size, const uint8_t *note, size_t note_len, const uint8_t (*proof)[DFI_HASH_LEN],
    size_t plen, struct dfi_pgreg_witness *res, char *why, size_t whycap);
/* The witnessed checkpoint of a journal: DFI_E_NOT_FOUND when none. note
 * may be NULL; else it receives the note (cap bytes, *note_len). */
dfi_err dfi_pgreg_witnessed(dfi_pgreg *r, const char *origin, uint64_t *size,
    uint8_t root[DFI_HASH_LEN], uint8_t *note, size_t cap, size_t *note_len, char *why, size_t whycap);

/* A station's witness of its own journal: knows the registry's witnessed
 * size and the journal's tree edge at that size, and on each call proves
 * the journal's newest checkpoint from it (reading only the records added
 * since), and submits it. */
typedef struct dfi_pgwitness dfi_pgwitness;
/* Reads the journal at path (a directory or journal.log) up to its last
 * checkpoint, asks the registry for its witnessed checkpoint and witnesses
 * the journal's head at once: DFI_E_REGISTRY_REFUSED (reason in why) when
 * the registry refuses it (the journal was rolled back or forked since it
 * was last witnessed, or its key changed). key is the journal key, which
 * every checkpoint submitted must verify with. */
dfi_err dfi_pgwitness_new(dfi_pgwitness **out, dfi_pgreg *r, const char *path, const dfi_jpubkey *key,
    char *why, size_t whycap);
/* Witnesses the journal's newest checkpoint (nothing when the registry has
 * it already). Thread-safe; calls made while one is running wait for it and
 * then find the work done or do the next. */
dfi_err dfi_pgwitness_sync(dfi_pgwitness *w, char *why, size_t whycap);
/* Asynchronous witnessing: asks the witness's own thread (started at the
 * first request, with its own connection to the registry) to witness the
 * journal's newest checkpoint, and returns at once. Requests made while
 * one runs are served by one more sync (the newest checkpoint proves every
 * one before it), at most one sync every 200 ms. The first failure of the thread (a refusal, a registry
 * that did not answer within its timeout) is kept: this and every later
 * request, dfi_pgwitness_failed and dfi_pgwitness_sync return it. Free
 * serves a pending request before it returns. */
dfi_err dfi_pgwitness_request(dfi_pgwitness *w, char *why, size_t whycap);
/* The kept failure of the witness thread (reason in why); DFI_OK when none. */
dfi_err dfi_pgwitness_failed(dfi_pgwitness *w, char *why, size_t whycap);
/* What it has witnessed. */
uint64_t dfi_pgwitness_size(dfi_pgwitness *w);
/* The line of record seq as the journal holds it (NUL-terminated, without
 * LF), read from the file: the last 4096 records come from memory.
 * DFI_E_NOT_FOUND when the journal has no such record (yet). */
dfi_err dfi_pgwitness_line(dfi_pgwitness *w, uint64_t seq, char *out, size_t cap, size_t *len);
void dfi_pgwitness_free(dfi_pgwitness *w);

/* ---- reading it (auditors) ------------------------------------------------- */

struct dfi_pgreg_checkpoint {
	char origin[DFI_J_STR_MAX];
	uint64_t size;
	uint8_t root[DFI_HASH_LEN];
	uint8_t note[DFI_J_NOTE_MAX];
	size_t note_len;
	char station[DFI_J_STR_MAX];
	char when[24];                 /* witnessed at, UTC */
	int latest;                    /* the journal's witnessed head */
};
/* Every witnessed checkpoint, by origin and size, from one snapshot. */
dfi_err dfi_pgreg_each_checkpoint(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_checkpoint *cp),
    void *ctx, char *why, size_t whycap);

struct dfi_pgreg_refusal {
	char origin[DFI_J_STR_MAX];
	char station[DFI_J_STR_MAX];
	char db_user[64];
	uint64_t new_size;
	char reason[512];
	char when[24];
};
/* Every refused checkpoint, oldest first. */
dfi_err dfi_pgreg_each_refusal(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_refusal *rf),
    void *ctx, char *why, size_t whycap);


/* Every card record the registry was told, in the order it took them (an
 * auditor compares each line with its journal's, and replays them). */
dfi_err dfi_pgreg_each_record(dfi_pgreg *r,
    void (*fn)(void *ctx, const char *origin, uint64_t seq, const char *line, size_t len), void *ctx, char *why,
    size_t whycap);

/* The SDM replay check (`dfissue sdm verify --registry`; schema 5): accepts
 * read counter ctr (24 bits) of the card uid (4 to 10 bytes) when it is
 * above the last counter accepted for that UID by any verifier, or the UID
 * is new, in one statement. *accepted is 1 when it did; *last the counter
 * accepted before (-1: none). Not retried on a broken connection (a retry
 * of an acceptance would refuse the tap): DFI_E_REGISTRY_UNREACHABLE then,
 * and the tap's fate is unknown (verify it again: a replay is refused, so
 * the caller may answer "refused" and ask for a new tap). DFI_E_INVALID_ARG
 * for a length or counter out of range, DFI_E_REGISTRY for an unexpected
 * answer; why says which. */
dfi_err dfi_pgreg_sdm_seen(dfi_pgreg *r, const uint8_t *uid, size_t uid_len, uint32_t ctr, int *accepted,
    int64_t *last, char *why, size_t whycap);

/* Every intent (key or change, schema 6) the registry took without its
 * station holding the card's claim (schema version 4): told late, at the station's start-up
 * reconciliation, after its claim was taken over or its registry was
 * unreachable; no key change followed it (schema/004_late_intents.sql). */
dfi_err dfi_pgreg_each_late_intent(dfi_pgreg *r, void (*fn)(void *ctx, const char *origin, uint64_t seq),
    void *ctx, char *why, size_t whycap);

/* The registry's state of one key slot (registry.h's dfi_reg_slot_state). */
struct dfi_pgreg_slot {
	uint8_t uid[DFI_J_UID_MAX];
	size_t uid_len;
	uint32_t aid;
	uint8_t keyno;
	int state;
	int version;
	/* The profile digest of the intent behind state (schema 6), as the
	 * journal index keeps it (dfi_journal_slot). */
	int has_profile;
	uint8_t profile[DFI_J_PROFILE_LEN];
};
/* Calls fn for every key slot the registry holds (fn's s only lives for
 * the call). DFI_OK, or the connection's or server's error with why. */
dfi_err dfi_pgreg_each_slot(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_slot *s), void *ctx,
    char *why, size_t whycap);

/* ---- the registry backend (registry.h) ------------------------------------------ */

/* A dfi_registry on this PostgreSQL registry, shared by every station of
 * every host (schema version 2: claims with leases, issued state per UID,
 * open intents of every journal). pg must outlive it.
 *
 * With a journal (j, its path, and its public key): the journal's head is
 * witnessed at once (DFI_E_REGISTRY_REFUSED when the registry refuses it: a
 * journal rolled back or forked), then the registry is told again what
 * the journal's tail holds (reconciliation after a crash between the
 * journal's commit and the registry's update). Records are told as the
 * journal holds their lines; checkpoints are witnessed with consistency
 * proofs (dfi_pgwitness). Without a journal (j NULL: `inspect`), only
 * lookups work.
 *
 * Claims are held by this handle (a random token): a claim taken by
 * another handle, on this host or another, is DFI_E_UID_CLAIMED until it is
 * released or its lease runs out, except that a handle with a journal takes
 * over at once a claim held under the same journal origin (schema version
 * 7: only one process at a time has a journal open, so the holder is a dead
 * predecessor, e.g. the station before it was SIGKILLed and restarted); a
 * retry of a call whose connection broke is answered as the first call was. Every call fails with
 * DFI_E_REGISTRY_UNREACHABLE when the registry cannot be reached within
 * its deadline: the engine then fails closed (docs/OPERATIONS.md 12.5). */
dfi_err dfi_registry_new_pg(dfi_registry **out, dfi_pgreg *pg, dfi_journal *j, const char *journal_path,
    const dfi_jpubkey *key, char *why, size_t whycap);

/* Every open intent the registry knows, of every journal, oldest first:
 * origin, the intent as its journal holds it, and the station that told
 * it. */
dfi_err dfi_pgreg_each_open_intent(dfi_pgreg *r,
    void (*fn)(void *ctx, const char *origin, const dfi_jrec *intent, const char *station), void *ctx, char *why,
    size_t whycap);

#ifdef __cplusplus
}
#endif
#endif
