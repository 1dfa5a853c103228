/*
 * faultp11 — a PKCS#11 module for the fault tests. It forwards every call to
 * a real module (dlopen of $FAULTP11_MODULE, else $SOFTHSM2_MODULE) and can
 * make one chosen call fail with CKR_DEVICE_ERROR (the k-th counted call,
 * or by name from the environment, FAULTP11_FAIL=FN:N: FN's n-th call): not
 * forwarded at all, or
 * (calls that end an operation: C_Encrypt, C_Sign, C_*Final, ...) run and
 * then reported failed, since PKCS#11 ends the operation on such an error.
 *
 * What counts: every call through the function list except C_Initialize,
 * C_Finalize and C_GetFunctionList (module life cycle, never faulted) and
 * the legacy parallel-function pair C_GetFunctionStatus/C_CancelFunction.
 * Counting runs only while armed or after faultp11_reset().
 *
 * The test loads this module through the HSM layer (its `module` path) and
 * reaches the control functions below with dlopen(path, RTLD_NOLOAD) +
 * dlsym: the same loaded object, so the same counters. Thread-safe
 * (atomics).
 */
#ifndef FAULTP11_H
#define FAULTP11_H

/* Zeroes the call counter; no fault armed. */
void faultp11_reset(void);
/* The k-th counted call from now fails (k >= 1); k = 0 disarms. Resets the
 * counter and the fired flag. */
void faultp11_arm(unsigned long k);
/* The same, but the k-th call raises SIGKILL (a station crash in the
 * middle of HSM work, for the process-kill tests). */
void faultp11_arm_kill(unsigned long k);
/* 1: a failed call that ends an operation leaves it active on its session,
 * as a non-compliant module does; 0 (default): PKCS#11 behaviour. */
void faultp11_set_leave_active(int on);
/* The nth call of the function fn (say "C_Encrypt", n >= 1) from now
 * blocks until faultp11_unhang(); faultp11_fired_name() then names it.
 * fn NULL or n 0 disarms. Also armed at load by FAULTP11_HANG=FN:N, or
 * FN:N:MS for a call that answers after MS milliseconds (a slow HSM). */
void faultp11_arm_hang(const char *fn, unsigned long nth);
/* Every call of the functions fns names (comma-separated, say
 * "C_Encrypt,C_Sign") fails from now on, until called again with NULL or
 * "": each thread of a test can be made to fail its own call at the same
 * time. Not a fired fault (faultp11_fired). */
void faultp11_fail_always(const char *fns);
/* Lets a hung call go on (and disarms the hang). */
void faultp11_unhang(void);
/* Calls counted since the last reset/arm. */
unsigned long faultp11_calls(void);
/* 1 when the armed fault fired; its function name (static string) or "". */
int faultp11_fired(void);
const char *faultp11_fired_name(void);

typedef void (*faultp11_reset_fn)(void);
typedef void (*faultp11_arm_fn)(unsigned long); /* also faultp11_arm_kill */
typedef void (*faultp11_set_leave_active_fn)(int);
typedef void (*faultp11_arm_hang_fn)(const char *, unsigned long);
typedef void (*faultp11_unhang_fn)(void);
typedef void (*faultp11_fail_always_fn)(const char *);
typedef unsigned long (*faultp11_calls_fn)(void);
typedef int (*faultp11_fired_fn)(void);
typedef const char *(*faultp11_fired_name_fn)(void);

#endif
