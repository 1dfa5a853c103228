/* A private PostgreSQL cluster for a test: initdb + pg_ctl in a temp dir,
 * Unix socket only (listen_addresses = ''), every wait bounded, and torn
 * down even when the test crashes. Header-only, like the rest of
 * tests/common; tests/common/pgfix_main.c wraps it as a command for shell
 * tests (`pgfix run -- CMD...`).
 *
 *   struct dfi_pg pg;
 *   if (dfi_pg_setup(&pg, NULL) != 0) ...    initdb, start, watchdog
 *   pg.url                                   admin URL, no password in it
 *   pg.passfile                              libpq password file (0600):
 *                                            setenv("PGPASSFILE", ...)
 *   dfi_pg_stop(&pg) / dfi_pg_start(&pg)     stop (fast) and start again
 *   dfi_pg_signal_all(&pg, SIGSTOP)          freeze the whole cluster (a
 *                                            host that stops answering);
 *                                            SIGCONT thaws it (a stop
 *                                            thaws it first)
 *   dfi_pg_teardown(&pg)                     stop, remove everything
 *
 * Debian's server binaries (/usr/lib/postgresql/VERSION/bin, or
 * $DFI_PG_BINDIR) refuse to run as root: as root, initdb, pg_ctl and the
 * server run as the unprivileged `postgres` user (else `nobody`), switched
 * to in the child before exec (setgroups/setgid/setuid). Nothing in /etc
 * or in the system's clusters is touched.
 *
 * Crash safety: setup forks a watchdog (own session, so a kill of the
 * test's process group spares it) blocked reading a pipe whose write end
 * only the test process holds (close-on-exec). When the test process dies
 * in any way the read returns EOF and the watchdog stops the server
 * (`pg_ctl stop -m immediate`, then SIGKILL of the postmaster) and removes
 * the directory. A normal teardown tells it to just exit. */
#ifndef DFI_TEST_PGFIX_H
#define DFI_TEST_PGFIX_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct dfi_pg {
	char dir[PATH_MAX];      /* the fixture: data/, sock/, server.log, pgpass */
	char data[PATH_MAX + 8];
	char sock[PATH_MAX + 8];
	char log[PATH_MAX + 16];
	char passfile[PATH_MAX + 8];
	char bindir[PATH_MAX];
	char url[PATH_MAX + 128]; /* postgresql:///postgres?host=SOCK&user=dfi_admin */
	char user[64];            /* the superuser role */
	int drop;                 /* run server commands as uid/gid */
	uid_t uid;
	gid_t gid;
	int wd_fd;                /* write end of the watchdog's pipe, -1 if none */
	pid_t wd_pid;
	int running;
	int keep;                 /* DFI_PG_KEEP=1: leave the directory */
};

static inline void
dfi_pg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void
dfi_pg_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pgfix: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* clock.h's now_ms, under the name the registry tests call it by. */
static inline long
dfi_pg_now_ms(void)
{
	return now_ms();
}

/* Runs argv (a server binary) as the server user with stdout and stderr
 * appended to pg->log; waits at most timeout_ms, then SIGKILLs it.
 * Returns its exit status, or -1. */
static inline int
dfi_pg_run(const struct dfi_pg *pg, char *const argv[], long timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* the server user first: it writes the log (pg_ctl -l) too */
		if (pg->drop && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
			_exit(126);
		int fd = open(pg->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, 0);
			close(nul);
		}
		if (chdir(pg->dir) != 0)
			_exit(126);
		/* a fixed environment: nothing of the test's (PGDATA, PGHOST...) */
		char *envp[] = { "LC_ALL=C", "PATH=/usr/bin:/bin", NULL };
		execve(argv[0], argv, envp);
		_exit(127);
	}
	long end = dfi_pg_now_ms() + timeout_ms;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (dfi_pg_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			dfi_pg_log("%s did not finish within %ld ms: killed", argv[0], timeout_ms);
			return -1;
		}
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* The highest /usr/lib/postgresql/N/bin holding initdb, or $DFI_PG_BINDIR. */
static inline int
dfi_pg_find_bindir(char *out, size_t cap)
{
	const char *env = getenv("DFI_PG_BINDIR");
	if (env != NULL && env[0] != '\0') {
		snprintf(out, cap, "%s", env);
		return 0;
	}
	DIR *d = opendir("/usr/lib/postgresql");
	int best = -1;
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char *end;
			long v = strtol(e->d_name, &end, 10);
			char p[PATH_MAX];
			if (end == e->d_name || *end != '\0' || v <= best || v > 1000)
				continue;
			snprintf(p, sizeof(p), "/usr/lib/postgresql/%ld/bin/initdb", v);
			if (access(p, X_OK) == 0)
				best = (int)v;
		}
		closedir(d);
	}
	if (best < 0)
		return -1;
	snprintf(out, cap, "/usr/lib/postgresql/%d/bin", best);
	return 0;
}

static inline int
dfi_pg_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

static inline void
dfi_pg_rmrf(const char *d)
{
	if (d[0] != '\0')
		nftw(d, dfi_pg_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The postmaster's PID from data/postmaster.pid, or -1. */
static inline pid_t
dfi_pg_postmaster_pid(const struct dfi_pg *pg)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/postmaster.pid", pg->data);
	FILE *f = fopen(p, "r");
	long v = -1;
	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v > 1 ? (pid_t)v : -1;
}

/* Sends sig to the postmaster and every process it started (backends,
 * background workers): SIGSTOP freezes the server as a host that stops
 * answering does (connections stay open, nothing is answered), SIGCONT
 * thaws it. 0, or -1 when the server does not run. */
static inline int
dfi_pg_signal_all(const struct dfi_pg *pg, int sig)
{
	pid_t pm = dfi_pg_postmaster_pid(pg);
	if (pm < 0 || kill(pm, 0) != 0)
		return -1;
	/* children first: a thawed postmaster must find its children thawed */
	char p[64];
	snprintf(p, sizeof(p), "/proc/%ld/task/%ld/children", (long)pm, (long)pm);
	FILE *f = fopen(p, "r");
	long c;
	while (f != NULL && fscanf(f, "%ld", &c) == 1)
		kill((pid_t)c, sig);
	if (f != NULL)
		fclose(f);
	return kill(pm, sig) == 0 ? 0 : -1;
}

static inline int
dfi_pg_ctl(const struct dfi_pg *pg, const char *action, const char *mode, long timeout_ms)
{
	char ctl[PATH_MAX + 16], tmo[24];
	snprintf(ctl, sizeof(ctl), "%s/pg_ctl", pg->bindir);
	snprintf(tmo, sizeof(tmo), "%ld", timeout_ms / 1000);
	if (strcmp(action, "start") == 0) {
		char *argv[] = { ctl, "-D", (char *)pg->data, "-l", (char *)pg->log, "-w", "-t", tmo, "start", NULL };
		return dfi_pg_run(pg, argv, timeout_ms + 5000);
	}
	char *argv[] = { ctl, "-D", (char *)pg->data, "-m", (char *)mode, "-w", "-t", tmo, (char *)action, NULL };
	return dfi_pg_run(pg, argv, timeout_ms + 5000);
}

/* Stops the server: fast shutdown within 30 s, else immediate, else the
 * postmaster is SIGKILLed. mode "fast" or "immediate". */
static inline int
dfi_pg_stop_mode(struct dfi_pg *pg, const char *mode)
{
	pid_t pm = dfi_pg_postmaster_pid(pg);
	if (pm < 0) {
		pg->running = 0;
		return 0;
	}
	(void)dfi_pg_signal_all(pg, SIGCONT); /* a frozen cluster cannot stop */
	int rc = dfi_pg_ctl(pg, "stop", mode, 30000);
	if (rc != 0 && strcmp(mode, "immediate") != 0)
		rc = dfi_pg_ctl(pg, "stop", "immediate", 10000);
	if (rc != 0 && kill(pm, 0) == 0) {
		kill(pm, SIGKILL);
		for (int i = 0; i < 100 && kill(pm, 0) == 0; i++) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
		rc = kill(pm, 0) == 0 ? -1 : 0;
	}
	pg->running = 0;
	return rc;
}

static inline int
dfi_pg_stop(struct dfi_pg *pg)
{
	return dfi_pg_stop_mode(pg, "fast");
}

static inline int
dfi_pg_start(struct dfi_pg *pg)
{
	if (dfi_pg_ctl(pg, "start", NULL, 30000) != 0) {
		dfi_pg_log("the server did not start within 30 s (see %s)", pg->log);
		return -1;
	}
	pg->running = 1;
	return 0;
}

/* The watchdog: see the header comment. */
static inline void
dfi_pg_watchdog(struct dfi_pg *pg, int rfd)
{
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != rfd)
			close(fd);
	char c = 0;
	ssize_t n;
	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && c == 'D')
		_exit(0); /* a normal teardown did it all */
	/* The test process is gone: stop the server, remove the fixture. */
	dfi_pg_stop_mode(pg, "immediate");
	if (!pg->keep)
		dfi_pg_rmrf(pg->dir);
	_exit(0);
}

static inline int
dfi_pg_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Sets up and starts a cluster. extra_conf: more postgresql.conf lines
 * (NULL: none). Returns 0, or -1 after printing why (and cleaning up). */
static inline int
dfi_pg_setup(struct dfi_pg *pg, const char *extra_conf)
{
	memset(pg, 0, sizeof(*pg));
	pg->wd_fd = -1;
	pg->keep = getenv("DFI_PG_KEEP") != NULL && strcmp(getenv("DFI_PG_KEEP"), "1") == 0;
	snprintf(pg->user, sizeof(pg->user), "dfi_admin");
	if (dfi_pg_find_bindir(pg->bindir, sizeof(pg->bindir)) != 0) {
		dfi_pg_log("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb; install "
			   "'postgresql' with tools/install-deps.sh, or set DFI_PG_BINDIR)");
		return -1;
	}
	const char *tmp = getenv("TMPDIR");
	/* Unix socket paths are limited to 107 bytes: keep the directory short. */
	snprintf(pg->dir, sizeof(pg->dir), "%s/dfipg-XXXXXX", tmp != NULL && strlen(tmp) < 60 ? tmp : "/tmp");
	if (mkdtemp(pg->dir) == NULL) {
		dfi_pg_log("mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir);
	snprintf(pg->sock, sizeof(pg->sock), "%s/sock", pg->dir);
	snprintf(pg->log, sizeof(pg->log), "%s/server.log", pg->dir);
	snprintf(pg->passfile, sizeof(pg->passfile), "%s/pgpass", pg->dir);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (pw == NULL)
			pw = getpwnam("nobody");
		if (pw == NULL) {
			dfi_pg_log("running as root and neither 'postgres' nor 'nobody' exists to run the server as");
			dfi_pg_rmrf(pg->dir);
			return -1;
		}
		pg->drop = 1;
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
	}
	/* The server user owns the fixture directory; the password file is
	 * the test's (libpq insists on 0600 and the reader's own file). */
	if (mkdir(pg->sock, 0700) != 0 ||
	    (pg->drop && (chown(pg->dir, pg->uid, pg->gid) != 0 || chown(pg->sock, pg->uid, pg->gid) != 0)) ||
	    chmod(pg->dir, 0755) != 0) {
		dfi_pg_log("preparing %s: %s", pg->dir, strerror(errno));
		dfi_pg_rmrf(pg->dir);
		return -1;
	}
	/* A random password for the superuser: connections authenticate with
	 * SCRAM through the password file, as stations do in the field. */
	unsigned char rnd[16];
	char pw[40], pwfile[PATH_MAX + 16], line[512];
	int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (rfd < 0 || read(rfd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		if (rfd >= 0)
			close(rfd);
		dfi_pg_log("/dev/urandom: %s", strerror(errno));
		dfi_pg_rmrf(pg->dir);
		return -1;
	}
	close(rfd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", pg->dir);
	snprintf(line, sizeof(line), "%s\n", pw);
	int bad = dfi_pg_write_file(pwfile, line, 0600) != 0 || (pg->drop && chown(pwfile, pg->uid, pg->gid) != 0);
	snprintf(line, sizeof(line), "*:*:*:%s:%s\n", pg->user, pw);
	bad = bad || dfi_pg_write_file(pg->passfile, line, 0600) != 0;
	if (bad) {
		dfi_pg_log("writing the password files: %s", strerror(errno));
		dfi_pg_rmrf(pg->dir);
		return -1;
	}
	/* The watchdog, before anything is started that it must stop. */
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		dfi_pg_rmrf(pg->dir);
		return -1;
	}
	pid_t wd = fork();
	if (wd < 0) {
		close(p[0]);
		close(p[1]);
		dfi_pg_rmrf(pg->dir);
		return -1;
	}
	if (wd == 0) {
		close(p[1]);
		dfi_pg_watchdog(pg, p[0]);
	}
	close(p[0]);
	pg->wd_fd = p[1];
	pg->wd_pid = wd;

	char initdb[PATH_MAX + 16], pwopt[PATH_MAX + 32], useropt[96];
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
	snprintf(pwopt, sizeof(pwopt), "--pwfile=%s", pwfile);
	snprintf(useropt, sizeof(useropt), "--username=%s", pg->user);
	char *iargv[] = { initdb, "-D", pg->data, useropt, pwopt, "--auth-local=scram-sha-256",
		"--auth-host=reject", "--encoding=UTF8", "--locale=C", "--no-sync", NULL };
	int rc = dfi_pg_run(pg, iargv, 60000);
	unlink(pwfile);
	if (rc != 0) {
		dfi_pg_log("initdb failed (exit %d; see %s)", rc, pg->log);
		goto fail;
	}
	/* Unix socket only; small; quick to start and stop. fsync stays on
	 * unless the caller's extra lines say otherwise. */
	char conf[PATH_MAX + 32];
	snprintf(conf, sizeof(conf), "%s/postgresql.conf", pg->data);
	FILE *f = fopen(conf, "a");
	if (f == NULL)
		goto fail;
	fprintf(f,
	    "\n# dfissue test fixture\n"
	    "listen_addresses = ''\n"
	    "unix_socket_directories = '%s'\n"
	    "port = 5432\n"
	    "max_connections = 100\n"
	    "shared_buffers = 32MB\n"
	    "dynamic_shared_memory_type = mmap\n"
	    "log_min_messages = warning\n"
	    "log_line_prefix = '%%m [%%p] %%u@%%d '\n"
	    "%s\n",
	    pg->sock, extra_conf != NULL ? extra_conf : "");
	if (fclose(f) != 0)
		goto fail;
	if (dfi_pg_start(pg) != 0)
		goto fail;
	snprintf(pg->url, sizeof(pg->url), "postgresql:///postgres?host=%s&user=%s", pg->sock, pg->user);
	return 0;
fail:
	dfi_pg_stop_mode(pg, "immediate");
	if (write(pg->wd_fd, "D", 1) != 1) {
		/* the watchdog cleans up on EOF anyway */
	}
	close(pg->wd_fd);
	waitpid(pg->wd_pid, NULL, 0);
	pg->wd_fd = -1;
	if (!pg->keep)
		dfi_pg_rmrf(pg->dir);
	return -1;
}

/* What a process started inside the fixture (by `pgfix run`) needs to stop
 * and start the same server: the environment pgfix exports. */
static inline void
dfi_pg_export(const struct dfi_pg *pg)
{
	char v[32];
	setenv("DFI_PG_DIR", pg->dir, 1);
	setenv("DFI_PG_URL", pg->url, 1);
	setenv("DFI_PG_SOCK", pg->sock, 1);
	setenv("DFI_PG_BINDIR", pg->bindir, 1);
	setenv("DFI_PG_USER", pg->user, 1);
	setenv("PGPASSFILE", pg->passfile, 1);
	snprintf(v, sizeof(v), "%d:%ld:%ld", pg->drop, (long)pg->uid, (long)pg->gid);
	setenv("DFI_PG_RUNAS", v, 1);
}

static inline int
dfi_pg_from_env(struct dfi_pg *pg)
{
	const char *dir = getenv("DFI_PG_DIR"), *bin = getenv("DFI_PG_BINDIR"), *as = getenv("DFI_PG_RUNAS");
	long drop, uid, gid;
	memset(pg, 0, sizeof(*pg));
	pg->wd_fd = -1;
	if (dir == NULL || bin == NULL || as == NULL || sscanf(as, "%ld:%ld:%ld", &drop, &uid, &gid) != 3)
		return -1;
	snprintf(pg->dir, sizeof(pg->dir), "%s", dir);
	snprintf(pg->bindir, sizeof(pg->bindir), "%s", bin);
	snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir);
	snprintf(pg->sock, sizeof(pg->sock), "%s/sock", pg->dir);
	snprintf(pg->log, sizeof(pg->log), "%s/server.log", pg->dir);
	snprintf(pg->passfile, sizeof(pg->passfile), "%s/pgpass", pg->dir);
	pg->drop = (int)drop;
	pg->uid = (uid_t)uid;
	pg->gid = (gid_t)gid;
	pg->running = dfi_pg_postmaster_pid(pg) > 0;
	return 0;
}

/* Stops the server and removes the fixture (unless DFI_PG_KEEP=1). */
static inline void
dfi_pg_teardown(struct dfi_pg *pg)
{
	if (pg->dir[0] == '\0')
		return;
	dfi_pg_stop(pg);
	if (pg->keep)
		dfi_pg_log("kept %s", pg->dir);
	else
		dfi_pg_rmrf(pg->dir);
	if (pg->wd_fd >= 0) {
		if (write(pg->wd_fd, "D", 1) != 1) {
			/* EOF alone makes it clean up what is left: nothing */
		}
		close(pg->wd_fd);
		waitpid(pg->wd_pid, NULL, 0);
		pg->wd_fd = -1;
	}
	pg->dir[0] = '\0';
}

#endif
