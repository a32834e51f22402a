/*
 * Random numbers for the simulator: xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 * Every random element of a model (a machine's cycle times, each failure mode, scrap, a source)
 * draws from a stream of its own, derived from (seed, replication, stream number). So a run is
 * repeatable bit for bit, replications are independent, and two what-if scenarios that differ in
 * one machine still see the same random numbers everywhere else (common random numbers), which
 * makes their difference sharper than two unrelated runs would.
 */
#ifndef GB_SIM_RNG_H
#define GB_SIM_RNG_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gb_rng {
    uint64_t s[4];
} gb_rng_t;

static inline uint64_t gb_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void gb_zig_init(void);             /* idempotent and thread-safe */

/* Seeds R for stream STREAM of replication REP under SEED. */
static inline void gb_rng_seed(gb_rng_t *r, uint64_t seed, uint64_t rep, uint64_t stream)
{
    gb_zig_init(); /* every stream is seeded before its first normal draw */
    uint64_t x = seed;
    uint64_t mix = gb_splitmix64(&x) ^ (rep * 0xD1B54A32D192ED03ull);
    x = mix;
    mix = gb_splitmix64(&x) ^ (stream * 0xABC98388FB8FAC03ull);
    x = mix;
    for (int i = 0; i < 4; i++) r->s[i] = gb_splitmix64(&x);
}

static inline uint64_t gb_rng_next(gb_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t res = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}

/* Uniform on [0, 1), 53 bits. */
static inline double gb_rng_u01(gb_rng_t *r)
{
    return (double)(gb_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform on (0, 1]: safe under log(). */
static inline double gb_rng_u01_open(gb_rng_t *r)
{
    return (double)((gb_rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

/* The ziggurat's tables (Marsaglia and Tsang, 2000): 128 layers. Built once, before first use. */
typedef struct gb_zig {
    uint32_t kn[128];
    double wn[128], fn[128];
} gb_zig_t;
extern gb_zig_t gb_zig;
double gb_rng_normal_tail(gb_rng_t *r, int64_t hz, uint32_t iz);

/*
 * Standard normal by the ziggurat method: about 99 % of draws take one random number, a
 * multiplication and a comparison. The layer comes from the low 7 bits of the draw and the
 * value from its high 32, so the two are independent (the classic version shares bits).
 */
static inline double gb_rng_normal(gb_rng_t *r)
{
    uint64_t x = gb_rng_next(r);
    int64_t hz = (int32_t)(uint32_t)(x >> 32);
    uint32_t iz = (uint32_t)x & 127;
    if ((uint64_t)(hz < 0 ? -hz : hz) < gb_zig.kn[iz]) return (double)hz * gb_zig.wn[iz];
    return gb_rng_normal_tail(r, hz, iz);
}

#endif
