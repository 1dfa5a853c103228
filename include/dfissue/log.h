/*
 * dfissue/log.h: the library's messages for a person, through a handler.
 *
 * libdfissue never writes to stderr or anywhere else on its own. Some of
 * what it does deserves a person's attention without being an error: a
 * master key accepted although it is extractable (a test token), a journal
 * key that is not sensitive. A program that wants these messages gives
 * each handle that has them a handler (struct dfi_hsm_config.log today);
 * without one they are dropped. The dfissue CLI prints them through its
 * own log (levels, systemd journal priorities).
 *
 * Messages are one line, without a trailing newline, at most
 * DFI_LOG_MAX - 1 bytes (longer ones are cut), and never hold a secret
 * (no PIN, no key bytes): they may name files, tokens and key labels.
 */
#ifndef DFISSUE_LOG_H
#define DFISSUE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

#define DFI_LOG_MAX 512

/* Severity, most severe first. */
typedef enum dfi_log_level {
	DFI_LOG_ERROR = 0,
	DFI_LOG_WARNING = 1,
	DFI_LOG_INFO = 2,
	DFI_LOG_DEBUG = 3,
} dfi_log_level;

/* Called on the thread that has the message, possibly several threads at
 * once for one handle: the handler serializes its output itself. msg is
 * valid only during the call. */
typedef void (*dfi_log_fn)(void *ctx, dfi_log_level level, const char *msg);

/* "error", "warning", "info", "debug"; "?" for any other value. Static
 * storage, never NULL. */
const char *dfi_log_level_name(dfi_log_level level);

#ifdef __cplusplus
}
#endif

#endif
