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
    double spare;   /* the second normal variate of the polar method */
    bool has_spare;
} gb_rng_t;

static inline uint64_t gb_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seeds R for stream STREAM of replication REP under SEED. */
static inline void gb_rng_seed(gb_rng_t *r, uint64_t seed, uint64_t rep, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t mix = gb_splitmix64(&x) ^ (rep * 0xD1B54A32D192ED03ull);
    x = mix;
    mix = gb_splitmix64(&x) ^ (stream * 0xABC98388FB8FAC03ull);
    x = mix;
    for (int i = 0; i < 4; i++) r->s[i] = gb_splitmix64(&x);
    r->has_spare = false;
    r->spare = 0;
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

/* Standard normal, Marsaglia's polar method (no trigonometry; the pair's second half is kept). */
static inline double gb_rng_normal(gb_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * gb_rng_u01(r) - 1.0;
        v = 2.0 * gb_rng_u01(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

#endif
