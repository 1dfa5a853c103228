/*
 * libFuzzer: the DESFire response parsers and the secure-messaging unwrap
 * with arbitrary bytes, and the SDM template and tap parsers (profiles and
 * taps are untrusted input too). Input: selector byte, session byte, status
 * byte, then the response (or template NUL tap).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/desfire.h"
#include "dfissue/sdm.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dfi_err
no_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	(void)ctx, (void)c, (void)clen, (void)r, (void)rcap, (void)rlen;
	return DFI_E_TRANSPORT;
}

static const struct dfi_transport_ops ops = { .transmit = no_transmit };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t sel = data[0], ses = data[1], sw2 = data[2];
	const uint8_t *p = data + 3;
	size_t n = size - 3;

	switch (sel % 10) {
	case 0: {
		struct dfi_df_version v;
		(void)dfi_df_parse_version(p, n, &v);
		break;
	}
	case 1: {
		struct dfi_df_file_settings fs;
		(void)dfi_df_parse_file_settings(p, n, &fs);
		break;
	}
	case 2: {
		struct dfi_df_key_settings ks;
		(void)dfi_df_parse_key_settings(p, n, &ks);
		break;
	}
	case 3: {
		uint32_t aids[28];
		size_t k;
		(void)dfi_df_parse_aids(p, n, aids, 28, &k);
		break;
	}
	case 4: {
		uint8_t ids[32];
		size_t k;
		(void)dfi_df_parse_file_ids(p, n, ids, 32, &k);
		break;
	}
	case 5: {
		int32_t v;
		uint8_t ver;
		(void)dfi_df_parse_value(p, n, &v);
		(void)dfi_df_parse_key_version(p, n, &ver);
		break;
	}
	case 8:
	case 9: {
		/* template NUL tap, both as C strings */
		char text[1024], why[128];
		struct dfi_sdm_layout l;
		struct dfi_sdm_tap t;
		if (n >= sizeof(text))
			return 0;
		memcpy(text, p, n);
		text[n] = 0;
		const char *tap = memchr(text, 0, n) != NULL ? text + strlen(text) + 1 : "";
		if (dfi_sdm_layout_parse(text, (ses & 1) ? DFI_SDM_LRP : DFI_SDM_AES, (ses >> 1) & 1,
		    &l, why, sizeof(why)) != DFI_OK)
			break;
		l.sdm.ctr_ret = sw2 & 0x0F;
		l.sdm.meta_read = (uint8_t)(sw2 >> 4);
		l.sdm.file_read = (uint8_t)(ses >> 4);
		(void)dfi_df_sdm_validate(&l.sdm, (uint32_t)ses * 4, ses & 1, why, sizeof(why));
		(void)dfi_sdm_tap_parse(&l, tap, (enum dfi_sdm_input)((ses >> 2) % 5), &t, why,
		    sizeof(why));
		break;
	}
	default: {
		/* Unwrap under every scheme, key type and mode. */
		static const dfi_keytype kts[] = { DFI_KT_DES, DFI_KT_2K3DES, DFI_KT_3K3DES,
			DFI_KT_AES128 };
		static const dfi_df_comm modes[] = { DFI_DF_COMM_PLAIN, DFI_DF_COMM_MAC,
			DFI_DF_COMM_ENC };
		dfi_transport *t;
		dfi_desfire *d;
		struct dfi_df_session s;
		uint8_t out[512];
		size_t outlen;
		if (n > 400)
			return 0;
		if (dfi_transport_new(&t, &ops, NULL) != DFI_OK)
			return 0;
		if (dfi_desfire_new(&d, t) != DFI_OK) {
			dfi_transport_free(t);
			return 0;
		}
		memset(&s, 0, sizeof(s));
		s.scheme = (dfi_df_scheme)(1 + ses % 3);
		s.keytype = s.scheme == DFI_DF_SCHEME_EV2 ? DFI_KT_AES128 :
		    s.scheme == DFI_DF_SCHEME_D40 ? kts[(ses >> 2) % 2] : kts[(ses >> 2) % 4];
		memset(s.enc_key, 0x5A, sizeof(s.enc_key));
		memset(s.mac_key, 0xA5, sizeof(s.mac_key));
		s.cmd_ctr = (uint16_t)(ses << 8 | sel);
		s.aid = 1;
		if (dfi_desfire_set_session(d, &s) == DFI_OK)
			(void)dfi_desfire_sm_unwrap(d, modes[(ses >> 4) % 3], p, n, sw2, out,
			    (sel & 0x80) ? sizeof(out) : 8, &outlen);
		dfi_desfire_free(d);
		dfi_transport_free(t);
		break;
	}
	}
	return 0;
}
