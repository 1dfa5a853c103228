/* The read-only registry backend over one station's journal file
 * (registry.h, dfi_registry_new_journal_file): what that journal says of a
 * card, for a reader that must write nothing (dfissue inspect --journal).
 * Its station may be appending to the file, so every lookup verifies the
 * file again (dfi_journal_file_card) instead of keeping an index; no claim
 * is taken, nothing is recorded, nothing is witnessed. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"

struct jfile {
	char *path;
	const dfi_jpubkey *pub; /* borrowed; NULL: signatures not checked */
	pthread_mutex_t mu;     /* why */
	char why[320];          /* the last failure's reason */
};

/* One lookup's walk of the file: the journal's origin (its genesis
 * record's), which the slots carry, and the first finding's words. */
struct walk {
	struct reg_journal_lookup c;
	char origin[DFI_J_STR_MAX];
	char first[280];
};

static void
on_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	struct walk *w = ctx;
	(void)line;
	if (w->origin[0] == '\0' && r->origin[0] != '\0')
		snprintf(w->origin, sizeof(w->origin), "%s", r->origin);
}

static void
on_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct walk *w = ctx;
	(void)code;
	if (w->first[0] == '\0')
		snprintf(w->first, sizeof(w->first), "line %llu: %s", (unsigned long long)line, msg);
}

static void __attribute__((format(printf, 2, 3)))
set_why(struct jfile *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&f->mu);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	pthread_mutex_unlock(&f->mu);
	va_end(ap);
}

static dfi_err
jf_lookup(void *be, const uint8_t *uid, size_t len, struct dfi_reg_card *out,
    const struct dfi_reg_visit *v)
{
	struct jfile *f = be;
	struct walk *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return DFI_E_NOMEM;
	w->c.v = v;
	w->c.origin = w->origin; /* filled by the walk before any slot is visited */
	struct dfi_jverify_opts o = { .pubkey = f->pub, .finding = on_finding, .record = on_record,
		.ctx = w };
	struct dfi_journal_card jc;
	dfi_err e = dfi_journal_file_card(f->path, &o, uid, len, &jc,
	    v->slot ? reg_journal_slot : NULL, v->intent ? reg_journal_intent : NULL, &w->c);
	if (e == DFI_OK) {
		reg_journal_card(&jc, out);
		set_why(f, "%s", "");
	} else if (w->first[0] != '\0') {
		set_why(f, "%s does not verify, so it answers nothing: %s (dfissue journal verify "
		    "shows every finding)", f->path, w->first);
	} else {
		set_why(f, "%s: %s", f->path, dfi_strerror(e));
	}
	free(w);
	return e;
}

/* What would write, or claim a card for writing, is refused: a tap must
 * never be made through this backend. */
static dfi_err
jf_claim(void *be, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who,
    size_t who_cap)
{
	(void)uid, (void)len, (void)holder, (void)lease_ms, (void)who, (void)who_cap;
	set_why(be, "a journal read as a file is read-only: no card is claimed through it");
	return DFI_E_INVALID_ARG;
}

static dfi_err
jf_renew(void *be, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms)
{
	return jf_claim(be, uid, len, holder, lease_ms, NULL, 0);
}

static void
jf_release(void *be, const uint8_t *uid, size_t len, const char *holder)
{
	(void)be, (void)uid, (void)len, (void)holder; /* nothing was claimed */
}

static dfi_err
jf_journaled(void *be, const dfi_jrec *recs, size_t n)
{
	(void)recs, (void)n;
	set_why(be, "a journal read as a file is read-only: nothing is recorded through it");
	return DFI_E_INVALID_ARG;
}

static dfi_err
jf_witness(void *be, const uint8_t *note, size_t len)
{
	(void)note, (void)len;
	set_why(be, "a journal read as a file is read-only: nothing is witnessed through it");
	return DFI_E_INVALID_ARG;
}

static void
jf_last_error(void *be, char *buf, size_t cap)
{
	struct jfile *f = be;
	pthread_mutex_lock(&f->mu);
	snprintf(buf, cap, "%s", f->why);
	pthread_mutex_unlock(&f->mu);
}

static void
jf_destroy(void *be)
{
	struct jfile *f = be;
	pthread_mutex_destroy(&f->mu);
	free(f->path);
	free(f);
}

static const struct dfi_registry_ops jfile_ops = {
	.name = "journal file",
	.claim = jf_claim,
	.renew = jf_renew,
	.release = jf_release,
	.lookup = jf_lookup,
	.journaled = jf_journaled,
	.witness = jf_witness,
	.destroy = jf_destroy,
	.last_error = jf_last_error,
};

dfi_err
dfi_registry_new_journal_file(dfi_registry **out, const char *path, const dfi_jpubkey *pubkey)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || path == NULL || path[0] == '\0')
		return DFI_E_INVALID_ARG;
	struct jfile *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return DFI_E_NOMEM;
	if ((f->path = strdup(path)) == NULL || pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f->path);
		free(f);
		return DFI_E_NOMEM;
	}
	f->pub = pubkey;
	return dfi_registry_new_backend(out, &jfile_ops, f);
}
