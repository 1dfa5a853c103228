/*
 * dfissue — error codes shared by every module.
 *
 * Every fallible call returns a dfi_err. DFI_OK is zero; everything else is
 * an error that dfi_strerror() names in one line a user can act on.
 * DESFire card status codes have their own range (DFI_E_DF_*), so a caller
 * can tell "the card said no" from "the host failed".
 */
#ifndef DFISSUE_ERROR_H
#define DFISSUE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* DFI_E_INVALID_ARG is the answer to a call out of contract: a NULL
 * pointer or handle where one is needed, an object of another handle, a
 * number or length outside the range the function's header states. Where
 * the handle keeps a last message (dfi_hsm_last_detail, a journal's
 * opts->detail, a personalization result's detail, a profile's
 * diagnostics) that message says which argument and why. A bare NULL
 * check and a range its header states are not repeated in a message. */
typedef enum dfi_err {
	DFI_OK = 0,

	/* general */
	DFI_E_INVALID_ARG = 1,   /* a caller passed something out of contract */
	DFI_E_NOMEM,             /* allocation or memory locking failed */
	DFI_E_OVERFLOW,          /* a length or count would overflow */
	DFI_E_BUFFER_TOO_SMALL,  /* output buffer too small for the result */
	DFI_E_IO,                /* a read, write or fsync failed */
	DFI_E_PARSE,             /* malformed input (hex, URI, file format) */
	DFI_E_NOT_FOUND,         /* a named thing does not exist */
	DFI_E_UNSUPPORTED,       /* valid but not supported by this build/peer */
	DFI_E_CRYPTO,            /* host-side crypto library failure */
	DFI_E_INTERNAL,          /* a bug: an invariant did not hold */
	DFI_E_CANCELLED,         /* the user or a signal stopped the operation */
	DFI_E_TIMEOUT,           /* a bounded wait ran out */
	DFI_E_PERMISSION,        /* the system refused access (mode, owner, read-only file system) */

	/* HSM / PKCS#11 */
	DFI_E_HSM_MODULE = 100,  /* the PKCS#11 module could not be loaded */
	DFI_E_HSM_URI,           /* malformed pkcs11: URI */
	DFI_E_HSM_TOKEN_NOT_FOUND, /* no token matches the URI / not present */
	DFI_E_HSM_PIN_INCORRECT,
	DFI_E_HSM_PIN_LOCKED,
	DFI_E_HSM_PIN_REQUIRED,  /* no PIN source was given, or the one given holds no PIN we use */
	DFI_E_HSM_NOT_LOGGED_IN,
	DFI_E_HSM_KEY_NOT_FOUND,
	DFI_E_HSM_KEY_AMBIGUOUS, /* the URI matches more than one key */
	DFI_E_HSM_KEY_INSECURE,  /* master key extractable or not sensitive */
	DFI_E_HSM_KEY_TYPE,      /* key of the wrong type for the operation */
	DFI_E_HSM_MECHANISM,     /* mechanism not supported by the token */
	DFI_E_HSM_DEVICE,        /* device error / token removed / session lost */
	DFI_E_HSM_GENERAL,       /* any other CKR_* failure */
	DFI_E_HSM_INIT,          /* the module's C_Initialize refused its arguments */

	/* card, transport and protocol */
	DFI_E_NO_CARD = 200,     /* no card in the field */
	DFI_E_CARD_TORN,         /* card left the field during a command */
	DFI_E_READER,            /* reader unavailable, gone, or daemon down */
	DFI_E_TRANSPORT,         /* any other transport failure */
	DFI_E_CARD_PROTOCOL,     /* a card response is malformed or too short */
	DFI_E_CARD_MAC,          /* a card response MAC/CRC failed verification */
	DFI_E_CARD_AUTH,         /* the card's authentication proof was wrong */
	DFI_E_NOT_AUTHENTICATED, /* a command needs a session that is absent */
	DFI_E_READER_BUSY,       /* another application holds the card (no exclusive access) */
	DFI_E_PCSC_NO_SERVICE,   /* pcscd is not running or its socket cannot be reached */
	DFI_E_UNKNOWN_READER,    /* pcscd knows no reader of that name */

	/* DESFire status codes (SW1=0x91, SW2 as named) */
	DFI_E_DF_NO_CHANGES = 300,         /* 0x0C */
	DFI_E_DF_OUT_OF_EEPROM_ERROR,      /* 0x0E */
	DFI_E_DF_ILLEGAL_COMMAND_CODE,     /* 0x1C */
	DFI_E_DF_INTEGRITY_ERROR,          /* 0x1E */
	DFI_E_DF_NO_SUCH_KEY,              /* 0x40 */
	DFI_E_DF_LENGTH_ERROR,             /* 0x7E */
	DFI_E_DF_PERMISSION_DENIED,        /* 0x9D */
	DFI_E_DF_PARAMETER_ERROR,          /* 0x9E */
	DFI_E_DF_APPLICATION_NOT_FOUND,    /* 0xA0 */
	DFI_E_DF_APPL_INTEGRITY_ERROR,     /* 0xA1 */
	DFI_E_DF_AUTHENTICATION_ERROR,     /* 0xAE */
	DFI_E_DF_BOUNDARY_ERROR,           /* 0xBE */
	DFI_E_DF_PICC_INTEGRITY_ERROR,     /* 0xC1 */
	DFI_E_DF_COMMAND_ABORTED,          /* 0xCA */
	DFI_E_DF_PICC_DISABLED_ERROR,      /* 0xCD */
	DFI_E_DF_COUNT_ERROR,              /* 0xCE */
	DFI_E_DF_DUPLICATE_ERROR,          /* 0xDE */
	DFI_E_DF_EEPROM_ERROR,             /* 0xEE */
	DFI_E_DF_FILE_NOT_FOUND,           /* 0xF0 */
	DFI_E_DF_FILE_INTEGRITY_ERROR,     /* 0xF1 */
	DFI_E_DF_UNKNOWN_STATUS,           /* any other SW1/SW2 */

	/* journal */
	DFI_E_JOURNAL_LOCKED = 400, /* another writer holds the journal */
	DFI_E_JOURNAL_CORRUPT,      /* a covered record failed verification */
	DFI_E_JOURNAL_SIGNATURE,    /* a checkpoint signature did not verify */
	DFI_E_JOURNAL_FORMAT,       /* a record does not follow the grammar */
	DFI_E_JOURNAL_ROLLBACK,     /* journal does not extend a known checkpoint */
	DFI_E_JOURNAL_UNSAFE,       /* journal directory or file open to others, or a symbolic link */

	/* profile and personalization */
	DFI_E_PROFILE = 500,        /* profile or batch invalid */
	DFI_E_UNKNOWN_KEYS,         /* card keys match no candidate: left untouched */
	DFI_E_VERIFY_FAILED,        /* final verification found a difference */
	DFI_E_CARD_CONFLICT,        /* card holds an application/file unlike the profile's (not deleted) */
	DFI_E_REFUSED,              /* card refused: it has not earned keys (journaled, nothing sent) */
	DFI_E_UID_CLAIMED,          /* another reader or station is working on this UID */

	/* registry (a shared database of issuance state and witnessed journals) */
	DFI_E_REGISTRY_UNREACHABLE = 600, /* no connection, or it broke during the call */
	DFI_E_REGISTRY_SCHEMA,      /* the registry's schema is missing or of another version */
	DFI_E_REGISTRY_REFUSED,     /* the registry refused (e.g. a checkpoint that does not extend the witnessed one) */
	DFI_E_REGISTRY,             /* the registry answered with an error */
	DFI_E_REGISTRY_ABANDONED,   /* the caller abandoned the registry (dfi_pgreg_abandon): not sent, or not waited for */
} dfi_err;

/* NULL and unknown values: the one rule every public function follows, so
 * a caller need not read each body (tests/unit/test_contract.c holds every
 * function below to it).
 *  - A function that frees, closes or releases (every dfi_*_free,
 *    dfi_journal_close, dfi_registry_release, dfi_registry_close) accepts
 *    NULL and does nothing.
 *  - A fallible call (it returns dfi_err) given NULL where it needs a
 *    pointer returns DFI_E_INVALID_ARG (above).
 *  - A getter given a NULL handle returns "nothing": 0 for a number, a
 *    count, a flag or an enum (0 names no member unless the enum says),
 *    NULL for a pointer to a structure or an entry looked up by index or
 *    name, "" for a string; a getter that fills the caller's structure
 *    leaves it as it was and one that fills the caller's text buffer writes
 *    "". The few exceptions say so where they are declared
 *    (dfi_desfire_auth_keyno -1, dfi_transport_name "transport",
 *    dfi_registry_backend "none", and pgregistry.h's statistics).
 *  - A name function (dfi_*_name, dfi_strerror, dfi_errname) never returns
 *    NULL: a value outside its enum gives "?", except dfi_strerror ("unknown
 *    error code") and dfi_errname ("DFI_E_UNKNOWN").
 * A string a getter or name function returns is owned by the library: a
 * name function's lives for the whole program, a getter's as long as the
 * handle it came from unless its header says otherwise. */

/* One line naming the error, never NULL, never containing secrets. */
const char *dfi_strerror(dfi_err err);

/* Short symbolic name ("DFI_E_HSM_PIN_INCORRECT"), for logs and JSON. */
const char *dfi_errname(dfi_err err);

/* Maps a DESFire SW2 (with SW1 = 0x91) to its error; 0x00 and 0xAF are not
 * errors and map to DFI_OK. */
dfi_err dfi_err_from_desfire_status(unsigned char sw2);

#ifdef __cplusplus
}
#endif
#endif
