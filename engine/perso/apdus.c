/* The minimum APDU count of a profile on a factory card in the plan's
 * order: the commands that change the card and the authentications they
 * need, nothing read back (docs/PERSONALIZATION.md gives the formula). */
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

/* Commands that write a file's content on a new application (0: none). */
static unsigned
write_cmds(const struct dfi_profile_file *pf)
{
	size_t len = 0;
	if (pf->type == DFI_DF_FILE_STD || pf->type == DFI_DF_FILE_BACKUP) {
		if (pf->ncontent == 0)
			return 0;
		for (size_t g = 0; g < pf->ncontent; g++)
			len += seg_len(&pf->content[g]);
		return frames(payload(len, pf->comm)) + (pf->type == DFI_DF_FILE_BACKUP ? 1 : 0);
	}
	if (pf->type == DFI_DF_FILE_LINEAR_RECORD || pf->type == DFI_DF_FILE_CYCLIC_RECORD)
		/* WriteRecord + CommitTransaction per record. */
		return (unsigned)pf->nrecords * (frames(payload(pf->record_size, pf->comm)) + 1);
	return 0; /* a value is given at creation */
}

/* The writes of one group in the plan's order (plan.c: by the master
 * key, by another key, free), with the authentications the session in
 * hand does not cover; *authed is the session's key (0xFF: none). */
static unsigned
writes(const struct dfi_profile_app *a, int group, uint8_t *authed)
{
	unsigned n = 0;
	for (size_t f = 0; f < a->nfiles; f++) {
		const struct dfi_profile_file *pf = &a->files[f];
		int k = perso_write_key(pf);
		unsigned cmds = write_cmds(pf);
		if ((k == 0 ? 0 : k > 0 ? 1 : 2) != group || cmds == 0)
			continue;
		if (k < 0) {
			n += *authed != 0xFF ? 1u : 0u; /* SelectApplication ends the session */
			*authed = 0xFF;
		} else if (*authed != pf->access.write && *authed != pf->access.read_write) {
			n += 2;
			*authed = (uint8_t)k;
		}
		n += cmds;
	}
	return n;
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
		uint8_t authed = 0xFF;
		int final = a->key_settings != PERSO_CREATE_KS;
		/* SelectApplication 000000 after an application, then
		 * CreateApplication (free on a factory PICC), SelectApplication,
		 * Authenticate with the factory key 0 (2), ChangeKey per key. */
		n += (i > 0 ? 1u : 0u) + 1 + 1 + 2 + (unsigned)a->nkeys;
		/* The new key 0 (2) for CreateFile, the master key's writes and
		 * ChangeKeySettings; one CreateFile per file. */
		unsigned mk = writes(a, 0, &(uint8_t){ 0 });
		if (a->nfiles > 0 || final || mk > 0) {
			n += 2;
			authed = 0;
		}
		n += (unsigned)a->nfiles + mk + (final ? 1u : 0u);
		n += writes(a, 1, &authed);
		n += writes(a, 2, &authed);
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
