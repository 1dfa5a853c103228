/*
 * The user PIN: from a file (first line), an environment variable, or a
 * prompt on the controlling terminal with echo off. Never from argv. The
 * PIN only ever lives in locked memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "dfissue/util.h"
#include "hsm_internal.h"

/* Reads up to the first newline (or EOF) from fd into buf. */
static dfi_err
read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return DFI_E_IO;
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= cap)
			return DFI_E_OVERFLOW;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return DFI_OK;
}

static dfi_err
pin_from_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DFI_E_NOT_FOUND : DFI_E_IO;
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		fprintf(stderr, "dfissue: WARNING: PIN file '%s' is accessible to group or others "
				"(chmod 600 it)\n", path);
	dfi_err e = read_line(fd, buf, cap, len);
	close(fd);
	return e;
}

static dfi_err
pin_from_tty(char *buf, size_t cap, size_t *len)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return DFI_E_HSM_PIN_REQUIRED;
	struct termios old, quiet;
	int restore = 0;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	static const char prompt[] = "User PIN: ";
	if (write(fd, prompt, sizeof(prompt) - 1) < 0) {
		/* the prompt is a courtesy; reading still works */
	}
	dfi_err e = read_line(fd, buf, cap, len);
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* as above */
	}
	close(fd);
	return e;
}

dfi_err
dfi_hsm_pin_read(const struct dfi_hsm_config *cfg, char **pin, size_t *cap, size_t *len)
{
	char *buf = dfi_secure_alloc(DFI_HSM_PIN_CAP);
	if (buf == NULL)
		return DFI_E_NOMEM;
	dfi_err e;
	const char *envname = cfg->pin_env != NULL ? cfg->pin_env : DFI_HSM_DEFAULT_PIN_ENV;
	const char *env = getenv(envname);
	if (cfg->pin_file != NULL) {
		e = pin_from_file(cfg->pin_file, buf, DFI_HSM_PIN_CAP, len);
	} else if (env != NULL) {
		size_t n = strlen(env);
		if (n + 1 > DFI_HSM_PIN_CAP) {
			e = DFI_E_OVERFLOW;
		} else {
			memcpy(buf, env, n + 1);
			*len = n;
			e = DFI_OK;
		}
	} else if (cfg->allow_prompt) {
		e = pin_from_tty(buf, DFI_HSM_PIN_CAP, len);
	} else {
		e = DFI_E_HSM_PIN_REQUIRED;
	}
	if (e == DFI_OK && *len == 0)
		e = DFI_E_HSM_PIN_REQUIRED;
	if (e != DFI_OK) {
		dfi_secure_free(buf, DFI_HSM_PIN_CAP);
		return e;
	}
	*pin = buf;
	*cap = DFI_HSM_PIN_CAP;
	return DFI_OK;
}
