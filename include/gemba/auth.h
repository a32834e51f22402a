/*
 * Who may do what: users with passwords, API tokens, and the four roles.
 *
 * Roles are ordered; each includes the ones below it:
 *   viewer    reads everything the plant shows (states, OEE, tags, series)
 *   operator  also classifies downtime (reason, split) and enters scrap
 *   engineer  also writes values back to machines, writes to the historian, changes configuration
 *   admin     also manages users and tokens and reads the audit log
 *
 * Both live in DATA/auth/, one record per line, rewritten whole and atomically (a temporary file,
 * fsync, rename, fsync of the directory) under an flock on DATA/auth/lock, so the daemon and
 * `gemba user|token` can change them side by side:
 *   users   NAME ROLE ARGON2ID-HASH CREATED_NS           (libsodium crypto_pwhash_str)
 *   tokens  ID ROLE BLAKE2B-256-HEX [CREATED_NS CREATED_BY]
 * Passwords are hashed with argon2id at libsodium's interactive cost (2 passes over 64 MiB, about
 * 0.1 s), because people choose guessable passwords; tokens are 192 random bits, so a fast hash
 * is enough and keeps every API call cheap. Neither a password nor a token is ever written down.
 *
 * A gb_auth_t caches both files and reloads one as soon as it changes on disk (its inode, size or
 * modification time), so a change made by the command line reaches a running daemon at its next
 * request. Every function is thread-safe.
 */
#ifndef GEMBA_AUTH_H
#define GEMBA_AUTH_H

#include "gemba/time.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum gb_role {
    GB_ROLE_NONE = 0, /* anonymous: no credentials */
    GB_ROLE_VIEWER = 1,
    GB_ROLE_OPERATOR = 2,
    GB_ROLE_ENGINEER = 3,
    GB_ROLE_ADMIN = 4
} gb_role_t;

/* "viewer", "operator", "engineer", "admin" ("anonymous" for GB_ROLE_NONE). */
const char *gb_role_name(gb_role_t role);
/* Parses one of the four role names. Returns 0 or GB_EINVAL. */
int gb_role_parse(const char *s, gb_role_t *out);

#define GB_AUTH_NAME_MAX 63        /* user names and token ids: gb_name_valid, at most this long */
#define GB_AUTH_PASSWORD_MIN 8     /* bytes */
#define GB_AUTH_PASSWORD_MAX 1024  /* bytes; longer input is refused before it is hashed */
#define GB_AUTH_HASH_MAX 128       /* room for a crypto_pwhash_str string */
#define GB_AUTH_CRED_LEN 16        /* see gb_principal_t.cred */
#define GB_AUTH_SETUP_CODE_LEN 43  /* base64url of 32 random bytes */

/* How a request proved who it is. */
typedef enum gb_via { GB_VIA_NONE = 0, GB_VIA_SESSION, GB_VIA_TOKEN } gb_via_t;

/* A caller of the API. Plain data: copies stay valid whatever happens to the files. */
typedef struct gb_principal {
    char name[GB_AUTH_NAME_MAX + 1]; /* user name or token id; "" when anonymous */
    gb_role_t role;
    gb_via_t via;
    /* for a user: BLAKE2b of the stored password hash. A session remembers it, so changing the
     * password ends every session made with the old one. */
    unsigned char cred[GB_AUTH_CRED_LEN];
} gb_principal_t;

/* A user as listed; never carries the password hash. */
typedef struct gb_user_info {
    char name[GB_AUTH_NAME_MAX + 1];
    gb_role_t role;
    gb_time_t created;
} gb_user_info_t;

/* A token as listed; never carries the token or its hash. */
typedef struct gb_token_info {
    char id[GB_AUTH_NAME_MAX + 1];
    gb_role_t role;
    gb_time_t created;                    /* 0 when the file does not say */
    char created_by[GB_AUTH_NAME_MAX + 1]; /* "" when the file does not say */
} gb_token_info_t;

/*
 * Hashes PASSWORD with argon2id (libsodium's interactive limits) into OUT. Returns 0, GB_EINVAL
 * for a password shorter than GB_AUTH_PASSWORD_MIN or longer than GB_AUTH_PASSWORD_MAX, GB_ENOMEM
 * when the 64 MiB the hash needs cannot be had.
 */
int gb_password_hash(const char *password, char out[GB_AUTH_HASH_MAX]);
/* True when PASSWORD matches HASH (a gb_password_hash string). Takes as long as hashing. */
bool gb_password_verify(const char *hash, const char *password);

typedef struct gb_auth gb_auth_t;

/*
 * Opens the users and tokens of DATA_DIR (creating DATA_DIR/auth, mode 0700, when missing).
 * Missing files mean no users or no tokens. Returns 0 with *OUT, or GB_EIO (logged).
 */
int gb_auth_open(const char *data_dir, gb_auth_t **out);
void gb_auth_free(gb_auth_t *a);

/* Users on file now. */
size_t gb_auth_user_count(gb_auth_t *a);

/*
 * Checks a token (the secret itself, "gbt_..."). Returns 0 and fills *WHO (via GB_VIA_TOKEN), or
 * GB_EACCES for an unknown or revoked token. Constant time in the secret.
 */
int gb_auth_token_check(gb_auth_t *a, const char *token, gb_principal_t *who);

/*
 * Checks USER's PASSWORD. Returns 0 and fills *WHO (via GB_VIA_SESSION), GB_EACCES for a wrong
 * password or an unknown user (both take the same time, so a caller cannot tell them apart), or
 * GB_EBUSY when two checks already run: each takes 64 MiB and a core for 0.1 s, and a flood of
 * logins must not take the daemon's memory.
 */
int gb_auth_login(gb_auth_t *a, const char *user, const char *password, gb_principal_t *who);

/*
 * Re-checks a session's user: 0 and *WHO with the user's current role when USER still exists and
 * still has the password CRED was made from; GB_EACCES otherwise.
 */
int gb_auth_session_user(gb_auth_t *a, const char *user, const unsigned char cred[GB_AUTH_CRED_LEN],
                         gb_principal_t *who);

/*
 * Adds a user. Returns 0, GB_EINVAL for a bad name, role or password, GB_EEXIST for a taken
 * name, GB_EIO when the file cannot be written.
 */
int gb_auth_user_add(gb_auth_t *a, const char *name, gb_role_t role, const char *password);

/*
 * Changes USER's role (unless ROLE is GB_ROLE_NONE) and password (unless PASSWORD is NULL).
 * *OLD gets the role before (may be NULL). Returns 0, GB_ENOENT, GB_EINVAL for a bad role or
 * password, GB_EACCES when it would leave no admin, GB_EIO.
 */
int gb_auth_user_set(gb_auth_t *a, const char *user, gb_role_t role, const char *password,
                     gb_role_t *old);

/* Deletes USER; *OLD (may be NULL) gets its role. 0, GB_ENOENT, GB_EACCES (the last admin), GB_EIO. */
int gb_auth_user_del(gb_auth_t *a, const char *user, gb_role_t *old);

/* USER's record: 0 or GB_ENOENT. */
int gb_auth_user_get(gb_auth_t *a, const char *user, gb_user_info_t *out);

/*
 * Up to MAX users whose names sort after AFTER (NULL or "": from the first), in name order, into
 * OUT; *N gets how many, *MORE whether any follow.
 */
void gb_auth_user_list(gb_auth_t *a, const char *after, gb_user_info_t *out, size_t max, size_t *n,
                       bool *more);

/*
 * Creates a token for ROLE. ID names it (gb_name_valid, no '_'); NULL or "" picks "ROLE-N" with
 * the smallest free N. BY (may be NULL) is recorded as its creator. *TOKEN gets the secret
 * ("gbt_ID_<48 hex digits>", caller frees), which is never stored; INFO (may be NULL) its record.
 * Returns 0, GB_EINVAL for a bad id or role, GB_EEXIST for a taken id, GB_EIO.
 */
int gb_auth_token_create(gb_auth_t *a, const char *id, gb_role_t role, const char *by, char **token,
                         gb_token_info_t *info);

/* Revokes token ID: it stops working at once. *OLD (may be NULL) gets its role. 0, GB_ENOENT, GB_EIO. */
int gb_auth_token_revoke(gb_auth_t *a, const char *id, gb_role_t *old);

/* Like gb_auth_user_list, for tokens in id order. */
void gb_auth_token_list(gb_auth_t *a, const char *after, gb_token_info_t *out, size_t max,
                        size_t *n, bool *more);

/*
 * The first admin. While no user exists, gb_auth_setup_begin makes a one-time code, valid until
 * EXPIRES, and puts it in CODE (GB_AUTH_SETUP_CODE_LEN + 1 bytes); only its hash is kept, in
 * memory. Returns 0, or GB_EEXIST when users exist (nothing to set up).
 */
int gb_auth_setup_begin(gb_auth_t *a, gb_time_t expires, char *code);

/* Whether a setup is waiting (no users, a code made and not used or expired). */
bool gb_auth_setup_pending(gb_auth_t *a, gb_time_t now);

/* Whether CODE is the waiting setup code (constant time). */
bool gb_auth_setup_code_ok(gb_auth_t *a, const char *code, gb_time_t now);

/*
 * Creates the first admin NAME with PASSWORD when CODE is the waiting code, and voids the code.
 * Returns 0 and *WHO (may be NULL), GB_EEXIST when a user exists already (setup is done),
 * GB_EACCES for a wrong, used or expired code, GB_EINVAL for a bad name or password, GB_EIO.
 */
int gb_auth_setup_finish(gb_auth_t *a, const char *code, const char *name, const char *password,
                         gb_time_t now, gb_principal_t *who);

#endif
