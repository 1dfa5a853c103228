/*
 * Locked, non-dumpable memory for secrets. Each allocation gets its own
 * mapping so it can be mlock()ed and marked MADV_DONTDUMP without touching
 * neighbouring heap data; secrets are few and short-lived, so the page
 * granularity costs nothing that matters.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dfissue/util.h"

static size_t
round_pages(size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	if (len == 0)
		len = 1;
	if (len > SIZE_MAX - page)
		return 0;
	return (len + page - 1) / page * page;
}

void *
dfi_secure_alloc(size_t len)
{
	size_t sz = round_pages(len);
	if (sz == 0)
		return NULL;
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* A secret that cannot be locked would be swappable: refuse it. */
	if (mlock(p, sz) != 0) {
		munmap(p, sz);
		return NULL;
	}
#ifdef MADV_DONTDUMP
	(void)madvise(p, sz, MADV_DONTDUMP);
#endif
	return p;
}

void
dfi_secure_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	size_t sz = round_pages(len);
	OPENSSL_cleanse(p, sz);
	munlock(p, sz);
	munmap(p, sz);
}

void
dfi_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

int
dfi_ct_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0 ? 0 : 1;
}
