/*
 * Conflicts: what an issued card holds that the profile wants otherwise
 * and that no command changes without destroying data (an existing file's
 * type, size, communication mode or access rights; an existing
 * application's key count or key type). The state read collects every one
 * of them instead of stopping at the first, so the operator sees the whole
 * list at once; the card is then refused with each conflict named and
 * nothing more is sent to it. Nothing is ever formatted or deleted away.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfissue/util.h"
#include "perso_int.h"

void
perso_conflict(struct tap *tp, const char *fmt, ...)
{
	va_list ap;
	if (tp->nconflicts < PERSO_MAX_CONFLICTS) {
		va_start(ap, fmt);
		vsnprintf(tp->conflict[tp->nconflicts], sizeof(tp->conflict[0]), fmt, ap);
		va_end(ap);
	}
	tp->nconflicts++;
}

static const char *
type_name(enum dfi_df_filetype t)
{
	switch (t) {
	case DFI_DF_FILE_STD: return "std";
	case DFI_DF_FILE_BACKUP: return "backup";
	case DFI_DF_FILE_VALUE: return "value";
	case DFI_DF_FILE_LINEAR_RECORD: return "linear";
	case DFI_DF_FILE_CYCLIC_RECORD: return "cyclic";
	}
	return "?";
}

static const char *
comm_name(dfi_df_comm c)
{
	switch (c) {
	case DFI_DF_COMM_PLAIN: return "plain";
	case DFI_DF_COMM_MAC: return "mac";
	case DFI_DF_COMM_ENC: return "full";
	}
	return "?";
}

/* Appends ", what" to buf (the first without the comma). */
static void
cat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t at = strlen(buf);
	va_list ap;
	if (at + 3 >= cap)
		return;
	if (at > 0) {
		memcpy(buf + at, ", ", 3);
		at += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + at, cap - at, fmt, ap);
	va_end(ap);
}

void
perso_file_diff(const struct dfi_profile_file *f, const struct dfi_df_file_settings *fs,
    char *buf, size_t cap)
{
	buf[0] = '\0';
	if (fs->type != f->type) {
		/* Another type: its other settings mean other things. */
		cat(buf, cap, "type %s (profile %s)", type_name((enum dfi_df_filetype)fs->type), type_name(f->type));
		return;
	}
	if (fs->comm != f->comm)
		cat(buf, cap, "communication %s (profile %s)", comm_name(fs->comm), comm_name(f->comm));
	if (dfi_df_access_encode(&fs->access) != dfi_df_access_encode(&f->access))
		cat(buf, cap, "access %04X (profile %04X)", dfi_df_access_encode(&fs->access),
		    dfi_df_access_encode(&f->access));
	switch (f->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP:
		if (fs->size != f->size)
			cat(buf, cap, "size %u (profile %u)", (unsigned)fs->size, (unsigned)f->size);
		break;
	case DFI_DF_FILE_VALUE:
		if (fs->lower != f->lower_limit || fs->upper != f->upper_limit)
			cat(buf, cap, "limits %ld..%ld (profile %ld..%ld)", (long)fs->lower,
			    (long)fs->upper, (long)f->lower_limit, (long)f->upper_limit);
		if ((fs->limited_credit_enabled & 1) != (f->limited_credit ? 1 : 0))
			cat(buf, cap, "limited credit %s (profile %s)",
			    fs->limited_credit_enabled & 1 ? "on" : "off", f->limited_credit ? "on" : "off");
		break;
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD:
		if (fs->record_size != f->record_size || fs->max_records != f->max_records)
			cat(buf, cap, "records %u x %u bytes (profile %u x %u)",
			    (unsigned)fs->max_records, (unsigned)fs->record_size,
			    (unsigned)f->max_records, (unsigned)f->record_size);
		break;
	}
	if (buf[0] == '\0')
		snprintf(buf, cap, "other settings");
}

dfi_err
perso_conflicts_refuse(struct tap *tp)
{
	size_t shown = tp->nconflicts < PERSO_MAX_CONFLICTS ? tp->nconflicts : PERSO_MAX_CONFLICTS;
	char hex[2 * DFI_PROFILE_UID_LEN + 1];

	dfi_hex_encode(tp->uid, sizeof(tp->uid), hex, sizeof(hex));
	tp->res->conflicts = (unsigned)tp->nconflicts;
	for (size_t i = 0; i < shown; i++)
		perso_event(tp, "card %s: conflict: %s", hex, tp->conflict[i]);
	if (tp->nconflicts > shown)
		perso_event(tp, "card %s: %zu more conflict(s)", hex, tp->nconflicts - shown);
	/* The journal's reason holds one line: the count and the first. */
	return perso_refuse(tp, DFI_JCAUSE_CONFLICT, "%zu conflict(s), first: %.80s",
	    tp->nconflicts, tp->conflict[0]);
}

/* Adding to an issued card: the PICC master key and every application the
 * card has are at their targets and some of the profile's applications
 * are absent. Nothing of that addition was begun before (an application
 * created by a torn tap exists), so the tap starts it rather than resuming. */
int
perso_adding_apps(const struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	int absent = 0;

	if (!tp->picc.at_target || tp->res->intents_resolved > 0)
		return 0;
	for (size_t i = 0; i < s->napps; i++) {
		const struct app_state *as = &tp->apps[i];
		if (!as->exists) {
			absent = 1;
			continue;
		}
		for (size_t k = 0; k < s->apps[i].nkeys; k++)
			if (!as->keys[s->apps[i].keys[k].number].at_target)
				return 0;
	}
	return absent;
}
