/* The simulator handle: APDU framing, dispatch, frames, tears, commits, timing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dfissue/util.h"
#include "sim_int.h"

enum sm_auto { SELF = 0, AUTO_MAC, AUTO_FULL1 };

/* Where a command runs, checked before its handler (run_handler): */
enum cmd_level {
	/* The handler decides: PICC-level commands check it after the length;
	 * the file data commands in lookup() (sim_on_data.c), which a chained
	 * write reaches before it is dispatched. */
	ANYWHERE = 0,
	IN_APP, /* an application is selected, else PERMISSION_DENIED, first of all */
};
/* What the command data is, by its exact length, checked next
 * (LENGTH_ERROR otherwise) after secure messaging is taken off. */
enum cmd_len {
	DATA_ANY = -1, /* the handler checks it */
	DATA_NONE = 0,
	DATA_NUMBER = 1, /* a key or file number */
	DATA_AID = 3,
};

struct cmd_desc {
	uint8_t code;
	sim_handler fn;
	enum sm_auto sm;
	uint8_t cls; /* timing class */
	enum cmd_level level;
	enum cmd_len len;
};

enum { T_READ = 0, T_WRITE, T_AUTH, T_CREATE, T_FORMAT };

static const struct cmd_desc cmds[] = {
	{ 0x60, sim_on_get_version, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x51, sim_on_get_card_uid, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x3C, sim_on_read_sig, AUTO_MAC, T_READ, ANYWHERE, DATA_ANY },
	{ 0x5A, sim_on_select_app, SELF, T_READ, ANYWHERE, DATA_AID },
	{ 0x6A, sim_on_list_apps, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x6D, sim_on_list_apps, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x61, sim_on_get_iso_file_ids, AUTO_MAC, T_READ, IN_APP, DATA_NONE },
	{ 0xCA, sim_on_create_app, AUTO_MAC, T_CREATE, ANYWHERE, DATA_ANY },
	{ 0xDA, sim_on_delete_app, AUTO_MAC, T_CREATE, ANYWHERE, DATA_AID },
	{ 0xFC, sim_on_format, AUTO_MAC, T_FORMAT, ANYWHERE, DATA_NONE },
	{ 0x6E, sim_on_free_mem, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x5C, sim_on_set_config, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x0A, sim_on_authenticate, SELF, T_AUTH, ANYWHERE, DATA_ANY },
	{ 0x1A, sim_on_authenticate, SELF, T_AUTH, ANYWHERE, DATA_ANY },
	{ 0xAA, sim_on_authenticate, SELF, T_AUTH, ANYWHERE, DATA_ANY },
	{ 0x71, sim_on_authenticate, SELF, T_AUTH, ANYWHERE, DATA_ANY },
	{ 0x77, sim_on_authenticate, SELF, T_AUTH, ANYWHERE, DATA_ANY },
	{ 0xC4, sim_on_change_key, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x54, sim_on_change_key_settings, AUTO_FULL1, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x45, sim_on_get_key_settings, AUTO_MAC, T_READ, ANYWHERE, DATA_NONE },
	{ 0x64, sim_on_get_key_version, AUTO_MAC, T_READ, ANYWHERE, DATA_NUMBER },
	{ 0xCD, sim_on_create_file, AUTO_MAC, T_CREATE, IN_APP, DATA_ANY },
	{ 0xCB, sim_on_create_file, AUTO_MAC, T_CREATE, IN_APP, DATA_ANY },
	{ 0xCC, sim_on_create_file, AUTO_MAC, T_CREATE, IN_APP, DATA_ANY },
	{ 0xC1, sim_on_create_file, AUTO_MAC, T_CREATE, IN_APP, DATA_ANY },
	{ 0xC0, sim_on_create_file, AUTO_MAC, T_CREATE, IN_APP, DATA_ANY },
	{ 0xDF, sim_on_delete_file, AUTO_MAC, T_CREATE, IN_APP, DATA_NUMBER },
	{ 0x6F, sim_on_get_file_ids, AUTO_MAC, T_READ, IN_APP, DATA_NONE },
	{ 0xF5, sim_on_get_file_settings, AUTO_MAC, T_READ, IN_APP, DATA_NUMBER },
	{ 0x5F, sim_on_change_file_settings, SELF, T_WRITE, IN_APP, DATA_ANY },
	{ 0xBD, sim_on_read, SELF, T_READ, ANYWHERE, DATA_ANY },
	{ 0x3D, sim_on_write, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x6C, sim_on_value_op, SELF, T_READ, ANYWHERE, DATA_ANY },
	{ 0x0C, sim_on_value_op, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0xDC, sim_on_value_op, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x1C, sim_on_value_op, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0x3B, sim_on_write, SELF, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0xBB, sim_on_read, SELF, T_READ, ANYWHERE, DATA_ANY },
	{ 0xEB, sim_on_clear_records, AUTO_MAC, T_WRITE, ANYWHERE, DATA_ANY },
	{ 0xC7, sim_on_commit, AUTO_MAC, T_WRITE, IN_APP, DATA_ANY },
	{ 0xA7, sim_on_abort, AUTO_MAC, T_READ, IN_APP, DATA_NONE },
};

static const struct cmd_desc *
find_cmd(uint8_t code)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].code == code)
			return &cmds[i];
	return NULL;
}

/* ---- state: load, commit, volatile reset --------------------------------- */

static void
drop_pending(dfi_sim *s)
{
	free(s->pend.resp);
	if (s->pend.buf != NULL) {
		dfi_wipe(s->pend.buf, s->pend.expected);
		free(s->pend.buf);
	}
	dfi_wipe(&s->pend, sizeof(s->pend));
	s->pend.kind = PEND_NONE;
}

static void
reset_volatile(dfi_sim *s)
{
	drop_pending(s);
	sm_clear(s);
	if (s->card != NULL)
		for (size_t i = 0; i < s->card->napps; i++)
			for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++)
				sim_file_drop_pending(s->card->apps[i]->files[f]);
	s->sel = NULL;
	s->sel_aid = 0;
	s->iso_ef = -1;
}

/* The committed state is kept encoded (the image bytes): re-inserting the
 * card decodes it, so memory-only cards behave like image-backed ones. */
dfi_err
sim_keep_state(dfi_sim *s, bool write_image)
{
	uint8_t *blob;
	size_t len;
	dfi_err e = sim_image_encode(s->card, &blob, &len);
	if (e != DFI_OK)
		return e;
	if (write_image && s->image != NULL && (e = sim_image_save(s->image, s->card, !s->cfg.no_fsync)) != DFI_OK) {
		dfi_wipe(blob, len);
		free(blob);
		return e;
	}
	if (s->blob != NULL) {
		dfi_wipe(s->blob, s->blob_len);
		free(s->blob);
	}
	s->blob = blob;
	s->blob_len = len;
	return DFI_OK;
}

/* A command's commit: the state kept, and counted. */
static dfi_err
commit_state_ex(dfi_sim *s, bool write_image)
{
	dfi_err e = sim_keep_state(s, write_image);
	if (e == DFI_OK)
		s->stats.commits++;
	return e;
}

static dfi_err
commit_state(dfi_sim *s)
{
	return commit_state_ex(s, true);
}

static dfi_err
reload_state(dfi_sim *s)
{
	struct sim_card *c;
	dfi_err e = sim_image_decode(s->blob, s->blob_len, &c);
	if (e != DFI_OK)
		return e;
	reset_volatile(s);
	sim_card_free(s->card);
	s->card = c;
	return DFI_OK;
}

dfi_err
dfi_sim_new(dfi_sim **out, const struct dfi_sim_config *cfg)
{
	if (out == NULL || cfg == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_sim *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return DFI_E_NOMEM;
	s->cfg = *cfg;
	s->cfg.image = NULL;
	s->iso_ef = -1;
	dfi_err e = DFI_OK;
	if (cfg->image != NULL && (s->image = strdup(cfg->image)) == NULL) {
		e = DFI_E_NOMEM;
		goto fail;
	}
	sim_rng_init(&s->rng, cfg->has_seed, cfg->seed);
	struct sim_card *c = NULL;
	if (s->image != NULL) {
		e = sim_image_load(s->image, &c);
		if (e != DFI_OK && e != DFI_E_NOT_FOUND)
			goto fail;
	}
	if (c != NULL) {
		if (cfg->has_uid && memcmp(cfg->uid, c->uid, DFI_SIM_UID_LEN) != 0) {
			sim_card_free(c);
			e = DFI_E_INVALID_ARG;
			goto fail;
		}
		s->card = c;
		sim_ev3_model(s); /* an EV3 image stays an EV3 */
		/* Loaded as it is: the file is only rewritten by a command. */
		e = commit_state_ex(s, false);
		s->stats.commits = 0;
	} else {
		uint8_t uid[DFI_SIM_UID_LEN];
		if (cfg->has_uid) {
			memcpy(uid, cfg->uid, sizeof(uid));
		} else {
			/* NXP manufacturer code, then six random bytes. */
			uid[0] = 0x04;
			if ((e = sim_rng_bytes(&s->rng, uid + 1, sizeof(uid) - 1)) != DFI_OK)
				goto fail;
		}
		if ((s->card = sim_card_factory(uid)) == NULL) {
			e = DFI_E_NOMEM;
			goto fail;
		}
		sim_ev3_model(s);
		e = commit_state(s);
		s->stats.commits = 0;
	}
	if (e != DFI_OK)
		goto fail;
	s->random_uid[0] = 0x08;
	s->random_active = s->card->config & 0x02;
	if ((e = sim_rng_bytes(&s->rng, s->random_uid + 1, 3)) != DFI_OK)
		goto fail;
	s->present = true;
	*out = s;
	return DFI_OK;
fail:
	dfi_sim_free(s);
	return e;
}

void
dfi_sim_free(dfi_sim *s)
{
	if (s == NULL)
		return;
	reset_volatile(s);
	sim_card_free(s->card);
	if (s->blob != NULL) {
		dfi_wipe(s->blob, s->blob_len);
		free(s->blob);
	}
	free(s->rsp.data);
	free(s->image);
	dfi_wipe(s, sizeof(*s));
	free(s);
}

void
dfi_sim_remove(dfi_sim *s)
{
	if (s == NULL)
		return;
	reset_volatile(s);
	s->present = false;
}

dfi_err
dfi_sim_insert(dfi_sim *s)
{
	if (s == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = reload_state(s);
	if (e != DFI_OK)
		return e;
	s->present = true;
	/* A card with random ID shows a fresh 4-byte ID at each activation. */
	s->random_uid[0] = 0x08;
	s->random_active = s->card->config & 0x02;
	return sim_rng_bytes(&s->rng, s->random_uid + 1, 3);
}

bool
dfi_sim_present(const dfi_sim *s)
{
	return s != NULL && s->present;
}

dfi_err
dfi_sim_power_cycle(dfi_sim *s)
{
	dfi_sim_remove(s);
	return dfi_sim_insert(s);
}

dfi_err
dfi_sim_set_tear(dfi_sim *s, unsigned n, enum dfi_sim_tear_mode mode)
{
	if (s == NULL || (n > 0 && mode != DFI_SIM_TEAR_BEFORE && mode != DFI_SIM_TEAR_AFTER))
		return DFI_E_INVALID_ARG;
	s->tear_n = n;
	s->tear_mode = mode;
	return DFI_OK;
}

void
dfi_sim_stats(const dfi_sim *s, struct dfi_sim_stats *out)
{
	if (s != NULL && out != NULL)
		*out = s->stats;
}

/* PC/SC part 3 (3.1.3.2.3.1) ATR of an ISO 14443-4 type A card: 3B 8n 80 01,
 * the n historical bytes of the ATS, and TCK (XOR of T0 .. the last
 * historical byte). With the factory ATS: 3B 81 80 01 80 80. */
size_t
dfi_sim_atr(const dfi_sim *s, uint8_t *atr, size_t cap)
{
	uint8_t ats[32];
	size_t an = sim_card_ats(s->card, ats, sizeof(ats));
	size_t h = 2u + (ats[1] & 0x10 ? 1u : 0u) + (ats[1] & 0x20 ? 1u : 0u) + (ats[1] & 0x40 ? 1u : 0u);
	size_t nh = an > h ? an - h : 0;
	if (nh > 15)
		nh = 15;
	if (atr == NULL || cap < 5 + nh || an < 2)
		return 0;
	atr[0] = 0x3B;
	atr[1] = (uint8_t)(0x80 | nh);
	atr[2] = 0x80;
	atr[3] = 0x01;
	memcpy(atr + 4, ats + h, nh);
	uint8_t tck = 0;
	for (size_t i = 1; i < 4 + nh; i++)
		tck ^= atr[i];
	atr[4 + nh] = tck;
	return 5 + nh;
}

void
dfi_sim_uid(const dfi_sim *s, uint8_t uid[DFI_SIM_UID_LEN])
{
	memcpy(uid, s->card->uid, DFI_SIM_UID_LEN);
}

uint64_t
dfi_sim_last_cost_us(const dfi_sim *s)
{
	return s->last_cost_us;
}

/* ---- framing --------------------------------------------------------------- */

static void
put_sw(uint8_t *out, size_t *len, uint8_t sw1, uint8_t sw2)
{
	out[(*len)++] = sw1;
	out[(*len)++] = sw2;
}

/* Emits the next response frame from the pending buffer. */
static void
next_frame(dfi_sim *s, uint8_t *out, size_t *olen)
{
	struct sim_pending *p = &s->pend;
	size_t left = p->resp_len - p->resp_off;
	size_t n = left < p->chunk ? left : p->chunk;
	if (p->version_split && p->resp_off >= 14)
		n = left;
	if (p->nfs > 0) {
		/* one entry per frame; the last frame also carries any MAC */
		n = p->fi + 1 < p->nfs ? p->fsz[p->fi] : left;
		if (n > left)
			n = left;
		p->fi++;
	}
	memcpy(out, p->resp + p->resp_off, n);
	p->resp_off += n;
	*olen = n;
	if (p->resp_off < p->resp_len) {
		put_sw(out, olen, 0x91, ST_MORE);
	} else {
		drop_pending(s);
		put_sw(out, olen, 0x91, ST_OK);
	}
}

/* The handler, after the checks its table row asks for. */
static uint8_t
call(dfi_sim *s, const struct cmd_desc *cd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	if (cd->level == IN_APP && s->sel == NULL)
		return ST_PERMISSION;
	if (cd->len != DATA_ANY && n != (size_t)cd->len)
		return ST_LENGTH;
	return cd->fn(s, cd->code, d, n, r);
}

static uint8_t
run_handler(dfi_sim *s, const struct cmd_desc *cd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	if (cd->sm == SELF)
		return call(s, cd, d, n, r);
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t len;
	enum sm_mode mode = cd->sm == AUTO_FULL1 ? SM_FULL : SM_MAC;
	/* Commands that need a session reach sm_in only when one exists. */
	if (mode == SM_FULL && s->sess.kind == SESS_NONE)
		return call(s, cd, d, n, r);
	uint8_t st = sm_in(s, cd->code, d, n, 0, mode, s->sess.kind == SESS_EV2,
	    mode == SM_FULL ? 1 : 0, buf, &len);
	if (st != ST_OK)
		return st;
	st = call(s, cd, buf, len, r);
	dfi_wipe(buf, sizeof(buf));
	return st;
}

static uint64_t
timing_us(const dfi_sim *s, const struct cmd_desc *cd, size_t bytes)
{
	/* 106 kbit/s, ~10 bit times per byte with framing and parity, plus
	 * frame delay; per-class figures in docs/SIMULATOR.md. */
	uint64_t us = 300 + (uint64_t)bytes * 94;
	switch (cd != NULL ? cd->cls : T_READ) {
	case T_AUTH: us += 4000; break;
	case T_CREATE: us += 8000; break;
	case T_FORMAT: us += 50000 + 4000 * (uint64_t)s->card->napps; break;
	case T_WRITE: us += 1000; break;
	default: us += 800; break;
	}
	/* EEPROM: about 1 ms erase+program per 32-byte page touched, 3 ms commit. */
	if (s->eeprom_bytes > 0)
		us += 3000 + 1000 * (uint64_t)((s->eeprom_bytes + 31) / 32);
	return us;
}

/* One native command frame; writes data + SW into out (>= 64 bytes). */
static void
native(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, uint8_t *out, size_t *olen,
    const struct cmd_desc **cdp)
{
	struct sim_resp *r = &s->rsp;
	uint8_t st;
	const struct cmd_desc *cd = NULL;
	resp_reset(r);
	s->dirty = false;
	s->eeprom_bytes = 0;
	*olen = 0;

	if (cmd == 0xAF) {
		switch (s->pend.kind) {
		case PEND_AUTH:
			cd = find_cmd(s->pend.auth_cmd);
			st = sim_on_auth_continue(s, d, n, r);
			break;
		case PEND_RESP:
			if (n != 0) {
				drop_pending(s);
				st = ST_LENGTH;
				break;
			}
			next_frame(s, out, olen);
			return;
		case PEND_CMD:
			cd = find_cmd(s->pend.cmd);
			if (n > s->pend.expected - s->pend.len) {
				drop_pending(s);
				st = ST_LENGTH;
				break;
			}
			memcpy(s->pend.buf + s->pend.len, d, n);
			s->pend.len += n;
			if (s->pend.len < s->pend.expected) {
				put_sw(out, olen, 0x91, ST_MORE);
				*cdp = cd;
				return;
			}
			{
				uint8_t *buf = s->pend.buf;
				size_t len = s->pend.len;
				s->pend.buf = NULL;
				drop_pending(s);
				st = cd->fn(s, cd->code, buf, len, r);
				dfi_wipe(buf, len);
				free(buf);
			}
			break;
		default:
			st = ST_ILLEGAL_COMMAND;
			break;
		}
	} else {
		s->stats.commands++;
		drop_pending(s);
		cd = find_cmd(cmd);
		if (cd == NULL || (s->cfg.model == DFI_SIM_MODEL_EV1 && (cmd == 0x71 || cmd == 0x77))) {
			st = ST_ILLEGAL_COMMAND;
		} else if (cmd == 0x3D || cmd == 0x3B) {
			size_t exp = write_expected_len(s, cmd, d, n, &st);
			if (st == ST_OK && n > exp) {
				st = ST_LENGTH;
			} else if (st == ST_OK && n < exp) {
				s->pend.kind = PEND_CMD;
				s->pend.cmd = cmd;
				s->pend.expected = exp;
				if ((s->pend.buf = malloc(exp)) == NULL) {
					drop_pending(s);
					st = ST_OUT_OF_EEPROM;
				} else {
					memcpy(s->pend.buf, d, n);
					s->pend.len = n;
					st = ST_MORE;
				}
			} else if (st == ST_OK) {
				st = cd->fn(s, cmd, d, n, r);
			}
		} else {
			st = run_handler(s, cd, d, n, r);
		}
	}
	*cdp = cd;
	if (r->oom)
		st = ST_OUT_OF_EEPROM;

	if (st == ST_OK && s->dirty && commit_state(s) != DFI_OK) {
		/* The write did not reach the image: as an EEPROM failure, nothing changed. */
		(void)reload_state(s);
		st = 0xEE;
	}
	if (s->forge != NULL && cd != NULL)
		sim_forge_apply(s, cd->code, r, &st);
	if (st == ST_MORE) {
		if (r->len)
			memcpy(out, r->data, r->len);
		*olen = r->len;
		put_sw(out, olen, 0x91, ST_MORE);
		return;
	}
	if (st != ST_OK) {
		/* An error aborts the open transaction; the card keeps its
		 * committed state. It ends an EV1 or EV2 session (the MAC chain
		 * or command counter cannot go on), but not a legacy (0x0A)
		 * one: libfreefare's DES test continues in the same session
		 * after a 91 9D and only clears the aborted transaction again,
		 * while its EV1 AES test of the same scenario authenticates
		 * again (test/test_mifare_desfire.c, test_mifare_desfire_ev1_aes.c;
		 * docs/SIMULATOR.md). A failed authentication ends any session. */
		bool keep = s->sess.kind == SESS_D40 && (cd == NULL || cd->fn != sim_on_authenticate);
		if (s->dirty) {
			(void)reload_state(s);
		} else {
			sim_abort_transaction(s);
			if (!keep)
				sm_clear(s);
		}
		drop_pending(s);
		put_sw(out, olen, 0x91, st);
		return;
	}
	uint8_t *wire = malloc(r->len + 64);
	size_t wlen = 0;
	if (wire == NULL || sm_out(s, cmd == 0xAF && cd != NULL ? cd->code : cmd, r, wire, &wlen) != DFI_OK) {
		free(wire);
		sm_clear(s);
		put_sw(out, olen, 0x91, 0xEE);
		return;
	}
	struct sim_pending *p = &s->pend;
	p->kind = PEND_RESP;
	p->resp = wire;
	p->resp_len = wlen;
	p->resp_off = 0;
	p->chunk = r->chunk ? r->chunk : DFI_SIM_MAX_FRAME - 1;
	p->version_split = r->version_split;
	p->nfs = r->nfs;
	p->fi = 0;
	memcpy(p->fsz, r->fsz, r->nfs * sizeof(r->fsz[0]));
	if (r->version_split)
		p->chunk = 7;
	next_frame(s, out, olen);
}

static void
iso_sw(uint8_t *out, size_t *olen, uint8_t sw1, uint8_t sw2)
{
	*olen = 0;
	put_sw(out, olen, sw1, sw2);
}

/* Parses one C-APDU and produces the R-APDU into out (DFI_APDU_MAX + 2 bytes). */
static void
process_apdu(dfi_sim *s, const uint8_t *c, size_t clen, uint8_t *out, size_t *olen)
{
	const struct cmd_desc *cd = NULL;
	uint64_t cost = 0;
	*olen = 0;
	if (clen < 4) {
		iso_sw(out, olen, 0x67, 0x00);
		goto done;
	}
	if (c[0] == 0xFF) {
		/* The reader's GET DATA: P1 00 = UID (the random ID when enabled). */
		if (c[1] != 0xCA) {
			iso_sw(out, olen, 0x6D, 0x00);
		} else if (c[2] != 0x00 || c[3] != 0x00 || clen > 5) {
			iso_sw(out, olen, 0x6A, 0x81);
		} else {
			bool rnd = s->random_active;
			size_t ulen = rnd ? 4 : DFI_SIM_UID_LEN;
			size_t le = clen == 5 ? c[4] : 0;
			if (le != 0 && le < ulen) {
				iso_sw(out, olen, 0x6C, (uint8_t)ulen);
			} else {
				memcpy(out, rnd ? s->random_uid : s->card->uid, ulen);
				*olen = ulen;
				put_sw(out, olen, 0x90, 0x00);
			}
		}
		goto done;
	}
	if (c[0] == 0x00) {
		/* ISO 7816-4: a native chain in progress ends here. */
		s->stats.commands++;
		drop_pending(s);
		s->dirty = false;
		s->eeprom_bytes = 0;
		sim_iso_apdu(s, c, clen, out, olen);
		/* Only a successful UPDATE BINARY / APPEND RECORD sets dirty. */
		if (s->dirty && commit_state(s) != DFI_OK) {
			(void)reload_state(s);
			iso_sw(out, olen, 0x65, 0x81); /* memory failure: nothing changed */
		}
		goto done;
	}
	if (c[0] != 0x90) {
		iso_sw(out, olen, 0x6E, 0x00);
		goto done;
	}
	if (c[2] != 0x00 || c[3] != 0x00) {
		iso_sw(out, olen, 0x6A, 0x86);
		goto done;
	}
	size_t lc = 0;
	const uint8_t *data = c + 5;
	if (clen == 4 || clen == 5) {
		lc = 0;
	} else {
		lc = c[4];
		if (lc == 0 || (clen != 5 + lc && clen != 6 + lc)) {
			iso_sw(out, olen, 0x67, 0x00);
			goto done;
		}
	}
	if (1 + lc > DFI_SIM_MAX_FRAME) {
		s->stats.commands++;
		drop_pending(s);
		sim_abort_transaction(s);
		if (s->sess.kind != SESS_D40) /* as any error: see native() */
			sm_clear(s);
		iso_sw(out, olen, 0x91, ST_LENGTH);
		goto done;
	}
	native(s, c[1], data, lc, out, olen, &cd);
	cost = timing_us(s, cd, clen + *olen);
done:
	if (cost == 0)
		cost = 300 + (uint64_t)(clen + *olen) * 94;
	s->last_cost_us = cost;
	s->stats.modeled_us += cost;
	if (s->cfg.timing == DFI_SIM_TIMING_DATASHEET) {
		struct timespec ts = { (time_t)(cost / 1000000), (long)(cost % 1000000) * 1000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

dfi_err
dfi_sim_process(dfi_sim *s, const uint8_t *capdu, size_t clen, uint8_t *rapdu,
    size_t cap, size_t *rlen)
{
	if (s == NULL || capdu == NULL || rapdu == NULL || rlen == NULL)
		return DFI_E_INVALID_ARG;
	*rlen = 0;
	if (!s->present)
		return DFI_E_NO_CARD;
	s->stats.apdus++;
	bool tear = false;
	if (s->tear_n > 0 && --s->tear_n == 0) {
		tear = true;
		s->stats.tears++;
		if (s->tear_mode == DFI_SIM_TEAR_BEFORE) {
			dfi_sim_remove(s);
			return DFI_E_CARD_TORN;
		}
	}
	uint8_t out[DFI_APDU_MAX + 2];
	size_t olen;
	process_apdu(s, capdu, clen, out, &olen);
	if (tear) {
		dfi_sim_remove(s);
		return DFI_E_CARD_TORN;
	}
	if (olen > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	memcpy(rapdu, out, olen);
	*rlen = olen;
	return DFI_OK;
}
