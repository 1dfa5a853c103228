#include <ctype.h>
#include <string.h>

#include "dfissue/util.h"
#include "hexdigit.h"

dfi_err
dfi_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *outlen)
{
	if (hex == NULL || outlen == NULL || (out == NULL && cap != 0))
		return DFI_E_INVALID_ARG;
	while (isspace((unsigned char)*hex))
		hex++;
	size_t n = strlen(hex);
	while (n > 0 && isspace((unsigned char)hex[n - 1]))
		n--;
	if (n % 2 != 0)
		return DFI_E_PARSE;
	if (n / 2 > cap || (n > 0 && out == NULL))
		return DFI_E_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < n; i += 2) {
		int hi = dfi_hex_digit((unsigned char)hex[i]);
		int lo = dfi_hex_digit((unsigned char)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return DFI_E_PARSE;
		out[i / 2] = (uint8_t)((hi << 4) | lo);
	}
	*outlen = n / 2;
	return DFI_OK;
}

dfi_err
dfi_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";

	if (out == NULL || (in == NULL && len != 0))
		return DFI_E_INVALID_ARG;
	if (len > (SIZE_MAX - 1) / 2)
		return DFI_E_OVERFLOW;
	if (cap < 2 * len + 1)
		return DFI_E_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return DFI_OK;
}
