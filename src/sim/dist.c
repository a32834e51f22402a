/*
 * Parsing and moments of the simulator's distributions (sampling is inline in dist.h, on the
 * engine's hot path). Parameters are checked here, once, so that sampling never has to: a
 * truncated normal whose bounds keep almost nothing would make rejection sampling spin.
 */
#include "sim/dist.h"

#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return GB_EINVAL;
}

/* A duration ("42s", "1h30m") or a bare number of seconds ("0.8"); finite and not negative. */
static int parse_seconds(const char *s, double *out)
{
    if (!*s) return GB_EINVAL;
    char *end;
    double v = strtod(s, &end);
    if (*end == '\0' && end != s) {
        if (!isfinite(v) || v < 0) return GB_ERANGE;
        *out = v;
        return 0;
    }
    int64_t ns;
    int rc = gb_duration_parse(s, &ns);
    if (rc) return rc;
    *out = (double)ns / 1e9;
    return 0;
}

void gb_dist_clear(gb_dist_t *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

void gb_dist_copy(gb_dist_t *dst, const gb_dist_t *src)
{
    *dst = *src;
    if (src->v) {
        dst->v = gb_xmalloc(src->n * sizeof *src->v);
        memcpy(dst->v, src->v, src->n * sizeof *src->v);
    }
}

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

double gb_dist_mean(const gb_dist_t *d)
{
    switch (d->kind) {
    case GB_DIST_CONST:
    case GB_DIST_EXP: return d->p[0];
    case GB_DIST_UNIFORM: return (d->p[0] + d->p[1]) / 2;
    case GB_DIST_NORMAL: {
        double a = (d->p[2] - d->p[0]) / d->p[1], b = (d->p[3] - d->p[0]) / d->p[1];
        double z = phi(b) - phi(a);
        double pa = isinf(a) ? 0 : pdf(a), pb = isinf(b) ? 0 : pdf(b);
        return d->p[0] + d->p[1] * (pa - pb) / z;
    }
    case GB_DIST_LOGNORMAL: return exp(d->p[0] + d->p[1] * d->p[1] / 2);
    case GB_DIST_WEIBULL: return d->p[1] * tgamma(1 + 1 / d->p[0]);
    case GB_DIST_TRIANGULAR: return (d->p[0] + d->p[1] + d->p[2]) / 3;
    case GB_DIST_EMPIRICAL: {
        double s = 0;
        for (size_t i = 0; i < d->n; i++) s += d->v[i];
        return d->n ? s / (double)d->n : 0;
    }
    }
    return 0;
}

#define MAX_ARGS 4

static const struct {
    const char *name;
    gb_dist_kind_t kind;
    int min, max;
    const char *usage;
} fns[] = {
    {"exp", GB_DIST_EXP, 1, 1, "exp(MEAN)"},
    {"exponential", GB_DIST_EXP, 1, 1, "exponential(MEAN)"},
    {"uniform", GB_DIST_UNIFORM, 2, 2, "uniform(MIN, MAX)"},
    {"normal", GB_DIST_NORMAL, 2, 4, "normal(MEAN, SD) or normal(MEAN, SD, MIN, MAX)"},
    {"lognormal", GB_DIST_LOGNORMAL, 2, 2, "lognormal(MEAN, SD)"},
    {"weibull", GB_DIST_WEIBULL, 2, 2, "weibull(SHAPE, SCALE)"},
    {"triangular", GB_DIST_TRIANGULAR, 3, 3, "triangular(MIN, MODE, MAX)"},
    {"empirical", GB_DIST_EMPIRICAL, 1, GB_DIST_MAX_EMPIRICAL, "empirical(V1, V2, ...)"},
};

/* Checks the parameters of OUT (kind and raw arguments A[0..n)) and fills the sampling form. */
static int finish(gb_dist_t *out, const double *a, size_t n, char *err, size_t errsz)
{
    switch (out->kind) {
    case GB_DIST_CONST:
    case GB_DIST_EXP:
        out->p[0] = a[0];
        if (out->kind == GB_DIST_EXP && a[0] <= 0)
            return fail(err, errsz, "exp(MEAN): the mean must be above 0");
        return 0;
    case GB_DIST_UNIFORM:
        if (a[1] < a[0]) return fail(err, errsz, "uniform(MIN, MAX): MAX is below MIN");
        out->p[0] = a[0];
        out->p[1] = a[1];
        return 0;
    case GB_DIST_NORMAL: {
        out->p[0] = a[0];
        out->p[1] = a[1];
        out->p[2] = n > 2 ? a[2] : 0;
        out->p[3] = n > 3 ? a[3] : INFINITY;
        if (a[1] <= 0) return fail(err, errsz, "normal(MEAN, SD): SD must be above 0");
        if (out->p[3] <= out->p[2])
            return fail(err, errsz, "normal(MEAN, SD, MIN, MAX): MAX must be above MIN");
        double mass = phi((out->p[3] - a[0]) / a[1]) - phi((out->p[2] - a[0]) / a[1]);
        if (!(mass >= 0.01))
            return fail(err, errsz,
                        "normal(...): the bounds keep less than 1%% of the distribution; "
                        "check MEAN, SD, MIN and MAX");
        return 0;
    }
    case GB_DIST_LOGNORMAL: {
        if (a[0] <= 0 || a[1] <= 0)
            return fail(err, errsz, "lognormal(MEAN, SD): both must be above 0");
        double s2 = log(1 + (a[1] * a[1]) / (a[0] * a[0]));
        out->p[0] = log(a[0]) - s2 / 2;
        out->p[1] = sqrt(s2);
        return 0;
    }
    case GB_DIST_WEIBULL:
        if (!(a[0] >= 0.05 && a[0] <= 50) || a[1] <= 0)
            return fail(err, errsz, "weibull(SHAPE, SCALE): SHAPE from 0.05 to 50 (1 is "
                                    "exponential, above 1 wear-out), SCALE above 0");
        out->p[0] = a[0];
        out->p[1] = a[1];
        return 0;
    case GB_DIST_TRIANGULAR:
        if (!(a[0] <= a[1] && a[1] <= a[2]) || a[2] <= a[0])
            return fail(err, errsz, "triangular(MIN, MODE, MAX): needs MIN <= MODE <= MAX and "
                                    "MIN < MAX");
        memcpy(out->p, a, 3 * sizeof *a);
        return 0;
    case GB_DIST_EMPIRICAL: return 0;
    }
    return 0;
}

int gb_dist_parse(const char *s, gb_dist_t *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s)) s++;
    const char *open = strchr(s, '(');
    if (!open) {
        double v;
        char tmp[64];
        size_t len = strlen(s);
        while (len && isspace((unsigned char)s[len - 1])) len--;
        int rc = GB_EINVAL;
        if (len < sizeof tmp) {
            memcpy(tmp, s, len);
            tmp[len] = 0;
            rc = parse_seconds(tmp, &v);
        }
        if (rc)
            return fail(err, errsz,
                        "'%s' is not a duration or a distribution: write a time such as 42s or "
                        "1m30s, or a distribution such as exp(20m), normal(42s, 3s), "
                        "lognormal(42s, 3s), uniform(10s, 20s), weibull(1.5, 2h), "
                        "triangular(30s, 40s, 70s) or empirical(41s, 43s)",
                        s);
        out->kind = GB_DIST_CONST;
        out->p[0] = v;
        return 0;
    }
    size_t nlen = (size_t)(open - s);
    while (nlen && isspace((unsigned char)s[nlen - 1])) nlen--;
    int f = -1;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].name) == nlen && !strncmp(fns[i].name, s, nlen)) f = (int)i;
    if (f < 0)
        return fail(err, errsz,
                    "unknown distribution '%.*s': use exp, normal, lognormal, uniform, weibull, "
                    "triangular or empirical",
                    (int)(nlen > 40 ? 40 : nlen), s);
    const char *close = strrchr(open, ')');
    if (!close || close[1 + strspn(close + 1, " \t")] != '\0')
        return fail(err, errsz,
                    "%s: expected %s, with a closing ')' at the end (inside {...} or [...], "
                    "YAML cuts a value at each comma: quote it, \"%s\")",
                    fns[f].name, fns[f].usage, fns[f].usage);
    out->kind = fns[f].kind;
    double a[MAX_ARGS] = {0};
    double *vals = out->kind == GB_DIST_EMPIRICAL ? NULL : a;
    size_t n = 0, cap = 0;
    const char *p = open + 1;
    for (;;) {
        while (p < close && isspace((unsigned char)*p)) p++;
        const char *e = p;
        while (e < close && *e != ',') e++;
        const char *t = e;
        while (t > p && isspace((unsigned char)t[-1])) t--;
        if (t == p) {
            if (n == 0 && e == close) break; /* "f()" */
            free(out->v);
            out->v = NULL;
            return fail(err, errsz, "%s: an empty argument; expected %s", fns[f].name,
                        fns[f].usage);
        }
        if ((int)n >= fns[f].max) {
            free(out->v);
            out->v = NULL;
            return fail(err, errsz, "%s: too many arguments; expected %s", fns[f].name,
                        fns[f].usage);
        }
        char tmp[64];
        size_t len = (size_t)(t - p);
        double v;
        bool shape = out->kind == GB_DIST_WEIBULL && n == 0;
        int rc = len < sizeof tmp ? 0 : GB_EINVAL;
        if (!rc) {
            memcpy(tmp, p, len);
            tmp[len] = 0;
            char *end;
            v = strtod(tmp, &end);
            if (shape) rc = (*end || !isfinite(v)) ? GB_EINVAL : 0;
            else rc = parse_seconds(tmp, &v);
        }
        if (rc) {
            free(out->v);
            out->v = NULL;
            return fail(err, errsz, "%s: '%.*s' is not %s", fns[f].name, (int)(len > 40 ? 40 : len),
                        p, shape ? "a number" : "a duration (such as 42s) or a number of seconds");
        }
        if (!vals) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                out->v = gb_xrealloc(out->v, cap * sizeof *out->v);
            }
            out->v[n] = v;
        } else {
            vals[n] = v;
        }
        n++;
        if (e == close) break;
        p = e + 1;
    }
    if ((int)n < fns[f].min) {
        free(out->v);
        out->v = NULL;
        return fail(err, errsz, "%s: too few arguments; expected %s", fns[f].name, fns[f].usage);
    }
    out->n = vals ? 0 : n;
    int rc = finish(out, a, n, err, errsz);
    if (rc) gb_dist_clear(out);
    return rc;
}

int gb_dist_parse_node(const gb_cnode_t *n, gb_dist_t *out, gb_diag_t *d)
{
    memset(out, 0, sizeof *out);
    char err[512];
    if (n->kind == GB_CNODE_SCALAR) {
        if (gb_dist_parse(n->str, out, err, sizeof err) == 0) return 0;
        gb_diag_add(d, n->line, n->col, "%s", err);
        return GB_EINVAL;
    }
    const gb_cnode_t *list = n->kind == GB_CNODE_MAP && n->n == 1 ? gb_cnode_get(n, "empirical")
                                                                  : NULL;
    if (!list || list->kind != GB_CNODE_SEQ || list->n == 0) {
        gb_diag_add(d, n->line, n->col,
                    "a distribution is one value, such as 42s or exp(20m), or a mapping "
                    "{empirical: [observations...]}");
        return GB_EINVAL;
    }
    if (list->n > GB_DIST_MAX_EMPIRICAL) {
        gb_diag_add(d, list->line, list->col, "more than %d observations",
                    GB_DIST_MAX_EMPIRICAL);
        return GB_EINVAL;
    }
    out->kind = GB_DIST_EMPIRICAL;
    out->v = gb_xmalloc(list->n * sizeof *out->v);
    for (size_t i = 0; i < list->n; i++) {
        const gb_cnode_t *it = list->items[i];
        if (it->kind != GB_CNODE_SCALAR || parse_seconds(it->str, &out->v[i]) != 0) {
            gb_diag_add(d, it->line, it->col,
                        "an observation is a duration such as 42s, or a number of seconds");
            gb_dist_clear(out);
            return GB_EINVAL;
        }
    }
    out->n = list->n;
    return 0;
}
