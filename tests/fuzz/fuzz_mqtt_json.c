/*
 * libFuzzer target: MQTT JSON payloads. The input is split at its first newline into a JSON
 * pointer and a payload; the payload is parsed (as JSON, and as plain text), the pointer resolved,
 * and the value converted to every tag type and read as a time.
 */
#include "adapters/mqtt/codec_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : 0;
    char *pointer = malloc(plen + 1);
    memcpy(pointer, data, plen);
    pointer[plen] = 0;
    const char *payload = nl ? (const char *)nl + 1 : (const char *)data;
    size_t len = nl ? size - plen - 1 : size;
    volatile unsigned sink = 0; /* every byte of a string value is read: ASan checks its bounds */
    for (int raw = 0; raw < 2; raw++) {
        json_t *doc;
        if (gb_mqtt_json_parse(payload, len, raw, &doc) != 0) continue;
        json_t *v = gb_json_pointer(doc, pointer);
        if (v && gb_json_pointer_check(pointer) != 0) __builtin_trap(); /* resolved a bad one */
        for (int t = GB_VT_F64; t <= GB_VT_STR; t++) {
            gb_value_t out;
            char buf[48];
            if (gb_mqtt_json_value(v, (gb_vtype_t)t, &out, buf, sizeof buf) == 0 && t == GB_VT_STR)
                for (size_t i = 0; i < out.len; i++)
                    sink += (unsigned char)out.str[i];
        }
        gb_time_t ts;
        for (int u = GB_TIME_UNIT_NS; u <= GB_TIME_UNIT_S; u++)
            if (v) gb_mqtt_json_time(v, (gb_time_unit_t)u, &ts);
        json_decref(doc);
    }
    (void)sink;
    free(pointer);
    return 0;
}
