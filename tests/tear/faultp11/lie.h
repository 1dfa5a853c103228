/*
 * Private to faultp11: FAULTP11_LIE, a call that succeeds with a rewritten
 * answer (the kinds are listed at the top of faultp11.c). The wrappers in
 * faultp11.c forward the call, then hand its outputs here.
 */
#ifndef FAULTP11_LIE_H
#define FAULTP11_LIE_H

#define CRYPTOKI_GNU 1
#include <p11-kit/pkcs11.h>

enum lie_kind { LIE_NONE, LIE_LONG, LIE_HUGE, LIE_SHORT, LIE_UNAVAIL, LIE_GARBAGE, LIE_VLEN0,
	LIE_VLEN40, LIE_GREW };

/* Reads FAULTP11_LIE (at load). */
void lie_arm_from_env(void);
/* Each function below asks whether this call of fn (the call returned rv)
 * is the one to lie in, counting it when the armed kind fits the call, and
 * if so rewrites its answer. */

/* The templates' capacities before the call, for lie_attrs: at most this
 * many attributes are lied about. */
#define LIE_MAX_ATTRS 64
void lie_attrs(const char *fn, ck_rv_t rv, struct ck_attribute *t, unsigned long n,
    const unsigned long *caps);
/* An output of bytes (buf NULL: a length query), cap its capacity in. */
void lie_bytes(const char *fn, ck_rv_t rv, unsigned char *buf, unsigned long cap,
    unsigned long *len);
/* A list of item-byte entries (slots, mechanisms, handles), cap entries;
 * returns the call's return value (grew: CKR_BUFFER_TOO_SMALL). */
ck_rv_t lie_list(const char *fn, ck_rv_t rv, void *items, size_t item, unsigned long cap,
    unsigned long *count);
/* The blank-padded text fields of an info struct. */
struct text_field {
	unsigned char *p;
	size_t n;
};
void lie_fields(const char *fn, ck_rv_t rv, const struct text_field *f, size_t nf);

#endif
