/*
 * Users, tokens and the first-admin setup code (see gemba/auth.h for the files and the roles).
 *
 * The two files are small (people and integrations, not data), so each is held whole in memory
 * and rewritten whole on a change. Every change runs the same way: take the mutex (threads of
 * this process), take an flock on DATA/auth/lock (other processes: the daemon and the command
 * line), reload what changed on disk, change the copy in memory, write it atomically, and on a
 * failed write reload from disk so memory never claims what the file does not hold. Readers only
 * take the mutex and reload a file whose inode, size or mtime moved; a rename always makes a new
 * inode, so no change can hide behind a coarse clock.
 *
 * Password checks run outside the mutex: an argon2id check takes 0.1 s, and other requests must
 * not queue behind it.
 */
#include "gemba/auth.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/buf.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_HASH_LEN 32
#define TOKEN_RANDOM 24   /* bytes of secret in a token: 192 bits */
#define MAX_HASHING 2     /* password checks at once (each holds 64 MiB) */
#define LINE_MAX_LEN 512

/* Checked against when the user does not exist, so both answers take the same time. The
 * parameters match gb_password_hash's; the password behind it does not matter. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$ojldqAoEMcjpWRbTibwoIw$NGo5Bm+8ioMHztT8O6IqGdOcSzqp/9MJUoPmLOCZi7c";

typedef struct user {
    char name[GB_AUTH_NAME_MAX + 1];
    gb_role_t role;
    char hash[GB_AUTH_HASH_MAX];
    gb_time_t created;
} user_t;

typedef struct token {
    char id[GB_AUTH_NAME_MAX + 1];
    gb_role_t role;
    unsigned char hash[TOKEN_HASH_LEN];
    gb_time_t created;
    char by[GB_AUTH_NAME_MAX + 1];
} token_t;

/* What a file looked like when it was read: a change of any field means read it again. */
typedef struct file_sig {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_sig_t;

struct gb_auth {
    pthread_mutex_t mu;
    char *dir, *users_path, *tokens_path, *lock_path;
    user_t *users;
    size_t nusers;
    token_t *tokens;
    size_t ntokens;
    file_sig_t users_sig, tokens_sig;
    int hashing; /* password checks running */
    bool setup_active;
    gb_time_t setup_expires;
    unsigned char setup_hash[32];
};

static const char *const role_names[] = {"anonymous", "viewer", "operator", "engineer", "admin"};

const char *gb_role_name(gb_role_t role)
{
    return (unsigned)role <= GB_ROLE_ADMIN ? role_names[role] : "?";
}

int gb_role_parse(const char *s, gb_role_t *out)
{
    for (int r = GB_ROLE_VIEWER; r <= GB_ROLE_ADMIN; r++)
        if (s && !strcmp(s, role_names[r])) {
            *out = (gb_role_t)r;
            return 0;
        }
    return GB_EINVAL;
}

static bool password_ok(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    return n >= GB_AUTH_PASSWORD_MIN && n <= GB_AUTH_PASSWORD_MAX;
}

static bool name_ok(const char *name)
{
    return name && gb_name_valid(name) && strlen(name) <= GB_AUTH_NAME_MAX;
}

int gb_password_hash(const char *password, char out[GB_AUTH_HASH_MAX])
{
    if (!password_ok(password)) return GB_EINVAL;
    if (sodium_init() < 0) return GB_EIO;
    _Static_assert(crypto_pwhash_STRBYTES <= GB_AUTH_HASH_MAX, "hash buffer");
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return GB_ENOMEM;
    return 0;
}

bool gb_password_verify(const char *hash, const char *password)
{
    if (!password || strlen(password) > GB_AUTH_PASSWORD_MAX || sodium_init() < 0) return false;
    /* libsodium takes the hash as a buffer of crypto_pwhash_STRBYTES: a shorter string (a
     * damaged users file) is copied into one, zero-filled, rather than read past its end */
    char h[crypto_pwhash_STRBYTES] = {0};
    size_t n = hash ? strnlen(hash, sizeof h) : sizeof h;
    if (n == sizeof h) return false; /* none, or longer than any hash */
    memcpy(h, hash, n);
    return crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
}

static void token_hash(const char *secret, unsigned char out[TOKEN_HASH_LEN])
{
    crypto_generichash(out, TOKEN_HASH_LEN, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

static void cred_of(const char *pwhash, unsigned char cred[GB_AUTH_CRED_LEN])
{
    crypto_generichash(cred, GB_AUTH_CRED_LEN, (const unsigned char *)pwhash, strlen(pwhash), NULL,
                       0);
}

/* --- reading the files --------------------------------------------------------------------- */

static file_sig_t sig_of(const char *path)
{
    struct stat st;
    file_sig_t s = {0};
    if (stat(path, &st) == 0) s = (file_sig_t){true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    return s;
}

static bool sig_same(const file_sig_t *a, const file_sig_t *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Splits LINE into at most MAX whitespace-separated fields; returns how many. */
static int fields(char *line, char **f, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save))
        f[n++] = t;
    return n;
}

static bool parse_time(const char *s, gb_time_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 0) return false;
    *out = v;
    return true;
}

/* One line of the users file into *U; false for a malformed line. */
static bool parse_user(char *line, user_t *u)
{
    char *f[5];
    if (fields(line, f, 5) != 4 || !name_ok(f[0]) || gb_role_parse(f[1], &u->role) != 0 ||
        strncmp(f[2], "$argon2id$", 10) || strlen(f[2]) >= sizeof u->hash ||
        !parse_time(f[3], &u->created))
        return false;
    gb_strlcpy(u->name, f[0], sizeof u->name);
    gb_strlcpy(u->hash, f[2], sizeof u->hash);
    return true;
}

/* One line of the tokens file; the creation fields are optional (older files lack them). */
static bool parse_token(char *line, token_t *t)
{
    char *f[6];
    int n = fields(line, f, 6);
    if ((n != 3 && n != 5) || !name_ok(f[0]) || strchr(f[0], '_') ||
        gb_role_parse(f[1], &t->role) != 0 || strlen(f[2]) != 2 * TOKEN_HASH_LEN ||
        sodium_hex2bin(t->hash, TOKEN_HASH_LEN, f[2], strlen(f[2]), NULL, NULL, NULL) != 0)
        return false;
    gb_strlcpy(t->id, f[0], sizeof t->id);
    t->created = 0;
    t->by[0] = 0;
    if (n == 5) {
        if (!parse_time(f[3], &t->created)) return false;
        if (strcmp(f[4], "-")) {
            if (strlen(f[4]) > GB_AUTH_NAME_MAX) return false;
            gb_strlcpy(t->by, f[4], sizeof t->by);
        }
    }
    return true;
}

/*
 * Reads PATH's records with PARSE into a fresh array. A malformed line is skipped and named in the
 * log (one bad line must not lock every user out); a record whose name repeats an earlier one is
 * skipped too. Returns 0 (a missing file is empty) or GB_EIO.
 */
static int load(const char *path, size_t size, bool (*parse)(char *, void *), void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : GB_EIO;
    char line[LINE_MAX_LEN];
    unsigned lineno = 0;
    char *arr = NULL;
    size_t cnt = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') { /* too long: skip the rest */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {}
            gb_warn("auth", "%s:%u: line too long; ignored", path, lineno);
            continue;
        }
        if (line[0] == '#' || strspn(line, " \t\r\n") == len) continue;
        arr = gb_xrealloc(arr, (cnt + 1) * size);
        char *rec = arr + cnt * size;
        memset(rec, 0, size);
        if (!parse(line, rec)) {
            gb_warn("auth", "%s:%u: not a valid record; ignored", path, lineno);
            continue;
        }
        bool dup = false; /* both records start with their name */
        for (size_t i = 0; i < cnt && !dup; i++) dup = !strcmp(arr + i * size, rec);
        if (dup) {
            gb_warn("auth", "%s:%u: '%s' is named twice; the first is used", path, lineno, rec);
            continue;
        }
        cnt++;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(arr);
        return GB_EIO;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

static bool parse_user_v(char *line, void *rec) { return parse_user(line, rec); }
static bool parse_token_v(char *line, void *rec) { return parse_token(line, rec); }

/* Reloads whichever file changed (mutex held). FORCE reloads both. A file that cannot be read
 * keeps what was read before, and says so. */
static int refresh(gb_auth_t *a, bool force)
{
    int rc = 0;
    file_sig_t us = sig_of(a->users_path), ts = sig_of(a->tokens_path);
    if (force || !sig_same(&us, &a->users_sig)) {
        void *arr;
        size_t n;
        if (load(a->users_path, sizeof(user_t), parse_user_v, &arr, &n) == 0) {
            sodium_memzero(a->users, a->nusers * sizeof *a->users);
            free(a->users);
            a->users = arr;
            a->nusers = n;
            a->users_sig = us;
        } else {
            gb_error("auth", "cannot read %s: %s", a->users_path, strerror(errno));
            rc = GB_EIO;
        }
    }
    if (force || !sig_same(&ts, &a->tokens_sig)) {
        void *arr;
        size_t n;
        if (load(a->tokens_path, sizeof(token_t), parse_token_v, &arr, &n) == 0) {
            free(a->tokens);
            a->tokens = arr;
            a->ntokens = n;
            a->tokens_sig = ts;
        } else {
            gb_error("auth", "cannot read %s: %s", a->tokens_path, strerror(errno));
            rc = GB_EIO;
        }
    }
    return rc;
}

/* --- writing the files --------------------------------------------------------------------- */

/* Replaces PATH by CONTENT so that a crash leaves the old file or the new one, never a mix. */
static int write_atomic(const char *dir, const char *path, const gb_buf_t *content)
{
    char *tmp = gb_xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = GB_EIO, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto out;
    size_t off = 0;
    while (off < content->len) {
        ssize_t w = write(fd, content->p + off, content->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto out;
        off += (size_t)w;
    }
    if (fsync(fd) != 0) goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto out;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself must survive a power cut */
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (rc) {
        gb_error("auth", "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    if (fd >= 0) close(fd);
    free(tmp);
    return rc;
}

static void buf_printf(gb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(gb_buf_t *b, const char *fmt, ...)
{
    char line[LINE_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line || gb_buf_append(b, line, (size_t)n) != 0) abort();
}

static int save_users(gb_auth_t *a)
{
    gb_buf_t b;
    gb_buf_init(&b);
    buf_printf(&b, "# name role argon2id-hash created-ns -- written by gemba; passwords are never "
                   "stored\n");
    for (size_t i = 0; i < a->nusers; i++)
        buf_printf(&b, "%s %s %s %lld\n", a->users[i].name, gb_role_name(a->users[i].role),
                   a->users[i].hash, (long long)a->users[i].created);
    int rc = write_atomic(a->dir, a->users_path, &b);
    sodium_memzero(b.p, b.len);
    gb_buf_clear(&b);
    return rc;
}

static int save_tokens(gb_auth_t *a)
{
    gb_buf_t b;
    gb_buf_init(&b);
    buf_printf(&b, "# id role blake2b-256(token) created-ns created-by -- tokens themselves are "
                   "never stored\n");
    for (size_t i = 0; i < a->ntokens; i++) {
        char hh[2 * TOKEN_HASH_LEN + 1];
        sodium_bin2hex(hh, sizeof hh, a->tokens[i].hash, TOKEN_HASH_LEN);
        buf_printf(&b, "%s %s %s %lld %s\n", a->tokens[i].id, gb_role_name(a->tokens[i].role), hh,
                   (long long)a->tokens[i].created, a->tokens[i].by[0] ? a->tokens[i].by : "-");
    }
    int rc = write_atomic(a->dir, a->tokens_path, &b);
    gb_buf_clear(&b);
    return rc;
}

/*
 * The frame of every change: mutex, flock, a fresh read of both files, then CHANGE on the copy in
 * memory, then the file it touched written. CHANGE returns 0 to save, or an error to leave
 * everything as it was.
 */
typedef int (*change_fn)(gb_auth_t *a, void *arg);

static int mutate(gb_auth_t *a, bool users, change_fn change, void *arg)
{
    pthread_mutex_lock(&a->mu);
    int rc = GB_EIO, lfd = open(a->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
        gb_error("auth", "cannot lock %s: %s", a->lock_path, strerror(errno));
        goto out;
    }
    if ((rc = refresh(a, true)) != 0) goto out;
    if ((rc = change(a, arg)) != 0) goto out;
    rc = users ? save_users(a) : save_tokens(a);
    if (rc) refresh(a, true); /* memory holds what the file holds */
    else if (users) a->users_sig = sig_of(a->users_path);
    else a->tokens_sig = sig_of(a->tokens_path);
out:
    if (lfd >= 0) close(lfd); /* releases the flock */
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* --- opening -------------------------------------------------------------------------------- */

int gb_auth_open(const char *data_dir, gb_auth_t **out)
{
    *out = NULL;
    if (!*data_dir) { /* "" + "/auth" would be a directory at the root of the file system */
        gb_error("auth", "the data directory's name is empty: give --data a directory");
        return GB_EINVAL;
    }
    if (sodium_init() < 0) {
        gb_error("auth", "libsodium failed to initialise");
        return GB_EIO;
    }
    gb_auth_t *a = gb_xcalloc(1, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->dir = gb_xasprintf("%s/auth", data_dir);
    a->users_path = gb_xasprintf("%s/users", a->dir);
    a->tokens_path = gb_xasprintf("%s/tokens", a->dir);
    a->lock_path = gb_xasprintf("%s/lock", a->dir);
    if ((mkdir(data_dir, 0750) != 0 && errno != EEXIST) || (mkdir(a->dir, 0700) != 0 && errno != EEXIST)) {
        gb_error("auth", "cannot create %s: %s", a->dir, strerror(errno));
        gb_auth_free(a);
        return GB_EIO;
    }
    pthread_mutex_lock(&a->mu);
    int rc = refresh(a, true);
    pthread_mutex_unlock(&a->mu);
    if (rc) {
        gb_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void gb_auth_free(gb_auth_t *a)
{
    if (!a) return;
    sodium_memzero(a->users, a->nusers * sizeof *a->users);
    free(a->users);
    free(a->tokens);
    free(a->dir);
    free(a->users_path);
    free(a->tokens_path);
    free(a->lock_path);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* --- checking callers ----------------------------------------------------------------------- */

static user_t *find_user(gb_auth_t *a, const char *name)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (!strcmp(a->users[i].name, name)) return &a->users[i];
    return NULL;
}

static token_t *find_token(gb_auth_t *a, const char *id)
{
    for (size_t i = 0; i < a->ntokens; i++)
        if (!strcmp(a->tokens[i].id, id)) return &a->tokens[i];
    return NULL;
}

static void principal_of_user(const user_t *u, gb_principal_t *who)
{
    memset(who, 0, sizeof *who);
    gb_strlcpy(who->name, u->name, sizeof who->name);
    who->role = u->role;
    who->via = GB_VIA_SESSION;
    cred_of(u->hash, who->cred);
}

size_t gb_auth_user_count(gb_auth_t *a)
{
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    size_t n = a->nusers;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int gb_auth_token_check(gb_auth_t *a, const char *token, gb_principal_t *who)
{
    if (!token || !*token || strlen(token) > 200) return GB_EACCES;
    unsigned char h[TOKEN_HASH_LEN];
    token_hash(token, h);
    int rc = GB_EACCES;
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    for (size_t i = 0; i < a->ntokens; i++) /* every entry, so the time says nothing */
        if (sodium_memcmp(h, a->tokens[i].hash, TOKEN_HASH_LEN) == 0 && rc) {
            memset(who, 0, sizeof *who);
            gb_strlcpy(who->name, a->tokens[i].id, sizeof who->name);
            who->role = a->tokens[i].role;
            who->via = GB_VIA_TOKEN;
            rc = 0;
        }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int gb_auth_login(gb_auth_t *a, const char *user, const char *password, gb_principal_t *who)
{
    char hash[GB_AUTH_HASH_MAX];
    pthread_mutex_lock(&a->mu);
    if (a->hashing >= MAX_HASHING) {
        pthread_mutex_unlock(&a->mu);
        return GB_EBUSY;
    }
    a->hashing++;
    refresh(a, false);
    user_t *u = user ? find_user(a, user) : NULL;
    gb_strlcpy(hash, u ? u->hash : dummy_hash, sizeof hash);
    pthread_mutex_unlock(&a->mu);

    bool ok = gb_password_verify(hash, password) && u;

    int rc = GB_EACCES;
    pthread_mutex_lock(&a->mu);
    a->hashing--;
    refresh(a, false);
    /* the user may have been deleted or given a new password while we hashed */
    u = ok ? find_user(a, user) : NULL;
    if (u && !strcmp(u->hash, hash)) {
        principal_of_user(u, who);
        rc = 0;
    }
    pthread_mutex_unlock(&a->mu);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int gb_auth_session_user(gb_auth_t *a, const char *user, const unsigned char cred[GB_AUTH_CRED_LEN],
                         gb_principal_t *who)
{
    int rc = GB_EACCES;
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    user_t *u = find_user(a, user);
    if (u) {
        principal_of_user(u, who);
        if (sodium_memcmp(who->cred, cred, GB_AUTH_CRED_LEN) == 0) rc = 0;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* --- users ---------------------------------------------------------------------------------- */

static size_t admins(const gb_auth_t *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nusers; i++) n += a->users[i].role == GB_ROLE_ADMIN;
    return n;
}

typedef struct user_change {
    const char *name;
    gb_role_t role;
    const char *hash; /* new password hash, or NULL */
    gb_role_t old;
    bool only_if_none; /* the setup: only while no user exists */
} user_change_t;

static int add_user(gb_auth_t *a, void *arg)
{
    user_change_t *c = arg;
    if (c->only_if_none && a->nusers) return GB_EEXIST;
    if (find_user(a, c->name)) return GB_EEXIST;
    a->users = gb_xrealloc(a->users, (a->nusers + 1) * sizeof *a->users);
    user_t *u = &a->users[a->nusers++];
    memset(u, 0, sizeof *u);
    gb_strlcpy(u->name, c->name, sizeof u->name);
    u->role = c->role;
    gb_strlcpy(u->hash, c->hash, sizeof u->hash);
    u->created = gb_now();
    return 0;
}

int gb_auth_user_add(gb_auth_t *a, const char *name, gb_role_t role, const char *password)
{
    if (!name_ok(name) || role < GB_ROLE_VIEWER || role > GB_ROLE_ADMIN || !password_ok(password))
        return GB_EINVAL;
    char hash[GB_AUTH_HASH_MAX];
    int rc = gb_password_hash(password, hash);
    if (rc) return rc;
    user_change_t c = {name, role, hash, GB_ROLE_NONE, false};
    rc = mutate(a, true, add_user, &c);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

static int set_user(gb_auth_t *a, void *arg)
{
    user_change_t *c = arg;
    user_t *u = find_user(a, c->name);
    if (!u) return GB_ENOENT;
    c->old = u->role;
    if (c->role != GB_ROLE_NONE && c->role != GB_ROLE_ADMIN && u->role == GB_ROLE_ADMIN &&
        admins(a) == 1)
        return GB_EACCES; /* nobody could manage users any more */
    if (c->role != GB_ROLE_NONE) u->role = c->role;
    if (c->hash) gb_strlcpy(u->hash, c->hash, sizeof u->hash);
    return 0;
}

int gb_auth_user_set(gb_auth_t *a, const char *user, gb_role_t role, const char *password,
                     gb_role_t *old)
{
    if (!user || role < GB_ROLE_NONE || role > GB_ROLE_ADMIN || (password && !password_ok(password)))
        return GB_EINVAL;
    char hash[GB_AUTH_HASH_MAX];
    int rc;
    if (password && (rc = gb_password_hash(password, hash)) != 0) return rc;
    user_change_t c = {user, role, password ? hash : NULL, GB_ROLE_NONE, false};
    rc = mutate(a, true, set_user, &c);
    sodium_memzero(hash, sizeof hash);
    if (!rc && old) *old = c.old;
    return rc;
}

static int del_user(gb_auth_t *a, void *arg)
{
    user_change_t *c = arg;
    user_t *u = find_user(a, c->name);
    if (!u) return GB_ENOENT;
    c->old = u->role;
    if (u->role == GB_ROLE_ADMIN && admins(a) == 1) return GB_EACCES;
    size_t i = (size_t)(u - a->users);
    sodium_memzero(u, sizeof *u);
    memmove(u, u + 1, (a->nusers - i - 1) * sizeof *u);
    a->nusers--;
    return 0;
}

int gb_auth_user_del(gb_auth_t *a, const char *user, gb_role_t *old)
{
    if (!user) return GB_EINVAL;
    user_change_t c = {user, GB_ROLE_NONE, NULL, GB_ROLE_NONE, false};
    int rc = mutate(a, true, del_user, &c);
    if (!rc && old) *old = c.old;
    return rc;
}

static void user_info(const user_t *u, gb_user_info_t *out)
{
    gb_strlcpy(out->name, u->name, sizeof out->name);
    out->role = u->role;
    out->created = u->created;
}

int gb_auth_user_get(gb_auth_t *a, const char *user, gb_user_info_t *out)
{
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    user_t *u = user ? find_user(a, user) : NULL;
    if (u) user_info(u, out);
    pthread_mutex_unlock(&a->mu);
    return u ? 0 : GB_ENOENT;
}

/*
 * The page of a list: up to MAX records (each starting with its name) whose names sort after
 * AFTER, in name order, copied by COPY. A selection over the whole list for each page, which
 * is fine for the people and integrations of one plant.
 */
static void page(const void *recs, size_t n, size_t size, const char *after, void *out, size_t outsize,
                 size_t max, void (*copy)(const void *rec, void *out), size_t *got, bool *more)
{
    const char *last = after && *after ? after : NULL;
    *got = 0;
    *more = false;
    for (;;) {
        const char *best = NULL;
        for (size_t i = 0; i < n; i++) {
            const char *name = (const char *)recs + i * size;
            if ((!last || strcmp(name, last) > 0) && (!best || strcmp(name, best) < 0)) best = name;
        }
        if (!best) return;
        if (*got == max) {
            *more = true;
            return;
        }
        copy(best, (char *)out + *got * outsize);
        (*got)++;
        last = best;
    }
}

static void copy_user(const void *rec, void *out) { user_info(rec, out); }

void gb_auth_user_list(gb_auth_t *a, const char *after, gb_user_info_t *out, size_t max, size_t *n,
                       bool *more)
{
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    page(a->users, a->nusers, sizeof *a->users, after, out, sizeof *out, max, copy_user, n, more);
    pthread_mutex_unlock(&a->mu);
}

/* --- tokens --------------------------------------------------------------------------------- */

static void token_info(const token_t *t, gb_token_info_t *out)
{
    gb_strlcpy(out->id, t->id, sizeof out->id);
    out->role = t->role;
    out->created = t->created;
    gb_strlcpy(out->created_by, t->by, sizeof out->created_by);
}

typedef struct token_change {
    const char *id;
    gb_role_t role;
    const char *by;
    char *secret; /* out */
    token_t made;
} token_change_t;

static int add_token(gb_auth_t *a, void *arg)
{
    token_change_t *c = arg;
    token_t t = {0};
    if (c->id && *c->id) {
        if (find_token(a, c->id)) return GB_EEXIST;
        gb_strlcpy(t.id, c->id, sizeof t.id);
    } else {
        for (unsigned n = 1;; n++) {
            snprintf(t.id, sizeof t.id, "%s-%u", gb_role_name(c->role), n);
            if (!find_token(a, t.id)) break;
        }
    }
    unsigned char raw[TOKEN_RANDOM];
    char hex[2 * TOKEN_RANDOM + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    c->secret = gb_xasprintf("gbt_%s_%s", t.id, hex);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(hex, sizeof hex);
    token_hash(c->secret, t.hash);
    t.role = c->role;
    t.created = gb_now();
    if (c->by) gb_strlcpy(t.by, c->by, sizeof t.by);
    a->tokens = gb_xrealloc(a->tokens, (a->ntokens + 1) * sizeof *a->tokens);
    a->tokens[a->ntokens++] = t;
    c->made = t;
    return 0;
}

int gb_auth_token_create(gb_auth_t *a, const char *id, gb_role_t role, const char *by, char **token,
                         gb_token_info_t *info)
{
    *token = NULL;
    if ((id && *id && (!name_ok(id) || strchr(id, '_'))) || role < GB_ROLE_VIEWER ||
        role > GB_ROLE_ADMIN || (by && (strlen(by) > GB_AUTH_NAME_MAX || strpbrk(by, " \t\r\n"))))
        return GB_EINVAL;
    token_change_t c = {.id = id, .role = role, .by = by};
    int rc = mutate(a, false, add_token, &c);
    if (rc) {
        if (c.secret) sodium_memzero(c.secret, strlen(c.secret));
        free(c.secret);
        return rc;
    }
    *token = c.secret;
    if (info) token_info(&c.made, info);
    return 0;
}

static int del_token(gb_auth_t *a, void *arg)
{
    token_change_t *c = arg;
    token_t *t = find_token(a, c->id);
    if (!t) return GB_ENOENT;
    c->role = t->role;
    size_t i = (size_t)(t - a->tokens);
    memmove(t, t + 1, (a->ntokens - i - 1) * sizeof *t);
    a->ntokens--;
    return 0;
}

int gb_auth_token_revoke(gb_auth_t *a, const char *id, gb_role_t *old)
{
    if (!id) return GB_EINVAL;
    token_change_t c = {.id = id};
    int rc = mutate(a, false, del_token, &c);
    if (!rc && old) *old = c.role;
    return rc;
}

static void copy_token(const void *rec, void *out) { token_info(rec, out); }

void gb_auth_token_list(gb_auth_t *a, const char *after, gb_token_info_t *out, size_t max,
                        size_t *n, bool *more)
{
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    page(a->tokens, a->ntokens, sizeof *a->tokens, after, out, sizeof *out, max, copy_token, n, more);
    pthread_mutex_unlock(&a->mu);
}

/* --- the first admin ------------------------------------------------------------------------ */

static void code_hash(const char *code, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)code, strlen(code), NULL, 0);
}

int gb_auth_setup_begin(gb_auth_t *a, gb_time_t expires, char *code)
{
    int rc = GB_EEXIST;
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    if (!a->nusers) {
        unsigned char raw[32];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(code, GB_AUTH_SETUP_CODE_LEN + 1, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof raw);
        code_hash(code, a->setup_hash);
        a->setup_expires = expires;
        a->setup_active = true;
        rc = 0;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* mutex held */
static bool setup_waiting(gb_auth_t *a, gb_time_t now)
{
    refresh(a, false);
    if (a->nusers) a->setup_active = false; /* someone made a user another way */
    return a->setup_active && now < a->setup_expires;
}

bool gb_auth_setup_pending(gb_auth_t *a, gb_time_t now)
{
    pthread_mutex_lock(&a->mu);
    bool p = setup_waiting(a, now);
    pthread_mutex_unlock(&a->mu);
    return p;
}

/* mutex held */
static bool code_matches(gb_auth_t *a, const char *code, gb_time_t now)
{
    if (!setup_waiting(a, now) || !code || strlen(code) != GB_AUTH_SETUP_CODE_LEN) return false;
    unsigned char h[32];
    code_hash(code, h);
    return sodium_memcmp(h, a->setup_hash, sizeof h) == 0;
}

bool gb_auth_setup_code_ok(gb_auth_t *a, const char *code, gb_time_t now)
{
    pthread_mutex_lock(&a->mu);
    bool ok = code_matches(a, code, now);
    pthread_mutex_unlock(&a->mu);
    return ok;
}

int gb_auth_setup_finish(gb_auth_t *a, const char *code, const char *name, const char *password,
                         gb_time_t now, gb_principal_t *who)
{
    if (gb_auth_user_count(a)) return GB_EEXIST;
    /* the code first: a wrong one must not cost a password hash */
    if (!gb_auth_setup_code_ok(a, code, now)) return GB_EACCES;
    if (!name_ok(name) || !password_ok(password)) return GB_EINVAL;
    char hash[GB_AUTH_HASH_MAX];
    int rc = gb_password_hash(password, hash);
    if (rc) return rc;
    pthread_mutex_lock(&a->mu);
    /* once: whoever comes second finds the code used */
    if (!code_matches(a, code, now)) {
        bool done = a->nusers > 0;
        pthread_mutex_unlock(&a->mu);
        sodium_memzero(hash, sizeof hash);
        return done ? GB_EEXIST : GB_EACCES;
    }
    a->setup_active = false;
    pthread_mutex_unlock(&a->mu);
    user_change_t c = {name, GB_ROLE_ADMIN, hash, GB_ROLE_NONE, true};
    rc = mutate(a, true, add_user, &c);
    if (rc && rc != GB_EEXIST) { /* not written: the code still stands */
        pthread_mutex_lock(&a->mu);
        a->setup_active = true;
        pthread_mutex_unlock(&a->mu);
    }
    if (!rc && who) {
        pthread_mutex_lock(&a->mu);
        user_t *u = find_user(a, name);
        if (u) principal_of_user(u, who);
        else rc = GB_EIO;
        pthread_mutex_unlock(&a->mu);
    }
    sodium_memzero(hash, sizeof hash);
    return rc;
}
