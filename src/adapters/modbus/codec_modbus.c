/*
 * Modbus addresses, values and read plans. Nothing here touches a socket: the adapter reads the
 * registers, this turns them into values.
 */
#include "adapters/modbus/codec_modbus.h"
#include "gemba/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool gb_mb_area_regs(gb_mb_area_t a)
{
    return a == GB_MB_HR || a == GB_MB_IR;
}

static const struct { const char *name; gb_mb_type_t type; uint16_t regs; } types[] = {
    {"int16", GB_MB_I16, 1},   {"uint16", GB_MB_U16, 1},  {"int32", GB_MB_I32, 2},
    {"uint32", GB_MB_U32, 2},  {"int64", GB_MB_I64, 4},   {"uint64", GB_MB_U64, 4},
    {"float32", GB_MB_F32, 2}, {"float64", GB_MB_F64, 4},
};

int gb_mb_parse_address(const char *s, gb_mb_addr_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->bit = -1;
    out->type = GB_MB_U16;
    out->count = 1;
    char buf[128];
    if (strlen(s) >= sizeof buf) {
        *why = "address too long";
        return GB_EINVAL;
    }
    strcpy(buf, s);
    char *at = strchr(buf, '@');
    if (at) {
        *at++ = 0;
        if (!*at || strlen(at) >= sizeof out->group) {
            *why = "a poll group name follows '@'";
            return GB_EINVAL;
        }
        strcpy(out->group, at);
    }
    char *parts[5];
    int np = 0;
    for (char *p = buf; np < 5;) {
        parts[np++] = p;
        char *c = strchr(p, ':');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    if (np < 2) {
        *why = "expected AREA:NUMBER, e.g. hr:100";
        return GB_EINVAL;
    }
    if (!strcmp(parts[0], "hr")) out->area = GB_MB_HR;
    else if (!strcmp(parts[0], "ir")) out->area = GB_MB_IR;
    else if (!strcmp(parts[0], "coil")) out->area = GB_MB_COIL;
    else if (!strcmp(parts[0], "di")) out->area = GB_MB_DI;
    else {
        *why = "the area is hr, ir, coil or di";
        return GB_EINVAL;
    }
    char *end;
    if (!isdigit((unsigned char)parts[1][0])) {
        *why = "the register number is 0 to 65535";
        return GB_EINVAL;
    }
    unsigned long n = strtoul(parts[1], &end, 10);
    if (n > 65535 || (*end && *end != '.')) {
        *why = "the register number is 0 to 65535";
        return GB_EINVAL;
    }
    out->start = (uint16_t)n;
    if (*end == '.') {
        unsigned long b = strtoul(end + 1, &end, 10);
        if (!gb_mb_area_regs(out->area) || b > 15 || *end || !isdigit((unsigned char)end[-1])) {
            *why = "a bit (.0 to .15) selects from a register (hr or ir)";
            return GB_EINVAL;
        }
        out->bit = (int)b;
    }
    if (!gb_mb_area_regs(out->area) || out->bit >= 0) {
        out->type = GB_MB_BIT;
        if (np > 2) {
            *why = "coils, discrete inputs and register bits take no type";
            return GB_EINVAL;
        }
        return 0;
    }
    if (np > 2) {
        if (!strcmp(parts[2], "string")) {
            if (np < 4) {
                *why = "a string gives its length in registers: string:LEN";
                return GB_EINVAL;
            }
            unsigned long len = strtoul(parts[3], &end, 10);
            if (*end || len < 1 || len > GB_MB_MAX_STRING) {
                *why = "a string is 1 to 64 registers";
                return GB_EINVAL;
            }
            out->type = GB_MB_STR;
            out->count = (uint16_t)len;
            if (np > 4) {
                if (!strcmp(parts[4], "badc")) out->order = GB_MB_BADC;
                else if (strcmp(parts[4], "abcd")) {
                    *why = "a string's byte order is abcd or badc";
                    return GB_EINVAL;
                }
            }
        } else {
            int k = -1;
            for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
                if (!strcmp(parts[2], types[i].name)) k = (int)i;
            if (k < 0) {
                *why = "the type is int16, uint16, int32, uint32, int64, uint64, float32, float64 "
                       "or string:LEN";
                return GB_EINVAL;
            }
            out->type = types[k].type;
            out->count = types[k].regs;
            if (np > 3) {
                static const char *const orders[] = {"abcd", "cdab", "badc", "dcba"};
                int o = -1;
                for (int i = 0; i < 4; i++)
                    if (!strcmp(parts[3], orders[i])) o = i;
                if (o < 0 || np > 4) {
                    *why = "the order is abcd, cdab, badc or dcba";
                    return GB_EINVAL;
                }
                out->order = (gb_mb_order_t)o;
            }
        }
    }
    if ((unsigned)out->start + out->count > 65536u) {
        *why = "the value runs past register 65535";
        return GB_EINVAL;
    }
    return 0;
}

/* The value's bytes, most significant first, from N registers in ORDER. */
static void assemble(const uint16_t *r, int n, gb_mb_order_t order, uint8_t *out)
{
    bool wswap = order == GB_MB_CDAB || order == GB_MB_DCBA;
    bool bswap = order == GB_MB_BADC || order == GB_MB_DCBA;
    for (int w = 0; w < n; w++) {
        uint16_t v = r[wswap ? n - 1 - w : w];
        uint8_t hi = (uint8_t)(v >> 8), lo = (uint8_t)v;
        out[2 * w] = bswap ? lo : hi;
        out[2 * w + 1] = bswap ? hi : lo;
    }
}

void gb_mb_decode(const gb_mb_addr_t *a, const uint16_t *regs, const uint8_t *bits,
                  gb_mb_value_t *out)
{
    memset(out, 0, sizeof *out);
    uint8_t b[8];
    uint64_t u = 0;
    switch (a->type) {
    case GB_MB_BIT:
        out->kind = GB_MB_V_BOOL;
        out->b = gb_mb_area_regs(a->area) ? (regs[0] >> a->bit) & 1 : bits[0] != 0;
        return;
    case GB_MB_STR: {
        out->kind = GB_MB_V_STR;
        size_t n = 0;
        for (int w = 0; w < a->count; w++) {
            uint8_t hi = (uint8_t)(regs[w] >> 8), lo = (uint8_t)regs[w];
            out->s[n++] = (char)(a->order == GB_MB_BADC ? lo : hi);
            out->s[n++] = (char)(a->order == GB_MB_BADC ? hi : lo);
        }
        out->s[n] = 0;
        n = strlen(out->s); /* up to the first NUL */
        while (n && out->s[n - 1] == ' ') out->s[--n] = 0;
        for (size_t i = 0; i < n; i++) /* keep it printable text */
            if ((unsigned char)out->s[i] < 0x20 || (unsigned char)out->s[i] == 0x7f) out->s[i] = '?';
        return;
    }
    default: break;
    }
    if (a->count > 4) return; /* numbers span at most four registers (the parser sees to it) */
    assemble(regs, a->count, a->order, b);
    for (int i = 0; i < 2 * a->count; i++) u = u << 8 | b[i];
    switch (a->type) {
    case GB_MB_I16: out->kind = GB_MB_V_INT; out->i = (int16_t)u; break;
    case GB_MB_U16: out->kind = GB_MB_V_UINT; out->u = (uint16_t)u; break;
    case GB_MB_I32: out->kind = GB_MB_V_INT; out->i = (int32_t)(uint32_t)u; break;
    case GB_MB_U32: out->kind = GB_MB_V_UINT; out->u = (uint32_t)u; break;
    case GB_MB_I64: out->kind = GB_MB_V_INT; out->i = (int64_t)u; break;
    case GB_MB_U64: out->kind = GB_MB_V_UINT; out->u = u; break;
    case GB_MB_F32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        out->kind = GB_MB_V_FLOAT;
        out->f = f;
        break;
    }
    case GB_MB_F64: {
        double d;
        memcpy(&d, &u, 8);
        out->kind = GB_MB_V_FLOAT;
        out->f = d;
        break;
    }
    default: break;
    }
}

static int by_area_start(const void *x, const void *y, void *base)
{
    const gb_mb_addr_t *a = (const gb_mb_addr_t *)base + *(const size_t *)x;
    const gb_mb_addr_t *b = (const gb_mb_addr_t *)base + *(const size_t *)y;
    if (a->area != b->area) return (int)a->area - (int)b->area;
    return (int)a->start - (int)b->start;
}

size_t gb_mb_plan(const gb_mb_addr_t *a, size_t n, unsigned max_gap, size_t *order,
                  gb_mb_read_t *reads)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, n, sizeof *order, by_area_start, (void *)a);
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_mb_addr_t *x = &a[order[i]];
        unsigned limit = gb_mb_area_regs(x->area) ? GB_MB_MAX_READ_REGS : GB_MB_MAX_READ_BITS;
        unsigned end = (unsigned)x->start + x->count;
        if (nr) {
            gb_mb_read_t *r = &reads[nr - 1];
            unsigned rend = (unsigned)r->start + r->count;
            unsigned nend = end > rend ? end : rend;
            if (r->area == x->area && x->start <= rend + max_gap && nend - r->start <= limit) {
                r->count = (uint16_t)(nend - r->start);
                r->n++;
                continue;
            }
        }
        reads[nr++] = (gb_mb_read_t){x->area, x->start, x->count, i, 1};
    }
    return nr;
}

int gb_mb_encode(const gb_mb_addr_t *a, double num, const char *text, uint16_t *regs)
{
    if (a->type == GB_MB_STR) {
        size_t len = text ? strlen(text) : 0;
        if (len > 2u * a->count) return GB_ERANGE;
        for (int w = 0; w < a->count; w++) {
            uint8_t c0 = (size_t)(2 * w) < len ? (uint8_t)text[2 * w] : 0;
            uint8_t c1 = (size_t)(2 * w + 1) < len ? (uint8_t)text[2 * w + 1] : 0;
            regs[w] = a->order == GB_MB_BADC ? (uint16_t)(c1 << 8 | c0) : (uint16_t)(c0 << 8 | c1);
        }
        return 0;
    }
    uint64_t u = 0;
    bool integral = num == (double)(int64_t)num;
    switch (a->type) {
    case GB_MB_I16: if (!integral || num < -32768 || num > 32767) return GB_ERANGE; u = (uint16_t)(int16_t)num; break;
    case GB_MB_U16: if (!integral || num < 0 || num > 65535) return GB_ERANGE; u = (uint16_t)num; break;
    case GB_MB_I32: if (!integral || num < -2147483648.0 || num > 2147483647.0) return GB_ERANGE; u = (uint32_t)(int32_t)num; break;
    case GB_MB_U32: if (!integral || num < 0 || num > 4294967295.0) return GB_ERANGE; u = (uint32_t)num; break;
    case GB_MB_I64: if (!integral || num < -9.2e18 || num > 9.2e18) return GB_ERANGE; u = (uint64_t)(int64_t)num; break;
    case GB_MB_U64: if (!integral || num < 0 || num > 1.8e19) return GB_ERANGE; u = (uint64_t)num; break;
    case GB_MB_F32: {
        float f = (float)num;
        uint32_t w;
        memcpy(&w, &f, 4);
        u = w;
        break;
    }
    case GB_MB_F64: memcpy(&u, &num, 8); break;
    default: return GB_ERANGE;
    }
    /* the value's bytes, most significant first, then laid out as gb_mb_decode reads them */
    uint8_t b[8];
    int n = 2 * a->count;
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(u >> (8 * (n - 1 - i)));
    bool wswap = a->order == GB_MB_CDAB || a->order == GB_MB_DCBA;
    bool bswap = a->order == GB_MB_BADC || a->order == GB_MB_DCBA;
    for (int w = 0; w < a->count; w++) {
        uint8_t hi = b[2 * w], lo = b[2 * w + 1];
        uint16_t v = bswap ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
        regs[wswap ? a->count - 1 - w : w] = v;
    }
    return 0;
}
