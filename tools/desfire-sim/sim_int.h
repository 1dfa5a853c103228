/* Private structures of the DESFire simulator, shared by its source files. */
#ifndef DFI_SIM_INT_H
#define DFI_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "desfire_sim.h"
#include "sim_ev3.h"

/* Key families as the card stores them (application key settings 2,
 * bits 7..6): DES and 2K3DES share one family, told apart by equal halves. */
enum sim_kfam { KF_2K3DES = 0, KF_3K3DES = 1, KF_AES = 2 };

/* DESFire status bytes (SW2 after SW1 = 0x91). */
enum {
	ST_OK = 0x00, ST_NO_CHANGES = 0x0C, ST_OUT_OF_EEPROM = 0x0E,
	ST_ILLEGAL_COMMAND = 0x1C, ST_INTEGRITY = 0x1E, ST_NO_SUCH_KEY = 0x40,
	ST_LENGTH = 0x7E, ST_PERMISSION = 0x9D, ST_PARAMETER = 0x9E,
	ST_APP_NOT_FOUND = 0xA0, ST_AUTH = 0xAE, ST_MORE = 0xAF,
	ST_BOUNDARY = 0xBE, ST_COMMAND_ABORTED = 0xCA, ST_COUNT = 0xCE,
	ST_DUPLICATE = 0xDE, ST_FILE_NOT_FOUND = 0xF0,
};

struct sim_key {
	uint8_t k[DFI_MAX_KEY_LEN];
	uint8_t aes_ver; /* AES only; DES-family versions live in parity bits */
};

struct sim_file {
	uint8_t fid;
	uint8_t type; /* enum dfi_sim_file_type */
	uint8_t comm;
	uint16_t ar;  /* read<<12 | write<<8 | rw<<4 | change */
	bool has_iso;
	uint16_t iso_fid;
	uint32_t size;     /* data size, or record size */
	uint32_t max_rec;  /* record files */
	uint32_t nrec;     /* committed records */
	uint32_t head;     /* index of the oldest record */
	int32_t lower, upper, value, lc_value;
	uint8_t vflags;    /* bit 0 limited credit enabled */
	uint8_t *data;     /* committed: size bytes, or size * max_rec */

	/* volatile transaction state, never in the image */
	uint8_t *pdata;    /* backup: whole new content; record: the new record */
	bool pwritten;
	bool pclear;
	bool pvalue_set;
	int32_t pvalue;
	int64_t pdebits;
	bool plimited;

	struct sim_sdm *sdm; /* EV3: Secure Dynamic Messaging, NULL when off */
};

struct sim_app {
	uint32_t aid;
	uint8_t ks;      /* key settings 1 */
	uint8_t nkeys;
	uint8_t kfam;
	bool has_iso;    /* an ISO DF: created with an ISO FID (and maybe a DF name) */
	bool iso_files;  /* key settings 2 bit 5: its files may have ISO FIDs */
	uint16_t iso_fid;
	uint8_t dfname_len;
	uint8_t dfname[16];
	struct sim_key keys[DFI_SIM_MAX_KEYS];
	struct sim_file *files[DFI_SIM_MAX_FILES]; /* indexed by file number */
};

struct sim_card {
	uint8_t uid[DFI_SIM_UID_LEN];
	uint8_t picc_ks;
	uint8_t picc_kfam;
	struct sim_key picc_key;
	uint8_t config;  /* SetConfiguration option 0 flags */
	bool has_default_key;
	struct sim_key default_key;
	uint8_t ats_len;
	uint8_t ats[20];
	size_t napps;
	struct sim_app *apps[DFI_SIM_MAX_APPS]; /* creation order */
	bool lrp;        /* EV3: switched to LRP mode (irreversible) */
	bool ev3;        /* the card is an EV3 (kept in the image) */
};

enum sess_kind { SESS_NONE = 0, SESS_D40, SESS_EV1, SESS_EV2 };
enum sm_mode { SM_PLAIN = 0, SM_MAC, SM_FULL };

struct sim_session {
	enum sess_kind kind;
	uint8_t keyno;
	dfi_keytype st;            /* session cipher (D40/EV1) */
	uint8_t sk[DFI_MAX_KEY_LEN];
	uint8_t iv[DFI_MAX_BLOCK]; /* EV1 CMAC/CBC chain */
	uint8_t kenc[16], kmac[16]; /* EV2 */
	uint8_t ti[4];
	uint16_t ctr;
	struct sim_lrp_session lrp; /* EV2 session in LRP mode */
};

enum pend_kind { PEND_NONE = 0, PEND_AUTH, PEND_RESP, PEND_CMD };

struct sim_pending {
	enum pend_kind kind;
	/* authentication in progress */
	uint8_t auth_cmd, auth_keyno;
	dfi_keytype akt;
	uint8_t akey[DFI_MAX_KEY_LEN];
	uint8_t rndb[16];
	uint8_t ekrndb_last[16];
	uint8_t pcdcap[6];
	/* response frames still to send */
	uint8_t *resp;
	size_t resp_len, resp_off, chunk;
	bool version_split;     /* GetVersion: 7, 7, then the rest */
	size_t fsz[DFI_SIM_MAX_APPS]; /* explicit frame sizes, the last takes the rest */
	size_t nfs, fi;
	/* command frames still to come */
	uint8_t cmd;
	uint8_t *buf;
	size_t len, expected;
	bool lrp;               /* the authentication in progress is LRP */
};

/* A response under construction: plaintext data, and how to wrap it. */
struct sim_resp {
	uint8_t *data;
	size_t len, cap;
	enum sm_mode mode;
	bool raw;          /* authentication: no secure messaging */
	bool version_split;
	size_t chunk;      /* data bytes per frame; 0 = default */
	size_t fsz[DFI_SIM_MAX_APPS]; /* explicit frame sizes (GetDFNames) */
	size_t nfs;
	bool oom;
};

struct sim_rng {
	bool seeded;
	uint8_t key[16];
	uint8_t ctr[16];
};

struct dfi_sim {
	struct dfi_sim_config cfg;
	char *image;
	struct sim_card *card;
	bool present;
	struct sim_session sess;
	struct sim_pending pend;
	uint32_t sel_aid;       /* 0: PICC level */
	struct sim_app *sel;    /* NULL at PICC level */
	int iso_ef;             /* ISO 7816-4 current EF: a file number of sel, -1 none */
	struct sim_rng rng;
	unsigned tear_n;        /* APDUs left until the tear; 0 = disarmed */
	enum dfi_sim_tear_mode tear_mode;
	struct dfi_sim_stats stats;
	uint64_t last_cost_us;
	bool dirty;             /* committed state changed by this command */
	uint32_t eeprom_bytes;  /* bytes written by this command (timing) */
	uint8_t *blob;          /* the committed state, encoded as the image */
	size_t blob_len;
	struct sim_resp rsp;    /* reused response buffer */
	uint8_t random_uid[4];  /* this activation's random ID */
	/* Random ID was on when the card was activated: SetConfiguration
	 * turning it on shows from the next activation, as on a card. */
	bool random_active;
	void (*forge)(void *, uint8_t, uint8_t *, size_t *, uint8_t *); /* sim_forge.h */
	void *forge_ctx;
};

/* sim_state.c */
struct sim_card *sim_card_factory(const uint8_t uid[DFI_SIM_UID_LEN]);
void sim_card_free(struct sim_card *c);
void sim_app_free(struct sim_app *a);
void sim_file_free(struct sim_file *f);
void sim_file_drop_pending(struct sim_file *f);
struct sim_app *sim_find_app(struct sim_card *c, uint32_t aid);
size_t sim_kfam_keylen(uint8_t kfam);
dfi_keytype sim_key_cipher(uint8_t kfam, const struct sim_key *k, uint8_t *key, size_t *keylen);
uint8_t sim_key_version(uint8_t kfam, const struct sim_key *k);
uint32_t sim_file_bytes(const struct sim_file *f);
uint32_t sim_free_memory(const struct sim_card *c);
uint64_t sim_mem_used(const struct sim_card *c);
/* The EEPROM a file or an application (with its files) takes. */
uint64_t sim_file_cost(const struct sim_file *f);
uint64_t sim_app_cost(const struct sim_app *a);
/* Is there room on c for cost more bytes? CreateApplication and CreateFile
 * ask before they add anything, so that a refusal leaves the card as it was. */
bool sim_fits(const struct sim_card *c, uint64_t cost);
/* sim_on_picc.c: the ATS of an activation (set or factory); 0 if cap is short. */
size_t sim_card_ats(const struct sim_card *c, uint8_t *ats, size_t cap);
/* User memory of an 8 KB EV1/EV2 card as GetFreeMemory reports it fresh. */
#define SIM_EEPROM_BYTES 7936u
size_t sim_record_offset(const struct sim_file *f, uint32_t idx_from_oldest);

/* sim_image.c */
dfi_err sim_image_encode(const struct sim_card *c, uint8_t **out, size_t *len);
dfi_err sim_image_decode(const uint8_t *p, size_t len, struct sim_card **out);
dfi_err sim_image_load(const char *path, struct sim_card **out);
dfi_err sim_image_save(const char *path, const struct sim_card *c, bool do_fsync);

/* sim_forge.c: lets the test hook (sim_forge.h) rewrite an answer. */
void sim_forge_apply(dfi_sim *s, uint8_t cmd, struct sim_resp *r, uint8_t *st);

/* sim.c: encodes the card, writes the image (when write_image and the
 * simulator has one) and keeps the encoding as the state an insertion
 * reloads; on failure the kept state is unchanged. */
dfi_err sim_keep_state(dfi_sim *s, bool write_image);

/* sim_rng.c */
void sim_rng_init(struct sim_rng *r, bool seeded, uint64_t seed);
dfi_err sim_rng_bytes(struct sim_rng *r, uint8_t *out, size_t len);

/* sim_resp.c */
void resp_reset(struct sim_resp *r);
void resp_put(struct sim_resp *r, const void *p, size_t n);
void resp_u8(struct sim_resp *r, uint8_t v);
void resp_le24(struct sim_resp *r, uint32_t v);
void resp_le32(struct sim_resp *r, uint32_t v);
uint32_t le24(const uint8_t *p);
uint32_t le32(const uint8_t *p);

/* sim_sm.c: secure messaging. sm_in unwraps a command's data (raw, with
 * hdrlen plain header bytes) into out (header + plaintext); plainlen is the
 * expected plaintext length after the header for SM_FULL (SIZE_MAX: whole
 * decrypted data, no CRC, for ChangeKey). mac_sent: the PCD appends a MAC
 * (D40/EV1 send one only on data-writing commands; EV2 always in MAC and
 * FULL). Returns a status byte. */
uint8_t sm_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen,
    size_t hdrlen, enum sm_mode mode, bool mac_sent, size_t plainlen,
    uint8_t *out, size_t *outlen);
/* Wraps a successful response; out must hold r->len + 64 bytes. */
dfi_err sm_out(dfi_sim *s, uint8_t cmd, const struct sim_resp *r, uint8_t *out, size_t *outlen);
void sm_clear(dfi_sim *s);
/* EV1/D40: whether a given command carries a MAC from the PCD in MAC mode. */
bool sm_cmd_sends_mac(const dfi_sim *s, uint8_t cmd);
/* Whether crc holds the CRC of p (n bytes), little-endian: CRC16 under a
 * D40 session, CRC32 under the others (EV1 and EV2 ChangeKey's CRC of the
 * new key). */
bool sm_crc_eq(const dfi_sim *s, const uint8_t *p, size_t n, const uint8_t *crc);
/* The CRC an enciphered command of a D40 or EV1 session carries after its
 * plaintext, in m = header (hdrlen plain bytes) || data (n) || CRC: over
 * the data under D40, over cmd || header || data under EV1. */
bool sm_cmd_crc_ok(const dfi_sim *s, uint8_t cmd, const uint8_t *m, size_t hdrlen, size_t n);

/* sim_auth.c */
/* The 30 bytes that EV2's session-key vectors (after their 2-byte label)
 * and LRP's SesAuthMasterKey vector (before 96 69) share: 00 01 00 80 ||
 * RndA[15..14] || (RndA[13..8] ^ RndB[15..10]) || RndB[9..0] ||
 * RndA[7..0], byte 15 first. */
void sim_sv_body(const uint8_t a[16], const uint8_t b[16], uint8_t out[30]);
uint8_t sim_on_authenticate(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r);
uint8_t sim_on_auth_continue(dfi_sim *s, const uint8_t *d, size_t n, struct sim_resp *r);

/* sim_on_picc.c / sim_on_key.c / sim_on_file.c / sim_on_data.c: the
 * card's handlers, sim_on_X for the command X it receives (the host's
 * side of the same commands is engine/desfire/cmd_*.c; the CLI's
 * subcommands are tools/dfissue/sub_*.c). Called from sim.c's command
 * table only, which checks first what a command's row asks: an
 * application selected, the data's exact length. */
typedef uint8_t (*sim_handler)(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r);
uint8_t sim_on_get_version(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_get_card_uid(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_read_sig(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *); /* sim_on_sig.c */
uint8_t sim_on_select_app(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_list_apps(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *); /* 6A, 6D */
uint8_t sim_on_get_iso_file_ids(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_create_app(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_delete_app(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_format(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_free_mem(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_set_config(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_change_key(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_change_key_settings(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_get_key_settings(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_get_key_version(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_create_file(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_delete_file(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_get_file_ids(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_get_file_settings(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_change_file_settings(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_read(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_write(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_value_op(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_clear_records(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_commit(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);
uint8_t sim_on_abort(dfi_sim *, uint8_t, const uint8_t *, size_t, struct sim_resp *);

/* For multi-frame writes: the wire length of the data after the 7-byte
 * header, or 0 with *st set when the header is refused. */
size_t write_expected_len(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, uint8_t *st);

/* sim_iso.c: one ISO 7816-4 C-APDU (CLA 00); writes data + SW into out
 * (DFI_APDU_MAX + 2 bytes). Sets s->dirty when the committed state changed. */
void sim_iso_apdu(dfi_sim *s, const uint8_t *c, size_t n, uint8_t *out, size_t *olen);

/* sim_access.c: shared permission helpers */
bool sim_authed_with(const dfi_sim *s, uint8_t keyno);
bool sim_master_authed(const dfi_sim *s);
/* Checks rights (a list of 4-bit access conditions) for a file operation;
 * sets *mode to the communication mode to use. Returns a status byte. */
uint8_t sim_file_access(const dfi_sim *s, const struct sim_file *f,
    const uint8_t *rights, size_t nrights, enum sm_mode *mode);
enum sm_mode sim_comm_mode(uint8_t comm);
void sim_abort_transaction(dfi_sim *s);
/* The end of a command that changed the committed state: marks it to be
 * saved, charges bytes of EEPROM writing (timing), answers in mode. ST_OK. */
uint8_t sim_changed(dfi_sim *s, struct sim_resp *r, uint32_t bytes, enum sm_mode mode);

#endif
