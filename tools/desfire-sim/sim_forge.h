/*
 * sim_forge.h: test-only hooks of the card simulator, for the hostile-card
 * fuzzer (tests/fuzz/fuzz_perso.c). Not part of desfire_sim.h: no program
 * has a reason to make the card lie.
 *
 * The hook sees every native command's answer after the card executed the
 * command (and committed what it changed) and before secure messaging wraps
 * it: the plaintext data and the status byte. It may rewrite both; the card
 * then MACs or enciphers the rewritten answer with its session keys exactly
 * as it would its own, so the host's MAC and CRC checks pass and the lie
 * reaches the engine's parsers. Authentication answers are raw (no session
 * yet): rewriting them is a plain forgery the host must catch.
 *
 * Continuation frames (0xAF) of a long answer are cut from the rewritten
 * answer; the hook runs once per command, not per frame. A status other
 * than 0x00 goes out as the card sends an error: without data, and the
 * session ends (the card's state stays as the command left it).
 */
#ifndef DFI_SIM_FORGE_H
#define DFI_SIM_FORGE_H

#include <stddef.h>
#include <stdint.h>

#include "desfire_sim.h"

/* Largest plaintext answer a hook may write. */
#define DFI_SIM_FORGE_MAX 1024

/* cmd: the native command code; data/len: the answer's plaintext (len <
 * DFI_SIM_FORGE_MAX on entry and on return); status: the card's status
 * byte (0x00 success, 0xAF more frames expected from the host). */
typedef void (*dfi_sim_forge_fn)(void *ctx, uint8_t cmd, uint8_t data[DFI_SIM_FORGE_MAX],
    size_t *len, uint8_t *status);

/* fn NULL removes the hook. */
void dfi_sim_set_forge(dfi_sim *sim, dfi_sim_forge_fn fn, void *ctx);

/* A copy of the committed state, encoded as the image file holds it (keys
 * included: test cards only), for a fast "same card as before" check; the
 * caller frees *out. */
dfi_err dfi_sim_committed_image(const dfi_sim *sim, uint8_t **out, size_t *len);

#endif
