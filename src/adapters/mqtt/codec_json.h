/*
 * The MQTT JSON codec: an MQTT payload in, the typed value and the time a tag takes from it out.
 * A tag's address names a topic and, after '#', a JSON pointer (RFC 6901) to its value inside the
 * payload; an adapter-wide pointer may name the time. Pure: no I/O, no global state.
 */
#ifndef GB_ADAPTERS_MQTT_CODEC_JSON_H
#define GB_ADAPTERS_MQTT_CODEC_JSON_H

#include "gemba/sample.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define GB_MQTT_JSON_MAX (1u << 20) /* larger payloads are refused before parsing */

typedef enum { GB_TIME_UNIT_NS, GB_TIME_UNIT_US, GB_TIME_UNIT_MS, GB_TIME_UNIT_S } gb_time_unit_t;

/*
 * Resolves POINTER (RFC 6901: "" is the whole document, "/a/0/b~1c" ...) in ROOT. The value (a
 * borrowed reference), or NULL when the pointer is malformed or leads nowhere.
 */
json_t *gb_json_pointer(json_t *root, const char *pointer);

/* 0 when POINTER is a well-formed JSON pointer; GB_EINVAL otherwise. */
int gb_json_pointer_check(const char *pointer);

/*
 * Parses LEN bytes of BUF. A JSON document (any value at the top, a bare number too) gives a new
 * reference in *OUT. Bytes that are not JSON give a JSON string holding them when RAW_TEXT is true
 * (a device publishing plain text such as RUNNING), GB_EPROTO otherwise. GB_ERANGE when LEN
 * exceeds GB_MQTT_JSON_MAX.
 */
int gb_mqtt_json_parse(const char *buf, size_t len, bool raw_text, json_t **out);

/*
 * Converts the JSON value V to a value of TYPE in *OUT. Numbers feed float tags; integral numbers
 * int tags; true/false (and 0/1) bool tags; any scalar a string tag (a string borrows V's text, a
 * number or boolean is printed into BUF). null gives GB_ENOENT (no value: the caller records bad
 * quality). GB_EINVAL when V does not fit TYPE.
 */
int gb_mqtt_json_value(const json_t *v, gb_vtype_t type, gb_value_t *out, char *buf, size_t bufsz);

/*
 * Reads a time from V: a number of UNIT since the epoch, or an RFC 3339 string. 0 or GB_EINVAL.
 */
int gb_mqtt_json_time(const json_t *v, gb_time_unit_t unit, gb_time_t *out);

#endif
