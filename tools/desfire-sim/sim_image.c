/*
 * The card image: a versioned binary encoding of the committed state, with
 * a SHA-256 trailer so a damaged file is refused rather than half-read.
 * Written atomically (temp file in the same directory, fsync, rename, fsync
 * of the directory), so a crash or tear leaves the old or the new state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "core/replace.h"
#include "dfissue/util.h"
#include "sim_int.h"

static const uint8_t magic[8] = { 'D', 'F', 'I', 'S', 'I', 'M', 0, 1 };
#define IMAGE_MAX (4u << 20)
#define FILE_BYTES_MAX (1u << 20)

static size_t
encoded_bound(const struct sim_card *c)
{
	size_t n = 256;
	for (size_t i = 0; i < c->napps; i++) {
		const struct sim_app *a = c->apps[i];
		n += 64 + (size_t)DFI_SIM_MAX_KEYS * 32;
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++)
			if (a->files[f] != NULL)
				n += 64 + sim_file_bytes(a->files[f]);
	}
	return n + sim_ev3_image_bound(c) + SHA256_DIGEST_LENGTH;
}

static void
put_key(dfi_wr *w, const struct sim_key *k)
{
	dfi_wr_bytes(w, k->k, sizeof(k->k));
	dfi_wr_u8(w, k->aes_ver);
}

dfi_err
sim_image_encode(const struct sim_card *c, uint8_t **out, size_t *len)
{
	size_t cap = encoded_bound(c);
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return DFI_E_NOMEM;
	dfi_wr w;
	dfi_wr_init(&w, buf, cap);
	dfi_wr_bytes(&w, magic, sizeof(magic));
	dfi_wr_bytes(&w, c->uid, DFI_SIM_UID_LEN);
	dfi_wr_u8(&w, c->picc_ks);
	dfi_wr_u8(&w, c->picc_kfam);
	put_key(&w, &c->picc_key);
	dfi_wr_u8(&w, c->config);
	dfi_wr_u8(&w, c->has_default_key);
	put_key(&w, &c->default_key);
	dfi_wr_u8(&w, c->ats_len);
	dfi_wr_bytes(&w, c->ats, sizeof(c->ats));
	dfi_wr_u8(&w, (uint8_t)c->napps);
	for (size_t i = 0; i < c->napps; i++) {
		const struct sim_app *a = c->apps[i];
		dfi_wr_le24(&w, a->aid);
		dfi_wr_u8(&w, a->ks);
		dfi_wr_u8(&w, a->nkeys);
		dfi_wr_u8(&w, a->kfam);
		/* ISO flags; 0x80 marks this form (images before it held has_iso
		 * alone, 0 or 1, which also meant ISO file IDs) */
		dfi_wr_u8(&w, (uint8_t)(0x80 | a->has_iso | a->iso_files << 1));
		dfi_wr_le16(&w, a->iso_fid);
		dfi_wr_u8(&w, a->dfname_len);
		dfi_wr_bytes(&w, a->dfname, sizeof(a->dfname));
		for (size_t k = 0; k < a->nkeys; k++)
			put_key(&w, &a->keys[k]);
		uint8_t nf = 0;
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++)
			nf = (uint8_t)(nf + (a->files[f] != NULL));
		dfi_wr_u8(&w, nf);
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++) {
			const struct sim_file *fl = a->files[f];
			if (fl == NULL)
				continue;
			dfi_wr_u8(&w, fl->fid);
			dfi_wr_u8(&w, fl->type);
			dfi_wr_u8(&w, fl->comm);
			dfi_wr_le16(&w, fl->ar);
			dfi_wr_u8(&w, fl->has_iso);
			dfi_wr_le16(&w, fl->iso_fid);
			dfi_wr_le32(&w, fl->size);
			dfi_wr_le32(&w, fl->max_rec);
			dfi_wr_le32(&w, fl->nrec);
			dfi_wr_le32(&w, fl->head);
			dfi_wr_le32(&w, (uint32_t)fl->lower);
			dfi_wr_le32(&w, (uint32_t)fl->upper);
			dfi_wr_le32(&w, (uint32_t)fl->value);
			dfi_wr_le32(&w, (uint32_t)fl->lc_value);
			dfi_wr_u8(&w, fl->vflags);
			dfi_wr_bytes(&w, fl->data, sim_file_bytes(fl));
		}
	}
	sim_ev3_image_encode(c, &w);
	if (w.err == DFI_OK && w.len + SHA256_DIGEST_LENGTH <= cap) {
		SHA256(buf, w.len, buf + w.len);
		w.len += SHA256_DIGEST_LENGTH;
	} else if (w.err == DFI_OK) {
		w.err = DFI_E_INTERNAL;
	}
	if (w.err != DFI_OK) {
		free(buf);
		return w.err;
	}
	*out = buf;
	*len = w.len;
	return DFI_OK;
}

static dfi_err
get_key(dfi_rd *r, struct sim_key *k)
{
	dfi_err e = dfi_rd_bytes(r, k->k, sizeof(k->k));
	return e != DFI_OK ? e : dfi_rd_u8(r, &k->aes_ver);
}

#define TRY(x) do { if ((x) != DFI_OK) goto bad; } while (0)
#define CHECK(c) do { if (!(c)) goto bad; } while (0)

static dfi_err
decode_file(dfi_rd *r, struct sim_app *a)
{
	struct sim_file *f = calloc(1, sizeof(*f));
	uint8_t b;
	uint32_t v;
	if (f == NULL)
		return DFI_E_NOMEM;
	TRY(dfi_rd_u8(r, &f->fid));
	CHECK(f->fid < DFI_SIM_MAX_FILES && a->files[f->fid] == NULL);
	TRY(dfi_rd_u8(r, &f->type));
	CHECK(f->type <= DFI_SIM_FILE_CYCLIC_RECORD);
	TRY(dfi_rd_u8(r, &f->comm));
	CHECK(f->comm <= 3);
	TRY(dfi_rd_le16(r, &f->ar));
	TRY(dfi_rd_u8(r, &b));
	CHECK(b <= 1);
	f->has_iso = b;
	TRY(dfi_rd_le16(r, &f->iso_fid));
	TRY(dfi_rd_le32(r, &f->size));
	TRY(dfi_rd_le32(r, &f->max_rec));
	TRY(dfi_rd_le32(r, &f->nrec));
	TRY(dfi_rd_le32(r, &f->head));
	TRY(dfi_rd_le32(r, &v)); f->lower = (int32_t)v;
	TRY(dfi_rd_le32(r, &v)); f->upper = (int32_t)v;
	TRY(dfi_rd_le32(r, &v)); f->value = (int32_t)v;
	TRY(dfi_rd_le32(r, &v)); f->lc_value = (int32_t)v;
	TRY(dfi_rd_u8(r, &f->vflags));
	switch (f->type) {
	case DFI_SIM_FILE_VALUE:
		CHECK(f->lower <= f->upper && f->value >= f->lower && f->value <= f->upper);
		CHECK(f->size == 0 && f->max_rec == 0 && f->nrec == 0 && f->head == 0);
		break;
	case DFI_SIM_FILE_LINEAR_RECORD:
	case DFI_SIM_FILE_CYCLIC_RECORD:
		CHECK(f->size >= 1 && f->max_rec >= 1 && f->max_rec <= FILE_BYTES_MAX);
		CHECK((uint64_t)f->size * f->max_rec <= FILE_BYTES_MAX);
		CHECK(f->nrec <= f->max_rec && f->head < f->max_rec);
		break;
	default:
		CHECK(f->size >= 1 && f->size <= FILE_BYTES_MAX);
		CHECK(f->max_rec == 0 && f->nrec == 0 && f->head == 0);
		break;
	}
	uint32_t nb = sim_file_bytes(f);
	if (nb > 0) {
		f->data = malloc(nb);
		if (f->data == NULL) {
			free(f);
			return DFI_E_NOMEM;
		}
		TRY(dfi_rd_bytes(r, f->data, nb));
	}
	a->files[f->fid] = f;
	return DFI_OK;
bad:
	sim_file_free(f);
	return DFI_E_PARSE;
}

static dfi_err
decode_app(dfi_rd *r, struct sim_card *c)
{
	struct sim_app *a = calloc(1, sizeof(*a));
	uint8_t b, nf;
	dfi_err e = DFI_E_PARSE;
	if (a == NULL)
		return DFI_E_NOMEM;
	TRY(dfi_rd_le24(r, &a->aid));
	CHECK(a->aid != 0 && sim_find_app(c, a->aid) == NULL);
	TRY(dfi_rd_u8(r, &a->ks));
	TRY(dfi_rd_u8(r, &a->nkeys));
	CHECK(a->nkeys <= DFI_SIM_MAX_KEYS);
	TRY(dfi_rd_u8(r, &a->kfam));
	CHECK(a->kfam <= KF_AES);
	TRY(dfi_rd_u8(r, &b));
	CHECK(b <= 1 || (b & 0x7C) == 0);
	a->has_iso = b & 1;
	a->iso_files = (b & 0x80) ? (b & 2) != 0 : b == 1;
	TRY(dfi_rd_le16(r, &a->iso_fid));
	TRY(dfi_rd_u8(r, &a->dfname_len));
	CHECK(a->dfname_len <= sizeof(a->dfname));
	TRY(dfi_rd_bytes(r, a->dfname, sizeof(a->dfname)));
	for (size_t k = 0; k < a->nkeys; k++)
		TRY(get_key(r, &a->keys[k]));
	TRY(dfi_rd_u8(r, &nf));
	CHECK(nf <= DFI_SIM_MAX_FILES);
	for (size_t i = 0; i < nf; i++)
		if ((e = decode_file(r, a)) != DFI_OK)
			goto fail;
	c->apps[c->napps++] = a;
	return DFI_OK;
bad:
	e = DFI_E_PARSE;
fail:
	sim_app_free(a);
	return e;
}

dfi_err
sim_image_decode(const uint8_t *p, size_t len, struct sim_card **out)
{
	uint8_t digest[SHA256_DIGEST_LENGTH], napps;
	dfi_err e = DFI_E_PARSE;
	if (len < sizeof(magic) + SHA256_DIGEST_LENGTH || memcmp(p, magic, sizeof(magic)) != 0)
		return DFI_E_PARSE;
	SHA256(p, len - SHA256_DIGEST_LENGTH, digest);
	if (memcmp(digest, p + len - SHA256_DIGEST_LENGTH, SHA256_DIGEST_LENGTH) != 0)
		return DFI_E_PARSE;
	struct sim_card *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return DFI_E_NOMEM;
	dfi_rd r;
	dfi_rd_init(&r, p + sizeof(magic), len - sizeof(magic) - SHA256_DIGEST_LENGTH);
	uint8_t b;
	TRY(dfi_rd_bytes(&r, c->uid, DFI_SIM_UID_LEN));
	TRY(dfi_rd_u8(&r, &c->picc_ks));
	TRY(dfi_rd_u8(&r, &c->picc_kfam));
	CHECK(c->picc_kfam <= KF_AES);
	TRY(get_key(&r, &c->picc_key));
	TRY(dfi_rd_u8(&r, &c->config));
	TRY(dfi_rd_u8(&r, &b));
	CHECK(b <= 1);
	c->has_default_key = b;
	TRY(get_key(&r, &c->default_key));
	TRY(dfi_rd_u8(&r, &c->ats_len));
	CHECK(c->ats_len <= sizeof(c->ats));
	TRY(dfi_rd_bytes(&r, c->ats, sizeof(c->ats)));
	TRY(dfi_rd_u8(&r, &napps));
	CHECK(napps <= DFI_SIM_MAX_APPS);
	for (size_t i = 0; i < napps; i++)
		if ((e = decode_app(&r, c)) != DFI_OK)
			goto fail;
	if ((e = sim_ev3_image_decode(&r, c)) != DFI_OK)
		goto fail;
	TRY(dfi_rd_end(&r));
	*out = c;
	return DFI_OK;
bad:
	e = DFI_E_PARSE;
fail:
	sim_card_free(c);
	return e;
}

dfi_err
sim_image_load(const char *path, struct sim_card **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DFI_E_NOT_FOUND : DFI_E_IO;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > IMAGE_MAX) {
		close(fd);
		return DFI_E_PARSE;
	}
	size_t len = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL) {
		close(fd);
		return DFI_E_NOMEM;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	dfi_err e = got == len ? sim_image_decode(buf, len, out) : DFI_E_IO;
	dfi_wipe(buf, len);
	free(buf);
	return e;
}

dfi_err
sim_image_save(const char *path, const struct sim_card *c, bool do_fsync)
{
	uint8_t *buf;
	size_t len;
	dfi_err e = sim_image_encode(c, &buf, &len);
	if (e != DFI_OK)
		return e;
	e = dfi_file_replace(path, buf, len, do_fsync, NULL);
	dfi_wipe(buf, len);
	free(buf);
	return e;
}
