/*
 * dfissue — the MIFARE DESFire (EV1/EV2/EV3) protocol.
 *
 * A dfi_desfire session talks native DESFire commands wrapped in ISO/IEC
 * 7816-4 APDUs (CLA 0x90, Le 0x00) over a dfi_transport, with additional
 * frames (status 0xAF) both ways. It keeps the authentication state the card
 * keeps: which key number, which scheme, the session keys (in locked memory),
 * the EV1 IV and the EV2 transaction identifier and command counter. Like the
 * card, it forgets the authentication on any error status, on
 * SelectApplication, after changing the key it authenticated with, and on a
 * tear (any transport error), after which it also assumes the PICC level is
 * selected, as on a card that was powered up again.
 *
 * One session is used by one thread at a time; sessions are independent.
 *
 * Card keys are dfi_cardkey handles: every cryptogram computed with a card
 * key (authentication, EV2 session-key derivation) is computed by whoever
 * holds it (the HSM). Session keys live on the host. ChangeKey builds its
 * cryptogram inside dfi_cardkey_with_bytes() callbacks, in a buffer wiped
 * before the callback returns.
 *
 * Every card response is untrusted: every length is checked before use, and
 * the parsers and the secure-messaging unwrap are exposed so the fuzz
 * harness can feed them arbitrary bytes.
 *
 * Secure messaging by scheme (what the card does, NXP MF3ICD81 / MF3D(H)x2
 * data sheets; AN12343, AN12196 for EV2):
 *  - D40 (legacy Authenticate 0x0A): MAC = first 4 bytes of a DES/3DES CBC
 *    over the data, CRC16 (CRC_A) over the data, "send mode" deciphering
 *    with the IV reset for every command; plain commands carry nothing.
 *  - EV1 (AuthenticateISO 0x1A, AuthenticateAES 0xAA): CMAC over every
 *    command and response with the IV chained through the session, 8-byte
 *    MACs, CRC32 over command code, header and data when enciphering.
 *  - EV2 (AuthenticateEV2First 0x71 / NonFirst 0x77): SesAuthENC/MAC keys,
 *    MACt (the even-numbered bytes of a CMAC) over command code, counter,
 *    TI, header and data; IVs from TI and counter; padding 0x80 00..
 *  - EV2 in LRP mode (DESFire EV3, NTAG 424 DNA; the same commands with
 *    PCDCap2.1 = 0x02: AuthenticateLRPFirst/NonFirst, NXP AN12304): the
 *    same message layout, CMAC_LRP instead of CMAC and LRICB encryption
 *    with a 32-bit counter (EncCtr) instead of CBC, both from
 *    SesAuthMasterKey = CMAC_LRP(K, SV) (updated keys 0 and 1).
 *
 * Arguments. A session has no message buffer: a call out of the ranges
 * below returns DFI_E_INVALID_ARG before anything is sent, and these
 * ranges are its reason (they are the card's, MF3ICD81 section 9):
 *  - an AID is 24 bits (uint32_t, least significant byte sent first);
 *    CreateApplication and DeleteApplication refuse 000000 (the PICC);
 *  - key numbers 0..13; 1..14 keys per application; a key's type must
 *    fit the authentication command (DES/2K3DES for D40, AES for AES and
 *    EV2) and its length its type;
 *  - file numbers 0..31; a communication mode is plain, MACed or
 *    enciphered; sizes, offsets, record sizes and counts are 24 bits and
 *    data lengths 1..DFI_DF_MAX_DATA; a value file needs lower <= value
 *    <= upper, a cyclic record file at least 2 records;
 *  - a NULL session, key, output or non-empty input pointer.
 */
#ifndef DFISSUE_DESFIRE_H
#define DFISSUE_DESFIRE_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/error.h"
#include "dfissue/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_desfire dfi_desfire;

/* Communication mode, with the values of the file settings' low two bits
 * (2 is plain as well on the card). */
typedef enum dfi_df_comm {
	DFI_DF_COMM_PLAIN = 0,
	DFI_DF_COMM_MAC = 1,
	DFI_DF_COMM_ENC = 3,
} dfi_df_comm;

/* The secure-messaging scheme of the current authentication. */
typedef enum dfi_df_scheme {
	DFI_DF_SCHEME_NONE = 0,
	DFI_DF_SCHEME_D40,  /* after Authenticate 0x0A */
	DFI_DF_SCHEME_EV1,  /* after AuthenticateISO 0x1A / AuthenticateAES 0xAA */
	DFI_DF_SCHEME_EV2,  /* after AuthenticateEV2First 0x71 / NonFirst 0x77 */
} dfi_df_scheme;

/* Authentication commands. */
typedef enum dfi_df_authcmd {
	DFI_DF_AUTH_LEGACY = 0x0A,    /* DES / 2K3DES keys */
	DFI_DF_AUTH_ISO = 0x1A,       /* DES / 2K3DES / 3K3DES keys */
	DFI_DF_AUTH_AES = 0xAA,       /* AES keys */
	DFI_DF_AUTH_EV2_FIRST = 0x71, /* AES keys; new TI, counter 0 */
	DFI_DF_AUTH_EV2_NONFIRST = 0x77, /* AES keys; keeps TI and counter */
	/* AuthenticateLRPFirst/NonFirst: 0x71/0x77 asking for LRP (PCDCap2.1
	 * = 0x02), AES keys on a card switched to LRP mode. A card that answers
	 * in AES mode fails them with DFI_E_UNSUPPORTED (it is not in LRP
	 * mode); the session is then unauthenticated. */
	DFI_DF_AUTH_LRP_FIRST = 0x171,
	DFI_DF_AUTH_LRP_NONFIRST = 0x177, /* needs an LRP session; keeps TI and counter */
} dfi_df_authcmd;

/* Longest single data transfer (ReadData/WriteData/records) one call moves;
 * longer transfers are split by the caller. */
#define DFI_DF_MAX_DATA 8192
/* Data bytes per native frame; longer commands go out in 0xAF frames. */
#define DFI_DF_FRAME_DATA 59

/* ---- session -------------------------------------------------------------- */

/* A session over t, unauthenticated at the PICC level. The session
 * borrows t: t must outlive it, and dfi_desfire_free leaves t open. The
 * caller frees *out with dfi_desfire_free, which wipes the session keys. */
dfi_err dfi_desfire_new(dfi_desfire **out, dfi_transport *t);
void dfi_desfire_free(dfi_desfire *d);

/* RndA comes from dfi_random() unless a test injects a deterministic source. */
typedef dfi_err (*dfi_desfire_rng_fn)(void *arg, uint8_t *out, size_t len);
/* Sets the source of RndA (fn NULL: dfi_random() again); arg is borrowed
 * and passed to fn, which must stay valid as long as the session uses it. */
void dfi_desfire_set_rng(dfi_desfire *d, dfi_desfire_rng_fn fn, void *arg);

/* Forgets authentication and the selected application (a new card, or a
 * card that went through a power cycle). */
void dfi_desfire_reset(dfi_desfire *d);

/* The scheme of the current authentication, DFI_DF_SCHEME_NONE when the
 * session is not authenticated. */
dfi_df_scheme dfi_desfire_scheme(const dfi_desfire *d);
/* 1 when the current EV2 session runs in LRP mode (AuthenticateLRPFirst/
 * NonFirst), 0 otherwise. */
int dfi_desfire_lrp(const dfi_desfire *d);
/* The authenticated key number, or -1. */
int dfi_desfire_auth_keyno(const dfi_desfire *d);
/* The application selected last, 0 for the PICC level. */
uint32_t dfi_desfire_selected_aid(const dfi_desfire *d);
/* SW2 of the last status the card sent (0x00 after success). */
uint8_t dfi_desfire_last_status(const dfi_desfire *d);

/* One native command with secure messaging: cmd, hdr (never enciphered),
 * data (protected as cmd_mode says), response data unprotected as
 * resp_mode says into out. Frames of 0xAF are handled both ways. */
dfi_err dfi_desfire_command(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, dfi_df_comm cmd_mode, dfi_df_comm resp_mode,
    uint8_t *out, size_t cap, size_t *outlen);

/* ---- authentication ------------------------------------------------------- */

/* Which authentication a key takes, EV2 secure messaging by default:
 * generation is dfi_df_generation()'s; flags DFI_DF_SM_EV1 keeps EV1
 * secure messaging where EV2 would do (a profile that asks for it),
 * DFI_DF_SM_LRP says the card is in LRP mode; in_ev2_session: the session
 * now is EV2 (or LRP) in the application the key belongs to, so NonFirst
 * keeps its TI and command counter. DES and 2K3DES keys take 0x0A, 3K3DES
 * 0x1A, AES keys 0xAA on an EV1 (or unknown) card or with DFI_DF_SM_EV1,
 * else AuthenticateEV2First/NonFirst (LRP's in LRP mode). */
#define DFI_DF_SM_EV1 0x01
#define DFI_DF_SM_LRP 0x02
/* Returns the command; a pure function of its arguments. */
dfi_df_authcmd dfi_df_auth_choose(int generation, dfi_keytype t, unsigned flags,
    int in_ev2_session);

/* The key's type must fit the command (see dfi_df_authcmd). On success the
 * session holds new session keys; on any failure it is unauthenticated. */
dfi_err dfi_desfire_authenticate(dfi_desfire *d, dfi_df_authcmd how, uint8_t keyno,
    const dfi_cardkey *key);

/* ---- PICC and applications ----------------------------------------------- */

struct dfi_df_version {
	uint8_t hw_vendor, hw_type, hw_subtype, hw_major, hw_minor, hw_storage, hw_protocol;
	uint8_t sw_vendor, sw_type, sw_subtype, sw_major, sw_minor, sw_storage, sw_protocol;
	uint8_t uid[7];
	uint8_t batch[5];
	uint8_t week, year;
};

/* GetVersion (0x60), plain: fills *v (zeroed first) from the card's
 * three frames. */
dfi_err dfi_desfire_get_version(dfi_desfire *d, struct dfi_df_version *v);
/* The MIFARE DESFire generation a GetVersion answer names: 1 (EV1,
 * hardware major version 0x01), 2 (EV2, 0x12), 3 (EV3, 0x33), 0 for
 * anything else (0x00 DESFire D40, other products): callers then keep to
 * what every DESFire does. */
int dfi_df_generation(const struct dfi_df_version *v);
/* Needs authentication; the answer is enciphered. uid holds 10 bytes. */
dfi_err dfi_desfire_get_card_uid(dfi_desfire *d, uint8_t *uid, size_t cap, size_t *len);
dfi_err dfi_desfire_select_application(dfi_desfire *d, uint32_t aid);
dfi_err dfi_desfire_get_application_ids(dfi_desfire *d, uint32_t *aids, size_t cap, size_t *n);
/* nkeys 1..14; keytype sets the key-count byte's flags (0x40 3K3DES, 0x80
 * AES; DES and 2K3DES share 0x00). */
dfi_err dfi_desfire_create_application(dfi_desfire *d, uint32_t aid, uint8_t key_settings,
    uint8_t nkeys, dfi_keytype keytype);
dfi_err dfi_desfire_delete_application(dfi_desfire *d, uint32_t aid);
dfi_err dfi_desfire_format_picc(dfi_desfire *d);
/* SetConfiguration (0x5C): option byte plain, data enciphered. */
dfi_err dfi_desfire_set_configuration(dfi_desfire *d, uint8_t option, const uint8_t *data,
    size_t len);

/* ---- keys ----------------------------------------------------------------- */

struct dfi_df_key_settings {
	uint8_t settings;  /* the key settings byte */
	uint8_t max_keys;  /* number of keys (low nibble of the second byte) */
	dfi_keytype keytype; /* from its flags; DES-family reported as 2K3DES */
};

/* GetKeySettings (0x45) of the selected application (or the PICC) into
 * *ks; the card may require authentication, as its settings say. */
dfi_err dfi_desfire_get_key_settings(dfi_desfire *d, struct dfi_df_key_settings *ks);
/* ChangeKeySettings (0x54), enciphered: needs an authenticated session
 * (DFI_E_NOT_AUTHENTICATED otherwise) with the key the settings name. */
dfi_err dfi_desfire_change_key_settings(dfi_desfire *d, uint8_t settings);
/* GetKeyVersion (0x64) of key keyno in the selected application. */
dfi_err dfi_desfire_get_key_version(dfi_desfire *d, uint8_t keyno, uint8_t *version);

/* ChangeKey. new_key's version (dfi_cardkey_version) is written to the card:
 * in the parity bits for DES-family keys, as a byte for AES. When keyno is
 * the authenticated key, old_key may be NULL (the "same key" form); for
 * another key old_key is the key it replaces (XOR and CRC32 form). On the
 * PICC level (AID 000000) key 0's new type is signalled by flags in the
 * key number (0x40 3K3DES, 0x80 AES), so the PICC master key can move from
 * DES to AES. Changing the authenticated key ends the authentication. */
dfi_err dfi_desfire_change_key(dfi_desfire *d, uint8_t keyno, const dfi_cardkey *new_key,
    const dfi_cardkey *old_key);

/* ---- files ---------------------------------------------------------------- */

/* Access rights: key numbers 0..13, DFI_DF_ACCESS_FREE or DFI_DF_ACCESS_NEVER. */
#define DFI_DF_ACCESS_FREE 0xE
#define DFI_DF_ACCESS_NEVER 0xF
struct dfi_df_access {
	uint8_t read, write, read_write, change;
};
/* The two access-rights bytes as a little-endian uint16 (read, write,
 * read&write, change from the top nibble down), and back. Pure; a must not
 * be NULL. */
uint16_t dfi_df_access_encode(const struct dfi_df_access *a);
void dfi_df_access_decode(uint16_t v, struct dfi_df_access *a);

/* Secure Dynamic Messaging (DESFire EV3, NTAG 424 DNA): on every
 * unauthenticated read of a data file the card mirrors, as ASCII hex, its
 * UID and read counter (plain, or encrypted as PICC data with the meta-read
 * key), part of the file encrypted and a MAC, all with keys derived from
 * the file-read key and the counter (NXP AN12196). Offsets are bytes into
 * the file; a field is present exactly when the options and rights call for
 * it (dfi_df_sdm_validate). */
#define DFI_DF_SDM_UID 0x80       /* mirror the UID */
#define DFI_DF_SDM_CTR 0x40       /* mirror SDMReadCtr */
#define DFI_DF_SDM_CTR_LIMIT 0x20 /* SDMReadCtrLimit */
#define DFI_DF_SDM_ENC 0x10       /* SDMENCFileData */
#define DFI_DF_SDM_ASCII 0x01     /* ASCII encoding (the only one) */
#define DFI_DF_FILE_OPTION_SDM 0x40

struct dfi_df_sdm {
	uint8_t options;   /* DFI_DF_SDM_* */
	uint8_t ctr_ret;   /* SDMCtrRet: key number, 0xE free, 0xF none */
	uint8_t meta_read; /* SDMMetaRead: key number (PICC data encrypted), 0xE plain, 0xF none */
	uint8_t file_read; /* SDMFileRead: key number (MAC, encrypted data), 0xF none */
	uint32_t uid_offset;       /* meta_read 0xE, DFI_DF_SDM_UID */
	uint32_t ctr_offset;       /* meta_read 0xE, DFI_DF_SDM_CTR */
	uint32_t picc_offset;      /* meta_read a key */
	uint32_t mac_input_offset; /* file_read a key */
	uint32_t enc_offset;       /* file_read a key, DFI_DF_SDM_ENC */
	uint32_t enc_length;       /* ASCII characters: 32 per 16-byte block */
	uint32_t mac_offset;       /* file_read a key */
	uint32_t ctr_limit;        /* DFI_DF_SDM_CTR_LIMIT */
};

/* Checks s against a data file of file_size bytes as the card does:
 * known options, rights, which fields are present, every mirror inside the
 * file and none overlapping, MAC input before the MAC, the encrypted part
 * inside the MAC input. lrp: the card is in LRP mode (PICC data 48
 * characters instead of 32). DFI_E_INVALID_ARG with what in why (may be
 * NULL) when not. */
dfi_err dfi_df_sdm_validate(const struct dfi_df_sdm *s, uint32_t file_size, int lrp,
    char *why, size_t whycap);
/* SDMOptions || SDMAccessRights || the present offsets, as ChangeFileSettings
 * sends them after the file option and access rights. */
dfi_err dfi_df_sdm_encode(const struct dfi_df_sdm *s, uint8_t *out, size_t cap, size_t *len);

enum dfi_df_filetype {
	DFI_DF_FILE_STD = 0,
	DFI_DF_FILE_BACKUP = 1,
	DFI_DF_FILE_VALUE = 2,
	DFI_DF_FILE_LINEAR_RECORD = 3,
	DFI_DF_FILE_CYCLIC_RECORD = 4,
};

struct dfi_df_file_settings {
	uint8_t type;        /* enum dfi_df_filetype */
	uint8_t option;      /* the whole file option byte */
	dfi_df_comm comm;    /* option's low two bits (2 reported as plain) */
	struct dfi_df_access access;
	uint32_t size;       /* data files */
	int32_t lower, upper, limited_credit; /* value files */
	uint8_t limited_credit_enabled;       /* value files: the flags byte */
	uint32_t record_size, max_records, cur_records; /* record files */
	uint8_t n_extra_access; /* EV2 additional access rights count */
	/* Secure Dynamic Messaging (option bit 6, EV3 data files) */
	int sdm_enabled;
	struct dfi_df_sdm sdm;
};

/* GetFileIDs (0x6F) of the selected application: *n ids into ids (cap
 * entries; DFI_E_BUFFER_TOO_SMALL when more; 32 always suffice). */
dfi_err dfi_desfire_get_file_ids(dfi_desfire *d, uint8_t *ids, size_t cap, size_t *n);
/* GetFileSettings (0xF5) of file fileno into *fs (zeroed first). */
dfi_err dfi_desfire_get_file_settings(dfi_desfire *d, uint8_t fileno,
    struct dfi_df_file_settings *fs);
/* Create{Std,Backup}DataFile (0xCD, 0xCB), CreateValueFile (0xCC),
 * Create{Linear,Cyclic}RecordFile (0xC1, 0xC0) and DeleteFile (0xDF) in
 * the selected application, as the card's key settings allow (they may
 * need the application master key authenticated); the ranges are the
 * header's "Arguments". */
dfi_err dfi_desfire_create_std_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t size);
dfi_err dfi_desfire_create_backup_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t size);
dfi_err dfi_desfire_create_value_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, int32_t lower, int32_t upper, int32_t value,
    uint8_t limited_credit_enabled);
dfi_err dfi_desfire_create_linear_record_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t record_size, uint32_t max_records);
dfi_err dfi_desfire_create_cyclic_record_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t record_size, uint32_t max_records);
dfi_err dfi_desfire_delete_file(dfi_desfire *d, uint8_t fileno);
/* send_mode: how the new settings travel (enciphered unless the file's
 * change right is free, 0xE, when they go plain). */
dfi_err dfi_desfire_change_file_settings(dfi_desfire *d, uint8_t fileno, dfi_df_comm send_mode,
    dfi_df_comm new_comm, const struct dfi_df_access *a);

/* ChangeFileSettings as EV3 defines it for Secure Dynamic Messaging: the
 * file option with bit 6 set and the SDM settings after the access rights
 * (sdm NULL: SDM off). The card resets SDMReadCtr to 0 when SDM is
 * enabled. */
dfi_err dfi_desfire_change_file_settings_sdm(dfi_desfire *d, uint8_t fileno,
    dfi_df_comm send_mode, dfi_df_comm new_comm, const struct dfi_df_access *a,
    const struct dfi_df_sdm *sdm);

/* ---- data ----------------------------------------------------------------- */

/* comm is the file's communication mode (from its settings). */
dfi_err dfi_desfire_read_data(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    uint32_t len, uint8_t *out);
dfi_err dfi_desfire_write_data(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    const uint8_t *data, uint32_t len);
dfi_err dfi_desfire_get_value(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t *value);
dfi_err dfi_desfire_credit(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t amount);
dfi_err dfi_desfire_debit(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t amount);
/* Reads count records (0: all) starting at record first (0 = newest);
 * the result must be a whole number of record_size records. */
dfi_err dfi_desfire_read_records(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    uint32_t first, uint32_t count, uint32_t record_size, uint8_t *out, size_t cap,
    size_t *outlen);
dfi_err dfi_desfire_write_record(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    uint32_t offset, const uint8_t *data, uint32_t len);
dfi_err dfi_desfire_commit_transaction(dfi_desfire *d);
dfi_err dfi_desfire_abort_transaction(dfi_desfire *d);

/* ---- response parsers (untrusted input; exposed for fuzzing) ------------- */

/* Each parses one whole response (the data of all frames, no status bytes)
 * of the command it is named after into its output, which is zeroed first.
 * DFI_E_CARD_PROTOCOL when the response is short, malformed or has bytes
 * left over; DFI_E_BUFFER_TOO_SMALL when a list does not fit cap entries;
 * DFI_E_INVALID_ARG for a NULL output or a NULL p with len > 0. */
dfi_err dfi_df_parse_version(const uint8_t *p, size_t len, struct dfi_df_version *v);
dfi_err dfi_df_parse_key_settings(const uint8_t *p, size_t len, struct dfi_df_key_settings *ks);
dfi_err dfi_df_parse_file_settings(const uint8_t *p, size_t len, struct dfi_df_file_settings *fs);
dfi_err dfi_df_parse_aids(const uint8_t *p, size_t len, uint32_t *aids, size_t cap, size_t *n);
dfi_err dfi_df_parse_file_ids(const uint8_t *p, size_t len, uint8_t *ids, size_t cap, size_t *n);
dfi_err dfi_df_parse_value(const uint8_t *p, size_t len, int32_t *value);
dfi_err dfi_df_parse_key_version(const uint8_t *p, size_t len, uint8_t *version);

/* ---- secure messaging without a card (vectors, fuzzing) ------------------ */

/* Setting or reading a session's keys directly (vectors, tests) is not
 * public API: engine/desfire/df_testhooks.h, for this tree's tests only. */

/* Protects one command as dfi_desfire_command would: out receives hdr and
 * the protected data (what follows the command byte across all frames). */
dfi_err dfi_desfire_sm_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, dfi_df_comm mode, uint8_t *out, size_t cap,
    size_t *outlen);
/* Checks and unprotects a whole response (all frames' data, without status
 * bytes) whose final status was sw2. Advances the session (EV1 IV, EV2
 * counter) as a received response does. */
dfi_err dfi_desfire_sm_unwrap(dfi_desfire *d, dfi_df_comm mode, const uint8_t *resp, size_t len,
    uint8_t sw2, uint8_t *out, size_t cap, size_t *outlen);

/* EV2 session keys from an AuthenticateEV2First/NonFirst exchange
 * (SV1/SV2 of the EV2 data sheet §9.1.7), CMACs computed with key. */
dfi_err dfi_df_ev2_session_keys(const dfi_cardkey *key, const uint8_t rnda[16],
    const uint8_t rndb[16], uint8_t enc[16], uint8_t mac[16]);
/* LRP: SesAuthMasterKey = CMAC_LRP(key, SV), SV = 00 01 00 80 ||
 * RndA[15..14] || (RndA[13..8] ^ RndB[15..10]) || RndB[9..0] || RndA[7..0]
 * || 96 69 (byte 15 first). The card key's part is one ECB operation by its
 * holder (dfi_lrp_init_cardkey); SesAuthMACKey and SesAuthENCKey are its
 * LRP updated keys 0 and 1. */
dfi_err dfi_df_lrp_session_master(const dfi_cardkey *key, const uint8_t rnda[16],
    const uint8_t rndb[16], uint8_t master[16]);
/* EV1/D40 session key from RndA and RndB (key type of the card key). */
dfi_err dfi_df_ev1_session_key(dfi_keytype t, const uint8_t *rnda, const uint8_t *rndb,
    uint8_t *out, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
