/*
 * pkcs11: URIs (RFC 7512) as dfissue reads them: parsed by p11-kit, and
 * refused for what would make them wrong rather than merely unmatched. One
 * rule for every reader: the token and key lookups of this layer, the CLI's
 * checks before a module loads, and the profile loader (validate_json.c).
 */
#include <stdio.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "hsm_int.h"

/* What p11-kit's parser says of a URI it refuses, in words that say how to
 * write it right. */
static const char *
uri_problem(int r)
{
	switch (r) {
	case P11_KIT_URI_BAD_ENCODING:
		return "a '%' must be followed by two hex digits (RFC 7512)";
	case P11_KIT_URI_BAD_SYNTAX:
		return "each attribute must be NAME=VALUE, separated by ';' (RFC 7512)";
	case P11_KIT_URI_BAD_VERSION:
		return "library-version must be M or M.N (RFC 7512)";
	default:
		return p11_kit_uri_message(r);
	}
}

dfi_err
dfi_hsm_uri_parse(const char *uristr, const char *what, P11KitUri *uri, char *why, size_t cap)
{
	int r = p11_kit_uri_parse(uristr, P11_KIT_URI_FOR_ANY, uri);
	if (r == P11_KIT_URI_NO_MEMORY)
		return DFI_E_NOMEM;
	if (r != P11_KIT_URI_OK) {
		snprintf(why, cap, "%s", uri_problem(r));
		return DFI_E_HSM_URI;
	}
	/* p11-kit keeps an attribute it does not know as "matches nothing": a
	 * misspelt "objet=" would read as a missing key or an absent token. */
	if (p11_kit_uri_any_unrecognized(uri)) {
		snprintf(why, cap, "has an attribute p11-kit does not know, so it would match no %s "
				   "(%s)", what, strcmp(what, "token") == 0
		    ? "a token is named with token=, manufacturer=, serial=, model="
		    : "a key is named with object=, id= and type=, its token with token=");
		return DFI_E_HSM_URI;
	}
	/* A PIN written into a URI ends up in argv, configurations and logs. */
	if (p11_kit_uri_get_pin_value(uri) != NULL) {
		snprintf(why, cap, "a PIN in a URI is refused: give dfissue the PIN in a file, a "
				   "variable or at the prompt");
		return DFI_E_HSM_URI;
	}
	return DFI_OK;
}

dfi_err
dfi_hsm_uri_check(const char *uristr, const char *what, char *why, size_t cap)
{
	if (uristr == NULL || what == NULL || why == NULL || cap == 0)
		return DFI_E_INVALID_ARG;
	why[0] = '\0';
	P11KitUri *uri = p11_kit_uri_new();
	if (uri == NULL)
		return DFI_E_NOMEM;
	dfi_err e = dfi_hsm_uri_parse(uristr, what, uri, why, cap);
	p11_kit_uri_free(uri);
	return e;
}

dfi_err
dfi_hsm_uri_label(const char *uristr, char *label, size_t cap)
{
	if (uristr == NULL || label == NULL || cap == 0)
		return DFI_E_INVALID_ARG;
	label[0] = '\0';
	char why[200];
	P11KitUri *uri = p11_kit_uri_new();
	if (uri == NULL)
		return DFI_E_NOMEM;
	dfi_err e = dfi_hsm_uri_parse(uristr, "key", uri, why, sizeof(why));
	CK_ATTRIBUTE *a = e == DFI_OK ? p11_kit_uri_get_attribute(uri, CKA_LABEL) : NULL;
	if (e == DFI_OK && (a == NULL || a->pValue == NULL || a->ulValueLen == 0))
		e = DFI_E_NOT_FOUND;
	else if (e == DFI_OK && a->ulValueLen >= cap)
		e = DFI_E_BUFFER_TOO_SMALL;
	else if (e == DFI_OK && memchr(a->pValue, '\0', a->ulValueLen) != NULL)
		e = DFI_E_NOT_FOUND; /* %00 in a label: no C string names it */
	if (e == DFI_OK) {
		memcpy(label, a->pValue, a->ulValueLen);
		label[a->ulValueLen] = '\0';
	}
	p11_kit_uri_free(uri);
	return e;
}
