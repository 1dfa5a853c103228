/*
 * monitor.h: a mutex and the condition variable waited on under it.
 *
 * The engine's worker pools and session pools (HSM sessions, the journal
 * reader pipeline) each guard their state with one mutex and wake waiters
 * with one condition variable. The two are made and unmade together, and
 * a half-made pair is undone here rather than at every constructor.
 */
#ifndef DFI_CORE_MONITOR_H
#define DFI_CORE_MONITOR_H

#include <pthread.h>

#include "dfissue/error.h"

/* Initializes both with default attributes: DFI_OK, or DFI_E_NOMEM with
 * neither left initialized. */
dfi_err dfi_monitor_init(pthread_mutex_t *mu, pthread_cond_t *cv);
/* Destroys both (nobody may be waiting). */
void dfi_monitor_destroy(pthread_mutex_t *mu, pthread_cond_t *cv);

#endif
