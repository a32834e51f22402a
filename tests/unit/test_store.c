/* The write-ahead log: round trip of counts, reopen, a torn tail cut off, and a write failure that
 * loses nothing accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "gemba/store.h"
#include "gemba/time.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A crash mid-write leaves half a record: scan reports it, the next open cuts it off, and the
 * records before it are all kept. */
static void test_torn_tail(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_tags_t *r = registry();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    gb_batch_t *b = mixed(10, 0);
    assert_int_equal(gb_store_append(s, r, b), 0);
    assert_int_equal(gb_store_close(s), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/wal/00000001.wal", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    off_t good = st.st_size;
    /* append a second batch, then chop off its last 7 bytes */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    assert_int_equal(gb_store_append(s, r, b), 0);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 7), 0);
    gb_store_info_t info;
    assert_int_equal(gb_store_scan(dir, &info, NULL, NULL), 0);
    assert_int_equal(info.points, 40);
    assert_int_equal(info.torn_bytes, (uint64_t)(st.st_size - 7 - good));
    /* flip a byte inside the first record's payload: its CRC no longer matches */
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, good);
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
        if (rc == 0) accepted += b->n;
    }
    assert_true(rc == GB_EIO || rc == GB_ENOSPC);
    assert_true(accepted > 0);
    assert_int_equal(gb_store_appended(s), accepted);
    /* a partial write may have freed some buffer room: the buffer is bounded, so appends are
     * taken until it is full again and then refused every time, changing nothing */
    for (int i = 0; i < 10 && gb_store_append(s, r, b) == 0; i++) accepted += b->n;
    for (int i = 0; i < 3; i++) assert_int_not_equal(gb_store_append(s, r, b), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_reopen),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_write_failure_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
