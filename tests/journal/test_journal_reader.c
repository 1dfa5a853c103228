/* The journal's file reader (engine/journal/scan.c and its users) against
 * what fuzz_journal_file found or checks: the proof reader on a journal
 * with a changed covered record, and the writer's open when pread returns
 * short counts, EINTR or fails at any one call; and the auditor's HTML
 * page, which reads the checkpoint lines itself, on a line of any length. */
#include <dirent.h>
#include <errno.h>

#include "proc.h"
#include "testutil.h"
#include "jtest.h"

JT_SIGNER_FIXTURE

static struct dfi_journal_io nosync;

/* genesis, intent, commit, intent, abort: one checkpoint after each */
static char *
make_journal(char *path, size_t cap)
{
	char *d = jt_tmpdir();
	nosync = jt_io_nosync(NULL, NULL);
	struct dfi_journal_opts o = { .station = "st", .io = &nosync };
	dfi_journal *j;
	ck_assert_int_eq(jt_create_open(&j, d, "dfissue.test/r", g_signer, &o), DFI_OK);
	dfi_jrec a = jt_intent("04782E21801D80", 0x3042F5, 1, 0, 1);
	uint64_t seq;
	ck_assert_int_eq(jt_intent_commit(j, &a, &seq), DFI_OK);
	dfi_jrec b = jt_intent("04782E21801D81", 0x3042F5, 1, 0, 1);
	ck_assert_int_eq(dfi_journal_intent(j, &b, &seq), DFI_OK);
	ck_assert_int_eq(dfi_journal_abort(j, seq, "test"), DFI_OK);
	dfi_journal_close(j);
	snprintf(path, cap, "%s/%s", d, DFI_JOURNAL_FILE);
	return d;
}

/* A proof the reader returns must verify against the note it returns. */
static void
assert_proof_proves(const struct dfi_jproof *p)
{
	dfi_checkpoint cp;
	uint8_t leaf[DFI_HASH_LEN];
	dfi_merkle_leaf_hash(p->line, strlen(p->line), leaf);
	ck_assert_mem_eq(leaf, p->leaf, DFI_HASH_LEN);
	ck_assert_int_eq(dfi_note_open(p->note, p->note_len, NULL, &cp), DFI_OK);
	ck_assert_uint_eq(cp.size, p->size);
	ck_assert_int_eq(dfi_merkle_verify_inclusion(p->index, p->size, p->leaf,
	    (const uint8_t(*)[DFI_HASH_LEN])p->proof, p->plen, cp.root), DFI_OK);
}

/* Found by fuzz_journal_file: with a covered record changed after it was
 * signed, `journal proof` printed (exit 0) a proof against the last
 * checkpoint of the right size, whose root the changed record no longer
 * hashes to: a proof that does not prove. The proof reader took any
 * checkpoint whose size matched, without comparing its root. Now only
 * checkpoints over exactly the records before them count: the records
 * before the change keep their proof against the last checkpoint that
 * still matches, the changed record and those after it have none. */
START_TEST(proof_of_changed_covered_record_is_refused)
{
	char path[600];
	char *d = make_journal(path, sizeof(path));
	size_t n;
	uint8_t *b = jt_read(path, &n);
	ck_assert_ptr_nonnull(b);
	/* record 1 (the first intent), keyno=1 -> keyno=2: still grammatical */
	char *r1 = strstr((char *)b, "seq=1 ");
	ck_assert_ptr_nonnull(r1);
	char *k = strstr(r1, "keyno=1");
	ck_assert_ptr_nonnull(k);
	k[6] = '2';
	jt_write(path, b, n);
	free(b);

	struct dfi_jverify_opts o = { .pubkey = g_pub };
	struct dfi_jverify_result res;
	ck_assert_int_eq(dfi_journal_verify_file(d, &o, &res), DFI_E_JOURNAL_CORRUPT);

	struct dfi_jproof *p = malloc(sizeof(*p));
	ck_assert_ptr_nonnull(p);
	/* the genesis: proved against the first checkpoint, the last one
	 * over records that were not changed */
	ck_assert_int_eq(dfi_journal_proof_file(d, 0, p), DFI_OK);
	ck_assert_uint_eq(p->size, 1);
	assert_proof_proves(p);
	/* the changed record and every later one: no valid checkpoint */
	for (uint64_t s = 1; s < 5; s++)
		ck_assert_int_eq(dfi_journal_proof_file(d, s, p), DFI_E_NOT_FOUND);
	free(p);
	jt_rmrf(d);
	free(d);
}
END_TEST

/* ---- a pread that the test steers ---------------------------------------------- */

struct steer {
	struct dfi_journal_io io;
	size_t cap;          /* short reads of at most cap bytes (0: whole) */
	int eintr;           /* every other call fails with EINTR first */
	unsigned fail_at;    /* this call (1-based) fails with EIO; 0 never */
	unsigned calls;
	int failed, flip;
};

static ssize_t
s_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct steer *s = ctx;
	if (++s->calls == s->fail_at) {
		s->failed = 1;
		errno = EIO;
		return -1;
	}
	if (s->eintr && (s->flip ^= 1)) {
		errno = EINTR;
		return -1;
	}
	if (s->cap > 0 && len > s->cap)
		len = s->cap;
	return pread(fd, buf, len, off);
}

static void
steer_init(struct steer *s, size_t cap, int eintr, unsigned fail_at)
{
	memset(s, 0, sizeof(*s));
	s->io = jt_io_nosync(s_pread, s);
	s->cap = cap;
	s->eintr = eintr;
	s->fail_at = fail_at;
}

static void
append_tail(const char *path, size_t n)
{
	FILE *f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	/* a 5,000-byte line (longer than DFI_J_LINE_MAX), then 70,000 bytes
	 * without LF: finding 1 of issue 17 behind an over-long line */
	for (size_t i = 0; i < 5000; i++)
		fputc('B', f);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++)
		fputc('A', f);
	ck_assert_int_eq(fclose(f), 0);
}

/* `journal show --html` on a journal with a line of 32 MiB (the auditor's
 * copy can hold anything): the line is no checkpoint, as the verifier
 * says (its finding is on the page), and is not held whole (getline held
 * it: the peak resident set grew by the line); the checkpoint after it is
 * still shown, verified, at its line. */
#define LONG_LINE (32u << 20)

/* What a peak RSS is measured under: in a sanitized build, ASan keeps the
 * blocks a process frees in a 256 MB quarantine, so a command that frees
 * as it goes (journal show --json frees each card's tree once written)
 * would peak at what it freed; 8 MB keeps its own. The release build
 * ignores it. */
#define RSS_ENV "env ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8\" "

/* `dfissue journal show --html page --pubkey pem dir`: its exit status,
 * the page in *html (malloc'd), its peak resident set in *rss_kb. */
static int
html_page(const char *dir, const char *pem, char **html, long *rss_kb)
{
	char page[700], cmd[2400];
	snprintf(page, sizeof(page), "%s/page.html", dir);
	snprintf(cmd, sizeof(cmd),
	    RSS_ENV "'%s/bin/dfissue' journal show --html '%s' --pubkey '%s' '%s' 2>/dev/null",
	    getenv("DFI_BUILD_DIR"), page, pem, dir);
	int st = dfi_test_sh_rss(cmd, rss_kb);
	size_t n;
	*html = (char *)jt_read(page, &n);
	ck_assert_ptr_nonnull(*html);
	return st;
}

START_TEST(html_page_holds_no_long_line)
{
	char path[600], pem[700], want[200];
	char *d = make_journal(path, sizeof(path));
	snprintf(pem, sizeof(pem), "%s/pub.pem", d);
	ck_assert_int_eq(jt_write_pubkey_pem(g_signer, pem), 0);
	size_t n;
	uint8_t *b = jt_read(path, &n);
	ck_assert_ptr_nonnull(b);
	/* the last checkpoint: where it starts, and its line */
	const char *last = NULL;
	for (const char *p = (const char *)b; (p = strstr(p, "checkpoint ")) != NULL; p++)
		if (p == (const char *)b || p[-1] == '\n')
			last = p;
	ck_assert_ptr_nonnull(last);
	size_t at = (size_t)(last - (const char *)b);
	unsigned line = 1;
	for (size_t i = 0; i < at; i++)
		line += b[i] == '\n';

	char *html;
	long base, rss;
	ck_assert_int_eq(html_page(d, pem, &html, &base), 0);
	snprintf(want, sizeof(want), "<tr class=\"cp cp-verified\"><td>%u</td>", line);
	ck_assert_msg(strstr(html, want) != NULL, "%s not on the page", want);
	free(html);

	/* the long line just before the last checkpoint */
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, at, f), at);
	for (unsigned i = 0; i < LONG_LINE / 16; i++)
		fputs("checkpoint AAAAA", f);
	fputc('\n', f);
	ck_assert_uint_eq(fwrite(b + at, 1, n - at, f), n - at);
	ck_assert_int_eq(fclose(f), 0);
	free(b);
	ck_assert_int_eq(html_page(d, pem, &html, &rss), 1); /* a finding: exit 1, the page written */
	printf("journal show --html: peak RSS %ld kB, %ld kB with a %u MiB line\n", base, rss, LONG_LINE >> 20);
	snprintf(want, sizeof(want), "<tr class=\"cp cp-verified\"><td>%u</td>", line + 1);
	ck_assert_msg(strstr(html, want) != NULL, "%s not on the page", want);
	snprintf(want, sizeof(want), "<tr class=\"finding\"><td>%u</td><td>line is longer than %d bytes", line,
	    DFI_J_LINE_MAX);
	ck_assert_msg(strstr(html, want) != NULL, "%s not on the page", want);
	ck_assert_ptr_null(strstr(html, "MALFORMED")); /* no checkpoint, not a bad one */
	free(html);
	ck_assert_msg(rss < base + 8192, "a %u MiB line took the peak from %ld to %ld kB: held whole?",
	    LONG_LINE >> 20, base, rss);
	jt_rmrf(d);
	free(d);
}
END_TEST

/* A journal of HTML_CARDS intents, each committed (as bench_journal makes
 * them: 500 intents, then their commits, a checkpoint after each append):
 * 100,001 records, about 13 MiB. Returns its directory. */
#define HTML_CARDS 50000u

static char *
make_big_journal(void)
{
	char *d = jt_tmpdir();
	nosync = jt_io_nosync(NULL, NULL);
	struct dfi_journal_opts o = { .station = "st", .io = &nosync };
	dfi_journal *j;
	ck_assert_int_eq(jt_create_open(&j, d, "dfissue.test/big", g_signer, &o), DFI_OK);
	enum { K = 500 };
	static dfi_jrec b[K];
	uint64_t seqs[K];
	for (unsigned done = 0; done < HTML_CARDS; done += K) {
		for (unsigned i = 0; i < K; i++) {
			char uid[16];
			snprintf(uid, sizeof(uid), "04%012X", done + i);
			b[i] = jt_intent(uid, 0x3042F5, 1, 0, 1);
		}
		ck_assert_int_eq(dfi_journal_append(j, b, K, seqs), DFI_OK);
		for (unsigned i = 0; i < K; i++)
			ck_assert_int_eq(dfi_jrec_outcome(&b[i], DFI_JREC_COMMIT, seqs[i], NULL, -1, 0),
			    DFI_OK);
		ck_assert_int_eq(dfi_journal_append(j, b, K, NULL), DFI_OK);
	}
	dfi_journal_close(j);
	return d;
}

/* make_big_journal's journal, its size, its public key and the peak RSS
 * of `dfissue journal verify` on it: what showing it is measured against. */
struct big {
	char *d;
	char pem[700];
	long file_kb, verify_kb;
};

static void
big_journal(struct big *b)
{
	b->d = make_big_journal();
	char path[600], cmd[2400];
	snprintf(path, sizeof(path), "%s/%s", b->d, DFI_JOURNAL_FILE);
	snprintf(b->pem, sizeof(b->pem), "%s/pub.pem", b->d);
	ck_assert_int_eq(jt_write_pubkey_pem(g_signer, b->pem), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	b->file_kb = (long)(st.st_size / 1024);
	snprintf(cmd, sizeof(cmd), RSS_ENV "'%s/bin/dfissue' journal verify --pubkey '%s' '%s' >/dev/null 2>&1",
	    getenv("DFI_BUILD_DIR"), b->pem, b->d);
	ck_assert_int_eq(dfi_test_sh_rss(cmd, &b->verify_kb), 0);
}

/* The lines of text that hold needle. Line by line: strstr from each
 * match would measure the rest of a 43 MB page at each call under ASan. */
static size_t
count_lines(const char *text, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (const char *p = text, *end; *p != '\0'; p = end + 1) {
		end = strchr(p, '\n');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		n += memmem(p, len, needle, nl) != NULL;
		if (end == NULL)
			break;
	}
	return n;
}

/* The page of a journal of 100,001 records holds, beyond what verifying
 * the journal takes (`journal verify`, whose index the page's verification
 * builds too), less than the journal's own size. It held every record as
 * a dfi_jrec (1,048 bytes whatever the line says) and its index: 101 MB
 * over the verify's 26 MB for this 13 MiB journal, 1.1 GB for a million
 * records; now what it shows (56 bytes a record and its texts). */
START_TEST(html_page_holds_less_than_the_journal)
{
	struct big b;
	big_journal(&b);
	long page_kb;
	char *html;
	ck_assert_int_eq(html_page(b.d, b.pem, &html, &page_kb), 0);
	/* every card is on it, with its commit: a row a line */
	size_t cards = count_lines(html, "<tr class=\"card-row\""),
	       commits = count_lines(html, "<tr class=\"ev ev-commit\"");
	free(html);
	printf("journal of %u records (%ld kB): journal verify peak RSS %ld kB, journal show --html %ld kB\n",
	    2 * HTML_CARDS + 1, b.file_kb, b.verify_kb, page_kb);
	ck_assert_uint_eq(cards, HTML_CARDS);
	ck_assert_uint_eq(commits, HTML_CARDS);
	ck_assert_msg(page_kb - b.verify_kb < b.file_kb, "the page took %ld kB over the verify's %ld kB, "
	    "for a journal of %ld kB", page_kb - b.verify_kb, b.verify_kb, b.file_kb);
	jt_rmrf(b.d);
	free(b.d);
}
END_TEST

/* The peak RSS of `dfissue journal show ARGS DIR`, its output in *out. */
static long
show_rss(const char *dir, const char *args, char **out)
{
	char file[700], cmd[2400];
	long kb;
	snprintf(file, sizeof(file), "%s/show.out", dir);
	snprintf(cmd, sizeof(cmd), RSS_ENV "'%s/bin/dfissue' journal show %s '%s' >'%s' 2>/dev/null",
	    getenv("DFI_BUILD_DIR"), args, dir, file);
	ck_assert_int_eq(dfi_test_sh_rss(cmd, &kb), 0);
	size_t n;
	*out = (char *)jt_read(file, &n);
	ck_assert_ptr_nonnull(*out);
	return kb;
}

/* journal show, as text and as JSON, holds less than the journal beyond
 * what verifying it takes. It held two dfi_jrecs per intent (2,096
 * bytes) and the JSON its whole jansson tree: 101 MB and 283 MB over the
 * verify's 26 MB for this 13 MiB journal (1.1 GB and 3.0 GB for a million
 * records); now journal_store's records, and JSON written card by card. */
START_TEST(show_holds_less_than_the_journal)
{
	struct big b;
	big_journal(&b);
	char *text, *json;
	long text_kb = show_rss(b.d, "", &text);
	/* every card, each with its commit */
	ck_assert_uint_eq(count_lines(text, "card 04"), HTML_CARDS);
	ck_assert_uint_eq(count_lines(text, " committed "), HTML_CARDS);
	ck_assert_ptr_nonnull(strstr(text, "unresolved intents: 0\n"));
	free(text);
	long json_kb = show_rss(b.d, "--json", &json);
	ck_assert_uint_eq(count_lines(json, "\"changes\": ["), HTML_CARDS);
	ck_assert_uint_eq(count_lines(json, "\"outcome\": \"committed\""), HTML_CARDS);
	free(json);
	printf("journal of %u records (%ld kB): journal verify peak RSS %ld kB, journal show %ld kB, "
	       "--json %ld kB\n", 2 * HTML_CARDS + 1, b.file_kb, b.verify_kb, text_kb, json_kb);
	ck_assert_msg(text_kb - b.verify_kb < b.file_kb, "journal show took %ld kB over the verify's "
	    "%ld kB, for a journal of %ld kB", text_kb - b.verify_kb, b.verify_kb, b.file_kb);
	ck_assert_msg(json_kb - b.verify_kb < b.file_kb, "journal show --json took %ld kB over the "
	    "verify's %ld kB, for a journal of %ld kB", json_kb - b.verify_kb, b.verify_kb, b.file_kb);
	jt_rmrf(b.d);
	free(b.d);
}
END_TEST

/* Short reads (1, 7 and 4097 bytes, lines split at every place) and EINTR
 * change nothing the writer's open finds: the same tail is quarantined,
 * to the byte. */
START_TEST(open_reads_the_same_through_short_reads_and_eintr)
{
	static const struct {
		size_t cap;
		int eintr;
	} modes[] = { { 0, 0 }, { 1, 0 }, { 7, 1 }, { 4097, 1 } };
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		char path[600];
		char *d = make_journal(path, sizeof(path));
		append_tail(path, 70000);
		struct steer s;
		steer_init(&s, modes[m].cap, modes[m].eintr, 0);
		struct dfi_journal_opts o = { .station = "st", .io = &s.io };
		struct dfi_journal_recovery rec;
		dfi_journal *j;
		ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &o, &rec), DFI_OK);
		dfi_journal_close(j);
		fprintf(stderr, "reads of at most %zu bytes%s: %u preads, %llu bytes quarantined\n",
		    modes[m].cap, modes[m].eintr ? " with EINTR" : "", s.calls,
		    (unsigned long long)rec.quarantined_bytes);
		ck_assert_uint_eq(rec.recoveries, 1);
		ck_assert_uint_eq(rec.quarantined_bytes, 5001 + 70000);
		ck_assert_uint_eq(rec.quarantined_lines, 2);
		struct dfi_jverify_opts vo = { .pubkey = g_pub };
		struct dfi_jverify_result res;
		ck_assert_int_eq(dfi_journal_verify_file(d, &vo, &res), DFI_OK);
		ck_assert_uint_eq(res.records, 6); /* five and the recovery record */
		jt_rmrf(d);
		free(d);
	}
}
END_TEST

/* Files in DIR/quarantine and their bytes, all together. */
static uint64_t
quarantined_bytes(const char *d)
{
	char q[700], f[1000];
	snprintf(q, sizeof(q), "%s/%s", d, DFI_JOURNAL_QDIR);
	DIR *dir = opendir(q);
	ck_assert_ptr_nonnull(dir);
	uint64_t total = 0;
	struct dirent *e;
	struct stat st;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", q, e->d_name);
		ck_assert_int_eq(stat(f, &st), 0);
		total += (uint64_t)st.st_size;
	}
	closedir(dir);
	return total;
}

/* A read that fails at any one call of the open (the walk, the quarantine
 * copy, the description of the quarantined file, the walk again) makes the
 * open fail: it never goes on with a file it did not read. Nothing is lost:
 * a later open with working reads ends with the whole tail quarantined and
 * recorded, and a journal that verifies. */
START_TEST(open_fails_on_any_failed_read_and_loses_nothing)
{
	char path[600];
	char *t = make_journal(path, sizeof(path));
	append_tail(path, 70000);
	size_t tn;
	uint8_t *tb = jt_read(path, &tn);
	ck_assert_ptr_nonnull(tb);
	jt_rmrf(t);
	free(t);
	unsigned k;
	for (k = 1;; k++) {
		ck_assert_uint_lt(k, 200);
		char *d = jt_tmpdir();
		ck_assert_ptr_nonnull(d);
		snprintf(path, sizeof(path), "%s/%s", d, DFI_JOURNAL_FILE);
		jt_write(path, tb, tn);
		struct steer s;
		steer_init(&s, 4096, 0, k);
		struct dfi_journal_opts o = { .station = "st", .io = &s.io };
		struct dfi_journal_recovery rec;
		dfi_journal *j;
		dfi_err e = dfi_journal_open(&j, d, g_signer, &o, &rec);
		if (e == DFI_OK)
			dfi_journal_close(j);
		int failed = s.failed;
		if (failed)
			ck_assert_int_eq(e, DFI_E_IO);
		else
			ck_assert_int_eq(e, DFI_OK);
		/* then with working reads: the tail is in quarantine, once */
		struct dfi_journal_opts po = { .station = "st", .io = &nosync };
		ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &po, &rec), DFI_OK);
		dfi_journal_close(j);
		struct dfi_jverify_opts vo = { .pubkey = g_pub };
		struct dfi_jverify_result res;
		ck_assert_int_eq(dfi_journal_verify_file(d, &vo, &res), DFI_OK);
		/* once: a copy the failed open left half-done is not
		 * recorded as a second recovery of the same bytes */
		ck_assert_uint_eq(res.recoveries, 1);
		ck_assert_uint_eq(quarantined_bytes(d), 5001 + 70000);
		jt_rmrf(d);
		free(d);
		if (!failed)
			break; /* the open made fewer than k reads: every one was failed once */
	}
	free(tb);
	fprintf(stderr, "a failed read at each of the open's %u reads was reported\n", k - 1);
	ck_assert_uint_gt(k, 10);
}
END_TEST

JT_SIGNER_MAIN("journal_reader",
    proof_of_changed_covered_record_is_refused,
    html_page_holds_no_long_line,
    html_page_holds_less_than_the_journal,
    show_holds_less_than_the_journal,
    open_reads_the_same_through_short_reads_and_eintr,
    open_fails_on_any_failed_read_and_loses_nothing)
