/*
 * String values. Machine strings are mostly enumerations -- an execution state, a program name,
 * an alarm text -- that repeat for hours, so the usual block is a short dictionary of distinct
 * strings plus one id per point, and the ids go through the integer codec, which turns long runs
 * of one state into a handful of (id, run length) pairs. Free text (a log line per point) gets
 * the raw form: one length per point and the bytes one after another. Both sizes are computed
 * exactly and the smaller is written.
 *
 *   STR_RAW   lengths stream (n) | bytes
 *   STR_DICT  k | lengths stream (k) | bytes of the k distinct strings | ids stream (n)
 * Dictionary ids number the strings in order of first appearance.
 */
#include "store/codec_impl.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * UINT64_C(0x100000001b3);
    return h ^ (h >> 29);
}

typedef struct sdict {
    int64_t *ids;    /* per point */
    int64_t *lens;   /* per distinct string, then per point (for the raw form) */
    uint32_t *first; /* per distinct string: the point that brought it */
    size_t k;
    uint64_t dict_bytes, raw_bytes;
} sdict_t;

static void sdict_free(sdict_t *d)
{
    free(d->ids);
    free(d->lens);
    free(d->first);
}

static int sdict_build(const gb_block_str_t *s, size_t n, const char *arena, sdict_t *d)
{
    memset(d, 0, sizeof *d);
    unsigned bits = 1;
    while (((size_t)1 << bits) < 2 * n)
        bits++;
    size_t cap = (size_t)1 << bits;
    int32_t *slot = malloc(cap * sizeof *slot);
    d->ids = malloc(n * sizeof *d->ids);
    d->lens = malloc(2 * n * sizeof *d->lens);
    d->first = malloc(n * sizeof *d->first);
    if (!slot || !d->ids || !d->lens || !d->first) {
        free(slot);
        return GB_ENOMEM;
    }
    memset(slot, 0xff, cap * sizeof *slot);
    for (size_t i = 0; i < n; i++) {
        const char *p = arena + s[i].off;
        size_t h = (size_t)(hash_bytes(p, s[i].len) >> (64 - bits));
        for (;; h = (h + 1) & (cap - 1)) {
            if (slot[h] < 0) {
                slot[h] = (int32_t)d->k;
                d->first[d->k] = (uint32_t)i;
                d->lens[d->k++] = s[i].len;
                d->dict_bytes += s[i].len;
                break;
            }
            const gb_block_str_t *o = &s[d->first[slot[h]]];
            if (o->len == s[i].len && !memcmp(arena + o->off, p, o->len)) break;
        }
        d->ids[i] = slot[h];
        d->lens[n + i] = s[i].len;
        d->raw_bytes += s[i].len;
    }
    free(slot);
    return 0;
}

/* Appends the bytes of strings S[at[0..k)] ("at" NULL: S[0..k)) to OUT, whose room is reserved. */
static void put_strings(const gb_block_str_t *s, const uint32_t *at, size_t k, const char *arena,
                        gb_buf_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const gb_block_str_t *x = &s[at ? at[i] : i];
        memcpy(out->p + out->len, arena + x->off, x->len);
        out->len += x->len;
    }
}

int gb_scodec_encode(const gb_block_str_t *s, size_t n, const char *arena, int force, gb_buf_t *out,
                     uint8_t *codec)
{
    if (force && force != GB_CODEC_STR_RAW && force != GB_CODEC_STR_DICT) return GB_EINVAL;
    sdict_t d;
    size_t start = out->len;
    int rc = sdict_build(s, n, arena, &d);
    if (rc) goto out;
    uint64_t raw = d.raw_bytes, dict = d.dict_bytes;
    size_t sz;
    if (force != GB_CODEC_STR_DICT) {
        if ((sz = gb_icodec_size(d.lens + n, n, GB_IC_ALL)) == SIZE_MAX) goto nomem;
        raw += sz;
    }
    if (force != GB_CODEC_STR_RAW) {
        if ((sz = gb_icodec_size(d.lens, d.k, GB_IC_ALL)) == SIZE_MAX) goto nomem;
        dict += sz + gb_varint_len(d.k);
        if ((sz = gb_icodec_size(d.ids, n, GB_IC_ALL)) == SIZE_MAX) goto nomem;
        dict += sz;
    }
    int use_dict = force ? force == GB_CODEC_STR_DICT : dict < raw;
    uint64_t bytes = use_dict ? dict : raw;
    rc = GB_ERANGE;
    if (bytes > GB_BLOCK_MAX_BYTES) goto out;
    if ((rc = gb_buf_reserve(out, (size_t)bytes + GB_BITW_SLACK))) goto out;
    if (use_dict) {
        gb_buf_put_varint(out, d.k);
        rc = gb_icodec_encode(d.lens, d.k, GB_IC_ALL, out, NULL);
        if (!rc) put_strings(s, d.first, d.k, arena, out);
        if (!rc) rc = gb_icodec_encode(d.ids, n, GB_IC_ALL, out, NULL);
    } else {
        rc = gb_icodec_encode(d.lens + n, n, GB_IC_ALL, out, NULL);
        if (!rc) put_strings(s, NULL, n, arena, out);
    }
    *codec = use_dict ? GB_CODEC_STR_DICT : GB_CODEC_STR_RAW;
    goto out;
nomem:
    rc = GB_ENOMEM;
out:
    sdict_free(&d);
    if (rc) out->len = start;
    return rc;
}

/*
 * Reads K lengths into LENS and the K strings' bytes that follow into ARENA; LENS[i] becomes
 * offset << 32 | length.
 */
static int read_strings(gb_rd_t *r, size_t k, int64_t *lens, gb_buf_t *arena)
{
    int rc = gb_icodec_decode(r, k, GB_IC_ALL, lens, NULL);
    if (rc) return rc;
    uint64_t total = 0;
    for (size_t i = 0; i < k; i++) {
        if ((uint64_t)lens[i] > gb_rd_left(r) - total) return GB_EPROTO;
        lens[i] = (int64_t)(total << 32 | (uint64_t)lens[i]);
        total += (uint64_t)lens[i] & 0xffffffffu;
    }
    const uint8_t *p;
    if ((rc = gb_rd_bytes(r, (size_t)total, &p))) return rc;
    arena->len = 0;
    return gb_buf_append(arena, p, (size_t)total);
}

static inline gb_block_str_t unpack_str(int64_t v)
{
    return (gb_block_str_t){.off = (uint32_t)((uint64_t)v >> 32), .len = (uint32_t)v};
}

int gb_scodec_decode(uint8_t codec, gb_rd_t *r, size_t n, gb_block_str_t *s, gb_buf_t *arena,
                     int64_t *tmp)
{
    int rc;
    if (codec == GB_CODEC_STR_RAW) {
        if ((rc = read_strings(r, n, tmp, arena))) return rc;
        for (size_t i = 0; i < n; i++)
            s[i] = unpack_str(tmp[i]);
        return 0;
    }
    if (codec != GB_CODEC_STR_DICT) return GB_EPROTO;
    uint64_t k;
    if ((rc = gb_rd_count(r, n, &k))) return rc;
    if (k == 0) return GB_EPROTO;
    int64_t *dict = tmp + n;
    if ((rc = read_strings(r, k, dict, arena)) ||
        (rc = gb_icodec_decode(r, n, GB_IC_ALL, tmp, NULL)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((uint64_t)tmp[i] >= k) return GB_EPROTO;
        s[i] = unpack_str(dict[tmp[i]]);
    }
    return 0;
}
