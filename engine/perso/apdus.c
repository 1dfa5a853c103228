/* The minimum APDU count of a profile on a factory card: the commands
 * that change the card and the authentications they need, nothing read
 * back (docs/PERSONALIZATION.md gives the formula). */
#include "perso_int.h"

static unsigned
frames(size_t payload)
{
	size_t n = 7 + payload; /* file number, offset, length */
	return (unsigned)((n + DFI_DF_FRAME_DATA - 1) / DFI_DF_FRAME_DATA);
}

/* Bytes a WriteData/WriteRecord of len bytes carries in a communication
 * mode under EV1 secure messaging. */
static size_t
payload(size_t len, dfi_df_comm comm)
{
	switch (comm) {
	case DFI_DF_COMM_MAC: return len + 8;
	case DFI_DF_COMM_ENC: return (len + 4 + 15) / 16 * 16;
	default: return len;
	}
}

/* Bytes a content segment gives; a variable-length field counts 1. */
static size_t
seg_len(const struct dfi_profile_segment *g)
{
	if (g->kind == DFI_SEG_BYTES)
		return g->len;
	switch (g->fmt) {
	case DFI_FMT_LE16:
	case DFI_FMT_BE16: return 2;
	case DFI_FMT_LE32:
	case DFI_FMT_BE32: return 4;
	default: return 1;
	}
}

static uint8_t
write_key(const struct dfi_profile_file *f)
{
	return f->access.write <= 0xD ? f->access.write : f->access.read_write;
}

unsigned
dfi_perso_min_apdus(const dfi_profile *profile)
{
	const struct dfi_profile_spec *s;
	unsigned n = 1; /* GET DATA: the UID, needed to diversify */

	if (profile == NULL)
		return 0;
	s = dfi_profile_spec(profile);
	/* Read_Sig: the originality check (EV2 and later) before any key. */
	if (s->originality.policy != DFI_ORIGINALITY_OFF)
		n++;
	for (size_t i = 0; i < s->napps; i++) {
		const struct dfi_profile_app *a = &s->apps[i];
		unsigned authed = 0;
		/* CreateApplication (free on a factory PICC), SelectApplication,
		 * Authenticate with key 0 (2), one CreateFile per file. */
		n += 1 + 1 + 2 + (unsigned)a->nfiles;
		for (size_t f = 0; f < a->nfiles; f++) {
			const struct dfi_profile_file *pf = &a->files[f];
			size_t len = 0;
			unsigned cmds = 0;
			if (pf->type == DFI_DF_FILE_STD || pf->type == DFI_DF_FILE_BACKUP) {
				for (size_t g = 0; g < pf->ncontent; g++)
					len += seg_len(&pf->content[g]);
				if (pf->ncontent == 0)
					continue;
				cmds = frames(payload(len, pf->comm)) +
				    (pf->type == DFI_DF_FILE_BACKUP ? 1 : 0);
			} else if (pf->type == DFI_DF_FILE_LINEAR_RECORD || pf->type == DFI_DF_FILE_CYCLIC_RECORD) {
				if (pf->nrecords == 0)
					continue;
				/* WriteRecord + CommitTransaction per record. */
				cmds = (unsigned)pf->nrecords *
				    (frames(payload(pf->record_size, pf->comm)) + 1);
			} else {
				continue;
			}
			if (write_key(pf) != authed && write_key(pf) <= 0xD) {
				n += 2;
				authed = write_key(pf);
			}
			n += cmds;
		}
		/* ChangeKey per key (authenticated with key 0), then the new key 0
		 * for ChangeKeySettings. */
		if (authed != 0)
			n += 2;
		n += (unsigned)a->nkeys;
		if (a->key_settings != PERSO_CREATE_KS)
			n += 2 + 1;
	}
	/* PICC: SelectApplication 000000 (only after an application), the
	 * factory key (2), ChangeKey, the new key (2) for SetConfiguration and
	 * ChangeKeySettings. */
	n += (s->napps > 0 ? 1u : 0u) + 2u + 1u;
	int cfg = s->picc.config.present && perso_config_byte(&s->picc.config) != 0;
	int ks = s->picc.key_settings != 0x0F;
	if (cfg || ks)
		n += 2 + (unsigned)cfg + (unsigned)ks;
	return n;
}
