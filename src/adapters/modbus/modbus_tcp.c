/*
 * The `modbus-tcp` and `modbus-rtu` adapters: poll a Modbus device with libmodbus, over TCP or a
 * serial line; everything but opening the connection is shared. Tags are grouped by poll
 * group (`@group` in the address; each group has its own interval) and each group's addresses are
 * planned into as few reads as the protocol allows (adjacent addresses of one area merged, at
 * most 125 registers or 2000 bits a request, gaps up to `max_gap`). A read the device refuses
 * with an exception is retried tag by tag, so the exception lands on the tag that caused it; a
 * timeout is retried `retries` times, then the connection is dropped and re-established with
 * back-off. Values are stamped with the time of the poll.
 */
#include "adapters/modbus/codec_modbus.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/str.h"

#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const mb_keys[] = {"host", "port", "unit_id", "timeout", "retries", "interval",
                                      "groups", "max_gap", "reconnect_max", "writable", NULL};
static const char *const rtu_keys[] = {"device", "baud", "parity", "data_bits", "stop_bits",
                                       "unit_id", "timeout", "retries", "interval", "groups",
                                       "max_gap", "reconnect_max", "writable", NULL};

typedef struct item {
    gb_mb_addr_t a;
    uint32_t tag;
    gb_vtype_t type;
    const char *name;
    bool failing;  /* its last read was refused: logged once until it recovers */
    bool writable; /* the plant file lists it in `writable` */
} item_t;

/* A write handed from an API thread to the polling thread, which owns the connection. */
typedef struct write_req {
    unsigned seq; /* which request an answer belongs to */
    bool pending, done;
    item_t *item;
    gb_value_t value;
    char text[2 * GB_MB_MAX_STRING + 1];
    int rc;
    char err[200];
} write_req_t;

typedef struct group {
    char name[32];
    int64_t interval_ns, next;
    item_t *items;
    size_t n;
    size_t *order;
    gb_mb_read_t *reads;
    size_t nreads;
} group_t;

typedef struct mb {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    char host[256], port[16];
    bool rtu;            /* serial line: device, baud, parity, data and stop bits */
    char device[256];
    int baud, data_bits, stop_bits;
    char parity;
    int unit, retries;
    int64_t timeout_ns, reconnect_max_ns;
    unsigned max_gap;
    group_t *groups;
    size_t ngroups;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wcv; /* a write was done */
    write_req_t wr;
    unsigned wseq;
    bool stop, running, connected;
} mb_t;

static int64_t group_interval(const gb_cnode_t *cfg, const char *name, int64_t dflt)
{
    const gb_cnode_t *g = gb_cnode_get(cfg, "groups");
    const gb_cnode_t *v = gb_cnode_get(g, name);
    int64_t ns;
    if (v && v->kind == GB_CNODE_SCALAR && gb_duration_parse(v->str, &ns) == 0 && ns > 0) return ns;
    return *name ? -1 : dflt;
}

static int mb_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                    gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    const char *s;
    int64_t v, ns;
    if (!strcmp(cfg->type, "modbus-rtu")) {
        gb_cfg_str(c, "device", true, "modbus-rtu adapter", &s, diag);
        gb_cfg_int(c, "baud", false, "adapter", 50, 4000000, &v, diag);
        gb_cfg_int(c, "data_bits", false, "adapter", 5, 8, &v, diag);
        gb_cfg_int(c, "stop_bits", false, "adapter", 1, 2, &v, diag);
        if (gb_cfg_str(c, "parity", false, "adapter", &s, diag) == 0 && strcmp(s, "none") &&
            strcmp(s, "even") && strcmp(s, "odd")) {
            const gb_cnode_t *pn = gb_cnode_get(c, "parity");
            gb_diag_add(diag, pn->line, pn->col, "'parity' is none, even or odd, not '%s'", s);
        }
    } else {
        gb_cfg_str(c, "host", true, "modbus-tcp adapter", &s, diag);
        gb_cfg_int(c, "port", false, "adapter", 1, 65535, &v, diag);
    }
    gb_cfg_int(c, "unit_id", false, "adapter", 0, 255, &v, diag);
    gb_cfg_int(c, "retries", false, "adapter", 0, 10, &v, diag);
    gb_cfg_int(c, "max_gap", false, "adapter", 0, 100, &v, diag);
    static const char *const durs[] = {"timeout", "interval", "reconnect_max"};
    for (int i = 0; i < 3; i++)
        if (gb_cfg_duration(c, durs[i], false, "adapter", &ns, diag) == 0 && ns < GB_NS_PER_MS) {
            const gb_cnode_t *x = gb_cnode_get(c, durs[i]);
            gb_diag_add(diag, x->line, x->col, "'%s' must be at least 1ms", durs[i]);
        }
    const gb_cnode_t *g;
    if (gb_cfg_node(c, "groups", false, "adapter", GB_CNODE_MAP, &g, diag) == 0)
        for (size_t i = 0; i < g->n; i++)
            if (g->items[i]->kind != GB_CNODE_SCALAR || gb_duration_parse(g->items[i]->str, &ns) != 0 ||
                ns < GB_NS_PER_MS)
                gb_diag_add(diag, g->items[i]->line, g->items[i]->col,
                            "poll group '%s' needs an interval of at least 1ms, such as 100ms",
                            g->keys[i]->str);
    int bad = 0;
    const gb_cnode_t *wl;
    if (gb_cfg_node(c, "writable", false, "adapter", GB_CNODE_SEQ, &wl, diag) == 0) {
        for (size_t i = 0; i < wl->n; i++) {
            const gb_cnode_t *w = wl->items[i];
            const gb_plant_tag_t *t = NULL;
            gb_mb_addr_t a;
            const char *why;
            for (size_t k = 0; k < n && !t && w->kind == GB_CNODE_SCALAR; k++) {
                char full[200];
                snprintf(full, sizeof full, "%s/%s", b[k].machine->name, b[k].ptag->name);
                if (!strcmp(w->str, full)) t = b[k].ptag;
            }
            if (!t) {
                gb_diag_add(diag, w->line, w->col, "'writable' lists tags of this adapter as "
                            "machine/tag, such as press1/setpoint; '%s' is not one",
                            w->kind == GB_CNODE_SCALAR ? w->str : "?");
                bad++;
            } else if (gb_mb_parse_address(t->address, &a, &why) == 0 &&
                       (a.area == GB_MB_IR || a.area == GB_MB_DI)) {
                gb_diag_add(diag, w->line, w->col, "tag '%s' reads an %s, which Modbus cannot "
                            "write", t->name, a.area == GB_MB_IR ? "input register" : "input");
                bad++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        gb_mb_addr_t a;
        const char *why = NULL, *mismatch = NULL;
        if (gb_mb_parse_address(t->address, &a, &why) != 0) {
            gb_diag_add(diag, t->line, t->col, "tag '%s': bad Modbus address '%s': %s", t->name,
                        t->address, why);
            bad++;
            continue;
        }
        if (*a.group && group_interval(c, a.group, 0) < 0) {
            gb_diag_add(diag, t->line, t->col, "tag '%s': poll group '%s' is not in the adapter's "
                        "'groups'", t->name, a.group);
            bad++;
        }
        if (t->type == 0) continue;
        if (a.type == GB_MB_STR && t->type != GB_VT_STR) mismatch = "a string register range feeds a string tag";
        else if (a.type != GB_MB_STR && t->type == GB_VT_STR) mismatch = "a string tag needs TYPE string:LEN";
        else if ((a.type == GB_MB_F32 || a.type == GB_MB_F64) && t->type != GB_VT_F64)
            mismatch = "a float32/float64 register feeds a float tag";
        else if (a.type != GB_MB_BIT && t->type == GB_VT_BOOL)
            mismatch = "a bool tag reads a coil, a discrete input or a register bit (hr:N.BIT)";
        if (mismatch) {
            gb_diag_add(diag, t->line, t->col, "tag '%s' (address '%s'): %s", t->name, t->address,
                        mismatch);
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

static int mb_create(const gb_adapter_env_t *env, void **state)
{
    mb_t *m = gb_xcalloc(1, sizeof *m);
    gb_adapter_state_init(&m->st, env->cfg->name);
    m->env = env;
    const gb_cnode_t *c = env->cfg->node;
    const char *host = "127.0.0.1";
    int64_t port = 502, unit = 1, retries = 2, gap = 8, interval = GB_NS_PER_S;
    m->timeout_ns = GB_NS_PER_S;
    m->reconnect_max_ns = 30 * GB_NS_PER_S;
    gb_cfg_str(c, "host", false, "", &host, NULL);
    gb_cfg_int(c, "port", false, "", 1, 65535, &port, NULL);
    gb_cfg_int(c, "unit_id", false, "", 0, 255, &unit, NULL);
    gb_cfg_int(c, "retries", false, "", 0, 10, &retries, NULL);
    gb_cfg_int(c, "max_gap", false, "", 0, 100, &gap, NULL);
    gb_cfg_duration(c, "timeout", false, "", &m->timeout_ns, NULL);
    gb_cfg_duration(c, "interval", false, "", &interval, NULL);
    gb_cfg_duration(c, "reconnect_max", false, "", &m->reconnect_max_ns, NULL);
    gb_strlcpy(m->host, host, sizeof m->host);
    snprintf(m->port, sizeof m->port, "%lld", (long long)port);
    m->rtu = !strcmp(env->cfg->type, "modbus-rtu");
    if (m->rtu) {
        const char *dev = "", *par = "none";
        int64_t baud = 19200, db = 8, sb = 1;
        gb_cfg_str(c, "device", false, "", &dev, NULL);
        gb_cfg_int(c, "baud", false, "", 50, 4000000, &baud, NULL);
        gb_cfg_int(c, "data_bits", false, "", 5, 8, &db, NULL);
        gb_cfg_int(c, "stop_bits", false, "", 1, 2, &sb, NULL);
        gb_cfg_str(c, "parity", false, "", &par, NULL);
        gb_strlcpy(m->device, dev, sizeof m->device);
        m->baud = (int)baud;
        m->data_bits = (int)db;
        m->stop_bits = (int)sb;
        m->parity = !strcmp(par, "even") ? 'E' : !strcmp(par, "odd") ? 'O' : 'N';
        /* messages name the line, not a host */
        gb_strlcpy(m->host, dev, sizeof m->host);
        snprintf(m->port, sizeof m->port, "%d", m->baud);
    }
    m->unit = (int)unit;
    m->retries = (int)retries;
    m->max_gap = (unsigned)gap;
    for (size_t i = 0; i < env->nbindings; i++) {
        gb_mb_addr_t a;
        const char *why;
        if (gb_mb_parse_address(env->bindings[i].ptag->address, &a, &why) != 0) continue;
        group_t *g = NULL;
        for (size_t k = 0; k < m->ngroups && !g; k++)
            if (!strcmp(m->groups[k].name, a.group)) g = &m->groups[k];
        if (!g) {
            m->groups = gb_xrealloc(m->groups, (m->ngroups + 1) * sizeof *m->groups);
            g = &m->groups[m->ngroups++];
            memset(g, 0, sizeof *g);
            gb_strlcpy(g->name, a.group, sizeof g->name);
            g->interval_ns = group_interval(c, a.group, interval);
        }
        bool writable = false;
        const gb_cnode_t *wl = gb_cnode_get(c, "writable");
        for (size_t k = 0; wl && wl->kind == GB_CNODE_SEQ && k < wl->n; k++) {
            char full[200];
            snprintf(full, sizeof full, "%s/%s", env->bindings[i].machine->name,
                     env->bindings[i].ptag->name);
            writable |= wl->items[k]->kind == GB_CNODE_SCALAR && !strcmp(wl->items[k]->str, full);
        }
        g->items = gb_xrealloc(g->items, (g->n + 1) * sizeof *g->items);
        g->items[g->n++] = (item_t){a, env->bindings[i].tag, env->bindings[i].ptag->type,
                                    env->bindings[i].ptag->name, false, writable};
    }
    for (size_t k = 0; k < m->ngroups; k++) {
        group_t *g = &m->groups[k];
        gb_mb_addr_t *addrs = gb_xcalloc(g->n, sizeof *addrs);
        for (size_t i = 0; i < g->n; i++) addrs[i] = g->items[i].a;
        g->order = gb_xcalloc(g->n, sizeof *g->order);
        g->reads = gb_xcalloc(g->n, sizeof *g->reads);
        g->nreads = gb_mb_plan(addrs, g->n, m->max_gap, g->order, g->reads);
        free(addrs);
        gb_info("modbus", "%s: poll group '%s': %zu tags in %zu reads every %.0f ms", m->st.name,
                *g->name ? g->name : "default", g->n, g->nreads, (double)g->interval_ns / 1e6);
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->wcv, NULL);
    *state = m;
    return 0;
}

static bool stopping(mb_t *m)
{
    pthread_mutex_lock(&m->mu);
    bool s = m->stop;
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* The device answered with an exception code (1..11): a refusal about that request. Other
 * libmodbus errors (bad CRC, a reply that does not match the request) mean the line is out of
 * step, which a flush and a retry -- or a reconnect -- put right. */
static bool is_exception(int err)
{
    return err >= EMBXILFUN && err <= EMBXGTAR;
}

/* One request. 0, or errno of the failure (is_exception: the device's refusal). */
static int request(modbus_t *ctx, gb_mb_area_t area, int start, int count, uint16_t *regs,
                   uint8_t *bits)
{
    int rc;
    switch (area) {
    case GB_MB_HR: rc = modbus_read_registers(ctx, start, count, regs); break;
    case GB_MB_IR: rc = modbus_read_input_registers(ctx, start, count, regs); break;
    case GB_MB_COIL: rc = modbus_read_bits(ctx, start, count, bits); break;
    default: rc = modbus_read_input_bits(ctx, start, count, bits); break;
    }
    return rc == count ? 0 : (rc < 0 ? errno : EPROTO);
}

static void add_item(mb_t *m, item_t *it, const uint16_t *regs, const uint8_t *bits,
                     gb_batch_t *b, gb_time_t t)
{
    gb_mb_value_t v;
    gb_mb_decode(&it->a, regs, bits, &v);
    if (it->failing) {
        gb_info("modbus", "%s: tag %s reads again", m->st.name, it->name);
        it->failing = false;
    }
    switch (v.kind) {
    case GB_MB_V_STR: gb_batch_add_str(b, t, it->tag, GB_Q_GOOD, v.s, strlen(v.s)); break;
    case GB_MB_V_FLOAT: gb_batch_add_f64(b, t, it->tag, GB_Q_GOOD, v.f); break;
    case GB_MB_V_BOOL:
        if (it->type == GB_VT_BOOL) gb_batch_add_bool(b, t, it->tag, GB_Q_GOOD, v.b);
        else gb_batch_add_i64(b, t, it->tag, GB_Q_GOOD, v.b);
        break;
    case GB_MB_V_UINT:
        if (v.u > INT64_MAX && it->type == GB_VT_I64) {
            gb_adapter_state_error(&m->st, "tag %s: %llu does not fit an int tag", it->name,
                                   (unsigned long long)v.u);
            break;
        }
        if (it->type == GB_VT_F64 && v.u > INT64_MAX) gb_batch_add_f64(b, t, it->tag, GB_Q_GOOD, (double)v.u);
        else gb_batch_add_i64(b, t, it->tag, GB_Q_GOOD, (int64_t)v.u);
        break;
    case GB_MB_V_INT: gb_batch_add_i64(b, t, it->tag, GB_Q_GOOD, v.i); break;
    }
}

/* Polls group G. Returns false when the connection is lost. */
static bool poll_group(mb_t *m, modbus_t *ctx, group_t *g, gb_batch_t *b)
{
    static uint16_t regs[GB_MB_MAX_READ_REGS];
    static uint8_t bits[GB_MB_MAX_READ_BITS];
    uint64_t exceptions = 0;
    gb_time_t t = gb_now();
    for (size_t r = 0; r < g->nreads; r++) {
        const gb_mb_read_t *rd = &g->reads[r];
        int err = 0;
        for (int attempt = 0; attempt <= m->retries; attempt++) {
            err = request(ctx, rd->area, rd->start, rd->count, regs, bits);
            if (err == 0 || is_exception(err)) break;
            modbus_flush(ctx); /* drop whatever half-answer is on the line before retrying */
        }
        if (err && !is_exception(err)) {
            gb_adapter_state_error(&m->st, "read of %u at %u failed: %s", rd->count, rd->start,
                                   modbus_strerror(err));
            return false;
        }
        if (err == 0) {
            for (size_t k = rd->first; k < rd->first + rd->n; k++) {
                item_t *it = &g->items[g->order[k]];
                size_t off = (size_t)(it->a.start - rd->start);
                add_item(m, it, regs + off, bits + off, b, t);
            }
            continue;
        }
        /* the device refused the read: ask tag by tag, so the exception lands where it belongs */
        for (size_t k = rd->first; k < rd->first + rd->n; k++) {
            item_t *it = &g->items[g->order[k]];
            int e = rd->n == 1 ? err : request(ctx, it->a.area, it->a.start, it->a.count, regs, bits);
            if (e == 0) {
                add_item(m, it, regs, bits, b, t);
            } else if (is_exception(e)) {
                exceptions++;
                if (!it->failing)
                    gb_adapter_state_error(&m->st, "tag %s (%s %u): %s", it->name,
                                           gb_mb_area_regs(it->a.area) ? "register" : "bit",
                                           it->a.start, modbus_strerror(e));
                it->failing = true;
            } else {
                gb_adapter_state_error(&m->st, "read of tag %s failed: %s", it->name, modbus_strerror(e));
                return false;
            }
        }
    }
    if (exceptions) {
        pthread_mutex_lock(&m->st.mu);
        m->st.st.exceptions += exceptions;
        pthread_mutex_unlock(&m->st.mu);
    }
    return true;
}

/* Carries out a pending write on CTX (polling thread). Returns false when the connection is lost. */
static bool do_write(mb_t *m, modbus_t *ctx)
{
    pthread_mutex_lock(&m->mu);
    if (!m->wr.pending) {
        pthread_mutex_unlock(&m->mu);
        return true;
    }
    write_req_t w = m->wr;
    pthread_mutex_unlock(&m->mu);
    const gb_mb_addr_t *a = &w.item->a;
    int rc = 0, err = 0;
    char msg[200] = "";
    if (a->area == GB_MB_COIL) {
        bool on = w.value.type == GB_VT_BOOL ? w.value.b
                : w.value.type == GB_VT_I64 ? w.value.i64 != 0 : w.value.f64 != 0;
        if (modbus_write_bit(ctx, a->start, on) != 1) err = errno;
    } else if (a->type == GB_MB_BIT) { /* one bit of a register: read, change, write */
        uint16_t r;
        bool on = w.value.type == GB_VT_BOOL ? w.value.b
                : w.value.type == GB_VT_I64 ? w.value.i64 != 0 : w.value.f64 != 0;
        if (modbus_read_registers(ctx, a->start, 1, &r) != 1) err = errno;
        else {
            r = on ? (uint16_t)(r | (1u << a->bit)) : (uint16_t)(r & ~(1u << a->bit));
            if (modbus_write_register(ctx, a->start, r) != 1) err = errno;
        }
    } else {
        uint16_t regs[GB_MB_MAX_STRING];
        double num = w.value.type == GB_VT_I64 ? (double)w.value.i64 : w.value.f64;
        if (gb_mb_encode(a, num, w.text, regs) != 0) {
            rc = GB_EINVAL;
            snprintf(msg, sizeof msg, "the value does not fit the register type");
        } else if (a->count == 1 ? modbus_write_register(ctx, a->start, regs[0]) != 1
                                 : modbus_write_registers(ctx, a->start, a->count, regs) != a->count) {
            err = errno;
        }
    }
    if (err) {
        rc = is_exception(err) ? GB_EIO : GB_ETIMEDOUT;
        snprintf(msg, sizeof msg, "the device %s: %s", is_exception(err) ? "refused" : "did not answer",
                 modbus_strerror(err));
        if (!is_exception(err)) modbus_flush(ctx);
    }
    pthread_mutex_lock(&m->mu);
    if (m->wr.seq == w.seq && m->wr.pending) { /* still wanted: the writer has not given up */
        m->wr.rc = rc;
        gb_strlcpy(m->wr.err, msg, sizeof m->wr.err);
        m->wr.pending = false;
        m->wr.done = true;
        pthread_cond_broadcast(&m->wcv);
    }
    pthread_mutex_unlock(&m->mu);
    return !(err && !is_exception(err));
}

static void sleep_until(mb_t *m, int64_t due)
{
    while (!stopping(m)) {
        pthread_mutex_lock(&m->mu);
        bool w = m->wr.pending;
        pthread_mutex_unlock(&m->mu);
        if (w) return; /* a write is waiting: do it now */
        int64_t now = gb_mono_ns();
        if (now >= due) return;
        int64_t d = due - now;
        usleep((useconds_t)((d > 50 * GB_NS_PER_MS ? 50 * GB_NS_PER_MS : d) / 1000));
    }
}

static void *mb_main(void *arg)
{
    mb_t *m = arg;
    int64_t backoff = 200 * GB_NS_PER_MS;
    gb_batch_t *b = gb_batch_new(64);
    while (!stopping(m)) {
        gb_adapter_state_set(&m->st, GB_CONN_CONNECTING);
        modbus_t *ctx = m->rtu ? modbus_new_rtu(m->device, m->baud, m->parity, m->data_bits,
                                                m->stop_bits)
                               : modbus_new_tcp_pi(m->host, m->port);
        if (!ctx) {
            gb_adapter_state_error(&m->st, "cannot set up a connection to %s:%s", m->host, m->port);
            break;
        }
        modbus_set_slave(ctx, m->unit);
        modbus_set_response_timeout(ctx, (uint32_t)(m->timeout_ns / GB_NS_PER_S),
                                    (uint32_t)(m->timeout_ns % GB_NS_PER_S / 1000));
        if (modbus_connect(ctx) != 0) {
            gb_adapter_state_error(&m->st, "cannot connect to %s:%s: %s", m->host, m->port,
                                   modbus_strerror(errno));
        } else {
            modbus_flush(ctx); /* a serial line may hold bytes from before */
            pthread_mutex_lock(&m->st.mu);
            m->st.st.connects++;
            pthread_mutex_unlock(&m->st.mu);
            gb_adapter_state_set(&m->st, GB_CONN_CONNECTED);
            backoff = 200 * GB_NS_PER_MS;
            int64_t now = gb_mono_ns();
            for (size_t k = 0; k < m->ngroups; k++) m->groups[k].next = now;
            bool ok = true;
            while (ok && !stopping(m)) {
                int64_t due = INT64_MAX;
                now = gb_mono_ns();
                for (size_t k = 0; k < m->ngroups && ok; k++) {
                    group_t *g = &m->groups[k];
                    if (g->next <= now) {
                        ok = poll_group(m, ctx, g, b);
                        /* keep the cadence; skip beats missed while the device was slow */
                        g->next += g->interval_ns;
                        if (g->next < gb_mono_ns()) g->next = gb_mono_ns() + g->interval_ns;
                    }
                    if (g->next < due) due = g->next;
                }
                if (b->n) {
                    size_t n = b->n;
                    int rc = gb_bus_publish(m->env->bus, b, 500 * GB_NS_PER_MS);
                    if (rc == 0) {
                        gb_adapter_state_count(&m->st, n, 0, 0);
                        b = gb_batch_new(64);
                    } else if (rc == GB_EBUSY) {
                        /* the next poll's values replace what the bus had no room for */
                        gb_adapter_state_count(&m->st, 0, 0, 1);
                        gb_batch_reset(b);
                    } else {
                        gb_batch_reset(b);
                    }
                }
                if (ok) {
                    pthread_mutex_lock(&m->mu);
                    m->connected = true;
                    pthread_mutex_unlock(&m->mu);
                    sleep_until(m, due);
                    ok = do_write(m, ctx);
                }
            }
            pthread_mutex_lock(&m->mu);
            m->connected = false;
            if (m->wr.pending) { /* the connection went with it: answer the writer */
                m->wr.pending = false;
                m->wr.done = true;
                m->wr.rc = GB_EIO;
                gb_strlcpy(m->wr.err, "the connection to the device was lost", sizeof m->wr.err);
                pthread_cond_broadcast(&m->wcv);
            }
            pthread_mutex_unlock(&m->mu);
            modbus_close(ctx);
        }
        modbus_free(ctx);
        if (stopping(m)) break;
        gb_adapter_state_set(&m->st, GB_CONN_DISCONNECTED);
        sleep_until(m, gb_mono_ns() + backoff);
        backoff = backoff * 2 < m->reconnect_max_ns ? backoff * 2 : m->reconnect_max_ns;
    }
    gb_batch_free(b);
    gb_adapter_state_set(&m->st, GB_CONN_STOPPED);
    return NULL;
}

static int mb_start(void *state)
{
    mb_t *m = state;
    if (pthread_create(&m->thread, NULL, mb_main, m) != 0) return GB_EIO;
    m->running = true;
    return 0;
}

static void mb_stop(void *state)
{
    mb_t *m = state;
    if (!m->running) return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    m->running = false;
}

static int mb_write(void *state, uint32_t tag, const gb_value_t *value, char *err, size_t errsz)
{
    mb_t *m = state;
    item_t *it = NULL;
    for (size_t k = 0; k < m->ngroups && !it; k++)
        for (size_t i = 0; i < m->groups[k].n && !it; i++)
            if (m->groups[k].items[i].tag == tag) it = &m->groups[k].items[i];
    if (!it || !it->writable) {
        snprintf(err, errsz, "the plant file does not allow writing this tag (adapter 'writable')");
        return GB_EACCES;
    }
    if ((it->a.type == GB_MB_STR) != (value->type == GB_VT_STR)) {
        snprintf(err, errsz, "the tag takes %s", it->a.type == GB_MB_STR ? "text" : "a number or a bool");
        return GB_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    if (!m->connected) {
        pthread_mutex_unlock(&m->mu);
        snprintf(err, errsz, "the device is not connected");
        return GB_EIO;
    }
    /* one write at a time: wait for the slot */
    int64_t deadline = gb_mono_ns() + 5 * GB_NS_PER_S;
    while (m->wr.pending && gb_mono_ns() < deadline) {
        pthread_mutex_unlock(&m->mu);
        usleep(10000);
        pthread_mutex_lock(&m->mu);
    }
    if (m->wr.pending) {
        pthread_mutex_unlock(&m->mu);
        snprintf(err, errsz, "another write is still waiting for the device");
        return GB_ETIMEDOUT;
    }
    m->wr = (write_req_t){.seq = ++m->wseq, .pending = true, .item = it, .value = *value};
    if (value->type == GB_VT_STR)
        snprintf(m->wr.text, sizeof m->wr.text, "%.*s", (int)value->len, value->str);
    m->wr.value.str = NULL;
    while (!m->wr.done && gb_mono_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&m->wcv, &m->mu, &ts);
    }
    int rc = m->wr.done ? m->wr.rc : GB_ETIMEDOUT;
    if (!m->wr.done) {
        m->wr.pending = false; /* withdrawn: the device never got to it */
        snprintf(err, errsz, "the device did not answer within 5 s");
    } else {
        gb_strlcpy(err, m->wr.err, errsz);
    }
    m->wr.done = false;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mb_destroy(void *state)
{
    mb_t *m = state;
    if (!m) return;
    mb_stop(m);
    for (size_t k = 0; k < m->ngroups; k++) {
        free(m->groups[k].items);
        free(m->groups[k].order);
        free(m->groups[k].reads);
    }
    free(m->groups);
    pthread_cond_destroy(&m->wcv);
    pthread_mutex_destroy(&m->mu);
    gb_adapter_state_clear(&m->st);
    free(m);
}

static void mb_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((mb_t *)state)->st, out);
}

const gb_adapter_class_t gb_modbus_tcp_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "modbus-tcp",
    .summary = "Modbus TCP: polls registers, coils and inputs of PLCs and devices (libmodbus)",
    .keys = mb_keys,
    .check = mb_check,
    .create = mb_create,
    .start = mb_start,
    .stop = mb_stop,
    .destroy = mb_destroy,
    .status = mb_status,
    .write = mb_write,
};

const gb_adapter_class_t gb_modbus_rtu_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "modbus-rtu",
    .summary = "Modbus RTU: polls devices on a serial line (RS-485/RS-232) with libmodbus",
    .keys = rtu_keys,
    .check = mb_check,
    .create = mb_create,
    .start = mb_start,
    .stop = mb_stop,
    .destroy = mb_destroy,
    .status = mb_status,
    .write = mb_write,
};
