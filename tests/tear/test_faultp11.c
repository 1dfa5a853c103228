/*
 * The fault-injecting PKCS#11 module itself (faultp11/): loaded through the
 * HSM layer in place of SoftHSM2, it forwards every call, counts them, and
 * fails exactly the armed one. Checked on an AN10922 diversification and a
 * journal signature: for every call K of the sequence, the sequence fails
 * with an HSM error naming the fault, and the same sequence run again
 * without a fault gives the right answer (the AN10922 §2.2.1 AES-128
 * example: master 00112233445566778899AABBCCDDEEFF, UID 04782E21801D80, AID
 * 3042F5, system identifier 4E585020416275 -> A8DD63A3B89D54B37CA802473FDA9175).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "faultp11_ctl.h"
#include "tear_fix.h"

/* Diversify, encrypt a zero block, sign a message. */
static dfi_err
sequence(struct tear_env *e, uint8_t block[16])
{
	static const uint8_t m[] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5,
		0x4E, 0x58, 0x50, 0x20, 0x41, 0x62, 0x75 };
	dfi_hsm_key *master = NULL;
	dfi_cardkey *k = NULL;
	uint8_t iv[16] = { 0 }, zero[16] = { 0 }, sig[128];
	size_t siglen = sizeof(sig);
	dfi_err r = dfi_hsm_key_find(e->hsm, "pkcs11:object=an10922-master;type=secret-key",
	    &master);
	if (r == DFI_OK)
		r = dfi_hsm_cardkey_diversified(e->hsm, master, DFI_KT_AES128, m, sizeof(m), 1, &k);
	if (r == DFI_OK)
		r = dfi_cardkey_cipher(k, 1, iv, zero, block, 16);
	if (r == DFI_OK)
		r = dfi_signer_sign(e->signer, (const uint8_t *)"faultp11", 8, sig, &siglen);
	dfi_cardkey_free(k);
	dfi_hsm_key_free(master);
	return r;
}

START_TEST(every_call_fails_once)
{
	struct tear_env e;
	struct faultp11_ctl c;
	char why[400], detail[200];
	uint8_t want[16], got[16], key[16], iv[16] = { 0 }, zero[16] = { 0 };
	ck_assert_msg(tear_env_open(&e, FAULTP11_PATH, NULL, why, sizeof(why)) == 0, "%s", why);
	faultp11_ctl_open(&c, FAULTP11_PATH);
	/* Loop 0: a PKCS#11-compliant module. Loop 1: a module that leaves a
	 * failed operation active on its session; the pool must not hand such
	 * a session out again. */
	c.leave_active(_i);
	printf("faultp11: %s module\n", _i ? "non-compliant (failed operations left active)" : "compliant");
	HEX(key, "A8DD63A3B89D54B37CA802473FDA9175");
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, key, 1, iv, zero, want, 16), DFI_OK);

	c.arm(0);
	ck_assert_int_eq(sequence(&e, got), DFI_OK);
	ck_assert_mem_eq(got, want, 16);
	unsigned long n = c.calls();
	ck_assert_uint_gt(n, 4);
	printf("faultp11: the sequence makes %lu PKCS#11 calls\n", n);

	unsigned bad = 0;
	for (unsigned long k = 1; k <= n; k++) {
		/* A fresh handle per K: a broken session must not spoil the next K. */
		tear_env_close_hsm(&e);
		ck_assert_msg(tear_env_open_hsm(&e, why, sizeof(why)) == 0, "%s", why);
		c.arm(k);
		dfi_err r = sequence(&e, got);
		char fn[64];
		snprintf(fn, sizeof(fn), "%s", c.name());
		ck_assert_msg(c.fired(), "call %lu: fault did not fire", k);
		/* A failed C_DestroyObject of a session key may be absorbed. */
		if (r == DFI_OK) {
			ck_assert_msg(strcmp(fn, "C_DestroyObject") == 0 ||
			    strcmp(fn, "C_CloseSession") == 0 || strcmp(fn, "C_FindObjectsFinal") == 0,
			    "call %lu (%s) failed but the sequence succeeded", k, fn);
		} else {
			dfi_hsm_last_detail(e.hsm, detail, sizeof(detail));
			ck_assert_msg(r >= DFI_E_HSM_MODULE && r <= DFI_E_HSM_GENERAL,
			    "call %lu (%s): not an HSM error: %s", k, fn, dfi_strerror(r));
		}
		c.arm(0);
		memset(got, 0, sizeof(got));
		dfi_err r2 = sequence(&e, got);
		dfi_hsm_last_detail(e.hsm, detail, sizeof(detail));
		if (r2 != DFI_OK || memcmp(got, want, 16) != 0) {
			printf("call %lu (%s): no recovery: %s (%s)\n", k, fn, dfi_strerror(r2), detail);
			fflush(stdout);
			bad++;
		}
	}
	c.leave_active(0);
	tear_env_close(&e);
	ck_assert_msg(bad == 0, "%u fault(s) left the HSM handle unusable", bad);
}
END_TEST

struct run_arg {
	struct tear_env *e;
	uint8_t block[16];
	dfi_err r;
};

static void *
run_sequence(void *arg)
{
	struct run_arg *a = arg;
	a->r = sequence(a->e, a->block);
	return NULL;
}

/* A call that does not return (a network HSM that lost its peer) is seen
 * from another thread by dfi_hsm_oldest_call, with its name and an age
 * that grows; once it returns, nothing is in flight and the answer is
 * right. */
START_TEST(hung_call_is_in_flight)
{
	struct tear_env e;
	struct faultp11_ctl c;
	char why[400];
	uint8_t want[16], key[16], iv[16] = { 0 }, zero[16] = { 0 };
	ck_assert_msg(tear_env_open(&e, FAULTP11_PATH, NULL, why, sizeof(why)) == 0, "%s", why);
	faultp11_ctl_open(&c, FAULTP11_PATH);
	HEX(key, "A8DD63A3B89D54B37CA802473FDA9175");
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, key, 1, iv, zero, want, 16), DFI_OK);
	const char *fn = "x";
	long ms = -1;
	ck_assert_int_eq(dfi_hsm_oldest_call(e.hsm, &fn, &ms), DFI_OK);
	ck_assert_ptr_null(fn);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(dfi_hsm_oldest_call(NULL, &fn, &ms), DFI_E_INVALID_ARG);

	c.arm_hang("C_Encrypt", 1);
	struct run_arg a = { .e = &e, .r = DFI_E_INTERNAL };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, run_sequence, &a), 0);
	for (int i = 0; i < 500 && fn == NULL; i++) { /* at most 5 s */
		usleep(10000);
		ck_assert_int_eq(dfi_hsm_oldest_call(e.hsm, &fn, &ms), DFI_OK);
	}
	ck_assert_ptr_nonnull(fn);
	ck_assert_str_eq(fn, "C_Encrypt");
	usleep(300000);
	ck_assert_int_eq(dfi_hsm_oldest_call(e.hsm, &fn, &ms), DFI_OK);
	ck_assert_str_eq(fn, "C_Encrypt");
	ck_assert_int_ge(ms, 300);
	printf("faultp11: hung C_Encrypt seen in flight for %ld ms\n", ms);
	c.unhang();
	pthread_join(t, NULL);
	ck_assert_int_eq(a.r, DFI_OK);
	ck_assert_mem_eq(a.block, want, 16);
	ck_assert_int_eq(dfi_hsm_oldest_call(e.hsm, &fn, &ms), DFI_OK);
	ck_assert_ptr_null(fn);
	tear_env_close(&e);
}
END_TEST

int
main(void)
{
	const struct dfi_test_loop loops[] = { { every_call_fails_once, 2 }, { NULL, 0 } };
	return dfi_test_main("faultp11",
	    &(const struct dfi_test_case){ .loops = loops, .run = tear_run_suite },
	    (const TTest *[]){ hung_call_is_in_flight, NULL });
}
