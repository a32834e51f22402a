/*
 * What the API's route files share: the server's state, one request as a handler sees it, and the
 * helpers every handler answers through, so that headers, problem details, paging and the audit
 * trail look the same on every route. Internal to src/api.
 *
 * A handler runs after the router found its route and the gate in http.c let the caller in: the
 * caller's role is at least the route's, and a change made through a session cookie carried its
 * CSRF token. Handlers check what only they can (a user changing their own password, say).
 */
#ifndef GB_API_SERVER_H
#define GB_API_SERVER_H

#include "api/ratelimit.h"
#include "api/router.h"
#include "api/session.h"
#include "gemba/api.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>

#define GB_API_BODY_MAX 65536         /* a JSON body */
#define GB_API_WRITE_MAX (32u << 20)  /* a line-protocol body */
#define GB_API_QUERY_MAX (256u << 20) /* the largest answer built */
#define GB_API_PAGE_DEFAULT 100
#define GB_API_PAGE_MAX 1000
#define GB_API_SESSION_COOKIE "gemba_session"
#define GB_API_SESSIONS_MAX 1024
#define GB_API_SESSION_IDLE (12 * 3600 * GB_NS_PER_S)    /* a shift and then some */
#define GB_API_SESSION_MAX_AGE (7 * 86400 * GB_NS_PER_S) /* then sign in again */
#define GB_API_CSRF_HEADER "X-CSRF-Token"
/* Connections served at once; more wait in the kernel's queue until some close. */
#define GB_API_CONNECTIONS_MAX 512

typedef struct gb_api_work gb_api_work_t;
typedef struct gb_api_accept gb_api_accept_t;

struct gb_api {
    struct MHD_Daemon *mhd;
    gb_api_accept_t *accept; /* the thread that takes connections (accept.c) */
    atomic_bool stopping;    /* new requests are refused (503) while those under way finish */
    gb_api_work_t *work;     /* the worker threads of gb_api_offload (work.c) */
    gb_api_source_t src;
    bool tls;             /* cookies get Secure */
    gb_api_tls_t tls_pem; /* our copy, which libmicrohttpd reads */
    gb_sessions_t *sessions;
    gb_ratelimit_t *by_user; /* login failures per user name */
    gb_ratelimit_t *by_addr; /* login and setup failures per client address */
};

#define GB_REQ_HEADERS_MAX 4

/* One request, from its first call to its answer. */
typedef struct gb_req {
    struct MHD_Connection *c;
    gb_api_t *api;
    const gb_route_t *route; /* NULL until routed */
    const char *method, *url;
    gb_route_param_t params[GB_ROUTE_PARAMS_MAX];
    size_t nparams;
    bool has_body; /* Content-Length or Transfer-Encoding was sent */
    char *body;    /* owned; NUL-terminated when not NULL */
    size_t len, cap;
    bool too_big;
    gb_principal_t who;        /* .role GB_ROLE_NONE and .via GB_VIA_NONE when anonymous */
    gb_session_info_t session; /* when who.via is GB_VIA_SESSION */
    char session_id[GB_SESSION_ID_LEN + 1];
    char addr[INET6_ADDRSTRLEN]; /* the client's address */
    struct {
        const char *name;
        char *value;           /* owned */
    } hdr[GB_REQ_HEADERS_MAX]; /* added to whatever answer this request gets */
    size_t nhdr;
    /* a heavy part handed to the worker threads (gb_api_offload) */
    void (*work)(struct gb_req *r);
    void *work_ctx;                    /* the handler's: what the work needs and what it found */
    void (*work_free)(void *work_ctx); /* frees a WORK_CTX the handler did not */
    bool work_done;
    bool work_skipped; /* not run: the server is stopping (the handler answers 503) */
    struct gb_req *work_next;
} gb_req_t;

/* Takes the connections on listen socket FD (which becomes its own) and hands them to MHD;
 * NULL, logged, when it cannot start (FD is then the caller's still). */
gb_api_accept_t *gb_api_accept_start(int fd, struct MHD_Daemon *mhd);
/* Stops taking connections and closes the listen socket. */
void gb_api_accept_stop(gb_api_accept_t *a);

/* The worker threads of gb_api_offload: one per core (at least 2). */
gb_api_work_t *gb_api_work_start(void);
/* Stops the threads once the jobs under way are done; the jobs not started are handed back with
 * work_skipped set (later ones run on the connection's thread). Before libmicrohttpd stops, so
 * no connection is left waiting. Free it after. */
void gb_api_work_stop(gb_api_work_t *w);
void gb_api_work_free(gb_api_work_t *w);

/*
 * Runs WORK(R) on a worker thread while R's connection waits suspended; the handler is then
 * called again with R->work_done set, and answers. True when handed over (the handler returns
 * MHD_YES); false when WORK already ran here (no workers): the handler answers at once.
 */
bool gb_api_offload(gb_req_t *r, void (*work)(gb_req_t *r));

/* Adds a header (NAME static) to the answer this request will get. */
void gb_req_header(gb_req_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parameter NAME of the route into BUF; false when it is missing or longer than SIZE - 1. */
bool gb_req_param(const gb_req_t *r, const char *name, char *buf, size_t size);

/* A query-string argument, or NULL. */
const char *gb_req_arg(const gb_req_t *r, const char *name);

/* Answers with BODY (LEN bytes; MODE says who owns it) of content TYPE (NULL: none). */
enum MHD_Result gb_reply(gb_req_t *r, unsigned status, const char *type, const char *body,
                         size_t len, enum MHD_ResponseMemoryMode mode);

/* Answers with RESP (NULL: MHD_NO), with the headers every answer has; RESP is released. */
enum MHD_Result gb_reply_response(gb_req_t *r, unsigned status, const char *type,
                                  struct MHD_Response *resp);

/* Answers with DOC (taken) as application/json. */
enum MHD_Result gb_reply_json(gb_req_t *r, unsigned status, json_t *doc);

/*
 * Answers with RFC 9457 problem details: title from STATUS, the formatted detail, and, when CODE
 * is not NULL, a "code" member that says which of the documented problems it is (docs/api.md:
 * "unauthenticated", "csrf", "rate_limited", ...) plus the members of EXT (taken; may be NULL).
 * On a route flagged GB_ROUTE_INFLUX the body is InfluxDB 1.x's {"error": detail} instead, on one
 * flagged GB_ROUTE_INFLUX2 InfluxDB 2.x's {"code": ..., "message": detail}. A 401
 * says how to authenticate (WWW-Authenticate).
 */
enum MHD_Result gb_problem_x(gb_req_t *r, unsigned status, const char *code, json_t *ext,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define gb_problem(r, status, ...) gb_problem_x(r, status, NULL, NULL, __VA_ARGS__)

/*
 * The request's body as a JSON object in *OUT (caller decrefs). false when it is not one, after
 * answering 400 (or 413 when it was too large).
 */
bool gb_req_object(gb_req_t *r, json_t **out, enum MHD_Result *ret);

/*
 * Paging: every list takes `limit` (1 to GB_API_PAGE_MAX, default GB_API_PAGE_DEFAULT) and
 * `cursor` (opaque, from the previous page's `next`). false after answering 400 for a bad limit.
 */
bool gb_req_page(gb_req_t *r, size_t *limit, const char **cursor, enum MHD_Result *ret);

/* The `next` link of a page: this route's path with limit and CURSOR (escaped); json null when
 * CURSOR is NULL (the last page). */
json_t *gb_req_next(const gb_req_t *r, size_t limit, const char *cursor);

/* Records a change in the audit log as made by this request's caller. A failure is logged: the
 * change is made already. */
void gb_req_audit(gb_req_t *r, const char *action, const char *target, const char *before,
                  const char *after);

/* Time as RFC 3339 (json string), or json null for 0. */
json_t *gb_json_time(gb_time_t t);

/* The routes of each file, called by http.c's table. */
enum MHD_Result gb_api_write(gb_req_t *r);        /* POST /api/v1/write, /write and /api/v2/write */
enum MHD_Result gb_api_influx_query(gb_req_t *r); /* /query: InfluxDB 1.x's CREATE DATABASE */
enum MHD_Result gb_api_latest(gb_req_t *r);       /* GET /api/v1/latest */
enum MHD_Result gb_api_query(gb_req_t *r);        /* GET /api/v1/query */

enum MHD_Result gb_api_tags(gb_req_t *r);        /* GET /api/v1/tags */
enum MHD_Result gb_api_tag_write(gb_req_t *r);   /* POST /api/v1/tags/{machine}/{tag}/value */
enum MHD_Result gb_api_machines(gb_req_t *r);    /* GET /api/v1/machines */
enum MHD_Result gb_api_timeline(gb_req_t *r);    /* GET /api/v1/machines/{machine}/timeline */
enum MHD_Result gb_api_stops(gb_req_t *r);       /* GET /api/v1/machines/{machine}/stops */
enum MHD_Result gb_api_oee(gb_req_t *r);         /* GET /api/v1/oee */
enum MHD_Result gb_api_jobs(gb_req_t *r);        /* GET /api/v1/jobs */
enum MHD_Result gb_api_stream(gb_req_t *r);      /* GET /api/v1/stream (stream_routes.c) */
enum MHD_Result gb_api_stop_reason(gb_req_t *r); /* POST .../stops/{stop}/reason */
enum MHD_Result gb_api_stop_split(gb_req_t *r);  /* POST .../stops/{stop}/split */
enum MHD_Result gb_api_scrap(gb_req_t *r);       /* POST /api/v1/machines/{machine}/scrap */

enum MHD_Result gb_api_session_get(gb_req_t *r);    /* GET /api/v1/session: who am I */
enum MHD_Result gb_api_session_login(gb_req_t *r);  /* POST /api/v1/session */
enum MHD_Result gb_api_session_logout(gb_req_t *r); /* DELETE /api/v1/session */
enum MHD_Result gb_api_setup_get(gb_req_t *r);      /* GET /api/v1/setup */
enum MHD_Result gb_api_setup_post(gb_req_t *r);     /* POST /api/v1/setup */
enum MHD_Result gb_api_users_list(gb_req_t *r);     /* GET /api/v1/users */
enum MHD_Result gb_api_users_add(gb_req_t *r);      /* POST /api/v1/users */
enum MHD_Result gb_api_user_patch(gb_req_t *r);     /* PATCH /api/v1/users/{user} */
enum MHD_Result gb_api_user_delete(gb_req_t *r);    /* DELETE /api/v1/users/{user} */
enum MHD_Result gb_api_tokens_list(gb_req_t *r);    /* GET /api/v1/tokens */
enum MHD_Result gb_api_tokens_add(gb_req_t *r);     /* POST /api/v1/tokens */
enum MHD_Result gb_api_token_delete(gb_req_t *r);   /* DELETE /api/v1/tokens/{id} */
enum MHD_Result gb_api_audit_list(gb_req_t *r);     /* GET /api/v1/audit */

#endif
