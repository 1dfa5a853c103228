/*
 * ISO/IEC 7816-4 commands (CLA 00) as a DESFire EV1 or later answers them:
 * SELECT FILE, READ BINARY, UPDATE BINARY, READ RECORD, APPEND RECORD and
 * GET CHALLENGE, with ISO status words. Enough for what a phone does to
 * read an NFC Forum Type 4 tag (NDEF application D2760000850101, capability
 * container E103, NDEF file) and for libfreefare's connect, which selects
 * the DESFire AID D2760000850100 (the PICC level) first.
 *
 * What a real card does and the sources for it are in docs/SIMULATOR.md
 * ("ISO 7816-4"); the choices this simulator makes where those sources are
 * silent are listed there too. In short:
 *   - an ISO application is one created with an ISO FID (and maybe a DF
 *     name); its files are reachable by their ISO FIDs or, with READ
 *     BINARY/READ RECORD/APPEND RECORD, by a short file identifier equal to
 *     the DESFire file number;
 *   - access through these commands is plain: a file is readable (writable)
 *     when its read or read&write (write or read&write) right is free, or
 *     a session with that key exists and the file's mode is plain;
 *     otherwise 69 82;
 *   - UPDATE BINARY writes standard data files and APPEND RECORD record
 *     files at once (there is no transaction in ISO 7816-4); backup and
 *     value files answer 69 81.
 */
#include <string.h>

#include "sim_int.h"

/* ISO status words */
#define SW_OK 0x9000
#define SW_EOF 0x6282            /* end of file before Le bytes */
#define SW_WRONG_LENGTH 0x6700
#define SW_INCOMPATIBLE 0x6981   /* command incompatible with file structure */
#define SW_SECURITY 0x6982
#define SW_NO_EF 0x6986          /* command not allowed: no current EF */
#define SW_WRONG_DATA 0x6A80
#define SW_NOT_FOUND 0x6A82
#define SW_RECORD_NOT_FOUND 0x6A83
#define SW_FULL 0x6A84
#define SW_WRONG_P1P2 0x6A86
#define SW_OFFSET 0x6B00
#define SW_INS 0x6D00
#define SW_MEMORY 0x6581

/* The DESFire AID registered with ISO: selecting it selects the PICC. */
static const uint8_t desfire_aid[] = { 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x00 };

struct capdu {
	uint8_t ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	bool has_le;
	size_t le;       /* 0x00 means 256 */
};

/* ISO 7816-4 5.1: cases 1 to 4, short length fields only. */
static bool
parse(const uint8_t *c, size_t n, struct capdu *a)
{
	memset(a, 0, sizeof(*a));
	a->ins = c[1];
	a->p1 = c[2];
	a->p2 = c[3];
	if (n == 4)
		return true;
	if (n == 5) {
		a->has_le = true;
		a->le = c[4] ? c[4] : 256;
		return true;
	}
	if (c[4] == 0)
		return false; /* extended lengths are not supported */
	a->lc = c[4];
	a->data = c + 5;
	if (n == 5 + a->lc)
		return true;
	if (n == 6 + a->lc) {
		a->has_le = true;
		a->le = c[5 + a->lc] ? c[5 + a->lc] : 256;
		return true;
	}
	return false;
}

static void
reply(uint8_t *out, size_t *olen, const uint8_t *data, size_t n, uint16_t sw)
{
	if (n > 0)
		memcpy(out, data, n);
	out[n] = (uint8_t)(sw >> 8);
	out[n + 1] = (uint8_t)sw;
	*olen = n + 2;
}

/* Selecting a DF ends the session and any open transaction, as the native
 * SelectApplication does. */
static void
select_df(dfi_sim *s, struct sim_app *a)
{
	sim_abort_transaction(s);
	sm_clear(s);
	s->sel = a;
	s->sel_aid = a != NULL ? a->aid : 0;
	s->iso_ef = -1;
}

static struct sim_app *
app_by_name(const struct sim_card *c, const uint8_t *name, size_t n)
{
	for (size_t i = 0; i < c->napps; i++) {
		struct sim_app *a = c->apps[i];
		if (a->has_iso && a->dfname_len == n && n > 0 && memcmp(a->dfname, name, n) == 0)
			return a;
	}
	return NULL;
}

static struct sim_app *
app_by_fid(const struct sim_card *c, uint16_t fid)
{
	for (size_t i = 0; i < c->napps; i++)
		if (c->apps[i]->has_iso && c->apps[i]->iso_fid == fid)
			return c->apps[i];
	return NULL;
}

static struct sim_file *
ef_by_fid(const struct sim_app *a, uint16_t fid)
{
	if (a == NULL || !a->has_iso)
		return NULL;
	for (size_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		if (a->files[i] != NULL && a->files[i]->has_iso && a->files[i]->iso_fid == fid)
			return a->files[i];
	return NULL;
}

/* SELECT FILE: P1 00 (MF, DF or EF by FID), 01 (child DF), 02 (EF of the
 * current DF), 03 (parent DF), 04 (DF by name); P2 00 or 0C (no FCI is
 * returned: see docs/SIMULATOR.md). */
static uint16_t
iso_select(dfi_sim *s, const struct capdu *a)
{
	if ((a->p2 & ~0x0C) != 0)
		return SW_WRONG_P1P2;
	uint16_t fid = (uint16_t)(a->lc == 2 ? a->data[0] << 8 | a->data[1] : 0);
	switch (a->p1) {
	case 0x04: {
		if (a->lc == 0 || a->lc > 16)
			return SW_WRONG_LENGTH;
		if (a->lc == sizeof(desfire_aid) && memcmp(a->data, desfire_aid, a->lc) == 0) {
			select_df(s, NULL);
			return SW_OK;
		}
		struct sim_app *app = app_by_name(s->card, a->data, a->lc);
		if (app == NULL)
			return SW_NOT_FOUND;
		select_df(s, app);
		return SW_OK;
	}
	case 0x03:
		if (a->lc != 0)
			return SW_WRONG_LENGTH;
		select_df(s, NULL);
		return SW_OK;
	case 0x00:
		if (a->lc == 0 || fid == 0x3F00) {
			if (a->lc != 0 && a->lc != 2)
				return SW_WRONG_LENGTH;
			select_df(s, NULL);
			return SW_OK;
		}
		/* a FID of an EF of the current DF, or of a DF */
		__attribute__((fallthrough));
	case 0x01:
	case 0x02: {
		if (a->lc != 2)
			return SW_WRONG_LENGTH;
		if (a->p1 != 0x01) {
			struct sim_file *f = ef_by_fid(s->sel, fid);
			if (f != NULL) {
				s->iso_ef = f->fid;
				return SW_OK;
			}
			if (a->p1 == 0x02)
				return SW_NOT_FOUND;
		}
		if (s->sel != NULL)
			return SW_NOT_FOUND; /* applications are children of the PICC only */
		struct sim_app *app = app_by_fid(s->card, fid);
		if (app == NULL)
			return SW_NOT_FOUND;
		select_df(s, app);
		return SW_OK;
	}
	default:
		return SW_WRONG_P1P2;
	}
}

/* The EF a READ/UPDATE/APPEND addresses: a short file identifier (the
 * DESFire file number) or the current EF. An SFI makes that file current.
 * The current EF is kept as a file number of the selected application, so
 * a file deleted since is simply gone. */
static uint16_t
target_ef(dfi_sim *s, unsigned sfi, struct sim_file **out)
{
	if (sfi != 0) {
		if (s->sel == NULL || !s->sel->has_iso || sfi >= DFI_SIM_MAX_FILES ||
		    s->sel->files[sfi] == NULL)
			return SW_NOT_FOUND;
		s->iso_ef = (int)sfi;
	}
	if (s->sel == NULL || s->iso_ef < 0 || s->sel->files[s->iso_ef] == NULL)
		return SW_NO_EF;
	*out = s->sel->files[s->iso_ef];
	return SW_OK;
}

/* Plain access by one of two rights (see the top of the file). */
static uint16_t
iso_access(const dfi_sim *s, const struct sim_file *f, uint8_t r1, uint8_t r2)
{
	if (r1 == 0xE || r2 == 0xE)
		return SW_OK;
	if (sim_comm_mode(f->comm) == SM_PLAIN &&
	    ((r1 <= 0xD && sim_authed_with(s, r1)) || (r2 <= 0xD && sim_authed_with(s, r2))))
		return SW_OK;
	return SW_SECURITY;
}

#define R_READ(f) ((uint8_t)((f)->ar >> 12))
#define R_WRITE(f) ((uint8_t)(((f)->ar >> 8) & 0x0F))
#define R_RW(f) ((uint8_t)(((f)->ar >> 4) & 0x0F))

/* Which file types each ISO command works on. */
static bool
is_binary_readable(const struct sim_file *f)
{
	return f->type == DFI_SIM_FILE_STD || f->type == DFI_SIM_FILE_BACKUP;
}

static bool
is_binary_writable(const struct sim_file *f)
{
	return f->type == DFI_SIM_FILE_STD;
}

static bool
is_record(const struct sim_file *f)
{
	return f->type == DFI_SIM_FILE_LINEAR_RECORD || f->type == DFI_SIM_FILE_CYCLIC_RECORD;
}

/* The EF a command addresses (see target_ef), when it is of a type the
 * command works on and plain access grants reading (or writing) it. */
static uint16_t
open_ef(dfi_sim *s, unsigned sfi, bool (*type_ok)(const struct sim_file *), bool write,
    struct sim_file **out)
{
	uint16_t sw = target_ef(s, sfi, out);
	if (sw != SW_OK)
		return sw;
	if (!type_ok(*out))
		return SW_INCOMPATIBLE;
	return iso_access(s, *out, write ? R_WRITE(*out) : R_READ(*out), R_RW(*out));
}

static uint16_t
iso_read_binary(dfi_sim *s, const struct capdu *a, uint8_t *out, size_t *olen)
{
	struct sim_file *f = NULL;
	unsigned sfi = (a->p1 & 0x80) ? a->p1 & 0x1F : 0;
	if ((a->p1 & 0x80) && (a->p1 & 0x60))
		return SW_WRONG_P1P2;
	uint32_t off = (a->p1 & 0x80) ? a->p2 : (uint32_t)(a->p1 << 8 | a->p2);
	if (a->lc != 0)
		return SW_WRONG_LENGTH;
	uint16_t sw = open_ef(s, sfi, is_binary_readable, false, &f);
	if (sw != SW_OK)
		return sw;
	if (off > f->size)
		return SW_OFFSET;
	size_t want = a->has_le ? a->le : 256, have = f->size - off;
	size_t n = want < have ? want : have;
	reply(out, olen, f->data + off, n, n < want && a->has_le && a->le != 256 ? SW_EOF : SW_OK);
	return 0;
}

static uint16_t
iso_update_binary(dfi_sim *s, const struct capdu *a)
{
	struct sim_file *f = NULL;
	unsigned sfi = (a->p1 & 0x80) ? a->p1 & 0x1F : 0;
	if ((a->p1 & 0x80) && (a->p1 & 0x60))
		return SW_WRONG_P1P2;
	uint32_t off = (a->p1 & 0x80) ? a->p2 : (uint32_t)(a->p1 << 8 | a->p2);
	if (a->lc == 0)
		return SW_WRONG_LENGTH;
	uint16_t sw = open_ef(s, sfi, is_binary_writable, true, &f);
	if (sw != SW_OK)
		return sw;
	if ((uint64_t)off + a->lc > f->size)
		return SW_OFFSET;
	memcpy(f->data + off, a->data, a->lc);
	s->dirty = true;
	s->eeprom_bytes += (uint32_t)a->lc;
	return SW_OK;
}


/* Record number n (1-based) as ISO 7816-4 numbers them: in a linear EF
 * record 1 is the first written, in a cyclic EF the last written. */
static const uint8_t *
record_at(const struct sim_file *f, uint32_t n)
{
	uint32_t idx = f->type == DFI_SIM_FILE_CYCLIC_RECORD ? f->nrec - n : n - 1;
	return f->data + sim_record_offset(f, idx);
}

static uint16_t
iso_read_record(dfi_sim *s, const struct capdu *a, uint8_t *out, size_t *olen)
{
	struct sim_file *f = NULL;
	unsigned how = a->p2 & 0x07, sfi = a->p2 >> 3;
	if (a->lc != 0)
		return SW_WRONG_LENGTH;
	if (how != 0x04 && how != 0x05)
		return SW_WRONG_P1P2; /* record identifiers and "current record" are not supported */
	uint16_t sw = open_ef(s, sfi == 0x1F ? 0 : sfi, is_record, false, &f);
	if (sw != SW_OK)
		return sw;
	if (a->p1 == 0 || a->p1 > f->nrec)
		return SW_RECORD_NOT_FOUND;
	uint32_t last = how == 0x05 ? f->nrec : a->p1;
	size_t want = a->has_le ? a->le : 256, n = 0;
	uint8_t buf[DFI_APDU_MAX];
	for (uint32_t r = a->p1; r <= last; r++) {
		if (n + f->size > want || n + f->size > sizeof(buf) - 2)
			break;
		memcpy(buf + n, record_at(f, r), f->size);
		n += f->size;
	}
	if (n == 0)
		return SW_WRONG_LENGTH;
	reply(out, olen, buf, n, SW_OK);
	return 0;
}

static uint16_t
iso_append_record(dfi_sim *s, const struct capdu *a)
{
	struct sim_file *f = NULL;
	unsigned sfi = a->p2 >> 3;
	if (a->p1 != 0 || (a->p2 & 0x07) != 0)
		return SW_WRONG_P1P2;
	if (a->lc == 0)
		return SW_WRONG_LENGTH;
	uint16_t sw = open_ef(s, sfi, is_record, true, &f);
	if (sw != SW_OK)
		return sw;
	if (a->lc > f->size)
		return SW_WRONG_LENGTH;
	if (f->nrec == f->max_rec) {
		if (f->type == DFI_SIM_FILE_LINEAR_RECORD)
			return SW_FULL;
		/* cyclic: the oldest record makes room */
		f->head = (f->head + 1) % f->max_rec;
		f->nrec--;
	}
	uint8_t *dst = f->data + sim_record_offset(f, f->nrec);
	memset(dst, 0, f->size);
	memcpy(dst, a->data, a->lc);
	f->nrec++;
	s->dirty = true;
	s->eeprom_bytes += f->size;
	return SW_OK;
}

static uint16_t
iso_get_challenge(dfi_sim *s, const struct capdu *a, uint8_t *out, size_t *olen)
{
	if (a->p1 != 0 || a->p2 != 0)
		return SW_WRONG_P1P2;
	if (a->lc != 0 || !a->has_le || (a->le != 8 && a->le != 16))
		return SW_WRONG_LENGTH;
	uint8_t rnd[16];
	if (sim_rng_bytes(&s->rng, rnd, a->le) != DFI_OK)
		return SW_MEMORY;
	reply(out, olen, rnd, a->le, SW_OK);
	return 0;
}

void
sim_iso_apdu(dfi_sim *s, const uint8_t *c, size_t n, uint8_t *out, size_t *olen)
{
	struct capdu a;
	uint16_t sw;
	*olen = 0;
	if (!parse(c, n, &a)) {
		reply(out, olen, NULL, 0, SW_WRONG_LENGTH);
		return;
	}
	switch (a.ins) {
	case 0xA4: sw = iso_select(s, &a); break;
	case 0xB0: sw = iso_read_binary(s, &a, out, olen); break;
	case 0xD6: sw = iso_update_binary(s, &a); break;
	case 0xB2: sw = iso_read_record(s, &a, out, olen); break;
	case 0xE2: sw = iso_append_record(s, &a); break;
	case 0x84: sw = iso_get_challenge(s, &a, out, olen); break;
	default: sw = SW_INS; break;
	}
	if (sw != 0)
		reply(out, olen, NULL, 0, sw);
}
