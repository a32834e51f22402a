/*
 * Clocks, durations and calendar strings. Durations use Go-style unit suffixes because plant
 * engineers read "1h30m" faster than "5400". Parsing is strict: every byte must be consumed.
 */
#include "gemba/time.h"
#include "gemba/error.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

gb_time_t gb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (gb_time_t)ts.tv_sec * GB_NS_PER_S + ts.tv_nsec;
}

int64_t gb_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GB_NS_PER_S + ts.tv_nsec;
}

static const struct {
    const char *name;
    int64_t ns;
} units[] = {
    {"ns", 1},
    {"us", GB_NS_PER_US},
    {"ms", GB_NS_PER_MS},
    {"s", GB_NS_PER_S},
    {"m", 60 * GB_NS_PER_S},
    {"h", 3600 * GB_NS_PER_S},
    {"d", 86400 * GB_NS_PER_S},
    {"w", 7 * 86400 * GB_NS_PER_S},
    {"y", 365 * 86400 * GB_NS_PER_S}, /* of 365 days, for retention periods */
};

int gb_duration_parse(const char *s, int64_t *out_ns)
{
    if (!s || !*s) return GB_EINVAL;
    if (*s == '-') return GB_ERANGE;
    long double total = 0;
    const char *p = s;
    while (*p) {
        /* number: digits with an optional fraction */
        const char *start = p;
        long double v = 0, scale = 1;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                scale /= 10;
                v += (*p++ - '0') * scale;
                digits++;
            }
        }
        if (digits == 0 || p == start) return GB_EINVAL;
        /* unit: the longest match */
        size_t best = 0;
        int64_t mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t len = strlen(units[i].name);
            if (len > best && strncmp(p, units[i].name, len) == 0 &&
                !isalpha((unsigned char)p[len])) {
                best = len;
                mult = units[i].ns;
            }
        }
        if (!best) return GB_EINVAL;
        p += best;
        total += v * (long double)mult;
        if (total > (long double)INT64_MAX / 2) return GB_ERANGE;
    }
    *out_ns = (int64_t)(total + 0.5L);
    return 0;
}

void gb_duration_format(int64_t ns, char *buf, size_t size)
{
    if (ns == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    size_t n = 0;
    if (ns < 0) {
        n += (size_t)snprintf(buf, size, "-");
        ns = -ns;
    }
    for (size_t i = sizeof units / sizeof units[0]; i-- > 0 && ns > 0;) {
        if (ns >= units[i].ns) {
            int64_t q = ns / units[i].ns;
            ns -= q * units[i].ns;
            if (n < size) n += (size_t)snprintf(buf + n, size - n, "%lld%s", (long long)q, units[i].name);
        }
    }
}

/* T as UTC calendar fields and the nanoseconds within the second (floored, also before 1970). */
static int64_t split_time(gb_time_t t, struct tm *tm)
{
    time_t sec = (time_t)(t / GB_NS_PER_S);
    int64_t rem = t % GB_NS_PER_S;
    if (rem < 0) {
        rem += GB_NS_PER_S;
        sec -= 1;
    }
    gmtime_r(&sec, tm);
    return rem;
}

void gb_time_format_ms(gb_time_t t, char *buf, size_t size)
{
    struct tm tm;
    int64_t rem = split_time(t, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / GB_NS_PER_MS));
}

int gb_clock_parse(const char *s, int *out_minutes)
{
    if (!s || strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
        !isdigit((unsigned char)s[4]))
        return GB_EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return GB_EINVAL;
    *out_minutes = h * 60 + m;
    return 0;
}

int gb_date_parse(const char *s, int *year, int *month, int *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return GB_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return GB_EINVAL;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1) return GB_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) return GB_EINVAL;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

int gb_timezone_check(const char *name)
{
    /* IANA names are ASCII path components; refuse anything that could escape the zoneinfo
     * folder before touching the file system. */
    size_t len = strlen(name);
    if (len == 0 || len > 64 || name[0] == '/' || strstr(name, "..")) return GB_EINVAL;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p)) return GB_EINVAL;
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return GB_ENOENT;
    char magic[4];
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    return n == 4 && memcmp(magic, "TZif", 4) == 0 ? 0 : GB_ENOENT;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int gb_time_parse_rfc3339(const char *s, size_t len, gb_time_t *out)
{
    int y, mo, d, h, mi, se;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return GB_EINVAL;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return GB_EINVAL;
    char date[11];
    memcpy(date, s, 10);
    date[10] = 0;
    int yy, mm, dd;
    /* int64 nanoseconds since 1970 reach 2262-04-11 */
    if (gb_date_parse(date, &yy, &mm, &dd) || yy > 2261 || h > 23 || mi > 59 || se > 60)
        return GB_EINVAL;
    size_t p = 19;
    int64_t frac = 0;
    if (p < len && s[p] == '.') {
        p++;
        int nd = 0;
        while (p < len && isdigit((unsigned char)s[p])) {
            if (nd < 9) frac = frac * 10 + (s[p] - '0');
            nd++;
            p++;
        }
        if (nd == 0 || nd > 9) return GB_EINVAL;
        for (int i = nd; i < 9; i++) frac *= 10;
    }
    int64_t off = 0;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p + 6 == len && (s[p] == '+' || s[p] == '-') && s[p + 3] == ':') {
        int oh, om;
        if (digits(s + p + 1, 2, &oh) || digits(s + p + 4, 2, &om) || oh > 23 || om > 59)
            return GB_EINVAL;
        off = (int64_t)(oh * 60 + om) * 60 * (s[p] == '-' ? -1 : 1);
        p += 6;
    } else {
        return GB_EINVAL;
    }
    if (p != len) return GB_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se == 60 ? 59 : se; /* a leap second is held at :59 */
    int64_t secs = (int64_t)timegm(&tm) - off;
    *out = secs * GB_NS_PER_S + frac;
    return 0;
}

void gb_time_format(gb_time_t t, char *buf, size_t size)
{
    struct tm tm;
    int64_t rem = split_time(t, &tm);
    int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= size) return;
    if (rem == 0)
        snprintf(buf + n, size - (size_t)n, "Z");
    else if (rem % GB_NS_PER_MS == 0)
        snprintf(buf + n, size - (size_t)n, ".%03lldZ", (long long)(rem / GB_NS_PER_MS));
    else if (rem % GB_NS_PER_US == 0)
        snprintf(buf + n, size - (size_t)n, ".%06lldZ", (long long)(rem / GB_NS_PER_US));
    else
        snprintf(buf + n, size - (size_t)n, ".%09lldZ", (long long)rem);
}
