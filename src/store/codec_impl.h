/*
 * Inside the block codecs: the three families that block.c puts together. Each encoder appends a
 * section body to a gb_buf_t and says which codec it chose; each decoder reads exactly one body
 * through a gb_rd_t and leaves the reader after it (block.c checks that a section is used up).
 *
 * Integer streams describe themselves: a leading byte names the codec, so they nest -- a decimal
 * float section holds the stream of its digits, a dictionary holds the stream of its ids. Nesting
 * is one level deep at most: streams inside a DICT, RLE or DELTA_RLE stream are "plain" (RAW,
 * FOR, DELTA, DOD), and the decoder refuses anything else, so a hostile block cannot recurse.
 */
#ifndef GB_STORE_CODEC_IMPL_H
#define GB_STORE_CODEC_IMPL_H

#include "store/codec.h"
#include "store/codec_bits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_IC(c) (1u << (c))
#define GB_IC_PLAIN                                                                                \
    (GB_IC(GB_CODEC_RAW) | GB_IC(GB_CODEC_FOR) | GB_IC(GB_CODEC_DELTA) | GB_IC(GB_CODEC_DOD))
#define GB_IC_ALL                                                                                  \
    (GB_IC_PLAIN | GB_IC(GB_CODEC_DICT) | GB_IC(GB_CODEC_RLE) | GB_IC(GB_CODEC_DELTA_RLE))
/* timestamps: FOR never beats DELTA on increasing values, and values never repeat */
#define GB_IC_TIME ((GB_IC_PLAIN & ~GB_IC(GB_CODEC_FOR)) | GB_IC(GB_CODEC_DELTA_RLE))

/* ---- integers (codec_int.c) ---- */

/*
 * Appends the stream of X[0..N) (N >= 1) to OUT, choosing the smallest among the codecs in
 * ALLOWED (a set of GB_IC(GB_CODEC_*) bits, integer codecs only). *CODEC (may be NULL) gets the
 * choice. 0 or GB_ENOMEM.
 */
int gb_icodec_encode(const int64_t *x, size_t n, unsigned allowed, gb_buf_t *out, uint8_t *codec);

/* The bytes gb_icodec_encode would append, or SIZE_MAX when memory ran out. */
size_t gb_icodec_size(const int64_t *x, size_t n, unsigned allowed);

/*
 * Reads a stream of N integers into X, accepting only the codecs in ALLOWED. *CODEC (may be
 * NULL) gets the stream's codec. 0, GB_EPROTO or GB_ENOMEM.
 */
int gb_icodec_decode(gb_rd_t *r, size_t n, unsigned allowed, int64_t *x, uint8_t *codec);

/*
 * The same, adding BASE to every integer (wrapping; free for the codecs of differences). *RISING
 * (may be NULL) is true when the stream itself shows that the integers rise without wrapping:
 * DELTA and DELTA_RLE whose every step is at least 1 and whose steps add up to less than 2^63.
 * With the last integer above the first (which the caller checks), they then strictly increase.
 */
int gb_icodec_decode_from(gb_rd_t *r, size_t n, unsigned allowed, int64_t base, int64_t *x,
                          uint8_t *codec, bool *rising);

/*
 * Whether the stream at R of N integers (plus BASE, wrapping) is regular: DELTA whose every
 * mini-block holds the same one step, or DELTA_RLE of one run, in ALLOWED, rising as *RISING
 * above says. Then integer i is *FIRST + i * *STEP, R is past the stream and *CODEC (may be NULL)
 * has its codec: read without writing N integers. Otherwise false, R as it was (a stream that is
 * not valid is not regular: gb_icodec_decode_from says what is wrong with it).
 */
bool gb_icodec_regular(gb_rd_t *r, size_t n, unsigned allowed, int64_t base, int64_t *first,
                       int64_t *step, uint8_t *codec);

/* ---- floats (codec_float.c) ---- */

/*
 * Appends the value section for V[0..N) to OUT with codec FORCE (GORILLA, CHIMP, DECIMAL,
 * F64BITS), or the smallest when FORCE is 0; *CODEC gets the choice. 0, GB_EINVAL (FORCE is not
 * a float codec) or GB_ENOMEM.
 */
int gb_fcodec_encode(const double *v, size_t n, int force, gb_buf_t *out, uint8_t *codec);

/*
 * Reads a CODEC value section of N floats into V; TMP is scratch for 2N integers. DIGITS_E (may be
 * NULL) asks for a DECIMAL section's digits instead of its values where they say it all: a
 * section without exceptions. Then V is left alone, the digits are in TMP[0..N) (value i is
 * (double)TMP[i] / 10^e, as decoding computes it) and *DIGITS_E is e; otherwise it is -1.
 */
int gb_fcodec_decode(uint8_t codec, gb_rd_t *r, size_t n, double *v, int64_t *tmp, int *digits_e);

/* Bits the Gorilla and Chimp128 encoders would write for V[0..N) (for sampling). */
uint64_t gb_gorilla_bits(const double *v, size_t n);
uint64_t gb_chimp_bits(const double *v, size_t n);

/* ---- strings (codec_str.c) ---- */

/*
 * Appends the value section for the N strings S (in ARENA) with codec FORCE (STR_RAW, STR_DICT)
 * or the smaller when FORCE is 0; *CODEC gets the choice. The caller has checked that every
 * string lies inside the arena. 0, GB_EINVAL, GB_ERANGE (over GB_BLOCK_MAX_BYTES) or GB_ENOMEM.
 */
int gb_scodec_encode(const gb_block_str_t *s, size_t n, const char *arena, int force, gb_buf_t *out,
                     uint8_t *codec);

/*
 * Reads a CODEC value section of N strings into S, copying their bytes into ARENA (emptied
 * first); TMP is scratch for 2N integers. 0, GB_EPROTO or GB_ENOMEM.
 */
int gb_scodec_decode(uint8_t codec, gb_rd_t *r, size_t n, gb_block_str_t *s, gb_buf_t *arena,
                     int64_t *tmp);

#endif
