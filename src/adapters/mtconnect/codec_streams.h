/*
 * The MTConnect agent document codec: the bytes of an agent's answer in, a parsed document out.
 * Pure (no I/O): it reads the three documents an agent's REST API answers with --
 *   MTConnectStreams  (/current, /sample): a header with the agent's buffer position, and each
 *                     observation with its device, component, data item, sequence, time and value;
 *   MTConnectDevices  (/probe): the devices and every data item they declare;
 *   MTConnectError    (any request the agent refused): the error codes and their text.
 * Versions 1.x and 2.x differ in their namespaces (urn:mtconnect.org:MTConnectStreams:1.3 ...
 * :2.0) and in details; the codec matches local names only and ignores namespaces.
 *
 * libxml2 reads the XML with the network off, entities left unexpanded and no DTD loaded; a
 * document with a DOCTYPE is refused outright (MTConnect never sends one). Every count and length
 * is bounded below, so a hostile agent cannot make the codec allocate more than a small multiple
 * of the document it sent.
 */
#ifndef GB_ADAPTERS_MTCONNECT_CODEC_STREAMS_H
#define GB_ADAPTERS_MTCONNECT_CODEC_STREAMS_H

#include "gemba/time.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_MTC_DOC_MAX (16u << 20)   /* largest document read (the adapter stops reading there) */
#define GB_MTC_MAX_OBS 200000u       /* observations in one document */
#define GB_MTC_MAX_ITEMS 100000u     /* data items in one probe */
#define GB_MTC_MAX_DEVICES 4096u     /* devices in one probe */
#define GB_MTC_MAX_ERRORS 64u        /* errors in one error document */
#define GB_MTC_VALUE_MAX 65536u      /* longer values are cut (and marked) */
#define GB_MTC_ATTR_MAX 1024u        /* longer identifiers make an observation malformed */

typedef enum {
    GB_MTC_DOC_STREAMS, /* MTConnectStreams */
    GB_MTC_DOC_DEVICES, /* MTConnectDevices */
    GB_MTC_DOC_ERROR    /* MTConnectError */
} gb_mtc_doc_kind_t;

typedef enum { GB_MTC_SAMPLE, GB_MTC_EVENT, GB_MTC_CONDITION } gb_mtc_category_t;

/* How a data item reports: one value, or a time series, a data set or a table. */
typedef enum { GB_MTC_REP_VALUE, GB_MTC_REP_TIMESERIES, GB_MTC_REP_DATASET, GB_MTC_REP_TABLE } gb_mtc_rep_t;

typedef struct gb_mtc_header {
    uint64_t instance_id;
    uint64_t buffer_size;                 /* 0 when not given */
    uint64_t first_seq, last_seq, next_seq; /* streams only */
    gb_time_t creation_time;              /* 0 when missing or unreadable */
    const char *version;                  /* "" when not given */
    const char *model_change_time;        /* 2.x deviceModelChangeTime as sent; "" when not given */
} gb_mtc_header_t;

/*
 * One observation of an MTConnectStreams document. Strings are NUL-terminated, owned by the
 * document, "" when absent.
 */
typedef struct gb_mtc_obs {
    const char *device_name, *device_uuid; /* of its DeviceStream */
    const char *component, *component_name, *component_id; /* of its ComponentStream */
    const char *data_item_id;
    const char *name;        /* the data item's name, when the agent gives it */
    const char *element;     /* the element's local name: "Execution", "Fault", "LoadTimeSeries" */
    gb_mtc_category_t category;
    gb_mtc_rep_t rep;
    uint64_t sequence;
    gb_time_t t;
    /*
     * The value as text: "UNAVAILABLE" as sent; a condition's message; a data set as
     * "k1=v1 k2=v2" and a table as "r1={c1=v1 c2=v2} r2={...}" (the SHDR forms; a value with a
     * space is quoted with ''), a removed entry as "k=". VALUE_LEN counts its bytes.
     */
    const char *value;
    size_t value_len;
    bool unavailable;        /* the value, or a condition's level, is UNAVAILABLE */
    bool truncated;          /* the value was longer than GB_MTC_VALUE_MAX and was cut */
    /* conditions */
    const char *level;       /* "NORMAL", "WARNING", "FAULT" or "UNAVAILABLE"; "" otherwise */
    const char *condition_type; /* the type attribute, e.g. "SYSTEM" */
    const char *native_code; /* also of messages and alarms */
    const char *native_severity, *qualifier;
    /* time series */
    uint64_t sample_count;
    double sample_rate;      /* 0 when not given (the data item's sampleRate applies) */
} gb_mtc_obs_t;

typedef struct gb_mtc_device {
    const char *id, *name, *uuid;
    const char *element;     /* "Device", or "Agent" for a 2.x agent's own device */
} gb_mtc_device_t;

/* One DataItem of a probe. */
typedef struct gb_mtc_item {
    size_t device;           /* index into devices */
    const char *id, *name;   /* name "" when it has none */
    const char *type, *sub_type, *units;
    gb_mtc_category_t category;
    gb_mtc_rep_t rep;
    double sample_rate;      /* 0 when not given */
} gb_mtc_item_t;

typedef struct gb_mtc_error {
    const char *code;        /* errorCode, e.g. "OUT_OF_RANGE" */
    const char *text;        /* the message */
    const char *parameter;   /* 2.6 QueryParameter name, e.g. "from"; "" when not given */
} gb_mtc_error_t;

typedef struct gb_mtc_arena gb_mtc_arena_t;

typedef struct gb_mtc_doc {
    gb_mtc_doc_kind_t kind;
    gb_mtc_header_t header;
    gb_mtc_obs_t *obs;       /* STREAMS: in document order (grouped by component, not sequence) */
    size_t nobs;
    gb_mtc_device_t *devices; /* DEVICES */
    size_t ndevices;
    gb_mtc_item_t *items;    /* DEVICES */
    size_t nitems;
    gb_mtc_error_t *errors;  /* ERROR */
    size_t nerrors;
    size_t skipped;          /* observations or data items left out as malformed */
    const char *skip_why;    /* why the first one was (static text); NULL when none */
    gb_mtc_arena_t *arena_;  /* owns every string */
} gb_mtc_doc_t;

/*
 * Parses LEN bytes of BUF. On 0 *OUT gets a document (free with gb_mtc_doc_free). A malformed
 * observation or data item (no id, a bad sequence or time, an unknown condition level) is left
 * out and counted in `skipped`; the rest of the document stands. Returns GB_EPROTO for a document
 * that cannot be used -- not XML, a DOCTYPE, not one of the three roots, a header without its
 * instanceId or sequence numbers, more than a limit allows, larger than GB_MTC_DOC_MAX -- and
 * *WHY (when not NULL) names the problem (static text).
 */
int gb_mtc_parse(const char *buf, size_t len, gb_mtc_doc_t **out, const char **why);

/* Frees D (NULL is fine). */
void gb_mtc_doc_free(gb_mtc_doc_t *d);

/* The category's name as MTConnect writes it: "SAMPLE", "EVENT", "CONDITION". */
const char *gb_mtc_category_name(gb_mtc_category_t c);

#endif
