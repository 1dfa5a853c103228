/*
 * The session pool: PKCS#11 sessions are not safe for concurrent use, so
 * each operation borrows one for its duration. Sessions are opened on
 * demand up to a bound, so N reader threads use up to N sessions and never
 * wait on one another unless the bound is reached.
 */
#include <string.h>

#include "hsm_int.h"
#include "core/nelem.h"
#include "core/slots.h"

static CK_RV
open_session(dfi_hsm *h, CK_SESSION_HANDLE *s)
{
	CK_RV rv = P11(h, C_OpenSession, h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv == CKR_OK)
		atomic_fetch_add(&h->sessions, 1);
	return rv;
}

struct take {
	dfi_hsm *h;
	CK_SESSION_HANDLE *s;
};

/* Under h->mu: an idle session into *s, if there is one. */
static int
take_idle(void *ctx)
{
	struct take *t = ctx;
	if (t->h->nidle == 0)
		return 0;
	*t->s = t->h->idle[--t->h->nidle];
	return 1;
}

static CK_RV
acquire(dfi_hsm *h, CK_SESSION_HANDLE *s)
{
	struct take t = { h, s };
	if (dfi_slot_take(&h->mu, &h->cv, &h->nopen, h->max, take_idle, &t) == DFI_SLOT_IDLE)
		return CKR_OK;
	CK_RV rv = open_session(h, s);
	if (rv != CKR_OK)
		dfi_slot_drop(&h->mu, &h->cv, &h->nopen);
	return rv;
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
	dfi_slot_drop(&h->mu, &h->cv, &h->nopen);
}

static int
pin_refusal(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
	    rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

/* Logins are serialized under mu, so when the PIN changed while threads
 * run, exactly one C_Login is refused; every later caller sees the
 * remembered refusal and fails without calling C_Login. */
dfi_err
dfi_hsm_login(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	if (!h->login_required)
		return DFI_OK;
	if (!h->protected_path && h->pin == NULL)
		return DFI_E_HSM_PIN_REQUIRED;
	pthread_mutex_lock(&h->mu);
	CK_RV refused = h->pin_refused;
	CK_RV rv = CKR_OK;
	if (refused == CKR_OK) {
		atomic_fetch_add(&h->logins, 1);
		if (h->protected_path)
			rv = P11(h, C_Login, s, CKU_USER, NULL, 0);
		else
			rv = P11(h, C_Login, s, CKU_USER, (CK_UTF8CHAR *)h->pin, h->pin_len);
		if (pin_refusal(rv) && !h->protected_path)
			h->pin_refused = rv;
	}
	pthread_mutex_unlock(&h->mu);
	if (refused != CKR_OK) {
		dfi_err e = dfi_hsm_ckr(refused);
		return dfi_hsm_set_detail(h, e,
		    "C_Login: PIN refused before (CKR 0x%lx), not tried again: the retry "
		    "counter was not touched again; fix the PIN source and restart",
		    (unsigned long)refused);
	}
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	return dfi_hsm_fail(h, "C_Login", rv);
}

static int
session_public(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;
	if (!h->login_required || P11(h, C_GetSessionInfo, s, &si) != CKR_OK)
		return 0;
	return si.state == CKS_RO_PUBLIC_SESSION || si.state == CKS_RW_PUBLIC_SESSION;
}

/* Was rv caused by a lost login? Tokens report it either directly or, when
 * they hide private objects while logged out, as an invalid handle. */
static int
login_lost(dfi_hsm *h, CK_SESSION_HANDLE s, CK_RV rv)
{
	if (rv == CKR_USER_NOT_LOGGED_IN)
		return 1;
	if (rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_KEY_HANDLE_INVALID)
		return 0;
	return session_public(h, s);
}

/* A session that is gone, or that a module left with an operation still
 * active after a failed call (PKCS#11 says a failure ends the operation,
 * but not every module obeys), must not go back to the pool: every later
 * operation on it would fail. */
static int
session_unusable(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	    rv == CKR_OPERATION_ACTIVE;
}

/* Logs s in again. Handles found before may be stale: the generation
 * moves on so that refs are found again. */
static dfi_err
relogin(dfi_hsm *h, CK_SESSION_HANDLE s)
{
	dfi_err e = dfi_hsm_login(h, s);
	if (e == DFI_OK)
		atomic_fetch_add(&h->gen, 1);
	return e;
}

dfi_err
dfi_hsm_run(dfi_hsm *h, const char *what, dfi_hsm_op op, void *arg)
{
	CK_SESSION_HANDLE s;
	CK_RV rv = acquire(h, &s);
	if (rv != CKR_OK)
		return dfi_hsm_fail(h, "C_OpenSession", rv);
	rv = op(h, s, arg);
	if (login_lost(h, s, rv)) {
		dfi_err e = relogin(h, s);
		if (e != DFI_OK) {
			release(h, s);
			return e;
		}
		rv = op(h, s, arg);
	} else if (session_unusable(rv)) {
		discard(h, s);
		rv = acquire(h, &s);
		if (rv != CKR_OK)
			return dfi_hsm_fail(h, "C_OpenSession", rv);
		/* Closing the last session logs the user out, and a logged-out
		 * search finds no private key without an error: log in first. */
		dfi_err e = session_public(h, s) ? relogin(h, s) : DFI_OK;
		if (e != DFI_OK) {
			release(h, s);
			return e;
		}
		rv = op(h, s, arg);
		if (login_lost(h, s, rv) && relogin(h, s) == DFI_OK)
			rv = op(h, s, arg);
	}
	if (session_unusable(rv))
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

CK_RV
dfi_hsm_ref_init(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, struct dfi_hsm_ref *r)
{
	memset(r, 0, sizeof(*r));
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &r->cls, sizeof(r->cls) },
		{ CKA_KEY_TYPE, &r->kt, sizeof(r->kt) },
		{ CKA_LABEL, r->label, sizeof(r->label) - 1 },
		{ CKA_ID, r->id, sizeof(r->id) },
	};
	/* The label and id are what finds the object again: never longer
	 * than their buffers (dfi_hsm_getattrs). */
	CK_RV rv = dfi_hsm_getattrs(h, s, obj, t, DFI_NELEM(t));
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	if (t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (!dfi_hsm_attr_is(&t[0], sizeof(r->cls)) || !dfi_hsm_attr_is(&t[1], sizeof(r->kt)))
		return dfi_hsm_bad_answer(h, "C_GetAttributeValue gave CKA_CLASS, CKA_KEY_TYPE in "
		    "%lu, %lu bytes", (unsigned long)t[0].ulValueLen, (unsigned long)t[1].ulValueLen);
	r->label_len = t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : t[2].ulValueLen;
	r->id_len = t[3].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : t[3].ulValueLen;
	r->obj = obj;
	r->gen = atomic_load(&h->gen);
	return CKR_OK;
}

CK_RV
dfi_hsm_ref_get(dfi_hsm *h, CK_SESSION_HANDLE s, struct dfi_hsm_ref *r, CK_OBJECT_HANDLE *out)
{
	pthread_mutex_lock(&h->refmu);
	unsigned gen = atomic_load(&h->gen);
	if (r->gen == gen) {
		*out = r->obj;
		pthread_mutex_unlock(&h->refmu);
		return CKR_OK;
	}
	CK_ATTRIBUTE t[4] = {
		{ CKA_CLASS, &r->cls, sizeof(r->cls) },
		{ CKA_KEY_TYPE, &r->kt, sizeof(r->kt) },
	};
	CK_ULONG n = 2;
	if (r->label_len > 0)
		t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, r->label, r->label_len };
	if (r->id_len > 0)
		t[n++] = (CK_ATTRIBUTE){ CKA_ID, r->id, r->id_len };
	CK_RV rv = P11(h, C_FindObjectsInit, s, t, n);
	if (rv == CKR_OK) {
		CK_OBJECT_HANDLE o[2];
		CK_ULONG got = 0;
		rv = P11(h, C_FindObjects, s, o, 2, &got);
		CK_RV rv2 = P11(h, C_FindObjectsFinal, s);
		if (rv == CKR_OK)
			rv = rv2;
		if (rv == CKR_OK)
			rv = dfi_hsm_check_count(h, "C_FindObjects", got, 2);
		/* Gone, or no longer unique: the key the caller meant is lost. */
		if (rv == CKR_OK && got != 1)
			rv = CKR_KEY_HANDLE_INVALID;
		if (rv == CKR_OK) {
			r->obj = o[0];
			r->gen = gen;
			*out = o[0];
		}
	}
	pthread_mutex_unlock(&h->refmu);
	return rv;
}
