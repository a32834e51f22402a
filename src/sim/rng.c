/*
 * The slow paths of the ziggurat normal (src/sim/rng.h) and its tables. The construction and the
 * rejection steps are Marsaglia and Tsang's ("The Ziggurat Method for Generating Random
 * Variables", J. Stat. Software 5(8), 2000), with the layer index and the value taken from
 * separate bits of one 64-bit draw.
 */
#include "sim/rng.h"

#include <pthread.h>

gb_zig_t gb_zig;
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void build(void)
{
    const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
    double dn = 3.442619855899, tn = dn;
    double q = vn / exp(-0.5 * dn * dn);
    gb_zig.kn[0] = (uint32_t)((dn / q) * m1);
    gb_zig.kn[1] = 0;
    gb_zig.wn[0] = q / m1;
    gb_zig.wn[127] = dn / m1;
    gb_zig.fn[0] = 1.0;
    gb_zig.fn[127] = exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; i--) {
        dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)));
        gb_zig.kn[i + 1] = (uint32_t)((dn / tn) * m1);
        tn = dn;
        gb_zig.fn[i] = exp(-0.5 * dn * dn);
        gb_zig.wn[i] = dn / m1;
    }
}

void gb_zig_init(void)
{
    pthread_once(&zig_once, build);
}

double gb_rng_normal_tail(gb_rng_t *r, int64_t hz, uint32_t iz)
{
    const double R = 3.442619855899; /* the start of the tail */
    for (;;) {
        double x = (double)hz * gb_zig.wn[iz];
        if (iz == 0) { /* the base layer's tail beyond R: Marsaglia's exponential method */
            double y;
            do {
                x = -log(gb_rng_u01_open(r)) / R;
                y = -log(gb_rng_u01_open(r));
            } while (y + y < x * x);
            return hz > 0 ? R + x : -R - x;
        }
        if (gb_zig.fn[iz] + gb_rng_u01(r) * (gb_zig.fn[iz - 1] - gb_zig.fn[iz]) < exp(-0.5 * x * x))
            return x;
        uint64_t u = gb_rng_next(r);
        hz = (int32_t)(uint32_t)(u >> 32);
        iz = (uint32_t)u & 127;
        if ((uint64_t)(hz < 0 ? -hz : hz) < gb_zig.kn[iz]) return (double)hz * gb_zig.wn[iz];
    }
}
