/*
 * What a module answers is untrusted input (SECURITY.md): a vendor
 * module's bug, a remote-HSM client or a module built for another PKCS#11
 * version may report a length larger than the buffer it was given, a
 * count beyond the maximum, or bytes of the wrong size. Here are the
 * checks every reader of attributes goes through, and the vendor return
 * value by which a caller refuses an answer with its own message
 * (tests/hsm/test_hsm_lie.sh makes faultp11 tell these lies).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

CK_RV
dfi_hsm_bad_answer(dfi_hsm *h, const char *fmt, ...)
{
	char msg[DFI_HSM_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dfi_hsm_detail_set(h, DFI_E_HSM_GENERAL,
	    "%s: a malformed answer from the PKCS#11 module, refused", msg);
	return DFI_CKR_BAD_ANSWER;
}

int
dfi_hsm_attr_is(const CK_ATTRIBUTE *a, size_t size)
{
	return a->ulValueLen == size;
}

/* The attributes dfissue reads, by name for the detail. */
static const char *
attr_name(CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_CLASS: return "CKA_CLASS";
	case CKA_TOKEN: return "CKA_TOKEN";
	case CKA_LABEL: return "CKA_LABEL";
	case CKA_VALUE: return "CKA_VALUE";
	case CKA_KEY_TYPE: return "CKA_KEY_TYPE";
	case CKA_ID: return "CKA_ID";
	case CKA_SENSITIVE: return "CKA_SENSITIVE";
	case CKA_ENCRYPT: return "CKA_ENCRYPT";
	case CKA_DERIVE: return "CKA_DERIVE";
	case CKA_EC_PARAMS: return "CKA_EC_PARAMS";
	case CKA_EC_POINT: return "CKA_EC_POINT";
	case CKA_VALUE_LEN: return "CKA_VALUE_LEN";
	case CKA_EXTRACTABLE: return "CKA_EXTRACTABLE";
	case CKA_ALWAYS_SENSITIVE: return "CKA_ALWAYS_SENSITIVE";
	case CKA_NEVER_EXTRACTABLE: return "CKA_NEVER_EXTRACTABLE";
	case CKA_CHECK_VALUE: return "CKA_CHECK_VALUE";
	case CKA_ALLOWED_MECHANISMS: return "CKA_ALLOWED_MECHANISMS";
	default: return "an attribute";
	}
}

CK_RV
dfi_hsm_getattrs(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, size_t n)
{
	CK_ULONG cap[DFI_HSM_ATTRS_MAX];
	if (n > DFI_HSM_ATTRS_MAX)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < n; i++)
		cap[i] = t[i].ulValueLen;
	CK_RV rv = P11(h, C_GetAttributeValue, s, o, t, n);
	for (size_t i = 0; i < n; i++) {
		if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[i].ulValueLen <= cap[i])
			continue;
		/* PKCS#11 says an attribute that did not fit is unavailable;
		 * modules of older versions report the length it needs. */
		if (rv == CKR_BUFFER_TOO_SMALL) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			continue;
		}
		/* A length beyond the buffer on success: the module wrote past
		 * it, or says it did; nothing it returned can be believed. */
		if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
			return dfi_hsm_bad_answer(h, "C_GetAttributeValue reported %lu bytes of %s "
			    "(0x%lx) into a buffer of %lu", (unsigned long)t[i].ulValueLen,
			    attr_name(t[i].type), (unsigned long)t[i].type, (unsigned long)cap[i]);
	}
	return rv;
}

CK_RV
dfi_hsm_attr(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	CK_RV rv = P11(h, C_GetAttributeValue, s, o, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > DFI_HSM_ATTR_MAX)
		return dfi_hsm_bad_answer(h, "C_GetAttributeValue gave %s (0x%lx) a length of %lu "
		    "(at most %u is read)", attr_name(t), (unsigned long)t,
		    (unsigned long)a.ulValueLen, DFI_HSM_ATTR_MAX);
	uint8_t *buf = malloc(a.ulValueLen + 1);
	if (buf == NULL)
		return CKR_HOST_MEMORY;
	a.pValue = buf;
	/* The second answer may not be longer than the first one said. */
	rv = dfi_hsm_getattrs(h, s, o, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		rv = dfi_hsm_bad_answer(h, "C_GetAttributeValue reported %s (0x%lx) unavailable "
		    "after giving its length", attr_name(t), (unsigned long)t);
	if (rv != CKR_OK) {
		free(buf);
		return rv;
	}
	buf[a.ulValueLen] = 0;
	*val = buf;
	*len = a.ulValueLen;
	return CKR_OK;
}

void
dfi_hsm_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

CK_RV
dfi_hsm_check_len(dfi_hsm *h, const char *what, CK_ULONG got, size_t want)
{
	if (got == want)
		return CKR_OK;
	if (got == CK_UNAVAILABLE_INFORMATION)
		return dfi_hsm_bad_answer(h, "%s returned no length (CK_UNAVAILABLE_INFORMATION) "
		    "where %zu bytes were expected", what, want);
	return dfi_hsm_bad_answer(h, "%s returned %lu bytes where %zu were expected", what,
	    (unsigned long)got, want);
}

CK_RV
dfi_hsm_check_count(dfi_hsm *h, const char *what, CK_ULONG got, size_t max)
{
	if (got <= max)
		return CKR_OK;
	return dfi_hsm_bad_answer(h, "%s reported %lu items into a list of %zu", what,
	    (unsigned long)got, max);
}
