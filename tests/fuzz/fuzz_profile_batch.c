/* libFuzzer harness: arbitrary bytes as a batch. The first byte chooses
 * the reader (even: CSV, odd: JSON lines); every row read is resolved
 * against a fixed profile that uses string, hex and integer fields both in
 * file contents and in a diversification input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char profile_json[] =
    "{\"schema\": \"dfissue-profile/1\", \"name\": \"fuzz\","
    " \"picc\": {\"key\": {\"type\": \"aes\", \"base_key\": \"pkcs11:object=p\", \"version\": 1,"
    "   \"diversification\": [\"uid\", \"field:site\"]}, \"key_settings\": 11},"
    " \"applications\": [{\"aid\": \"F54010\", \"key_type\": \"aes\", \"key_settings\": 11,"
    "   \"keys\": [{\"base_key\": \"pkcs11:object=k\", \"version\": 1,"
    "     \"diversification\": [\"uid\", \"aid\", \"field:site\"]}],"
    "   \"files\": ["
    "     {\"number\": 0, \"type\": \"std\", \"comm\": \"plain\","
    "      \"access\": {\"read\": \"free\", \"write\": 0, \"read_write\": 0, \"change\": 0},"
    "      \"size\": 32, \"content\": [{\"field\": \"n\", \"format\": \"be32\"},"
    "        {\"field\": \"name\"}, {\"field\": \"n\", \"format\": \"decimal\"}]},"
    "     {\"number\": 1, \"type\": \"linear\", \"comm\": \"mac\","
    "      \"access\": {\"read\": 0, \"write\": 0, \"read_write\": 0, \"change\": 0},"
    "      \"record_size\": 8, \"max_records\": 3,"
    "      \"records\": [{\"field\": \"secret\"}, [{\"field\": \"n\", \"format\": \"u8\"},"
    "        {\"field\": \"n\", \"format\": \"le16\"}]]}]}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static dfi_profile *p;
	struct dfi_diag d;
	if (p == NULL && dfi_profile_load_buffer(&p, "fuzz.json", profile_json,
			     sizeof(profile_json) - 1, &d) != DFI_OK)
		__builtin_trap(); /* the fixed profile must load */
	if (size < 1)
		return 0;
	enum dfi_batch_format fmt = (data[0] & 1) ? DFI_BATCH_JSONL : DFI_BATCH_CSV;
	dfi_batch *b;
	if (dfi_batch_open_buffer(&b, "fuzz", fmt, (const char *)data + 1, size - 1, &d) != DFI_OK)
		return 0;
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	static const uint8_t uid[7] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80 };
	static const uint8_t zero_aid[3] = { 0, 0, 0 };
	for (int rows = 0; rows < 10000; rows++) {
		dfi_batch_row *r;
		if (dfi_batch_next(b, &r, &d) != DFI_OK || r == NULL)
			break;
		for (size_t i = 0; i < dfi_batch_row_count(r); i++) {
			const struct dfi_batch_value *v = dfi_batch_row_at(r, i);
			if (v->type == DFI_VAL_STRING && strlen(v->str) != v->len)
				__builtin_trap(); /* strings never hide a NUL */
		}
		struct dfi_card_data *cd;
		if (dfi_profile_card_data(p, r, &cd, &d) == DFI_OK)
			dfi_card_data_free(cd);
		/* the check before the first card, re-issue fields included */
		(void)dfi_profile_check_row(p, r, &d);
		uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
		size_t n;
		(void)dfi_profile_div_input(&s->picc.key, uid, zero_aid, r, m, sizeof(m), &n, &d);
		(void)dfi_profile_div_input(&s->apps[0].keys[0], uid, s->apps[0].aid, r, m, sizeof(m),
		    &n, &d);
		dfi_batch_row_free(r);
	}
	dfi_batch_free(b);
	return 0;
}
