/* api: the route matcher -- literals, {param} and {rest*} segments, 404 against 405 with Allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/router.h"

#include <string.h>

static bool match(const char *pattern, const char *path, gb_route_param_t *p, size_t *n)
{
    return gb_route_match(pattern, path, p, GB_ROUTE_PARAMS_MAX, n);
}

static void test_match(void **state)
{
    (void)state;
    gb_route_param_t p[GB_ROUTE_PARAMS_MAX];
    size_t n = 99;
    char buf[64];
    assert_true(match("/", "/", p, &n));
    assert_int_equal(n, 0);
    assert_false(match("/", "", p, &n));
    assert_true(match("/api/v1/tags", "/api/v1/tags", p, &n));
    assert_false(match("/api/v1/tags", "/api/v1/tags/", p, &n)); /* no trailing slash */
    assert_false(match("/api/v1/tags", "/api/v1/tag", p, &n));
    assert_false(match("/api/v1/tags", "/API/v1/tags", p, &n)); /* no case folding */
    assert_false(match("/api/v1/tags", "/api/v1/tagsx", p, &n));

    assert_true(match("/api/v1/machines/{machine}/stops/{stop}/reason",
                      "/api/v1/machines/cnc07/stops/2026-11-22T10:00:00.5Z/reason", p, &n));
    assert_int_equal(n, 2);
    assert_true(gb_route_param(p, n, "machine", buf, sizeof buf));
    assert_string_equal(buf, "cnc07");
    assert_true(gb_route_param(p, n, "stop", buf, sizeof buf));
    assert_string_equal(buf, "2026-11-22T10:00:00.5Z");
    assert_false(gb_route_param(p, n, "mach", buf, sizeof buf));
    assert_false(gb_route_param(p, n, "machine", buf, 5)); /* does not fit */
    /* a parameter is one non-empty segment */
    assert_false(match("/api/v1/machines/{machine}/stops", "/api/v1/machines//stops", p, &n));
    assert_false(match("/api/v1/machines/{machine}/stops", "/api/v1/machines/a/b/stops", p, &n));
    assert_false(match("/api/v1/machines/{machine}", "/api/v1/machines/", p, &n));
    assert_true(match("/api/v1/machines/{machine}", "/api/v1/machines/..", p, &n)); /* just a name */
    /* {name*} takes the rest, slashes and all, but not nothing */
    assert_true(match("/assets/{file*}", "/assets/js/app.min.js", p, &n));
    assert_int_equal(n, 1);
    assert_true(gb_route_param(p, n, "file", buf, sizeof buf));
    assert_string_equal(buf, "js/app.min.js");
    assert_false(match("/assets/{file*}", "/assets/", p, &n));
    /* more parameters than room: no match */
    assert_false(gb_route_match("/{a}/{b}", "/x/y", p, 1, &n));
    /* a broken pattern never matches */
    assert_false(match("/api/{oops", "/api/x", p, &n));
    assert_false(match("/api/{}", "/api/x", p, &n));
}

static enum MHD_Result nothing(struct gb_req *r)
{
    (void)r;
    return MHD_YES;
}

static void test_find(void **state)
{
    (void)state;
    static const gb_route_t table[] = {
        {"GET", "/api/v1/session", GB_ROLE_VIEWER, 0, nothing},
        {"POST", "/api/v1/session", GB_ROLE_NONE, 0, nothing},
        {"DELETE", "/api/v1/session", GB_ROLE_VIEWER, 0, nothing},
        {"PATCH", "/api/v1/users/{user}", GB_ROLE_VIEWER, 0, nothing},
        {"DELETE", "/api/v1/users/{user}", GB_ROLE_ADMIN, 0, nothing},
        {"POST", "/write", GB_ROLE_ENGINEER, GB_ROUTE_INFLUX, nothing},
    };
    size_t n = sizeof table / sizeof table[0], np;
    const gb_route_t *r = NULL;
    gb_route_param_t p[GB_ROUTE_PARAMS_MAX];
    char allow[64];
    assert_int_equal(gb_route_find(table, n, "GET", "/api/v1/session", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_FOUND);
    assert_ptr_equal(r, &table[0]);
    /* HEAD is answered by GET */
    assert_int_equal(gb_route_find(table, n, "HEAD", "/api/v1/session", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_FOUND);
    assert_ptr_equal(r, &table[0]);
    assert_int_equal(gb_route_find(table, n, "DELETE", "/api/v1/users/bob", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_FOUND);
    assert_ptr_equal(r, &table[4]);
    assert_int_equal(np, 1);
    assert_int_equal(p[0].value_len, 3);
    assert_memory_equal(p[0].value, "bob", 3);
    /* a known path, a wrong method: 405 with every method the path takes */
    assert_int_equal(gb_route_find(table, n, "PUT", "/api/v1/session", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_NO_METHOD);
    assert_string_equal(allow, "GET, HEAD, POST, DELETE");
    assert_int_equal(gb_route_find(table, n, "GET", "/api/v1/users/bob", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_NO_METHOD);
    assert_string_equal(allow, "PATCH, DELETE");
    assert_int_equal(gb_route_find(table, n, "GET", "/write", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_NO_METHOD);
    assert_string_equal(allow, "POST");
    /* an unknown path: 404 */
    assert_int_equal(gb_route_find(table, n, "GET", "/api/v1/users", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_NO_PATH);
    assert_int_equal(gb_route_find(table, n, "GET", "/api/v1/users/bob/x", &r, p, &np, allow, sizeof allow),
                     GB_ROUTE_NO_PATH);
    assert_int_equal(gb_route_find(table, n, "GET", "", &r, p, &np, allow, sizeof allow), GB_ROUTE_NO_PATH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_match), cmocka_unit_test(test_find)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
