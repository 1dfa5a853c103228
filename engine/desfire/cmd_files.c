/* File management: create the five file types, list, settings, delete. */
#include <string.h>

#include "desfire_int.h"

static int
comm_ok(dfi_df_comm c)
{
	return c == DFI_DF_COMM_PLAIN || c == DFI_DF_COMM_MAC || c == DFI_DF_COMM_ENC;
}

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static dfi_err
create(dfi_desfire *d, uint8_t cmd, const uint8_t *h, size_t hlen)
{
	size_t n;
	return df_command(d, cmd, h, hlen, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, 0, NULL, 0, &n);
}

static dfi_err
create_data(dfi_desfire *d, uint8_t cmd, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t size)
{
	uint8_t h[7];

	if (d == NULL || a == NULL || fileno > 31 || !comm_ok(comm) || size == 0 ||
	    size > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	h[0] = fileno;
	h[1] = (uint8_t)comm;
	put_le16(h + 2, dfi_df_access_encode(a));
	df_put_le24(h + 4, size);
	return create(d, cmd, h, sizeof(h));
}

dfi_err
dfi_desfire_create_std_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t size)
{
	return create_data(d, 0xCD, fileno, comm, a, size);
}

dfi_err
dfi_desfire_create_backup_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t size)
{
	return create_data(d, 0xCB, fileno, comm, a, size);
}

dfi_err
dfi_desfire_create_value_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, int32_t lower, int32_t upper, int32_t value,
    uint8_t limited_credit_enabled)
{
	uint8_t h[17];

	if (d == NULL || a == NULL || fileno > 31 || !comm_ok(comm) || lower > upper ||
	    value < lower || value > upper)
		return DFI_E_INVALID_ARG;
	h[0] = fileno;
	h[1] = (uint8_t)comm;
	put_le16(h + 2, dfi_df_access_encode(a));
	put_le32(h + 4, (uint32_t)lower);
	put_le32(h + 8, (uint32_t)upper);
	put_le32(h + 12, (uint32_t)value);
	h[16] = limited_credit_enabled;
	return create(d, 0xCC, h, sizeof(h));
}

static dfi_err
create_record(dfi_desfire *d, uint8_t cmd, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t record_size, uint32_t max_records)
{
	uint8_t h[10];

	if (d == NULL || a == NULL || fileno > 31 || !comm_ok(comm) || record_size == 0 ||
	    record_size > 0xFFFFFF || max_records == 0 || max_records > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	h[0] = fileno;
	h[1] = (uint8_t)comm;
	put_le16(h + 2, dfi_df_access_encode(a));
	df_put_le24(h + 4, record_size);
	df_put_le24(h + 7, max_records);
	return create(d, cmd, h, sizeof(h));
}

dfi_err
dfi_desfire_create_linear_record_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t record_size, uint32_t max_records)
{
	return create_record(d, 0xC1, fileno, comm, a, record_size, max_records);
}

dfi_err
dfi_desfire_create_cyclic_record_file(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm,
    const struct dfi_df_access *a, uint32_t record_size, uint32_t max_records)
{
	/* A cyclic file keeps one record free for the write in progress. */
	if (max_records < 2)
		return DFI_E_INVALID_ARG;
	return create_record(d, 0xC0, fileno, comm, a, record_size, max_records);
}

dfi_err
dfi_desfire_delete_file(dfi_desfire *d, uint8_t fileno)
{
	if (d == NULL || fileno > 31)
		return DFI_E_INVALID_ARG;
	return create(d, 0xDF, &fileno, 1);
}

dfi_err
dfi_desfire_get_file_ids(dfi_desfire *d, uint8_t *ids, size_t cap, size_t *n)
{
	uint8_t buf[48];
	size_t len;
	if (n == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0x6F, NULL, 0, buf, sizeof(buf), &len);
	return e != DFI_OK ? e : dfi_df_parse_file_ids(buf, len, ids, cap, n);
}

dfi_err
dfi_desfire_get_file_settings(dfi_desfire *d, uint8_t fileno, struct dfi_df_file_settings *fs)
{
	uint8_t buf[64];
	size_t len;
	if (fs == NULL || fileno > 31)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0xF5, &fileno, 1, buf, sizeof(buf), &len);
	return e != DFI_OK ? e : dfi_df_parse_file_settings(buf, len, fs);
}

dfi_err
dfi_desfire_change_file_settings(dfi_desfire *d, uint8_t fileno, dfi_df_comm send_mode,
    dfi_df_comm new_comm, const struct dfi_df_access *a)
{
	uint8_t data[3];
	size_t n;

	if (d == NULL || a == NULL || fileno > 31 || !comm_ok(new_comm) ||
	    (send_mode != DFI_DF_COMM_PLAIN && send_mode != DFI_DF_COMM_ENC))
		return DFI_E_INVALID_ARG;
	data[0] = (uint8_t)new_comm;
	put_le16(data + 1, dfi_df_access_encode(a));
	return df_command(d, 0x5F, &fileno, 1, data, sizeof(data),
	    send_mode == DFI_DF_COMM_ENC ? DFI_DF_COMM_ENC : DF_COMM_MGMT, DF_COMM_MGMT, 0, 0,
	    NULL, 0, &n);
}
