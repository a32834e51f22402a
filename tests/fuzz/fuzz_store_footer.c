/*
 * libFuzzer target: the footer entries of a block file (gb_bentry_get, blockio.c) on arbitrary
 * bytes. The first byte picks the value type; entries follow, each relative to the one before.
 * Every entry that reads is written again (gb_bentry_put) and must read back the same, every
 * statistic bit for bit.
 */
#include "store/codec_bits.h"
#include "store/engine.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gb_vtype_t type = (gb_vtype_t)(GB_VT_F64 + data[0] % 4);
    gb_rd_t rd, back;
    gb_rd_init(&rd, data + 1, size - 1);
    gb_bentry_ctx_t c = {.next_off = 8}, wc = c, rc = c;
    gb_bref_t r, q;
    uint8_t buf[GB_BENTRY_MAX];
    while (gb_bentry_get(&rd, type, &r, &c) == 0) {
        size_t n = gb_bentry_put(buf, type, &r, &wc);
        if (n > GB_BENTRY_MAX) __builtin_trap();
        gb_rd_init(&back, buf, n);
        if (gb_bentry_get(&back, type, &q, &rc) != 0 || gb_rd_left(&back)) __builtin_trap();
        if (q.off != r.off || q.len != r.len || q.codec != r.codec || q.st.count != r.st.count ||
            q.st.nnum != r.st.nnum || q.st.tmin != r.st.tmin || q.st.tmax != r.st.tmax ||
            gb_f2u(q.st.min) != gb_f2u(r.st.min) || gb_f2u(q.st.max) != gb_f2u(r.st.max) ||
            gb_f2u(q.st.sum) != gb_f2u(r.st.sum) || gb_f2u(q.st.sumsq) != gb_f2u(r.st.sumsq) ||
            q.st.first != r.st.first || q.st.last != r.st.last)
            __builtin_trap();
    }
    return 0;
}
