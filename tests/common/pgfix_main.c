/* pgfix — the PostgreSQL test fixture (pgfix.h) as a command, for shell
 * tests:
 *
 *   pgfix run [--conf 'NAME = VALUE']... -- CMD [ARGS...]
 *       initdb + pg_ctl start in a temp dir (Unix socket only), runs CMD
 *       with DFI_PG_URL (superuser, no password in it), PGPASSFILE,
 *       DFI_PG_DIR, DFI_PG_SOCK, DFI_PG_BINDIR, DFI_PG_USER exported, then
 *       stops the server and removes everything; exits with CMD's status.
 *       SIGINT/SIGTERM are passed on to CMD. If pgfix itself dies, its
 *       watchdog stops the server and removes the directory.
 *   pgfix stop [fast|immediate]     (inside `pgfix run`: stops the server)
 *   pgfix start                     (inside `pgfix run`: starts it again)
 *   pgfix kill                      (inside `pgfix run`: SIGKILL the postmaster)
 *   pgfix freeze | thaw             (inside `pgfix run`: SIGSTOP / SIGCONT the
 *                                   whole cluster; a stop thaws it first)
 */
#include <sys/prctl.h>

#include "pgfix.h"

static pid_t child = -1;

static void
pass_on(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static int
usage(void)
{
	fprintf(stderr, "usage: pgfix run [--conf LINE]... -- CMD [ARGS...]\n"
			"       pgfix stop [fast|immediate] | start | kill | freeze | thaw   (inside pgfix run)\n");
	return 2;
}

static int
inside(const char *what, struct dfi_pg *pg)
{
	if (dfi_pg_from_env(pg) != 0) {
		fprintf(stderr, "pgfix %s: not inside 'pgfix run' (DFI_PG_DIR etc. unset)\n", what);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct dfi_pg pg;
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "stop") == 0) {
		if (inside("stop", &pg) != 0)
			return 1;
		return dfi_pg_stop_mode(&pg, argc > 2 ? argv[2] : "fast") == 0 ? 0 : 1;
	}
	if (strcmp(argv[1], "start") == 0) {
		if (inside("start", &pg) != 0)
			return 1;
		return dfi_pg_start(&pg) == 0 ? 0 : 1;
	}
	if (strcmp(argv[1], "kill") == 0) {
		if (inside("kill", &pg) != 0)
			return 1;
		pid_t pm = dfi_pg_postmaster_pid(&pg);
		return pm > 0 && kill(pm, SIGKILL) == 0 ? 0 : 1;
	}
	if (strcmp(argv[1], "freeze") == 0 || strcmp(argv[1], "thaw") == 0) {
		if (inside(argv[1], &pg) != 0)
			return 1;
		return dfi_pg_signal_all(&pg, argv[1][0] == 'f' ? SIGSTOP : SIGCONT) == 0 ? 0 : 1;
	}
	if (strcmp(argv[1], "run") != 0)
		return usage();
	char conf[4096] = "";
	int i = 2;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--conf") != 0 || i + 1 >= argc)
			return usage();
		size_t l = strlen(conf);
		snprintf(conf + l, sizeof(conf) - l, "%s\n", argv[++i]);
	}
	if (i + 1 >= argc)
		return usage();
	if (dfi_pg_setup(&pg, conf) != 0)
		return 1;
	dfi_pg_export(&pg);
	signal(SIGINT, pass_on);
	signal(SIGTERM, pass_on);
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* the command does not outlive us */
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "pgfix: %s: %s\n", argv[i + 1], strerror(errno));
		_exit(127);
	}
	int st = 0, rc = 1;
	if (child > 0) {
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (rc != 0 && rc != 77) {
		/* the server's log tail helps explain a failure */
		char cmd[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", pg.log);
		fprintf(stderr, "pgfix: --- %s (last 20 lines)\n", pg.log);
		if (system(cmd) != 0) {
			/* nothing to show */
		}
	}
	dfi_pg_teardown(&pg);
	return rc;
}
