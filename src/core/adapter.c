/*
 * The adapter-class registry and instance lifecycle. Classes register once at startup (before
 * any thread starts), so lookups need no lock.
 */
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 32
static const gb_adapter_class_t *classes[MAX_CLASSES];
static size_t nclasses;

int gb_adapter_register(const gb_adapter_class_t *cls)
{
    if (!cls || cls->version < 1 || !cls->type || !cls->create) return GB_EINVAL;
    for (size_t i = 0; i < nclasses; i++) {
        if (classes[i] == cls) return 0;
        if (!strcmp(classes[i]->type, cls->type)) return GB_EEXIST;
    }
    if (nclasses == MAX_CLASSES) return GB_ERANGE;
    classes[nclasses++] = cls;
    return 0;
}

const gb_adapter_class_t *gb_adapter_class_find(const char *type)
{
    for (size_t i = 0; i < nclasses; i++)
        if (!strcmp(classes[i]->type, type)) return classes[i];
    return NULL;
}

size_t gb_adapter_class_list(const char **names, size_t max)
{
    for (size_t i = 0; i < nclasses && i < max; i++) names[i] = classes[i]->type;
    return nclasses;
}

const char *gb_conn_state_name(gb_conn_state_t s)
{
    switch (s) {
    case GB_CONN_STOPPED: return "stopped";
    case GB_CONN_CONNECTING: return "connecting";
    case GB_CONN_CONNECTED: return "connected";
    case GB_CONN_DISCONNECTED: return "disconnected";
    }
    return "?";
}

void gb_adapter_state_init(gb_adapter_state_t *s, const char *name)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->name = name;
}

void gb_adapter_state_clear(gb_adapter_state_t *s)
{
    pthread_mutex_destroy(&s->mu);
}

void gb_adapter_state_set(gb_adapter_state_t *s, gb_conn_state_t state)
{
    pthread_mutex_lock(&s->mu);
    gb_conn_state_t old = s->st.state;
    s->st.state = state;
    pthread_mutex_unlock(&s->mu);
    /* retrying a connection that keeps failing is not news: its error is logged once */
    bool retry = (old == GB_CONN_CONNECTING && state == GB_CONN_DISCONNECTED) ||
                 (old == GB_CONN_DISCONNECTED && state == GB_CONN_CONNECTING);
    if (old != state && !retry)
        gb_info("adapter", "%s: %s -> %s", s->name, gb_conn_state_name(old),
                gb_conn_state_name(state));
}

void gb_adapter_state_error(gb_adapter_state_t *s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->mu);
    bool repeat = !strcmp(msg, s->st.last_error);
    gb_strlcpy(s->st.last_error, msg, sizeof s->st.last_error);
    s->st.last_error_time = gb_now();
    pthread_mutex_unlock(&s->mu);
    if (!repeat) gb_warn("adapter", "%s: %s", s->name, msg);
}

void gb_adapter_state_count(gb_adapter_state_t *s, uint64_t samples, uint64_t malformed,
                            uint64_t pushback)
{
    pthread_mutex_lock(&s->mu);
    s->st.samples += samples;
    s->st.malformed += malformed;
    s->st.pushback += pushback;
    pthread_mutex_unlock(&s->mu);
}

void gb_adapter_state_malformed(gb_adapter_state_t *s, bool *logged, const char *fmt, ...)
{
    gb_adapter_state_count(s, 0, 1, 0);
    if (*logged) return;
    *logged = true;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gb_warn("adapter", "%s: %s (further ones are counted as malformed, not logged)", s->name, msg);
}

void gb_adapter_state_get(gb_adapter_state_t *s, gb_adapter_status_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

int gb_adapter_publish(gb_adapter_state_t *s, gb_bus_t *bus, gb_batch_t *b,
                       bool (*stopping)(void *ctx), void *ctx)
{
    size_t n = b->n;
    int rc = 0;
    while (n) {
        rc = gb_bus_publish(bus, b, 200 * GB_NS_PER_MS);
        if (rc == 0) {
            gb_adapter_state_count(s, n, 0, 0);
            return 0;
        }
        if (rc != GB_EBUSY) {
            gb_adapter_state_error(s, "publish failed: %s", gb_strerror(rc));
            break;
        }
        gb_adapter_state_count(s, 0, 0, 1);
        if (stopping(ctx)) {
            rc = GB_ECLOSED;
            break;
        }
    }
    gb_batch_free(b);
    return rc;
}

int gb_adapters_create(const gb_plant_t *plant, const gb_tags_t *tags, gb_bus_t *bus,
                       gb_adapter_t **out, size_t *n)
{
    gb_adapter_t *arr = gb_xcalloc(plant->nadapters, sizeof *arr);
    size_t cnt = 0;
    int rc = 0;
    for (size_t i = 0; i < plant->nadapters; i++) {
        const gb_adapter_cfg_t *cfg = &plant->adapters[i];
        gb_adapter_t *a = &arr[cnt];
        a->cls = gb_adapter_class_find(cfg->type);
        a->cfg = cfg;
        if (!a->cls) {
            rc = GB_EINVAL;
            break;
        }
        for (uint32_t t = 0; t < gb_tags_count(tags); t++) {
            const gb_tag_t *tag = gb_tags_get(tags, t);
            if (tag->adapter != i) continue;
            const gb_machine_t *m = NULL;
            const gb_plant_tag_t *pt = NULL;
            const gb_asset_t *asset = gb_tags_asset(tags, tag->machine);
            for (size_t k = 0; k < plant->nmachines && !m; k++)
                if (!strcmp(plant->machines[k].name, asset->name)) m = &plant->machines[k];
            for (size_t k = 0; m && k < m->ntags && !pt; k++)
                if (!strcmp(m->tags[k].name, tag->name)) pt = &m->tags[k];
            a->bindings = gb_xrealloc(a->bindings, (a->nbindings + 1) * sizeof *a->bindings);
            a->bindings[a->nbindings++] = (gb_adapter_binding_t){t, m, pt};
        }
        if (a->nbindings == 0) {
            gb_warn("adapter", "%s: no tags use this adapter; not starting it", cfg->name);
            continue;
        }
        a->env = (gb_adapter_env_t){cfg, plant, tags, bus, a->bindings, a->nbindings};
        if ((rc = a->cls->create(&a->env, &a->state)) != 0) {
            gb_error("adapter", "%s: cannot create: %s", cfg->name, gb_strerror(rc));
            free(a->bindings);
            break;
        }
        cnt++;
    }
    if (rc) {
        gb_adapters_destroy(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int gb_adapters_start(gb_adapter_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = a[i].cls->start ? a[i].cls->start(a[i].state) : 0;
        if (rc) {
            gb_error("adapter", "%s: cannot start: %s", a[i].cfg->name, gb_strerror(rc));
            return rc;
        }
        a[i].started = true;
    }
    return 0;
}

void gb_adapters_stop(gb_adapter_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].started && a[i].cls->stop) a[i].cls->stop(a[i].state);
        a[i].started = false;
    }
}

void gb_adapters_destroy(gb_adapter_t *a, size_t n)
{
    if (!a) return;
    gb_adapters_stop(a, n);
    for (size_t i = 0; i < n; i++) {
        if (a[i].cls->destroy) a[i].cls->destroy(a[i].state);
        free(a[i].bindings);
    }
    free(a);
}
