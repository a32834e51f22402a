/* libFuzzer target: the MTConnect agent document codec (Streams, Devices, Error) on arbitrary bytes. */
#include "adapters/mtconnect/codec_streams.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gb_mtc_doc_t *d = NULL;
    if (gb_mtc_parse((const char *)data, size, &d, NULL) != 0) {
        if (d) __builtin_trap(); /* a refused document leaves nothing behind */
        return 0;
    }
    /* every string is terminated where its length says, and the header is consistent */
    for (size_t i = 0; i < d->nobs; i++) {
        const gb_mtc_obs_t *o = &d->obs[i];
        if (strlen(o->value) != o->value_len || o->value_len > GB_MTC_VALUE_MAX) __builtin_trap();
        if (!*o->data_item_id || strlen(o->device_uuid) > GB_MTC_ATTR_MAX) __builtin_trap();
        if (o->category == GB_MTC_CONDITION && !*o->level) __builtin_trap();
    }
    if (d->kind == GB_MTC_DOC_STREAMS &&
        (d->header.first_seq > d->header.last_seq + 1 || d->header.next_seq > d->header.last_seq + 1))
        __builtin_trap();
    for (size_t i = 0; i < d->nitems; i++)
        if (d->items[i].device >= d->ndevices || !*d->items[i].id) __builtin_trap();
    if (d->kind == GB_MTC_DOC_ERROR && !d->nerrors) __builtin_trap();
    gb_mtc_doc_free(d);
    return 0;
}
