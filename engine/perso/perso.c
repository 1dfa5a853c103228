/* The handle and one tap: read, recover, plan, execute, verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errclass.h"
#include "core/nelem.h"
#include "dfissue/util.h"
#include "perso_int.h"

const char *
dfi_perso_outcome_name(enum dfi_perso_outcome o)
{
	switch (o) {
	case DFI_PERSO_DONE: return "done";
	case DFI_PERSO_RESUMED: return "resumed";
	case DFI_PERSO_UNKNOWN_KEYS: return "unknown-keys";
	case DFI_PERSO_FAILED: return "failed";
	case DFI_PERSO_REFUSED: return "refused";
	}
	return "?"; /* error.h, "NULL and unknown values" */
}

uint32_t
perso_aid(const uint8_t a[3])
{
	return (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16;
}

/* The outcome of the command is unknown: the card may or may not have
 * executed it. */
int
perso_is_tear(dfi_err e)
{
	return e == DFI_E_CARD_TORN || e == DFI_E_NO_CARD || e == DFI_E_READER ||
	    e == DFI_E_TRANSPORT || e == DFI_E_TIMEOUT;
}

unsigned
perso_phase(struct tap *tp, unsigned phase)
{
	unsigned old = dfi_transport_phase(tp->t);
	dfi_transport_set_phase(tp->t, phase);
	return old;
}

void
perso_event(struct tap *tp, const char *fmt, ...)
{
	char line[320];
	va_list ap;
	if (tp->p->progress == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tp->p->progress(tp->p->progress_ctx, line);
}

void
perso_detail(struct tap *tp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tp->res->detail, sizeof(tp->res->detail), fmt, ap);
	va_end(ap);
}

void
perso_err_text(dfi_hsm *h, dfi_err e, char *buf, size_t cap)
{
	char d[320] = "";
	/* Only a detail recorded for this error: the handle's last one may be
	 * of a failure tolerated long before (dfi_hsm_detail_for). */
	if (dfi_err_is_hsm(e))
		dfi_hsm_detail_for(h, e, d, sizeof(d));
	snprintf(buf, cap, "%s%s%s%s", dfi_strerror(e), d[0] ? " (" : "", d, d[0] ? ")" : "");
}

dfi_err
dfi_perso_new(dfi_perso **out, const struct dfi_perso_config *cfg)
{
	dfi_perso *p;
	dfi_err e;

	if (out == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	if (cfg == NULL || cfg->hsm == NULL || cfg->profile == NULL)
		return DFI_E_INVALID_ARG;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return DFI_E_NOMEM;
	p->hsm = cfg->hsm;
	p->journal = cfg->journal;
	p->profile = cfg->profile;
	p->spec = dfi_profile_spec(cfg->profile);
	snprintf(p->station, sizeof(p->station), "%s", cfg->station ? cfg->station : "station");
	p->progress = cfg->progress;
	p->progress_ctx = cfg->progress_ctx;
	e = perso_roles_init(p, cfg->keys_from);
	if (e == DFI_OK)
		e = perso_admission_init(p, cfg);
	if (e != DFI_OK) {
		if (cfg->detail != NULL && cfg->detail_cap > 0)
			snprintf(cfg->detail, cfg->detail_cap, "%s", p->err);
		dfi_perso_free(p);
		return e;
	}
	*out = p;
	return DFI_OK;
}

void
dfi_perso_free(dfi_perso *p)
{
	if (p == NULL)
		return;
	perso_admission_free(p);
	perso_roles_free(p);
	free(p);
}

static dfi_err
read_uid(struct tap *tp)
{
	static const uint8_t getdata[5] = { 0xFF, 0xCA, 0x00, 0x00, 0x00 };
	uint8_t r[16];
	size_t n;
	dfi_err e = dfi_transport_transmit(tp->t, getdata, sizeof(getdata), r, sizeof(r), &n);
	if (e != DFI_OK)
		return e;
	if (n < 2 || r[n - 2] != 0x90 || r[n - 1] != 0x00)
		return DFI_E_CARD_PROTOCOL;
	n -= 2;
	if (perso_uid_is_random(r, n))
		return perso_uid_random(tp, r, n);
	if (n != DFI_PROFILE_UID_LEN) {
		perso_detail(tp, "the card shows a %zu-byte UID: 7 bytes needed", n);
		return DFI_E_UNSUPPORTED;
	}
	memcpy(tp->uid, r, n);
	memcpy(tp->res->uid, r, n);
	tp->res->uid_len = n;
	return DFI_OK;
}

void
perso_tap_free(struct tap *tp)
{
	if (tp->t != NULL)
		perso_phase(tp, DFI_PERSO_PHASE_NONE);
	perso_release(tp);
	perso_tap_keys_free(tp);
	dfi_cardkey_free(tp->uid_target);
	dfi_card_data_free(tp->cd);
	free(tp->apps);
	dfi_desfire_free(tp->d);
}

/* The row's card data from the profile; the profile's reason as the
 * tap's detail when the row does not fit it. */
static dfi_err
card_data(struct tap *tp)
{
	struct dfi_diag diag;
	dfi_err e = dfi_profile_card_data(tp->p->profile, tp->row, &tp->cd, &diag);
	if (e != DFI_OK)
		perso_detail(tp, "%s", diag.message);
	return e;
}

/* What a tap learns before it decides anything, in this order, up to the
 * first failure: the UID; one reader at a time per UID (claim), then what
 * the registry knows of it (issued keys, open intents), before anything
 * else reaches the card; the row the card began with, when a run on a
 * batch file was given another; the row's data, the key targets and the
 * profile's digest; then the card's state. */
static dfi_err (*const begin_steps[])(struct tap *) = {
	read_uid, perso_claim, perso_lookup, perso_own_row, card_data, perso_targets, perso_digest,
	perso_read_state,
};

dfi_err
perso_tap_begin(dfi_perso *p, struct tap *tp, dfi_transport *t, const char *batch_path,
    const dfi_batch_row *row, struct dfi_perso_result *res, int readonly)
{
	struct dfi_transport_stats st;
	dfi_err e;

	memset(tp, 0, sizeof(*tp));
	memset(res, 0, sizeof(*res));
	res->outcome = DFI_PERSO_FAILED;
	tp->p = p;
	tp->t = t;
	tp->row = row;
	tp->batch_path = batch_path;
	tp->res = res;
	tp->readonly = readonly;
	tp->picc.version = -1;
	dfi_transport_stats(t, &st);
	tp->apdus0 = st.apdus;
	tp->apps = calloc(p->spec->napps ? p->spec->napps : 1, sizeof(*tp->apps));
	if (tp->apps == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < p->spec->napps; i++)
		for (size_t k = 0; k < DFI_PROFILE_MAX_KEYS; k++)
			tp->apps[i].keys[k].version = -1;
	e = dfi_desfire_new(&tp->d, t);
	if (e != DFI_OK)
		return e;
	perso_phase(tp, DFI_PERSO_PHASE_STATE);
	for (size_t i = 0; i < DFI_NELEM(begin_steps); i++)
		if ((e = begin_steps[i](tp)) != DFI_OK)
			return e;
	return DFI_OK;
}

static void
tap_end(struct tap *tp)
{
	struct dfi_transport_stats st;
	dfi_transport_stats(tp->t, &st);
	tp->res->apdus = st.apdus - tp->apdus0;
}

dfi_err
dfi_perso_card(dfi_perso *p, dfi_transport *t, const dfi_batch_row *row,
    struct dfi_perso_result *res)
{
	return dfi_perso_card_batch(p, t, NULL, row, res, NULL);
}

dfi_err
dfi_perso_card_batch(dfi_perso *p, dfi_transport *t, const char *batch_path, const dfi_batch_row *row,
    struct dfi_perso_result *res, dfi_batch_row **own)
{
	struct tap *tp;
	dfi_err e, ret = DFI_OK;
	char hex[2 * 10 + 1] = "";

	if (own != NULL)
		*own = NULL;
	if (p == NULL || t == NULL || res == NULL || (batch_path != NULL && own == NULL))
		return DFI_E_INVALID_ARG;
	if (p->journal == NULL) {
		memset(res, 0, sizeof(*res));
		res->outcome = DFI_PERSO_FAILED;
		res->err = DFI_E_INVALID_ARG;
		snprintf(res->detail, sizeof(res->detail), "no journal: key changes need one");
		return DFI_E_INVALID_ARG;
	}
	/* The tap state is large (plan, per-application state): one heap
	 * block per card, nothing per APDU. */
	tp = malloc(sizeof(*tp));
	if (tp == NULL)
		return DFI_E_NOMEM;
	e = perso_tap_begin(p, tp, t, batch_path, row, res, 0);
	if (res->uid_len > 0)
		dfi_hex_encode(res->uid, res->uid_len, hex, sizeof(hex));
	/* What the profile cannot reach without destroying data: refused,
	 * every conflict named, nothing sent after the state read. */
	if (e == DFI_OK && !tp->refused && tp->nconflicts > 0)
		e = perso_conflicts_refuse(tp);
	/* A PICC master key that matches no candidate while the profile names
	 * a transport key: the card did not prove it holds the key it should
	 * have arrived with (nor any key the journal names). Refused. */
	if (e == DFI_OK && !tp->refused && tp->unknown_keys && tp->unknown_picc &&
	    p->spec->picc.transport.kind != DFI_TRANSPORT_FACTORY)
		e = perso_refuse(tp, DFI_JCAUSE_TRANSPORT_KEY, "%s matches neither the transport key "
		    "nor a key the journal names%s", tp->unknown_what,
		    tp->reg.issued ? "; UID already issued" : "");
	if (e == DFI_OK && !tp->refused && !tp->unknown_keys)
		e = perso_admit(tp);
	if (e == DFI_OK && tp->refused) {
		perso_event(tp, "card %s: refused: %s", hex, res->detail);
		ret = perso_witness(tp); /* the card stays refused; a failure stops the station */
		goto out;
	}
	if (e == DFI_OK && tp->unknown_keys) {
		res->outcome = DFI_PERSO_UNKNOWN_KEYS;
		res->err = DFI_E_UNKNOWN_KEYS;
		perso_detail(tp, "%s matches no candidate key: card left untouched",
		    tp->unknown_what);
		perso_event(tp, "card %s: unknown keys (%s)", hex, tp->unknown_what);
		goto out;
	}
	if (e == DFI_OK)
		e = perso_plan(tp);
	if (e == DFI_OK) {
		res->steps_total = (unsigned)tp->nsteps;
		perso_event(tp, "card %s: %zu step(s) to do", hex, tp->nsteps);
		perso_phase(tp, DFI_PERSO_PHASE_EXEC);
		e = perso_execute(tp);
	}
	/* Even after a tear: a ChangeKey the card confirmed is committed. The
	 * batch is written while the card is verified. */
	dfi_err fe = perso_flush_begin(tp);
	if (e == DFI_OK)
		e = fe;
	perso_phase(tp, DFI_PERSO_PHASE_VERIFY);
	if (e == DFI_OK)
		e = perso_verify(tp);
	fe = perso_flush_end(tp);
	if (e == DFI_OK)
		e = fe;
	fe = perso_witness(tp);
	if (e == DFI_OK)
		e = fe;
	if (e == DFI_OK) {
		res->outcome = (tp->progressed && tp->nsteps > 0) || res->intents_resolved > 0 ?
		    DFI_PERSO_RESUMED :
		    DFI_PERSO_DONE;
		res->err = DFI_OK;
		if (res->detail[0] == '\0')
			perso_detail(tp, "%u step(s), %u key change(s), verified", res->steps_done,
			    res->key_changes);
		perso_event(tp, "card %s: %s", hex, dfi_perso_outcome_name(res->outcome));
	} else {
		res->outcome = DFI_PERSO_FAILED;
		res->err = e;
		if (res->detail[0] == '\0')
			perso_err_text(tp->p->hsm, e, res->detail, sizeof(res->detail));
		perso_event(tp, "card %s: failed: %s", hex[0] ? hex : "?", res->detail);
		if (tp->journal_failed)
			ret = e;
	}
out:
	tap_end(tp);
	/* The card's own row is the caller's, whatever the tap's end: the
	 * card's next tap takes it. */
	if (own != NULL)
		*own = tp->own;
	else
		dfi_batch_row_free(tp->own);
	perso_tap_free(tp);
	free(tp);
	return ret;
}
