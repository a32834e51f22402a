/* API tokens: generated from libsodium's CSPRNG, stored as BLAKE2b hashes, compared in constant
 * time. */
#include "gemba/auth.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/str.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HASH_LEN 32

typedef struct token {
    char id[32];
    char role[16];
    unsigned char hash[HASH_LEN];
} token_t;

struct gb_auth {
    token_t *t;
    size_t n;
};

static void hash(const char *secret, unsigned char out[HASH_LEN])
{
    crypto_generichash(out, HASH_LEN, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

gb_auth_t *gb_auth_open(const char *data_dir, char **created)
{
    *created = NULL;
    if (sodium_init() < 0) {
        gb_error("auth", "libsodium failed to initialise");
        return NULL;
    }
    char *dir = gb_xasprintf("%s/auth", data_dir), *file = gb_xasprintf("%s/tokens", dir);
    gb_auth_t *a = gb_xcalloc(1, sizeof *a);
    FILE *f = fopen(file, "r");
    if (!f && errno == ENOENT) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail;
        unsigned char raw[24];
        randombytes_buf(raw, sizeof raw);
        char hex[2 * sizeof raw + 1];
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        char *token = gb_xasprintf("gbt_admin-1_%s", hex);
        unsigned char h[HASH_LEN];
        hash(token, h);
        char hh[2 * HASH_LEN + 1];
        sodium_bin2hex(hh, sizeof hh, h, HASH_LEN);
        char *tmp = gb_xasprintf("%s.tmp", file);
        FILE *w = fopen(tmp, "w");
        if (!w || fchmod(fileno(w), 0600) != 0 ||
            fprintf(w, "# id role blake2b-256(token) -- tokens themselves are never stored\n"
                       "admin-1 admin %s\n", hh) < 0 ||
            fclose(w) != 0 || rename(tmp, file) != 0) {
            free(tmp);
            free(token);
            goto fail;
        }
        free(tmp);
        *created = token;
        f = fopen(file, "r");
    }
    if (!f) goto fail;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        token_t t = {0};
        char hh[2 * HASH_LEN + 8];
        if (sscanf(line, "%31s %15s %70s", t.id, t.role, hh) != 3 ||
            sodium_hex2bin(t.hash, HASH_LEN, hh, strlen(hh), NULL, NULL, NULL) != 0)
            continue;
        a->t = gb_xrealloc(a->t, (a->n + 1) * sizeof *a->t);
        a->t[a->n++] = t;
    }
    fclose(f);
    free(dir);
    free(file);
    return a;
fail:
    gb_error("auth", "cannot read or create %s: %s", file, strerror(errno));
    free(dir);
    free(file);
    gb_auth_free(a);
    return NULL;
}

void gb_auth_free(gb_auth_t *a)
{
    if (!a) return;
    sodium_memzero(a->t, a->n * sizeof *a->t);
    free(a->t);
    free(a);
}

bool gb_auth_check(const gb_auth_t *a, const char *header, const char **id, const char **role)
{
    if (!a || !header) return false;
    const char *tok = NULL;
    if (!strncmp(header, "Bearer ", 7)) tok = header + 7;
    else if (!strncmp(header, "Token ", 6)) tok = header + 6;
    if (!tok || strlen(tok) > 200) return false;
    unsigned char h[HASH_LEN];
    hash(tok, h);
    bool ok = false;
    for (size_t i = 0; i < a->n; i++) {
        if (sodium_memcmp(h, a->t[i].hash, HASH_LEN) == 0 && !ok) {
            ok = true;
            *id = a->t[i].id;
            *role = a->t[i].role;
        }
    }
    return ok;
}

int gb_auth_create(const char *data_dir, const char *id, char **token)
{
    *token = NULL;
    if (sodium_init() < 0) return GB_EIO;
    if (!gb_name_valid(id) || strlen(id) > 31 || strchr(id, '_')) return GB_EINVAL;
    char *dir = gb_xasprintf("%s/auth", data_dir), *file = gb_xasprintf("%s/tokens", dir);
    int rc = GB_EIO;
    if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) goto out;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto out;
    FILE *f = fopen(file, "r");
    if (f) {
        char line[256], have[32];
        while (fgets(line, sizeof line, f))
            if (line[0] != '#' && sscanf(line, "%31s", have) == 1 && !strcmp(have, id)) {
                fclose(f);
                rc = GB_EINVAL;
                goto out;
            }
        fclose(f);
    }
    unsigned char raw[24], h[HASH_LEN];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * sizeof raw + 1], hh[2 * HASH_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    char *tok = gb_xasprintf("gbt_%s_%s", id, hex);
    hash(tok, h);
    sodium_bin2hex(hh, sizeof hh, h, HASH_LEN);
    f = fopen(file, "a");
    if (!f || fchmod(fileno(f), 0600) != 0 || fprintf(f, "%s admin %s\n", id, hh) < 0 ||
        fclose(f) != 0) {
        free(tok);
        goto out;
    }
    *token = tok;
    rc = 0;
out:
    free(dir);
    free(file);
    return rc;
}
