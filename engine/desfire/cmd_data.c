/* Data commands: data files, value files, record files, transactions. */
#include <string.h>

#include "desfire_int.h"

static int
comm_ok(dfi_df_comm c)
{
	return c == DFI_DF_COMM_PLAIN || c == DFI_DF_COMM_MAC || c == DFI_DF_COMM_ENC;
}

static void
rw_header(uint8_t h[7], uint8_t fileno, uint32_t a, uint32_t b)
{
	h[0] = fileno;
	df_put_le24(h + 1, a);
	df_put_le24(h + 4, b);
}

dfi_err
dfi_desfire_read_data(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    uint32_t len, uint8_t *out)
{
	uint8_t h[7];
	size_t n;
	dfi_err e;

	if (d == NULL || out == NULL || fileno > 31 || !comm_ok(comm) || len == 0 ||
	    len > DFI_DF_MAX_DATA || offset > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	rw_header(h, fileno, offset, len);
	if ((e = df_command(d, 0xBD, h, 7, NULL, 0, comm, comm, 0, len, out, len, &n)) != DFI_OK)
		return e;
	return n == len ? DFI_OK : DFI_E_CARD_PROTOCOL;
}

/* WriteData (0x3D) and WriteRecord (0x3B) take the same header and data. */
static dfi_err
write_op(dfi_desfire *d, uint8_t cmd, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    const uint8_t *data, uint32_t len)
{
	uint8_t h[7];
	size_t n;

	if (d == NULL || data == NULL || fileno > 31 || !comm_ok(comm) || len == 0 ||
	    len > DFI_DF_MAX_DATA || offset > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	rw_header(h, fileno, offset, len);
	return df_command(d, cmd, h, 7, data, len, comm, DF_WRITE_RESP(comm), 0, 0, NULL, 0, &n);
}

dfi_err
dfi_desfire_write_data(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    const uint8_t *data, uint32_t len)
{
	return write_op(d, 0x3D, fileno, comm, offset, data, len);
}

dfi_err
dfi_desfire_get_value(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t *value)
{
	uint8_t buf[8];
	size_t n;
	dfi_err e;

	if (d == NULL || value == NULL || fileno > 31 || !comm_ok(comm))
		return DFI_E_INVALID_ARG;
	if ((e = df_command(d, 0x6C, &fileno, 1, NULL, 0, comm, comm, 0, 4, buf, sizeof(buf),
	    &n)) != DFI_OK)
		return e;
	return dfi_df_parse_value(buf, n, value);
}

static dfi_err
value_op(dfi_desfire *d, uint8_t cmd, uint8_t fileno, dfi_df_comm comm, int32_t amount)
{
	uint8_t v[4];
	size_t n;

	if (d == NULL || fileno > 31 || !comm_ok(comm) || amount < 0)
		return DFI_E_INVALID_ARG;
	for (int i = 0; i < 4; i++)
		v[i] = (uint8_t)((uint32_t)amount >> (8 * i));
	return df_command(d, cmd, &fileno, 1, v, 4, comm, DF_WRITE_RESP(comm), 0, 0, NULL, 0, &n);
}

dfi_err
dfi_desfire_credit(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t amount)
{
	return value_op(d, 0x0C, fileno, comm, amount);
}

dfi_err
dfi_desfire_debit(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, int32_t amount)
{
	return value_op(d, 0xDC, fileno, comm, amount);
}

dfi_err
dfi_desfire_read_records(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t first,
    uint32_t count, uint32_t record_size, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t h[7];
	size_t n, expect = SIZE_MAX;
	dfi_err e;

	if (d == NULL || out == NULL || outlen == NULL || fileno > 31 || !comm_ok(comm) ||
	    record_size == 0 || first > 0xFFFFFF || count > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	if (count > 0) {
		if ((uint64_t)count * record_size > DFI_DF_MAX_DATA ||
		    (uint64_t)count * record_size > cap)
			return DFI_E_BUFFER_TOO_SMALL;
		expect = (size_t)count * record_size;
	}
	rw_header(h, fileno, first, count);
	if ((e = df_command(d, 0xBB, h, 7, NULL, 0, comm, comm, 0, expect, out, cap, &n)) != DFI_OK)
		return e;
	if (n % record_size != 0 || (expect != SIZE_MAX && n != expect))
		return DFI_E_CARD_PROTOCOL;
	*outlen = n;
	return DFI_OK;
}

dfi_err
dfi_desfire_write_record(dfi_desfire *d, uint8_t fileno, dfi_df_comm comm, uint32_t offset,
    const uint8_t *data, uint32_t len)
{
	return write_op(d, 0x3B, fileno, comm, offset, data, len);
}

/* CommitTransaction (0xC7) and AbortTransaction (0xA7): no data either way. */
static dfi_err
transaction_op(dfi_desfire *d, uint8_t cmd)
{
	size_t n;
	if (d == NULL)
		return DFI_E_INVALID_ARG;
	return df_command(d, cmd, NULL, 0, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, 0, NULL, 0, &n);
}

dfi_err
dfi_desfire_commit_transaction(dfi_desfire *d)
{
	return transaction_op(d, 0xC7);
}

dfi_err
dfi_desfire_abort_transaction(dfi_desfire *d)
{
	return transaction_op(d, 0xA7);
}
