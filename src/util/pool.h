/*
 * A pool of power-of-two blocks for memory that a program grows fast and keeps: the store's
 * heads, which take every point written until a flush.
 *
 * Why not malloc: heads take new segments as points come, from thousands of series at once, off
 * the store's lock. glibc gives each such thread an arena that it grows an mprotect call at a
 * time, and the request buffers that come and go on the same arena land among the heads' blocks,
 * so that each request's buffers are new memory again. On a fast HTTP ingest into a new store,
 * allocation took about a tenth of the writers' time, much of it under the store's lock. The
 * pool maps its memory in large slabs, cuts blocks from them with no system call, and keeps what
 * is given back in a list per size for the next block of that size. It hands nothing back to the
 * system until it is cleared. (Huge pages were tried for the slabs and cost more: the kernel
 * zeroes each 2 MiB whole when it is first touched.)
 *
 * Blocks larger than GB_POOL_SLAB / 4 are mappings of their own, grown with mremap (no copy).
 * Every call takes the pool's mutex: blocks may be taken and given back on any thread.
 */
#ifndef GB_UTIL_POOL_H
#define GB_UTIL_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define GB_POOL_SLAB (32u << 20) /* memory taken from the system at a time */
#define GB_POOL_MIN_SHIFT 6      /* the smallest block, 64 bytes */
#define GB_POOL_CLASSES 18       /* slab blocks, 64 B .. GB_POOL_SLAB / 4 */

typedef struct gb_pool {
    pthread_mutex_t mu;
    void *free[GB_POOL_CLASSES]; /* blocks given back, by size class (linked through them) */
    struct {
        void **b; /* blocks given back and then to the system (gb_pool_trim): mapped, unbacked */
        size_t n, cap;
    } cold[GB_POOL_CLASSES];
    char *cur; /* the slab blocks are cut from, and its unused rest */
    size_t left;
    char *backed; /* in that slab, where the pages not yet faulted in start (gb_pool_ahead) */
    void **slabs; /* every slab, to unmap at the end */
    size_t nslabs, cslabs;
    size_t mapped; /* bytes taken from the system, slabs and large blocks */
    /* the next slab, mapped and its pages faulted in ahead by a thread of the pool's own
     * (gb_pool_ahead): new memory then costs the taker nothing */
    bool ahead; /* asked for (gb_pool_ahead) */
    pthread_t helper;
    bool helper_on, helper_stop, want;
    pthread_cond_t cv;
    void *ready; /* that slab, when made */
} gb_pool_t;

void gb_pool_init(gb_pool_t *p);
/*
 * Once half of a slab is cut, a thread of its own makes the next one ready ahead of need:
 * mapped, with its pages faulted in (about a third cheaper than one fault at a time, and done
 * off the taker's thread, which may hold a lock all others wait on) and each written once, so
 * that a hypervisor's trap on a page's first access is taken there too. That slab's memory is
 * taken ahead. The first slab's pages are faulted in 2 MiB at a time as it is cut.
 */
void gb_pool_ahead(gb_pool_t *p);
/*
 * Gives the memory of the blocks given back since the last call to the system (those of 4 KiB
 * and more; their addresses stay the pool's, and a block taken again is backed anew as it is
 * written). Blocks of every size stay listed after a burst of writes that only blocks of that
 * size reuse: without this, a store's memory after such a burst stayed some 60 % above what its
 * heads hold. Takes the pool's lock a block at a time.
 */
void gb_pool_trim(gb_pool_t *p);
/* Stops that thread and gives every slab back to the system; large blocks still out are the
 * caller's to have freed. */
void gb_pool_clear(gb_pool_t *p);

/*
 * Backs the pages of P[0..LEN) (memory from malloc, say, about to be written whole) at once: one
 * system call instead of a fault at each page's first write (on the machine the bench runs on, a
 * virtual one, 2.2-3 us a page backed and then written, against 11-16 us a page faulted in by
 * its first write). The contents stay as they are.
 */
void gb_pool_back(void *p, size_t len);

/* The size of the block gb_pool_alloc gives for SIZE bytes (a power of two; a large block, a
 * multiple of 2 MiB). */
size_t gb_pool_size(size_t size);
/* A block of at least SIZE bytes (gb_pool_size(SIZE)); aborts when the system has no memory, as
 * gb_xmalloc does. */
void *gb_pool_alloc(gb_pool_t *p, size_t size);
/* Gives block B, of SIZE bytes asked for, back (B NULL: nothing). */
void gb_pool_free(gb_pool_t *p, void *b, size_t size);
/* Block B (of OLD bytes asked for; NULL: none) made at least SIZE bytes, its first KEEP bytes
 * kept: the same block when its size is enough already. */
void *gb_pool_grow(gb_pool_t *p, void *b, size_t old, size_t size, size_t keep);

#endif
