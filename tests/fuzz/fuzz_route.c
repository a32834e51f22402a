/*
 * libFuzzer target: the router's matcher (src/api/router.c) on request paths, the one parser of
 * request input the API writes by hand (cookies are libmicrohttpd's, JSON bodies jansson's).
 * The input is matched against a table shaped like the server's, and, split at its first
 * newline, as a pattern against a path. Every parameter must lie inside the path, and a match
 * must give back the path when its pieces are put together again.
 */
#include "api/router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum MHD_Result nothing(struct gb_req *r)
{
    (void)r;
    return MHD_YES;
}

static const gb_route_t table[] = {
    {"GET", "/", GB_ROLE_NONE, 0, nothing},
    {"GET", "/api/v1/machines/{machine}/timeline", GB_ROLE_VIEWER, 0, nothing},
    {"POST", "/api/v1/machines/{machine}/stops/{stop}/reason", GB_ROLE_OPERATOR, 0, nothing},
    {"POST", "/api/v1/tags/{machine}/{tag}/value", GB_ROLE_ENGINEER, 0, nothing},
    {"PATCH", "/api/v1/users/{user}", GB_ROLE_VIEWER, 0, nothing},
    {"DELETE", "/api/v1/users/{user}", GB_ROLE_ADMIN, 0, nothing},
    {"GET", "/assets/{file*}", GB_ROLE_NONE, 0, nothing},
    {"POST", "/write", GB_ROLE_ENGINEER, 0, nothing},
};

static void check(const char *path, const gb_route_param_t *p, size_t n)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < n; i++) {
        if (p[i].value < path || p[i].value + p[i].value_len > path + len || !p[i].value_len)
            __builtin_trap();
        if (i && p[i].value < p[i - 1].value + p[i - 1].value_len) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    gb_route_param_t p[GB_ROUTE_PARAMS_MAX];
    size_t n;
    const gb_route_t *r;
    char allow[64], buf[32];
    static const char *const methods[] = {"GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"};
    gb_route_result_t res = gb_route_find(table, sizeof table / sizeof table[0],
                                          methods[size % 6], s, &r, p, &n, allow, sizeof allow);
    if (res == GB_ROUTE_FOUND) {
        check(s, p, n);
        gb_route_param(p, n, "machine", buf, sizeof buf);
        gb_route_param(p, n, "file", buf, sizeof buf);
    } else if (res == GB_ROUTE_NO_METHOD && !allow[0]) {
        __builtin_trap();
    }
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        if (gb_route_match(s, nl + 1, p, GB_ROUTE_PARAMS_MAX, &n)) {
            check(nl + 1, p, n);
            /* the literals of the pattern and the parameters rebuild the path */
            size_t plen = strlen(nl + 1), got = 0;
            for (const char *q = s; *q;) {
                if (*q == '{') {
                    q = strchr(q, '}') + 1;
                    continue;
                }
                q++;
                got++;
            }
            for (size_t i = 0; i < n; i++) got += p[i].value_len;
            if (got != plen) __builtin_trap();
        }
    }
    free(s);
    return 0;
}
