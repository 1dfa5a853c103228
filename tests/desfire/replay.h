/*
 * A transport that replays a published APDU trace: every C-APDU the
 * session sends must equal the next one of the trace, and gets the card's
 * recorded answer. Used only with traces copied from public documents
 * (the citation is next to each trace); live sessions use the simulator.
 */
#ifndef DFI_TEST_REPLAY_H
#define DFI_TEST_REPLAY_H

#include <stdio.h>
#include <string.h>

#include "dfissue/desfire.h"
#include "dfissue/transport.h"
#include "dfissue/util.h"
#include "testutil.h"

struct replay_step {
	const char *capdu;
	const char *rapdu;
};

struct replay {
	const struct replay_step *steps;
	size_t n, pos;
	char mismatch[1024];
};

/* Whether the C-APDU sent (hex) is the trace's: spaces in a trace are
 * where its source broke the line, not bytes. */
static inline int
replay_capdu_eq(const char *got, const char *want)
{
	for (; *want != '\0'; want++) {
		if (*want == ' ')
			continue;
		if (*got++ != *want)
			return 0;
	}
	return *got == '\0';
}

static inline dfi_err
replay_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	struct replay *rp = ctx;
	char got[2 * DFI_APDU_MAX + 1];
	if (dfi_hex_encode(c, clen, got, sizeof(got)) != DFI_OK)
		return DFI_E_INTERNAL;
	if (rp->pos >= rp->n) {
		snprintf(rp->mismatch, sizeof(rp->mismatch), "extra APDU %s", got);
		return DFI_E_TRANSPORT;
	}
	const struct replay_step *s = &rp->steps[rp->pos++];
	if (!replay_capdu_eq(got, s->capdu)) {
		snprintf(rp->mismatch, sizeof(rp->mismatch), "step %zu: sent %s want %s",
		    rp->pos - 1, got, s->capdu);
		return DFI_E_TRANSPORT;
	}
	return dfi_hex_decode(s->rapdu, r, rcap, rlen);
}

static const struct dfi_transport_ops replay_ops = {
	.transmit = replay_transmit,
};

/* A deterministic RndA source: returns the bytes it was given. */
struct fixed_rng {
	uint8_t b[32];
	size_t n;
};

static inline dfi_err
fixed_rng_fn(void *arg, uint8_t *out, size_t len)
{
	struct fixed_rng *f = arg;
	if (len != f->n)
		return DFI_E_INTERNAL;
	memcpy(out, f->b, len);
	return DFI_OK;
}

/* A DESFire session on a replayed trace, its RndA from rig_rnda(). */
struct rig {
	struct replay rp;
	dfi_transport *t;
	dfi_desfire *d;
	struct fixed_rng rng;
};

static inline void
rig_open(struct rig *g, const struct replay_step *steps, size_t n)
{
	memset(g, 0, sizeof(*g));
	g->rp.steps = steps;
	g->rp.n = n;
	ck_assert_int_eq(dfi_transport_new(&g->t, &replay_ops, &g->rp), DFI_OK);
	ck_assert_int_eq(dfi_desfire_new(&g->d, g->t), DFI_OK);
	dfi_desfire_set_rng(g->d, fixed_rng_fn, &g->rng);
}

static inline void
rig_rnda(struct rig *g, const char *hex)
{
	g->rng.n = HEX(g->rng.b, hex);
}

/* The whole trace must have been replayed, every APDU as recorded. */
static inline void
rig_close(struct rig *g)
{
	ck_assert_msg(g->rp.mismatch[0] == 0, "%s", g->rp.mismatch);
	ck_assert_uint_eq(g->rp.pos, g->rp.n);
	dfi_desfire_free(g->d);
	dfi_transport_free(g->t);
}

/* OK(x) in a test on a rig named g: names the trace's mismatch too (x
 * runs once: a failed call is not sent again for the message). */
#undef OK
#define OK(x)                                                                    \
	do {                                                                     \
		dfi_err e_ = (x);                                                \
		ck_assert_msg(e_ == DFI_OK, "%s: %s (%s)", #x, dfi_strerror(e_), g.rp.mismatch); \
	} while (0)

#endif
