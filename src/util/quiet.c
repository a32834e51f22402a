#include "util/quiet.h"
#include "gemba/time.h"

#include <stdio.h>
#include <string.h>

bool gb_quiet_say(gb_quiet_t *q, const char *key, uint64_t *unsaid)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; key[i] && i < GB_QUIET_KEY - 1; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    int64_t now = gb_mono_ns();
    pthread_mutex_lock(&q->mu);
    size_t k = h % GB_QUIET_SLOTS;
    bool same = q->slot[k].said && !strncmp(q->slot[k].key, key, GB_QUIET_KEY - 1);
    if (same && now - q->slot[k].said < 60 * GB_NS_PER_S) {
        q->slot[k].unsaid++;
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    *unsaid = same ? q->slot[k].unsaid : 0;
    snprintf(q->slot[k].key, sizeof q->slot[k].key, "%s", key);
    q->slot[k].said = now;
    q->slot[k].unsaid = 0;
    pthread_mutex_unlock(&q->mu);
    return true;
}
