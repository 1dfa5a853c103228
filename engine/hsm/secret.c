/* The opening attributes shared by the secret-key templates of the key
 * ceremony (import.c), the per-card keys and the ephemeral wrapping key
 * (derive.c): one place states that each is a private secret key and how
 * far its value may leave the token. */
#include "hsm_int.h"

CK_ULONG
dfi_hsm_secret_attrs(struct dfi_hsm_secret *s, CK_KEY_TYPE kt, int token, int sensitive,
    int extractable, CK_ATTRIBUTE *t)
{
	s->cls = CKO_SECRET_KEY;
	s->kt = kt;
	s->token = token ? CK_TRUE : CK_FALSE;
	s->priv = CK_TRUE;
	s->sensitive = sensitive ? CK_TRUE : CK_FALSE;
	s->extractable = extractable ? CK_TRUE : CK_FALSE;
	t[0] = (CK_ATTRIBUTE){ CKA_CLASS, &s->cls, sizeof(s->cls) };
	t[1] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &s->kt, sizeof(s->kt) };
	t[2] = (CK_ATTRIBUTE){ CKA_TOKEN, &s->token, sizeof(s->token) };
	t[3] = (CK_ATTRIBUTE){ CKA_PRIVATE, &s->priv, sizeof(s->priv) };
	t[4] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &s->sensitive, sizeof(s->sensitive) };
	t[5] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &s->extractable, sizeof(s->extractable) };
	return DFI_HSM_SECRET_NATTRS;
}
