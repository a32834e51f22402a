/*
 * The bus: one mutex guards every queue and counter. Publishing is a short critical section
 * (validate, wait for room, transform, append a pointer per consumer), and consumers deliver
 * outside the lock, so a slow deliver() only ever holds up its own queue -- and, through the
 * BLOCK policy, the publishers, which is the point of push-back.
 *
 * A batch is shared by every queue it sits in and freed when the last consumer is done with it.
 * Samples are transformed (scale/offset, deadband) in place exactly once, after the wait for room,
 * so a publisher that gets GB_EBUSY can retry the same batch safely.
 */
#include "gemba/bus.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/cond.h"
#include "util/str.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct consumer {
    char *name;
    gb_bus_policy_t policy;
    size_t capacity;
    const gb_consumer_ops_t *ops;
    void *ctx;
    gb_batch_t **ring; /* queue of batches, head first */
    size_t ring_cap, head, count;
    size_t queued; /* samples in the ring */
    gb_consumer_stats_t st;
    pthread_t thread;
    bool running;
    pthread_cond_t wake; /* data arrived, or the bus is closing */
    uint64_t lost;
} consumer_t;

struct gb_bus {
    const gb_tags_t *reg;
    pthread_mutex_t mu;
    pthread_cond_t room; /* some consumer's queue got shorter */
    consumer_t *cons;
    size_t ncons;
    bool started, closed;
    int64_t deadline; /* gb_mono_ns time at which failing consumers give up at shutdown */
    gb_bus_stats_t st;
    /* per tag: newest time seen (late detection) and last kept value (deadband) */
    gb_time_t *newest;
    double *kept;
    bool *has_kept;
};

gb_bus_t *gb_bus_new(const gb_tags_t *reg)
{
    gb_bus_t *bus = gb_xcalloc(1, sizeof *bus);
    bus->reg = reg;
    pthread_mutex_init(&bus->mu, NULL);
    gb_cond_init_mono(&bus->room);
    uint32_t n = gb_tags_count(reg);
    bus->newest = gb_xcalloc(n, sizeof *bus->newest);
    bus->kept = gb_xcalloc(n, sizeof *bus->kept);
    bus->has_kept = gb_xcalloc(n, sizeof *bus->has_kept);
    for (uint32_t i = 0; i < n; i++) bus->newest[i] = INT64_MIN;
    return bus;
}

static void unref(gb_batch_t *b)
{
    if (atomic_fetch_sub(&b->refs_, 1) == 1) gb_batch_free(b);
}

void gb_bus_free(gb_bus_t *bus)
{
    if (!bus) return;
    if (bus->started && !bus->closed) gb_bus_stop(bus, gb_mono_ns(), NULL);
    for (size_t i = 0; i < bus->ncons; i++) {
        consumer_t *c = &bus->cons[i];
        while (c->count) {
            unref(c->ring[c->head]);
            c->head = (c->head + 1) % c->ring_cap;
            c->count--;
        }
        free(c->ring);
        free(c->name);
        pthread_cond_destroy(&c->wake);
    }
    free(bus->cons);
    free(bus->newest);
    free(bus->kept);
    free(bus->has_kept);
    pthread_cond_destroy(&bus->room);
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

int gb_bus_subscribe(gb_bus_t *bus, const char *name, gb_bus_policy_t policy, size_t capacity,
                     const gb_consumer_ops_t *ops, void *ctx)
{
    if (!ops || ops->version < 1 || !ops->deliver || capacity == 0) return GB_EINVAL;
    if (bus->started) return GB_EBUSY;
    bus->cons = gb_xrealloc(bus->cons, (bus->ncons + 1) * sizeof *bus->cons);
    consumer_t *c = &bus->cons[bus->ncons++];
    memset(c, 0, sizeof *c);
    c->name = gb_xstrdup(name);
    c->policy = policy;
    c->capacity = capacity;
    c->ops = ops;
    c->ctx = ctx;
    gb_cond_init_mono(&c->wake);
    return 0;
}

static void *consumer_main(void *arg);

typedef struct {
    gb_bus_t *bus;
    consumer_t *c;
} thread_arg_t;

int gb_bus_start(gb_bus_t *bus)
{
    if (bus->started) return 0;
    bus->started = true;
    for (size_t i = 0; i < bus->ncons; i++) {
        thread_arg_t *a = gb_xmalloc(sizeof *a);
        *a = (thread_arg_t){bus, &bus->cons[i]};
        if (pthread_create(&bus->cons[i].thread, NULL, consumer_main, a) != 0) {
            free(a);
            return GB_EIO;
        }
        bus->cons[i].running = true;
    }
    return 0;
}

static bool has_room(const consumer_t *c, size_t n)
{
    /* an empty queue takes any batch, so one larger than the bound still moves */
    return c->queued == 0 || c->queued + n <= c->capacity;
}

/* Checks every sample against the registry; converts int to float for float tags. */
static int validate(gb_bus_t *bus, gb_batch_t *b)
{
    uint32_t ntags = gb_tags_count(bus->reg);
    for (size_t i = 0; i < b->n; i++) {
        gb_sample_t *s = &b->samples[i];
        if (s->tag >= ntags) return GB_EINVAL;
        gb_vtype_t want = gb_tags_get(bus->reg, s->tag)->type;
        if (s->type == want) continue;
        if (want == GB_VT_F64 && s->type == GB_VT_I64) continue; /* raw register -> float */
        return GB_EINVAL;
    }
    return 0;
}

/* Applies scale/offset and deadband, marks late samples; compacts B. Called under the lock. */
static void transform(gb_bus_t *bus, gb_batch_t *b)
{
    size_t out = 0;
    for (size_t i = 0; i < b->n; i++) {
        gb_sample_t s = b->samples[i];
        const gb_tag_t *tag = gb_tags_get(bus->reg, s.tag);
        s.flags = 0;
        if (tag->type == GB_VT_F64) {
            double v = s.type == GB_VT_I64 ? (double)s.v.i64 : s.v.f64;
            s.type = GB_VT_F64;
            s.v.f64 = v * tag->scale + tag->offset;
        }
        if (s.t < bus->newest[s.tag]) {
            s.flags |= GB_SAMPLE_LATE;
            bus->st.late++;
        } else {
            bus->newest[s.tag] = s.t;
            if (tag->deadband > 0 && s.quality == GB_Q_GOOD &&
                (s.type == GB_VT_F64 || s.type == GB_VT_I64)) {
                double v = s.type == GB_VT_F64 ? s.v.f64 : (double)s.v.i64;
                if (bus->has_kept[s.tag] && fabs(v - bus->kept[s.tag]) < tag->deadband) {
                    bus->st.filtered++;
                    continue;
                }
                bus->kept[s.tag] = v;
                bus->has_kept[s.tag] = true;
            }
        }
        b->samples[out++] = s;
    }
    b->n = out;
}

static void enqueue(consumer_t *c, gb_batch_t *b)
{
    if (c->count == c->ring_cap) {
        size_t ncap = c->ring_cap ? c->ring_cap * 2 : 64;
        gb_batch_t **r = gb_xmalloc(ncap * sizeof *r);
        for (size_t i = 0; i < c->count; i++) r[i] = c->ring[(c->head + i) % c->ring_cap];
        free(c->ring);
        c->ring = r;
        c->ring_cap = ncap;
        c->head = 0;
    }
    c->ring[(c->head + c->count) % c->ring_cap] = b;
    c->count++;
    c->queued += b->n;
    if (c->queued > c->st.queued_max) c->st.queued_max = c->queued;
    for (size_t i = 0; i < b->n; i++)
        if (b->samples[i].flags & GB_SAMPLE_LATE) c->st.late++;
    atomic_fetch_add(&b->refs_, 1);
    pthread_cond_signal(&c->wake);
}

int gb_bus_publish(gb_bus_t *bus, gb_batch_t *b, int64_t timeout_ns)
{
    int64_t deadline = gb_mono_ns() + (timeout_ns > 0 ? timeout_ns : 0);
    pthread_mutex_lock(&bus->mu);
    int rc = 0;
    if (bus->closed) {
        rc = GB_ECLOSED;
        goto out;
    }
    if ((rc = validate(bus, b)) != 0) {
        bus->st.invalid += b->n;
        goto out;
    }
    for (size_t i = 0; i < bus->ncons; i++) {
        consumer_t *c = &bus->cons[i];
        if (c->policy != GB_BUS_BLOCK || has_room(c, b->n)) continue;
        c->st.blocked++;
        while (!has_room(c, b->n) && !bus->closed && gb_mono_ns() < deadline)
            gb_cond_wait_until(&bus->room, &bus->mu, deadline);
        if (bus->closed) {
            rc = GB_ECLOSED;
            goto out;
        }
        if (!has_room(c, b->n)) {
            bus->st.rejected += b->n;
            rc = GB_EBUSY;
            goto out;
        }
        i = (size_t)-1; /* the lock was dropped while waiting: check everyone again */
    }
    transform(bus, b);
    bus->st.published += b->n;
    atomic_store(&b->refs_, 1); /* the publisher's own reference, released below */
    for (size_t i = 0; i < bus->ncons; i++) {
        consumer_t *c = &bus->cons[i];
        if (b->n == 0) break;
        if (c->policy == GB_BUS_DROP && !has_room(c, b->n)) {
            c->st.dropped += b->n;
            continue;
        }
        enqueue(c, b);
    }
    pthread_mutex_unlock(&bus->mu);
    unref(b);
    return 0;
out:
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

static void *consumer_main(void *arg)
{
    thread_arg_t a = *(thread_arg_t *)arg;
    free(arg);
    gb_bus_t *bus = a.bus;
    consumer_t *c = a.c;
    int64_t backoff = 10 * GB_NS_PER_MS;
    bool logged = false;
    pthread_mutex_lock(&bus->mu);
    for (;;) {
        while (c->count == 0 && !bus->closed) pthread_cond_wait(&c->wake, &bus->mu);
        if (c->count == 0) break; /* closed and drained */
        gb_batch_t *b = c->ring[c->head];
        pthread_mutex_unlock(&bus->mu);
        int rc = c->ops->deliver(c->ctx, b);
        pthread_mutex_lock(&bus->mu);
        if (rc == 0) {
            c->head = (c->head + 1) % c->ring_cap;
            c->count--;
            c->queued -= b->n;
            c->st.delivered += b->n;
            unref(b);
            pthread_cond_broadcast(&bus->room);
            if (logged) gb_info("bus", "consumer %s recovered; delivering again", c->name);
            logged = false;
            backoff = 10 * GB_NS_PER_MS;
            continue;
        }
        c->st.errors++;
        if (!logged)
            gb_error("bus", "consumer %s failed to take %zu samples (%s); keeping them and retrying",
                     c->name, b->n, gb_strerror(rc));
        logged = true;
        if (bus->closed && gb_mono_ns() >= bus->deadline) {
            c->lost = c->queued;
            gb_error("bus", "consumer %s gave up at shutdown: %zu accepted samples not stored",
                     c->name, c->queued);
            while (c->count) {
                unref(c->ring[c->head]);
                c->head = (c->head + 1) % c->ring_cap;
                c->count--;
            }
            c->queued = 0;
            break;
        }
        int64_t until = gb_mono_ns() + backoff;
        if (bus->closed && until > bus->deadline) until = bus->deadline;
        gb_cond_wait_until(&c->wake, &bus->mu, until);
        if (backoff < GB_NS_PER_S) backoff *= 2;
    }
    pthread_mutex_unlock(&bus->mu);
    if (c->ops->drained) c->ops->drained(c->ctx);
    return NULL;
}

int gb_bus_stop(gb_bus_t *bus, int64_t deadline_mono_ns, uint64_t *lost)
{
    pthread_mutex_lock(&bus->mu);
    bool was_closed = bus->closed;
    bus->closed = true;
    bus->deadline = deadline_mono_ns;
    for (size_t i = 0; i < bus->ncons; i++) pthread_cond_broadcast(&bus->cons[i].wake);
    pthread_cond_broadcast(&bus->room);
    pthread_mutex_unlock(&bus->mu);
    uint64_t total = 0;
    if (!was_closed) {
        for (size_t i = 0; i < bus->ncons; i++) {
            if (bus->cons[i].running) pthread_join(bus->cons[i].thread, NULL);
            bus->cons[i].running = false;
            total += bus->cons[i].lost;
        }
    }
    if (lost) *lost = total;
    return total ? GB_ETIMEDOUT : 0;
}

size_t gb_bus_stats(gb_bus_t *bus, gb_bus_stats_t *totals, gb_consumer_stats_t *out, size_t max)
{
    pthread_mutex_lock(&bus->mu);
    if (totals) *totals = bus->st;
    for (size_t i = 0; i < bus->ncons && i < max; i++) {
        consumer_t *c = &bus->cons[i];
        out[i] = c->st;
        out[i].name = c->name;
        out[i].policy = c->policy;
        out[i].capacity = c->capacity;
        out[i].queued = c->queued;
    }
    size_t n = bus->ncons;
    pthread_mutex_unlock(&bus->mu);
    return n;
}
