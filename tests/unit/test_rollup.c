/*
 * Rollups: hand-checked values of a small series across minute and hour boundaries (with a late
 * and a replaced point), aggregates that give the same answers before and after retention turned
 * points into rollups (half the range in rollups, half in points), a crash between writing the
 * rollups and dropping the blocks, rollup files merging, and retention rewriting a block file that
 * is mostly dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "gemba/store.h"
#include "gemba/time.h"
#include "store/engine.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S GB_NS_PER_S
#define MIN (60 * S)
#define HOUR (3600 * S)

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/gemba-rollup-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    assert_int_equal(system(cmd), 0);
}

static void put(gb_store_t *s, const char *path, gb_time_t t, double v)
{
    gb_value_t x = {.type = GB_VT_F64, .f64 = v};
    assert_int_equal(gb_store_write(s, path, t, GB_Q_GOOD, &x), 0);
}

/* The answer of an aggregate: windows and values. */
typedef struct {
    size_t n;
    gb_time_t w[1024];
    double v[1024];
} ans_t;

static int keep_ans(void *ctx, gb_time_t window, const gb_value_t *v)
{
    ans_t *a = ctx;
    assert_true(a->n < 1024);
    a->w[a->n] = window;
    a->v[a->n++] = gb_value_number(v);
    return 0;
}

static void agg(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, int64_t step,
                gb_agg_t g, ans_t *a)
{
    a->n = 0;
    assert_int_equal(gb_store_aggregate(s, path, from, to, step, g, keep_ans, a), 0);
}

/* Equal to the last few bits: sums in another order round differently. */
static void same(const ans_t *a, const ans_t *b, const char *what)
{
    if (a->n != b->n) fail_msg("%s: %zu windows, then %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (a->w[i] != b->w[i]) fail_msg("%s: window %zu moved", what, i);
        if (isnan(a->v[i]) && isnan(b->v[i])) continue; /* a first or last point without value */
        double d = fabs(a->v[i] - b->v[i]), m = fabs(a->v[i]) > 1 ? fabs(a->v[i]) : 1;
        if (!(d <= 1e-9 * m))
            fail_msg("%s: window %zu: %.17g, then %.17g", what, i, a->v[i], b->v[i]);
    }
}

/*
 * Now, but not in the last seconds of an hour: the tests place points by the hour before now,
 * and their retention passes must all see the same hour.
 */
static gb_time_t settled_now(void)
{
    gb_time_t now = gb_now();
    if (gb_floor_to(now + 10 * S, HOUR) != gb_floor_to(now, HOUR)) {
        sleep(11);
        now = gb_now();
    }
    return now;
}

static int count_point(void *ctx, const gb_point_t *p)
{
    (void)p;
    (*(int *)ctx)++;
    return 0;
}

static int count_files(const char *dir, const char *sub, const char *ext)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ext) && !strstr(e->d_name, ".tmp");
    closedir(d);
    return n;
}

/*
 * The series of the hand-checked tests, T0 on an hour, written over three flushes:
 *   T0 1, T0+30s 3, T0+90s 2                      (flush 1)
 *   T0+1h 10, T0+1h30m 20                         (flush 2)
 *   T0+15s 5 (late), T0+30s 4 (replaces the 3)    (flush 3)
 *   T0+3h59m 8, T0+4h+1s 6: one block across the horizon T0+4h (flush 4)
 */
static void hand_series(gb_store_t *s, gb_time_t T0)
{
    put(s, "a", T0, 1);
    put(s, "a", T0 + 30 * S, 3);
    put(s, "a", T0 + 90 * S, 2);
    assert_int_equal(gb_store_flush(s), 0);
    put(s, "a", T0 + HOUR, 10);
    put(s, "a", T0 + HOUR + 30 * MIN, 20);
    assert_int_equal(gb_store_flush(s), 0);
    put(s, "a", T0 + 15 * S, 5);
    put(s, "a", T0 + 30 * S, 4);
    assert_int_equal(gb_store_flush(s), 0);
    put(s, "a", T0 + 3 * HOUR + 59 * MIN, 8);
    put(s, "a", T0 + 4 * HOUR + S, 6);
    assert_int_equal(gb_store_flush(s), 0);
}

/* The rollups themselves, from the final points of that series, worked out by hand. */
static void test_rollup_values(void **state)
{
    (void)state;
    const gb_time_t T0 = 472222 * HOUR; /* 2023-11-14T22:00:00Z */
    gb_pts_t p;
    gb_pts_init(&p, GB_VT_F64);
    const gb_time_t t[] = {T0,          T0 + 15 * S, T0 + 30 * S,
                           T0 + 90 * S, T0 + HOUR,   T0 + HOUR + 30 * MIN};
    const double v[] = {1, 5, 4, 2, 10, 20};
    for (int i = 0; i < 6; i++) {
        gb_value_t x = {.type = GB_VT_F64, .f64 = v[i]};
        gb_pts_add(&p, t[i], GB_Q_GOOD, &x);
    }
    gb_rollups_t m = {0}, h = {0};
    gb_rollup_build(&p, 0, INT64_MIN, &m);
    gb_rollup_build(&p, 1, INT64_MIN, &h);
    assert_int_equal(m.n, 4);
    assert_int_equal(h.n, 2);
    /* minute T0: 1, 5, 4 -- 1 holds 15 s, 5 holds 15 s; the 4 holds on into the next minute */
    const gb_rollup_t *r = &m.r[0];
    assert_int_equal(r->start, T0);
    assert_int_equal(r->st.count, 3);
    assert_int_equal(r->st.nnum, 3);
    assert_true(r->st.min == 1 && r->st.max == 5 && r->st.sum == 10 && r->st.sumsq == 42);
    assert_int_equal(r->st.tmin, T0);
    assert_int_equal(r->st.tmax, T0 + 30 * S);
    assert_true(gb_slot_number(GB_VT_F64, r->st.first) == 1);
    assert_true(gb_slot_number(GB_VT_F64, r->st.last) == 4);
    assert_true(r->area == 1.0 * 15 * S + 5.0 * 15 * S);
    assert_int_equal(r->area_ns, 30 * S);
    /* minute T0+1m: the 2 alone */
    r = &m.r[1];
    assert_int_equal(r->start, T0 + MIN);
    assert_true(r->st.count == 1 && r->st.sum == 2 && r->st.sumsq == 4 && r->area_ns == 0);
    assert_int_equal(m.r[2].start, T0 + HOUR);
    assert_int_equal(m.r[3].start, T0 + HOUR + 30 * MIN);
    /* hour T0: 1, 5, 4, 2 -- the 4 holds 60 s up to the 2 */
    r = &h.r[0];
    assert_int_equal(r->start, T0);
    assert_true(r->st.count == 4 && r->st.min == 1 && r->st.max == 5 && r->st.sum == 12 &&
                r->st.sumsq == 46);
    assert_true(gb_slot_number(GB_VT_F64, r->st.last) == 2);
    assert_int_equal(r->st.tmax, T0 + 90 * S);
    assert_true(r->area == (1.0 * 15 + 5.0 * 15 + 4.0 * 60) * S);
    assert_int_equal(r->area_ns, 90 * S);
    /* hour T0+1h: 10 for 30 min, then 20 */
    r = &h.r[1];
    assert_true(r->st.count == 2 && r->st.sum == 30 && r->st.sumsq == 500);
    assert_true(r->area == 10.0 * 30 * MIN);
    assert_int_equal(r->area_ns, 30 * MIN);
    /* windows that end before SINCE are not made */
    gb_rollups_t late = {0};
    gb_rollup_build(&p, 0, T0 + HOUR + MIN, &late);
    assert_int_equal(late.n, 1);
    assert_int_equal(late.r[0].start, T0 + HOUR + 30 * MIN);
    /* a chunk decodes to what was encoded */
    gb_buf_t b;
    gb_buf_init(&b);
    gb_rollup_encode(GB_VT_F64, 0, m.r, m.n, &b);
    gb_rollup_t back[GB_ROLLUP_CHUNK_MAX];
    size_t n;
    assert_int_equal(gb_rollup_decode(b.p, b.len, GB_VT_F64, 0, back, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(back, m.r, 4 * sizeof *back);
    assert_int_equal(gb_rollup_decode(b.p, b.len, GB_VT_F64, 1, back, &n), GB_EPROTO);
    assert_int_equal(gb_rollup_decode(b.p, b.len - 1, GB_VT_F64, 0, back, &n), GB_EPROTO);
    gb_buf_clear(&b);
    free(m.r);
    free(h.r);
    free(late.r);
    gb_pts_clear(&p);
}

static const gb_agg_t ALL[] = {GB_AGG_COUNT, GB_AGG_MIN,  GB_AGG_MAX,    GB_AGG_SUM, GB_AGG_AVG,
                               GB_AGG_FIRST, GB_AGG_LAST, GB_AGG_STDDEV, GB_AGG_TWA};
#define NALL 9
static const int64_t STEPS[] = {MIN, HOUR, 2 * HOUR};
#define NSTEPS 3

/* Every aggregate at every step over [FROM, TO) of PATH, into A[agg][step]. */
static void answers(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to,
                    ans_t (*a)[NSTEPS])
{
    for (int g = 0; g < NALL; g++)
        for (int k = 0; k < NSTEPS; k++)
            agg(s, path, from, to, STEPS[k], ALL[g], &a[g][k]);
}

static void same_answers(ans_t (*a)[NSTEPS], ans_t (*b)[NSTEPS])
{
    for (int g = 0; g < NALL; g++)
        for (int k = 0; k < NSTEPS; k++) {
            char what[64];
            snprintf(what, sizeof what, "%s step %llds", gb_agg_name(ALL[g]),
                     (long long)(STEPS[k] / S));
            same(&a[g][k], &b[g][k], what);
        }
}

/*
 * A new store holding the hand-checked series (T0 five hours before now) in the four files of its
 * four flushes, and its answers. (A clean stop merges them into one file, whose one block would
 * reach past every horizon; the four are put back, as a crash before the stop leaves them.)
 */
static char *hand_store(gb_time_t *T0, ans_t (*before)[NSTEPS])
{
    char *dir = tmpdir();
    *T0 = gb_floor_to(settled_now(), HOUR) - 5 * HOUR;
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    hand_series(s, *T0);
    answers(s, "a", *T0, *T0 + 5 * HOUR, before);
    sh("cd '%s' && mkdir flushes && cp blocks/*.gbb flushes/%s", dir, "");
    assert_int_equal(gb_store_close(s), 0);
    sh("cd '%s' && rm blocks/*.gbb && mv flushes/*.gbb blocks/ && rmdir flushes%s", dir, "");
    assert_int_equal(count_files(dir, "blocks", ".gbb"), 4);
    return dir;
}

/*
 * The store turns the points into rollups at retention, and aggregates read them: the
 * hand-checked values per window, and every aggregate equal to what it was before.
 */
static void test_retention_makes_rollups(void **state)
{
    (void)state;
    gb_time_t T0;
    static ans_t before[NALL][NSTEPS], after[NALL][NSTEPS];
    char *dir = hand_store(&T0, before);
    gb_store_t *s;

    /* points kept 1 h, 1-minute rollups a day, 1-hour ones 30 days: the horizon is T0+4h */
    gb_retention_t rule = {"a", HOUR, 86400 * S, 30 * 86400 * S};
    gb_store_opts_t o = {.retention = &rule, .nretention = 1};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.rollup_files, 1);
    assert_int_equal(info.rollups_1m, 5);  /* T0, T0+1m, T0+1h, T0+1h30m, T0+3h59m */
    assert_int_equal(info.rollups_1h, 3);  /* T0, T0+1h, T0+3h */
    assert_int_equal(info.block_files, 1); /* the block across the horizon stays */
    assert_int_equal(info.points, 2);
    assert_true(info.rollup_bytes > 0 && info.bytes >= info.rollup_bytes + info.block_bytes);
    /* a raw read gives what points remain */
    int n = 0;
    assert_int_equal(gb_store_read(s, "a", INT64_MIN, INT64_MAX, count_point, &n), 0);
    assert_int_equal(n, 2);

    /* per minute, from the rollups, by hand */
    ans_t a;
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_COUNT, &a);
    assert_int_equal(a.n, 4);
    assert_true(a.w[0] == T0 && a.v[0] == 3 && a.w[1] == T0 + MIN && a.v[1] == 1);
    assert_true(a.w[2] == T0 + HOUR && a.v[2] == 1 && a.w[3] == T0 + 90 * MIN && a.v[3] == 1);
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_SUM, &a);
    assert_true(a.v[0] == 10 && a.v[1] == 2 && a.v[2] == 10 && a.v[3] == 20);
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_MAX, &a);
    assert_true(a.v[0] == 5);
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_LAST, &a);
    assert_true(a.v[0] == 4); /* the replaced point's later value */
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_FIRST, &a);
    assert_true(a.v[0] == 1);
    /* sample stddev of 1, 5, 4: mean 10/3, (42 - 3 (10/3)^2) / 2 = 13/3 */
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_STDDEV, &a);
    assert_true(fabs(a.v[0] - sqrt(13.0 / 3)) < 1e-12);
    /* twa: minute T0 is 1 x 15 s + 5 x 15 s + 4 x 30 s = 210 over 60 s; minute T0+1m is
       4 x 30 s + 2 x 30 s; then the 2 holds until T0+1h */
    agg(s, "a", T0, T0 + 2 * HOUR, MIN, GB_AGG_TWA, &a);
    assert_int_equal(a.n, 120);
    assert_true(a.v[0] == 3.5 && a.v[1] == 3 && a.v[2] == 2 && a.v[59] == 2);
    assert_true(a.v[60] == 10 && a.v[89] == 10 && a.v[90] == 20 && a.v[119] == 20);
    /* per hour, half in rollups (before T0+4h) and half in points */
    agg(s, "a", T0, T0 + 5 * HOUR, HOUR, GB_AGG_SUM, &a);
    assert_int_equal(a.n, 4);
    assert_true(a.v[0] == 12 && a.v[1] == 30 && a.v[2] == 8 && a.v[3] == 6);
    assert_int_equal(a.w[2], T0 + 3 * HOUR);
    agg(s, "a", T0, T0 + 5 * HOUR, HOUR, GB_AGG_TWA, &a);
    /* hour T0+3h: 20 until T0+3h59m, then 8; hour T0+4h: 8 for 1 s, then 6 */
    assert_int_equal(a.n, 5);
    assert_true(fabs(a.v[3] - (20.0 * 59 + 8) / 60) < 1e-12);
    assert_true(fabs(a.v[4] - (8.0 + 6 * 3599) / 3600) < 1e-12);
    /* every aggregate at every step as before retention */
    answers(s, "a", T0, T0 + 5 * HOUR, after);
    same_answers(before, after);
    /* windows not made of whole minutes cannot use rollups: what points remain answer */
    agg(s, "a", T0 + S, T0 + 5 * HOUR, MIN, GB_AGG_COUNT, &a);
    assert_int_equal(a.n, 2);
    assert_int_equal(gb_store_close(s), 0);

    /* a reader without the rules (gemba query) sees the same from the files */
    gb_store_opts_t ro = {.readonly = true};
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    answers(s, "a", T0, T0 + 5 * HOUR, after);
    same_answers(before, after);
    assert_int_equal(gb_store_close(s), 0);
    sh("rm -rf '%s'%s", dir, "");
    free(dir);
}

/*
 * A crash after the rollup file is written and before the blocks are dropped: the blocks come
 * back beside the rollups, and nothing counts twice -- not when read as they are, not after the
 * next open drops them. An unfinished rollup file is deleted at open.
 */
static void test_crash_between_rollups_and_drop(void **state)
{
    (void)state;
    gb_time_t T0;
    static ans_t before[NALL][NSTEPS], after[NALL][NSTEPS];
    char *dir = hand_store(&T0, before);
    gb_store_t *s;
    sh("cp -a '%s/blocks' '%s/saved'", dir, dir);

    gb_retention_t rule = {"a", HOUR, 86400 * S, 30 * 86400 * S};
    gb_store_opts_t o = {.retention = &rule, .nretention = 1};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(count_files(dir, "blocks", ".gbb"), 1);
    /* as if the process had died before it dropped a block, and in its next pass's write */
    sh("cp '%s'/saved/* '%s/blocks/'", dir, dir);
    sh("echo half-written > '%s/rollups/00000002.gbr.tmp'%s", dir, "");
    assert_int_equal(count_files(dir, "blocks", ".gbb"), 4);

    gb_store_opts_t ro = {.readonly = true};
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    answers(s, "a", T0, T0 + 5 * HOUR, after);
    same_answers(before, after);
    assert_int_equal(gb_store_close(s), 0);

    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.rollup_files, 1);
    assert_int_equal(info.rollups_1h, 3);
    assert_int_equal(info.block_files, 1);
    answers(s, "a", T0, T0 + 5 * HOUR, after);
    same_answers(before, after);
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(count_files(dir, "rollups", ".gbr"), 1);
    struct stat st;
    char p[700];
    snprintf(p, sizeof p, "%s/rollups/00000002.gbr.tmp", dir);
    assert_true(stat(p, &st) != 0);
    sh("rm -rf '%s'%s", dir, "");
    free(dir);
}

/* A small deterministic generator, so that the test's data is the same every run. */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/*
 * An irregular series over ten hours, rolled up one hour per open (the keep period shrinking by
 * an hour each time): eight passes make eight rollup files, which merge into one; stddev, twa and
 * the rest stay what the points gave. Then the 1-minute rollups go, and the hours still answer.
 */
static void test_rollups_merge_and_match(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_time_t now = settled_now(), T0 = gb_floor_to(now, HOUR) - 10 * HOUR;
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 3000; i++) {
        gb_time_t t = T0 + (gb_time_t)(rnd(&x) % (uint64_t)(10 * HOUR));
        double v = (double)(rnd(&x) % 2000) / 8 - 100;
        put(s, "b", t, i % 97 == 0 ? NAN : v);
        if (i % 500 == 499) assert_int_equal(gb_store_flush(s), 0);
    }
    assert_int_equal(gb_store_close(s), 0);
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    static ans_t before[NALL][NSTEPS], after[NALL][NSTEPS];
    answers(s, "b", T0, T0 + 10 * HOUR, before);
    assert_int_equal(gb_store_close(s), 0);
    for (int k = 9; k >= 2; k--) {
        gb_retention_t rule = {"b", k * HOUR, 30 * HOUR, 30 * 86400 * S};
        gb_store_opts_t o = {.retention = &rule, .nretention = 1};
        assert_int_equal(gb_store_open(dir, &o, &s), 0);
        answers(s, "b", T0, T0 + 10 * HOUR, after);
        same_answers(before, after);
        assert_int_equal(gb_store_close(s), 0);
    }
    /* eight passes, eight files, merged into one */
    assert_int_equal(count_files(dir, "rollups", ".gbr"), 1);
    gb_store_opts_t ro = {.readonly = true};
    assert_int_equal(gb_store_open(dir, &ro, &s), 0);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.rollup_files, 1);
    assert_int_equal(info.rollups_1h, 8);
    assert_int_equal(gb_store_close(s), 0);
    /* no 1-minute rollups any more (kept no longer than the points): they go, the file is
       written again without them, and hours still answer */
    uint64_t bytes = info.rollup_bytes;
    gb_retention_t rule = {"b", 2 * HOUR, 0, 30 * 86400 * S};
    gb_store_opts_t o = {.retention = &rule, .nretention = 1};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    gb_store_stat(s, &info);
    assert_int_equal(info.rollups_1m, 0);
    assert_int_equal(info.rollups_1h, 8);
    assert_true(info.rollup_bytes < bytes / 2);
    /* minutes of those hours come from what points remain (blocks that reach past the
       horizon), as if there were no rollups */
    ans_t a;
    agg(s, "b", T0, T0 + 2 * HOUR, MIN, GB_AGG_COUNT, &a);
    int n = 0, total = 0;
    assert_int_equal(gb_store_read(s, "b", T0, T0 + 2 * HOUR, count_point, &n), 0);
    for (size_t i = 0; i < a.n; i++)
        total += (int)a.v[i];
    assert_int_equal(total, n);
    agg(s, "b", T0, T0 + 10 * HOUR, HOUR, GB_AGG_STDDEV, &a);
    same(&before[7][1], &a, "stddev per hour after the minutes went");
    agg(s, "b", T0, T0 + 10 * HOUR, HOUR, GB_AGG_TWA, &a);
    same(&before[8][1], &a, "twa per hour after the minutes went");
    assert_int_equal(gb_store_close(s), 0);
    sh("rm -rf '%s'%s", dir, "");
    free(dir);
}

static uint64_t file_size(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/blocks/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Retention frees the disk: a block file mostly past retention is written again without it. */
static void test_retention_rewrites_mostly_dropped_file(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_time_t now = gb_now();
    gb_store_t *s;
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    uint64_t x = 1;
    for (int i = 0; i < 20000; i++)
        put(s, "old", now - 3 * HOUR + i * (S / 4), (double)(rnd(&x) % 100000) / 7);
    for (int i = 0; i < 10; i++)
        put(s, "new", now - 3 * HOUR + i * S, i);
    assert_int_equal(gb_store_close(s), 0);
    uint64_t full = file_size(dir, "00000001.gbb");
    assert_true(full > 20000);
    gb_retention_t rule = {"old", HOUR, 0, 0};
    gb_store_opts_t o = {.retention = &rule, .nretention = 1};
    assert_int_equal(gb_store_open(dir, &o, &s), 0);
    int n = 0;
    assert_int_equal(gb_store_read(s, "new", INT64_MIN, INT64_MAX, count_point, &n), 0);
    assert_int_equal(n, 10);
    gb_store_info_t info;
    gb_store_stat(s, &info);
    assert_int_equal(info.block_files, 1);
    assert_true(info.block_bytes < full / 10);
    assert_int_equal(gb_store_close(s), 0);
    assert_true(file_size(dir, "00000001.gbb") < full / 10);
    assert_int_equal(gb_store_open(dir, NULL, &s), 0);
    n = 0;
    assert_int_equal(gb_store_read(s, "new", INT64_MIN, INT64_MAX, count_point, &n), 0);
    assert_int_equal(n, 10);
    /* nothing of "old" is left on disk: after a restart the series is gone */
    assert_int_equal(gb_store_read(s, "old", INT64_MIN, INT64_MAX, count_point, &n), GB_ENOENT);
    assert_int_equal(gb_store_close(s), 0);
    sh("rm -rf '%s'%s", dir, "");
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup_values),
        cmocka_unit_test(test_retention_makes_rollups),
        cmocka_unit_test(test_crash_between_rollups_and_drop),
        cmocka_unit_test(test_rollups_merge_and_match),
        cmocka_unit_test(test_retention_rewrites_mostly_dropped_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
