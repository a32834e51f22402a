/* Condition variables timed on the monotonic clock. */
#include "util/cond.h"
#include "gemba/time.h"

#include <time.h>

void gb_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

void gb_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t mono_ns)
{
    struct timespec ts = {(time_t)(mono_ns / GB_NS_PER_S), (long)(mono_ns % GB_NS_PER_S)};
    pthread_cond_timedwait(c, mu, &ts);
}
