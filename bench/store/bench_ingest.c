/*
 * bench-ingest: in-process ingest into the store, the path every adapter's samples take (bus
 * batches into gb_store_append: log record + head), across 10,000 series with the log on, then
 * a flush to block files and a full read back. Prints points per second for each step.
 *   usage: bench_ingest [DIR] [POINTS_MILLIONS]   (default: a temporary directory, 20)
 */
#include "gemba/store.h"
#include "gemba/tags.h"
#include "gemba/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SERIES 10000
#define BATCH 10000

/* CPU time of this process (all threads): a rate that other work on the machine disturbs less */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int count_point(void *ctx, const gb_point_t *p)
{
    (void)p;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int count_window(void *ctx, gb_time_t w, const gb_value_t *v)
{
    (void)w;
    (void)v;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int count_latest(void *ctx, const char *path, const gb_point_t *p)
{
    (void)path;
    (void)p;
    (*(uint64_t *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/gemba-bench-ingest-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    uint64_t total = (uint64_t)(argc > 2 ? atof(argv[2]) : 20) * 1000000;
    gb_tags_t *r = gb_tags_new();
    uint32_t site, m = 0;
    gb_tags_add_asset(r, GB_ASSET_SITE, GB_NONE, "bench", &site);
    for (int i = 0; i < SERIES; i++) {
        char name[32];
        if (i % 100 == 0) {
            snprintf(name, sizeof name, "m%03d", i / 100);
            gb_tags_add_asset(r, GB_ASSET_MACHINE, site, name, &m);
        }
        snprintf(name, sizeof name, "t%04d", i);
        gb_tag_t t = {.name = name, .type = i % 10 == 9 ? GB_VT_I64 : GB_VT_F64};
        gb_tags_add(r, m, &t, NULL);
    }
    gb_store_opts_t o = {.flush_points = UINT64_MAX, .flush_interval_ns = INT64_MAX};
    gb_store_t *s;
    if (gb_store_open(dir, &o, &s) != 0) return 1;
    gb_batch_t *b = gb_batch_new(BATCH);
    gb_time_t t0 = 1763800000 * GB_NS_PER_S;
    uint64_t done = 0;
    int64_t start = gb_mono_ns(), cpu0 = cpu_ns();
    while (done < total) {
        gb_batch_reset(b);
        for (int i = 0; i < BATCH; i++, done++) {
            uint32_t tag = (uint32_t)(done % SERIES);
            gb_time_t t = t0 + (gb_time_t)(done / SERIES) * GB_NS_PER_S;
            if (tag % 10 == 9)
                gb_batch_add_i64(b, t, tag, GB_Q_GOOD, (int64_t)(done / SERIES));
            else
                gb_batch_add_f64(b, t, tag, GB_Q_GOOD,
                                 20.0 + (double)((done * 7919) % 1000) / 100.0);
        }
        if (gb_store_append(s, r, b) != 0) return 1;
    }
    gb_store_sync(s);
    double ingest_s = (double)(gb_mono_ns() - start) / 1e9;
    double ingest_cpu_s = (double)(cpu_ns() - cpu0) / 1e9;
    start = gb_mono_ns();
    if (gb_store_flush(s) != 0) return 1;
    double flush_s = (double)(gb_mono_ns() - start) / 1e9;
    gb_store_info_t info;
    gb_store_stat(s, &info);
    start = gb_mono_ns();
    uint64_t n = 0;
    char path[64];
    for (int i = 0; i < SERIES; i++) {
        snprintf(path, sizeof path, "bench/m%03d/t%04d", i / 100, i);
        gb_store_read(s, path, INT64_MIN, INT64_MAX, count_point, &n);
    }
    double read_s = (double)(gb_mono_ns() - start) / 1e9;
    /* the latest value of every tag, twice: the first pass may fill the cache, the second is warm
     */
    double latest_ms[2];
    for (int pass = 0; pass < 2; pass++) {
        start = gb_mono_ns();
        for (int i = 0; i < SERIES; i++) {
            snprintf(path, sizeof path, "bench/m%03d/t%04d", i / 100, i);
            gb_point_t p;
            if (gb_store_latest(s, path, &p) != 0) return 1;
        }
        latest_ms[pass] = (double)(gb_mono_ns() - start) / 1e6;
    }
    printf("bench-ingest: %llu points into %d series (in-process, log on, sync every 1 s)\n\n",
           (unsigned long long)total, SERIES);
    printf("%-40s %14.0f points/s  (%.0f per CPU-second of this process)\n", "append (log + head)",
           (double)total / ingest_s, (double)total / ingest_cpu_s);
    printf("%-40s %14.0f points/s\n", "flush (head -> block files)", (double)total / flush_s);
    printf("%-40s %14.0f points/s  (%llu read)\n", "read back, series by series",
           (double)n / read_s, (unsigned long long)n);
    printf("%-40s %14.2f bytes/point\n", "block files",
           (double)info.block_bytes / (double)info.points);
    printf("%-40s %14.3f ms (first pass %.3f ms)\n", "latest value of 10,000 tags, one by one",
           latest_ms[1], latest_ms[0]);
    start = gb_mono_ns();
    uint64_t nl = 0;
    gb_store_each_latest(s, count_latest, &nl);
    printf("%-40s %14.3f ms (%llu tags)\n", "latest value of every tag, one call",
           (double)(gb_mono_ns() - start) / 1e6, (unsigned long long)nl);
    /* a day of one 1 Hz series, flushed: its 1-minute averages (warm: the best of 20 runs) */
    for (int i = 0; i < 86400; i++) {
        gb_value_t v = {.type = GB_VT_F64, .f64 = 20.0 + (double)(i % 600) / 100.0};
        gb_store_write(s, "day", t0 + (gb_time_t)i * GB_NS_PER_S, GB_Q_GOOD, &v);
    }
    gb_store_flush(s);
    double best = 1e9;
    uint64_t wins = 0;
    for (int run = 0; run < 20; run++) {
        wins = 0;
        start = gb_mono_ns();
        gb_store_aggregate(s, "day", t0, t0 + 86400 * GB_NS_PER_S, 60 * GB_NS_PER_S, GB_AGG_AVG,
                           count_window, &wins);
        double ms = (double)(gb_mono_ns() - start) / 1e6;
        if (ms < best) best = ms;
    }
    printf("%-40s %14.3f ms (%llu windows)\n", "one day of 1 Hz, 1-minute averages", best,
           (unsigned long long)wins);
    gb_store_close(s);
    gb_batch_free(b);
    gb_tags_free(r);
    if (argc <= 1) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) return 1;
    }
    return 0;
}
