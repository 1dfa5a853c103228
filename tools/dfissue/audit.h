/* dfissue audit: state shared by its parts (sub_audit.c). */
#ifndef DFISSUE_AUDIT_H
#define DFISSUE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/journal.h"

#define AUDIT_MAX_KEYS 64

struct audit_journal {
	const char *path;
	char origin[DFI_J_STR_MAX];
	uint32_t key_id;
	dfi_sigalg alg;
	const dfi_jpubkey *key;      /* the given key that signs it */
	uint64_t records, covered;
	int witnessed;               /* the registry has checkpoints of it */
	uint64_t witnessed_size;     /* its witnessed head */
};

struct audit {
	dfi_jpubkey *keys[AUDIT_MAX_KEYS];
	char key_names[AUDIT_MAX_KEYS][DFI_J_STR_MAX]; /* a verifier key's name, else "" */
	size_t nkeys;
	struct audit_journal *j;
	size_t nj;
	size_t witnessed;            /* checkpoints in the registry */
	uint64_t card_records;       /* card records in the registry */
	uint64_t findings;
};

/* Prints "<where>: <message>" in its terminal form (termtext.h) and
 * counts a finding. */
void audit_finding(struct audit *a, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct audit_journal *audit_journal_of(struct audit *a, const char *origin);
/* The registry's records and key slots against the journals
 * (audit_cards.c); -1 when the registry cannot be read. */
struct dfi_pgreg;
int audit_cards(struct audit *a, struct dfi_pgreg *r);

#endif
