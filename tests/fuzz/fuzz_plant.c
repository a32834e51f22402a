/*
 * libFuzzer target: the plant-file loader (YAML parsing, the configuration tree, every check,
 * the sim adapter's own validation and the simulation model's) on arbitrary bytes. It must never crash, leak, hang or read
 * out of bounds; problems must come back as diagnostics. A valid file also builds its registry.
 */
#include "gemba/adapter.h"
#include "gemba/plant.h"
#include "gemba/sim.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        registered = gb_adapter_register(&gb_sim_adapter) == 0;
        gb_sim_register();
    }
    gb_diag_t d;
    gb_diag_init(&d, "fuzz.yaml");
    gb_plant_t *p = NULL;
    if (gb_plant_load_mem("fuzz.yaml", (const char *)data, size, &p, &d) == 0) {
        gb_tags_free(gb_plant_build_tags(p));
        gb_plant_free(p);
    }
    gb_diag_clear(&d);
    return 0;
}
