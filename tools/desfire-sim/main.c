/*
 * desfire-sim: a simulated MIFARE DESFire card, put into a vsmartcard vpcd
 * virtual reader (--vpcd) or driven by hex APDUs on stdin (--stdio).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "desfire_sim.h"
#include "dfissue/util.h"

static volatile sig_atomic_t stop_flag, replug_flag;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		replug_flag = 1;
	else
		stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: desfire-sim --image FILE [options] (--vpcd HOST:PORT | --stdio)\n"
	    "\n"
	    "A simulated MIFARE DESFire EV1/EV2/EV3 card whose committed state lives in FILE\n"
	    "(created in factory state if absent).\n"
	    "\n"
	    "  --image FILE          card image (omit for a memory-only card)\n"
	    "  --uid HEX             7-byte UID for a new image (14 hex digits)\n"
	    "  --seed N              deterministic randomness (RndB, TI, UID)\n"
	    "  --model ev1|ev2|ev3   version info and EV2 authentication (default ev2);\n"
	    "                        ev3 adds LRP mode and Secure Dynamic Messaging\n"
	    "  --picc-key TYPE:HEX[:VERSION]  a NEW image arrives with this PICC master key\n"
	    "                        (a transport key: aes, 2k3des or 3k3des) instead of DES\n"
	    "                        zero\n"
	    "  --originality test|none|foreign|corrupt  Read_Sig (EV2): signed by the\n"
	    "                        simulator's test key (default), refused, by an untrusted\n"
	    "                        key, or another UID's signature\n"
	    "  --tear-at N           tear at the N-th APDU (1 = the first)\n"
	    "  --tear-mode MODE      before: command lost; after: executed, response lost\n"
	    "                        (default after)\n"
	    "  --timing none|datasheet  answer at once (default) or as slowly as a card\n"
	    "  --vpcd HOST:PORT      connect to a vpcd virtual reader\n"
	    "  --reinsert-ms N       after a tear (or SIGUSR1), re-insert the card after N ms\n"
	    "                        (default 1000); SIGUSR1 lifts the card and taps it again\n"
	    "  --stdio               read hex C-APDUs from stdin, one per line; print R-APDUs\n"
	    "  --no-fsync            do not fsync image writes (tests on tmpfs)\n"
	    "  -q, --quiet           no progress lines on stderr\n"
	    "  -h, --help            this help\n"
	    "  --version             print the version\n");
}

__attribute__((format(printf, 1, 2))) static int
fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "desfire-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

/* One word an option takes, and the value it stands for. */
struct choice {
	const char *word;
	int value;
};

/* The value of the word arg among the choices (ended by a NULL word) of
 * option opt; false, after saying which words it takes, for any other. */
static bool
pick(const char *opt, const char *arg, const struct choice *c, int *out)
{
	size_t n = 0;
	for (; c[n].word != NULL; n++)
		if (strcmp(arg, c[n].word) == 0) {
			*out = c[n].value;
			return true;
		}
	fprintf(stderr, "desfire-sim: %s must be ", opt);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", c[i].word);
	fprintf(stderr, ", got '%s'\n", arg);
	return false;
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		return false;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* TYPE:HEX[:VERSION] for a card that arrives with a transport key. */
static dfi_err
set_picc_key(dfi_sim *sim, const char *spec)
{
	char buf[128];
	uint8_t key[DFI_MAX_KEY_LEN];
	size_t n = 0;
	uint64_t ver = 0;
	dfi_keytype t;
	if (strlen(spec) >= sizeof(buf))
		return DFI_E_INVALID_ARG;
	strcpy(buf, spec);
	char *hex = strchr(buf, ':');
	if (hex == NULL)
		return DFI_E_INVALID_ARG;
	*hex++ = '\0';
	char *v = strchr(hex, ':');
	if (v != NULL) {
		*v++ = '\0';
		if (!parse_u64(v, 255, &ver))
			return DFI_E_INVALID_ARG;
	}
	dfi_err e = dfi_keytype_parse(buf, &t);
	if (e == DFI_OK)
		e = dfi_hex_decode(hex, key, sizeof(key), &n);
	if (e == DFI_OK)
		e = dfi_sim_set_picc_key(sim, t, key, n, (uint8_t)ver);
	dfi_wipe(key, sizeof(key));
	return e;
}

static int
run_stdio(dfi_sim *sim)
{
	char line[2 * DFI_APDU_MAX + 64];
	uint8_t c[DFI_APDU_MAX], r[DFI_APDU_MAX + 2];
	char hex[2 * (DFI_APDU_MAX + 2) + 1];
	while (!stop_flag && fgets(line, sizeof(line), stdin) != NULL) {
		size_t n = strcspn(line, "#\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		if (strcmp(line, "reset") == 0) {
			if (dfi_sim_power_cycle(sim) != DFI_OK)
				return 1;
			printf("OK\n");
			fflush(stdout);
			continue;
		}
		size_t clen, rlen;
		if (dfi_hex_decode(line, c, sizeof(c), &clen) != DFI_OK) {
			printf("ERROR bad hex\n");
			fflush(stdout);
			continue;
		}
		dfi_err e = dfi_sim_process(sim, c, clen, r, sizeof(r), &rlen);
		if (e == DFI_E_CARD_TORN) {
			printf("TORN\n");
			if (dfi_sim_insert(sim) != DFI_OK)
				return 1;
		} else if (e != DFI_OK) {
			printf("ERROR %s\n", dfi_strerror(e));
		} else {
			dfi_hex_encode(r, rlen, hex, sizeof(hex));
			printf("%s\n", hex);
		}
		fflush(stdout);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_IMAGE = 256, O_UID, O_SEED, O_MODEL, O_TEAR_AT, O_TEAR_MODE, O_TIMING,
		O_VPCD, O_REINSERT, O_STDIO, O_NOFSYNC, O_VERSION, O_PICC_KEY, O_ORIGINALITY };
	static const struct option opts[] = {
		{ "image", required_argument, NULL, O_IMAGE },
		{ "uid", required_argument, NULL, O_UID },
		{ "seed", required_argument, NULL, O_SEED },
		{ "model", required_argument, NULL, O_MODEL },
		{ "tear-at", required_argument, NULL, O_TEAR_AT },
		{ "tear-mode", required_argument, NULL, O_TEAR_MODE },
		{ "timing", required_argument, NULL, O_TIMING },
		{ "vpcd", required_argument, NULL, O_VPCD },
		{ "reinsert-ms", required_argument, NULL, O_REINSERT },
		{ "stdio", no_argument, NULL, O_STDIO },
		{ "no-fsync", no_argument, NULL, O_NOFSYNC },
		{ "picc-key", required_argument, NULL, O_PICC_KEY },
		{ "originality", required_argument, NULL, O_ORIGINALITY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct dfi_sim_config cfg = { 0 };
	uint64_t tear_at = 0, reinsert = 1000, v;
	enum dfi_sim_tear_mode tear_mode = DFI_SIM_TEAR_AFTER;
	const char *vpcd = NULL;
	bool use_stdio = false, quiet = false;
	const char *picc_key = NULL;
	int o, c;
	static const struct choice models[] = {
		{ "ev1", DFI_SIM_MODEL_EV1 }, { "ev2", DFI_SIM_MODEL_EV2 }, { "ev3", DFI_SIM_MODEL_EV3 },
		{ NULL, 0 } };
	static const struct choice tear_modes[] = {
		{ "before", DFI_SIM_TEAR_BEFORE }, { "after", DFI_SIM_TEAR_AFTER }, { NULL, 0 } };
	static const struct choice timings[] = {
		{ "none", DFI_SIM_TIMING_NONE }, { "datasheet", DFI_SIM_TIMING_DATASHEET }, { NULL, 0 } };
	static const struct choice originalities[] = {
		{ "test", DFI_SIM_ORIG_TEST }, { "none", DFI_SIM_ORIG_NONE },
		{ "foreign", DFI_SIM_ORIG_FOREIGN }, { "corrupt", DFI_SIM_ORIG_CORRUPT }, { NULL, 0 } };

	opterr = 0;
	while ((o = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (o) {
		case O_IMAGE: cfg.image = optarg; break;
		case O_UID: {
			size_t n;
			if (dfi_hex_decode(optarg, cfg.uid, sizeof(cfg.uid), &n) != DFI_OK || n != DFI_SIM_UID_LEN)
				return fail("--uid needs 7 bytes as 14 hex digits, got '%s'", optarg);
			cfg.has_uid = true;
			break;
		}
		case O_SEED:
			if (!parse_u64(optarg, UINT64_MAX, &cfg.seed))
				return fail("--seed needs a non-negative integer, got '%s'", optarg);
			cfg.has_seed = true;
			break;
		case O_MODEL:
			if (!pick("--model", optarg, models, &c))
				return 2;
			cfg.model = (enum dfi_sim_model)c;
			break;
		case O_TEAR_AT:
			if (!parse_u64(optarg, UINT32_MAX, &tear_at) || tear_at == 0)
				return fail("--tear-at needs a positive integer, got '%s'", optarg);
			break;
		case O_TEAR_MODE:
			if (!pick("--tear-mode", optarg, tear_modes, &c))
				return 2;
			tear_mode = (enum dfi_sim_tear_mode)c;
			break;
		case O_TIMING:
			if (!pick("--timing", optarg, timings, &c))
				return 2;
			cfg.timing = (enum dfi_sim_timing)c;
			break;
		case O_VPCD: vpcd = optarg; break;
		case O_REINSERT:
			if (!parse_u64(optarg, 600000, &reinsert))
				return fail("--reinsert-ms needs 0..600000, got '%s'", optarg);
			break;
		case O_STDIO: use_stdio = true; break;
		case O_NOFSYNC: cfg.no_fsync = true; break;
		case O_PICC_KEY: picc_key = optarg; break;
		case O_ORIGINALITY:
			if (!pick("--originality", optarg, originalities, &c))
				return 2;
			cfg.originality = (enum dfi_sim_originality)c;
			break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("desfire-sim %s\n", DFISSUE_VERSION); return 0;
		default:
			return fail("unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s' (see --help)", argv[optind]);
	if ((vpcd != NULL) == use_stdio)
		return fail("%s", "give exactly one of --vpcd HOST:PORT and --stdio");

	char host[256];
	uint16_t port = 0;
	if (vpcd != NULL) {
		const char *colon = strrchr(vpcd, ':');
		if (colon == NULL || (size_t)(colon - vpcd) >= sizeof(host) || colon == vpcd ||
		    !parse_u64(colon + 1, 65535, &v) || v == 0)
			return fail("--vpcd needs HOST:PORT, got '%s'", vpcd);
		memcpy(host, vpcd, (size_t)(colon - vpcd));
		host[colon - vpcd] = '\0';
		port = (uint16_t)v;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	dfi_sim *sim;
	bool fresh = cfg.image == NULL || access(cfg.image, F_OK) != 0;
	dfi_err e = dfi_sim_new(&sim, &cfg);
	if (e != DFI_OK) {
		fprintf(stderr, "desfire-sim: cannot open card image %s: %s\n",
		    cfg.image ? cfg.image : "(memory)", dfi_strerror(e));
		return 1;
	}
	if (picc_key != NULL && fresh && (e = set_picc_key(sim, picc_key)) != DFI_OK) {
		dfi_sim_free(sim);
		return fail("--picc-key wants TYPE:HEX[:VERSION] (aes, 2k3des or 3k3des, the key's "
			    "length in hex, version 0..255), got '%s': %s", picc_key, dfi_strerror(e));
	}
	if (tear_at > 0)
		dfi_sim_set_tear(sim, (unsigned)tear_at, tear_mode);
	int rc;
	if (use_stdio) {
		rc = run_stdio(sim);
	} else {
		e = dfi_sim_vpcd_run(sim, host, port, (int)reinsert, &stop_flag, &replug_flag,
		    quiet ? NULL : stderr);
		rc = e == DFI_OK ? 0 : 1;
		if (e != DFI_OK)
			fprintf(stderr, "desfire-sim: %s\n", dfi_strerror(e));
	}
	struct dfi_sim_stats st;
	dfi_sim_stats(sim, &st);
	if (!quiet)
		fprintf(stderr, "desfire-sim: %" PRIu64 " APDUs, %" PRIu64 " commits, %" PRIu64 " tears\n",
		    st.apdus, st.commits, st.tears);
	dfi_sim_free(sim);
	return rc;
}
