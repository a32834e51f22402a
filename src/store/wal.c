/*
 * The write-ahead log's segments (see wal.h for the format and the durability rules). Each
 * segment starts with the 8-byte magic; a record is u32 length | u32 CRC-32 | payload, all
 * little-endian. A replay stops at the first record that is short, too long or fails its CRC: in
 * the last segment that is the torn tail of an interrupted write, cut off when opened for
 * writing; in an earlier segment it is reported as damage and the rest of that segment is
 * skipped. (A segment is synced right after the next begins, before any sync of the next one
 * returns, so only a machine crash in those milliseconds leaves a torn tail there.)
 */
#include "store/wal.h"
#include "util/crc.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_MAGIC "GBWAL\0\1\0"
#define WAL_MAGIC_LEN 8
#define WAL_BUFFER (1u << 20)

struct gb_wal {
    char *dir;
    int fd, lock_fd;
    uint64_t seq;   /* current segment */
    uint64_t first; /* oldest segment present */
    bool readonly;
    unsigned char *buf; /* records not written yet */
    size_t len, cap;
    size_t reserved_at; /* offset of the record being filled */
    size_t limit;       /* buffer size that triggers a write */
    bool dirty;         /* written but not synced */
    int64_t last_sync;
    uint64_t bytes, torn;
    /* The writer thread: a full buffer is handed to it whole, and appends go on in the other
     * one meanwhile, so the caller neither copies into the page cache nor waits on the disk.
     * Under MU: the handed buffer (OUT, OUT_LEN: what is not written yet), BUSY while it
     * writes, and what it did (WRITTEN bytes, RC of a failed write, whose bytes stay in OUT).
     * With OUT_SYNC it syncs the file after writing (the interval's sync, so no appender waits
     * on the disk); OUT_SYNCED says it did, SYNC_FAILED that the sync was refused. */
    pthread_t th;
    bool th_on, busy, stop, failing;
    bool out_sync, out_synced, sync_failed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *out;
    size_t out_len, out_cap, written;
    int out_rc;
    /* A rotation's slow half (gb_wal_rotate_finish), done without the caller's lock: under ROT_MU,
     * ROT_PENDING until the closed segment (ROT_OLD) and the new one's header (ROT_NEW) are
     * synced and the new name is in the directory for good. A sync waits for it. */
    pthread_mutex_t rot_mu;
    pthread_cond_t rot_cv;
    bool rot_pending;
    int rot_old, rot_new;
};

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static char *seg_path(const gb_wal_t *w, uint64_t seq)
{
    return gb_xasprintf("%s/%08llu.wal", w->dir, (unsigned long long)seq);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segment numbers in DIR, sorted; *N gets how many. NULL when none (or no directory). */
static uint64_t *list_segments(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    uint64_t *v = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l != 12 || strcmp(e->d_name + 8, ".wal") || strspn(e->d_name, "0123456789") != 8)
            continue;
        if (*n == cap) v = gb_xrealloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
        v[(*n)++] = strtoull(e->d_name, NULL, 10);
    }
    closedir(d);
    if (*n > 1) qsort(v, *n, sizeof *v, cmp_u64);
    return v;
}

/*
 * Replays the segment open as FD; *GOOD gets the offset past the last good record and *SIZE the
 * file's size. Returns 0, GB_EPROTO (not a log), GB_EIO, or the callback's non-zero value.
 */
static int replay(int fd, uint64_t seq, gb_wal_record_fn each, void *ctx, off_t *good, off_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return GB_EIO;
    *size = st.st_size;
    *good = 0;
    if (st.st_size == 0) return 0;
    unsigned char hdr[WAL_MAGIC_LEN];
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || memcmp(hdr, WAL_MAGIC, sizeof hdr))
        return GB_EPROTO;
    /* read in large chunks: a replay of a big log is bounded by the disk, not by syscalls */
    size_t cap = 4u << 20;
    unsigned char *buf = gb_xmalloc(cap);
    off_t off = WAL_MAGIC_LEN;
    int rc = 0;
    for (;;) {
        unsigned char rh[8];
        if (pread(fd, rh, 8, off) != 8) break;
        uint32_t plen = get32(rh), crc = get32(rh + 4);
        if (plen == 0 || plen > GB_WAL_REC_MAX || off + 8 + (off_t)plen > st.st_size) break;
        if (plen > cap) buf = gb_xrealloc(buf, cap = plen);
        if (pread(fd, buf, plen, off + 8) != (ssize_t)plen) break;
        if (gb_crc32(buf, plen) != crc) break;
        if (each && (rc = each(ctx, seq, buf, plen)) != 0) break;
        off += 8 + (off_t)plen;
    }
    free(buf);
    *good = off;
    return rc;
}

/* Opens segment SEQ for appending (made, with its header, when new; synced with SYNC). */
static int open_segment(gb_wal_t *w, uint64_t seq, bool sync)
{
    char *p = seg_path(w, seq);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND, 0640);
    int rc = 0;
    if (fd < 0) {
        gb_error("store", "cannot open %s: %s", p, strerror(errno));
        rc = GB_EIO;
    } else {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size == 0 &&
            (write(fd, WAL_MAGIC, WAL_MAGIC_LEN) != WAL_MAGIC_LEN || (sync && fdatasync(fd) != 0))) {
            gb_error("store", "cannot write %s: %s", p, strerror(errno));
            close(fd);
            fd = -1;
            rc = errno == ENOSPC ? GB_ENOSPC : GB_EIO;
        }
    }
    free(p);
    if (rc) return rc;
    w->fd = fd;
    w->seq = seq;
    return 0;
}

int gb_mkdirs(const char *dir)
{
    char *p = gb_xstrdup(dir);
    int rc = 0;
    for (char *q = p + 1;; q++) {
        if (*q == '/' || !*q) {
            char c = *q;
            *q = 0;
            if (mkdir(p, 0750) != 0 && errno != EEXIST) rc = -1;
            *q = c;
            if (!c || rc) break;
        }
    }
    free(p);
    return rc;
}

int gb_wal_open(const char *dir, uint64_t after, bool readonly, gb_wal_record_fn each, void *ctx,
                gb_wal_t **out)
{
    *out = NULL;
    gb_wal_t *w = gb_xcalloc(1, sizeof *w);
    w->dir = gb_xstrdup(dir);
    w->fd = w->lock_fd = w->rot_old = w->rot_new = -1;
    pthread_mutex_init(&w->rot_mu, NULL);
    pthread_cond_init(&w->rot_cv, NULL);
    w->readonly = readonly;
    w->cap = WAL_BUFFER + 4096;
    w->limit = WAL_BUFFER;
    w->buf = gb_xmalloc(w->cap);
    int rc = GB_EIO;
    if (!readonly) {
        if (gb_mkdirs(dir) != 0) {
            gb_error("store", "cannot create %s: %s", dir, strerror(errno));
            goto fail;
        }
        char *lp = gb_xasprintf("%s/LOCK", dir);
        w->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (w->lock_fd < 0) gb_error("store", "cannot open %s: %s", lp, strerror(errno));
        free(lp);
        if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = w->lock_fd < 0 ? GB_EIO : GB_EBUSY;
            goto fail;
        }
    }
    size_t n;
    uint64_t *segs = list_segments(dir, &n);
    w->first = n ? segs[0] : after + 1;
    uint64_t last = after;
    for (size_t i = 0; i < n; i++) {
        if (segs[i] <= after) continue;
        last = segs[i];
        char *p = seg_path(w, segs[i]);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        off_t good = 0, size = 0;
        int r = fd < 0 ? GB_EIO : replay(fd, segs[i], each, ctx, &good, &size);
        if (fd >= 0) close(fd);
        if (r == GB_EPROTO) {
            gb_error("store", "%s is not a gemba write-ahead log", p);
            free(p);
            free(segs);
            rc = GB_EPROTO;
            goto fail;
        }
        if (r) {
            free(p);
            free(segs);
            rc = r < 0 ? r : GB_EIO;
            goto fail;
        }
        w->bytes += (uint64_t)good;
        if (good < size) {
            w->torn += (uint64_t)(size - good);
            if (i + 1 < n)
                gb_error("store", "%s: %lld damaged bytes from offset %lld skipped", p,
                         (long long)(size - good), (long long)good);
            else if (!readonly) {
                gb_warn("store",
                        "%s: cutting off %lld unreadable bytes at the end (an interrupted "
                        "write)",
                        p, (long long)(size - good));
                if (truncate(p, good) != 0) {
                    gb_error("store", "cannot cut %s: %s", p, strerror(errno));
                    free(p);
                    free(segs);
                    goto fail;
                }
            }
        }
        free(p);
    }
    free(segs);
    if (!readonly && (rc = open_segment(w, last > after ? last : after + 1, true)) != 0) goto fail;
    w->last_sync = gb_mono_ns();
    *out = w;
    return 0;
fail:
    gb_wal_close(w);
    return rc;
}

/* Writes P[0..*LEN) to FD; what could not be written moves to the front. Adds the bytes written
 * to *DONE. 0, GB_ENOSPC or GB_EIO. */
static int write_buf(int fd, unsigned char *p, size_t *len, size_t *done)
{
    size_t off = 0;
    int rc = 0;
    while (off < *len) {
        ssize_t n = write(fd, p + off, *len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = errno == ENOSPC || errno == EDQUOT ? GB_ENOSPC : GB_EIO;
            break;
        }
        off += (size_t)n;
    }
    if (off) {
        memmove(p, p + off, *len - off);
        *len -= off;
        *done += off;
    }
    return rc;
}

static void *writer_main(void *arg)
{
    gb_wal_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy) break;
        size_t len = w->out_len, done = 0;
        bool want_sync = w->out_sync, synced = false;
        pthread_mutex_unlock(&w->mu);
        int rc = write_buf(w->fd, w->out, &len, &done);
        /* start the disk on these pages now: the next sync then waits for little, and dirty
         * pages never pile up in the page cache for the kernel to write all at once */
        if (done) sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        if (!rc && want_sync) synced = fdatasync(w->fd) == 0;
        pthread_mutex_lock(&w->mu);
        w->out_sync = false;
        w->out_synced = synced;
        if (!rc && want_sync && !synced) w->sync_failed = true;
        w->out_len = len;
        w->written += done;
        w->out_rc = rc;
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/*
 * Waits for the writer to finish the buffer it has, and takes its result: bytes written count,
 * and bytes it could not write go back in front of the buffer, to be written (or refused) in
 * order with the rest. Returns the writer's error, 0 when none.
 */
static int settle(gb_wal_t *w)
{
    if (!w->th_on) return 0;
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->written) {
        w->bytes += w->written;
        w->dirty = true;
        w->written = 0;
    }
    if (w->out_synced) { /* everything written before the sync is on disk */
        w->dirty = false;
        w->out_synced = false;
    }
    int rc = w->out_rc;
    w->out_rc = 0;
    if (w->out_len) {
        if (w->len + w->out_len > w->cap) {
            w->cap = w->len + w->out_len;
            w->buf = gb_xrealloc(w->buf, w->cap);
        }
        memmove(w->buf + w->out_len, w->buf, w->len);
        memcpy(w->buf, w->out, w->out_len);
        w->len += w->out_len;
        w->out_len = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Writes the buffer out, after what the writer holds; keeps what could not be written. */
static int write_out(gb_wal_t *w)
{
    settle(w); /* its failure, if any, is tried again below */
    size_t done = 0;
    int rc = write_buf(w->fd, w->buf, &w->len, &done);
    if (done) {
        w->dirty = true;
        w->bytes += done;
    }
    return rc;
}

/*
 * Hands the buffer to the writer thread (started the first time) and carries on in the other;
 * with SYNC, the writer syncs the file after writing it.
 */
static int hand_over(gb_wal_t *w, bool sync)
{
    if (!w->th_on) {
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
            pthread_cond_destroy(&w->cv);
            pthread_mutex_destroy(&w->mu);
            return sync ? gb_wal_sync(w) : write_out(w); /* no thread: here */
        }
        pthread_setname_np(w->th, "gemba-wal"); /* not the name of the thread that made it */
        w->th_on = true;
    }
    int rc = settle(w);
    if (rc || w->failing) {
        /* the disk refused a write: write here, in order, until it takes them again -- the
         * caller refuses data meanwhile, so the buffer stays bounded */
        rc = write_out(w);
        w->failing = rc != 0;
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    unsigned char *b = w->out;
    size_t cap = w->out_cap;
    w->out = w->buf;
    w->out_cap = w->cap;
    w->out_len = w->len;
    w->out_sync = sync;
    w->busy = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (!b || cap < w->limit + 4096) {
        free(b);
        cap = w->limit + 4096;
        b = gb_xmalloc(cap);
    }
    w->buf = b;
    w->cap = cap;
    w->len = 0;
    return 0;
}

void gb_wal_set_buffer(gb_wal_t *w, size_t bytes)
{
    w->limit = bytes;
}

unsigned char *gb_wal_reserve(gb_wal_t *w, size_t len)
{
    if (w->len + 8 + len > w->cap) {
        while (w->len + 8 + len > w->cap)
            w->cap *= 2;
        w->buf = gb_xrealloc(w->buf, w->cap);
    }
    w->reserved_at = w->len;
    return w->buf + w->len + 8;
}

void gb_wal_seal(gb_wal_t *w, size_t len)
{
    unsigned char *r = w->buf + w->reserved_at;
    put32(r, (uint32_t)len);
    put32(r + 4, gb_crc32(r + 8, len));
    w->len = w->reserved_at + 8 + len;
}

int gb_wal_flush_if_full(gb_wal_t *w)
{
    return w->len >= w->limit ? hand_over(w, false) : 0;
}

/* Waits for a rotation's slow half: until then the closed segment and the new name may not be on
 * disk for good, and a sync must not say otherwise. */
static void rotation_settle(gb_wal_t *w)
{
    pthread_mutex_lock(&w->rot_mu);
    while (w->rot_pending)
        pthread_cond_wait(&w->rot_cv, &w->rot_mu);
    pthread_mutex_unlock(&w->rot_mu);
}

int gb_wal_sync(gb_wal_t *w)
{
    if (!w || w->fd < 0) return 0;
    int rc = write_out(w);
    if (rc) return rc;
    rotation_settle(w);
    if (w->dirty && fdatasync(w->fd) != 0) return errno == ENOSPC ? GB_ENOSPC : GB_EIO;
    w->dirty = false;
    w->sync_failed = false;
    w->last_sync = gb_mono_ns();
    return 0;
}

int gb_wal_tick(gb_wal_t *w, int64_t interval_ns)
{
    int64_t now = gb_mono_ns();
    if (now - w->last_sync < interval_ns) return 0;
    if (w->th_on) {
        pthread_mutex_lock(&w->mu);
        bool busy = w->busy;
        pthread_mutex_unlock(&w->mu);
        if (busy) return 0; /* the writer is at it; the next tick asks again */
    }
    /* the writer syncs, so the caller (and appends behind it) never waits on the disk; after a
     * refused write or sync, the sync is done here, so its outcome is told to the caller */
    int rc = settle(w);
    if (rc || w->failing || w->sync_failed) {
        rc = gb_wal_sync(w);
        w->failing = rc != 0;
        return rc;
    }
    w->last_sync = now;
    if (!w->len && !w->dirty) return 0;
    return hand_over(w, true);
}

size_t gb_wal_pending(const gb_wal_t *w)
{
    size_t n = w->len;
    if (w->th_on) {
        pthread_mutex_lock((pthread_mutex_t *)&w->mu);
        n += w->out_len;
        pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
    }
    return n;
}

int gb_wal_rotate(gb_wal_t *w, uint64_t *closed)
{
    int rc = write_out(w);
    if (rc) return rc;
    int old = w->fd;
    uint64_t seq = w->seq;
    if ((rc = open_segment(w, seq + 1, false)) != 0) return rc;
    w->dirty = true; /* the new segment's header */
    pthread_mutex_lock(&w->rot_mu);
    w->rot_old = old;
    w->rot_new = w->fd;
    w->rot_pending = true;
    pthread_mutex_unlock(&w->rot_mu);
    *closed = seq;
    return 0;
}

int gb_wal_rotate_finish(gb_wal_t *w)
{
    pthread_mutex_lock(&w->rot_mu);
    bool pending = w->rot_pending;
    int old = w->rot_old, fresh = w->rot_new;
    pthread_mutex_unlock(&w->rot_mu);
    if (!pending) return 0;
    int rc = 0;
    if (fdatasync(old) != 0 || fdatasync(fresh) != 0)
        rc = errno == ENOSPC || errno == EDQUOT ? GB_ENOSPC : GB_EIO;
    close(old);
    /* the new segment's name must survive a crash before anything depends on it */
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && !rc) rc = GB_EIO;
        close(dfd);
    }
    pthread_mutex_lock(&w->rot_mu);
    w->rot_pending = false;
    w->rot_old = w->rot_new = -1;
    pthread_cond_broadcast(&w->rot_cv);
    pthread_mutex_unlock(&w->rot_mu);
    return rc;
}

char **gb_wal_drop(gb_wal_t *w, uint64_t seq)
{
    char **gone = NULL;
    size_t n = 0;
    for (uint64_t s = w->first; s <= seq && s < w->seq; s++) {
        char *p = seg_path(w, s);
        struct stat st;
        if (stat(p, &st) == 0) {
            w->bytes -= (uint64_t)st.st_size <= w->bytes ? (uint64_t)st.st_size : w->bytes;
            gone = gb_xrealloc(gone, (n + 2) * sizeof *gone);
            gone[n++] = p;
            gone[n] = NULL;
        } else {
            free(p);
        }
        w->first = s + 1;
    }
    return gone;
}

void gb_wal_remove(char **gone)
{
    for (size_t i = 0; gone && gone[i]; i++) {
        if (unlink(gone[i]) != 0 && errno != ENOENT)
            gb_warn("store", "cannot remove %s: %s", gone[i], strerror(errno));
        free(gone[i]);
    }
    free(gone);
}

uint64_t gb_wal_current(const gb_wal_t *w)
{
    return w->seq;
}

void gb_wal_info(const gb_wal_t *w, gb_wal_info_t *out)
{
    out->segments = w->seq >= w->first ? w->seq - w->first + 1 : 0;
    out->bytes = w->bytes;
    out->torn_bytes = w->torn;
}

void gb_wal_close(gb_wal_t *w)
{
    if (!w) return;
    if (w->fd >= 0) {
        int rc = gb_wal_sync(w);
        if (w->len)
            gb_error("store", "%zu bytes of accepted data could not be written: %s", w->len,
                     gb_strerror(rc));
    }
    if (w->th_on) {
        settle(w);
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
    gb_wal_rotate_finish(w); /* a rotation whose caller did not finish it (it always does) */
    pthread_cond_destroy(&w->rot_cv);
    pthread_mutex_destroy(&w->rot_mu);
    if (w->fd >= 0) close(w->fd);
    if (w->lock_fd >= 0) close(w->lock_fd);
    free(w->out);
    free(w->buf);
    free(w->dir);
    free(w);
}
