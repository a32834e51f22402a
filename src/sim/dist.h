/*
 * Probability distributions of durations (seconds) for the simulator, and their plant-file syntax.
 *
 * A distribution is written as one value:
 *   42s, 1m30s, 0.8           deterministic (a bare number is seconds)
 *   exp(20m)                  exponential with that mean (also: exponential)
 *   uniform(10s, 20s)         uniform between the two
 *   normal(42s, 3s)           normal with mean and standard deviation, truncated to [0, inf);
 *   normal(42s, 3s, 35s, 60s) ... or to [min, max]
 *   lognormal(42s, 3s)        lognormal with that mean and standard deviation (of the values)
 *   weibull(1.5, 2h)          Weibull with shape and scale
 *   triangular(30s, 40s, 70s) minimum, mode, maximum
 *   empirical(41s, 43s, 40s)  resampling observed values, each equally likely;
 * or, for a long list of observations, as a mapping {empirical: [41s, 43s, 40s, ...]}.
 */
#ifndef GB_SIM_DIST_H
#define GB_SIM_DIST_H

#include "gemba/config.h"
#include "sim/rng.h"

#include <stddef.h>

typedef enum {
    GB_DIST_CONST,
    GB_DIST_EXP,
    GB_DIST_UNIFORM,
    GB_DIST_NORMAL,
    GB_DIST_LOGNORMAL,
    GB_DIST_WEIBULL,
    GB_DIST_TRIANGULAR,
    GB_DIST_EMPIRICAL
} gb_dist_kind_t;

typedef struct gb_dist {
    gb_dist_kind_t kind;
    double p[4];  /* parameters in sampling form (e.g. lognormal: mu, sigma of the log) */
    double *v;    /* EMPIRICAL: the observations (owned) */
    size_t n;
} gb_dist_t;

#define GB_DIST_MAX_EMPIRICAL 1000000

/*
 * Parses the text S into *OUT. On failure returns GB_EINVAL and writes a message (without a
 * position) to ERR. Never reads past S's terminating NUL.
 */
int gb_dist_parse(const char *s, gb_dist_t *out, char *err, size_t errsz);

/* Parses node N (a scalar, or a mapping {empirical: [...]}); problems go to D at N's position. */
int gb_dist_parse_node(const gb_cnode_t *n, gb_dist_t *out, gb_diag_t *d);

void gb_dist_clear(gb_dist_t *d);

/* A deep copy. */
void gb_dist_copy(gb_dist_t *dst, const gb_dist_t *src);

/* The mean, in seconds. */
double gb_dist_mean(const gb_dist_t *d);

/* One draw, in seconds, never negative. */
static inline double gb_dist_sample(const gb_dist_t *d, gb_rng_t *r)
{
    switch (d->kind) {
    case GB_DIST_CONST: return d->p[0];
    case GB_DIST_EXP: return -d->p[0] * log(gb_rng_u01_open(r));
    case GB_DIST_UNIFORM: return d->p[0] + (d->p[1] - d->p[0]) * gb_rng_u01(r);
    case GB_DIST_NORMAL:
        for (;;) { /* rejection: the parser made sure the bounds keep at least 1% */
            double x = d->p[0] + d->p[1] * gb_rng_normal(r);
            if (x >= d->p[2] && x <= d->p[3]) return x;
        }
    case GB_DIST_LOGNORMAL: return exp(d->p[0] + d->p[1] * gb_rng_normal(r));
    case GB_DIST_WEIBULL: return d->p[1] * pow(-log(gb_rng_u01_open(r)), 1.0 / d->p[0]);
    case GB_DIST_TRIANGULAR: {
        double a = d->p[0], c = d->p[1], b = d->p[2], u = gb_rng_u01(r);
        double f = (c - a) / (b - a);
        return u < f ? a + sqrt(u * (b - a) * (c - a)) : b - sqrt((1 - u) * (b - a) * (b - c));
    }
    case GB_DIST_EMPIRICAL: {
        size_t i = (size_t)(gb_rng_u01(r) * (double)d->n);
        return d->v[i < d->n ? i : d->n - 1];
    }
    }
    return 0;
}

#endif
