/* Inspection: what the card holds and the steps that remain, read-only
 * (authentication with candidate keys only where the card requires it;
 * nothing written, nothing journaled). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "perso_int.h"

static const char *
key_name(const struct tap *tp, const struct key_state *ks, const dfi_cardkey *target, int app)
{
	if (ks->cur == NULL)
		return ks->version < 0 ? "not read" : "unknown";
	if (ks->cur == target)
		return ks->confirmed ? "target (authenticated)" : "target (by version)";
	if (ks->cur == perso_initial(tp, app) && ks->cur != perso_factory(tp->p, app))
		return ks->confirmed ? "transport (authenticated)" : "transport (by version)";
	if (ks->cur == perso_factory(tp->p, app))
		return ks->confirmed ? "factory (authenticated)" : "factory (by version)";
	for (size_t i = 0; i < tp->nprevk; i++)
		if (tp->prevk[i].k == ks->cur)
			return ks->confirmed ? "older generation, to rotate (authenticated)" :
					       "older generation, to rotate (by version)";
	return "journal candidate";
}

static void
report(struct tap *tp, FILE *f, dfi_err e)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	char hex[21] = "", name[96];

	dfi_hex_encode(tp->uid, sizeof(tp->uid), hex, sizeof(hex));
	fprintf(f, "card %s: DESFire hw %02X.%02X (storage %02X), %zu application(s)\n", hex,
	    tp->ver.hw_major, tp->ver.hw_minor, tp->ver.hw_storage, tp->naids);
	if (tp->res->random_id)
		fprintf(f, "  random ID: UID read with GetCardUID (%s)\n", tp->uid_via);
	for (size_t i = 0; i < tp->nconflicts && i < PERSO_MAX_CONFLICTS; i++)
		fprintf(f, "  conflict: %s\n", tp->conflict[i]);
	if (tp->own != NULL)
		fprintf(f, "  batch row: line %d of %s, the row this card began with (its history under "
		    "this profile carries that row's digest)\n", dfi_batch_row_line(tp->own), tp->batch_path);
	if (tp->res->originality[0] != '\0')
		fprintf(f, "  originality: %s\n", tp->res->originality);
	if (tp->p->reg != NULL)
		fprintf(f, "  registry (%s): %s%u key slot(s) changed, %u open intent(s), %u refusal(s), "
		    "%u re-issue authorization(s)%s\n", dfi_registry_backend(tp->p->reg),
		    tp->reg.issued ? "issued, " : "not issued, ", tp->reg.changed, tp->reg.open_intents,
		    tp->reg.refusals, tp->reg.authorizations,
		    tp->reg.authorization_pending ? " (one pending)" : "");
	if (tp->would_refuse[0] != '\0')
		fprintf(f, "  %s %s\n", tp->refused ? "would be refused:" : "note:", tp->would_refuse);
	if (tp->refused && tp->picc.version < 0)
		return; /* refused before its keys were read */
	fprintf(f, "  PICC master key: version %d, %s; key settings %02X (profile %02X)\n",
	    tp->picc.version, key_name(tp, &tp->picc, tp->picc_target, -1), tp->picc_ks,
	    s->picc.key_settings);
	if (perso_lrp_wanted(tp))
		fprintf(f, "  LRP mode: %s (profile: lrp)\n", tp->lrp == PERSO_LRP_ON ? "on" :
		    tp->lrp == PERSO_LRP_OFF ? "off, the switch is planned" : "not probed");
	for (size_t i = 0; i < tp->naids; i++) {
		int in_profile = 0;
		for (size_t k = 0; k < s->napps; k++)
			in_profile |= perso_aid(s->apps[k].aid) == tp->aids[i];
		if (!in_profile)
			fprintf(f, "  application " DFI_AID_FMT ": not in the profile (left alone)\n",
			    DFI_AID_ARGS(tp->aids[i]));
	}
	for (size_t i = 0; i < s->napps; i++) {
		const struct dfi_profile_app *a = &s->apps[i];
		const struct app_state *as = &tp->apps[i];
		if (!as->exists) {
			fprintf(f, "  application " DFI_AID_FMT " (%s): absent\n", DFI_AID_ARGS(perso_aid(a->aid)),
			    a->name ? a->name : "-");
			continue;
		}
		fprintf(f, "  application " DFI_AID_FMT " (%s): key settings %02X (profile %02X)\n",
		    DFI_AID_ARGS(perso_aid(a->aid)), a->name ? a->name : "-", as->ks, a->key_settings);
		for (size_t k = 0; k < a->nkeys; k++) {
			uint8_t kn = a->keys[k].number;
			fprintf(f, "    key %u: version %d, %s\n", kn, as->keys[kn].version,
			    key_name(tp, &as->keys[kn], as->target[kn], (int)i));
		}
		for (size_t k = 0; k < a->nfiles; k++) {
			uint8_t fno = a->files[k].number;
			fprintf(f, "    file %u: %s\n", fno, !as->file_exists[fno] ? "absent" :
			    as->content_ok[k] ? "present, content as the profile's" :
			    "present, content to write");
		}
	}
	for (size_t i = 0; i < tp->nintents; i++)
		if (tp->intents[i].rec.type == DFI_JREC_CHANGE)
			fprintf(f, "  open change %llu: " DFI_AID_FMT " %s\n",
			    (unsigned long long)tp->intents[i].rec.seq,
			    DFI_AID_ARGS(tp->intents[i].rec.key.aid), tp->intents[i].rec.what);
		else
			fprintf(f, "  open intent %llu: " DFI_AID_FMT " key %u, version %u -> %u\n",
		    (unsigned long long)tp->intents[i].rec.seq, DFI_AID_ARGS(tp->intents[i].rec.key.aid),
		    tp->intents[i].rec.key.keyno, tp->intents[i].rec.old_version,
		    tp->intents[i].rec.new_version);
	if (tp->unknown_keys) {
		fprintf(f, "  unknown keys: %s matches no candidate\n", tp->unknown_what);
		return;
	}
	if (tp->refused)
		return;
	if (e != DFI_OK) {
		char why[400];
		perso_err_text(tp->p->hsm, e, why, sizeof(why)); /* an HSM error: its call */
		fprintf(f, "  no plan: %s%s%s\n", tp->res->detail[0] ? dfi_strerror(e) : why,
		    tp->res->detail[0] ? ": " : "", tp->res->detail);
		return;
	}
	fprintf(f, "  remaining steps: %zu\n", tp->nsteps);
	for (size_t i = 0; i < tp->nsteps; i++) {
		perso_step_name(tp, &tp->steps[i], name, sizeof(name));
		fprintf(f, "    %zu. %s\n", i + 1, name);
	}
}

/* A plan that stopped on the host's side (an HSM call, the journal, the
 * registry, memory, host crypto) says nothing of the card: the card did not
 * refuse anything, and the report lacks its remaining steps. The caller
 * must learn that the report is incomplete (perso.h), where a plan the
 * card's state stopped (a conflict, a card status) is the finding. */
static int
host_side(dfi_err e)
{
	return (e > DFI_OK && e < DFI_E_NO_CARD && e != DFI_E_UNSUPPORTED) ||
	    (e >= DFI_E_JOURNAL_LOCKED && e < DFI_E_PROFILE) || e >= DFI_E_REGISTRY_UNREACHABLE;
}

dfi_err
dfi_perso_inspect(dfi_perso *p, dfi_transport *t, const dfi_batch_row *row, char **out)
{
	return dfi_perso_inspect_batch(p, t, NULL, row, out);
}

dfi_err
dfi_perso_inspect_batch(dfi_perso *p, dfi_transport *t, const char *batch_path,
    const dfi_batch_row *row, char **out)
{
	struct dfi_perso_result res;
	struct tap *tp;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	dfi_err e;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || t == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	tp = malloc(sizeof(*tp));
	if (tp == NULL)
		return DFI_E_NOMEM;
	e = perso_tap_begin(p, tp, t, batch_path, row, &res, 1);
	if (e == DFI_OK && !tp->refused && tp->nconflicts > 0)
		e = perso_conflicts_refuse(tp);
	/* What a tap would refuse, without journaling it (readonly). */
	if (e == DFI_OK && !tp->refused && tp->unknown_keys && tp->unknown_picc &&
	    p->spec->picc.transport.kind != DFI_TRANSPORT_FACTORY)
		e = perso_refuse(tp, DFI_JCAUSE_TRANSPORT_KEY, "%s matches neither the transport key "
		    "nor a key the journal names", tp->unknown_what);
	if (e == DFI_OK && !tp->refused && !tp->unknown_keys)
		e = perso_admit(tp);
	if (e == DFI_OK && !tp->unknown_keys && !tp->refused)
		e = perso_plan(tp);
	/* A random-ID card no key opens: what it showed, and why (uid.c). */
	if (e == DFI_E_UNKNOWN_KEYS && res.random_id && res.uid_len == 0) {
		if (asprintf(&buf, "%s\n", res.detail) < 0) {
			buf = NULL;
			e = DFI_E_NOMEM;
			goto out;
		}
		*out = buf;
		e = DFI_OK;
		goto out;
	}
	/* A card that could not be read has nothing to report. */
	if (e != DFI_OK && (res.uid_len == 0 || perso_is_tear(e) || e == DFI_E_NOMEM))
		goto out;
	/* A tap that failed before it asked the card what it holds (its
	 * history unreadable: the registry, a journal file; its batch row not
	 * the profile's): a report would show a state never read. The reason,
	 * with the error. */
	if (e != DFI_OK && !tp->state_begun && res.detail[0] != '\0') {
		if (asprintf(&buf, "%s", res.detail) < 0)
			buf = NULL;
		*out = buf;
		goto out;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	report(tp, f, e);
	if (fclose(f) != 0) {
		free(buf);
		e = DFI_E_NOMEM;
		goto out;
	}
	*out = buf;
	if (!host_side(e))
		e = DFI_OK;
out:
	dfi_batch_row_free(tp->own);
	perso_tap_free(tp);
	free(tp);
	return e;
}
