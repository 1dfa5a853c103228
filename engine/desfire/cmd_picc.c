/* PICC-level commands: version, UID, applications, format, configuration. */
#include <string.h>

#include "desfire_int.h"

dfi_err
dfi_desfire_get_version(dfi_desfire *d, struct dfi_df_version *v)
{
	uint8_t buf[64];
	size_t n;
	if (v == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0x60, NULL, 0, buf, sizeof(buf), &n);
	return e != DFI_OK ? e : dfi_df_parse_version(buf, n, v);
}

dfi_err
dfi_desfire_get_card_uid(dfi_desfire *d, uint8_t *uid, size_t cap, size_t *len)
{
	uint8_t buf[16];
	size_t n;
	dfi_err e;

	if (d == NULL || uid == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	if (d->scheme == DFI_DF_SCHEME_NONE)
		return DFI_E_NOT_AUTHENTICATED;
	if ((e = df_command(d, 0x51, NULL, 0, NULL, 0, DF_COMM_MGMT, DFI_DF_COMM_ENC, 0, SIZE_MAX,
	    buf, sizeof(buf), &n)) != DFI_OK)
		return e;
	if (n != 7 && n != 10)
		e = DFI_E_CARD_PROTOCOL;
	else if (n > cap)
		e = DFI_E_BUFFER_TOO_SMALL;
	else {
		memcpy(uid, buf, n);
		*len = n;
	}
	dfi_wipe(buf, sizeof(buf));
	return e;
}

dfi_err
dfi_desfire_select_application(dfi_desfire *d, uint32_t aid)
{
	uint8_t h[3];
	size_t n;

	if (d == NULL || aid > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	df_put_le24(h, aid);
	/* Selecting ends the authentication; the command itself is plain. */
	df_drop_auth(d);
	dfi_err e = df_command(d, 0x5A, h, 3, NULL, 0, DFI_DF_COMM_PLAIN, DFI_DF_COMM_PLAIN, 0,
	    0, NULL, 0, &n);
	if (e == DFI_OK)
		d->aid = aid;
	return e;
}

dfi_err
dfi_desfire_get_application_ids(dfi_desfire *d, uint32_t *aids, size_t cap, size_t *n)
{
	uint8_t buf[28 * 3 + 8];
	size_t len;
	if (n == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0x6A, NULL, 0, buf, sizeof(buf), &len);
	return e != DFI_OK ? e : dfi_df_parse_aids(buf, len, aids, cap, n);
}

dfi_err
dfi_desfire_create_application(dfi_desfire *d, uint32_t aid, uint8_t key_settings,
    uint8_t nkeys, dfi_keytype keytype)
{
	uint8_t h[5];
	size_t n;

	if (d == NULL || aid == 0 || aid > 0xFFFFFF || nkeys < 1 || nkeys > 14)
		return DFI_E_INVALID_ARG;
	df_put_le24(h, aid);
	h[3] = key_settings;
	switch (keytype) {
	case DFI_KT_DES:
	case DFI_KT_2K3DES: h[4] = nkeys; break;
	case DFI_KT_3K3DES: h[4] = (uint8_t)(0x40 | nkeys); break;
	case DFI_KT_AES128: h[4] = (uint8_t)(0x80 | nkeys); break;
	default: return DFI_E_INVALID_ARG;
	}
	return df_command(d, 0xCA, h, 5, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, 0, NULL, 0, &n);
}

dfi_err
dfi_desfire_delete_application(dfi_desfire *d, uint32_t aid)
{
	uint8_t h[3];
	size_t n;

	if (d == NULL || aid == 0 || aid > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	df_put_le24(h, aid);
	dfi_err e = df_command(d, 0xDA, h, 3, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, 0, NULL, 0,
	    &n);
	/* Deleting the selected application (with the PICC master key)
	 * leaves the PICC level selected. */
	if (e == DFI_OK && aid == d->aid) {
		d->aid = 0;
		df_drop_auth(d);
	}
	return e;
}

dfi_err
dfi_desfire_format_picc(dfi_desfire *d)
{
	size_t n;

	if (d == NULL)
		return DFI_E_INVALID_ARG;
	return df_command(d, 0xFC, NULL, 0, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, 0, NULL, 0, &n);
}

dfi_err
dfi_desfire_set_configuration(dfi_desfire *d, uint8_t option, const uint8_t *data, size_t len)
{
	size_t n;

	if (d == NULL || (len > 0 && data == NULL) || len > 32)
		return DFI_E_INVALID_ARG;
	if (d->scheme == DFI_DF_SCHEME_NONE)
		return DFI_E_NOT_AUTHENTICATED;
	return df_command(d, 0x5C, &option, 1, data, len, DFI_DF_COMM_ENC, DF_COMM_MGMT, 0, 0,
	    NULL, 0, &n);
}
