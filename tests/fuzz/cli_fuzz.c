/* What the CLI's harnesses share (cli_fuzz.h). */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fuzz.h"
#include "dfissue/cli.h"

static char last[1000];

const char *
shim_last_error(void)
{
	return last;
}

void
shim_clear(void)
{
	last[0] = '\0';
}

__attribute__((format(printf, 1, 0))) static void
keep(const char *fmt, va_list ap)
{
	vsnprintf(last, sizeof(last), fmt, ap);
}

void
cli_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keep(fmt, ap);
	va_end(ap);
}

int
cli_usagef(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keep(fmt, ap);
	va_end(ap);
	return DFI_EXIT_USAGE;
}

void
cli_error_code_of(dfi_err e)
{
	(void)e;
}

int
cli_fail(const char *what, dfi_err e)
{
	cli_errorf("%s: %s", what, dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

int
cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static char dir[64];

static void
remove_dir(void)
{
	DIR *d = opendir(dir);
	char p[sizeof(dir) + 256];
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

const char *
cli_fuzz_dir(void)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/fuzz-cli-XXXXXX",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(remove_dir); /* libFuzzer exits normally at -max_total_time */
	}
	return dir;
}

void
cli_fuzz_fail(const char *harness, const char *why)
{
	fprintf(stderr, "%s: %s\n", harness, why);
	__builtin_trap();
}
