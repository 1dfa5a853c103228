/*
 * dfissue — host-side symmetric crypto used for DESFire session keys and by
 * the card simulator. Block ciphers come from OpenSSL libcrypto; what is
 * DESFire-specific (CMAC with a chained IV, CRC16/CRC32 conventions, key
 * version in DES parity bits) lives here. Long-term keys never come here:
 * they stay in the HSM (see cardkey.h).
 */
#ifndef DFISSUE_CRYPTO_H
#define DFISSUE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dfi_keytype {
	DFI_KT_DES = 0,    /* 8 bytes; DESFire runs it as 3DES with K1=K2 */
	DFI_KT_2K3DES = 1, /* 16 bytes */
	DFI_KT_3K3DES = 2, /* 24 bytes */
	DFI_KT_AES128 = 3, /* 16 bytes */
} dfi_keytype;

#define DFI_MAX_KEY_LEN 24
#define DFI_MAX_BLOCK 16

size_t dfi_keytype_keylen(dfi_keytype t);   /* 0 for an invalid type */
size_t dfi_keytype_blocklen(dfi_keytype t); /* 8 or 16; 0 if invalid */
const char *dfi_keytype_name(dfi_keytype t);
dfi_err dfi_keytype_parse(const char *name, dfi_keytype *out); /* "des", "2k3des", "3k3des", "aes" */
/* 1 when an application whose keys the card reports as of type card (its
 * key-count byte, as GetKeySettings or the simulator tell it) can hold keys
 * of type want, else 0: the card tells AES and 3K3DES apart but reports DES
 * and 2K3DES as one family, so either matches either. */
int dfi_keytype_card_match(dfi_keytype want, dfi_keytype card);

/* ECB (iv == NULL) or CBC (iv != NULL; updated to the last ciphertext block
 * so calls chain). len must be a multiple of the block length. in and out
 * may alias. */
dfi_err dfi_cipher(dfi_keytype t, const uint8_t *key, int encrypt, uint8_t *iv,
    const uint8_t *in, uint8_t *out, size_t len);

/* NIST SP 800-38B CMAC started from iv (NULL means zero), as DESFire EV1
 * chains it. mac receives a full block. */
dfi_err dfi_cmac(dfi_keytype t, const uint8_t *key, const uint8_t *iv,
    const uint8_t *msg, size_t len, uint8_t *mac);

/* CMAC subkeys K1, K2 (bl bytes each) from L = E(K, 0^b), SP 800-38B §6.1;
 * bl is 8 or 16. The HSM layer uses them where L comes from the HSM. */
void dfi_cmac_subkeys(const uint8_t *l, size_t bl, uint8_t *k1, uint8_t *k2);

/* CRC32 as DESFire uses it: IEEE 802.3 polynomial, reflected, initial value
 * 0xFFFFFFFF, no final inversion; appended little-endian. */
uint32_t dfi_crc32_desfire(const uint8_t *p, size_t len);
/* CRC16 as ISO/IEC 14443-3 type A (CRC_A): initial value 0x6363. */
uint16_t dfi_crc16_desfire(const uint8_t *p, size_t len);

/* DESFire stores a DES-family key's version in the least significant bit of
 * its first eight bytes. */
uint8_t dfi_des_key_version(const uint8_t *key);
void dfi_des_set_key_version(uint8_t *key, size_t len, uint8_t version);

/* Cryptographically secure random bytes (OpenSSL RAND_bytes). */
dfi_err dfi_random(uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
