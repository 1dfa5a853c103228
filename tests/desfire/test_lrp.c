/*
 * LRP (engine/crypto/lrp.c) against every vector of NXP AN12304 in
 * tests/data/an12304_lrp.txt (the file says where each comes from), and the
 * card-key path: an LRP instance built through a dfi_cardkey's cipher
 * operation equals the one built from the key bytes.
 */
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/lrp.h"
#include "vecfile.h"

static struct dfi_lrp *
lrp_new(void)
{
	struct dfi_lrp *l = dfi_secure_alloc(sizeof(*l));
	ck_assert_ptr_nonnull(l);
	return l;
}

static void
lrp_free(struct dfi_lrp *l)
{
	dfi_secure_free(l, sizeof(*l));
}

/* A nibble string ("1F0B7", odd lengths allowed) into bytes. */
static size_t
nibbles(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	ck_assert_uint_le((n + 1) / 2, cap);
	memset(out, 0, cap);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned v = (c >= '0' && c <= '9') ? (unsigned)(c - '0') :
		    (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10) : 99;
		ck_assert_uint_lt(v, 16);
		out[i / 2] |= (uint8_t)(i % 2 == 0 ? v << 4 : v);
	}
	return n;
}

static void
seeds_of(const uint8_t key[16], uint8_t h0[16], uint8_t g0[16])
{
	uint8_t in[32], out[32];
	dfi_lrp_seed_input(in);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, key, 1, NULL, in, out, 32), DFI_OK);
	memcpy(h0, out, 16);
	memcpy(g0, out + 16, 16);
}

START_TEST(an12304_all_vectors)
{
	FILE *f = vec_open("an12304_lrp.txt");
	struct vec v = { 0 };
	unsigned np = 0, nu = 0, ne = 0, nc = 0, nm = 0, ns = 0;
	struct dfi_lrp *l = lrp_new();
	while (vec_next(f, &v)) {
		uint8_t key[16], h0[16], g0[16], out[16];
		ck_assert_uint_eq(vec_hex(&v, "key", key, sizeof(key)), 16);
		seeds_of(key, h0, g0);
		if (strcmp(v.kind, "plaintext") == 0) {
			uint8_t p[16][16];
			ck_assert_int_eq(dfi_lrp_plaintexts(h0, p), DFI_OK);
			ck_assert_hex_eq(p[vec_int(&v, "index")], 16, vec_str(&v, "out"));
			np++;
		} else if (strcmp(v.kind, "updated") == 0) {
			uint8_t uk[4][16];
			long i = vec_int(&v, "index");
			ck_assert_int_eq(dfi_lrp_updated_keys(g0, (size_t)i + 1, uk), DFI_OK);
			ck_assert_hex_eq(uk[i], 16, vec_str(&v, "out"));
			nu++;
		} else if (strcmp(v.kind, "eval") == 0) {
			uint8_t x[16];
			size_t nib = nibbles(vec_str(&v, "x"), x, sizeof(x));
			ck_assert_int_eq(dfi_lrp_init_key(l, key, (unsigned)vec_int(&v, "upd")), DFI_OK);
			ck_assert_int_eq(dfi_lrp_eval(l, x, nib, (int)vec_int(&v, "final"), out),
			    DFI_OK);
			ck_assert_hex_eq(out, 16, vec_str(&v, "out"));
			ne++;
		} else if (strcmp(v.kind, "lricb") == 0) {
			uint8_t ctr[16], ctr2[16], pt[256], ct[256], buf[272];
			size_t ctrlen = vec_hex(&v, "ctr", ctr, sizeof(ctr));
			size_t ptlen = vec_hex(&v, "pt", pt, sizeof(pt));
			size_t ctlen = vec_hex(&v, "ct", ct, sizeof(ct));
			int pad = (int)vec_int(&v, "pad");
			size_t len = ptlen;
			memcpy(buf, pt, ptlen);
			if (pad) {
				buf[len++] = 0x80;
				while (len % 16 != 0)
					buf[len++] = 0;
			}
			ck_assert_uint_eq(len, ctlen);
			memcpy(ctr2, ctr, ctrlen);
			ck_assert_int_eq(dfi_lrp_init_key(l, key, 0), DFI_OK);
			ck_assert_int_eq(dfi_lrp_cipher(l, 1, ctr, ctrlen, buf, buf, len), DFI_OK);
			ck_assert_mem_eq(buf, ct, ctlen);
			/* and back, from the same counter */
			ck_assert_int_eq(dfi_lrp_cipher(l, 0, ctr2, ctrlen, ct, buf, len), DFI_OK);
			ck_assert_mem_eq(buf, pt, ptlen);
			/* the counter moved on by one per block, like the encryptor's */
			ck_assert_mem_eq(ctr, ctr2, ctrlen);
			nc++;
		} else if (strcmp(v.kind, "subkeys") == 0) {
			uint8_t k1[16], k2[16];
			ck_assert_int_eq(dfi_lrp_init_key(l, key, 0), DFI_OK);
			ck_assert_int_eq(dfi_lrp_cmac_subkeys(l, k1, k2), DFI_OK);
			ck_assert_hex_eq(k1, 16, vec_str(&v, "k1"));
			ck_assert_hex_eq(k2, 16, vec_str(&v, "k2"));
			ns++;
		} else if (strcmp(v.kind, "cmac") == 0) {
			uint8_t msg[256], k1[16], k2[16];
			size_t mlen = vec_hex(&v, "msg", msg, sizeof(msg));
			ck_assert_int_eq(dfi_lrp_init_key(l, key, 0), DFI_OK);
			ck_assert_int_eq(dfi_lrp_cmac_subkeys(l, k1, k2), DFI_OK);
			/* the subkey the last block takes: K1 when whole */
			ck_assert_hex_eq(mlen > 0 && mlen % 16 == 0 ? k1 : k2, 16, vec_str(&v, "kx"));
			ck_assert_int_eq(dfi_lrp_cmac(l, mlen ? msg : NULL, mlen, out), DFI_OK);
			ck_assert_hex_eq(out, 16, vec_str(&v, "mac"));
			nm++;
		} else {
			ck_abort_msg("line %d: unknown vector kind %s", v.lineno, v.kind);
		}
	}
	fclose(f);
	lrp_free(l);
	/* Every list of the note is there, none skipped. */
	ck_assert_uint_eq(np, 4);
	ck_assert_uint_eq(nu, 3);
	ck_assert_uint_eq(ns, 3);
	ck_assert_uint_eq(ne, 50);
	ck_assert_uint_eq(nc, 50);
	ck_assert_uint_eq(nm, 50);
}
END_TEST

/* The card-key path computes nothing else than the host path. */
START_TEST(cardkey_instance_equals_host_instance)
{
	uint8_t key[16];
	HEX(key, "567826B8DA8E768432A9548DBE4AA3A0");
	dfi_cardkey *ck;
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, key, 16, 0), DFI_OK);
	struct dfi_lrp *a = lrp_new(), *b = lrp_new();
	for (unsigned u = 0; u < DFI_LRP_NUPDATED; u++) {
		ck_assert_int_eq(dfi_lrp_init_key(a, key, u), DFI_OK);
		ck_assert_int_eq(dfi_lrp_init_cardkey(b, ck, u), DFI_OK);
		ck_assert_mem_eq(a, b, sizeof(*a));
	}
	ck_assert_hex_eq(b->p[0], 16, "AC20D39F5341FE98DFCA21DA86BA7914");
	/* Refusals: only AES keys, updated key 0..3. */
	dfi_cardkey *des;
	ck_assert_int_eq(dfi_cardkey_new_plain(&des, DFI_KT_2K3DES, key, 16, 0), DFI_OK);
	ck_assert_int_eq(dfi_lrp_init_cardkey(b, des, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_lrp_init_key(b, key, DFI_LRP_NUPDATED), DFI_E_INVALID_ARG);
	dfi_cardkey_free(des);
	dfi_cardkey_free(ck);
	lrp_free(a);
	lrp_free(b);
}
END_TEST

START_TEST(cipher_counter_wraps_and_refuses_bad_lengths)
{
	uint8_t key[16] = { 0 }, ctr[2] = { 0xFF, 0xFF }, buf[32] = { 0 };
	struct dfi_lrp *l = lrp_new();
	ck_assert_int_eq(dfi_lrp_init_key(l, key, 1), DFI_OK);
	ck_assert_int_eq(dfi_lrp_cipher(l, 1, ctr, 2, buf, buf, 32), DFI_OK);
	ck_assert_uint_eq(ctr[0], 0x00);
	ck_assert_uint_eq(ctr[1], 0x01);
	ck_assert_int_eq(dfi_lrp_cipher(l, 1, ctr, 2, buf, buf, 15), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_lrp_cipher(l, 1, ctr, 0, buf, buf, 16), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_lrp_cipher(l, 1, ctr, 17, buf, buf, 16), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_lrp_eval(l, buf, 33, 1, key), DFI_E_INVALID_ARG);
	lrp_free(l);
}
END_TEST

int
main(void)
{
	return dfi_test_main("lrp", NULL,
	    (const TTest *[]){ an12304_all_vectors, cardkey_instance_equals_host_instance,
	    cipher_counter_wraps_and_refuses_bad_lengths, NULL });
}
