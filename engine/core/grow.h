/*
 * grow.h: the engine's one way to grow a heap array.
 *
 * Tables that fill as a file or a directory is read (journal leaves,
 * index kinds, CSV fields, profile allocations) double their capacity as
 * they fill. Doing the doubling and the size arithmetic in one place keeps
 * the overflow check in one place too: a capacity whose byte size would
 * wrap is out of memory, never a small realloc.
 */
#ifndef DFI_CORE_GROW_H
#define DFI_CORE_GROW_H

#include <stddef.h>

/* Makes room for need (>= 1) elements of elem bytes in the heap array p of
 * *cap elements: the capacity doubles, from first when there is none yet,
 * until need fits. Returns the array, perhaps moved (p itself when it fits
 * already), and updates *cap; NULL when memory runs out, with p and *cap
 * unchanged and p still the caller's to free. New elements are not
 * initialized. */
void *dfi_grow(void *p, size_t *cap, size_t need, size_t first, size_t elem);
/* The same for an array whose contents must not outlive it (a batch row's
 * values): when it moves, the old block is wiped (dfi_wipe) before it is
 * freed, where realloc would free it as it is. */
void *dfi_grow_wiped(void *p, size_t *cap, size_t need, size_t first, size_t elem);

#endif
