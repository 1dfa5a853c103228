/* libFuzzer harness: arbitrary bytes as a profile. A profile that loads is
 * then resolved without a batch row and every key's diversification input
 * is built, so the validated tree is exercised, not only the parser. The
 * same bytes are also read as a trusted originality keys file (another
 * operator-written file the profile names; corpus: the .keys seeds). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/originality.h"
#include "dfissue/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dfi_profile *p = NULL;
	struct dfi_diag d;
	dfi_orig_keys *trust = NULL;
	if (dfi_orig_keys_new(&trust, 0) == DFI_OK) {
		dfi_err e = dfi_orig_keys_load_buffer(trust, "fuzz.keys", (const char *)data, size, &d);
		if (e == DFI_E_PARSE && memchr(d.message, '\0', sizeof(d.message)) == NULL)
			__builtin_trap();
		if (e == DFI_OK && dfi_orig_keys_count(trust) == 0)
			__builtin_trap(); /* a file that loads holds a key */
		dfi_orig_keys_free(trust);
	}
	if (dfi_profile_load_buffer(&p, "fuzz.json", (const char *)data, size, &d) != DFI_OK) {
		/* every failure must leave a terminated one-line message */
		if (memchr(d.message, '\0', sizeof(d.message)) == NULL)
			__builtin_trap();
		return 0;
	}
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	struct dfi_card_data *cd = NULL;
	if (dfi_profile_card_data(p, NULL, &cd, &d) == DFI_OK)
		dfi_card_data_free(cd);
	static const uint8_t uid[7] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80 };
	static const uint8_t zero_aid[3] = { 0, 0, 0 };
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t n;
	(void)dfi_profile_div_input(&s->picc.key, uid, zero_aid, NULL, m, sizeof(m), &n, &d);
	for (size_t i = 0; i < s->napps; i++)
		for (size_t k = 0; k < s->apps[i].nkeys; k++)
			(void)dfi_profile_div_input(&s->apps[i].keys[k], uid, s->apps[i].aid, NULL, m,
			    sizeof(m), &n, &d);
	dfi_profile_free(p);
	return 0;
}
