/*
 * Time in gemba is int64 nanoseconds since the Unix epoch, UTC (gb_time_t). Durations are int64
 * nanoseconds too. This header parses and prints both in the forms the plant file and the API use.
 */
#ifndef GEMBA_TIME_H
#define GEMBA_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t gb_time_t;

#define GB_NS_PER_US INT64_C(1000)
#define GB_NS_PER_MS INT64_C(1000000)
#define GB_NS_PER_S INT64_C(1000000000)

/* Wall-clock time (CLOCK_REALTIME) in ns since the epoch. */
gb_time_t gb_now(void);

/* Monotonic time in ns, for measuring intervals. */
int64_t gb_mono_ns(void);

/*
 * Parses a duration: one or more <number><unit> parts, unit one of ns us ms s m h d, e.g. "250ms",
 * "90s", "1h30m", "1.5h". Returns 0, or GB_EINVAL for bad syntax, GB_ERANGE when it overflows or is
 * negative.
 */
int gb_duration_parse(const char *s, int64_t *out_ns);

/* Formats a duration in the shortest exact form gb_duration_parse reads back ("1h30m", "250ms"). */
void gb_duration_format(int64_t ns, char *buf, size_t size);

/* Formats T as RFC 3339 UTC with milliseconds, "2026-11-22T10:00:00.123Z". BUF needs 32 bytes. */
void gb_time_format_ms(gb_time_t t, char *buf, size_t size);

/*
 * Parses an RFC 3339 time, "2026-11-23T06:00:00Z" or "2026-11-23T07:00:00.5+01:00" (up to 9
 * fraction digits; 'T', 't' or a space between date and time; 'Z', 'z' or an offset), from 1970
 * to 2261 (int64 nanoseconds end in 2262). Returns 0 or GB_EINVAL.
 */
int gb_time_parse_rfc3339(const char *s, size_t len, gb_time_t *out);

/* Formats T as RFC 3339 UTC with as many fraction digits as it needs (none, 3, 6 or 9). */
void gb_time_format(gb_time_t t, char *buf, size_t size);

/* Parses "HH:MM" (00:00 to 24:00) into minutes since midnight. Returns 0 or GB_EINVAL. */
int gb_clock_parse(const char *s, int *out_minutes);

/* Parses a calendar date "YYYY-MM-DD" (checked against the month's length). 0 or GB_EINVAL. */
int gb_date_parse(const char *s, int *year, int *month, int *day);

/*
 * Checks that NAME is an IANA time zone known to this machine's tz database (tzdata), e.g.
 * "Europe/Berlin" or "UTC". Returns 0, GB_EINVAL for a malformed name, GB_ENOENT when unknown.
 */
int gb_timezone_check(const char *name);

#endif
