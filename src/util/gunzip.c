/* gzip bodies with libdeflate: a member at a time, into a buffer that grows up to a limit. */
#include "util/gunzip.h"
#include "gemba/error.h"

#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int gb_gunzip(const void *in, size_t n, size_t max, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (n < 18) return GB_EPROTO; /* a header and a trailer at least */
    /* the first guess: the last member's length, from its trailer (modulo 2^32, and the client
     * may lie: it only sizes the buffer) */
    const uint8_t *p = in;
    size_t guess =
        (size_t)p[n - 4] | (size_t)p[n - 3] << 8 | (size_t)p[n - 2] << 16 | (size_t)p[n - 1] << 24;
    size_t cap = guess < 4096 ? 4096 : guess;
    if (cap > max) cap = max;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    char *buf = d ? malloc(cap + 1) : NULL;
    if (!buf) {
        libdeflate_free_decompressor(d);
        return GB_ENOMEM;
    }
    size_t len = 0;
    int rc = 0;
    while (n) {
        size_t used = 0, made = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(d, p, n, buf + len, cap - len, &used, &made);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) { /* this member again, with more room */
            if (cap >= max) {
                rc = GB_ERANGE;
                break;
            }
            size_t more = cap > max / 2 ? max : cap * 2;
            char *b = realloc(buf, more + 1);
            if (!b) {
                rc = GB_ENOMEM;
                break;
            }
            buf = b;
            cap = more;
            continue;
        }
        if (r != LIBDEFLATE_SUCCESS) {
            rc = GB_EPROTO;
            break;
        }
        len += made;
        p += used;
        n -= used;
    }
    libdeflate_free_decompressor(d);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *outlen = len;
    return 0;
}
