/* RFC 6962 §2.1 Merkle Tree Hash (RFC 9162 §2.1): leaves hashed with a 0x00
 * prefix and interior nodes with 0x01, so a leaf can never pass for a node.
 * Appending keeps only the right edge (one hash per set bit of the size). */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "dfissue/journal.h"

/* SHA-256 fetched once per process and immutable afterwards: the one-shot
 * SHA256() fetches the algorithm from the provider on every call, which
 * was most of the cost of hashing a journal's million lines (two hashes
 * per record: the leaf and, amortized, one interior node). */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;

static void
md_fetch(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
sha256(const uint8_t *b, size_t len, uint8_t out[DFI_HASH_LEN])
{
	pthread_once(&md_once, md_fetch);
	if (EVP_Digest(b, len, out, NULL, md_sha256 != NULL ? md_sha256 : EVP_sha256(), NULL) != 1)
		memset(out, 0, DFI_HASH_LEN); /* unreachable short of OOM; never matches a root */
}

void
dfi_merkle_leaf_hash(const void *data, size_t len, uint8_t out[DFI_HASH_LEN])
{
	uint8_t b[1 + DFI_J_LINE_MAX + 1];
	if (len < sizeof(b)) {
		b[0] = 0x00;
		if (len > 0)
			memcpy(b + 1, data, len);
		sha256(b, len + 1, out);
		return;
	}
	static const uint8_t z = 0x00;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &z, 1) != 1 || EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, DFI_HASH_LEN); /* unreachable short of OOM; never matches a root */
	EVP_MD_CTX_free(c);
}

void
dfi_merkle_node_hash(const uint8_t l[DFI_HASH_LEN], const uint8_t r[DFI_HASH_LEN],
    uint8_t out[DFI_HASH_LEN])
{
	uint8_t b[1 + 2 * DFI_HASH_LEN];
	b[0] = 0x01;
	memcpy(b + 1, l, DFI_HASH_LEN);
	memcpy(b + 1 + DFI_HASH_LEN, r, DFI_HASH_LEN);
	sha256(b, sizeof(b), out);
}

void
dfi_merkle_init(dfi_merkle *m)
{
	memset(m, 0, sizeof(*m));
}

dfi_err
dfi_merkle_push(dfi_merkle *m, const uint8_t leaf[DFI_HASH_LEN])
{
	if (m->size == UINT64_MAX)
		return DFI_E_OVERFLOW;
	uint8_t h[DFI_HASH_LEN];
	memcpy(h, leaf, DFI_HASH_LEN);
	unsigned i = 0;
	/* Each set low bit is a complete subtree the new leaf completes. */
	while (m->size >> i & 1) {
		dfi_merkle_node_hash(m->edge[i], h, h);
		i++;
	}
	memcpy(m->edge[i], h, DFI_HASH_LEN);
	m->size++;
	return DFI_OK;
}

void
dfi_merkle_root(const dfi_merkle *m, uint8_t out[DFI_HASH_LEN])
{
	if (m->size == 0) {
		sha256(NULL, 0, out);
		return;
	}
	/* The smallest subtree is the rightmost; fold leftwards, which is the
	 * RFC's split at the largest power of two below n, applied repeatedly. */
	unsigned i = 0;
	while (!(m->size >> i & 1))
		i++;
	uint8_t acc[DFI_HASH_LEN];
	memcpy(acc, m->edge[i], DFI_HASH_LEN);
	for (i++; i < 64; i++)
		if (m->size >> i & 1)
			dfi_merkle_node_hash(m->edge[i], acc, acc);
	memcpy(out, acc, DFI_HASH_LEN);
}

static uint64_t
split_point(uint64_t n) /* largest power of two strictly below n (n >= 2) */
{
	uint64_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

static void
mth(const uint8_t (*d)[DFI_HASH_LEN], uint64_t n, uint8_t out[DFI_HASH_LEN])
{
	dfi_merkle m;
	dfi_merkle_init(&m);
	for (uint64_t i = 0; i < n; i++)
		(void)dfi_merkle_push(&m, d[i]);
	dfi_merkle_root(&m, out);
}

dfi_err
dfi_merkle_inclusion_proof(const uint8_t (*leaves)[DFI_HASH_LEN], uint64_t n, uint64_t index,
    uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen)
{
	if (leaves == NULL || proof == NULL || plen == NULL || index >= n)
		return DFI_E_INVALID_ARG;
	/* PATH(m, D[n]) built top-down, then reversed: the RFC lists the
	 * sibling nearest the leaf first. */
	uint8_t tmp[64][DFI_HASH_LEN];
	size_t k = 0;
	const uint8_t (*d)[DFI_HASH_LEN] = leaves;
	uint64_t m = index;
	while (n > 1) {
		uint64_t s = split_point(n);
		if (k >= 64)
			return DFI_E_INTERNAL;
		if (m < s) {
			mth(d + s, n - s, tmp[k++]);
			n = s;
		} else {
			mth(d, s, tmp[k++]);
			d += s;
			n -= s;
			m -= s;
		}
	}
	if (k > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < k; i++)
		memcpy(proof[i], tmp[k - 1 - i], DFI_HASH_LEN);
	*plen = k;
	return DFI_OK;
}

dfi_err
dfi_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[DFI_HASH_LEN],
    const uint8_t (*proof)[DFI_HASH_LEN], size_t plen, const uint8_t root[DFI_HASH_LEN])
{
	if (leaf == NULL || root == NULL || (proof == NULL && plen > 0))
		return DFI_E_INVALID_ARG;
	if (index >= size)
		return DFI_E_JOURNAL_CORRUPT;
	uint64_t fn = index, sn = size - 1;
	uint8_t r[DFI_HASH_LEN];
	memcpy(r, leaf, DFI_HASH_LEN);
	for (size_t i = 0; i < plen; i++) {
		if (sn == 0)
			return DFI_E_JOURNAL_CORRUPT;
		if ((fn & 1) || fn == sn) {
			dfi_merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			dfi_merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, DFI_HASH_LEN) != 0)
		return DFI_E_JOURNAL_CORRUPT;
	return DFI_OK;
}
