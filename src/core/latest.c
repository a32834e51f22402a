/* Latest value per tag: an array indexed by tag id under one lock (updates are tiny). */
#include "gemba/latest.h"
#include "gemba/error.h"
#include "util/str.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gb_latest {
    pthread_mutex_t mu;
    gb_latest_value_t *v;
    uint32_t n;
};

gb_latest_t *gb_latest_new(const gb_tags_t *reg)
{
    gb_latest_t *l = gb_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->n = gb_tags_count(reg);
    l->v = gb_xcalloc(l->n, sizeof *l->v);
    return l;
}

void gb_latest_free(gb_latest_t *l)
{
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    free(l->v);
    free(l);
}

static int deliver(void *ctx, const gb_batch_t *b)
{
    gb_latest_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < b->n; i++) {
        const gb_sample_t *s = &b->samples[i];
        if (s->tag >= l->n) continue;
        gb_latest_value_t *v = &l->v[s->tag];
        if (v->has && s->t < v->t) continue;
        v->has = true;
        v->t = s->t;
        v->type = (gb_vtype_t)s->type;
        v->quality = (gb_quality_t)s->quality;
        switch (s->type) {
        case GB_VT_F64: v->f64 = s->v.f64; break;
        case GB_VT_I64: v->i64 = s->v.i64; break;
        case GB_VT_BOOL: v->b = s->v.b; break;
        default: {
            size_t len;
            const char *str = gb_sample_str(b, s, &len);
            if (len >= sizeof v->str) len = sizeof v->str - 1;
            memcpy(v->str, str, len);
            v->str[len] = 0;
        }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

const gb_consumer_ops_t gb_latest_consumer = {GB_CONSUMER_API_VERSION, deliver, NULL};

int gb_latest_get(gb_latest_t *l, uint32_t tag, gb_latest_value_t *out)
{
    if (tag >= l->n) return GB_ENOENT;
    pthread_mutex_lock(&l->mu);
    *out = l->v[tag];
    pthread_mutex_unlock(&l->mu);
    return 0;
}
