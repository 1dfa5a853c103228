/* Linked into the harnesses that run SoftHSM2 in the process (fuzz_perso,
 * fuzz_hsm_returns): SoftHSM2 keeps objects it allocates per session, which
 * LeakSanitizer would report at every exit (tests/lsan.supp says the same
 * for ctest's sanitizer build). LSan looks this function up by name. */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\n";
}
