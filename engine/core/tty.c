/* A secret typed on the controlling terminal (tty.h). */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int
dfi_tty_quiet_open(struct dfi_tty_quiet *t, const char *prompt)
{
	t->restore = 0;
	t->fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (t->fd < 0)
		return -1;
	if (tcgetattr(t->fd, &t->old) == 0) {
		struct termios quiet = t->old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		t->restore = tcsetattr(t->fd, TCSAFLUSH, &quiet) == 0;
	}
	if (write(t->fd, prompt, strlen(prompt)) < 0) {
		/* the prompt is a courtesy; reading still works */
	}
	return 0;
}

void
dfi_tty_quiet_close(struct dfi_tty_quiet *t)
{
	if (t->restore)
		tcsetattr(t->fd, TCSAFLUSH, &t->old);
	if (write(t->fd, "\n", 1) < 0) {
		/* as above */
	}
	close(t->fd);
	t->fd = -1;
}

ssize_t
dfi_read_byte(int fd, char *c)
{
	ssize_t r;
	do
		r = read(fd, c, 1);
	while (r < 0 && errno == EINTR);
	return r;
}
