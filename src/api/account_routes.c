/*
 * The routes about people and access: signing in and out, who am I, the first admin's setup,
 * users, tokens and the audit log. Built for a single-page app as much as for scripts: every
 * answer is JSON, every refusal a problem with a stable "code", the session travels in an
 * HttpOnly cookie the page never sees, and the CSRF token the page must echo comes from
 * GET /api/v1/session (and from the answer to a login).
 *
 * Login and setup take only application/json: a form on another site can post text/plain or
 * form data across origins without asking, but not JSON, so nobody can be signed in to someone
 * else's account by a page they visited.
 */
#include "api/server.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <inttypes.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_RULE "1 to 63 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
#define PASSWORD_RULE "8 to 1024 bytes"

/* --- helpers -------------------------------------------------------------------------------- */

/* A string member of BODY, or NULL; *BAD is set when it is there but not a plain string. */
static const char *member(json_t *body, const char *key, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v) return NULL;
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v)) { /* not a string, or one with a NUL inside */
        *bad = true;
        return NULL;
    }
    return s;
}

static enum MHD_Result bad_role(gb_req_t *r, const char *role)
{
    return gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                      "role is viewer, operator, engineer or admin, not '%.40s'", role);
}

static bool json_request(gb_req_t *r, enum MHD_Result *ret)
{
    const char *ct = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Content-Type");
    size_t n = strlen("application/json");
    if (ct && !strncasecmp(ct, "application/json", n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' '))
        return true;
    *ret = gb_problem(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "send the body as Content-Type: application/json");
    return false;
}

static void set_cookie(gb_req_t *r, const char *id, int64_t max_age_s)
{
    gb_req_header(r, "Set-Cookie", "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                  GB_API_SESSION_COOKIE, id, (long long)max_age_s, r->api->tls ? "; Secure" : "");
}

/* Who the caller is, as GET /api/v1/session and a login answer it. */
static json_t *whoami(const gb_req_t *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "user", r->who.name, "role", gb_role_name(r->who.role),
                          "via", r->who.via == GB_VIA_SESSION ? "session" : "token");
    if (r->who.via == GB_VIA_SESSION) {
        json_object_set_new(o, "csrf_token", json_string(r->session.csrf));
        json_object_set_new(o, "expires", gb_json_time(r->session.expires));
    }
    return o;
}

/* Starts a session for r->who (already checked), replacing the one the request came with. */
static void start_session(gb_req_t *r)
{
    const char *old = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, GB_API_SESSION_COOKIE);
    if (old) gb_sessions_end(r->api->sessions, old);
    gb_sessions_create(r->api->sessions, &r->who, gb_now(), r->session_id, &r->session);
    set_cookie(r, r->session_id, GB_API_SESSION_MAX_AGE / GB_NS_PER_S);
}

static enum MHD_Result too_many(gb_req_t *r, int64_t wait_ns)
{
    long long s = (wait_ns + GB_NS_PER_S - 1) / GB_NS_PER_S;
    gb_req_header(r, "Retry-After", "%lld", s);
    return gb_problem_x(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                        json_pack("{s:I}", "retry_after_s", (json_int_t)s),
                        "too many failed attempts; try again in %lld s", s);
}

static int64_t wait_for(gb_ratelimit_t *rl, const char *prefix, const char *key)
{
    char k[512]; /* a prefix and a name or address: a longer key is cut, which only merges limits */
    snprintf(k, sizeof k, "%s%s", prefix, key);
    return gb_ratelimit_wait(rl, k, gb_mono_ns());
}

static void failed(gb_ratelimit_t *rl, const char *prefix, const char *key)
{
    char k[512]; /* a prefix and a name or address: a longer key is cut, which only merges limits */
    snprintf(k, sizeof k, "%s%s", prefix, key);
    gb_ratelimit_failed(rl, k, gb_mono_ns());
}

static void forget(gb_ratelimit_t *rl, const char *prefix, const char *key)
{
    char k[512]; /* a prefix and a name or address: a longer key is cut, which only merges limits */
    snprintf(k, sizeof k, "%s%s", prefix, key);
    gb_ratelimit_forget(rl, k);
}

/*
 * A page of users or tokens: LIST fills records of SIZE bytes that each start with their name
 * (the cursor), ITEM turns one into JSON, KEY names the array.
 */
typedef void (*list_fn)(gb_auth_t *a, const char *after, void *out, size_t max, size_t *n, bool *more);
_Static_assert(offsetof(gb_user_info_t, name) == 0 && offsetof(gb_token_info_t, id) == 0,
               "a listed record starts with its name");
typedef json_t *(*item_fn)(const void *rec);

static enum MHD_Result list_page(gb_req_t *r, const char *key, size_t size, list_fn list, item_fn item)
{
    size_t limit, n;
    const char *cursor;
    bool more;
    enum MHD_Result ret;
    if (!gb_req_page(r, &limit, &cursor, &ret)) return ret;
    char *recs = gb_xcalloc(limit, size);
    list(r->api->src.auth, cursor, recs, limit, &n, &more);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, item(recs + i * size));
    json_t *doc = json_pack("{s:o, s:o}", key, arr, "next",
                            gb_req_next(r, limit, more ? recs + (n - 1) * size : NULL));
    free(recs);
    return gb_reply_json(r, MHD_HTTP_OK, doc);
}

/* --- the session ---------------------------------------------------------------------------- */

enum MHD_Result gb_api_session_get(gb_req_t *r)
{
    return gb_reply_json(r, MHD_HTTP_OK, whoami(r));
}

enum MHD_Result gb_api_session_login(gb_req_t *r)
{
    enum MHD_Result ret;
    json_t *body = NULL;
    if (!json_request(r, &ret) || !gb_req_object(r, &body, &ret)) return ret;
    bool bad = false;
    const char *user = member(body, "user", &bad), *pw = member(body, "password", &bad);
    if (bad || !user || !pw || strlen(user) > 256) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "expected {\"user\": \"name\", \"password\": \"...\"}");
        goto out;
    }
    /* a guess that must wait is not even checked, so waiting cannot be skipped */
    int64_t wu = wait_for(r->api->by_user, "", user), wa = wait_for(r->api->by_addr, "", r->addr);
    if (wu || wa) {
        ret = too_many(r, wu > wa ? wu : wa);
        goto out;
    }
    int rc = gb_auth_login(r->api->src.auth, user, pw, &r->who);
    if (rc == GB_EBUSY) {
        gb_req_header(r, "Retry-After", "1");
        ret = gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE, "other sign-ins are being checked; try again in a second");
        goto out;
    }
    if (rc) {
        failed(r->api->by_user, "", user);
        failed(r->api->by_addr, "", r->addr);
        memset(&r->who, 0, sizeof r->who);
        gb_warn("auth", "failed sign-in as '%.64s' from %s", user, r->addr);
        ret = gb_problem_x(r, MHD_HTTP_UNAUTHORIZED, "login_failed", NULL,
                           "wrong user name or password");
        goto out;
    }
    forget(r->api->by_user, "", user);
    start_session(r);
    gb_req_audit(r, "login", r->who.name, NULL, gb_role_name(r->who.role));
    gb_info("auth", "%s signed in from %s", r->who.name, r->addr);
    ret = gb_reply_json(r, MHD_HTTP_OK, whoami(r));
out:
    json_decref(body);
    return ret;
}

enum MHD_Result gb_api_session_logout(gb_req_t *r)
{
    if (r->who.via != GB_VIA_SESSION)
        return gb_problem(r, MHD_HTTP_BAD_REQUEST,
                          "an API token has no session; revoke it with DELETE /api/v1/tokens/{id}");
    gb_sessions_end(r->api->sessions, r->session_id);
    set_cookie(r, "", 0);
    gb_req_audit(r, "logout", r->who.name, gb_role_name(r->who.role), NULL);
    return gb_reply(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
}

/* --- the first admin ------------------------------------------------------------------------ */

enum MHD_Result gb_api_setup_get(gb_req_t *r)
{
    gb_time_t now = gb_now();
    const char *code = gb_req_arg(r, "code");
    json_t *o = json_pack("{s:b}", "required", gb_auth_setup_pending(r->api->src.auth, now));
    json_object_set_new(o, "code_valid",
                        code ? json_boolean(gb_auth_setup_code_ok(r->api->src.auth, code, now))
                             : json_null());
    return gb_reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result gb_api_setup_post(gb_req_t *r)
{
    enum MHD_Result ret;
    json_t *body = NULL;
    if (!json_request(r, &ret) || !gb_req_object(r, &body, &ret)) return ret;
    bool bad = false;
    const char *code = member(body, "code", &bad), *user = member(body, "user", &bad),
               *pw = member(body, "password", &bad);
    if (bad || !code || !user || !pw) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "expected {\"code\": \"from the setup link\", \"user\": \"name\", "
                         "\"password\": \"...\"}");
        goto out;
    }
    int64_t wa = wait_for(r->api->by_addr, "setup:", r->addr);
    if (wa) {
        ret = too_many(r, wa);
        goto out;
    }
    int rc = gb_auth_setup_finish(r->api->src.auth, code, user, pw, gb_now(), &r->who);
    if (rc == GB_EEXIST) {
        ret = gb_problem_x(r, MHD_HTTP_CONFLICT, "setup_done", NULL,
                           "the first admin exists already; sign in instead");
    } else if (rc == GB_EACCES) {
        failed(r->api->by_addr, "setup:", r->addr);
        ret = gb_problem_x(r, MHD_HTTP_FORBIDDEN, "setup_code", NULL,
                           "the setup code is wrong, used or expired; restart the daemon for a "
                           "new one, or use `gemba user add`");
    } else if (rc == GB_EINVAL) {
        ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                         "a user name is " NAME_RULE "; a password " PASSWORD_RULE);
    } else if (rc) {
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the user could not be stored: %s",
                         gb_strerror(rc));
    } else {
        start_session(r);
        gb_req_audit(r, "setup: first admin", r->who.name, NULL, "admin");
        gb_warn("auth", "the first admin, %s, was created from %s; the setup link is void now",
                r->who.name, r->addr);
        gb_req_header(r, "Location", "/api/v1/users/%s", r->who.name);
        ret = gb_reply_json(r, MHD_HTTP_CREATED, whoami(r));
    }
out:
    json_decref(body);
    return ret;
}

/* --- users ---------------------------------------------------------------------------------- */

static json_t *user_json(const gb_user_info_t *u)
{
    json_t *o = json_pack("{s:s, s:s}", "name", u->name, "role", gb_role_name(u->role));
    json_object_set_new(o, "created", gb_json_time(u->created));
    return o;
}

static void list_users(gb_auth_t *a, const char *after, void *out, size_t max, size_t *n, bool *more)
{
    gb_auth_user_list(a, after, out, max, n, more);
}
static json_t *user_item(const void *u) { return user_json(u); }

enum MHD_Result gb_api_users_list(gb_req_t *r)
{
    return list_page(r, "users", sizeof(gb_user_info_t), list_users, user_item);
}

enum MHD_Result gb_api_users_add(gb_req_t *r)
{
    json_t *body;
    enum MHD_Result ret;
    if (!gb_req_object(r, &body, &ret)) return ret;
    bool bad = false;
    const char *name = member(body, "name", &bad), *role_s = member(body, "role", &bad),
               *pw = member(body, "password", &bad);
    gb_role_t role;
    gb_user_info_t u;
    int rc;
    if (bad || !name || !role_s || !pw) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "expected {\"name\": \"...\", \"role\": \"viewer|operator|engineer|admin\", "
                         "\"password\": \"...\"}");
    } else if (gb_role_parse(role_s, &role) != 0) {
        ret = bad_role(r, role_s);
    } else if ((rc = gb_auth_user_add(r->api->src.auth, name, role, pw)) == GB_EEXIST) {
        ret = gb_problem(r, MHD_HTTP_CONFLICT, "a user named '%.63s' exists already", name);
    } else if (rc == GB_EINVAL) {
        ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                         "a user name is " NAME_RULE "; a password " PASSWORD_RULE);
    } else if (rc || gb_auth_user_get(r->api->src.auth, name, &u) != 0) {
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the user could not be stored");
    } else {
        gb_req_audit(r, "user add", name, NULL, gb_role_name(role));
        gb_req_header(r, "Location", "/api/v1/users/%s", name);
        ret = gb_reply_json(r, MHD_HTTP_CREATED, user_json(&u));
    }
    json_decref(body);
    return ret;
}

/* Admins change anyone's role and password; anyone signed in changes their own password, given
 * the current one (a session left open on a shared tablet must not be enough to take it over). */
enum MHD_Result gb_api_user_patch(gb_req_t *r)
{
    char name[GB_AUTH_NAME_MAX + 1];
    json_t *body = NULL;
    enum MHD_Result ret;
    if (!gb_req_param(r, "user", name, sizeof name))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no user with so long a name");
    bool admin = r->who.role == GB_ROLE_ADMIN;
    bool self = r->who.via == GB_VIA_SESSION && !strcmp(r->who.name, name);
    if (!admin && !self)
        return gb_problem_x(r, MHD_HTTP_FORBIDDEN, "role",
                            json_pack("{s:s, s:s}", "role", gb_role_name(r->who.role),
                                      "required_role", "admin"),
                            "only an admin changes other users; you may change your own password");
    if (!gb_req_object(r, &body, &ret)) return ret;
    bool bad = false;
    const char *role_s = member(body, "role", &bad), *pw = member(body, "password", &bad),
               *current = member(body, "current_password", &bad);
    gb_role_t role = GB_ROLE_NONE, old;
    gb_user_info_t u;
    int rc;
    if (bad || (!role_s && !pw)) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "expected {\"role\": \"...\"} and/or {\"password\": \"...\"}; changing your "
                         "own password also takes \"current_password\"");
        goto out;
    }
    if (role_s && gb_role_parse(role_s, &role) != 0) {
        ret = bad_role(r, role_s);
        goto out;
    }
    if (!admin && role_s) {
        ret = gb_problem_x(r, MHD_HTTP_FORBIDDEN, "role",
                           json_pack("{s:s, s:s}", "role", gb_role_name(r->who.role),
                                     "required_role", "admin"),
                           "only an admin changes roles");
        goto out;
    }
    if (!admin) { /* own password: prove it is you, under the same back-off as a login */
        int64_t w = wait_for(r->api->by_user, "", name);
        gb_principal_t check;
        if (w) {
            ret = too_many(r, w);
            goto out;
        }
        rc = current ? gb_auth_login(r->api->src.auth, name, current, &check) : GB_EACCES;
        if (rc == GB_EBUSY) {
            gb_req_header(r, "Retry-After", "1");
            ret = gb_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy checking passwords; try again");
            goto out;
        }
        if (rc) {
            failed(r->api->by_user, "", name);
            ret = gb_problem_x(r, MHD_HTTP_FORBIDDEN, "current_password", NULL,
                               "changing your own password needs the current one, right");
            goto out;
        }
    }
    rc = gb_auth_user_set(r->api->src.auth, name, role, pw, &old);
    if (rc == GB_ENOENT) {
        ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no user named '%s'", name);
    } else if (rc == GB_EACCES) {
        ret = gb_problem_x(r, MHD_HTTP_CONFLICT, "last_admin", NULL,
                           "%s is the last admin; make another admin first", name);
    } else if (rc == GB_EINVAL) {
        ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "a password is " PASSWORD_RULE);
    } else if (rc || gb_auth_user_get(r->api->src.auth, name, &u) != 0) {
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the change could not be stored");
    } else {
        char after[64];
        snprintf(after, sizeof after, "%s%s", gb_role_name(role ? role : old),
                 pw ? ", new password" : "");
        /* a new password ends every session made with the old one, this one included */
        if (pw && gb_sessions_end_user(r->api->sessions, name) && self) set_cookie(r, "", 0);
        gb_req_audit(r, "user change", name, gb_role_name(old), after);
        ret = gb_reply_json(r, MHD_HTTP_OK, user_json(&u));
    }
out:
    json_decref(body);
    return ret;
}

enum MHD_Result gb_api_user_delete(gb_req_t *r)
{
    char name[GB_AUTH_NAME_MAX + 1];
    gb_role_t old;
    if (!gb_req_param(r, "user", name, sizeof name))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no user with so long a name");
    int rc = gb_auth_user_del(r->api->src.auth, name, &old);
    if (rc == GB_ENOENT) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no user named '%s'", name);
    if (rc == GB_EACCES)
        return gb_problem_x(r, MHD_HTTP_CONFLICT, "last_admin", NULL,
                            "%s is the last admin; make another admin first", name);
    if (rc)
        return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the change could not be stored");
    gb_sessions_end_user(r->api->sessions, name);
    gb_req_audit(r, "user delete", name, gb_role_name(old), NULL);
    return gb_reply(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
}

/* --- tokens --------------------------------------------------------------------------------- */

static json_t *token_json(const gb_token_info_t *t)
{
    json_t *o = json_pack("{s:s, s:s}", "id", t->id, "role", gb_role_name(t->role));
    json_object_set_new(o, "created", gb_json_time(t->created));
    json_object_set_new(o, "created_by", t->created_by[0] ? json_string(t->created_by) : json_null());
    return o;
}

static void list_tokens(gb_auth_t *a, const char *after, void *out, size_t max, size_t *n, bool *more)
{
    gb_auth_token_list(a, after, out, max, n, more);
}
static json_t *token_item(const void *t) { return token_json(t); }

enum MHD_Result gb_api_tokens_list(gb_req_t *r)
{
    return list_page(r, "tokens", sizeof(gb_token_info_t), list_tokens, token_item);
}

enum MHD_Result gb_api_tokens_add(gb_req_t *r)
{
    json_t *body;
    enum MHD_Result ret;
    if (!gb_req_object(r, &body, &ret)) return ret;
    bool bad = false;
    const char *id = member(body, "id", &bad), *role_s = member(body, "role", &bad);
    gb_role_t role;
    gb_token_info_t info;
    char *secret = NULL;
    int rc;
    if (bad || !role_s) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "expected {\"role\": \"viewer|operator|engineer|admin\", \"id\": optional "
                         "name}");
    } else if (gb_role_parse(role_s, &role) != 0) {
        ret = bad_role(r, role_s);
    } else if ((rc = gb_auth_token_create(r->api->src.auth, id, role, r->who.name, &secret,
                                          &info)) == GB_EEXIST) {
        ret = gb_problem(r, MHD_HTTP_CONFLICT, "a token named '%.63s' exists already", id);
    } else if (rc == GB_EINVAL) {
        ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                         "a token id is " NAME_RULE ", without '_'");
    } else if (rc) {
        ret = gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the token could not be stored");
    } else {
        json_t *o = token_json(&info);
        json_object_set_new(o, "token", json_string(secret));
        sodium_memzero(secret, strlen(secret));
        free(secret);
        gb_req_audit(r, "token create", info.id, NULL, gb_role_name(role));
        gb_req_header(r, "Location", "/api/v1/tokens/%s", info.id);
        ret = gb_reply_json(r, MHD_HTTP_CREATED, o);
    }
    json_decref(body);
    return ret;
}

enum MHD_Result gb_api_token_delete(gb_req_t *r)
{
    char id[GB_AUTH_NAME_MAX + 1];
    gb_role_t old;
    if (!gb_req_param(r, "id", id, sizeof id))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no token with so long a name");
    int rc = gb_auth_token_revoke(r->api->src.auth, id, &old);
    if (rc == GB_ENOENT) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no token named '%s'", id);
    if (rc) return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the change could not be stored");
    gb_req_audit(r, "token revoke", id, gb_role_name(old), NULL);
    return gb_reply(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
}

/* --- the audit log -------------------------------------------------------------------------- */

enum MHD_Result gb_api_audit_list(gb_req_t *r)
{
    size_t limit;
    const char *cursor;
    enum MHD_Result ret;
    if (!gb_req_page(r, &limit, &cursor, &ret)) return ret;
    int64_t before = -1, next;
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || v < 1)
            return gb_problem(r, MHD_HTTP_BAD_REQUEST, "cursor is the `next` of a previous page");
        before = v;
    }
    json_t *entries;
    int rc = r->api->src.audit ? gb_audit_read(r->api->src.audit, before, limit, &entries, &next)
                               : GB_EIO;
    if (rc == GB_EINVAL)
        return gb_problem(r, MHD_HTTP_BAD_REQUEST, "cursor is the `next` of a previous page");
    if (rc) return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the audit log cannot be read");
    char nb[32];
    snprintf(nb, sizeof nb, "%" PRId64, next);
    return gb_reply_json(r, MHD_HTTP_OK,
                         json_pack("{s:o, s:o}", "entries", entries, "next",
                                   gb_req_next(r, limit, next >= 0 ? nb : NULL)));
}
