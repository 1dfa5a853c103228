/* Core utilities: errors, hex, the bounds-checked reader and writer, secrets. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "dfissue/error.h"
#include "dfissue/transport.h"
#include "core/grow.h"
#include "core/replace.h"
#include "core/trim.h"
#include "core/why.h"

START_TEST(strerror_names_every_code)
{
	ck_assert_str_eq(dfi_errname(DFI_E_HSM_PIN_INCORRECT), "DFI_E_HSM_PIN_INCORRECT");
	ck_assert_ptr_nonnull(strstr(dfi_strerror(DFI_E_DF_PERMISSION_DENIED), "PERMISSION_DENIED"));
	ck_assert_str_eq(dfi_strerror((dfi_err)9999), "unknown error code");
	/* Every code from 0 to the end of each range has its own message. */
	for (int c = 0; c < 600; c++) {
		const char *n = dfi_errname((dfi_err)c);
		if (strcmp(n, "DFI_E_UNKNOWN") != 0)
			ck_assert_str_ne(dfi_strerror((dfi_err)c), "unknown error code");
	}
}
END_TEST

START_TEST(desfire_status_map)
{
	ck_assert_int_eq(dfi_err_from_desfire_status(0x00), DFI_OK);
	ck_assert_int_eq(dfi_err_from_desfire_status(0xAF), DFI_OK);
	ck_assert_int_eq(dfi_err_from_desfire_status(0xAE), DFI_E_DF_AUTHENTICATION_ERROR);
	ck_assert_int_eq(dfi_err_from_desfire_status(0xDE), DFI_E_DF_DUPLICATE_ERROR);
	ck_assert_int_eq(dfi_err_from_desfire_status(0x42), DFI_E_DF_UNKNOWN_STATUS);
}
END_TEST

START_TEST(hex_roundtrip_and_errors)
{
	uint8_t b[8];
	size_t n;
	char s[17];
	ck_assert_int_eq(dfi_hex_decode(" 00aBcD ", b, sizeof(b), &n), DFI_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(dfi_hex_encode(b, n, s, sizeof(s)), DFI_OK);
	ck_assert_str_eq(s, "00ABCD");
	ck_assert_int_eq(dfi_hex_decode("abc", b, sizeof(b), &n), DFI_E_PARSE);
	ck_assert_int_eq(dfi_hex_decode("zz", b, sizeof(b), &n), DFI_E_PARSE);
	ck_assert_int_eq(dfi_hex_decode("001122334455667788", b, sizeof(b), &n), DFI_E_BUFFER_TOO_SMALL);
	ck_assert_int_eq(dfi_hex_encode(b, 8, s, 16), DFI_E_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(reader_checks_lengths)
{
	const uint8_t d[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 };
	dfi_rd r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	dfi_rd_init(&r, d, sizeof(d));
	ck_assert_int_eq(dfi_rd_u8(&r, &u8), DFI_OK);
	ck_assert_uint_eq(u8, 1);
	ck_assert_int_eq(dfi_rd_le16(&r, &u16), DFI_OK);
	ck_assert_uint_eq(u16, 0x0302);
	ck_assert_int_eq(dfi_rd_le32(&r, &u32), DFI_E_CARD_PROTOCOL);
	ck_assert_int_eq(dfi_rd_le24(&r, &u32), DFI_OK);
	ck_assert_uint_eq(u32, 0x060504);
	ck_assert_int_eq(dfi_rd_end(&r), DFI_OK);
	ck_assert_int_eq(dfi_rd_u8(&r, &u8), DFI_E_CARD_PROTOCOL);
}
END_TEST

START_TEST(writer_is_sticky_on_overflow)
{
	uint8_t b[4];
	dfi_wr w;
	dfi_wr_init(&w, b, sizeof(b));
	dfi_wr_le24(&w, 0x030201);
	ck_assert_int_eq(w.err, DFI_OK);
	dfi_wr_le16(&w, 0xFFFF);
	ck_assert_int_eq(w.err, DFI_E_BUFFER_TOO_SMALL);
	dfi_wr_u8(&w, 0x04);
	ck_assert_int_eq(w.err, DFI_E_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(w.len, 3);
	ck_assert_hex_eq(b, 3, "010203");
}
END_TEST

START_TEST(secure_memory)
{
	uint8_t *p = dfi_secure_alloc(32);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xA5, 32);
	ck_assert_int_eq(dfi_ct_memcmp(p, p, 32), 0);
	uint8_t q[32];
	memcpy(q, p, 32);
	q[31] ^= 1;
	ck_assert_int_ne(dfi_ct_memcmp(p, q, 32), 0);
	dfi_secure_free(p, 32);
	dfi_wipe(q, sizeof(q));
	for (size_t i = 0; i < sizeof(q); i++)
		ck_assert_uint_eq(q[i], 0);
}
END_TEST

/* Both growers: dfi_grow_wiped differs only in how the old block goes
 * (wiped; test_profile_batch_wipe searches what is freed). */
START_TEST(grow_doubles_and_refuses_overflow)
{
	void *(*const grow[])(void *, size_t *, size_t, size_t, size_t) = { dfi_grow, dfi_grow_wiped };
	for (size_t g = 0; g < 2; g++) {
		size_t cap = 0;
		uint32_t *v = grow[g](NULL, &cap, 3, 2, sizeof(*v));
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(cap, 4); /* 2, doubled once */
		ck_assert_ptr_eq(grow[g](v, &cap, 4, 2, sizeof(*v)), v); /* fits: not moved */
		for (uint32_t i = 0; i < 4; i++)
			v[i] = 0xA0 + i;
		/* a byte size that would wrap is out of memory, and v is kept */
		ck_assert_ptr_null(grow[g](v, &cap, SIZE_MAX / 2, 2, sizeof(*v)));
		ck_assert_uint_eq(cap, 4);
		/* grown: the elements come along */
		ck_assert_ptr_nonnull(v = grow[g](v, &cap, 5, 2, sizeof(*v)));
		ck_assert_uint_eq(cap, 8);
		for (uint32_t i = 0; i < 4; i++)
			ck_assert_uint_eq(v[i], 0xA0 + i);
		free(v);
	}
}
END_TEST

START_TEST(trim_cuts_both_ends)
{
	char a[] = " \t key = value \r\n", b[] = " \n\t ";
	ck_assert_str_eq(dfi_trim(a), "key = value");
	ck_assert_str_eq(dfi_trim(b), "");
}
END_TEST

/* core/why.h: a reason is one line whatever the text it quotes holds (a
 * libpq message ends with a newline and indents its hint with a tab, a path
 * may hold a break). */
START_TEST(why_is_one_line)
{
	char why[64];
	ck_assert_int_eq(dfi_why(why, sizeof(why), DFI_E_REGISTRY, "connecting: %s",
			     "could not connect\n\tis the server running?\r\n\n"),
	    DFI_E_REGISTRY);
	ck_assert_str_eq(why, "connecting: could not connect is the server running?");
	ck_assert_int_eq(dfi_why(why, 9, DFI_E_IO, "a\rb\nc\r\nd\n"), DFI_E_IO);
	ck_assert_str_eq(why, "a b c d"); /* cut to fit ("a\rb\nc\r\nd"), then folded */
	ck_assert_int_eq(dfi_why(why, sizeof(why), DFI_E_IO, "x \n  y\r\n\tz"), DFI_E_IO);
	ck_assert_str_eq(why, "x y z"); /* a blank before a break is not doubled */
	ck_assert_int_eq(dfi_why(NULL, 0, DFI_E_PARSE, "%s", "x\n"), DFI_E_PARSE);
}
END_TEST

/* core/replace.h: the new contents or the old, and the failed step named. */
START_TEST(file_replace_whole_or_not_at_all)
{
	char dir[] = "/tmp/dfi_core_XXXXXX", path[64], sub[64], got[16] = "";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	ck_assert_int_eq(dfi_file_replace(path, "old", 3, 1, NULL), DFI_OK);
	ck_assert_int_eq(dfi_file_replace(path, "new!", 4, 0, NULL), DFI_OK);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(got, 1, sizeof(got) - 1, f), 4);
	fclose(f);
	ck_assert_str_eq(got, "new!");
	/* no directory to put the temporary file in */
	const char *step = NULL;
	snprintf(sub, sizeof(sub), "%s/none/state", dir);
	ck_assert_int_eq(dfi_file_replace(sub, "x", 1, 1, &step), DFI_E_IO);
	ck_assert_str_eq(step, "creating a temporary file for");
	ck_assert_int_eq(errno, ENOENT);
	/* a directory cannot be replaced by a file: the temporary one goes */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(dfi_file_replace(sub, "x", 1, 1, &step), DFI_E_IO);
	ck_assert_str_eq(step, "replacing");
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(rmdir(sub), 0);
	ck_assert_int_eq(dfi_file_replace(NULL, "x", 1, 1, &step), DFI_E_INVALID_ARG);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0); /* empty: no temporary file left behind */
}
END_TEST

static void
count_destroy(void *ctx)
{
	++*(int *)ctx;
}

static dfi_err
no_transmit(void *ctx, const uint8_t *c, size_t cl, uint8_t *r, size_t rc, size_t *rl)
{
	(void)ctx, (void)c, (void)cl, (void)r, (void)rc, (void)rl;
	return DFI_E_TRANSPORT;
}

/* include/dfissue/transport.h: the context is the handle's from _new on,
 * destroyed when _new refuses and by _free (core/owned.h). */
START_TEST(handles_own_their_context)
{
	int destroyed = 0;
	const struct dfi_transport_ops bad = { .destroy = count_destroy };
	const struct dfi_transport_ops ok = { .transmit = no_transmit, .destroy = count_destroy };
	dfi_transport *t = NULL;
	ck_assert_int_eq(dfi_transport_new(&t, &bad, &destroyed), DFI_E_INVALID_ARG);
	ck_assert_int_eq(destroyed, 1);
	ck_assert_int_eq(dfi_transport_new(NULL, &ok, &destroyed), DFI_E_INVALID_ARG);
	ck_assert_int_eq(destroyed, 2);
	ck_assert_int_eq(dfi_transport_new(&t, &ok, &destroyed), DFI_OK);
	ck_assert_int_eq(destroyed, 2);
	dfi_transport_free(t);
	ck_assert_int_eq(destroyed, 3);
}
END_TEST

int
main(void)
{
	return dfi_test_main("core", NULL,
	    (const TTest *[]){ strerror_names_every_code, desfire_status_map,
	    hex_roundtrip_and_errors, reader_checks_lengths, writer_is_sticky_on_overflow,
	    secure_memory, grow_doubles_and_refuses_overflow, handles_own_their_context,
	    trim_cuts_both_ends, why_is_one_line, file_replace_whole_or_not_at_all, NULL });
}
