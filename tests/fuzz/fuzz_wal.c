/*
 * libFuzzer target: the store's log reader. The input becomes the body of a log segment (after
 * the magic); the store opens it read-only, replays it and reads every series back, so framing,
 * CRC checks, record parsing and the head all see hostile bytes. Records need a valid CRC to get
 * past the framing, so the input is also tried as one record's payload, framed here.
 */
#include "gemba/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], seg[96];

static int each(void *ctx, const char *path, const gb_sample_t *s, const char *str, size_t len)
{
    (void)ctx;
    volatile size_t sink = strlen(path) + (size_t)s->t;
    for (size_t i = 0; i < len; i++)
        sink += (unsigned char)str[i];
    (void)sink;
    return 0;
}

static void run(const uint8_t *body, size_t n, int framed)
{
    FILE *f = fopen(seg, "wb");
    if (!f) abort();
    fwrite("GBWAL\0\1\0", 1, 8, f);
    if (framed) {
        uint32_t len = (uint32_t)n, crc = (uint32_t)crc32(0L, body, (uInt)n);
        fwrite(&len, 4, 1, f);
        fwrite(&crc, 4, 1, f);
    }
    fwrite(body, 1, n, f);
    fclose(f);
    gb_store_read_all(dir, each, NULL);
}

static void cleanup(void)
{
    char w[80];
    snprintf(w, sizeof w, "%s/wal", dir);
    unlink(seg);
    rmdir(w);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        atexit(cleanup);
        snprintf(dir, sizeof dir, "/tmp/gb-fuzz-wal-XXXXXX");
        if (!mkdtemp(dir)) abort();
        char w[80];
        snprintf(w, sizeof w, "%s/wal", dir);
        mkdir(w, 0700);
        snprintf(seg, sizeof seg, "%s/wal/00000001.wal", dir);
    }
    if (size == 0 || size > (1u << 20)) return 0;
    run(data, size, 0);
    run(data, size, 1);
    return 0;
}
