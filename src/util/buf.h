/*
 * A growable byte buffer: the caller owns the gb_buf_t (init/clear), the buffer owns its bytes.
 * Growth doubles the capacity, so appending N bytes one piece at a time costs O(N). Unlike the
 * gb_x* helpers, growth does not abort: buffers are sized by input (encoded blocks, files), so a
 * failed allocation comes back as GB_ENOMEM and leaves the buffer as it was.
 */
#ifndef GB_UTIL_BUF_H
#define GB_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct gb_buf {
    uint8_t *p; /* owned; NULL until the first growth */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
} gb_buf_t;

/* An empty buffer that owns nothing yet. */
void gb_buf_init(gb_buf_t *b);

/* Frees the bytes and leaves B empty (it can be used again). */
void gb_buf_clear(gb_buf_t *b);

/* Makes room for at least EXTRA more bytes after len. 0 or GB_ENOMEM (B unchanged). */
int gb_buf_reserve(gb_buf_t *b, size_t extra);

/* Appends N bytes of P. 0 or GB_ENOMEM (B unchanged). */
int gb_buf_append(gb_buf_t *b, const void *p, size_t n);

#endif
