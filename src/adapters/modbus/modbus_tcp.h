/* The Modbus adapters: types "modbus-tcp" and "modbus-rtu" (a serial line). */
#ifndef GB_ADAPTERS_MODBUS_TCP_H
#define GB_ADAPTERS_MODBUS_TCP_H

#include "gemba/adapter.h"

extern const gb_adapter_class_t gb_modbus_tcp_adapter;
extern const gb_adapter_class_t gb_modbus_rtu_adapter;

#endif
