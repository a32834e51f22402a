/* api: password hashing, the users and tokens files, the setup code, sessions, login back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/ratelimit.h"
#include "api/session.h"
#include "gemba/audit.h"
#include "gemba/auth.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S GB_NS_PER_S

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/gb-auth-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return gb_xstrdup(d);
}

static void rmtree(const char *dir)
{
    char *cmd = gb_xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = gb_xcalloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_password_hash(void **state)
{
    (void)state;
    char h1[GB_AUTH_HASH_MAX], h2[GB_AUTH_HASH_MAX];
    assert_int_equal(gb_password_hash("correct horse", h1), 0);
    assert_int_equal(gb_password_hash("correct horse", h2), 0);
    /* argon2id at libsodium's interactive cost, salted: the same password hashes differently */
    assert_int_equal(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31), 0);
    assert_string_not_equal(h1, h2);
    assert_null(strstr(h1, "correct"));
    assert_true(gb_password_verify(h1, "correct horse"));
    assert_true(gb_password_verify(h2, "correct horse"));
    assert_false(gb_password_verify(h1, "correct horsE"));
    assert_false(gb_password_verify(h1, ""));
    assert_false(gb_password_verify("not a hash", "correct horse"));
    assert_false(gb_password_verify(NULL, "correct horse"));
    char *huge = gb_xcalloc(1, 300); /* longer than any hash: refused, not read to its end */
    memcpy(huge, h1, strlen(h1));
    memset(huge + strlen(h1), 'x', 299 - strlen(h1));
    assert_false(gb_password_verify(huge, "correct horse"));
    free(huge);
    /* too short, too long */
    assert_int_equal(gb_password_hash("1234567", h1), GB_EINVAL);
    char *big = gb_xcalloc(1, GB_AUTH_PASSWORD_MAX + 2);
    memset(big, 'x', GB_AUTH_PASSWORD_MAX + 1);
    assert_int_equal(gb_password_hash(big, h1), GB_EINVAL);
    big[GB_AUTH_PASSWORD_MAX] = 0;
    assert_int_equal(gb_password_hash(big, h1), 0);
    assert_true(gb_password_verify(h1, big));
    free(big);
}

static void test_roles(void **state)
{
    (void)state;
    gb_role_t r;
    assert_int_equal(gb_role_parse("engineer", &r), 0);
    assert_int_equal(r, GB_ROLE_ENGINEER);
    assert_int_equal(gb_role_parse("Admin", &r), GB_EINVAL);
    assert_int_equal(gb_role_parse("anonymous", &r), GB_EINVAL);
    assert_string_equal(gb_role_name(GB_ROLE_OPERATOR), "operator");
    assert_true(GB_ROLE_VIEWER < GB_ROLE_OPERATOR && GB_ROLE_OPERATOR < GB_ROLE_ENGINEER &&
                GB_ROLE_ENGINEER < GB_ROLE_ADMIN);
}

static void test_users(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_auth_t *a;
    assert_int_equal(gb_auth_open(dir, &a), 0);
    assert_int_equal(gb_auth_user_count(a), 0);
    assert_int_equal(gb_auth_user_add(a, "ann", GB_ROLE_ADMIN, "ann-password"), 0);
    assert_int_equal(gb_auth_user_add(a, "bob", GB_ROLE_OPERATOR, "bob-password"), 0);
    assert_int_equal(gb_auth_user_add(a, "bob", GB_ROLE_VIEWER, "other-password"), GB_EEXIST);
    assert_int_equal(gb_auth_user_add(a, "-bad", GB_ROLE_VIEWER, "whatever1"), GB_EINVAL);
    assert_int_equal(gb_auth_user_add(a, "bad name", GB_ROLE_VIEWER, "whatever1"), GB_EINVAL);
    assert_int_equal(gb_auth_user_add(a, "short", GB_ROLE_VIEWER, "1234"), GB_EINVAL);
    assert_int_equal(gb_auth_user_add(a, "norole", GB_ROLE_NONE, "whatever1"), GB_EINVAL);
    assert_int_equal(gb_auth_user_count(a), 2);

    gb_principal_t who;
    assert_int_equal(gb_auth_login(a, "bob", "bob-password", &who), 0);
    assert_string_equal(who.name, "bob");
    assert_int_equal(who.role, GB_ROLE_OPERATOR);
    assert_int_equal(who.via, GB_VIA_SESSION);
    assert_int_equal(gb_auth_login(a, "bob", "ann-password", &who), GB_EACCES);
    assert_int_equal(gb_auth_login(a, "nobody", "bob-password", &who), GB_EACCES);

    /* a session's user: checked against the current role and password */
    gb_principal_t login, now;
    assert_int_equal(gb_auth_login(a, "bob", "bob-password", &login), 0);
    assert_int_equal(gb_auth_session_user(a, "bob", login.cred, &now), 0);
    gb_role_t old;
    assert_int_equal(gb_auth_user_set(a, "bob", GB_ROLE_ENGINEER, NULL, &old), 0);
    assert_int_equal(old, GB_ROLE_OPERATOR);
    assert_int_equal(gb_auth_session_user(a, "bob", login.cred, &now), 0);
    assert_int_equal(now.role, GB_ROLE_ENGINEER); /* a role change applies at once */
    assert_int_equal(gb_auth_user_set(a, "bob", GB_ROLE_NONE, "bob-new-password", &old), 0);
    assert_int_equal(gb_auth_session_user(a, "bob", login.cred, &now), GB_EACCES);
    assert_int_equal(gb_auth_login(a, "bob", "bob-password", &who), GB_EACCES);
    assert_int_equal(gb_auth_login(a, "bob", "bob-new-password", &who), 0);
    assert_int_equal(gb_auth_user_set(a, "nobody", GB_ROLE_VIEWER, NULL, &old), GB_ENOENT);

    /* the last admin stays */
    assert_int_equal(gb_auth_user_set(a, "ann", GB_ROLE_VIEWER, NULL, &old), GB_EACCES);
    assert_int_equal(gb_auth_user_del(a, "ann", &old), GB_EACCES);
    assert_int_equal(gb_auth_user_set(a, "bob", GB_ROLE_ADMIN, NULL, &old), 0);
    assert_int_equal(gb_auth_user_set(a, "ann", GB_ROLE_VIEWER, NULL, &old), 0);
    assert_int_equal(gb_auth_user_del(a, "bob", &old), GB_EACCES);
    assert_int_equal(gb_auth_user_del(a, "ann", &old), 0);
    assert_int_equal(old, GB_ROLE_VIEWER);
    assert_int_equal(gb_auth_user_del(a, "ann", &old), GB_ENOENT);
    assert_int_equal(gb_auth_login(a, "ann", "ann-password", &who), GB_EACCES);

    /* the file: mode 0600, hashes only */
    char *path = gb_xasprintf("%s/auth/users", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = slurp(path);
    assert_null(strstr(text, "bob-new-password"));
    assert_null(strstr(text, "ann-password"));
    assert_non_null(strstr(text, "bob admin $argon2id$"));
    free(text);
    free(path);
    gb_auth_free(a);
    rmtree(dir);
    free(dir);
}

static void test_user_list(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_auth_t *a;
    assert_int_equal(gb_auth_open(dir, &a), 0);
    /* written straight to the file, as another process would (and cheaper than hashing 5) */
    char *path = gb_xasprintf("%s/auth/users", dir);
    FILE *f = fopen(path, "w");
    static const char *const names[] = {"eve", "al", "dan", "cy", "bo"};
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s viewer $argon2id$v=19$m=65536,t=2,p=1$x$y %d\n", names[i], i + 1);
    fprintf(f, "# a comment\n\nbroken line\nal viewer $argon2id$dup 1\n");
    fclose(f);
    gb_user_info_t u[2];
    size_t n;
    bool more;
    gb_auth_user_list(a, NULL, u, 2, &n, &more);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(u[0].name, "al");
    assert_string_equal(u[1].name, "bo");
    gb_auth_user_list(a, "bo", u, 2, &n, &more);
    assert_string_equal(u[0].name, "cy");
    assert_string_equal(u[1].name, "dan");
    assert_true(more);
    gb_auth_user_list(a, "dan", u, 2, &n, &more);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_string_equal(u[0].name, "eve");
    assert_int_equal(u[0].created, 1);
    assert_int_equal(gb_auth_user_count(a), 5); /* the broken line and the repeated name are skipped */
    free(path);
    gb_auth_free(a);
    rmtree(dir);
    free(dir);
}

static void test_tokens(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_auth_t *a, *cli;
    assert_int_equal(gb_auth_open(dir, &a), 0);
    char *t1, *t2, *t3;
    gb_token_info_t info;
    assert_int_equal(gb_auth_token_create(a, NULL, GB_ROLE_OPERATOR, "ann", &t1, &info), 0);
    assert_string_equal(info.id, "operator-1");
    assert_string_equal(info.created_by, "ann");
    assert_int_equal(strncmp(t1, "gbt_operator-1_", 15), 0);
    assert_int_equal(strlen(t1), 15 + 48);
    assert_int_equal(gb_auth_token_create(a, NULL, GB_ROLE_OPERATOR, NULL, &t2, &info), 0);
    assert_string_equal(info.id, "operator-2");
    assert_int_equal(gb_auth_token_create(a, "line-lead", GB_ROLE_ENGINEER, NULL, &t3, NULL), 0);
    char *dup;
    assert_int_equal(gb_auth_token_create(a, "line-lead", GB_ROLE_VIEWER, NULL, &dup, NULL), GB_EEXIST);
    assert_int_equal(gb_auth_token_create(a, "bad_id", GB_ROLE_VIEWER, NULL, &dup, NULL), GB_EINVAL);
    assert_int_equal(gb_auth_token_create(a, NULL, GB_ROLE_NONE, NULL, &dup, NULL), GB_EINVAL);

    gb_principal_t who;
    assert_int_equal(gb_auth_token_check(a, t3, &who), 0);
    assert_string_equal(who.name, "line-lead");
    assert_int_equal(who.role, GB_ROLE_ENGINEER);
    assert_int_equal(who.via, GB_VIA_TOKEN);
    assert_int_equal(gb_auth_token_check(a, "gbt_line-lead_00", &who), GB_EACCES);
    assert_int_equal(gb_auth_token_check(a, "", &who), GB_EACCES);

    /* the file holds hashes, never the secrets */
    char *path = gb_xasprintf("%s/auth/tokens", dir);
    char *text = slurp(path);
    assert_null(strstr(text, t1 + 15));
    assert_null(strstr(text, t3 + 14));
    free(text);

    /* another process (the command line) revokes one: this handle sees it at once */
    assert_int_equal(gb_auth_open(dir, &cli), 0);
    gb_role_t old;
    assert_int_equal(gb_auth_token_revoke(cli, "operator-1", &old), 0);
    assert_int_equal(old, GB_ROLE_OPERATOR);
    assert_int_equal(gb_auth_token_check(a, t1, &who), GB_EACCES);
    assert_int_equal(gb_auth_token_check(a, t2, &who), 0);
    assert_int_equal(gb_auth_token_revoke(cli, "operator-1", &old), GB_ENOENT);
    /* and adds one, which the first handle lists and accepts */
    char *t4;
    assert_int_equal(gb_auth_token_create(cli, "from-cli", GB_ROLE_ADMIN, "root", &t4, NULL), 0);
    assert_int_equal(gb_auth_token_check(a, t4, &who), 0);
    gb_token_info_t list[8];
    size_t n;
    bool more;
    gb_auth_token_list(a, NULL, list, 8, &n, &more);
    assert_int_equal(n, 3);
    assert_false(more);
    assert_string_equal(list[0].id, "from-cli");
    assert_string_equal(list[1].id, "line-lead");
    assert_string_equal(list[2].id, "operator-2");
    gb_auth_free(cli);

    /* an old tokens file (id role hash, no creation fields) still reads */
    FILE *f = fopen(path, "a");
    fprintf(f, "old-one admin %064d\n", 0);
    fclose(f);
    gb_auth_token_list(a, "line-lead", list, 8, &n, &more);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "old-one");
    assert_int_equal(list[0].created, 0);
    assert_string_equal(list[0].created_by, "");
    free(path);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    gb_auth_free(a);
    rmtree(dir);
    free(dir);
}

static void test_setup_code(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_auth_t *a;
    assert_int_equal(gb_auth_open(dir, &a), 0);
    gb_time_t now = gb_now();
    char code[GB_AUTH_SETUP_CODE_LEN + 1], other[GB_AUTH_SETUP_CODE_LEN + 1];
    assert_false(gb_auth_setup_pending(a, now));
    assert_int_equal(gb_auth_setup_begin(a, now + 60 * S, code), 0);
    assert_int_equal(strlen(code), GB_AUTH_SETUP_CODE_LEN);
    assert_true(gb_auth_setup_pending(a, now));
    assert_false(gb_auth_setup_pending(a, now + 61 * S)); /* expired */
    assert_true(gb_auth_setup_code_ok(a, code, now));
    assert_false(gb_auth_setup_code_ok(a, code, now + 61 * S));
    strcpy(other, code);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    assert_false(gb_auth_setup_code_ok(a, other, now));
    assert_false(gb_auth_setup_code_ok(a, "short", now));

    gb_principal_t who;
    assert_int_equal(gb_auth_setup_finish(a, other, "root", "root-password", now, &who), GB_EACCES);
    assert_int_equal(gb_auth_setup_finish(a, code, "root", "root-password", now + 61 * S, &who),
                     GB_EACCES);
    assert_int_equal(gb_auth_setup_finish(a, code, "bad name", "root-password", now, &who), GB_EINVAL);
    assert_int_equal(gb_auth_setup_finish(a, code, "root", "short", now, &who), GB_EINVAL);
    /* refused input leaves the code usable; the right request uses it up */
    assert_int_equal(gb_auth_setup_finish(a, code, "root", "root-password", now, &who), 0);
    assert_string_equal(who.name, "root");
    assert_int_equal(who.role, GB_ROLE_ADMIN);
    assert_int_equal(gb_auth_setup_finish(a, code, "root2", "root-password", now, &who), GB_EEXIST);
    assert_false(gb_auth_setup_pending(a, now));
    assert_int_equal(gb_auth_setup_begin(a, now + 60 * S, code), GB_EEXIST); /* users exist */
    assert_int_equal(gb_auth_login(a, "root", "root-password", &who), 0);
    gb_auth_free(a);
    rmtree(dir);
    free(dir);

    /* a user made another way (the command line) voids a waiting code */
    dir = tmpdir();
    gb_auth_t *cli;
    assert_int_equal(gb_auth_open(dir, &a), 0);
    assert_int_equal(gb_auth_open(dir, &cli), 0);
    assert_int_equal(gb_auth_setup_begin(a, now + 60 * S, code), 0);
    assert_int_equal(gb_auth_user_add(cli, "shell", GB_ROLE_ADMIN, "shell-password"), 0);
    assert_false(gb_auth_setup_pending(a, now));
    assert_int_equal(gb_auth_setup_finish(a, code, "root", "root-password", now, &who), GB_EEXIST);
    gb_auth_free(cli);
    gb_auth_free(a);
    rmtree(dir);
    free(dir);
}

static void test_sessions(void **state)
{
    (void)state;
    gb_sessions_t *s = gb_sessions_new(3, 10 * S, 100 * S);
    gb_principal_t ann = {.name = "ann", .role = GB_ROLE_ADMIN, .via = GB_VIA_SESSION, .cred = {1, 2}};
    gb_principal_t bob = {.name = "bob", .role = GB_ROLE_VIEWER, .via = GB_VIA_SESSION, .cred = {3}};
    char id1[GB_SESSION_ID_LEN + 1], id2[GB_SESSION_ID_LEN + 1], id3[GB_SESSION_ID_LEN + 1],
        id4[GB_SESSION_ID_LEN + 1];
    gb_session_info_t info, got;
    gb_time_t t = 1000 * S;
    gb_sessions_create(s, &ann, t, id1, &info);
    assert_int_equal(strlen(id1), GB_SESSION_ID_LEN);
    assert_int_equal(strlen(info.csrf), GB_SESSION_CSRF_LEN);
    assert_string_not_equal(id1, info.csrf);
    assert_int_equal(info.expires, t + 10 * S);
    assert_int_equal(gb_sessions_get(s, id1, t + 5 * S, &got), 0);
    assert_string_equal(got.user, "ann");
    assert_memory_equal(got.cred, ann.cred, GB_AUTH_CRED_LEN);
    assert_string_equal(got.csrf, info.csrf);
    assert_int_equal(got.expires, t + 15 * S); /* each use moves the idle limit */
    /* CSRF: only the session's own token */
    assert_true(gb_session_csrf_ok(&got, info.csrf));
    char wrong[GB_SESSION_CSRF_LEN + 1];
    strcpy(wrong, info.csrf);
    wrong[5] ^= 1;
    assert_false(gb_session_csrf_ok(&got, wrong));
    assert_false(gb_session_csrf_ok(&got, NULL));
    assert_false(gb_session_csrf_ok(&got, ""));
    /* idle: used every 9 s it lives until the maximum age, then ends */
    gb_time_t u = t + 5 * S;
    while (u + 9 * S < t + 100 * S) {
        u += 9 * S;
        assert_int_equal(gb_sessions_get(s, id1, u, &got), 0);
    }
    assert_int_equal(gb_sessions_get(s, id1, t + 100 * S, &got), GB_ENOENT);
    /* unused for longer than idle: gone */
    gb_sessions_create(s, &bob, t, id2, &info);
    assert_int_equal(gb_sessions_get(s, id2, t + 10 * S, &got), GB_ENOENT);
    /* unknown and malformed ids */
    gb_sessions_create(s, &bob, t, id2, &info);
    assert_int_equal(gb_sessions_get(s, "nope", t, &got), GB_ENOENT);
    char near[GB_SESSION_ID_LEN + 1];
    strcpy(near, id2);
    near[0] = near[0] == 'a' ? 'b' : 'a';
    assert_int_equal(gb_sessions_get(s, near, t, &got), GB_ENOENT);
    /* logout; and ending every session of a user */
    assert_int_equal(gb_sessions_end(s, id2), 0);
    assert_int_equal(gb_sessions_end(s, id2), GB_ENOENT);
    gb_sessions_create(s, &bob, t, id2, &info);
    gb_sessions_create(s, &bob, t + 1, id3, &info);
    gb_sessions_create(s, &ann, t + 2, id1, &info);
    assert_int_equal(gb_sessions_count(s, t + 3), 3);
    assert_int_equal(gb_sessions_end_user(s, "bob"), 2);
    assert_int_equal(gb_sessions_get(s, id3, t + 3, &got), GB_ENOENT);
    assert_int_equal(gb_sessions_get(s, id1, t + 3, &got), 0);
    /* full: the session used longest ago makes room */
    gb_sessions_create(s, &bob, t + 4, id2, &info);
    gb_sessions_create(s, &bob, t + 5, id3, &info);
    assert_int_equal(gb_sessions_get(s, id1, t + 6, &got), 0); /* ann is used now */
    gb_sessions_create(s, &bob, t + 7, id4, &info);              /* id2 goes */
    assert_int_equal(gb_sessions_get(s, id2, t + 8, &got), GB_ENOENT);
    assert_int_equal(gb_sessions_get(s, id1, t + 8, &got), 0);
    assert_int_equal(gb_sessions_get(s, id3, t + 8, &got), 0);
    assert_int_equal(gb_sessions_get(s, id4, t + 8, &got), 0);
    gb_sessions_free(s);
    gb_sessions_free(NULL);
}

static void test_ratelimit(void **state)
{
    (void)state;
    gb_ratelimit_t *r = gb_ratelimit_new(4, 3, 1 * S, 8 * S, 60 * S);
    int64_t t = 10 * S;
    /* three failures are free */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gb_ratelimit_wait(r, "bob", t), 0);
        gb_ratelimit_failed(r, "bob", t);
    }
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), 0);
    gb_ratelimit_failed(r, "bob", t); /* the third: now wait 1 s */
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), 1 * S);
    assert_int_equal(gb_ratelimit_wait(r, "bob", t + S / 2), S / 2);
    assert_int_equal(gb_ratelimit_wait(r, "bob", t + S), 0);
    /* then each failure doubles the wait, up to the cap */
    int64_t want[] = {2 * S, 4 * S, 8 * S, 8 * S};
    for (int i = 0; i < 4; i++) {
        t += 20 * S;
        gb_ratelimit_failed(r, "bob", t);
        assert_int_equal(gb_ratelimit_wait(r, "bob", t), want[i]);
    }
    /* other keys are not held up */
    assert_int_equal(gb_ratelimit_wait(r, "ann", t), 0);
    /* a success forgets */
    gb_ratelimit_forget(r, "bob");
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), 0);
    gb_ratelimit_failed(r, "bob", t);
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), 0);
    /* so does a minute without failures */
    gb_ratelimit_failed(r, "bob", t);
    gb_ratelimit_failed(r, "bob", t);
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), S);
    t += 60 * S;
    gb_ratelimit_failed(r, "bob", t);
    assert_int_equal(gb_ratelimit_wait(r, "bob", t), 0);
    /* a full table drops the key that failed longest ago */
    gb_ratelimit_failed(r, "k1", t + 1);
    gb_ratelimit_failed(r, "k1", t + 1);
    gb_ratelimit_failed(r, "k1", t + 1);
    gb_ratelimit_failed(r, "k2", t + 2);
    gb_ratelimit_failed(r, "k3", t + 3);
    gb_ratelimit_failed(r, "k4", t + 4); /* "bob" (at t) goes */
    assert_int_equal(gb_ratelimit_wait(r, "k1", t + 5), S - 4);
    gb_ratelimit_failed(r, "k5", t + 5); /* then "k1" */
    assert_int_equal(gb_ratelimit_wait(r, "k1", t + 5), 0);
    gb_ratelimit_free(r);
    gb_ratelimit_free(NULL);
}

static void test_audit_pages(void **state)
{
    (void)state;
    char *dir = tmpdir();
    gb_audit_t *a = gb_audit_open(dir);
    assert_non_null(a);
    json_t *e;
    int64_t next;
    assert_int_equal(gb_audit_read(a, -1, 10, &e, &next), 0);
    assert_int_equal(json_array_size(e), 0);
    assert_int_equal(next, -1);
    json_decref(e);
    char target[32];
    for (int i = 0; i < 25; i++) {
        snprintf(target, sizeof target, "t%02d", i);
        gb_audit_entry_t en = {"ann", "session", "127.0.0.1", "user add", target, NULL, "viewer"};
        assert_int_equal(gb_audit_write(a, &en), 0);
    }
    /* a torn last line (a crash mid-append) is not an entry */
    char *path = gb_xasprintf("%s/audit.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"who\":\"torn", f);
    fclose(f);
    int64_t before = -1;
    int seen = 24;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(gb_audit_read(a, before, 10, &e, &next), 0);
        for (size_t i = 0; i < json_array_size(e); i++) {
            snprintf(target, sizeof target, "t%02d", seen--);
            json_t *o = json_array_get(e, i);
            assert_string_equal(json_string_value(json_object_get(o, "target")), target);
            assert_string_equal(json_string_value(json_object_get(o, "via")), "session");
            assert_string_equal(json_string_value(json_object_get(o, "address")), "127.0.0.1");
            assert_true(json_is_null(json_object_get(o, "before")));
        }
        assert_int_equal(json_array_size(e), page < 2 ? 10 : 5);
        json_decref(e);
        before = next;
    }
    assert_int_equal(seen, -1);
    assert_int_equal(next, -1);
    assert_int_equal(gb_audit_read(a, 3, 10, &e, &next), GB_EINVAL); /* not the end of a line */
    assert_int_equal(gb_audit_read(a, 1 << 30, 10, &e, &next), GB_EINVAL);
    free(path);
    gb_audit_close(a);
    rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash), cmocka_unit_test(test_roles),
        cmocka_unit_test(test_users),         cmocka_unit_test(test_user_list),
        cmocka_unit_test(test_tokens),        cmocka_unit_test(test_setup_code),
        cmocka_unit_test(test_sessions),      cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_audit_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
