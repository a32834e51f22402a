/*
 * Query results as CSV or JSON text, written through a callback in pieces of up to 64 KiB.
 */
#include "store/export.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "store/csvio.h"
#include "store/textio.h"
#include "util/str.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u << 10)

typedef struct out {
    gb_query_write_fn write;
    void *ctx;
    char *buf;
    size_t len;
    int rc;
    const gb_query_t *q;
    const char *tag;
    bool first_point;
} out_t;

static void put(out_t *o, const char *p, size_t n)
{
    if (o->rc) return;
    if (o->len + n > CHUNK && o->len) {
        o->rc = o->write(o->ctx, o->buf, o->len);
        o->len = 0;
    }
    if (n > CHUNK) {
        if (!o->rc) o->rc = o->write(o->ctx, p, n);
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A JSON string (quotes included). */
static void json_str(out_t *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&s[i], 1);
        }
    }
    put(o, "\"", 1);
}

static void json_num(out_t *o, double v)
{
    if (!isfinite(v)) {
        puts_(o, "null");
        return;
    }
    char b[GB_TEXTIO_F64_MAX];
    put(o, b, gb_textio_f64_format(v, b));
}

static void json_point(out_t *o, gb_time_t t, const gb_value_t *v)
{
    char ts[GB_CSV_TIME_MAX];
    size_t n = gb_csv_time_format(t, ts);
    puts_(o, o->first_point ? "[\"" : ",[\"");
    o->first_point = false;
    put(o, ts, n);
    puts_(o, "\",");
    switch (v->type) {
    case GB_VT_F64:
        json_num(o, v->f64);
        break;
    case GB_VT_I64: {
        char b[32];
        put(o, b, (size_t)snprintf(b, sizeof b, "%lld", (long long)v->i64));
        break;
    }
    case GB_VT_BOOL:
        puts_(o, v->b ? "true" : "false");
        break;
    case GB_VT_STR:
        json_str(o, v->str, v->len);
        break;
    }
    puts_(o, "]");
}

static void csv_point(out_t *o, gb_time_t t, const gb_value_t *v)
{
    size_t tl = strlen(o->tag), need = tl * 2 + (v->type == GB_VT_STR ? v->len * 2 : 0) + 128;
    char small[1024], *row = need <= sizeof small ? small : gb_xmalloc(need);
    size_t n;
    if (gb_csv_format_row(t, o->tag, tl, v, row, need, &n) == 0) put(o, row, n);
    if (row != small) free(row);
}

static int raw_point(void *ctx, const gb_point_t *p)
{
    out_t *o = ctx;
    if (o->q->json)
        json_point(o, p->t, &p->v);
    else
        csv_point(o, p->t, &p->v);
    return o->rc;
}

static int agg_point(void *ctx, gb_time_t w, double value)
{
    out_t *o = ctx;
    gb_value_t v = {.type = GB_VT_F64, .f64 = value};
    return raw_point(o, &(gb_point_t){w, GB_Q_GOOD, v});
}

int gb_query_run(gb_store_t *s, const gb_query_t *q, gb_query_write_fn write, void *ctx,
                 size_t *missing)
{
    gb_vtype_t *types = gb_xcalloc(q->ntags ? q->ntags : 1, sizeof *types);
    char **paths = gb_xcalloc(q->ntags ? q->ntags : 1, sizeof *paths);
    int rc = 0;
    for (size_t i = 0; i < q->ntags && !rc; i++) {
        rc = gb_store_resolve(s, q->tags[i], &paths[i]);
        if (!rc) rc = gb_store_series_type(s, paths[i], &types[i]);
        if (rc) {
            if (missing) *missing = i;
        } else if (q->aggregate && types[i] == GB_VT_STR && q->agg != GB_AGG_COUNT &&
                   q->agg != GB_AGG_FIRST && q->agg != GB_AGG_LAST) {
            if (missing) *missing = i;
            rc = GB_EINVAL;
        }
    }
    if (rc) {
        for (size_t i = 0; i < q->ntags; i++) free(paths[i]);
        free(paths);
        free(types);
        return rc;
    }
    out_t o = {write, ctx, gb_xmalloc(CHUNK), 0, 0, q, NULL, true};
    puts_(&o, q->json ? "{\"series\":[" : "time,tag,value\n");
    for (size_t i = 0; i < q->ntags && !rc && !o.rc; i++) {
        o.tag = paths[i]; /* the full path, so what is exported imports as the same series */
        o.first_point = true;
        if (q->json) {
            puts_(&o, i ? ",{\"tag\":" : "{\"tag\":");
            json_str(&o, paths[i], strlen(paths[i]));
            puts_(&o, ",\"type\":\"");
            puts_(&o, q->aggregate ? "float" : gb_vtype_name(types[i]));
            puts_(&o, "\"");
            if (q->aggregate) {
                char d[32];
                gb_duration_format(q->step, d, sizeof d);
                puts_(&o, ",\"agg\":\"");
                puts_(&o, gb_agg_name(q->agg));
                puts_(&o, "\",\"step\":\"");
                puts_(&o, d);
                puts_(&o, "\"");
            }
            puts_(&o, ",\"points\":[");
        }
        rc = q->aggregate
                 ? gb_store_aggregate(s, paths[i], q->from, q->to, q->step, q->agg, agg_point, &o)
                 : gb_store_read(s, paths[i], q->from, q->to, raw_point, &o);
        if (q->json) puts_(&o, "]}");
    }
    if (q->json) puts_(&o, "]}\n");
    if (!rc && !o.rc && o.len) o.rc = write(ctx, o.buf, o.len);
    free(o.buf);
    for (size_t i = 0; i < q->ntags; i++) free(paths[i]);
    free(paths);
    free(types);
    return rc ? rc : o.rc;
}

/* "-DURATION" (a negative ns count ends in a digit) */
static bool before_now(const char *s)
{
    return s[0] == '-' && s[1] && !strchr("0123456789", s[strlen(s) - 1]);
}

int gb_query_time_parse(const char *s, gb_time_t now, gb_time_t *out)
{
    if (!strcmp(s, "now")) {
        *out = now;
        return 0;
    }
    if (before_now(s)) {
        int64_t d;
        if (gb_duration_parse(s + 1, &d) != 0) return GB_EINVAL;
        *out = now - d;
        return 0;
    }
    return gb_csv_time_parse(s, strlen(s), out) == 0 ? 0 : GB_EINVAL;
}

void gb_query_align_from(gb_query_t *q, const char *from)
{
    if (!q->aggregate || !from || q->step <= 0 || (strcmp(from, "now") && !before_now(from)))
        return;
    gb_time_t r = q->from % q->step;
    if (q->from >= INT64_MIN + q->step) q->from -= r < 0 ? r + q->step : r; /* down; before 1970 too */
}
