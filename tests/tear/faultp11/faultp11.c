/*
 * faultp11 — a forwarding PKCS#11 module that fails one chosen call
 * (faultp11.h). The wrappers below were generated from the declarations in
 * p11-kit's pkcs11.h: one per function of the 2.40 function list, except
 * the life-cycle calls and the legacy parallel pair, which pass through.
 *
 * Environment (read once, when the module is loaded):
 *   FAULTP11_FAIL=FN:N      FN's nth call fails (CKR_DEVICE_ERROR).
 *   FAULTP11_HANG=FN:N[:MS] FN's nth call blocks (MS: answers after MS ms).
 *   FAULTP11_LIE=FN:N:KIND  FN's nth call (N 0: every call) is forwarded,
 *                           succeeds, and its answer is rewritten (lie.c
 *                           lists which kinds apply to which function):
 *     long     a length or count beyond the buffer the caller gave (its
 *              capacity + 64; nothing is written past the buffer), or a
 *              length query answered 64 more than the truth
 *     huge     every length or count 2^40 (or 2^32 - 1 on 32-bit)
 *     short    every length or count one less than the truth
 *     unavail  every length or count CK_UNAVAILABLE_INFORMATION
 *     garbage  the bytes written replaced by a pattern that holds NULs,
 *              control characters, '%' and bytes above 0x7e (info
 *              structs: every text field; C_FindObjects: bogus handles;
 *              CKA_EC_POINT: no longer a DER OCTET STRING)
 *     vlen0    C_GetAttributeValue: a CKA_VALUE_LEN it reports is 0
 *     vlen40   C_GetAttributeValue: a CKA_VALUE_LEN it reports is 2^40
 *     grew     a list call given a buffer answers CKR_BUFFER_TOO_SMALL and a
 *              count one above it, as when an entry appeared since the
 *              caller asked for the count (a token plugged in)
 *   A call tells only the kinds that fit it (info structs: garbage; vlen*:
 *   C_GetAttributeValue; the rest: C_GetSlotList, C_GetMechanismList,
 *   C_FindObjects, C_GetAttributeValue, C_Encrypt, C_Decrypt, C_Sign,
 *   C_WrapKey); the others pass through uncounted.
 *   Each lie is logged to stderr ("faultp11: lie FN#n KIND") so a test can
 *   tell the lie was told.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The GNU names of p11-kit's header: the wrappers were generated from them. */
#define CRYPTOKI_GNU 1
#include <p11-kit/pkcs11.h>

#include "faultp11.h"
#include "lie.h"

/* The real module, its function list, and ours (a copy with wrappers). The
 * lists are written once, under the dlopen below, before any caller can
 * see ours; a module is one process-wide object by nature. */
static struct ck_function_list *real;
static struct ck_function_list wrapped;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_ok;

static atomic_ulong calls;
static atomic_ulong armed_at; /* 0: disarmed */
static atomic_int armed_kill; /* the armed call kills the process instead */
static atomic_int fired;
static atomic_int leave_active; /* misbehave: a failed end call leaves the operation active */
static _Atomic(const char *) fired_name;

/* The hang: the nth call of one function blocks until faultp11_unhang(),
 * as a call into a network HSM that lost its peer never returns. */
static pthread_mutex_t hang_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cv = PTHREAD_COND_INITIALIZER;
static char hang_fn[64]; /* under hang_mu; "" when disarmed */
static unsigned long hang_nth, hang_seen, hang_ms; /* hang_ms 0: until unhang */
static int hang_released;
static atomic_int hang_armed; /* read without the lock on every call */
/* FAULTP11_FAIL=FN:N: the nth call of one function fails, for a program
 * the test cannot reach with dlsym (under hang_mu). */
static char fail_fn[64];
static unsigned long fail_nth, fail_seen;
static atomic_int fail_armed;
/* faultp11_fail_always: ",FN,FN," (under hang_mu), for threads that each
 * fail their own call at the same time. */
static char always_fns[160];
static atomic_int always_armed;

void
faultp11_reset(void)
{
	atomic_store(&armed_at, 0);
	atomic_store(&fired, 0);
	atomic_store(&fired_name, "");
	atomic_store(&calls, 0);
}

void
faultp11_arm(unsigned long k)
{
	faultp11_reset();
	atomic_store(&armed_kill, 0);
	atomic_store(&armed_at, k);
}

void
faultp11_arm_kill(unsigned long k)
{
	faultp11_reset();
	atomic_store(&armed_kill, 1);
	atomic_store(&armed_at, k);
}

void
faultp11_set_leave_active(int on)
{
	atomic_store(&leave_active, on ? 1 : 0);
}

unsigned long
faultp11_calls(void)
{
	return atomic_load(&calls);
}

int
faultp11_fired(void)
{
	return atomic_load(&fired);
}

const char *
faultp11_fired_name(void)
{
	const char *n = atomic_load(&fired_name);
	return n != NULL ? n : "";
}

void
faultp11_arm_hang(const char *fn, unsigned long nth)
{
	pthread_mutex_lock(&hang_mu);
	snprintf(hang_fn, sizeof(hang_fn), "%s", fn != NULL ? fn : "");
	hang_nth = nth;
	hang_seen = 0;
	hang_released = 0;
	atomic_store(&hang_armed, hang_fn[0] != '\0' && nth > 0);
	pthread_mutex_unlock(&hang_mu);
}

void
faultp11_unhang(void)
{
	pthread_mutex_lock(&hang_mu);
	hang_released = 1;
	atomic_store(&hang_armed, 0);
	pthread_cond_broadcast(&hang_cv);
	pthread_mutex_unlock(&hang_mu);
}

/* Blocks the armed call until faultp11_unhang(): never, in a process that
 * armed it from FAULTP11_HANG and is then stopped from outside. */
static void
maybe_hang(const char *name)
{
	if (!atomic_load(&hang_armed))
		return;
	pthread_mutex_lock(&hang_mu);
	if (!hang_released && strcmp(name, hang_fn) == 0 && ++hang_seen == hang_nth) {
		atomic_store(&fired_name, name);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(hang_ms / 1000);
		until.tv_nsec += (long)(hang_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!hang_released) {
			if (hang_ms == 0)
				pthread_cond_wait(&hang_cv, &hang_mu);
			else if (pthread_cond_timedwait(&hang_cv, &hang_mu, &until) == ETIMEDOUT)
				break; /* a slow HSM: it answers in the end */
		}
	}
	pthread_mutex_unlock(&hang_mu);
}

void
faultp11_fail_always(const char *fns)
{
	pthread_mutex_lock(&hang_mu);
	int ok = fns != NULL && fns[0] != '\0' &&
	    snprintf(always_fns, sizeof(always_fns), ",%s,", fns) < (int)sizeof(always_fns);
	if (!ok)
		always_fns[0] = '\0';
	atomic_store(&always_armed, ok);
	pthread_mutex_unlock(&hang_mu);
}

static int
always_fails(const char *name)
{
	if (!atomic_load(&always_armed))
		return 0;
	char key[66];
	snprintf(key, sizeof(key), ",%s,", name);
	pthread_mutex_lock(&hang_mu);
	int f = strstr(always_fns, key) != NULL;
	pthread_mutex_unlock(&hang_mu);
	return f;
}

static int
named_fail(const char *name)
{
	if (!atomic_load(&fail_armed))
		return 0;
	pthread_mutex_lock(&hang_mu);
	int f = strcmp(name, fail_fn) == 0 && ++fail_seen == fail_nth;
	pthread_mutex_unlock(&hang_mu);
	return f;
}

/* Counts the call; 1 when it is the armed one. */
static int
hit(const char *name)
{
	maybe_hang(name);
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	unsigned long k = atomic_load(&armed_at);
	if (named_fail(name))
		k = n;
	if (always_fails(name))
		return 1;
	if (k == 0 || n != k)
		return 0;
	atomic_store(&fired_name, name);
	atomic_store(&fired, 1);
	/* A crash of the station while the HSM works: the call never happens. */
	if (atomic_load(&armed_kill))
		raise(SIGKILL);
	return 1;
}

/* Most calls fail without reaching the module. A call that ends an
 * operation is run and then reported failed: PKCS#11 says an error from it
 * terminates the operation (a session is not left busy), and the caller
 * cannot know whether the HSM did the work. With leave_active set, the
 * module misbehaves as some real ones do: the failed end call is not run,
 * so the session stays busy (CKR_OPERATION_ACTIVE on its next operation). */
#define WF(name, params, args)                                  \
	static ck_rv_t w_##name params                          \
	{                                                       \
		int f = hit(#name);                             \
		if (f && atomic_load(&leave_active))            \
			return CKR_DEVICE_ERROR;                \
		ck_rv_t rv = real->name args;                   \
		return f ? CKR_DEVICE_ERROR : rv;               \
	}

#define W(name, params, args)                                   \
	static ck_rv_t w_##name params                            \
	{                                                       \
		if (hit(#name))                                 \
			return CKR_DEVICE_ERROR;                \
		return real->name args;                         \
	}

W(C_GetInfo, (struct ck_info *info),
    (info))
W(C_GetSlotList, (unsigned char token_present, ck_slot_id_t *slot_list, unsigned long *count),
    (token_present, slot_list, count))
W(C_GetSlotInfo, (ck_slot_id_t slot_id, struct ck_slot_info *info),
    (slot_id, info))
W(C_GetTokenInfo, (ck_slot_id_t slot_id, struct ck_token_info *info),
    (slot_id, info))
W(C_WaitForSlotEvent, (ck_flags_t flags, ck_slot_id_t *slot, void *reserved),
    (flags, slot, reserved))
W(C_GetMechanismList, (ck_slot_id_t slot_id, ck_mechanism_type_t *mechanism_list, unsigned long *count),
    (slot_id, mechanism_list, count))
W(C_GetMechanismInfo, (ck_slot_id_t slot_id, ck_mechanism_type_t type, struct ck_mechanism_info *info),
    (slot_id, type, info))
W(C_InitToken, (ck_slot_id_t slot_id, unsigned char *pin, unsigned long pin_len, unsigned char *label),
    (slot_id, pin, pin_len, label))
W(C_InitPIN, (ck_session_handle_t session, unsigned char *pin, unsigned long pin_len),
    (session, pin, pin_len))
W(C_SetPIN, (ck_session_handle_t session, unsigned char *old_pin, unsigned long old_len, unsigned char *new_pin, unsigned long new_len),
    (session, old_pin, old_len, new_pin, new_len))
W(C_OpenSession, (ck_slot_id_t slot_id, ck_flags_t flags, void *application, ck_notify_t notify, ck_session_handle_t *session),
    (slot_id, flags, application, notify, session))
W(C_CloseSession, (ck_session_handle_t session),
    (session))
W(C_CloseAllSessions, (ck_slot_id_t slot_id),
    (slot_id))
W(C_GetSessionInfo, (ck_session_handle_t session, struct ck_session_info *info),
    (session, info))
W(C_GetOperationState, (ck_session_handle_t session, unsigned char *operation_state, unsigned long *operation_state_len),
    (session, operation_state, operation_state_len))
W(C_SetOperationState, (ck_session_handle_t session, unsigned char *operation_state, unsigned long operation_state_len, ck_object_handle_t encryption_key, ck_object_handle_t authentiation_key),
    (session, operation_state, operation_state_len, encryption_key, authentiation_key))
W(C_Login, (ck_session_handle_t session, ck_user_type_t user_type, unsigned char *pin, unsigned long pin_len),
    (session, user_type, pin, pin_len))
W(C_Logout, (ck_session_handle_t session),
    (session))
W(C_CreateObject, (ck_session_handle_t session, struct ck_attribute *templ, unsigned long count, ck_object_handle_t *object),
    (session, templ, count, object))
W(C_CopyObject, (ck_session_handle_t session, ck_object_handle_t object, struct ck_attribute *templ, unsigned long count, ck_object_handle_t *new_object),
    (session, object, templ, count, new_object))
W(C_DestroyObject, (ck_session_handle_t session, ck_object_handle_t object),
    (session, object))
W(C_GetObjectSize, (ck_session_handle_t session, ck_object_handle_t object, unsigned long *size),
    (session, object, size))
W(C_GetAttributeValue, (ck_session_handle_t session, ck_object_handle_t object, struct ck_attribute *templ, unsigned long count),
    (session, object, templ, count))
W(C_SetAttributeValue, (ck_session_handle_t session, ck_object_handle_t object, struct ck_attribute *templ, unsigned long count),
    (session, object, templ, count))
W(C_FindObjectsInit, (ck_session_handle_t session, struct ck_attribute *templ, unsigned long count),
    (session, templ, count))
W(C_FindObjects, (ck_session_handle_t session, ck_object_handle_t *object, unsigned long max_object_count, unsigned long *object_count),
    (session, object, max_object_count, object_count))
WF(C_FindObjectsFinal, (ck_session_handle_t session),
    (session))
W(C_EncryptInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_Encrypt, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *encrypted_data, unsigned long *encrypted_data_len),
    (session, data, data_len, encrypted_data, encrypted_data_len))
W(C_EncryptUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len, unsigned char *encrypted_part, unsigned long *encrypted_part_len),
    (session, part, part_len, encrypted_part, encrypted_part_len))
WF(C_EncryptFinal, (ck_session_handle_t session, unsigned char *last_encrypted_part, unsigned long *last_encrypted_part_len),
    (session, last_encrypted_part, last_encrypted_part_len))
W(C_DecryptInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_Decrypt, (ck_session_handle_t session, unsigned char *encrypted_data, unsigned long encrypted_data_len, unsigned char *data, unsigned long *data_len),
    (session, encrypted_data, encrypted_data_len, data, data_len))
W(C_DecryptUpdate, (ck_session_handle_t session, unsigned char *encrypted_part, unsigned long encrypted_part_len, unsigned char *part, unsigned long *part_len),
    (session, encrypted_part, encrypted_part_len, part, part_len))
WF(C_DecryptFinal, (ck_session_handle_t session, unsigned char *last_part, unsigned long *last_part_len),
    (session, last_part, last_part_len))
W(C_DigestInit, (ck_session_handle_t session, struct ck_mechanism *mechanism),
    (session, mechanism))
WF(C_Digest, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *digest, unsigned long *digest_len),
    (session, data, data_len, digest, digest_len))
W(C_DigestUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len),
    (session, part, part_len))
W(C_DigestKey, (ck_session_handle_t session, ck_object_handle_t key),
    (session, key))
WF(C_DigestFinal, (ck_session_handle_t session, unsigned char *digest, unsigned long *digest_len),
    (session, digest, digest_len))
W(C_SignInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_Sign, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *signature, unsigned long *signature_len),
    (session, data, data_len, signature, signature_len))
W(C_SignUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len),
    (session, part, part_len))
WF(C_SignFinal, (ck_session_handle_t session, unsigned char *signature, unsigned long *signature_len),
    (session, signature, signature_len))
W(C_SignRecoverInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_SignRecover, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *signature, unsigned long *signature_len),
    (session, data, data_len, signature, signature_len))
W(C_VerifyInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_Verify, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *signature, unsigned long signature_len),
    (session, data, data_len, signature, signature_len))
W(C_VerifyUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len),
    (session, part, part_len))
WF(C_VerifyFinal, (ck_session_handle_t session, unsigned char *signature, unsigned long signature_len),
    (session, signature, signature_len))
W(C_VerifyRecoverInit, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t key),
    (session, mechanism, key))
WF(C_VerifyRecover, (ck_session_handle_t session, unsigned char *signature, unsigned long signature_len, unsigned char *data, unsigned long *data_len),
    (session, signature, signature_len, data, data_len))
W(C_DigestEncryptUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len, unsigned char *encrypted_part, unsigned long *encrypted_part_len),
    (session, part, part_len, encrypted_part, encrypted_part_len))
W(C_DecryptDigestUpdate, (ck_session_handle_t session, unsigned char *encrypted_part, unsigned long encrypted_part_len, unsigned char *part, unsigned long *part_len),
    (session, encrypted_part, encrypted_part_len, part, part_len))
W(C_SignEncryptUpdate, (ck_session_handle_t session, unsigned char *part, unsigned long part_len, unsigned char *encrypted_part, unsigned long *encrypted_part_len),
    (session, part, part_len, encrypted_part, encrypted_part_len))
W(C_DecryptVerifyUpdate, (ck_session_handle_t session, unsigned char *encrypted_part, unsigned long encrypted_part_len, unsigned char *part, unsigned long *part_len),
    (session, encrypted_part, encrypted_part_len, part, part_len))
W(C_GenerateKey, (ck_session_handle_t session, struct ck_mechanism *mechanism, struct ck_attribute *templ, unsigned long count, ck_object_handle_t *key),
    (session, mechanism, templ, count, key))
W(C_GenerateKeyPair, (ck_session_handle_t session, struct ck_mechanism *mechanism, struct ck_attribute *public_key_template, unsigned long public_key_attribute_count, struct ck_attribute *private_key_template, unsigned long private_key_attribute_count, ck_object_handle_t *public_key, ck_object_handle_t *private_key),
    (session, mechanism, public_key_template, public_key_attribute_count, private_key_template, private_key_attribute_count, public_key, private_key))
W(C_WrapKey, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t wrapping_key, ck_object_handle_t key, unsigned char *wrapped_key, unsigned long *wrapped_key_len),
    (session, mechanism, wrapping_key, key, wrapped_key, wrapped_key_len))
W(C_UnwrapKey, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t unwrapping_key, unsigned char *wrapped_key, unsigned long wrapped_key_len, struct ck_attribute *templ, unsigned long attribute_count, ck_object_handle_t *key),
    (session, mechanism, unwrapping_key, wrapped_key, wrapped_key_len, templ, attribute_count, key))
W(C_DeriveKey, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t base_key, struct ck_attribute *templ, unsigned long attribute_count, ck_object_handle_t *key),
    (session, mechanism, base_key, templ, attribute_count, key))
W(C_SeedRandom, (ck_session_handle_t session, unsigned char *seed, unsigned long seed_len),
    (session, seed, seed_len))
W(C_GenerateRandom, (ck_session_handle_t session, unsigned char *random_data, unsigned long random_len),
    (session, random_data, random_len))

/* FAULTP11_LIE: the calls that answer with lengths, counts, bytes or
 * text; each forwards through its W/WF wrapper above (so FAIL and HANG
 * still apply), then rewrites a successful answer (lie.c). */
#define FIELD(x) { (x), sizeof(x) }

static ck_rv_t
l_C_GetInfo(struct ck_info *info)
{
	ck_rv_t rv = w_C_GetInfo(info);
	const struct text_field f[] = { FIELD(info->manufacturer_id),
		FIELD(info->library_description) };
	lie_fields("C_GetInfo", rv, f, 2);
	return rv;
}

static ck_rv_t
l_C_GetSlotInfo(ck_slot_id_t slot_id, struct ck_slot_info *info)
{
	ck_rv_t rv = w_C_GetSlotInfo(slot_id, info);
	const struct text_field f[] = { FIELD(info->slot_description), FIELD(info->manufacturer_id) };
	lie_fields("C_GetSlotInfo", rv, f, 2);
	return rv;
}

static ck_rv_t
l_C_GetTokenInfo(ck_slot_id_t slot_id, struct ck_token_info *info)
{
	ck_rv_t rv = w_C_GetTokenInfo(slot_id, info);
	const struct text_field f[] = { FIELD(info->label), FIELD(info->manufacturer_id),
		FIELD(info->model), FIELD(info->serial_number) };
	lie_fields("C_GetTokenInfo", rv, f, 4);
	return rv;
}

static ck_rv_t
l_C_GetSlotList(unsigned char token_present, ck_slot_id_t *slot_list, unsigned long *count)
{
	unsigned long cap = count != NULL ? *count : 0;
	ck_rv_t rv = w_C_GetSlotList(token_present, slot_list, count);
	return lie_list("C_GetSlotList", rv, slot_list, sizeof(*slot_list), cap, count);
}

static ck_rv_t
l_C_GetMechanismList(ck_slot_id_t slot_id, ck_mechanism_type_t *list, unsigned long *count)
{
	unsigned long cap = count != NULL ? *count : 0;
	ck_rv_t rv = w_C_GetMechanismList(slot_id, list, count);
	return lie_list("C_GetMechanismList", rv, list, sizeof(*list), cap, count);
}

static ck_rv_t
l_C_FindObjects(ck_session_handle_t session, ck_object_handle_t *object,
    unsigned long max_object_count, unsigned long *object_count)
{
	ck_rv_t rv = w_C_FindObjects(session, object, max_object_count, object_count);
	return lie_list("C_FindObjects", rv, object, sizeof(*object), max_object_count, object_count);
}

static ck_rv_t
l_C_GetAttributeValue(ck_session_handle_t session, ck_object_handle_t object,
    struct ck_attribute *templ, unsigned long count)
{
	unsigned long caps[LIE_MAX_ATTRS];
	for (unsigned long i = 0; i < count && i < LIE_MAX_ATTRS; i++)
		caps[i] = templ[i].value_len;
	ck_rv_t rv = w_C_GetAttributeValue(session, object, templ, count);
	lie_attrs("C_GetAttributeValue", rv, templ, count, caps);
	return rv;
}

/* One-shot calls with a byte output and its length (cap: what the caller
 * said its buffer holds). */
#define L_BYTES(name, params, args, out, outlen)                    \
	static ck_rv_t l_##name params                               \
	{                                                            \
		unsigned long cap = (outlen) != NULL ? *(outlen) : 0; \
		ck_rv_t rv = w_##name args;                          \
		lie_bytes(#name, rv, (out), cap, (outlen));          \
		return rv;                                           \
	}

L_BYTES(C_Encrypt, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *encrypted_data, unsigned long *encrypted_data_len),
    (session, data, data_len, encrypted_data, encrypted_data_len), encrypted_data, encrypted_data_len)
L_BYTES(C_Decrypt, (ck_session_handle_t session, unsigned char *encrypted_data, unsigned long encrypted_data_len, unsigned char *data, unsigned long *data_len),
    (session, encrypted_data, encrypted_data_len, data, data_len), data, data_len)
L_BYTES(C_Sign, (ck_session_handle_t session, unsigned char *data, unsigned long data_len, unsigned char *signature, unsigned long *signature_len),
    (session, data, data_len, signature, signature_len), signature, signature_len)
L_BYTES(C_WrapKey, (ck_session_handle_t session, struct ck_mechanism *mechanism, ck_object_handle_t wrapping_key, ck_object_handle_t key, unsigned char *wrapped_key, unsigned long *wrapped_key_len),
    (session, mechanism, wrapping_key, key, wrapped_key, wrapped_key_len), wrapped_key, wrapped_key_len)

static ck_rv_t
w_C_Initialize(void *init_args)
{
	return real->C_Initialize(init_args);
}

static ck_rv_t
w_C_Finalize(void *reserved)
{
	return real->C_Finalize(reserved);
}

static ck_rv_t w_C_GetFunctionList(struct ck_function_list **list);

/* NAME=FN:N[:MS] from the environment: 1 and its parts (ms 0 when absent). */
static int
env_fn_n(const char *var, char fn[64], unsigned long *nth, unsigned long *ms)
{
	const char *v = getenv(var);
	const char *colon = v != NULL ? strchr(v, ':') : NULL;
	if (colon == NULL || colon - v >= 64)
		return 0;
	char *end;
	snprintf(fn, 64, "%.*s", (int)(colon - v), v);
	*nth = strtoul(colon + 1, &end, 10);
	*ms = *end == ':' ? strtoul(end + 1, NULL, 10) : 0;
	return 1;
}

static void
load_real(void)
{
	/* FAULTP11_HANG=FN:N[:MS] (say C_Encrypt:3): for a program the test
	 * cannot reach with dlsym, such as the CLI; MS: the call answers after
	 * MS milliseconds (a slow HSM) instead of never. */
	char fn[64];
	unsigned long nth, ms;
	if (env_fn_n("FAULTP11_HANG", fn, &nth, &ms)) {
		faultp11_arm_hang(fn, nth);
		hang_ms = ms;
	}
	/* FAULTP11_FAIL=FN:N: the nth call of FN fails (CKR_DEVICE_ERROR). */
	if (env_fn_n("FAULTP11_FAIL", fail_fn, &fail_nth, &ms))
		atomic_store(&fail_armed, fail_nth > 0);
	/* FAULTP11_LIE=FN:N:KIND: the nth call of FN answers a lie (lie.c). */
	lie_arm_from_env();
	const char *path = getenv("FAULTP11_MODULE");
	if (path == NULL || path[0] == '\0')
		path = getenv("SOFTHSM2_MODULE");
	if (path == NULL || path[0] == '\0')
		return;
	/* Never closed: the real module lives as long as this one. */
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (so == NULL)
		return;
	ck_rv_t (*get)(struct ck_function_list **);
	*(void **)&get = dlsym(so, "C_GetFunctionList");
	if (get == NULL || get(&real) != CKR_OK || real == NULL)
		return;
	wrapped = *real;
	wrapped.C_Initialize = w_C_Initialize;
	wrapped.C_Finalize = w_C_Finalize;
	wrapped.C_GetFunctionList = w_C_GetFunctionList;
	wrapped.C_GetInfo = l_C_GetInfo;
	wrapped.C_GetSlotList = l_C_GetSlotList;
	wrapped.C_GetSlotInfo = l_C_GetSlotInfo;
	wrapped.C_GetTokenInfo = l_C_GetTokenInfo;
	wrapped.C_WaitForSlotEvent = w_C_WaitForSlotEvent;
	wrapped.C_GetMechanismList = l_C_GetMechanismList;
	wrapped.C_GetMechanismInfo = w_C_GetMechanismInfo;
	wrapped.C_InitToken = w_C_InitToken;
	wrapped.C_InitPIN = w_C_InitPIN;
	wrapped.C_SetPIN = w_C_SetPIN;
	wrapped.C_OpenSession = w_C_OpenSession;
	wrapped.C_CloseSession = w_C_CloseSession;
	wrapped.C_CloseAllSessions = w_C_CloseAllSessions;
	wrapped.C_GetSessionInfo = w_C_GetSessionInfo;
	wrapped.C_GetOperationState = w_C_GetOperationState;
	wrapped.C_SetOperationState = w_C_SetOperationState;
	wrapped.C_Login = w_C_Login;
	wrapped.C_Logout = w_C_Logout;
	wrapped.C_CreateObject = w_C_CreateObject;
	wrapped.C_CopyObject = w_C_CopyObject;
	wrapped.C_DestroyObject = w_C_DestroyObject;
	wrapped.C_GetObjectSize = w_C_GetObjectSize;
	wrapped.C_GetAttributeValue = l_C_GetAttributeValue;
	wrapped.C_SetAttributeValue = w_C_SetAttributeValue;
	wrapped.C_FindObjectsInit = w_C_FindObjectsInit;
	wrapped.C_FindObjects = l_C_FindObjects;
	wrapped.C_FindObjectsFinal = w_C_FindObjectsFinal;
	wrapped.C_EncryptInit = w_C_EncryptInit;
	wrapped.C_Encrypt = l_C_Encrypt;
	wrapped.C_EncryptUpdate = w_C_EncryptUpdate;
	wrapped.C_EncryptFinal = w_C_EncryptFinal;
	wrapped.C_DecryptInit = w_C_DecryptInit;
	wrapped.C_Decrypt = l_C_Decrypt;
	wrapped.C_DecryptUpdate = w_C_DecryptUpdate;
	wrapped.C_DecryptFinal = w_C_DecryptFinal;
	wrapped.C_DigestInit = w_C_DigestInit;
	wrapped.C_Digest = w_C_Digest;
	wrapped.C_DigestUpdate = w_C_DigestUpdate;
	wrapped.C_DigestKey = w_C_DigestKey;
	wrapped.C_DigestFinal = w_C_DigestFinal;
	wrapped.C_SignInit = w_C_SignInit;
	wrapped.C_Sign = l_C_Sign;
	wrapped.C_SignUpdate = w_C_SignUpdate;
	wrapped.C_SignFinal = w_C_SignFinal;
	wrapped.C_SignRecoverInit = w_C_SignRecoverInit;
	wrapped.C_SignRecover = w_C_SignRecover;
	wrapped.C_VerifyInit = w_C_VerifyInit;
	wrapped.C_Verify = w_C_Verify;
	wrapped.C_VerifyUpdate = w_C_VerifyUpdate;
	wrapped.C_VerifyFinal = w_C_VerifyFinal;
	wrapped.C_VerifyRecoverInit = w_C_VerifyRecoverInit;
	wrapped.C_VerifyRecover = w_C_VerifyRecover;
	wrapped.C_DigestEncryptUpdate = w_C_DigestEncryptUpdate;
	wrapped.C_DecryptDigestUpdate = w_C_DecryptDigestUpdate;
	wrapped.C_SignEncryptUpdate = w_C_SignEncryptUpdate;
	wrapped.C_DecryptVerifyUpdate = w_C_DecryptVerifyUpdate;
	wrapped.C_GenerateKey = w_C_GenerateKey;
	wrapped.C_GenerateKeyPair = w_C_GenerateKeyPair;
	wrapped.C_WrapKey = l_C_WrapKey;
	wrapped.C_UnwrapKey = w_C_UnwrapKey;
	wrapped.C_DeriveKey = w_C_DeriveKey;
	wrapped.C_SeedRandom = w_C_SeedRandom;
	wrapped.C_GenerateRandom = w_C_GenerateRandom;
	faultp11_reset();
	load_ok = 1;
}

static int
load(void)
{
	pthread_once(&load_once, load_real);
	return load_ok ? 0 : -1;
}

static ck_rv_t
w_C_GetFunctionList(struct ck_function_list **list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	if (load() != 0)
		return CKR_GENERAL_ERROR;
	*list = &wrapped;
	return CKR_OK;
}

ck_rv_t
C_GetFunctionList(struct ck_function_list **list)
{
	return w_C_GetFunctionList(list);
}
