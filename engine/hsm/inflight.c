/*
 * The PKCS#11 calls in flight on a handle, for a watchdog: a call into a
 * network HSM that lost its peer, or a token that wedged, may never
 * return, and nothing outside the call can bound it. What a station can do
 * is say so: which call, for how long (dfi_hsm_oldest_call), so that an
 * operator hears "the HSM has not answered C_Sign for 30 s" instead of
 * silence. Every P11() call registers here (hsm_int.h).
 */
#include <string.h>

#include "hsm_int.h"
#include "core/clock.h"

dfi_err
dfi_hsm_calls_init(dfi_hsm *h)
{
	memset(h->inflight, 0, sizeof(h->inflight));
	return pthread_mutex_init(&h->callmu, NULL) == 0 ? DFI_OK : DFI_E_NOMEM;
}

void
dfi_hsm_calls_fini(dfi_hsm *h)
{
	pthread_mutex_destroy(&h->callmu);
}

int
dfi_hsm_call_begin(dfi_hsm *h, const char *fn)
{
	long now = dfi_now_ms();
	int slot = -1;
	pthread_mutex_lock(&h->callmu);
	for (int i = 0; i < DFI_HSM_INFLIGHT; i++) {
		if (h->inflight[i].fn == NULL) {
			h->inflight[i].fn = fn;
			h->inflight[i].since_ms = now;
			slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&h->callmu);
	/* A full table leaves the call untracked: more calls at once than
	 * the table holds means many are answering, so one is not the
	 * oldest of a wedged HSM for long. */
	return slot;
}

void
dfi_hsm_call_end(dfi_hsm *h, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&h->callmu);
	h->inflight[slot].fn = NULL;
	pthread_mutex_unlock(&h->callmu);
}

dfi_err
dfi_hsm_oldest_call(dfi_hsm *h, const char **fn, long *ms)
{
	if (fn != NULL)
		*fn = NULL;
	if (ms != NULL)
		*ms = 0;
	if (h == NULL || fn == NULL || ms == NULL)
		return DFI_E_INVALID_ARG;
	long now = dfi_now_ms();
	pthread_mutex_lock(&h->callmu);
	for (int i = 0; i < DFI_HSM_INFLIGHT; i++) {
		const struct dfi_hsm_call *c = &h->inflight[i];
		if (c->fn != NULL && (*fn == NULL || now - c->since_ms > *ms)) {
			*fn = c->fn;
			*ms = now - c->since_ms;
		}
	}
	pthread_mutex_unlock(&h->callmu);
	return DFI_OK;
}
