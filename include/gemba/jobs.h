/*
 * Jobs: work orders as an ERP exports them -- id, product, quantity, ideal cycle time, due date.
 * A job runs on a machine from the moment it starts there (a `job` signal, or the value of the
 * machine's `job_tag`, e.g. its program name) until another starts or it is ended (an empty
 * value). While it runs, its ideal cycle time (when given) is the PRI of every part counted, and
 * reports can group by job or by product.
 *
 * The job file is CSV with the header job,product,quantity,ideal_cycle_time,due (only `job`
 * required; ideal_cycle_time a duration such as 42s; due RFC 3339 or YYYY-MM-DD) or a JSON array
 * of objects with those keys. A job that starts without being in the file is an ad-hoc job: its
 * product is its id.
 */
#ifndef GEMBA_JOBS_H
#define GEMBA_JOBS_H

#include "gemba/diag.h"
#include "gemba/time.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gb_job {
    char *id, *product; /* owned */
    int64_t quantity;   /* 0: not given */
    int64_t ideal_ns;   /* 0: not given (the machine's cycle time applies) */
    gb_time_t due;      /* 0: not given */
} gb_job_t;

typedef struct gb_jobs {
    gb_job_t *j;
    size_t n;
} gb_jobs_t;

/*
 * Parses a job file (CSV or JSON, told apart by its first non-blank byte). Problems go to DIAG
 * with their line; returns 0 or GB_EINVAL (the good jobs are kept).
 */
int gb_jobs_parse(const char *buf, size_t len, gb_jobs_t *out, gb_diag_t *diag);

/* Index of job ID, adding an ad-hoc job (product = id) when unknown. */
uint32_t gb_jobs_intern(gb_jobs_t *jobs, const char *id);

/* Index of job ID or UINT32_MAX. */
uint32_t gb_jobs_find(const gb_jobs_t *jobs, const char *id);

void gb_jobs_clear(gb_jobs_t *jobs);

#endif
