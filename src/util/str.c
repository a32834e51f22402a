/* String and allocation helpers. */
#include "util/str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void gb_oom(void)
{
    fputs("gemba: out of memory\n", stderr);
    abort();
}

void *gb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) gb_oom();
    return p;
}

void *gb_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) gb_oom();
    return p;
}

void *gb_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) gb_oom();
    return p;
}

char *gb_xstrdup(const char *s)
{
    return gb_xstrndup(s, strlen(s));
}

char *gb_xstrndup(const char *s, size_t n)
{
    char *p = gb_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *gb_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) gb_oom();
    char *p = gb_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t gb_edit_distance(const char *a, const char *b)
{
    /* optimal string alignment: Levenshtein plus adjacent transpositions ("tgas" -> "tags" is 1) */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return la > lb ? la : lb; /* names are short; no need to be exact */
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *gb_did_you_mean(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    size_t limit = len / 3;
    if (limit < 1) limit = 1;
    if (limit > 3) limit = 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (const char *const *c = candidates; *c; c++) {
        size_t d = gb_edit_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    return best;
}

void gb_strlcpy(char *dst, const char *src, size_t size)
{
    if (!size) return;
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

bool gb_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-') return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return false;
    return true;
}

size_t gb_utf8_char(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!n) return 0;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    /* the length of the sequence, and the range its second byte must be in (RFC 3629) */
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0; /* not overlong */
        if (c == 0xed) hi = 0x9f; /* not a surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90; /* not overlong */
        if (c == 0xf4) hi = 0x8f; /* not above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80) return 0;
    return len;
}

size_t gb_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t w;
        if (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080u))) {
            i += 8; /* ASCII, the usual text, eight bytes at a time */
            continue;
        }
        size_t k = gb_utf8_char(s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

void gb_utf8_scrub(char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        i += gb_utf8_valid(s + i, n - i);
        if (i < n) s[i++] = '?';
    }
}
