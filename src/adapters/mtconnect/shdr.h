/* The MTConnect SHDR client adapter, type "mtconnect-shdr". */
#ifndef GB_ADAPTERS_MTCONNECT_SHDR_H
#define GB_ADAPTERS_MTCONNECT_SHDR_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_shdr_adapter;

#endif
