/*
 * errclass.h: which part of the system an error comes from, for a caller
 * that words its message by it (a registry failure is not a journal one; a
 * signer that fails with an HSM error lost its key or token). The blocks
 * are error.h's numbering: HSM from 100, registry from 600.
 */
#ifndef DFI_CORE_ERRCLASS_H
#define DFI_CORE_ERRCLASS_H

#include "dfissue/error.h"

static inline int
dfi_err_is_hsm(dfi_err e)
{
	return e >= DFI_E_HSM_MODULE && e <= DFI_E_HSM_INIT;
}

static inline int
dfi_err_is_registry(dfi_err e)
{
	return e == DFI_E_REGISTRY_UNREACHABLE || e == DFI_E_REGISTRY_SCHEMA ||
	    e == DFI_E_REGISTRY_REFUSED || e == DFI_E_REGISTRY || e == DFI_E_REGISTRY_ABANDONED;
}

#endif
