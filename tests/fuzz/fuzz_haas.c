/* libFuzzer target: the Haas MDC framer and reply parser on arbitrary bytes, as a stream. */
#include "adapters/haas/codec_haas.h"
#include "gemba/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *buf, size_t size, gb_haas_span_t s)
{
    if (s.n && (s.p < buf || s.p + s.n > buf + size)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly SIZE bytes, so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        gb_haas_span_t r;
        int rc = gb_haas_frame(buf + off, size - off, &used, &r);
        if (used > size - off) __builtin_trap();
        if (rc == 1) {
            inside(buf, size, r);
            if (used == 0) __builtin_trap(); /* a reply always moves the stream on */
            gb_haas_reply_t out;
            if (gb_haas_parse(r.p, r.n, &out, NULL) == 0) {
                inside(buf, size, out.text);
                inside(buf, size, out.status);
                if (out.kind == GB_HAAS_PROGRAM && out.parts < 0) __builtin_trap();
                if (out.kind == GB_HAAS_MACRO && out.value != out.value) __builtin_trap();
                (void)gb_haas_execution(out.status);
                (void)gb_haas_controller_mode(out.text);
            }
        }
        off += used;
        if (rc != 1 && rc != GB_EPROTO) break;
    }
    /* the whole input as one reply, too */
    gb_haas_reply_t out;
    if (gb_haas_parse(buf, size, &out, NULL) == 0) inside(buf, size, out.text);
    free(buf);
    return 0;
}
