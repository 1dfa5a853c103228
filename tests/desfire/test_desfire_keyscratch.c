/*
 * Issue 17, finding 3: "the new key, the old key and the cryptogram
 * plaintext [of ChangeKey] are built in stack buffers" although SECURITY.md
 * §1 says they live only in locked memory. A forced core dump during a
 * ChangeKey held the per-card key on the ordinary stack.
 *
 * The proof here: the engine runs in a thread whose stack is a region this
 * test owns (pthread_attr_setstack), and the card (the simulator) runs in
 * another thread, so the engine's stack holds only the engine's data. While
 * a ChangeKey is being built, every CRC the engine computes is intercepted
 * (the binary is linked with -Wl,--wrap=dfi_crc32_desfire,
 * --wrap=dfi_crc16_desfire and --wrap=df_wrap; these are called exactly
 * while the cryptogram plaintext exists), and the whole engine stack region, live frames and
 * dead ones, is searched for the keys involved: the new key, the old key
 * and new XOR old (the cryptogram's first bytes). After the ChangeKey
 * returns it is searched again. Any hit fails the test and says where.
 *
 * For the DES family only the bytes the key version does not touch (the
 * parity bits of the first 8 bytes carry it) are searched; for AES the
 * whole key. Before each ChangeKey the dead part of the stack is scrubbed,
 * so that residue of the test's own set-up (an authentication with a
 * host-held key runs OpenSSL's key schedule on this stack) cannot count.
 * The old code fails this test at the first CRC.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/desfire.h"

#define STACK_SIZE (1u << 20)
#define APP_AID 0x5A5A01u

/* ---- the scan ------------------------------------------------------------ */

struct pattern {
	uint8_t b[24];
	size_t len;
	char what[48];
};

static uint8_t *g_stack;          /* the engine thread's stack region */
static pthread_t g_engine;
static atomic_int g_scanning;     /* inside a ChangeKey */
static struct pattern g_pat[3];
static size_t g_npat;
static atomic_uint g_scans, g_hits;
static char g_hit[200];

/* Compares without a library call: the first call of a function through
 * the PLT runs the dynamic linker's resolver, which saves every vector
 * register on the stack (registers that may still hold key bytes from a
 * memcpy): the scan itself must not put them there. The test is linked
 * with -z now as well, and so is dfissue (SECURITY.md §1).
 * Not instrumented by ASan: the scan reads the whole stack region, ASan's
 * redzones between the frames included, on purpose. */
__attribute__((no_sanitize("address")))
static int
same(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static void
scan(const char *when)
{
	atomic_fetch_add(&g_scans, 1);
	for (size_t p = 0; p < g_npat; p++) {
		const struct pattern *pt = &g_pat[p];
		for (size_t i = 0; i + pt->len <= STACK_SIZE; i++) {
			if (!same(g_stack + i, pt->b, pt->len))
				continue;
			if (atomic_fetch_add(&g_hits, 1) == 0)
				snprintf(g_hit, sizeof(g_hit), "%s found on the engine's stack at "
				    "offset %zu (of %u), %s", pt->what, i, STACK_SIZE, when);
		}
	}
}

uint32_t __real_dfi_crc32_desfire(const uint8_t *p, size_t len);
uint16_t __real_dfi_crc16_desfire(const uint8_t *p, size_t len);
uint32_t __wrap_dfi_crc32_desfire(const uint8_t *p, size_t len);
uint16_t __wrap_dfi_crc16_desfire(const uint8_t *p, size_t len);

uint32_t
__wrap_dfi_crc32_desfire(const uint8_t *p, size_t len)
{
	if (atomic_load(&g_scanning) && pthread_equal(pthread_self(), g_engine))
		scan("while the cryptogram was built (CRC32)");
	return __real_dfi_crc32_desfire(p, len);
}

uint16_t
__wrap_dfi_crc16_desfire(const uint8_t *p, size_t len)
{
	if (atomic_load(&g_scanning) && pthread_equal(pthread_self(), g_engine))
		scan("while the cryptogram was built (CRC16)");
	return __real_dfi_crc16_desfire(p, len);
}

/* df_wrap() enciphers the finished cryptogram: the plaintext exists in
 * every scheme when it is called (the EV2 same-key form has no CRC). */
struct dfi_desfire;
dfi_err __real_df_wrap(struct dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, int mode, uint8_t *out, size_t cap, size_t *outlen);
dfi_err __wrap_df_wrap(struct dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, int mode, uint8_t *out, size_t cap, size_t *outlen);

dfi_err
__wrap_df_wrap(struct dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, int mode, uint8_t *out, size_t cap, size_t *outlen)
{
	if (atomic_load(&g_scanning) && pthread_equal(pthread_self(), g_engine))
		scan("while the cryptogram was enciphered");
	return __real_df_wrap(d, cmd, hdr, hdrlen, data, datalen, mode, out, cap, outlen);
}

/* Zeroes the stack below the caller's frame. */
static __attribute__((noinline)) void
scrub(void)
{
	volatile uint8_t pad[STACK_SIZE / 2];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = 0;
}

/* ---- the card in its own thread ------------------------------------------ */

struct card {
	dfi_sim *sim;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy, done, stop;
	uint8_t c[512], r[512];
	size_t clen, rlen;
	dfi_err e;
};

static void *
card_main(void *arg)
{
	struct card *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->busy && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		k->e = dfi_sim_process(k->sim, k->c, k->clen, k->r, sizeof(k->r), &k->rlen);
		k->busy = 0;
		k->done = 1;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static dfi_err
x_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	struct card *k = ctx;
	if (clen > sizeof(k->c))
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&k->mu);
	memcpy(k->c, capdu, clen);
	k->clen = clen;
	k->done = 0;
	k->busy = 1;
	pthread_cond_broadcast(&k->cv);
	while (!k->done)
		pthread_cond_wait(&k->cv, &k->mu);
	dfi_err e = k->e;
	if (e == DFI_OK && k->rlen > rcap)
		e = DFI_E_BUFFER_TOO_SMALL;
	if (e == DFI_OK) {
		memcpy(rapdu, k->r, k->rlen);
		*rlen = k->rlen;
	}
	pthread_mutex_unlock(&k->mu);
	return e;
}

static dfi_err x_wait_card(void *ctx, int ms) { (void)ctx; (void)ms; return DFI_OK; }
static dfi_err x_wait_removed(void *ctx, int ms) { (void)ctx; (void)ms; return DFI_OK; }
static const char *x_name(void *ctx) { (void)ctx; return "sim:other-thread"; }
static void x_destroy(void *ctx) { (void)ctx; }

static const struct dfi_transport_ops x_ops = {
	.transmit = x_transmit, .wait_card = x_wait_card, .wait_removed = x_wait_removed,
	.name = x_name, .destroy = x_destroy,
};

/* ---- the engine's work ---------------------------------------------------- */

struct scheme {
	const char *name;
	dfi_df_authcmd how;
	dfi_keytype appkt;   /* the application's keys as created (factory) */
	dfi_keytype kt;      /* the keys changed to */
};

static const struct scheme schemes[] = {
	/* D40: a DES application whose keys move to 2K3DES (as the engine
	 * does with a DES-family profile) */
	{ "D40 (0x0A, 2K3DES)", DFI_DF_AUTH_LEGACY, DFI_KT_DES, DFI_KT_2K3DES },
	{ "EV1 (0x1A, 3K3DES)", DFI_DF_AUTH_ISO, DFI_KT_3K3DES, DFI_KT_3K3DES },
	{ "EV1 (0xAA, AES)", DFI_DF_AUTH_AES, DFI_KT_AES128, DFI_KT_AES128 },
	{ "EV2 (0x71, AES)", DFI_DF_AUTH_EV2_FIRST, DFI_KT_AES128, DFI_KT_AES128 },
};

/* Distinct, with no zero byte: a match cannot be a coincidence. */
static const uint8_t K0[24] = { 0x9A, 0x31, 0xC7, 0x4E, 0x15, 0xB2, 0x6D, 0xF8, 0x27, 0x83,
	0xE4, 0x5C, 0x11, 0xAF, 0x76, 0x3B, 0xD9, 0x62, 0x8E, 0x47, 0xA5, 0x1C, 0xF3, 0x58 };
static const uint8_t K1[24] = { 0x3C, 0x85, 0x19, 0xE2, 0x7B, 0x46, 0xD1, 0x9F, 0x64, 0x2A,
	0xB7, 0xF5, 0x0E, 0x93, 0x58, 0xC6, 0x21, 0xEB, 0x7D, 0x34, 0x96, 0x4F, 0xBA, 0x13 };
static const uint8_t K2[24] = { 0xE7, 0x52, 0xAB, 0x16, 0xC9, 0x8D, 0x34, 0x61, 0xFA, 0x0B,
	0x7E, 0x2D, 0x99, 0x45, 0xB8, 0xD3, 0x6A, 0x17, 0xC4, 0x88, 0x5F, 0xE1, 0x32, 0x9C };
static const uint8_t ZERO[24];

struct work {
	const struct scheme *sc;
	dfi_desfire *d;
	dfi_cardkey *picc, *zero, *k0, *k1, *k2;
	dfi_err e;
	char failed[160];
	unsigned changes;
};

/* The bytes of key k the version leaves alone. */
static void
add_pattern(dfi_keytype t, const uint8_t *k, const uint8_t *x, const char *what)
{
	size_t len = dfi_keytype_keylen(t), from = t == DFI_KT_AES128 ? 0 : 8;
	struct pattern *p = &g_pat[g_npat++];
	p->len = len - from;
	for (size_t i = 0; i < p->len; i++)
		p->b[i] = (uint8_t)(k[from + i] ^ (x != NULL ? x[from + i] : 0));
	snprintf(p->what, sizeof(p->what), "%s", what);
}

static int
change(struct work *w, uint8_t keyno, const dfi_cardkey *nk, const dfi_cardkey *ok,
    const uint8_t *nbytes, const uint8_t *obytes)
{
	dfi_keytype t = w->sc->kt;
	g_npat = 0;
	add_pattern(t, nbytes, NULL, "the new key");
	if (obytes != ZERO) {
		add_pattern(t, obytes, NULL, "the old key");
		add_pattern(t, nbytes, obytes, "new key XOR old key");
	}
	scrub();
	atomic_store(&g_scanning, 1);
	dfi_err e = dfi_desfire_change_key(w->d, keyno, nk, ok);
	atomic_store(&g_scanning, 0);
	scan("after the ChangeKey returned");
	if (e != DFI_OK) {
		w->e = e;
		snprintf(w->failed, sizeof(w->failed), "ChangeKey %u: %s", keyno, dfi_strerror(e));
		return -1;
	}
	w->changes++;
	return 0;
}

static void *
engine_main(void *arg)
{
	struct work *w = arg;
	const struct scheme *sc = w->sc;
	dfi_desfire *d = w->d;
#define STEP(x) do { if ((w->e = (x)) != DFI_OK) { snprintf(w->failed, sizeof(w->failed), "%s: %s", #x, dfi_strerror(w->e)); return NULL; } } while (0)
	STEP(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, w->picc));
	STEP(dfi_desfire_create_application(d, APP_AID, 0x0F, 2, sc->appkt));
	STEP(dfi_desfire_select_application(d, APP_AID));
	STEP(dfi_desfire_authenticate(d, sc->how, 0, w->zero));
	/* another key, from the factory key (cryptogram = new key) */
	if (change(w, 1, w->k1, w->zero, K1, ZERO) != 0)
		return NULL;
	/* the authenticated key itself */
	if (change(w, 0, w->k0, NULL, K0, ZERO) != 0)
		return NULL;
	STEP(dfi_desfire_authenticate(d, sc->how, 0, w->k0));
	/* another key from a secret old key (cryptogram = new XOR old) */
	if (change(w, 1, w->k2, w->k1, K2, K1) != 0)
		return NULL;
	/* the card took them: key 1 opens with K2 */
	STEP(dfi_desfire_authenticate(d, sc->how, 1, w->k2));
#undef STEP
	return NULL;
}

static dfi_cardkey *
plain(dfi_keytype t, const uint8_t *k, uint8_t ver)
{
	dfi_cardkey *c;
	OK(dfi_cardkey_new_plain(&c, t, k, dfi_keytype_keylen(t), ver));
	return c;
}

START_TEST(changekey_plaintext_never_on_the_stack)
{
	const struct scheme *sc = &schemes[_i];
	struct dfi_sim_config cfg = { 0 };
	cfg.has_seed = true;
	cfg.seed = 0x5EC2;
	cfg.model = DFI_SIM_MODEL_EV2;
	struct card k = { .busy = 0 };
	pthread_mutex_init(&k.mu, NULL);
	pthread_cond_init(&k.cv, NULL);
	OK(dfi_sim_new(&k.sim, &cfg));
	ck_assert_int_eq(pthread_create(&k.th, NULL, card_main, &k), 0);
	dfi_transport *t;
	OK(dfi_transport_new(&t, &x_ops, &k));
	struct work w = { .sc = sc };
	OK(dfi_desfire_new(&w.d, t));
	w.picc = plain(DFI_KT_DES, ZERO, 0);
	w.zero = plain(sc->appkt, ZERO, 0);
	w.k0 = plain(sc->kt, K0, 0x10);
	w.k1 = plain(sc->kt, K1, 0x11);
	w.k2 = plain(sc->kt, K2, 0x12);

	g_stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_stack, MAP_FAILED);
	atomic_store(&g_scans, 0);
	atomic_store(&g_hits, 0);
	g_hit[0] = '\0';
	pthread_attr_t at;
	pthread_attr_init(&at);
	ck_assert_int_eq(pthread_attr_setstack(&at, g_stack, STACK_SIZE), 0);
	ck_assert_int_eq(pthread_create(&g_engine, &at, engine_main, &w), 0);
	pthread_join(g_engine, NULL);
	pthread_attr_destroy(&at);

	printf("%-20s %u ChangeKeys, %u scans of the engine's %u-byte stack: %u hit(s)%s%s\n",
	    sc->name, w.changes, atomic_load(&g_scans), STACK_SIZE, atomic_load(&g_hits),
	    g_hit[0] ? ": " : "", g_hit);
	fflush(stdout);
	ck_assert_msg(w.e == DFI_OK, "%s: %s", sc->name, w.failed);
	ck_assert_uint_eq(w.changes, 3);
	/* at least one scan while each cryptogram existed, one after each */
	ck_assert_uint_ge(atomic_load(&g_scans), 2 * w.changes);
	ck_assert_msg(atomic_load(&g_hits) == 0, "%s: %s", sc->name, g_hit);

	munmap(g_stack, STACK_SIZE);
	pthread_mutex_lock(&k.mu);
	k.stop = 1;
	pthread_cond_broadcast(&k.cv);
	pthread_mutex_unlock(&k.mu);
	pthread_join(k.th, NULL);
	dfi_cardkey_free(w.picc);
	dfi_cardkey_free(w.zero);
	dfi_cardkey_free(w.k0);
	dfi_cardkey_free(w.k1);
	dfi_cardkey_free(w.k2);
	dfi_desfire_free(w.d);
	dfi_transport_free(t);
	dfi_sim_free(k.sim);
}
END_TEST

int
main(void)
{
	return dfi_test_main("desfire_keyscratch", &(struct dfi_test_case){ .timeout = 120,
	    .loops = (const struct dfi_test_loop[]){ { changekey_plaintext_never_on_the_stack,
	    (int)(sizeof(schemes) / sizeof(schemes[0])) }, { NULL, 0 } } },
	    (const TTest *[]){ NULL });
}
