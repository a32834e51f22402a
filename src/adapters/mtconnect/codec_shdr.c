/*
 * SHDR lines. Fields are split on '|' and trimmed; a field opening with '"' runs to its closing
 * quote with backslash escapes, the way cppagent's tokenizer reads them. Each item consumes as many fields as its kind
 * needs -- asked of the caller for every key, because only the device model knows that `system`
 * is a condition -- so a wrong guess shows up as a malformed line, never as a read past the end.
 */
#include "adapters/mtconnect/codec_shdr.h"
#include "gemba/error.h"

#include <ctype.h>
#include <string.h>

#define MAX_FIELDS (GB_SHDR_MAX_ITEMS * 6 + 8)

bool gb_shdr_eq(gb_shdr_span_t s, const char *t)
{
    size_t n = strlen(t);
    return s.n == n && memcmp(s.p, t, n) == 0;
}

int gb_shdr_time(const char *s, size_t n, gb_time_t *out)
{
    const char *at = memchr(s, '@', n); /* "time@duration": the duration is not ours to keep */
    if (at) n = (size_t)(at - s);
    char buf[64];
    if (n < 19 || n > 40) return GB_EINVAL;
    memcpy(buf, s, n);
    /* no zone means UTC */
    char last = buf[n - 1];
    bool zoned = last == 'Z' || last == 'z' || (n > 6 && (buf[n - 6] == '+' || buf[n - 6] == '-') &&
                                                 buf[n - 3] == ':');
    if (!zoned) buf[n++] = 'Z';
    buf[n] = 0;
    return gb_time_parse_rfc3339(buf, n, out) == 0 ? 0 : GB_EINVAL;
}

static gb_shdr_span_t trim_cr(gb_shdr_span_t s)
{
    while (s.n && (s.p[s.n - 1] == '\r' || s.p[s.n - 1] == '\n')) s.n--;
    return s;
}

int gb_shdr_parse(char *line, size_t len, gb_shdr_kind_fn kind_of, void *ctx,
                  gb_shdr_line_t *out, const char **why)
{
    const char *discard;
    if (!why) why = &discard;
    out->kind = GB_SHDR_LINE_DATA;
    out->has_time = false;
    out->nitems = 0;
    out->multiline = (gb_shdr_span_t){NULL, 0};
    gb_shdr_span_t l = trim_cr((gb_shdr_span_t){line, len});
    while (l.n && (l.p[l.n - 1] == ' ' || l.p[l.n - 1] == '\t')) l.n--;
    if (l.n >= 2 && l.p[0] == '*' && l.p[1] == ' ') {
        out->kind = GB_SHDR_LINE_COMMAND;
        out->command = (gb_shdr_span_t){l.p + 2, l.n - 2};
        return 0;
    }
    /* split into fields: trimmed; a field that starts with '"' is quoted, '\\x' standing for x,
     * so a value may hold a '|'. Quoted text is unescaped in place (it only gets shorter). */
    gb_shdr_span_t f[MAX_FIELDS];
    size_t nf = 0;
    char *p = line + (l.p - line), *end = line + (l.p - line) + l.n;
    for (;;) {
        if (nf == MAX_FIELDS) {
            *why = "too many fields";
            return GB_EPROTO;
        }
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p < end && *p == '"') {
            /* first find the closing quote; only a well-formed quoted field is unescaped */
            char *r = p + 1;
            while (r < end && *r != '"') r += (*r == '\\' && r + 1 < end) ? 2 : 1;
            char *after = r < end ? r + 1 : r;
            while (after < end && (*after == ' ' || *after == '\t')) after++;
            if (r < end && (after == end || *after == '|')) {
                char *w = p;
                for (char *q = p + 1; q < r; q++) {
                    if (*q == '\\' && q + 1 < r) q++;
                    *w++ = *q;
                }
                f[nf++] = (gb_shdr_span_t){p, (size_t)(w - p)};
                if (after == end) break;
                p = after + 1;
                continue;
            }
            /* otherwise it is plain text, quote and all */
        }
        char *bar = memchr(p, '|', (size_t)(end - p));
        char *fe = bar ? bar : end;
        while (fe > p && (fe[-1] == ' ' || fe[-1] == '\t')) fe--;
        f[nf++] = (gb_shdr_span_t){p, (size_t)(fe - p)};
        if (!bar) break;
        p = bar + 1;
    }
    size_t i = 0;
    /* the first field is a timestamp, or empty (stamp on arrival), or already a key */
    if (f[0].n == 0) {
        i = 1;
    } else if (f[0].n >= 19 && isdigit((unsigned char)f[0].p[0]) && f[0].p[4] == '-') {
        if (gb_shdr_time(f[0].p, f[0].n, &out->t) != 0) {
            *why = "bad timestamp";
            return GB_EPROTO;
        }
        out->has_time = true;
        i = 1;
    }
    if (i >= nf || f[i].n == 0) {
        *why = "no data after the timestamp";
        return GB_EPROTO;
    }
    /* assets */
    if (f[i].p[0] == '@') {
        gb_shdr_span_t cmd = f[i];
        if (gb_shdr_eq(cmd, "@ASSET@") || gb_shdr_eq(cmd, "@UPDATE_ASSET@")) {
            if (nf - i < 3) {
                *why = "asset line needs an id and more";
                return GB_EPROTO;
            }
            out->kind = gb_shdr_eq(cmd, "@ASSET@") ? GB_SHDR_LINE_ASSET : GB_SHDR_LINE_UPDATE_ASSET;
            out->asset_id = f[i + 1];
            if (out->kind == GB_SHDR_LINE_ASSET) {
                if (nf - i < 4) {
                    *why = "@ASSET@ needs id|type|body";
                    return GB_EPROTO;
                }
                out->asset_type = f[i + 2];
                /* the body is everything after the type, bars included */
                out->asset_body = (gb_shdr_span_t){f[i + 3].p, (size_t)(l.p + l.n - f[i + 3].p)};
            } else {
                out->asset_type = (gb_shdr_span_t){NULL, 0};
                out->asset_body = (gb_shdr_span_t){f[i + 2].p, (size_t)(l.p + l.n - f[i + 2].p)};
            }
            if (out->asset_body.n > 13 && !memcmp(out->asset_body.p, "--multiline--", 13))
                out->multiline = out->asset_body;
            return 0;
        }
        if (gb_shdr_eq(cmd, "@REMOVE_ASSET@") || gb_shdr_eq(cmd, "@REMOVE_ALL_ASSETS@")) {
            if (nf - i < 2) {
                *why = "asset removal needs an id or a type";
                return GB_EPROTO;
            }
            out->kind = gb_shdr_eq(cmd, "@REMOVE_ASSET@") ? GB_SHDR_LINE_REMOVE_ASSET
                                                          : GB_SHDR_LINE_REMOVE_ALL;
            out->asset_id = f[i + 1];
            out->asset_type = f[i + 1];
            return 0;
        }
        *why = "unknown @command@";
        return GB_EPROTO;
    }
    while (i < nf) {
        if (out->nitems == GB_SHDR_MAX_ITEMS) {
            *why = "too many items on one line";
            return GB_EPROTO;
        }
        gb_shdr_item_t *it = &out->items[out->nitems];
        gb_shdr_span_t k = f[i++];
        if (k.n == 0) {
            if (i == nf) break; /* a trailing bar */
            *why = "empty key";
            return GB_EPROTO;
        }
        const char *colon = memchr(k.p, ':', k.n);
        it->device = colon ? (gb_shdr_span_t){k.p, (size_t)(colon - k.p)} : (gb_shdr_span_t){k.p, 0};
        it->key = colon ? (gb_shdr_span_t){colon + 1, k.n - (size_t)(colon - k.p) - 1} : k;
        it->kind = kind_of ? kind_of(ctx, it->device, it->key) : GB_SHDR_VALUE;
        size_t need = it->kind == GB_SHDR_CONDITION ? 5 : it->kind == GB_SHDR_MESSAGE ? 2
                    : it->kind == GB_SHDR_TIMESERIES ? 3 : 1;
        if (nf - i < need) {
            /* a condition may leave its trailing fields off; nothing else may */
            if (it->kind != GB_SHDR_CONDITION || nf - i < 1) {
                *why = "an item is missing its fields";
                return GB_EPROTO;
            }
        }
        it->nf = 0;
        for (size_t j = 0; j < need; j++)
            it->f[it->nf++] = i < nf ? f[i++] : (gb_shdr_span_t){"", 0};
        if (it->kind == GB_SHDR_TIMESERIES) {
            size_t count = 0;
            for (size_t c = 0; c < it->f[0].n; c++) {
                if (!isdigit((unsigned char)it->f[0].p[c]) || count > 1000000) {
                    *why = "time series count is not a number";
                    return GB_EPROTO;
                }
                count = count * 10 + (size_t)(it->f[0].p[c] - '0');
            }
        }
        out->nitems++;
    }
    return 0;
}
