/*
 * Bridge to a vsmartcard vpcd virtual reader. vpcd listens on TCP; the card
 * connects. Each message is a 2-byte big-endian length and a payload: one
 * byte is a control code (0 power off, 1 power on, 2 reset, 4 get ATR),
 * more is a C-APDU answered by exactly one R-APDU. Closing the socket is a
 * card removal, connecting again an insertion.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim_int.h"

__attribute__((format(printf, 2, 3))) static void
logf_(FILE *log, const char *fmt, ...)
{
	if (log == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(log, "desfire-sim: ");
	vfprintf(log, fmt, ap);
	fputc('\n', log);
	fflush(log);
	va_end(ap);
}

static void
sleep_ms(int ms, volatile sig_atomic_t *stop)
{
	/* Sleep in slices so a stop request is honoured quickly. */
	while (ms > 0 && !(stop && *stop)) {
		int slice = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)slice * 1000000L };
		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

static int
connect_to(const char *host, uint16_t port)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char ps[8];
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Reads exactly n bytes; 1 ok, 0 closed/error, -1 stop requested, -2
 * re-plug requested. */
static int
read_full(int fd, uint8_t *p, size_t n, volatile sig_atomic_t *stop, volatile sig_atomic_t *replug)
{
	while (n > 0) {
		if (stop && *stop)
			return -1;
		if (replug && *replug)
			return -2;
		struct pollfd pfd = { fd, POLLIN, 0 };
		int pr = poll(&pfd, 1, 200);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return 0;
		if (pr == 0)
			continue;
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		/* vpcd sends the length and the payload in two writes: an ACK
		 * held back for 40 ms (delayed ACK vs Nagle) would stall every
		 * APDU, so acknowledge at once. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		if (k <= 0)
			return 0;
		p += k;
		n -= (size_t)k;
	}
	return 1;
}

static int
send_msg(int fd, const uint8_t *p, size_t n)
{
	uint8_t buf[2 + DFI_APDU_MAX + 2];
	if (n > sizeof(buf) - 2)
		return 0;
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	size_t off = 0, len = n + 2;
	while (off < len) {
		ssize_t k = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return 0;
		off += (size_t)k;
	}
	return 1;
}

enum serve_end { END_CLOSED, END_TORN, END_STOP, END_REPLUG };

static enum serve_end
read_end(int r)
{
	return r == -1 ? END_STOP : r == -2 ? END_REPLUG : END_CLOSED;
}

static enum serve_end
serve(dfi_sim *sim, int fd, volatile sig_atomic_t *stop, volatile sig_atomic_t *replug, FILE *log)
{
	uint8_t hdr[2], msg[0x10000], rapdu[DFI_APDU_MAX + 2];
	for (;;) {
		int r = read_full(fd, hdr, 2, stop, replug);
		if (r <= 0)
			return read_end(r);
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0)
			continue;
		if ((r = read_full(fd, msg, len, stop, NULL)) <= 0)
			return read_end(r);
		if (len == 1) {
			switch (msg[0]) {
			case 0x00: /* power off: the field drops, volatile state with it */
			case 0x01:
			case 0x02:
				if (dfi_sim_power_cycle(sim) != DFI_OK)
					return END_CLOSED;
				break;
			case 0x04: {
				uint8_t atr[16];
				size_t n = dfi_sim_atr(sim, atr, sizeof(atr));
				if (!send_msg(fd, atr, n))
					return END_CLOSED;
				break;
			}
			default:
				break;
			}
			continue;
		}
		size_t rlen = 0;
		dfi_err e = dfi_sim_process(sim, msg, len, rapdu, sizeof(rapdu), &rlen);
		if (e == DFI_E_CARD_TORN) {
			logf_(log, "tear injected: card removed");
			return END_TORN;
		}
		if (e != DFI_OK) {
			logf_(log, "command failed: %s", dfi_strerror(e));
			return END_CLOSED;
		}
		if (!send_msg(fd, rapdu, rlen))
			return END_CLOSED;
	}
}

dfi_err
dfi_sim_vpcd_run(dfi_sim *sim, const char *host, uint16_t port, int reinsert_ms,
    volatile sig_atomic_t *stop, volatile sig_atomic_t *replug, FILE *log)
{
	if (sim == NULL || host == NULL)
		return DFI_E_INVALID_ARG;
	bool announced = false;
	while (!(stop && *stop)) {
		int fd = connect_to(host, port);
		if (fd < 0) {
			if (replug != NULL)
				*replug = 0; /* no card in the reader to lift */
			if (!announced)
				logf_(log, "waiting for vpcd on %s:%u", host, (unsigned)port);
			announced = true;
			sleep_ms(200, stop);
			continue;
		}
		announced = false;
		if (!dfi_sim_present(sim) && dfi_sim_insert(sim) != DFI_OK) {
			close(fd);
			return DFI_E_IO;
		}
		logf_(log, "card inserted into vpcd %s:%u", host, (unsigned)port);
		enum serve_end end = serve(sim, fd, stop, replug, log);
		close(fd);
		if (end == END_STOP)
			break;
		dfi_sim_remove(sim);
		logf_(log, "card removed");
		if (end == END_REPLUG && replug != NULL)
			*replug = 0;
		sleep_ms(end == END_CLOSED ? 200 : reinsert_ms, stop);
	}
	dfi_sim_remove(sim);
	return DFI_OK;
}
