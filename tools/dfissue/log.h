/*
 * dfissue CLI logging: levels, stderr, and the systemd journal.
 *
 * Every line goes to stderr as one write. When stderr is connected to the
 * systemd journal (JOURNAL_STREAM names stderr's device and inode, as
 * systemd sets it for StandardError=journal, the default for services),
 * each line starts with "<N>", the syslog priority, which journald parses
 * (sd-daemon(3)); no library is needed for it and the same binary logs
 * the same way under a terminal, a pipe or a service. Lines never carry
 * secrets: PINs and keys never reach the CLI's strings.
 *
 * Levels (syslog numbering): error 3, warning 4, notice 5, info 6 (the
 * default), debug 7 (the engine's per-step lines).
 */
#ifndef DFISSUE_CLI_LOG_H
#define DFISSUE_CLI_LOG_H

#include "dfissue/log.h"

enum { CLI_LOG_ERR = 3, CLI_LOG_WARNING = 4, CLI_LOG_NOTICE = 5, CLI_LOG_INFO = 6, CLI_LOG_DEBUG = 7 };

/* Reads JOURNAL_STREAM once (main() calls it first). */
void cli_log_init(void);
/* Sets the level by name (error, warning, notice, info, debug); -1 when
 * the name is none of them. */
int cli_log_set_level(const char *name);
/* -v (+1): one level more verbose, within bounds. */
void cli_log_adjust(int delta);
/* -q: the warning level (errors and warnings only), or the level already
 * set when it is quieter. */
void cli_log_quiet(void);
int cli_log_level(void);
int cli_log_enabled(int level);
/* 1 when lines carry "<N>" prefixes for journald. */
int cli_log_to_journal(void);
/* One line (no trailing newline in fmt), when level is enabled, written
 * in its terminal form (termtext.h: a newline in it shows as \x0A). */
void cli_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a ready line. */
void cli_log_line(int level, const char *line);
/* The library's log handler (dfissue/log.h): its messages as the CLI's
 * own lines ("dfissue: WARNING: ..." for warnings), at the matching level.
 * ctx is unused. */
void cli_engine_log(void *ctx, dfi_log_level level, const char *msg);

#endif
