/* gaishim: getaddrinfo answered by the test for a few names under
 * .dfissue.test (gaishim.c says how and why). */
#ifndef DFI_TEST_GAISHIM_H
#define DFI_TEST_GAISHIM_H

#define GAISHIM_HANG "hang.dfissue.test"   /* sleeps, then EAI_AGAIN */
#define GAISHIM_NX "nx.dfissue.test"       /* EAI_NONAME at once */
#define GAISHIM_MULTI "multi.dfissue.test" /* 127.0.0.2, then 127.0.0.1 */
#define GAISHIM_FLIP "flip.dfissue.test"   /* 127.0.0.1; hangs once flipped */

/* How long a hanging lookup sleeps (ms), and whether GAISHIM_FLIP hangs. */
void gaishim_set(int hang_ms, int flip_hangs);
/* The lookups of name (not numeric-only ones) so far; *on_main (may be
 * NULL): how many of them ran on the thread that first called gaishim_set
 * (the test's), i.e. not on a resolver thread. */
unsigned gaishim_calls(const char *name, unsigned *on_main);

#endif
