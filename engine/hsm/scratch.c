/*
 * Locked scratch for the bytes a per-card key puts on the host (the
 * ChangeKey materialization, derive.c; the HOST path's key bytes).
 *
 * dfi_secure_alloc gives every secret its own mapping: mmap, mlock and
 * madvise, then munlock and munmap, whose TLB shootdown interrupts every
 * other CPU running a thread of the process. Done once per ChangeKey that
 * was a measurable share of a station's CPU per card (docs/PERFORMANCE.md,
 * "Station CPU per card"). So the handle keeps one locked, non-dumpable
 * page cut into slots, lent out under refmu and wiped on return; when every
 * slot is lent (more concurrent ChangeKeys than slots) a caller falls back
 * to a mapping of its own, with the same guarantees.
 */
#include <string.h>
#include <unistd.h>

#include "dfissue/util.h"
#include "hsm_int.h"

dfi_err
dfi_hsm_scratch_init(dfi_hsm *h)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	size_t n = page / DFI_HSM_SCRATCH_SLOT;
	h->scratch_n = n > 64 ? 64 : n;
	h->scratch_len = h->scratch_n * DFI_HSM_SCRATCH_SLOT;
	h->scratch_busy = 0;
	h->scratch = h->scratch_n > 0 ? dfi_secure_alloc(h->scratch_len) : NULL;
	return h->scratch != NULL ? DFI_OK : DFI_E_NOMEM;
}

void
dfi_hsm_scratch_fini(dfi_hsm *h)
{
	dfi_secure_free(h->scratch, h->scratch_len);
	h->scratch = NULL;
}

uint8_t *
dfi_hsm_scratch_get(dfi_hsm *h, size_t len)
{
	if (len <= DFI_HSM_SCRATCH_SLOT && h->scratch != NULL) {
		pthread_mutex_lock(&h->refmu);
		for (size_t i = 0; i < h->scratch_n; i++) {
			uint64_t bit = (uint64_t)1 << i;
			if (!(h->scratch_busy & bit)) {
				h->scratch_busy |= bit;
				pthread_mutex_unlock(&h->refmu);
				return h->scratch + i * DFI_HSM_SCRATCH_SLOT;
			}
		}
		pthread_mutex_unlock(&h->refmu);
	}
	return dfi_secure_alloc(len);
}

void
dfi_hsm_scratch_put(dfi_hsm *h, uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	if (h->scratch == NULL || p < h->scratch || p >= h->scratch + h->scratch_len) {
		dfi_secure_free(p, len);
		return;
	}
	dfi_wipe(p, DFI_HSM_SCRATCH_SLOT);
	size_t i = (size_t)(p - h->scratch) / DFI_HSM_SCRATCH_SLOT;
	pthread_mutex_lock(&h->refmu);
	h->scratch_busy &= ~((uint64_t)1 << i);
	pthread_mutex_unlock(&h->refmu);
}
