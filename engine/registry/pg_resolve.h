/* engine/registry: the registry's host names resolved within a call's
 * deadline, and abandonably, before libpq is given them.
 *
 * libpq resolves a host name synchronously (getaddrinfo inside
 * PQconnectStartParams and PQconnectPoll), for as long as the system's
 * resolver takes (5 s per attempt and server by default), past any
 * deadline and deaf to dfi_pgreg_abandon. Given each name's addresses as
 * hostaddr (host kept, for TLS verification, .pgpass and messages), it
 * looks nothing up. */
#ifndef DFI_REGISTRY_PG_RESOLVE_H
#define DFI_REGISTRY_PG_RESOLVE_H

#include <stddef.h>

#include "dfissue/error.h"

/* At most this many addresses of one name are kept (in the resolver's
 * order), and at most this many hosts resolved (DNS answers and URLs are
 * input: the lists given to libpq stay bounded). */
#define PG_RESOLVE_MAX_ADDRS 16
#define PG_RESOLVE_MAX_HOSTS 16

/* What to give libpq after the URL (later keywords override it): parallel
 * comma lists, one entry per address, a name repeated for each of its
 * addresses; an empty hostaddr entry leaves that host to libpq (a Unix
 * socket directory, an IP literal, or the default). All NULL: nothing to
 * add (no name to resolve, or the URL or the environment gives hostaddr).
 * port is NULL unless the URL has a list of ports that must follow the
 * hosts. */
struct pg_hosts {
	char *host, *hostaddr, *port;
	/* For a message when the connection fails, libpq's naming addresses
	 * only: each name's addresses ("'x' is 192.0.2.1, 192.0.2.2"), and the
	 * hosts left out because they do not resolve ("the registry host 'x'
	 * does not resolve: ..."). */
	char resolved[256], dropped[256];
};

/* Resolves the host names of url (a libpq URI; PQconninfoParse; where it
 * names no host or port, libpq's defaults: PGHOST, PGHOSTADDR, PGPORT) on
 * threads of their own, waiting until every one is answered, deadline
 * (dfi_now_ms) passes, or wake_fd becomes readable. DFI_OK with *out (free
 * with pg_hosts_free); DFI_E_REGISTRY_UNREACHABLE when a name is not
 * answered in time or none of the hosts resolves (why says which);
 * DFI_E_REGISTRY_ABANDONED when wake_fd woke (why not written: nothing
 * was sent); DFI_E_NOMEM; DFI_E_PARSE. timeout_ms is the deadline's
 * length, for the message. A resolver that never returns costs a thread:
 * it is detached, and finds nothing of the caller's when it ends. */
dfi_err pg_resolve(const char *url, long deadline, int timeout_ms, int wake_fd, struct pg_hosts *out, char *why,
    size_t cap);
void pg_hosts_free(struct pg_hosts *h);

#endif
