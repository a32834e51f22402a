/*
 * libFuzzer target: the store's block decoder, on arbitrary bytes, as each value type. A block
 * that decodes must hold strictly increasing times and no more than a block's points.
 */
#include "store/engine.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int t = GB_VT_F64; t <= GB_VT_STR; t++) {
        gb_pts_t p;
        gb_pts_init(&p, (gb_vtype_t)t);
        if (gb_blockio_read(data, size, &p) == 0) {
            if (p.n == 0 || p.n > GB_STORE_BLOCK_POINTS || !gb_pts_sorted(&p)) __builtin_trap();
            /* what decodes re-encodes to a block that decodes to the same points */
            unsigned char *out = NULL;
            size_t len = 0, cap = 0;
            gb_bstats_t st;
            uint8_t codec;
            gb_blockio_write(&p, 0, p.n, &out, &len, &cap, &st, &codec);
            gb_pts_t q;
            gb_pts_init(&q, (gb_vtype_t)t);
            if (gb_blockio_read(out, len, &q) != 0 || q.n != p.n) __builtin_trap();
            for (size_t i = 0; i < p.n; i++)
                if (q.t[i] != p.t[i] || q.q[i] != p.q[i]) __builtin_trap();
            gb_pts_clear(&q);
            free(out);
        }
        gb_pts_clear(&p);
    }
    return 0;
}
