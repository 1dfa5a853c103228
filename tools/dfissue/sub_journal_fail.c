/* The run's line when personalization stopped on the journal: the journal's
 * own account (which file or key, the reason, what to do) instead of the
 * bare error code, whose text is start-up advice ("check label/id") or
 * says nothing ("input/output error"). */
#include "cli.h"
#include "dfissue/journal.h"

int
cli_journal_fail(struct dfi_journal *j, dfi_err e, const char *token)
{
	struct dfi_journal_failure f;
	if (j == NULL || dfi_journal_last_failure(j, &f) != DFI_OK || f.kind == DFI_JFAIL_NONE ||
	    f.code != e)
		return cli_fail("journal", e);
	/* The journal holds only a signer; which token it is on, the CLI
	 * knows: an operator with several HSMs needs the one to bring back. */
	char on[80] = "";
	if (f.kind == DFI_JFAIL_SIGNER && token != NULL && token[0] != '\0')
		snprintf(on, sizeof(on), " (token '%s')", token);
	cli_error_code_of(e);
	cli_errorf("%s%s: nothing more is sent to any card; %s, then run personalize again on this "
	    "journal (each card's line says what it holds)", f.what, on, f.todo);
	return DFI_EXIT_FAIL;
}
