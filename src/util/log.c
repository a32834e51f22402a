/*
 * logfmt lines on stderr. A line is formatted into a stack buffer and written with one write(2),
 * so lines from different threads never interleave. Messages are quoted and escaped so a log
 * reader can split fields reliably whatever the message contains.
 */
#include "gemba/log.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int g_level = GB_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void gb_log_set_level(gb_log_level_t level)
{
    atomic_store(&g_level, (int)level);
}

int gb_log_level_parse(const char *s, gb_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (gb_log_level_t)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = GB_LOG_WARN;
        return 0;
    }
    return GB_EINVAL;
}

static void vlog(gb_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    char msg[1024], line[2300], ts[32];
    vsnprintf(msg, sizeof msg, fmt, ap);
    gb_time_format_ms(gb_now(), ts, sizeof ts);
    size_t n = (size_t)snprintf(line, sizeof line, "ts=%s level=%s module=%s msg=\"", ts,
                                level_names[level], module);
    for (const char *p = msg; *p && n < sizeof line - 4; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (c < 0x20) {
            line[n++] = ' ';
        } else {
            line[n++] = (char)c;
        }
    }
    line[n++] = '"';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere left to report a failed log write */
}

void gb_log(gb_log_level_t level, const char *module, const char *fmt, ...)
{
    if ((int)level > atomic_load(&g_level)) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}

bool gb_log_once(bool *key, gb_log_level_t level, const char *module, const char *fmt, ...)
{
    if (*key) return false;
    *key = true;
    if ((int)level > atomic_load(&g_level)) return false;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
    return true;
}
