/*
 * API tokens. Every request that changes something must carry one (`Authorization: Bearer
 * <token>`, or `Token <token>`). Tokens are stored hashed (BLAKE2b through libsodium; they are
 * long random strings, so a fast hash is right) in DATA/auth/tokens, one per line: id, role,
 * hash. On the first start with no token file, the daemon creates an admin token and shows it
 * once. Users, passwords and more roles come with the dashboard.
 */
#ifndef GEMBA_AUTH_H
#define GEMBA_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gb_auth gb_auth_t;

/*
 * Loads DATA_DIR/auth/tokens, creating it with one admin token when missing; *CREATED then gets
 * the new token's text (caller frees) to show once, else NULL. Returns NULL on an I/O error
 * (logged).
 */
gb_auth_t *gb_auth_open(const char *data_dir, char **created);
void gb_auth_free(gb_auth_t *a);

/*
 * Adds an admin token named ID to DATA_DIR/auth/tokens (created when missing); *TOKEN gets its
 * text (caller frees), which is never stored. A running daemon reads tokens at its start.
 * Returns 0, GB_EINVAL for a bad or taken ID, GB_EIO.
 */
int gb_auth_create(const char *data_dir, const char *id, char **token);

/* Checks an Authorization header value. true and *ID (the token's id, valid as long as A) and
 * *ROLE when a known token; false otherwise. Constant time in the secret. */
bool gb_auth_check(const gb_auth_t *a, const char *header, const char **id, const char **role);

#endif
