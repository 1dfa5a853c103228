/* A block of status lines redrawn in place (ANSI cursor movement). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "status.h"
#include "termtext.h"

struct row {
	char name[64], uid[24], what[96];
	unsigned long done, failed;
};

/* One terminal, one block: process state, guarded by g_mu. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct row *g_rows;
static unsigned g_n;
static unsigned g_drawn; /* lines on screen now */
static char g_total[128];

int
cli_status_start(unsigned n, const char *const *names)
{
	if (n == 0 || !isatty(STDERR_FILENO) || cli_log_to_journal() ||
	    !cli_log_enabled(CLI_LOG_INFO))
		return -1;
	struct row *r = calloc(n, sizeof(*r));
	if (r == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		snprintf(r[i].name, sizeof(r[i].name), "%s", names[i]);
		snprintf(r[i].what, sizeof(r[i].what), "waiting for a card");
	}
	pthread_mutex_lock(&g_mu);
	g_rows = r;
	g_n = n;
	g_drawn = 0;
	snprintf(g_total, sizeof(g_total), "0 done, 0 failed");
	cli_status_draw();
	pthread_mutex_unlock(&g_mu);
	return 0;
}

void
cli_status_lock(void)
{
	pthread_mutex_lock(&g_mu);
}

void
cli_status_unlock(void)
{
	pthread_mutex_unlock(&g_mu);
}

/* Caller holds g_mu. Moves up over the block and clears to the end. */
void
cli_status_erase(void)
{
	if (g_drawn > 0)
		fprintf(stderr, "\033[%uA\r\033[J", g_drawn);
	g_drawn = 0;
}

/* Caller holds g_mu. Lines are cut to the terminal's usual width so that
 * none wraps (a wrapped line would break the cursor arithmetic). */
void
cli_status_draw(void)
{
	if (g_rows == NULL)
		return;
	for (unsigned i = 0; i < g_n; i++) {
		/* Fixed columns: the reader (its last 18 characters: names
		 * differ at the end), the UID, what it does, its tally. */
		const char *name = g_rows[i].name;
		size_t nl = strlen(name);
		char line[256];
		snprintf(line, sizeof(line), "%-18.18s %-14s %-27.27s %3lu ok %3lu failed",
		    nl > 18 ? name + nl - 18 : name, g_rows[i].uid[0] ? g_rows[i].uid : "-",
		    g_rows[i].what, g_rows[i].done, g_rows[i].failed);
		/* reader names (from the devices) and what a card's tap says
		 * (a refusal's reason): in their terminal form, one screen line */
		char tt[80];
		fprintf(stderr, "\r\033[K%s\n", cli_tt(tt, sizeof(tt), line));
	}
	fprintf(stderr, "\r\033[K== %s\n", g_total);
	g_drawn = g_n + 1;
	fflush(stderr);
}

static void
redraw(void)
{
	cli_status_erase();
	cli_status_draw();
}

void
cli_status_reader(unsigned i, const char *uid, const char *what)
{
	pthread_mutex_lock(&g_mu);
	if (g_rows != NULL && i < g_n) {
		if (uid != NULL)
			snprintf(g_rows[i].uid, sizeof(g_rows[i].uid), "%s", uid);
		snprintf(g_rows[i].what, sizeof(g_rows[i].what), "%s", what);
		redraw();
	}
	pthread_mutex_unlock(&g_mu);
}

void
cli_status_counts(unsigned i, unsigned long done, unsigned long failed)
{
	pthread_mutex_lock(&g_mu);
	if (g_rows != NULL && i < g_n) {
		g_rows[i].done = done;
		g_rows[i].failed = failed;
	}
	pthread_mutex_unlock(&g_mu);
}

void
cli_status_total(unsigned long done, unsigned long failed, double per_min)
{
	pthread_mutex_lock(&g_mu);
	if (g_rows != NULL) {
		snprintf(g_total, sizeof(g_total), "%lu done, %lu failed, %.1f cards/min", done, failed,
		    per_min);
		redraw();
	}
	pthread_mutex_unlock(&g_mu);
}

void
cli_status_stop(void)
{
	pthread_mutex_lock(&g_mu);
	cli_status_erase();
	free(g_rows);
	g_rows = NULL;
	g_n = 0;
	pthread_mutex_unlock(&g_mu);
}
