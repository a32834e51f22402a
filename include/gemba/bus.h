/*
 * The in-process bus. Adapters publish batches of samples; consumers (the store, the state engine,
 * the live stream, rules) subscribe. Each consumer has its own bounded queue, counted in samples,
 * drained by its own thread, so a slow consumer never delays a fast one.
 *
 * Nothing is dropped silently. A consumer chooses what happens when its queue is full:
 *  - GB_BUS_BLOCK: the publisher waits (up to its timeout) and then gets GB_EBUSY, keeping its
 *    batch to retry: push-back reaches the adapter, which slows down or buffers.
 *  - GB_BUS_DROP: the new batch is not queued for that consumer, and its samples are added to the
 *    consumer's `dropped` counter. For views that prefer fresh data to complete data.
 * A consumer whose deliver() fails keeps the batch at the head of its queue and retries with
 * back-off, so a full disk becomes push-back, not loss.
 *
 * Before queuing, the bus applies each tag's scale, offset and deadband (samples inside the
 * deadband are counted as `filtered`) and marks late samples (older than the newest already seen
 * for the tag) with GB_SAMPLE_LATE; consumers count them in `late`.
 *
 * Threads: publish, stats and stop are safe from any thread; subscribe before gb_bus_start.
 */
#ifndef GEMBA_BUS_H
#define GEMBA_BUS_H

#include "gemba/sample.h"
#include "gemba/tags.h"

#include <stdint.h>

typedef struct gb_bus gb_bus_t;

typedef enum { GB_BUS_BLOCK, GB_BUS_DROP } gb_bus_policy_t;

#define GB_CONSUMER_API_VERSION 1

/* A consumer: a small table of functions plus the context they get. */
typedef struct gb_consumer_ops {
    int version; /* GB_CONSUMER_API_VERSION; first, so the table can grow */
    /* Takes one batch (read-only, valid during the call). 0, or a GB_E* code to retry later. */
    int (*deliver)(void *ctx, const gb_batch_t *batch);
    /* Optional: called once the queue is drained at shutdown. */
    void (*drained)(void *ctx);
} gb_consumer_ops_t;

typedef struct gb_consumer_stats {
    const char *name;        /* valid as long as the bus */
    gb_bus_policy_t policy;
    uint64_t capacity;       /* queue bound, samples */
    uint64_t queued;         /* samples waiting now */
    uint64_t queued_max;     /* high-water mark */
    uint64_t delivered;      /* samples handed to deliver() successfully */
    uint64_t dropped;        /* samples not queued because the queue was full (DROP policy) */
    uint64_t late;           /* samples queued with GB_SAMPLE_LATE */
    uint64_t errors;         /* failed deliver() calls (each retried) */
    uint64_t blocked;        /* publish calls that had to wait for this consumer's queue */
} gb_consumer_stats_t;

typedef struct gb_bus_stats {
    uint64_t published;  /* samples accepted by gb_bus_publish */
    uint64_t filtered;   /* samples removed by a deadband */
    uint64_t rejected;   /* samples refused with GB_EBUSY (still owned by their publisher) */
    uint64_t invalid;    /* samples refused for an unknown tag or a type mismatch */
    uint64_t late;       /* samples marked late */
} gb_bus_stats_t;

/* A bus for the tags of REG (borrowed; must outlive the bus). */
gb_bus_t *gb_bus_new(const gb_tags_t *reg);

/* Stops the bus if needed and frees it (NULL is fine). */
void gb_bus_free(gb_bus_t *bus);

/*
 * Adds a consumer named NAME (copied) with a queue of CAPACITY samples. OPS and CTX are borrowed.
 * Returns 0, GB_EINVAL (bad version, zero capacity) or GB_EBUSY after gb_bus_start.
 */
int gb_bus_subscribe(gb_bus_t *bus, const char *name, gb_bus_policy_t policy, size_t capacity,
                     const gb_consumer_ops_t *ops, void *ctx);

/* Starts one thread per consumer. Returns 0 or GB_EIO. */
int gb_bus_start(gb_bus_t *bus);

/*
 * Publishes BATCH. On 0 the bus owns it (the caller must not touch it again). A batch is taken
 * whole or not at all: GB_EBUSY when a blocking consumer stayed full for TIMEOUT_NS (the caller
 * keeps the batch and retries later), GB_ECLOSED after gb_bus_stop, GB_EINVAL when a sample names
 * an unknown tag or its value type differs from the tag's (nothing is queued; the caller keeps it).
 */
int gb_bus_publish(gb_bus_t *bus, gb_batch_t *batch, int64_t timeout_ns);

/*
 * Refuses further publishing, lets every consumer drain its queue, and joins the threads. A
 * consumer still failing at DEADLINE (gb_mono_ns time) gives up; the samples it had not stored are
 * logged as lost and *LOST gets their count. Returns 0 when everything was delivered, GB_ETIMEDOUT
 * otherwise.
 */
int gb_bus_stop(gb_bus_t *bus, int64_t deadline_mono_ns, uint64_t *lost);

/* Copies the counters. *CONSUMERS gets up to MAX entries; returns the number of consumers. */
size_t gb_bus_stats(gb_bus_t *bus, gb_bus_stats_t *totals, gb_consumer_stats_t *consumers,
                    size_t max);

#endif
