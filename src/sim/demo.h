/* The built-in demo signal generator, an adapter class of type "demo". */
#ifndef GB_SIM_DEMO_H
#define GB_SIM_DEMO_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_demo_adapter;

#endif
