/*
 * Adapters connect gemba to machines. Each protocol is an adapter class: a versioned table of
 * functions (version first, so the table can grow without breaking old adapters), registered once
 * at startup. The core never knows a protocol; a new one only adds a class.
 *
 * Life of an adapter instance, all driven by the daemon:
 *   check()   -- at plant-load time (also by `gemba check-config`): validate the adapter's own keys
 *               and every tag address bound to it, reporting into the diag. No I/O.
 *   create()  -- build the instance from the checked configuration.
 *   start()   -- begin connecting and publishing to the bus (own threads are fine).
 *   stop()    -- return once the instance will publish nothing more.
 *   destroy() -- free everything.
 * status() may be called from any thread at any time after create().
 */
#ifndef GEMBA_ADAPTER_H
#define GEMBA_ADAPTER_H

#include "gemba/bus.h"
#include "gemba/config.h"
#include "gemba/diag.h"
#include "gemba/plant.h"

#include <pthread.h>
#include <stdint.h>

#define GB_ADAPTER_API_VERSION 1

/* One tag bound to an adapter instance. */
typedef struct gb_adapter_binding {
    uint32_t tag;            /* id in the registry (GB_NONE during check) */
    const gb_machine_t *machine;
    const gb_plant_tag_t *ptag; /* its plant-file entry: name, type, address, position */
} gb_adapter_binding_t;

/* Everything an instance is built from. Borrowed; valid until destroy(). */
typedef struct gb_adapter_env {
    const gb_adapter_cfg_t *cfg;
    const gb_plant_t *plant;
    const gb_tags_t *tags;
    gb_bus_t *bus;
    const gb_adapter_binding_t *bindings;
    size_t nbindings;
} gb_adapter_env_t;

typedef enum {
    GB_CONN_STOPPED,
    GB_CONN_CONNECTING,
    GB_CONN_CONNECTED,
    GB_CONN_DISCONNECTED
} gb_conn_state_t;

const char *gb_conn_state_name(gb_conn_state_t s);

/* What /api/v1/health shows of an adapter. */
typedef struct gb_adapter_status {
    gb_conn_state_t state;
    char last_error[256];    /* "" when none */
    int64_t last_error_time; /* ns since the epoch, 0 when none */
    uint64_t samples;        /* published */
    uint64_t malformed;      /* input refused as malformed */
    uint64_t pushback;       /* publish attempts that met a full queue */
    uint64_t connects;       /* successful connections so far */
    uint64_t duplicates;     /* values dropped as resends of data already published */
    uint64_t exceptions;     /* requests the device refused (e.g. Modbus exception codes) */
    uint64_t resyncs;        /* times the device was asked to resend its whole state (rebirth) */
    int64_t clock_offset_ns; /* arrival time minus device time of the latest stamped data */
    bool has_clock_offset;
} gb_adapter_status_t;

typedef struct gb_adapter_class {
    int version;             /* GB_ADAPTER_API_VERSION */
    const char *type;        /* as written in the plant file, e.g. "modbus-tcp" */
    const char *summary;     /* one line for `gemba help` */
    const char *const *keys; /* the adapter's own config keys, NULL-terminated */
    int (*check)(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                 gb_diag_t *diag);
    int (*create)(const gb_adapter_env_t *env, void **state);
    int (*start)(void *state);
    void (*stop)(void *state);
    void (*destroy)(void *state);
    void (*status)(void *state, gb_adapter_status_t *out);
    /*
     * Optional (NULL: nothing is writable): writes VALUE to the device for bound tag TAG and
     * returns once the device answered. 0; GB_EACCES when the plant file does not allow writing
     * the tag; GB_EINVAL when VALUE does not fit; GB_EIO / GB_ETIMEDOUT with ERR describing the
     * device's refusal or silence. May be called from any thread.
     */
    int (*write)(void *state, uint32_t tag, const gb_value_t *value, char *err, size_t errsz);
} gb_adapter_class_t;

/* Registers CLS (borrowed, static). Returns 0, GB_EINVAL (bad version) or GB_EEXIST. */
int gb_adapter_register(const gb_adapter_class_t *cls);

/* The class for TYPE, or NULL. */
const gb_adapter_class_t *gb_adapter_class_find(const char *type);

/* Fills NAMES with up to MAX registered type names; returns how many there are. */
size_t gb_adapter_class_list(const char **names, size_t max);

/*
 * A status block adapters can embed: a mutex-guarded gb_adapter_status_t with helpers, so every
 * adapter reports the same way and logs a repeated error only once.
 */
typedef struct gb_adapter_state {
    pthread_mutex_t mu;
    gb_adapter_status_t st;
    const char *name; /* adapter name, for log lines */
} gb_adapter_state_t;

void gb_adapter_state_init(gb_adapter_state_t *s, const char *name);
void gb_adapter_state_clear(gb_adapter_state_t *s);
void gb_adapter_state_set(gb_adapter_state_t *s, gb_conn_state_t state);
/* Records an error; logs it when it differs from the last one recorded. */
void gb_adapter_state_error(gb_adapter_state_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gb_adapter_state_count(gb_adapter_state_t *s, uint64_t samples, uint64_t malformed,
                            uint64_t pushback);
void gb_adapter_state_get(gb_adapter_state_t *s, gb_adapter_status_t *out);
/*
 * Counts one malformed input in S. The first time for a kind of problem (*LOGGED false) it also
 * logs the message, saying that further ones are only counted, and sets *LOGGED: a device that
 * sends garbage all day fills the counters, not the log.
 */
void gb_adapter_state_malformed(gb_adapter_state_t *s, bool *logged, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Publishes B (taken: freed or handed to the bus) and counts its samples in S. While the bus pushes
 * back, retries, counting each refusal, until STOPPING(CTX) says the adapter is stopping. Returns
 * 0; GB_ECLOSED when it gave up because of a stop (the batch was never acknowledged, so no
 * accepted sample is lost); or the bus's error, recorded in S.
 */
int gb_adapter_publish(gb_adapter_state_t *s, gb_bus_t *bus, gb_batch_t *b,
                       bool (*stopping)(void *ctx), void *ctx);

/* A running adapter instance, as the daemon holds it. */
typedef struct gb_adapter {
    const gb_adapter_class_t *cls;
    const gb_adapter_cfg_t *cfg;
    gb_adapter_binding_t *bindings;
    size_t nbindings;
    gb_adapter_env_t env; /* what create() got; lives as long as the instance */
    void *state;
    bool started;
} gb_adapter_t;

/*
 * Creates an instance of every adapter in PLANT that has tags bound to it (or that its class
 * runs without tags). *OUT gets an array of *N instances. Returns 0 or the first create() error
 * (everything created so far is destroyed).
 */
int gb_adapters_create(const gb_plant_t *plant, const gb_tags_t *tags, gb_bus_t *bus,
                       gb_adapter_t **out, size_t *n);
int gb_adapters_start(gb_adapter_t *a, size_t n);
void gb_adapters_stop(gb_adapter_t *a, size_t n);
void gb_adapters_destroy(gb_adapter_t *a, size_t n);

#endif
