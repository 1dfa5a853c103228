/* Reader specs and profile loading for the personalization subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dfissue/pcsc.h"
#include "dfissue/perso.h"
#include "perso_cli.h"

const char cli_reader_help[] =
    "  --reader pcsc:NAME     a PC/SC reader, named as 'dfissue readers' lists it\n"
    "  --reader sim:IMAGE     the card simulator in this process on IMAGE (created in\n"
    "                         factory state if absent; the state persists in IMAGE)\n";

/* 'p' for pcsc:NAME, 's' for sim:IMAGE, 0 for anything else. */
static int
spec_kind(const char *spec)
{
	if (strncmp(spec, "pcsc:", 5) == 0 && spec[5] != '\0')
		return 'p';
	if (strncmp(spec, "sim:", 4) == 0 && spec[4] != '\0')
		return 's';
	return 0;
}

int
cli_reader_form_check(const char *where, const char *spec)
{
	if (spec_kind(spec) != 0)
		return DFI_EXIT_OK;
	return cli_usagef("%s '%s': expected pcsc:NAME or sim:IMAGE", where, spec);
}

int
cli_reader_spec_check(const char *cmd, const char *spec)
{
	char where[128];
	if (spec == NULL)
		return cli_usagef("%s: --reader is required (pcsc:NAME or sim:IMAGE)", cmd);
	snprintf(where, sizeof(where), "%s: --reader", cmd);
	return cli_reader_form_check(where, spec);
}

int
cli_reader_check(const char *cmd, const char *spec)
{
	int rc = cli_reader_spec_check(cmd, spec);
	if (rc != DFI_EXIT_OK || spec_kind(spec) != 'p')
		return rc;
	/* A typo or pcscd down is said now, with the readers there are or
	 * how to start pcscd, not after a wait for a card that cannot come. */
	return cli_pcsc_check_reader(cmd, spec + 5);
}

int
cli_reader_open(struct cli_reader *r, const char *spec, unsigned tear_at,
    enum dfi_sim_tear_mode tear_mode)
{
	dfi_err e;

	memset(r, 0, sizeof(*r));
	r->spec = spec;
	if (spec == NULL)
		return cli_usagef("--reader is required (pcsc:NAME or sim:IMAGE)");
	if (spec_kind(spec) == 'p') {
		if (tear_at > 0)
			return cli_usagef("--tear-at works with a sim: reader only");
		e = dfi_pcsc_transport_new(&r->t, spec + 5);
		if (e != DFI_OK)
			return cli_fail(spec, e);
		return DFI_EXIT_OK;
	}
	if (spec_kind(spec) == 's') {
		struct dfi_sim_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.image = spec + 4;
		e = dfi_sim_new(&r->sim, &cfg);
		if (e != DFI_OK)
			return cli_fail(spec, e);
		e = dfi_sim_transport_new(r->sim, &r->t);
		if (e == DFI_OK && tear_at > 0)
			e = dfi_sim_set_tear(r->sim, tear_at, tear_mode);
		if (e != DFI_OK) {
			cli_reader_close(r);
			return cli_fail(spec, e);
		}
		return DFI_EXIT_OK;
	}
	return cli_reader_spec_check("reader", spec);
}

void
cli_reader_close(struct cli_reader *r)
{
	dfi_transport_free(r->t);
	dfi_sim_free(r->sim);
	r->t = NULL;
	r->sim = NULL;
}

int
cli_profile_open(const char *profile_path, const char *batch_path, dfi_profile **p, dfi_batch **b)
{
	struct dfi_diag diag;
	dfi_err e;

	*p = NULL;
	*b = NULL;
	memset(&diag, 0, sizeof(diag));
	if (profile_path == NULL)
		return cli_usagef("--profile is required");
	e = dfi_profile_load(p, profile_path, &diag);
	if (e != DFI_OK) {
		if (e == DFI_E_PROFILE || diag.message[0] != '\0')
			cli_errorf("%s", diag.message);
		else
			cli_fail(profile_path, e);
		return DFI_EXIT_FAIL;
	}
	int rc = DFI_EXIT_OK;
	if (batch_path == NULL && dfi_profile_needs_batch(*p)) {
		cli_errorf("profile '%s' uses batch fields (first: %s): give --batch FILE",
		    profile_path, dfi_profile_field_name(*p, 0));
		rc = DFI_EXIT_USAGE;
	} else if (batch_path != NULL && (e = dfi_batch_open(b, batch_path, &diag)) != DFI_OK) {
		cli_errorf("%s", diag.message[0] ? diag.message : dfi_strerror(e));
		rc = DFI_EXIT_FAIL;
	}
	if (rc != DFI_EXIT_OK) { /* nothing stays open on failure */
		dfi_profile_free(*p);
		*p = NULL;
	}
	return rc;
}

dfi_err
cli_perso_check(dfi_hsm *h, const dfi_profile *prof, const char *station,
    const char *originality_keys, char *detail, size_t cap)
{
	dfi_perso *chk = NULL;
	struct dfi_perso_config pc = { .hsm = h, .journal = NULL, .profile = prof,
		.station = station, .detail = detail, .detail_cap = cap,
		.originality_keys = originality_keys };
	dfi_err e = dfi_perso_new(&chk, &pc);
	dfi_perso_free(chk);
	return e;
}

void
perso_cli_json_extra(json_t *obj, const struct dfi_perso_result *res)
{
	if (res->outcome == DFI_PERSO_REFUSED) {
		const char *c = dfi_jcause_name(res->refusal_cause);
		json_object_set_new(obj, "refusal_cause", json_string(c != NULL ? c : "?"));
		json_object_set_new(obj, "refusal_record", json_integer((json_int_t)res->refusal_seq));
	}
	if (res->authorization_seq != 0)
		json_object_set_new(obj, "authorization_record",
		    json_integer((json_int_t)res->authorization_seq));
	if (res->originality[0] != '\0')
		json_object_set_new(obj, "originality", json_string(res->originality));
}

void
cli_result_merge(struct dfi_perso_result *acc, const struct dfi_perso_result *tap, int first)
{
	if (first) {
		*acc = *tap;
		return;
	}
	struct dfi_perso_result sum = *tap;
	sum.steps_total = acc->steps_done + tap->steps_total;
	sum.steps_done = acc->steps_done + tap->steps_done;
	sum.key_changes = acc->key_changes + tap->key_changes;
	sum.intents_resolved = acc->intents_resolved + tap->intents_resolved;
	sum.apdus = acc->apdus + tap->apdus;
	if (tap->authorization_seq == 0)
		sum.authorization_seq = acc->authorization_seq; /* journaled on an earlier tap */
	if (tap->uid_len == 0) {
		memcpy(sum.uid, acc->uid, sizeof(sum.uid));
		sum.uid_len = acc->uid_len;
	}
	*acc = sum;
}
