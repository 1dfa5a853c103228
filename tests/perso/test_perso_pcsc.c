/*
 * `dfissue personalize --reader pcsc:NAME` end to end through a real pcscd
 * with the vsmartcard vpcd driver: the test starts its own pcscd (private
 * /run/pcscd in a mount namespace, so it never meets a system pcscd or a
 * parallel test) and desfire-sim --vpcd on a free loopback port, with a
 * tear in the middle of the first tap (executed, answer lost; the card
 * leaves and comes back 1.5 s later). The CLI must wait for the card,
 * finish it (resumed), then `dfissue inspect --reader pcsc:...` shows
 * nothing left to do and the card image equals the profile.
 * Skipped (77) without root.
 */
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "testutil.h"

#include "perso_fix.h"

static pid_t pcscd_pid = -1, sim_pid = -1;
static char g_dir[400];

START_TEST(personalize_through_pcscd)
{
	static char out[65536], cmd[4096];
	char path[600], conf[300], script[1400], sock[600], bin[512], img[600], vpcd[64];
	const char *bd = getenv("DFI_BUILD_DIR"), *src = getenv("DFI_SOURCE_DIR");
	unsigned port = dfi_test_free_port_pair();
	struct stat st;

	snprintf(g_dir, sizeof(g_dir), "%s/pcsc", pf_root);
	ck_assert_int_eq(mkdir(g_dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/conf", g_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/run", g_dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf/vpcd", g_dir);
	snprintf(conf, sizeof(conf), "FRIENDLYNAME \"dfissue-perso\"\nDEVICENAME /dev/null:%u\n"
	    "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID %u\n", port, port);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf, f);
	ck_assert_int_eq(fclose(f), 0);

	snprintf(script, sizeof(script), "mkdir -p /run/pcscd && mount --bind %s/run /run/pcscd "
	    "&& exec pcscd -f -c %s/conf", g_dir, g_dir);
	char *pargv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	pcscd_pid = dfi_test_spawn(pargv, g_dir, "pcscd.log");
	snprintf(sock, sizeof(sock), "%s/run/pcscd.comm", g_dir);
	for (int i = 0; i < 200 && stat(sock, &st) != 0; i++)
		dfi_test_sleep_ms(50);
	ck_assert_msg(stat(sock, &st) == 0, "pcscd did not come up (%s/pcscd.log)", g_dir);
	ck_assert_int_eq(setenv("PCSCLITE_CSOCK_NAME", sock, 1), 0);

	snprintf(bin, sizeof(bin), "%s/bin/desfire-sim", bd);
	snprintf(img, sizeof(img), "%s/card.img", g_dir);
	snprintf(vpcd, sizeof(vpcd), "127.0.0.1:%u", port);
	char *sargv[] = { bin, "--image", img, "--seed", "11", "--vpcd", vpcd, "--tear-at", "40",
		"--tear-mode", "after", "--reinsert-ms", "1500", "--no-fsync", NULL };
	sim_pid = dfi_test_spawn(sargv, g_dir, "sim.log");

	snprintf(cmd, sizeof(cmd), "'%s/bin/dfissue' personalize --profile '%s/profiles/reference.json' "
	    "--batch '%s/profiles/reference-batch.csv' --token pkcs11:token=dfissue-dev "
	    "--pin-file '%s/dev/user.pin' --reader 'pcsc:dfissue-perso 00 00' --journal '%s/j' "
	    "--create-journal --once --json --wait-ms 20000 2>'%s/cli.log'", bd, src, src, pf_root,
	    g_dir, g_dir);
	int rc = pf_run(out, sizeof(out), "%s", cmd);
	if (rc != 0) {
		static char log[1500];
		snprintf(path, sizeof(path), "%s/cli.log", g_dir);
		FILE *lf = fopen(path, "r");
		if (lf != NULL && fseek(lf, -1400, SEEK_END) != 0)
			rewind(lf);
		size_t n = lf != NULL ? fread(log, 1, sizeof(log) - 1, lf) : 0;
		if (lf != NULL)
			fclose(lf);
		log[n] = '\0';
		ck_abort_msg("personalize rc %d: %s; stderr: %s", rc, out, log);
	}
	json_error_t je;
	json_t *o = json_loads(out, JSON_DECODE_ANY, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", out);
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "resumed");
	json_decref(o);

	snprintf(cmd, sizeof(cmd), "'%s/bin/dfissue' inspect --reader 'pcsc:dfissue-perso 00 00' "
	    "--profile '%s/profiles/reference.json' --batch '%s/profiles/reference-batch.csv' "
	    "--token pkcs11:token=dfissue-dev --pin-file '%s/dev/user.pin' 2>&1", bd, src, src,
	    pf_root);
	rc = pf_run(out, sizeof(out), "%s", cmd);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "remaining steps: 0") != NULL, "%s", out);

	/* The committed card state equals the profile. */
	dfi_test_stop(&sim_pid);
	pf_assert_image_is("reference", 11, img);
	dfi_test_stop(&pcscd_pid);
}
END_TEST

static void
teardown(void)
{
	dfi_test_stop(&sim_pid);
	dfi_test_stop(&pcscd_pid);
}

int
main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root to give pcscd a private /run/pcscd\n");
		return 77;
	}
	return pf_test_main("perso-pcsc",
	    &(struct dfi_test_case){ .teardown = teardown, .timeout = 180 }, 0,
	    (const TTest *[]){ personalize_through_pcscd, NULL });
}
