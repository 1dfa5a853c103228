/* Private to engine/perso: the handle, one tap's state, the plan. */
#ifndef DFI_PERSO_INT_H
#define DFI_PERSO_INT_H

#include <stdarg.h>

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "dfissue/originality.h"
#include "dfissue/perso.h"
#include "dfissue/util.h" /* DFI_AID_FMT: AIDs in messages */

#define PERSO_MAX_INTENTS 32
/* Key slots of one card: the PICC master key and 14 per application. */
#define PERSO_MAX_REG_SLOTS (1 + DFI_PROFILE_MAX_APPS * DFI_PROFILE_MAX_KEYS)
/* Intents queued ahead (exec.c): every key of one application. */
#define PERSO_MAX_PREFETCH DFI_PROFILE_MAX_KEYS
/* Records appended asynchronously and not yet told to the registry: a
 * batch of intents queued ahead and the tap's last batch, each with the
 * pending commits (and the aborts of what was queued and not sent). */
#define PERSO_MAX_NOTES (2 * (PERSO_MAX_COMMITS + PERSO_MAX_PREFETCH) + 8)
#define PERSO_MAX_STEPS 256
#define PERSO_MAX_COMMITS 16
/* Conflicts named one by one; more are counted. */
#define PERSO_MAX_CONFLICTS 16
/* Key settings a new application gets until its final ones: everything
 * allowed, keys changed with the master key. */
#define PERSO_CREATE_KS 0x0F

/* A target key role: the profile key and its base key in the HSM. */
struct perso_role {
	const struct dfi_profile_key *pk;
	dfi_hsm_key *base;       /* owned unless shared */
	int shared;              /* base belongs to an earlier role with the same URI */
	uint8_t objid[DFI_J_BLOB_MAX];
	size_t objid_len;
	/* Older generations of this role (profile "previous"), in the
	 * handle's prevs[first .. first + nprev). */
	size_t prev_first, nprev;
};

/* An older generation of a role's key, a probing candidate (probe.c). */
struct perso_prev {
	struct dfi_profile_key pk; /* the role's key with this generation's base, version, generation */
	dfi_hsm_key *base;         /* NULL: the operator no longer holds it */
	int shared;                /* base belongs to an earlier prev with the same URI */
};

struct dfi_perso {
	dfi_hsm *hsm;
	dfi_journal *journal;
	const dfi_profile *profile;
	const struct dfi_profile_spec *spec;
	char station[64];
	void (*progress)(void *ctx, const char *event);
	void *progress_ctx;
	struct perso_role picc;
	struct perso_role *roles;  /* flat: apps' keys in profile order */
	size_t *role_base;         /* first role of app i */
	/* The public factory keys (all zero, version 0) of each type. */
	dfi_cardkey *factory[4];
	/* The PICC key cards arrive with when it is not the factory key: the
	 * transport key's base key (DIVERSIFIED), or the key itself as a card
	 * key shared by every tap (STATIC). */
	struct perso_role transport;
	dfi_cardkey *transport_static;
	int transport_static_shared;        /* from another handle (keys_from) */
	dfi_registry *reg;
	int own_reg;
	dfi_orig_keys *orig;                /* NULL: originality off */
	struct dfi_perso_reissue *reissue;  /* copies; reasons owned */
	size_t nreissue;
	uint64_t run_start;                 /* journal size when the handle was made */
	unsigned claim_lease_ms;            /* asked for with each claim (cfg, checked) */
	char err[512]; /* why dfi_perso_new failed: room for an HSM detail */
	/* Older generations of every role (probe.c); owned unless prevs_shared. */
	struct perso_prev *prevs;
	size_t nprevs;
	int prevs_shared;
};

/* A key slot as the registry knew it when the tap began. */
struct reg_slot {
	uint32_t aid;
	uint8_t keyno;
	uint8_t state;   /* enum dfi_reg_slot_state */
	int version;
	uint32_t generation;
	uint64_t changed_by;  /* CHANGED: seq of that intent */
	int has_profile;      /* the intent behind state carried a profile digest */
	uint8_t profile[DFI_J_PROFILE_LEN];
};

/* What one key slot of the card holds, as far as this tap knows. */
struct key_state {
	int version;             /* from GetKeyVersion; -1 unknown */
	const dfi_cardkey *cur;  /* the key the card holds; NULL unknown */
	int confirmed;           /* cur proven by an authentication */
	int at_target;           /* cur is the profile's target key */
};

/* An older generation's per-card key derived on this tap (probe.c). */
struct tap_prev {
	const struct perso_prev *pv;
	uint32_t aid;
	dfi_cardkey *k;
};

struct app_state {
	int exists;
	int created;             /* by this tap */
	uint8_t ks;              /* key settings as the card has them */
	uint8_t nkeys;
	dfi_keytype keytype;     /* family (DES family as 2K3DES) */
	struct key_state keys[DFI_PROFILE_MAX_KEYS];
	dfi_cardkey *target[DFI_PROFILE_MAX_KEYS];
	int file_exists[DFI_PROFILE_MAX_FILE_NO + 1];
	int fs_known[DFI_PROFILE_MAX_FILE_NO + 1];
	int file_created[DFI_PROFILE_MAX_FILE_NO + 1]; /* by this tap */
	struct dfi_df_file_settings fs[DFI_PROFILE_MAX_FILE_NO + 1];
	int content_ok[DFI_PROFILE_MAX_FILES];     /* per profile file index */
	size_t have_records[DFI_PROFILE_MAX_FILES]; /* record files: records on the card */
	/* Record files: have_records was read from the card on this tap (the
	 * records compared with the profile's first ones): writes that add
	 * the rest with authenticated answers then prove the whole file. */
	int records_read[DFI_PROFILE_MAX_FILES];
	/* The whole content went to the card on this tap in commands whose
	 * authenticated answers prove the card took them as sent (perso_proven):
	 * the final verification need not read it back. */
	int content_proven[DFI_PROFILE_MAX_FILES];
	int conflict;            /* conflicts.c: a conflict was found in it */
	/* Made on this tap by a CreateFile whose authenticated answer proves
	 * the card took the settings as sent (perso_proven). */
	int fs_proven[DFI_PROFILE_MAX_FILE_NO + 1];
	/* Verified: on this tap before the next application's steps, or on
	 * an earlier tap (the journal shows a later slot changed since). */
	int verified;
};

enum step_kind {
	STEP_CREATE_APP,
	STEP_CREATE_FILE,
	STEP_WRITE_CONTENT,
	STEP_CHANGE_APP_KEY,
	STEP_APP_SETTINGS,
	STEP_CHANGE_PICC_KEY,
	STEP_PICC_CONFIG,
	STEP_PICC_SETTINGS,
	STEP_LRP_SWITCH,      /* lrp.c: SetConfiguration option 05, a journaled change */
	STEP_FILE_SDM,        /* ChangeFileSettings with SDM (sdm.c) */
};

struct step {
	enum step_kind kind;
	int app;      /* profile app index, -1 for the PICC */
	int file;     /* profile file index */
	uint8_t keyno;
};

/* An intent of the journal left open for this card. */
struct open_intent {
	dfi_jrec rec;
	int done;
};

struct tap {
	dfi_perso *p;
	dfi_transport *t;
	dfi_desfire *d;
	const dfi_batch_row *row;
	/* A run on a batch file (dfi_perso_card_batch): its path, and the
	 * row the card began with when it is not the row given (ownrow.c). */
	const char *batch_path;
	dfi_batch_row *own;
	struct dfi_perso_result *res;
	int readonly;            /* inspect: no writes, nothing journaled */
	uint8_t uid[DFI_PROFILE_UID_LEN];
	/* What the registry knew of the UID when the tap began. */
	dfi_reg_claim *claim;
	struct dfi_reg_card reg;
	struct reg_slot rslots[PERSO_MAX_REG_SLOTS];
	size_t nrslots;
	uint64_t tap_from;       /* journal size when the tap began */
	int refused;             /* a refusal ended the tap (res says why) */
	int state_begun;         /* perso_read_state ran: what the card holds was asked */
	char would_refuse[200];  /* inspect: why a tap would refuse the card */
	int appended;            /* the tap wrote to the journal */
	/* The key the PICC arrives with: factory, or the transport key (the
	 * per-card one derived on this tap, or the handle's static one). */
	const dfi_cardkey *picc_initial;
	dfi_cardkey *picc_transport;
	int unknown_picc;        /* the PICC master key matched no candidate */
	/* Records queued asynchronously, told to the registry once durable. */
	struct {
		dfi_jrec rec;
		uint64_t ticket;
	} notes[PERSO_MAX_NOTES];
	size_t nnotes;
	struct dfi_df_version ver;
	struct dfi_card_data *cd;
	/* PICC */
	struct key_state picc;
	dfi_cardkey *picc_target;
	uint8_t picc_ks;
	uint32_t aids[DFI_PROFILE_MAX_APPS];
	size_t naids;
	struct app_state *apps;  /* parallel to spec->apps */
	/* Who the session is authenticated with (checked against the session). */
	const dfi_cardkey *authed;
	/* Keys derived for intents whose identity is not the profile's. */
	dfi_cardkey *extra[PERSO_MAX_INTENTS];
	size_t nextra;
	struct open_intent intents[PERSO_MAX_INTENTS];
	size_t nintents;
	struct step steps[PERSO_MAX_STEPS];
	size_t nsteps;
	int unknown_keys;        /* a key matched no candidate */
	char unknown_what[96];
	int progressed;          /* an earlier tap had begun (resumed) */
	int journal_failed;      /* a journal append failed: stop everything */
	uint64_t apdus0;
	/* ChangeKeys the card confirmed whose commits are not appended yet:
	 * they go out with the next journal batch (one checkpoint signature
	 * and one fdatasync for all) or at the end of the tap. */
	uint64_t commits[PERSO_MAX_COMMITS];
	size_t ncommits;
	/* The intents of the next ChangeKey steps of one application (or of
	 * the PICC), queued as one batch while the step before them talks to
	 * the card, so that the journal's signature and fdatasync overlap the
	 * card's time and the registry hears of them all in one round trip;
	 * each ChangeKey waits until its intent is durable and told. */
	struct {
		int valid;
		size_t step;
		uint64_t seq, ticket;
		dfi_jrec rec;
	} pf[PERSO_MAX_PREFETCH];
	size_t cur_step;
	uint64_t flush_ticket;   /* the end of the tap's batch, 0 if none */
	/* One journal batch being put together (exec.c: durable_intent,
	 * commits_now, perso_flush_begin; never two at once): about 45 KB of
	 * records kept off the stack, in the tap allocated before anything is
	 * sent, so no path allocates when an append fails. */
	struct {
		dfi_jrec recs[PERSO_MAX_COMMITS + PERSO_MAX_PREFETCH + 1];
		dfi_jrec extra[PERSO_MAX_PREFETCH + 1];
		uint64_t seqs[PERSO_MAX_COMMITS + PERSO_MAX_PREFETCH + 1];
	} jb;
	/* Rotation (probe.c): per-card keys of older generations derived on
	 * this tap, and how many slots showed one or the target. */
	struct tap_prev *prevk;
	size_t nprevk, capprevk;
	unsigned slots_prev, slots_target;
	/* Random ID (uid.c): the UID key derived to open the card, and which
	 * key the UID was read with. */
	dfi_cardkey *uid_target;
	char uid_via[64];
	/* What the card holds that the profile cannot reach without
	 * destroying data (conflicts.c): one line each. */
	char conflict[PERSO_MAX_CONFLICTS][160];
	size_t nconflicts;
	/* lrp.c: the card's mode as this tap's probe found it. */
	enum { PERSO_LRP_UNKNOWN = 0, PERSO_LRP_OFF, PERSO_LRP_ON } lrp;
	/* What this tap makes of the card (digest.c), on every intent. */
	uint8_t digest[DFI_J_PROFILE_LEN];
};

/* perso.c */
dfi_err perso_tap_begin(dfi_perso *p, struct tap *tp, dfi_transport *t, const char *batch_path,
    const dfi_batch_row *row, struct dfi_perso_result *res, int readonly);
void perso_tap_free(struct tap *tp);
void perso_event(struct tap *tp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void perso_detail(struct tap *tp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dfi_strerror(e) for the operator, and for an HSM error the detail h
 * recorded for it in parentheses (the PKCS#11 call and its CK_RV): the
 * error's own text ("PKCS#11 call failed: the detail names the call...")
 * names neither. Into buf (cap bytes). */
void perso_err_text(dfi_hsm *h, dfi_err e, char *buf, size_t cap);
uint32_t perso_aid(const uint8_t a[3]);
/* The profile index of application aid, or -1 when the profile has none. */
int perso_app_index(const struct tap *tp, uint32_t aid);
/* 1 when the card's settings of an existing file are the profile's. */
int perso_file_settings_match(const struct dfi_profile_file *f,
    const struct dfi_df_file_settings *fs);
int perso_is_tear(dfi_err e);
/* Tags the APDUs sent from now on with a phase (enum dfi_perso_phase);
 * returns the previous one. */
unsigned perso_phase(struct tap *tp, unsigned phase);

/* digest.c: tp->digest from the profile, the UID and the batch row;
 * perso_digest_of: the same for another row of this card (its card data
 * cd from dfi_profile_card_data), into out. */
dfi_err perso_digest(struct tap *tp);
dfi_err perso_digest_of(const struct tap *tp, const dfi_batch_row *row, const struct dfi_card_data *cd,
    uint8_t out[DFI_J_PROFILE_LEN]);

/* ownrow.c: a run on a batch file gives a card the journal or the
 * registry already knows under this profile the row it began with. */
dfi_err perso_own_row(struct tap *tp);

/* admit.c: may this card get keys? */
dfi_err perso_claim(struct tap *tp);
void perso_release(struct tap *tp);
dfi_err perso_lookup(struct tap *tp);
dfi_err perso_originality(struct tap *tp);
dfi_err perso_admit(struct tap *tp);
dfi_err perso_refuse(struct tap *tp, dfi_jcause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The journal and then the registry: every append of the engine. */
dfi_err perso_append(struct tap *tp, dfi_jrec *recs, size_t n, uint64_t *seqs);
/* Records queued with a ticket, told to the registry when it is durable. */
void perso_note_queued(struct tap *tp, const dfi_jrec *recs, const uint64_t *seqs, size_t n,
    uint64_t ticket);
dfi_err perso_note_durable(struct tap *tp, uint64_t ticket);
dfi_err perso_witness(struct tap *tp);
dfi_err perso_admission_init(dfi_perso *p, const struct dfi_perso_config *cfg);
void perso_admission_free(dfi_perso *p);

/* keys.c */
dfi_err perso_roles_init(dfi_perso *p, const dfi_perso *from);
void perso_roles_free(dfi_perso *p);
const struct perso_role *perso_role(const dfi_perso *p, int app, uint8_t keyno);
dfi_err perso_derive(struct tap *tp, const struct perso_role *r, uint32_t aid,
    dfi_cardkey **out);
const dfi_cardkey *perso_factory(const dfi_perso *p, int app);
/* The key a slot has when the card arrives: the PICC's is the transport
 * key when the profile names one; applications' are the factory keys. */
const dfi_cardkey *perso_initial(const struct tap *tp, int app);
dfi_err perso_targets(struct tap *tp);
void perso_tap_keys_free(struct tap *tp);
dfi_err perso_intent_key(struct tap *tp, const dfi_jrec *in, int app, const dfi_cardkey **out);

/* probe.c: older generations (rotation) */
dfi_err perso_prevs_init(dfi_perso *p);
void perso_prevs_free(dfi_perso *p);
void perso_prevs_tap_free(struct tap *tp);
/* Adds the older generations of slot (app, keyno) to cand (capacity cap):
 * those whose version is v; all of them when no candidate has version v. */
dfi_err perso_prev_candidates(struct tap *tp, int app, uint8_t keyno, uint8_t v,
    const dfi_cardkey **cand, size_t *nc, size_t cap);
/* The generation k stands for in slot (app, keyno): 1 and *gen when k is
 * the target or an older generation's key, 0 otherwise (factory, transport). */
int perso_key_generation(const struct tap *tp, int app, uint8_t keyno, const dfi_cardkey *k,
    uint32_t *gen);

/* session.c */
dfi_err perso_select(struct tap *tp, uint32_t aid);
dfi_err perso_auth(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k);
/* 1: authenticated; 0: the card refused this key; < 0 never (errors returned). */
dfi_err perso_try_auth(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k,
    int *ok);
dfi_err perso_ensure_master(struct tap *tp, int app);
/* 1 when the answer to a command sent now in communication mode comm is
 * authenticated so that it proves the card executed the command as sent. */
int perso_proven(const struct tap *tp, dfi_df_comm comm);

/* state.c */
dfi_err perso_read_state(struct tap *tp);
dfi_err perso_resolve_key(struct tap *tp, int app, uint8_t keyno, int confirm);

/* recover.c */
struct open_intent *perso_find_intent(struct tap *tp, uint32_t aid, uint8_t keyno);
dfi_err perso_close_intent(struct tap *tp, struct open_intent *oi, dfi_jrec_type t, const char *reason,
    int observed, dfi_jmatch m);
dfi_err perso_settle_intent(struct tap *tp, struct open_intent *oi, int observed,
    const dfi_cardkey *found, const dfi_cardkey *newkey);
/* Appends outcome t (commit; abort naming cause; resolve with observed and
 * m) of intent or change seq; on failure the tap stops (journal_failed)
 * and the detail says "journal: <t> of <what> <seq> not written". */
dfi_err perso_append_outcome(struct tap *tp, dfi_jrec_type t, uint64_t seq, dfi_err cause,
    int observed, dfi_jmatch m, const char *what);

/* plan.c */
uint8_t perso_config_byte(const struct dfi_profile_config *c);
dfi_err perso_plan(struct tap *tp);
void perso_step_name(const struct tap *tp, const struct step *s, char *buf, size_t cap);

/* exec.c */
dfi_err perso_execute(struct tap *tp);
/* Appends the pending commit, if any (every tap calls it before it ends). */
/* End of a tap: queues the pending commits (and the abort of a queued
 * intent whose ChangeKey was never sent), then waits for them. */
dfi_err perso_flush_begin(struct tap *tp);
dfi_err perso_flush_end(struct tap *tp);

/* uid.c: random-ID cards */
/* 1 when the reader's ID is a random ID (ISO/IEC 14443-3: 4 bytes, 08 first). */
int perso_uid_is_random(const uint8_t *id, size_t n);
/* Opens the card with a key that does not depend on the UID and reads the
 * real UID (GetCardUID) into tp->uid and the result. DFI_E_UNKNOWN_KEYS
 * when no candidate opens it (nothing written). */
dfi_err perso_uid_random(struct tap *tp, const uint8_t *rid, size_t n);
/* Moves the plan's SetConfiguration after the UID key's change when the
 * profile sets random ID early (or drops it when nothing is left to set). */
void perso_uid_plan(struct tap *tp);

/* conflicts.c: what the profile cannot reach without destroying data */
void perso_conflict(struct tap *tp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How an existing file differs from the profile's (settings that differ
 * and that no command changes without deleting the file). */
void perso_file_diff(const struct dfi_profile_file *f, const struct dfi_df_file_settings *fs,
    char *buf, size_t cap);
/* A card with conflicts is refused: each conflict a progress line, the
 * refusal (journaled unless inspecting) names them. */
dfi_err perso_conflicts_refuse(struct tap *tp);
/* 1 when the tap adds applications to a card issued otherwise complete. */
int perso_adding_apps(const struct tap *tp);

/* lrp.c: "secure_messaging": "lrp" (issue 20) */
int perso_lrp_wanted(const struct tap *tp);
/* DFI_E_UNSUPPORTED (detail set) for an LRP profile on a card before EV3. */
dfi_err perso_lrp_card_check(struct tap *tp);
/* The mode probe, on the tap's first AES authentication of an LRP profile:
 * *done when it authenticated (LRP mode); else the caller authenticates
 * as usual (AES mode, or no probe needed). Settles an open switch. */
dfi_err perso_lrp_auth(struct tap *tp, uint8_t keyno, const dfi_cardkey *k, int *done);
/* Plans the switch (after the PICC master key change) unless switched. */
dfi_err perso_lrp_plan(struct tap *tp);
dfi_err perso_lrp_switch(struct tap *tp);

/* verify.c */
/* One application: keys, file settings, contents (verify.c). */
dfi_err perso_verify_app(struct tap *tp, int app);
dfi_err perso_verify(struct tap *tp);

/* sdm.c: Secure Dynamic Messaging files */
/* 1 when two SDM settings are the same (as the card encodes them). */
int perso_sdm_equal(const struct dfi_df_sdm *a, const struct dfi_df_sdm *b);
/* need[f] (nneed entries): file f of application app needs its SDM step.
 * DFI_E_CARD_CONFLICT when one does and the card is older than an EV3. */
dfi_err perso_sdm_plan(struct tap *tp, int app, int *need, size_t nneed);
/* ChangeFileSettings with the profile's SDM settings. */
dfi_err perso_sdm_step(struct tap *tp, int app, int file);
/* The SDM files of an application: settings in a MAC'd answer, and one
 * read without a key checked with the HSM-derived SDM keys. */
dfi_err perso_sdm_verify(struct tap *tp, int app);

/* file I/O shared by state, exec and verify (fileio.c) */
dfi_err perso_file_auth(struct tap *tp, int app, const struct dfi_profile_file *f, int write,
    dfi_df_comm *mode);
/* 1 when the session in hand (this application's) holds a right to read
 * (write 0) or write f: perso_file_auth would send nothing. */
int perso_file_session_right(const struct tap *tp, int app, const struct dfi_profile_file *f,
    int write);
/* The key perso_file_auth authenticates with to write f; -1: none (free
 * or never). */
int perso_write_key(const struct dfi_profile_file *f);
/* Compares the file's content on the card with the profile's; *same set. */
dfi_err perso_file_compare(struct tap *tp, int app, int file, int *same, size_t *have_records);

#endif
