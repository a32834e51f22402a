/* The historian's HTTP routes (see store_routes.c), called by the server in http.c. */
#ifndef GB_API_STORE_ROUTES_H
#define GB_API_STORE_ROUTES_H

#include "gemba/api.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#define GB_API_WRITE_MAX (32u << 20)  /* the largest line-protocol body taken */
#define GB_API_QUERY_MAX (256u << 20) /* the largest answer built */

/* POST /api/v1/write (INFLUX false) and /write (true): BODY is modified in place. */
enum MHD_Result gb_api_write(struct MHD_Connection *c, const gb_api_source_t *src, bool influx,
                             char *body, size_t len, bool too_big);
/* GET /api/v1/latest: the newest point of the named series (tag=..., repeated), or of all */
enum MHD_Result gb_api_latest(struct MHD_Connection *c, const gb_api_source_t *src);
/* GET /api/v1/query */
enum MHD_Result gb_api_query(struct MHD_Connection *c, const gb_api_source_t *src);

#endif
