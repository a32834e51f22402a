/*
 * What the dashboard needs from the server beyond the JSON API of http.c, kept apart so the
 * router can change without touching it:
 *   - the dashboard's built files (web/, bundled at build time by web/build.mjs into a table of
 *     path -> bytes, content type and ETag), served at / and /assets/...;
 *   - GET /api/v1/plant, the plant model as the plant file describes it (hierarchy, machines with
 *     their ideal cycle times and tags, shifts, reason trees), which the operator view needs for
 *     its reason buttons and the board for its targets.
 */
#ifndef GB_API_WEB_H
#define GB_API_WEB_H

#include "gemba/api.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* One built file of the dashboard; the table is generated (web_assets.c in the build tree). */
typedef struct gb_web_asset {
    const char *path;          /* URL path: "/", "/assets/app-3FQ2K7.js" */
    const char *type;          /* Content-Type */
    const unsigned char *data; /* the bytes, static */
    size_t len;
    const char *etag;          /* a strong ETag, quoted: "\"sha256-prefix\"" */
    bool immutable;            /* its name carries a content hash: cache it for a year */
} gb_web_asset_t;

extern const gb_web_asset_t gb_web_assets[];
extern const size_t gb_web_assets_count;

/* The asset at URL path PATH (query string already cut by libmicrohttpd), or NULL. */
const gb_web_asset_t *gb_web_asset_find(const char *path);

/*
 * Answers a GET or HEAD of asset A: 200 with its bytes, content type and cache headers, or
 * 304 when the request's If-None-Match names its ETag.
 */
enum MHD_Result gb_web_asset_send(struct MHD_Connection *c, const gb_web_asset_t *a);

/* The /api/v1/plant document (new reference). */
json_t *gb_api_plant(const gb_api_source_t *src);

#endif
