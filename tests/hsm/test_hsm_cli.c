/*
 * The CLI against a real SoftHSM2 dev token: `dfissue key derive-kcv`
 * prints the KCV of the AN10922 vectors' diversified keys; key list, kcv,
 * import (key ceremony from component files) and journal-key; and each
 * error case ends with a non-zero exit and one clear line on stderr.
 */
#include <check.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "dfissue/crypto.h"
#include "hsm_fixture.h"
#include "testutil.h"

extern char **environ;

static struct hsm_fixture fx;

struct run {
	int status;
	char out[8192];
	char err[4096];
};

/* Runs dfissue with the given arguments (NULL-terminated), stdin from
 * /dev/null, and captures stdout and stderr. */
static void
run(struct run *r, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = fx.dfissue;
	va_list ap;
	va_start(ap, r);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	char outp[400], errp[400];
	snprintf(outp, sizeof(outp), "%s/out.txt", fx.dir);
	snprintf(errp, sizeof(errp), "%s/err.txt", fx.dir);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	ck_assert_int_eq(posix_spawn(&pid, fx.dfissue, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	dfi_test_read_file(outp, r->out, sizeof(r->out));
	dfi_test_read_file(errp, r->err, sizeof(r->err));
}

/* An error: exit 1 (or 2 for usage), exactly one line on stderr that
 * contains needle. */
static void
assert_one_line_error(const struct run *r, int status, const char *needle)
{
	ck_assert_int_eq(r->status, status);
	size_t len = strlen(r->err);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(r->err[len - 1], '\n');
	ck_assert_ptr_null(memchr(r->err, '\n', len - 1));
	ck_assert_msg(strstr(r->err, needle) != NULL, "stderr '%s' lacks '%s'", r->err, needle);
	ck_assert_msg(strncmp(r->err, "dfissue: ", 9) == 0, "stderr '%s'", r->err);
}

static void
kcv_hex(dfi_keytype t, const uint8_t *key, char out[7])
{
	uint8_t zero[16] = { 0 }, c[16];
	ck_assert_int_eq(dfi_cipher(t, key, 1, NULL, zero, c, dfi_keytype_blocklen(t)), DFI_OK);
	snprintf(out, 7, "%02X%02X%02X", c[0], c[1], c[2]);
}

#define PINOPT "--pin-file", fx.pin_file

START_TEST(derive_kcv_aes_vector)
{
	uint8_t want[16];
	size_t wl;
	char uid[32], aid[16], sys[32], kcv[7], line[16];
	uint8_t b[16];
	size_t n;
	ck_assert_int_eq(vector_hex("an10922.txt", "diversified", want, sizeof(want), &wl), 0);
	ck_assert_int_eq(vector_hex("an10922.txt", "uid", b, sizeof(b), &n), 0);
	dfi_hex_encode(b, n, uid, sizeof(uid));
	ck_assert_int_eq(vector_hex("an10922.txt", "aid", b, sizeof(b), &n), 0);
	dfi_hex_encode(b, n, aid, sizeof(aid));
	ck_assert_int_eq(vector_hex("an10922.txt", "system_id", b, sizeof(b), &n), 0);
	dfi_hex_encode(b, n, sys, sizeof(sys));
	kcv_hex(DFI_KT_AES128, want, kcv);
	struct run r;
	run(&r, "key", "derive-kcv", "--master", "pkcs11:token=dfissue-dev;object=an10922-master", "--uid", uid,
	    "--aid", aid, "--sysid", sys, PINOPT, NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	snprintf(line, sizeof(line), "%s\n", kcv);
	ck_assert_str_eq(r.out, line);
	/* the key itself never appears */
	char keyhex[33];
	dfi_hex_encode(want, 16, keyhex, sizeof(keyhex));
	ck_assert_ptr_null(strstr(r.out, keyhex));
	ck_assert_ptr_null(strstr(r.err, keyhex));
}
END_TEST

static void
des_cli(const char *prefix, const char *label, dfi_keytype t)
{
	char uid[32], aid[16], sys[32], kcv[7], line[16];
	uint8_t m[32], want[24];
	size_t ml, wl;
	an10922_des_vector(prefix, m, &ml, want, &wl);
	/* M = UID (7) || AID (3) || system identifier (rest) */
	dfi_hex_encode(m, 7, uid, sizeof(uid));
	dfi_hex_encode(m + 7, 3, aid, sizeof(aid));
	dfi_hex_encode(m + 10, ml - 10, sys, sizeof(sys));
	kcv_hex(t, want, kcv);
	char uri[128];
	snprintf(uri, sizeof(uri), "pkcs11:token=dfissue-dev;object=%s", label);
	struct run r;
	run(&r, "key", "derive-kcv", "--master", uri, "--uid", uid, "--aid", aid, "--sysid", sys, PINOPT, NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	snprintf(line, sizeof(line), "%s\n", kcv);
	ck_assert_str_eq(r.out, line);
}

START_TEST(derive_kcv_2k3des_vector) { des_cli("2k3des", "an10922-2k3des-master", DFI_KT_2K3DES); }
END_TEST
START_TEST(derive_kcv_3k3des_vector) { des_cli("3k3des", "an10922-3k3des-master", DFI_KT_3K3DES); }
END_TEST

START_TEST(list_and_kcv)
{
	struct run r;
	run(&r, "key", "list", "--token", "pkcs11:token=dfissue-dev", PINOPT, NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	static const char *labels[] = { "an10922-master", "picc-master", "app1-master", "app2-master",
		"an10922-2k3des-master", "an10922-3k3des-master", "journal" };
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		ck_assert_msg(strstr(r.out, labels[i]) != NULL, "list lacks %s", labels[i]);
	ck_assert_ptr_nonnull(strstr(r.out, "sensitive,non-extractable"));
	ck_assert_ptr_null(strstr(r.out, "EXTRACTABLE"));

	/* key kcv of the AN10922 master: its KCV is E(K, 0) computed on the host */
	uint8_t k[16];
	char kcv[7], line[16];
	size_t n;
	ck_assert_int_eq(vector_hex("an10922.txt", "master_key", k, sizeof(k), &n), 0);
	kcv_hex(DFI_KT_AES128, k, kcv);
	run(&r, "key", "kcv", PINOPT, "pkcs11:token=dfissue-dev;object=an10922-master", NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	snprintf(line, sizeof(line), "%s\n", kcv);
	ck_assert_str_eq(r.out, line);

	/* --json: what jansson reads back (it was written by hand), each key
	 * with its members and their types */
	run(&r, "key", "list", "--json", "--token", "pkcs11:token=dfissue-dev", PINOPT, NULL);
	ck_assert_int_eq(r.status, 0);
	json_error_t jerr;
	json_t *keys = json_loads(r.out, 0, &jerr);
	ck_assert_msg(json_is_array(keys), "%s: %s", jerr.text, r.out);
	const json_t *picc = NULL;
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const json_t *key = json_array_get(keys, i);
		ck_assert(json_is_string(json_object_get(key, "class")) && json_is_string(json_object_get(key, "type")));
		ck_assert(json_is_string(json_object_get(key, "label_hex")) && json_is_integer(json_object_get(key, "bits")));
		ck_assert(json_is_boolean(json_object_get(key, "sensitive")) && json_is_boolean(json_object_get(key, "token")));
		if (json_is_string(json_object_get(key, "label")) &&
		    strcmp(json_string_value(json_object_get(key, "label")), "picc-master") == 0)
			picc = key;
	}
	ck_assert_msg(picc != NULL, "%s", r.out);
	ck_assert_str_eq(json_string_value(json_object_get(picc, "label_hex")), "706963632D6D6173746572");
	ck_assert_int_eq(json_integer_value(json_object_get(picc, "bits")), 128);
	ck_assert(json_is_false(json_object_get(picc, "extractable")));
	ck_assert_int_eq(json_string_length(json_object_get(picc, "kcv")), 6);
	json_decref(keys);
}
END_TEST

START_TEST(import_ceremony)
{
	/* Three components; the result is their XOR. */
	static const char *comp[] = { "000102030405060708090A0B0C0D0E0F", "F0E0D0C0B0A090807060504030201000",
		"1111 2222 3333 4444 5555 6666 7777 8888" };
	char paths[3][400];
	uint8_t sum[16] = { 0 };
	char expect[400] = "";
	for (int i = 0; i < 3; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/comp%d", fx.dir, i);
		char line[64];
		snprintf(line, sizeof(line), "%s\n", comp[i]);
		dfi_test_write_secret(paths[i], line);
		char hex[40];
		size_t k = 0;
		for (const char *p = comp[i]; *p; p++)
			if (*p != ' ')
				hex[k++] = *p;
		hex[k] = '\0';
		uint8_t c[16];
		size_t n;
		ck_assert_int_eq(dfi_hex_decode(hex, c, sizeof(c), &n), DFI_OK);
		for (int j = 0; j < 16; j++)
			sum[j] ^= c[j];
		char kcv[7], l[64];
		kcv_hex(DFI_KT_AES128, c, kcv);
		snprintf(l, sizeof(l), "component %d KCV: %s\n", i + 1, kcv);
		strcat(expect, l);
	}
	char kcv[7], l[64];
	kcv_hex(DFI_KT_AES128, sum, kcv);
	snprintf(l, sizeof(l), "key KCV: %s\n", kcv);
	strcat(expect, l);
	struct run r;
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "ceremony-key",
	    "--id", "C0FFEE", "--components", "3", "--component-file", paths[0], "--component-file", paths[1],
	    "--component-file", paths[2], NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	ck_assert_msg(strncmp(r.out, expect, strlen(expect)) == 0, "got '%s' want '%s'", r.out, expect);
	/* the HSM agrees */
	run(&r, "key", "kcv", PINOPT, "pkcs11:token=dfissue-dev;id=%C0%FF%EE", NULL);
	ck_assert_int_eq(r.status, 0);
	snprintf(l, sizeof(l), "%s\n", kcv);
	ck_assert_str_eq(r.out, l);
	/* same label again: refused */
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "ceremony-key",
	    "--components", "2", "--component-file", paths[0], "--component-file", paths[1], NULL);
	assert_one_line_error(&r, 1, "already exists");
	/* one component is not a ceremony; a missing component cannot be prompted for */
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "x", "--components",
	    "1", "--component-file", paths[0], NULL);
	assert_one_line_error(&r, 2, "--components");
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "x", "--components",
	    "2", "--component-file", paths[0], NULL);
	assert_one_line_error(&r, 1, "no terminal");
	/* key material on the command line is refused */
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "x", "--components",
	    "2", "00112233445566778899AABBCCDDEEFF", NULL);
	assert_one_line_error(&r, 2, "never comes from the command line");
	/* a malformed component */
	dfi_test_write_secret(paths[2], "00112233zz\n");
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "x", "--components",
	    "2", "--component-file", paths[0], "--component-file", paths[2], NULL);
	assert_one_line_error(&r, 1, "expected 16 bytes of hex");
}
END_TEST

/* Runs key import of a key labelled "refused" from the good component file
 * and bad, and checks the exact line and that nothing reached the token. */
static void
component_refused(const char *good, const char *bad, const char *reason)
{
	struct run r;
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "refused",
	    "--components", "2", "--component-file", good, "--component-file", bad, NULL);
	char want[1200];
	snprintf(want, sizeof(want), "dfissue: key import: component file '%s' %s\n", bad, reason);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, want);
	run(&r, "key", "list", "--token", "pkcs11:token=dfissue-dev", PINOPT, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "refused") == NULL, "key list: %s", r.out);
}

/* A component file gets the PIN file's checks (audit k36s, finding 1): a
 * symlink, a FIFO (refused at once: opening it must not wait for a writer,
 * and the test case's timeout bounds it if it did), a file group or others
 * can read, one of another user and one too big are each refused with the
 * reason and the fix, before the token is touched. */
START_TEST(import_component_file_checks)
{
	char good[400], link[400], fifo[400], wide[400], other[400], big[400];
	snprintf(good, sizeof(good), "%s/comp-good", fx.dir);
	snprintf(link, sizeof(link), "%s/comp-link", fx.dir);
	snprintf(fifo, sizeof(fifo), "%s/comp-fifo", fx.dir);
	snprintf(wide, sizeof(wide), "%s/comp-wide", fx.dir);
	snprintf(other, sizeof(other), "%s/comp-other", fx.dir);
	snprintf(big, sizeof(big), "%s/comp-big", fx.dir);
	dfi_test_write_secret(good, "000102030405060708090A0B0C0D0E0F\n");
	ck_assert_int_eq(symlink(good, link), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	dfi_test_write_secret(wide, "F0E0D0C0B0A090807060504030201000\n");
	ck_assert_int_eq(chmod(wide, 0644), 0);
	char text[300];
	memset(text, '0', 299);
	text[299] = '\0';
	dfi_test_write_secret(big, text);

	component_refused(good, link, "is a symbolic link: give the file itself");
	component_refused(good, fifo, "is not a regular file (FIFO, device or directory): put the "
	    "component in a regular file, mode 600");
	component_refused(good, wide, "is accessible to group or others (mode 644): chmod 600 it");
	ck_assert_int_eq(chmod(wide, 0640), 0);
	component_refused(good, wide, "is accessible to group or others (mode 640): chmod 600 it");
	component_refused(good, big, "is 299 bytes: it must hold one component in hex, at most 255 "
	    "bytes");
	/* Another user's file: only root can make one (chown). */
	if (geteuid() == 0) {
		dfi_test_write_secret(other, "F0E0D0C0B0A090807060504030201000\n");
		ck_assert_int_eq(chown(other, 65534, 65534), 0);
		char reason[200];
		snprintf(reason, sizeof(reason), "is owned by uid 65534, not by this user (uid %u): "
		    "chown it", (unsigned)geteuid());
		component_refused(good, other, reason);
		unlink(other);
	}
	/* the same components from proper files make the key */
	dfi_test_write_secret(wide, "F0E0D0C0B0A090807060504030201000\n");
	ck_assert_int_eq(chmod(wide, 0600), 0);
	struct run r;
	run(&r, "key", "import", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label",
	    "checked-key", "--components", "2", "--component-file", good, "--component-file", wide,
	    NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	unlink(good);
	unlink(link);
	unlink(fifo);
	unlink(wide);
	unlink(big);
}
END_TEST

START_TEST(journal_key)
{
	struct run r;
	run(&r, "journal-key", "pubkey", PINOPT, "pkcs11:token=dfissue-dev;object=journal", NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	BIO *bio = BIO_new_mem_buf(r.out, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ck_assert_ptr_nonnull(pk);
	ck_assert_int_eq(EVP_PKEY_get_id(pk), EVP_PKEY_ED25519);
	EVP_PKEY_free(pk);
	char out[400];
	snprintf(out, sizeof(out), "%s/ec.pem", fx.dir);
	run(&r, "journal-key", "generate", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "jk-ec",
	    "--alg", "ecdsa-p256", "--pubkey-out", out, NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	FILE *fp = fopen(out, "r");
	ck_assert_ptr_nonnull(fp);
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	ck_assert_ptr_nonnull(pk);
	ck_assert_int_eq(EVP_PKEY_get_id(pk), EVP_PKEY_EC);
	EVP_PKEY_free(pk);
	run(&r, "journal-key", "generate", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--label", "jk-ec", NULL);
	assert_one_line_error(&r, 1, "already exists");
	run(&r, "journal-key", "generate", "--alg", "rsa", NULL);
	assert_one_line_error(&r, 2, "--alg");
}
END_TEST

START_TEST(errors_are_one_line)
{
	char wrong[400];
	snprintf(wrong, sizeof(wrong), "%s/wrong.pin", fx.dir);
	FILE *fp = fopen(wrong, "w");
	fputs("not-the-pin\n", fp);
	fclose(fp);
	ck_assert_int_eq(chmod(wrong, 0600), 0);
	const char *master = "pkcs11:token=dfissue-dev;object=an10922-master";
	struct run r;
	run(&r, "key", "kcv", "--pin-file", wrong, master, NULL);
	assert_one_line_error(&r, 1, "PIN incorrect");
	run(&r, "key", "kcv", PINOPT, "pkcs11:token=no-such-token;object=x", NULL);
	assert_one_line_error(&r, 1, "no token matches");
	run(&r, "key", "kcv", PINOPT, "pkcs11:token=dfissue-dev;object=no-such-key", NULL);
	assert_one_line_error(&r, 1, "no key matches");
	run(&r, "key", "kcv", PINOPT, "--module", "/nonexistent/module.so", master, NULL);
	assert_one_line_error(&r, 1, "module could not be loaded");
	run(&r, "key", "kcv", PINOPT, "pkcs11:token=dfissue-dev;object=%zz", NULL);
	assert_one_line_error(&r, 1, "malformed pkcs11: URI");
	run(&r, "key", "kcv", master, NULL);
	assert_one_line_error(&r, 1, "PIN required");
	run(&r, "key", "derive-kcv", "--master", master, "--uid", "04782E21801D80", "--aid", "zz", PINOPT, NULL);
	assert_one_line_error(&r, 2, "--aid");
	run(&r, "key", "derive-kcv", "--master", master, "--uid", "0102030405060708090A", "--aid", "010203",
	    "--sysid", "0102030405060708090A0B0C0D0E0F101112131415", PINOPT, NULL);
	assert_one_line_error(&r, 2, "allows 1..31");
	run(&r, "key", "frobnicate", NULL);
	assert_one_line_error(&r, 2, "unknown command");
	run(&r, "key", "kcv", NULL);
	assert_one_line_error(&r, 2, "key kcv: needs one KEY-URI (try --help)");
	run(&r, "journal-key", "pubkey", NULL);
	assert_one_line_error(&r, 2, "journal-key pubkey: needs one KEY-URI (try --help)");
	/* a PIN file others can read is refused, naming the file and the fix
	 * (issue 17, finding 5: it used to work with a warning) */
	char loose[400], pin[128] = { 0 };
	snprintf(loose, sizeof(loose), "%s/loose.pin", fx.dir);
	fp = fopen(fx.pin_file, "r");
	ck_assert_ptr_nonnull(fgets(pin, sizeof(pin), fp));
	fclose(fp);
	fp = fopen(loose, "w");
	fputs(pin, fp);
	fclose(fp);
	ck_assert_int_eq(chmod(loose, 0644), 0);
	run(&r, "key", "kcv", "--pin-file", loose, master, NULL);
	ck_assert_int_ne(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.err, loose));
	ck_assert_ptr_nonnull(strstr(r.err, "chmod 600"));
	ck_assert_ptr_null(strchr(r.err, '\n') == r.err + strlen(r.err) - 1 ? NULL : strchr(r.err, '\n'));
	/* A PIN source that was given and failed is named alone with its fix;
	 * "give --pin-file" is only for no source at all (audit k33, finding 4). */
	ck_assert_ptr_null(strstr(r.err, "give --pin-file"));
	char empty[400], want[600];
	snprintf(empty, sizeof(empty), "%s/empty.pin", fx.dir);
	fp = fopen(empty, "w");
	fclose(fp);
	ck_assert_int_eq(chmod(empty, 0600), 0);
	run(&r, "key", "kcv", "--pin-file", empty, master, NULL);
	ck_assert_int_eq(r.status, 1);
	snprintf(want, sizeof(want), "dfissue: opening the HSM: PIN file '%s' is empty: put the "
	    "PIN on its first line\n", empty);
	ck_assert_str_eq(r.err, want);
	/* A PIN file the system will not open: the library's error is the
	 * system's (DFI_E_NOT_FOUND), the line names the file and the reason. */
	char absent[400];
	snprintf(absent, sizeof(absent), "%s/absent.pin", fx.dir);
	run(&r, "key", "kcv", "--pin-file", absent, master, NULL);
	ck_assert_int_eq(r.status, 1);
	snprintf(want, sizeof(want), "dfissue: opening the HSM: cannot open PIN file '%s': No such "
	    "file or directory\n", absent);
	ck_assert_str_eq(r.err, want);
	ck_assert_int_eq(unsetenv("DFI_TEST_UNSET_PIN"), 0);
	run(&r, "key", "kcv", "--pin-env", "DFI_TEST_UNSET_PIN", master, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "dfissue: opening the HSM: the PIN variable DFI_TEST_UNSET_PIN is "
				"not set: export it, or give a PIN file instead\n");
	ck_assert_int_eq(setenv("DFI_TEST_EMPTY_PIN", "", 1), 0);
	run(&r, "key", "kcv", "--pin-env", "DFI_TEST_EMPTY_PIN", master, NULL);
	ck_assert_int_eq(unsetenv("DFI_TEST_EMPTY_PIN"), 0);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "dfissue: opening the HSM: DFI_TEST_EMPTY_PIN is set but empty: "
				"put the PIN in it\n");
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", "--pin-file", empty, NULL);
	ck_assert_int_eq(r.status, 1);
	snprintf(want, sizeof(want), "to fix      the token does not open: PIN file '%s' is "
	    "empty: put the PIN on its first line\n", empty);
	ck_assert_msg(strstr(r.out, want) != NULL, "hsm check: %s", r.out);
	run(&r, "key", "list", "--bogus", NULL);
	assert_one_line_error(&r, 2, "key list: unknown option '--bogus'");
	run(&r, "key", "import", "--label", NULL);
	assert_one_line_error(&r, 2, "key import: option '--label' needs a value");
	run(&r, "key", "import", "--label", "x", "--components", "1", NULL);
	assert_one_line_error(&r, 2, "key import: --components wants a number of components (2 to 64), not '1'");
	run(&r, "key", "import", "--label", "x", "--components", "2", "00112233", NULL);
	assert_one_line_error(&r, 2, "key material never comes from the command line");
	run(&r, "journal-key", NULL);
	assert_one_line_error(&r, 2, "invalid arguments");
}
END_TEST

/* Audit k33, finding 3: a URI with an attribute p11-kit does not know is a
 * usage error naming its option (or variable), found before the module
 * loads; and an origin journal init would refuse, before the HSM login. */
START_TEST(uri_typos_name_their_option)
{
	static const char tok[] = "'pkcs11:tokn=dfissue-dev': has an attribute p11-kit does not "
				  "know, so it would match no token (a token is named with token=, "
				  "manufacturer=, serial=, model=)\n";
	char want[400];
	struct run r;
	run(&r, "key", "list", "--token", "pkcs11:tokn=dfissue-dev", PINOPT, NULL);
	ck_assert_int_eq(r.status, 2);
	snprintf(want, sizeof(want), "dfissue: --token: %s", tok);
	ck_assert_str_eq(r.err, want);
	ck_assert_int_eq(setenv("DFISSUE_TOKEN", "pkcs11:tokn=dfissue-dev", 1), 0);
	run(&r, "key", "list", PINOPT, NULL);
	ck_assert_int_eq(unsetenv("DFISSUE_TOKEN"), 0);
	ck_assert_int_eq(r.status, 2);
	snprintf(want, sizeof(want), "dfissue: DFISSUE_TOKEN: %s", tok);
	ck_assert_str_eq(r.err, want);
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-token",
	    "pkcs11:tokn=dfissue-dev", NULL);
	ck_assert_int_eq(r.status, 2);
	snprintf(want, sizeof(want), "dfissue: --journal-token: %s", tok);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, ""); /* nothing listed: the module was not loaded */
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-key",
	    "pkcs11:objct=journal", NULL);
	assert_one_line_error(&r, 2, "hsm check: --journal-key: 'pkcs11:objct=journal': has an "
				     "attribute p11-kit does not know, so it would match no key");
	/* A key URI given as an operand reaches the key lookup, which reads it
	 * by the same rule and says why in the same words. */
	run(&r, "key", "kcv", "--token", "pkcs11:token=dfissue-dev", PINOPT, "pkcs11:objet=k", NULL);
	assert_one_line_error(&r, 1, "'pkcs11:objet=k': has an attribute p11-kit does not know, "
				     "so it would match no key");
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/j-k33", fx.dir);
	run(&r, "journal", "init", "--origin", "my origin", "--station", "s", "--token",
	    "pkcs11:token=dfissue-dev", PINOPT, dir, NULL);
	assert_one_line_error(&r, 2, "journal init: --origin 'my origin' cannot name a journal");
	run(&r, "journal", "init", "--origin", "o", "--station", "s", "--key",
	    "pkcs11:objct=journal", "--token", "pkcs11:token=dfissue-dev", PINOPT, dir, NULL);
	assert_one_line_error(&r, 2, "journal init: --key: 'pkcs11:objct=journal': has an");
	run(&r, "journal", "recover", "--station", "s", "--key", "pkcs11:objct=journal", "--token",
	    "pkcs11:token=dfissue-dev", PINOPT, dir, NULL);
	assert_one_line_error(&r, 2, "journal recover: --key: 'pkcs11:objct=journal': has an");
	struct stat st;
	ck_assert_int_ne(stat(dir, &st), 0);
}
END_TEST

/* Audit k34, finding 6: hsm check's advice for a missing journal key makes
 * the key the --journal-key URI names (its object=, as p11-kit decodes
 * it), with the journal HSM's options when it is another
 * (--journal-module/--journal-token/--journal-pin-file given to generate
 * as --module/--token/--pin-file); the command advised makes the check
 * pass. */
START_TEST(journal_key_advice)
{
	static const char uri[] = "pkcs11:object=jk%20advice;type=private";
	static const char jtok[] = "pkcs11:token=dfissue-dev;model=SoftHSM%20v2";
	const char *mod = getenv("SOFTHSM2_MODULE");
	char want[1200];
	struct run r;
	if (mod == NULL || mod[0] == '\0')
		mod = "softhsm2"; /* p11-kit's name, as dfissue's default */
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-key", uri,
	    NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "to fix      no journal key: create it with 'dfissue "
	    "journal-key generate --label \"jk advice\"' (the token signs with Ed25519)\n") != NULL,
	    "%s", r.out);
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-key", uri,
	    "--journal-module", mod, "--journal-token", jtok, "--journal-pin-file", fx.pin_file, NULL);
	ck_assert_int_eq(r.status, 1);
	snprintf(want, sizeof(want), "to fix      no journal key: create it with 'dfissue "
	    "journal-key generate --label \"jk advice\" --module %s --token \"%s\" --pin-file %s' "
	    "(the token signs with Ed25519)\n", mod, jtok, fx.pin_file);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s lacks %s", r.out, want);
	run(&r, "journal-key", "generate", "--label", "jk advice", "--module", mod, "--token", jtok,
	    "--pin-file", fx.pin_file, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-key", uri,
	    "--journal-module", mod, "--journal-token", jtok, "--journal-pin-file", fx.pin_file, NULL);
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "journal key %s on token 'dfissue-dev': Ed25519, sensitive, "
	    "non-extractable; a test checkpoint signed and verified\n", uri);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	/* A URI that names no label: generate cannot make it; say how to name one. */
	run(&r, "hsm", "check", "--token", "pkcs11:token=dfissue-dev", PINOPT, "--journal-key",
	    "pkcs11:id=%01%02;type=private", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "to fix      no journal key: create it with 'dfissue "
	    "journal-key generate --label LABEL' and name it in --journal-key by object=LABEL "
	    "(the token signs with Ed25519)\n") != NULL, "%s", r.out);
}
END_TEST

START_TEST(help_everywhere)
{
	static const char *cmds[][3] = {
		{ "key", "--help", NULL }, { "key", "list", "--help" }, { "key", "import", "--help" },
		{ "key", "kcv", "--help" }, { "key", "derive-kcv", "--help" }, { "journal-key", "--help", NULL },
		{ "journal-key", "generate", "--help" }, { "journal-key", "pubkey", "--help" },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct run r;
		run(&r, cmds[i][0], cmds[i][1], cmds[i][2], NULL);
		ck_assert_int_eq(r.status, 0);
		ck_assert_ptr_nonnull(strstr(r.out, "usage: dfissue"));
		ck_assert_str_eq(r.err, "");
	}
}
END_TEST

int
main(void)
{
	return hsm_fixture_main(&fx, "hsm_cli", (const TTest *[]){
	    derive_kcv_aes_vector, derive_kcv_2k3des_vector,
	    derive_kcv_3k3des_vector, list_and_kcv, import_ceremony, import_component_file_checks,
	    journal_key, errors_are_one_line, uri_typos_name_their_option, journal_key_advice, help_everywhere,
	    NULL });
}
