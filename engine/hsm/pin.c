/*
 * The user PIN: from a file (first line), an environment variable, or a
 * prompt on the controlling terminal with echo off. Never from argv. The
 * PIN only ever lives in locked memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/secfile.h"
#include "core/tty.h"
#include "dfissue/util.h"
#include "hsm_int.h"

/* Reads up to the first newline (or EOF) from fd into buf. */
static dfi_err
read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = dfi_read_byte(fd, &c);
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

/* The PIN file passes the checks of every secret file (core/secfile.h).
 * A file we refuse is DFI_E_HSM_PIN_REQUIRED: it holds no PIN we use. Its
 * size bound leaves room for a CR and a second line; the first line is
 * what is bounded, by cap. */
static const struct dfi_secfile_kind pin_file_kind = {
	.what = "PIN file",
	.put = "the PIN",
	.holds = "the PIN on one line",
	.max = 2ULL * DFI_HSM_PIN_CAP,
	.shown_max = DFI_HSM_PIN_CAP - 1,
	.refused = DFI_E_HSM_PIN_REQUIRED,
};

static dfi_err
pin_from_file(const char *path, char *buf, size_t cap, size_t *len, char *why, size_t whycap)
{
	int fd;
	dfi_err e = dfi_secfile_open(&pin_file_kind, path, &fd, why, whycap);
	if (e != DFI_OK)
		return e;
	e = read_line(fd, buf, cap, len);
	if (e == DFI_E_OVERFLOW) {
		snprintf(why, whycap, "PIN file '%s': the first line is longer than %zu bytes", path,
		    cap - 1);
		e = DFI_E_HSM_PIN_REQUIRED;
	} else if (e == DFI_E_IO)
		snprintf(why, whycap, "cannot read PIN file '%s': %s", path, strerror(errno));
	close(fd);
	return e;
}

static dfi_err
pin_from_tty(char *buf, size_t cap, size_t *len)
{
	struct dfi_tty_quiet t;
	if (dfi_tty_quiet_open(&t, "User PIN: ") != 0)
		return DFI_E_HSM_PIN_REQUIRED;
	dfi_err e = read_line(t.fd, buf, cap, len);
	dfi_tty_quiet_close(&t);
	return e;
}

dfi_err
dfi_hsm_pin_read(const struct dfi_hsm_config *cfg, char **pin, size_t *cap, size_t *len, char *why,
    size_t whycap)
{
	why[0] = '\0';
	char *buf = dfi_secure_alloc(DFI_HSM_PIN_CAP);
	if (buf == NULL)
		return DFI_E_NOMEM;
	dfi_err e;
	/* why names the source that was used and what to do about it: the
	 * generic advice (error.c) is left for when no source was given. */
	const char *envname = cfg->pin_env != NULL ? cfg->pin_env : DFI_HSM_DEFAULT_PIN_ENV;
	const char *env = getenv(envname);
	if (cfg->pin_file != NULL) {
		e = pin_from_file(cfg->pin_file, buf, DFI_HSM_PIN_CAP, len, why, whycap);
		if (e == DFI_OK && *len == 0)
			snprintf(why, whycap, "PIN file '%s' is empty: put the PIN on its first "
			    "line", cfg->pin_file);
	} else if (env != NULL) {
		size_t n = strlen(env);
		if (n + 1 > DFI_HSM_PIN_CAP) {
			snprintf(why, whycap, "the PIN in %s is longer than %d bytes: check the "
			    "variable", envname, DFI_HSM_PIN_CAP - 1);
			e = DFI_E_OVERFLOW;
		} else {
			memcpy(buf, env, n + 1);
			*len = n;
			e = DFI_OK;
		}
		if (e == DFI_OK && n == 0)
			snprintf(why, whycap, "%s is set but empty: put the PIN in it", envname);
	} else if (cfg->pin_env != NULL) {
		/* The user named the variable: its absence is a mistake to report
		 * (a typo, a service unit without the Environment= line), not a
		 * reason to fall back to a prompt that a station may never answer. */
		snprintf(why, whycap, "the PIN variable %s is not set: export it, or give a "
		    "PIN file instead", cfg->pin_env);
		e = DFI_E_HSM_PIN_REQUIRED;
	} else if (cfg->allow_prompt) {
		e = pin_from_tty(buf, DFI_HSM_PIN_CAP, len);
		if (e == DFI_E_HSM_PIN_REQUIRED)
			snprintf(why, whycap, "no terminal to prompt for the PIN on: give "
			    "--pin-file or set %s", envname);
		else if (e == DFI_OK && *len == 0)
			snprintf(why, whycap, "no PIN was typed at the prompt: type the user PIN");
		else if (e == DFI_E_OVERFLOW)
			snprintf(why, whycap, "the PIN typed at the prompt is longer than %d bytes",
			    DFI_HSM_PIN_CAP - 1);
		else if (e != DFI_OK)
			snprintf(why, whycap, "cannot read the PIN from the terminal: give "
			    "--pin-file or set %s", envname);
	} else {
		/* no source at all: the error's own advice */
		snprintf(why, whycap, "%s", dfi_strerror(DFI_E_HSM_PIN_REQUIRED));
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
