/*
 * End to end through a real pcscd with the vsmartcard vpcd driver: the test
 * starts its own pcscd (private /run/pcscd via a mount namespace, so the
 * pid file and socket never meet a system pcscd or a parallel test) and
 * desfire-sim --vpcd on a free loopback port, then uses plain PC/SC calls:
 * the reader and the card appear, the ATR is the PC/SC part 3 contactless
 * one, GET DATA gives the UID, GetVersion runs its three frames, and a tear
 * injected by the simulator shows up as a failed transmit, a card removal
 * and a re-insertion, after which the card answers again.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "clock.h"
#include "proc.h"
#include "testutil.h"

#define UID_HEX "04112233445566"

static char dir[64];
static pid_t pcscd_pid = -1, sim_pid = -1;
static unsigned port;

static void
setup(void)
{
	char path[128], conf[512], script[512], sock[128];
	snprintf(dir, sizeof(dir), "/tmp/dfisim-vpcd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conf", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/run", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	port = dfi_test_free_port_pair();
	snprintf(conf, sizeof(conf),
	    "FRIENDLYNAME \"dfissue-test\"\nDEVICENAME /dev/null:%u\n"
	    "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID %u\n", port, port);
	snprintf(path, sizeof(path), "%s/conf/vpcd", dir);
	dfi_test_write_file(path, conf);

	/* pcscd's pid file and socket live in /run/pcscd: give this pcscd its
	 * own, bound to our temp dir, in a private mount namespace. */
	snprintf(script, sizeof(script),
	    "mkdir -p /run/pcscd && mount --bind %s/run /run/pcscd && exec pcscd -f -c %s/conf",
	    dir, dir);
	char *pargv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	pcscd_pid = dfi_test_spawn(pargv, dir, "pcscd.log");

	snprintf(sock, sizeof(sock), "%s/run/pcscd.comm", dir);
	long deadline = now_ms() + 10000;
	struct stat st;
	while (stat(sock, &st) != 0 && now_ms() < deadline)
		dfi_test_sleep_ms(50);
	ck_assert_msg(stat(sock, &st) == 0, "pcscd did not come up (see %s/pcscd.log)", dir);
	ck_assert_int_eq(setenv("PCSCLITE_CSOCK_NAME", sock, 1), 0);

	char bin[256], image[128], vpcd[64];
	const char *bd = getenv("DFI_BUILD_DIR");
	ck_assert_ptr_nonnull(bd);
	snprintf(bin, sizeof(bin), "%s/bin/desfire-sim", bd);
	snprintf(image, sizeof(image), "%s/card.img", dir);
	snprintf(vpcd, sizeof(vpcd), "127.0.0.1:%u", port);
	/* APDUs: 1 GET DATA, 2 GetVersion, 3 AF, 4 AF = torn after execution. */
	char *sargv[] = { bin, "--image", image, "--uid", UID_HEX, "--seed", "7",
		"--vpcd", vpcd, "--tear-at", "4", "--tear-mode", "after",
		"--reinsert-ms", "1500", "--no-fsync", NULL };
	sim_pid = dfi_test_spawn(sargv, dir, "sim.log");
}

static void
teardown(void)
{
	dfi_test_stop(&sim_pid);
	dfi_test_stop(&pcscd_pid);
	if (dir[0] != '\0') {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

/* Waits until the reader shows (or no longer shows) a card. */
static int
wait_card(SCARDCONTEXT ctx, const char *reader, int present, long timeout_ms)
{
	SCARD_READERSTATE rs = { 0 };
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	long deadline = now_ms() + timeout_ms;
	for (;;) {
		long left = deadline - now_ms();
		LONG rv = SCardGetStatusChange(ctx, left > 0 ? (DWORD)left : 0, &rs, 1);
		if (rv == SCARD_S_SUCCESS) {
			int has = (rs.dwEventState & SCARD_STATE_PRESENT) != 0;
			if (has == present)
				return 1;
			rs.dwCurrentState = rs.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		} else if (rv != SCARD_E_TIMEOUT) {
			return 0;
		}
		if (now_ms() >= deadline)
			return 0;
	}
}

static DWORD
xmit(SCARDHANDLE h, DWORD proto, const char *hex, uint8_t *resp, DWORD cap, LONG *rvp)
{
	uint8_t apdu[64];
	size_t n;
	ck_assert_int_eq(dfi_hex_decode(hex, apdu, sizeof(apdu), &n), DFI_OK);
	DWORD rl = cap;
	const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	LONG rv = SCardTransmit(h, pci, apdu, (DWORD)n, NULL, resp, &rl);
	if (rvp != NULL)
		*rvp = rv;
	else
		ck_assert_msg(rv == SCARD_S_SUCCESS, "SCardTransmit: %s", pcsc_stringify_error(rv));
	return rv == SCARD_S_SUCCESS ? rl : 0;
}

static void
check_uid_and_version(SCARDHANDLE h, DWORD proto)
{
	uint8_t r[300];
	DWORD n = xmit(h, proto, "FFCA000000", r, sizeof(r), NULL);
	ck_assert_hex_eq(r, n, UID_HEX "9000");
	n = xmit(h, proto, "9060000000", r, sizeof(r), NULL);
	ck_assert_hex_eq(r, n, "04010112001A0591AF");
	n = xmit(h, proto, "90AF000000", r, sizeof(r), NULL);
	ck_assert_hex_eq(r, n, "04010112001A0591AF");
}

START_TEST(pcsc_sees_card_and_tear)
{
	SCARDCONTEXT ctx;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	ck_assert_msg(rv == SCARD_S_SUCCESS, "SCardEstablishContext: %s", pcsc_stringify_error(rv));

	/* The vpcd reader appears once pcscd has loaded the driver. */
	char readers[1024], *reader = NULL;
	long deadline = now_ms() + 10000;
	while (reader == NULL && now_ms() < deadline) {
		DWORD len = sizeof(readers);
		if (SCardListReaders(ctx, NULL, readers, &len) == SCARD_S_SUCCESS) {
			for (char *p = readers; *p != '\0'; p += strlen(p) + 1)
				if (reader == NULL && strcmp(p, "dfissue-test 00 00") == 0)
					reader = p;
		}
		if (reader == NULL)
			dfi_test_sleep_ms(100);
	}
	ck_assert_msg(reader != NULL, "no dfissue-test reader (see %s/pcscd.log)", dir);

	ck_assert_msg(wait_card(ctx, reader, 1, 15000), "card never inserted (see %s/sim.log)", dir);

	SCARDHANDLE h;
	DWORD proto;
	rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	ck_assert_msg(rv == SCARD_S_SUCCESS, "SCardConnect: %s", pcsc_stringify_error(rv));
	uint8_t atr[64];
	DWORD atrlen = sizeof(atr), state, plen = 0;
	char name[256];
	plen = sizeof(name);
	ck_assert_int_eq(SCardStatus(h, name, &plen, &state, &proto, atr, &atrlen), SCARD_S_SUCCESS);
	ck_assert_hex_eq(atr, atrlen, "3B8180018080");

	/* APDUs 1..3 */
	check_uid_and_version(h, proto);
	/* APDU 4: executed by the card, the response lost with the card. */
	uint8_t r[300];
	DWORD n = xmit(h, proto, "90AF000000", r, sizeof(r), &rv);
	ck_assert_msg(rv != SCARD_S_SUCCESS || n < 2,
	    "a torn command must not look like an answer (rv %s, %lu bytes)",
	    pcsc_stringify_error(rv), (unsigned long)n);

	ck_assert_msg(wait_card(ctx, reader, 0, 10000), "removal not reported");
	ck_assert_msg(wait_card(ctx, reader, 1, 15000), "re-insertion not reported");

	/* The old handle is stale until reconnected. */
	rv = SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD, &proto);
	if (rv != SCARD_S_SUCCESS) {
		SCardDisconnect(h, SCARD_LEAVE_CARD);
		rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	}
	ck_assert_msg(rv == SCARD_S_SUCCESS, "reconnect: %s", pcsc_stringify_error(rv));
	check_uid_and_version(h, proto);
	n = xmit(h, proto, "90AF000000", r, sizeof(r), NULL);
	ck_assert_uint_eq(n, 16);
	ck_assert_hex_eq(r, 7, "04112233445566");
	ck_assert_hex_eq(r + 14, 2, "9100");

	/* SIGUSR1: the card is lifted and tapped again. */
	ck_assert_int_eq(kill(sim_pid, SIGUSR1), 0);
	ck_assert_msg(wait_card(ctx, reader, 0, 10000), "removal on SIGUSR1 not reported");
	ck_assert_msg(wait_card(ctx, reader, 1, 15000), "re-insertion after SIGUSR1 not reported");

	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
}
END_TEST

int
main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root to give pcscd a private /run/pcscd\n");
		return 77;
	}
	return dfi_test_main("sim_vpcd", &(struct dfi_test_case){ .setup = setup,
	    .teardown = teardown, .timeout = 120 }, (const TTest *[]){ pcsc_sees_card_and_tear, NULL });
}
