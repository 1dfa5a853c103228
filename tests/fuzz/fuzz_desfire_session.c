/*
 * libFuzzer: whole DESFire exchanges against a "card" whose every answer
 * comes from the input (framing, 0xAF chains, status handling,
 * authentication responses, secure messaging). Input: a scheme byte, then
 * answers as [length][bytes] records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
};

static dfi_err
feed_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	struct feed *f = ctx;
	(void)c, (void)clen;
	if (f->left == 0)
		return DFI_E_NO_CARD;
	size_t n = f->p[0];
	f->p++;
	f->left--;
	if (n > f->left)
		n = f->left;
	if (n > rcap)
		n = rcap;
	memcpy(r, f->p, n);
	f->p += n;
	f->left -= n;
	*rlen = n;
	return DFI_OK;
}

static const struct dfi_transport_ops ops = { .transmit = feed_transmit };

static dfi_err
rng(void *arg, uint8_t *out, size_t len)
{
	(void)arg;
	memset(out, 0x42, len);
	return DFI_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	struct feed f = { data + 1, size - 1 };
	uint8_t sel = data[0];
	dfi_transport *t;
	dfi_desfire *d;
	static const uint8_t zero[24];
	dfi_cardkey *aes, *des, *k3;
	uint8_t buf[600];
	size_t n;

	if (dfi_transport_new(&t, &ops, &f) != DFI_OK)
		return 0;
	if (dfi_desfire_new(&d, t) != DFI_OK) {
		dfi_transport_free(t);
		return 0;
	}
	dfi_desfire_set_rng(d, rng, NULL);
	dfi_cardkey_new_plain(&aes, DFI_KT_AES128, zero, 16, 0);
	dfi_cardkey_new_plain(&des, DFI_KT_DES, zero, 8, 0);
	dfi_cardkey_new_plain(&k3, DFI_KT_3K3DES, zero, 24, 0);

	switch (sel % 7) {
	case 0: (void)dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des); break;
	case 1: (void)dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, k3); break;
	case 2: (void)dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, aes); break;
	case 3: (void)dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, aes); break;
	case 5: (void)dfi_desfire_authenticate(d, DFI_DF_AUTH_LRP_FIRST, 0, aes); break;
	case 6: {
		/* an LRP session as an authentication leaves it */
		struct dfi_df_session s;
		memset(&s, 0, sizeof(s));
		s.scheme = DFI_DF_SCHEME_EV2;
		s.keytype = DFI_KT_AES128;
		s.lrp = 1;
		s.lrp_ctr = sel;
		s.aid = 0x123456;
		(void)dfi_desfire_set_session(d, &s);
		break;
	}
	default: {
		struct dfi_df_session s;
		memset(&s, 0, sizeof(s));
		s.scheme = (dfi_df_scheme)(1 + (sel >> 3) % 3);
		s.keytype = s.scheme == DFI_DF_SCHEME_EV1 && (sel & 0x80) ? DFI_KT_3K3DES :
		    s.scheme == DFI_DF_SCHEME_D40 ? DFI_KT_2K3DES : DFI_KT_AES128;
		s.aid = (sel & 0x40) ? 0 : 0x123456;
		(void)dfi_desfire_set_session(d, &s);
		break;
	}
	}
	dfi_df_comm comm = (dfi_df_comm)((sel >> 5) % 2 ? DFI_DF_COMM_ENC : DFI_DF_COMM_MAC);
	struct dfi_df_version v;
	struct dfi_df_file_settings fs;
	struct dfi_df_key_settings ks;
	struct dfi_df_access a = { 0, 0, 0, 0 };
	uint32_t aids[28];
	int32_t val;
	uint8_t ver;
	(void)dfi_desfire_get_version(d, &v);
	(void)dfi_desfire_get_card_uid(d, buf, sizeof(buf), &n);
	(void)dfi_desfire_get_application_ids(d, aids, 28, &n);
	(void)dfi_desfire_get_key_settings(d, &ks);
	(void)dfi_desfire_get_key_version(d, 1, &ver);
	(void)dfi_desfire_get_file_settings(d, 1, &fs);
	(void)dfi_desfire_read_data(d, 1, comm, 0, 100, buf);
	(void)dfi_desfire_write_data(d, 1, comm, 0, buf, 130);
	(void)dfi_desfire_get_value(d, 2, comm, &val);
	(void)dfi_desfire_read_records(d, 3, comm, 0, 0, 16, buf, sizeof(buf), &n);
	(void)dfi_desfire_change_key(d, 1, aes, aes);
	(void)dfi_desfire_change_key_settings(d, 0x0F);
	(void)dfi_desfire_create_std_file(d, 4, comm, &a, 32);
	(void)dfi_desfire_commit_transaction(d);
	(void)dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_NONFIRST, 1, aes);
	(void)dfi_desfire_authenticate(d, DFI_DF_AUTH_LRP_NONFIRST, 1, aes);
	(void)dfi_desfire_get_file_ids(d, buf, 32, &n);

	dfi_cardkey_free(aes);
	dfi_cardkey_free(des);
	dfi_cardkey_free(k3);
	dfi_desfire_free(d);
	dfi_transport_free(t);
	return 0;
}
