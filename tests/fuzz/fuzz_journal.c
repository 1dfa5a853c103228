/* libFuzzer harness: arbitrary bytes as a journal file, fed to the auditor's
 * verifier (with a fixed Ed25519 key, and with the first line as a
 * last-seen checkpoint), to the inclusion-proof reader, and to the writer's
 * open/recovery path (lock, walk, quarantine, recovery record), to the
 * consistency proofs made from it, and (as they are) to the consistency
 * proof and verifier key parsers. Each line the record parser accepts must
 * format back to itself. Seeds in
 * corpus/journal are journals signed by the key below. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dfissue/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed test key (RFC 8032 §7.1 TEST 1 secret key): the seeds verify. */
static const uint8_t seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
	0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static dfi_err
f_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = 64;
	int ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, ctx) == 1 &&
	    EVP_DigestSign(c, sig, &n, msg, len) == 1;
	EVP_MD_CTX_free(c);
	*siglen = n;
	return ok ? DFI_OK : DFI_E_CRYPTO;
}

static dfi_err
f_pub(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	int n = i2d_PUBKEY(ctx, NULL);
	if (n <= 0 || (size_t)n > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	unsigned char *p = der;
	i2d_PUBKEY(ctx, &p);
	*len = (size_t)n;
	return DFI_OK;
}

static const struct dfi_signer_ops ops = { f_sign, f_pub, NULL };

static dfi_signer *signer;
static dfi_jpubkey *pub;
static char dir[64], path[128], qdir[128];

static void
init(void)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (pk == NULL || dfi_signer_new(&signer, DFI_SIG_ED25519, &ops, pk) != DFI_OK ||
	    dfi_jpubkey_from_signer(signer, &pub) != DFI_OK)
		abort();
	snprintf(dir, sizeof(dir), "/tmp/fuzz-journal-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/%s", dir, DFI_JOURNAL_FILE);
	snprintf(qdir, sizeof(qdir), "%s/%s", dir, DFI_JOURNAL_QDIR);
}

static void
clear_quarantine(void)
{
	DIR *d = opendir(qdir);
	if (d == NULL)
		return;
	struct dirent *e;
	char p[512];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", qdir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

static dfi_err
verify_path(const struct dfi_jverify_opts *vo, struct dfi_jverify_result *r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		abort();
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	dfi_err e = dfi_journal_verify_buf(b, (size_t)n, vo, r);
	free(b);
	return e;
}

/* The record parser proves a line canonical field by field, without
 * formatting it again (engine/journal/record.c): every line it accepts must
 * format back to the very same bytes, or the two have drifted apart and a
 * record has two spellings. */
static void
check_canonical(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);
		dfi_jrec r;
		char back[DFI_J_LINE_MAX + 1];
		size_t blen;
		if (dfi_jrec_parse((const char *)p, len, &r) == DFI_OK &&
		    (dfi_jrec_format(&r, back, sizeof(back), &blen) != DFI_OK || blen != len ||
			memcmp(back, p, len) != 0))
			__builtin_trap();
		p += len + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (signer == NULL)
		init();
	check_canonical(data, size);
	struct dfi_jverify_opts o = { .pubkey = pub };
	struct dfi_jverify_result r;
	dfi_err e = dfi_journal_verify_buf(data, size, &o, &r);
	if (e == DFI_OK && (r.findings != 0 || r.covered != r.records || r.last_note_len == 0))
		__builtin_trap(); /* "verified" must mean fully covered and signed */
	/* again, anchored on the first line's note if it is one */
	const uint8_t *nl = memchr(data, '\n', size);
	if (nl != NULL && size > 11 && memcmp(data, "checkpoint ", 11) == 0) {
		uint8_t note[DFI_J_NOTE_MAX];
		int n = (int)(nl - data) - 11;
		if (n > 0 && n % 4 == 0 && n < (int)sizeof(note)) {
			int m = EVP_DecodeBlock(note, data + 11, n);
			if (m > 0) {
				o.last_seen = note;
				o.last_seen_len = (size_t)m;
				(void)dfi_journal_verify_buf(data, size, &o, &r);
			}
		}
	}
	/* the writer's open: recovery must leave a journal that verifies, or
	 * refuse; it never silently drops covered data */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	clear_quarantine();
	struct dfi_journal_opts jo = { .station = "fuzz" };
	dfi_journal *j = NULL;
	if (dfi_journal_open(&j, dir, signer, &jo, NULL) == DFI_OK) {
		dfi_journal_close(j);
		struct dfi_jverify_opts vo = { .pubkey = pub };
		/* open checks every root but only the last signature (the
		 * auditor checks them all), so only a signature finding may
		 * separate the two */
		/* (from memory: the input's own recovery records may name
		 * quarantine files this run never made) */
		dfi_err ve = verify_path(&vo, &r);
		if (ve != DFI_OK && ve != DFI_E_JOURNAL_SIGNATURE)
			__builtin_trap();
		struct dfi_jproof *p = malloc(sizeof(*p));
		if (p != NULL && r.covered > 0 && dfi_journal_proof_file(dir, size % r.covered, p) != DFI_OK)
			__builtin_trap();
		free(p);
		/* a consistency proof from any size to the last checkpoint
		 * exists, survives its text form, and verifies when the
		 * journal did */
		struct dfi_jconsistency *c = malloc(sizeof(*c)), *back = malloc(sizeof(*back));
		char *text = malloc(DFI_JCONSISTENCY_TEXT_MAX), why[512];
		size_t tl;
		if (c != NULL && back != NULL && text != NULL && r.covered > 0) {
			uint64_t from = 1 + size % r.covered;
			if (dfi_journal_consistency_file(dir, from, 0, c) != DFI_OK ||
			    dfi_jconsistency_format(c, text, DFI_JCONSISTENCY_TEXT_MAX, &tl) != DFI_OK ||
			    dfi_jconsistency_parse(text, tl, back) != DFI_OK || memcmp(c, back, sizeof(*c)) != 0)
				__builtin_trap();
			if (ve == DFI_OK && c->old_note_len > 0 &&
			    dfi_jconsistency_verify(back, pub, NULL, 0, why, sizeof(why)) != DFI_OK)
				__builtin_trap();
		}
		free(c);
		free(back);
		free(text);
	}
	/* the same bytes as a proof's text form and as a verifier key (both
	 * come from outside: an auditor's files) */
	struct dfi_jconsistency *pc = malloc(sizeof(*pc));
	if (pc != NULL && dfi_jconsistency_parse((const char *)data, size, pc) == DFI_OK) {
		char why[512];
		(void)dfi_jconsistency_verify(pc, pub, NULL, 0, why, sizeof(why));
	}
	free(pc);
	dfi_jpubkey *vk = NULL;
	char name[DFI_J_STR_MAX];
	if (dfi_jpubkey_from_vkey((const char *)data, size, &vk, name, sizeof(name)) == DFI_OK)
		dfi_jpubkey_free(vk);
	return 0;
}
