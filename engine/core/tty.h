/*
 * tty.h: a secret typed on the controlling terminal.
 *
 * The user PIN (hsm/pin.c) and the key ceremony's components (the CLI's
 * key import) are both typed at /dev/tty after a prompt with echo off,
 * and the terminal must get its echo back however the read ends; one
 * place keeps that the same for both. Reading the line is each caller's:
 * a PIN is its first line as typed, a component hex across white space.
 */
#ifndef DFI_CORE_TTY_H
#define DFI_CORE_TTY_H

#include <sys/types.h>
#include <termios.h>

struct dfi_tty_quiet {
	int fd;            /* /dev/tty: read the secret from here */
	int restore;       /* echo was turned off: old is to be put back */
	struct termios old;
};

/* Opens /dev/tty (never stdin, which a pipe may feed), turns its echo off
 * and writes prompt there. 0, or -1 when the process has no terminal. */
int dfi_tty_quiet_open(struct dfi_tty_quiet *t, const char *prompt);
/* Puts the echo back, ends the prompt's line and closes the terminal. */
void dfi_tty_quiet_close(struct dfi_tty_quiet *t);
/* One byte from fd into *c, again after EINTR: 1, 0 at the end, -1 on an
 * error (errno set). Secrets are read a byte at a time so that nothing
 * past their line is taken from the terminal or file. */
ssize_t dfi_read_byte(int fd, char *c);

#endif
