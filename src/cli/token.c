/*
 * gemba user and gemba token: people and integrations, managed from the shell of the machine
 * that holds the data directory (whoever can write there owns the daemon anyway, so this is
 * also the way back in when every admin password is lost). Each change goes to the same files
 * the daemon reads, under the same lock, and into the audit log as done by the system user
 * "via cli"; a running daemon sees it at its next request.
 *
 * A password comes from the terminal (asked twice, not echoed) or, for scripts, from the first
 * line of standard input -- never from the command line, where `ps` and the shell history
 * would show it.
 */
#include "cli/cli.h"
#include "gemba/audit.h"
#include "gemba/auth.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <getopt.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Options shared by both commands. */
typedef struct opts {
    const char *data, *role, *id;
} opts_t;

/* Parses ARGV from index 2 (after the verb); positional arguments go to POS (at most MAXPOS). */
static int parse(const char *cmd, int argc, char **argv, opts_t *o, const char **pos, int maxpos,
                 int *npos)
{
    static const struct option lo[] = {{"data", required_argument, NULL, 'd'},
                                       {"role", required_argument, NULL, 'r'},
                                       {"id", required_argument, NULL, 'i'},
                                       {NULL, 0, NULL, 0}};
    *o = (opts_t){"./gemba-data", NULL, NULL};
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        if (c == 'd') o->data = optarg;
        else if (c == 'r') o->role = optarg;
        else if (c == 'i') o->id = optarg;
        else if (c == ':') return gb_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        else return gb_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    *npos = 0;
    for (; optind < argc; optind++) {
        if (*npos == maxpos) return gb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        pos[(*npos)++] = argv[optind];
    }
    return 0;
}

static int open_auth(const char *cmd, const char *data, gb_auth_t **a)
{
    if (gb_auth_open(data, a) == 0) return 0;
    fprintf(stderr, "gemba %s: cannot open %s/auth\n", cmd, data);
    return GB_EXIT_FAIL;
}

/* Records a change made here in the data directory's audit log, as the system user. */
static void audit(const char *data, const char *action, const char *target, const char *before,
                  const char *after)
{
    struct passwd *pw = getpwuid(geteuid());
    gb_audit_t *log = gb_audit_open(data);
    gb_audit_entry_t e = {pw ? pw->pw_name : "?", "cli", NULL, action, target, before, after};
    if (!log || gb_audit_write(log, &e) != 0)
        fprintf(stderr, "gemba: warning: the change was made but could not be audited\n");
    gb_audit_close(log);
}

/* Reads one line into BUF without its newline; false at EOF or when it does not fit. */
static bool read_line(FILE *f, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, f)) return false;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == 0 && n == size - 1) return false; /* longer than the buffer */
    buf[n] = 0;
    return true;
}

/* The new password: asked twice on a terminal, else the first line of standard input. */
static int read_password(const char *cmd, char *pw, size_t size)
{
    if (!isatty(STDIN_FILENO)) {
        if (!read_line(stdin, pw, size))
            return gb_cli_usage_error(cmd, "expected the password on the first line of standard input");
        return 0;
    }
    struct termios old, quiet;
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char again[GB_AUTH_PASSWORD_MAX + 2];
    fprintf(stderr, "new password: ");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    bool ok = read_line(stdin, pw, size);
    fprintf(stderr, "\nagain: ");
    ok = ok && read_line(stdin, again, sizeof again);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    ok = ok && !strcmp(pw, again);
    sodium_memzero(again, sizeof again);
    if (!ok) return gb_cli_usage_error(cmd, "the passwords differ, or none was given");
    return 0;
}

static int role_arg(const char *cmd, const char *s, gb_role_t *role)
{
    if (!s) return gb_cli_usage_error(cmd, "say which role: --role viewer|operator|engineer|admin");
    if (gb_role_parse(s, role) != 0)
        return gb_cli_usage_error(cmd, "--role is viewer, operator, engineer or admin, not '%s'", s);
    return 0;
}

static void time_text(gb_time_t t, char *buf, size_t size)
{
    if (t) gb_time_format_ms(t, buf, size);
    else gb_strlcpy(buf, "-", size);
}

#define PICKUP "a running daemon takes the change at its next request"

int gb_cmd_user(int argc, char **argv)
{
    static const char usage[] = "expected: gemba user add|passwd|del|list ... (see gemba help user)";
    if (argc < 2) return gb_cli_usage_error("user", usage);
    const char *verb = argv[1], *pos[1];
    int npos, rc;
    opts_t o;
    if ((rc = parse("user", argc, argv, &o, pos, 1, &npos)) != 0) return rc;
    bool list = !strcmp(verb, "list");
    if (!list && strcmp(verb, "add") && strcmp(verb, "passwd") && strcmp(verb, "del"))
        return gb_cli_usage_error("user", usage);
    bool add = !strcmp(verb, "add"), passwd = !strcmp(verb, "passwd");
    if (!list && npos != 1) return gb_cli_usage_error("user", "name the user: gemba user %s NAME", verb);
    if (list && npos) return gb_cli_usage_error("user", "unexpected argument '%s'", pos[0]);
    if (o.id) return gb_cli_usage_error("user", "--id is for tokens");
    if (!add && o.role)
        return gb_cli_usage_error("user", "only add takes --role; an admin changes roles through "
                                          "the API (PATCH /api/v1/users/NAME)");
    gb_role_t role = GB_ROLE_NONE, old;
    if (add && (rc = role_arg("user", o.role, &role)) != 0) return rc;
    char pw[GB_AUTH_PASSWORD_MAX + 2] = "";
    if ((add || passwd) && (rc = read_password("user", pw, sizeof pw)) != 0) return rc;
    gb_auth_t *a;
    if ((rc = open_auth("user", o.data, &a)) != 0) return rc;
    int exit = GB_EXIT_OK;
    if (list) {
        gb_user_info_t u[64];
        size_t n;
        bool more = true;
        const char *after = NULL;
        char last[GB_AUTH_NAME_MAX + 1] = "", ts[40];
        while (more) {
            gb_auth_user_list(a, after, u, 64, &n, &more);
            for (size_t i = 0; i < n; i++) {
                time_text(u[i].created, ts, sizeof ts);
                printf("%-24s %-9s %s\n", u[i].name, gb_role_name(u[i].role), ts);
            }
            if (n) gb_strlcpy(last, u[n - 1].name, sizeof last);
            after = last;
        }
        goto out;
    }
    const char *name = pos[0];
    if (add) rc = gb_auth_user_add(a, name, role, pw);
    else if (passwd) rc = gb_auth_user_set(a, name, GB_ROLE_NONE, pw, &old);
    else rc = gb_auth_user_del(a, name, &old);
    sodium_memzero(pw, sizeof pw);
    if (rc == GB_EINVAL)
        exit = gb_cli_usage_error("user", "a user name is 1 to %d letters, digits, '_', '.' or '-' "
                                          "(not starting with '.' or '-'); a password %d to %d bytes",
                                  GB_AUTH_NAME_MAX, GB_AUTH_PASSWORD_MIN, GB_AUTH_PASSWORD_MAX);
    else if (rc == GB_EEXIST) exit = gb_cli_usage_error("user", "a user named '%s' exists already", name);
    else if (rc == GB_ENOENT) exit = gb_cli_usage_error("user", "no user named '%s'", name);
    else if (rc == GB_EACCES)
        exit = gb_cli_usage_error("user", "'%s' is the last admin; add another admin first", name);
    else if (rc) {
        fprintf(stderr, "gemba user: cannot write %s/auth/users\n", o.data);
        exit = GB_EXIT_FAIL;
    } else if (add) {
        audit(o.data, "user add", name, NULL, gb_role_name(role));
        fprintf(stderr, "gemba user: added %s (%s); " PICKUP "\n", name, gb_role_name(role));
    } else if (passwd) {
        char after[64];
        snprintf(after, sizeof after, "%s, new password", gb_role_name(old));
        audit(o.data, "user change", name, gb_role_name(old), after);
        fprintf(stderr, "gemba user: changed %s; their sessions end; " PICKUP "\n", name);
    } else {
        audit(o.data, "user delete", name, gb_role_name(old), NULL);
        fprintf(stderr, "gemba user: deleted %s; " PICKUP "\n", name);
    }
out:
    gb_auth_free(a);
    return exit;
}

int gb_cmd_token(int argc, char **argv)
{
    static const char usage[] = "expected: gemba token create|revoke|list ... (see gemba help token)";
    if (argc < 2) return gb_cli_usage_error("token", usage);
    const char *verb = argv[1], *pos[1];
    int npos, rc;
    opts_t o;
    if ((rc = parse("token", argc, argv, &o, pos, 1, &npos)) != 0) return rc;
    gb_role_t role = GB_ROLE_NONE;
    if (!strcmp(verb, "create")) {
        if (npos) return gb_cli_usage_error("token", "unexpected argument '%s'", pos[0]);
        if ((rc = role_arg("token", o.role, &role)) != 0) return rc;
    } else if (!strcmp(verb, "revoke")) {
        if (npos != 1 || o.role || o.id)
            return gb_cli_usage_error("token", "expected: gemba token revoke ID [--data DIR]");
    } else if (!strcmp(verb, "list")) {
        if (npos || o.role || o.id) return gb_cli_usage_error("token", "list takes only --data");
    } else {
        return gb_cli_usage_error("token", usage);
    }
    gb_auth_t *a;
    if ((rc = open_auth("token", o.data, &a)) != 0) return rc;
    int exit = GB_EXIT_OK;
    if (!strcmp(verb, "create")) {
        char *secret = NULL;
        gb_token_info_t info;
        struct passwd *pw = getpwuid(geteuid());
        rc = gb_auth_token_create(a, o.id, role, pw ? pw->pw_name : NULL, &secret, &info);
        if (rc == GB_EINVAL)
            exit = gb_cli_usage_error("token", "'%s' is not a token name (letters, digits, '-' and "
                                               "'.', no '_', at most %d)", o.id, GB_AUTH_NAME_MAX);
        else if (rc == GB_EEXIST)
            exit = gb_cli_usage_error("token", "a token named '%s' exists already", o.id);
        else if (rc) {
            fprintf(stderr, "gemba token: cannot write %s/auth/tokens\n", o.data);
            exit = GB_EXIT_FAIL;
        } else {
            printf("%s\n", secret);
            audit(o.data, "token create", info.id, NULL, gb_role_name(role));
            fprintf(stderr, "gemba token: created %s (%s); this is the only time it is shown. Send "
                            "it as 'Authorization: Bearer <token>'; " PICKUP ".\n",
                    info.id, gb_role_name(role));
            sodium_memzero(secret, strlen(secret));
            free(secret);
        }
    } else if (!strcmp(verb, "revoke")) {
        gb_role_t old;
        rc = gb_auth_token_revoke(a, pos[0], &old);
        if (rc == GB_ENOENT) exit = gb_cli_usage_error("token", "no token named '%s'", pos[0]);
        else if (rc) {
            fprintf(stderr, "gemba token: cannot write %s/auth/tokens\n", o.data);
            exit = GB_EXIT_FAIL;
        } else {
            audit(o.data, "token revoke", pos[0], gb_role_name(old), NULL);
            fprintf(stderr, "gemba token: revoked %s; " PICKUP "\n", pos[0]);
        }
    } else {
        gb_token_info_t t[64];
        size_t n;
        bool more = true;
        char last[GB_AUTH_NAME_MAX + 1] = "", ts[40];
        const char *after = NULL;
        while (more) {
            gb_auth_token_list(a, after, t, 64, &n, &more);
            for (size_t i = 0; i < n; i++) {
                time_text(t[i].created, ts, sizeof ts);
                printf("%-24s %-9s %-24s %s\n", t[i].id, gb_role_name(t[i].role), ts,
                       t[i].created_by[0] ? t[i].created_by : "-");
            }
            if (n) gb_strlcpy(last, t[n - 1].id, sizeof last);
            after = last;
        }
    }
    gb_auth_free(a);
    return exit;
}
