/*
 * What journal show keeps of a journal while it is verified: the auditor's
 * page (journal_html.c) and the text and JSON listing (sub_journal_show.c)
 * group every card's records together, so they hold them until the last
 * line is read; but they hold only what they show. A dfi_jrec is 1,048
 * bytes whatever its line says (every text field at its maximum); keeping
 * them made either's peak 8 times the journal (1.1 GB for 1M records, 137
 * MB). Here a record is a fixed part of 56 bytes and its texts at their
 * own length in one arena. The page does not show refusals,
 * authorizations, key ids or diversification inputs: a store made for it
 * (full = 0) does not keep them.
 */
#ifndef DFISSUE_JOURNAL_STORE_H
#define DFISSUE_JOURNAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/journal.h"

/* A timeline record: an intent, a change or an outcome (commit, abort,
 * resolve); in a full store also a refusal or an authorization. text: the
 * arena offset of its texts, station first (see jh_text and the others). */
struct jh_rec {
	uint64_t seq;
	int64_t time;
	uint64_t text;
	union {
		struct { /* intent, change */
			uint32_t aid, key_gen;
			uint8_t keyno, old_version, new_version, uid_len;
			uint8_t uid[DFI_J_UID_MAX];
		} in;
		struct { /* refusal, authorization */
			uint64_t tap;      /* refusal */
			dfi_jcause cause;  /* refusal */
			uint8_t uid_len;
			uint8_t uid[DFI_J_UID_MAX];
		} ev;
		struct { /* commit, abort, resolve */
			uint64_t intent;   /* the seq of the intent it names */
			int observed;      /* resolve: the version the card showed, -1 unknown */
			dfi_jmatch matched; /* resolve */
		} out;
	} u;
	dfi_jrec_type type;
};

/* A recovery record (the page lists them in file order). */
struct jh_recovery {
	uint64_t seq, q_lines, q_bytes, q_intents;
	int64_t time;
	uint8_t q_sha256[32];
	uint64_t text; /* station, then q_file */
};

/* A finding of the verifier. */
struct jh_finding {
	uint64_t line;
	uint64_t text; /* the message, cut at JH_FINDING_MAX bytes */
};

/* The bytes of a finding's message the page shows (they were held in a
 * char[256]). */
#define JH_FINDING_MAX 255

struct jh_store {
	struct jh_rec *rec;        /* timeline records, in file order */
	size_t n, cap;
	struct jh_recovery *rcv;
	size_t nrcv, caprcv;
	struct jh_finding *f;
	size_t nf, capf;
	char *arena;               /* NUL-terminated texts; a target as length byte + bytes */
	size_t used, capa;
	uint64_t records;          /* records given, of every type */
	char origin[DFI_J_STR_MAX]; /* the first genesis's non-empty origin, or "" */
	int full;                  /* set by the caller: keep what the text and JSON show too */
	int oom;                   /* something could not be kept: nothing is written */
};

/* Keeps what journal show shows of r (any type; genesis: only the origin). */
void jh_store_record(struct jh_store *s, const dfi_jrec *r);
/* Keeps a finding's line and message. */
void jh_store_finding(struct jh_store *s, uint64_t line, const char *msg);
void jh_store_free(struct jh_store *s);

/* A kept record's texts, from its text offset (valid until the store
 * changes or is freed): its station (a finding: its message); the text
 * after that (an intent's key label, a change's what, an abort's reason,
 * a recovery's file, a refusal's or an authorization's reason); then its
 * byte fields, the nth with its length in *len: a change's target (0); in
 * a full store an intent's key object id (0), diversification input (1)
 * and old key generation (2: 4 bytes in host order if the intent names
 * one, else none; kept there, the fixed part stays 56 bytes). */
const char *jh_text(const struct jh_store *s, uint64_t text);
const char *jh_text2(const struct jh_store *s, uint64_t text);
const uint8_t *jh_bytes(const struct jh_store *s, uint64_t text, unsigned nth, size_t *len);

/* The card a record is of (an intent, a change, a refusal or an
 * authorization), its length in *len. */
const uint8_t *jh_uid(const struct jh_rec *r, size_t *len);
/* Orders two such records by card: the shorter UID first, then by bytes. */
int jh_uid_cmp(const struct jh_rec *x, const struct jh_rec *y);

#endif
