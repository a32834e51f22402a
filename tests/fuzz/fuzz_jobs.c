/* libFuzzer target: job files (CSV through libcsv, or JSON through jansson). */
#include "gemba/jobs.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gb_diag_t d;
    gb_diag_init(&d, "jobs");
    gb_jobs_t jobs;
    gb_jobs_parse((const char *)data, size, &jobs, &d);
    gb_jobs_intern(&jobs, "fuzz");
    gb_jobs_clear(&jobs);
    gb_diag_clear(&d);
    return 0;
}
