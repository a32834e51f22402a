/*
 * The HTTP server: libmicrohttpd on its own polling thread, a table of routes, JSON bodies. We
 * open the listening socket ourselves so that a busy port or a bad address is a clear error before
 * anything else starts, and so port 0 can report the port the kernel chose.
 */
#include "gemba/api.h"
#include "api/store_routes.h"
#include "api/web.h"
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern const char gb_openapi_json[];
extern const size_t gb_openapi_json_len;

struct gb_api {
    struct MHD_Daemon *mhd;
    gb_api_source_t src;
};

#define BODY_MAX 65536

/* Per request: the body of a POST, gathered across libmicrohttpd's calls. */
typedef struct req {
    char *body;
    size_t len;
    bool too_big;
} req_t;

static int no_body; /* the request context of a GET */

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    if (*req_cls && *req_cls != &no_body) {
        req_t *r = *req_cls;
        free(r->body);
        free(r);
    }
    *req_cls = NULL;
}

int gb_api_listen(const char *hostport, int *fd_out, char *url, size_t urlsz, char *err,
                  size_t errsz)
{
    char host[256], port[16];
    const char *colon;
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':' || (size_t)(close - hostport - 1) >= sizeof host) goto bad;
        memcpy(host, hostport + 1, (size_t)(close - hostport - 1));
        host[close - hostport - 1] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon || (size_t)(colon - hostport) >= sizeof host || colon == hostport) goto bad;
        memcpy(host, hostport, (size_t)(colon - hostport));
        host[colon - hostport] = 0;
        if (strchr(host, ':')) goto bad; /* an IPv6 address needs brackets */
    }
    gb_strlcpy(port, colon + 1, sizeof port);
    char *end;
    long pn = strtol(port, &end, 10);
    if (!*port || *end || pn < 0 || pn > 65535) goto bad;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE}, *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        snprintf(err, errsz, "cannot resolve listen address '%s': %s", host, gai_strerror(gai));
        return GB_EINVAL;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { saved = errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", hostport, strerror(saved));
        return GB_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char addr[INET6_ADDRSTRLEN];
    int bound_port;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
        bound_port = ntohs(s6->sin6_port);
        snprintf(url, urlsz, "http://[%s]:%d", addr, bound_port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
        bound_port = ntohs(s4->sin_port);
        snprintf(url, urlsz, "http://%s:%d", addr, bound_port);
    }
    *fd_out = fd;
    return 0;
bad:
    snprintf(err, errsz,
             "bad listen address '%s': expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080",
             hostport);
    return GB_EINVAL;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *doc,
                                 const char *type)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!s) return MHD_NO;
    return send_body(c, status, type, s, strlen(s), MHD_RESPMEM_MUST_FREE);
}

/* RFC 9457 problem details. */
static enum MHD_Result problem(struct MHD_Connection *c, unsigned status, const char *title,
                               const char *detail, const char *allow)
{
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status",
                          (int)status, "detail", detail);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/problem+json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (allow) MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static json_t *value_json(const gb_latest_value_t *v)
{
    switch (v->type) {
    case GB_VT_F64: return json_real(v->f64);
    case GB_VT_I64: return json_integer(v->i64);
    case GB_VT_BOOL: return json_boolean(v->b);
    case GB_VT_STR: return json_string(v->str);
    }
    return json_null();
}

static json_t *tags_json(const gb_api_source_t *src)
{
    static const char *const quality[] = {"good", "uncertain", "bad"};
    json_t *arr = json_array();
    for (uint32_t i = 0; i < gb_tags_count(src->tags); i++) {
        const gb_tag_t *t = gb_tags_get(src->tags, i);
        const gb_asset_t *m = gb_tags_asset(src->tags, t->machine);
        json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "id", (int)t->id, "path", t->path,
                              "machine", m->name, "name", t->name, "type",
                              gb_vtype_name(t->type));
        if (t->unit) json_object_set_new(o, "unit", json_string(t->unit));
        gb_latest_value_t v;
        if (src->latest && gb_latest_get(src->latest, i, &v) == 0 && v.has) {
            char ts[40];
            gb_time_format(v.t, ts, sizeof ts); /* exact: usable as a query bound */
            json_object_set_new(o, "time", json_string(ts));
            json_object_set_new(o, "value", value_json(&v));
            json_object_set_new(o, "quality", json_string(quality[v.quality % 3]));
        } else {
            json_object_set_new(o, "value", json_null());
        }
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o}", "tags", arr);
}

static bool query_time(struct MHD_Connection *c, const char *key, gb_time_t dflt, gb_time_t *out,
                       char *err, size_t errsz)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (gb_time_parse_rfc3339(v, strlen(v), out) == 0) return true;
    snprintf(err, errsz, "'%s' takes an RFC 3339 time such as 2026-11-23T06:00:00Z, not '%.60s'",
             key, v);
    return false;
}

/* /api/v1/machines, /api/v1/machines/{name}/timeline|stops, /api/v1/oee */
static enum MHD_Result oee_routes(struct MHD_Connection *c, gb_api_t *api, const char *url)
{
    gb_oee_live_t *l = api->src.oee;
    gb_time_t now = gb_now();
    if (!strcmp(url, "/api/v1/machines"))
        return send_json(c, MHD_HTTP_OK, gb_oee_live_machines(l, now), "application/json");
    /* windows default to today (local midnight, or the start of the history if later) to now */
    gb_time_t midnight = gb_tz_local_to_utc(gb_tz_local_date(now, NULL), 0);
    gb_time_t hist = gb_oee_live_history_start(l);
    gb_time_t dfrom = midnight > hist ? midnight : hist;
    gb_time_t from, to;
    char err[200];
    if (!query_time(c, "from", dfrom, &from, err, sizeof err) ||
        !query_time(c, "to", now, &to, err, sizeof err))
        return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request", err, NULL);
    if (to <= from)
        return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request", "'to' must be after 'from'", NULL);
    if (!strcmp(url, "/api/v1/oee")) {
        const char *by_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "by");
        const char *asset = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "asset");
        gb_oee_by_t by = GB_BY_MACHINE;
        if (by_s && gb_oee_by_parse(by_s, &by) != 0)
            return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
                           "'by' is machine, shift, day, week, reason, job, product or operator",
                           NULL);
        json_t *doc = gb_oee_live_report(l, from, to, by, asset);
        if (!doc) {
            snprintf(err, sizeof err, "no machine under '%.100s'", asset);
            return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
        }
        return send_json(c, MHD_HTTP_OK, doc, "application/json");
    }
    const char *rest = url + strlen("/api/v1/machines/");
    const char *slash = strchr(rest, '/');
    char name[80];
    if (!slash || (size_t)(slash - rest) >= sizeof name) goto nf;
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = 0;
    json_t *doc = NULL;
    if (!strcmp(slash, "/timeline")) doc = gb_oee_live_timeline(l, name, from, to);
    else if (!strcmp(slash, "/stops")) doc = gb_oee_live_stops(l, name, from, to);
    else goto nf;
    if (!doc) {
        snprintf(err, sizeof err, "no machine named '%.60s'", name);
        return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
    }
    return send_json(c, MHD_HTTP_OK, doc, "application/json");
nf:
    snprintf(err, sizeof err, "no resource at %.150s", url);
    return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
}

static enum MHD_Result tag_write(struct MHD_Connection *c, gb_api_t *api, const char *url,
                                 json_t *body, const char *who);

/* POST /api/v1/machines/{name}/stops/{start}/reason|split and /api/v1/machines/{name}/scrap */
static enum MHD_Result write_routes(struct MHD_Connection *c, gb_api_t *api, const char *url,
                                    const req_t *r)
{
    char err[300];
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *who = NULL, *role = NULL;
    if (!api->src.auth || !api->src.audit || !gb_auth_check(api->src.auth, hdr, &who, &role)) {
        json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                              "Unauthorized", "status", 401, "detail",
                              hdr ? "the token is not valid" : "changes need an API token: "
                              "Authorization: Bearer <token>");
        char *body = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body,
                                                                     MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/problem+json");
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"gemba\"");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (r->too_big) return problem(c, MHD_HTTP_CONTENT_TOO_LARGE, "Content Too Large",
                                   "the body is larger than 64 KiB", NULL);
    json_error_t je;
    json_t *body = json_loadb(r->body ? r->body : "", r->len, 0, &je);
    if (!body || !json_is_object(body)) {
        snprintf(err, sizeof err, "the body must be a JSON object: %s", body ? "not an object" : je.text);
        json_decref(body);
        return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request", err, NULL);
    }
    if (!strncmp(url, "/api/v1/tags/", 13)) {
        enum MHD_Result r2 = tag_write(c, api, url, body, who);
        json_decref(body);
        return r2;
    }
    /* /api/v1/machines/NAME/... */
    const char *rest = url + strlen("/api/v1/machines/");
    const char *slash = strchr(rest, '/');
    char name[80], stop_s[64] = "";
    enum MHD_Result ret;
    if (!slash || (size_t)(slash - rest) >= sizeof name) goto nf;
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = 0;
    gb_time_t now = gb_now();
    char before[400] = "", after[400] = "", target[200];
    int rc;
    const char *action;
    if (!strcmp(slash, "/scrap")) {
        json_t *cnt = json_object_get(body, "count");
        const char *ts = json_string_value(json_object_get(body, "time"));
        gb_time_t t = now;
        if (!json_is_integer(cnt) || json_integer_value(cnt) < 1 ||
            (ts && gb_time_parse_rfc3339(ts, strlen(ts), &t) != 0)) {
            json_decref(body);
            return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
                           "expected {\"count\": N (at least 1), \"time\": optional RFC 3339}", NULL);
        }
        action = "scrap";
        snprintf(target, sizeof target, "%s", name);
        snprintf(after, sizeof after, "%lld parts scrapped at %s", (long long)json_integer_value(cnt),
                 ts ? ts : "now");
        rc = gb_oee_live_scrap(api->src.oee, name, t, json_integer_value(cnt), who, now);
    } else {
        if (strncmp(slash, "/stops/", 7)) goto nf;
        const char *s2 = slash + 7, *s3 = strchr(s2, '/');
        if (!s3 || (size_t)(s3 - s2) >= sizeof stop_s) goto nf;
        memcpy(stop_s, s2, (size_t)(s3 - s2));
        stop_s[s3 - s2] = 0;
        gb_time_t start;
        if (gb_time_parse_rfc3339(stop_s, strlen(stop_s), &start) != 0) {
            json_decref(body);
            return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
                           "a stop is named by its start, an RFC 3339 time as /stops lists it", NULL);
        }
        snprintf(target, sizeof target, "%s stop %s", name, stop_s);
        if (!strcmp(s3, "/reason")) {
            const char *reason = json_string_value(json_object_get(body, "reason"));
            if (!reason) {
                json_decref(body);
                return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
                               "expected {\"reason\": \"a/path/of/the/reason/tree\"}", NULL);
            }
            action = "set reason";
            rc = gb_oee_live_set_reason(api->src.oee, name, start, reason, who, now, before, after,
                                        sizeof before);
            if (rc == GB_EINVAL) {
                snprintf(err, sizeof err, "unknown reason '%.100s': reasons are paths of the plant "
                         "file's reason tree", reason);
                json_decref(body);
                return problem(c, MHD_HTTP_UNPROCESSABLE_CONTENT, "Unprocessable Content", err, NULL);
            }
        } else if (!strcmp(s3, "/split")) {
            const char *at_s = json_string_value(json_object_get(body, "at"));
            gb_time_t at;
            if (!at_s || gb_time_parse_rfc3339(at_s, strlen(at_s), &at) != 0) {
                json_decref(body);
                return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
                               "expected {\"at\": an RFC 3339 time inside the stop}", NULL);
            }
            action = "split stop";
            rc = gb_oee_live_split(api->src.oee, name, start, at, who, now, before, after,
                                   sizeof before);
        } else {
            goto nf;
        }
    }
    json_decref(body);
    body = NULL;
    if (rc == GB_ENOENT) {
        snprintf(err, sizeof err, "no machine named '%.60s'", name);
        return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
    }
    if (rc == GB_ERANGE) {
        snprintf(err, sizeof err, "%s", *stop_s ? "no stop of this machine starts at that time, "
                 "or the split time is not inside it" : "the time is outside the machine's history");
        return problem(c, MHD_HTTP_UNPROCESSABLE_CONTENT, "Unprocessable Content", err, NULL);
    }
    if (rc == GB_EINVAL)
        return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request", "count must be at least 1", NULL);
    if (rc) return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
                           "the change could not be recorded; nothing was changed", NULL);
    if (gb_audit_write(api->src.audit, who, action, target, *before ? before : NULL, after) != 0)
        gb_error("audit", "%s by %s on %s was applied but not audited", action, who, target);
    gb_info("api", "%s by %s: %s", action, who, target);
    ret = send_json(c, MHD_HTTP_OK,
                    json_pack("{s:s, s:s, s:s?, s:s}", "action", action, "target", target,
                              "before", *before ? before : NULL, "after", after),
                    "application/json");
    return ret;
nf:
    json_decref(body);
    snprintf(err, sizeof err, "no resource at %.150s", url);
    return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
}

/* POST /api/v1/tags/{machine}/{tag}/value: write a value to the device, when the plant allows */
static enum MHD_Result tag_write(struct MHD_Connection *c, gb_api_t *api, const char *url,
                                 json_t *body, const char *who)
{
    char err[300], path[200];
    const char *rest = url + strlen("/api/v1/tags/");
    size_t n = strlen(rest) - strlen("/value");
    if (n >= sizeof path) n = sizeof path - 1;
    memcpy(path, rest, n);
    path[n] = 0;
    const gb_tag_t *t = gb_tags_find(api->src.tags, path);
    if (!t || t->derived) {
        snprintf(err, sizeof err, "no tag '%.100s' (machine/tag)", path);
        return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", err, NULL);
    }
    gb_adapter_t *ad = NULL;
    for (size_t i = 0; i < api->src.nadapters && t->adapter != GB_NONE; i++)
        if (api->src.adapters[i].cfg == &api->src.plant->adapters[t->adapter]) ad = &api->src.adapters[i];
    if (!ad || !ad->cls->write) {
        snprintf(err, sizeof err, "tag '%.100s' cannot be written: its source %s", path,
                 ad ? "does not take writes" : "is not a running adapter");
        return problem(c, MHD_HTTP_FORBIDDEN, "Forbidden", err, NULL);
    }
    json_t *jv = json_object_get(body, "value");
    gb_value_t v = {.type = t->type};
    bool ok = true;
    switch (t->type) {
    case GB_VT_F64:
        ok = json_is_number(jv);
        /* the device holds the raw value: undo the tag's scale and offset */
        v.f64 = ok ? (json_number_value(jv) - t->offset) / t->scale : 0;
        break;
    case GB_VT_I64: ok = json_is_integer(jv); v.i64 = ok ? json_integer_value(jv) : 0; break;
    case GB_VT_BOOL: ok = json_is_boolean(jv); v.b = ok && json_is_true(jv); break;
    default:
        ok = json_is_string(jv);
        v.str = ok ? json_string_value(jv) : NULL;
        v.len = ok ? json_string_length(jv) : 0;
    }
    if (!ok) {
        snprintf(err, sizeof err, "expected {\"value\": a %s}", gb_vtype_name(t->type));
        return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request", err, NULL);
    }
    char after[200], before[200] = "";
    char *dump = json_dumps(jv, JSON_ENCODE_ANY);
    snprintf(after, sizeof after, "%s", dump ? dump : "?");
    free(dump);
    gb_latest_value_t lv;
    if (api->src.latest && gb_latest_get(api->src.latest, t->id, &lv) == 0 && lv.has) {
        switch (lv.type) {
        case GB_VT_F64: snprintf(before, sizeof before, "%.17g", lv.f64); break;
        case GB_VT_I64: snprintf(before, sizeof before, "%lld", (long long)lv.i64); break;
        case GB_VT_BOOL: snprintf(before, sizeof before, "%s", lv.b ? "true" : "false"); break;
        default: snprintf(before, sizeof before, "\"%.180s\"", lv.str);
        }
    }
    char derr[200] = "";
    int rc = ad->cls->write(ad->state, t->id, &v, derr, sizeof derr);
    if (rc == GB_EACCES) return problem(c, MHD_HTTP_FORBIDDEN, "Forbidden", derr, NULL);
    if (rc == GB_EINVAL) return problem(c, MHD_HTTP_UNPROCESSABLE_CONTENT, "Unprocessable Content", derr, NULL);
    if (rc == GB_ETIMEDOUT) return problem(c, MHD_HTTP_GATEWAY_TIMEOUT, "Gateway Timeout", derr, NULL);
    if (rc) return problem(c, MHD_HTTP_BAD_GATEWAY, "Bad Gateway", derr, NULL);
    if (gb_audit_write(api->src.audit, who, "write", path, *before ? before : NULL, after) != 0)
        gb_error("audit", "write by %s on %s was done but not audited", who, path);
    gb_info("api", "write by %s: %s = %s", who, path, after);
    return send_json(c, MHD_HTTP_OK,
                     json_pack("{s:s, s:s, s:s?, s:s}", "action", "write", "target", path, "before",
                               *before ? before : NULL, "after", after),
                     "application/json");
}

static bool is_write_route(const char *url)
{
    size_t len = strlen(url);
    if (!strncmp(url, "/api/v1/tags/", 13) && len > 19 && !strcmp(url + len - 6, "/value")) return true;
    if (strncmp(url, "/api/v1/machines/", 17)) return false;
    size_t n = strlen(url);
    return (n > 7 && !strcmp(url + n - 7, "/reason")) || (n > 6 && !strcmp(url + n - 6, "/split")) ||
           (n > 6 && !strcmp(url + n - 6, "/scrap"));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    gb_api_t *api = cls;
    bool post = !strcmp(method, "POST");
    /* first call per request: headers only; answer once the body (if any) is in */
    if (!*req_cls) {
        *req_cls = post ? (void *)gb_xcalloc(1, sizeof(req_t)) : (void *)&no_body;
        return MHD_YES;
    }
    if (*upload_size) {
        if (*req_cls != &no_body) {
            req_t *r = *req_cls;
            size_t max = !strcmp(url, "/write") || !strcmp(url, "/api/v1/write") ? GB_API_WRITE_MAX : BODY_MAX;
            if (r->len + *upload_size > max) {
                r->too_big = true;
            } else {
                r->body = gb_xrealloc(r->body, r->len + *upload_size + 1);
                memcpy(r->body + r->len, upload, *upload_size);
                r->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/write") || !strcmp(url, "/api/v1/write")) {
        if (!post) {
            char detail[120];
            snprintf(detail, sizeof detail, "%s takes POST, not %.20s", url, method);
            return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed", detail, "POST");
        }
        req_t *r = *req_cls;
        return gb_api_write(c, &api->src, url[1] == 'w', r->body, r->len, r->too_big);
    }
    if (!strcmp(url, "/api/v1/latest")) {
        if (!get) return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                                 "/api/v1/latest takes GET", "GET, HEAD");
        return gb_api_latest(c, &api->src);
    }
    if (!strcmp(url, "/api/v1/query")) {
        if (!get) return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                                 "/api/v1/query takes GET", "GET, HEAD");
        return gb_api_query(c, &api->src);
    }
    if (is_write_route(url) && (api->src.oee || !strncmp(url, "/api/v1/tags/", 13))) {
        if (!post) {
            char detail[300];
            snprintf(detail, sizeof detail, "%.200s takes POST, not %.20s", url, method);
            return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed", detail, "POST");
        }
        return write_routes(c, api, url, *req_cls);
    }
    /* the dashboard's files: /, /assets/... (api/web.h) */
    const gb_web_asset_t *asset = gb_web_asset_find(url);
    if (asset) {
        if (get) return gb_web_asset_send(c, asset);
        char detail[300];
        snprintf(detail, sizeof detail, "%.200s takes GET, not %.20s", url, method);
        return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed", detail, "GET, HEAD");
    }
    static const char *const routes[] = {"/api/v1/plant", "/api/v1/health", "/api/v1/tags", "/api/v1/machines",
                                         "/api/v1/oee", "/api/v1/openapi.json", NULL};
    int route = -1;
    for (int i = 0; routes[i]; i++)
        if (!strcmp(url, routes[i])) route = i;
    if (route < 0 && !strncmp(url, "/api/v1/machines/", 17)) route = 3;
    if (route < 0 || ((route == 3 || route == 4) && !api->src.oee)) {
        char detail[300];
        snprintf(detail, sizeof detail, "no resource at %.200s", url);
        return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", detail, NULL);
    }
    if (!get) {
        char detail[300];
        snprintf(detail, sizeof detail, "%.200s takes GET, not %.20s", url, method);
        return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed", detail, "GET, HEAD");
    }
    switch (route) {
    case 0: return send_json(c, MHD_HTTP_OK, gb_api_plant(&api->src), "application/json");
    case 1: return send_json(c, MHD_HTTP_OK, gb_api_health(&api->src), "application/json");
    case 2: return send_json(c, MHD_HTTP_OK, tags_json(&api->src), "application/json");
    case 5:
        return send_body(c, MHD_HTTP_OK, "application/json", gb_openapi_json, gb_openapi_json_len,
                         MHD_RESPMEM_PERSISTENT);
    default: return oee_routes(c, api, url);
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    gb_warn("http", "%s", buf);
}

gb_api_t *gb_api_start(int fd, const gb_api_source_t *src)
{
    gb_api_t *api = gb_xcalloc(1, sizeof *api);
    api->src = *src;
    api->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO, 0, NULL, NULL, handle,
        api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
        NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
        MHD_OPTION_END);
    if (!api->mhd) {
        gb_error("http", "cannot start the HTTP server");
        close(fd);
        free(api);
        return NULL;
    }
    return api;
}

void gb_api_stop(gb_api_t *api)
{
    if (!api) return;
    MHD_stop_daemon(api->mhd);
    free(api);
}
