/* The growable byte buffer (see buf.h). */
#include "util/buf.h"
#include "gemba/error.h"

#include <stdlib.h>
#include <string.h>

void gb_buf_init(gb_buf_t *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
}

void gb_buf_clear(gb_buf_t *b)
{
    free(b->p);
    gb_buf_init(b);
}

int gb_buf_reserve(gb_buf_t *b, size_t extra)
{
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return GB_ENOMEM;
    size_t want = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return GB_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int gb_buf_append(gb_buf_t *b, const void *p, size_t n)
{
    int rc = gb_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}
