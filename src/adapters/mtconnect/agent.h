/* The MTConnect agent client adapter, type "mtconnect-agent". */
#ifndef GB_ADAPTERS_MTCONNECT_AGENT_H
#define GB_ADAPTERS_MTCONNECT_AGENT_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_mtc_agent_adapter;

#endif
