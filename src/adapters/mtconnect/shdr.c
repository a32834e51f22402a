/*
 * The `mtconnect-shdr` adapter: gemba plays the agent's part towards an MTConnect adapter. One
 * thread per instance connects to the adapter's TCP port, sends `* PING` and, when the adapter
 * answers `* PONG <ms>`, expects data or a pong within twice that; an adapter that never answers
 * gets the legacy `timeout`. Any silence, error or close leads to a reconnect with back-off
 * (doubling from 200 ms to `reconnect_max`).
 *
 * Tag addresses are SHDR keys: `key` or `device:key`; for conditions `key` is the level and
 * `key.native_code`, `key.native_severity`, `key.qualifier`, `key.message` the other fields; for
 * messages `key` is the text and `key.native_code` the code. Which keys are conditions, messages,
 * time series, data sets or tables the adapter's configuration says (SHDR lines do not).
 *
 * Time: the device's timestamp when the line has one, arrival time otherwise. When device time
 * jumps backwards (a spliced recording, a reset clock) the adapter keeps time moving forward by
 * shifting later stamps by the jump, and says so once. The offset between arrival and device time
 * is reported in /api/v1/health.
 */
#include "adapters/mtconnect/codec_shdr.h"
#include "adapters/mtconnect/values.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/map.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const shdr_keys[] = {"host", "port", "heartbeat", "timeout", "reconnect_max",
                                        "conditions", "messages", "time_series", "data_sets",
                                        "tables", NULL};

typedef struct target {
    uint32_t tag;
    gb_vtype_t type;
    int field;
    gb_time_t last_t; /* newest time published for this tag (resend detection) */
    uint32_t last_h;  /* hash of the value published last */
    bool has_last;
    bool fresh; /* nothing published for this tag yet on the current connection */
    struct target *next;
} target_t;

typedef struct shdr {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    char host[256], port[16];
    int64_t heartbeat_ns, timeout_ns, reconnect_max_ns;
    gb_map_t kinds;    /* key (with or without device) -> gb_shdr_kind_t */
    gb_map_t targets;  /* "key" or "device:key" -> index into heads */
    target_t **heads;
    size_t nheads;
    target_t *pool;
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop, running;
    int fd;
    /* time */
    gb_time_t last_device_t, shift;
    bool has_device_t, jump_logged;
    bool malformed_logged, unknown_logged;
} shdr_t;

/* ---- configuration ---------------------------------------------------------------------------- */

static const char *const kind_keys[] = {"conditions", "messages", "time_series", "data_sets",
                                        "tables"};
static const gb_shdr_kind_t kind_values[] = {GB_SHDR_CONDITION, GB_SHDR_MESSAGE,
                                             GB_SHDR_TIMESERIES, GB_SHDR_DATASET, GB_SHDR_TABLE};

static gb_shdr_kind_t configured_kind(const gb_cnode_t *cfg, const char *key)
{
    for (int k = 0; k < 5; k++) {
        const gb_cnode_t *l = gb_cnode_get(cfg, kind_keys[k]);
        for (size_t i = 0; l && l->kind == GB_CNODE_SEQ && i < l->n; i++)
            if (l->items[i]->kind == GB_CNODE_SCALAR && !strcmp(l->items[i]->str, key))
                return kind_values[k];
    }
    return GB_SHDR_VALUE;
}

static int shdr_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                      gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    const char *s;
    int64_t port, ns;
    gb_cfg_str(c, "host", false, "adapter", &s, diag);
    gb_cfg_int(c, "port", true, "mtconnect-shdr adapter", 1, 65535, &port, diag);
    static const char *const durs[] = {"heartbeat", "timeout", "reconnect_max"};
    for (int i = 0; i < 3; i++)
        if (gb_cfg_duration(c, durs[i], false, "adapter", &ns, diag) == 0 && ns < GB_NS_PER_MS) {
            const gb_cnode_t *v = gb_cnode_get(c, durs[i]);
            gb_diag_add(diag, v->line, v->col, "'%s' must be at least 1ms", durs[i]);
        }
    for (int k = 0; k < 5; k++) {
        const gb_cnode_t *l;
        if (gb_cfg_node(c, kind_keys[k], false, "adapter", GB_CNODE_SEQ, &l, diag) != 0) continue;
        for (size_t i = 0; i < l->n; i++)
            if (l->items[i]->kind != GB_CNODE_SCALAR || !*l->items[i]->str)
                gb_diag_add(diag, l->items[i]->line, l->items[i]->col,
                            "'%s' lists SHDR keys, such as [system, logic]", kind_keys[k]);
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        char key[256];
        int field = gb_mtc_split_address(t->address, key, sizeof key);
        const char *bare = strchr(key, ':') ? strchr(key, ':') + 1 : key;
        gb_shdr_kind_t kind = configured_kind(c, key);
        if (kind == GB_SHDR_VALUE) kind = configured_kind(c, bare);
        const char *want = NULL;
        if (field != GB_MTC_F_VALUE && kind != GB_SHDR_CONDITION && kind != GB_SHDR_MESSAGE)
            want = "a field suffix (.native_code, ...) is for keys listed in 'conditions' or "
                   "'messages'";
        else if (kind == GB_SHDR_MESSAGE && field > GB_MTC_F_CODE)
            want = "a message has only .native_code besides its text";
        else if ((kind == GB_SHDR_CONDITION || kind == GB_SHDR_MESSAGE || kind == GB_SHDR_DATASET ||
                  kind == GB_SHDR_TABLE) && t->type != GB_VT_STR && t->type != 0)
            want = "conditions, messages, data sets and tables feed string tags";
        else if (kind == GB_SHDR_TIMESERIES && t->type != GB_VT_F64 && t->type != 0)
            want = "a time series feeds a float tag";
        if (want) {
            gb_diag_add(diag, t->line, t->col, "tag '%s' (address '%s'): %s", t->name, t->address,
                        want);
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

static int shdr_create(const gb_adapter_env_t *env, void **state)
{
    shdr_t *a = gb_xcalloc(1, sizeof *a);
    gb_adapter_state_init(&a->st, env->cfg->name);
    a->env = env;
    a->fd = -1;
    const gb_cnode_t *c = env->cfg->node;
    const char *host = "127.0.0.1";
    int64_t port = 7878;
    a->heartbeat_ns = 10 * GB_NS_PER_S;
    a->timeout_ns = 60 * GB_NS_PER_S;
    a->reconnect_max_ns = 30 * GB_NS_PER_S;
    gb_cfg_str(c, "host", false, "", &host, NULL);
    gb_cfg_int(c, "port", false, "", 1, 65535, &port, NULL);
    gb_cfg_duration(c, "heartbeat", false, "", &a->heartbeat_ns, NULL);
    gb_cfg_duration(c, "timeout", false, "", &a->timeout_ns, NULL);
    gb_cfg_duration(c, "reconnect_max", false, "", &a->reconnect_max_ns, NULL);
    gb_strlcpy(a->host, host, sizeof a->host);
    snprintf(a->port, sizeof a->port, "%lld", (long long)port);
    gb_map_init(&a->kinds);
    for (int k = 0; k < 5; k++) {
        const gb_cnode_t *l = gb_cnode_get(c, kind_keys[k]);
        for (size_t i = 0; l && l->kind == GB_CNODE_SEQ && i < l->n; i++)
            if (l->items[i]->kind == GB_CNODE_SCALAR)
                gb_map_put(&a->kinds, l->items[i]->str, (uint32_t)kind_values[k]);
    }
    gb_map_init(&a->targets);
    a->pool = gb_xcalloc(env->nbindings ? env->nbindings : 1, sizeof *a->pool);
    a->heads = gb_xcalloc(env->nbindings ? env->nbindings : 1, sizeof *a->heads);
    for (size_t i = 0; i < env->nbindings; i++) {
        char key[256];
        int field = gb_mtc_split_address(env->bindings[i].ptag->address, key, sizeof key);
        uint32_t h;
        if (!gb_map_get(&a->targets, key, &h)) {
            h = (uint32_t)a->nheads++;
            gb_map_put(&a->targets, key, h);
        }
        target_t *t = &a->pool[i];
        *t = (target_t){.tag = env->bindings[i].tag,
                        .type = env->bindings[i].ptag->type,
                        .field = field,
                        .next = a->heads[h]};
        a->heads[h] = t;
    }
    pthread_mutex_init(&a->mu, NULL);
    *state = a;
    return 0;
}

/* ---- lines to samples ------------------------------------------------------------------------- */

static gb_shdr_kind_t kind_of(void *ctx, gb_shdr_span_t device, gb_shdr_span_t key)
{
    shdr_t *a = ctx;
    char buf[256];
    uint32_t k;
    if (device.n && device.n + key.n + 2 < sizeof buf) {
        snprintf(buf, sizeof buf, "%.*s:%.*s", (int)device.n, device.p, (int)key.n, key.p);
        if (gb_map_get(&a->kinds, buf, &k)) return (gb_shdr_kind_t)k;
    }
    if (key.n >= sizeof buf) return GB_SHDR_VALUE;
    memcpy(buf, key.p, key.n);
    buf[key.n] = 0;
    return gb_map_get(&a->kinds, buf, &k) ? (gb_shdr_kind_t)k : GB_SHDR_VALUE;
}

static target_t *targets_for(shdr_t *a, const gb_shdr_item_t *it)
{
    char buf[256];
    uint32_t h;
    if (it->device.n && it->device.n + it->key.n + 2 < sizeof buf) {
        snprintf(buf, sizeof buf, "%.*s:%.*s", (int)it->device.n, it->device.p, (int)it->key.n,
                 it->key.p);
        if (gb_map_get(&a->targets, buf, &h)) return a->heads[h];
    }
    if (it->key.n >= sizeof buf) return NULL;
    memcpy(buf, it->key.p, it->key.n);
    buf[it->key.n] = 0;
    return gb_map_get(&a->targets, buf, &h) ? a->heads[h] : NULL;
}

/*
 * Adds VALUE (text) to B for target T; false when it does not fit the tag's type. A value no
 * newer than the last one published for the tag is a resend (an adapter repeats its state after
 * a reconnect): it is dropped and counted in *DUPS. So is a value without a timestamp (UNTIMED,
 * stamped on arrival) that repeats the tag's last value before the connection brought anything
 * new for the tag: the adapter restating what it had said, not a new observation.
 */
static bool add_value(gb_batch_t *b, target_t *t, gb_time_t ts, bool untimed, gb_shdr_span_t v,
                      uint64_t *dups)
{
    uint32_t h = gb_map_hash_n(v.p, v.n);
    if (t->has_last && (ts <= t->last_t || (untimed && t->fresh && h == t->last_h))) {
        (*dups)++;
        return true;
    }
    t->last_t = ts;
    t->last_h = h;
    t->has_last = true;
    t->fresh = false;
    return gb_mtc_add_value(b, ts, t->tag, t->type, v.p, v.n);
}

/* One value of a time series, through add_value. */
typedef struct series_ctx {
    gb_batch_t *b;
    target_t *t;
    bool untimed;
    uint64_t *dups;
} series_ctx_t;

static bool add_series_value(void *ctx, gb_time_t ts, const char *v, size_t n)
{
    series_ctx_t *c = ctx;
    return add_value(c->b, c->t, ts, c->untimed, (gb_shdr_span_t){v, n}, c->dups);
}

static gb_time_t line_time(shdr_t *a, const gb_shdr_line_t *l, gb_time_t arrival)
{
    if (!l->has_time) return arrival;
    if (a->has_device_t && l->t < a->last_device_t) {
        /* time went backwards: keep the stream moving forward by the size of the jump */
        a->shift += a->last_device_t - l->t;
        if (!a->jump_logged) {
            char d[32];
            gb_duration_format(a->last_device_t - l->t, d, sizeof d);
            gb_warn("shdr", "%s: device time jumped back by %s; later times are shifted forward by "
                    "the jump so the stream stays in order", a->st.name, d);
            a->jump_logged = true;
        }
    }
    a->last_device_t = l->t;
    a->has_device_t = true;
    gb_time_t t = l->t + a->shift;
    pthread_mutex_lock(&a->st.mu);
    a->st.st.clock_offset_ns = arrival - t;
    a->st.st.has_clock_offset = true;
    pthread_mutex_unlock(&a->st.mu);
    return t;
}

/* One data line into B. Returns the number of malformed values; adds resends to *DUPS. */
static uint64_t handle_items(shdr_t *a, const gb_shdr_line_t *l, gb_time_t t, gb_batch_t *b,
                             uint64_t *dups)
{
    uint64_t bad = 0;
    bool untimed = !l->has_time;
    for (size_t i = 0; i < l->nitems; i++) {
        const gb_shdr_item_t *it = &l->items[i];
        target_t *first = targets_for(a, it);
        if (!first && !a->unknown_logged) {
            gb_info("shdr", "%s: key '%.*s%s%.*s' is not the address of any tag; ignoring it (and "
                    "other such keys)", a->st.name, (int)it->device.n, it->device.p,
                    it->device.n ? ":" : "", (int)it->key.n, it->key.p);
            a->unknown_logged = true;
        }
        for (target_t *tg = first; tg; tg = tg->next) {
            bool ok = true;
            switch (it->kind) {
            case GB_SHDR_CONDITION: {
                if (tg->field == GB_MTC_F_VALUE) {
                    /* levels are case-insensitive on the wire; tags hold them in capitals */
                    char lvl[16];
                    size_t n = gb_mtc_level(it->f[0].p, it->f[0].n, lvl, sizeof lvl);
                    ok = add_value(b, tg, t, untimed, (gb_shdr_span_t){lvl, n}, dups);
                } else {
                    ok = add_value(b, tg, t, untimed, it->f[tg->field], dups);
                }
                break;
            }
            case GB_SHDR_MESSAGE:
                ok = add_value(b, tg, t, untimed, tg->field == GB_MTC_F_CODE ? it->f[0] : it->f[1],
                              dups);
                break;
            case GB_SHDR_TIMESERIES: {
                /* values spread over count/rate seconds from the line's time */
                char rb[32];
                double rate = 0;
                if (it->f[1].n && it->f[1].n < sizeof rb) {
                    memcpy(rb, it->f[1].p, it->f[1].n);
                    rb[it->f[1].n] = 0;
                    rate = strtod(rb, NULL);
                }
                series_ctx_t sc = {b, tg, untimed, dups};
                ok = gb_mtc_each_series_value(t, rate, it->f[2].p, it->f[2].n, add_series_value,
                                              &sc);
                break;
            }
            default: ok = add_value(b, tg, t, untimed, it->f[0], dups);
            }
            if (!ok) bad++;
        }
    }
    return bad;
}

/* ---- the connection --------------------------------------------------------------------------- */

static int connect_to(shdr_t *a, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(a->host, a->port, &hints, &res);
    if (rc) {
        snprintf(err, errsz, "cannot resolve %s: %s", a->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(err, errsz, "cannot connect to %s:%s: %s", a->host, a->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static bool stopping(void *arg)
{
    shdr_t *a = arg;
    pthread_mutex_lock(&a->mu);
    bool s = a->stop;
    pthread_mutex_unlock(&a->mu);
    return s;
}

static void send_line(int fd, const char *s)
{
    ssize_t w = send(fd, s, strlen(s), MSG_NOSIGNAL);
    (void)w; /* a failed send shows up as a failed read */
}

static void session(shdr_t *a, int fd)
{
    char *buf = gb_xmalloc(65536);
    size_t cap = 65536, len = 0;
    bool skipping = false, pong = false;
    char multiline[128] = "";
    int64_t hb = a->heartbeat_ns, last_rx = gb_mono_ns(), last_ping = last_rx;
    gb_batch_t *b = gb_batch_new(64);
    gb_shdr_line_t *line = gb_xmalloc(sizeof *line);
    /* a new connection may restart the device's clock: splices are judged within one */
    a->has_device_t = false;
    a->shift = 0;
    for (size_t i = 0; i < a->nheads; i++)
        for (target_t *t = a->heads[i]; t; t = t->next) t->fresh = true;
    send_line(fd, "* PING\n");
    while (!stopping(a)) {
        int64_t now = gb_mono_ns();
        int64_t limit = pong ? 2 * hb : a->timeout_ns;
        if (now - last_rx > limit) {
            char d[32];
            gb_duration_format(limit, d, sizeof d);
            gb_adapter_state_error(&a->st, "no data or heartbeat for %s; reconnecting", d);
            break;
        }
        if (pong && now - last_ping >= hb) {
            send_line(fd, "* PING\n");
            last_ping = now;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 100);
        if (pr <= 0) continue;
        if (len == cap) {
            if (cap >= GB_SHDR_LINE_MAX) { /* a line that will not end: drop it */
                skipping = true;
                len = 0;
            } else {
                cap *= 2;
                buf = gb_xrealloc(buf, cap);
            }
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r == 0) {
            gb_adapter_state_error(&a->st, "the adapter closed the connection");
            break;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            gb_adapter_state_error(&a->st, "read failed: %s", strerror(errno));
            break;
        }
        len += (size_t)r;
        last_rx = gb_mono_ns();
        gb_time_t arrival = gb_now();
        uint64_t bad = 0, dups = 0;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', len - start);
            if (!nl) break;
            size_t n = (size_t)(nl - (buf + start));
            char *ln = buf + start;
            start += n + 1;
            if (skipping) {
                skipping = false;
                bad++;
                continue;
            }
            if (multiline[0]) { /* inside an asset's --multiline-- block, up to its marker */
                size_t m = n;
                while (m && (ln[m - 1] == '\r' || ln[m - 1] == ' ')) m--;
                if (m == strlen(multiline) && !strncmp(ln, multiline, m)) multiline[0] = 0;
                continue;
            }
            const char *why = NULL;
            if (gb_shdr_parse(ln, n, kind_of, a, line, &why) != 0) {
                bad++;
                if (!a->malformed_logged)
                    gb_warn("shdr", "%s: malformed line (%s): %.80s", a->st.name, why, ln);
                a->malformed_logged = true;
                continue;
            }
            switch (line->kind) {
            case GB_SHDR_LINE_COMMAND:
                if (line->command.n > 5 && !memcmp(line->command.p, "PONG ", 5)) {
                    long ms = strtol(line->command.p + 5, NULL, 10);
                    if (ms > 0) hb = (int64_t)ms * GB_NS_PER_MS;
                    pong = true;
                }
                break;
            case GB_SHDR_LINE_ASSET:
            case GB_SHDR_LINE_UPDATE_ASSET:
                if (line->multiline.n && line->multiline.n < sizeof multiline) {
                    memcpy(multiline, line->multiline.p, line->multiline.n);
                    multiline[line->multiline.n] = 0;
                }
                break;
            case GB_SHDR_LINE_REMOVE_ASSET:
            case GB_SHDR_LINE_REMOVE_ALL: break;
            case GB_SHDR_LINE_DATA:
                bad += handle_items(a, line, line_time(a, line, arrival), b, &dups);
                break;
            }
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (bad) gb_adapter_state_count(&a->st, 0, bad, 0);
        if (dups) {
            pthread_mutex_lock(&a->st.mu);
            a->st.st.duplicates += dups;
            pthread_mutex_unlock(&a->st.mu);
        }
        if (!gb_mtc_publish(&a->st, a->env->bus, &b, stopping, a)) break;
    }
    gb_batch_free(b);
    free(line);
    free(buf);
}

static void *shdr_main(void *arg)
{
    shdr_t *a = arg;
    int64_t backoff = 200 * GB_NS_PER_MS;
    while (!stopping(a)) {
        gb_adapter_state_set(&a->st, GB_CONN_CONNECTING);
        char err[300];
        int fd = connect_to(a, err, sizeof err);
        if (fd >= 0) {
            pthread_mutex_lock(&a->mu);
            a->fd = fd;
            pthread_mutex_unlock(&a->mu);
            pthread_mutex_lock(&a->st.mu);
            a->st.st.connects++;
            pthread_mutex_unlock(&a->st.mu);
            gb_adapter_state_set(&a->st, GB_CONN_CONNECTED);
            backoff = 200 * GB_NS_PER_MS;
            session(a, fd);
            pthread_mutex_lock(&a->mu);
            a->fd = -1;
            pthread_mutex_unlock(&a->mu);
            close(fd);
        } else {
            gb_adapter_state_error(&a->st, "%s", err);
        }
        if (stopping(a)) break;
        gb_adapter_state_set(&a->st, GB_CONN_DISCONNECTED);
        for (int64_t slept = 0; slept < backoff && !stopping(a); slept += 50 * GB_NS_PER_MS)
            usleep(50 * 1000);
        backoff = backoff * 2 < a->reconnect_max_ns ? backoff * 2 : a->reconnect_max_ns;
    }
    gb_adapter_state_set(&a->st, GB_CONN_STOPPED);
    return NULL;
}

static int shdr_start(void *state)
{
    shdr_t *a = state;
    if (pthread_create(&a->thread, NULL, shdr_main, a) != 0) return GB_EIO;
    a->running = true;
    return 0;
}

static void shdr_stop(void *state)
{
    shdr_t *a = state;
    if (!a->running) return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    if (a->fd >= 0) shutdown(a->fd, SHUT_RDWR);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    a->running = false;
}

static void shdr_destroy(void *state)
{
    shdr_t *a = state;
    if (!a) return;
    shdr_stop(a);
    gb_map_clear(&a->kinds);
    gb_map_clear(&a->targets);
    free(a->pool);
    free(a->heads);
    pthread_mutex_destroy(&a->mu);
    gb_adapter_state_clear(&a->st);
    free(a);
}

static void shdr_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((shdr_t *)state)->st, out);
}

const gb_adapter_class_t gb_shdr_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "mtconnect-shdr",
    .summary = "MTConnect SHDR: connects to an adapter's TCP port (gemba acts as the agent)",
    .keys = shdr_keys,
    .check = shdr_check,
    .create = shdr_create,
    .start = shdr_start,
    .stop = shdr_stop,
    .destroy = shdr_destroy,
    .status = shdr_status,
};
