/*
 * The pool's blocks: sizes are powers of two from 64 bytes, cut one after another from slabs
 * (so aligned to 64 bytes at least), and kept in a list per size once given back. A slab's
 * rest, too small for the block asked for, is cut into the largest blocks that fit and listed,
 * so nothing of a slab is lost.
 *
 * Under AddressSanitizer the pool marks what is not handed out (lists, a slab's rest, a block's
 * bytes past the size asked for) as unaddressable, so that an overrun of a block is caught as it
 * would be with malloc.
 */
#include "util/pool.h"
#include "util/str.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define HIDE(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SHOW(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define HIDE(p, n) ((void)(p), (void)(n))
#define SHOW(p, n) ((void)(p), (void)(n))
#endif

#define PAGE 4096u                        /* the smallest page of the systems gemba runs on */
#define LARGE_STEP (2u << 20)             /* a large block's sizes */
#define SLAB_BLOCK_MAX (GB_POOL_SLAB / 4) /* larger blocks are mappings of their own */

/* The size class of a slab block of SIZE bytes (at least 1): block 64 << class. */
static unsigned class_of(size_t size)
{
    if (size <= (size_t)1 << GB_POOL_MIN_SHIFT) return 0;
    return (unsigned)(64 - __builtin_clzll((unsigned long long)size - 1)) - GB_POOL_MIN_SHIFT;
}

/* The first block listed of class C, taken off its list (NULL: none). Locked. */
static void *pop(gb_pool_t *p, unsigned c)
{
    void *b = p->free[c];
    if (b) {
        SHOW(b, sizeof(void *));
        p->free[c] = *(void **)b;
    }
    return b;
}

size_t gb_pool_size(size_t size)
{
    if (size > SLAB_BLOCK_MAX) return (size + LARGE_STEP - 1) / LARGE_STEP * LARGE_STEP;
    return (size_t)1 << (GB_POOL_MIN_SHIFT + class_of(size));
}

/* LEN bytes of new memory; NULL when the system has none. */
static void *map(size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

void gb_pool_init(gb_pool_t *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

/*
 * A slab with its pages faulted in and each written once from user space; NULL when the system
 * has no memory for it. MADV_POPULATE_WRITE alone (Linux 5.14 on) backs the pages, but under a
 * hypervisor that shadows the guest's page tables the first access from user space still traps
 * to the host: on the machine the bench runs on, 0.9 us a page to populate, then 2.6 us on the
 * first write (0.15 us for a later pass over the whole page). Written here, that trap is paid
 * on this thread, ahead, not on the thread that takes the block (the drain, which then kept a
 * single writer waiting). `bench_store tags`, medians of interleaved rounds: 21.6 -> 23.8 M
 * points/s (8 each), 22.8 -> 25.1 M (12 each). Huge pages (slabs on 2 MiB, MADV_HUGEPAGE) took
 * a fresh server's page faults in an HTTP load from 44,800 to 12,100, but were slower there
 * (168 against 154 ticks of CPU, 8 rounds) and in `bench_store tags` (22.8 against 28.3 M
 * points/s, slower in 6 rounds of 6): the slabs stay in small pages.
 */
void gb_pool_back(void *p, size_t len)
{
    uintptr_t lo = ((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1),
              hi = ((uintptr_t)p + len) & ~(uintptr_t)(PAGE - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE); /* before 5.14: faults */
}

static void *map_ready(void)
{
    char *s = map(GB_POOL_SLAB);
    if (!s) return NULL;
    gb_pool_back(s, GB_POOL_SLAB);
    for (size_t i = 0; i < GB_POOL_SLAB; i += PAGE)
        ((volatile char *)s)[i] = 0;
    return s;
}

static void *helper_main(void *arg)
{
    gb_pool_t *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->helper_stop) {
        if (!p->want || p->ready) { /* only this thread makes one ready: it stays so */
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->want = false;
        pthread_mutex_unlock(&p->mu);
        void *s = map_ready(); /* without the lock: the pool is used meanwhile */
        pthread_mutex_lock(&p->mu);
        p->ready = s; /* NULL (no memory): the taker maps its own, and says so if it cannot */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void gb_pool_ahead(gb_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->ahead = true;
    pthread_mutex_unlock(&p->mu);
}

/* Trimmed blocks are at least a page (those cut since are on pages; one cut from a slab's rest
 * may not be, and gives back the whole pages inside it). */
#define TRIM_MIN PAGE

void gb_pool_trim(gb_pool_t *p)
{
    for (unsigned c = class_of(TRIM_MIN); c < GB_POOL_CLASSES; c++) {
        size_t n = (size_t)1 << (GB_POOL_MIN_SHIFT + c);
        for (;;) {
            pthread_mutex_lock(&p->mu);
            char *b = pop(p, c);
            if (b) HIDE(b, sizeof(void *));
            pthread_mutex_unlock(&p->mu);
            if (!b) break;
            /* without the lock: a system call */
            char *lo = (char *)(((uintptr_t)b + PAGE - 1) & ~(uintptr_t)(PAGE - 1)),
                 *hi = (char *)(((uintptr_t)b + n) & ~(uintptr_t)(PAGE - 1));
            if (hi > lo) (void)madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
            pthread_mutex_lock(&p->mu);
            if (p->cold[c].n == p->cold[c].cap) {
                p->cold[c].cap = p->cold[c].cap ? p->cold[c].cap * 2 : 64;
                p->cold[c].b = gb_xrealloc(p->cold[c].b, p->cold[c].cap * sizeof *p->cold[c].b);
            }
            p->cold[c].b[p->cold[c].n++] = b;
            pthread_mutex_unlock(&p->mu);
        }
    }
}

void gb_pool_clear(gb_pool_t *p)
{
    if (p->helper_on) {
        pthread_mutex_lock(&p->mu);
        p->helper_stop = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->helper, NULL);
    }
    if (p->ready) munmap(p->ready, GB_POOL_SLAB);
    pthread_cond_destroy(&p->cv);
    for (size_t i = 0; i < p->nslabs; i++) {
        SHOW(p->slabs[i], GB_POOL_SLAB); /* the addresses may be anyone's next */
        munmap(p->slabs[i], GB_POOL_SLAB);
    }
    free(p->slabs);
    for (unsigned c = 0; c < GB_POOL_CLASSES; c++)
        free(p->cold[c].b);
    pthread_mutex_destroy(&p->mu);
    memset(p, 0, sizeof *p);
}

static void push(gb_pool_t *p, void *b, unsigned c)
{
    SHOW(b, sizeof(void *));
    *(void **)b = p->free[c];
    HIDE(b, (size_t)1 << (GB_POOL_MIN_SHIFT + c));
    p->free[c] = b;
}

/* The slab's next LEN bytes (a multiple of 64) cut into the largest blocks that fit, listed. */
static void list_rest(gb_pool_t *p, size_t len)
{
    while (len >= ((size_t)1 << GB_POOL_MIN_SHIFT)) {
        unsigned c = class_of(len);
        if (((size_t)1 << (GB_POOL_MIN_SHIFT + c)) > len) c--;
        size_t n = (size_t)1 << (GB_POOL_MIN_SHIFT + c);
        push(p, p->cur, c);
        p->cur += n;
        p->left -= n;
        len -= n;
    }
}

/* The helper asked for the next slab (started on first use). Locked. */
static void want_next(gb_pool_t *p)
{
    if (!p->helper_on && pthread_create(&p->helper, NULL, helper_main, p) == 0) {
        p->helper_on = true;
        pthread_setname_np(p->helper, "gemba-pool");
    }
    p->want = true;
    pthread_cond_signal(&p->cv);
}

/* A new slab to cut from, the old one's rest listed first. Locked. */
static void new_slab(gb_pool_t *p)
{
    list_rest(p, p->left);
    char *s = p->ready;
    p->ready = NULL;
    p->backed = s ? s + GB_POOL_SLAB : NULL;
    if (!s && !(s = map(GB_POOL_SLAB))) gb_oom();
    if (!p->backed) p->backed = s;
    HIDE(s, GB_POOL_SLAB);
    if (p->nslabs == p->cslabs) {
        p->cslabs = p->cslabs ? p->cslabs * 2 : 16;
        p->slabs = gb_xrealloc(p->slabs, p->cslabs * sizeof *p->slabs);
    }
    p->slabs[p->nslabs++] = s;
    p->mapped += GB_POOL_SLAB;
    p->cur = s;
    p->left = GB_POOL_SLAB;
}

/*
 * The slab's bytes up to END backed before they are handed out (a pool asked to take its memory
 * ahead, on a slab the helper did not make ready): BACK_STEP at a time, in one call, not a fault
 * a page as each is first written. Locked.
 */
#define BACK_STEP (2u << 20)
static void back_to(gb_pool_t *p, const char *end)
{
    if (!p->ahead || end <= p->backed) return;
    size_t len = (size_t)(end - p->backed + BACK_STEP - 1) / BACK_STEP * BACK_STEP;
    char *slab_end = p->cur + p->left;
    if (len > (size_t)(slab_end - p->backed)) len = (size_t)(slab_end - p->backed);
    gb_pool_back(p->backed, len);
    p->backed += len;
}

/*
 * Past half of the slab being cut, the helper makes the next one ready (a pool that takes its
 * memory ahead), so that it is there when this one is used up, and not before: a slab made
 * ready as soon as the one before was taken stayed unused, its 32 MiB backed for nothing, in
 * a store that never needed it (a third of the pool's work in an HTTP load of 10 M points).
 * Called once a slab is there to cut from. Locked.
 */
static void ahead_of(gb_pool_t *p)
{
    if (p->ahead && !p->want && !p->ready && p->left < GB_POOL_SLAB / 2)
        want_next(p);
}

void *gb_pool_alloc(gb_pool_t *p, size_t size)
{
    size_t n = gb_pool_size(size ? size : 1);
    void *b;
    pthread_mutex_lock(&p->mu);
    if (n > SLAB_BLOCK_MAX) {
        b = map(n);
        if (!b) gb_oom();
        p->mapped += n;
    } else {
        unsigned c = class_of(n);
        if (p->free[c]) {
            b = pop(p, c);
        } else if (p->cold[c].n) {
            b = p->cold[c].b[--p->cold[c].n];
        } else {
            /* a block of a page or more starts on a page (slabs do), so that gb_pool_trim can
             * give all of it back; the bytes skipped are listed as smaller blocks */
            size_t skip = n >= PAGE ? (PAGE - ((uintptr_t)p->cur & (PAGE - 1))) & (PAGE - 1) : 0;
            if (p->left < skip + n)
                new_slab(p);
            else
                list_rest(p, skip);
            back_to(p, p->cur + n);
            ahead_of(p);
            b = p->cur;
            p->cur += n;
            p->left -= n;
        }
    }
    pthread_mutex_unlock(&p->mu);
    SHOW(b, size);
    return b;
}

void gb_pool_free(gb_pool_t *p, void *b, size_t size)
{
    if (!b) return;
    size_t n = gb_pool_size(size ? size : 1);
    pthread_mutex_lock(&p->mu);
    if (n > SLAB_BLOCK_MAX) {
        munmap(b, n);
        p->mapped -= n;
    } else {
        push(p, b, class_of(n));
    }
    pthread_mutex_unlock(&p->mu);
}

void *gb_pool_grow(gb_pool_t *p, void *b, size_t old, size_t size, size_t keep)
{
    size_t was = b ? gb_pool_size(old ? old : 1) : 0, n = gb_pool_size(size ? size : 1);
    if (b && n <= was) {
        SHOW(b, size);
        return b;
    }
    if (b && was > SLAB_BLOCK_MAX) { /* a mapping of its own: moved by the kernel, not copied */
        pthread_mutex_lock(&p->mu);
        void *m = mremap(b, was, n, MREMAP_MAYMOVE);
        if (m == MAP_FAILED) gb_oom();
        p->mapped += n - was;
        pthread_mutex_unlock(&p->mu);
        return m;
    }
    void *m = gb_pool_alloc(p, size);
    if (b) {
        memcpy(m, b, keep);
        gb_pool_free(p, b, old);
    }
    return m;
}
