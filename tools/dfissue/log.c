/* Leveled one-line logging to stderr, with journald priority prefixes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "status.h"
#include "termtext.h"

/* The CLI is one process with one stderr: its log settings are process
 * state, set once by main() and the option parser before threads start. */
static int g_level = CLI_LOG_INFO;
static int g_journal;

void
cli_log_init(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected;
	 * a redirected stderr (2>file) no longer matches and gets plain lines. */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	g_journal = 0;
	if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		g_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *const names[] = { [CLI_LOG_ERR] = "error", [CLI_LOG_WARNING] = "warning",
	[CLI_LOG_NOTICE] = "notice", [CLI_LOG_INFO] = "info", [CLI_LOG_DEBUG] = "debug" };

int
cli_log_set_level(const char *name)
{
	for (int l = CLI_LOG_ERR; l <= CLI_LOG_DEBUG; l++)
		if (strcmp(name, names[l]) == 0) {
			g_level = l;
			return 0;
		}
	return -1;
}

void
cli_log_adjust(int delta)
{
	int l = g_level + delta;
	g_level = l < CLI_LOG_ERR ? CLI_LOG_ERR : l > CLI_LOG_DEBUG ? CLI_LOG_DEBUG : l;
}

void
cli_log_quiet(void)
{
	/* -q promises warnings and errors only: "created journal" and the
	 * run's summary are notices, and the exit status and --json carry
	 * the result. Never more verbose than a level already chosen. */
	if (g_level > CLI_LOG_WARNING)
		g_level = CLI_LOG_WARNING;
}

int
cli_log_level(void)
{
	return g_level;
}

int
cli_log_enabled(int level)
{
	return level <= g_level;
}

int
cli_log_to_journal(void)
{
	return g_journal;
}

/* The line goes out in its terminal form (termtext.h): errors echo texts
 * of journals, registry rows, cards and the registry server, untrusted,
 * and one with a newline would forge a line of its own (under journald,
 * with a priority of its choosing) or drive the terminal. */
void
cli_log_line(int level, const char *line)
{
	char buf[CLI_TT_LINE + 16], tt[CLI_TT_LINE];
	if (!cli_log_enabled(level))
		return;
	cli_tt(tt, sizeof(tt), line);
	if (g_journal)
		snprintf(buf, sizeof(buf), "<%d>%s\n", level, tt);
	else
		snprintf(buf, sizeof(buf), "%s\n", tt);
	/* One write per line, and the live status block (if any) is taken
	 * down and redrawn around it: threads never interleave. */
	cli_status_lock();
	cli_status_erase();
	fputs(buf, stderr);
	fflush(stderr);
	cli_status_draw();
	cli_status_unlock();
}

void
cli_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!cli_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cli_log_line(level, line);
}

void
cli_engine_log(void *ctx, dfi_log_level level, const char *msg)
{
	(void)ctx;
	switch (level) {
	case DFI_LOG_ERROR: cli_log(CLI_LOG_ERR, "dfissue: ERROR: %s", msg); break;
	case DFI_LOG_WARNING: cli_log(CLI_LOG_WARNING, "dfissue: WARNING: %s", msg); break;
	case DFI_LOG_INFO: cli_log(CLI_LOG_INFO, "%s", msg); break;
	default: cli_log(CLI_LOG_DEBUG, "%s", msg); break;
	}
}
