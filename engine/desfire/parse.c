/* Parsers of card responses. The card is untrusted: every field is read
 * through the bounds-checked reader and every response must be consumed
 * exactly. */
#include <string.h>

#include "desfire_int.h"

#define RD(x) do { if ((e = (x)) != DFI_OK) return e; } while (0)

/* Every parser of one record starts alike: the arguments checked, the
 * output cleared (a refused response leaves nothing half-parsed in it)
 * and a reader set over the response. */
static dfi_err
rd_start(dfi_rd *r, const uint8_t *p, size_t len, void *out, size_t size)
{
	if ((p == NULL && len > 0) || out == NULL)
		return DFI_E_INVALID_ARG;
	memset(out, 0, size);
	dfi_rd_init(r, p, len);
	return DFI_OK;
}

dfi_err
dfi_df_parse_version(const uint8_t *p, size_t len, struct dfi_df_version *v)
{
	dfi_rd r;
	dfi_err e;

	RD(rd_start(&r, p, len, v, sizeof(*v)));
	/* 7 + 7 + 14 bytes; EV2 and later may add a byte we ignore. */
	if (len != 28 && len != 29)
		return DFI_E_CARD_PROTOCOL;
	RD(dfi_rd_u8(&r, &v->hw_vendor));
	RD(dfi_rd_u8(&r, &v->hw_type));
	RD(dfi_rd_u8(&r, &v->hw_subtype));
	RD(dfi_rd_u8(&r, &v->hw_major));
	RD(dfi_rd_u8(&r, &v->hw_minor));
	RD(dfi_rd_u8(&r, &v->hw_storage));
	RD(dfi_rd_u8(&r, &v->hw_protocol));
	RD(dfi_rd_u8(&r, &v->sw_vendor));
	RD(dfi_rd_u8(&r, &v->sw_type));
	RD(dfi_rd_u8(&r, &v->sw_subtype));
	RD(dfi_rd_u8(&r, &v->sw_major));
	RD(dfi_rd_u8(&r, &v->sw_minor));
	RD(dfi_rd_u8(&r, &v->sw_storage));
	RD(dfi_rd_u8(&r, &v->sw_protocol));
	RD(dfi_rd_bytes(&r, v->uid, 7));
	RD(dfi_rd_bytes(&r, v->batch, 5));
	RD(dfi_rd_u8(&r, &v->week));
	RD(dfi_rd_u8(&r, &v->year));
	return DFI_OK;
}

int
dfi_df_generation(const struct dfi_df_version *v)
{
	if (v == NULL || v->hw_vendor != 0x04 || v->hw_type != 0x01)
		return 0; /* not an NXP MIFARE DESFire */
	switch (v->hw_major) {
	case 0x01: return 1;
	case 0x12: return 2;
	case 0x33: return 3;
	default: return 0;
	}
}

dfi_err
dfi_df_parse_key_settings(const uint8_t *p, size_t len, struct dfi_df_key_settings *ks)
{
	dfi_rd r;
	dfi_err e;
	uint8_t b;

	RD(rd_start(&r, p, len, ks, sizeof(*ks)));
	RD(dfi_rd_u8(&r, &ks->settings));
	RD(dfi_rd_u8(&r, &b));
	RD(dfi_rd_end(&r));
	ks->max_keys = b & 0x0F;
	switch (b & 0xC0) {
	case 0x00: ks->keytype = DFI_KT_2K3DES; break;
	case 0x40: ks->keytype = DFI_KT_3K3DES; break;
	case 0x80: ks->keytype = DFI_KT_AES128; break;
	default: return DFI_E_CARD_PROTOCOL;
	}
	if (ks->max_keys > 14)
		return DFI_E_CARD_PROTOCOL;
	return DFI_OK;
}

uint16_t
dfi_df_access_encode(const struct dfi_df_access *a)
{
	/* Read in the top nibble, change in the bottom one; little-endian on
	 * the wire, so the first byte is read&write || change. */
	return (uint16_t)(((a->read & 0xF) << 12) | ((a->write & 0xF) << 8) |
	    ((a->read_write & 0xF) << 4) | (a->change & 0xF));
}

void
dfi_df_access_decode(uint16_t v, struct dfi_df_access *a)
{
	a->read = (v >> 12) & 0xF;
	a->write = (v >> 8) & 0xF;
	a->read_write = (v >> 4) & 0xF;
	a->change = v & 0xF;
}

dfi_err
dfi_df_parse_file_settings(const uint8_t *p, size_t len, struct dfi_df_file_settings *fs)
{
	dfi_rd r;
	dfi_err e;
	uint16_t ar;
	uint32_t u;

	RD(rd_start(&r, p, len, fs, sizeof(*fs)));
	RD(dfi_rd_u8(&r, &fs->type));
	RD(dfi_rd_u8(&r, &fs->option));
	RD(dfi_rd_le16(&r, &ar));
	dfi_df_access_decode(ar, &fs->access);
	fs->comm = (fs->option & 3) == 3 ? DFI_DF_COMM_ENC :
	    (fs->option & 3) == 1 ? DFI_DF_COMM_MAC : DFI_DF_COMM_PLAIN;
	switch (fs->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP:
		RD(dfi_rd_le24(&r, &fs->size));
		break;
	case DFI_DF_FILE_VALUE:
		RD(dfi_rd_le32(&r, &u));
		fs->lower = (int32_t)u;
		RD(dfi_rd_le32(&r, &u));
		fs->upper = (int32_t)u;
		RD(dfi_rd_le32(&r, &u));
		fs->limited_credit = (int32_t)u;
		RD(dfi_rd_u8(&r, &fs->limited_credit_enabled));
		break;
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD:
		RD(dfi_rd_le24(&r, &fs->record_size));
		RD(dfi_rd_le24(&r, &fs->max_records));
		RD(dfi_rd_le24(&r, &fs->cur_records));
		if (fs->cur_records > fs->max_records)
			return DFI_E_CARD_PROTOCOL;
		break;
	default:
		return DFI_E_CARD_PROTOCOL;
	}
	/* EV2: additional access rights follow when option bit 7 is set. */
	if (fs->option & 0x80) {
		const uint8_t *extra;
		RD(dfi_rd_u8(&r, &fs->n_extra_access));
		if (fs->n_extra_access > 7)
			return DFI_E_CARD_PROTOCOL;
		RD(dfi_rd_ptr(&r, &extra, 2u * fs->n_extra_access));
	}
	/* EV3 / NTAG 424 DNA: SDM settings when option bit 6 is set. */
	if (fs->option & DFI_DF_FILE_OPTION_SDM) {
		if (fs->type != DFI_DF_FILE_STD && fs->type != DFI_DF_FILE_BACKUP)
			return DFI_E_CARD_PROTOCOL;
		fs->sdm_enabled = 1;
		RD(df_parse_sdm(&r, &fs->sdm));
	}
	return dfi_rd_end(&r);
}

dfi_err
dfi_df_parse_aids(const uint8_t *p, size_t len, uint32_t *aids, size_t cap, size_t *n)
{
	dfi_rd r;
	dfi_err e;

	if ((p == NULL && len > 0) || n == NULL || (cap > 0 && aids == NULL))
		return DFI_E_INVALID_ARG;
	if (len % 3 != 0)
		return DFI_E_CARD_PROTOCOL;
	if (len / 3 > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	dfi_rd_init(&r, p, len);
	for (size_t i = 0; i < len / 3; i++)
		RD(dfi_rd_le24(&r, &aids[i]));
	*n = len / 3;
	return DFI_OK;
}

dfi_err
dfi_df_parse_file_ids(const uint8_t *p, size_t len, uint8_t *ids, size_t cap, size_t *n)
{
	if ((p == NULL && len > 0) || n == NULL || (cap > 0 && ids == NULL))
		return DFI_E_INVALID_ARG;
	if (len > 32)
		return DFI_E_CARD_PROTOCOL;
	if (len > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] > 31)
			return DFI_E_CARD_PROTOCOL;
		ids[i] = p[i];
	}
	*n = len;
	return DFI_OK;
}

dfi_err
dfi_df_parse_value(const uint8_t *p, size_t len, int32_t *value)
{
	dfi_rd r;
	dfi_err e;
	uint32_t u;

	RD(rd_start(&r, p, len, value, sizeof(*value)));
	RD(dfi_rd_le32(&r, &u));
	RD(dfi_rd_end(&r));
	*value = (int32_t)u;
	return DFI_OK;
}

dfi_err
dfi_df_parse_key_version(const uint8_t *p, size_t len, uint8_t *version)
{
	dfi_rd r;
	dfi_err e;

	RD(rd_start(&r, p, len, version, sizeof(*version)));
	RD(dfi_rd_u8(&r, version));
	return dfi_rd_end(&r);
}
