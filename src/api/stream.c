/*
 * The live-stream hub (gemba/stream.h): a ring of events, each already formatted as Server-Sent
 * Events text so that a hundred clients cost one formatting, plus the filter each client reads it
 * through. Events are numbered from 1 and never renumbered; the ring forgets the oldest beyond a
 * count and a byte budget. Waiting clients register a wake-up that the producer calls after
 * adding an event, outside any I/O: the HTTP side resumes the connection, which then collects.
 */
#include "gemba/stream.h"

#include "gemba/error.h"
#include "gemba/time.h"
#include "store/textio.h"
#include "util/str.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EV_SAMPLE, EV_STATE, EV_COUNT, EV_OTHER };

typedef struct event {
    uint64_t id;
    uint8_t kind;
    uint32_t tag;      /* EV_SAMPLE: the tag */
    uint32_t machine;  /* asset id, GB_NONE for none */
    char *text;        /* "id: N\nevent: T\ndata: {...}\n\n" */
    size_t len;
} event_t;

typedef struct waiter {
    void (*wake)(void *ctx);
    void *ctx;
} waiter_t;

/* What a tag means to the stream, besides its samples. */
typedef struct tag_role {
    uint8_t kind;      /* EV_STATE (oee.state), EV_COUNT, or EV_SAMPLE only */
    const char *counter; /* EV_COUNT: "total", "good" or "scrap" */
} tag_role_t;

struct gb_stream {
    const gb_tags_t *tags;
    pthread_mutex_t mu;
    event_t *ring;     /* GB_STREAM_RING_EVENTS slots */
    uint64_t first, next; /* ids kept: [first, next) */
    size_t bytes;
    waiter_t *w;
    size_t nw, wcap;
    bool closing;
    tag_role_t *role;  /* by tag id */
    uint32_t nrole;
    pthread_t ticker;  /* wakes every waiter now and then (keep-alives) */
    pthread_cond_t cv;
};

static void *tick(void *arg);

static event_t *slot(gb_stream_t *s, uint64_t id)
{
    return &s->ring[id % GB_STREAM_RING_EVENTS];
}

gb_stream_t *gb_stream_new(const gb_plant_t *p, const gb_tags_t *tags)
{
    gb_stream_t *s = gb_xcalloc(1, sizeof *s);
    s->tags = tags;
    pthread_mutex_init(&s->mu, NULL);
    s->ring = gb_xcalloc(GB_STREAM_RING_EVENTS, sizeof *s->ring);
    s->first = s->next = 1;
    s->nrole = gb_tags_count(tags);
    s->role = gb_xcalloc(s->nrole ? s->nrole : 1, sizeof *s->role);
    for (uint32_t i = 0; i < s->nrole; i++) {
        const gb_tag_t *t = gb_tags_get(tags, i);
        s->role[i].kind = EV_SAMPLE;
        if (t->derived && !strcmp(t->name, GB_DERIVED_PREFIX "state")) s->role[i].kind = EV_STATE;
        const gb_asset_t *a = gb_tags_asset(tags, t->machine);
        for (size_t m = 0; p && a && m < p->nmachines; m++) {
            const gb_machine_t *pm = &p->machines[m];
            if (strcmp(pm->name, a->name)) continue;
            const char *which = pm->count_total && !strcmp(pm->count_total, t->name) ? "total"
                                : pm->count_good && !strcmp(pm->count_good, t->name) ? "good"
                                : pm->count_scrap && !strcmp(pm->count_scrap, t->name) ? "scrap"
                                                                                       : NULL;
            if (which) {
                s->role[i].kind = EV_COUNT;
                s->role[i].counter = which;
            }
        }
    }
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &a);
    pthread_condattr_destroy(&a);
    if (pthread_create(&s->ticker, NULL, tick, s) != 0) abort(); /* bookkeeping thread */
    return s;
}

static void wake_all_locked(gb_stream_t *s, waiter_t **out, size_t *n);
static void call_wakes(waiter_t *w, size_t n);

/* Every 15 s every waiting client looks whether it owes its peer a keep-alive. */
static void *tick(void *arg)
{
    gb_stream_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 15;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (s->closing) break;
        waiter_t *w;
        size_t n;
        wake_all_locked(s, &w, &n);
        pthread_mutex_unlock(&s->mu);
        call_wakes(w, n);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void wake_all_locked(gb_stream_t *s, waiter_t **out, size_t *n)
{
    *out = s->w;
    *n = s->nw;
    s->w = NULL;
    s->nw = s->wcap = 0;
}

static void call_wakes(waiter_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i].wake(w[i].ctx);
    free(w);
}

void gb_stream_close(gb_stream_t *s)
{
    if (!s) return;
    waiter_t *w;
    size_t n;
    pthread_mutex_lock(&s->mu);
    bool was = s->closing;
    s->closing = true;
    pthread_cond_signal(&s->cv);
    wake_all_locked(s, &w, &n);
    pthread_mutex_unlock(&s->mu);
    call_wakes(w, n);
    if (!was) pthread_join(s->ticker, NULL);
}

void gb_stream_free(gb_stream_t *s)
{
    if (!s) return;
    gb_stream_close(s);
    for (uint64_t id = s->first; id < s->next; id++) free(slot(s, id)->text);
    free(s->ring);
    free(s->role);
    free(s->w);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Adds one event (TEXT is taken); the caller wakes the waiters it gets back. */
static void add_locked(gb_stream_t *s, uint8_t kind, uint32_t tag, uint32_t machine, char *text,
                       size_t len)
{
    while (s->next - s->first >= GB_STREAM_RING_EVENTS ||
           (s->next > s->first && s->bytes + len > GB_STREAM_RING_BYTES)) {
        event_t *old = slot(s, s->first++);
        s->bytes -= old->len;
        free(old->text);
        old->text = NULL;
    }
    event_t *e = slot(s, s->next);
    *e = (event_t){s->next, kind, tag, machine, text, len};
    s->next++;
    s->bytes += len;
}

/* "id: N\nevent: TYPE\ndata: DATA\n\n" for the next id (DATA is one line of JSON). */
static char *frame(uint64_t id, const char *type, const char *data, size_t *len)
{
    char *t = gb_xasprintf("id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)id, type, data);
    *len = strlen(t);
    return t;
}

static void value_json(const gb_batch_t *b, const gb_sample_t *smp, char *buf, size_t size)
{
    switch (smp->type) {
    case GB_VT_F64: {
        if (smp->v.f64 != smp->v.f64 || smp->v.f64 - smp->v.f64 != 0) {
            snprintf(buf, size, "null"); /* NaN and infinities have no JSON number */
            return;
        }
        char num[40];
        size_t n = gb_textio_f64_format(smp->v.f64, num);
        snprintf(buf, size, "%.*s", (int)n, num);
        return;
    }
    case GB_VT_I64: snprintf(buf, size, "%lld", (long long)smp->v.i64); return;
    case GB_VT_BOOL: snprintf(buf, size, "%s", smp->v.b ? "true" : "false"); return;
    default: {
        size_t len;
        const char *str = gb_sample_str(b, smp, &len);
        json_t *js = json_stringn(str, len);
        char *txt = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        snprintf(buf, size, "%s", txt ? txt : "null");
        free(txt);
        json_decref(js);
    }
    }
}

static const char *quality_name(uint8_t q)
{
    return q == GB_Q_GOOD ? "good" : q == GB_Q_UNCERTAIN ? "uncertain" : "bad";
}

void gb_stream_batch(gb_stream_t *s, const gb_batch_t *b)
{
    waiter_t *w = NULL;
    size_t nw = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < b->n && !s->closing; i++) {
        const gb_sample_t *smp = &b->samples[i];
        if (smp->tag >= s->nrole) continue;
        const gb_tag_t *t = gb_tags_get(s->tags, smp->tag);
        const gb_asset_t *m = gb_tags_asset(s->tags, t->machine);
        char when[40], val[4096], data[4400];
        gb_time_format(smp->t, when, sizeof when);
        value_json(b, smp, val, sizeof val);
        const tag_role_t *r = &s->role[smp->tag];
        size_t len;
        char *txt;
        /* every sample, for clients that follow its tag */
        snprintf(data, sizeof data, "{\"tag\":\"%s\",\"t\":\"%s\",\"v\":%s,\"q\":\"%s\"}", t->path,
                 when, val, quality_name(smp->quality));
        txt = frame(s->next, "sample", data, &len);
        add_locked(s, EV_SAMPLE, smp->tag, t->machine, txt, len);
        if (r->kind == EV_STATE && smp->type == GB_VT_STR) {
            snprintf(data, sizeof data, "{\"machine\":\"%s\",\"t\":\"%s\",\"state\":%s}",
                     m ? m->name : "", when, val);
            txt = frame(s->next, "state", data, &len);
            add_locked(s, EV_STATE, smp->tag, t->machine, txt, len);
        } else if (r->kind == EV_COUNT) {
            snprintf(data, sizeof data,
                     "{\"machine\":\"%s\",\"t\":\"%s\",\"counter\":\"%s\",\"value\":%s}",
                     m ? m->name : "", when, r->counter, val);
            txt = frame(s->next, "count", data, &len);
            add_locked(s, EV_COUNT, smp->tag, t->machine, txt, len);
        }
    }
    if (b->n) wake_all_locked(s, &w, &nw);
    pthread_mutex_unlock(&s->mu);
    call_wakes(w, nw);
}

static int deliver(void *ctx, const gb_batch_t *b)
{
    gb_stream_batch(ctx, b);
    return 0;
}

const gb_consumer_ops_t gb_stream_consumer = {GB_CONSUMER_API_VERSION, deliver, NULL};

void gb_stream_push(gb_stream_t *s, const char *type, uint32_t machine_asset, const char *json_obj)
{
    waiter_t *w = NULL;
    size_t nw = 0;
    pthread_mutex_lock(&s->mu);
    if (!s->closing) {
        size_t len;
        char *txt = frame(s->next, type, json_obj, &len);
        add_locked(s, EV_OTHER, GB_NONE, machine_asset, txt, len);
        wake_all_locked(s, &w, &nw);
    }
    pthread_mutex_unlock(&s->mu);
    call_wakes(w, nw);
}

/* ---- reading ------------------------------------------------------------------------------ */

static bool has(const uint32_t *v, size_t n, uint32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

static bool wanted(const event_t *e, const gb_stream_filter_t *f)
{
    if (f->nmachines && (e->machine == GB_NONE || !has(f->machines, f->nmachines, e->machine)))
        return false;
    if (e->kind != EV_SAMPLE) return true;
    return f->all_tags || has(f->tags, f->ntags, e->tag);
}

size_t gb_stream_collect(gb_stream_t *s, uint64_t *after, const gb_stream_filter_t *filter,
                         char *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    uint64_t id = *after + 1;
    if (id < s->first && s->next > s->first) {
        /* what the client missed is gone: say so, and go on from the oldest kept */
        char data[128];
        snprintf(data, sizeof data, "{\"reason\":\"events after %llu are no longer kept\"}",
                 (unsigned long long)*after);
        size_t len;
        char *txt = frame(s->first - 1, "reset", data, &len);
        if (len <= max) {
            memcpy(out, txt, len);
            n = len;
            id = s->first;
            *after = s->first - 1;
        }
        free(txt);
    }
    for (; id < s->next; id++) {
        const event_t *e = slot(s, id);
        if (!wanted(e, filter)) {
            *after = id;
            continue;
        }
        if (n + e->len > max) break;
        memcpy(out + n, e->text, e->len);
        n += e->len;
        *after = id;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t gb_stream_last_id(gb_stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t id = s->next - 1;
    pthread_mutex_unlock(&s->mu);
    return id;
}

bool gb_stream_wait(gb_stream_t *s, uint64_t after, void (*wake)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->closing && s->next - 1 <= after;
    if (ok) {
        if (s->nw == s->wcap) {
            s->wcap = s->wcap ? 2 * s->wcap : 16;
            s->w = gb_xrealloc(s->w, s->wcap * sizeof *s->w);
        }
        s->w[s->nw++] = (waiter_t){wake, ctx};
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void gb_stream_unwait(gb_stream_t *s, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nw; i++)
        if (s->w[i].ctx == ctx) s->w[i--] = s->w[--s->nw];
    pthread_mutex_unlock(&s->mu);
}

bool gb_stream_closing(gb_stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool c = s->closing;
    pthread_mutex_unlock(&s->mu);
    return c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Splits a comma-separated LIST, resolving each name through FIND into ids (sorted). */
static int resolve(gb_stream_t *s, const char *list, bool assets, uint32_t **out, size_t *n,
                   char *err, size_t errsz)
{
    char *copy = gb_xstrdup(list), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ') name++;
        uint32_t id = GB_NONE;
        if (assets) {
            const gb_asset_t *a = gb_tags_find_asset(s->tags, name);
            if (a && a->kind == GB_ASSET_MACHINE) id = a->id;
        } else {
            const gb_tag_t *t = gb_tags_find(s->tags, name);
            if (t) id = t->id;
        }
        if (id == GB_NONE) {
            snprintf(err, errsz, "no %s named '%.200s'", assets ? "machine" : "tag", name);
            rc = GB_ENOENT;
            break;
        }
        *out = gb_xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[(*n)++] = id;
    }
    free(copy);
    if (*n) qsort(*out, *n, sizeof **out, cmp_u32);
    return rc;
}

int gb_stream_filter_parse(gb_stream_t *s, const char *tags, const char *machines,
                           gb_stream_filter_t *f, char *err, size_t errsz)
{
    memset(f, 0, sizeof *f);
    int rc = 0;
    if (tags && !strcmp(tags, "*")) f->all_tags = true;
    else if (tags && *tags) rc = resolve(s, tags, false, &f->tags, &f->ntags, err, errsz);
    if (!rc && machines && *machines)
        rc = resolve(s, machines, true, &f->machines, &f->nmachines, err, errsz);
    if (rc) gb_stream_filter_clear(f);
    return rc;
}

void gb_stream_filter_clear(gb_stream_filter_t *f)
{
    free(f->tags);
    free(f->machines);
    memset(f, 0, sizeof *f);
}
