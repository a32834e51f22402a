/*
 * The live stream behind GET /api/v1/stream (Server-Sent Events). A hub keeps the latest events in
 * a ring, each with a number that only grows: machine state changes (`state`), part counts
 * (`count`), people's changes to downtime and scrap (`downtime`), and samples of tags (`sample`,
 * sent only for the tags a client names). A client that reconnects with Last-Event-ID gets every
 * event after that number while the ring still holds it, and a `reset` event telling it to reload
 * when it does not: nothing is skipped silently.
 *
 * Producers: the hub is a bus consumer (every sample), the OEE results sink feeds it the state
 * changes, and the API pushes people's changes. Thread-safe.
 */
#ifndef GEMBA_STREAM_H
#define GEMBA_STREAM_H

#include "gemba/bus.h"
#include "gemba/plant.h"
#include "gemba/tags.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gb_stream gb_stream_t;

/* Events kept, and their bytes; the ring forgets the oldest beyond either. */
#define GB_STREAM_RING_EVENTS 65536
#define GB_STREAM_RING_BYTES (16u << 20)

/* A hub for plant P's tags (both borrowed; they outlive the hub). */
gb_stream_t *gb_stream_new(const gb_plant_t *p, const gb_tags_t *tags);

/* Ends every client's stream: waiting clients are woken and get the end of their response. Call
 * before stopping the HTTP server. NULL is fine. */
void gb_stream_close(gb_stream_t *s);

/* Closes (if needed) and frees the hub; after the HTTP server has stopped. NULL is fine. */
void gb_stream_free(gb_stream_t *s);

/* Subscribe with the hub as context (GB_BUS_DROP: a view that prefers fresh data). */
extern const gb_consumer_ops_t gb_stream_consumer;

/* Feeds derived results (oee.state) and any other batch; same as the consumer's deliver. */
void gb_stream_batch(gb_stream_t *s, const gb_batch_t *b);

/* A `downtime` event: a person's change. JSON_OBJ is the event's data, a JSON object's text. */
void gb_stream_push(gb_stream_t *s, const char *type, uint32_t machine_asset, const char *json_obj);

/* ---- reading (the HTTP side, and tests) --------------------------------------------------- */

/* What one client wants: sample events of these tags (sorted ids; ALL_TAGS for every tag). */
typedef struct gb_stream_filter {
    uint32_t *tags;
    size_t ntags;
    bool all_tags;
    uint32_t *machines;      /* asset ids; none = every machine */
    size_t nmachines;
} gb_stream_filter_t;

/*
 * Appends to OUT (at most MAX bytes) the events after *AFTER that FILTER lets through, in order,
 * as SSE text, and moves *AFTER past every event looked at. When *AFTER is older than the ring's
 * oldest event, writes a `reset` event first (its id is the oldest kept minus one). Returns the
 * bytes written (0: nothing new).
 */
size_t gb_stream_collect(gb_stream_t *s, uint64_t *after, const gb_stream_filter_t *filter,
                         char *out, size_t max);

/* The newest event's number (0 before the first). */
uint64_t gb_stream_last_id(gb_stream_t *s);

/*
 * Waiting: a client with nothing to send registers WAKE(CTX); the hub calls it once, from the
 * producing thread, when a new event arrives or the hub closes, then forgets it. Returns false
 * (and does not register) when an event already arrived after AFTER or the hub is closing.
 * gb_stream_unwait removes a registration that has not fired. Both under the hub's lock.
 */
bool gb_stream_wait(gb_stream_t *s, uint64_t after, void (*wake)(void *ctx), void *ctx);
void gb_stream_unwait(gb_stream_t *s, void *ctx);
bool gb_stream_closing(gb_stream_t *s);

/* Parses a client's ?tags= (comma-separated paths or short paths, or *) and ?machines= into F.
 * Unknown names are reported in ERR and give GB_ENOENT. Free with gb_stream_filter_clear. */
int gb_stream_filter_parse(gb_stream_t *s, const char *tags, const char *machines,
                           gb_stream_filter_t *f, char *err, size_t errsz);
void gb_stream_filter_clear(gb_stream_filter_t *f);

#endif
