/*
 * PKCS#11 3.0 definitions this module uses that p11-kit's <p11-kit/pkcs11.h>
 * lacks (Debian 12 ships p11-kit 0.24.1, whose header is PKCS#11 2.40 plus
 * a few 3.0 names such as CKM_EDDSA). Each block is skipped when the header
 * already has it, so a newer p11-kit takes precedence.
 *
 * Source: OASIS "PKCS #11 Cryptographic Token Interface Current Mechanisms
 * Specification Version 3.0" (15 June 2020), section 2.43 "SP 800-108 Key
 * Derivation" (2.43.1 definitions, 2.43.2 mechanism parameters, 2.43.3
 * counter mode KDF), with the values of the 3.0 pkcs11t.h header. The DKM
 * length method values are missing from the 3.0 text (an erratum); the
 * values below are those every 3.0 implementation uses (NSS softoken,
 * the 3.1 header). dfissue passes none of them, but the names keep the
 * parameter types complete.
 */
#ifndef DFI_HSM_P11_V3_H
#define DFI_HSM_P11_V3_H

#include <p11-kit/pkcs11.h>

#ifndef CKM_SP800_108_COUNTER_KDF
#define CKM_SP800_108_COUNTER_KDF (0x3acUL)
#define CKM_SP800_108_FEEDBACK_KDF (0x3adUL)
#define CKM_SP800_108_DOUBLE_PIPELINE_KDF (0x3aeUL)

/* 2.43.2: the PRF (a CKM_* MAC mechanism, here CKM_AES_CMAC) and the
 * pieces the PRF input is built from, in order, for each iteration. */
typedef CK_MECHANISM_TYPE CK_SP800_108_PRF_TYPE;
typedef CK_ULONG CK_PRF_DATA_TYPE;

#define CK_SP800_108_ITERATION_VARIABLE (0x1UL) /* the counter i = 1, 2, ... */
#define CK_SP800_108_OPTIONAL_COUNTER (0x2UL)
#define CK_SP800_108_COUNTER CK_SP800_108_OPTIONAL_COUNTER
#define CK_SP800_108_DKM_LENGTH (0x3UL)
#define CK_SP800_108_BYTE_ARRAY (0x4UL) /* fixed input data */

typedef struct CK_PRF_DATA_PARAM {
	CK_PRF_DATA_TYPE type;
	CK_VOID_PTR pValue;
	CK_ULONG ulValueLen;
} CK_PRF_DATA_PARAM;

/* The encoding of the iteration variable: width 8, 16, 24 or 32 bits. */
typedef struct CK_SP800_108_COUNTER_FORMAT {
	CK_BBOOL bLittleEndian;
	CK_ULONG ulWidthInBits;
} CK_SP800_108_COUNTER_FORMAT;

typedef CK_ULONG CK_SP800_108_DKM_LENGTH_METHOD;
#define CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS (0x1UL)
#define CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS (0x2UL)

typedef struct CK_SP800_108_DKM_LENGTH_FORMAT {
	CK_SP800_108_DKM_LENGTH_METHOD dkmLengthMethod;
	CK_BBOOL bLittleEndian;
	CK_ULONG ulWidthInBits;
} CK_SP800_108_DKM_LENGTH_FORMAT;

typedef struct CK_DERIVED_KEY {
	CK_ATTRIBUTE *pTemplate;
	CK_ULONG ulAttributeCount;
	CK_OBJECT_HANDLE *phKey;
} CK_DERIVED_KEY;

/* The C_DeriveKey parameter of CKM_SP800_108_COUNTER_KDF. (The 3.0 text
 * types pAdditionalDerivedKeys as CK_DERIVED_KEY, an erratum: it is a
 * pointer in the header and in every implementation.) */
typedef struct CK_SP800_108_KDF_PARAMS {
	CK_SP800_108_PRF_TYPE prfType;
	CK_ULONG ulNumberOfDataParams;
	CK_PRF_DATA_PARAM *pDataParams;
	CK_ULONG ulAdditionalDerivedKeys;
	CK_DERIVED_KEY *pAdditionalDerivedKeys;
} CK_SP800_108_KDF_PARAMS;
#endif /* CKM_SP800_108_COUNTER_KDF */

#endif
