/*
 * Serves the dashboard's built files from the table web/build.mjs generates. Files whose names
 * carry a content hash (everything under /assets/) are cached by browsers for a year and never
 * asked for again; index.html is revalidated on every load (no-cache + ETag, so a reload costs a
 * 304), which is what makes a new binary's dashboard reach a TV that never closes its tab.
 */
#include "api/web.h"

#include <string.h>

const gb_web_asset_t *gb_web_asset_find(const char *path)
{
    /* a handful of files: a linear scan is as fast as anything and needs no setup */
    for (size_t i = 0; i < gb_web_assets_count; i++)
        if (!strcmp(gb_web_assets[i].path, path)) return &gb_web_assets[i];
    return NULL;
}

/* Whether an If-None-Match header value (a list of ETags, or *) names ETAG. */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header) return false;
    if (!strcmp(header, "*")) return true;
    size_t n = strlen(etag);
    for (const char *p = header; (p = strstr(p, etag)); p += n) {
        bool starts = p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/';
        bool ends = p[n] == 0 || p[n] == ',' || p[n] == ' ';
        if (starts && ends) return true;
    }
    return false;
}

enum MHD_Result gb_web_asset_send(struct MHD_Connection *c, const gb_web_asset_t *a)
{
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = etag_matches(inm, a->etag);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "ETag", a->etag);
    MHD_add_response_header(r, "Cache-Control",
                            a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (!fresh) MHD_add_response_header(r, "Content-Type", a->type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (!strncmp(a->type, "text/html", 9)) {
        /* everything the page loads comes from this server; nothing runs that it did not send */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    enum MHD_Result ret = MHD_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
