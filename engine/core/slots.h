/*
 * slots.h: the bound of a pool of sessions or connections shared by threads.
 *
 * The HSM session pool (engine/hsm/pool.c) and the registry's connection
 * pool (engine/registry/pg_conn.c) count the slots they hold under their
 * mutex and let threads wait on their condition for one. A slot is given
 * back the same way in both: when opening failed, or when a session or
 * connection is dropped, and one waiter must then wake to open anew, or it
 * would wait with the bound no longer reached. A slot is taken the same
 * way too (dfi_slot_take): an idle one first, else a new one while the
 * bound allows, else wait for either.
 */
#ifndef DFI_CORE_SLOTS_H
#define DFI_CORE_SLOTS_H

#include <pthread.h>
#include <stddef.h>

/* What dfi_slot_take got: an idle session or connection, or the right to
 * open a new one (counted in *nopen, given back with dfi_slot_drop when
 * opening fails). */
enum dfi_slot_got { DFI_SLOT_IDLE, DFI_SLOT_NEW };

/* Waits on cv until take_idle(ctx), called under mu, hands over an idle
 * one (returns nonzero), or fewer than max are open (one more is counted
 * in *nopen). Returns with mu unlocked. */
static inline enum dfi_slot_got
dfi_slot_take(pthread_mutex_t *mu, pthread_cond_t *cv, size_t *nopen, size_t max,
    int (*take_idle)(void *ctx), void *ctx)
{
	enum dfi_slot_got got;
	pthread_mutex_lock(mu);
	for (;;) {
		if (take_idle(ctx)) {
			got = DFI_SLOT_IDLE;
			break;
		}
		if (*nopen < max) {
			(*nopen)++;
			got = DFI_SLOT_NEW;
			break;
		}
		pthread_cond_wait(cv, mu);
	}
	pthread_mutex_unlock(mu);
	return got;
}

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
