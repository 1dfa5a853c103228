/* Test-only hooks (sim_forge.h): answers rewritten, the state copied out. */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_forge.h"
#include "sim_int.h"

void
dfi_sim_set_forge(dfi_sim *s, dfi_sim_forge_fn fn, void *ctx)
{
	if (s == NULL)
		return;
	s->forge = fn;
	s->forge_ctx = ctx;
}

void
sim_forge_apply(dfi_sim *s, uint8_t cmd, struct sim_resp *r, uint8_t *st)
{
	if (s->forge == NULL || r->oom || r->len >= DFI_SIM_FORGE_MAX)
		return;
	uint8_t buf[DFI_SIM_FORGE_MAX];
	size_t n = r->len;
	if (n > 0)
		memcpy(buf, r->data, n);
	s->forge(s->forge_ctx, cmd, buf, &n, st);
	if (n >= DFI_SIM_FORGE_MAX)
		n = DFI_SIM_FORGE_MAX - 1;
	/* "More frames" (0xAF) goes out as one frame, data unwrapped (an
	 * authentication step): at most a frame's worth. */
	if (*st == ST_MORE && n > DFI_SIM_MAX_FRAME - 1)
		n = DFI_SIM_MAX_FRAME - 1;
	/* GetVersion's 7/7/rest frames and GetDFNames' one-entry frames are
	 * cut for the card's own lengths; a rewritten answer of another
	 * length goes out in ordinary frames (the last of those fits the
	 * frame limit, a split for 28 bytes would not). */
	if (n != r->len) {
		r->version_split = false;
		r->nfs = 0;
	}
	r->len = 0;
	resp_put(r, buf, n);
	dfi_wipe(buf, sizeof(buf));
}

dfi_err
dfi_sim_committed_image(const dfi_sim *s, uint8_t **out, size_t *len)
{
	if (s == NULL || out == NULL || len == NULL || s->blob == NULL)
		return DFI_E_INVALID_ARG;
	if ((*out = malloc(s->blob_len)) == NULL)
		return DFI_E_NOMEM;
	memcpy(*out, s->blob, s->blob_len);
	*len = s->blob_len;
	return DFI_OK;
}
