/*
 * desfire-sim — a MIFARE DESFire EV1/EV2 card simulator, used in-process by
 * tests (dfi_sim_process, dfi_sim_transport_new) and by the desfire-sim
 * program (stdio and vpcd bridge).
 *
 * The card's committed state lives in an image file (or in memory only):
 * each command that changes it rewrites the image atomically (temp file,
 * fsync, rename) before its response is produced, so a re-inserted card sees
 * exactly what was committed. Volatile state (authentication, selected
 * application, pending backup/value/record transactions, multi-frame
 * exchanges) is dropped on removal.
 *
 * Tear injection: dfi_sim_set_tear(sim, n, mode) arms a tear on the n-th
 * APDU passed to dfi_sim_process() after the call (n = 1: the next APDU).
 * Every APDU counts, including the reader's GET DATA pseudo-APDU. In mode
 * BEFORE the APDU never reaches the card; in mode AFTER the card executes it
 * (and commits its effect) but the response is lost. Either way the card is
 * removed: dfi_sim_process returns DFI_E_CARD_TORN with no response, and
 * DFI_E_NO_CARD afterwards until dfi_sim_insert(). A tear fires once.
 *
 * Not thread-safe across calls on one handle: one handle, one thread (or
 * the caller's lock). Different handles are independent.
 */
#ifndef DFI_DESFIRE_SIM_H
#define DFI_DESFIRE_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "dfissue/error.h"
#include "dfissue/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_sim dfi_sim;

enum dfi_sim_tear_mode {
	DFI_SIM_TEAR_BEFORE = 1, /* command lost before the card sees it */
	DFI_SIM_TEAR_AFTER = 2,  /* card executes it, the response is lost */
};

enum dfi_sim_timing {
	DFI_SIM_TIMING_NONE = 0,      /* answer at once (default) */
	DFI_SIM_TIMING_DATASHEET = 1, /* sleep as long as a real card takes */
};

enum dfi_sim_model {
	DFI_SIM_MODEL_EV2 = 0, /* EV2 version info; accepts AuthenticateEV2First/NonFirst */
	DFI_SIM_MODEL_EV1 = 1, /* EV1 version info; EV2 commands are illegal (0x1C) */
	DFI_SIM_MODEL_EV3 = 2, /* EV3 version info; EV2, plus LRP mode and Secure Dynamic Messaging */
};

/* What an EV2 card answers to Read_Sig (0x3C; EV1 cards do not have it).
 * The simulator signs with its own published TEST key pair, never an NXP
 * key (tools/desfire-sim/sim_on_sig.c; the public key is in
 * tests/data/sim-originality.keys). */
enum dfi_sim_originality {
	DFI_SIM_ORIG_TEST = 0,  /* a valid signature by the simulator's test key */
	DFI_SIM_ORIG_NONE,      /* Read_Sig refused (ILLEGAL_COMMAND): a clone without one */
	DFI_SIM_ORIG_FOREIGN,   /* signed with a second test key nobody trusts: a clone's own */
	DFI_SIM_ORIG_CORRUPT,   /* the test key's signature of another UID: a copied one */
};

/* Longest native frame (command byte + data) the card accepts in one APDU,
 * and longest data it returns per frame before asking for 0xAF. */
#define DFI_SIM_MAX_FRAME 60
#define DFI_SIM_UID_LEN 7

struct dfi_sim_config {
	const char *image;      /* image file; NULL = memory only */
	bool has_uid;           /* use uid below for a new image */
	uint8_t uid[DFI_SIM_UID_LEN];
	bool has_seed;          /* deterministic randomness (RndB, TI, UID) */
	uint64_t seed;
	enum dfi_sim_timing timing;
	enum dfi_sim_model model;
	bool no_fsync;          /* skip fsync on image writes (tests on tmpfs) */
	enum dfi_sim_originality originality; /* Read_Sig (EV2 model) */
};

/* Loads the image (creating it in factory state if absent) and inserts the
 * card. A damaged image fails with DFI_E_PARSE; an image whose UID differs
 * from cfg->uid fails with DFI_E_INVALID_ARG. */
dfi_err dfi_sim_new(dfi_sim **out, const struct dfi_sim_config *cfg);
void dfi_sim_free(dfi_sim *sim);

/* One C-APDU as the card (and, for FF CA 00 00 00, the reader) sees it.
 * rapdu receives data + SW1 SW2. DFI_OK whenever the card answered (card
 * errors are status words, not dfi_err); DFI_E_CARD_TORN on a tear;
 * DFI_E_NO_CARD when removed; DFI_E_BUFFER_TOO_SMALL when the response
 * does not fit (responses are at most DFI_SIM_MAX_FRAME + 1 bytes). */
dfi_err dfi_sim_process(dfi_sim *sim, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t cap, size_t *rlen);

/* Removal drops volatile state; insertion reloads the committed image. */
void dfi_sim_remove(dfi_sim *sim);
dfi_err dfi_sim_insert(dfi_sim *sim);
bool dfi_sim_present(const dfi_sim *sim);
/* Power off/on (or reset) in the field: same as remove + insert. */
dfi_err dfi_sim_power_cycle(dfi_sim *sim);

/* The card arrives with this PICC master key instead of the factory DES
 * zero key: what a card supplier does with a transport key agreed with the
 * issuer (AES-128, 2K3DES or 3K3DES; version as GetKeyVersion reports it).
 * Changes the committed state (and the image) of a card whose PICC key is
 * still the factory one; DFI_E_INVALID_ARG otherwise. */
dfi_err dfi_sim_set_picc_key(dfi_sim *sim, dfi_keytype type, const uint8_t *key, size_t keylen,
    uint8_t version);

/* n = 0 disarms. See the tear rule at the top of this file. */
dfi_err dfi_sim_set_tear(dfi_sim *sim, unsigned n, enum dfi_sim_tear_mode mode);

struct dfi_sim_stats {
	uint64_t apdus;       /* APDUs passed to dfi_sim_process while present */
	uint64_t commands;    /* native commands started (0xAF frames excluded) */
	uint64_t tears;       /* tears fired */
	uint64_t commits;     /* image writes (state-changing commands) */
	uint64_t modeled_us;  /* time the timing model charged (even when off) */
};
void dfi_sim_stats(const dfi_sim *sim, struct dfi_sim_stats *out);

/* The ATR a PC/SC part 3 reader reports for this ISO 14443-4 card. */
size_t dfi_sim_atr(const dfi_sim *sim, uint8_t *atr, size_t cap);
void dfi_sim_uid(const dfi_sim *sim, uint8_t uid[DFI_SIM_UID_LEN]);
/* Modeled duration of the last APDU in microseconds (timing model). */
uint64_t dfi_sim_last_cost_us(const dfi_sim *sim);

/* An in-process transport on the simulator. The sim is borrowed (must
 * outlive the transport). After a tear transmit returns DFI_E_CARD_TORN,
 * then DFI_E_NO_CARD until wait_card(), which re-inserts the card. */
dfi_err dfi_sim_transport_new(dfi_sim *sim, dfi_transport **out);

/* Puts the card into a vsmartcard vpcd reader at host:port until *stop is
 * set: connects (retrying while vpcd is not listening), serves APDUs, and
 * on a tear closes the socket (removal), waits reinsert_ms and reconnects
 * with the committed state (insertion). Setting *replug (may be NULL) does
 * the same on demand, as a user lifting the card and tapping again; the
 * bridge clears it. Progress lines go to log (may be NULL). */
dfi_err dfi_sim_vpcd_run(dfi_sim *sim, const char *host, uint16_t port, int reinsert_ms,
    volatile sig_atomic_t *stop, volatile sig_atomic_t *replug, FILE *log);

/* ---- read-only inspection of the committed state ------------------------
 * aid 0 is the PICC level. Keys are returned as stored: DES-family keys are
 * 16 bytes (DES = two equal halves) or 24 bytes, with the version in the
 * parity bits; AES keys 16 bytes plus the version byte. */

#define DFI_SIM_MAX_APPS 28
#define DFI_SIM_MAX_KEYS 14
#define DFI_SIM_MAX_FILES 32

enum dfi_sim_file_type {
	DFI_SIM_FILE_STD = 0,
	DFI_SIM_FILE_BACKUP = 1,
	DFI_SIM_FILE_VALUE = 2,
	DFI_SIM_FILE_LINEAR_RECORD = 3,
	DFI_SIM_FILE_CYCLIC_RECORD = 4,
};

struct dfi_sim_key_info {
	dfi_keytype type;  /* DES is reported as DFI_KT_DES when halves are equal */
	uint8_t version;
	uint8_t key[DFI_MAX_KEY_LEN];
	size_t keylen;
};

struct dfi_sim_app_info {
	uint32_t aid;
	uint8_t key_settings;
	uint8_t nkeys;
	dfi_keytype keytype; /* family: DFI_KT_2K3DES for DES/2K3DES, 3K3DES, AES128 */
};

struct dfi_sim_file_info {
	uint8_t fid;
	enum dfi_sim_file_type type;
	uint8_t comm;          /* 0 plain, 1 MACed, 3 enciphered */
	uint16_t access;       /* read<<12 | write<<8 | readwrite<<4 | change */
	uint32_t size;         /* data files */
	uint32_t record_size, max_records, records;
	int32_t lower, upper, value, limited_credit_value;
	uint8_t value_flags;   /* bit 0 limited credit enabled */
};

struct dfi_sim_picc_info {
	uint8_t key_settings;
	uint8_t config;        /* bit 0 format disabled, bit 1 random UID */
	uint32_t free_memory;
	size_t napps;
};

dfi_err dfi_sim_picc_info(const dfi_sim *sim, struct dfi_sim_picc_info *out);
/* *n receives the count; at most cap AIDs are written, in creation order. */
dfi_err dfi_sim_list_apps(const dfi_sim *sim, uint32_t *aids, size_t cap, size_t *n);
dfi_err dfi_sim_app_info(const dfi_sim *sim, uint32_t aid, struct dfi_sim_app_info *out);
dfi_err dfi_sim_key_info(const dfi_sim *sim, uint32_t aid, uint8_t keyno,
    struct dfi_sim_key_info *out);
/* 1 when the stored key equals (type, key), 0 when not; < 0 on error. */
int dfi_sim_key_equals(const dfi_sim *sim, uint32_t aid, uint8_t keyno,
    dfi_keytype type, const uint8_t *key, size_t keylen);
dfi_err dfi_sim_list_files(const dfi_sim *sim, uint32_t aid, uint8_t *fids, size_t cap, size_t *n);
dfi_err dfi_sim_file_info(const dfi_sim *sim, uint32_t aid, uint8_t fid,
    struct dfi_sim_file_info *out);
/* Committed content: data files as stored; record files oldest record
 * first; value files the value as 4 bytes little-endian. */
dfi_err dfi_sim_file_data(const dfi_sim *sim, uint32_t aid, uint8_t fid,
    uint8_t *buf, size_t cap, size_t *len);

/* EV3 (committed state): whether the PICC is in LRP mode, and a file's SDM
 * settings and read counter (DFI_E_NOT_FOUND when SDM is off). */
dfi_err dfi_sim_lrp_mode(const dfi_sim *sim, bool *lrp);
dfi_err dfi_sim_sdm_info(const dfi_sim *sim, uint32_t aid, uint8_t fid,
    struct dfi_df_sdm *settings, uint32_t *read_ctr);

#ifdef __cplusplus
}
#endif
#endif
