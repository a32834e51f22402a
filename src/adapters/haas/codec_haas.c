/*
 * Haas MDC replies. Real controls differ in framing and spacing more than in content, so the
 * codec is liberal where captures differ (STX/ETB or none, the ETB before or after CR LF, a `>`
 * prompt glued to the front, padded values, a missing comma in `STATUS BUSY`) and strict where a
 * wrong guess would publish a wrong value: a label it knows must come with exactly the fields it
 * documents, and numbers must be numbers. Everything else is a reply of another kind, which the
 * caller can ignore -- a control's MDC port also carries answers to other clients and DPRNT lines.
 */
#include "adapters/haas/codec_haas.h"
#include "gemba/error.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8 /* Q500's five and room to tell a longer reply from a known one */

static bool is_framing(unsigned char c)
{
    /* DC1-DC4 (0x11-0x14) are XON/XOFF and the tape punch codes some controls send */
    return c == GB_HAAS_STX || c == GB_HAAS_ETB || c == '\r' || c == '\n' || c == '>' ||
           c == ' ' || c == '\t' || c == 0 || (c >= 0x11 && c <= 0x14);
}

static bool is_end(unsigned char c)
{
    return c == GB_HAAS_STX || c == GB_HAAS_ETB || c == '\r' || c == '\n';
}

int gb_haas_frame(const char *buf, size_t len, size_t *used, gb_haas_span_t *reply)
{
    size_t i = 0;
    while (i < len && is_framing((unsigned char)buf[i])) i++;
    for (size_t j = i; j < len; j++)
        if (is_end((unsigned char)buf[j])) {
            *reply = (gb_haas_span_t){buf + i, j - i};
            /* an STX opens the next reply: leave it there */
            *used = (unsigned char)buf[j] == GB_HAAS_STX ? j : j + 1;
            return 1;
        }
    if (len - i > GB_HAAS_REPLY_MAX) {
        *used = len;
        return GB_EPROTO;
    }
    *used = i;
    return 0;
}

static gb_haas_span_t trim(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    return (gb_haas_span_t){p, (size_t)(e - p)};
}

/* Matches a prefix of S against T (see gb_haas_eq); returns the bytes of S it covers, or 0. */
static size_t match_prefix(gb_haas_span_t s, const char *t)
{
    size_t i = 0;
    for (; *t; t++) {
        if (i == s.n) return 0;
        if (*t == ' ') {
            if (s.p[i] != ' ' && s.p[i] != '\t') return 0;
            while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t')) i++;
            continue;
        }
        if (toupper((unsigned char)s.p[i]) != toupper((unsigned char)*t)) return 0;
        i++;
    }
    return i;
}

bool gb_haas_eq(gb_haas_span_t s, const char *t)
{
    return (s.n == 0 && !*t) || (*t && match_prefix(s, t) == s.n);
}

static bool contains(gb_haas_span_t s, const char *t)
{
    for (size_t i = 0; i < s.n; i++)
        if (match_prefix((gb_haas_span_t){s.p + i, s.n - i}, t)) return true;
    return false;
}

/* A whole number of at most MAXDIG digits. */
static bool parse_count(gb_haas_span_t s, size_t maxdig, uint64_t *out)
{
    if (s.n == 0 || s.n > maxdig) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!isdigit((unsigned char)s.p[i])) return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    *out = v;
    return true;
}

/* A decimal number, as controls print macro values (`12.5`, `-0.0010`, `1.000000`, `1E+03`). */
static bool parse_number(gb_haas_span_t s, double *out)
{
    char buf[64];
    if (s.n == 0 || s.n >= sizeof buf) return false;
    for (size_t i = 0; i < s.n; i++)
        if (!strchr("0123456789+-.eE", s.p[i])) return false; /* no nan, inf or hex for strtod */
    memcpy(buf, s.p, s.n);
    buf[s.n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end || end == buf || !isfinite(d)) return false;
    *out = d;
    return true;
}

static int bad(const char **why, const char *text)
{
    *why = text;
    return GB_EPROTO;
}

int gb_haas_parse(const char *buf, size_t len, gb_haas_reply_t *out, const char **why)
{
    const char *discard;
    if (!why) why = &discard;
    memset(out, 0, sizeof *out);
    if (len > GB_HAAS_REPLY_MAX) return bad(why, "reply too long");
    const char *p = buf, *e = buf + len;
    while (p < e && is_framing((unsigned char)*p)) p++;
    while (e > p && is_framing((unsigned char)e[-1])) e--;
    if (p == e) return bad(why, "empty reply");
    for (const char *q = p; q < e; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || (unsigned char)*q > 0x7e)
            return bad(why, "control or non-ASCII byte in a reply");
    gb_haas_span_t f[MAX_FIELDS];
    size_t nf = 0;
    /* past MAX_FIELDS the rest is not split: no known label has that many, so nf tells */
    for (const char *s = p; nf < MAX_FIELDS;) {
        const char *comma = memchr(s, ',', (size_t)(e - s));
        f[nf++] = trim(s, comma ? comma : e);
        if (!comma) break;
        s = comma + 1;
    }
    gb_haas_span_t whole = {p, (size_t)(e - p)};
    size_t k = match_prefix(f[0], "STATUS "); /* `STATUS BUSY`, without the comma */
    if (gb_haas_eq(f[0], "SERIAL NUMBER")) {
        if (nf != 2 || !f[1].n) return bad(why, "SERIAL NUMBER reply without one number");
        out->kind = GB_HAAS_SERIAL;
        out->text = f[1];
    } else if (gb_haas_eq(f[0], "MODE")) {
        gb_haas_span_t m = nf == 2 ? f[1] : (gb_haas_span_t){NULL, 0};
        if (m.n >= 2 && m.p[0] == '(' && m.p[m.n - 1] == ')') m = trim(m.p + 1, m.p + m.n - 1);
        if (!m.n) return bad(why, "MODE reply without one mode");
        out->kind = GB_HAAS_MODE;
        out->text = m;
    } else if (gb_haas_eq(f[0], "PROGRAM")) {
        uint64_t parts;
        if (nf != 5 || !f[1].n || !f[2].n || !gb_haas_eq(f[3], "PARTS"))
            return bad(why, "PROGRAM reply is not PROGRAM, name, status, PARTS, count");
        if (!parse_count(f[4], 15, &parts)) return bad(why, "PROGRAM reply with a bad part count");
        out->kind = GB_HAAS_PROGRAM;
        out->text = f[1];
        out->status = f[2];
        out->parts = (int64_t)parts;
    } else if (gb_haas_eq(f[0], "STATUS") || (k && nf == 1)) {
        gb_haas_span_t st = k && nf == 1 ? (gb_haas_span_t){f[0].p + k, f[0].n - k}
                          : nf == 2      ? f[1]
                                         : (gb_haas_span_t){NULL, 0};
        if (!st.n) return bad(why, "STATUS reply without one status");
        out->kind = GB_HAAS_STATUS;
        out->status = st;
    } else if (gb_haas_eq(f[0], "MACRO")) {
        uint64_t var = 0;
        if (nf != 2 && nf != 3) return bad(why, "MACRO reply is not MACRO, [variable,] value");
        if (nf == 3 && (!parse_count(f[1], 6, &var) || var == 0 || var > GB_HAAS_MACRO_MAX))
            return bad(why, "MACRO reply with a bad variable number");
        if (!parse_number(f[nf - 1], &out->value)) return bad(why, "MACRO reply with a bad value");
        out->kind = GB_HAAS_MACRO;
        out->has_var = nf == 3;
        out->var = (uint32_t)var;
    } else if (match_prefix(f[0], "INVALID") || gb_haas_eq(f[0], "UNKNOWN") ||
               gb_haas_eq(f[0], "UNKNOWN COMMAND") || gb_haas_eq(f[0], "?")) {
        out->kind = GB_HAAS_INVALID;
        out->text = whole;
    } else {
        out->kind = GB_HAAS_UNKNOWN;
        out->text = whole;
    }
    return 0;
}

const char *gb_haas_execution(gb_haas_span_t status)
{
    if (gb_haas_eq(status, "BUSY")) return "ACTIVE";
    if (gb_haas_eq(status, "IDLE")) return "READY";
    if (contains(status, "ALARM")) return "STOPPED";
    if (contains(status, "HOLD")) return "INTERRUPTED";
    return "STOPPED";
}

const char *gb_haas_controller_mode(gb_haas_span_t mode)
{
    if (gb_haas_eq(mode, "MEM")) return "AUTOMATIC";
    if (gb_haas_eq(mode, "MDI")) return "MANUAL_DATA_INPUT";
    if (gb_haas_eq(mode, "EDIT") || gb_haas_eq(mode, "LIST PROG")) return "EDIT";
    return "MANUAL";
}
