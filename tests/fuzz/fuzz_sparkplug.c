/*
 * libFuzzer target: the Sparkplug B codec. The input is a payload; its first bytes, up to a NUL,
 * are also tried as a topic. Every decoded metric is read in full, so a value pointing outside
 * the decoded message shows up under ASan.
 */
#include "adapters/mqtt/codec_sparkplug.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char topic[300];
    size_t n = size < sizeof topic - 1 ? size : sizeof topic - 1;
    memcpy(topic, data, n);
    topic[n] = 0;
    gb_spb_topic_t t;
    if (gb_spb_topic_parse(topic, &t) == 0 && (!t.edge[0] || strlen(t.edge) > GB_SPB_ID_MAX))
        __builtin_trap();
    gb_spb_payload_t *p;
    if (gb_spb_decode(data, size, &p) != 0) return 0;
    volatile size_t sink = 0;
    for (size_t i = 0; i < p->nmetrics; i++) {
        const gb_spb_metric_t *m = &p->metrics[i];
        if (m->name) sink += strlen(m->name);
        if (m->kind == GB_SPB_V_STRING) sink += strlen(m->s);
        if (m->bad && m->kind != GB_SPB_V_NONE) __builtin_trap();
    }
    (void)sink;
    gb_spb_payload_free(p);
    return 0;
}
