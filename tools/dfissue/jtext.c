/* Untrusted texts as JSON values (jtext.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "jtext.h"

json_t *
cli_json_text(const char *s)
{
	json_t *v = json_string(s);
	return v != NULL ? v : json_null();
}

void
cli_json_text_hex(json_t *o, const char *key, const char *s)
{
	if (o == NULL || !json_is_null(json_object_get(o, key)))
		return;
	size_t n = strlen(s);
	char name[64], *hex = malloc(2 * n + 1);
	if (hex == NULL)
		return; /* the member stays null: jansson is out of memory too */
	snprintf(name, sizeof(name), "%s_hex", key);
	if (dfi_hex_encode((const uint8_t *)s, n, hex, 2 * n + 1) == DFI_OK)
		json_object_set_new(o, name, json_string(hex));
	free(hex);
}
