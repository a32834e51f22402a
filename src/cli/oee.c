/* gemba oee: OEE from a plant file and a recording of its signals, for audits and tests. */
#include "cli/cli.h"
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/events.h"
#include "gemba/oee_report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int time_opt(const char *opt, const char *s, gb_time_t *out)
{
    if (gb_time_parse_rfc3339(s, strlen(s), out) == 0) return 0;
    return gb_cli_usage_error("oee", "%s takes an RFC 3339 time such as 2026-11-23T06:00:00Z, "
                                     "not '%s'", opt, s);
}

int gb_cmd_oee(int argc, char **argv)
{
    const char *plant_file = NULL, *events_file = NULL, *from_s = NULL, *to_s = NULL,
               *by_s = "machine", *format = "json", *asset = NULL;
    static const struct option opts[] = {
        {"plant", required_argument, NULL, 'p'}, {"events", required_argument, NULL, 'e'},
        {"from", required_argument, NULL, 'f'},  {"to", required_argument, NULL, 't'},
        {"by", required_argument, NULL, 'b'},    {"format", required_argument, NULL, 'F'},
        {"asset", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
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
        case ':': return gb_cli_usage_error("oee", "option '%s' needs a value", argv[optind - 1]);
        default: return gb_cli_usage_error("oee", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return gb_cli_usage_error("oee", "unexpected argument '%s'", argv[optind]);
    if (!plant_file || !events_file)
        return gb_cli_usage_error("oee", "needs --plant FILE and --events FILE");
    gb_oee_by_t by;
    if (!strcmp(by_s, "job"))
        return gb_cli_usage_error("oee", "--by job needs jobs, which this version cannot import "
                                         "yet; use machine, shift, day or reason");
    if (gb_oee_by_parse(by_s, &by) != 0)
        return gb_cli_usage_error("oee", "--by is machine, shift, day or reason, not '%s'", by_s);
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
    if (ev.n == 0 && (!from_s || !to_s)) {
        fprintf(stderr, "%s: no events; give --from and --to for a window without data\n",
                events_file);
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
    for (size_t i = 0; i < ev.n; i++) {
        char who[32];
        snprintf(who, sizeof who, "events line %u", ev.ev[i].line);
        gb_oee_plant_feed(op, &ev.ev[i], who);
    }
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
