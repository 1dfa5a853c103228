/* RFC 6962 §2.1 Merkle Tree Hash (RFC 9162 §2.1): leaves hashed with a 0x00
 * prefix and interior nodes with 0x01, so a leaf can never pass for a node.
 * Appending keeps only the right edge (one hash per set bit of the size). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "journal_int.h"

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

/* A SHA-256 context reused from hash to hash (journal_int.h): a walk over
 * a million records hashes about two million short inputs, and the
 * one-shot EVP_Digest allocates, initializes and frees a context for each,
 * which costs as much as hashing the bytes. */
struct jsha {
	EVP_MD_CTX *c;
	EVP_MD *md;
};

jsha *
jsha_new(void)
{
	jsha *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->c = EVP_MD_CTX_new();
	if (h->md == NULL || h->c == NULL) {
		jsha_free(h);
		return NULL;
	}
	return h;
}

void
jsha_free(jsha *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->c);
	EVP_MD_free(h->md);
	free(h);
}

/* SHA-256 of a then b through h's context, without copying either. */
static void
ctx_digest(jsha *h, const void *a, size_t alen, const void *b, size_t blen, uint8_t out[DFI_HASH_LEN])
{
	unsigned n = 0;
	if (EVP_DigestInit_ex2(h->c, h->md, NULL) != 1 || EVP_DigestUpdate(h->c, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(h->c, b, blen) != 1) || EVP_DigestFinal_ex(h->c, out, &n) != 1)
		memset(out, 0, DFI_HASH_LEN); /* unreachable short of OOM; never matches a root */
}

void
jsha_leaf(jsha *h, const void *data, size_t len, uint8_t out[DFI_HASH_LEN])
{
	static const uint8_t z = 0x00;
	if (h != NULL) {
		ctx_digest(h, &z, 1, data, len, out);
		return;
	}
	uint8_t b[1 + DFI_J_LINE_MAX + 1];
	if (len < sizeof(b)) {
		b[0] = 0x00;
		if (len > 0)
			memcpy(b + 1, data, len);
		sha256(b, len + 1, out);
		return;
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &z, 1) != 1 || EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, DFI_HASH_LEN); /* unreachable short of OOM; never matches a root */
	EVP_MD_CTX_free(c);
}

static void
node_hash(jsha *h, const uint8_t l[DFI_HASH_LEN], const uint8_t r[DFI_HASH_LEN],
    uint8_t out[DFI_HASH_LEN])
{
	uint8_t b[1 + 2 * DFI_HASH_LEN];
	b[0] = 0x01;
	memcpy(b + 1, l, DFI_HASH_LEN);
	memcpy(b + 1 + DFI_HASH_LEN, r, DFI_HASH_LEN);
	if (h != NULL)
		ctx_digest(h, b, sizeof(b), NULL, 0, out);
	else
		sha256(b, sizeof(b), out);
}

void
dfi_merkle_leaf_hash(const void *data, size_t len, uint8_t out[DFI_HASH_LEN])
{
	jsha_leaf(NULL, data, len, out);
}

void
dfi_merkle_node_hash(const uint8_t l[DFI_HASH_LEN], const uint8_t r[DFI_HASH_LEN],
    uint8_t out[DFI_HASH_LEN])
{
	node_hash(NULL, l, r, out);
}

void
dfi_merkle_init(dfi_merkle *m)
{
	memset(m, 0, sizeof(*m));
}

dfi_err
jsha_push(jsha *hs, dfi_merkle *m, const uint8_t leaf[DFI_HASH_LEN])
{
	if (m->size == UINT64_MAX)
		return DFI_E_OVERFLOW;
	uint8_t h[DFI_HASH_LEN];
	memcpy(h, leaf, DFI_HASH_LEN);
	unsigned i = 0;
	/* Each set low bit is a complete subtree the new leaf completes. */
	while (m->size >> i & 1) {
		node_hash(hs, m->edge[i], h, h);
		i++;
	}
	memcpy(m->edge[i], h, DFI_HASH_LEN);
	m->size++;
	return DFI_OK;
}

dfi_err
dfi_merkle_push(dfi_merkle *m, const uint8_t leaf[DFI_HASH_LEN])
{
	if (m == NULL || leaf == NULL)
		return DFI_E_INVALID_ARG;
	return jsha_push(NULL, m, leaf);
}

void
jsha_root(jsha *h, const dfi_merkle *m, uint8_t out[DFI_HASH_LEN])
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
			node_hash(h, m->edge[i], acc, acc);
	memcpy(out, acc, DFI_HASH_LEN);
}

void
dfi_merkle_root(const dfi_merkle *m, uint8_t out[DFI_HASH_LEN])
{
	jsha_root(NULL, m, out);
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

/* One step of the verification loops of RFC 9162 (§2.1.3.2 inclusion,
 * §2.1.4.2 consistency), which are the same but for the second hash the
 * consistency check carries: with the proof's node p, sr (the root being
 * rebuilt) takes p on the side the indices fn and sn say, and fr (NULL for
 * an inclusion proof) takes it when it is on the left. -1: the proof is
 * longer than the tree allows. */
static int
proof_step(const uint8_t p[DFI_HASH_LEN], uint64_t *fn, uint64_t *sn, uint8_t *fr, uint8_t *sr)
{
	if (*sn == 0)
		return -1;
	if ((*fn & 1) || *fn == *sn) {
		if (fr != NULL)
			dfi_merkle_node_hash(p, fr, fr);
		dfi_merkle_node_hash(p, sr, sr);
		while (!(*fn & 1) && *fn != 0) {
			*fn >>= 1;
			*sn >>= 1;
		}
	} else {
		dfi_merkle_node_hash(sr, p, sr);
	}
	*fn >>= 1;
	*sn >>= 1;
	return 0;
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
	for (size_t i = 0; i < plen; i++)
		if (proof_step(proof[i], &fn, &sn, NULL, r) != 0)
			return DFI_E_JOURNAL_CORRUPT;
	if (sn != 0 || memcmp(r, root, DFI_HASH_LEN) != 0)
		return DFI_E_JOURNAL_CORRUPT;
	return DFI_OK;
}

/* ---- consistency proofs (RFC 9162 §2.1.4) ----------------------------------------- */

/* SUBPROOF(m, D[off:off+n], b) of RFC 9162 §2.1.4.1, written as the loop it
 * is (each step recurses into one half only). Hashes are appended in the
 * RFC's order: the nodes found on the way down are emitted last-first, so
 * they are collected and reversed at the end. */
dfi_err
dfi_merkle_consistency_proof_fn(uint64_t m, uint64_t n, dfi_merkle_range_fn fn, void *ctx,
    uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen)
{
	if (fn == NULL || plen == NULL || (proof == NULL && cap > 0))
		return DFI_E_INVALID_ARG;
	if (m == 0 || m > n)
		return DFI_E_INVALID_ARG;
	*plen = 0;
	if (m == n)
		return DFI_OK; /* the empty proof: equal trees */
	struct {
		uint64_t a, b;
	} want[DFI_MERKLE_CPROOF_MAX];
	size_t k = 0;
	uint64_t off = 0, size = n;
	int complete = 1; /* b: D[off:off+m] is a subtree whose hash the verifier has */
	for (;;) {
		if (m == size) {
			if (!complete) {
				if (k >= DFI_MERKLE_CPROOF_MAX)
					return DFI_E_INTERNAL;
				want[k].a = off;
				want[k].b = off + m;
				k++;
			}
			break;
		}
		uint64_t s = split_point(size);
		if (k >= DFI_MERKLE_CPROOF_MAX)
			return DFI_E_INTERNAL;
		if (m <= s) {
			/* SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) */
			want[k].a = off + s;
			want[k].b = off + size;
			k++;
			size = s;
		} else {
			/* SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
			want[k].a = off;
			want[k].b = off + s;
			k++;
			off += s;
			size -= s;
			m -= s;
			complete = 0;
		}
	}
	if (k > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	/* The deepest node comes first: emit in reverse order of discovery. */
	for (size_t i = 0; i < k; i++) {
		dfi_err e = fn(ctx, want[k - 1 - i].a, want[k - 1 - i].b, proof[i]);
		if (e != DFI_OK)
			return e;
	}
	*plen = k;
	return DFI_OK;
}

struct leaves_ctx {
	const uint8_t (*leaves)[DFI_HASH_LEN];
	uint64_t base, n; /* leaves[i] is leaf base + i */
	const dfi_merkle *edge; /* the tree of the first base leaves, or NULL */
};

static dfi_err
range_from_leaves(void *vctx, uint64_t a, uint64_t b, uint8_t out[DFI_HASH_LEN])
{
	const struct leaves_ctx *c = vctx;
	if (a >= c->base) {
		if (b > c->base + c->n || a >= b)
			return DFI_E_INVALID_ARG;
		mth(c->leaves + (a - c->base), b - a, out);
		return DFI_OK;
	}
	/* Left of the new leaves: a complete subtree of the old tree, which is
	 * one of its right-edge nodes (each proof node left of m is). */
	uint64_t w = b - a;
	unsigned i = 0;
	while (i < 63 && (UINT64_C(1) << i) < w)
		i++;
	if (c->edge == NULL || (UINT64_C(1) << i) != w || !(c->base >> i & 1) ||
	    a != (c->base >> i >> 1) << i << 1)
		return DFI_E_INVALID_ARG;
	memcpy(out, c->edge->edge[i], DFI_HASH_LEN);
	return DFI_OK;
}

dfi_err
dfi_merkle_consistency_proof(const uint8_t (*leaves)[DFI_HASH_LEN], uint64_t n, uint64_t m,
    uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen)
{
	if (leaves == NULL && n > 0)
		return DFI_E_INVALID_ARG;
	struct leaves_ctx c = { leaves, 0, n, NULL };
	return dfi_merkle_consistency_proof_fn(m, n, range_from_leaves, &c, proof, cap, plen);
}

dfi_err
dfi_merkle_consistency_proof_edge(const dfi_merkle *old, const uint8_t (*added)[DFI_HASH_LEN],
    uint64_t nadded, uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen)
{
	if (old == NULL || (added == NULL && nadded > 0) || old->size > UINT64_MAX - nadded)
		return DFI_E_INVALID_ARG;
	struct leaves_ctx c = { added, old->size, nadded, old };
	return dfi_merkle_consistency_proof_fn(old->size, old->size + nadded, range_from_leaves, &c, proof,
	    cap, plen);
}

dfi_err
dfi_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[DFI_HASH_LEN],
    const uint8_t root_n[DFI_HASH_LEN], const uint8_t (*proof)[DFI_HASH_LEN], size_t plen)
{
	if (root_m == NULL || root_n == NULL || (proof == NULL && plen > 0))
		return DFI_E_INVALID_ARG;
	if (m == 0 || m > n)
		return DFI_E_JOURNAL_CORRUPT;
	if (m == n)
		return plen == 0 && memcmp(root_m, root_n, DFI_HASH_LEN) == 0 ? DFI_OK :
									   DFI_E_JOURNAL_CORRUPT;
	if (plen == 0 || plen > DFI_MERKLE_CPROOF_MAX)
		return DFI_E_JOURNAL_CORRUPT;
	/* RFC 9162 §2.1.4.2. When m is a power of two the old root is itself a
	 * node of the new tree and the proof omits it: start from root_m. */
	size_t i = 0;
	uint8_t fr[DFI_HASH_LEN], sr[DFI_HASH_LEN];
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root_m, DFI_HASH_LEN);
	} else {
		memcpy(fr, proof[0], DFI_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, DFI_HASH_LEN);
	uint64_t fn = m - 1, sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < plen; i++)
		if (proof_step(proof[i], &fn, &sn, fr, sr) != 0)
			return DFI_E_JOURNAL_CORRUPT;
	if (sn != 0 || memcmp(fr, root_m, DFI_HASH_LEN) != 0 || memcmp(sr, root_n, DFI_HASH_LEN) != 0)
		return DFI_E_JOURNAL_CORRUPT;
	return DFI_OK;
}
