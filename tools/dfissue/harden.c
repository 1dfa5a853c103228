/* The process's own protection, set before anything else runs
 * (SECURITY.md §7): no core dump, whatever the system's core_pattern, and
 * no /proc/PID/mem, environ or ptrace access for other processes of the
 * same user, which could otherwise read the PIN from its locked page. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli.h"

int
cli_harden_process(void)
{
	struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		fprintf(stderr, "dfissue: cannot disable core dumps (setrlimit RLIMIT_CORE): %s\n",
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "dfissue: cannot make the process non-dumpable (prctl): %s\n",
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
cli_nomem_advice(char *buf, size_t cap)
{
	struct rlimit l;
	char lim[48] = "unknown";
	if (getrlimit(RLIMIT_MEMLOCK, &l) == 0) {
		if (l.rlim_cur == RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "unlimited");
		else
			snprintf(lim, sizeof(lim), "%llu KiB", (unsigned long long)l.rlim_cur / 1024);
	}
	snprintf(buf, cap, "out of memory, or over this process's limit on locked memory, which "
	    "holds keys and PINs (ulimit -l: %s): raise it (ulimit -l, or "
	    "LimitMEMLOCK= in the service unit)", lim);
}
