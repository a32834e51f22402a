/*
 * Route matching (see router.h). The path is request input and is trusted for nothing: it is
 * only compared and pointed into, never written, and a parameter never reaches past the NUL.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

bool gb_route_match(const char *pattern, const char *path, gb_route_param_t *params, size_t max,
                    size_t *n)
{
    const char *p = pattern, *s = path;
    size_t k = 0;
    while (*p && *s) {
        if (*p != '{') {
            if (*p++ != *s++) return false;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close || close == p + 1 || k == max) return false;
        bool rest = close[-1] == '*';
        const char *end = rest ? s + strlen(s) : s + strcspn(s, "/");
        if (end == s) return false; /* parameters are never empty */
        params[k++] = (gb_route_param_t){p + 1, (size_t)(close - p - 1 - rest), s, (size_t)(end - s)};
        p = close + 1;
        s = end;
    }
    if (*p || *s) return false;
    *n = k;
    return true;
}

/* Appends METHOD to the comma-separated list in ALLOW unless it is there. */
static void allow_add(char *allow, size_t size, const char *method)
{
    size_t ml = strlen(method);
    for (const char *a = allow; *a;) {
        size_t l = strcspn(a, ",");
        if (l == ml && !strncmp(a, method, ml)) return;
        a += l;
        a += strspn(a, ", ");
    }
    size_t len = strlen(allow);
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

gb_route_result_t gb_route_find(const gb_route_t *table, size_t n, const char *method,
                                const char *path, const gb_route_t **route,
                                gb_route_param_t *params, size_t *nparams, char *allow,
                                size_t allowsz)
{
    bool head = !strcmp(method, "HEAD"), seen = false;
    if (allowsz) allow[0] = 0;
    for (size_t i = 0; i < n; i++) {
        gb_route_param_t tmp[GB_ROUTE_PARAMS_MAX];
        size_t k;
        if (!gb_route_match(table[i].pattern, path, tmp, GB_ROUTE_PARAMS_MAX, &k)) continue;
        seen = true;
        bool get = !strcmp(table[i].method, "GET");
        if (!strcmp(table[i].method, method) || (head && get)) {
            *route = &table[i];
            memcpy(params, tmp, k * sizeof *tmp);
            *nparams = k;
            return GB_ROUTE_FOUND;
        }
        if (allowsz) {
            allow_add(allow, allowsz, table[i].method);
            if (get) allow_add(allow, allowsz, "HEAD");
        }
    }
    return seen ? GB_ROUTE_NO_METHOD : GB_ROUTE_NO_PATH;
}

bool gb_route_param(const gb_route_param_t *params, size_t n, const char *name, char *buf,
                    size_t size)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (params[i].name_len == nl && !strncmp(params[i].name, name, nl)) {
            if (params[i].value_len >= size) return false;
            memcpy(buf, params[i].value, params[i].value_len);
            buf[params[i].value_len] = 0;
            return true;
        }
    return false;
}
