/*
 * The Sparkplug B codec (Eclipse Sparkplug 3.0): topics and payloads in, plain values out; and the
 * one payload a host application sends, the Rebirth command. Pure: no I/O, no global state.
 *
 * A payload decodes into a gb_spb_payload_t that owns its memory (free it with
 * gb_spb_payload_free); each metric's value is already converted from the wire's field to what its
 * datatype means (Int8..Int32 sign-extended from the 32-bit field, Int64 from the 64-bit one), so
 * a consumer never sees the specification's encoding rules.
 */
#ifndef GB_ADAPTERS_MQTT_CODEC_SPARKPLUG_H
#define GB_ADAPTERS_MQTT_CODEC_SPARKPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_SPB_NAMESPACE "spBv1.0"
#define GB_SPB_PAYLOAD_MAX (16u << 20) /* larger payloads are refused before decoding */
#define GB_SPB_ID_MAX 128              /* longest group, edge node or device id kept */

typedef enum {
    GB_SPB_NBIRTH,
    GB_SPB_NDEATH,
    GB_SPB_DBIRTH,
    GB_SPB_DDEATH,
    GB_SPB_NDATA,
    GB_SPB_DDATA,
    GB_SPB_NCMD,
    GB_SPB_DCMD,
    GB_SPB_STATE
} gb_spb_type_t;

/* spBv1.0/GROUP/TYPE/EDGE[/DEVICE], or spBv1.0/STATE/HOST. */
typedef struct gb_spb_topic {
    gb_spb_type_t type;
    char group[GB_SPB_ID_MAX + 1];  /* "" for STATE */
    char edge[GB_SPB_ID_MAX + 1];   /* the host id for STATE */
    char device[GB_SPB_ID_MAX + 1]; /* "" for node messages */
} gb_spb_topic_t;

/* Sparkplug datatypes (the specification's DataType enumeration), those gemba maps to tags. */
enum {
    GB_SPB_INT8 = 1,
    GB_SPB_INT16,
    GB_SPB_INT32,
    GB_SPB_INT64,
    GB_SPB_UINT8,
    GB_SPB_UINT16,
    GB_SPB_UINT32,
    GB_SPB_UINT64,
    GB_SPB_FLOAT,
    GB_SPB_DOUBLE,
    GB_SPB_BOOLEAN,
    GB_SPB_STRING,
    GB_SPB_DATETIME,
    GB_SPB_TEXT,
    GB_SPB_UUID,
    GB_SPB_DATASET,
    GB_SPB_BYTES,
    GB_SPB_FILE,
    GB_SPB_TEMPLATE
};

typedef enum {
    GB_SPB_V_NONE,   /* null, or a datatype gemba keeps opaque (DataSet, Template, Bytes ...) */
    GB_SPB_V_INT,    /* i: signed integer types, and unsigned ones up to INT64_MAX */
    GB_SPB_V_UINT,   /* u: UInt64 values above INT64_MAX */
    GB_SPB_V_DOUBLE, /* d: Float and Double */
    GB_SPB_V_BOOL,   /* b */
    GB_SPB_V_STRING  /* s: String, Text, UUID */
} gb_spb_vkind_t;

typedef struct gb_spb_metric {
    const char *name; /* NULL when the metric came by alias only */
    uint64_t alias;
    bool has_alias;
    uint64_t timestamp; /* ms since the epoch; 0 when absent */
    uint32_t datatype;  /* 0 when absent (DATA messages may leave it to the birth) */
    bool is_null, is_historical, is_transient;
    bool bad; /* the value field does not fit the datatype; the value is NONE */
    gb_spb_vkind_t kind;
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
} gb_spb_metric_t;

typedef struct gb_spb_payload {
    uint64_t timestamp; /* ms since the epoch; 0 when absent */
    bool has_timestamp;
    uint64_t seq;
    bool has_seq;
    size_t nmetrics;
    gb_spb_metric_t *metrics;
    void *msg_; /* the decoded protobuf message the strings point into */
} gb_spb_payload_t;

/* Parses TOPIC (NUL-terminated). 0, or GB_EPROTO when it is not a Sparkplug B topic. */
int gb_spb_topic_parse(const char *topic, gb_spb_topic_t *out);

/* The message type's name as it appears in topics ("NBIRTH" ...). */
const char *gb_spb_type_name(gb_spb_type_t t);

/*
 * Decodes LEN bytes of BUF into *OUT (a new payload, owned by the caller). 0; GB_ERANGE when LEN
 * exceeds GB_SPB_PAYLOAD_MAX; GB_EPROTO when the bytes are not a Sparkplug B payload. A metric
 * whose value field contradicts its datatype is kept with bad = true.
 */
int gb_spb_decode(const uint8_t *buf, size_t len, gb_spb_payload_t **out);
void gb_spb_payload_free(gb_spb_payload_t *p);

/*
 * The metric named NAME in P (births carry "bdSeq" this way), or NULL.
 */
const gb_spb_metric_t *gb_spb_find(const gb_spb_payload_t *p, const char *name);

/*
 * Encodes the NCMD payload that asks an edge node for a new birth ("Node Control/Rebirth" =
 * true), stamped TS_MS. *BUF is malloc'd; the caller frees it. 0 or GB_ENOMEM.
 */
int gb_spb_encode_rebirth(uint64_t ts_ms, uint8_t **buf, size_t *len);

#endif
