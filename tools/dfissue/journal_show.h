/*
 * journal show's listing (text and JSON) of a verified journal: the key
 * changes and card changes with their outcomes, card by card, the
 * recoveries, refusals and authorizations. What it keeps of each record
 * is journal_store.h's (a full store); a change names its intent and
 * outcome there by index.
 */
#ifndef DFISSUE_JOURNAL_SHOW_H
#define DFISSUE_JOURNAL_SHOW_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/journal.h"
#include "journal_store.h"

#define JS_NONE SIZE_MAX

/* An intent (key or card change) and the first outcome that named it. */
struct js_change {
	size_t in;  /* its record in st.rec */
	size_t out; /* its outcome's, or JS_NONE */
};

struct js_show {
	struct jh_store st;  /* full */
	struct js_change *v; /* in file order while read; by card, then number, once sorted */
	size_t n, cap;
	const uint8_t *uid;  /* --uid, or uidlen 0 for every card */
	size_t uidlen;
};

/* The outcome's name: committed, aborted, resolved-*, unresolved (o NULL). */
const char *js_outcome_name(const struct jh_rec *o);
const struct jh_rec *js_in(const struct js_show *s, const struct js_change *c);
const struct jh_rec *js_out(const struct js_show *s, const struct js_change *c);
/* Is r of the --uid card (any record when there is no --uid)? */
int js_wanted(const struct js_show *s, const struct jh_rec *r);

/* The next refusal or authorization (t) of the --uid card from *i on, its
 * UID and time formatted in u and tm; NULL at the end. */
const struct jh_rec *js_next_event(const struct js_show *s, dfi_jrec_type t, size_t *i,
    char u[2 * DFI_J_UID_MAX + 1], char tm[32]);

/* Verifies the journal at path (no signatures) and prints its listing on
 * stdout, as JSON when json is set, of the uidlen-byte card uid only when
 * uidlen > 0; the text stops before journal_tail_advice's line. DFI_OK,
 * or DFI_E_IO, DFI_E_NOT_FOUND, DFI_E_NOMEM with nothing printed (but for
 * JSON whose element could not be dumped). *res: the verifier's result. */
dfi_err js_list(const char *path, int json, const uint8_t *uid, size_t uidlen,
    struct dfi_jverify_result *res);

/* Writes the listing as JSON to stdout, element by element: 0, or -1 when
 * jansson could not dump one (out of memory; the JSON lacks it). */
int js_write_json(const struct js_show *s, const struct dfi_jverify_result *res, uint64_t problems);

#endif
