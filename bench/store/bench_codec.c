/*
 * bench_codec: how small and how fast the historian's block codecs are on real sensor data,
 * beside Gorilla (our implementation of its XOR scheme, the usual baseline), Chimp128, plain
 * 16 bytes a point, and zstd over the raw CSV text.
 *
 * Data (read, not timed):
 *   SKAB  the CSV files under skab/: 1 Hz pump test bench, `;`-separated; every column of every
 *         file is one series (the eight sensors and the two 0/1 label columns)
 *   NAB   the CSV files in nab/: machine and ambient temperatures, `timestamp,value`, 5 min / 1 h
 *   regular  64 full blocks (65,536 points) of a 1 Hz random walk with two decimals: the best
 *         case for speed
 *   gen   10,000 tags for 10 minutes at mixed rates (100 ms to 60 s; half of them stamped by the
 *         device in whole ms with up to 2 ms of jitter): floats with 1-3 decimals, counters and
 *         codes as integers, states as booleans; seeded, so every run sees the same data
 * Each series is cut into blocks of at most GB_BLOCK_MAX_POINTS. Every method runs over the
 * whole data set several times on one thread; the best run's thread CPU time counts (a shared
 * machine is noisy, and time spent waiting for a core is not the codec's).
 *
 *   gemba    gb_block_encode choosing codecs per block (times and values)
 *   gorilla  values forced to GB_CODEC_GORILLA (integers and booleans as doubles); the times
 *            still go through gemba's integer codec, so the column "values" is the comparison
 *   chimp    the same with GB_CODEC_CHIMP
 *   plain    time and value as 8 + 8 bytes (memcpy both ways)
 *   zstd     the CSV files' text at level 3 (decode = decompress only, no parsing)
 *
 * usage: bench_codec [DIR]   DIR holds skab/ and nab/ (default: ../shared/data/sensors next to
 *                            the source tree); missing data sets are skipped with a note.
 */
#include "gemba/sample.h"
#include "store/codec.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef GB_HAVE_ZSTD
#include <zstd.h>
#endif

#define REPEAT 5

typedef struct series {
    char name[200];
    gb_vtype_t type;
    size_t n;
    int64_t *t;
    double *f;  /* GB_VT_F64 */
    int64_t *i; /* GB_VT_I64 */
    uint8_t *b; /* GB_VT_BOOL */
} series_t;

typedef struct dataset {
    const char *name;
    series_t *s;
    size_t ns, cap;
    size_t points;
    char **csv; /* file texts, for zstd */
    size_t *csv_len;
    size_t ncsv;
} dataset_t;

/* CPU time of this thread: on a shared machine, time spent waiting for a core does not count. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static series_t *add_series(dataset_t *d, const char *name, gb_vtype_t type, size_t cap)
{
    if (d->ns == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->s = realloc(d->s, d->cap * sizeof *d->s);
    }
    series_t *s = &d->s[d->ns++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->type = type;
    s->t = malloc(cap * sizeof *s->t);
    if (type == GB_VT_F64) s->f = malloc(cap * sizeof *s->f);
    if (type == GB_VT_I64) s->i = malloc(cap * sizeof *s->i);
    if (type == GB_VT_BOOL) s->b = malloc(cap);
    return s;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    p[*len] = 0;
    fclose(f);
    return p;
}

/* "YYYY-MM-DD HH:MM:SS" (UTC) to ns since the epoch; -1 when it is not that. */
static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    const char *e = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    return e ? (int64_t)timegm(&tm) * 1000000000 : -1;
}

/* Loads one CSV file (header line, SEP-separated, first column a time) as one series a column. */
static void load_csv(dataset_t *d, const char *path, char sep, const char *label)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return;
    d->csv = realloc(d->csv, (d->ncsv + 1) * sizeof *d->csv);
    d->csv_len = realloc(d->csv_len, (d->ncsv + 1) * sizeof *d->csv_len);
    d->csv[d->ncsv] = text;
    d->csv_len[d->ncsv++] = len;

    size_t rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += text[i] == '\n';
    char *copy = strdup(text), *save = NULL, *line = strtok_r(copy, "\n", &save);
    if (!line) goto out;
    char cols[32][64];
    size_t ncol = 0;
    for (char *p = line; ncol < 32;) {
        char *q = strchr(p, sep);
        size_t l = q ? (size_t)(q - p) : strcspn(p, "\r");
        snprintf(cols[ncol++], 64, "%.*s", (int)l, p);
        if (!q) break;
        p = q + 1;
    }
    size_t first = d->ns;
    for (size_t c = 1; c < ncol; c++) {
        char name[200];
        snprintf(name, sizeof name, "%s:%s", label, cols[c]);
        add_series(d, name, GB_VT_F64, rows);
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *p = line, *q = strchr(p, sep);
        if (!q) continue;
        *q = 0;
        int64_t t = parse_time(p);
        if (t < 0) continue;
        for (size_t c = 1; c < ncol && q; c++) {
            p = q + 1;
            q = strchr(p, sep);
            series_t *s = &d->s[first + c - 1];
            if (s->n && t <= s->t[s->n - 1]) continue; /* a repeated second: keep the first */
            s->t[s->n] = t;
            s->f[s->n++] = strtod(p, NULL);
        }
    }
    for (size_t c = first; c < d->ns; c++)
        d->points += d->s[c].n;
out:
    free(copy);
}

static void load_dir(dataset_t *d, const char *dir, char sep, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        if (e->d_name[0] == '.') continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    for (size_t i = 0; i < n; i++) { /* a stable order: sort the names */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *x = names[i];
                names[i] = names[j];
                names[j] = x;
            }
    }
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t l = strlen(names[i]);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth < 3)
            load_dir(d, path, sep, depth + 1);
        else if (l > 4 && !strcmp(names[i] + l - 4, ".csv"))
            load_csv(d, path, sep, names[i]);
        free(names[i]);
    }
    free(names);
}

/* ---- the generated plant ---- */

static uint64_t rng = 0x853C49E6748FEA9Bull;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double urand(void)
{
    return (double)(rnd() >> 11) * 0x1.0p-53;
}

static void generate(dataset_t *d, int tags)
{
    const int64_t t0 = 1735689600000000000, span = 600000000000; /* 10 minutes */
    static const int64_t rates[] = {100000000, 1000000000, 10000000000, 60000000000};
    for (int k = 0; k < tags; k++) {
        int r = (int)(rnd() % 100);
        int64_t rate = rates[r < 5 ? 0 : r < 45 ? 1 : r < 85 ? 2 : 3];
        int jitter = rnd() % 2;
        int kind = (int)(rnd() % 100); /* 55 floats, 15 counters, 10 codes, 20 states */
        gb_vtype_t type = kind < 55 ? GB_VT_F64 : kind < 80 ? GB_VT_I64 : GB_VT_BOOL;
        size_t cap = (size_t)(span / rate) + 1;
        char name[32];
        snprintf(name, sizeof name, "tag%05d", k);
        series_t *s = add_series(d, name, type, cap);
        int decimals = 1 + (int)(rnd() % 3);
        double scale = pow(10, decimals), level = 10 + urand() * 200, noise = urand() * 2;
        int64_t counter = (int64_t)(rnd() % 100000), code = (int64_t)(rnd() % 8);
        int state = 0;
        for (int64_t t = t0 + (int64_t)(rnd() % (uint64_t)rate); t < t0 + span; t += rate) {
            int64_t at =
                t + (jitter ? ((int64_t)(rnd() % 5) - 2) * 1000000 : 0); /* stamped in ms */
            if (s->n && at <= s->t[s->n - 1]) continue;
            s->t[s->n] = at;
            if (type == GB_VT_F64) {
                level += (urand() - 0.5) * noise;
                s->f[s->n] = round(level * scale) / scale;
            } else if (type == GB_VT_I64) {
                if (kind < 70)
                    counter += (int64_t)(rnd() % 3);
                else if (rnd() % 50 == 0)
                    code = (int64_t)(rnd() % 8);
                s->i[s->n] = kind < 70 ? counter : code;
            } else {
                if (rnd() % 40 == 0) state = !state;
                s->b[s->n] = (uint8_t)state;
            }
            s->n++;
        }
        d->points += s->n;
    }
}

/* Regular floats in full blocks: the best case for speed (a 1 Hz random walk, two decimals). */
static void generate_regular(dataset_t *d, int series)
{
    for (int k = 0; k < series; k++) {
        char name[32];
        snprintf(name, sizeof name, "reg%03d", k);
        series_t *s = add_series(d, name, GB_VT_F64, GB_BLOCK_MAX_POINTS);
        double level = 20 + urand() * 60;
        for (size_t i = 0; i < GB_BLOCK_MAX_POINTS; i++) {
            level += (urand() - 0.5) * 0.2;
            s->t[i] = 1735689600000000000 + (int64_t)i * 1000000000;
            s->f[i] = round(level * 100) / 100;
        }
        s->n = GB_BLOCK_MAX_POINTS;
        d->points += s->n;
    }
}

/* ---- methods ---- */

typedef struct result {
    double bytes, time_bytes, value_bytes;
    double enc_s, dec_s;
    unsigned long blocks_by_codec[GB_CODEC_MAX + 1]; /* value codecs */
    unsigned long times_by_codec[GB_CODEC_MAX + 1];
} result_t;

/* The input for block B (of at most GB_BLOCK_MAX_POINTS) of S, with values as doubles in TMP
 * when AS_F64 (Gorilla and Chimp take only floats). */
static gb_block_in_t block_in(const series_t *s, size_t at, int codec, double *tmp)
{
    size_t n = s->n - at < GB_BLOCK_MAX_POINTS ? s->n - at : GB_BLOCK_MAX_POINTS;
    gb_block_in_t in = {.type = s->type, .n = n, .t = s->t + at, .codec = codec};
    if (s->type == GB_VT_F64) {
        in.f64 = s->f + at;
    } else if (codec == GB_CODEC_GORILLA || codec == GB_CODEC_CHIMP) {
        for (size_t i = 0; i < n; i++)
            tmp[i] = s->i ? (double)s->i[at + i] : s->b[at + i];
        in.type = GB_VT_F64;
        in.f64 = tmp;
    } else {
        in.i64 = s->i ? s->i + at : NULL;
        in.b = s->b ? s->b + at : NULL;
    }
    return in;
}

static int run_blocks(const dataset_t *d, int codec, result_t *r)
{
    gb_buf_t buf;
    gb_buf_init(&buf);
    size_t *ends = NULL, nblocks = 0;
    double *tmp = malloc(GB_BLOCK_MAX_POINTS * sizeof *tmp);
    r->enc_s = r->dec_s = 1e30;
    for (int rep = 0; rep < REPEAT; rep++) {
        buf.len = 0;
        nblocks = 0;
        memset(r, 0, offsetof(result_t, enc_s));
        memset(r->blocks_by_codec, 0, sizeof r->blocks_by_codec);
        memset(r->times_by_codec, 0, sizeof r->times_by_codec);
        double t0 = now_s(), conv = 0;
        for (size_t k = 0; k < d->ns; k++) {
            for (size_t at = 0; at < d->s[k].n; at += GB_BLOCK_MAX_POINTS) {
                double c0 = now_s();
                gb_block_in_t in = block_in(&d->s[k], at, codec, tmp);
                if (in.f64 == tmp) conv += now_s() - c0; /* converting to doubles is not encoding */
                gb_block_stats_t st;
                if (gb_block_encode(&in, &buf, &st)) {
                    fprintf(stderr, "bench_codec: encoding %s failed\n", d->s[k].name);
                    return -1;
                }
                ends = realloc(ends, (nblocks + 1) * sizeof *ends);
                ends[nblocks++] = buf.len;
                r->time_bytes += st.time_bytes;
                r->value_bytes += st.value_bytes;
                r->bytes += st.bytes;
                r->blocks_by_codec[st.value_codec]++;
                r->times_by_codec[st.time_codec]++;
            }
        }
        double enc = now_s() - t0 - conv;
        if (enc < r->enc_s) r->enc_s = enc;
    }
    gb_block_out_t o;
    gb_block_out_init(&o);
    for (int rep = 0; rep < REPEAT; rep++) {
        double t0 = now_s();
        for (size_t b = 0, start = 0; b < nblocks; start = ends[b++]) {
            if (gb_block_decode(buf.p + start, ends[b] - start, &o)) {
                fprintf(stderr, "bench_codec: decoding block %zu failed\n", b);
                return -1;
            }
        }
        double dec = now_s() - t0;
        if (dec < r->dec_s) r->dec_s = dec;
    }
    gb_block_out_clear(&o);
    free(ends);
    free(tmp);
    gb_buf_clear(&buf);
    return 0;
}

static void run_plain(const dataset_t *d, result_t *r)
{
    uint8_t *buf = malloc(d->points * 16);
    int64_t *t = malloc(GB_BLOCK_MAX_POINTS * 8), *v = malloc(GB_BLOCK_MAX_POINTS * 8);
    r->enc_s = r->dec_s = 1e30;
    for (int rep = 0; rep < REPEAT; rep++) {
        double t0 = now_s();
        size_t at = 0;
        for (size_t k = 0; k < d->ns; k++) {
            const series_t *s = &d->s[k];
            const void *vals = s->f ? (const void *)s->f : (const void *)s->i;
            memcpy(buf + at, s->t, s->n * 8);
            if (vals)
                memcpy(buf + at + s->n * 8, vals, s->n * 8);
            else
                memcpy(buf + at + s->n * 8, s->b, s->n); /* booleans widened would be 8 bytes */
            at += s->n * 16;
        }
        double t1 = now_s();
        at = 0;
        for (size_t k = 0; k < d->ns; k++) {
            for (size_t n = d->s[k].n, off = 0; off < n; off += GB_BLOCK_MAX_POINTS) {
                size_t m = n - off < GB_BLOCK_MAX_POINTS ? n - off : GB_BLOCK_MAX_POINTS;
                memcpy(t, buf + at + off * 8, m * 8);
                memcpy(v, buf + at + n * 8 + off * 8, m * 8);
            }
            at += d->s[k].n * 16;
        }
        double t2 = now_s();
        if (t1 - t0 < r->enc_s) r->enc_s = t1 - t0;
        if (t2 - t1 < r->dec_s) r->dec_s = t2 - t1;
    }
    r->bytes = (double)d->points * 16;
    r->time_bytes = r->value_bytes = (double)d->points * 8;
    free(buf);
    free(t);
    free(v);
}

#ifdef GB_HAVE_ZSTD
static int run_zstd(const dataset_t *d, result_t *r)
{
    if (!d->ncsv) return -1;
    size_t cap = 0;
    for (size_t f = 0; f < d->ncsv; f++)
        cap += ZSTD_compressBound(d->csv_len[f]);
    uint8_t *buf = malloc(cap);
    size_t *clen = malloc(d->ncsv * sizeof *clen), biggest = 0;
    char *out = NULL;
    r->enc_s = r->dec_s = 1e30;
    for (int rep = 0; rep < REPEAT; rep++) {
        double t0 = now_s();
        size_t at = 0;
        for (size_t f = 0; f < d->ncsv; f++) {
            clen[f] = ZSTD_compress(buf + at, cap - at, d->csv[f], d->csv_len[f], 3);
            at += clen[f];
            if (d->csv_len[f] > biggest) biggest = d->csv_len[f];
        }
        double t1 = now_s();
        r->bytes = (double)at;
        if (!out) out = malloc(biggest);
        at = 0;
        for (size_t f = 0; f < d->ncsv; f++) {
            ZSTD_decompress(out, biggest, buf + at, clen[f]);
            at += clen[f];
        }
        double t2 = now_s();
        if (t1 - t0 < r->enc_s) r->enc_s = t1 - t0;
        if (t2 - t1 < r->dec_s) r->dec_s = t2 - t1;
    }
    free(out);
    free(clen);
    free(buf);
    return 0;
}
#endif

static void row(const char *name, const dataset_t *d, const result_t *r, const result_t *gorilla,
                const char *note)
{
    double n = (double)d->points;
    printf("%-9s %8.3f %8.3f %8.3f %12.1f %12.1f", name, r->bytes / n, r->value_bytes / n,
           r->time_bytes / n, n / r->enc_s / 1e6, n / r->dec_s / 1e6);
    if (gorilla && gorilla->bytes > 0)
        printf(" %9.3f", r->bytes / gorilla->bytes);
    else
        printf(" %9s", "");
    printf("   %s\n", note);
}

static void codec_mix(const result_t *r)
{
    printf("          blocks by value codec:");
    for (int c = 1; c <= GB_CODEC_MAX; c++)
        if (r->blocks_by_codec[c]) printf(" %s %lu", gb_codec_name(c), r->blocks_by_codec[c]);
    printf("; by time codec:");
    for (int c = 1; c <= GB_CODEC_MAX; c++)
        if (r->times_by_codec[c]) printf(" %s %lu", gb_codec_name(c), r->times_by_codec[c]);
    printf("\n");
}

static void bench(const dataset_t *d, const char *what)
{
    if (!d->points) return;
    printf("\n%s: %s -- %zu series, %zu points\n", d->name, what, d->ns, d->points);
    printf("%-9s %8s %8s %8s %12s %12s %9s\n", "method", "B/point", "values", "times", "enc Mpt/s",
           "dec Mpt/s", "/gorilla");
    result_t g = {0}, r = {0};
    if (run_blocks(d, GB_CODEC_GORILLA, &g)) exit(1);
    if (run_blocks(d, 0, &r)) exit(1);
    row("gemba", d, &r, &g, "codecs chosen per block");
    codec_mix(&r);
    row("gorilla", d, &g, &g, "values: Gorilla XOR; times: gemba");
    if (run_blocks(d, GB_CODEC_CHIMP, &r)) exit(1);
    row("chimp128", d, &r, &g, "values: Chimp128; times: gemba");
    run_plain(d, &r);
    row("plain", d, &r, &g, "8-byte time + 8-byte value, memcpy");
#ifdef GB_HAVE_ZSTD
    memset(&r, 0, sizeof r);
    if (!run_zstd(d, &r)) row("zstd -3", d, &r, &g, "the CSV text; decode = decompress only");
#else
    printf("zstd      (not built: libzstd-dev was missing at configure time)\n");
#endif
}

/* The gemba rows for the subsets of D whose series names contain one of KEYS. */
static void by_column(const dataset_t *d, const char *const *keys, size_t nkeys)
{
    printf("          by column (gemba, B/point, all files):");
    for (size_t k = 0; k < nkeys; k++) {
        dataset_t sub = {.name = d->name};
        sub.s = malloc(d->ns * sizeof *sub.s);
        for (size_t i = 0; i < d->ns; i++)
            if (strstr(d->s[i].name, keys[k]) && strstr(d->s[i].name, keys[k])[-1] == ':') {
                sub.s[sub.ns++] = d->s[i];
                sub.points += d->s[i].n;
            }
        result_t r = {0};
        if (sub.points && !run_blocks(&sub, 0, &r))
            printf("%s %s %.2f", k ? "," : "", keys[k], r.bytes / (double)sub.points);
        free(sub.s);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    char dir[1024];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else { /* bench/store/bench_codec.c -> <tree>/../shared/data/sensors */
        snprintf(dir, sizeof dir, "%s", __FILE__);
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0;
        }
        strncat(dir, "/../shared/data/sensors", sizeof dir - strlen(dir) - 1);
    }
    printf(
        "bench_codec: block codecs on one core, best of %d runs; B/point includes block headers\n",
        REPEAT);
    char path[1100];
    dataset_t skab = {.name = "SKAB"}, nab = {.name = "NAB"}, gen = {.name = "gen"};
    snprintf(path, sizeof path, "%s/skab", dir);
    load_dir(&skab, path, ';', 0);
    snprintf(path, sizeof path, "%s/nab", dir);
    load_dir(&nab, path, ',', 0);
    if (!skab.points) printf("\nSKAB: no data in %s/skab -- skipped\n", dir);
    bench(&skab, "pump test bench, 1 Hz, every column of every file");
    if (skab.points) {
        static const char *const cols[] = {
            "Accelerometer1RMS", "Accelerometer2RMS", "Current",     "Pressure", "Temperature",
            "Thermocouple",      "Voltage",           "Volume Flow", "anomaly",  "changepoint"};
        by_column(&skab, cols, sizeof cols / sizeof cols[0]);
        dataset_t sensors = {.name = "SKAB sensors"};
        sensors.s = malloc(skab.ns * sizeof *sensors.s);
        for (size_t i = 0; i < skab.ns; i++)
            if (!strstr(skab.s[i].name, "anomaly") && !strstr(skab.s[i].name, "changepoint")) {
                sensors.s[sensors.ns++] = skab.s[i];
                sensors.points += skab.s[i].n;
            }
        bench(&sensors, "the eight sensor columns only (no 0/1 labels)");
        free(sensors.s);
    }
    if (!nab.points) printf("\nNAB: no data in %s/nab -- skipped\n", dir);
    bench(&nab, "machine and ambient temperatures, 5 min / 1 h");
    if (skab.points && nab.points) {
        dataset_t all = {.name = "SKAB+NAB"};
        all.s = malloc((skab.ns + nab.ns) * sizeof *all.s);
        memcpy(all.s, skab.s, skab.ns * sizeof *all.s);
        memcpy(all.s + skab.ns, nab.s, nab.ns * sizeof *all.s);
        all.ns = skab.ns + nab.ns;
        all.points = skab.points + nab.points;
        bench(&all, "every real series together");
        free(all.s);
    }
    generate(&gen, 10000);
    bench(&gen, "10,000 tags, 10 minutes, mixed rates; floats, integers, booleans (seeded)");
    dataset_t reg = {.name = "regular"};
    generate_regular(&reg, 64);
    bench(&reg, "64 full blocks of a 1 Hz float random walk with 2 decimals (seeded)");
    return 0;
}
