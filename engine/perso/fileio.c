/* File access for the engine: which key to authenticate with for a read
 * or a write, and comparing a file's content with the profile's. */
#include <stdint.h>
#include <string.h>

#include "perso_int.h"

/* Rights that allow the access, in order of preference. */
static size_t
rights(const struct dfi_profile_file *f, int write, uint8_t *r)
{
	size_t n = 0;
	if (write) {
		r[n++] = f->access.write;
	} else {
		r[n++] = f->access.read;
		if (f->type == DFI_DF_FILE_VALUE)
			r[n++] = f->access.write; /* GetValue: read, write or read&write */
	}
	r[n++] = f->access.read_write;
	return n;
}

int
perso_write_key(const struct dfi_profile_file *f)
{
	uint8_t r[3];
	size_t n = rights(f, 1, r);
	for (size_t i = 0; i < n; i++)
		if (r[i] <= 0xD)
			return r[i];
	return -1;
}

int
perso_file_session_right(const struct tap *tp, int app, const struct dfi_profile_file *f, int write)
{
	const struct app_state *as = &tp->apps[app];
	uint8_t r[3];
	size_t n = rights(f, write, r);

	if (dfi_desfire_scheme(tp->d) == DFI_DF_SCHEME_NONE || tp->authed == NULL ||
	    dfi_desfire_selected_aid(tp->d) != perso_aid(tp->p->spec->apps[app].aid))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (r[i] <= 0xD && dfi_desfire_auth_keyno(tp->d) == r[i] &&
		    tp->authed == as->keys[r[i]].cur)
			return 1;
	return 0;
}

dfi_err
perso_file_auth(struct tap *tp, int app, const struct dfi_profile_file *f, int write,
    dfi_df_comm *mode)
{
	struct app_state *as = &tp->apps[app];
	uint32_t aid = perso_aid(tp->p->spec->apps[app].aid);
	uint8_t r[3];
	size_t n = rights(f, write, r);
	int free_right = 0;
	dfi_err e;

	e = perso_select(tp, aid);
	if (e != DFI_OK)
		return e;
	/* Already authenticated with a key that has the right: reuse it. */
	if (perso_file_session_right(tp, app, f, write)) {
		*mode = f->comm;
		return DFI_OK;
	}
	/* A read anyone may make costs a SelectApplication (below), a new
	 * session two APDUs: reads take the free right first. */
	for (size_t i = 0; !write && i < n; i++)
		free_right |= r[i] == DFI_DF_ACCESS_FREE;
	for (size_t i = 0; !free_right && i < n; i++) {
		if (r[i] <= 0xD && as->keys[r[i]].cur != NULL) {
			e = perso_auth(tp, aid, r[i], as->keys[r[i]].cur);
			if (e == DFI_OK)
				as->keys[r[i]].confirmed = 1;
			*mode = f->comm;
			return e;
		}
		free_right |= r[i] == DFI_DF_ACCESS_FREE;
	}
	if (!free_right)
		return DFI_E_DF_PERMISSION_DENIED;
	/* A free right works plain and without a session: drop any session
	 * by selecting the application again. */
	if (dfi_desfire_scheme(tp->d) != DFI_DF_SCHEME_NONE) {
		tp->authed = NULL;
		e = dfi_desfire_select_application(tp->d, aid);
		if (e != DFI_OK)
			return e;
	}
	*mode = DFI_DF_COMM_PLAIN;
	return DFI_OK;
}

dfi_err
perso_file_compare(struct tap *tp, int app, int file, int *same, size_t *have_records)
{
	const struct dfi_file_data *fd = &tp->cd->apps[app].files[file];
	const struct dfi_profile_file *f = fd->file;
	struct app_state *as = &tp->apps[app];
	uint8_t buf[DFI_PROFILE_CARD_MEMORY];
	dfi_df_comm mode;
	size_t n = 0;
	int32_t v;
	dfi_err e;

	*same = 0;
	*have_records = 0;
	e = perso_file_auth(tp, app, f, 0, &mode);
	if (e != DFI_OK)
		return e;
	switch (f->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP:
		if (fd->len > sizeof(buf))
			return DFI_E_OVERFLOW;
		e = dfi_desfire_read_data(tp->d, f->number, mode, 0, (uint32_t)fd->len, buf);
		if (e == DFI_OK)
			*same = memcmp(buf, fd->data, fd->len) == 0;
		return e;
	case DFI_DF_FILE_VALUE:
		e = dfi_desfire_get_value(tp->d, f->number, mode, &v);
		if (e == DFI_OK)
			*same = v == f->value;
		return e;
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD: {
		/* The record count from the settings read at the start, or from
		 * reading them all (an empty file answers with a boundary error). */
		size_t cur = as->fs_known[f->number] ? as->fs[f->number].cur_records : SIZE_MAX;
		if (cur != 0) {
			e = dfi_desfire_read_records(tp->d, f->number, mode, 0, 0, f->record_size,
			    buf, sizeof(buf), &n);
			if (e == DFI_E_DF_BOUNDARY_ERROR && cur == SIZE_MAX)
				e = DFI_OK, n = 0;
			if (e != DFI_OK)
				return e;
			if (n % f->record_size != 0)
				return DFI_E_CARD_PROTOCOL;
			cur = n / f->record_size;
		}
		if (cur > fd->nrecords) {
			perso_detail(tp, "application " DFI_AID_FMT " file %u holds %zu records, the profile "
			    "writes %zu", DFI_AID_ARGS(perso_aid(tp->p->spec->apps[app].aid)), f->number, cur,
			    fd->nrecords);
			return DFI_E_CARD_CONFLICT;
		}
		/* Records written earlier must be the profile's first ones. */
		if (cur > 0 && memcmp(buf, fd->data, n) != 0) {
			perso_detail(tp, "application " DFI_AID_FMT " file %u holds records other than "
			    "the profile's", DFI_AID_ARGS(perso_aid(tp->p->spec->apps[app].aid)), f->number);
			return DFI_E_CARD_CONFLICT;
		}
		*have_records = cur;
		*same = cur == fd->nrecords;
		return DFI_OK;
	}
	}
	return DFI_E_INTERNAL;
}
