/* The Haas MDC (machine data collection) adapters: types "haas-mdc" (TCP) and "haas-mdc-serial". */
#ifndef GB_ADAPTERS_HAAS_HAAS_H
#define GB_ADAPTERS_HAAS_HAAS_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_haas_mdc_adapter;
extern const gb_adapter_class_t gb_haas_mdc_serial_adapter;

#endif
