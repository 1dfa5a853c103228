/*
 * unconst.h: the one way the engine drops a const qualifier.
 *
 * Two interfaces cannot say "read only" in C's type system:
 *  - PKCS#11 (and OpenSSL's OSSL_PARAM) take input buffers as plain
 *    pointers (CK_VOID_PTR, CK_BYTE_PTR, void *), although the standard
 *    says the module only reads them: C_Encrypt's pData, a template's
 *    pValue on C_CreateObject / C_FindObjectsInit, a mechanism parameter;
 *  - memory the engine owns and hands out through a const view (a batch
 *    row's strings, a registry reason) is freed by its owner.
 * Everywhere else a const pointer stays const. The build uses -Wcast-qual
 * (CMakeLists.txt), so a plain cast dropping const anywhere fails it:
 * going through this function marks the place as one of the two cases.
 */
#ifndef DFI_CORE_UNCONST_H
#define DFI_CORE_UNCONST_H

#include <stdint.h>

static inline void *
dfi_unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

#endif
