/*
 * Structured logging on stderr, one line per event in logfmt:
 *   ts=2026-11-22T10:00:00.123Z level=info module=http msg="listening on http://127.0.0.1:8080"
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef GEMBA_LOG_H
#define GEMBA_LOG_H

#include <stdbool.h>

typedef enum { GB_LOG_ERROR = 0, GB_LOG_WARN = 1, GB_LOG_INFO = 2, GB_LOG_DEBUG = 3 } gb_log_level_t;

/* Sets the most verbose level that is written (default GB_LOG_INFO). */
void gb_log_set_level(gb_log_level_t level);

/* Parses "error", "warn", "info" or "debug". Returns 0 or GB_EINVAL. */
int gb_log_level_parse(const char *s, gb_log_level_t *out);

/* Writes one log line for MODULE at LEVEL when LEVEL is enabled. */
void gb_log(gb_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Logs at most once per distinct KEY (a caller-owned flag): for errors that can repeat at the
 * rate of incoming data, so a bad peer cannot flood the log. Returns true when it logged.
 * Reset the flag when the condition clears so the next occurrence is reported again.
 */
bool gb_log_once(bool *key, gb_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define gb_error(mod, ...) gb_log(GB_LOG_ERROR, mod, __VA_ARGS__)
#define gb_warn(mod, ...) gb_log(GB_LOG_WARN, mod, __VA_ARGS__)
#define gb_info(mod, ...) gb_log(GB_LOG_INFO, mod, __VA_ARGS__)
#define gb_debug(mod, ...) gb_log(GB_LOG_DEBUG, mod, __VA_ARGS__)

#endif
