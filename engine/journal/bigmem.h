/* Private to engine/journal: memory for tables that grow to many
 * megabytes (the index of a journal of a million records). */
#ifndef DFI_JOURNAL_BIGMEM_H
#define DFI_JOURNAL_BIGMEM_H

#include <stddef.h>

/* The size from which an allocation is worth a huge page of its own. */
#define JBIG_PAGE ((size_t)2 << 20)

/* malloc(len), and from 7/8 of JBIG_PAGE bytes on aligned to JBIG_PAGE and
 * advised to be backed by transparent huge pages: such a table is touched
 * page by page as it fills, and on a virtual machine a page fault costs
 * microseconds (a fifth of a 1M-record verify went to them with 4 KiB
 * pages). Freed with free(). Where the kernel does not do huge pages the
 * advice is ignored and this is malloc with an alignment. */
void *jbig_alloc(size_t len);
/* calloc(n, size) the same way. */
void *jbig_calloc(size_t n, size_t size);

#endif
