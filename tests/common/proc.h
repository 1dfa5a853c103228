/* Child processes and loopback ports for tests that run daemons (pcscd,
 * desfire-sim --vpcd). Header-only, like the rest of tests/common. */
#ifndef DFI_TEST_PROC_H
#define DFI_TEST_PROC_H

#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void
dfi_test_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Can a listener bind port p on every address (as vpcd does)? */
static inline int
dfi_test_port_free(unsigned p)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A port p with p and p+1 free: vpcd listens on both (two slots). */
static inline unsigned
dfi_test_free_port_pair(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t l = sizeof(a);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
		close(fd);
		unsigned p = ntohs(a.sin_port);
		if (p < 65535 && dfi_test_port_free(p) && dfi_test_port_free(p + 1))
			return p;
	}
	ck_abort_msg("no free port pair");
	return 0;
}

/* Starts argv with stdout and stderr in logdir/logname. The child gets
 * SIGKILL when the test process dies, whatever happens to it. */
static inline pid_t
dfi_test_spawn(char *const argv[], const char *logdir, const char *logname)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char path[1024];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(path, sizeof(path), "%s/%s", logdir, logname);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* SIGTERM, up to 5 s of grace, then SIGKILL; *pid becomes -1. */
static inline void
dfi_test_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = -1;
			return;
		}
		dfi_test_sleep_ms(100);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

/* Runs the shell command cmd as "exec CMD" (the shell becomes the command,
 * so the peak is the command's own) and returns its exit status, -1 when
 * a signal ended it; *maxrss_kb: its peak resident set in kB (wait4). */
static inline int
dfi_test_sh_rss(const char *cmd, long *maxrss_kb)
{
	char *full = malloc(strlen(cmd) + 6);
	ck_assert_ptr_nonnull(full);
	snprintf(full, strlen(cmd) + 6, "exec %s", cmd);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	free(full);
	int st;
	struct rusage ru;
	ck_assert_int_eq(wait4(pid, &st, 0, &ru), pid);
	*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
