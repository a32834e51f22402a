/*
 * The historian over HTTP:
 *   POST /api/v1/write   InfluxDB line protocol in (precision=n|ns|u|us|ms|s|m|h)
 *   POST /write          the same with InfluxDB 1.x answers, so Telegraf and other collectors
 *                        send to gemba unchanged (db, rp and consistency are accepted and ignored)
 *   POST /api/v2/write   the same with InfluxDB 2.x answers (org and bucket accepted and ignored)
 *   POST, GET /query     InfluxDB 1.x's, for the CREATE DATABASE collectors send first (a no-op)
 *   GET  /api/v1/query   tag=... (repeated), from, to, agg, step, format=json|csv
 *   GET  /api/v1/latest  tag=... (repeated; none: every series), from memory
 * A write's body may be gzip (Content-Encoding: gzip), as those clients send by default; it is
 * decompressed where it is stored, up to the same limit as a plain body.
 * Writes need an engineer's API token, which the server's gate (http.c) takes the ways InfluxDB
 * clients send one: Authorization: Token T, Bearer T, Basic (any user, the token as password), or
 * the u and p query parameters (p the token). A line that does not parse is refused, the others
 * are written: /write answers 400 "partial write" as InfluxDB does, /api/v1/write 400 with the
 * first problem and the counts. Ingested data is not put in the audit log line by line: it is
 * the plant's data, at the plant's rate, not a person's change.
 *
 * A query's answer is at most GB_API_QUERY_MAX bytes. One that cannot pass it -- raw numbers, by
 * the blocks' point counts -- is written as the client reads it (chunked), in constant memory and
 * overlapping the client's reading; any other (text series, aggregates) is made whole first, so
 * that one past the limit is refused with 413 before a byte of it is sent.
 */
#include "api/server.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "store/export.h"
#include "store/ingest.h"
#include "util/gunzip.h"
#include "util/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The most text a write stores on its connection's thread (some 20,000 lines, a few ms' work). */
#define WRITE_INLINE_MAX (1u << 20)

/* A write's batch and what became of it, between the handler and the thread that stores it. */
typedef struct write_job {
    gb_lp_precision_t prec;
    gb_time_t now;
    bool gzip; /* Content-Encoding: gzip */
    int unzip; /* what gb_gunzip said of a gzip body (0: it is text now) */
    gb_ingest_t in;
    int rc;
} write_job_t;

static void write_job_free(void *ctx)
{
    write_job_t *j = ctx;
    gb_ingest_clear(&j->in);
    free(j);
}

/* A gzip body's text, of at most MAX bytes, takes the body's place (freed, and wiped, with the
 * request); what gb_gunzip said (the body stays as it was when not 0). */
static int unzip_body(gb_req_t *r, size_t max)
{
    char *text;
    size_t len;
    int rc = gb_gunzip(r->body, r->len, max, &text, &len);
    if (rc) return rc;
    free(r->body);
    r->body = text;
    r->len = len;
    r->cap = len + 1;
    return 0;
}

static void write_work(gb_req_t *r)
{
    write_job_t *j = r->work_ctx;
    if (j->unzip) return; /* damaged: nothing to store */
    if (j->gzip) {
        j->gzip = false;
        if ((j->unzip = unzip_body(r, GB_API_WRITE_MAX)) != 0) return;
    }
    size_t used;
    j->rc =
        gb_ingest_lp(&j->in, r->body ? r->body : (char *)"", r->len, true, j->prec, j->now, &used);
    if (!j->rc) j->rc = gb_ingest_flush(&j->in);
}

enum MHD_Result gb_api_write(gb_req_t *r)
{
    const gb_api_source_t *src = &r->api->src;
    if (!r->work_done) {
        if (!src->store) return gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no store");
        if (r->too_big)
            return gb_problem(r, MHD_HTTP_CONTENT_TOO_LARGE,
                              "the body is larger than %u MiB; send smaller batches",
                              GB_API_WRITE_MAX >> 20);
        const char *ps = gb_req_arg(r, "precision");
        gb_lp_precision_t prec = GB_LP_NS;
        /* an empty precision= is nanoseconds, as InfluxDB 1.x takes it */
        if (ps && *ps && gb_lp_precision_parse(ps, strlen(ps), &prec) != 0)
            return gb_problem(r, MHD_HTTP_BAD_REQUEST, "precision is n, ns, u, us, ms, s, m or h");
        /* gzip, as Telegraf and the InfluxDB client libraries send by default */
        const char *ce = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Content-Encoding");
        bool gzip = ce && (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip")); /* RFC 9110 */
        if (ce && !gzip && strcasecmp(ce, "identity"))
            return gb_problem(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                              "Content-Encoding '%.40s': a body is plain or gzip", ce);
        write_job_t *j = r->work_ctx = gb_xcalloc(1, sizeof *j);
        j->prec = prec;
        j->gzip = gzip;
        j->now = gb_now();
        gb_ingest_init(&j->in, src->store);
        r->work_free = write_job_free;
        /* a body of a few milliseconds' work is stored on its connection's thread (connections
         * are spread over the pool's threads), without the hand-off to a worker and back; a
         * bigger one on a worker, so that the connection's thread goes on serving the others
         * it has (a dashboard's live stream, say) meanwhile. A gzip body is unzipped here as far
         * as that size: one whose text is longer (a repetitive one can be 500 times larger) is
         * unzipped again, whole, on the worker. */
        bool here = r->len <= WRITE_INLINE_MAX;
        if (here && gzip) {
            int u = unzip_body(r, WRITE_INLINE_MAX);
            if (u == GB_ERANGE) {
                here = false;
            } else {
                j->gzip = false;
                j->unzip = u;
            }
        }
        if (here)
            write_work(r);
        else if (gb_api_offload(r, write_work))
            return MHD_YES;
    }
    write_job_t *j = r->work_ctx;
    gb_ingest_t *in = &j->in;
    int rc = j->rc;
    enum MHD_Result ret;
    if (r->work_skipped)
        ret = gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "the server is stopping; nothing of this batch was written: send it again "
                         "once the server is back");
    else if (j->unzip == GB_ERANGE)
        ret = gb_problem(r, MHD_HTTP_CONTENT_TOO_LARGE,
                         "the body decompresses to more than %u MiB; send smaller batches",
                         GB_API_WRITE_MAX >> 20);
    else if (j->unzip)
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "the body is not gzip, or is damaged (Content-Encoding: gzip): nothing "
                         "was written");
    else if (rc)
        ret = gb_problem(
            r, rc == GB_ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE : MHD_HTTP_INTERNAL_SERVER_ERROR,
            "the store cannot take the data: %s; nothing of this batch past %llu "
            "points was written",
            gb_strerror(rc), (unsigned long long)in->points);
    else if (in->refused)
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "partial write: line %llu: %s (%llu refused, %llu point%s written)",
                         (unsigned long long)in->first_line, in->first_error,
                         (unsigned long long)in->refused, (unsigned long long)in->points,
                         in->points == 1 ? "" : "s");
    else
        ret = gb_reply(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
    write_job_free(j);
    r->work_ctx = NULL;
    return ret;
}

/*
 * POST /query, InfluxDB 1.x's: Telegraf's influxdb output sends CREATE DATABASE there before it
 * writes (q in the query string or a form body), and logs an error at every start when that
 * fails. gemba keeps one store, which needs no database made: that statement is answered as
 * done, and any other is refused with where to read instead.
 */
/* Whether Q is one statement: nothing but blanks after a ';' outside quotes. */
static bool one_statement(const char *q)
{
    char quote = 0;
    for (const char *p = q; *p; p++) {
        if (quote) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == ';') {
            return p[1 + strspn(p + 1, " \t\r\n")] == 0;
        }
    }
    return true;
}

enum MHD_Result gb_api_influx_query(gb_req_t *r)
{
    const char *q = gb_req_arg(r, "q");
    char *form = NULL;
    if (!q && r->body) { /* application/x-www-form-urlencoded: fields split by '&' */
        for (const char *p = r->body; *p && !q;) {
            size_t n = strcspn(p, "&");
            if (!strncmp(p, "q=", 2)) {
                form = gb_xstrndup(p + 2, n - 2);
                for (char *c = form; *c; c++)
                    if (*c == '+') *c = ' ';
                MHD_http_unescape(form);
                q = form;
            }
            p += n + (p[n] == '&');
        }
    }
    enum MHD_Result ret;
    if (!q) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "missing required parameter \"q\"");
    } else if (!one_statement(q)) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "one statement at a time: gemba's /query takes CREATE DATABASE only");
    } else {
        q += strspn(q, " \t\r\n");
        bool create = !strncasecmp(q, "CREATE DATABASE", 15) && (q[15] == ' ' || q[15] == '\t');
        if (create && strcmp(r->method, "POST")) {
            gb_req_header(r, "Allow", "POST");
            ret = gb_problem(r, MHD_HTTP_METHOD_NOT_ALLOWED, "CREATE DATABASE needs POST");
        } else if (create) {
            static const char done[] = "{\"results\":[{\"statement_id\":0}]}";
            ret = gb_reply(r, MHD_HTTP_OK, "application/json", done, sizeof done - 1,
                           MHD_RESPMEM_PERSISTENT);
        } else {
            ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                             "gemba's /query takes CREATE DATABASE only (a no-op: gemba keeps one "
                             "store); read data with GET /api/v1/query");
        }
    }
    free(form);
    return ret;
}

/* The values of every query argument named KEY ("tag", "match"), in order. */
typedef struct tags_ctx {
    const char *key;
    const char **tags;
    size_t n, cap;
} tags_ctx_t;

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    tags_ctx_t *t = cls;
    if (strcmp(key, t->key) || !value) return MHD_YES;
    if (t->n == t->cap)
        t->tags = gb_xrealloc(t->tags, (t->cap = t->cap ? t->cap * 2 : 8) * sizeof *t->tags);
    t->tags[t->n++] = value;
    return MHD_YES;
}

enum MHD_Result gb_api_latest(gb_req_t *r)
{
    const gb_api_source_t *src = &r->api->src;
    if (!src->store) return gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no store");
    tags_ctx_t tc = {.key = "tag"};
    MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, collect_tag, &tc);
    tags_ctx_t mc = {.key = "match"};
    MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, collect_tag, &mc);
    if (tc.n && mc.n) {
        free(tc.tags);
        free(mc.tags);
        return gb_problem(r, MHD_HTTP_BAD_REQUEST,
                          "give tag (series by name) or match (series by pattern), not both");
    }
    char *text = NULL;
    size_t len = 0, missing = 0;
    int rc = gb_query_latest(src->store, tc.tags, tc.n, mc.tags, mc.n, &text, &len, &missing);
    enum MHD_Result ret;
    if (rc == GB_EEXIST)
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "'%.200s' ends several series' paths; give the whole path",
                         tc.tags[missing]);
    else if (rc == GB_ENOENT)
        ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no series named '%.200s'", tc.tags[missing]);
    else if (rc)
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", gb_strerror(rc));
    else
        ret = gb_reply(r, MHD_HTTP_OK, "application/json", text, len, MHD_RESPMEM_MUST_FREE);
    free(tc.tags);
    free(mc.tags);
    return ret;
}

#define QUERY_PIECE (64u << 10) /* what a query's answer is written in */

/* The HTTP library asks for the next piece of a streamed answer. */
static ssize_t query_piece(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    int64_t n = gb_query_read(cls, buf, max);
    if (n > 0) return (ssize_t)n;
    if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    /* the status went out with the first piece: all that is left is to cut the answer short */
    gb_error("api", "a query's answer was cut short: %s", gb_strerror((int)n));
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void query_done(void *cls)
{
    gb_query_close(cls);
}

/*
 * Sends QS's text (and closes QS). An answer that cannot pass the limit is written as the client
 * reads it, in constant memory; any other is made whole first, so that one past the limit is
 * refused with 413 before a byte of it is sent.
 */
static enum MHD_Result query_answer(gb_req_t *r, gb_query_stream_t *qs, const char *type)
{
    if (gb_query_bound(qs) <= GB_API_QUERY_MAX) {
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, QUERY_PIECE,
                                                                      query_piece, qs, query_done);
        if (!resp) gb_query_close(qs);
        return gb_reply_response(r, MHD_HTTP_OK, type, resp);
    }
    char *body = NULL;
    size_t len = 0, cap = 0;
    int64_t n;
    do {
        if (cap - len < QUERY_PIECE) body = gb_xrealloc(body, cap = cap ? cap * 2 : QUERY_PIECE);
        n = gb_query_read(qs, body + len, QUERY_PIECE);
        if (n > 0) len += (size_t)n;
    } while (n > 0);
    gb_query_close(qs);
    if (!n) return gb_reply(r, MHD_HTTP_OK, type, body, len, MHD_RESPMEM_MUST_FREE);
    free(body);
    if (n == GB_ERANGE)
        return gb_problem(
            r, MHD_HTTP_CONTENT_TOO_LARGE,
            "the answer is larger than %u MiB; ask for a shorter range or an aggregate",
            GB_API_QUERY_MAX >> 20);
    return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", gb_strerror((int)n));
}

enum MHD_Result gb_api_query(gb_req_t *r)
{
    const gb_api_source_t *src = &r->api->src;
    if (!src->store) return gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no store");
    tags_ctx_t tc = {.key = "tag"};
    MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, collect_tag, &tc);
    const char *from = gb_req_arg(r, "from"), *to = gb_req_arg(r, "to"),
               *agg = gb_req_arg(r, "agg"), *step = gb_req_arg(r, "step"),
               *format = gb_req_arg(r, "format");
    gb_query_t q = {.tags = tc.tags,
                    .ntags = tc.n,
                    .from = INT64_MIN,
                    .to = INT64_MAX,
                    .json = !format || !strcmp(format, "json")};
    char d[300] = "";
    gb_time_t now = gb_now();
    if (!tc.n)
        snprintf(d, sizeof d, "name the series: tag=NAME (repeat for more)");
    else if (format && strcmp(format, "json") && strcmp(format, "csv"))
        snprintf(d, sizeof d, "format is json or csv");
    else if (from && gb_query_time_parse(from, now, &q.from) != 0)
        snprintf(d, sizeof d, "from '%.100s' is not a time (RFC 3339, ns, now, -1h)", from);
    else if (to && gb_query_time_parse(to, now, &q.to) != 0)
        snprintf(d, sizeof d, "to '%.100s' is not a time (RFC 3339, ns, now, -1h)", to);
    else if (!agg != !step)
        snprintf(d, sizeof d, "agg and step go together");
    else if (agg && gb_agg_parse(agg, &q.agg) != 0)
        snprintf(d, sizeof d, "agg is count, min, max, sum, avg, first, last, stddev or twa");
    else if (step && (gb_duration_parse(step, &q.step) != 0 || q.step <= 0))
        snprintf(d, sizeof d, "step '%.100s' is not a duration such as 1m", step);
    else if (agg && (!from || !to))
        snprintf(d, sizeof d, "an aggregate needs from and to");
    else if (q.to <= q.from)
        snprintf(d, sizeof d, "to must be after from");
    q.aggregate = agg != NULL;
    if (!d[0]) gb_query_align_from(&q, from);
    uint64_t windows = !d[0] && q.aggregate ? gb_query_windows(&q) : 0;
    if (windows > GB_QUERY_WINDOWS_MAX)
        snprintf(d, sizeof d,
                 "step %.100s makes %llu windows from 'from' to 'to', more than %u: take a longer "
                 "step or a shorter range",
                 step, (unsigned long long)windows, GB_QUERY_WINDOWS_MAX);
    if (d[0]) {
        free(tc.tags);
        return gb_problem(r, MHD_HTTP_BAD_REQUEST, "%s", d);
    }
    q.limit = GB_API_QUERY_MAX;
    size_t missing = 0;
    gb_query_stream_t *qs = NULL;
    int rc = gb_query_open(src->store, &q, &qs, &missing);
    enum MHD_Result ret;
    if (rc == GB_ENOENT) {
        ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no series named '%.200s'", q.tags[missing]);
    } else if (rc == GB_EEXIST) {
        ret =
            gb_problem(r, MHD_HTTP_BAD_REQUEST,
                       "'%.200s' ends several series' paths; give the whole path", q.tags[missing]);
    } else if (rc == GB_EINVAL) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "'%.200s' holds text; its aggregates are count, first and last",
                         q.tags[missing]);
    } else if (rc) {
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", gb_strerror(rc));
    } else {
        ret = query_answer(r, qs, q.json ? "application/json" : "text/csv; charset=utf-8");
    }
    free(tc.tags);
    return ret;
}
