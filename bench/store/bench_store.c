/*
 * bench_store: the C half of `make bench-store` (bench/store/bench_store.sh is the driver). It
 * makes the data set once and runs the parts that need a library rather than a command line:
 *
 *   gen SENSORS OUT MPOINTS SEED   writes the data set to OUT, every point once in each form:
 *        data.lp      InfluxDB line protocol, one point a line, ns times (for every HTTP peer)
 *        points.csv   sid,t,v (for PostgreSQL's COPY, SQLite and gemba in-process)
 *        series.csv   sid,kind,path (kind f/i/b; path as gemba names the series from the line)
 *        meta.sh      shell variables: counts, and the series and ranges the queries use
 *      Plant load: 10,000 tags `plant,tag=tNNNNN` at 1-100 Hz, 70 % floats (field f), 20 %
 *      integers (field i), 10 % booleans (field b), seeded. Tag t00000 is a 1 Hz float over one
 *      day (the average query), t00001 a 100 Hz float over the last 10,000 s of it (1 M points,
 *      the raw scan); the other tags cover the end of that day, as long as MPOINTS needs.
 *      Sensors: every column of every SKAB file (`skab,file=DIR_N COLUMN=...`, 1 Hz) and the
 *      NAB temperatures (`nab,file=NAME value=...`), when SENSORS holds them.
 *   gemba OUT DIR BATCH            in-process: gb_store_write_points in batches (the points read
 *        and built first, untimed), then the three queries through the store API
 *   tags OUT DIR BATCH             in-process the way machine data goes in: samples by tag id in
 *        batches (made first, untimed) to gb_store_append, the store's tick on a thread of its own
 *   sqlite OUT DB BATCH            batched inserts into a WAL-mode table, then the queries
 *   post URL FILE BATCH CLIENTS    line protocol FILE to URL in BATCH-line bodies from CLIENTS
 *        threads on keep-alive connections; fails on any answer but 204
 *   get URL REPEAT [TOKEN]         one warm-up GET, then REPEAT: the median in ms (TOKEN: sent
 *        as Authorization: Bearer, for gemba, whose queries need a viewer)
 *   export DIR SERIES REPEAT [json]  in-process, on a store gemba serve left in DIR: the series'
 *        raw points as the text GET /api/v1/query answers, read in 64 KiB pieces as the server
 *        sends it, and the same read without text, to tell the cost of the text from that of the
 *        read (medians in ms)
 * Results are printed as `key value` lines for the driver.
 */
#include "gemba/store.h"
#include "gemba/time.h"
#include "store/export.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#ifdef GB_HAVE_SQLITE
#include <sqlite3.h>
#endif

#define PLANT_TAGS 10000
#define DAY_NS (86400 * GB_NS_PER_S)
#define T0 (1763769600 * GB_NS_PER_S) /* 2025-11-22T00:00:00Z */
#define SCAN_POINTS 1000000
#define REPEAT 7

/* ---- small things ----------------------------------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "bench_store: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static double wall_s(void)
{
    return (double)gb_mono_ns() / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- gen -------------------------------------------------------------------------------------- */

typedef struct gen {
    FILE *lp, *csv, *ser;
    uint64_t points, dropped;
    uint32_t nseries;
} gen_t;

/* One point of series SID in both forms; VAL is the value's text as line protocol wants it. */
static void emit(gen_t *g, const char *key, char kind, uint32_t sid, gb_time_t t, const char *val)
{
    const char *field = kind == 'f' ? "f" : kind == 'i' ? "i" : "b";
    fprintf(g->lp, "%s %s=%s%s %lld\n", key, field, val, kind == 'i' ? "i" : "", (long long)t);
    fprintf(g->csv, "%u,%lld,%s\n", sid, (long long)t,
            kind == 'b' ? (val[0] == 't' ? "1" : "0") : val);
    g->points++;
}

typedef struct tag {
    int rate;  /* Hz */
    int phase; /* in 10 ms ticks */
    char kind; /* f, i, b */
    int decimals;
    double x;
    int64_t n;
    bool b;
} tag_t;

static void tag_value(tag_t *tg, char *buf, size_t size)
{
    if (tg->kind == 'f') {
        tg->x += (rnd01() - 0.5) * 0.2;
        snprintf(buf, size, "%.*f", tg->decimals, tg->x);
    } else if (tg->kind == 'i') {
        tg->n += (int64_t)(rnd() % 3);
        snprintf(buf, size, "%lld", (long long)tg->n);
    } else {
        if (rnd() % 100 == 0) tg->b = !tg->b;
        snprintf(buf, size, "%s", tg->b ? "true" : "false");
    }
}

static void gen_plant(gen_t *g, uint64_t want)
{
    static const int rates[] = {1, 1, 1, 2, 5, 10, 10, 20, 50, 100};
    tag_t *tags = calloc(PLANT_TAGS, sizeof *tags);
    double hz = 0;
    for (int i = 0; i < PLANT_TAGS; i++) {
        tag_t *tg = &tags[i];
        tg->rate = i == 0 ? 1 : i == 1 ? 100 : rates[rnd() % 10];
        tg->phase = (int)(rnd() % (uint64_t)(100 / tg->rate));
        uint64_t k = rnd() % 10;
        tg->kind = i < 2 || k < 7 ? 'f' : k < 9 ? 'i' : 'b';
        tg->decimals = 1 + (int)(rnd() % 3);
        tg->x = 20 + (double)(rnd() % 600) / 10;
        tg->n = (int64_t)(rnd() % 100000);
        if (i >= 2) hz += tg->rate;
        fprintf(g->ser, "%d,%c,plant,tag=t%05d#%c\n", i, tg->kind, i, tg->kind);
    }
    uint64_t fixed = 86400 + SCAN_POINTS;
    double window_s = want > fixed ? (double)(want - fixed) / hz : 1;
    if (window_s > 86400) window_s = 86400;
    int64_t ticks = 8640000, start_scan = ticks - SCAN_POINTS, start_plant = ticks - (int64_t)(window_s * 100);
    char key[64], val[64];
    for (int64_t k = 0; k < ticks; k++) {
        gb_time_t t = T0 + k * 10 * GB_NS_PER_MS;
        for (int i = 0; i < PLANT_TAGS; i++) {
            if (i >= 2 && k < start_plant) break;
            if (i == 1 && k < start_scan) continue;
            tag_t *tg = &tags[i];
            int period = 100 / tg->rate;
            if (k % period != tg->phase) continue;
            snprintf(key, sizeof key, "plant,tag=t%05d", i);
            tag_value(tg, val, sizeof val);
            emit(g, key, tg->kind, (uint32_t)i, t, val);
        }
    }
    g->nseries = PLANT_TAGS;
    free(tags);
    printf("plant_window_s %.1f\n", window_s);
}

/* "2020-03-09 10:14:33" (taken as UTC) to ns; -1 when it is not such a time */
static gb_time_t parse_dt(const char *s)
{
    struct tm tm = {0};
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (gb_time_t)timegm(&tm) * GB_NS_PER_S;
}

/* A CSV file of sensors: the first column is the time, every other column one series. */
static void gen_sensor_file(gen_t *g, const char *path, const char *meas, const char *file, char sep)
{
    size_t len;
    char *text = read_file(path, &len);
    char *save = NULL, *line = strtok_r(text, "\r\n", &save);
    if (!line) goto out;
    char cols[16][64];
    int ncol = 0;
    for (char *c = line; c && ncol < 16;) {
        char *e = strchr(c, sep);
        if (e) *e = 0;
        int j = 0;
        for (; c[j] && j < 63; j++) cols[ncol][j] = isalnum((unsigned char)c[j]) ? c[j] : '_';
        cols[ncol][j] = 0;
        ncol++;
        c = e ? e + 1 : NULL;
    }
    uint32_t sid0 = g->nseries;
    gb_time_t last[16];
    for (int k = 1; k < ncol; k++) {
        fprintf(g->ser, "%u,f,%s,file=%s#%s\n", sid0 + (uint32_t)k - 1, meas, file, cols[k]);
        last[k] = INT64_MIN;
    }
    g->nseries += (uint32_t)ncol - 1;
    char key[160];
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *f[16];
        int nf = 0;
        for (char *c = line; c && nf < 16;) {
            f[nf++] = c;
            char *e = strchr(c, sep);
            if (e) *e = 0;
            c = e ? e + 1 : NULL;
        }
        gb_time_t t = parse_dt(f[0]);
        if (t < 0 || nf != ncol) continue;
        for (int k = 1; k < ncol; k++) {
            char *end;
            double v = strtod(f[k], &end);
            /* every point once, in time order per series: a repeated second is left out */
            if (end == f[k] || *end || !isfinite(v) || t <= last[k]) {
                g->dropped++;
                continue;
            }
            last[k] = t;
            snprintf(key, sizeof key, "%s,file=%s", meas, file);
            char *field = cols[k];
            fprintf(g->lp, "%s %s=%s %lld\n", key, field, f[k], (long long)t);
            fprintf(g->csv, "%u,%lld,%s\n", sid0 + (uint32_t)k - 1, (long long)t, f[k]);
            g->points++;
        }
    }
out:
    free(text);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.csv in DIR, in name order (so every run sees the same order). */
static void gen_sensor_dir(gen_t *g, const char *dir, const char *meas, const char *prefix, char sep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".csv")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char path[1024], file[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(file, sizeof file, "%s%.*s", prefix, (int)strlen(names[i]) - 4, names[i]);
        for (char *c = file; *c; c++)
            if (!isalnum((unsigned char)*c)) *c = '_';
        gen_sensor_file(g, path, meas, file, sep);
        free(names[i]);
    }
}

static int cmd_gen(const char *sensors, const char *out, double mpoints, uint64_t seed)
{
    char path[1024];
    gen_t g = {0};
    rng_state = seed ? seed : 1;
    snprintf(path, sizeof path, "%s/data.lp", out);
    g.lp = fopen(path, "w");
    snprintf(path, sizeof path, "%s/points.csv", out);
    g.csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/series.csv", out);
    g.ser = fopen(path, "w");
    if (!g.lp || !g.csv || !g.ser) die(path);
    gen_plant(&g, (uint64_t)(mpoints * 1e6));
    uint64_t plant = g.points;
    static const char *skab_dirs[] = {"anomaly-free", "other", "valve1", "valve2"};
    for (int i = 0; i < 4; i++) {
        char pre[32];
        snprintf(path, sizeof path, "%s/skab/%s", sensors, skab_dirs[i]);
        snprintf(pre, sizeof pre, "%s_", skab_dirs[i]);
        gen_sensor_dir(&g, path, "skab", pre, ';');
    }
    snprintf(path, sizeof path, "%s/nab", sensors);
    gen_sensor_dir(&g, path, "nab", "", ',');
    if (fclose(g.lp) || fclose(g.csv) || fclose(g.ser)) die("write");
    printf("points %llu\nplant_points %llu\nsensor_points %llu\nsensor_dropped %llu\nseries %u\n",
           (unsigned long long)g.points, (unsigned long long)plant,
           (unsigned long long)(g.points - plant), (unsigned long long)g.dropped, g.nseries);
    printf("day_from %lld\nday_to %lld\n", (long long)T0, (long long)(T0 + DAY_NS));
    return 0;
}

/* ---- the data set, read back (untimed) -------------------------------------------------------- */

typedef struct dataset {
    char **path; /* per sid */
    char *kind;
    uint32_t nseries;
    uint32_t *sid;
    gb_time_t *t;
    double *v; /* ints and bools exactly as doubles */
    size_t n;
} dataset_t;

static void load(const char *out, dataset_t *d)
{
    char path[1024];
    size_t len;
    memset(d, 0, sizeof *d);
    snprintf(path, sizeof path, "%s/series.csv", out);
    char *ser = read_file(path, &len);
    for (char *p = ser; *p; p++) d->nseries += *p == '\n';
    d->path = calloc(d->nseries, sizeof *d->path);
    d->kind = calloc(d->nseries, 1);
    char *save = NULL;
    for (char *l = strtok_r(ser, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        unsigned sid;
        char kind;
        int off;
        if (sscanf(l, "%u,%c,%n", &sid, &kind, &off) != 2 || sid >= d->nseries) die("series.csv");
        d->kind[sid] = kind;
        d->path[sid] = strdup(l + off);
    }
    free(ser);
    snprintf(path, sizeof path, "%s/points.csv", out);
    char *pts = read_file(path, &len);
    size_t cap = 0;
    for (char *p = pts; *p; p++) cap += *p == '\n';
    d->sid = malloc(cap * sizeof *d->sid);
    d->t = malloc(cap * sizeof *d->t);
    d->v = malloc(cap * sizeof *d->v);
    for (char *p = pts; *p;) {
        char *e;
        d->sid[d->n] = (uint32_t)strtoul(p, &e, 10);
        d->t[d->n] = strtoll(e + 1, &e, 10);
        d->v[d->n] = strtod(e + 1, &e);
        d->n++;
        p = *e ? e + 1 : e;
    }
    free(pts);
}

/* ---- gemba in-process ------------------------------------------------------------------------- */

static int count_pt(void *ctx, const gb_point_t *p)
{
    (void)p;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int count_win(void *ctx, gb_time_t w, const gb_value_t *v)
{
    (void)w;
    (void)v;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int count_plant_latest(void *ctx, const char *path, const gb_point_t *p)
{
    (void)p;
    if (!strncmp(path, "plant,", 6)) (*(uint64_t *)ctx)++;
    return 0;
}

static int cmd_gemba(const char *out, const char *dir, size_t batch)
{
    dataset_t d;
    load(out, &d);
    gb_store_wpoint_t *w = malloc(d.n * sizeof *w);
    for (size_t i = 0; i < d.n; i++) {
        gb_value_t v = {.type = GB_VT_F64, .f64 = d.v[i]};
        if (d.kind[d.sid[i]] == 'i') v = (gb_value_t){.type = GB_VT_I64, .i64 = (int64_t)d.v[i]};
        if (d.kind[d.sid[i]] == 'b') v = (gb_value_t){.type = GB_VT_BOOL, .b = d.v[i] != 0};
        w[i] = (gb_store_wpoint_t){
            .path = d.path[d.sid[i]], .t = d.t[i], .q = GB_Q_GOOD, .v = v};
    }
    gb_store_opts_t o = {0}; /* as gemba serve runs it: sync every 1 s, flush at 4 M points */
    gb_store_t *s;
    if (gb_store_open(dir, &o, &s) != 0) die("gb_store_open");
    double t0 = wall_s();
    for (size_t i = 0; i < d.n; i += batch) {
        size_t refused = 0, n = d.n - i < batch ? d.n - i : batch;
        if (gb_store_write_points(s, w + i, n, &refused, NULL) != 0 || refused) die("write_points");
        if (gb_store_tick(s) != 0) die("tick");
    }
    if (gb_store_sync(s) != 0) die("sync");
    double ingest = wall_s() - t0;
    t0 = wall_s();
    if (gb_store_close(s) != 0) die("close");
    double flush = wall_s() - t0;
    gb_store_info_t info;
    if (gb_store_scan(dir, &info, NULL, NULL) != 0) die("scan");
    printf("ingest_pps %.0f\nflush_s %.2f\nstored_points %llu\nbytes %llu\nbpp %.3f\n",
           (double)d.n / ingest, flush, (unsigned long long)info.points,
           (unsigned long long)info.bytes, (double)info.bytes / (double)info.points);

    if (gb_store_open(dir, &o, &s) != 0) die("gb_store_open");
    double ms[3][REPEAT + 1];
    uint64_t got[3] = {0};
    for (int r = 0; r <= REPEAT; r++) { /* run 0 warms up */
        uint64_t n = 0;
        t0 = wall_s();
        gb_store_aggregate(s, d.path[0], T0, T0 + DAY_NS, 60 * GB_NS_PER_S, GB_AGG_AVG, count_win, &n);
        ms[0][r] = (wall_s() - t0) * 1e3;
        got[0] = n;
        n = 0;
        t0 = wall_s();
        gb_store_each_latest(s, count_plant_latest, &n);
        ms[1][r] = (wall_s() - t0) * 1e3;
        got[1] = n;
        n = 0;
        t0 = wall_s();
        gb_store_read(s, d.path[1], INT64_MIN, INT64_MAX, count_pt, &n);
        ms[2][r] = (wall_s() - t0) * 1e3;
        got[2] = n;
    }
    printf("avg_ms %.3f\navg_rows %llu\nlatest_ms %.3f\nlatest_rows %llu\nscan_ms %.3f\nscan_rows %llu\n",
           median(ms[0] + 1, REPEAT), (unsigned long long)got[0], median(ms[1] + 1, REPEAT),
           (unsigned long long)got[1], median(ms[2] + 1, REPEAT), (unsigned long long)got[2]);
    gb_store_close(s);
    return 0;
}

/* ---- gemba in-process, by tag id -------------------------------------------------------------- */

typedef struct ticker {
    gb_store_t *s;
    atomic_int stop;
} ticker_t;

/* What gemba serve's main loop does beside the writers: a tick every 200 ms (sync, flush). */
static void *tick_main(void *arg)
{
    ticker_t *k = arg;
    while (!atomic_load(&k->stop)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (gb_store_tick(k->s) != 0) die("tick");
    }
    return NULL;
}

/*
 * The way machine data goes in: samples by tag id in batches (an adapter's, through the bus) to
 * gb_store_append, the series named by the plant's registry (a machine per 100 series), with the
 * store's tick on a thread of its own as gemba serve runs it.
 */
static int cmd_tags(const char *out, const char *dir, size_t batch)
{
    dataset_t d;
    load(out, &d);
    gb_tags_t *reg = gb_tags_new();
    uint32_t site, m = 0, *tag = malloc(d.nseries * sizeof *tag);
    gb_tags_add_asset(reg, GB_ASSET_SITE, GB_NONE, "bench", &site);
    for (uint32_t i = 0; i < d.nseries; i++) {
        char name[32];
        if (i % 100 == 0) {
            snprintf(name, sizeof name, "m%03u", i / 100);
            if (gb_tags_add_asset(reg, GB_ASSET_MACHINE, site, name, &m) != 0) die("machine");
        }
        snprintf(name, sizeof name, "s%05u", i);
        gb_tag_t t = {.name = name,
                      .type = d.kind[i] == 'i'   ? GB_VT_I64
                              : d.kind[i] == 'b' ? GB_VT_BOOL
                                                 : GB_VT_F64};
        if (gb_tags_add(reg, m, &t, &tag[i]) != 0) die("tag");
    }
    /* the batches made first (untimed), as adapters hand them over ready */
    size_t nb = (d.n + batch - 1) / batch;
    gb_batch_t **b = malloc(nb * sizeof *b);
    for (size_t k = 0; k < nb; k++) {
        b[k] = gb_batch_new(batch);
        for (size_t i = k * batch; i < d.n && i < (k + 1) * batch; i++) {
            uint32_t sid = d.sid[i];
            if (d.kind[sid] == 'i')
                gb_batch_add_i64(b[k], d.t[i], tag[sid], GB_Q_GOOD, (int64_t)d.v[i]);
            else if (d.kind[sid] == 'b')
                gb_batch_add_bool(b[k], d.t[i], tag[sid], GB_Q_GOOD, d.v[i] != 0);
            else
                gb_batch_add_f64(b[k], d.t[i], tag[sid], GB_Q_GOOD, d.v[i]);
        }
    }
    gb_store_opts_t o = {0};
    gb_store_t *s;
    if (gb_store_open(dir, &o, &s) != 0) die("gb_store_open");
    ticker_t k = {.s = s};
    pthread_t th;
    double t0 = wall_s();
    pthread_create(&th, NULL, tick_main, &k);
    for (size_t i = 0; i < nb; i++)
        if (gb_store_append(s, reg, b[i]) != 0) die("append");
    if (gb_store_sync(s) != 0) die("sync");
    double ingest = wall_s() - t0;
    atomic_store(&k.stop, 1);
    pthread_join(th, NULL);
    if (gb_store_close(s) != 0) die("close");
    gb_store_info_t info;
    if (gb_store_scan(dir, &info, NULL, NULL) != 0) die("scan");
    printf("tags_pps %.0f\ntags_stored_points %llu\n", (double)d.n / ingest,
           (unsigned long long)info.points);
    for (size_t i = 0; i < nb; i++)
        gb_batch_free(b[i]);
    free(b);
    free(tag);
    gb_tags_free(reg);
    return 0;
}

/* ---- SQLite ----------------------------------------------------------------------------------- */

#ifdef GB_HAVE_SQLITE
static void sq(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_store: sqlite: %s: %s\n", sql, err);
        exit(1);
    }
}

/* Runs STMT to the end, reading every column of every row; returns the rows. */
static uint64_t sq_rows(sqlite3_stmt *st)
{
    uint64_t n = 0;
    volatile double sink = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) sink += sqlite3_column_double(st, c);
        n++;
    }
    sqlite3_reset(st);
    (void)sink;
    return n;
}

static int cmd_sqlite(const char *out, const char *file, size_t batch)
{
    dataset_t d;
    load(out, &d);
    sqlite3 *db;
    if (sqlite3_open(file, &db) != SQLITE_OK) die("sqlite3_open");
    /* a 256 MiB page cache, as one would give a bulk load (the default 2 MiB thrashes once the
     * index outgrows it; PostgreSQL gets 512 MiB of shared buffers) */
    sq(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144;"
           "CREATE TABLE series(sid INTEGER PRIMARY KEY, path TEXT NOT NULL);"
           "CREATE TABLE points(sid INTEGER NOT NULL, t INTEGER NOT NULL, v NOT NULL,"
           "                    PRIMARY KEY (sid, t)) WITHOUT ROWID;");
    sqlite3_stmt *ins, *ser;
    sqlite3_prepare_v2(db, "INSERT INTO series VALUES (?1, ?2)", -1, &ser, NULL);
    sq(db, "BEGIN");
    for (uint32_t i = 0; i < d.nseries; i++) {
        sqlite3_bind_int64(ser, 1, i);
        sqlite3_bind_text(ser, 2, d.path[i], -1, SQLITE_STATIC);
        sqlite3_step(ser);
        sqlite3_reset(ser);
    }
    sq(db, "COMMIT");
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO points VALUES (?1, ?2, ?3)", -1, &ins,
                           NULL) != SQLITE_OK)
        die("prepare");
    double t0 = wall_s();
    for (size_t i = 0; i < d.n; i += batch) {
        size_t end = d.n - i < batch ? d.n : i + batch;
        sq(db, "BEGIN");
        for (size_t k = i; k < end; k++) {
            sqlite3_bind_int64(ins, 1, d.sid[k]);
            sqlite3_bind_int64(ins, 2, d.t[k]);
            if (d.kind[d.sid[k]] == 'f') sqlite3_bind_double(ins, 3, d.v[k]);
            else sqlite3_bind_int64(ins, 3, (int64_t)d.v[k]);
            if (sqlite3_step(ins) != SQLITE_DONE) die("insert");
            sqlite3_reset(ins);
        }
        sq(db, "COMMIT");
    }
    double ingest = wall_s() - t0;
    sq(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    struct stat st;
    if (stat(file, &st) != 0) die(file);
    sqlite3_stmt *cnt;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM points", -1, &cnt, NULL);
    sqlite3_step(cnt);
    printf("ingest_pps %.0f\nbytes %lld\nbpp %.3f\nstored_points %lld\n", (double)d.n / ingest,
           (long long)st.st_size, (double)st.st_size / (double)d.n,
           (long long)sqlite3_column_int64(cnt, 0));
    sqlite3_finalize(cnt);

    sqlite3_stmt *q[3];
    sqlite3_prepare_v2(db, "SELECT t / 60000000000, avg(v) FROM points WHERE sid = 0 AND t >= ?1"
                           " AND t < ?2 GROUP BY 1", -1, &q[0], NULL);
    sqlite3_bind_int64(q[0], 1, T0);
    sqlite3_bind_int64(q[0], 2, T0 + DAY_NS);
    sqlite3_prepare_v2(db, "SELECT s.sid, (SELECT v FROM points p WHERE p.sid = s.sid ORDER BY t"
                           " DESC LIMIT 1) FROM series s WHERE s.sid < 10000", -1, &q[1], NULL);
    sqlite3_prepare_v2(db, "SELECT t, v FROM points WHERE sid = 1 ORDER BY t", -1, &q[2], NULL);
    static const char *name[3] = {"avg", "latest", "scan"};
    for (int k = 0; k < 3; k++) {
        double ms[REPEAT + 1];
        uint64_t rows = 0;
        for (int r = 0; r <= REPEAT; r++) {
            t0 = wall_s();
            rows = sq_rows(q[k]);
            ms[r] = (wall_s() - t0) * 1e3;
        }
        printf("%s_ms %.3f\n%s_rows %llu\n", name[k], median(ms + 1, REPEAT), name[k],
               (unsigned long long)rows);
        sqlite3_finalize(q[k]);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(ser);
    sqlite3_close(db);
    return 0;
}
#endif

/* ---- HTTP ------------------------------------------------------------------------------------- */

typedef struct post_job {
    const char *url;
    char *buf;
    size_t *cut; /* body k is buf[cut[k] .. cut[k + 1]) */
    size_t nbody;
    atomic_size_t next;
    atomic_int failed;
    double *ms; /* per body, how long its request took */
} post_job_t;

/* CPU time (user + system) of this process so far, in seconds */
static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* The machine's idle and busy clock ticks so far (all cores, from /proc/stat; 0 where there is none). */
static void machine_ticks(unsigned long long *idle, unsigned long long *busy)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) != 8)
            memset(v, 0, sizeof v);
        fclose(f);
    }
    *idle = v[3] + v[4]; /* idle, iowait */
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

static size_t sink_body(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    if (ctx) *(size_t *)ctx += size * n;
    return size * n;
}

static void *post_worker(void *arg)
{
    post_job_t *j = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/plain");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    /* the client shares the machine's cores with the server it loads, the more so the faster
     * the server: no SIGPIPE handler set and reset around every request (two system calls;
     * SIGPIPE is ignored once, in cmd_post), and a body sent from a buffer of 1 MiB, in four
     * times fewer copies and send calls than libcurl's 64 KiB */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
    for (size_t k; (k = atomic_fetch_add(&j->next, 1)) < j->nbody;) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->buf + j->cut[k]);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(j->cut[k + 1] - j->cut[k]));
        long code = 0;
        double t0 = wall_s();
        CURLcode cc = curl_easy_perform(c);
        j->ms[k] = (wall_s() - t0) * 1e3;
        if (cc != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 204) {
            if (atomic_fetch_add(&j->failed, 1) == 0)
                fprintf(stderr, "bench_store: POST %s answered %ld\n", j->url, code);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmd_post(const char *url, const char *file, size_t batch, int clients)
{
    post_job_t j = {.url = url};
    size_t len, lines = 0;
    j.buf = read_file(file, &len);
    j.cut = malloc((len / batch + 2) * sizeof *j.cut);
    j.cut[0] = 0;
    for (size_t i = 0; i < len; i++)
        if (j.buf[i] == '\n' && ++lines % batch == 0) j.cut[++j.nbody] = i + 1;
    if (j.cut[j.nbody] < len) j.cut[++j.nbody] = len;
    j.ms = calloc(j.nbody ? j.nbody : 1, sizeof *j.ms);
    pthread_t th[64];
    if (clients < 1 || clients > 64) clients = 4;
    signal(SIGPIPE, SIG_IGN); /* a server that closes: curl's error, not the client's death */
    unsigned long long i0, b0, i1, b1;
    machine_ticks(&i0, &b0);
    double t0 = wall_s(), c0 = cpu_s();
    for (int i = 0; i < clients; i++) pthread_create(&th[i], NULL, post_worker, &j);
    for (int i = 0; i < clients; i++) pthread_join(th[i], NULL);
    double s = wall_s() - t0;
    machine_ticks(&i1, &b1);
    if (j.failed) return 1;
    /* idle_pct: how much of the machine's cores nobody used meanwhile (server and client share
     * them); write_*_ms: how long a body's request took, from sending to the answer */
    qsort(j.ms, j.nbody, sizeof *j.ms, cmp_double);
    printf("ingest_pps %.0f\nbodies %zu\nclient_cpu_s %.3f\nwall_s %.3f\nidle_pct %.1f\n"
           "write_p50_ms %.2f\nwrite_p99_ms %.2f\nwrite_max_ms %.2f\n",
           (double)lines / s, j.nbody, cpu_s() - c0, s,
           i1 + b1 > i0 + b0 ? 100.0 * (double)(i1 - i0) / (double)(i1 + b1 - i0 - b0) : 0.0,
           j.ms[j.nbody / 2], j.ms[j.nbody * 99 / 100], j.ms[j.nbody ? j.nbody - 1 : 0]);
    free(j.ms);
    return 0;
}

static int cmd_get(const char *url, int repeat, const char *token)
{
    CURL *c = curl_easy_init();
    size_t bytes = 0;
    struct curl_slist *h = NULL;
    char auth[300];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bytes);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL); /* no compression: the same for all */
    double ms[64];
    if (repeat < 1 || repeat > 63) repeat = REPEAT;
    for (int r = 0; r <= repeat; r++) {
        long code = 0;
        bytes = 0;
        double t0 = wall_s();
        if (curl_easy_perform(c) != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
            fprintf(stderr, "bench_store: GET %s answered %ld\n", url, code);
            return 1;
        }
        ms[r] = (wall_s() - t0) * 1e3;
    }
    printf("ms %.3f\nbytes %zu\n", median(ms + 1, repeat), bytes);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return 0;
}

/* ---- export ---------------------------------------------------------------------------------- */

static int cmd_export(const char *dir, const char *series, int repeat, bool json)
{
    gb_store_opts_t o = {0};
    gb_store_t *s;
    if (gb_store_open(dir, &o, &s) != 0) die("gb_store_open");
    const char *tags[] = {series};
    gb_query_t q = {.tags = tags, .ntags = 1, .from = INT64_MIN, .to = INT64_MAX, .json = json};
    double text_ms[64], read_ms[64];
    if (repeat < 1 || repeat > 63) repeat = REPEAT;
    size_t bytes = 0;
    uint64_t points = 0;
    static char buf[64 << 10]; /* the piece gemba serve hands its HTTP library at a time */
    for (int r = 0; r <= repeat; r++) { /* run 0 warms up */
        gb_query_stream_t *qs;
        double t0 = wall_s();
        if (gb_query_open(s, &q, &qs, NULL) != 0) die("gb_query_open");
        bytes = 0;
        for (int64_t n; (n = gb_query_read(qs, buf, sizeof buf)) != 0; bytes += (size_t)n)
            if (n < 0) die("gb_query_read");
        gb_query_close(qs);
        text_ms[r] = (wall_s() - t0) * 1e3;
        points = 0;
        t0 = wall_s();
        gb_store_read(s, series, INT64_MIN, INT64_MAX, count_pt, &points);
        read_ms[r] = (wall_s() - t0) * 1e3;
    }
    printf("text_ms %.3f\nread_ms %.3f\nbytes %zu\npoints %llu\n", median(text_ms + 1, repeat),
           median(read_ms + 1, repeat), bytes, (unsigned long long)points);
    gb_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!strcmp(cmd, "gen") && argc == 6)
        return cmd_gen(argv[2], argv[3], atof(argv[4]), strtoull(argv[5], NULL, 10));
    if (!strcmp(cmd, "gemba") && argc == 5) return cmd_gemba(argv[2], argv[3], strtoul(argv[4], NULL, 10));
    if (!strcmp(cmd, "tags") && argc == 5) return cmd_tags(argv[2], argv[3], strtoul(argv[4], NULL, 10));
    if (!strcmp(cmd, "sqlite") && argc == 5) {
#ifdef GB_HAVE_SQLITE
        return cmd_sqlite(argv[2], argv[3], strtoul(argv[4], NULL, 10));
#else
        printf("na built without libsqlite3-dev\n");
        return 0;
#endif
    }
    if (!strcmp(cmd, "post") && argc == 6)
        return cmd_post(argv[2], argv[3], strtoul(argv[4], NULL, 10), atoi(argv[5]));
    if (!strcmp(cmd, "get") && (argc == 4 || argc == 5))
        return cmd_get(argv[2], atoi(argv[3]), argc == 5 ? argv[4] : NULL);
    if (!strcmp(cmd, "export") && (argc == 5 || argc == 6))
        return cmd_export(argv[2], argv[3], atoi(argv[4]), argc == 6 && !strcmp(argv[5], "json"));
    fprintf(stderr, "usage: bench_store gen SENSORS OUT MPOINTS SEED | gemba OUT DIR BATCH |\n"
                    "       tags OUT DIR BATCH |\n"
                    "       sqlite OUT DB BATCH | post URL FILE BATCH CLIENTS | get URL REPEAT |\n"
                    "       export DIR SERIES REPEAT [json]\n");
    return 2;
}
