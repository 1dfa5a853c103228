/* The card's persistent model: factory state, lookups, keys, memory. */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

#define SIM_BLOCK 32u

struct sim_card *
sim_card_factory(const uint8_t uid[DFI_SIM_UID_LEN])
{
	struct sim_card *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	memcpy(c->uid, uid, DFI_SIM_UID_LEN);
	/* A fresh card: DES PICC master key of zeros, version 0, settings 0x0F. */
	c->picc_ks = 0x0F;
	c->picc_kfam = KF_2K3DES;
	return c;
}

void
sim_file_drop_pending(struct sim_file *f)
{
	if (f == NULL)
		return;
	if (f->pdata != NULL) {
		/* backup: the whole new content; record: one record */
		dfi_wipe(f->pdata, f->size);
		free(f->pdata);
	}
	f->pdata = NULL;
	f->pwritten = false;
	f->pclear = false;
	f->pvalue_set = false;
	f->pvalue = 0;
	f->pdebits = 0;
	f->plimited = false;
}

void
sim_file_free(struct sim_file *f)
{
	if (f == NULL)
		return;
	sim_file_drop_pending(f);
	if (f->data != NULL) {
		dfi_wipe(f->data, sim_file_bytes(f));
		free(f->data);
	}
	sim_sdm_free(f->sdm);
	free(f);
}

void
sim_app_free(struct sim_app *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		sim_file_free(a->files[i]);
	dfi_wipe(a->keys, sizeof(a->keys));
	free(a);
}

void
sim_card_free(struct sim_card *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->napps; i++)
		sim_app_free(c->apps[i]);
	dfi_wipe(c, sizeof(*c));
	free(c);
}

struct sim_app *
sim_find_app(struct sim_card *c, uint32_t aid)
{
	for (size_t i = 0; i < c->napps; i++)
		if (c->apps[i]->aid == aid)
			return c->apps[i];
	return NULL;
}

size_t
sim_kfam_keylen(uint8_t kfam)
{
	return kfam == KF_3K3DES ? 24 : 16;
}

/* The cipher a stored key runs as: a 2K3DES key with equal halves
 * (parity bits included, as the card compares them) is single DES. */
dfi_keytype
sim_key_cipher(uint8_t kfam, const struct sim_key *k, uint8_t *key, size_t *keylen)
{
	switch (kfam) {
	case KF_AES:
		memcpy(key, k->k, 16);
		*keylen = 16;
		return DFI_KT_AES128;
	case KF_3K3DES:
		memcpy(key, k->k, 24);
		*keylen = 24;
		return DFI_KT_3K3DES;
	default:
		if (dfi_ct_memcmp(k->k, k->k + 8, 8) == 0) { /* key bytes: no early exit */
			memcpy(key, k->k, 8);
			*keylen = 8;
			return DFI_KT_DES;
		}
		memcpy(key, k->k, 16);
		*keylen = 16;
		return DFI_KT_2K3DES;
	}
}

uint8_t
sim_key_version(uint8_t kfam, const struct sim_key *k)
{
	return kfam == KF_AES ? k->aes_ver : dfi_des_key_version(k->k);
}

uint32_t
sim_file_bytes(const struct sim_file *f)
{
	switch (f->type) {
	case DFI_SIM_FILE_VALUE:
		return 0;
	case DFI_SIM_FILE_LINEAR_RECORD:
	case DFI_SIM_FILE_CYCLIC_RECORD:
		return f->size * f->max_rec;
	default:
		return f->size;
	}
}

static uint64_t
blocks(uint64_t n)
{
	return (n + SIM_BLOCK - 1) / SIM_BLOCK * SIM_BLOCK;
}

/* EEPROM accounting in 32-byte blocks; a backup file keeps a mirror. In
 * 64 bits: a new record file's size times its count (24 bits each, as
 * CreateFile gave them) need not fit sim_file_bytes()' 32. */
uint64_t
sim_file_cost(const struct sim_file *f)
{
	bool rec = f->type == DFI_SIM_FILE_LINEAR_RECORD || f->type == DFI_SIM_FILE_CYCLIC_RECORD;
	uint64_t n = f->type == DFI_SIM_FILE_VALUE ? SIM_BLOCK :
	    blocks(rec ? (uint64_t)f->size * f->max_rec : sim_file_bytes(f));
	if (f->type == DFI_SIM_FILE_BACKUP)
		n *= 2;
	return n + SIM_BLOCK; /* file header */
}

uint64_t
sim_app_cost(const struct sim_app *a)
{
	uint64_t n = blocks((uint64_t)a->nkeys * (sim_kfam_keylen(a->kfam) + 1) + 16) + SIM_BLOCK;
	for (size_t i = 0; i < DFI_SIM_MAX_FILES; i++)
		if (a->files[i] != NULL)
			n += sim_file_cost(a->files[i]);
	return n;
}

uint64_t
sim_mem_used(const struct sim_card *c)
{
	uint64_t used = 0;
	for (size_t i = 0; i < c->napps; i++)
		used += sim_app_cost(c->apps[i]);
	return used;
}

bool
sim_fits(const struct sim_card *c, uint64_t cost)
{
	return cost <= SIM_EEPROM_BYTES && sim_mem_used(c) <= SIM_EEPROM_BYTES - cost;
}

uint32_t
sim_free_memory(const struct sim_card *c)
{
	uint64_t used = sim_mem_used(c);
	return used >= SIM_EEPROM_BYTES ? 0 : (uint32_t)(SIM_EEPROM_BYTES - used);
}

size_t
sim_record_offset(const struct sim_file *f, uint32_t idx_from_oldest)
{
	return (size_t)((f->head + idx_from_oldest) % f->max_rec) * f->size;
}
