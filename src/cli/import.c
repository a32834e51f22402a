/* gemba import and gemba query: text in and out of the store. */
#include "cli/cli.h"
#include "gemba/error.h"
#include "gemba/store.h"
#include "gemba/time.h"
#include "store/export.h"
#include "store/ingest.h"
#include "util/str.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Reads FILE ("-": standard input) through the ingest IN. 0, or an exit code. */
static int import_file(gb_ingest_t *in, const char *file, bool lp, gb_lp_precision_t prec)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "gemba import: cannot read %s: %s\n", file, strerror(errno));
        return GB_EXIT_FAIL;
    }
    size_t cap = 1u << 20, len = 0;
    char *buf = gb_xmalloc(cap + 1);
    gb_time_t now = gb_now();
    int rc = 0;
    bool eof = false;
    while (!rc && !eof) {
        if (len == cap) { /* a line-protocol line longer than the buffer: grow to its limit */
            cap *= 2;
            buf = gb_xrealloc(buf, cap + 1);
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        eof = r == 0 && (feof(f) || ferror(f));
        size_t used = 0;
        rc = lp ? gb_ingest_lp(in, buf, len, eof, prec, now, &used)
                : gb_ingest_csv(in, buf, len, eof, &used);
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    if (!rc) rc = gb_ingest_flush(in);
    bool read_error = ferror(f);
    if (f != stdin) fclose(f);
    free(buf);
    if (rc) {
        fprintf(stderr, "gemba import: %s: cannot write to the store: %s\n", file, gb_strerror(rc));
        return GB_EXIT_FAIL;
    }
    if (read_error) {
        fprintf(stderr, "gemba import: error reading %s\n", file);
        return GB_EXIT_FAIL;
    }
    return 0;
}

int gb_cmd_import(int argc, char **argv)
{
    const char *data = "./gemba-data", *format = NULL, *precision = "ns";
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"precision", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'f')
            format = optarg;
        else if (c == 'p')
            precision = optarg;
        else if (c == ':')
            return gb_cli_usage_error("import", "option '%s' needs a value", argv[optind - 1]);
        else
            return gb_cli_usage_error("import", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return gb_cli_usage_error("import", "name the files to import (- for standard input)");
    if (format && strcmp(format, "csv") && strcmp(format, "lp"))
        return gb_cli_usage_error("import", "--format is csv or lp, not '%s'", format);
    gb_lp_precision_t prec;
    if (gb_lp_precision_parse(precision, strlen(precision), &prec) != 0)
        return gb_cli_usage_error("import", "--precision is ns, us, ms, s, m or h, not '%s'",
                                  precision);
    /* every file readable before anything is imported: a mistyped name costs nothing */
    bool unreadable = false;
    for (int i = optind; i < argc; i++) {
        FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "rb") : stdin;
        struct stat st;
        if (!f) {
            fprintf(stderr, "gemba import: cannot read %s: %s\n", argv[i], strerror(errno));
            unreadable = true;
        } else if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "gemba import: %s is a directory; name the files in it\n", argv[i]);
            unreadable = true;
        }
        if (f && f != stdin) fclose(f);
    }
    if (unreadable) {
        fprintf(stderr, "gemba import: nothing was imported\n");
        return GB_EXIT_FAIL;
    }
    gb_store_t *s;
    int rc = gb_store_open(data, NULL, &s);
    if (rc) {
        if (rc == GB_EBUSY)
            fprintf(stderr,
                    "gemba import: %s is in use by another gemba process; while gemba serve "
                    "runs on it, send the data to its POST /api/v1/write instead\n",
                    data);
        else
            fprintf(stderr, "gemba import: cannot open the store in %s: %s\n", data,
                    gb_strerror(rc));
        return GB_EXIT_FAIL;
    }
    int exit_code = GB_EXIT_OK;
    uint64_t total = 0, refused = 0;
    for (int i = optind; i < argc && exit_code != GB_EXIT_FAIL; i++) {
        bool lp = format ? !strcmp(format, "lp") : ends_with(argv[i], ".lp");
        gb_ingest_t in;
        gb_ingest_init(&in, s);
        int frc = import_file(&in, argv[i], lp, prec);
        if (frc) exit_code = frc;
        if (in.csv && in.csv->failed) { /* the header: nothing of the file was read */
            fprintf(stderr, "gemba import: %s:%llu: %s; the file was not imported\n", argv[i],
                    (unsigned long long)in.first_line, in.first_error);
            if (exit_code == GB_EXIT_OK) exit_code = GB_EXIT_USAGE;
        } else if (in.refused) {
            for (size_t k = 0; k < in.nreport; k++)
                fprintf(stderr, "gemba import: %s:%llu: %s\n", argv[i],
                        (unsigned long long)in.report[k].line, in.report[k].why);
            char listed[48] = "";
            if (in.refused > in.nreport)
                snprintf(listed, sizeof listed, " (the first %zu listed above)", in.nreport);
            fprintf(stderr, "gemba import: %s: %llu %s refused in all%s\n", argv[i],
                    (unsigned long long)in.refused, lp ? "lines or points" : "rows", listed);
            if (exit_code == GB_EXIT_OK) exit_code = GB_EXIT_USAGE;
        }
        total += in.points;
        refused += in.refused;
        gb_ingest_clear(&in);
    }
    int crc = gb_store_close(s);
    if (crc) {
        fprintf(stderr, "gemba import: cannot write to the store in %s: %s\n", data,
                gb_strerror(crc));
        return GB_EXIT_FAIL;
    }
    fprintf(stderr, "gemba import: %llu point%s into %s%s\n", (unsigned long long)total,
            total == 1 ? "" : "s", data, refused ? "; some input was refused (above)" : "");
    return exit_code;
}

static int write_stdout(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    return fwrite(p, 1, n, stdout) == n ? 0 : GB_EIO;
}

int gb_cmd_query(int argc, char **argv)
{
    const char *data = "./gemba-data", *format = "csv", *from = NULL, *to = NULL, *agg = NULL,
               *step = NULL;
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"to", required_argument, NULL, 'T'},
                                         {"agg", required_argument, NULL, 'a'},
                                         {"step", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'F':
            from = optarg;
            break;
        case 'T':
            to = optarg;
            break;
        case 'a':
            agg = optarg;
            break;
        case 's':
            step = optarg;
            break;
        case ':':
            return gb_cli_usage_error("query", "option '%s' needs a value", argv[optind - 1]);
        default:
            return gb_cli_usage_error("query", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return gb_cli_usage_error("query", "name the tags (series) to read");
    if (strcmp(format, "csv") && strcmp(format, "json"))
        return gb_cli_usage_error("query", "--format is csv or json, not '%s'", format);
    gb_query_t q = {.tags = (const char *const *)argv + optind,
                    .ntags = (size_t)(argc - optind),
                    .from = INT64_MIN,
                    .to = INT64_MAX,
                    .json = !strcmp(format, "json")};
    gb_time_t now = gb_now();
    if (from && gb_query_time_parse(from, now, &q.from) != 0)
        return gb_cli_usage_error("query", "--from '%s' is not a time (RFC 3339, ns, now, -1h)",
                                  from);
    if (to && gb_query_time_parse(to, now, &q.to) != 0)
        return gb_cli_usage_error("query", "--to '%s' is not a time (RFC 3339, ns, now, -1h)", to);
    if (!agg != !step) return gb_cli_usage_error("query", "--agg and --step go together");
    if (agg) {
        q.aggregate = true;
        if (gb_agg_parse(agg, &q.agg) != 0)
            return gb_cli_usage_error("query",
                                      "--agg is count, min, max, sum, avg, first, last, "
                                      "stddev or twa, not '%s'",
                                      agg);
        if (gb_duration_parse(step, &q.step) != 0 || q.step <= 0)
            return gb_cli_usage_error("query", "--step '%s' is not a duration such as 1m", step);
        if (!from || !to) return gb_cli_usage_error("query", "an aggregate needs --from and --to");
    }
    if (q.to <= q.from) return gb_cli_usage_error("query", "--to must be after --from");
    gb_query_align_from(&q, from);
    uint64_t windows = q.aggregate ? gb_query_windows(&q) : 0;
    if (windows > GB_QUERY_WINDOWS_MAX)
        return gb_cli_usage_error("query",
                                  "--step %s makes %llu windows from --from to --to, more than "
                                  "%u: take a longer step or a shorter range",
                                  step, (unsigned long long)windows, GB_QUERY_WINDOWS_MAX);
    gb_store_opts_t ro = {.readonly = true};
    gb_store_t *s;
    int rc = gb_store_open(data, &ro, &s);
    if (rc) {
        fprintf(stderr, "gemba query: cannot read the store in %s: %s\n", data,
                rc == GB_ENOENT ? "no such directory" : gb_strerror(rc));
        return GB_EXIT_FAIL;
    }
    size_t missing = 0;
    rc = gb_query_run(s, &q, write_stdout, NULL, &missing);
    gb_store_close(s);
    if (rc == GB_ENOENT) {
        fprintf(stderr,
                "gemba query: no series named '%s' in %s (gemba store stats --data %s lists "
                "them)\n",
                q.tags[missing], data, data);
        return GB_EXIT_USAGE;
    }
    if (rc == GB_EEXIST) {
        fprintf(stderr, "gemba query: '%s' is the end of several series' paths; give the whole "
                        "path (gemba store stats --data %s lists them)\n", q.tags[missing], data);
        return GB_EXIT_USAGE;
    }
    if (rc == GB_EINVAL) {
        fprintf(stderr, "gemba query: '%s' holds text; its aggregates are count, first and last\n",
                q.tags[missing]);
        return GB_EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "gemba query: %s\n", gb_strerror(rc));
        return GB_EXIT_FAIL;
    }
    return fflush(stdout) == 0 ? GB_EXIT_OK : GB_EXIT_FAIL;
}
