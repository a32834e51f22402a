/*
 * What the dashboard needs from the server beyond the JSON API of http.c, kept apart so the
 * router can change without touching it:
 *   - GET /api/v1/plant, the plant model as the plant file describes it (hierarchy, machines with
 *     their ideal cycle times and tags, shifts, reason trees), which the operator view needs for
 *     its reason buttons and the board for its targets.
 */
#ifndef GB_API_WEB_H
#define GB_API_WEB_H

#include "gemba/api.h"

#include <jansson.h>

/* The /api/v1/plant document (new reference). */
json_t *gb_api_plant(const gb_api_source_t *src);

#endif
