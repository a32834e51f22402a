/*
 * Observation text to samples, shared by the MTConnect adapters. MTConnect carries every value as
 * text; the plant file says what type a tag is, so the conversion happens here, once, the same
 * way for a value read off an SHDR line and one read out of an agent's XML.
 */
#include "adapters/mtconnect/values.h"
#include "gemba/error.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gb_mtc_split_address(const char *address, char *key, size_t keysz)
{
    static const char *const names[] = {"", "native_code", "native_severity", "qualifier",
                                        "message"};
    gb_strlcpy(key, address, keysz);
    char *dot = strrchr(key, '.');
    if (!dot) return GB_MTC_F_VALUE;
    for (int i = GB_MTC_F_CODE; i <= GB_MTC_F_MESSAGE; i++)
        if (!strcmp(dot + 1, names[i])) {
            *dot = 0;
            return i;
        }
    return GB_MTC_F_VALUE; /* a dot inside a key name */
}

static bool is(const char *v, size_t n, const char *t)
{
    return strlen(t) == n && memcmp(v, t, n) == 0;
}

bool gb_mtc_add_value(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_vtype_t type, const char *v,
                      size_t n)
{
    bool unavailable = is(v, n, "UNAVAILABLE");
    char buf[64];
    switch (type) {
    case GB_VT_STR:
        gb_batch_add_str(b, t, tag, unavailable ? GB_Q_BAD : GB_Q_GOOD, v,
                         n > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : n);
        return true;
    case GB_VT_F64: {
        if (unavailable) {
            gb_batch_add_f64(b, t, tag, GB_Q_BAD, NAN);
            return true;
        }
        if (n == 0 || n >= sizeof buf) return false;
        memcpy(buf, v, n);
        buf[n] = 0;
        char *end;
        double d = strtod(buf, &end);
        if (*end || !isfinite(d)) return false;
        gb_batch_add_f64(b, t, tag, GB_Q_GOOD, d);
        return true;
    }
    case GB_VT_I64: {
        if (unavailable) return true; /* nothing to say in an integer; the gap shows it */
        if (n == 0 || n >= sizeof buf) return false;
        memcpy(buf, v, n);
        buf[n] = 0;
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (*end == '.') { /* "12.0" from sources that print counts as floats */
            double d = strtod(buf, &end);
            if (*end || d != floor(d) || fabs(d) > 9.2e18) return false;
            x = (long long)d;
        } else if (*end || errno) {
            return false;
        }
        gb_batch_add_i64(b, t, tag, GB_Q_GOOD, x);
        return true;
    }
    case GB_VT_BOOL: {
        if (unavailable) return true;
        bool on = is(v, n, "true") || is(v, n, "1") || is(v, n, "ON") || is(v, n, "TRUE") ||
                  is(v, n, "ACTIVE");
        bool off = is(v, n, "false") || is(v, n, "0") || is(v, n, "OFF") || is(v, n, "FALSE") ||
                   is(v, n, "INACTIVE");
        if (!on && !off) return false;
        gb_batch_add_bool(b, t, tag, GB_Q_GOOD, on);
        return true;
    }
    }
    return false;
}

size_t gb_mtc_level(const char *level, size_t n, char *buf, size_t bufsz)
{
    if (n > bufsz - 1) n = bufsz - 1;
    for (size_t c = 0; c < n; c++) buf[c] = (char)toupper((unsigned char)level[c]);
    buf[n] = 0;
    return n;
}

bool gb_mtc_each_series_value(gb_time_t t, double rate, const char *v, size_t n,
                              gb_mtc_value_fn fn, void *ctx)
{
    bool ok = true;
    const char *p = v, *e = v + n;
    size_t k = 0;
    while (p < e) {
        while (p < e && isspace((unsigned char)*p)) p++;
        const char *q = p;
        while (q < e && !isspace((unsigned char)*q)) q++;
        if (q > p) {
            gb_time_t ts = t + (rate > 0 ? (gb_time_t)((double)k * 1e9 / rate) : (gb_time_t)k);
            if (!fn(ctx, ts, p, (size_t)(q - p))) ok = false;
            k++;
        }
        p = q;
    }
    return ok;
}

bool gb_mtc_publish(gb_adapter_state_t *st, gb_bus_t *bus, gb_batch_t **b,
                    bool (*stopping)(void *ctx), void *ctx)
{
    if (!(*b)->n) return true;
    int rc = gb_adapter_publish(st, bus, *b, stopping, ctx); /* takes the batch */
    *b = gb_batch_new(64);
    return rc != GB_ECLOSED;
}
