/*
 * The SHDR codec: one line of an MTConnect adapter's stream in, its parts out. Pure (no I/O, no
 * allocation): every span points into the caller's line, which quoted fields are unescaped in. The stream is `|`-separated; a line is
 * an optional timestamp followed by items whose field count depends on the data item's kind,
 * which the line does not say -- the caller's KIND_OF callback answers it for each key.
 */
#ifndef GB_ADAPTERS_MTCONNECT_CODEC_SHDR_H
#define GB_ADAPTERS_MTCONNECT_CODEC_SHDR_H

#include "gemba/time.h"

#include <stdbool.h>
#include <stddef.h>

#define GB_SHDR_MAX_ITEMS 256
#define GB_SHDR_LINE_MAX (4u << 20) /* longest line the adapter buffers (assets can be large) */

typedef struct gb_shdr_span {
    const char *p;
    size_t n;
} gb_shdr_span_t;

typedef enum {
    GB_SHDR_VALUE,      /* key|value: samples and events */
    GB_SHDR_CONDITION,  /* key|level|native_code|native_severity|qualifier|message */
    GB_SHDR_MESSAGE,    /* key|native_code|text */
    GB_SHDR_TIMESERIES, /* key|count|rate|v1 v2 ... */
    GB_SHDR_DATASET,    /* key|k1=v1 k2=v2 (one field) */
    GB_SHDR_TABLE       /* key|r1={c1=v1 c2=v2} ... (one field) */
} gb_shdr_kind_t;

typedef struct gb_shdr_item {
    gb_shdr_kind_t kind;
    gb_shdr_span_t device; /* empty when the key has no "device:" prefix */
    gb_shdr_span_t key;
    gb_shdr_span_t f[5];   /* the fields after the key, in the kind's order */
    size_t nf;
} gb_shdr_item_t;

typedef enum {
    GB_SHDR_LINE_DATA,
    GB_SHDR_LINE_COMMAND,      /* "* PONG 10000", "* shdrVersion: 2", ... : text after "* " */
    GB_SHDR_LINE_ASSET,        /* @ASSET@|id|type|body (body may open a multiline block) */
    GB_SHDR_LINE_UPDATE_ASSET, /* @UPDATE_ASSET@|id|... */
    GB_SHDR_LINE_REMOVE_ASSET, /* @REMOVE_ASSET@|id */
    GB_SHDR_LINE_REMOVE_ALL    /* @REMOVE_ALL_ASSETS@|type */
} gb_shdr_line_kind_t;

typedef struct gb_shdr_line {
    gb_shdr_line_kind_t kind;
    bool has_time;   /* false: stamp on arrival */
    gb_time_t t;
    gb_shdr_item_t items[GB_SHDR_MAX_ITEMS];
    size_t nitems;
    gb_shdr_span_t command;          /* COMMAND */
    gb_shdr_span_t asset_id, asset_type, asset_body; /* asset lines */
    gb_shdr_span_t multiline;        /* "--multiline--XXXX" when the body opens a block */
} gb_shdr_line_t;

typedef gb_shdr_kind_t (*gb_shdr_kind_fn)(void *ctx, gb_shdr_span_t device, gb_shdr_span_t key);

/*
 * Parses LINE (its line end may be included). Quoted fields are unescaped in place, so LINE is
 * modified. Returns 0, or GB_EPROTO for a malformed line (a bad timestamp, an item missing its
 * fields, too many items, a bad time-series count, an unterminated quote); *WHY then names the
 * problem (static text).
 */
int gb_shdr_parse(char *line, size_t len, gb_shdr_kind_fn kind_of, void *ctx,
                  gb_shdr_line_t *out, const char **why);

/*
 * Parses an SHDR timestamp: ISO 8601 "2026-11-23T06:00:00.123456Z" (the zone may be absent, which
 * means UTC), optionally followed by "@duration". 0 or GB_EINVAL.
 */
int gb_shdr_time(const char *s, size_t n, gb_time_t *out);

/* True when span S equals the NUL-terminated text T. */
bool gb_shdr_eq(gb_shdr_span_t s, const char *t);

#endif
