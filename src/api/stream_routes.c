/*
 * GET /api/v1/stream: the live stream as Server-Sent Events over libmicrohttpd. A client's
 * response is produced by a content reader that copies what the hub has for it; with nothing to
 * send, the reader registers a wake-up and suspends the connection, so a waiting client costs no
 * thread and no polling, and hundreds can wait at once. The hub's producer resumes it.
 *
 * A connection is referred to by its response (until libmicrohttpd frees it) and by a pending
 * wake-up; the last of the two frees it, so a wake-up that races a closing client is harmless.
 * The hub wakes every waiter every 15 s: a quiet stream then sends a comment, which keeps proxies
 * from timing it out and lets a vanished client's socket error end it.
 */
#include "api/server.h"

#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPALIVE_NS (15 * GB_NS_PER_S)

typedef struct sconn {
    gb_stream_t *hub;
    struct MHD_Connection *c;
    gb_stream_filter_t f;
    uint64_t after;            /* the last event id looked at */
    char hello[320];           /* sent first: the headers go out at once */
    size_t hello_len, hello_off;
    int64_t last_write;        /* gb_mono_ns of the last bytes handed out */
    pthread_mutex_t mu;
    bool suspended, dead;
    atomic_int refs;
} sconn_t;

static void unref(sconn_t *sc)
{
    if (atomic_fetch_sub(&sc->refs, 1) != 1) return;
    gb_stream_filter_clear(&sc->f);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}

static void wake(void *ctx)
{
    sconn_t *sc = ctx;
    pthread_mutex_lock(&sc->mu);
    if (sc->suspended && !sc->dead) {
        sc->suspended = false;
        MHD_resume_connection(sc->c);
    }
    pthread_mutex_unlock(&sc->mu);
    unref(sc); /* the wake-up's reference */
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    sconn_t *sc = cls;
    if (sc->hello_off < sc->hello_len) {
        size_t n = sc->hello_len - sc->hello_off < max ? sc->hello_len - sc->hello_off : max;
        memcpy(out, sc->hello + sc->hello_off, n);
        sc->hello_off += n;
        sc->last_write = gb_mono_ns();
        return (ssize_t)n;
    }
    for (;;) {
        if (gb_stream_closing(sc->hub)) return MHD_CONTENT_READER_END_OF_STREAM;
        size_t n = gb_stream_collect(sc->hub, &sc->after, &sc->f, out, max);
        if (n) {
            sc->last_write = gb_mono_ns();
            return (ssize_t)n;
        }
        if (gb_mono_ns() - sc->last_write >= KEEPALIVE_NS && max >= 12) {
            memcpy(out, ": alive\n\n", 9);
            sc->last_write = gb_mono_ns();
            return 9;
        }
        pthread_mutex_lock(&sc->mu);
        atomic_fetch_add(&sc->refs, 1);
        if (!gb_stream_wait(sc->hub, sc->after, wake, sc)) { /* news came meanwhile */
            pthread_mutex_unlock(&sc->mu);
            atomic_fetch_sub(&sc->refs, 1);
            continue;
        }
        sc->suspended = true;
        MHD_suspend_connection(sc->c);
        pthread_mutex_unlock(&sc->mu);
        return 0;
    }
}

static void done(void *cls)
{
    sconn_t *sc = cls;
    pthread_mutex_lock(&sc->mu);
    sc->dead = true;
    pthread_mutex_unlock(&sc->mu);
    unref(sc); /* the response's reference; a pending wake-up holds its own */
}

enum MHD_Result gb_api_stream(gb_req_t *req)
{
    gb_stream_t *hub = req->api->src.stream;
    struct MHD_Connection *c = req->c;
    if (!hub) return gb_problem(req, MHD_HTTP_NOT_FOUND, "this daemon has no live stream");
    sconn_t *sc = gb_xcalloc(1, sizeof *sc);
    sc->hub = hub;
    sc->c = c;
    pthread_mutex_init(&sc->mu, NULL);
    atomic_init(&sc->refs, 1);
    char err[300];
    if (gb_stream_filter_parse(hub, gb_req_arg(req, "tags"), gb_req_arg(req, "machines"), &sc->f,
                               err, sizeof err) != 0) {
        unref(sc);
        return gb_problem(req, MHD_HTTP_BAD_REQUEST, "%s", err);
    }
    /* resume after the client's last event; a new client starts with what comes next */
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last) last = gb_req_arg(req, "last_event_id");
    if (last) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        if (*end || end == last) {
            unref(sc);
            return gb_problem(req, MHD_HTTP_BAD_REQUEST,
                              "Last-Event-ID is the number of the last event received");
        }
        sc->after = v;
    } else {
        sc->after = gb_stream_last_id(hub);
    }
    /* A number this daemon has not reached is one from before a restart (numbering starts at 1
     * again). Waiting for it would keep the client deaf until the count catches up: tell it to
     * reload, with an id that puts its own count right, and go on from now. */
    uint64_t now_id = gb_stream_last_id(hub);
    if (sc->after > now_id) {
        unsigned long long was = (unsigned long long)sc->after;
        sc->after = now_id;
        sc->hello_len = (size_t)snprintf(
            sc->hello, sizeof sc->hello,
            ": gemba live stream, after event %llu\nretry: 2000\n\nid: %llu\nevent: reset\n"
            "data: {\"reason\":\"event %llu is not one of this daemon's: it restarted\"}\n\n",
            (unsigned long long)now_id, (unsigned long long)now_id, was);
    } else {
        sc->hello_len = (size_t)snprintf(sc->hello, sizeof sc->hello,
                                         ": gemba live stream, after event %llu\nretry: 2000\n\n",
                                         (unsigned long long)sc->after);
    }
    sc->last_write = gb_mono_ns();
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, sc,
                                                               done);
    if (!r) {
        unref(sc);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
