/* GET /api/v1/stream (see stream_routes.c), called by the server in http.c. */
#ifndef GB_API_STREAM_ROUTES_H
#define GB_API_STREAM_ROUTES_H

#include "gemba/stream.h"

#include <jansson.h>
#include <microhttpd.h>

/* Answers with the live stream of HUB as Server-Sent Events (?tags=, ?machines=, Last-Event-ID). */
enum MHD_Result gb_api_stream(struct MHD_Connection *c, gb_stream_t *hub);

#endif
