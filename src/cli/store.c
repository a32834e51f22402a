/* gemba store stats: what the data directory holds. */
#include "cli/cli.h"
#include "gemba/error.h"
#include "gemba/store.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void add_codec(void *ctx, const char *codec, uint64_t blocks, uint64_t points, uint64_t bytes)
{
    json_array_append_new(ctx, json_pack("{s:s, s:I, s:I, s:I, s:f}", "codec", codec, "blocks",
                                         (json_int_t)blocks, "points", (json_int_t)points, "bytes",
                                         (json_int_t)bytes,
                                         "bytes_per_point", points ? (double)bytes / (double)points : 0.0));
}

static void add_series(void *ctx, const char *path, gb_vtype_t type, uint64_t points)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:I}", "series", path, "type",
                                         gb_vtype_name(type), "points", (json_int_t)points));
}

int gb_cmd_store(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "stats"))
        return gb_cli_usage_error("store", argc < 2 ? "needs a subcommand: stats"
                                                    : "unknown subcommand; expected: stats");
    const char *data = "./gemba-data", *format = "text";
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'f') format = optarg;
        else if (c == ':') return gb_cli_usage_error("store", "option '%s' needs a value", argv[optind - 1]);
        else return gb_cli_usage_error("store", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return gb_cli_usage_error("store", "unexpected argument '%s'", argv[optind]);
    if (strcmp(format, "text") && strcmp(format, "json"))
        return gb_cli_usage_error("store", "--format is text or json, not '%s'", format);
    gb_store_info_t info;
    json_t *series = json_array(), *codecs = json_array();
    gb_store_opts_t ro = {.readonly = true};
    gb_store_t *st;
    int rc = gb_store_open(data, &ro, &st);
    if (rc) {
        fprintf(stderr, "gemba store: cannot read the store in %s: %s\n", data,
                rc == GB_ENOENT ? "no such directory" : gb_strerror(rc));
        json_decref(series);
        json_decref(codecs);
        return GB_EXIT_FAIL;
    }
    gb_store_stat(st, &info);
    gb_store_each_series(st, add_series, series);
    gb_store_codecs(st, add_codec, codecs);
    gb_store_close(st);
    /* points are in the log and block files; rollups stand for points no longer kept */
    double bpp =
        info.points ? (double)(info.wal_bytes + info.block_bytes) / (double)info.points : 0;
    if (!strcmp(format, "json")) {
        json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                                "s:I, s:I, s:o, s:o}",
                                "data", data, "series", (json_int_t)info.series, "points",
                                (json_int_t)info.points, "bytes", (json_int_t)info.bytes,
                                "bytes_per_point", bpp, "torn_bytes", (json_int_t)info.torn_bytes,
                                "wal_bytes", (json_int_t)info.wal_bytes, "block_files",
                                (json_int_t)info.block_files, "blocks", (json_int_t)info.blocks,
                                "block_bytes", (json_int_t)info.block_bytes, "head_points",
                                (json_int_t)info.head_points, "rollup_files",
                                (json_int_t)info.rollup_files, "rollup_bytes",
                                (json_int_t)info.rollup_bytes, "rollups_1m",
                                (json_int_t)info.rollups_1m, "rollups_1h",
                                (json_int_t)info.rollups_1h, "by_codec", codecs, "by_series",
                                series);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(doc);
        return GB_EXIT_OK;
    }
    printf("data:            %s\nseries:          %llu\npoints:          %llu\n"
           "bytes on disk:   %llu\nbytes per point: %.2f\n"
           "log:             %llu bytes, %llu points not in blocks yet\n"
           "blocks:          %llu in %llu files, %llu bytes\n"
           "rollups:         %llu of 1 min, %llu of 1 h in %llu files, %llu bytes\n",
           data, (unsigned long long)info.series, (unsigned long long)info.points,
           (unsigned long long)info.bytes, bpp, (unsigned long long)info.wal_bytes,
           (unsigned long long)info.head_points, (unsigned long long)info.blocks,
           (unsigned long long)info.block_files, (unsigned long long)info.block_bytes,
           (unsigned long long)info.rollups_1m, (unsigned long long)info.rollups_1h,
           (unsigned long long)info.rollup_files, (unsigned long long)info.rollup_bytes);
    for (size_t i = 0; i < json_array_size(codecs); i++) {
        json_t *cj = json_array_get(codecs, i);
        printf("  codec %-8s %llu blocks, %llu points, %.2f bytes per point\n",
               json_string_value(json_object_get(cj, "codec")),
               (unsigned long long)json_integer_value(json_object_get(cj, "blocks")),
               (unsigned long long)json_integer_value(json_object_get(cj, "points")),
               json_real_value(json_object_get(cj, "bytes_per_point")));
    }
    if (info.torn_bytes)
        printf("unreadable tail: %llu bytes (cut off when the daemon next opens the store)\n",
               (unsigned long long)info.torn_bytes);
    json_decref(series);
    json_decref(codecs);
    return GB_EXIT_OK;
}
