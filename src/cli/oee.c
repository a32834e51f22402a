/* gemba oee: OEE from a plant file and a recording of its signals, for audits and tests. */
#include "cli/cli.h"
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/events.h"
#include "gemba/oee_report.h"
#include "gemba/store.h"
#include "util/str.h"

#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct from_store {
    const gb_plant_t *p;
    gb_tags_t *tags;
    gb_events_t *ev;
    uint64_t unknown;
} from_store_t;

/* One stored sample as an event of its machine; series the plant file no longer has are counted. */
static int store_sample(void *ctx, const char *path, const gb_sample_t *s, const char *str,
                        size_t len)
{
    from_store_t *fs = ctx;
    const gb_tag_t *t = gb_tags_find(fs->tags, path);
    if (t && t->derived) return 0; /* gemba's own results, not signals to compute from */
    if (!t || (gb_vtype_t)s->type != t->type) {
        fs->unknown++;
        return 0;
    }
    const gb_asset_t *a = gb_tags_asset(fs->tags, t->machine);
    gb_event_t e = {.t = s->t, .kind = GB_EV_TAG, .value = {.type = t->type}};
    for (size_t m = 0; m < fs->p->nmachines; m++) {
        if (strcmp(fs->p->machines[m].name, a->name)) continue;
        e.machine = (uint32_t)m;
        for (size_t k = 0; k < fs->p->machines[m].ntags; k++)
            if (!strcmp(fs->p->machines[m].tags[k].name, t->name)) e.tag = (uint32_t)k;
    }
    switch (t->type) {
    case GB_VT_F64: e.value.f64 = s->v.f64; break;
    case GB_VT_I64: e.value.i64 = s->v.i64; break;
    case GB_VT_BOOL: e.value.b = s->v.b; break;
    default: {
        gb_events_t *ev = fs->ev;
        if (ev->nstrs == ev->cap_strs) {
            ev->cap_strs = ev->cap_strs ? ev->cap_strs * 2 : 64;
            ev->strs = gb_xrealloc(ev->strs, ev->cap_strs * sizeof *ev->strs);
        }
        e.value.str = ev->strs[ev->nstrs++] = gb_xstrndup(str, len);
        e.value.len = len;
    }
    }
    if (fs->ev->n == fs->ev->cap) {
        fs->ev->cap = fs->ev->cap ? fs->ev->cap * 2 : 1024;
        fs->ev->ev = gb_xrealloc(fs->ev->ev, fs->ev->cap * sizeof *fs->ev->ev);
    }
    e.line = (uint32_t)fs->ev->n + 1; /* order written: keeps the sort stable */
    fs->ev->ev[fs->ev->n++] = e;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const gb_event_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int time_opt(const char *opt, const char *s, gb_time_t *out)
{
    if (gb_time_parse_rfc3339(s, strlen(s), out) == 0) return 0;
    return gb_cli_usage_error("oee", "%s takes an RFC 3339 time such as 2026-11-23T06:00:00Z, "
                                     "not '%s'", opt, s);
}

int gb_cmd_oee(int argc, char **argv)
{
    const char *plant_file = NULL, *events_file = NULL, *data_dir = NULL, *jobs_file = NULL,
               *from_s = NULL, *to_s = NULL,
               *by_s = "machine", *format = "json", *asset = NULL;
    static const struct option opts[] = {
        {"plant", required_argument, NULL, 'p'}, {"events", required_argument, NULL, 'e'},
        {"from", required_argument, NULL, 'f'},  {"to", required_argument, NULL, 't'},
        {"by", required_argument, NULL, 'b'},    {"format", required_argument, NULL, 'F'},
        {"asset", required_argument, NULL, 'a'}, {"data", required_argument, NULL, 'd'},
        {"jobs", required_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'p': plant_file = optarg; break;
        case 'e': events_file = optarg; break;
        case 'f': from_s = optarg; break;
        case 't': to_s = optarg; break;
        case 'b': by_s = optarg; break;
        case 'F': format = optarg; break;
        case 'a': asset = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'j': jobs_file = optarg; break;
        case ':': return gb_cli_usage_error("oee", "option '%s' needs a value", argv[optind - 1]);
        default: return gb_cli_usage_error("oee", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return gb_cli_usage_error("oee", "unexpected argument '%s'", argv[optind]);
    if (!plant_file || (!events_file == !data_dir))
        return gb_cli_usage_error("oee", "needs --plant FILE and either --events FILE or --data DIR");
    gb_oee_by_t by;
    if (gb_oee_by_parse(by_s, &by) != 0)
        return gb_cli_usage_error("oee", "--by is machine, shift, day, week, reason, job, "
                                         "product or operator, not '%s'", by_s);
    if (strcmp(format, "json") && strcmp(format, "csv"))
        return gb_cli_usage_error("oee", "--format is json or csv, not '%s'", format);
    gb_time_t from = 0, to = 0;
    if (from_s && time_opt("--from", from_s, &from)) return GB_EXIT_USAGE;
    if (to_s && time_opt("--to", to_s, &to)) return GB_EXIT_USAGE;

    gb_diag_t d;
    gb_diag_init(&d, plant_file);
    gb_plant_t *p;
    if (gb_plant_load_file(plant_file, &p, &d) != 0) {
        gb_diag_print(&d, stderr);
        gb_diag_clear(&d);
        return GB_EXIT_USAGE;
    }
    gb_diag_clear(&d);
    gb_tz_set(p->timezone);

    int rc = GB_EXIT_USAGE;
    gb_events_t ev = {0};
    gb_oee_plant_t *op = NULL;
    if (data_dir) {
        from_store_t fs = {p, gb_plant_build_tags(p), &ev, 0};
        int src = gb_store_read_all(data_dir, store_sample, &fs);
        gb_tags_free(fs.tags);
        if (src) {
            fprintf(stderr, "gemba oee: cannot read the store in %s: %s\n", data_dir,
                    src == GB_ENOENT ? "no store there" : gb_strerror(src));
            rc = GB_EXIT_FAIL;
            goto out;
        }
        if (fs.unknown)
            fprintf(stderr, "gemba oee: %llu stored samples belong to tags this plant file does "
                            "not have (or has with another type); they are left out\n",
                    (unsigned long long)fs.unknown);
        if (ev.n > 1) qsort(ev.ev, ev.n, sizeof *ev.ev, by_time);
        goto run;
    }
    int fd = open(events_file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "%s: cannot open: %s\n", events_file, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    const char *buf = "";
    if (st.st_size > 0) {
        buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (buf == MAP_FAILED) {
            fprintf(stderr, "%s: cannot read: %s\n", events_file, strerror(errno));
            close(fd);
            goto out;
        }
    }
    gb_diag_init(&d, events_file);
    int prc = gb_events_parse(buf, (size_t)st.st_size, p, &ev, &d);
    if (st.st_size > 0) munmap((void *)buf, (size_t)st.st_size);
    close(fd);
    if (prc) {
        /* an audit must not silently use part of the data */
        gb_diag_print(&d, stderr);
        gb_diag_clear(&d);
        goto out;
    }
    gb_diag_clear(&d);
run:
    if (ev.n == 0 && (!from_s || !to_s)) {
        fprintf(stderr, "%s: no events; give --from and --to for a window without data\n",
                events_file ? events_file : data_dir);
        goto out;
    }
    if (!from_s) from = ev.ev[0].t;
    if (!to_s) to = ev.ev[ev.n - 1].t;
    if (to <= from) {
        rc = gb_cli_usage_error("oee", "the window is empty: --to must be after --from");
        goto out;
    }
    gb_time_t start = ev.n && ev.ev[0].t < from ? ev.ev[0].t : from;
    op = gb_oee_plant_new(p, start);
    if (jobs_file) {
        gb_jobs_t jobs;
        if (gb_cli_load_jobs(jobs_file, &jobs) != 0) goto out;
        gb_oee_plant_take_jobs(op, &jobs);
    }
    for (size_t i = 0; i < ev.n; i++) {
        char who[32];
        snprintf(who, sizeof who, "events line %u", ev.ev[i].line);
        gb_oee_plant_feed(op, &ev.ev[i], who);
    }
    /* from a data directory, the reasons, splits and scrap people entered count too */
    if (data_dir) gb_oee_changes_replay(op, data_dir, start, NULL, NULL, NULL);
    if (!strcmp(format, "csv")) {
        if (gb_oee_report_csv(op, from, to, by, asset, stdout) != 0) {
            fprintf(stderr, "gemba oee: no machine under '%s'\n", asset);
            goto out;
        }
    } else {
        json_t *doc = gb_oee_report(op, from, to, by, asset);
        if (!doc) {
            fprintf(stderr, "gemba oee: no machine under '%s'\n", asset);
            goto out;
        }
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        putchar('\n');
        json_decref(doc);
    }
    rc = GB_EXIT_OK;
out:
    gb_oee_plant_free(op);
    gb_events_clear(&ev);
    gb_plant_free(p);
    return rc;
}

int gb_cli_load_jobs(const char *file, gb_jobs_t *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open: %s\n", file, strerror(errno));
        return GB_EIO;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    gb_diag_t d;
    gb_diag_init(&d, file);
    int rc = gb_jobs_parse(buf, len, out, &d);
    if (rc) {
        gb_diag_print(&d, stderr);
        gb_jobs_clear(out);
    }
    gb_diag_clear(&d);
    free(buf);
    return rc;
}
