/*
 * The HTTP server: libmicrohttpd with a small pool of threads, one table of routes, and the gate
 * every request passes before its handler runs.
 *
 * The table (below) is the single place that says who may call what: each route names its method,
 * its path pattern and the least role that may call it. A path no route has is 404, a method the
 * path does not take is 405 with Allow, all as RFC 9457 problem details. The gate then finds the
 * caller -- an API token in Authorization (also the InfluxDB forms on the write routes), else a
 * session cookie -- and refuses with 401 when the route needs someone and nobody is there, 403
 * when the role is too low, and 403 when a session cookie asks for a change without its CSRF
 * token. A request with a body is judged as soon as its headers are in, so a refused body is
 * never read; one without is judged on its last call, so a refusal keeps the connection open.
 *
 * We open the listening socket ourselves so that a busy port or a bad address is a clear error
 * before anything else starts, and so port 0 can report the port the kernel chose.
 */
#include "api/server.h"
#include "api/web.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/quiet.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern const char gb_account_page_html[];
extern const size_t gb_account_page_html_len;
extern const char gb_openapi_json[];
extern const size_t gb_openapi_json_len;

#define THREADS 4 /* a slow request (a password check, a write to a slow PLC) holds only one */
/* A connection's memory, its read buffer within it: a write's body comes in reads of up to about
 * half of it. At libmicrohttpd's 32 KiB, a 230 KB body took 14 reads and as many waits for the
 * socket; at 128 KiB, about four. Each open connection holds all of it: 300 idle connections
 * took 39 MB, against 10 MB at 32 KiB; 64 MiB at most for the 512 connections allowed. */
#define CONNECTION_MEMORY (128u << 10)

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

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE},
                    *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        snprintf(err, errsz, "cannot resolve listen address '%s': %s", host, gai_strerror(gai));
        return GB_EINVAL;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
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

/* The dashboard's files (api/web.h): the page at /, its bundles under /assets/. */
static enum MHD_Result web_asset(gb_req_t *r)
{
    const gb_web_asset_t *a = gb_web_asset_find(r->url);
    if (!a) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no resource at %.200s", r->url);
    return gb_web_asset_send(r->c, a);
}

static enum MHD_Result plant_doc(gb_req_t *r)
{
    return gb_reply_json(r, MHD_HTTP_OK, gb_api_plant(&r->api->src));
}

/* /login and /setup: one page, which looks at its own path */
static enum MHD_Result account_page(gb_req_t *r)
{
    return gb_reply(r, MHD_HTTP_OK, "text/html; charset=utf-8", gb_account_page_html,
                    gb_account_page_html_len, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result openapi(gb_req_t *r)
{
    return gb_reply(r, MHD_HTTP_OK, "application/json", gb_openapi_json, gb_openapi_json_len,
                    MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result health(gb_req_t *r)
{
    return gb_reply_json(r, MHD_HTTP_OK, gb_api_health(&r->api->src));
}

/* GET /ping, InfluxDB 1.x's: the client libraries ask it before they write, and read the API
 * version from its header (the 1.8 API's, which the write routes follow). */
static enum MHD_Result influx_ping(gb_req_t *r)
{
    gb_req_header(r, "X-Influxdb-Version", "1.8.10");
    return gb_reply(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
}

#define NONE GB_ROLE_NONE
#define VIEWER GB_ROLE_VIEWER
#define OPERATOR GB_ROLE_OPERATOR
#define ENGINEER GB_ROLE_ENGINEER
#define ADMIN GB_ROLE_ADMIN
#define INFLUX_WRITE (GB_ROUTE_BIG_BODY | GB_ROUTE_TOKEN_FORMS)

/*
 * Every route, and who may call it. docs/api.md has this table for people and web/openapi.json
 * for programs; tests/integration/test_openapi.sh checks that the three agree.
 */
static const gb_route_t routes[] = {
    /* pages: the login screen must load before anyone has logged in */
    {"GET", "/", NONE, 0, web_asset},
    {"GET", "/assets/{file*}", NONE, 0, web_asset},
    {"GET", "/favicon.svg", NONE, 0, web_asset},
    {"GET", "/login", NONE, 0, account_page},
    {"GET", "/setup", NONE, 0, account_page},
    /* open to anyone: is the daemon well, what the API looks like, the first admin, signing in */
    {"GET", "/api/v1/health", NONE, 0, health},
    {"GET", "/ping", NONE, GB_ROUTE_INFLUX, influx_ping},
    {"GET", "/api/v1/openapi.json", NONE, 0, openapi},
    {"GET", "/api/v1/setup", NONE, 0, gb_api_setup_get},
    {"POST", "/api/v1/setup", NONE, 0, gb_api_setup_post},
    {"POST", "/api/v1/session", NONE, 0, gb_api_session_login},
    {"GET", "/api/v1/session", VIEWER, 0, gb_api_session_get},
    {"DELETE", "/api/v1/session", VIEWER, 0, gb_api_session_logout},
    /* reading the plant */
    {"GET", "/api/v1/plant", VIEWER, 0, plant_doc},
    {"GET", "/api/v1/tags", VIEWER, 0, gb_api_tags},
    {"GET", "/api/v1/latest", VIEWER, 0, gb_api_latest},
    {"GET", "/api/v1/query", VIEWER, 0, gb_api_query},
    {"GET", "/api/v1/machines", VIEWER, 0, gb_api_machines},
    {"GET", "/api/v1/machines/{machine}/timeline", VIEWER, 0, gb_api_timeline},
    {"GET", "/api/v1/machines/{machine}/stops", VIEWER, 0, gb_api_stops},
    {"GET", "/api/v1/oee", VIEWER, 0, gb_api_oee},
    {"GET", "/api/v1/jobs", VIEWER, 0, gb_api_jobs},
    {"GET", "/api/v1/stream", VIEWER, 0, gb_api_stream},
    /* what operators do on the floor */
    {"POST", "/api/v1/machines/{machine}/stops/{stop}/reason", OPERATOR, 0, gb_api_stop_reason},
    {"POST", "/api/v1/machines/{machine}/stops/{stop}/split", OPERATOR, 0, gb_api_stop_split},
    {"POST", "/api/v1/machines/{machine}/scrap", OPERATOR, 0, gb_api_scrap},
    /* what engineers do: write back to machines, write into the historian */
    {"POST", "/api/v1/tags/{machine}/{tag}/value", ENGINEER, 0, gb_api_tag_write},
    {"POST", "/api/v1/write", ENGINEER, INFLUX_WRITE, gb_api_write},
    {"POST", "/write", ENGINEER, INFLUX_WRITE | GB_ROUTE_INFLUX, gb_api_write},
    {"POST", "/api/v2/write", ENGINEER, INFLUX_WRITE | GB_ROUTE_INFLUX2, gb_api_write},
    {"POST", "/query", ENGINEER, GB_ROUTE_TOKEN_FORMS | GB_ROUTE_INFLUX, gb_api_influx_query},
    {"GET", "/query", VIEWER, GB_ROUTE_TOKEN_FORMS | GB_ROUTE_INFLUX, gb_api_influx_query},
    /* what admins do; anyone may change their own password (the handler checks) */
    {"GET", "/api/v1/users", ADMIN, 0, gb_api_users_list},
    {"POST", "/api/v1/users", ADMIN, 0, gb_api_users_add},
    {"PATCH", "/api/v1/users/{user}", VIEWER, 0, gb_api_user_patch},
    {"DELETE", "/api/v1/users/{user}", ADMIN, 0, gb_api_user_delete},
    {"GET", "/api/v1/tokens", ADMIN, 0, gb_api_tokens_list},
    {"POST", "/api/v1/tokens", ADMIN, 0, gb_api_tokens_add},
    {"DELETE", "/api/v1/tokens/{id}", ADMIN, 0, gb_api_token_delete},
    {"GET", "/api/v1/audit", ADMIN, 0, gb_api_audit_list},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* The token of a request, however it came, into BUF; NULL when none was sent. *BAD is set when
 * an Authorization header was sent in a form this route does not take. */
static const char *request_token(gb_req_t *r, char *buf, size_t size, bool *bad)
{
    const char *h = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Authorization");
    bool forms = r->route->flags & GB_ROUTE_TOKEN_FORMS;
    const char *tok = NULL;
    *bad = false;
    if (h && !strncmp(h, "Bearer ", 7))
        tok = h + 7;
    else if (h && !strncmp(h, "Token ", 6))
        tok = h + 6;
    else if (h && forms && !strncmp(h, "Basic ", 6)) {
        /* any user name; the token is the password */
        size_t n = 0;
        if (sodium_base642bin((unsigned char *)buf, size - 1, h + 6, strlen(h + 6), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            buf[n] = 0;
            char *colon = strchr(buf, ':');
            if (colon) memmove(buf, colon + 1, strlen(colon + 1) + 1);
            if (colon && *buf) return buf;
        }
        *bad = true;
        return NULL;
    } else if (h) {
        *bad = true;
        return NULL;
    }
    if (!tok && forms) tok = gb_req_arg(r, "p");
    if (!tok) return NULL;
    if (strlen(tok) >= size) {
        *bad = true;
        return NULL;
    }
    gb_strlcpy(buf, tok, size);
    return buf;
}

/* Who is calling: fills r->who (and r->session for a cookie). false after answering 401. */
static bool identify(gb_req_t *r, enum MHD_Result *ret)
{
    gb_auth_t *auth = r->api->src.auth;
    char tb[512];
    bool bad;
    const char *tok = request_token(r, tb, sizeof tb, &bad);
    bool expired = false;
    if (bad || (tok && (!auth || gb_auth_token_check(auth, tok, &r->who) != 0))) {
        sodium_memzero(tb, sizeof tb);
        *ret = gb_problem_x(
            r, MHD_HTTP_UNAUTHORIZED, "invalid_token", NULL, "%s",
            bad ? "the Authorization header takes an API token: Bearer <token>"
                : "authorization failed: the token is not valid (mistyped or revoked)");
        return false;
    }
    sodium_memzero(tb, sizeof tb);
    if (!tok) {
        const char *id = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, GB_API_SESSION_COOKIE);
        if (id && auth) {
            if (gb_sessions_get(r->api->sessions, id, gb_now(), &r->session) != 0) {
                expired = true;
            } else if (gb_auth_session_user(auth, r->session.user, r->session.cred, &r->who) != 0) {
                gb_sessions_end(r->api->sessions, id); /* user gone or password changed */
                memset(&r->who, 0, sizeof r->who);
                expired = true;
            } else {
                gb_strlcpy(r->session_id, id, sizeof r->session_id);
            }
        }
    }
    if (r->who.via != GB_VIA_NONE) return true;
    json_t *ext =
        json_pack("{s:b}", "setup_required", auth && gb_auth_setup_pending(auth, gb_now()));
    *ret = gb_problem_x(r, MHD_HTTP_UNAUTHORIZED, expired ? "session_expired" : "unauthenticated",
                        ext, "%s",
                        expired ? "the session has ended; sign in again"
                        : (r->route->flags & GB_ROUTE_TOKEN_FORMS)
                            ? "writes need an API token: Authorization: Token <token>"
                            : "sign in (POST /api/v1/session) or send an API token: "
                              "Authorization: Bearer <token>");
    return false;
}

/* Routes the request and lets the caller in, or answers. */
static bool admit(gb_req_t *r, enum MHD_Result *ret)
{
    char allow[64];
    switch (gb_route_find(routes, NROUTES, r->method, r->url, &r->route, r->params, &r->nparams,
                          allow, sizeof allow)) {
    case GB_ROUTE_NO_PATH:
        *ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no resource at %.200s", r->url);
        return false;
    case GB_ROUTE_NO_METHOD:
        gb_req_header(r, "Allow", "%s", allow);
        *ret = gb_problem(r, MHD_HTTP_METHOD_NOT_ALLOWED, "%.200s takes %s, not %.20s", r->url,
                          allow, r->method);
        return false;
    case GB_ROUTE_FOUND:
        break;
    }
    if (r->route->role == GB_ROLE_NONE) return true; /* credentials are not even looked at */
    if (!identify(r, ret)) return false;
    if (r->who.role < r->route->role) {
        json_t *ext = json_pack("{s:s, s:s}", "role", gb_role_name(r->who.role), "required_role",
                                gb_role_name(r->route->role));
        *ret = gb_problem_x(r, MHD_HTTP_FORBIDDEN, "role", ext,
                            "%s %.20s %.200s needs the role %s or higher; %s is %s",
                            r->who.via == GB_VIA_TOKEN ? "with this token," : "", r->method, r->url,
                            gb_role_name(r->route->role), r->who.name, gb_role_name(r->who.role));
        return false;
    }
    bool safe = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (r->who.via == GB_VIA_SESSION && !safe &&
        !gb_session_csrf_ok(
            &r->session, MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, GB_API_CSRF_HEADER))) {
        *ret = gb_problem_x(r, MHD_HTTP_FORBIDDEN, "csrf", NULL,
                            "a change made with a session cookie must carry the session's "
                            "%s header (its csrf_token from GET /api/v1/session)",
                            GB_API_CSRF_HEADER);
        return false;
    }
    return true;
}

static void client_address(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr) return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    if (getnameinfo(ci->client_addr, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        out[0] = 0;
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    gb_req_t *r = *req_cls;
    if (r) {
        if (r->work_ctx && r->work_free) r->work_free(r->work_ctx);
        /* a small body may hold a password; the big ones are measurement data (megabytes of
         * line protocol a second, whose wiping cost a pass over every byte written) */
        if (r->body && !(r->route && (r->route->flags & GB_ROUTE_BIG_BODY)))
            sodium_memzero(r->body, r->len);
        free(r->body);
        for (size_t i = 0; i < r->nhdr; i++)
            free(r->hdr[i].value);
        sodium_memzero(r, sizeof *r);
        free(r);
    }
    *req_cls = NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    gb_req_t *r = *req_cls;
    enum MHD_Result ret;
    if (!r) { /* first call: the headers are in */
        r = *req_cls = gb_xcalloc(1, sizeof *r);
        r->c = c;
        r->api = cls;
        r->method = method;
        r->url = url;
        client_address(c, r->addr, sizeof r->addr);
        /* stopping: what is under way finishes, a new request (a collector's next batch on its
         * keep-alive connection) is refused, so that the stop is quick; the writer sends it
         * again once the server is back */
        if (atomic_load(&r->api->stopping))
            return gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "the server is stopping; send this again once it is back");
        /* A request with a body is judged now, so a refused one is never read; libmicrohttpd
         * then closes the connection. One without waits for the next call, and an answer then
         * keeps the connection open: a page's first GET /api/v1/session is often a 401. */
        r->has_body = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length") ||
                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        if (r->has_body && !admit(r, &ret)) return ret;
        return MHD_YES;
    }
    if (!r->has_body && !r->route && !admit(r, &ret)) return ret;
    if (*upload_size) {
        size_t max = (r->route->flags & GB_ROUTE_BIG_BODY) ? GB_API_WRITE_MAX : GB_API_BODY_MAX;
        if (r->too_big || r->len + *upload_size > max) {
            r->too_big = true;
        } else {
            if (r->len + *upload_size + 1 > r->cap) {
                /* room for the whole body when its length is given, else twice as much: a body
                 * of many pieces is copied a few times, not once a piece */
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
                size_t want = cl ? (size_t)strtoull(cl, NULL, 10) + 1 : 0;
                size_t cap = r->cap ? r->cap * 2 : 16384;
                if (want > cap && want <= max + 1) cap = want;
                if (cap < r->len + *upload_size + 1) cap = r->len + *upload_size + 1;
                r->body = gb_xrealloc(r->body, cap);
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return r->route->fn(r);
}

/* libmicrohttpd's messages are about clients (one that closed mid-request, a TLS handshake gone
 * wrong): anyone can cause them, thousands a second, so each is said at most once a minute. */
static gb_quiet_t mhd_said = GB_QUIET_INIT;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    uint64_t unsaid;
    if (!gb_quiet_say(&mhd_said, buf, &unsaid)) return;
    if (unsaid)
        gb_warn("http", "%s (and %llu more like it in the minute before)", buf,
                (unsigned long long)unsaid);
    else
        gb_warn("http", "%s", buf);
}

/* Reads a whole PEM file holding a block whose label ends in LABEL into a string; NULL with a
 * message in ERR. Checking the label here catches swapped files before anything starts. */
static char *read_pem(const char *path, const char *what, const char *label, bool secret, char *err,
                      size_t errsz)
{
    FILE *f = fopen(path, "re");
    struct stat st;
    char *buf = NULL;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, errsz, "cannot read the TLS %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (st.st_size <= 0 || st.st_size > (1 << 20)) {
        snprintf(err, errsz, "the TLS %s %s is %s", what, path,
                 st.st_size ? "over 1 MiB" : "empty");
        goto out;
    }
    buf = gb_xmalloc((size_t)st.st_size + 1);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    buf[n] = 0;
    char *begin = strstr(buf, "-----BEGIN "), *dash = begin ? strstr(begin + 11, "-----") : NULL;
    size_t ll = strlen(label);
    if (n != (size_t)st.st_size || !dash || (size_t)(dash - begin - 11) < ll ||
        strncmp(dash - ll, label, ll)) {
        snprintf(err, errsz, "the TLS %s %s is not a PEM file with a %s", what, path, label);
        free(buf);
        buf = NULL;
        goto out;
    }
    if (secret && (st.st_mode & 077))
        gb_warn("serve",
                "the TLS key %s can be read by other users of this machine (mode %03o); "
                "chmod 600 it",
                path, (unsigned)(st.st_mode & 0777));
out:
    if (f) fclose(f);
    return buf;
}

int gb_api_tls_load(const char *cert_file, const char *key_file, gb_api_tls_t *tls, char *err,
                    size_t errsz)
{
    memset(tls, 0, sizeof *tls);
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, errsz, "this libmicrohttpd was built without TLS; HTTPS is not available");
        return GB_EINVAL;
    }
    if (!(tls->cert_pem = read_pem(cert_file, "certificate", "CERTIFICATE", false, err, errsz)) ||
        !(tls->key_pem = read_pem(key_file, "key", "PRIVATE KEY", true, err, errsz))) {
        gb_api_tls_clear(tls);
        return GB_EINVAL;
    }
    return 0;
}

void gb_api_tls_clear(gb_api_tls_t *tls)
{
    if (tls->key_pem) sodium_memzero(tls->key_pem, strlen(tls->key_pem));
    free(tls->key_pem);
    free(tls->cert_pem);
    memset(tls, 0, sizeof *tls);
}

gb_api_t *gb_api_start(int fd, const gb_api_source_t *src, const gb_api_tls_t *tls)
{
    gb_api_t *api = gb_xcalloc(1, sizeof *api);
    api->src = *src;
    api->tls = tls && tls->cert_pem;
    if (api->tls) { /* libmicrohttpd keeps the pointers: our own copies live as long as it does */
        api->tls_pem.cert_pem = gb_xstrdup(tls->cert_pem);
        api->tls_pem.key_pem = gb_xstrdup(tls->key_pem);
    }
    api->sessions =
        gb_sessions_new(GB_API_SESSIONS_MAX, GB_API_SESSION_IDLE, GB_API_SESSION_MAX_AGE);
    /* 5 free tries per user, then 1 s, 2 s, 4 s ... at most 15 min; an address (a whole office
     * behind one NAT) gets 20 */
    api->by_user = gb_ratelimit_new(4096, 5, GB_NS_PER_S, 900 * GB_NS_PER_S, 3600 * GB_NS_PER_S);
    api->by_addr = gb_ratelimit_new(4096, 20, GB_NS_PER_S, 900 * GB_NS_PER_S, 3600 * GB_NS_PER_S);
    /* live-stream clients wait suspended (stream_routes.c): resumable from the hub's thread;
     * connections are taken by our own thread (accept.c), which spreads them over the pool */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
    if (api->tls) flags |= MHD_USE_TLS;
    /* TLS 1.2 and 1.3 only: the older versions have known breaks */
    static const char priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
    api->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)THREADS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        /* above ours (accept.c), which its count of connections may lag behind in a burst */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(GB_API_CONNECTIONS_MAX + 64),
        /* without TLS the list ends here, and the TLS options after it are never read */
        api->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, api->tls_pem.cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, api->tls_pem.key_pem, MHD_OPTION_HTTPS_PRIORITIES, priorities,
        MHD_OPTION_END);
    if (!api->mhd) {
        gb_error("http", "cannot start the HTTP server%s",
                 api->tls ? "; check that --tls-cert and --tls-key are a matching PEM pair" : "");
        close(fd);
        gb_api_stop(api);
        return NULL;
    }
    api->work = gb_api_work_start();
    if (!(api->accept = gb_api_accept_start(fd, api->mhd))) {
        close(fd);
        gb_api_stop(api);
        return NULL;
    }
    return api;
}

void gb_api_stop(gb_api_t *api)
{
    if (!api) return;
    atomic_store(&api->stopping, true); /* no new requests */
    gb_api_accept_stop(api->accept);    /* no new connections */
    gb_api_work_stop(api->work);        /* its waiting connections are resumed first */
    if (api->mhd) MHD_stop_daemon(api->mhd);
    gb_api_work_free(api->work);
    gb_sessions_free(api->sessions);
    gb_ratelimit_free(api->by_user);
    gb_ratelimit_free(api->by_addr);
    gb_api_tls_clear(&api->tls_pem);
    free(api);
}
