/* Reading a journal public key for verification: PEM SubjectPublicKeyInfo
 * or a C2SP signed-note verifier key (name+hash+base64), as an auditor may
 * be handed either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dfissue/journal.h"

int
cli_load_pubkey(const char *what, const char *path, struct dfi_jpubkey **out, char *name, size_t namecap)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc((1 << 16) + 1);
	size_t n = 0;
	int bad = f == NULL || b == NULL;
	if (!bad) {
		n = fread(b, 1, 1 << 16, f);
		bad = ferror(f) || !feof(f);
	}
	if (f != NULL)
		fclose(f);
	if (bad) {
		free(b);
		cli_errorf("%s: cannot read public key '%s'", what, path);
		return DFI_EXIT_FAIL;
	}
	b[n] = '\0';
	if (name != NULL && namecap > 0)
		name[0] = '\0';
	dfi_err e;
	if (strstr(b, "-----BEGIN") != NULL) {
		e = dfi_jpubkey_from_pem(b, n, out);
	} else {
		/* one verifier key, optionally followed by a newline */
		while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
			n--;
		char nm[DFI_J_STR_MAX];
		e = dfi_jpubkey_from_vkey(b, n, out, name != NULL ? name : nm, name != NULL ? namecap : sizeof(nm));
	}
	free(b);
	if (e != DFI_OK) {
		cli_errorf("%s: '%s' is neither an Ed25519 or ECDSA P-256 public key in PEM nor a signed-note "
			   "verifier key whose key ID matches its key",
		    what, path);
		return DFI_EXIT_FAIL;
	}
	return DFI_EXIT_OK;
}
