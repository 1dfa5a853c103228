/*
 * Arbitrary bytes as a card image: the loader must refuse or accept them
 * without reading out of bounds, and an accepted image must serve
 * commands. The image reaches dfi_sim_new through a memfd.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "desfire-sim/desfire_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
try_image(const uint8_t *p, size_t n)
{
	int fd = memfd_create("img", 0);
	if (fd < 0)
		abort();
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* Read-only use: a loaded image is only rewritten by a committing command. */
	struct dfi_sim_config cfg = { .image = path, .has_seed = true, .no_fsync = true };
	dfi_sim *s;
	if (dfi_sim_new(&s, &cfg) == DFI_OK) {
		static const uint8_t cmds[][5] = {
			{ 0x90, 0x6A, 0, 0, 0 }, { 0x90, 0x60, 0, 0, 0 }, { 0x90, 0x45, 0, 0, 0 },
			{ 0x90, 0x6E, 0, 0, 0 },
		};
		uint8_t r[300];
		size_t rl;
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			(void)dfi_sim_process(s, cmds[i], 5, r, sizeof(r), &rl);
		uint32_t aids[28];
		size_t na;
		if (dfi_sim_list_apps(s, aids, 28, &na) != DFI_OK)
			abort();
		dfi_sim_free(s);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As given (mostly refused by the checksum), and with a valid SHA-256
	 * trailer so the structure parser itself is exercised. */
	try_image(data, size);
	if (size >= 8 && size < 65536) {
		uint8_t *buf = malloc(size + SHA256_DIGEST_LENGTH);
		if (buf == NULL)
			abort();
		memcpy(buf, data, size);
		SHA256(buf, size, buf + size);
		try_image(buf, size + SHA256_DIGEST_LENGTH);
		free(buf);
	}
	return 0;
}
