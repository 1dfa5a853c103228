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
