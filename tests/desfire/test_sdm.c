/*
 * Secure Dynamic Messaging (engine/desfire/sdm*.c): the AN12196 examples
 * (tests/data/an12196_sdm.txt), the LRP taps (tests/data/sdm_lrp.txt),
 * AN12196's ChangeFileSettings (Table 18) and GetFileSettings examples
 * through a template, and every refusal: altered taps, foreign layouts,
 * settings a card refuses.
 */
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "dfissue/sdm.h"
#include "vecfile.h"

static dfi_cardkey *
key_of(const struct vec *v, const char *name)
{
	uint8_t k[16];
	dfi_cardkey *ck;
	ck_assert_uint_eq(vec_hex(v, name, k, sizeof(k)), 16);
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 16, 0), DFI_OK);
	return ck;
}

static uint32_t
ctr_le(const uint8_t c[3])
{
	return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16;
}

/* The file-read key callback of dfi_sdm_verify: here one key for all. */
struct fk {
	uint8_t key[16];
	uint8_t seen_uid[7];
	int calls, got_uid;
};

static dfi_err
file_key(void *arg, const uint8_t *uid, dfi_cardkey **out)
{
	struct fk *f = arg;
	f->calls++;
	f->got_uid = uid != NULL;
	if (uid != NULL)
		memcpy(f->seen_uid, uid, 7);
	return dfi_cardkey_new_plain(out, DFI_KT_AES128, f->key, 16, 0);
}

/* One "tap" vector: parse, verify, compare; then every single-character
 * alteration of the mirrored part is refused. */
static void
check_tap(const struct vec *v, enum dfi_sdm_cipher c)
{
	struct dfi_sdm_layout l;
	struct dfi_sdm_tap t;
	struct dfi_sdm_result r;
	struct fk f = { .calls = 0 };
	char why[256];
	dfi_cardkey *meta = key_of(v, "meta");
	ck_assert_uint_eq(vec_hex(v, "file", f.key, sizeof(f.key)), 16);
	ck_assert_msg(dfi_sdm_layout_parse(vec_str(v, "template"), c, 0, &l, why, sizeof(why)) ==
	    DFI_OK, "line %d: %s", v->lineno, why);
	ck_assert_msg(dfi_sdm_tap_parse(&l, vec_str(v, "data"), DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)) == DFI_OK, "line %d: %s", v->lineno, why);
	ck_assert_int_eq(dfi_sdm_verify(&l, &t, meta, file_key, &f, &r), DFI_OK);
	ck_assert_int_eq(r.has_uid, 1);
	ck_assert_int_eq(r.has_ctr, 1);
	ck_assert_hex_eq(r.uid, 7, vec_str(v, "uid"));
	ck_assert_uint_eq(r.ctr, (uint32_t)vec_int(v, "counter"));
	ck_assert_hex_eq(r.file, r.file_len, vec_str(v, "filedata"));
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.got_uid, 1);
	ck_assert_hex_eq(f.seen_uid, 7, vec_str(v, "uid"));

	/* Any mirrored character changed (to another hex digit): refused. */
	const char *data = vec_str(v, "data");
	size_t n = strlen(data);
	unsigned refused = 0, tried = 0;
	for (size_t i = 0; i < n; i++) {
		char alt[512];
		ck_assert_uint_lt(n, sizeof(alt));
		memcpy(alt, data, n + 1);
		if (!((alt[i] >= '0' && alt[i] <= '9') || (alt[i] >= 'A' && alt[i] <= 'F')))
			continue;
		alt[i] = alt[i] == '0' ? '1' : '0';
		struct dfi_sdm_tap t2;
		if (dfi_sdm_tap_parse(&l, alt, DFI_SDM_IN_AUTO, &t2, why, sizeof(why)) != DFI_OK) {
			refused++; /* a literal part of the URL (e.g. "sdm.example") */
			tried++;
			continue;
		}
		tried++;
		dfi_err e = dfi_sdm_verify(&l, &t2, meta, file_key, &f, &r);
		ck_assert_msg(e == DFI_E_CARD_MAC, "line %d: altered character %zu accepted (%s)",
		    v->lineno, i, dfi_errname(e));
		refused++;
	}
	ck_assert_uint_eq(refused, tried);
	ck_assert_uint_gt(tried, 40);
	dfi_cardkey_free(meta);
}

START_TEST(an12196_vectors)
{
	FILE *fp = vec_open("an12196_sdm.txt");
	struct vec v = { 0 };
	unsigned ns = 0, np = 0, nm = 0, nt = 0;
	while (vec_next(fp, &v)) {
		if (strcmp(v.kind, "sesskeys") == 0) {
			uint8_t uid[7], c[3], enc[16], mac[16];
			dfi_cardkey *k = key_of(&v, "key");
			dfi_sdm_keys *sk;
			vec_hex(&v, "uid", uid, sizeof(uid));
			vec_hex(&v, "ctr", c, sizeof(c));
			uint32_t ctr = ctr_le(c);
			ck_assert_int_eq(dfi_sdm_keys_new(&sk, k, DFI_SDM_AES, uid, &ctr), DFI_OK);
			ck_assert_int_eq(dfi_sdm_keys_export(sk, enc, mac), DFI_OK);
			ck_assert_hex_eq(enc, 16, vec_str(&v, "enc"));
			ck_assert_hex_eq(mac, 16, vec_str(&v, "mac"));
			dfi_sdm_keys_free(sk);
			dfi_cardkey_free(k);
			ns++;
		} else if (strcmp(v.kind, "picc") == 0) {
			uint8_t enc[16], plain[16], back[24], rnd[24];
			struct dfi_sdm_picc p;
			size_t n;
			dfi_cardkey *k = key_of(&v, "key");
			vec_hex(&v, "enc", enc, sizeof(enc));
			ck_assert_int_eq(dfi_sdm_picc_decrypt(k, DFI_SDM_AES, enc, 16, &p), DFI_OK);
			ck_assert_uint_eq(p.tag, 0xC7);
			ck_assert_hex_eq(p.uid, 7, vec_str(&v, "uid"));
			ck_assert_uint_eq(p.ctr, (uint32_t)vec_int(&v, "counter"));
			/* and the card's side: the same random padding gives the same block */
			vec_hex(&v, "plain", plain, sizeof(plain));
			memset(rnd, 0, sizeof(rnd));
			memcpy(rnd + 8, plain, 16);
			ck_assert_int_eq(dfi_sdm_picc_encrypt(k, DFI_SDM_AES, &p, rnd, back, sizeof(back),
			    &n), DFI_OK);
			ck_assert_uint_eq(n, 16);
			ck_assert_mem_eq(back, enc, 16);
			dfi_cardkey_free(k);
			np++;
		} else if (strcmp(v.kind, "mac") == 0) {
			uint8_t uid[7], c[3], in[64], enc[16], mac[16], t[8];
			dfi_cardkey *k = key_of(&v, "key");
			dfi_sdm_keys *sk;
			vec_hex(&v, "uid", uid, sizeof(uid));
			vec_hex(&v, "ctr", c, sizeof(c));
			size_t inlen = vec_hex(&v, "input", in, sizeof(in));
			uint32_t ctr = ctr_le(c);
			ck_assert_int_eq(dfi_sdm_keys_new(&sk, k, DFI_SDM_AES, uid, &ctr), DFI_OK);
			ck_assert_int_eq(dfi_sdm_keys_export(sk, enc, mac), DFI_OK);
			ck_assert_hex_eq(mac, 16, vec_str(&v, "sesmac"));
			ck_assert_int_eq(dfi_sdm_mac(sk, in, inlen, t), DFI_OK);
			ck_assert_hex_eq(t, 8, vec_str(&v, "mac"));
			dfi_sdm_keys_free(sk);
			dfi_cardkey_free(k);
			nm++;
		} else if (strcmp(v.kind, "tap") == 0) {
			check_tap(&v, DFI_SDM_AES);
			nt++;
		} else {
			ck_abort_msg("line %d: unknown kind %s", v.lineno, v.kind);
		}
	}
	fclose(fp);
	ck_assert_uint_eq(ns, 1);
	ck_assert_uint_eq(np, 1);
	ck_assert_uint_eq(nm, 2);
	ck_assert_uint_eq(nt, 2);
}
END_TEST

START_TEST(lrp_taps)
{
	FILE *fp = vec_open("sdm_lrp.txt");
	struct vec v = { 0 };
	unsigned nt = 0;
	while (vec_next(fp, &v)) {
		ck_assert_str_eq(v.kind, "tap");
		check_tap(&v, DFI_SDM_LRP);
		/* the session master key of the note */
		uint8_t uid[7], enc[16], mac[16];
		uint32_t ctr = (uint32_t)vec_int(&v, "counter");
		vec_hex(&v, "uid", uid, sizeof(uid));
		dfi_cardkey *k = key_of(&v, "file");
		dfi_sdm_keys *sk;
		ck_assert_int_eq(dfi_sdm_keys_new(&sk, k, DFI_SDM_LRP, uid, &ctr), DFI_OK);
		ck_assert_int_eq(dfi_sdm_keys_export(sk, enc, mac), DFI_OK);
		ck_assert_hex_eq(enc, 16, vec_str(&v, "master"));
		dfi_sdm_keys_free(sk);
		dfi_cardkey_free(k);
		nt++;
	}
	fclose(fp);
	ck_assert_uint_eq(nt, 2);
}
END_TEST

/* AN12196 Table 17/18: the NDEF file "https://choose.url.com/ntag424?e=..&c=.."
 * with e at 0x20 and c at 0x43, and the ChangeFileSettings data
 * 40 00E0 C1 F121 200000 430000 430000. */
START_TEST(an12196_layout_and_change_file_settings)
{
	struct dfi_sdm_layout l;
	char why[256];
	uint8_t buf[64];
	size_t n;
	ck_assert_int_eq(dfi_sdm_layout_parse("https://choose.url.com/ntag424?e={picc}&c={mac}",
	    DFI_SDM_AES, 1, &l, why, sizeof(why)), DFI_OK);
	char want[512] = "0051D1014D55" "04";
	const char *rest = "choose.url.com/ntag424?e=00000000000000000000000000000000"
	    "&c=0000000000000000";
	for (const char *p = rest; *p; p++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%02X", (unsigned char)*p);
	ck_assert_hex_eq(l.file, l.file_len, want);
	ck_assert_uint_eq(l.sdm.picc_offset, 0x20);
	ck_assert_uint_eq(l.sdm.mac_offset, 0x43);
	ck_assert_uint_eq(l.sdm.mac_input_offset, 0x43);
	l.sdm.ctr_ret = 1;
	l.sdm.meta_read = 2;
	l.sdm.file_read = 1;
	ck_assert_int_eq(dfi_df_sdm_validate(&l.sdm, 256, 0, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_df_sdm_encode(&l.sdm, buf, sizeof(buf), &n), DFI_OK);
	ck_assert_hex_eq(buf, n, "C1F121200000430000430000");
	/* the same in LRP mode: 48 characters of PICC data */
	ck_assert_int_eq(dfi_sdm_layout_parse("https://choose.url.com/ntag424?e={picc}&c={mac}",
	    DFI_SDM_LRP, 1, &l, why, sizeof(why)), DFI_OK);
	ck_assert_uint_eq(l.sdm.mac_offset, 0x20 + 48 + 3);
}
END_TEST

/* AN12196's GetFileSettings answer for an SDM file (CommMode.MAC example). */
START_TEST(get_file_settings_sdm_parsed)
{
	uint8_t p[32];
	struct dfi_df_file_settings fs;
	size_t n = HEX(p, "0040EEEE000100D1FE001F00004400004400002000006A0000");
	ck_assert_int_eq(dfi_df_parse_file_settings(p, n, &fs), DFI_OK);
	ck_assert_int_eq(fs.sdm_enabled, 1);
	ck_assert_uint_eq(fs.size, 256);
	ck_assert_int_eq(fs.comm, DFI_DF_COMM_PLAIN);
	ck_assert_uint_eq(fs.sdm.options, 0xD1);
	ck_assert_uint_eq(fs.sdm.ctr_ret, 0xE);
	ck_assert_uint_eq(fs.sdm.meta_read, 0);
	ck_assert_uint_eq(fs.sdm.file_read, 0);
	ck_assert_uint_eq(fs.sdm.picc_offset, 0x1F);
	ck_assert_uint_eq(fs.sdm.mac_input_offset, 0x44);
	ck_assert_uint_eq(fs.sdm.enc_offset, 0x44);
	ck_assert_uint_eq(fs.sdm.enc_length, 0x20);
	ck_assert_uint_eq(fs.sdm.mac_offset, 0x6A);
	ck_assert_int_eq(dfi_df_sdm_validate(&fs.sdm, fs.size, 0, NULL, 0), DFI_OK);
	/* round trip */
	uint8_t enc[32];
	size_t el;
	ck_assert_int_eq(dfi_df_sdm_encode(&fs.sdm, enc, sizeof(enc), &el), DFI_OK);
	ck_assert_hex_eq(enc, el, "D1FE001F00004400004400002000006A0000");
	/* truncated, trailing byte, RFU nibble not F: the card's error */
	ck_assert_int_eq(dfi_df_parse_file_settings(p, n - 1, &fs), DFI_E_CARD_PROTOCOL);
	p[n] = 0;
	ck_assert_int_eq(dfi_df_parse_file_settings(p, n + 1, &fs), DFI_E_CARD_PROTOCOL);
	p[8] = 0x0E;
	ck_assert_int_eq(dfi_df_parse_file_settings(p, n, &fs), DFI_E_CARD_PROTOCOL);
}
END_TEST

START_TEST(settings_a_card_refuses)
{
	struct dfi_df_sdm s;
	char why[200];
	memset(&s, 0, sizeof(s));
	s.options = DFI_DF_SDM_ASCII | DFI_DF_SDM_UID | DFI_DF_SDM_CTR;
	s.ctr_ret = 0xF;
	s.meta_read = 0;
	s.file_read = 0;
	s.picc_offset = 10;
	s.mac_input_offset = 42;
	s.mac_offset = 42;
	ck_assert_int_eq(dfi_df_sdm_validate(&s, 64, 0, why, sizeof(why)), DFI_OK);
	/* LRP's 48 characters no longer fit before the MAC */
	ck_assert_int_eq(dfi_df_sdm_validate(&s, 64, 1, why, sizeof(why)), DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "overlap"));
	struct dfi_df_sdm b = s;
	b.options &= (uint8_t)~DFI_DF_SDM_ASCII;
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	b = s;
	b.mac_offset = 50; /* 16 characters from 50 end beyond 64 */
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "beyond"));
	b = s;
	b.mac_input_offset = 43;
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	b = s;
	b.file_read = 0xE; /* the file-read right is a key or none */
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	b = s;
	b.options |= DFI_DF_SDM_ENC;
	b.enc_offset = 10;
	b.enc_length = 32; /* overlaps the PICC data */
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	b = s;
	b.options = DFI_DF_SDM_ASCII; /* encrypted PICC data of nothing */
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
	b = s;
	b.options |= 0x02; /* an RFU bit */
	ck_assert_int_eq(dfi_df_sdm_validate(&b, 64, 0, why, sizeof(why)), DFI_E_INVALID_ARG);
}
END_TEST

START_TEST(templates_refused)
{
	struct dfi_sdm_layout l;
	char why[256];
	static const char *bad[] = {
		"https://x.example/{picc}{uid}{mac}", /* picc excludes uid */
		"https://x.example/{mac}{mac}",
		"https://x.example/{nope}",
		"https://x.example/{enc:15}{mac}",
		"https://x.example/{enc:16}",        /* enc without mac */
		"https://x.example/{mac}{macin}",    /* macin after mac */
		"https://x.example/ {mac}",          /* a space */
		"https://x.example/",                /* mirrors nothing */
		"https://x.example/{mac",
		"https://x.example/mac}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dfi_sdm_layout_parse(bad[i], DFI_SDM_AES, 1, &l, why, sizeof(why)) ==
		    DFI_E_PARSE, "accepted %s", bad[i]);
	/* NDEF needs a URL */
	ck_assert_int_eq(dfi_sdm_layout_parse("ftp://x/{mac}", DFI_SDM_AES, 1, &l, why,
	    sizeof(why)), DFI_E_PARSE);
	ck_assert_int_eq(dfi_sdm_layout_parse("ftp://x/{uid}", DFI_SDM_AES, 0, &l, why,
	    sizeof(why)), DFI_OK);
}
END_TEST

/* One tap in all its forms: URL, query, the file's bytes; foreign ones refused. */
START_TEST(tap_forms)
{
	struct dfi_sdm_layout l;
	struct dfi_sdm_tap t;
	char why[256], hex[600];
	const char *url = "https://sdm.example/tag?picc_data=EF963FF7828658A599F3041510671E88"
	    "&cmac=94EED9EE65337086";
	ck_assert_int_eq(dfi_sdm_layout_parse("https://sdm.example/tag?picc_data={picc}&cmac={mac}",
	    DFI_SDM_AES, 1, &l, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, url, DFI_SDM_IN_AUTO, &t, why, sizeof(why)), DFI_OK);
	ck_assert_hex_eq(t.picc, t.picc_len, "EF963FF7828658A599F3041510671E88");
	ck_assert_hex_eq(t.mac, 8, "94EED9EE65337086");
	ck_assert_uint_eq(t.mac_in_len, 0);
	/* the query alone, with or without its '?' */
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, strchr(url, '?'), DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, strchr(url, '?') + 1, DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_OK);
	ck_assert_hex_eq(t.mac, 8, "94EED9EE65337086");
	/* the file's bytes, as ReadData gives them (and a longer read: zeros) */
	uint8_t file[300];
	memcpy(file, l.file, l.file_len);
	memcpy(file + l.text_at + (l.picc_at - l.prefix_len), "EF963FF7828658A599F3041510671E88", 32);
	memcpy(file + l.text_at + (l.mac_at - l.prefix_len), "94EED9EE65337086", 16);
	memset(file + l.file_len, 0, 20);
	ck_assert_int_eq(dfi_hex_encode(file, l.file_len + 20, hex, sizeof(hex)), DFI_OK);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, hex, DFI_SDM_IN_AUTO, &t, why, sizeof(why)), DFI_OK);
	ck_assert_hex_eq(t.picc, t.picc_len, "EF963FF7828658A599F3041510671E88");
	/* foreign: another host, another parameter, short, non-hex, lower case ok */
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, "https://evil.example/tag?picc_data="
	    "EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086", DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_E_PARSE);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, "https://sdm.example/tag?picc_data="
	    "EF963FF7828658A599F3041510671E88&cmac=94EED9EE6533708", DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_E_PARSE);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, "https://sdm.example/tag?picc_data="
	    "EF963FF7828658A599F3041510671E8G&cmac=94EED9EE65337086", DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_E_PARSE);
	ck_assert_ptr_nonnull(strstr(why, "not hex"));
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, "https://sdm.example/tag?picc_data="
	    "ef963ff7828658a599f3041510671e88&cmac=94eed9ee65337086", DFI_SDM_IN_AUTO, &t, why,
	    sizeof(why)), DFI_OK);
	file[l.file_len + 3] = 1; /* data after the content */
	ck_assert_int_eq(dfi_hex_encode(file, l.file_len + 20, hex, sizeof(hex)), DFI_OK);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, hex, DFI_SDM_IN_AUTO, &t, why, sizeof(why)),
	    DFI_E_PARSE);
	ck_assert_int_eq(dfi_sdm_tap_parse(&l, "", DFI_SDM_IN_AUTO, &t, why, sizeof(why)),
	    DFI_E_PARSE);
}
END_TEST

/* The card's and the backend's sides agree, both ciphers, plain mirrors too. */
START_TEST(round_trips)
{
	uint8_t k[16], uid[7], rnd[24], enc[24], data[32], back[32];
	size_t n;
	struct dfi_sdm_picc p = { 0 }, q;
	dfi_cardkey *ck;
	memset(k, 0x5A, 16);
	HEX(uid, "04112233445566");
	for (int i = 0; i < 24; i++)
		rnd[i] = (uint8_t)(0xA0 + i);
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 16, 0), DFI_OK);
	for (int c = DFI_SDM_AES; c <= DFI_SDM_LRP; c++) {
		p.has_uid = 1;
		p.has_ctr = 1;
		memcpy(p.uid, uid, 7);
		p.ctr = 0x123456;
		ck_assert_int_eq(dfi_sdm_picc_encrypt(ck, c, &p, rnd, enc, sizeof(enc), &n), DFI_OK);
		ck_assert_uint_eq(n, c == DFI_SDM_LRP ? 24u : 16u);
		ck_assert_int_eq(dfi_sdm_picc_decrypt(ck, c, enc, n, &q), DFI_OK);
		ck_assert_mem_eq(q.uid, uid, 7);
		ck_assert_uint_eq(q.ctr, 0x123456);
		ck_assert_uint_eq(q.tag, 0xC7);
		/* counter only */
		p.has_uid = 0;
		ck_assert_int_eq(dfi_sdm_picc_encrypt(ck, c, &p, rnd, enc, sizeof(enc), &n), DFI_OK);
		ck_assert_int_eq(dfi_sdm_picc_decrypt(ck, c, enc, n, &q), DFI_OK);
		ck_assert_int_eq(q.has_uid, 0);
		ck_assert_uint_eq(q.tag, 0x40);
		/* a wrong length is no PICC data */
		ck_assert_int_eq(dfi_sdm_picc_decrypt(ck, c, enc, n - 1, &q), DFI_E_PARSE);
		/* file data */
		dfi_sdm_keys *sk;
		uint32_t ctr = 7;
		memset(data, 'x', sizeof(data));
		ck_assert_int_eq(dfi_sdm_keys_new(&sk, ck, c, uid, &ctr), DFI_OK);
		ck_assert_int_eq(dfi_sdm_file_crypt(sk, 1, data, back, 32), DFI_OK);
		ck_assert_mem_ne(back, data, 32);
		ck_assert_int_eq(dfi_sdm_file_crypt(sk, 0, back, back, 32), DFI_OK);
		ck_assert_mem_eq(back, data, 32);
		ck_assert_int_eq(dfi_sdm_file_crypt(sk, 0, back, back, 31), DFI_E_INVALID_ARG);
		dfi_sdm_keys_free(sk);
		/* without the counter there is no file data key */
		ck_assert_int_eq(dfi_sdm_keys_new(&sk, ck, c, uid, NULL), DFI_OK);
		ck_assert_int_eq(dfi_sdm_file_crypt(sk, 1, data, back, 16), DFI_E_INVALID_ARG);
		dfi_sdm_keys_free(sk);
	}
	dfi_cardkey_free(ck);
}
END_TEST

int
main(void)
{
	return dfi_test_main("sdm", NULL,
	    (const TTest *[]){ an12196_vectors, lrp_taps, an12196_layout_and_change_file_settings,
	    get_file_settings_sdm_parsed, settings_a_card_refuses, templates_refused, tap_forms,
	    round_trips, NULL });
}
