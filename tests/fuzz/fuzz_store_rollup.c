/*
 * libFuzzer target: the two parsers of rollup files -- a chunk of rollups, as every numeric type
 * and width, and a file's footer. A chunk that decodes must re-encode to one that decodes to the
 * same rollups; a footer parse must not read outside its input or accept a chunk past its end.
 */
#include "store/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_series(void *ctx, const char *path, size_t plen, gb_vtype_t type, gb_time_t rolled)
{
    (void)ctx;
    (void)rolled;
    volatile char c = plen ? path[plen - 1] : 0; /* the path lies inside the input */
    (void)c;
    return type == GB_VT_STR ? 1 : 0;
}

static int on_chunk(void *ctx, const gb_rref_t *r)
{
    if (r->off + r->len + 8 > *(const uint64_t *)ctx) __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gb_rollup_t out[GB_ROLLUP_CHUNK_MAX], again[GB_ROLLUP_CHUNK_MAX];
    for (int t = GB_VT_F64; t <= GB_VT_BOOL; t++)
        for (int w = 0; w < GB_ROLLUP_WIDTHS; w++) {
            size_t n;
            if (gb_rollup_decode(data, size, (gb_vtype_t)t, w, out, &n) != 0) continue;
            if (n == 0 || n > GB_ROLLUP_CHUNK_MAX) __builtin_trap();
            gb_buf_t b;
            gb_buf_init(&b);
            gb_rollup_encode((gb_vtype_t)t, w, out, n, &b);
            size_t m;
            if (gb_rollup_decode(b.p, b.len, (gb_vtype_t)t, w, again, &m) != 0 || m != n ||
                memcmp(out, again, n * sizeof *out) != 0)
                __builtin_trap();
            gb_buf_clear(&b);
        }
    uint64_t foff = size; /* as if the chunks ended where the input does */
    gb_rollup_footer(data, size, foff, on_series, on_chunk, &foff);
    return 0;
}
