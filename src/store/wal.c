/*
 * The write-ahead log: data/wal/00000001.wal, a file header followed by records
 *   u32 payload length | u32 CRC-32 of the payload | payload
 * where the payload is either a series definition
 *   u8 1 | u32 series | u8 type | u16 path length | path
 * or a run of samples
 *   u8 2 | u32 count | count x (u32 series | i64 time | u8 type | u8 quality | value)
 * with value an f64 or i64 (8 bytes), a bool (1 byte), or a string (u32 length | bytes).
 * Integers are little-endian. This log is the durable front of the time-series engine; compressed
 * blocks are built from it.
 */
#include "gemba/store.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/map.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define WAL_MAGIC "GBWAL\0\1\0"
#define WAL_MAGIC_LEN 8
#define REC_SERIES 1
#define REC_SAMPLES 2
#define REC_MAX (64u << 20)

typedef struct series {
    char *path;
    uint8_t type;
    uint64_t points;
} series_t;

struct gb_store {
    pthread_mutex_t mu;
    char *dir;
    int fd;
    gb_store_opts_t opts;
    unsigned char *buf;
    size_t len, cap;
    gb_map_t by_path; /* tag path -> series number */
    series_t *series;
    uint32_t nseries;
    uint32_t *tag_series; /* registry tag id -> series number + 1 (0 = unknown yet) */
    uint32_t ntag_series;
    const gb_tags_t *reg;
    int64_t last_sync;
    uint64_t appended;
    bool dirty;
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

static void reserve(gb_store_t *s, size_t more)
{
    if (s->len + more <= s->cap) return;
    size_t cap = s->cap ? s->cap : 1 << 16;
    while (cap < s->len + more) cap *= 2;
    s->buf = gb_xrealloc(s->buf, cap);
    s->cap = cap;
}

/* Writes the buffer out; keeps what could not be written. Caller holds the lock. */
static int flush_locked(gb_store_t *s)
{
    size_t off = 0;
    int rc = 0;
    while (off < s->len) {
        ssize_t w = write(s->fd, s->buf + off, s->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            rc = errno == ENOSPC || errno == EDQUOT ? GB_ENOSPC : GB_EIO;
            break;
        }
        off += (size_t)w;
    }
    if (off) {
        memmove(s->buf, s->buf + off, s->len - off);
        s->len -= off;
        s->dirty = true;
    }
    return rc;
}

static int sync_locked(gb_store_t *s)
{
    int rc = flush_locked(s);
    if (rc) return rc;
    if (s->dirty && fdatasync(s->fd) != 0) return errno == ENOSPC ? GB_ENOSPC : GB_EIO;
    s->dirty = false;
    s->last_sync = gb_mono_ns();
    return 0;
}

/* Frames the payload that starts at buffer offset START. */
static void seal_record(gb_store_t *s, size_t start)
{
    size_t plen = s->len - start - 8;
    put32(s->buf + start, (uint32_t)plen);
    put32(s->buf + start + 4, (uint32_t)crc32(0L, s->buf + start + 8, (uInt)plen));
}

static uint32_t series_for(gb_store_t *s, const gb_tags_t *reg, uint32_t tag)
{
    if (reg != s->reg || tag >= s->ntag_series) {
        if (reg != s->reg) {
            free(s->tag_series);
            s->tag_series = NULL;
            s->ntag_series = 0;
            s->reg = reg;
        }
        uint32_t n = gb_tags_count(reg);
        s->tag_series = gb_xrealloc(s->tag_series, n * sizeof *s->tag_series);
        memset(s->tag_series + s->ntag_series, 0, (n - s->ntag_series) * sizeof *s->tag_series);
        s->ntag_series = n;
    }
    if (s->tag_series[tag]) return s->tag_series[tag] - 1;
    const gb_tag_t *t = gb_tags_get(reg, tag);
    uint32_t no;
    if (!gb_map_get(&s->by_path, t->path, &no)) {
        no = s->nseries++;
        s->series = gb_xrealloc(s->series, s->nseries * sizeof *s->series);
        s->series[no] = (series_t){gb_xstrdup(t->path), (uint8_t)t->type, 0};
        gb_map_put(&s->by_path, t->path, no);
        size_t plen = strlen(t->path);
        reserve(s, 8 + 8 + plen);
        size_t start = s->len;
        s->len += 8;
        s->buf[s->len++] = REC_SERIES;
        put32(s->buf + s->len, no);
        s->len += 4;
        s->buf[s->len++] = (unsigned char)t->type;
        uint16_t l16 = (uint16_t)plen;
        memcpy(s->buf + s->len, &l16, 2);
        s->len += 2;
        memcpy(s->buf + s->len, t->path, plen);
        s->len += plen;
        seal_record(s, start);
    }
    s->tag_series[tag] = no + 1;
    return no;
}

int gb_store_append(gb_store_t *s, const gb_tags_t *reg, const gb_batch_t *b)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->len >= s->opts.buffer_bytes && (rc = flush_locked(s)) != 0) goto out;
    if (b->n == 0) goto out;
    /* series definitions first, so every sample record refers to known series */
    for (size_t i = 0; i < b->n; i++) series_for(s, reg, b->samples[i].tag);
    size_t start = s->len;
    reserve(s, 8 + 5 + b->n * 22 + b->strings_len + b->n * 4);
    s->len += 8;
    s->buf[s->len++] = REC_SAMPLES;
    put32(s->buf + s->len, (uint32_t)b->n);
    s->len += 4;
    for (size_t i = 0; i < b->n; i++) {
        const gb_sample_t *smp = &b->samples[i];
        uint32_t no = s->tag_series[smp->tag] - 1;
        unsigned char *p = s->buf + s->len;
        put32(p, no);
        memcpy(p + 4, &smp->t, 8);
        p[12] = smp->type;
        p[13] = smp->quality;
        s->len += 14;
        switch (smp->type) {
        case GB_VT_F64: memcpy(s->buf + s->len, &smp->v.f64, 8); s->len += 8; break;
        case GB_VT_I64: memcpy(s->buf + s->len, &smp->v.i64, 8); s->len += 8; break;
        case GB_VT_BOOL: s->buf[s->len++] = smp->v.b ? 1 : 0; break;
        default: {
            size_t l;
            const char *str = gb_sample_str(b, smp, &l);
            put32(s->buf + s->len, (uint32_t)l);
            memcpy(s->buf + s->len + 4, str, l);
            s->len += 4 + l;
        }
        }
        s->series[no].points++;
    }
    seal_record(s, start);
    s->appended += b->n;
    if (s->opts.sync_always) rc = sync_locked(s); /* the batch is in the buffer: it will land */
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gb_store_sync(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = sync_locked(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gb_store_tick(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (gb_mono_ns() - s->last_sync >= s->opts.sync_interval_ns) rc = sync_locked(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

uint64_t gb_store_appended(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->appended;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Walks the records of an open log file; returns the offset just past the last good record. */
typedef struct {
    void (*on_series)(void *ctx, uint32_t no, uint8_t type, const char *path, size_t len);
    void (*on_sample)(void *ctx, uint32_t no);
    /* optional: the whole sample; a non-zero return stops the walk */
    int (*on_value)(void *ctx, uint32_t no, const unsigned char *rec, size_t len);
    void *ctx;
} walk_t;

static int walk(int fd, const walk_t *w, off_t *good_end, off_t *file_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return GB_EIO;
    *file_size = st.st_size;
    unsigned char hdr[WAL_MAGIC_LEN];
    if (st.st_size == 0) {
        *good_end = 0;
        return 0;
    }
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || memcmp(hdr, WAL_MAGIC, sizeof hdr))
        return GB_EPROTO;
    off_t off = WAL_MAGIC_LEN;
    unsigned char *payload = NULL;
    size_t pcap = 0;
    for (;;) {
        unsigned char rh[8];
        if (pread(fd, rh, 8, off) != 8) break;
        uint32_t plen = get32(rh), crc = get32(rh + 4);
        if (plen == 0 || plen > REC_MAX || off + 8 + (off_t)plen > st.st_size) break;
        if (plen > pcap) {
            payload = gb_xrealloc(payload, plen);
            pcap = plen;
        }
        if (pread(fd, payload, plen, off + 8) != (ssize_t)plen) break;
        if ((uint32_t)crc32(0L, payload, plen) != crc) break;
        if (payload[0] == REC_SERIES && plen >= 8) {
            uint16_t l16;
            memcpy(&l16, payload + 6, 2);
            if (8u + l16 > plen) break;
            if (w->on_series) w->on_series(w->ctx, get32(payload + 1), payload[5],
                                            (const char *)payload + 8, l16);
        } else if (payload[0] == REC_SAMPLES && plen >= 5) {
            uint32_t cnt = get32(payload + 1);
            size_t p = 5;
            bool bad = false;
            for (uint32_t i = 0; i < cnt && !bad; i++) {
                if (p + 14 > plen) { bad = true; break; }
                uint32_t no = get32(payload + p);
                uint8_t type = payload[p + 12];
                p += 14;
                size_t vlen = type == GB_VT_BOOL ? 1 : type == GB_VT_STR ? 4 : 8;
                if (p + vlen > plen) { bad = true; break; }
                if (type == GB_VT_STR) {
                    vlen += get32(payload + p);
                    if (p + vlen > plen) { bad = true; break; }
                }
                if (w->on_value && w->on_value(w->ctx, no, payload + p - 14, 14 + vlen)) {
                    free(payload);
                    *good_end = off;
                    return 1;
                }
                p += vlen;
                if (w->on_sample) w->on_sample(w->ctx, no);
            }
            if (bad) break;
        } else {
            break;
        }
        off += 8 + (off_t)plen;
    }
    free(payload);
    *good_end = off;
    return 0;
}

static void load_series(void *ctx, uint32_t no, uint8_t type, const char *path, size_t len)
{
    gb_store_t *s = ctx;
    if (no != s->nseries) return; /* series are numbered densely in order */
    s->series = gb_xrealloc(s->series, (s->nseries + 1) * sizeof *s->series);
    s->series[no] = (series_t){gb_xstrndup(path, len), type, 0};
    gb_map_put(&s->by_path, s->series[no].path, no);
    s->nseries++;
}

static void count_sample(void *ctx, uint32_t no)
{
    gb_store_t *s = ctx;
    if (no < s->nseries) s->series[no].points++;
}

static int mkdir_p(const char *dir)
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

int gb_store_open(const char *dir, const gb_store_opts_t *opts, gb_store_t **out)
{
    *out = NULL;
    char *waldir = gb_xasprintf("%s/wal", dir);
    char *file = gb_xasprintf("%s/00000001.wal", waldir);
    int rc = GB_EIO;
    gb_store_t *s = NULL;
    if (mkdir_p(waldir) != 0) {
        gb_error("store", "cannot create data directory %s: %s", waldir, strerror(errno));
        goto out;
    }
    int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        gb_error("store", "cannot open %s: %s", file, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        gb_error("store", "data directory %s is in use by another gemba process", dir);
        close(fd);
        goto out;
    }
    s = gb_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->fd = fd;
    s->dir = gb_xstrdup(dir);
    if (opts) s->opts = *opts;
    if (!s->opts.sync_interval_ns) s->opts.sync_interval_ns = GB_NS_PER_S;
    if (!s->opts.buffer_bytes) s->opts.buffer_bytes = 1 << 20;
    gb_map_init(&s->by_path);
    off_t good, size;
    walk_t w = {load_series, count_sample, NULL, s};
    int wrc = walk(fd, &w, &good, &size);
    if (wrc == GB_EPROTO) {
        gb_error("store", "%s is not a gemba write-ahead log", file);
        rc = GB_EPROTO;
        goto fail;
    }
    if (wrc) goto fail;
    if (size == 0) {
        if (write(fd, WAL_MAGIC, WAL_MAGIC_LEN) != WAL_MAGIC_LEN || fsync(fd) != 0) {
            gb_error("store", "cannot write %s: %s", file, strerror(errno));
            goto fail;
        }
        good = WAL_MAGIC_LEN;
    } else if (good < size) {
        gb_warn("store", "%s: cutting off %lld unreadable bytes at the end (an interrupted write)",
                file, (long long)(size - good));
        if (ftruncate(fd, good) != 0) goto fail;
    }
    if (lseek(fd, good, SEEK_SET) < 0) goto fail;
    s->last_sync = gb_mono_ns();
    *out = s;
    rc = 0;
    goto out;
fail:
    gb_store_close(s);
out:
    free(waldir);
    free(file);
    return rc;
}

int gb_store_close(gb_store_t *s)
{
    if (!s) return 0;
    int rc = s->fd >= 0 ? sync_locked(s) : 0;
    if (s->len)
        gb_error("store", "%zu bytes of accepted data could not be written: %s", s->len,
                 gb_strerror(rc));
    if (s->fd >= 0) close(s->fd);
    for (uint32_t i = 0; i < s->nseries; i++) free(s->series[i].path);
    free(s->series);
    free(s->tag_series);
    free(s->buf);
    free(s->dir);
    gb_map_clear(&s->by_path);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}

int gb_store_scan(const char *dir, gb_store_info_t *info,
                  void (*each)(void *ctx, const char *path, gb_vtype_t type, uint64_t points),
                  void *ctx)
{
    memset(info, 0, sizeof *info);
    char *file = gb_xasprintf("%s/wal/00000001.wal", dir);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    free(file);
    if (fd < 0) return errno == ENOENT ? GB_ENOENT : GB_EIO;
    gb_store_t tmp = {0};
    gb_map_init(&tmp.by_path);
    walk_t w = {load_series, count_sample, NULL, &tmp};
    off_t good = 0, size = 0;
    int rc = walk(fd, &w, &good, &size);
    close(fd);
    if (rc == 0) {
        info->series = tmp.nseries;
        info->bytes = (uint64_t)size;
        info->torn_bytes = (uint64_t)(size - good);
        for (uint32_t i = 0; i < tmp.nseries; i++) {
            info->points += tmp.series[i].points;
            if (each) each(ctx, tmp.series[i].path, (gb_vtype_t)tmp.series[i].type,
                           tmp.series[i].points);
        }
    }
    for (uint32_t i = 0; i < tmp.nseries; i++) free(tmp.series[i].path);
    free(tmp.series);
    gb_map_clear(&tmp.by_path);
    return rc;
}

typedef struct {
    gb_store_t st; /* series table only */
    int (*each)(void *ctx, const char *path, const gb_sample_t *s, const char *str, size_t len);
    void *ctx;
    int rc;
} read_ctx_t;

static void read_series(void *ctx, uint32_t no, uint8_t type, const char *path, size_t len)
{
    load_series(&((read_ctx_t *)ctx)->st, no, type, path, len);
}

static int read_value(void *ctx, uint32_t no, const unsigned char *rec, size_t len)
{
    read_ctx_t *r = ctx;
    if (no >= r->st.nseries) return 0; /* a sample of a series never defined: skip it */
    gb_sample_t s = {0};
    memcpy(&s.t, rec + 4, 8);
    s.type = rec[12];
    s.quality = rec[13];
    const char *str = NULL;
    size_t slen = 0;
    switch (s.type) {
    case GB_VT_F64: memcpy(&s.v.f64, rec + 14, 8); break;
    case GB_VT_I64: memcpy(&s.v.i64, rec + 14, 8); break;
    case GB_VT_BOOL: s.v.b = rec[14] != 0; break;
    default:
        slen = len - 18;
        str = (const char *)rec + 18;
    }
    r->rc = r->each(r->ctx, r->st.series[no].path, &s, str, slen);
    return r->rc;
}

int gb_store_read_all(const char *dir,
                      int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                  const char *str, size_t len),
                      void *ctx)
{
    char *file = gb_xasprintf("%s/wal/00000001.wal", dir);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    free(file);
    if (fd < 0) return errno == ENOENT ? GB_ENOENT : GB_EIO;
    read_ctx_t r = {.each = each, .ctx = ctx};
    gb_map_init(&r.st.by_path);
    walk_t w = {read_series, NULL, read_value, &r};
    off_t good = 0, size = 0;
    int rc = walk(fd, &w, &good, &size);
    close(fd);
    for (uint32_t i = 0; i < r.st.nseries; i++) free(r.st.series[i].path);
    free(r.st.series);
    gb_map_clear(&r.st.by_path);
    if (rc == 1) return r.rc;
    return rc;
}
