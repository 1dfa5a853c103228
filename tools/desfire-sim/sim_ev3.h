/*
 * What the simulator adds for --model ev3 (MIFARE DESFire EV3): the LRP
 * mode (SetConfiguration option 05, irreversible), AuthenticateLRPFirst/
 * NonFirst and EV2 secure messaging in LRP mode (sim_lrp.c), and Secure
 * Dynamic Messaging on standard data files: ChangeFileSettings as EV3
 * defines it, GetFileSettings, and the mirrored unauthenticated read
 * (sim_sdm.c). The rest of the simulator calls these hooks; state they
 * keep is persisted by the image's EV3 section (sim_sdm.c).
 */
#ifndef DFI_SIM_EV3_H
#define DFI_SIM_EV3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfissue/desfire.h"
#include "dfissue/error.h"
#include "dfissue/lrp.h"
#include "dfissue/util.h"

struct dfi_sim;
struct sim_card;
struct sim_app;
struct sim_file;
struct sim_resp;
struct sim_key;

/* SDM state of a file: its settings and its read counter (persistent). */
struct sim_sdm {
	struct dfi_df_sdm s;
	uint32_t read_ctr;
};

/* ---- LRP (sim_lrp.c) ------------------------------------------------------ */

/* The EV2 session's LRP part. */
struct sim_lrp_session {
	bool on;
	struct dfi_lrp lmac, lenc;
	uint8_t ctr[4]; /* EncCtr, big-endian */
};

/* 0x71 / 0x77 with an AES key on a card in LRP mode: part 1 (AuthMode ||
 * RndB). had_lrp: an LRP session existed (NonFirst). Returns a status. */
uint8_t sim_lrp_auth_start(struct dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n,
    const uint8_t key[16], bool had_lrp, struct sim_resp *r);
/* Part 2. */
uint8_t sim_lrp_auth_continue(struct dfi_sim *s, const uint8_t *d, size_t n, struct sim_resp *r);
/* MAC (full CMAC_LRP) and LRICB with the session's EncCtr. */
dfi_err sim_lrp_mac(struct dfi_sim *s, const uint8_t *msg, size_t len, uint8_t full[16]);
dfi_err sim_lrp_crypt(struct dfi_sim *s, int encrypt, const uint8_t *in, uint8_t *out,
    size_t len);
/* SetConfiguration option 05 (capability data, 10 bytes; byte 4 bit 1
 * switches the PICC to LRP for good). Returns a status. */
uint8_t sim_lrp_set_capabilities(struct dfi_sim *s, const uint8_t *data, size_t len);
/* The PDcap2 an EV3 reports (byte 0 bit 1: LRP mode). */
void sim_lrp_pdcap2(const struct dfi_sim *s, uint8_t pdcap2[6]);

/* ---- SDM (sim_sdm.c) ------------------------------------------------------ */

/* ChangeFileSettings on an EV3 (plain or SDM settings). mode: how the
 * command travels (the change right decided it). Returns a status. */
uint8_t sim_sdm_change_file_settings(struct dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n,
    struct sim_file *f, int mode, struct sim_resp *r);
/* The SDM part of GetFileSettings (nothing for a file without SDM). */
void sim_sdm_put_settings(const struct sim_file *f, struct sim_resp *r);
/* An unauthenticated ReadData of an SDM file: the counter moves on and the
 * mirrors fill a copy of the file; *out (f->size bytes, caller frees) is
 * what the card shows. Returns a status. */
uint8_t sim_sdm_read(struct dfi_sim *s, struct sim_file *f, uint8_t **out);
void sim_sdm_free(struct sim_sdm *sdm);

/* The card's generation is the card's: an image made as an EV3 opens as an
 * EV3 whatever the configuration says, and an EV3 configuration makes the
 * card an EV3 (written with its next commit). */
void sim_ev3_model(struct dfi_sim *s);

/* The image's EV3 section after the applications: written only when the
 * card holds EV3 state, so EV1/EV2 images are unchanged. */
void sim_ev3_image_encode(const struct sim_card *c, dfi_wr *w);
size_t sim_ev3_image_bound(const struct sim_card *c);
dfi_err sim_ev3_image_decode(dfi_rd *r, struct sim_card *c);

#endif
