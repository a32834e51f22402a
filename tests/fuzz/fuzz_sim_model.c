/*
 * libFuzzer target: a plant file as a simulation model, from loading (the plant checks and the
 * simulator's own) through ten simulated minutes of the engine. Whatever the model, the engine
 * must neither crash nor hang: the model check refuses what would pack endless events into one
 * instant.
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
    gb_sim_model_t *md = NULL;
    if (gb_plant_load_mem("fuzz.yaml", (const char *)data, size, &p, &d) == 0 &&
        gb_sim_model_build(p, &md, &d) == 0) {
        gb_sim_t *s = gb_sim_new(md, 1, 0, 4 * 86400 * GB_NS_PER_S);
        gb_sim_run(s, 600);
        gb_sim_reset_stats(s);
        gb_sim_run(s, 660);
        gb_sim_free(s);
        gb_sim_model_free(md);
    }
    gb_plant_free(p);
    gb_diag_clear(&d);
    return 0;
}
