/*
 * slots.h: the bound of a pool of sessions or connections shared by threads.
 *
 * The HSM session pool (engine/hsm/pool.c) and the registry's connection
 * pool (engine/registry/pg_conn.c) count the slots they hold under their
 * mutex and let threads wait on their condition for one. A slot is given
 * back the same way in both: when opening failed, or when a session or
 * connection is dropped, and one waiter must then wake to open anew, or it
 * would wait with the bound no longer reached.
 */
#ifndef DFI_CORE_SLOTS_H
#define DFI_CORE_SLOTS_H

#include <pthread.h>
#include <stddef.h>

/* Gives back one of *nopen (counted under mu, not held by the caller) and
 * wakes one thread waiting on cv for a slot. */
static inline void
dfi_slot_drop(pthread_mutex_t *mu, pthread_cond_t *cv, size_t *nopen)
{
	pthread_mutex_lock(mu);
	(*nopen)--;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(mu);
}

#endif
