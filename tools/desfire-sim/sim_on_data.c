/* File contents: data, value and record files, and transactions. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

#define R_READ(f) ((uint8_t)((f)->ar >> 12))
#define R_WRITE(f) ((uint8_t)(((f)->ar >> 8) & 0x0F))
#define R_RW(f) ((uint8_t)(((f)->ar >> 4) & 0x0F))

/* File types as a set, for what a command works on. */
#define TYPE(t) (1u << (t))
#define DATA_FILES (TYPE(DFI_SIM_FILE_STD) | TYPE(DFI_SIM_FILE_BACKUP))
#define RECORD_FILES (TYPE(DFI_SIM_FILE_LINEAR_RECORD) | TYPE(DFI_SIM_FILE_CYCLIC_RECORD))
#define ANY_FILE (~0u)

/* The file the command names in d[0] (a header of at least hdr bytes),
 * of one of the types it works on (else PARAMETER_ERROR). The selected
 * application is checked here as well: a chained write gets here before
 * sim.c's table is consulted. */
static uint8_t
lookup(dfi_sim *s, const uint8_t *d, size_t n, size_t hdr, unsigned types, struct sim_file **out)
{
	if (s->sel == NULL)
		return ST_PERMISSION;
	if (n < hdr)
		return ST_LENGTH;
	if (d[0] >= DFI_SIM_MAX_FILES)
		return ST_PARAMETER;
	if ((*out = s->sel->files[d[0]]) == NULL)
		return ST_FILE_NOT_FOUND;
	if (!(types & TYPE((*out)->type)))
		return ST_PARAMETER;
	return ST_OK;
}

static size_t
mac_len(const dfi_sim *s)
{
	return s->sess.kind == SESS_D40 ? 4 : 8;
}

/* Header checks shared by the first frame and the complete command. */
static uint8_t
write_check(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_file **fp,
    enum sm_mode *mode, uint32_t *off, uint32_t *len)
{
	struct sim_file *f;
	bool rec = cmd == 0x3B;
	uint8_t st = lookup(s, d, n, 7, rec ? RECORD_FILES : DATA_FILES, &f);
	if (st != ST_OK)
		return st;
	uint8_t rights[2] = { R_WRITE(f), R_RW(f) };
	if ((st = sim_file_access(s, f, rights, 2, mode)) != ST_OK)
		return st;
	*off = le24(d + 1);
	*len = le24(d + 4);
	if (*len == 0)
		return ST_LENGTH;
	if ((uint64_t)*off + *len > f->size)
		return ST_BOUNDARY;
	/* A record file cleared in this transaction takes no new record
	 * (libfreefare's real-card test expects PERMISSION_DENIED). */
	if (rec && f->pclear)
		return ST_PERMISSION;
	if (rec && f->type == DFI_SIM_FILE_LINEAR_RECORD && !f->pwritten &&
	    (f->pclear ? 0 : f->nrec) >= f->max_rec)
		return ST_BOUNDARY;
	*fp = f;
	return ST_OK;
}

size_t
write_expected_len(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, uint8_t *st)
{
	struct sim_file *f;
	enum sm_mode mode;
	uint32_t off, len;
	*st = write_check(s, cmd, d, n, &f, &mode, &off, &len);
	if (*st != ST_OK)
		return 0;
	size_t w = len;
	if (s->sess.kind == SESS_NONE || mode == SM_PLAIN)
		return 7 + w;
	if (mode == SM_MAC)
		return 7 + w + mac_len(s);
	switch (s->sess.kind) {
	case SESS_D40: return 7 + (w + 2 + 7) / 8 * 8;
	case SESS_EV1: {
		size_t bl = dfi_keytype_blocklen(s->sess.st);
		return 7 + (w + 4 + bl - 1) / bl * bl;
	}
	default: return 7 + (w + 1 + 15) / 16 * 16 + 8;
	}
}

uint8_t
sim_on_write(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	struct sim_file *f;
	enum sm_mode mode;
	uint32_t off, len;
	uint8_t st = write_check(s, cmd, d, n, &f, &mode, &off, &len);
	if (st != ST_OK)
		return st;
	uint8_t *buf = malloc(n + 16);
	size_t blen;
	if (buf == NULL)
		return ST_OUT_OF_EEPROM;
	st = sm_in(s, cmd, d, n, 7, mode, sm_cmd_sends_mac(s, cmd), len, buf, &blen);
	if (st == ST_OK && blen != 7 + (size_t)len)
		st = ST_LENGTH;
	if (st != ST_OK)
		goto out;
	const uint8_t *data = buf + 7;
	if (f->type == DFI_SIM_FILE_STD) {
		memcpy(f->data + off, data, len);
		s->dirty = true;
		s->eeprom_bytes += len;
	} else if (f->type == DFI_SIM_FILE_BACKUP) {
		if (f->pdata == NULL) {
			if ((f->pdata = malloc(f->size)) == NULL) {
				st = ST_OUT_OF_EEPROM;
				goto out;
			}
			memcpy(f->pdata, f->data, f->size);
		}
		memcpy(f->pdata + off, data, len);
		f->pwritten = true;
		s->eeprom_bytes += len;
	} else {
		if (f->pdata == NULL && (f->pdata = calloc(1, f->size)) == NULL) {
			st = ST_OUT_OF_EEPROM;
			goto out;
		}
		memcpy(f->pdata + off, data, len);
		f->pwritten = true;
		s->eeprom_bytes += len;
	}
	r->mode = mode;
out:
	dfi_wipe(buf, n + 16);
	free(buf);
	return st;
}

/*
 * ReadData (BD) and ReadRecords (BB): the file (a data file for BD, a
 * record file for BB), the read rights, then the header (file, offset,
 * length) under the file's communication mode. Offset and length count
 * bytes of a data file or records of a record file; length 0 means "up to
 * the end".
 */
uint8_t
sim_on_read(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	bool records = cmd == 0xBB;
	struct sim_file *f;
	uint8_t st = lookup(s, d, n, 7, records ? RECORD_FILES : DATA_FILES, &f);
	if (st != ST_OK)
		return st;
	uint32_t total = records ? f->nrec : f->size;
	uint8_t rights[2] = { R_READ(f), R_RW(f) };
	enum sm_mode mode;
	st = sim_file_access(s, f, rights, 2, &mode);
	if (st != ST_OK)
		return st;
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t blen;
	if (n > DFI_SIM_MAX_FRAME)
		return ST_LENGTH;
	st = sm_in(s, cmd, d, n, 7, mode, sm_cmd_sends_mac(s, cmd), 0, buf, &blen);
	if (st != ST_OK)
		return st;
	if (blen != 7)
		return ST_LENGTH;
	uint32_t off = le24(buf + 1), len = le24(buf + 4);
	if (off >= total)
		return ST_BOUNDARY;
	if (len == 0)
		len = total - off;
	if ((uint64_t)off + len > total)
		return ST_BOUNDARY;
	if (records) {
		/* Record 0 is the newest; records come out oldest first. */
		for (uint32_t i = total - off - len; i < total - off; i++)
			resp_put(r, f->data + sim_record_offset(f, i), f->size);
		r->mode = mode;
		return ST_OK;
	}
	/* A backup file reads as last committed. */
	const uint8_t *src = f->data;
	uint8_t *m = NULL;
	/* EV3 SDM: a read granted by the free right shows the mirrors. */
	if (f->sdm != NULL && !sim_authed_with(s, R_READ(f)) && !sim_authed_with(s, R_RW(f))) {
		if ((st = sim_sdm_read(s, f, &m)) != ST_OK)
			return st;
		src = m;
	}
	resp_put(r, src + off, len);
	free(m);
	r->mode = mode;
	return ST_OK;
}

uint8_t
sim_on_value_op(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	struct sim_file *f;
	uint8_t st = lookup(s, d, n, 1, TYPE(DFI_SIM_FILE_VALUE), &f);
	if (st != ST_OK)
		return st;
	uint8_t rights[3];
	size_t nr;
	switch (cmd) {
	case 0x6C: /* GetValue */
	case 0xDC: /* Debit */
		rights[0] = R_READ(f); rights[1] = R_WRITE(f); rights[2] = R_RW(f); nr = 3;
		break;
	case 0x0C: /* Credit */
		rights[0] = R_RW(f); nr = 1;
		break;
	default: /* LimitedCredit */
		rights[0] = R_WRITE(f); rights[1] = R_RW(f); nr = 2;
		break;
	}
	enum sm_mode mode;
	if ((st = sim_file_access(s, f, rights, nr, &mode)) != ST_OK)
		return st;
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t blen, plen = cmd == 0x6C ? 0 : 4;
	if (n > DFI_SIM_MAX_FRAME)
		return ST_LENGTH;
	st = sm_in(s, cmd, d, n, 1, mode, sm_cmd_sends_mac(s, cmd), plen, buf, &blen);
	if (st != ST_OK)
		return st;
	if (blen != 1 + plen)
		return ST_LENGTH;
	r->mode = mode;
	if (cmd == 0x6C) {
		resp_le32(r, (uint32_t)f->value);
		return ST_OK;
	}
	int32_t amount = (int32_t)le32(buf + 1);
	if (amount < 0)
		return ST_PARAMETER;
	int64_t cur = f->pvalue_set ? f->pvalue : f->value, nv;
	if (cmd == 0x0C) {
		nv = cur + amount;
		if (nv > f->upper)
			return ST_BOUNDARY;
	} else if (cmd == 0xDC) {
		nv = cur - amount;
		if (nv < f->lower)
			return ST_BOUNDARY;
		f->pdebits += amount;
	} else {
		if (!(f->vflags & 0x01) || f->plimited)
			return ST_PERMISSION;
		if (amount > f->lc_value)
			return ST_BOUNDARY;
		nv = cur + amount;
		if (nv > f->upper)
			return ST_BOUNDARY;
		f->plimited = true;
	}
	f->pvalue = (int32_t)nv;
	f->pvalue_set = true;
	s->eeprom_bytes += 4;
	return ST_OK;
}

uint8_t
sim_on_clear_records(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd;
	struct sim_file *f;
	/* Any type at first: a wrong length is answered before a wrong type. */
	uint8_t st = lookup(s, d, n, 1, ANY_FILE, &f);
	if (st != ST_OK)
		return st;
	if (n != 1)
		return ST_LENGTH;
	if (!(RECORD_FILES & TYPE(f->type)))
		return ST_PARAMETER;
	uint8_t rights[1] = { R_RW(f) };
	enum sm_mode mode;
	if ((st = sim_file_access(s, f, rights, 1, &mode)) != ST_OK)
		return st;
	sim_file_drop_pending(f);
	f->pclear = true;
	r->mode = SM_MAC;
	return ST_OK;
}

static void
commit_file(dfi_sim *s, struct sim_file *f)
{
	switch (f->type) {
	case DFI_SIM_FILE_BACKUP:
		if (f->pwritten) {
			memcpy(f->data, f->pdata, f->size);
			s->dirty = true;
			s->eeprom_bytes += f->size;
		}
		break;
	case DFI_SIM_FILE_VALUE:
		if (f->pvalue_set) {
			f->value = f->pvalue;
			if (f->plimited)
				f->lc_value = 0;
			if (f->pdebits > 0)
				f->lc_value = f->pdebits > INT32_MAX ? INT32_MAX : (int32_t)f->pdebits;
			s->dirty = true;
			s->eeprom_bytes += 16;
		}
		break;
	case DFI_SIM_FILE_LINEAR_RECORD:
	case DFI_SIM_FILE_CYCLIC_RECORD:
		if (f->pclear) {
			f->nrec = 0;
			f->head = 0;
			s->dirty = true;
			s->eeprom_bytes += 16;
		}
		if (f->pwritten) {
			/* A cyclic file keeps one record free for the write in progress. */
			if (f->type == DFI_SIM_FILE_CYCLIC_RECORD && f->nrec >= f->max_rec - 1) {
				f->head = (f->head + 1) % f->max_rec;
				f->nrec--;
			}
			if (f->nrec < f->max_rec) {
				memcpy(f->data + sim_record_offset(f, f->nrec), f->pdata, f->size);
				f->nrec++;
			}
			s->dirty = true;
			s->eeprom_bytes += f->size;
		}
		break;
	default:
		break;
	}
	sim_file_drop_pending(f);
}

uint8_t
sim_on_commit(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd;
	/* EV2 takes an option byte; 0x00 (no transaction MAC) is the only
	 * one without a transaction MAC file. */
	if (n > 1 || (n == 1 && s->cfg.model == DFI_SIM_MODEL_EV1))
		return ST_LENGTH;
	if (n == 1 && d[0] != 0x00)
		return ST_PARAMETER;
	for (size_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		if (s->sel->files[i] != NULL)
			commit_file(s, s->sel->files[i]);
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_abort(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	sim_abort_transaction(s);
	r->mode = SM_MAC;
	return ST_OK;
}
