/*
 * One MQTT connection for an adapter, over libmosquitto: the configuration keys every MQTT adapter
 * shares (broker, credentials, TLS, session), a thread that connects, subscribes and reconnects
 * with back-off, and the adapter's callbacks on that thread. Connection state and errors go to the
 * adapter's gb_adapter_state_t, so /api/v1/health shows them the same way for every adapter.
 */
#ifndef GB_ADAPTERS_MQTT_CLIENT_H
#define GB_ADAPTERS_MQTT_CLIENT_H

#include "gemba/adapter.h"

#include <stdbool.h>
#include <stddef.h>

/* The keys gb_mqtt_check() knows; adapters append their own. */
#define GB_MQTT_CONN_KEYS                                                                          \
    "host", "port", "client_id", "username", "password", "password_file", "tls", "keepalive",      \
        "reconnect_max", "clean_session", "qos"

typedef struct gb_mqtt gb_mqtt_t;

typedef struct gb_mqtt_handlers {
    void *ctx;
    /* Before each connection attempt: the place to set a will (gb_mqtt_will). May be NULL. */
    void (*before_connect)(void *ctx, gb_mqtt_t *c);
    /* After the broker accepted the connection and the subscriptions were sent. May be NULL. */
    void (*connected)(void *ctx, gb_mqtt_t *c);
    /* One message; PAYLOAD is valid for the call only. */
    void (*message)(void *ctx, gb_mqtt_t *c, const char *topic, const void *payload, size_t len,
                    bool retained);
} gb_mqtt_handlers_t;

/* Validates the shared connection keys of adapter config CFG into DIAG. Returns problems found. */
int gb_mqtt_check(const gb_cnode_t *cfg, gb_diag_t *diag);

/*
 * A client for adapter state ST (borrowed), configured from CFG (checked by gb_mqtt_check), that
 * subscribes to the NSUBS filters SUBS (copied) with the configured QoS. NAME is used for the
 * default client id. Returns 0 or GB_EIO (with the reason in ERR), e.g. an unreadable password
 * file.
 */
int gb_mqtt_new(const gb_cnode_t *cfg, const char *name, gb_adapter_state_t *st,
                const char *const *subs, size_t nsubs, const gb_mqtt_handlers_t *h, gb_mqtt_t **out,
                char *err, size_t errsz);

/* Starts the connection thread. 0 or GB_EIO. */
int gb_mqtt_start(gb_mqtt_t *c);

/*
 * Stops the thread. When FINAL_TOPIC is not NULL and the client is connected, publishes that
 * message (QoS 1, retained) and waits up to 1 s for the broker to take it before disconnecting:
 * a Sparkplug host says it goes offline this way.
 */
void gb_mqtt_stop(gb_mqtt_t *c, const char *final_topic, const void *payload, size_t len);
void gb_mqtt_free(gb_mqtt_t *c);

/* Publishes from the client's thread (inside a handler). 0 or GB_EIO. */
int gb_mqtt_publish(gb_mqtt_t *c, const char *topic, const void *payload, size_t len, int qos,
                    bool retain);

/* Sets the will for the next connection (inside before_connect). 0 or GB_EIO. */
int gb_mqtt_will(gb_mqtt_t *c, const char *topic, const void *payload, size_t len, int qos,
                 bool retain);

/* True once gb_mqtt_stop() was called (handlers waiting on the bus give up then). */
bool gb_mqtt_stopping(gb_mqtt_t *c);

#endif
