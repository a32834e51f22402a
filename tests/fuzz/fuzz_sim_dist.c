/*
 * libFuzzer target: the simulator's distribution syntax (src/sim/dist.c). Any bytes must give a
 * distribution or an error message, never a crash or a read past the text; a distribution that
 * parses must sample finite, non-negative values.
 */
#include "sim/dist.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    gb_dist_t d;
    char err[512];
    if (gb_dist_parse(s, &d, err, sizeof err) == 0) {
        gb_rng_t r;
        gb_rng_seed(&r, size, 0, 0);
        for (int i = 0; i < 64; i++) {
            double x = gb_dist_sample(&d, &r);
            if (!(x >= 0) || isnan(x)) abort(); /* +inf may come from a huge lognormal */
        }
        (void)gb_dist_mean(&d);
        gb_dist_clear(&d);
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    free(s);
    return 0;
}
