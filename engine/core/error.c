/* dfi_strerror(): one table, so a new code cannot be added without a message. */
#include <stddef.h>

#include "dfissue/error.h"
#include "core/nelem.h"

struct errdesc {
	dfi_err code;
	const char *name;
	const char *msg;
};

#define E(c, m) { c, #c, m }
static const struct errdesc errtab[] = {
	E(DFI_OK, "success"),
	E(DFI_E_INVALID_ARG, "invalid argument"),
	E(DFI_E_NOMEM, "out of memory (or memory could not be locked)"),
	E(DFI_E_OVERFLOW, "length or count overflow"),
	E(DFI_E_BUFFER_TOO_SMALL, "output buffer too small"),
	E(DFI_E_IO, "input/output error"),
	E(DFI_E_PARSE, "malformed input"),
	E(DFI_E_NOT_FOUND, "not found"),
	E(DFI_E_UNSUPPORTED, "not supported"),
	E(DFI_E_CRYPTO, "host cryptographic library failure"),
	E(DFI_E_INTERNAL, "internal error (a bug: please report it)"),
	E(DFI_E_CANCELLED, "operation cancelled"),
	E(DFI_E_TIMEOUT, "timed out"),
	E(DFI_E_PERMISSION, "permission denied by the system (file mode, owner or a read-only file system)"),

	E(DFI_E_HSM_MODULE, "PKCS#11 module could not be loaded: check the module path or p11-kit module name"),
	E(DFI_E_HSM_URI, "malformed pkcs11: URI (RFC 7512)"),
	E(DFI_E_HSM_TOKEN_NOT_FOUND, "no token matches the URI: check the token label and that the HSM is connected"),
	E(DFI_E_HSM_PIN_INCORRECT, "PIN incorrect: check the PIN file or variable (repeated failures lock the token)"),
	E(DFI_E_HSM_PIN_LOCKED, "PIN locked: the security officer must unlock the token"),
	E(DFI_E_HSM_PIN_REQUIRED, "PIN required: give --pin-file, set DFISSUE_PIN, or run on a terminal to be prompted"),
	E(DFI_E_HSM_NOT_LOGGED_IN, "not logged in to the token: check the PIN source and retry"),
	E(DFI_E_HSM_KEY_NOT_FOUND, "no key matches the URI: check label/id with 'dfissue key list'"),
	E(DFI_E_HSM_KEY_AMBIGUOUS, "the URI matches more than one key: add id= or object= to select one"),
	E(DFI_E_HSM_KEY_INSECURE, "key is extractable or not sensitive (or, a journal key, was once): refused (--allow-insecure-keys only for throwaway test tokens)"),
	E(DFI_E_HSM_KEY_TYPE, "key has the wrong type or usage for this operation: check it with 'dfissue key list'"),
	E(DFI_E_HSM_MECHANISM, "the token does not support a required mechanism: see SECURITY.md for the mechanisms dfissue needs"),
	E(DFI_E_HSM_DEVICE, "HSM device error, token removed or session lost: check the HSM and retry"),
	E(DFI_E_HSM_GENERAL, "PKCS#11 call failed: the detail names the call and its return value"),
	E(DFI_E_HSM_INIT, "the PKCS#11 module refused its initialization arguments (C_Initialize): give them as x-init-reserved in a p11-kit module file (--module FILE.module, docs/OPERATIONS.md)"),

	E(DFI_E_NO_CARD, "no card in the reader"),
	E(DFI_E_CARD_TORN, "card left the field during a command (torn)"),
	E(DFI_E_READER, "reader unavailable (unplugged, or the PC/SC daemon is not running)"),
	E(DFI_E_TRANSPORT, "transport failure"),
	E(DFI_E_CARD_PROTOCOL, "malformed or truncated card response"),
	E(DFI_E_CARD_MAC, "card response failed MAC/CRC verification"),
	E(DFI_E_CARD_AUTH, "card authentication proof did not match (wrong key?)"),
	E(DFI_E_NOT_AUTHENTICATED, "command needs an authenticated session"),
	E(DFI_E_READER_BUSY, "another application is using the card: close it (personalization needs exclusive access)"),
	E(DFI_E_PCSC_NO_SERVICE, "cannot reach pcscd (the PC/SC daemon): start it ('systemctl start pcscd.socket', or 'pcscd')"),
	E(DFI_E_UNKNOWN_READER, "pcscd knows no reader of that name: check it with 'dfissue readers'"),

	E(DFI_E_DF_NO_CHANGES, "card: NO_CHANGES (0x0C)"),
	E(DFI_E_DF_OUT_OF_EEPROM_ERROR, "card: OUT_OF_EEPROM_ERROR (0x0E): not enough memory"),
	E(DFI_E_DF_ILLEGAL_COMMAND_CODE, "card: ILLEGAL_COMMAND_CODE (0x1C): command not supported"),
	E(DFI_E_DF_INTEGRITY_ERROR, "card: INTEGRITY_ERROR (0x1E): CRC or MAC does not match"),
	E(DFI_E_DF_NO_SUCH_KEY, "card: NO_SUCH_KEY (0x40): invalid key number"),
	E(DFI_E_DF_LENGTH_ERROR, "card: LENGTH_ERROR (0x7E): command length wrong"),
	E(DFI_E_DF_PERMISSION_DENIED, "card: PERMISSION_DENIED (0x9D): not allowed by key settings or access rights"),
	E(DFI_E_DF_PARAMETER_ERROR, "card: PARAMETER_ERROR (0x9E): invalid parameter"),
	E(DFI_E_DF_APPLICATION_NOT_FOUND, "card: APPLICATION_NOT_FOUND (0xA0)"),
	E(DFI_E_DF_APPL_INTEGRITY_ERROR, "card: APPL_INTEGRITY_ERROR (0xA1)"),
	E(DFI_E_DF_AUTHENTICATION_ERROR, "card: AUTHENTICATION_ERROR (0xAE): wrong key or not authenticated"),
	E(DFI_E_DF_BOUNDARY_ERROR, "card: BOUNDARY_ERROR (0xBE): beyond file or value limits"),
	E(DFI_E_DF_PICC_INTEGRITY_ERROR, "card: PICC_INTEGRITY_ERROR (0xC1)"),
	E(DFI_E_DF_COMMAND_ABORTED, "card: COMMAND_ABORTED (0xCA): previous command not fully completed"),
	E(DFI_E_DF_PICC_DISABLED_ERROR, "card: PICC_DISABLED_ERROR (0xCD)"),
	E(DFI_E_DF_COUNT_ERROR, "card: COUNT_ERROR (0xCE): application limit reached"),
	E(DFI_E_DF_DUPLICATE_ERROR, "card: DUPLICATE_ERROR (0xDE): application or file already exists"),
	E(DFI_E_DF_EEPROM_ERROR, "card: EEPROM_ERROR (0xEE)"),
	E(DFI_E_DF_FILE_NOT_FOUND, "card: FILE_NOT_FOUND (0xF0)"),
	E(DFI_E_DF_FILE_INTEGRITY_ERROR, "card: FILE_INTEGRITY_ERROR (0xF1)"),
	E(DFI_E_DF_UNKNOWN_STATUS, "card: unknown status word"),

	E(DFI_E_JOURNAL_LOCKED, "journal is locked: another dfissue process (a station still running?) holds it: stop it, or give this station its own --journal"),
	E(DFI_E_JOURNAL_CORRUPT, "journal corrupt: a covered record failed verification (nothing was repaired)"),
	E(DFI_E_JOURNAL_SIGNATURE, "journal checkpoint signature does not verify"),
	E(DFI_E_JOURNAL_FORMAT, "journal record does not follow the format"),
	E(DFI_E_JOURNAL_ROLLBACK, "journal does not extend the known checkpoint (truncated or rolled back)"),
	E(DFI_E_JOURNAL_UNSAFE, "journal directory or file is unsafe: writable or owned by another user, or a symbolic link"),

	E(DFI_E_PROFILE, "profile or batch data invalid"),
	E(DFI_E_UNKNOWN_KEYS, "card keys match no candidate key: card left untouched"),
	E(DFI_E_VERIFY_FAILED, "final verification found a difference from the profile"),
	E(DFI_E_CARD_CONFLICT, "the card holds an application or file that differs from the profile (never deleted automatically)"),
	E(DFI_E_REFUSED, "card refused: it has not earned keys (nothing was sent; the journal records the refusal)"),
	E(DFI_E_UID_CLAIMED, "another reader or station is working on this card UID: present the card again when it is done"),
	E(DFI_E_REGISTRY_UNREACHABLE, "the registry cannot be reached (no connection, or it broke during the call)"),
	E(DFI_E_REGISTRY_SCHEMA, "the registry's schema is missing or of another version (run 'dfissue registry init URL')"),
	E(DFI_E_REGISTRY_REFUSED, "the registry refused the request"),
	E(DFI_E_REGISTRY, "the registry answered with an error"),
	E(DFI_E_REGISTRY_ABANDONED, "the registry was abandoned (nothing more is sent to it)"),
};
#undef E

static const struct errdesc *
lookup(dfi_err err)
{
	for (size_t i = 0; i < DFI_NELEM(errtab); i++)
		if (errtab[i].code == err)
			return &errtab[i];
	return NULL;
}

const char *
dfi_strerror(dfi_err err)
{
	const struct errdesc *d = lookup(err);
	return d ? d->msg : "unknown error code";
}

const char *
dfi_errname(dfi_err err)
{
	const struct errdesc *d = lookup(err);
	return d ? d->name : "DFI_E_UNKNOWN";
}

dfi_err
dfi_err_from_desfire_status(unsigned char sw2)
{
	static const struct {
		unsigned char sw2;
		dfi_err err;
	} map[] = {
		{ 0x00, DFI_OK },
		{ 0xAF, DFI_OK },
		{ 0x0C, DFI_E_DF_NO_CHANGES },
		{ 0x0E, DFI_E_DF_OUT_OF_EEPROM_ERROR },
		{ 0x1C, DFI_E_DF_ILLEGAL_COMMAND_CODE },
		{ 0x1E, DFI_E_DF_INTEGRITY_ERROR },
		{ 0x40, DFI_E_DF_NO_SUCH_KEY },
		{ 0x7E, DFI_E_DF_LENGTH_ERROR },
		{ 0x9D, DFI_E_DF_PERMISSION_DENIED },
		{ 0x9E, DFI_E_DF_PARAMETER_ERROR },
		{ 0xA0, DFI_E_DF_APPLICATION_NOT_FOUND },
		{ 0xA1, DFI_E_DF_APPL_INTEGRITY_ERROR },
		{ 0xAE, DFI_E_DF_AUTHENTICATION_ERROR },
		{ 0xBE, DFI_E_DF_BOUNDARY_ERROR },
		{ 0xC1, DFI_E_DF_PICC_INTEGRITY_ERROR },
		{ 0xCA, DFI_E_DF_COMMAND_ABORTED },
		{ 0xCD, DFI_E_DF_PICC_DISABLED_ERROR },
		{ 0xCE, DFI_E_DF_COUNT_ERROR },
		{ 0xDE, DFI_E_DF_DUPLICATE_ERROR },
		{ 0xEE, DFI_E_DF_EEPROM_ERROR },
		{ 0xF0, DFI_E_DF_FILE_NOT_FOUND },
		{ 0xF1, DFI_E_DF_FILE_INTEGRITY_ERROR },
	};
	for (size_t i = 0; i < DFI_NELEM(map); i++)
		if (map[i].sw2 == sw2)
			return map[i].err;
	return DFI_E_DF_UNKNOWN_STATUS;
}
