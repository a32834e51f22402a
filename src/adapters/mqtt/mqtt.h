/* The MQTT adapter classes: `mqtt` (JSON and plain-text payloads) and `sparkplug-b`. */
#ifndef GB_ADAPTERS_MQTT_MQTT_H
#define GB_ADAPTERS_MQTT_MQTT_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_mqtt_adapter;
extern const gb_adapter_class_t gb_sparkplug_adapter;

#endif
