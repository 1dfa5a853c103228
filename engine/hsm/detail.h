/*
 * Inside the library only: the HSM handle's detail for one error. The
 * handle keeps the detail of its last failure, also of one a caller
 * tolerated (a key looked up under another class, a path that does not
 * apply): appended to a later error that set none of its own, it would
 * name the wrong call. dfi_hsm_fail records which error its detail is for
 * (a refused answer: DFI_E_HSM_GENERAL); a caller with an error in hand
 * asks for the detail of that error only.
 */
#ifndef DFI_HSM_DETAIL_H
#define DFI_HSM_DETAIL_H

#include <stddef.h>

#include "dfissue/hsm.h"

/* The last detail on h when it was recorded by a failing PKCS#11 call
 * mapped to e, else ""; copied into buf (cap bytes). */
void dfi_hsm_detail_for(dfi_hsm *h, dfi_err e, char *buf, size_t cap);

#endif
