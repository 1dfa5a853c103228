/* Shared by `dfissue personalize` and `dfissue inspect`: reader specs
 * (pcsc:NAME, sim:IMAGE) and opening a profile with its batch. */
#ifndef DFISSUE_PERSO_CLI_H
#define DFISSUE_PERSO_CLI_H

#include <jansson.h>

#include "desfire_sim.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"
#include "dfissue/transport.h"

struct cli_reader {
	dfi_transport *t;
	dfi_sim *sim;   /* sim: readers only */
	const char *spec;
};

/* Opens "pcsc:NAME" (a PC/SC reader) or "sim:IMAGE" (the simulator on an
 * image file, in this process; the image is created in factory state if
 * absent). tear_at > 0 arms a simulator tear (test option). Prints one
 * line and returns DFI_EXIT_USAGE/DFI_EXIT_FAIL on failure. */
int cli_reader_open(struct cli_reader *r, const char *spec, unsigned tear_at,
    enum dfi_sim_tear_mode tear_mode);
void cli_reader_close(struct cli_reader *r);
/* Checks a --reader value's form (pcsc:NAME or sim:IMAGE) before anything
 * is opened: DFI_EXIT_OK, or one usage line "CMD: --reader ..." printed
 * and DFI_EXIT_USAGE. */
int cli_reader_spec_check(const char *cmd, const char *spec);
/* The same for a given spec, the line starting with where instead of
 * "CMD: --reader" (a configuration file's "FILE:LINE: reader:", opts.h
 * cli_opt_where). */
int cli_reader_form_check(const char *where, const char *spec);
/* cli_reader_spec_check(), then for pcsc:NAME that pcscd answers and knows
 * NAME (cli_pcsc_check_reader): DFI_EXIT_OK, or one line printed ("CMD:
 * cannot reach pcscd ...", code pcscd_unreachable; "reader 'pcsc:NAME':
 * pcscd knows no reader of that name; it has ...", code unknown_reader)
 * and DFI_EXIT_USAGE/DFI_EXIT_FAIL. For commands that use one reader
 * (inspect, sdm read). */
int cli_reader_check(const char *cmd, const char *spec);
/* The help text of the --reader options. */
extern const char cli_reader_help[];

/* Loads the profile and, when given, opens the batch (checked against the
 * profile's fields). Prints one line on failure. */
int cli_profile_open(const char *profile_path, const char *batch_path, dfi_profile **p,
    dfi_batch **b);

/* Builds the engine without a journal, as personalize does before it
 * creates one, and frees it: every rule personalize applies at its start
 * (base keys, key versions, originality keys...). DFI_OK, or the error
 * with one line in detail (may stay empty). */
dfi_err cli_perso_check(dfi_hsm *h, const dfi_profile *prof, const char *station,
    const char *originality_keys, char *detail, size_t cap);

/* The members a card's JSON line carries beyond the common ones: the
 * refusal (cause, journal record), a re-issue authorization, the
 * originality check. */
void perso_cli_json_extra(json_t *obj, const struct dfi_perso_result *res);

/* Adds one tap's result to a card's: counters (key changes, intents
 * resolved, steps done, APDUs) are summed over the card's taps, steps_total
 * is the steps done on earlier taps plus this tap's plan, and outcome,
 * error, UID and detail are this tap's. first: acc is set to tap. */
struct dfi_perso_result;
void cli_result_merge(struct dfi_perso_result *acc, const struct dfi_perso_result *tap, int first);

#endif
