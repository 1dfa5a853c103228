/* Who may do what: authentication state against key settings and access rights. */
#include "sim_int.h"

bool
sim_authed_with(const dfi_sim *s, uint8_t keyno)
{
	return s->sess.kind != SESS_NONE && s->sess.keyno == keyno;
}

bool
sim_master_authed(const dfi_sim *s)
{
	return sim_authed_with(s, 0);
}

uint8_t
sim_changed(dfi_sim *s, struct sim_resp *r, uint32_t bytes, enum sm_mode mode)
{
	s->dirty = true;
	s->eeprom_bytes += bytes;
	r->mode = mode;
	return ST_OK;
}

enum sm_mode
sim_comm_mode(uint8_t comm)
{
	switch (comm & 0x03) {
	case 0x01: return SM_MAC;
	case 0x03: return SM_FULL;
	default: return SM_PLAIN;
	}
}

/* A key right needs a session with that key and uses the file's mode; a
 * free right (0xE) otherwise grants plain communication without
 * authentication (libfreefare's real-card test writes a file whose
 * read&write right is free in the file's mode when authenticated with its
 * write key, and plain otherwise); when every applicable right is "never"
 * (0xF) no authentication can help. */
uint8_t
sim_file_access(const dfi_sim *s, const struct sim_file *f,
    const uint8_t *rights, size_t nrights, enum sm_mode *mode)
{
	bool all_never = true, free_right = false;
	for (size_t i = 0; i < nrights; i++) {
		if (rights[i] <= 0xD && sim_authed_with(s, rights[i])) {
			*mode = sim_comm_mode(f->comm);
			return ST_OK;
		}
		free_right |= rights[i] == 0xE;
		all_never &= rights[i] == 0xF;
	}
	if (free_right) {
		*mode = SM_PLAIN;
		return ST_OK;
	}
	return all_never ? ST_PERMISSION : ST_AUTH;
}

void
sim_abort_transaction(dfi_sim *s)
{
	if (s->sel == NULL)
		return;
	for (size_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		sim_file_drop_pending(s->sel->files[i]);
}
