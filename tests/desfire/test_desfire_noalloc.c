/*
 * Issue 7, "no per-APDU allocation churn": a steady state of authenticated
 * DESFire commands makes no heap allocation in the engine.
 *
 * How the count is taken (and what it does not see):
 *  - This binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 *    --wrap=realloc (tests/desfire/CMakeLists.txt). libdfissue and the
 *    simulator are static libraries, so every call to those three in their
 *    objects (and in this file) goes through __wrap_*, which counts it while
 *    `counting` is set. Shared libraries (OpenSSL's EVP contexts, libc's
 *    own internals, libcheck) are not redirected: the figure is the
 *    engine's own allocations, which is what issue 7 is about.
 *  - The simulator is part of this process, yet it is the card, not the
 *    engine: the transport below wraps the simulator's own transport and
 *    clears `counting` while that one runs, then restores it, so the card's
 *    allocations (if any) are not counted, while the engine's path around
 *    it (df_command, wrap, the frames, dfi_transport_transmit, unwrap) is.
 *  - libcheck is linked statically too (pkg-config gives -lcheck_pic), and
 *    its assertion macros allocate on success: the counted loop therefore
 *    makes no check call; it records the first failure (REQ) and the test
 *    asserts on it after counting stops.
 *  - The count is measured over a loop of real commands against the
 *    simulator, after one warm-up pass, and printed; the assertions compare
 *    the measured number with 0.
 *
 * Sessions: D40 (Authenticate 0x0A, DES), EV1 (AuthenticateISO 0x1A with a
 * 3K3DES key: 8-byte blocks; AuthenticateAES 0xAA: 16-byte blocks) and EV2
 * (AuthenticateEV2First 0x71). Each iteration writes and reads a 200-byte
 * standard file (several 0xAF frames) in plain, MACed and enciphered mode,
 * credits a value file and commits, reads the value, and asks GetKeyVersion,
 * GetKeySettings, GetFileIDs and GetFileSettings. Host-held card keys
 * (dfi_cardkey_new_plain) stand in for HSM keys: the HSM layer is not on the
 * per-APDU path once the session keys exist.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"

#define ITERATIONS 10
#define FILE_LEN 200

/* ---- allocation counter ------------------------------------------------ */

static atomic_int counting;
static atomic_ulong allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *
__wrap_malloc(size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocs, 1);
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocs, 1);
	return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocs, 1);
	return __real_realloc(p, n);
}

static void
count_start(void)
{
	atomic_store(&allocs, 0);
	atomic_store(&counting, 1);
}

static unsigned long
count_stop(void)
{
	atomic_store(&counting, 0);
	return atomic_load(&allocs);
}

/* ---- a transport on the simulator that does not count the card -------- */

/* The simulator's own transport, wrapped: what runs below the wrapper is
 * the card's side of the exchange and is not counted. Only transmit is
 * needed here (the session never waits for a card). */
static dfi_err
nc_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	int was = atomic_exchange(&counting, 0);
	dfi_err e = dfi_transport_transmit(ctx, capdu, clen, rapdu, rcap, rlen);
	atomic_store(&counting, was);
	return e;
}

static void
nc_destroy(void *ctx)
{
	dfi_transport_free(ctx);
}

static const struct dfi_transport_ops nc_ops = { .transmit = nc_transmit, .destroy = nc_destroy };

/* A transport on sim whose card side is not counted. */
static dfi_transport *
nc_transport(dfi_sim *sim)
{
	dfi_transport *inner, *t;
	OK(dfi_sim_transport_new(sim, &inner));
	OK(dfi_transport_new(&t, &nc_ops, inner));
	return t;
}

/* ---- the session under test -------------------------------------------- */

struct scheme {
	const char *name;
	dfi_df_authcmd how;
	dfi_keytype kt;
};

static const struct scheme schemes[] = {
	{ "D40 (0x0A, DES)", DFI_DF_AUTH_LEGACY, DFI_KT_DES },
	{ "EV1 (0x1A, 3K3DES)", DFI_DF_AUTH_ISO, DFI_KT_3K3DES },
	{ "EV1 (0xAA, AES)", DFI_DF_AUTH_AES, DFI_KT_AES128 },
	{ "EV2 (0x71, AES)", DFI_DF_AUTH_EV2_FIRST, DFI_KT_AES128 },
};

static const dfi_df_comm modes[] = { DFI_DF_COMM_PLAIN, DFI_DF_COMM_MAC, DFI_DF_COMM_ENC };

#define APP_AID 0x123456u
#define VALUE_FID 7

static dfi_cardkey *
zero_key(dfi_keytype t)
{
	static const uint8_t zero[DFI_MAX_KEY_LEN];
	dfi_cardkey *k;
	OK(dfi_cardkey_new_plain(&k, t, zero, dfi_keytype_keylen(t), 0));
	return k;
}

/* The first failure inside a counted region (no check call there). */
static char failure[256];
#define REQ(cond)                                                                \
	do {                                                                     \
		if (!(cond) && failure[0] == '\0')                               \
			snprintf(failure, sizeof(failure), "line %d: %s", __LINE__, #cond); \
	} while (0)
#define REQ_OK(x) REQ((x) == DFI_OK)

/* One pass of the steady-state commands; i varies the data. */
static void
one_pass(dfi_desfire *d, unsigned i)
{
	uint8_t w[FILE_LEN], r[FILE_LEN], ids[32], ver;
	struct dfi_df_file_settings fs;
	struct dfi_df_key_settings ks;
	size_t n = 0;
	int32_t v = 0;

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		uint8_t fid = (uint8_t)(1 + m);
		for (size_t k = 0; k < sizeof(w); k++)
			w[k] = (uint8_t)(i * 31 + m * 7 + k);
		memset(r, 0, sizeof(r));
		REQ_OK(dfi_desfire_write_data(d, fid, modes[m], 0, w, sizeof(w)));
		REQ_OK(dfi_desfire_read_data(d, fid, modes[m], 0, sizeof(r), r));
		REQ(memcmp(r, w, sizeof(w)) == 0);
		REQ_OK(dfi_desfire_get_file_settings(d, fid, &fs));
		REQ(fs.comm == modes[m]);
	}
	REQ_OK(dfi_desfire_credit(d, VALUE_FID, DFI_DF_COMM_ENC, 1));
	REQ_OK(dfi_desfire_commit_transaction(d));
	REQ_OK(dfi_desfire_get_value(d, VALUE_FID, DFI_DF_COMM_ENC, &v));
	REQ(v == (int32_t)i + 1);
	REQ_OK(dfi_desfire_get_key_version(d, 0, &ver));
	REQ_OK(dfi_desfire_get_key_settings(d, &ks));
	REQ_OK(dfi_desfire_get_file_ids(d, ids, sizeof(ids), &n));
	REQ(n == 4);
}

static void
run_scheme(const struct scheme *sc)
{
	struct dfi_sim_config cfg = { 0 };
	cfg.has_seed = true;
	cfg.seed = 0x7007;
	cfg.model = DFI_SIM_MODEL_EV2;
	dfi_sim *sim;
	dfi_transport *t;
	dfi_desfire *d;
	OK(dfi_sim_new(&sim, &cfg));
	t = nc_transport(sim);
	OK(dfi_desfire_new(&d, t));
	dfi_cardkey *picc = zero_key(DFI_KT_DES), *app = zero_key(sc->kt);

	/* Setup, not counted: an application with keys of the scheme's type
	 * and a file of each mode, then the scheme's authentication. */
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, picc));
	OK(dfi_desfire_create_application(d, APP_AID, 0x0F, 2, sc->kt));
	OK(dfi_desfire_select_application(d, APP_AID));
	OK(dfi_desfire_authenticate(d, sc->how, 0, app));
	struct dfi_df_access a = { .read = 0, .write = 0, .read_write = 0, .change = 0 };
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		OK(dfi_desfire_create_std_file(d, (uint8_t)(1 + m), modes[m], &a, FILE_LEN));
	OK(dfi_desfire_create_value_file(d, VALUE_FID, DFI_DF_COMM_ENC, &a, 0, 100000, 0, 0));
	failure[0] = '\0';
	one_pass(d, 0); /* warm-up: one-time initialisations are not per-APDU */
	ck_assert_msg(failure[0] == '\0', "%s warm-up: %s", sc->name, failure);

	struct dfi_transport_stats s0, s1;
	dfi_transport_stats(t, &s0);
	count_start();
	for (unsigned i = 1; i <= ITERATIONS; i++)
		one_pass(d, i);
	unsigned long steady = count_stop();
	dfi_transport_stats(t, &s1);
	uint64_t apdus = s1.apdus - s0.apdus;
	ck_assert_msg(failure[0] == '\0', "%s: %s", sc->name, failure);

	/* Per authentication (less hot, counted as well). */
	count_start();
	dfi_err e = dfi_desfire_authenticate(d, sc->how, 0, app);
	unsigned long auth = count_stop();
	OK(e);
	ck_assert_int_ne(dfi_desfire_scheme(d), DFI_DF_SCHEME_NONE);

	printf("%-20s %u iterations, %llu APDUs: %lu engine allocations (%.3f per APDU); "
	    "one authentication: %lu\n", sc->name, ITERATIONS, (unsigned long long)apdus, steady,
	    apdus ? (double)steady / (double)apdus : 0.0, auth);
	fflush(stdout);
	ck_assert_uint_gt(apdus, 0);
	ck_assert_msg(steady == 0, "%s: %lu engine allocations over %llu authenticated APDUs",
	    sc->name, steady, (unsigned long long)apdus);
	ck_assert_msg(auth == 0, "%s: %lu engine allocations in one authentication", sc->name,
	    auth);

	dfi_cardkey_free(picc);
	dfi_cardkey_free(app);
	dfi_desfire_free(d);
	dfi_transport_free(t);
	dfi_sim_free(sim);
}

START_TEST(steady_state_no_alloc)
{
	run_scheme(&schemes[_i]);
}
END_TEST

/* The counter itself works: a session's creation allocates. */
START_TEST(counter_sees_engine_allocations)
{
	struct dfi_sim_config cfg = { 0 };
	dfi_sim *sim;
	dfi_transport *t;
	dfi_desfire *d;
	OK(dfi_sim_new(&sim, &cfg));
	t = nc_transport(sim);
	count_start();
	dfi_err e = dfi_desfire_new(&d, t);
	unsigned long n = count_stop();
	OK(e);
	printf("dfi_desfire_new: %lu engine allocations\n", n);
	ck_assert_uint_ge(n, 1);
	dfi_desfire_free(d);
	dfi_transport_free(t);
	dfi_sim_free(sim);
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("desfire_noalloc", steady_state_no_alloc, DFI_TEST_ROWS(schemes),
	    (const TTest *[]){ counter_sees_engine_allocations, NULL });
}
