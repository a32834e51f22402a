/* libFuzzer target: Modbus tag addresses, and decoding whatever registers follow them. */
#include "adapters/modbus/codec_modbus.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[160];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    gb_mb_addr_t a;
    const char *why;
    if (gb_mb_parse_address(s, &a, &why) != 0) return 0;
    /* registers for the value from the input's bytes (zero-padded) */
    uint16_t regs[GB_MB_MAX_STRING];
    uint8_t bits[1] = {size ? data[0] & 1 : 0};
    memset(regs, 0, sizeof regs);
    for (size_t i = 0; i < size / 2 && i < GB_MB_MAX_STRING; i++)
        regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    gb_mb_value_t v;
    gb_mb_decode(&a, regs, bits, &v);
    gb_mb_addr_t many[3] = {a, a, a};
    size_t order[3];
    gb_mb_read_t reads[3];
    if (gb_mb_plan(many, 3, 8, order, reads) > 3) __builtin_trap();
    return 0;
}
