/*
 * Condition variables timed on the monotonic clock, so that a step of the wall clock neither
 * cuts a wait short nor stretches it.
 */
#ifndef GB_UTIL_COND_H
#define GB_UTIL_COND_H

#include <pthread.h>
#include <stdint.h>

/* Initialises C for gb_cond_wait_until. */
void gb_cond_init_mono(pthread_cond_t *c);

/* Waits on C (MU held) until signalled or gb_mono_ns() reaches MONO_NS. */
void gb_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t mono_ns);

#endif
