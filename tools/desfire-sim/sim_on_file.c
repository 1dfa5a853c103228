/* File management: create, delete, list, settings. Each runs inside an
 * application: sim.c's table has checked that one is selected. */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

static bool
may_manage(const dfi_sim *s)
{
	return sim_master_authed(s) || (s->sel->ks & 0x04);
}

static bool
may_list(const dfi_sim *s)
{
	return sim_master_authed(s) || (s->sel->ks & 0x02);
}

static int32_t
sle32(const uint8_t *p)
{
	return (int32_t)le32(p);
}

uint8_t
sim_on_create_file(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	size_t base, iso = 0;
	uint8_t type;
	switch (cmd) {
	case 0xCD: type = DFI_SIM_FILE_STD; base = 7; break;
	case 0xCB: type = DFI_SIM_FILE_BACKUP; base = 7; break;
	case 0xCC: type = DFI_SIM_FILE_VALUE; base = 17; break;
	case 0xC1: type = DFI_SIM_FILE_LINEAR_RECORD; base = 10; break;
	default: type = DFI_SIM_FILE_CYCLIC_RECORD; base = 10; break;
	}
	/* An ISO FID may follow the file number when the application uses
	 * ISO file IDs (KS2 bit 5 at its creation); value files have none. */
	if (s->sel->iso_files && type != DFI_SIM_FILE_VALUE && n == base + 2)
		iso = 2;
	if (n != base + iso)
		return ST_LENGTH;
	if (!may_manage(s))
		return ST_AUTH;
	uint8_t fid = d[0];
	const uint8_t *q = d + 1 + iso;
	uint8_t comm = q[0];
	uint16_t ar = (uint16_t)(q[1] | q[2] << 8);
	if (fid >= DFI_SIM_MAX_FILES || (comm & ~0x03))
		return ST_PARAMETER;
	struct sim_file f = { 0 };
	f.fid = fid;
	f.type = type;
	f.comm = comm;
	f.ar = ar;
	f.has_iso = iso != 0;
	if (iso)
		f.iso_fid = (uint16_t)(d[1] | d[2] << 8);
	q += 3;
	switch (type) {
	case DFI_SIM_FILE_STD:
	case DFI_SIM_FILE_BACKUP:
		f.size = le24(q);
		if (f.size == 0)
			return ST_PARAMETER;
		break;
	case DFI_SIM_FILE_VALUE:
		f.lower = sle32(q);
		f.upper = sle32(q + 4);
		f.value = sle32(q + 8);
		f.vflags = q[12];
		if (f.lower > f.upper || f.value < f.lower || f.value > f.upper || (f.vflags & ~0x03))
			return ST_PARAMETER;
		break;
	default:
		f.size = le24(q);
		f.max_rec = le24(q + 3);
		if (f.size == 0 || f.max_rec < (type == DFI_SIM_FILE_CYCLIC_RECORD ? 2u : 1u))
			return ST_PARAMETER;
		break;
	}
	if (s->sel->files[fid] != NULL)
		return ST_DUPLICATE;
	for (size_t i = 0; iso && i < DFI_SIM_MAX_FILES; i++)
		if (s->sel->files[i] != NULL && s->sel->files[i]->has_iso &&
		    s->sel->files[i]->iso_fid == f.iso_fid)
			return ST_DUPLICATE;
	if (!sim_fits(s->card, sim_file_cost(&f)))
		return ST_OUT_OF_EEPROM;
	struct sim_file *nf = malloc(sizeof(*nf));
	if (nf == NULL)
		return ST_OUT_OF_EEPROM;
	*nf = f;
	uint32_t nb = sim_file_bytes(nf);
	if (nb > 0 && (nf->data = calloc(1, nb)) == NULL) {
		free(nf);
		return ST_OUT_OF_EEPROM;
	}
	s->sel->files[fid] = nf;
	return sim_changed(s, r, 32, SM_MAC);
}

uint8_t
sim_on_delete_file(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)n;
	if (!may_manage(s))
		return ST_AUTH;
	if (d[0] >= DFI_SIM_MAX_FILES)
		return ST_PARAMETER;
	if (s->sel->files[d[0]] == NULL)
		return ST_FILE_NOT_FOUND;
	sim_file_free(s->sel->files[d[0]]);
	s->sel->files[d[0]] = NULL;
	return sim_changed(s, r, 32, SM_MAC);
}

uint8_t
sim_on_get_file_ids(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	if (!may_list(s))
		return ST_AUTH;
	for (uint8_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		if (s->sel->files[i] != NULL)
			resp_u8(r, i);
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_get_iso_file_ids(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	if (!may_list(s))
		return ST_AUTH;
	for (uint8_t i = 0; i < DFI_SIM_MAX_FILES; i++) {
		const struct sim_file *f = s->sel->files[i];
		if (f != NULL && f->has_iso) {
			resp_u8(r, (uint8_t)f->iso_fid);
			resp_u8(r, (uint8_t)(f->iso_fid >> 8));
		}
	}
	r->chunk = 58; /* whole FIDs per frame */
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_get_file_settings(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)n;
	if (d[0] >= DFI_SIM_MAX_FILES)
		return ST_PARAMETER;
	const struct sim_file *f = s->sel->files[d[0]];
	if (f == NULL)
		return ST_FILE_NOT_FOUND;
	if (!may_list(s))
		return ST_AUTH;
	resp_u8(r, f->type);
	resp_u8(r, (uint8_t)(f->comm | (f->sdm != NULL ? DFI_DF_FILE_OPTION_SDM : 0)));
	resp_u8(r, (uint8_t)f->ar);
	resp_u8(r, (uint8_t)(f->ar >> 8));
	switch (f->type) {
	case DFI_SIM_FILE_STD:
	case DFI_SIM_FILE_BACKUP:
		resp_le24(r, f->size);
		break;
	case DFI_SIM_FILE_VALUE:
		resp_le32(r, (uint32_t)f->lower);
		resp_le32(r, (uint32_t)f->upper);
		resp_le32(r, (uint32_t)f->lc_value);
		resp_u8(r, f->vflags);
		break;
	default:
		resp_le24(r, f->size);
		resp_le24(r, f->max_rec);
		resp_le24(r, f->nrec);
		break;
	}
	sim_sdm_put_settings(f, r); /* EV3 */
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_change_file_settings(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	if (n < 1)
		return ST_LENGTH;
	if (d[0] >= DFI_SIM_MAX_FILES)
		return ST_PARAMETER;
	struct sim_file *f = s->sel->files[d[0]];
	if (f == NULL)
		return ST_FILE_NOT_FOUND;
	uint8_t car = f->ar & 0x0F;
	enum sm_mode mode;
	if (car == 0xE) {
		mode = SM_PLAIN;
	} else if (car == 0xF) {
		return ST_PERMISSION;
	} else if (!sim_authed_with(s, car)) {
		return ST_AUTH;
	} else {
		mode = SM_FULL;
	}
	if (s->cfg.model == DFI_SIM_MODEL_EV3) /* SDM settings too (sim_sdm.c) */
		return sim_sdm_change_file_settings(s, cmd, d, n, f, (int)mode, r);
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t len;
	uint8_t st = sm_in(s, cmd, d, n, 1, mode, false, 3, buf, &len);
	if (st != ST_OK)
		return st;
	if (len != 4)
		return ST_LENGTH;
	if (buf[1] & ~0x03)
		return ST_PARAMETER;
	f->comm = buf[1];
	f->ar = (uint16_t)(buf[2] | buf[3] << 8);
	return sim_changed(s, r, 16, mode);
}
