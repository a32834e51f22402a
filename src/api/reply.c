/*
 * How every route answers (see server.h): the common headers, problem details with a stable
 * "code" a browser app can switch on, JSON bodies, paging links and the audit trail.
 */
#include "api/server.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/quiet.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gb_req_header(gb_req_t *r, const char *name, const char *fmt, ...)
{
    if (r->nhdr == GB_REQ_HEADERS_MAX) abort(); /* a handler bug, not input */
    va_list ap;
    va_start(ap, fmt);
    char *v = NULL;
    if (vasprintf(&v, fmt, ap) < 0) abort();
    va_end(ap);
    r->hdr[r->nhdr].name = name;
    r->hdr[r->nhdr++].value = v;
}

bool gb_req_param(const gb_req_t *r, const char *name, char *buf, size_t size)
{
    return gb_route_param(r->params, r->nparams, name, buf, size);
}

const char *gb_req_arg(const gb_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result gb_reply(gb_req_t *r, unsigned status, const char *type, const char *body,
                         size_t len, enum MHD_ResponseMemoryMode mode)
{
    return gb_reply_response(r, status, type,
                             MHD_create_response_from_buffer(len, (void *)body, mode));
}

enum MHD_Result gb_reply_response(gb_req_t *r, unsigned status, const char *type,
                                  struct MHD_Response *resp)
{
    if (!resp) return MHD_NO;
    if (type) MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    for (size_t i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hdr[i].name, r->hdr[i].value);
    enum MHD_Result ret = MHD_queue_response(r->c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result gb_reply_json(gb_req_t *r, unsigned status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s) return MHD_NO;
    return gb_reply(r, status, "application/json", s, strlen(s), MHD_RESPMEM_MUST_FREE);
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Error";
    }
}

/* InfluxDB 2.x's error code for an HTTP status, as its clients log it. */
static const char *influx2_code(unsigned status)
{
    switch (status) {
    case 400: return "invalid";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 413: return "request too large";
    case 415: return "unsupported media type";
    case 429: return "too many requests";
    case 503: return "unavailable";
    default: return "internal error";
    }
}

/*
 * Refusals worth a line in the log: failed or insufficient credentials (someone may be guessing
 * tokens) and refused writes (a collector whose data is being lost). Said once a minute per
 * client address and status, the next line counting those not said, so a collector retrying
 * every second cannot flood the log.
 */
static gb_quiet_t refusals = GB_QUIET_INIT;

static void log_refusal(const gb_req_t *r, unsigned status, const char *detail)
{
    bool write = r->route && (r->route->flags & GB_ROUTE_BIG_BODY);
    if (status != MHD_HTTP_UNAUTHORIZED && status != MHD_HTTP_FORBIDDEN && !write) return;
    char key[INET6_ADDRSTRLEN + 16];
    snprintf(key, sizeof key, "%u %s", status, r->addr);
    uint64_t unsaid;
    if (!gb_quiet_say(&refusals, key, &unsaid)) return;
    char more[96] = "";
    if (unsaid)
        snprintf(more, sizeof more, " (and %llu more like it from there in the minute before)",
                 (unsigned long long)unsaid);
    gb_warn("http", "refused %.10s %.200s from %s%s%s: %u %s%s", r->method, r->url,
            r->addr[0] ? r->addr : "an unknown address", r->who.name[0] ? " as " : "",
            r->who.name, status, detail, more);
}

enum MHD_Result gb_problem_x(gb_req_t *r, unsigned status, const char *code, json_t *ext,
                             const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    gb_utf8_scrub(detail); /* it may quote a client's bytes, and JSON strings are UTF-8 */
    log_refusal(r, status, detail);
    unsigned flags = r->route ? r->route->flags : 0;
    bool influx = flags & (GB_ROUTE_INFLUX | GB_ROUTE_INFLUX2);
    json_t *doc;
    if (flags & GB_ROUTE_INFLUX) {
        doc = json_pack("{s:s}", "error", detail);
    } else if (flags & GB_ROUTE_INFLUX2) {
        doc = json_pack("{s:s, s:s}", "code", influx2_code(status), "message", detail);
    } else {
        doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                        status_title(status), "status", (int)status, "detail", detail);
        if (code) json_object_set_new(doc, "code", json_string(code));
        if (ext) json_object_update(doc, ext);
    }
    json_decref(ext);
    if (status == MHD_HTTP_UNAUTHORIZED)
        /* Basic only where InfluxDB clients need it: a browser shows its own login box for it */
        gb_req_header(r, "WWW-Authenticate", "%s",
                      r->route && (r->route->flags & GB_ROUTE_TOKEN_FORMS)
                          ? "Basic realm=\"gemba\", Bearer realm=\"gemba\""
                          : "Bearer realm=\"gemba\"");
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!s) return MHD_NO;
    return gb_reply(r, status, influx ? "application/json" : "application/problem+json", s,
                    strlen(s), MHD_RESPMEM_MUST_FREE);
}

bool gb_req_object(gb_req_t *r, json_t **out, enum MHD_Result *ret)
{
    *out = NULL;
    if (r->too_big) {
        *ret = gb_problem(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than %u KiB",
                          GB_API_BODY_MAX / 1024);
        return false;
    }
    json_error_t je;
    json_t *body = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
        *ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object: %s",
                          body ? "not an object" : je.text);
        json_decref(body);
        return false;
    }
    *out = body;
    return true;
}

bool gb_req_page(gb_req_t *r, size_t *limit, const char **cursor, enum MHD_Result *ret)
{
    const char *l = gb_req_arg(r, "limit");
    *limit = GB_API_PAGE_DEFAULT;
    *cursor = gb_req_arg(r, "cursor");
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > GB_API_PAGE_MAX) {
            *ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "limit is a number from 1 to %d",
                              GB_API_PAGE_MAX);
            return false;
        }
        *limit = (size_t)v;
    }
    return true;
}

json_t *gb_req_next(const gb_req_t *r, size_t limit, const char *cursor)
{
    if (!cursor) return json_null();
    char esc[3 * 128 + 1], *e = esc;
    for (const char *p = cursor; *p && e < esc + sizeof esc - 4; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~')
            *e++ = (char)ch;
        else
            e += sprintf(e, "%%%02X", ch);
    }
    *e = 0;
    return json_sprintf("%s?limit=%zu&cursor=%s", r->url, limit, esc);
}

void gb_req_audit(gb_req_t *r, const char *action, const char *target, const char *before,
                  const char *after)
{
    static const char *const via[] = {"anonymous", "session", "token"};
    gb_audit_entry_t e = {r->who.name[0] ? r->who.name : "anonymous", via[r->who.via % 3],
                          r->addr[0] ? r->addr : NULL, action, target, before, after};
    if (!r->api->src.audit || gb_audit_write(r->api->src.audit, &e) != 0)
        gb_error("audit", "%s by %s on %s was done but not audited", action, e.who, target);
}

json_t *gb_json_time(gb_time_t t)
{
    if (!t) return json_null();
    char ts[40];
    gb_time_format(t, ts, sizeof ts);
    return json_string(ts);
}
