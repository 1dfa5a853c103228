/* PKCS#11 return values to dfi_err, with the failing call kept as detail. */
#include <stdarg.h>
#include <stdio.h>

#include "hsm_int.h"

dfi_err
dfi_hsm_ckr(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return DFI_OK;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return DFI_E_HSM_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
		return DFI_E_HSM_PIN_LOCKED;
	case CKR_USER_NOT_LOGGED_IN:
		return DFI_E_HSM_NOT_LOGGED_IN;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SLOT_ID_INVALID:
		return DFI_E_HSM_TOKEN_NOT_FOUND;
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID:
		return DFI_E_HSM_KEY_NOT_FOUND;
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_SIZE_RANGE:
	case CKR_KEY_NOT_NEEDED:
		return DFI_E_HSM_KEY_TYPE;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
		return DFI_E_HSM_MECHANISM;
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_MEMORY:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_COUNT:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_TOKEN_WRITE_PROTECTED:
		return DFI_E_HSM_DEVICE;
	case CKR_HOST_MEMORY:
		return DFI_E_NOMEM;
	case CKR_ARGUMENTS_BAD:
	case CKR_DATA_LEN_RANGE:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
		return DFI_E_INVALID_ARG;
	case CKR_BUFFER_TOO_SMALL:
		return DFI_E_BUFFER_TOO_SMALL;
	default:
		return DFI_E_HSM_GENERAL;
	}
}

void
dfi_hsm_log(dfi_hsm *h, dfi_log_level level, const char *fmt, ...)
{
	if (h->log == NULL)
		return;
	char msg[DFI_LOG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(h->log_ctx, level, msg);
}

dfi_err
dfi_hsm_fail(dfi_hsm *h, const char *what, CK_RV rv)
{
	if (rv == CKR_OK)
		return DFI_OK;
	/* The answer was refused with its own detail, already recorded for
	 * DFI_E_HSM_GENERAL (answer.c): keep it. */
	if (rv == DFI_CKR_BAD_ANSWER)
		return DFI_E_HSM_GENERAL;
	dfi_err e = dfi_hsm_ckr(rv);
	return dfi_hsm_set_detail(h, e, "%s: %s (CKR 0x%lx)", what, p11_kit_strerror(rv),
	    (unsigned long)rv);
}
