/*
 * libFuzzer target: the shortest float text. The input's first eight bytes as a double, and the
 * input as decimal text read into a double, are each formatted by gb_textio_f64_format's exact
 * integer path and by its printf definition: the bytes must be the same, and must read back to
 * the same double.
 */
#include "store/textio.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(double d)
{
    char fast[GB_TEXTIO_F64_MAX], def[GB_TEXTIO_F64_MAX];
    size_t nf = gb_textio_f64_format(d, fast), nd = gb_textio_f64_format_printf(d, def);
    if (nf != nd || memcmp(fast, def, nf + 1)) __builtin_trap();
    double back;
    if (isfinite(d) && (gb_textio_f64_parse(fast, nf, 0, &back) || memcmp(&back, &d, sizeof d)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 8) {
        double d;
        memcpy(&d, data, sizeof d);
        check(d);
    }
    double v;
    if (gb_textio_f64_parse((const char *)data, size, GB_TEXTIO_PLUS, &v) == 0) {
        check(v);
        check(nextafter(v, 0));
        check(nextafter(v, INFINITY));
    }
    return 0;
}
