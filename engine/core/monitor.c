/* A mutex and its condition variable, made and unmade together
 * (core/monitor.h). */
#include "monitor.h"

dfi_err
dfi_monitor_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	if (pthread_mutex_init(mu, NULL) != 0)
		return DFI_E_NOMEM;
	if (pthread_cond_init(cv, NULL) != 0) {
		pthread_mutex_destroy(mu);
		return DFI_E_NOMEM;
	}
	return DFI_OK;
}

void
dfi_monitor_destroy(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	pthread_cond_destroy(cv);
	pthread_mutex_destroy(mu);
}
