/* The write-ahead log: round trip of counts, reopen, a torn tail cut off, and a write failure that
 * loses nothing accepted. Reading: the cursor's merge of overlapping blocks and head, the query
 * text read in pieces against the CSV row writer and a plain JSON writer, the answer-size limit,
 * and the newest points as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "gemba/store.h"
#include "gemba/time.h"
#include "store/textio.h"
#include "store/export.h"
#include "store/csvio.h"
#include "util/str.h"
#include "store/codec_bits.h"
#include "store/engine.h"
#include "store/ingest.h"
#include "store/store_internal.h"

#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static gb_tags_t *registry(void)
{
    gb_tags_t *r = gb_tags_new();
    uint32_t s, m;
    gb_tags_add_asset(r, GB_ASSET_SITE, GB_NONE, "p", &s);
    gb_tags_add_asset(r, GB_ASSET_MACHINE, s, "m1", &m);
    gb_tag_t a = {.name = "load", .type = GB_VT_F64}, b = {.name = "count", .type = GB_VT_I64},
             c = {.name = "exec", .type = GB_VT_STR}, d = {.name = "estop", .type = GB_VT_BOOL};
    gb_tags_add(r, m, &a, NULL);
    gb_tags_add(r, m, &b, NULL);
    gb_tags_add(r, m, &c, NULL);
    gb_tags_add(r, m, &d, NULL);
    return r;
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/gemba-store-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static gb_batch_t *mixed(int n, gb_time_t t0)
{
    gb_batch_t *b = gb_batch_new(16);
    for (int i = 0; i < n; i++) {
        gb_batch_add_f64(b, t0 + i, 0, GB_Q_GOOD, 1.5 * i);
        gb_batch_add_i64(b, t0 + i, 1, GB_Q_GOOD, i);
        gb_batch_add_str(b, t0 + i, 2, GB_Q_GOOD, i % 2 ? "ACTIVE" : "READY", i % 2 ? 6 : 5);
        gb_batch_add_bool(b, t0 + i, 3, GB_Q_UNCERTAIN, i % 3 == 0);
    }
    return b;
}

/* Moves every sample of B a second later: each batch appended is new data, not a rewrite. */
static void later(gb_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->samples[i].t += GB_NS_PER_S;
}

typedef struct {
    int calls;
    uint64_t load_points;
} seen_t;

static void each(void *ctx, const char *path, gb_vtype_t type, uint64_t points)
{
    seen_t *s = ctx;
    s->calls++;
    if (!strcmp(path, "p/m1/load")) {
        assert_int_equal(type, GB_VT_F64);
        s->load_points = points;
    }
}

static void test_round_trip_and_reopen(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_tags_t *r = registry();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_batch_t *b = mixed(100, 1000);
    assert_int_equal(gb_store_append(s, r, b), 0);
    assert_int_equal(gb_store_appended(s), 400);
    /* a second writer on the same directory is refused */
    gb_store_t *other;
    assert_int_not_equal(gb_store_open(dir, NULL, &other), 0);
    assert_int_equal(gb_store_close(s), 0);

    gb_store_info_t info;
    seen_t seen = {0};
    assert_int_equal(gb_store_scan(dir, &info, each, &seen), 0);
    assert_int_equal(info.series, 4);
    assert_int_equal(info.points, 400);
    assert_int_equal(info.torn_bytes, 0);
    assert_int_equal(seen.calls, 4);
    assert_int_equal(seen.load_points, 100);

    /* reopened with a new registry object: the same paths map to the same series */
    gb_tags_t *r2 = registry();
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    for (int i = 0; i < 100; i++)
        later(b); /* new points, not a rewrite of the first ones */
    assert_int_equal(gb_store_append(s, r2, b), 0);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.series, 4);
    assert_int_equal(info.points, 800);

    gb_batch_free(b);
    gb_tags_free(r);
    gb_tags_free(r2);
    rmrf(dir);
    free(dir);
}

/* Opens the store in DIR in a child process, appends B TIMES times, syncs, and dies without
 * closing -- a crash: nothing is flushed to block files, everything is in the log. */
static void crash_after_append(const char *dir, const gb_tags_t *r, const gb_batch_t *b, int times)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gb_store_t *s;
        if (gb_store_open(dir, NULL, &s) != 0) _exit(1);
        for (int i = 0; i < times; i++)
            if (gb_store_append(s, r, b) != 0) _exit(2);
        _exit(gb_store_sync(s) == 0 ? 0 : 3);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A crash mid-write leaves half a record: scan reports it, the next open cuts it off, and the
 * records before it are all kept. */
static void test_torn_tail(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_tags_t *r = registry();
    gb_store_t *s;
    gb_batch_t *b = mixed(10, 0);
    crash_after_append(dir, r, b, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/wal/00000001.wal", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    off_t good = st.st_size;
    /* a second crashed run appends to the same segment; chop off the last 7 bytes */
    crash_after_append(dir, r, b, 1);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > good);
    assert_int_equal(truncate(path, st.st_size - 7), 0);
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, 40);
    /* the torn record is the last; the second run's series declarations before it are whole */
    assert_true(info.torn_bytes > 0 && info.torn_bytes < (uint64_t)(st.st_size - 7 - good));
    /* the next open cuts the tail; its close flushes to a block file and drops the log */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, 40);
    assert_int_equal(info.torn_bytes, 0);
    assert_int_equal(info.block_files, 1);
    assert_true(stat(path, &st) != 0); /* segment 1 is gone: its data is in blocks */
    rmrf(dir);
    free(dir);

    /* flip a byte inside the first record's payload: its CRC no longer matches */
    dir = tmpdir();
    crash_after_append(dir, r, b, 1);
    snprintf(path, sizeof path, "%s/wal/00000001.wal", dir);
    int fd = open(path, O_RDWR);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, 20), 1);
    byte ^= 0xff;
    assert_int_equal(pwrite(fd, &byte, 1, 20), 1);
    close(fd);
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, 0);
    assert_true(info.torn_bytes > 0);
    /* not a gemba log at all */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "hello world, not a log", 22), 22);
    close(fd);
    assert_int_equal(gb_store_open(dir, NULL, &s), GB_EPROTO);
    gb_batch_free(b);
    gb_tags_free(r);
    rmrf(dir);
    free(dir);
}

/* When the file cannot grow (a full disk, here a file-size limit), the batch is not accepted,
 * nothing accepted before is lost, and once space is back everything lands. */
static void test_write_failure_loses_nothing(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_tags_t *r = registry();
    gb_store_t *s;
    gb_store_opts_t o = {.buffer_bytes = 4096};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 20000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint64_t accepted = 0;
    int rc = 0;
    gb_batch_t *b = mixed(25, 0); /* about 3 KB a batch */
    for (int i = 0; i < 50 && rc == 0; i++) {
        rc = gb_store_append(s, r, b);
        if (rc == 0) {
            accepted += b->n;
            later(b);
        }
    }
    assert_true(rc == GB_EIO || rc == GB_ENOSPC);
    assert_true(accepted > 0);
    assert_int_equal(gb_store_appended(s), accepted);
    /* a partial write may have freed some buffer room: the buffer is bounded, so appends are
     * taken until it is full again and then refused every time, changing nothing */
    for (int i = 0; i < 10 && gb_store_append(s, r, b) == 0; i++) {
        accepted += b->n;
        later(b);
    }
    for (int i = 0; i < 3; i++)
        assert_int_not_equal(gb_store_append(s, r, b), 0);
    assert_int_equal(gb_store_appended(s), accepted);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(gb_store_append(s, r, b), 0);
    accepted += b->n;
    assert_int_equal(gb_store_close(s), 0);
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, accepted);
    assert_int_equal(info.torn_bytes, 0);
    gb_batch_free(b);
    gb_tags_free(r);
    rmrf(dir);
    free(dir);
}

/* Points read back from the log and blocks of DIR by a second, read-only opener. */
static uint64_t points_on_disk(const char *dir)
{
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    return info.points;
}

/* The interval's sync, which the writer thread does: after a tick the buffered points reach the
 * file with no further call. A write the disk refuses there is told by a later tick, which then
 * syncs in the foreground until the disk takes it; nothing is lost. */
static void test_tick_syncs_in_background(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_tags_t *r = registry();
    gb_store_t *s;
    gb_store_opts_t o = {
        .sync_interval_ns = 1, .flush_points = UINT64_MAX, .flush_interval_ns = INT64_MAX};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_batch_t *b = mixed(25, 0);
    assert_int_equal(gb_store_append(s, r, b), 0);
    uint64_t accepted = b->n;
    assert_int_equal(points_on_disk(dir), 0); /* in the buffer: 1 MiB is far off */
    assert_int_equal(gb_store_tick(s), 0);
    for (int i = 0; i < 500 && points_on_disk(dir) < accepted; i++)
        usleep(10000);
    assert_int_equal(points_on_disk(dir), accepted);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1; /* below the segment's size: every write is refused */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    later(b);
    assert_int_equal(gb_store_append(s, r, b), 0);
    accepted += b->n;
    int rc = 0;
    for (int i = 0; i < 500 && rc == 0; i++) {
        rc = gb_store_tick(s);
        if (rc == 0) usleep(10000);
    }
    assert_true(rc == GB_EIO || rc == GB_ENOSPC);
    assert_int_equal(gb_store_tick(s), rc); /* still refused, in the foreground */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(gb_store_tick(s), 0);
    assert_int_equal(points_on_disk(dir), accepted);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(points_on_disk(dir), accepted);
    gb_batch_free(b);
    gb_tags_free(r);
    rmrf(dir);
    free(dir);
}

/* Every sample of the store in DIR, folded into a count and a hash in read_all's order. */
typedef struct digest {
    uint64_t n, h;
} digest_t;

static int digest_sample(void *ctx, const char *path, const gb_sample_t *smp, const char *str,
                         size_t len)
{
    digest_t *d = ctx;
    uint64_t h = d->h ^ 0xcbf29ce484222325u;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3u;
    uint64_t bits;
    memcpy(&bits, &smp->v, sizeof bits);
    h = (h ^ (uint64_t)smp->t) * 0x100000001b3u;
    h = (h ^ (smp->type == GB_VT_BOOL  ? smp->v.b
              : smp->type == GB_VT_STR ? len
                                       : bits)) *
        0x100000001b3u;
    (void)str;
    d->h = h;
    d->n++;
    return 0;
}

static digest_t digest_of(const char *dir)
{
    digest_t d = {0, 0};
    assert_int_equal(gb_store_read_all(dir, digest_sample, &d), 0);
    return d;
}

/* Line protocol read in pieces, each piece's buffer overwritten after the call as a reader of a
 * file or socket does, stores exactly what one call over the whole text stores: plain lines
 * (whose series names are made in the buffer), lines of several fields, escaped ones, bad ones. */
static void test_lp_ingest_in_pieces(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 3000; i++) {
        long long t = 1763800000000000000 + (long long)i * 1000000;
        switch (i % 7) {
        case 3: /* several fields: their names are built apart */
            len +=
                (size_t)snprintf(text + len, cap - len, "m,tag=multi a=1i,b=2.5,c=true %lld\n", t);
            break;
        case 5: /* escaped: the full parser's way */
            len += (size_t)snprintf(text + len, cap - len, "m\\ x,t=e v=3 %lld\n", t);
            break;
        case 6: /* refused */
            len += (size_t)snprintf(text + len, cap - len, "not line protocol at all\n");
            break;
        default: /* plain */
            len += (size_t)snprintf(text + len, cap - len, "plant,tag=t%04d f=%d.%d %lld\n", i % 97,
                                    i % 50, i % 10, t);
        }
    }
    char *dir[2] = {tmpdir(), tmpdir()};
    for (int way = 0; way < 2; way++) {
        gb_store_t *s;
        assert_int_equal(gb_store_open(dir[way], NULL, &s), 0);
        gb_ingest_t in;
        gb_ingest_init(&in, s);
        char *work = malloc(len + 1);
        size_t used, have = 0, fed = 0;
        if (way == 0) {
            memcpy(work, text, len);
            assert_int_equal(gb_ingest_lp(&in, work, len, true, GB_LP_NS, 0, &used), 0);
            assert_int_equal(used, len);
        } else {
            for (int step = 0; fed < len || have; step++) {
                size_t piece = (size_t)(7 + (step * 131) % 311);
                if (piece > len - fed) piece = len - fed;
                memcpy(work + have, text + fed, piece);
                have += piece;
                fed += piece;
                bool eof = fed == len;
                assert_int_equal(gb_ingest_lp(&in, work, have, eof, GB_LP_NS, 0, &used), 0);
                memmove(work, work + used, have - used);
                have -= used;
                memset(work + have, 'X', len + 1 - have); /* what a next read brings */
                if (eof) assert_int_equal(have, 0);
            }
        }
        assert_int_equal(gb_ingest_flush(&in), 0);
        assert_int_equal(in.refused, 3000 / 7 + (3000 % 7 > 6));
        gb_ingest_clear(&in);
        free(work);
        assert_int_equal(gb_store_close(s), 0);
    }
    digest_t a = digest_of(dir[0]), b = digest_of(dir[1]);
    assert_true(a.n > 3000);
    assert_int_equal(a.n, b.n);
    assert_true(a.h == b.h);
    for (int way = 0; way < 2; way++) {
        rmrf(dir[way]);
        free(dir[way]);
    }
    free(text);
}

typedef struct texts {
    char got[4][16];
    int n;
} texts_t;

static int text_sample(void *ctx, const char *path, const gb_sample_t *smp, const char *str,
                       size_t len)
{
    texts_t *x = ctx;
    (void)path;
    if (smp->type == GB_VT_STR && x->n < 4 && len < 16) memcpy(x->got[x->n++], str, len);
    return 0;
}

/* String fields (the full parser's way) between plain lines (whose names stay in the buffer):
 * each string is stored as written. */
static void test_lp_ingest_strings(void **state)
{
    (void)state;
    char text[] = "a s=\"abc\" 1000\nb v=1 2000\nc s=\"xy\" 3000\nd v=2 4000\n";
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_ingest_t in;
    gb_ingest_init(&in, s);
    size_t used;
    assert_int_equal(gb_ingest_lp(&in, text, strlen(text), true, GB_LP_NS, 0, &used), 0);
    assert_int_equal(gb_ingest_flush(&in), 0);
    assert_int_equal(in.points, 4);
    gb_ingest_clear(&in);
    assert_int_equal(gb_store_close(s), 0);
    texts_t x = {0};
    assert_int_equal(gb_store_read_all(dir, text_sample, &x), 0);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.got[0], "abc");
    assert_string_equal(x.got[1], "xy");
    rmrf(dir);
    free(dir);
}

/* Samples of a read_all_of, as "path@t=v" joined by spaces. */
typedef struct {
    char text[256];
    size_t len;
} sampled_t;

static int text_of_sample(void *ctx, const char *path, const gb_sample_t *smp, const char *str,
                          size_t len)
{
    sampled_t *x = ctx;
    (void)str;
    (void)len;
    x->len += (size_t)snprintf(x->text + x->len, sizeof x->text - x->len, "%s%s@%lld=%g",
                               x->len ? " " : "", path, (long long)smp->t, smp->v.f64);
    return 0;
}

static bool want_not_b(void *ctx, const char *path)
{
    (void)ctx;
    return strcmp(path, "b") != 0;
}

/* read_all_of: only the series wanted, only from the time given, merged in time order across
 * flushes; unfiltered, the whole store as read_all gives it. */
static void test_read_all_of(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const char *paths[] = {"a", "b", "c"};
    for (int k = 0; k < 2; k++) { /* two flushes: times 1..3, then 4..6 at the close */
        for (int i = 1; i <= 3; i++)
            for (int p = 0; p < 3; p++) {
                gb_value_t v = {.type = GB_VT_F64, .f64 = p * 10 + k * 3 + i};
                assert_int_equal(gb_store_write(s, paths[p], k * 3 + i, GB_Q_GOOD, &v), 0);
            }
        if (!k) assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    sampled_t x = {0};
    assert_int_equal(gb_store_read_all_of(dir, 3, want_not_b, text_of_sample, &x), 0);
    assert_string_equal(x.text, "a@3=3 c@3=23 a@4=4 c@4=24 a@5=5 c@5=25 a@6=6 c@6=26");
    digest_t all = digest_of(dir), unfiltered = {0, 0};
    assert_int_equal(all.n, 18);
    assert_int_equal(gb_store_read_all_of(dir, INT64_MIN, NULL, digest_sample, &unfiltered), 0);
    assert_int_equal(unfiltered.n, all.n);
    assert_true(unfiltered.h == all.h);
    rmrf(dir);
    free(dir);
}

/* ---- the historian: reading back ------------------------------------------------------------ */

typedef struct {
    gb_time_t t[64];
    double v[64];
    int n;
} got_t;

static int got_point(void *ctx, const gb_point_t *p)
{
    got_t *g = ctx;
    if (g->n < 64) {
        g->t[g->n] = p->t;
        g->v[g->n] = p->v.type == GB_VT_F64 ? p->v.f64 : (double)p->v.i64;
        g->n++;
    }
    return 0;
}

static int latest_point(void *ctx, const char *path, const gb_point_t *p)
{
    (void)path;
    return got_point(ctx, p);
}

static void put_f(gb_store_t *s, const char *path, gb_time_t t, double v)
{
    gb_value_t x = {.type = GB_VT_F64, .f64 = v};
    assert_int_equal(gb_store_write(s, path, t, GB_Q_GOOD, &x), 0);
}

static void expect_series(gb_store_t *s, const char *path, const gb_time_t *t, const double *v,
                          int n)
{
    got_t g = {0};
    assert_int_equal(gb_store_read(s, path, INT64_MIN, INT64_MAX, got_point, &g), 0);
    assert_int_equal(g.n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(g.t[i], t[i]);
        assert_true(g.v[i] == v[i]);
    }
}

/* Late and out-of-order points are taken; a second point at the same time replaces the first --
 * in the head, across a flush, and across files written at different times. */
static void test_late_and_replaced(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    for (int i = 1; i <= 10; i++)
        put_f(s, "a", i * GB_NS_PER_S, i);
    assert_int_equal(gb_store_flush(s), 0);
    put_f(s, "a", 5 * GB_NS_PER_S, 50); /* replaces t=5 in the block file */
    put_f(s, "a", 0, -1);               /* older than everything */
    put_f(s, "a", 20 * GB_NS_PER_S, 20);
    put_f(s, "a", 20 * GB_NS_PER_S, 21); /* replaces within the head */
    static const gb_time_t t[] = {0,
                                  GB_NS_PER_S,
                                  2 * GB_NS_PER_S,
                                  3 * GB_NS_PER_S,
                                  4 * GB_NS_PER_S,
                                  5 * GB_NS_PER_S,
                                  6 * GB_NS_PER_S,
                                  7 * GB_NS_PER_S,
                                  8 * GB_NS_PER_S,
                                  9 * GB_NS_PER_S,
                                  10 * GB_NS_PER_S,
                                  20 * GB_NS_PER_S};
    static const double v[] = {-1, 1, 2, 3, 4, 50, 6, 7, 8, 9, 10, 21};
    expect_series(s, "a", t, v, 12);
    gb_point_t p;
    assert_int_equal(gb_store_latest(s, "a", &p), 0);
    assert_int_equal(p.t, 20 * GB_NS_PER_S);
    assert_true(p.v.f64 == 21);
    assert_int_equal(gb_store_latest(s, "nope", &p), GB_ENOENT);
    got_t all = {0};
    assert_int_equal(gb_store_each_latest(s, latest_point, &all), 0);
    assert_int_equal(all.n, 1);
    assert_int_equal(all.t[0], 20 * GB_NS_PER_S);
    assert_true(all.v[0] == 21);
    /* a range is half-open: [2 s, 5 s) */
    got_t g = {0};
    assert_int_equal(gb_store_read(s, "a", 2 * GB_NS_PER_S, 5 * GB_NS_PER_S, got_point, &g), 0);
    assert_int_equal(g.n, 3);
    /* a second block file, overlapping the first: the clean stop merges the two */
    assert_int_equal(gb_store_close(s), 0);
    gb_store_opts_t ro = {.readonly = true};
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    expect_series(s, "a", t, v, 12);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.block_files, 1);
    assert_int_equal(info.blocks, 1);
    assert_int_equal(info.head_points, 0);
    assert_int_equal(gb_store_close(s), 0);
    /* a series keeps its type */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_value_t str = {.type = GB_VT_STR, .str = "x", .len = 1};
    assert_int_equal(gb_store_write(s, "a", 0, GB_Q_GOOD, &str), GB_EINVAL);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

typedef struct {
    gb_time_t w[128];
    double v[128];
    int n;
} aggs_t;

static int got_agg(void *ctx, gb_time_t w, const gb_value_t *v)
{
    aggs_t *a = ctx;
    if (a->n < 128) {
        a->w[a->n] = w;
        a->v[a->n] = gb_value_number(v);
        a->n++;
    }
    return 0;
}

static double agg1(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, int64_t step,
                   gb_agg_t f, int *nwin)
{
    aggs_t a = {0};
    assert_int_equal(gb_store_aggregate(s, path, from, to, step, f, got_agg, &a), 0);
    *nwin = a.n;
    return a.n ? a.v[0] : NAN;
}

/*
 * An hour of 1 Hz points valued i mod 60: every minute holds 0..59 once, so each 1-minute window
 * has count 60, min 0, max 59, sum 1770, avg 29.5, first 0, last 59 and sample standard deviation
 * sqrt(305) (the variance of 0..59 is (60^2 - 1) / 12 = 299.9167 over n, 305 over n - 1). Answered
 * from the head (decoding) and, after a flush, from block statistics, with the same results.
 */
static void test_aggregates(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t T0 = 1700000000 * GB_NS_PER_S, MIN = 60 * GB_NS_PER_S, H = 3600 * GB_NS_PER_S;
    for (int i = 0; i < 3600; i++)
        put_f(s, "m", T0 + i * GB_NS_PER_S, i % 60);
    for (int pass = 0; pass < 2; pass++) {
        aggs_t a = {0};
        assert_int_equal(gb_store_aggregate(s, "m", T0, T0 + H, MIN, GB_AGG_AVG, got_agg, &a), 0);
        assert_int_equal(a.n, 60);
        for (int i = 0; i < 60; i++) {
            assert_int_equal(a.w[i], T0 + i * MIN);
            assert_true(a.v[i] == 29.5);
        }
        int n;
        static const struct {
            gb_agg_t f;
            double want;
        } one[] = {{GB_AGG_COUNT, 3600}, {GB_AGG_MIN, 0},   {GB_AGG_MAX, 59}, {GB_AGG_SUM, 106200},
                   {GB_AGG_AVG, 29.5},   {GB_AGG_FIRST, 0}, {GB_AGG_LAST, 59}};
        /* one window over the whole hour: after the flush, the block's statistics answer */
        for (size_t k = 0; k < sizeof one / sizeof *one; k++) {
            double got = agg1(s, "m", T0, T0 + 2 * H, 2 * H, one[k].f, &n);
            assert_int_equal(n, 1);
            assert_true(got == one[k].want);
        }
        double sd = agg1(s, "m", T0, T0 + MIN, MIN, GB_AGG_STDDEV, &n);
        assert_true(fabs(sd - sqrt(305.0)) < 1e-9);
        sd = agg1(s, "m", T0, T0 + 2 * H, 2 * H, GB_AGG_STDDEV, &n);
        assert_true(fabs(sd - sqrt((3600.0 / 3599.0) * 299.916666666666667)) < 1e-9);
        if (pass == 0) assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * Sums of decimals are the decimals' sums. An hour of 1 Hz points, 0.1 in even minutes and 0.7 in
 * odd ones: each minute's sum is exactly 6 or 42 and its average exactly 0.1 or 0.7 (adding the
 * doubles one by one gives 5.999999999999995 and 0.09999999999999991), and the hour's sum 1440
 * and average 0.4 -- before the flush (the head's points, a compensated sum), and after it (one
 * block: its digits, window by window, and its statistics for the hour). Beside it, the same with
 * a NaN at second 30 (the block has an exception: its values are decoded and summed as doubles,
 * compensated) and an integer-valued series of digits beyond 2^47 (summed as values: 2^17 of them
 * could pass 63 bits).
 */
static void test_decimal_aggregates(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t T0 = 1700000000 * GB_NS_PER_S, MIN = 60 * GB_NS_PER_S, H = 3600 * GB_NS_PER_S;
    for (int i = 0; i < 3600; i++) {
        double v = (i / 60) % 2 ? 0.7 : 0.1;
        put_f(s, "dec", T0 + i * GB_NS_PER_S, v);
        put_f(s, "nan", T0 + i * GB_NS_PER_S, i == 30 ? NAN : v);
        put_f(s, "big", T0 + i * GB_NS_PER_S, 150e12 + i % 60);
    }
    for (int pass = 0; pass < 2; pass++) {
        static const gb_agg_t fs[] = {GB_AGG_SUM,   GB_AGG_AVG,  GB_AGG_MIN,  GB_AGG_MAX,
                                      GB_AGG_FIRST, GB_AGG_LAST, GB_AGG_COUNT};
        for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
            aggs_t a = {0}, n = {0}, b = {0};
            assert_int_equal(gb_store_aggregate(s, "dec", T0, T0 + H, MIN, fs[k], got_agg, &a), 0);
            assert_int_equal(gb_store_aggregate(s, "nan", T0, T0 + H, MIN, fs[k], got_agg, &n), 0);
            assert_int_equal(gb_store_aggregate(s, "big", T0, T0 + H, MIN, fs[k], got_agg, &b), 0);
            assert_int_equal(a.n, 60);
            assert_int_equal(n.n, 60);
            assert_int_equal(b.n, 60);
            for (int w = 0; w < 60; w++) {
                double v = w % 2 ? 0.7 : 0.1;
                double want = fs[k] == GB_AGG_SUM     ? (w % 2 ? 42 : 6)
                              : fs[k] == GB_AGG_COUNT ? 60
                                                      : v;
                double bwant = fs[k] == GB_AGG_SUM                            ? 60 * 150e12 + 1770
                               : fs[k] == GB_AGG_AVG                          ? 150e12 + 29.5
                               : fs[k] == GB_AGG_COUNT                        ? 60
                               : fs[k] == GB_AGG_MIN || fs[k] == GB_AGG_FIRST ? 150e12
                                                                              : 150e12 + 59;
                assert_int_equal(a.w[w], T0 + w * MIN);
                assert_true(a.v[w] == want);
                assert_true(b.v[w] == bwant);
                if (w == 0 && fs[k] == GB_AGG_SUM) want = 5.9; /* the NaN is counted, not summed */
                assert_true(n.v[w] == want);
            }
        }
        int nw;
        assert_true(agg1(s, "dec", T0, T0 + 2 * H, 2 * H, GB_AGG_SUM, &nw) == 1440);
        assert_true(agg1(s, "dec", T0, T0 + 2 * H, 2 * H, GB_AGG_AVG, &nw) == 0.4);
        /* windows of 2.5 s from 0.75 s in, to 1.1 s before the end: 3 or 2 points each, whose
         * bounds the block's regular times give by arithmetic once flushed; asked 128 windows
         * at a time (what aggs_t holds), each checked against the points counted one by one */
        const gb_time_t from = T0 + GB_NS_PER_S * 3 / 4, to = T0 + H - GB_NS_PER_S * 11 / 10,
                        step = GB_NS_PER_S * 5 / 2;
        int windows = 0;
        for (gb_time_t f = from; f < to; f += 128 * step) {
            gb_time_t e = f + 128 * step < to ? f + 128 * step : to;
            aggs_t c = {0}, m = {0};
            assert_int_equal(gb_store_aggregate(s, "dec", f, e, step, GB_AGG_COUNT, got_agg, &c),
                             0);
            assert_int_equal(gb_store_aggregate(s, "dec", f, e, step, GB_AGG_SUM, got_agg, &m), 0);
            assert_int_equal(c.n, m.n);
            for (int w = 0; w < c.n; w++, windows++) {
                int cnt = 0;
                double sum = 0;
                for (int i = 0; i < 3600; i++) {
                    gb_time_t t = T0 + i * GB_NS_PER_S;
                    if (t >= c.w[w] && t < c.w[w] + step && t < e) {
                        cnt++;
                        sum += (i / 60) % 2 ? 0.7 : 0.1;
                    }
                }
                assert_int_equal(c.w[w], f + w * step);
                assert_true(cnt == 2 || cnt == 3);
                assert_true(c.v[w] == cnt);
                assert_true(fabs(m.v[w] - sum) <= 4 * DBL_EPSILON * sum);
            }
        }
        assert_int_equal(windows, 1439); /* 1440 windows, the last ([3598.25, 3598.9) s) empty */
        if (pass == 0) assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* The values of one aggregate's windows, as given (strings copied). */
typedef struct typed_aggs {
    gb_value_t v[8];
    char str[8][16];
    int n;
} typed_aggs_t;

static int got_typed(void *ctx, gb_time_t w, const gb_value_t *v)
{
    (void)w;
    typed_aggs_t *a = ctx;
    assert_true(a->n < 8);
    a->v[a->n] = *v;
    if (v->type == GB_VT_STR) {
        assert_true(v->len < sizeof a->str[0]);
        memcpy(a->str[a->n], v->str, v->len);
        a->str[a->n][v->len] = 0;
        a->v[a->n].str = a->str[a->n];
    }
    a->n++;
    return 0;
}

static typed_aggs_t typed1(gb_store_t *s, const char *path, gb_time_t to, int64_t step, gb_agg_t f)
{
    typed_aggs_t a = {0};
    assert_int_equal(gb_store_aggregate(s, path, 0, to, step, f, got_typed, &a), 0);
    return a;
}

/*
 * Aggregates come in their own type: count an integer; first and last exactly the series' value
 * (a string, an integer beyond 2^53); min and max of integers integers. Text "s0" at 0 s, "s9" at
 * 9 s and "s5" at 5 s; integers 2^53 + 1 at 1 s and -2^53 - 3 at 2 s. Asked of the head, then of
 * the blocks (strings decoded from them, numbers from their statistics). A window of NaN only has
 * no sum, like no min or avg.
 */
static void test_typed_aggregates(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t S = GB_NS_PER_S;
    const int64_t big = 9007199254740993, low = -9007199254740995;
    static const char *const text[] = {"s0", "s9", "s5"};
    static const int at[] = {0, 9, 5};
    for (int i = 0; i < 3; i++) {
        gb_value_t v = {.type = GB_VT_STR, .str = text[i], .len = 2};
        assert_int_equal(gb_store_write(s, "txt", at[i] * S, GB_Q_GOOD, &v), 0);
    }
    gb_value_t i1 = {.type = GB_VT_I64, .i64 = big}, i2 = {.type = GB_VT_I64, .i64 = low};
    assert_int_equal(gb_store_write(s, "int", 1 * S, GB_Q_GOOD, &i1), 0);
    assert_int_equal(gb_store_write(s, "int", 2 * S, GB_Q_GOOD, &i2), 0);
    put_f(s, "nan", 0, NAN);
    for (int pass = 0; pass < 2; pass++) {
        typed_aggs_t a = typed1(s, "txt", 10 * S, 10 * S, GB_AGG_FIRST);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.v[0].type, GB_VT_STR);
        assert_string_equal(a.v[0].str, "s0");
        a = typed1(s, "txt", 10 * S, 10 * S, GB_AGG_LAST);
        assert_int_equal(a.v[0].type, GB_VT_STR);
        assert_string_equal(a.v[0].str, "s9");
        a = typed1(s, "txt", 10 * S, 5 * S, GB_AGG_LAST); /* [0,5): s0; [5,10): s5 then s9 */
        assert_int_equal(a.n, 2);
        assert_string_equal(a.v[0].str, "s0");
        assert_string_equal(a.v[1].str, "s9");
        a = typed1(s, "txt", 10 * S, 10 * S, GB_AGG_COUNT);
        assert_int_equal(a.v[0].type, GB_VT_I64);
        assert_int_equal(a.v[0].i64, 3);
        a = typed1(s, "int", 10 * S, 10 * S, GB_AGG_FIRST);
        assert_int_equal(a.v[0].type, GB_VT_I64);
        assert_true(a.v[0].i64 == big);
        a = typed1(s, "int", 10 * S, 10 * S, GB_AGG_LAST);
        assert_true(a.v[0].type == GB_VT_I64 && a.v[0].i64 == low);
        a = typed1(s, "int", 10 * S, 10 * S, GB_AGG_MIN);
        assert_true(a.v[0].type == GB_VT_I64 && a.v[0].i64 == (int64_t)(double)low);
        a = typed1(s, "int", 10 * S, 10 * S, GB_AGG_AVG);
        assert_int_equal(a.v[0].type, GB_VT_F64);
        a = typed1(s, "nan", 10 * S, 10 * S, GB_AGG_SUM);
        assert_true(a.n == 1 && a.v[0].type == GB_VT_F64 && isnan(a.v[0].f64));
        a = typed1(s, "nan", 10 * S, 10 * S, GB_AGG_COUNT);
        assert_true(a.n == 1 && a.v[0].i64 == 1);
        if (pass == 0) assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_agg_type(GB_AGG_MAX, GB_VT_BOOL), GB_VT_BOOL);
    assert_int_equal(gb_agg_type(GB_AGG_SUM, GB_VT_I64), GB_VT_F64);
    assert_int_equal(gb_agg_type(GB_AGG_LAST, GB_VT_STR), GB_VT_STR);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

static void count_series(void *ctx, const char *path, gb_vtype_t type, uint64_t points)
{
    (void)path;
    (void)type;
    (void)points;
    (*(uint64_t *)ctx)++;
}

/* Ingests TEXT (line protocol) into S in one call; returns the ingest's state, cleared after. */
static gb_ingest_t ingest_text(gb_store_t *s, char *text, size_t len)
{
    gb_ingest_t in, out;
    gb_ingest_init(&in, s);
    size_t used;
    assert_int_equal(gb_ingest_lp(&in, text, len, true, GB_LP_NS, 0, &used), 0);
    assert_int_equal(gb_ingest_flush(&in), 0);
    out = in;
    out.pts = NULL; /* the batch's memory goes with IN */
    out.at = NULL;
    out.lineno = NULL;
    out.why = NULL;
    out.arena = NULL;
    out.csv = NULL;
    gb_ingest_clear(&in);
    return out;
}

/*
 * What is refused is counted point by point and located by its own line: a value of another type
 * than its series' (found when the batch is written, after later lines), a series name longer
 * than the store keeps (the quick way and the full parser's), text longer than a sample holds.
 * Nothing refused reaches the store, which opens again as it was.
 */
static void test_lp_ingest_refusals(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    char t1[] = "tc v=1 1\ntc v=\"a\" 2\ntc v=3 3\nok v=1 4\ntc v=\"b\" 5\n";
    gb_ingest_t r = ingest_text(s, t1, strlen(t1));
    assert_int_equal(r.points, 3);
    assert_int_equal(r.refused, 2);
    assert_int_equal(r.first_line, 2);
    assert_non_null(
        strstr(r.first_error, "series tc#v is stored with another type than this string"));
    /* an earlier line's refusal found later still comes first; a later one does not replace it */
    char t2[] = "ok v=bad 1\nok v=2 2\n";
    r = ingest_text(s, t2, strlen(t2));
    assert_int_equal(r.first_line, 1);
    assert_int_equal(r.refused, 1);
    /* names: 9,000 bytes the quick way, then the full parser's (an escape sends it there) */
    size_t big = 9000, len = 0;
    char *t3 = malloc(2 * big + GB_SAMPLE_STR_MAX + 300);
    assert_non_null(t3);
    len += (size_t)sprintf(t3 + len, "m,t=");
    memset(t3 + len, 'y', big);
    len += big;
    len += (size_t)sprintf(t3 + len, " v=1 1\nm,t=\\ ");
    memset(t3 + len, 'z', big);
    len += big;
    len += (size_t)sprintf(t3 + len, " v=1 2\nm v=2 3\nstr s=\"");
    memset(t3 + len, 'x', GB_SAMPLE_STR_MAX + 1);
    len += GB_SAMPLE_STR_MAX + 1;
    len += (size_t)sprintf(t3 + len, "\" 4\n");
    r = ingest_text(s, t3, len);
    assert_int_equal(r.points, 1);
    assert_int_equal(r.refused, 3);
    assert_int_equal(r.first_line, 1);
    assert_non_null(strstr(r.first_error, "longer than 8191"));
    free(t3);
    /* the refusals of the ten earliest lines are kept in line order, also one found only when
     * the batch is written (the conflict on line 1, after the parse errors of lines 2 to 12) */
    char t5[300] = "tc v=\"s\" 1\n";
    for (int i = 2; i <= 12; i++)
        strcat(t5, "bad\n");
    r = ingest_text(s, t5, strlen(t5));
    assert_int_equal(r.refused, 12);
    assert_int_equal(r.nreport, GB_INGEST_REPORTS);
    assert_int_equal(r.report[0].line, 1);
    assert_non_null(strstr(r.report[0].why, "another type"));
    for (size_t k = 1; k < GB_INGEST_REPORTS; k++)
        assert_int_equal(r.report[k].line, k + 1);
    /* a line with a field of another type than its series' is refused whole, each such line
     * listed (not only a batch's first) */
    char t7[] =
        "k a=1,b=1 1\nk a=1i 2\nk b=1i 3\nk a=1i,b=1i 4\nk a=1i,b=2 5\nk a=2,b=2i 6\nk a=\"s\" 7\n";
    r = ingest_text(s, t7, strlen(t7));
    assert_int_equal(r.points, 2);
    assert_int_equal(r.refused, 6);
    assert_int_equal(r.nreport, 6);
    for (size_t k = 0; k < 6; k++)
        assert_int_equal(r.report[k].line, k + 2);
    assert_non_null(
        strstr(r.report[4].why, "series k#b is stored with another type than this int value"));
    aggs_t ka = {0};
    assert_int_equal(gb_store_aggregate(s, "k#a", 0, 10, 10, GB_AGG_COUNT, got_agg, &ka), 0);
    assert_true(ka.n == 1 && ka.v[0] == 1);
    /* the range's last nanosecond, which no [from, to) reaches, is refused; its first is not */
    char t6[] =
        "m v=1 9223372036854775807\nm v=1 -9223372036854775808\nm v=1 9223372036854775806\n";
    r = ingest_text(s, t6, strlen(t6));
    assert_int_equal(r.refused, 1);
    assert_int_equal(r.points, 2);
    assert_non_null(strstr(r.first_error, "past the latest stored"));
    /* a line with one field that cannot be stored is refused whole, as InfluxDB does; a
     * byte-order mark before the first line is not part of a name */
    char t4[] = "\xef\xbb\xbf"
                "bom v=1 1\ncpu a=-1i,u=18446744073709551615u 1\ncpu b=1,c=\"x\" 2\n";
    r = ingest_text(s, t4, strlen(t4));
    assert_int_equal(r.points, 3);
    assert_int_equal(r.refused, 1);
    assert_int_equal(r.first_line, 2);
    aggs_t none = {0}; /* nothing of the refused line */
    assert_int_equal(gb_store_aggregate(s, "cpu#a", 0, 10, 10, GB_AGG_COUNT, got_agg, &none),
                     GB_ENOENT);
    /* the store itself refuses such a name, whoever writes it */
    char *name = malloc(70000);
    assert_non_null(name);
    memset(name, 'n', 69999);
    name[69999] = 0;
    gb_store_wpoint_t w[2] = {{.path = "ok#v", .t = 9, .v = {.type = GB_VT_F64, .f64 = 1}},
                              {.path = name, .t = 9, .v = {.type = GB_VT_F64, .f64 = 1}}};
    size_t bad = 0;
    uint8_t why[2] = {9, 9};
    assert_int_equal(gb_store_write_points(s, w, 2, &bad, why), 0);
    assert_int_equal(bad, 1);
    assert_int_equal(why[0], GB_WP_TAKEN);
    assert_int_equal(why[1], GB_WP_NAME);
    free(name);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    uint64_t nser = 0;
    assert_int_equal(gb_store_each_series(s, count_series, &nser), 0);
    assert_int_equal(nser, 8); /* tc#v, ok#v, m#v, bom#v, cpu#b, cpu#c, k#a, k#b */
    assert_int_equal(typed1(s, "bom#v", 10, 10, GB_AGG_COUNT).n, 1);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * Time-weighted average of a state-like signal: 0 from 0 s, 10 from 10 s, 0 from 40 s, asked up
 * to 60 s. Over [0, 60): (0*10 + 10*30 + 0*20) / 60 = 5. In 30 s windows: (10*20)/30 and
 * (10*10)/30. From 20 s, the value 10 set at 10 s carries in: (10*20 + 0*20) / 40 = 5.
 */
static void test_time_weighted_average(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t S = GB_NS_PER_S;
    put_f(s, "st", 0, 0);
    put_f(s, "st", 10 * S, 10);
    put_f(s, "st", 40 * S, 0);
    for (int pass = 0; pass < 2; pass++) {
        int n;
        assert_true(agg1(s, "st", 0, 60 * S, 60 * S, GB_AGG_TWA, &n) == 5);
        aggs_t a = {0};
        assert_int_equal(gb_store_aggregate(s, "st", 0, 60 * S, 30 * S, GB_AGG_TWA, got_agg, &a),
                         0);
        assert_int_equal(a.n, 2);
        assert_true(fabs(a.v[0] - 200.0 / 30) < 1e-12);
        assert_true(fabs(a.v[1] - 100.0 / 30) < 1e-12);
        assert_true(agg1(s, "st", 20 * S, 60 * S, 40 * S, GB_AGG_TWA, &n) == 5);
        if (pass == 0) assert_int_equal(gb_store_flush(s), 0);
    }
    /* strings: count, first and last only */
    gb_value_t str = {.type = GB_VT_STR, .str = "RUN", .len = 3};
    assert_int_equal(gb_store_write(s, "exec", 0, GB_Q_GOOD, &str), 0);
    aggs_t a = {0};
    assert_int_equal(gb_store_aggregate(s, "exec", 0, S, S, GB_AGG_AVG, got_agg, &a), GB_EINVAL);
    assert_int_equal(gb_store_aggregate(s, "exec", 0, S, S, GB_AGG_COUNT, got_agg, &a), 0);
    assert_int_equal(a.n, 1);
    assert_true(a.v[0] == 1);
    gb_agg_t f;
    assert_int_equal(gb_agg_parse("twa", &f), 0);
    assert_int_equal(f, GB_AGG_TWA);
    assert_int_equal(gb_agg_parse("median", &f), GB_EINVAL);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

typedef struct {
    gb_store_t *s;
    int done;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    gb_store_wpoint_t pts[1000];
    static const char *const names[] = {"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"};
    for (int b = 0; b < 200; b++) {
        for (int i = 0; i < 1000; i++) {
            int k = b * 1000 + i;
            pts[i] = (gb_store_wpoint_t){.path = names[k % 10],
                                         .t = (gb_time_t)(k / 10) * GB_NS_PER_MS,
                                         .q = GB_Q_GOOD,
                                         .v = {.type = GB_VT_F64, .f64 = k}};
        }
        if (gb_store_write_points(w->s, pts, 1000, NULL, NULL) != 0) break;
    }
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int count_one(void *ctx, const gb_point_t *p)
{
    (void)p;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Flushes run while another thread writes: nothing is lost or doubled, and reads see all of it. */
static void test_flush_while_writing(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    writer_t w = {s, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    int flushes = 0;
    while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
        assert_int_equal(gb_store_flush(s), 0);
        uint64_t n = 0;
        assert_true(gb_store_read(s, "w3", INT64_MIN, INT64_MAX, count_one, &n) == 0 || n == 0);
        flushes++;
    }
    pthread_join(th, NULL);
    assert_true(flushes > 1);
    uint64_t total = 0;
    static const char *const names[] = {"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"};
    for (int i = 0; i < 10; i++) {
        uint64_t n = 0;
        assert_int_equal(gb_store_read(s, names[i], INT64_MIN, INT64_MAX, count_one, &n), 0);
        assert_int_equal(n, 20000);
        total += n;
    }
    assert_int_equal(total, 200000);
    assert_int_equal(gb_store_close(s), 0);
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, 200000);
    rmrf(dir);
    free(dir);
}

/* Sums a series' values and counts its points. */
typedef struct {
    uint64_t n;
    double sum;
} tally_t;

static int tally(void *ctx, const gb_point_t *p)
{
    tally_t *t = ctx;
    t->n++;
    t->sum += p->v.f64;
    return 0;
}

/*
 * Writers that fill the stage's chunks and drain them off the store's lock, while a reader and
 * flushes run: every writer sees its own last write at once (the reads drain what others handed
 * over and have not drained yet), and in the end every point is there once.
 */
/* few series, so that a chunk (a series' 16,384 points here) fills between two reads */
enum { RW_WRITERS = 3, RW_SERIES = 2, RW_BATCH = 4000, RW_BATCHES = 60 };

typedef struct {
    gb_store_t *s;
    int id;
    int failed; /* what went wrong, 0: nothing */
} rw_writer_t;

static void *rw_writer_main(void *arg)
{
    rw_writer_t *w = arg;
    char names[RW_SERIES][16];
    for (int k = 0; k < RW_SERIES; k++)
        snprintf(names[k], sizeof names[k], "rw%d/s%02d", w->id, k);
    gb_store_wpoint_t *pts = calloc(RW_BATCH, sizeof *pts);
    for (int b = 0; b < RW_BATCHES && !w->failed; b++) {
        for (int i = 0; i < RW_BATCH; i++) {
            int k = i % RW_SERIES, seq = b * (RW_BATCH / RW_SERIES) + i / RW_SERIES;
            pts[i] = (gb_store_wpoint_t){.path = names[k],
                                         .t = (gb_time_t)seq * GB_NS_PER_MS,
                                         .q = GB_Q_GOOD,
                                         .v = {.type = GB_VT_F64, .f64 = seq}};
        }
        if (gb_store_write_points(w->s, pts, RW_BATCH, NULL, NULL) != 0) {
            w->failed = 1;
            break;
        }
        /* this writer's newest point of a series, and all its points so far, read back: by the
         * first writer now and then, by the others at the end */
        if (w->id == 0 ? b % 12 != 11 : b != RW_BATCHES - 1) continue;
        int k = b % RW_SERIES, last = (b + 1) * (RW_BATCH / RW_SERIES) - 1;
        gb_point_t p;
        uint64_t n = 0;
        if (gb_store_latest(w->s, names[k], &p) != 0 || p.t != (gb_time_t)last * GB_NS_PER_MS)
            w->failed = 2;
        else if (gb_store_read(w->s, names[k], INT64_MIN, INT64_MAX, count_one, &n) != 0 ||
                 n != (uint64_t)last + 1)
            w->failed = 3;
    }
    free(pts);
    return NULL;
}

/* Threads asking for the newest point of their own series at once each get their own. */
typedef struct {
    gb_store_t *s;
    int id, wrong;
} latest_asker_t;

static void *latest_asker_main(void *arg)
{
    latest_asker_t *a = arg;
    char num[16], str[16], want[16];
    snprintf(num, sizeof num, "n%d", a->id);
    snprintf(str, sizeof str, "s%d", a->id);
    snprintf(want, sizeof want, "text %d", a->id);
    for (int i = 0; i < 20000; i++) {
        gb_point_t p;
        if (gb_store_latest(a->s, num, &p) != 0 || p.v.f64 != a->id || p.t != a->id) a->wrong++;
        if (gb_store_latest(a->s, str, &p) != 0 || p.v.len != strlen(want) ||
            memcmp(p.v.str, want, p.v.len) != 0)
            a->wrong++;
    }
    return NULL;
}

static void test_latest_from_threads(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    enum { ASKERS = 4 };
    latest_asker_t a[ASKERS];
    pthread_t th[ASKERS];
    for (int i = 0; i < ASKERS; i++) {
        char name[16], text[16];
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(
            gb_store_write(s, name, i, GB_Q_GOOD, &(gb_value_t){.type = GB_VT_F64, .f64 = i}), 0);
        snprintf(name, sizeof name, "s%d", i);
        snprintf(text, sizeof text, "text %d", i);
        gb_value_t v = {.type = GB_VT_STR, .str = text, .len = strlen(text)};
        assert_int_equal(gb_store_write(s, name, i, GB_Q_GOOD, &v), 0);
    }
    for (int i = 0; i < ASKERS; i++) {
        a[i] = (latest_asker_t){s, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, latest_asker_main, &a[i]), 0);
    }
    for (int i = 0; i < ASKERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].wrong, 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * A chunk handed over while another thread drains stays pending when its writer returns: a read
 * right after must still see its points (it drains what is pending first), and the later of
 * two points at one time must still win.
 */
static void test_pending_chunk_seen_by_readers(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    assert_int_equal(gb_store_write(s, "p", 0, GB_Q_GOOD, &(gb_value_t){.type = GB_VT_F64}), 0);
    enum { N = GB_STAGE_BUCKET_POINTS + 100 };
    gb_store_wpoint_t *pts = calloc(N, sizeof *pts);
    for (int i = 0; i < N; i++) /* times 1..N, then 1..100 again with other values */
        pts[i] = (gb_store_wpoint_t){
            .path = "p",
            .t = (i < GB_STAGE_BUCKET_POINTS ? i + 1 : i - GB_STAGE_BUCKET_POINTS + 1),
            .q = GB_Q_GOOD,
            .v = {.type = GB_VT_F64, .f64 = i < GB_STAGE_BUCKET_POINTS ? 1 : 2}};
    pthread_mutex_lock(&s->stage.dmu); /* another drain under way: the writer leaves its chunk */
    assert_int_equal(gb_store_write_points(s, pts, N, NULL, NULL), 0);
    pthread_mutex_lock(&s->stage.pmu);
    bool pending = s->stage.pending != NULL;
    pthread_mutex_unlock(&s->stage.pmu);
    pthread_mutex_unlock(&s->stage.dmu);
    assert_true(pending);
    tally_t t = {0};
    assert_int_equal(gb_store_read(s, "p", INT64_MIN, INT64_MAX, tally, &t), 0);
    assert_int_equal(t.n, GB_STAGE_BUCKET_POINTS + 1);            /* 0..16384, each time once */
    assert_true(t.sum == GB_STAGE_BUCKET_POINTS - 100 + 2 * 100); /* 1..100 hold the later 2 */
    gb_point_t p;
    assert_int_equal(gb_store_latest(s, "p", &p), 0);
    assert_int_equal(p.t, GB_STAGE_BUCKET_POINTS);
    free(pts);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* A chunk handed over while another drain holds the heads is drained by the drain thread, with
 * no reader and no further writer to do it. */
static void test_drain_thread(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    assert_true(s->stage.drainer_on);
    /* the series made first: a new series takes the heads' lock too */
    assert_int_equal(gb_store_write(s, "p", 0, GB_Q_GOOD, &(gb_value_t){.type = GB_VT_F64}), 0);
    enum { N = GB_STAGE_BUCKET_POINTS + 100 };
    gb_store_wpoint_t *pts = calloc(N, sizeof *pts);
    for (int i = 0; i < N; i++)
        pts[i] = (gb_store_wpoint_t){
            .path = "p", .t = i + 1, .q = GB_Q_GOOD, .v = {.type = GB_VT_F64, .f64 = i}};
    pthread_mutex_lock(&s->stage.dmu); /* the writer hands its full chunk over and goes */
    assert_int_equal(gb_store_write_points(s, pts, N, NULL, NULL), 0);
    pthread_mutex_lock(&s->stage.pmu);
    assert_non_null(s->stage.pending);
    pthread_mutex_unlock(&s->stage.pmu);
    pthread_mutex_unlock(&s->stage.dmu);
    bool drained = false;
    for (int i = 0; i < 500 && !drained; i++) {
        pthread_mutex_lock(&s->stage.pmu);
        drained = s->stage.pending == NULL;
        pthread_mutex_unlock(&s->stage.pmu);
        if (!drained) usleep(10000);
    }
    assert_true(drained);
    pthread_mutex_lock(&s->mu);
    pthread_mutex_lock(&s->stage.dmu);
    size_t in_head = gb_store__find(s, "p")->head.n, staged = s->stage.n;
    pthread_mutex_unlock(&s->stage.dmu);
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(in_head, GB_STAGE_BUCKET_POINTS); /* the chunk; the rest is still staged */
    assert_int_equal(staged, N + 1 - GB_STAGE_BUCKET_POINTS);
    tally_t t = {0};
    assert_int_equal(gb_store_read(s, "p", INT64_MIN, INT64_MAX, tally, &t), 0);
    assert_int_equal(t.n, N + 1);
    free(pts);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

static void test_writers_drain_off_the_lock(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    gb_store_opts_t o = {.flush_points = 300000}; /* flushes of their own too */
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    rw_writer_t w[RW_WRITERS];
    pthread_t th[RW_WRITERS];
    for (int i = 0; i < RW_WRITERS; i++) {
        w[i] = (rw_writer_t){s, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, rw_writer_main, &w[i]), 0);
    }
    for (int r = 0; r < 3; r++) { /* a reader of every series' count, and a flush */
        gb_store_info_t info;
        gb_store_stat(s, &info);
        assert_true(info.points <= (uint64_t)RW_WRITERS * RW_BATCHES * RW_BATCH);
        usleep(20000);
    }
    assert_int_equal(gb_store_flush(s), 0);
    for (int i = 0; i < RW_WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    const uint64_t per = (uint64_t)RW_BATCHES * RW_BATCH / RW_SERIES;
    for (int i = 0; i < RW_WRITERS; i++)
        for (int k = 0; k < RW_SERIES; k++) {
            char name[16];
            snprintf(name, sizeof name, "rw%d/s%02d", i, k);
            tally_t t = {0};
            assert_int_equal(gb_store_read(s, name, INT64_MIN, INT64_MAX, tally, &t), 0);
            assert_int_equal(t.n, per);
            assert_true(t.sum == (double)(per - 1) * (double)per / 2);
        }
    assert_int_equal(gb_store_close(s), 0);
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, (uint64_t)RW_WRITERS * RW_BATCHES * RW_BATCH);
    rmrf(dir);
    free(dir);
}

/* Waits (up to 10 s) for the flush thread to bring the head under LIMIT points; *INFO as then. */
static void head_under(gb_store_t *s, uint64_t limit, gb_store_info_t *info)
{
    for (int i = 0; i < 2000; i++) {
        gb_store_stat(s, info);
        if (info->head_points < limit) return;
        usleep(5000);
    }
}

/*
 * Flushes run on the store's flush thread: writes that make the head due for one go on without
 * anyone calling a flush or a tick, and the head reaches block files meanwhile. A writer faster
 * than the flushes is held back once the head holds two flushes' worth, so memory stays bounded
 * (the points being flushed aside, the head never holds more than that and a batch). Every point
 * is there afterwards, and after a reopen.
 */
static void test_flush_thread(void **state)
{
    (void)state;
    enum { SERIES = 50, BATCH = 1000, BATCHES = 60, FLUSH = 4000 };
    char *dir = tmpdir();
    gb_store_opts_t o = {.flush_points = FLUSH};
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    static char names[SERIES][16];
    for (int i = 0; i < SERIES; i++)
        snprintf(names[i], sizeof names[i], "f%02d", i);
    gb_store_wpoint_t *w = calloc(BATCH, sizeof *w);
    uint64_t most = 0;
    gb_store_info_t info;
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < BATCH; i++) {
            int k = b * BATCH + i;
            w[i] = (gb_store_wpoint_t){.path = names[k % SERIES],
                                       .t = (gb_time_t)(k / SERIES) * GB_NS_PER_S,
                                       .q = GB_Q_GOOD,
                                       .v = {.type = GB_VT_F64, .f64 = k}};
        }
        size_t bad = 1;
        assert_int_equal(gb_store_write_points(s, w, BATCH, &bad, NULL), 0);
        assert_int_equal(bad, 0);
        gb_store_stat(s, &info);
        if (info.head_points > most) most = info.head_points;
    }
    /* head and the flush being written: each at most two flushes' worth and a batch */
    assert_true(most <= 2 * (2 * FLUSH + BATCH));
    /* the flushes due are written with no call: the head goes under a flush's worth */
    head_under(s, FLUSH, &info);
    assert_true(info.head_points < FLUSH);
    assert_true(info.block_files >= 1);
    assert_int_equal(info.points, BATCH * BATCHES);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < SERIES; i++) {
            tally_t t = {0};
            assert_int_equal(gb_store_read(s, names[i], INT64_MIN, INT64_MAX, tally, &t), 0);
            /* series i holds k = i, i + 50, ...: 1200 points */
            assert_int_equal(t.n, BATCH * BATCHES / SERIES);
            double want = (double)t.n * i + SERIES * (double)t.n * (t.n - 1) / 2;
            assert_true(t.sum == want);
        }
        assert_int_equal(gb_store_close(s), 0);
        if (pass == 0) assert_int_equal(gb_store_open(dir, &o, &s), 0);
    }
    free(w);
    rmrf(dir);
    free(dir);
}

/* How many times NEEDLE occurs in the file PATH. */
static int occurrences(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        for (const char *p = line; (p = strstr(p, needle)) != NULL; p++)
            n++;
    fclose(f);
    return n;
}

/*
 * A flush that fails on the flush thread (the blocks directory gone, a file in its place) loses
 * nothing: writes go on being taken and every point stays readable; the failure is logged once
 * however often the flush is tried again (every second); and once the directory is back the
 * flush goes through by itself. Every point is then in block files, and there after a reopen.
 */
static void test_flush_thread_failure(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_opts_t o = {.flush_points = 1000};
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    char blocks[600], away[600], logf[600];
    snprintf(blocks, sizeof blocks, "%s/blocks", dir);
    snprintf(away, sizeof away, "%s/blocks.away", dir);
    snprintf(logf, sizeof logf, "%s/log", dir);
    assert_int_equal(rename(blocks, away), 0);
    int fd = open(blocks, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    /* the log into a file meanwhile */
    fflush(stderr);
    int saved = dup(2), lf = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && lf >= 0);
    assert_true(dup2(lf, 2) == 2);
    for (int i = 0; i < 3000; i++)
        put_f(s, "x", (gb_time_t)i * GB_NS_PER_S, i);
    usleep(2500 * 1000); /* the flush is tried two or three times */
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.points, 3000);
    assert_int_equal(info.head_points, 3000);
    assert_int_equal(info.block_files, 0);
    tally_t t = {0};
    assert_int_equal(gb_store_read(s, "x", INT64_MIN, INT64_MAX, tally, &t), 0);
    assert_int_equal(t.n, 3000);
    assert_int_equal(unlink(blocks), 0);
    assert_int_equal(rename(away, blocks), 0);
    head_under(s, 1, &info); /* the next try goes through */
    /* the thread says so once the flush has returned, a moment after the head is in its file */
    for (int i = 0; i < 2000 && occurrences(logf, "flushes go through again") == 0; i++)
        usleep(5000);
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    close(lf);
    assert_int_equal(info.head_points, 0);
    assert_true(info.block_files >= 1);
    assert_int_equal(info.points, 3000);
    assert_int_equal(occurrences(logf, "cannot write"), 1);
    assert_int_equal(occurrences(logf, "flush failed"), 1);
    assert_int_equal(occurrences(logf, "flushes go through again"), 1);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    t = (tally_t){0};
    assert_int_equal(gb_store_read(s, "x", INT64_MIN, INT64_MAX, tally, &t), 0);
    assert_int_equal(t.n, 3000);
    assert_true(t.sum == 2999.0 * 3000 / 2);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * Many flushes make many files; eight of a level are merged into one of the next. 70 flushes of
 * 10 points leave one file of 64 flushes and 6 of one, every point readable, a point rewritten in
 * a later flush still winning; the clean stop merges the six into one; and a file left over from
 * a compaction cut short by a crash (its flush is inside the compacted file's range) is skipped
 * and deleted on the next open.
 */
static void test_compaction(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    char saved[700], first[700];
    snprintf(first, sizeof first, "%s/blocks/00000001.gbb", dir);
    snprintf(saved, sizeof saved, "%s/saved.gbb", dir);
    for (int f = 0; f < 70; f++) {
        for (int i = 0; i < 10; i++)
            put_f(s, "c", (f * 10 + i) * GB_NS_PER_S, f * 10 + i);
        if (f == 40) put_f(s, "c", 5 * GB_NS_PER_S, -5); /* rewrites a point of the first flush */
        assert_int_equal(gb_store_flush(s), 0);
        if (f == 0) { /* keep a copy of the first flush's file, to play a crash later */
            char cmd[1600];
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", first, saved);
            assert_int_equal(system(cmd), 0);
        }
    }
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.block_files, 7);
    assert_int_equal(info.points, 700);
    uint64_t n = 0;
    assert_int_equal(gb_store_read(s, "c", INT64_MIN, INT64_MAX, count_one, &n), 0);
    assert_int_equal(n, 700);
    got_t g = {0};
    assert_int_equal(gb_store_read(s, "c", 5 * GB_NS_PER_S, 6 * GB_NS_PER_S, got_point, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == -5);
    assert_int_equal(gb_store_close(s), 0);
    /* the first flush's file comes back, as if the compaction had stopped before deleting it */
    assert_int_equal(rename(saved, first), 0);
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_store_stat(s, &info);
    assert_int_equal(info.points, 700);
    assert_int_equal(info.block_files, 2);
    assert_int_equal(info.blocks, 2); /* one for the 640 points, one for the last 60 */
    g.n = 0;
    assert_int_equal(gb_store_read(s, "c", 5 * GB_NS_PER_S, 6 * GB_NS_PER_S, got_point, &g), 0);
    assert_true(g.n == 1 && g.v[0] == -5);
    assert_int_equal(gb_store_close(s), 0);
    struct stat st;
    assert_true(stat(first, &st) != 0); /* deleted by the writer that opened the store */
    rmrf(dir);
    free(dir);
}

/*
 * Retention: series under old/ keep 1 h, the rest forever. Blocks whose newest point is
 * older than that go at the next open, and a block file left with nothing is deleted; a block
 * that still holds a newer point stays whole.
 */
static void test_retention(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    gb_retention_t rules[] = {{"old/*", 3600 * GB_NS_PER_S, 0, 0}};
    gb_store_opts_t o = {.retention = rules, .nretention = 1};
    gb_time_t now = gb_now(), H = 3600 * GB_NS_PER_S;
    /* a writer that stops without a clean stop (which would merge its files) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gb_value_t x = {.type = GB_VT_F64, .f64 = 1};
        int bad = gb_store_open(dir, NULL, &s);
        bad |= gb_store_write(s, "old/a", now - 3 * H, GB_Q_GOOD, &x); /* file 1: too old ... */
        bad |= gb_store_write(s, "keep", now - 3 * H, GB_Q_GOOD, &x);  /* ... and no rule */
        bad |= gb_store_flush(s);
        bad |= gb_store_write(s, "old/a", now - 2 * H, GB_Q_GOOD, &x); /* file 2: only too old */
        bad |= gb_store_write(s, "old/b", now - 2 * H, GB_Q_GOOD, &x);
        bad |= gb_store_flush(s);
        /* the log: one series with an old and a recent point */
        bad |= gb_store_write(s, "old/c", now - 2 * H, GB_Q_GOOD, &x);
        bad |= gb_store_write(s, "old/c", now - 60 * GB_NS_PER_S, GB_Q_GOOD, &x);
        _exit(bad || gb_store_sync(s) ? 1 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.points, 3); /* keep, and old/c's two points */
    uint64_t n = 0;
    assert_int_equal(gb_store_read(s, "old/a", INT64_MIN, INT64_MAX, count_one, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gb_store_read(s, "keep", INT64_MIN, INT64_MAX, count_one, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(info.block_files, 1); /* file 2 held only old points: deleted */
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/blocks/00000002.gbb", dir);
    assert_true(stat(p, &sb) != 0);
    /* old/c's block holds a recent point: it stays whole, its old point too */
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_store_stat(s, &info);
    assert_int_equal(info.points, 3);
    assert_int_equal(info.block_files, 1); /* files 1 and 3, merged by the clean stop */
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * Thousands of series written interleaved, as a plant's tags arrive: points pass through the
 * store's stage (buckets by series number, drained when one fills and before any read), so
 * this checks that nothing is lost, misplaced or reordered on the way. Late points, replaced
 * points (same time: the later write wins) and a flush in the middle; reads and latest values
 * between writes; then everything again after a reopen, against a model kept here.
 */
#define MS_SERIES 3000
#define MS_ROUNDS 100

typedef struct {
    gb_time_t t[MS_ROUNDS];
    double v[MS_ROUNDS];
    int n;
} model_t;

typedef struct {
    const model_t *m;
    int i, bad;
} check_t;

static int check_point(void *ctx, const gb_point_t *p)
{
    check_t *c = ctx;
    if (c->i >= c->m->n || p->t != c->m->t[c->i] || p->v.f64 != c->m->v[c->i]) c->bad++;
    c->i++;
    return 0;
}

/* The model's points of one series sorted by time, the last written kept at each time. */
static void model_sorted(const model_t *in, model_t *out)
{
    out->n = 0;
    for (int i = 0; i < in->n; i++) {
        bool replaced = false;
        for (int j = i + 1; j < in->n; j++)
            replaced |= in->t[j] == in->t[i];
        if (replaced) continue;
        int k = out->n++;
        while (k > 0 && out->t[k - 1] > in->t[i]) {
            out->t[k] = out->t[k - 1];
            out->v[k] = out->v[k - 1];
            k--;
        }
        out->t[k] = in->t[i];
        out->v[k] = in->v[i];
    }
}

static void check_series(gb_store_t *s, const model_t *m, int sid)
{
    char path[32];
    snprintf(path, sizeof path, "ms/s%04d", sid);
    model_t want;
    model_sorted(m, &want);
    check_t c = {&want, 0, 0};
    assert_int_equal(gb_store_read(s, path, INT64_MIN, INT64_MAX, check_point, &c), 0);
    assert_int_equal(c.i, want.n);
    assert_int_equal(c.bad, 0);
    gb_point_t p;
    assert_int_equal(gb_store_latest(s, path, &p), 0);
    assert_int_equal(p.t, want.t[want.n - 1]);
    assert_true(p.v.f64 == want.v[want.n - 1]);
}

static void test_many_series_interleaved(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_opts_t o = {.flush_points = UINT64_MAX, .flush_interval_ns = INT64_MAX};
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    model_t *m = calloc(MS_SERIES, sizeof *m);
    char(*paths)[32] = malloc(MS_SERIES * sizeof *paths);
    for (int i = 0; i < MS_SERIES; i++)
        snprintf(paths[i], sizeof paths[i], "ms/s%04d", i);
    gb_store_wpoint_t *w = malloc(MS_SERIES * sizeof *w);
    const gb_time_t T0 = 1700000000 * GB_NS_PER_S;
    uint64_t seed = 7, seq = 0;
    for (int r = 0; r < MS_ROUNDS; r++) {
        size_t nw = 0;
        for (int i = 0; i < MS_SERIES; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            int sid = (int)((seed >> 33) % MS_SERIES); /* any order; some series twice */
            model_t *x = &m[sid];
            if (x->n == MS_ROUNDS) sid = i, x = &m[sid];
            if (x->n == MS_ROUNDS) continue;
            gb_time_t t = T0 + (gb_time_t)r * GB_NS_PER_S;
            unsigned k = (unsigned)(seed >> 20) % 16;
            if (k == 0 && x->n) t = x->t[x->n - 1]; /* replaces */
            if (k == 1) t -= 5 * GB_NS_PER_S;       /* late */
            double v = (double)(++seq);
            x->t[x->n] = t;
            x->v[x->n++] = v;
            /* the name's hash and length given, not given, or wrong (a wrong hash, or a length
             * short of the name's, costs a look-up under the lock, never a point) */
            uint32_t plen = (uint32_t)strlen(paths[sid]);
            uint32_t h = seq % 5 < 2    ? gb_store_path_hash(paths[sid], plen)
                         : seq % 5 == 2 ? 0
                                        : (uint32_t)seq * 2654435761u;
            if (seq % 5 == 1) plen--;   /* short: the paths are longer than a byte */
            if (seq % 5 == 4) plen = 0; /* not given */
            w[nw++] = (gb_store_wpoint_t){
                paths[sid], t, GB_Q_GOOD, false, {.type = GB_VT_F64, .f64 = v}, h, plen};
        }
        size_t refused = 1;
        assert_int_equal(gb_store_write_points(s, w, nw, &refused, NULL), 0);
        assert_int_equal(refused, 0);
        if (r % 17 == 5) check_series(s, &m[r], r); /* a read between writes */
        if (r == MS_ROUNDS / 2) assert_int_equal(gb_store_flush(s), 0);
    }
    for (int i = 0; i < MS_SERIES; i++)
        if (m[i].n) check_series(s, &m[i], i);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &o, &s), 0); /* the log replayed, the blocks read */
    for (int i = 0; i < MS_SERIES; i++)
        if (m[i].n) check_series(s, &m[i], i);
    assert_int_equal(gb_store_close(s), 0);
    free(w);
    free(paths);
    free(m);
    rmrf(dir);
    free(dir);
}

/*
 * A stage bucket that fills is drained alone while the others keep their points: a few hot
 * series (one bucket's worth) written far more often than thousands of cold ones, series made
 * in the middle (the buckets spread again), then every point read back in order, the newest of
 * each, and the same after a reopen. Series I's points are at times 1..n(I) s, value I * 1e6 + k.
 */
#define SB_SERIES 4096
#define SB_HOT 64
#define SB_ROUNDS 1200

typedef struct {
    int sid, k, bad;
} sb_check_t;

static int sb_point(void *ctx, const gb_point_t *p)
{
    sb_check_t *c = ctx;
    c->k++;
    if (p->t != (gb_time_t)c->k * GB_NS_PER_S || p->v.f64 != c->sid * 1e6 + c->k) c->bad++;
    return 0;
}

static void sb_check_all(gb_store_t *s, const int *n, int nseries)
{
    for (int i = 0; i < nseries; i++) {
        if (!n[i]) continue;
        char path[32];
        snprintf(path, sizeof path, "sb/s%04d", i);
        sb_check_t c = {i, 0, 0};
        assert_int_equal(gb_store_read(s, path, INT64_MIN, INT64_MAX, sb_point, &c), 0);
        assert_int_equal(c.k, n[i]);
        assert_int_equal(c.bad, 0);
        gb_point_t p;
        assert_int_equal(gb_store_latest(s, path, &p), 0);
        assert_int_equal(p.t, (gb_time_t)n[i] * GB_NS_PER_S);
        assert_true(p.v.f64 == i * 1e6 + n[i]);
    }
}

static void test_stage_bucket_drained_alone(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_opts_t o = {.flush_points = UINT64_MAX, .flush_interval_ns = INT64_MAX};
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    int nseries = SB_SERIES + SB_HOT, *n = calloc((size_t)nseries, sizeof *n);
    char(*paths)[32] = malloc((size_t)nseries * sizeof *paths);
    for (int i = 0; i < nseries; i++)
        snprintf(paths[i], sizeof paths[i], "sb/s%04d", i);
    gb_store_wpoint_t w[SB_HOT + 8];
    int made = SB_SERIES;                 /* series up to here exist; the rest are made half way */
    for (int i = 0; i < SB_SERIES; i++) { /* every series once, in order: numbers 0..4095 */
        n[i] = 1;
        w[0] = (gb_store_wpoint_t){.path = paths[i],
                                   .t = GB_NS_PER_S,
                                   .q = GB_Q_GOOD,
                                   .v = {.type = GB_VT_F64, .f64 = i * 1e6 + 1}};
        assert_int_equal(gb_store_write_points(s, w, 1, NULL, NULL), 0);
    }
    gb_point_t p; /* a read drains the stage, which then spreads the 4096 series by 64 a bucket */
    assert_int_equal(gb_store_latest(s, paths[0], &p), 0);
    for (int r = 0; r < SB_ROUNDS; r++) {
        size_t nw = 0;
        if (r == SB_ROUNDS / 2) made = nseries;
        for (int h = 0; h < SB_HOT; h++) { /* the hot series: the first bucket */
            int k = ++n[h];
            w[nw++] = (gb_store_wpoint_t){.path = paths[h],
                                          .t = (gb_time_t)k * GB_NS_PER_S,
                                          .q = GB_Q_GOOD,
                                          .v = {.type = GB_VT_F64, .f64 = h * 1e6 + k}};
        }
        for (int c = 0; c < 8; c++) { /* a few cold ones, and the new ones once they are made */
            int sid = SB_HOT + (r * 8 + c) * 37 % (made - SB_HOT), k = ++n[sid];
            w[nw++] = (gb_store_wpoint_t){.path = paths[sid],
                                          .t = (gb_time_t)k * GB_NS_PER_S,
                                          .q = GB_Q_GOOD,
                                          .v = {.type = GB_VT_F64, .f64 = sid * 1e6 + k}};
        }
        assert_int_equal(gb_store_write_points(s, w, nw, NULL, NULL), 0);
    }
    assert_true(n[0] * SB_HOT > 2 * 16384); /* the hot bucket filled more than once */
    sb_check_all(s, n, nseries);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    sb_check_all(s, n, nseries);
    assert_int_equal(gb_store_close(s), 0);
    free(paths);
    free(n);
    rmrf(dir);
    free(dir);
}

/* Appends a framed log record (u32 length | u32 CRC-32 | payload) to F. */
static void frame(FILE *f, const unsigned char *p, size_t n)
{
    uint32_t len = (uint32_t)n, crc = (uint32_t)crc32(0L, p, (uInt)n);
    fwrite(&len, 4, 1, f);
    fwrite(&crc, 4, 1, f);
    fwrite(p, 1, n, f);
}

/* Writes a fixed-width sample at P: u32 number | i64 time | u8 type | u8 quality | VALUE. */
static size_t fixed_sample(unsigned char *p, uint32_t no, gb_time_t t, gb_vtype_t type,
                           gb_quality_t q, const void *value, size_t vlen)
{
    memcpy(p, &no, 4);
    memcpy(p + 4, &t, 8);
    p[12] = (unsigned char)type;
    p[13] = (unsigned char)q;
    memcpy(p + 14, value, vlen);
    return 14 + vlen;
}

/*
 * A log written by an earlier gemba, whose samples records are fixed-width (u32 number | i64
 * time | u8 type | u8 quality | value), replays: the store writes packed records now and reads
 * both.
 */
static void test_replays_fixed_width_records(void **state)
{
    (void)state;
    char *dir = tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/wal", dir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof path, "%s/wal/00000001.wal", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("GBWAL\0\1\0", 1, 8, f);
    unsigned char rec[256];
    const char *names[] = {"old/f", "old/s"};
    const unsigned char types[] = {GB_VT_F64, GB_VT_STR};
    for (uint32_t k = 0; k < 2; k++) { /* series k: u8 1 | u32 k | u8 type | u16 length | name */
        uint16_t l = (uint16_t)strlen(names[k]);
        rec[0] = 1;
        memcpy(rec + 1, &k, 4);
        rec[5] = types[k];
        memcpy(rec + 6, &l, 2);
        memcpy(rec + 8, names[k], l);
        frame(f, rec, 8u + l);
    }
    size_t n = 5;
    uint32_t cnt = 3;
    rec[0] = 2;
    memcpy(rec + 1, &cnt, 4);
    for (int i = 0; i < 2; i++) { /* two floats */
        double v = 1.5 + i;
        n += fixed_sample(rec + n, 0, 1000 + i, GB_VT_F64, GB_Q_GOOD, &v, 8);
    }
    uint32_t sl = 5;
    unsigned char str[9];
    memcpy(str, &sl, 4);
    memcpy(str + 4, "READY", 5);
    n += fixed_sample(rec + n, 1, 1005, GB_VT_STR, GB_Q_UNCERTAIN, str, 9);
    frame(f, rec, n);
    fclose(f);
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t want_t[] = {1000, 1001};
    const double want_v[] = {1.5, 2.5};
    expect_series(s, "old/f", want_t, want_v, 2);
    gb_point_t p;
    assert_int_equal(gb_store_latest(s, "old/s", &p), 0);
    assert_int_equal(p.t, 1005);
    assert_int_equal(p.q, GB_Q_UNCERTAIN);
    assert_int_equal(p.v.len, 5);
    assert_memory_equal(p.v.str, "READY", 5);
    /* new points go to packed records; the old ones stay; both replay after a reopen */
    put_f(s, "old/f", 1002, 3.5);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const gb_time_t want_t2[] = {1000, 1001, 1002};
    const double want_v2[] = {1.5, 2.5, 3.5};
    expect_series(s, "old/f", want_t2, want_v2, 3);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

typedef struct {
    int n, bad;
    const char *which;
} ranks_t;

/* Point n must be at time 1000 + n with value n ("near": -1 where a late point came in at an
 * earlier point's time and replaced it). */
static int rank_point(void *ctx, const gb_point_t *p)
{
    ranks_t *r = ctx;
    double want = (double)r->n;
    if (!strcmp(r->which, "near") && r->n % 7 == 3 && r->n + 3 < 3000) want = -1.0;
    if (p->t != 1000 + r->n || p->v.f64 != want) r->bad++;
    r->n++;
    return 0;
}

/*
 * A head in order but for a few late points is sorted in a pass, one in real disorder (here
 * backwards, with every time written twice) by the general sort: both give their points in time
 * order with the later write kept at each time, from the head and after a flush.
 */
/* gb_pts_sort_dedupe against a plain model (a stable insertion sort, then the last point of
 * each time kept), on heads made of runs in order, reversed stretches, and many equal times;
 * in odd rounds every point is near its place (sorted by insertion), in even ones some are far
 * (the insertion gives up half way and the general sort finishes). */
static void test_sort_dedupe_model(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252u;
    gb_pts_scratch_t sc = {0};
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(round * 37 % 1500);
        gb_pts_t p;
        gb_pts_init(&p, GB_VT_I64);
        gb_time_t *mt = malloc(n * sizeof *mt);
        int64_t *mv = malloc(n * sizeof *mv);
        gb_time_t t = 0;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned r = (unsigned)(x % 100);
            if (round % 2 && r >= 90) r = 80; /* odd rounds: only near their place */
            if (r < 70)                       /* on in order */
                t += (gb_time_t)(x >> 40) % 3;
            else if (r < 90) /* back a little: a batch that overlaps */
                t -= (gb_time_t)(x >> 40) % 50;
            else /* anywhere */
                t = (gb_time_t)(x >> 40) % 1000;
            gb_value_t v = {.type = GB_VT_I64, .i64 = (int64_t)i};
            gb_pts_add(&p, t, GB_Q_GOOD, &v);
            mt[i] = t;
            mv[i] = (int64_t)i;
        }
        for (size_t i = 1; i < n; i++) /* the model: stable by time */
            for (size_t j = i; j > 0 && mt[j - 1] > mt[j]; j--) {
                gb_time_t tt = mt[j];
                mt[j] = mt[j - 1];
                mt[j - 1] = tt;
                int64_t vv = mv[j];
                mv[j] = mv[j - 1];
                mv[j - 1] = vv;
            }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && mt[i + 1] == mt[i]) continue;
            mt[m] = mt[i];
            mv[m] = mv[i];
            m++;
        }
        gb_pts_t c; /* the same sorted with the flush's kept memory, of all rounds so far */
        gb_pts_init(&c, GB_VT_I64);
        gb_pts_add_range(&c, &p, 0, p.n);
        gb_pts_sort_dedupe(&p);
        gb_pts_sort_dedupe_in(&c, &sc);
        assert_int_equal(p.n, m);
        assert_int_equal(c.n, m);
        for (size_t i = 0; i < m; i++) {
            assert_int_equal(p.t[i], mt[i]);
            assert_int_equal((int64_t)p.v[i], mv[i]);
            assert_int_equal(c.t[i], mt[i]);
            assert_int_equal((int64_t)c.v[i], mv[i]);
        }
        gb_pts_clear(&p);
        gb_pts_clear(&c);
        free(mt);
        free(mv);
    }
    gb_pts_scratch_free(&sc);
}

/* A head's segments: points kept in order across segments of growing size, read back through
 * views, and a head put in front of another (numbers linked, strings copied). */
static void test_head_segments(void **state)
{
    (void)state;
    gb_pool_t pool;
    gb_pool_init(&pool);
    enum { N = 40000 };
    gb_head_t a, b;
    gb_head_init(&a, GB_VT_I64, &pool);
    gb_head_init(&b, GB_VT_I64, &pool);
    for (int i = 0; i < N; i++) {
        gb_value_t v = {.type = GB_VT_I64, .i64 = i};
        gb_head_add(i < N / 2 ? &a : &b, i, GB_Q_GOOD, &v);
    }
    size_t nseg = 0, seen = 0;
    uint32_t last_cap = 0;
    gb_pts_t sc;
    gb_pts_init(&sc, GB_VT_I64);
    for (const gb_seg_t *g = a.first; g; g = g->next, nseg++) {
        assert_true(g->cap >= last_cap); /* each no smaller than the one before */
        last_cap = g->cap;
        gb_pts_t w = gb_head_seg_view(&a, g, &sc);
        for (size_t i = 0; i < w.n; i++, seen++) {
            assert_int_equal(w.t[i], (gb_time_t)seen);
            assert_int_equal((int64_t)w.v[i], (int64_t)seen);
        }
    }
    gb_pts_clear(&sc);
    assert_int_equal(seen, N / 2);
    assert_true(nseg > 4);
    gb_head_take_front(&b, &a); /* b: a's points, then its own */
    assert_int_equal(b.n, N);
    assert_int_equal(a.n, 0);
    assert_null(a.first);
    gb_pts_t all;
    gb_pts_init(&all, GB_VT_I64);
    gb_pts_add_head(&all, &b);
    assert_int_equal(all.n, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(all.t[i], (gb_time_t)i);
        assert_int_equal((int64_t)all.v[i], (int64_t)i);
    }
    gb_pts_clear(&all);
    gb_seg_t *done = NULL;
    gb_head_detach(&b, &done);
    assert_int_equal(b.n, 0);
    assert_non_null(done);
    gb_head_free_list(&pool, done);
    /* strings: each head's own arena, so putting one in front copies */
    gb_head_t sa, sb;
    gb_head_init(&sa, GB_VT_STR, &pool);
    gb_head_init(&sb, GB_VT_STR, &pool);
    char txt[32];
    for (int i = 0; i < 300; i++) {
        snprintf(txt, sizeof txt, "v%d", i);
        gb_value_t v = {.type = GB_VT_STR, .str = txt, .len = strlen(txt)};
        gb_head_add(i < 100 ? &sa : &sb, i, GB_Q_GOOD, &v);
    }
    gb_head_take_front(&sb, &sa);
    assert_int_equal(sb.n, 300);
    gb_pts_t st;
    gb_pts_init(&st, GB_VT_STR);
    gb_pts_add_head(&st, &sb);
    for (size_t i = 0; i < 300; i++) {
        gb_value_t v = gb_pts_value(&st, i);
        snprintf(txt, sizeof txt, "v%zu", i);
        assert_int_equal(v.len, strlen(txt));
        assert_memory_equal(v.str, txt, v.len);
    }
    gb_pts_clear(&st);
    gb_head_clear(&sb);
    gb_head_clear(&sa);
    gb_head_clear(&a);
    gb_pool_clear(&pool);
}

/* The bytes of H's encoding, segment headers left out. */
static size_t head_bytes(const gb_head_t *h)
{
    size_t b = 0;
    for (const gb_seg_t *g = h->first; g; g = g->next)
        b += g->len;
    return b;
}

/* TYPE's points T, V, Q into a head one at a time and N - SPLIT of them in one run, then back: the
 * very bits of every value, time and quality. */
static void head_round_trip(gb_vtype_t type, const gb_time_t *t, const gb_slot_t *v,
                            const uint8_t *q, size_t n, size_t split)
{
    gb_head_t h;
    gb_head_init(&h, type, NULL);
    for (size_t i = 0; i < split; i++) {
        gb_pts_t one = {.type = type,
                        .t = (gb_time_t *)&t[i],
                        .v = (gb_slot_t *)&v[i],
                        .q = (uint8_t *)&q[i],
                        .n = 1};
        gb_value_t x = gb_pts_value(&one, 0);
        gb_head_add(&h, t[i], (gb_quality_t)q[i], &x);
    }
    gb_head_add_run(&h, t + split, v + split, q + split, (uint32_t)(n - split));
    gb_pts_t p;
    gb_pts_init(&p, type);
    gb_pts_add_head(&p, &h);
    assert_int_equal(p.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p.t[i], t[i]);
        assert_int_equal(p.q[i], q[i]);
        assert_true(p.v[i] == v[i]); /* floats' bits: NaN payloads, -0.0 */
    }
    gb_pts_clear(&p);
    gb_head_clear(&h);
}

/* The heads' encoding: every float, integer and time comes back bit for bit, whatever it is; a
 * sensor's short decimals at a steady rate take about 3 bytes a point. */
static void test_head_encoding(void **state)
{
    (void)state;
    enum { N = 64 };
    gb_time_t t[N];
    gb_slot_t v[N];
    uint8_t q[N];
    const double odd[] = {-0.0,      0.0,       NAN,         -NAN,
                          INFINITY,  -INFINITY, DBL_MIN / 4, DBL_MAX,
                          -DBL_MAX,  0.1 + 0.2, 1.0 / 3,     74.93588199999998,
                          1e18,      1e-18,     123456.789,  9007199254740993.0,
                          0.0265878, 233.062,   5e-324,      33.7};
    const size_t nodd = sizeof odd / sizeof *odd;
    uint64_t nan_payload = 0x7ff8000000000123u;
    for (size_t i = 0; i < N; i++) {
        /* times from the range's ends, going back, jumping, repeating */
        static const gb_time_t tt[] = {INT64_MIN,  INT64_MAX - 1, 0,         -1,
                                       1000000000, 999999999,     999999999, 2000000000};
        t[i] = i < 8 ? tt[i] : (gb_time_t)(i * 1000000000LL + (gb_time_t)(i % 3) * 7);
        q[i] = (uint8_t)(i % 3);
        double f = odd[i % nodd];
        v[i] = i == 40 ? nan_payload : gb_f2u(f);
    }
    for (size_t split = 0; split <= N; split += 16)
        head_round_trip(GB_VT_F64, t, v, q, N, split);
    /* floats going from decimals to none and back, and needing more digits as they go */
    const double walk[] = {33.7, 33.65, 33.651, 1.0 / 3, 2.0 / 3, 33.7, 33.8, -12.25, 1e300, 0.5};
    for (size_t i = 0; i < N; i++)
        v[i] = gb_f2u(walk[i % 10] + (double)(i / 10));
    head_round_trip(GB_VT_F64, t, v, q, N, N / 2);
    /* integers from the ends of the range, and booleans */
    const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, 42};
    for (size_t i = 0; i < N; i++)
        v[i] = (gb_slot_t)ints[i % 7];
    head_round_trip(GB_VT_I64, t, v, q, N, 10);
    for (size_t i = 0; i < N; i++)
        v[i] = (gb_slot_t)(i % 5 == 0);
    head_round_trip(GB_VT_BOOL, t, v, q, N, 33);
    /* a float that is no decimal, many times: kept raw, and found again as a decimal later */
    gb_time_t *lt = malloc(1000 * sizeof *lt);
    gb_slot_t *lv = malloc(1000 * sizeof *lv);
    uint8_t *lq = calloc(1000, 1);
    for (size_t i = 0; i < 1000; i++) {
        lt[i] = (gb_time_t)i;
        lv[i] = gb_f2u(i < 500 ? sqrt((double)i + 2) : (double)i / 8);
    }
    head_round_trip(GB_VT_F64, lt, lv, lq, 1000, 300);
    /* the plant's kind of signal: 1 Hz, a walk of one-decimal steps */
    gb_head_t h;
    gb_head_init(&h, GB_VT_F64, NULL);
    double x = 50.0;
    uint64_t rng = 7;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        x = round((x + (double)((int)(rng >> 60) - 8) / 10) * 10) / 10;
        gb_value_t pv = {.type = GB_VT_F64, .f64 = x};
        gb_head_add(&h, 1763769600000000000LL + (gb_time_t)i * 1000000000, GB_Q_GOOD, &pv);
    }
    size_t bytes = head_bytes(&h);
    print_message("head: %.2f bytes a point\n", (double)bytes / 20000);
    assert_true(bytes < 20000 * 3);
    gb_head_clear(&h);
    free(lt);
    free(lv);
    free(lq);
}

static void test_head_order(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        put_f(s, "near", 1000 + i, (double)i);
        if (i % 7 == 6) put_f(s, "near", 1000 + i - 3, -1.0); /* a late point replaces one */
    }
    for (int i = N - 1; i >= 0; i--) { /* backwards, twice over: the second write wins */
        put_f(s, "back", 1000 + i, (double)-i);
        put_f(s, "back", 1000 + i, (double)i);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int w = 0; w < 2; w++) {
            ranks_t r = {0, 0, w ? "back" : "near"};
            assert_int_equal(gb_store_read(s, r.which, INT64_MIN, INT64_MAX, rank_point, &r), 0);
            assert_int_equal(r.n, N);
            assert_int_equal(r.bad, 0);
        }
        assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* A head knows whether its points came in strictly increasing time (then a flush writes them a
 * block at a time without sorting): one at a time, in runs, and put in front of another. */
static void test_head_unsorted(void **state)
{
    (void)state;
    gb_pool_t pool;
    gb_pool_init(&pool);
    gb_head_t h;
    gb_time_t t[4] = {10, 20, 30, 40};
    gb_slot_t v[4] = {1, 2, 3, 4};
    uint8_t q[4] = {0};
    gb_value_t x = {.type = GB_VT_I64, .i64 = 5};
    /* in order, over runs and single points: sorted */
    gb_head_init(&h, GB_VT_I64, &pool);
    gb_head_add_run(&h, t, v, q, 2);
    gb_head_add_run(&h, t + 2, v + 2, q + 2, 2);
    gb_head_add(&h, 41, GB_Q_GOOD, &x);
    assert_false(h.unsorted);
    assert_int_equal(h.tlast, 41);
    gb_head_add(&h, 41, GB_Q_GOOD, &x); /* the same time again: a repeat to remove */
    assert_true(h.unsorted);
    gb_head_clear(&h);
    assert_false(h.unsorted);
    gb_head_add(&h, INT64_MIN, GB_Q_GOOD, &x); /* a first point at the range's start */
    assert_false(h.unsorted);
    gb_head_clear(&h);
    /* a run that starts at or before the point before it; one that goes back inside */
    gb_head_add(&h, 30, GB_Q_GOOD, &x);
    gb_head_add_run(&h, t + 2, v + 2, q + 2, 2);
    assert_true(h.unsorted);
    gb_head_clear(&h);
    gb_time_t back[3] = {5, 7, 6};
    gb_head_add_run(&h, back, v, q, 3);
    assert_true(h.unsorted);
    gb_head_clear(&h);
    /* put in front: of an empty head, its points' order and last time stay; of one with points,
     * whose first time is not known, it is taken as out of order */
    gb_head_t f;
    gb_head_init(&f, GB_VT_I64, &pool);
    gb_head_add_run(&f, t, v, q, 4);
    gb_head_take_front(&h, &f);
    assert_false(h.unsorted);
    assert_int_equal(h.tlast, 40);
    assert_int_equal(h.n, 4);
    gb_head_add(&f, 1, GB_Q_GOOD, &x);
    gb_head_take_front(&h, &f);
    assert_true(h.unsorted);
    assert_int_equal(h.tlast, 40);
    gb_head_clear(&h);
    gb_head_clear(&f);
    gb_pool_clear(&pool);
}

/* Counts the points read, and those that are not point n at 1e12 ns + n s with value n / 10. */
typedef struct {
    int n, bad;
} ramp_t;

static int ramp_point(void *ctx, const gb_point_t *p)
{
    ramp_t *r = ctx;
    if (p->t != 1000000000000 + (gb_time_t)r->n * GB_NS_PER_S || p->v.f64 != (double)r->n / 10)
        r->bad++;
    r->n++;
    return 0;
}

/*
 * A flush writes a series whose points came in order a segment and a block at a time, and one
 * whose points did not whole after sorting: the same points give the same blocks either way,
 * among them blocks that take points from two segments, and a last one of the rest.
 */
static void test_flush_in_order(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    enum { N = 3 * GB_STORE_BLOCK_POINTS + 123, BATCH = 1000 };
    gb_store_wpoint_t *w = calloc(BATCH, sizeof *w);
    for (int pass = 0; pass < 2; pass++) {
        const char *path = pass ? "swapped" : "ordered";
        for (int i = 0; i < N; i += BATCH) {
            int n = N - i < BATCH ? N - i : BATCH;
            for (int k = 0; k < n; k++) {
                int j = i + k;
                if (pass && k + 1 < n && k % 2 == 0) j++; /* pairs swapped: 1 0 3 2 ... */
                if (pass && k % 2 == 1) j--;
                w[k] = (gb_store_wpoint_t){.path = path,
                                           .t = 1000000000000 + (gb_time_t)j * GB_NS_PER_S,
                                           .q = GB_Q_GOOD,
                                           .v = {.type = GB_VT_F64, .f64 = (double)j / 10}};
            }
            size_t bad = 1;
            assert_int_equal(gb_store_write_points(s, w, (size_t)n, &bad, NULL), 0);
            assert_int_equal(bad, 0);
        }
    }
    free(w);
    assert_int_equal(gb_store_flush(s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.blocks, 2 * 4);
    assert_int_equal(info.points, 2 * N);
    for (int pass = 0; pass < 2; pass++) {
        ramp_t r = {0, 0};
        assert_int_equal(
            gb_store_read(s, pass ? "swapped" : "ordered", INT64_MIN, INT64_MAX, ramp_point, &r),
            0);
        assert_int_equal(r.n, N);
        assert_int_equal(r.bad, 0);
    }
    /* the blocks' statistics (a window over all of them is answered from them): the same */
    for (int pass = 0; pass < 2; pass++) {
        int nwin = 0;
        gb_time_t from = 1000000000000, span = (gb_time_t)N * GB_NS_PER_S;
        const char *path = pass ? "swapped" : "ordered";
        assert_true(agg1(s, path, from, from + span, span, GB_AGG_SUM, &nwin) ==
                    (double)N * (N - 1) / 20);
        assert_true(agg1(s, path, from, from + span, span, GB_AGG_MAX, &nwin) ==
                    (double)(N - 1) / 10);
        assert_true(agg1(s, path, from, from + span, span, GB_AGG_COUNT, &nwin) == N);
        assert_int_equal(nwin, 1);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* ---- files of an earlier gemba --------------------------------------------------------------- */

/*
 * tests/data/store-v1 holds two block files of version 1 (fixed-size footer entries, blocks with
 * 32-byte headers), as the gemba before version 2 wrote them for these points: series v1/f, v1/x,
 * v1/i, v1/b and v1/s at T0 + i s for i in 0..4999, flushed after i = 2999, with v1/f's point 10
 * written again (as -1.5) in the second file. See its README.
 */
#define V1_T0 (INT64_C(1700000000) * GB_NS_PER_S)
#define V1_N 5000

/* Checks every point of series PATH of the fixture, N points (the fixture's and more). */
typedef struct {
    const char *path;
    int i;
} v1check_t;

static int v1_point(void *ctx, const gb_point_t *p)
{
    v1check_t *c = ctx;
    int i = c->i++;
    assert_int_equal(p->t, V1_T0 + (gb_time_t)i * GB_NS_PER_S);
    char want[16];
    switch (c->path[3]) {
    case 'f':
        assert_int_equal(p->v.type, GB_VT_F64);
        assert_true(p->v.f64 == (i == 10 ? -1.5 : 20 + (double)((i * 37) % 1000) / 10.0));
        assert_int_equal(p->q, i >= 100 && i < 200 ? GB_Q_UNCERTAIN
                               : i == 300          ? GB_Q_BAD
                                                   : GB_Q_GOOD);
        break;
    case 'x':
        if (i % 50 == 0)
            assert_true(isnan(p->v.f64));
        else
            assert_true(p->v.f64 == i / 3.0);
        break;
    case 'i':
        assert_true(p->v.type == GB_VT_I64 && p->v.i64 == (int64_t)i * 3 - 1000);
        break;
    case 'b':
        assert_true(p->v.type == GB_VT_BOOL && p->v.b == ((i / 7) % 2 == 1));
        break;
    default:
        snprintf(want, sizeof want, "state%d", i % 5);
        assert_int_equal(p->v.type, GB_VT_STR);
        assert_int_equal(p->v.len, strlen(want));
        assert_memory_equal(p->v.str, want, p->v.len);
    }
    return 0;
}

static int v1_window(void *ctx, gb_time_t w, const gb_value_t *v)
{
    (void)w;
    *(double *)ctx = gb_value_number(v);
    return 0;
}

/* The points, and aggregates over all of them in one window (so whole blocks answer from their
 * footer statistics), of a store that holds the fixture's points and N - V1_N more. */
static void v1_expect(gb_store_t *s, int n)
{
    static const char *paths[] = {"v1/f", "v1/x", "v1/i", "v1/b", "v1/s"};
    for (size_t k = 0; k < 5; k++) {
        v1check_t c = {paths[k], 0};
        assert_int_equal(gb_store_read(s, paths[k], INT64_MIN, INT64_MAX, v1_point, &c), 0);
        assert_int_equal(c.i, n);
    }
    double isum = 0, xmax = -INFINITY, xsum = 0, fsum = -1.5, bsum = 0;
    for (int i = 0; i < n; i++) {
        isum += (double)((int64_t)i * 3 - 1000);
        bsum += (i / 7) % 2;
        if (i != 10) fsum += 20 + (double)((i * 37) % 1000) / 10.0;
        if (i % 50) {
            xsum += i / 3.0;
            xmax = i / 3.0 > xmax ? i / 3.0 : xmax;
        }
    }
    gb_time_t to = V1_T0 + 100000 * GB_NS_PER_S, step = 100000 * GB_NS_PER_S;
    double v = 0;
    assert_int_equal(gb_store_aggregate(s, "v1/i", V1_T0, to, step, GB_AGG_AVG, v1_window, &v), 0);
    assert_true(fabs(v - isum / n) < 1e-9 * fabs(isum));
    assert_int_equal(gb_store_aggregate(s, "v1/i", V1_T0, to, step, GB_AGG_MIN, v1_window, &v), 0);
    assert_true(v == -1000);
    assert_int_equal(gb_store_aggregate(s, "v1/x", V1_T0, to, step, GB_AGG_MAX, v1_window, &v), 0);
    assert_true(v == xmax);
    assert_int_equal(gb_store_aggregate(s, "v1/x", V1_T0, to, step, GB_AGG_SUM, v1_window, &v), 0);
    assert_true(fabs(v - xsum) < 1e-9 * xsum);
    assert_int_equal(gb_store_aggregate(s, "v1/x", V1_T0, to, step, GB_AGG_COUNT, v1_window, &v),
                     0);
    assert_true(v == n);
    assert_int_equal(gb_store_aggregate(s, "v1/b", V1_T0, to, step, GB_AGG_SUM, v1_window, &v), 0);
    assert_true(v == bsum);
    assert_int_equal(gb_store_aggregate(s, "v1/f", V1_T0, to, step, GB_AGG_SUM, v1_window, &v), 0);
    assert_true(fabs(v - fsum) < 1e-9 * fsum);
    assert_int_equal(gb_store_aggregate(s, "v1/f", V1_T0, to, step, GB_AGG_FIRST, v1_window, &v),
                     0);
    assert_true(v == 20);
    assert_int_equal(gb_store_aggregate(s, "v1/s", V1_T0, to, step, GB_AGG_COUNT, v1_window, &v),
                     0);
    assert_true(v == n);
}

/* Block files of version 1 are read as they are, and merged into a file of today's format. */
static void test_version1_files(void **state)
{
    (void)state;
    const char *data = getenv("GB_TEST_DATA");
    char *dir = tmpdir(), cmd[1400];
    snprintf(cmd, sizeof cmd, "cp -r '%s/store-v1/blocks' '%s/'", data ? data : "tests/data", dir);
    assert_int_equal(system(cmd), 0);
    gb_store_opts_t ro = {.readonly = true};
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.block_files, 2);
    assert_int_equal(info.points, 5 * V1_N + 1); /* v1/f's point 10 is in both files */
    v1_expect(s, V1_N);
    assert_int_equal(gb_store_close(s), 0);

    /* more points, and a clean stop: the old files and the new flush become one new file */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    for (int i = V1_N; i < V1_N + 100; i++) {
        char str[16];
        snprintf(str, sizeof str, "state%d", i % 5);
        gb_time_t t = V1_T0 + (gb_time_t)i * GB_NS_PER_S;
        gb_store_wpoint_t p[5] = {
            {"v1/f",
             t,
             GB_Q_GOOD,
             false,
             {.type = GB_VT_F64, .f64 = 20 + (double)((i * 37) % 1000) / 10.0},
             0,
             0},
            {"v1/x",
             t,
             GB_Q_GOOD,
             false,
             {.type = GB_VT_F64, .f64 = i % 50 == 0 ? NAN : i / 3.0},
             0,
             0},
            {"v1/i", t, GB_Q_GOOD, false, {.type = GB_VT_I64, .i64 = (int64_t)i * 3 - 1000}, 0, 0},
            {"v1/b", t, GB_Q_GOOD, false, {.type = GB_VT_BOOL, .b = (i / 7) % 2}, 0, 0},
            {"v1/s",
             t,
             GB_Q_GOOD,
             false,
             {.type = GB_VT_STR, .str = str, .len = strlen(str)},
             0,
             0},
        };
        assert_int_equal(gb_store_write_points(s, p, 5, NULL, NULL), 0);
    }
    v1_expect(s, V1_N + 100);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    gb_store_stat(s, &info);
    assert_int_equal(info.block_files, 1);
    assert_int_equal(info.points, 5 * (V1_N + 100));
    v1_expect(s, V1_N + 100);
    assert_int_equal(gb_store_close(s), 0);
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/blocks/00000001-00000003.gbb", dir);
    assert_int_equal(stat(p, &st), 0);
    rmrf(dir);
    free(dir);

    /* retention drops most of each old file: they are written again (today's footer, the old
     * blocks copied as they are), and what stays reads the same */
    dir = tmpdir();
    snprintf(cmd, sizeof cmd, "cp -r '%s/store-v1/blocks' '%s/'", data ? data : "tests/data", dir);
    assert_int_equal(system(cmd), 0);
    gb_retention_t rule = {"v1/[fxs]", 86400 * GB_NS_PER_S, 0, 0};
    gb_store_opts_t o = {.retention = &rule, .nretention = 1};
    snprintf(p, sizeof p, "%s/blocks/00000001.gbb", dir);
    assert_int_equal(stat(p, &st), 0);
    off_t before = st.st_size;
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_size < before / 2);
    static const char *kept[] = {"v1/i", "v1/b"};
    for (size_t k = 0; k < 2; k++) {
        v1check_t c = {kept[k], 0};
        assert_int_equal(gb_store_read(s, kept[k], INT64_MIN, INT64_MAX, v1_point, &c), 0);
        assert_int_equal(c.i, V1_N);
    }
    gb_store_stat(s, &info);
    assert_int_equal(info.points, 2 * V1_N);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, &ro, &s), 0); /* and after the stop merged them */
    for (size_t k = 0; k < 2; k++) {
        v1check_t c = {kept[k], 0};
        assert_int_equal(gb_store_read(s, kept[k], INT64_MIN, INT64_MAX, v1_point, &c), 0);
        assert_int_equal(c.i, V1_N);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* ---- footer entries ------------------------------------------------------------------------- */

static void same_entry(const gb_bref_t *a, const gb_bref_t *b)
{
    assert_true(a->off == b->off && a->len == b->len && a->codec == b->codec);
    assert_true(a->st.count == b->st.count && a->st.nnum == b->st.nnum);
    assert_true(a->st.tmin == b->st.tmin && a->st.tmax == b->st.tmax);
    assert_true(gb_f2u(a->st.min) == gb_f2u(b->st.min) && gb_f2u(a->st.max) == gb_f2u(b->st.max));
    assert_true(gb_f2u(a->st.sum) == gb_f2u(b->st.sum));
    assert_true(gb_f2u(a->st.sumsq) == gb_f2u(b->st.sumsq));
    assert_true(a->st.first == b->st.first && a->st.last == b->st.last);
}

/*
 * Footer entries keep every statistic bit for bit -- decimals, sums with rounding in their last
 * bits, NaN with a payload, -0.0, infinities, subnormals, the largest doubles and integers --
 * and are small for the usual block of short decimals. Every truncation of a run of entries is
 * refused.
 */
static void test_footer_entries(void **state)
{
    (void)state;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    const double odd[] = {
        0.0,    -0.0,       INFINITY,           -INFINITY, NAN,       1.0 / 3,
        5e-324, DBL_MAX,    -DBL_MAX,           1e300,     0.1 + 0.2, 74.93588199999998,
        2.5e-7, 123456.789, 9007199254740993.0, -4.25};
    double nanp;
    uint64_t payload = 0x7ff8000000abcdefull;
    memcpy(&nanp, &payload, 8);
    enum { N = 400 };
    static gb_bref_t in[N], out[N];
    static gb_vtype_t ty[N];
    static uint8_t buf[N * GB_BENTRY_MAX];
    gb_bentry_ctx_t c = {.next_off = 8};
    size_t len = 0, typical = 0;
    uint64_t off = 8;
    for (int k = 0; k < N; k++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        gb_bref_t *r = &in[k];
        ty[k] = (gb_vtype_t)(GB_VT_F64 + k % 4);
        r->len = (uint32_t)(rng >> 40) % 5000 + 1;
        r->off = k % 7 == 3 ? off + 77 : off; /* now and then not where the last one ended */
        off = r->off + 8 + r->len;
        r->codec = (uint8_t)(k % 13 + 1);
        r->st.count = (uint32_t)(rng >> 20) % GB_STORE_BLOCK_POINTS + 1;
        r->st.nnum = ty[k] == GB_VT_STR ? 0 : r->st.count - (k % 5 == 0);
        r->st.tmin = k % 9 == 0 ? INT64_MIN + k : (int64_t)(rng >> 2) - (k % 2 ? 0 : INT64_MAX / 2);
        r->st.tmax = k % 11 == 0 ? INT64_MAX : r->st.tmin + (int64_t)(rng >> 40);
        if (r->st.tmax < r->st.tmin) r->st.tmax = r->st.tmin;
        if (ty[k] == GB_VT_STR) continue;
        if (ty[k] == GB_VT_F64) {
            /* a decimal series most of the time, odd values now and then */
            double d[6];
            for (int f = 0; f < 6; f++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                d[f] = (double)((int64_t)(rng >> 44) - 500000) / 1000.0;
                if ((rng >> 8) % 5 == 0) d[f] = odd[(rng >> 16) % 16];
                if ((rng >> 8) % 37 == 0) d[f] = nanp;
            }
            r->st.min = d[0];
            r->st.max = d[1];
            r->st.sum = d[2] * 1234.5678901; /* rounding in the last bits */
            r->st.sumsq = d[3] * d[3] * 777.0001;
            r->st.first = gb_f2u(d[4]);
            r->st.last = gb_f2u(d[5]);
        } else {
            int64_t a = (int64_t)rng, b = k % 3 ? (int64_t)(rng >> 33) : INT64_MIN;
            if (ty[k] == GB_VT_BOOL) a &= 1, b &= 1;
            r->st.min = (double)(a < b ? a : b);
            r->st.max = (double)(a < b ? b : a);
            r->st.sum = (double)a * 3 + 0.5 * (k % 2);
            r->st.sumsq = (double)a * (double)a;
            r->st.first = (gb_slot_t)a;
            r->st.last = (gb_slot_t)b;
        }
    }
    for (int k = 0; k < N; k++)
        len += gb_bentry_put(buf + len, ty[k], &in[k], &c);
    gb_rd_t rd;
    gb_rd_init(&rd, buf, len);
    c = (gb_bentry_ctx_t){.next_off = 8};
    for (int k = 0; k < N; k++) {
        assert_int_equal(gb_bentry_get(&rd, ty[k], &out[k], &c), 0);
        same_entry(&in[k], &out[k]);
    }
    assert_int_equal(gb_rd_left(&rd), 0);
    /* every truncation of the first 30 entries fails somewhere, and never reads past the end */
    size_t l30 = 0;
    c = (gb_bentry_ctx_t){.next_off = 8};
    for (int k = 0; k < 30; k++)
        l30 += gb_bentry_put(buf + l30, ty[k], &in[k], &c);
    for (size_t cut = 0; cut < l30; cut++) {
        uint8_t *q = malloc(cut ? cut : 1);
        memcpy(q, buf, cut);
        gb_rd_init(&rd, q, cut);
        c = (gb_bentry_ctx_t){.next_off = 8};
        int rc = 0;
        for (int k = 0; k < 30 && !rc; k++)
            rc = gb_bentry_get(&rd, ty[k], &out[k], &c);
        assert_int_equal(rc, GB_EPROTO);
        free(q);
    }

    /* the usual block: 4096 points of one decimal, sums as a block's statistics add them */
    gb_bref_t r = {.off = 8, .len = 2600, .codec = 9};
    double sum = 0, sq = 0, v = 0;
    for (int i = 0; i < 4096; i++) {
        v = (double)(2000 + (int)(i * 7 % 301)) / 10.0;
        sum += v;
        sq += v * v;
    }
    r.st = (gb_bstats_t){.count = 4096,
                         .nnum = 4096,
                         .tmin = V1_T0,
                         .tmax = V1_T0 + 4095 * GB_NS_PER_S,
                         .min = 200.0,
                         .max = 230.0,
                         .sum = sum,
                         .sumsq = sq,
                         .first = gb_f2u(200.0),
                         .last = gb_f2u(v)};
    c = (gb_bentry_ctx_t){.next_off = 8};
    typical = gb_bentry_put(buf, GB_VT_F64, &r, &c);
    /* 85 bytes in version 1; here 43, of which the first time takes 9 (in a file it is written
     * against the entry before, a few bytes) */
    assert_true(typical <= 44);
    gb_rd_init(&rd, buf, typical);
    c = (gb_bentry_ctx_t){.next_off = 8};
    assert_int_equal(gb_bentry_get(&rd, GB_VT_F64, &out[0], &c), 0);
    same_entry(&r, &out[0]);
    /* a raw mark for a field an integer series keeps exactly, and an exponent over 18 */
    uint8_t bad[] = {0, 10, 3, 5, 0, 5, 0, 0, 0x10, 2, 2, 2, 2, 2, 2};
    gb_rd_init(&rd, bad, sizeof bad);
    c = (gb_bentry_ctx_t){.next_off = 8};
    assert_int_equal(gb_bentry_get(&rd, GB_VT_I64, &out[0], &c), GB_EPROTO);
    bad[7] = 19, bad[8] = 0;
    gb_rd_init(&rd, bad, sizeof bad);
    c = (gb_bentry_ctx_t){.next_off = 8};
    assert_int_equal(gb_bentry_get(&rd, GB_VT_F64, &out[0], &c), GB_EPROTO);
}

/*
 * A block file's footer is deflated behind the length it inflates to: a length that does not
 * match -- one byte more or less, or more than deflate could make of it -- leaves the file
 * refused as damaged (the footer's CRC set right, so that the length itself is what is judged).
 */
static void test_footer_length(void **state)
{
    (void)state;
    const uint32_t deltas[] = {0, 1, UINT32_MAX, 1u << 29}; /* 0: the file as it was */
    for (size_t k = 0; k < 4; k++) {
        char *dir = tmpdir();
        gb_store_t *s;
        assert_int_equal(gb_store_open(dir, NULL, &s), 0);
        for (int i = 0; i < 100; i++)
            put_f(s, "a", i * GB_NS_PER_S, i / 10.0);
        assert_int_equal(gb_store_close(s), 0);
        char p[700];
        snprintf(p, sizeof p, "%s/blocks/00000001.gbb", dir);
        int fd = open(p, O_RDWR);
        struct stat st;
        assert_true(fd >= 0 && fstat(fd, &st) == 0);
        unsigned char tr[32], len[4];
        assert_int_equal(pread(fd, tr, 32, st.st_size - 32), 32);
        uint64_t foff;
        uint32_t flen;
        memcpy(&foff, tr, 8);
        memcpy(&flen, tr + 8, 4);
        unsigned char *foot = malloc(flen);
        assert_int_equal(pread(fd, foot, flen, (off_t)foff), (ssize_t)flen);
        uint32_t n;
        memcpy(&n, foot, 4);
        n += deltas[k];
        memcpy(len, &n, 4);
        memcpy(foot, len, 4);
        uint32_t crc = (uint32_t)crc32(0L, foot, flen);
        memcpy(tr + 12, &crc, 4);
        assert_int_equal(pwrite(fd, foot, 4, (off_t)foff), 4);
        assert_int_equal(pwrite(fd, tr, 32, st.st_size - 32), 32);
        close(fd);
        free(foot);
        gb_store_opts_t ro = {.readonly = true};
        assert_int_equal(gb_store_open(dir, &ro, &s), k ? GB_EPROTO : 0);
        if (!k) assert_int_equal(gb_store_close(s), 0);
        rmrf(dir);
        free(dir);
    }
}

/* ---- reading: the cursor, the query text, the newest points ---- */

static void put(gb_store_t *s, const char *path, gb_time_t t, gb_value_t v)
{
    assert_int_equal(gb_store_write(s, path, t, GB_Q_GOOD, &v), 0);
}

typedef struct {
    gb_time_t *t;
    int64_t *v;
    size_t n, cap;
} pts_t;

static int keep(void *ctx, const gb_point_t *p)
{
    pts_t *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->t = realloc(g->t, g->cap * sizeof *g->t);
        g->v = realloc(g->v, g->cap * sizeof *g->v);
    }
    g->t[g->n] = p->t;
    g->v[g->n] = p->v.i64;
    g->n++;
    return 0;
}

/* Points of series "a" read back: their count, and whether each is its time (times in [LO, HI)
 * left out). */
typedef struct {
    uint64_t n;
    gb_time_t lo, hi;
    bool ok;
} readback_t;

static int readback_point(void *ctx, const gb_point_t *p)
{
    readback_t *r = ctx;
    r->n++;
    if (p->v.f64 != (double)p->t || (p->t >= r->lo && p->t < r->hi)) r->ok = false;
    return 0;
}

static int readback_window(void *ctx, gb_time_t w, const gb_value_t *v)
{
    (void)w;
    ((readback_t *)ctx)->n += (uint64_t)gb_value_number(v);
    return 0;
}

/*
 * A query reads a series' blocks that lie one after another in a file in one go and checks each
 * block's frame as it takes it: a damaged block in the middle of such a run is skipped, and the
 * blocks before and after it are read whole, by a raw read, a cursor and an aggregate.
 */
static void test_damaged_block_in_a_run(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    const int nb = 5, bp = GB_STORE_BLOCK_POINTS;
    for (int i = 0; i < nb * bp; i++)
        put_f(s, "a", i, i);
    put_f(s, "b", 1, 7);
    assert_int_equal(gb_store_close(s), 0);

    /* the file's only series blocks: "a"'s five frames from offset 8, then "b"'s */
    char cmd[700], path[600];
    snprintf(cmd, sizeof cmd, "ls %s/blocks/*.gbb", dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    assert_non_null(fgets(path, sizeof path, ls));
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    long off = 8;
    for (int k = 0; k < 2; k++) { /* past the first two frames */
        uint32_t len;
        assert_int_equal(fseek(f, off, SEEK_SET), 0);
        assert_int_equal(fread(&len, 4, 1, f), 1);
        off += 8 + (long)len;
    }
    uint32_t len;
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fread(&len, 4, 1, f), 1);
    assert_int_equal(fseek(f, off + 8 + len / 2, SEEK_SET), 0); /* the third one's middle */
    int c = fgetc(f);
    assert_int_equal(fseek(f, off + 8 + len / 2, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);

    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_time_t lo = 2 * bp, hi = 3 * bp; /* the third block's points */
    readback_t r = {0, lo, hi, true};
    assert_int_equal(gb_store_read(s, "a", INT64_MIN, INT64_MAX, readback_point, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.n, (uint64_t)(nb - 1) * bp);

    gb_store_cursor_t *cur;
    assert_int_equal(gb_store_cursor_open(s, "a", 0, nb * bp, &cur), 0);
    gb_point_t p;
    readback_t rc = {0, lo, hi, true};
    while (gb_store_cursor_next(cur, &p))
        readback_point(&rc, &p);
    gb_store_cursor_close(cur);
    assert_true(rc.ok);
    assert_int_equal(rc.n, (uint64_t)(nb - 1) * bp);

    /* windows of 1000 cut across the blocks: each is decoded, none stands for itself */
    readback_t ra = {0};
    assert_int_equal(
        gb_store_aggregate(s, "a", 0, nb * bp, 1000, GB_AGG_COUNT, readback_window, &ra), 0);
    assert_int_equal(ra.n, (uint64_t)(nb - 1) * bp);

    got_t g = {0};
    assert_int_equal(gb_store_read(s, "b", INT64_MIN, INT64_MAX, got_point, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 7);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/*
 * Three flushes and a head whose times overlap, written in shuffled order with some times
 * written twice: a read hands out every time once, in order, with the value written last, and
 * the cursor's bound is never below what it hands out.
 */
static void test_cursor_merges_overlapping_sources(void **state)
{
    (void)state;
    enum { N = 30000, T = 20000 };
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    int64_t *last = malloc(T * sizeof *last);
    for (int i = 0; i < T; i++)
        last[i] = -1;
    for (int i = 0; i < N; i++) {
        /* mostly ascending, in four interleaved runs, plus strays anywhere */
        int64_t k = (uint64_t)random() % 10 ? (int64_t)(i / 4 + (i % 4) * (T / 8)) % T
                                            : (int64_t)((uint64_t)random() % T);
        put(s, "c", k * GB_NS_PER_MS, (gb_value_t){.type = GB_VT_I64, .i64 = i});
        last[k] = i;
        if (i == N / 4 || i == N / 2 || i == 3 * N / 4) assert_int_equal(gb_store_flush(s), 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        pts_t g = {0};
        assert_int_equal(gb_store_read(s, "c", INT64_MIN, INT64_MAX, keep, &g), 0);
        size_t j = 0;
        for (int k = 0; k < T; k++) {
            if (last[k] < 0) continue;
            assert_true(j < g.n);
            assert_int_equal(g.t[j], (gb_time_t)k * GB_NS_PER_MS);
            assert_int_equal(g.v[j], last[k]);
            j++;
        }
        assert_int_equal(j, g.n);
        gb_store_cursor_t *c;
        assert_int_equal(gb_store_cursor_open(s, "c", INT64_MIN, INT64_MAX, &c), 0);
        assert_true(gb_store_cursor_bound(c) >= g.n);
        assert_int_equal(gb_store_cursor_type(c), GB_VT_I64);
        gb_store_cursor_close(c);
        /* a range, [from, to), cut inside blocks */
        pts_t r = {0};
        gb_time_t from = 1234 * GB_NS_PER_MS + 1, to = 15555 * GB_NS_PER_MS;
        assert_int_equal(gb_store_read(s, "c", from, to, keep, &r), 0);
        size_t want = 0;
        for (size_t i = 0; i < g.n; i++)
            if (g.t[i] >= from && g.t[i] < to) {
                assert_true(want < r.n);
                assert_int_equal(r.t[want], g.t[i]);
                assert_int_equal(r.v[want], g.v[i]);
                want++;
            }
        assert_int_equal(want, r.n);
        free(g.t);
        free(g.v);
        free(r.t);
        free(r.v);
        /* again with all of it in block files */
        assert_int_equal(gb_store_close(s), 0);
        assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    }
    gb_store_cursor_t *c;
    assert_int_equal(gb_store_cursor_open(s, "nope", 0, 1, &c), GB_ENOENT);
    assert_int_equal(gb_store_close(s), 0);
    free(last);
    rmrf(dir);
    free(dir);
}

/* ---- the query text ---- */

static const char *const SERIES[] = {"p/f", "p/i", "p/b", "p,s=\"x\"#s"};

/* Points of every type, over days and before 1970, with the values that need care in text. */
static void fill(gb_store_t *s)
{
    static const double f[] = {0.1,       -0.0,          0.0,     1e21,   1e-7,
                               5e-324,    -DBL_MAX,      71.25,   NAN,    INFINITY,
                               -INFINITY, 123456789.125, 2.0 / 3, 1e-300, 4.35};
    static const int64_t i[] = {0, -1, INT64_MIN, INT64_MAX, 42, 1000000};
    static const char *const str[] = {
        "READY", "a,b", "say \"hi\"", "two\nlines", "1.5", "true", "back\\slash", "tab\there", "",
        "\x01",
        /* escapes past the first eight bytes, at a word's edge, and bytes above 0x7f */
        "spindle load \"high\"", "abcdefgh\\", "abcdefghijklmno\x1f",
        "Gr\xc3\xbc\xc3\x9f"
        "e, Stra\xc3\x9f"
        "e 12",
        "0123456789abcdef\x7f\x80\xff\"end"};
    static const gb_time_t t0[] = {-86400 * GB_NS_PER_S - 1, 0, 1763769599 * GB_NS_PER_S + 999,
                                   INT64_C(7258118400) * GB_NS_PER_S};
    for (int k = 0; k < 200; k++) {
        gb_time_t t = t0[k % 4] + (gb_time_t)(k / 4) * 997 * GB_NS_PER_MS;
        put(s, SERIES[0], t, (gb_value_t){.type = GB_VT_F64, .f64 = f[k % 15] * (1 + k / 15)});
        put(s, SERIES[1], t,
            (gb_value_t){.type = GB_VT_I64,
                         .i64 = k % 6 >= 2 && k % 6 <= 3 ? i[k % 6] : i[k % 6] - k});
        put(s, SERIES[2], t, (gb_value_t){.type = GB_VT_BOOL, .b = k % 3 == 0});
        put(s, SERIES[3], t,
            (gb_value_t){.type = GB_VT_STR, .str = str[k % 15], .len = strlen(str[k % 15])});
        if (k == 100) assert_int_equal(gb_store_flush(s), 0);
    }
    /* the first day int64 time holds began before it; the last point it holds */
    static const gb_time_t edge[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1};
    for (int k = 0; k < 3; k++)
        put(s, SERIES[0], edge[k], (gb_value_t){.type = GB_VT_F64, .f64 = k});
}

typedef struct {
    char *p;
    size_t len, cap;
} text_t;

static void add(text_t *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static int to_text(void *ctx, const char *p, size_t n)
{
    add(ctx, p, n);
    return 0;
}

typedef struct {
    text_t *b;
    const char *path;
    bool json, first;
} ref_t;

static void ref_json_str(text_t *b, const char *s, size_t n)
{
    add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char e[8];
        unsigned char c = (unsigned char)s[i];
        size_t len = gb_utf8_char(s + i, n - i);
        if (c >= 0x80 && !len) {
            add(b, "\xef\xbf\xbd", 3); /* not UTF-8: U+FFFD */
        } else if (c >= 0x80) {
            add(b, s + i, len);
            i += len - 1;
        } else if (s[i] == '"' || s[i] == '\\') {
            e[0] = '\\';
            e[1] = s[i];
            add(b, e, 2);
        } else if ((unsigned char)s[i] < 0x20) {
            add(b, e, (size_t)snprintf(e, sizeof e, "\\u%04x", s[i]));
        } else {
            add(b, s + i, 1);
        }
    }
    add(b, "\"", 1);
}

/* A point as the export writes it, the slow way: the CSV row writer, or JSON by hand. */
static int ref_point(void *ctx, const gb_point_t *p)
{
    ref_t *r = ctx;
    char buf[256];
    size_t n;
    if (!r->json) {
        assert_int_equal(
            gb_csv_format_row(p->t, r->path, strlen(r->path), &p->v, buf, sizeof buf, &n), 0);
        add(r->b, buf, n);
        return 0;
    }
    add(r->b, r->first ? "[\"" : ",[\"", r->first ? 2 : 3);
    r->first = false;
    add(r->b, buf, gb_csv_time_format(p->t, buf));
    add(r->b, "\",", 2);
    const gb_value_t *v = &p->v;
    if (v->type == GB_VT_F64)
        n = isfinite(v->f64) ? gb_textio_f64_format_printf(v->f64, buf)
                             : (size_t)snprintf(buf, sizeof buf, "null");
    else if (v->type == GB_VT_I64)
        n = (size_t)snprintf(buf, sizeof buf, "%" PRId64, v->i64);
    else if (v->type == GB_VT_BOOL)
        n = (size_t)snprintf(buf, sizeof buf, "%s", v->b ? "true" : "false");
    else
        n = 0, ref_json_str(r->b, v->str, v->len);
    add(r->b, buf, n);
    add(r->b, "]", 1);
    return 0;
}

static text_t reference(gb_store_t *s, const char *const *tags, size_t n, bool json)
{
    text_t b = {0};
    add(&b, json ? "{\"series\":[" : "time,tag,value\n", json ? 11 : 15);
    for (size_t i = 0; i < n; i++) {
        ref_t r = {&b, tags[i], json, true};
        if (json) {
            add(&b, i ? ",{\"tag\":" : "{\"tag\":", i ? 8 : 7);
            ref_json_str(&b, tags[i], strlen(tags[i]));
            char t[64];
            gb_vtype_t vt;
            assert_int_equal(gb_store_series_type(s, tags[i], &vt), 0);
            add(&b, t,
                (size_t)snprintf(t, sizeof t, ",\"type\":\"%s\",\"points\":[", gb_vtype_name(vt)));
        }
        assert_int_equal(gb_store_read(s, tags[i], INT64_MIN, INT64_MAX, ref_point, &r), 0);
        if (json) add(&b, "]}", 2);
    }
    if (json) add(&b, "]}\n", 3);
    return b;
}

/* Q's text read through gb_query_read in pieces of PIECE bytes. */
static text_t in_pieces(gb_store_t *s, const gb_query_t *q, size_t piece, uint64_t *bound)
{
    gb_query_stream_t *qs;
    assert_int_equal(gb_query_open(s, q, &qs, NULL), 0);
    *bound = gb_query_bound(qs);
    text_t b = {0};
    char *buf = malloc(piece);
    for (int64_t n; (n = gb_query_read(qs, buf, piece)) != 0;) {
        assert_true(n > 0 && (size_t)n <= piece);
        add(&b, buf, (size_t)n);
    }
    free(buf);
    gb_query_close(qs);
    return b;
}

static void test_query_text(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    fill(s);
    for (int json = 0; json < 2; json++) {
        text_t want = reference(s, SERIES, 4, json);
        gb_query_t q = {
            .tags = SERIES, .ntags = 4, .from = INT64_MIN, .to = INT64_MAX, .json = json};
        text_t got = {0};
        assert_int_equal(gb_query_run(s, &q, to_text, &got, NULL), 0);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.p, want.p, want.len);
        static const size_t pieces[] = {1, 7, 100, 4096};
        for (size_t k = 0; k < 4; k++) {
            uint64_t bound;
            text_t b = in_pieces(s, &q, pieces[k], &bound);
            assert_int_equal(b.len, want.len);
            assert_memory_equal(b.p, want.p, want.len);
            assert_true(bound == UINT64_MAX); /* strings have no bound */
            free(b.p);
        }
        /* numbers only: a bound known at open, and above the text */
        gb_query_t nq = q;
        nq.ntags = 3;
        uint64_t bound;
        text_t b = in_pieces(s, &nq, 4096, &bound);
        assert_true(bound >= b.len && bound < 4 * b.len);
        free(b.p);
        /* the limit: the whole text fits in its own length, not in one byte less */
        q.limit = want.len;
        got.len = 0;
        assert_int_equal(gb_query_run(s, &q, to_text, &got, NULL), 0);
        q.limit = want.len - 1;
        assert_int_equal(gb_query_run(s, &q, to_text, &got, NULL), GB_ERANGE);
        gb_query_stream_t *qs;
        assert_int_equal(gb_query_open(s, &q, &qs, NULL), 0);
        char buf[512];
        int64_t n, total = 0;
        while ((n = gb_query_read(qs, buf, sizeof buf)) > 0)
            total += n;
        assert_int_equal(n, GB_ERANGE);
        assert_true(total <= (int64_t)q.limit);
        gb_query_close(qs);
        free(got.p);
        free(want.p);
    }
    /* pieces larger than the stream's own buffer, over a text several times its size */
    for (int k = 0; k < 20000; k++)
        put(s, "p/long", k * GB_NS_PER_MS, (gb_value_t){.type = GB_VT_F64, .f64 = k / 7.0});
    const char *lng[] = {"p/long"};
    gb_query_t lq = {.tags = lng, .ntags = 1, .from = INT64_MIN, .to = INT64_MAX};
    text_t whole = {0};
    assert_int_equal(gb_query_run(s, &lq, to_text, &whole, NULL), 0);
    assert_true(whole.len > 4 * 65536);
    static const size_t big[] = {65536, 65537, 1 << 20};
    for (size_t k = 0; k < 3; k++) {
        uint64_t lbound;
        text_t b = in_pieces(s, &lq, big[k], &lbound);
        assert_int_equal(b.len, whole.len);
        assert_memory_equal(b.p, whole.p, whole.len);
        free(b.p);
    }
    free(whole.p);
    /* an aggregate has no bound before it runs; its limit stops it */
    gb_query_t a = {.tags = SERIES,
                    .ntags = 2,
                    .from = -2 * 86400 * GB_NS_PER_S,
                    .to = INT64_C(7258118400) * GB_NS_PER_S + 86400 * GB_NS_PER_S,
                    .aggregate = true,
                    .agg = GB_AGG_COUNT,
                    .step = GB_NS_PER_S};
    uint64_t bound;
    text_t b = in_pieces(s, &a, 4096, &bound);
    assert_true(bound == UINT64_MAX);
    assert_true(b.len > 1000);
    a.limit = 1000;
    text_t sink = {0};
    assert_int_equal(gb_query_run(s, &a, to_text, &sink, NULL), GB_ERANGE);
    free(sink.p);
    free(b.p);
    /* the tags are checked at open; MISSING names the one */
    const char *bad[] = {"p/f", "nope"};
    gb_query_t q = {.tags = bad, .ntags = 2, .from = INT64_MIN, .to = INT64_MAX};
    gb_query_stream_t *qs;
    size_t missing = 9;
    assert_int_equal(gb_query_open(s, &q, &qs, &missing), GB_ENOENT);
    assert_int_equal(missing, 1);
    a.tags = &SERIES[3];
    a.ntags = 1;
    a.agg = GB_AGG_AVG;
    assert_int_equal(gb_query_open(s, &a, &qs, &missing), GB_EINVAL);
    assert_int_equal(missing, 0);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

/* The newest points: what gb_store_latest says, as JSON the query's way. */
typedef struct latest_back {
    gb_store_t *s;
    int n, changed;
} latest_back_t;

/* Reads the store from gb_store_each_latest's callback, and writes the other string series. */
static int latest_and_back(void *ctx, const char *path, const gb_point_t *p)
{
    latest_back_t *b = ctx;
    gb_point_t q;
    b->n++;
    assert_int_equal(gb_store_latest(b->s, path, &q), 0);
    if (p->v.type != GB_VT_STR) return 0;
    /* the string as it was when the points were taken, though the series may have changed */
    if (p->v.len != 1 || p->v.str[0] != 'x') b->changed++;
    gb_value_t longer = {.type = GB_VT_STR, .str = "a longer string than before", .len = 27};
    assert_int_equal(
        gb_store_write(b->s, strcmp(path, "s1") ? "s1" : "s2", 2000, GB_Q_GOOD, &longer), 0);
    return 0;
}

/* gb_store_each_latest holds no lock while its callback runs: the callback may read and write
 * the store, and a string it was given stays as it was though its series changed meanwhile. */
static void test_each_latest_outside_the_lock(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    put_f(s, "a", 1000, 1.5);
    gb_value_t x = {.type = GB_VT_STR, .str = "x", .len = 1};
    assert_int_equal(gb_store_write(s, "s1", 1000, GB_Q_GOOD, &x), 0);
    assert_int_equal(gb_store_write(s, "s2", 1000, GB_Q_GOOD, &x), 0);
    latest_back_t b = {s, 0, 0};
    assert_int_equal(gb_store_each_latest(s, latest_and_back, &b), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.changed, 0);
    for (int i = 0; i < 2; i++) {
        gb_point_t p;
        assert_int_equal(gb_store_latest(s, i ? "s2" : "s1", &p), 0);
        assert_int_equal(p.t, 2000);
        assert_int_equal(p.v.len, 27);
    }
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

static void test_latest_text(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    fill(s);
    assert_int_equal(gb_store_close(s), 0); /* newest points in block files, not yet in memory */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    text_t entry[4] = {{0}}, want = {0};
    add(&want, "{\"series\":[", 11);
    for (size_t i = 0; i < 4; i++) {
        gb_point_t p;
        assert_int_equal(gb_store_latest(s, SERIES[i], &p), 0);
        text_t *e = &entry[i];
        add(e, "{\"tag\":", 7);
        ref_json_str(e, SERIES[i], strlen(SERIES[i]));
        add(e, ",\"time\":\"", 9);
        char buf[64];
        add(e, buf, gb_csv_time_format(p.t, buf));
        add(e, "\",\"value\":", 10);
        ref_t r = {e, SERIES[i], true, true};
        size_t at = e->len;
        ref_point(&r, &p); /* ["time",value]: keep the value */
        size_t vlen = e->len - at - 2 - 30 - 3;
        memmove(e->p + at, e->p + at + 2 + 30 + 2, vlen);
        e->len = at + vlen;
        add(e, ",\"quality\":\"good\"}", 18);
        if (i) add(&want, ",", 1);
        add(&want, e->p, e->len);
    }
    add(&want, "]}", 2);
    char *text;
    size_t len, missing = 9;
    assert_int_equal(gb_query_latest(s, SERIES, 4, NULL, 0, &text, &len, &missing), 0);
    assert_int_equal(len, want.len);
    assert_memory_equal(text, want.p, len);
    free(text);
    /* by pattern: the series whose path matches one of the patterns, each once */
    const char *pat[] = {"*/i", "p/[b]", "p/*i", "nothing*", "p/", "p/b*"};
    assert_int_equal(gb_query_latest(s, NULL, 0, pat, 6, &text, &len, NULL), 0);
    assert_non_null(memmem(text, len, entry[1].p, entry[1].len));
    assert_non_null(memmem(text, len, entry[2].p, entry[2].len));
    assert_int_equal(len, 11 + entry[1].len + 1 + entry[2].len + 2);
    free(text);
    /* a whole name, a beginning with '*', a quoted byte: each tried its own way, same answer */
    const char *some[] = {"p/f", "p,s=*", "p\\/i", "p/f*x"};
    assert_int_equal(gb_query_latest(s, NULL, 0, some, 4, &text, &len, NULL), 0);
    for (size_t i = 0; i < 4; i++)
        if (i != 2) assert_non_null(memmem(text, len, entry[i].p, entry[i].len));
    assert_int_equal(len, 11 + entry[0].len + 1 + entry[1].len + 1 + entry[3].len + 2);
    free(text);
    const char *none[] = {"nothing*"};
    assert_int_equal(gb_query_latest(s, NULL, 0, none, 1, &text, &len, NULL), 0);
    assert_int_equal(len, 13);
    assert_memory_equal(text, "{\"series\":[]}", 13);
    free(text);
    /* every series, in the store's order */
    assert_int_equal(gb_query_latest(s, NULL, 0, NULL, 0, &text, &len, NULL), 0);
    assert_int_equal(len, want.len);
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(memmem(text, len, entry[i].p, entry[i].len));
        free(entry[i].p);
    }
    free(text);
    const char *bad[] = {"p/i", "nope"};
    assert_int_equal(gb_query_latest(s, bad, 2, NULL, 0, &text, &len, &missing), GB_ENOENT);
    assert_int_equal(missing, 1);
    free(want.p);
    assert_int_equal(gb_store_close(s), 0);
    rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_reopen),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_write_failure_loses_nothing),
        cmocka_unit_test(test_tick_syncs_in_background),
        cmocka_unit_test(test_lp_ingest_in_pieces),
        cmocka_unit_test(test_lp_ingest_strings),
        cmocka_unit_test(test_lp_ingest_refusals),
        cmocka_unit_test(test_each_latest_outside_the_lock),
        cmocka_unit_test(test_late_and_replaced),
        cmocka_unit_test(test_head_order),
        cmocka_unit_test(test_head_unsorted),
        cmocka_unit_test(test_flush_in_order),
        cmocka_unit_test(test_sort_dedupe_model),
        cmocka_unit_test(test_many_series_interleaved),
        cmocka_unit_test(test_stage_bucket_drained_alone),
        cmocka_unit_test(test_replays_fixed_width_records),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_decimal_aggregates),
        cmocka_unit_test(test_typed_aggregates),
        cmocka_unit_test(test_time_weighted_average),
        cmocka_unit_test(test_flush_while_writing),
        cmocka_unit_test(test_writers_drain_off_the_lock),
        cmocka_unit_test(test_pending_chunk_seen_by_readers),
        cmocka_unit_test(test_drain_thread),
        cmocka_unit_test(test_head_segments),
        cmocka_unit_test(test_head_encoding),
        cmocka_unit_test(test_latest_from_threads),
        cmocka_unit_test(test_flush_thread),
        cmocka_unit_test(test_flush_thread_failure),
        cmocka_unit_test(test_read_all_of),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_version1_files),
        cmocka_unit_test(test_footer_entries),
        cmocka_unit_test(test_footer_length),
        cmocka_unit_test(test_cursor_merges_overlapping_sources),
        cmocka_unit_test(test_damaged_block_in_a_run),
        cmocka_unit_test(test_query_text),
        cmocka_unit_test(test_latest_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
