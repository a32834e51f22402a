/* libFuzzer target: the SHDR line codec on arbitrary bytes (copied, as it unescapes in place). */
#include "adapters/mtconnect/codec_shdr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gb_shdr_kind_t kind_of(void *ctx, gb_shdr_span_t device, gb_shdr_span_t key)
{
    (void)ctx;
    (void)device;
    /* let the first byte of the key pick the kind, so every kind gets exercised */
    return key.n ? (gb_shdr_kind_t)((unsigned char)key.p[0] % 6) : GB_SHDR_VALUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gb_shdr_line_t line;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    if (gb_shdr_parse(buf, size, kind_of, NULL, &line, NULL) == 0) {
        /* every span must lie inside the buffer */
        for (size_t i = 0; i < line.nitems; i++)
            for (size_t j = 0; j < line.items[i].nf; j++)
                if (line.items[i].f[j].n &&
                    (line.items[i].f[j].p < buf || line.items[i].f[j].p + line.items[i].f[j].n > buf + size))
                    __builtin_trap();
    }
    free(buf);
    return 0;
}
