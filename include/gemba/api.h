/*
 * The HTTP API under /api/v1/ (libmicrohttpd, JSON through jansson), the dashboard at / (web/,
 * embedded at build time; src/api/web.h) and the sign-in and first-admin page at /login and
 * /setup. Errors are RFC 9457 problem details (application/problem+json). Who may call which
 * route is in docs/api.md: anonymous callers see health, the OpenAPI document and the pages;
 * everything else needs a session (a browser) or an API token (an integration). HTTPS when
 * given a certificate and key.
 *
 * The API reads the daemon's parts through gb_api_source_t, borrowed for the server's lifetime.
 * Requests run on a pool of libmicrohttpd's threads; everything they read is thread-safe.
 */
#ifndef GEMBA_API_H
#define GEMBA_API_H

#include "gemba/adapter.h"
#include "gemba/audit.h"
#include "gemba/auth.h"
#include "gemba/bus.h"
#include "gemba/store.h"
#include "gemba/stream.h"
#include "gemba/latest.h"
#include "gemba/oee_live.h"
#include "gemba/plant.h"
#include "gemba/tags.h"

#include <jansson.h>
#include <stddef.h>

typedef struct gb_api_source {
    const gb_plant_t *plant;
    const gb_tags_t *tags;
    gb_bus_t *bus;
    gb_latest_t *latest;
    gb_oee_live_t *oee;     /* may be NULL */
    gb_adapter_t *adapters;
    size_t nadapters;
    gb_time_t started;      /* wall clock at start */
    int64_t started_mono;   /* gb_mono_ns() at start */
    const char *data_dir;
    bool demo;
    gb_auth_t *auth;        /* users and tokens; NULL lets in nobody but anonymous callers */
    gb_audit_t *audit;      /* where changes are recorded */
    gb_store_t *store;      /* the historian, for /api/v1/write and /api/v1/query; may be NULL */
    gb_stream_t *stream;    /* the live stream, for /api/v1/stream; may be NULL */
} gb_api_source_t;

typedef struct gb_api gb_api_t;

/*
 * Opens a listening TCP socket on HOSTPORT ("127.0.0.1:8080", "[::1]:0", "localhost:8080";
 * port 0 takes a free one). *FD gets the socket and URL its base URL ("http://127.0.0.1:40123").
 * Returns 0, GB_EINVAL for a malformed HOSTPORT (with a message in ERR), or GB_EIO when it
 * cannot bind (the reason in ERR).
 */
int gb_api_listen(const char *hostport, int *fd, char *url, size_t urlsz, char *err, size_t errsz);

/* A certificate (chain) and its private key, PEM, for HTTPS. */
typedef struct gb_api_tls {
    char *cert_pem; /* owned */
    char *key_pem;  /* owned; wiped by gb_api_tls_clear */
} gb_api_tls_t;

/*
 * Reads CERT_FILE and KEY_FILE into *TLS (clear it with gb_api_tls_clear). Returns 0, or GB_EINVAL
 * with a message in ERR when a file cannot be read, is not PEM, or this libmicrohttpd has no TLS.
 * A key that other users may read is served, with a warning in the log.
 */
int gb_api_tls_load(const char *cert_file, const char *key_file, gb_api_tls_t *tls, char *err,
                    size_t errsz);
void gb_api_tls_clear(gb_api_tls_t *tls);

/* Serves the API on FD (taken): HTTPS when TLS is not NULL (copied; clear it once this returns),
 * else HTTP. Returns NULL on failure (logged). */
gb_api_t *gb_api_start(int fd, const gb_api_source_t *src, const gb_api_tls_t *tls);

/* Stops serving; waits for running requests. NULL is fine. */
void gb_api_stop(gb_api_t *api);

/* The /api/v1/health document (new reference). */
json_t *gb_api_health(const gb_api_source_t *src);

#endif
