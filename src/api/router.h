/*
 * The route table's matcher. A route is a method, a path pattern and the least role that may call
 * it; the server keeps one table (http.c) so that who may call what is written in one place.
 *
 * Patterns are paths whose segments are literals or parameters: "/api/v1/machines/{machine}/stops"
 * takes any one non-empty segment as `machine`; a last parameter written {name*} takes the rest of
 * the path, slashes and all ("/assets/{file*}"). Matching is exact otherwise: no trailing slash,
 * no case folding. Parameters point into the matched path; nothing is allocated.
 */
#ifndef GB_API_ROUTER_H
#define GB_API_ROUTER_H

#include "gemba/auth.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#define GB_ROUTE_PARAMS_MAX 4

typedef struct gb_route_param {
    const char *name; /* into the pattern, NAME_LEN bytes */
    size_t name_len;
    const char *value; /* into the path, VALUE_LEN bytes */
    size_t value_len;
} gb_route_param_t;

struct gb_req;
typedef enum MHD_Result (*gb_route_fn)(struct gb_req *r);

/* route flags */
enum {
    GB_ROUTE_BIG_BODY = 1 << 0,    /* takes a body up to GB_API_WRITE_MAX, not 64 KiB */
    GB_ROUTE_TOKEN_FORMS = 1 << 1, /* also takes a token as InfluxDB clients send it: Basic
                                      (the token as password) or the `p` query parameter */
    GB_ROUTE_INFLUX = 1 << 2,      /* errors the InfluxDB 1.x way, {"error": "..."} */
    GB_ROUTE_INFLUX2 = 1 << 3,     /* errors the InfluxDB 2.x way, {"code": ..., "message": ...} */
};

typedef struct gb_route {
    const char *method;  /* "GET" (which also answers HEAD), "POST", "PATCH", "DELETE" */
    const char *pattern; /* see above */
    gb_role_t role;      /* the least role that may call it; GB_ROLE_NONE: anyone */
    unsigned flags;
    gb_route_fn fn;
} gb_route_t;

/*
 * Whether PATH matches PATTERN. On a match, up to MAX parameters go to PARAMS and their count to
 * *N; a pattern with more parameters than MAX never matches.
 */
bool gb_route_match(const char *pattern, const char *path, gb_route_param_t *params, size_t max,
                    size_t *n);

typedef enum gb_route_result {
    GB_ROUTE_FOUND,     /* *ROUTE answers METHOD on PATH */
    GB_ROUTE_NO_PATH,   /* no route has this path: 404 */
    GB_ROUTE_NO_METHOD, /* the path exists for other methods, listed in ALLOW: 405 */
} gb_route_result_t;

/*
 * Looks METHOD and PATH up in TABLE (N routes; the first match wins). On GB_ROUTE_FOUND, *ROUTE,
 * PARAMS (GB_ROUTE_PARAMS_MAX) and *NPARAMS are set; on GB_ROUTE_NO_METHOD, ALLOW gets the
 * methods the path takes ("GET, HEAD, POST"), for the Allow header.
 */
gb_route_result_t gb_route_find(const gb_route_t *table, size_t n, const char *method,
                                const char *path, const gb_route_t **route,
                                gb_route_param_t *params, size_t *nparams, char *allow,
                                size_t allowsz);

/* Copies parameter NAME into BUF (SIZE bytes, NUL-terminated). false when it is missing or does
 * not fit. */
bool gb_route_param(const gb_route_param_t *params, size_t n, const char *name, char *buf,
                    size_t size);

#endif
