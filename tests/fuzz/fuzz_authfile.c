/*
 * libFuzzer target: the users and tokens files (DATA/auth/), which the daemon reads whenever they
 * change -- also when someone edits them by hand. The input, split at its first NUL, becomes
 * the two files; then they are read, listed and a token checked. A bad line is skipped and named
 * in the log; nothing may crash, leak or read out of bounds. (No password is checked: a hash
 * string from the input could ask argon2id for gigabytes.)
 */
#include "gemba/auth.h"
#include "gemba/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], users[96], tokens[96], authdir[96];

static void cleanup(void)
{
    char lock[96];
    snprintf(lock, sizeof lock, "%s/lock", authdir);
    unlink(users);
    unlink(tokens);
    unlink(lock);
    rmdir(authdir);
    rmdir(dir);
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) __builtin_trap();
    fwrite(p, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        /* in memory when the machine has /dev/shm: a file per run on a disk is slow */
        struct stat st;
        snprintf(dir, sizeof dir, "%s/gb-fuzz-auth-%d", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp",
                 (int)getpid());
        mkdir(dir, 0700);
        snprintf(authdir, sizeof authdir, "%s/auth", dir);
        mkdir(authdir, 0700);
        snprintf(users, sizeof users, "%s/auth/users", dir);
        snprintf(tokens, sizeof tokens, "%s/auth/tokens", dir);
        gb_log_set_level(GB_LOG_ERROR); /* every bad line says so at warn */
        atexit(cleanup);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t un = nul ? (size_t)(nul - data) : size;
    put(users, data, un);
    put(tokens, nul ? nul + 1 : data, nul ? size - un - 1 : 0);
    gb_auth_t *a;
    if (gb_auth_open(dir, &a) != 0) return 0;
    gb_user_info_t u[4];
    gb_token_info_t t[4];
    size_t n;
    bool more = true;
    char after[GB_AUTH_NAME_MAX + 1] = "";
    for (int pages = 0; more && pages < 64; pages++) {
        gb_auth_user_list(a, after, u, 4, &n, &more);
        if (n > 4 || (more && n != 4)) __builtin_trap();
        for (size_t i = 0; i < n; i++) {
            if (strlen(u[i].name) > GB_AUTH_NAME_MAX || u[i].role < GB_ROLE_VIEWER || u[i].role > GB_ROLE_ADMIN)
                __builtin_trap();
            if (strcmp(u[i].name, after) <= 0) __builtin_trap(); /* strictly in order */
            memcpy(after, u[i].name, sizeof after);
        }
    }
    after[0] = 0;
    more = true;
    for (int pages = 0; more && pages < 64; pages++) {
        gb_auth_token_list(a, after, t, 4, &n, &more);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(t[i].id, after) <= 0 || strchr(t[i].id, '_')) __builtin_trap();
            memcpy(after, t[i].id, sizeof after);
        }
    }
    gb_principal_t who;
    if (gb_auth_token_check(a, "gbt_x_00", &who) == 0 && who.via != GB_VIA_TOKEN) __builtin_trap();
    gb_auth_user_count(a);
    gb_auth_free(a);
    return 0;
}
