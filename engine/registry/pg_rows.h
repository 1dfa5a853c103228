/* pg_rows.h: the PostgreSQL registry's rows turned into C values.
 *
 * Every row is untrusted input: the registry is shared by every station and
 * an owner role, and a compromised station role, a restored old backup or a
 * hand edit can put anything in it. Each decoder below reads one result
 * shape, needs no server (tests/fuzz/fuzz_registry_rows.c builds results
 * with libpq's PQmakeEmptyPGresult/PQsetvalue), checks the column count and
 * the row index, and refuses (-1, or the dfi_err it names) any value outside
 * its range: a NULL where the schema says NOT NULL, a number that is not
 * exactly a decimal in range, a bytea that is not exactly "\x" and the
 * expected hex, a text longer than its buffer or holding a NUL. Out
 * parameters are meaningful only on success. Private to the backend. */
#ifndef DFI_PG_ROWS_H
#define DFI_PG_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dfissue/journal.h"
#include "dfissue/pgregistry.h"
#include "dfissue/registry.h"
#include "pg_int.h"

/* ---- one field ---------------------------------------------------------------------- */

/* A bytea column in hex output ("\x..."), exactly n bytes; -1 when NULL,
 * out of range or anything else. */
int pg_get_bytea(const PGresult *res, int row, int col, uint8_t *out, size_t n);
/* A decimal 0..UINT64_MAX, exactly (no sign, space or leading zero). */
int pg_get_u64(const PGresult *res, int row, int col, uint64_t *out);
/* A boolean's text, "t" or "f" exactly: *v 1 or 0. */
int pg_get_flag(const PGresult *res, int row, int col, int *v);
/* A text of at most cap - 1 bytes and no NUL, copied NUL-terminated; a NULL
 * field is -1 unless null_ok (then ""). */
int pg_get_text(const PGresult *res, int row, int col, int null_ok, char *out, size_t cap);
/* The same text borrowed from res (lives as long as res), not NULL. */
const char *pg_peek_text(const PGresult *res, int row, int col, size_t max);

/* ---- the auditor's reads (pg_read.c) ----------------------------------------------- */

/* checkpoints: origin, size, root, note, station, when, latest (7 columns).
 * origin 1..127 bytes, size u64, root 32 bytes, note NOT NULL and at most
 * DFI_J_NOTE_MAX bytes, when fits its buffer, latest t/f; station (shown
 * only) is cut to fit. */
int pg_row_checkpoint(const PGresult *res, int i, struct dfi_pgreg_checkpoint *cp);
/* witness_refusals: origin, station, db_user, new_size, reason, when (6).
 * A refusal keeps what a station submitted as it came, so only the shape
 * is refused: every text is cut to fit (NULL: ""), a new_size that is not
 * a size (NULL, below 1 as witness() records it) is 0. */
int pg_row_refusal(const PGresult *res, int i, struct dfi_pgreg_refusal *rf);
/* open_intents(): origin, seq, line, station (4). The line is a journal
 * record of type intent or change whose own seq is the row's; station NOT
 * NULL. */
int pg_row_open_intent(const PGresult *res, int i, char origin[DFI_J_STR_MAX], dfi_jrec *r,
    char station[DFI_J_STR_MAX]);
/* records: origin, seq, line (3). *line (borrowed from res) is 1 to
 * DFI_J_LINE_MAX bytes, not parsed (the auditor compares it byte for byte). */
int pg_row_record(const PGresult *res, int i, char origin[DFI_J_STR_MAX], uint64_t *seq, const char **line,
    size_t *len);
/* late intents: origin, seq (2). */
int pg_row_late(const PGresult *res, int i, char origin[DFI_J_STR_MAX], uint64_t *seq);
/* slots: uid, aid, keyno, state, version, profile (6). uid 4..DFI_J_UID_MAX
 * bytes, aid 0..0xFFFFFF, keyno 0..13, state 0..2, version -1..255, profile
 * NULL or DFI_J_PROFILE_LEN bytes. */
int pg_row_slot(const PGresult *res, int i, struct dfi_pgreg_slot *s);

/* ---- the backend's answers (pg_backend.c) ------------------------------------------ */

/* claim_lookup()'s first row (9 columns, at least one row): kind "claim",
 * f "t" (*taken 1) or "f" (0; who: the holder g, "another station" when
 * NULL, cut to who_cap). */
int pg_row_claim(const PGresult *res, int *taken, char *who, size_t who_cap);
/* renew(): one row, one column, "t" (*held 1: the lease is extended) or
 * "f". */
int pg_row_renew(const PGresult *res, int *held);
/* lookup()'s rows from row first on (9 columns: kind, a..h): one 'card'
 * row (a, b: counts 0..UINT32_MAX, c: 0/1, d, e: seqs 0..INT64_MAX), a
 * 'slot' row per key slot (a: aid, b: keyno, c: state, d: version -1..255,
 * e: generation 0..UINT32_MAX, f: changed_by, g: origin NOT NULL, h: NULL
 * or the profile digest), an 'intent' row per open intent (a: aid, b:
 * keyno or NULL for a change, c: seq, f: origin, g: the journal line, an
 * intent or change of this uid whose seq is c); any other kind is refused.
 * Fills out (zeroed first), calls v's visitors (local: f is origin) and
 * keeps the local intents' seqs in open[] (the first ocap of them,
 * *nopen). A slot's origin is borrowed from res for the visitor's call.
 * Linear in the rows but for a sort of the intents' slots (n log n), for
 * which it allocates: PG_ROWS_NOMEM when that fails (no visitor called). */
#define PG_ROWS_NOMEM (-2)
int pg_rows_lookup(const PGresult *res, int first, const uint8_t *uid, size_t len, const char *origin,
    struct dfi_reg_card *out, const struct dfi_reg_visit *v, uint64_t *open, unsigned ocap, unsigned *nopen);

/* ---- witnessing (pg_witness.c) ----------------------------------------------------- */

/* witness(): one row of status, size, root, reason (4). status one of
 * dfi_pgreg_wstatus's names; size and root required unless refused (then
 * read when present); reason (NULL: "refused") cut to fit. */
int pg_row_witness(const PGresult *res, struct dfi_pgreg_witness *w);
/* witnessed(): no row (DFI_E_NOT_FOUND) or one row of size, root, note (3),
 * note NOT NULL; DFI_E_BUFFER_TOO_SMALL when the note is over ncap, else
 * DFI_E_REGISTRY for anything malformed. note may be NULL (not read). */
dfi_err pg_row_witnessed(const PGresult *res, uint64_t *size, uint8_t root[DFI_HASH_LEN], uint8_t *note, size_t ncap,
    size_t *note_len);

/* ---- the schema (pg_schema.c) ------------------------------------------------------ */

/* One row, one column: "-1" (*missing 1) or "0". */
int pg_row_schema_missing(const PGresult *res, int *missing);
/* One row, one column: the version, 0..100000. */
int pg_row_schema_version(const PGresult *res, int *version);
/* schema_migrations: version, name, sha256 (3), ordered by version. Row i
 * must be version i + 1 (migrations are applied in order: a gap is a row
 * deleted by hand), one of the n migrations m[] this build knows (else
 * DFI_E_REGISTRY_SCHEMA: a newer registry) with its SHA-256 (hex). *current:
 * the last one. */
dfi_err pg_rows_migrations(const PGresult *res, const struct pgmig *m, size_t n, int *current, char *why,
    size_t cap);
/* role_grants: role, kind (2). role 1..63 bytes (a PostgreSQL name), kind
 * "station" (*station 1) or "auditor" (0). */
int pg_row_grant(const PGresult *res, int i, char role[64], int *station);

/* ---- SDM (pg_sdm.c) ---------------------------------------------------------------- */

/* sdm_seen(): one row of accepted (t/f), last ("-1": -1, else 0..0xFFFFFF). */
int pg_row_sdm(const PGresult *res, int *accepted, int64_t *last);

#endif
