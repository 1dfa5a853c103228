/*
 * libFuzzer: the personalization engine against a hostile card.
 *
 * A real personalization (profiles/reference.json with its first batch
 * row, originality "require" with the simulator's test key trusted) runs
 * against the card simulator through a transport that lets the input
 * rewrite the card's answers. Host and card draw their randoms from fixed
 * seeds (OpenSSL's RAND is replaced in this process; the simulator is
 * seeded), so an input replays exactly and authentication succeeds: the
 * lies reach the engine behind valid MACs.
 *
 * Input: up to MAX_MUT mutation records
 *     [op][index lo][index hi][arg][n][n bytes]
 * index = the number of the APDU whose answer is changed, from 0 in the
 * first tap and on in the second when the first did not succeed (a
 * recovery tap: only there does the engine read back file settings and
 * values, those the first tap left); op bit 4 makes the mutation "sticky"
 * (every APDU from index on). Raw ops change the answer as it leaves the
 * card (data + SW): replace, truncate, extend, flip bits, set the status
 * word, or answer "91 AF" (more frames) with chosen data. Forge ops rewrite the card's
 * plaintext answer and status before the card's secure messaging MACs or
 * enciphers it (sim_forge.h): the engine's MAC and CRC checks pass and its
 * parsers see wrong lengths, key versions, file settings, sizes.
 *
 * Each input runs on a fresh factory card with a fresh journal: the
 * hostile tap, then, unless that one succeeded, a second on the same card
 * (as a station would on the next tap), hostile where the input reaches
 * it, and after a tampered second one a clean third. Oracles (trap on
 * violation), besides the sanitizers:
 *  - an input that tampered with no answer (the empty one, the seed) ends
 *    "done" with the card exactly as the profile says;
 *  - whenever a tap ends "done" or "resumed", the card (simulator state)
 *    holds exactly the profile's target state, keys included;
 *  - the first untampered tap after a hostile one ends "done"/"resumed"
 *    (the engine recovers from whatever the lies made it do), or
 *    "refused" when a hostile one was;
 *  - no ChangeKey leaves the host in a session whose authentication
 *    answers were tampered with, nor after a tampered originality
 *    signature (the policy is "require");
 *  - dfi_perso_card never fails as a call (journal or argument error);
 *  - the journal verifies (signatures, no finding) after both taps, with
 *    no unresolved intent after a successful tap.
 *
 * Needs SoftHSM2 (the dev token is made once per process in a temp dir by
 * hsm-config/make-dev-token.sh) and the build's bin/dfissue; paths come
 * from the build (DFI_SOURCE_DIR etc. may override them in the
 * environment).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_set_rand_method: a fixed RNG for replay */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "card_check.h"
#include "desfire-sim/desfire_sim.h"
#include "desfire-sim/sim_forge.h"
#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"
#include "journal/jtest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MUT 16
#define INPUT_MAX 4096

/* ---- a fixed RNG for the whole process (host side) ----------------------- */

static uint64_t rng_state;

static uint64_t
splitmix64(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int
rng_bytes(unsigned char *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (unsigned char)splitmix64();
	return 1;
}

static int
rng_status(void)
{
	return 1;
}

static const RAND_METHOD fixed_rand = { .bytes = rng_bytes, .pseudorand = rng_bytes,
	.status = rng_status };

/* ---- mutations ----------------------------------------------------------- */

enum op {
	RAW_REPLACE = 0, /* the answer becomes the bytes (< 2: a torn answer) */
	RAW_TRUNC,       /* the answer cut to arg bytes */
	RAW_EXTEND,      /* the bytes inserted before the status word */
	RAW_FLIP,        /* byte arg % len XORed with bytes[0] (1 if none) */
	RAW_SW,          /* status word 91 arg (or bytes[0] arg) */
	RAW_MORE,        /* the bytes, then 91 AF: "more frames" */
	FORGE_REPLACE = 8, /* plaintext = the bytes, status 00 */
	FORGE_STATUS,    /* status = arg, data kept */
	FORGE_XOR,       /* plaintext[arg + i] ^= bytes[i] */
	FORGE_TRUNC,     /* plaintext cut to arg bytes */
	FORGE_EXTEND,    /* the bytes appended, then arg * 4 copies of bytes[0] */
	FORGE_SET,       /* the bytes written at offset arg (grows the answer) */
};
#define OP_STICKY 0x10

struct mut {
	uint8_t op;
	bool sticky;
	unsigned index;
	uint8_t arg;
	const uint8_t *b;
	size_t n;
};

static size_t
parse_muts(const uint8_t *d, size_t size, struct mut *m)
{
	size_t n = 0, pos = 0;
	while (n < MAX_MUT && size - pos >= 5) {
		m[n].op = d[pos] & 0x0F;
		m[n].sticky = (d[pos] & OP_STICKY) != 0;
		m[n].index = (unsigned)d[pos + 1] | (unsigned)d[pos + 2] << 8;
		m[n].arg = d[pos + 3];
		size_t len = d[pos + 4];
		pos += 5;
		if (len > size - pos)
			len = size - pos;
		m[n].b = d + pos;
		m[n].n = len;
		pos += len;
		n++;
	}
	return n;
}

static bool
applies(const struct mut *m, unsigned index)
{
	return m->index == index || (m->sticky && index > m->index);
}

/* ---- the hostile transport ------------------------------------------------ */

/* DFI_FUZZ_PERSO_TRACE set: one line per APDU on stderr (to write seeds
 * and read a finding). */
static bool trace;

struct hostile {
	dfi_sim *sim;
	dfi_transport *inner;  /* the simulator's own transport, below the mutations */
	const struct mut *m;
	size_t nm;
	bool active;           /* the input's mutations apply (hostile taps) */
	unsigned index;        /* APDUs of the hostile taps (or the clean one) so far */
	uint32_t changed;      /* bit i: mutation i changed an answer (trace) */
	unsigned tampered;     /* answers of this tap that differ from the card's */
	bool forged;           /* the forge hook changed the current answer */
	/* what the host saw: authentication and the originality proof */
	uint8_t cmd;           /* native command of the current exchange */
	bool in_auth, auth_tampered, session_ok;
	bool sig_tampered;
	char violation[160];   /* a ChangeKey that should not have left */
};

static bool
is_auth(uint8_t cmd)
{
	return cmd == 0x0A || cmd == 0x1A || cmd == 0xAA || cmd == 0x71 || cmd == 0x77;
}

/* Applies the input's mutations of one layer that hit the current APDU,
 * in input order, to an answer of *len bytes in buf (room for cap): with
 * status, the forge ops to the card's plaintext answer and its status
 * byte; without (NULL), the raw ops to the answer as it leaves the card,
 * data then SW (cap >= max(*len, 2)). */
static void
mutate(struct hostile *h, uint8_t *buf, size_t *len, size_t cap, uint8_t *status)
{
	uint8_t before[DFI_SIM_FORGE_MAX];
	for (size_t i = 0; i < h->nm; i++) {
		const struct mut *m = &h->m[i];
		size_t n = *len, k;
		uint8_t st0 = status != NULL ? *status : 0;
		if (!applies(m, h->index) || (m->op >= FORGE_REPLACE) != (status != NULL))
			continue;
		/* Which records still hit something: a seed aimed at an APDU
		 * the engine no longer sends tests nothing (the trace says). */
		if (trace)
			memcpy(before, buf, n < sizeof(before) ? n : sizeof(before));
		switch (m->op) {
		case RAW_REPLACE:
		case FORGE_REPLACE:
			n = m->n < cap ? m->n : cap;
			memcpy(buf, m->b, n);
			if (status != NULL)
				*status = 0x00;
			break;
		case RAW_TRUNC:
		case FORGE_TRUNC:
			if (m->arg < n)
				n = m->arg;
			break;
		case RAW_EXTEND:
			if (n >= 2) {
				k = m->n < cap - n ? m->n : cap - n;
				memmove(buf + n - 2 + k, buf + n - 2, 2);
				memcpy(buf + n - 2, m->b, k);
				n += k;
			}
			break;
		case FORGE_EXTEND:
			for (k = 0; k < m->n && n < cap; k++)
				buf[n++] = m->b[k];
			for (k = 0; k < 4u * m->arg && n < cap; k++)
				buf[n++] = m->n ? m->b[0] : 0;
			break;
		case RAW_FLIP:
			if (n > 0)
				buf[m->arg % n] ^= m->n ? m->b[0] : 1;
			break;
		case FORGE_XOR:
			for (k = 0; k < m->n && m->arg + k < n; k++)
				buf[m->arg + k] ^= m->b[k];
			break;
		case RAW_SW:
			if (n >= 2) {
				buf[n - 2] = m->n ? m->b[0] : 0x91;
				buf[n - 1] = m->arg;
			}
			break;
		case FORGE_STATUS:
			*status = m->arg;
			break;
		case RAW_MORE:
			n = m->n < cap - 2 ? m->n : cap - 2;
			memcpy(buf, m->b, n);
			buf[n++] = 0x91;
			buf[n++] = 0xAF;
			break;
		case FORGE_SET:
			for (k = 0; k < m->n && m->arg + k < cap; k++) {
				while (n < m->arg + k)
					buf[n++] = 0;
				buf[m->arg + k] = m->b[k];
				if (n < m->arg + k + 1)
					n = m->arg + k + 1;
			}
			break;
		default:
			break;
		}
		if (trace && (n != *len || (status != NULL && *status != st0) ||
		    memcmp(before, buf, n < sizeof(before) ? n : sizeof(before)) != 0))
			h->changed |= 1u << i;
		*len = n;
	}
}

/* The simulator's forge hook: the forge ops, before the card's secure
 * messaging MACs or enciphers the answer. */
static void
forge(void *ctx, uint8_t cmd, uint8_t data[DFI_SIM_FORGE_MAX], size_t *len, uint8_t *status)
{
	struct hostile *h = ctx;
	uint8_t before[DFI_SIM_FORGE_MAX];
	size_t n0 = *len;
	uint8_t st0 = *status;
	(void)cmd;
	if (!h->active)
		return;
	memcpy(before, data, n0);
	mutate(h, data, len, DFI_SIM_FORGE_MAX - 1, status);
	if (*len != n0 || *status != st0 || memcmp(before, data, n0) != 0)
		h->forged = true;
}

static dfi_err
h_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	struct hostile *h = ctx;
	uint8_t cmd = clen >= 2 && c[0] == 0x90 ? c[1] : 0;
	if (cmd == 0xC4 && !h->violation[0]) {
		if (!h->session_ok)
			snprintf(h->violation, sizeof(h->violation),
			    "APDU %u: ChangeKey after a tampered or failed authentication", h->index);
		else if (h->sig_tampered)
			snprintf(h->violation, sizeof(h->violation),
			    "APDU %u: ChangeKey after a tampered originality signature (policy require)",
			    h->index);
	}
	if (cmd != 0xAF) {
		h->cmd = cmd;
		if (is_auth(cmd)) {
			h->in_auth = true;
			h->auth_tampered = false;
			h->session_ok = false;
		} else if (cmd != 0) {
			h->in_auth = false;
		}
	}

	uint8_t orig[DFI_APDU_MAX + 2], out[DFI_APDU_MAX + 2];
	size_t n = 0;
	h->forged = false;
	dfi_err e = dfi_transport_transmit(h->inner, c, clen, orig, sizeof(orig), &n);
	if (e != DFI_OK) {
		h->index++;
		return e;
	}
	size_t cap = rcap < sizeof(out) ? rcap : sizeof(out);
	if (n > cap || cap < 2) {
		h->index++;
		return DFI_E_BUFFER_TOO_SMALL;
	}
	size_t m = n;
	memcpy(out, orig, n);
	if (h->active)
		mutate(h, out, &m, cap, NULL);
	bool tampered = h->forged || m != n || memcmp(out, orig, n) != 0;
	if (tampered)
		h->tampered++;
	if (h->in_auth) {
		if (tampered)
			h->auth_tampered = true;
		bool more = m >= 2 && out[m - 2] == 0x91 && out[m - 1] == 0xAF;
		if (!more) {
			h->session_ok = !h->auth_tampered && m >= 2 && out[m - 2] == 0x91 &&
			    out[m - 1] == 0x00;
			h->in_auth = false;
		}
	}
	if (h->cmd == 0x3C && tampered)
		h->sig_tampered = true;
	if (trace)
		fprintf(stderr, "apdu %u%s: cmd %02X, %zu bytes out, answer %zu bytes SW %02X%02X%s\n",
		    h->index, h->active ? "" : " (clean tap)", clen >= 2 ? c[1] : 0, clen, m,
		    m >= 2 ? out[m - 2] : 0, m >= 2 ? out[m - 1] : 0, tampered ? " TAMPERED" : "");
	memcpy(r, out, m);
	*rlen = m;
	h->index++;
	return DFI_OK;
}

static const char *
h_name(void *ctx)
{
	(void)ctx;
	return "hostile-sim";
}

/* No wait ops: tap() puts the card on the reader through the inner
 * transport, and a removal is the harness's (dfi_sim_remove). */
static const struct dfi_transport_ops hostile_ops = { .transmit = h_transmit, .name = h_name };

/* ---- process-wide fixture ---------------------------------------------- */

static void run_input(const uint8_t *data, size_t size);

static struct {
	char root[256];        /* temp dir: dev token, journals */
	dfi_hsm *hsm;
	dfi_profile *profile;
	dfi_batch *batch;
	dfi_batch_row *row;
	dfi_perso *keys;       /* looked the base keys up once */
	dfi_signer *signer;
	dfi_jpubkey *pub;
	char origkeys[512];
	unsigned serial;
	/* The committed state of the card after a clean run (every input
	 * starts from the same factory card with the same UID): a card equal
	 * to it byte for byte needs no slower check against the profile. */
	uint8_t *golden;
	size_t golden_len;
} fx;

#define DIE(...) do { fprintf(stderr, "fuzz_perso: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define BUG(...) do { fprintf(stderr, "fuzz_perso: ORACLE: " __VA_ARGS__); fputc('\n', stderr); \
	__builtin_trap(); } while (0)

static const char *
path_env(const char *name, const char *built)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : built;
}

static void
cleanup(void)
{
	dfi_perso_free(fx.keys);
	dfi_batch_row_free(fx.row);
	dfi_batch_free(fx.batch);
	dfi_profile_free(fx.profile);
	dfi_hsm_free(fx.hsm);
	dfi_jpubkey_free(fx.pub);
	dfi_signer_free(fx.signer);
	free(fx.golden);
	jt_rmrf(fx.root);
}

/* reference.json with originality "require": a tampered signature must
 * stop the card before any key leaves. */
static void
load_profile(const char *src)
{
	char path[600];
	json_error_t je;
	struct dfi_diag diag;
	snprintf(path, sizeof(path), "%s/profiles/reference.json", src);
	json_t *j = json_load_file(path, 0, &je);
	if (j == NULL || json_object_set_new(j, "originality", json_string("require")) != 0)
		DIE("%s: %s", path, je.text);
	char *text = json_dumps(j, 0);
	json_decref(j);
	if (text == NULL || dfi_profile_load_buffer(&fx.profile, "reference-require", text,
	    strlen(text), &diag) != DFI_OK)
		DIE("profile: %s", diag.message);
	free(text);
	snprintf(path, sizeof(path), "%s/profiles/reference-batch.csv", src);
	if (dfi_batch_open(&fx.batch, path, &diag) != DFI_OK ||
	    dfi_batch_next(fx.batch, &fx.row, &diag) != DFI_OK || fx.row == NULL)
		DIE("batch %s: %s", path, diag.message);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("DFI_FUZZ_PERSO_TRACE") != NULL;
	const char *src = path_env("DFI_SOURCE_DIR", DFI_FUZZ_SOURCE_DIR);
	const char *bld = path_env("DFI_BUILD_DIR", DFI_FUZZ_BUILD_DIR);
	const char *mod = path_env("SOFTHSM2_MODULE", DFI_FUZZ_SOFTHSM2_MODULE);
	char cmd[1600], conf[400], pin[400], detail[256] = "";
	static const uint8_t seed[32] = { 'f', 'u', 'z', 'z', '-', 'p', 'e', 'r', 's', 'o' };

	/* A token on tmpfs when there is one: the journal syncs every intent. */
	snprintf(fx.root, sizeof(fx.root), "%s/fuzz-perso.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(fx.root) == NULL)
		DIE("mkdtemp %s", fx.root);
	atexit(cleanup);
	snprintf(cmd, sizeof(cmd),
	    "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s/bin/dfissue' >/dev/null </dev/null",
	    src, fx.root, bld);
	if (system(cmd) != 0)
		DIE("could not make the dev token: %s", cmd);
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", fx.root);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(pin, sizeof(pin), "%s/dev/user.pin", fx.root);
	struct dfi_hsm_config hc = { .module = mod, .token_uri = "pkcs11:token=dfissue-dev",
		.pin_file = pin, .detail = detail, .detail_cap = sizeof(detail) };
	if (dfi_hsm_open(&fx.hsm, &hc) != DFI_OK)
		DIE("HSM: %s", detail);
	load_profile(src);
	snprintf(fx.origkeys, sizeof(fx.origkeys), "%s/tests/data/sim-originality.keys", src);
	struct dfi_perso_config pc = { .hsm = fx.hsm, .profile = fx.profile, .station = "fuzz",
		.detail = detail, .detail_cap = sizeof(detail), .originality_keys = fx.origkeys };
	if (dfi_perso_new(&fx.keys, &pc) != DFI_OK)
		DIE("perso: %s", detail);
	if ((fx.signer = jt_signer_ed25519_seed(seed)) == NULL || (fx.pub = jt_pubkey(fx.signer)) == NULL)
		DIE("journal signer");
	/* From here on every random number of this process is replayable. */
	if (RAND_set_rand_method(&fixed_rand) != 1)
		DIE("RAND_set_rand_method");
	/* A clean run first: it must get past authentication and end "done"
	 * with the card as the profile says (run_input traps otherwise); its
	 * card becomes the reference for the fast check. */
	run_input(NULL, 0);
	return 0;
}

/* ---- one input ---------------------------------------------------------- */

static int64_t
fixed_now(void *ctx)
{
	(void)ctx;
	return 1764950400; /* 2025-12-05: records do not depend on the clock */
}

static void
unresolved(void *ctx, const dfi_jrec *in)
{
	(void)in;
	(*(unsigned *)ctx)++;
}

static void
journal_verifies(const char *jdir, bool settled)
{
	char path[600];
	unsigned open = 0;
	struct dfi_jverify_result res;
	struct dfi_jverify_opts o = { .pubkey = fx.pub, .unresolved = unresolved, .ctx = &open };
	snprintf(path, sizeof(path), "%s/%s", jdir, DFI_JOURNAL_FILE);
	dfi_err e = dfi_journal_verify_file(path, &o, &res);
	if (e != DFI_OK || res.findings != 0)
		BUG("journal does not verify: %s, %llu findings", dfi_strerror(e),
		    (unsigned long long)res.findings);
	if (settled && open != 0)
		BUG("%u intents unresolved after a successful tap", open);
}

static void
card_matches(dfi_sim *sim, const char *when, const struct dfi_perso_result *res)
{
	char why[256];
	uint8_t *img = NULL;
	size_t n = 0;
	if (dfi_sim_committed_image(sim, &img, &n) != DFI_OK)
		DIE("sim image");
	bool same = fx.golden != NULL && n == fx.golden_len && memcmp(img, fx.golden, n) == 0;
	free(img);
	if (same)
		return;
	int m = dfi_test_card_matches_profile(sim, fx.hsm, fx.profile, fx.row, why, sizeof(why));
	if (m != 1)
		BUG("%s ended %s (%s) but the card differs from the profile: %s", when,
		    dfi_perso_outcome_name(res->outcome), res->detail, why);
}

static bool
succeeded(const struct dfi_perso_result *res)
{
	return res->outcome == DFI_PERSO_DONE || res->outcome == DFI_PERSO_RESUMED;
}

static void
tap(dfi_perso *p, dfi_transport *t, struct hostile *h, struct dfi_perso_result *res)
{
	h->tampered = 0;
	h->in_auth = h->session_ok = h->sig_tampered = false;
	h->violation[0] = '\0';
	if (dfi_transport_wait_card(h->inner, 0) != DFI_OK)
		DIE("card insert");
	dfi_err e = dfi_perso_card(p, t, fx.row, res);
	if (e != DFI_OK)
		BUG("dfi_perso_card failed as a call: %s (%s)", dfi_strerror(e), res->detail);
	if (h->violation[0])
		BUG("%s", h->violation);
	if (trace)
		fprintf(stderr, "tap: %s (%s), %u answers tampered: %s\n",
		    dfi_perso_outcome_name(res->outcome), dfi_strerror(res->err), h->tampered,
		    res->detail);
}

/* The trace's summary of one input: tests/fuzz/perso_seeds.sh fails a
 * seed (other than the empty one) with no answer tampered or a record that
 * changed nothing, one aimed at an APDU the engine no longer sends. */
static void
trace_input(const struct hostile *h, unsigned tampered)
{
	fprintf(stderr, "input: %u answers tampered; records that changed nothing:", tampered);
	for (size_t i = 0; i < h->nm; i++)
		if (!(h->changed & 1u << i))
			fprintf(stderr, " %zu", i);
	fprintf(stderr, "%s\n", h->changed == (1u << h->nm) - 1 ? " none" : "");
}

/* One input: a fresh card and journal, the hostile taps, the clean one. */
static void
run_input(const uint8_t *data, size_t size)
{
	struct mut muts[MAX_MUT];
	struct hostile h = { .nm = parse_muts(data, size, muts), .m = muts, .active = true };
	char jdir[400], detail[256] = "";
	rng_state = 0x5EED;

	struct dfi_sim_config sc = { .has_seed = true, .seed = 17, .no_fsync = true,
		.model = DFI_SIM_MODEL_EV2 };
	if (dfi_sim_new(&h.sim, &sc) != DFI_OK)
		DIE("sim");
	dfi_sim_set_forge(h.sim, forge, &h);
	if (dfi_sim_transport_new(h.sim, &h.inner) != DFI_OK)
		DIE("sim transport");

	struct dfi_journal_opts jo = { .station = "fuzz", .now = fixed_now };
	dfi_journal *j = NULL;
	snprintf(jdir, sizeof(jdir), "%s/j%u", fx.root, fx.serial++);
	if (dfi_journal_create(jdir, "issuer.example/fuzz-perso", fx.signer, &jo) != DFI_OK ||
	    dfi_journal_open(&j, jdir, fx.signer, &jo, NULL) != DFI_OK)
		DIE("journal in %s", jdir);
	dfi_perso *p = NULL;
	struct dfi_perso_config pc = { .hsm = fx.hsm, .journal = j, .profile = fx.profile,
		.station = "fuzz", .detail = detail, .detail_cap = sizeof(detail),
		.originality_keys = fx.origkeys, .keys_from = fx.keys };
	if (dfi_perso_new(&p, &pc) != DFI_OK)
		DIE("perso: %s", detail);
	dfi_transport *t = NULL;
	if (dfi_transport_new(&t, &hostile_ops, &h) != DFI_OK)
		DIE("transport");

	/* The hostile tap. */
	struct dfi_perso_result r1, r2;
	tap(p, t, &h, &r1);
	if (h.tampered == 0 && (r1.outcome != DFI_PERSO_DONE))
		BUG("a tap with untouched answers ended %s: %s (%s)",
		    dfi_perso_outcome_name(r1.outcome), r1.detail, dfi_strerror(r1.err));
	if (succeeded(&r1))
		card_matches(h.sim, "the hostile tap", &r1);
	if (fx.golden == NULL) {
		/* the first (clean) run at start-up: its card is the reference */
		if (dfi_sim_committed_image(h.sim, &fx.golden, &fx.golden_len) != DFI_OK)
			DIE("sim image");
	}

	/* The next taps on the same card (power off and on), unless the card
	 * is done already: the second goes on with the input's numbering (a
	 * recovery tap: what the engine reads back only there can be lied
	 * about), and when that one was tampered with too, a clean third. */
	bool settled = succeeded(&r1), refused = r1.outcome == DFI_PERSO_REFUSED;
	unsigned tampered = h.tampered;
	for (int n = 2; !settled && n <= 3; n++) {
		if (n == 3) {
			h.active = false;
			h.index = 0;
		}
		dfi_sim_remove(h.sim);
		tap(p, t, &h, &r2);
		settled = succeeded(&r2);
		bool clean = h.tampered == 0;
		if (settled)
			card_matches(h.sim, clean ? "the clean tap after a hostile one" :
			    "the second hostile tap", &r2);
		else if (clean && !(r2.outcome == DFI_PERSO_REFUSED && refused))
			BUG("the clean tap after a hostile one ended %s: %s (%s); the first hostile one %s: %s",
			    dfi_perso_outcome_name(r2.outcome), r2.detail, dfi_strerror(r2.err),
			    dfi_perso_outcome_name(r1.outcome), r1.detail);
		if (clean)
			break;
		tampered += h.tampered;
		refused |= r2.outcome == DFI_PERSO_REFUSED;
	}
	if (trace)
		trace_input(&h, tampered);

	dfi_transport_free(t);
	dfi_perso_free(p);
	dfi_journal_close(j);
	journal_verifies(jdir, settled);
	jt_rmrf(jdir);
	dfi_transport_free(h.inner);
	dfi_sim_free(h.sim);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size <= INPUT_MAX)
		run_input(data, size);
	return 0;
}
