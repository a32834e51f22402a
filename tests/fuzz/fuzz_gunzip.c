/*
 * libFuzzer target: gzip bodies (gb_gunzip). The input is taken as a body as it came, and must
 * be refused or decompressed without a fault; then it is compressed here, as one member and as
 * two, and must come back exactly.
 */
#include "gemba/error.h"
#include "util/gunzip.h"

#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out;
    size_t len;
    int rc = gb_gunzip(data, size, MAX, &out, &len);
    if (rc == 0) {
        if (len > MAX || out[len] != 0) abort();
        free(out);
    } else if (rc != GB_EPROTO && rc != GB_ERANGE) {
        abort();
    }
    /* the input as text: one member, and two (split where its first byte says) */
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(size % 13);
    if (!c) return 0;
    size_t cut = size ? data[0] % (size + 1) : 0, bound = libdeflate_gzip_compress_bound(c, size);
    uint8_t *z = malloc(2 * bound + 64);
    size_t z1 = libdeflate_gzip_compress(c, data, cut, z, bound + 32);
    size_t z2 = libdeflate_gzip_compress(c, data + cut, size - cut, z + z1, bound + 32);
    libdeflate_free_compressor(c);
    if (!z1 || !z2) abort();
    for (int two = 0; two < 2; two++) {
        const uint8_t *body = two ? z : z + z1;
        size_t blen = two ? z1 + z2 : z2;
        const uint8_t *want = two ? data : data + cut;
        size_t wlen = two ? size : size - cut;
        if (gb_gunzip(body, blen, MAX, &out, &len) != 0 || len != wlen ||
            (wlen && memcmp(out, want, wlen) != 0))
            abort();
        free(out);
        /* one byte less room than it needs: refused as too long, not cut short */
        if (wlen) {
            if (gb_gunzip(body, blen, wlen - 1, &out, &len) != GB_ERANGE) abort();
        }
    }
    free(z);
    return 0;
}
