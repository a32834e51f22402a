/*
 * JSON payloads to tag values. jansson parses (with a size limit checked first); this file walks
 * JSON pointers and decides which JSON values fit which tag types -- strictly: a fractional number
 * never silently becomes an int, a string never becomes a float.
 */
#include "adapters/mqtt/codec_json.h"
#include "gemba/error.h"
#include "gemba/time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gb_json_pointer_check(const char *pointer)
{
    if (!*pointer) return 0;
    if (*pointer != '/') return GB_EINVAL;
    for (const char *p = pointer; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1') return GB_EINVAL;
    return 0;
}

/* Copies the reference token at P (up to '/' or the end) into TOK, unescaped; false if too long. */
static bool token(const char **p, char *tok, size_t toksz)
{
    size_t n = 0;
    const char *s = *p;
    for (; *s && *s != '/'; s++) {
        char c = *s;
        if (c == '~') {
            if (s[1] == '0')
                c = '~';
            else if (s[1] == '1')
                c = '/';
            else
                return false;
            s++;
        }
        if (n + 1 >= toksz) return false;
        tok[n++] = c;
    }
    tok[n] = 0;
    *p = s;
    return true;
}

json_t *gb_json_pointer(json_t *root, const char *pointer)
{
    if (!root || (*pointer && *pointer != '/')) return NULL;
    json_t *cur = root;
    const char *p = pointer;
    char tok[256];
    while (*p == '/') {
        p++;
        if (!token(&p, tok, sizeof tok)) return NULL;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            /* an array index: digits only, no leading zero (RFC 6901, section 4) */
            size_t n = strlen(tok);
            if (n == 0 || n > 9 || (n > 1 && tok[0] == '0') || strspn(tok, "0123456789") != n)
                return NULL;
            cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
        } else {
            return NULL;
        }
        if (!cur) return NULL;
    }
    return cur;
}

int gb_mqtt_json_parse(const char *buf, size_t len, bool raw_text, json_t **out)
{
    *out = NULL;
    if (len > GB_MQTT_JSON_MAX) return GB_ERANGE;
    json_error_t err;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!j && raw_text) {
        /* plain text; trailing line ends from shell tools are not part of the value */
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        j = json_stringn_nocheck(buf, len);
    }
    if (!j) return GB_EPROTO;
    *out = j;
    return 0;
}

int gb_mqtt_json_value(const json_t *v, gb_vtype_t type, gb_value_t *out, char *buf, size_t bufsz)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    if (!v || json_is_null(v)) return GB_ENOENT;
    switch (type) {
    case GB_VT_F64:
        if (!json_is_number(v)) return GB_EINVAL;
        out->f64 = json_number_value(v);
        return isfinite(out->f64) ? 0 : GB_EINVAL;
    case GB_VT_I64:
        if (json_is_integer(v)) {
            out->i64 = (int64_t)json_integer_value(v);
            return 0;
        }
        if (json_is_real(v)) { /* 12.0 from publishers that print every number as a float */
            double d = json_real_value(v);
            if (d != floor(d) || fabs(d) > 9.0e18) return GB_EINVAL;
            out->i64 = (int64_t)d;
            return 0;
        }
        return GB_EINVAL;
    case GB_VT_BOOL:
        if (json_is_boolean(v)) {
            out->b = json_is_true(v);
            return 0;
        }
        if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
            out->b = json_integer_value(v) == 1;
            return 0;
        }
        return GB_EINVAL;
    case GB_VT_STR:
        if (json_is_string(v)) {
            out->str = json_string_value(v);
            out->len = json_string_length(v);
            return 0;
        }
        if (json_is_integer(v))
            snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(buf, bufsz, "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(buf, bufsz, "%s", json_is_true(v) ? "true" : "false");
        else
            return GB_EINVAL; /* objects and arrays are not a tag's value */
        out->str = buf;
        out->len = strlen(buf);
        return 0;
    }
    return GB_EINVAL;
}

int gb_mqtt_json_time(const json_t *v, gb_time_unit_t unit, gb_time_t *out)
{
    static const double per_unit[] = {1.0, 1e3, 1e6, 1e9};
    if (json_is_string(v))
        return gb_time_parse_rfc3339(json_string_value(v), json_string_length(v), out) == 0
                   ? 0
                   : GB_EINVAL;
    if (!json_is_number(v)) return GB_EINVAL;
    double x = json_number_value(v) * per_unit[unit];
    /* years 1970..2262, the range of ns in an int64 */
    if (!isfinite(x) || x < 0 || x > 9.2e18) return GB_EINVAL;
    if (json_is_integer(v) && unit == GB_TIME_UNIT_NS)
        *out = (gb_time_t)json_integer_value(v);
    else if (json_is_integer(v))
        *out = (gb_time_t)json_integer_value(v) * (gb_time_t)per_unit[unit];
    else
        *out = (gb_time_t)x;
    return 0;
}
