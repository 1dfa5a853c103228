/* Private to engine/registry: the backend vtable behind dfi_registry. A
 * backend file (local.c, and later others) fills one of these; registry.c
 * checks every argument before a backend sees it, so backends may assume a
 * valid UID (1..10 bytes), a non-empty holder and non-NULL pointers. */
#ifndef DFI_REGISTRY_INT_H
#define DFI_REGISTRY_INT_H

#include "dfissue/registry.h"

#define REG_HOLDER_MAX 128

struct dfi_registry_ops {
	const char *name;
	/* DFI_E_UID_CLAIMED (who filled) when someone else holds the UID. */
	dfi_err (*claim)(void *be, const uint8_t *uid, size_t len, const char *holder,
	    unsigned lease_ms, char *who, size_t who_cap);
	dfi_err (*renew)(void *be, const uint8_t *uid, size_t len, const char *holder,
	    unsigned lease_ms);
	void (*release)(void *be, const uint8_t *uid, size_t len, const char *holder);
	dfi_err (*lookup)(void *be, const uint8_t *uid, size_t len, struct dfi_reg_card *out,
	    const struct dfi_reg_visit *visit);
	dfi_err (*journaled)(void *be, const dfi_jrec *recs, size_t n);
	dfi_err (*witness)(void *be, const uint8_t *note, size_t len);
	/* Optional: witnessing off the caller's path, and the kept failure of
	 * an earlier one (dfi_registry_witness_async); NULL: witness now. */
	dfi_err (*witness_async)(void *be, const uint8_t *note, size_t len);
	dfi_err (*witness_failed)(void *be);
	/* Optional (dfi_registry_close): sends what still waits for the
	 * registry and returns the first failure, its reason for last_error;
	 * destroy follows. NULL: nothing waits. */
	dfi_err (*drain)(void *be);
	/* Optional (dfi_registry_abandon; must be async-signal-safe): every
	 * call in flight returns at once, none is sent any more. NULL: the
	 * backend never waits for a server. */
	void (*abandon)(void *be);
	void (*destroy)(void *be);
	/* Optional: the last failure's reason (dfi_registry_last_error). */
	void (*last_error)(void *be, char *buf, size_t cap);
};

/* A journal's answer for a card as the registry's (local.c; also the
 * read-only journal-file backend, jfile.c): the visitors and the slots'
 * origin, given as the ctx of dfi_journal_card's callbacks. */
struct reg_journal_lookup {
	const struct dfi_reg_visit *v;
	const char *origin;
};
void reg_journal_slot(void *ctx, const struct dfi_journal_slot *s);
void reg_journal_intent(void *ctx, const dfi_jrec *in);
void reg_journal_card(const struct dfi_journal_card *jc, struct dfi_reg_card *out);

/* Takes ownership of be (ops->destroy frees it, also on failure here). */
dfi_err dfi_registry_new_backend(dfi_registry **out, const struct dfi_registry_ops *ops, void *be);

#endif
