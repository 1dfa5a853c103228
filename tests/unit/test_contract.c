/* The rule of error.h, "NULL and unknown values", held against every public
 * function it covers: each free with NULL, each getter with a NULL handle
 * and each name function with a value outside its enum, asserting the
 * result the headers document. A crash fails the test (check forks). */
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "dfissue/error.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/log.h"
#include "dfissue/originality.h"
#include "dfissue/pcsc.h"
#include "dfissue/perso.h"
#include "dfissue/pgregistry.h"
#include "dfissue/profile.h"
#include "dfissue/registry.h"
#include "dfissue/sdm.h"
#include "dfissue/signer.h"
#include "dfissue/transport.h"
#include "dfissue/util.h"

START_TEST(every_free_accepts_null)
{
	dfi_cardkey_free(NULL);
	dfi_desfire_free(NULL);
	dfi_hsm_free(NULL);
	dfi_hsm_key_free(NULL);
	dfi_jpubkey_free(NULL);
	dfi_journal_close(NULL);
	dfi_orig_keys_free(NULL);
	dfi_pcsc_readers_free(NULL, 0);
	dfi_perso_free(NULL);
	dfi_pgreg_free(NULL);
	dfi_pgwitness_free(NULL);
	dfi_profile_free(NULL);
	dfi_batch_free(NULL);
	dfi_batch_row_free(NULL);
	dfi_card_data_free(NULL);
	dfi_registry_free(NULL);
	dfi_registry_release(NULL);
	dfi_sdm_keys_free(NULL);
	dfi_signer_free(NULL);
	dfi_transport_free(NULL);
	dfi_secure_free(NULL, 0);
	ck_assert_int_eq(dfi_registry_close(NULL, NULL, 0), DFI_OK);
}
END_TEST

START_TEST(getters_of_null_return_their_default)
{
	ck_assert_int_eq(dfi_cardkey_type(NULL), 0);
	ck_assert_uint_eq(dfi_cardkey_version(NULL), 0);
	ck_assert_int_eq(dfi_desfire_scheme(NULL), DFI_DF_SCHEME_NONE);
	ck_assert_int_eq(dfi_desfire_lrp(NULL), 0);
	ck_assert_int_eq(dfi_desfire_auth_keyno(NULL), -1);
	ck_assert_uint_eq(dfi_desfire_selected_aid(NULL), 0);
	ck_assert_uint_eq(dfi_desfire_last_status(NULL), 0);
	dfi_desfire_set_rng(NULL, NULL, NULL);
	dfi_desfire_reset(NULL);
	ck_assert_str_eq(dfi_hsm_token_label(NULL), "");
	ck_assert_str_eq(dfi_hsm_key_label(NULL), "");
	ck_assert_int_eq(dfi_hsm_key_type(NULL), 0);
	const struct dfi_hsm_mech_info *mech = (const void *)&mech;
	ck_assert_uint_eq(dfi_hsm_mechanisms(NULL, &mech), 0);
	ck_assert_ptr_null(mech);
	ck_assert_int_eq(dfi_hsm_token_path(NULL, DFI_KT_AES128), DFI_HSM_PATH_NONE);
	struct dfi_hsm_module_info mi;
	memset(&mi, 0x5A, sizeof(mi));
	dfi_hsm_module(NULL, &mi);
	ck_assert_uint_eq(((unsigned char *)&mi)[0], 0x5A);
	struct dfi_hsm_stats hs;
	memset(&hs, 0x5A, sizeof(hs));
	dfi_hsm_stats(NULL, &hs);
	ck_assert_uint_eq(((unsigned char *)&hs)[0], 0x5A);
	char buf[8] = "x";
	dfi_hsm_last_detail(NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	buf[0] = 'x';
	dfi_registry_last_error(NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(dfi_jpubkey_alg(NULL), 0);
	ck_assert_int_eq(dfi_signer_alg(NULL), 0);
	ck_assert_str_eq(dfi_journal_origin(NULL), "");
	ck_assert_uint_eq(dfi_journal_size(NULL), 0);
	ck_assert_uint_eq(dfi_journal_open_intents(NULL, NULL, NULL), 0);
	ck_assert_uint_eq(dfi_orig_keys_count(NULL), 0);
	ck_assert_ptr_null(dfi_orig_keys_name(NULL, 0));
	ck_assert_uint_eq(dfi_perso_min_apdus(NULL), 0);
	ck_assert_int_eq(dfi_profile_needs_batch(NULL), 0);
	ck_assert_uint_eq(dfi_profile_field_count(NULL), 0);
	ck_assert_ptr_null(dfi_profile_field_name(NULL, 0));
	ck_assert_ptr_null(dfi_profile_spec(NULL));
	ck_assert_str_eq(dfi_batch_row_file(NULL), "");
	ck_assert_int_eq(dfi_batch_row_line(NULL), 0);
	ck_assert_uint_eq(dfi_batch_row_count(NULL), 0);
	ck_assert_ptr_null(dfi_batch_row_at(NULL, 0));
	ck_assert_ptr_null(dfi_batch_row_get(NULL, "uid"));
	ck_assert_str_eq(dfi_registry_backend(NULL), "none");
	ck_assert_str_eq(dfi_transport_name(NULL), "transport");
	struct dfi_transport_stats ts = { 7, 7, 7 };
	dfi_transport_stats(NULL, &ts);
	ck_assert_uint_eq(ts.apdus, 7);
	dfi_transport_set_phase(NULL, 3);
	ck_assert_uint_eq(dfi_transport_phase(NULL), 0);
	struct dfi_pgreg_stats ps = { 7, 7, 7, 7 };
	dfi_pgreg_get_stats(NULL, &ps);
	ck_assert_uint_eq(ps.calls + ps.failures + ps.connects + ps.background, 0);
	uint32_t us[2];
	ck_assert_uint_eq(dfi_pgreg_claim_times(NULL, us, 2), 0);
	ck_assert_uint_eq(dfi_pgwitness_size(NULL), 0);
	const char *fn = "x";
	long ms = 1;
	ck_assert_int_eq(dfi_hsm_oldest_call(NULL, &fn, &ms), DFI_E_INVALID_ARG);
	ck_assert_ptr_null(fn);
	ck_assert_int_eq(ms, 0);
}
END_TEST

START_TEST(reader_and_writer_refuse_null)
{
	uint8_t v8 = 0;
	uint16_t v16;
	uint32_t v32;
	const uint8_t *p;
	ck_assert_int_eq(dfi_rd_u8(NULL, &v8), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_le16(NULL, &v16), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_le24(NULL, &v32), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_le32(NULL, &v32), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_bytes(NULL, &v8, 1), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_ptr(NULL, &p, 1), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_end(NULL), DFI_E_INVALID_ARG);
	/* A NULL destination consumes nothing. */
	const uint8_t in[4] = { 1, 2, 3, 4 };
	dfi_rd r;
	dfi_rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(dfi_rd_u8(&r, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_le16(&r, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_le32(&r, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_rd_ptr(&r, NULL, 1), DFI_E_INVALID_ARG);
	ck_assert_uint_eq(r.left, 4);
	dfi_wr_u8(NULL, 1);
	dfi_wr_le16(NULL, 1);
	dfi_wr_le24(NULL, 1);
	dfi_wr_le32(NULL, 1);
	dfi_wr_bytes(NULL, in, 1);
	uint8_t leaf[DFI_HASH_LEN] = { 0 };
	ck_assert_int_eq(dfi_merkle_push(NULL, leaf), DFI_E_INVALID_ARG);
	uint8_t out[4];
	dfi_wr w;
	dfi_wr_init(&w, out, sizeof(out));
	dfi_wr_bytes(&w, NULL, 1);
	ck_assert_int_eq(w.err, DFI_E_INVALID_ARG);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(names_of_unknown_values)
{
	ck_assert_str_eq(dfi_strerror((dfi_err)9999), "unknown error code");
	ck_assert_str_eq(dfi_errname((dfi_err)9999), "DFI_E_UNKNOWN");
	ck_assert_str_eq(dfi_log_level_name((dfi_log_level)99), "?");
	ck_assert_str_eq(dfi_perso_outcome_name((enum dfi_perso_outcome)99), "?");
	ck_assert_str_eq(dfi_jrec_type_name((dfi_jrec_type)99), "?");
	ck_assert_str_eq(dfi_jrec_type_name((dfi_jrec_type)0), "?");
	ck_assert_str_eq(dfi_jcause_name((dfi_jcause)99), "?");
	ck_assert_str_eq(dfi_hsm_path_name((dfi_hsm_path)99), "?");
	ck_assert_str_eq(dfi_keytype_name((dfi_keytype)99), "?");
	/* and the known ones keep their words */
	ck_assert_str_eq(dfi_jcause_name(DFI_JCAUSE_CONFLICT), "conflict");
	ck_assert_str_eq(dfi_jrec_type_name(DFI_JREC_CHANGE), "change");
	ck_assert_str_eq(dfi_perso_outcome_name(DFI_PERSO_FAILED), "failed");
	ck_assert_str_eq(dfi_keytype_name(DFI_KT_AES128), "aes");
}
END_TEST

/* perso.h: dfi_perso_card_batch empties *own before it checks anything,
 * and a batch path needs somewhere to put the card's own row. */
START_TEST(perso_card_batch_arguments)
{
	dfi_batch_row *own = (dfi_batch_row *)&own;
	struct dfi_perso_result res;
	ck_assert_int_eq(dfi_perso_card_batch(NULL, NULL, "b.csv", NULL, &res, &own), DFI_E_INVALID_ARG);
	ck_assert_ptr_null(own);
	ck_assert_int_eq(dfi_perso_card_batch(NULL, NULL, "b.csv", NULL, &res, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_perso_card(NULL, NULL, NULL, &res), DFI_E_INVALID_ARG);
}
END_TEST

/* perso.h: the inspections empty *report before they check anything. */
START_TEST(perso_inspect_arguments)
{
	char *report = (char *)&report;
	ck_assert_int_eq(dfi_perso_inspect_batch(NULL, NULL, "b.csv", NULL, &report), DFI_E_INVALID_ARG);
	ck_assert_ptr_null(report);
	ck_assert_int_eq(dfi_perso_inspect_batch(NULL, NULL, "b.csv", NULL, NULL), DFI_E_INVALID_ARG);
	report = (char *)&report;
	ck_assert_int_eq(dfi_perso_inspect(NULL, NULL, NULL, &report), DFI_E_INVALID_ARG);
	ck_assert_ptr_null(report);
}
END_TEST

int
main(void)
{
	return dfi_test_main("contract", NULL,
	    (const TTest *[]){ every_free_accepts_null, getters_of_null_return_their_default,
	    reader_and_writer_refuse_null, names_of_unknown_values, perso_card_batch_arguments,
	    perso_inspect_arguments, NULL });
}
