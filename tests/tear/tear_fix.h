/*
 * The tear tests' fixture: one SoftHSM2 dev token and one logged-in HSM
 * handle per process, the scenario's profile and its first batch row, and
 * per case a simulated card (image file on tmpfs, prepared as the
 * scenario's cards arrive), a station (journal directory, journal writer,
 * personalization handle) and the checks every case ends with.
 *
 * A scenario (tear_scenario.c) is a profile plus how a fresh card is made:
 * "reference" (profiles/reference.json on factory cards) and the others in
 * that file. The environment variable TEAR_SCENARIO picks one (default
 * reference); CMake runs every tear test once per scenario.
 *
 * Every card is reached through a guard transport that enforces the
 * two-phase rule while the engine runs: when a ChangeKey (INS C4/C6) is
 * about to leave, the station's journal file must verify (records, tree,
 * checkpoints; the signatures are checked at the end of the case) and hold
 * an unresolved intent for this card, application and key number, covered
 * by a checkpoint. Otherwise the case fails. The
 * guard can also kill the process (SIGKILL) before the k-th APDU is sent or
 * after its response came back.
 */
#ifndef DFI_TEAR_FIX_H
#define DFI_TEAR_FIX_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "card_check.h"
#include "desfire_sim.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"

#define TEAR_SEED 0x7EA5EEDull /* card randomness and UID */

struct tear_env;
struct tear_card;

/* What the tear tests run over. Adding one: an entry in tear_scenario.c
 * and a tear_scenario() line in CMakeLists.txt. */
struct tear_scenario {
	const char *name;      /* TEAR_SCENARIO value, in every summary line */
	const char *profile;   /* under profiles/ */
	const char *batch;     /* under profiles/ (its first row), or NULL */
	/* Makes a fresh (factory) card what this scenario's cards are when
	 * they arrive, e.g. with a transport key; NULL: factory cards. The
	 * card's committed state is changed directly, as its supplier would. */
	int (*prepare)(struct tear_env *e, struct tear_card *c, char *why, size_t cap);
	const char *about;     /* one line printed by the tests */
	/* The simulated card (0: DFI_SIM_MODEL_EV2). An EV2 card is
	 * personalized under EV2 secure messaging, an EV1 card under EV1's. */
	enum dfi_sim_model model;
	/* The token also gets the generation-2 base keys (make-dev-token.sh
	 * --generation2), for rotation scenarios. */
	int generation2;
};

/* The scenario named (NULL: $TEAR_SCENARIO, else "reference"); NULL when
 * there is no such scenario. */
const struct tear_scenario *tear_scenario_find(const char *name);

struct tear_env {
	char root[256];      /* private temp dir (token and cases) */
	char token[320];     /* make-dev-token.sh output dir */
	char cases[320];     /* per-case dirs, on /dev/shm when possible */
	int own_root;        /* remove root at close (not in exec'd children) */
	char module[512];    /* PKCS#11 module the HSM layer loads */
	dfi_hsm *hsm;
	dfi_signer *signer;
	dfi_jpubkey *pub;
	dfi_profile *profile;
	dfi_batch *batch;
	dfi_batch_row *row;
	unsigned seq;        /* unique case numbers */
	int file_cards;      /* cases keep the card in an image file (else memory) */
	const struct tear_scenario *sc;
	/* The profile's base keys, looked up once per HSM handle and shared by
	 * every case's station (dfi_perso_config.keys_from). */
	dfi_perso *keys;
	/* Rotation scenarios: the first issue's profile (reference.json) and
	 * its base keys, made on first use by the scenario's prepare. */
	dfi_profile *first_profile;
	dfi_perso *first_keys;
};

/* Makes the token (make-dev-token.sh, once) and opens everything for the
 * scenario $TEAR_SCENARIO. module NULL = SoftHSM2 ($SOFTHSM2_MODULE). With
 * existing_root (exec'd children) the token under that root is reused and
 * nothing is created. 0 on success, else why says what failed. */
int tear_env_open(struct tear_env *e, const char *module, const char *existing_root,
    char *why, size_t cap);
void tear_env_close(struct tear_env *e);
/* Only the HSM handle, signer and public key (a restarted station). */
void tear_env_close_hsm(struct tear_env *e);
int tear_env_open_hsm(struct tear_env *e, char *why, size_t cap);
/* A fresh empty directory under e->cases; path receives it. */
int tear_env_case_dir(struct tear_env *e, char *path, size_t cap);
/* Formats into why (if not NULL); returns -1. */
#define tear_fail(...) dfi_test_why(-1, __VA_ARGS__)
/* rm -rf of a case directory. */
void tear_rmtree(const char *path);

/* Runs a check suite with every fixture directory under one temporary
 * directory ($TEAR_ROOT) that is removed afterwards, even when a test
 * failed; returns the exit status. */
int tear_run_suite(Suite *s);

/* ---- card --------------------------------------------------------------- */

struct tear_guard; /* the guard transport's state */

struct tear_card {
	char image[512];
	dfi_sim *sim;
	dfi_transport *t;         /* guard over the simulator transport */
	struct tear_guard *g;     /* owned by t */
	uint8_t uid[DFI_SIM_UID_LEN];
};

/* Opens (or creates in factory state) the card image at image; NULL = a
 * memory-only card (same committed-state semantics, no file). */
int tear_card_open(struct tear_card *c, const char *image, char *why, size_t cap);
void tear_card_close(struct tear_card *c);

/* Guard: violations of the two-phase rule seen so far, and the first one. */
unsigned tear_guard_violations(const struct tear_card *c, char *first, size_t cap);
/* APDUs the guard passed (all taps). */
uint64_t tear_guard_apdus(const struct tear_card *c);
/* Kill the process at the k-th APDU from now: before sending it (after = 0)
 * or after its response came (after = 1). k = 0 disarms. */
void tear_guard_kill_at(struct tear_card *c, uint64_t k, int after);
/* ChangeKey commands the guard let through, and the guard's APDU number
 * of the i-th one (0 when there is none). */
unsigned tear_guard_change_keys(const struct tear_card *c);
uint64_t tear_guard_change_key_at(const struct tear_card *c, unsigned i);

/* ---- station ------------------------------------------------------------ */

/* The journal's file operations as the stations see them: POSIX, with a
 * note of which descriptors were written and not yet synced, so the guard
 * can tell whether an intent is on stable storage when a ChangeKey leaves. */
struct tear_jtrack {
	struct dfi_journal_io io;
	const struct dfi_journal_io *posix;
	/* The journal writes from its own thread (asynchronous appends) while
	 * the guard looks from the card's: everything below under mu. */
	pthread_mutex_t mu;
	int dirty[8];           /* other fds written since their last (fdata)sync */
	unsigned ndirty;
	unsigned long writes, syncs;
	/* journal.log: the end of what was written, and of what a completed
	 * (fdata)sync made durable; a ChangeKey's intent must lie in the
	 * durable part. */
	int log_fd;             /* -1: not open */
	uint64_t log_written, log_synced;
};

struct tear_station {
	struct tear_env *env;
	char dir[512];            /* journal directory */
	char file[560];           /* its journal.log */
	char name[64];
	dfi_journal *j;
	dfi_perso *p;
	struct dfi_journal_recovery rec; /* of the last open */
	const struct dfi_journal_io *io; /* the caller's, or &track.io */
	struct tear_jtrack track;        /* used when the caller gave none */
};

/* create = 1: a new journal in dir; 0: open the existing one (recovery). */
int tear_station_open(struct tear_station *s, struct tear_env *e, const char *dir,
    const char *name, int create, char *why, size_t cap);
/* The same with the journal's file operations through io (NULL: POSIX). */
int tear_station_open_io(struct tear_station *s, struct tear_env *e, const char *dir,
    const char *name, int create, const struct dfi_journal_io *io, char *why, size_t cap);
void tear_station_close(struct tear_station *s);
/* Close and open again: what a restarted station does. */
int tear_station_reopen(struct tear_station *s, char *why, size_t cap);

/* ---- a case: a card image and one station in a fresh directory --------- */

struct tear_case {
	char dir[400], image[460], jdir[460];
	struct tear_card c;
	struct tear_station s;
};

/* dir/card.img (a card as the scenario's cards arrive; in memory unless
 * e->file_cards), dir/j (new journal, station "station-a"). */
int tear_case_open(struct tear_env *e, struct tear_case *k, char *why, size_t cap);
/* Closes both and removes the directory. */
void tear_case_close(struct tear_case *k);

/* ---- taps and checks ---------------------------------------------------- */

/* One tap: (re)insert the card, dfi_perso_card. The return value is
 * dfi_perso_card's. */
dfi_err tear_tap(struct tear_card *c, struct tear_station *s, struct dfi_perso_result *res);

/* Taps until DONE or RESUMED, at most max_taps. When the return value of a
 * tap is a journal error the station is reopened (a restarted station) and
 * that counts as a tap. Returns the last outcome; *unknown is set when any
 * tap said UNKNOWN_KEYS. why gets the last failure. */
enum dfi_perso_outcome tear_finish(struct tear_card *c, struct tear_station *s,
    unsigned max_taps, int *unknown, char *why, size_t cap);

/* The end-of-case invariant: card equals the profile (keys checked inside
 * the HSM), the station's journal verifies with the public key with no
 * finding and no unresolved intent, the writer has no open intent, and the
 * guard saw no violation. 1 when all hold, 0 otherwise (why), -1 on a
 * check error. */
int tear_check(struct tear_card *c, struct tear_station *s, char *why, size_t cap);

/* Verifies a journal file with the public key: 1 when it has no finding and
 * no unresolved intent; why otherwise. */
int tear_journal_ok(struct tear_env *e, const char *file, char *why, size_t cap);

/* ---- tally -------------------------------------------------------------- */

struct tear_tally {
	unsigned cases, recovered, unknown, failures;
	unsigned printed;
};
/* Records one case; failures are printed (the first 20) with label. */
void tear_tally_add(struct tear_tally *t, int recovered, int unknown, const char *label,
    const char *why);
/* "SCENARIO WHAT: tear cases: T, recovered: R, unknown-keys: U, failures: F". */
void tear_tally_print(const struct tear_env *e, const struct tear_tally *t, const char *what);

const char *tear_mode_name(enum dfi_sim_tear_mode m);

#endif
