/*
 * Private to engine/hsm: the detail of an HSM failure (the PKCS#11 call
 * and its CK_RV, or what else was wrong), kept per calling thread.
 *
 * One dfi_hsm serves every reader thread of a station. With one detail per
 * handle, reader A's error line could carry reader B's call and CK_RV, or
 * a detail another thread wrote over A's before A read it. So the handle
 * keeps a few slots, each owned by one thread: a thread writes and reads
 * its own slot only, and a thread without one takes the least recently
 * written (its previous owner then reads "", never another thread's text).
 * All under h->mu; nothing is allocated per call.
 *
 * A slot also records the error its detail goes with. The handle keeps
 * the detail of every failure, also of one a caller tolerated (a key
 * looked up under another class, a path that does not apply): appended to
 * a later error that set none of its own, it would name the wrong call.
 * A caller with an error in hand asks for the detail of that error only
 * (dfi_hsm_detail_for, dfissue/hsm.h).
 */
#ifndef DFI_HSM_DETAIL_H
#define DFI_HSM_DETAIL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfissue/hsm.h"

/* Threads whose details are kept at once: a station's readers that fail
 * at about the same moment. */
#define DFI_HSM_DETAIL_SLOTS 8
/* One detail's bytes, NUL included: a URI, a label and a CK_RV's text. */
#define DFI_HSM_DETAIL_MAX 320

struct dfi_hsm_detail {
	/* The owner: its pthread_t and its kernel thread id. glibc gives a
	 * thread created after another ended that thread's pthread_t (its
	 * cached stack), not its thread id. tid 0: a free slot. */
	pthread_t thread;
	pid_t tid;
	uint64_t written; /* the handle's detail clock when last written: LRU */
	dfi_err err;      /* the error the text is for; DFI_OK: none */
	char text[DFI_HSM_DETAIL_MAX];
};

/* Records the calling thread's detail, for error e. */
void dfi_hsm_detail_set(dfi_hsm *h, dfi_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, and is e. A macro so that the static analyzer sees the value
 * (it does not follow variadic calls, and took a failure for DFI_OK): e is
 * evaluated twice, so give a constant or a variable. */
#define dfi_hsm_set_detail(h, e, ...) (dfi_hsm_detail_set((h), (e), __VA_ARGS__), (e))
/* An argument out of contract: records why and is DFI_E_INVALID_ARG. */
#define dfi_hsm_bad_arg(h, ...) dfi_hsm_set_detail((h), DFI_E_INVALID_ARG, __VA_ARGS__)
/* The calling thread's detail into buf (cap bytes; "" when it has none)
 * and the error it is for (DFI_OK when none): what a cleanup keeps and
 * puts back with dfi_hsm_detail_put. */
dfi_err dfi_hsm_detail_get(dfi_hsm *h, char *buf, size_t cap);
/* Makes text (for e) the calling thread's detail again; an empty text
 * takes no slot from another thread when this one has none. */
void dfi_hsm_detail_put(dfi_hsm *h, dfi_err e, const char *text);
/* Wipes every slot (the handle is freed: URIs and labels). */
void dfi_hsm_detail_wipe(dfi_hsm *h);

#endif
