/*
 * The session pool: PKCS#11 sessions are not safe for concurrent use, so
 * each operation borrows one for its duration. Sessions are opened on
 * demand up to a bound, so N reader threads use up to N sessions and never
 * wait on one another unless the bound is reached.
 */
#include <string.h>

#include "hsm_internal.h"

static CK_RV
open_session(dfi_hsm *h, CK_SESSION_HANDLE *s)
{
	CK_RV rv = P11(h, C_OpenSession, h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv == CKR_OK)
		atomic_fetch_add(&h->sessions, 1);
	return rv;
}

static CK_RV
acquire(dfi_hsm *h, CK_SESSION_HANDLE *s)
{
	pthread_mutex_lock(&h->mu);
	for (;;) {
		if (h->nidle > 0) {
			*s = h->idle[--h->nidle];
			pthread_mutex_unlock(&h->mu);
			return CKR_OK;
		}
		if (h->nopen < h->max) {
			h->nopen++;
			pthread_mutex_unlock(&h->mu);
			CK_RV rv = open_session(h, s);
			if (rv != CKR_OK) {
				pthread_mutex_lock(&h->mu);
				h->nopen--;
				pthread_cond_signal(&h->cv);
				pthread_mutex_unlock(&h->mu);
			}
			return rv;
		}
		pthread_cond_wait(&h->cv, &h->mu);
	}
}

static void
release(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	pthread_mutex_lock(&h->mu);
	h->idle[h->nidle++] = s;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* A session the token closed (or lost) is dropped from the pool. */
static void
discard(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	(void)P11(h, C_CloseSession, s);
	pthread_mutex_lock(&h->mu);
	h->nopen--;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

dfi_err
dfi_hsm_login(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	if (!h->login_required)
		return DFI_OK;
	atomic_fetch_add(&h->logins, 1);
	CK_RV rv;
	if (h->protected_path)
		rv = P11(h, C_Login, s, CKU_USER, NULL, 0);
	else if (h->pin != NULL)
		rv = P11(h, C_Login, s, CKU_USER, (CK_UTF8CHAR *)h->pin, h->pin_len);
	else
		return DFI_E_HSM_PIN_REQUIRED;
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	return dfi_hsm_fail(h, "C_Login", rv);
}

dfi_err
dfi_hsm_run(dfi_hsm *h, const char *what, dfi_hsm_op op, void *arg)
{
	CK_SESSION_HANDLE s;
	CK_RV rv = acquire(h, &s);
	if (rv != CKR_OK)
		return dfi_hsm_fail(h, "C_OpenSession", rv);
	rv = op(h, s, arg);
	if (rv == CKR_USER_NOT_LOGGED_IN) {
		dfi_err e = dfi_hsm_login(h, s);
		if (e != DFI_OK) {
			release(h, s);
			return e;
		}
		rv = op(h, s, arg);
	} else if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
		discard(h, s);
		rv = acquire(h, &s);
		if (rv != CKR_OK)
			return dfi_hsm_fail(h, "C_OpenSession", rv);
		rv = op(h, s, arg);
		if (rv == CKR_USER_NOT_LOGGED_IN && dfi_hsm_login(h, s) == DFI_OK)
			rv = op(h, s, arg);
	}
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
		discard(h, s);
	else
		release(h, s);
	return dfi_hsm_fail(h, what, rv);
}

void
dfi_hsm_pool_close(dfi_hsm *h)
{
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->nidle; i++)
		(void)P11(h, C_CloseSession, h->idle[i]);
	h->nopen -= h->nidle;
	h->nidle = 0;
	pthread_mutex_unlock(&h->mu);
}
