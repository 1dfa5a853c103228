/*
 * e2e_hold READER MS: another PC/SC application holding the card in READER
 * (a shared connection, as desktop middleware makes to every new card) for
 * MS milliseconds. Prints "held" once connected. Exit 0, or 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <PCSC/winscard.h>

int
main(int argc, char **argv)
{
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto;

	if (argc != 3) {
		fprintf(stderr, "usage: e2e_hold READER MS\n");
		return 2;
	}
	long ms = strtol(argv[2], NULL, 10);
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS)
		return 1;
	LONG rv = SCardConnect(ctx, argv[1], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &card, &proto);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "e2e_hold: SCardConnect: %s\n", pcsc_stringify_error(rv));
		SCardReleaseContext(ctx);
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	SCardDisconnect(card, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}
