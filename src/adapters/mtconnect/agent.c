/*
 * The `mtconnect-agent` adapter: gemba as a client of an MTConnect agent's REST API. One thread
 * per instance polls over HTTP (libcurl), plain requests rather than the multipart long-poll:
 * each answer is a whole document, so a dropped connection never leaves half a document behind,
 * and the sequence numbers say exactly where to go on.
 *
 *   /probe     the devices and their data items: tag addresses are resolved here, once per
 *              agent instance (and again when a 2.x agent says its device model changed);
 *   /current   the latest value of every data item: taken once at the start;
 *   /sample?from=N&count=C   everything after that, in order; nextSequence says where the next
 *              request starts. A full answer is followed at once by the next request; otherwise
 *              the adapter waits `interval`.
 *
 * No gap, no duplicate. The cursor (the next sequence number wanted) moves only once the bus took
 * every sample before it, so after a dropped connection the adapter asks again from the cursor.
 * An observation below the cursor was already published: it is dropped and counted. Three things
 * break the chain, and each is said once in the log:
 *   - the agent restarted: its Header carries a new instanceId and its sequence numbers start
 *     over. The adapter probes again and reads the new instance from its first observation;
 *   - the cursor fell out of the agent's buffer (an OUT_OF_RANGE error, or a firstSequence past
 *     the cursor): the adapter says how many sequence numbers were lost, takes /current for the
 *     data items whose last change was among them, and goes on from the oldest observation the
 *     agent still holds -- nothing still available is skipped;
 *   - anything else (unreachable, malformed, refused): back off (200 ms doubling to
 *     `reconnect_max`) and ask again from the cursor.
 * Observations are published in sequence order, with the device's timestamps; an agent groups
 * them by component, so each answer is sorted first.
 */
#include "adapters/mtconnect/agent.h"
#include "adapters/mtconnect/codec_streams.h"
#include "adapters/mtconnect/values.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/map.h"
#include "util/str.h"

#include <curl/curl.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const agent_keys[] = {"url", "device", "interval", "count", "timeout",
                                         "reconnect_max", NULL};

#define COUNT_MAX 100000
#define BACKOFF_MIN (200 * GB_NS_PER_MS)

typedef struct target {
    uint32_t tag;
    gb_vtype_t type;
    int field;               /* GB_MTC_F_* */
    struct target *next;
} target_t;

/* One data item some tags take values from. */
typedef struct head {
    target_t *first;
    gb_mtc_rep_t rep;
    double rate;             /* its sampleRate from the probe, for time series that omit it */
} head_t;

typedef struct agent {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    char *base;              /* the URL requests start with: no trailing '/', device added */
    char device[256];        /* the `device` key; "" when not given */
    int64_t interval_ns, timeout_ns, reconnect_max_ns;
    uint64_t count;
    target_t *pool;          /* one per binding */
    head_t *heads;           /* one per bound data item (at most one per binding) */
    size_t nheads;
    gb_map_t items;          /* "uuid\x1fdataItemId" -> index into heads; rebuilt by each probe */
    CURL *curl;
    CURLM *multi;
    struct curl_slist *headers;
    pthread_t thread;
    pthread_mutex_t mu;      /* guards stop */
    pthread_cond_t cv;
    bool stop, running;
    /* the body of the last answer */
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
    /* where the adapter stands in the agent's stream; only the adapter's thread touches these */
    bool have_instance;      /* something was read from an instance of the agent */
    uint64_t instance;       /* its instanceId */
    uint64_t probed;         /* instanceId of the last probe; 0 before one */
    uint64_t cursor;         /* the next sequence number wanted */
    uint64_t buffer_size;    /* the agent's, when it said */
    char model_time[GB_MTC_ATTR_MAX + 1]; /* 2.x deviceModelChangeTime at the last probe */
    bool need_probe, need_sync;
    bool synced_in_vain;     /* the last /current found the cursor inside the agent's buffer */
    uint64_t announced;      /* the last new instanceId said in the log */
    /* once-only log lines */
    const char *logged[16];
    size_t nlogged;
} agent_t;

/* ---- configuration ---------------------------------------------------------------------------- */

/*
 * Splits ADDRESS into its device prefix (DEV, "" when none), the data item's id or name (KEY) and
 * the field. Returns the field, or -1 when the address has an empty part.
 */
static int parse_address(const char *address, char *dev, size_t devsz, char *key, size_t keysz)
{
    char buf[512];
    int field = gb_mtc_split_address(address, buf, sizeof buf);
    char *colon = strchr(buf, ':');
    dev[0] = 0;
    if (colon) {
        *colon = 0;
        gb_strlcpy(dev, buf, devsz);
        if (!*dev) return -1;
    }
    gb_strlcpy(key, colon ? colon + 1 : buf, keysz);
    return *key ? field : -1;
}

static bool url_ok(const char *url)
{
    const char *host = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "https://", 8) ? url + 8 : NULL;
    return host && *host && *host != '/' && !strpbrk(url, "?# ");
}

static int agent_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                       gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    const char *s;
    int64_t ns, count;
    if (gb_cfg_str(c, "url", true, "mtconnect-agent adapter", &s, diag) == 0 && !url_ok(s)) {
        const gb_cnode_t *v = gb_cnode_get(c, "url");
        gb_diag_add(diag, v->line, v->col,
                    "'url' is the agent's address, such as http://10.0.4.17:5000 (optionally "
                    "with a path), without a query");
    }
    if (gb_cfg_str(c, "device", false, "adapter", &s, diag) == 0 && !*s) {
        const gb_cnode_t *v = gb_cnode_get(c, "device");
        gb_diag_add(diag, v->line, v->col, "'device' names a device of the agent (name or uuid)");
    }
    gb_cfg_int(c, "count", false, "adapter", 1, COUNT_MAX, &count, diag);
    static const char *const durs[] = {"interval", "timeout", "reconnect_max"};
    for (int i = 0; i < 3; i++)
        if (gb_cfg_duration(c, durs[i], false, "adapter", &ns, diag) == 0 && ns < GB_NS_PER_MS) {
            const gb_cnode_t *v = gb_cnode_get(c, durs[i]);
            gb_diag_add(diag, v->line, v->col, "'%s' must be at least 1ms", durs[i]);
        }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        char dev[256], key[256];
        int field = parse_address(t->address, dev, sizeof dev, key, sizeof key);
        const char *want = NULL;
        if (field < 0)
            want = "an address is a data item's id or name, optionally prefixed with 'device:'";
        else if (field != GB_MTC_F_VALUE && t->type != GB_VT_STR && t->type != 0)
            want = "the fields of a condition or message (.native_code, ...) feed string tags";
        if (want) {
            gb_diag_add(diag, t->line, t->col, "tag '%s' (address '%s'): %s", t->name, t->address,
                        want);
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    agent_t *a = ctx;
    size_t n = size * nmemb;
    if (a->body_len + n > GB_MTC_DOC_MAX) {
        a->body_too_big = true;
        return 0; /* ends the transfer */
    }
    if (a->body_len + n + 1 > a->body_cap) {
        a->body_cap = (a->body_len + n + 1) * 2;
        a->body = gb_xrealloc(a->body, a->body_cap);
    }
    memcpy(a->body + a->body_len, p, n);
    a->body_len += n;
    return n;
}

static int agent_create(const gb_adapter_env_t *env, void **state)
{
    pthread_once(&curl_once, curl_init);
    agent_t *a = gb_xcalloc(1, sizeof *a);
    gb_adapter_state_init(&a->st, env->cfg->name);
    a->env = env;
    const gb_cnode_t *c = env->cfg->node;
    const char *url = "http://127.0.0.1:5000", *device = "";
    int64_t count = 1000;
    a->interval_ns = GB_NS_PER_S;
    a->timeout_ns = 10 * GB_NS_PER_S;
    a->reconnect_max_ns = 30 * GB_NS_PER_S;
    gb_cfg_str(c, "url", false, "", &url, NULL);
    gb_cfg_str(c, "device", false, "", &device, NULL);
    gb_cfg_int(c, "count", false, "", 1, COUNT_MAX, &count, NULL);
    gb_cfg_duration(c, "interval", false, "", &a->interval_ns, NULL);
    gb_cfg_duration(c, "timeout", false, "", &a->timeout_ns, NULL);
    gb_cfg_duration(c, "reconnect_max", false, "", &a->reconnect_max_ns, NULL);
    a->count = (uint64_t)count;
    gb_strlcpy(a->device, device, sizeof a->device);
    a->curl = curl_easy_init();
    a->multi = curl_multi_init();
    if (!a->curl || !a->multi) abort(); /* only out of memory does this */
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/') ul--;
    if (*device) {
        char *esc = curl_easy_escape(a->curl, device, 0);
        a->base = gb_xasprintf("%.*s/%s", (int)ul, url, esc);
        curl_free(esc);
    } else {
        a->base = gb_xstrndup(url, ul);
    }
    a->headers = curl_slist_append(NULL, "Accept: application/xml, text/xml");
    curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)(a->timeout_ns / GB_NS_PER_MS));
    curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->timeout_ns / GB_NS_PER_MS));
    curl_easy_setopt(a->curl, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
    curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "gemba/" GB_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    size_t nb = env->nbindings ? env->nbindings : 1;
    a->pool = gb_xcalloc(nb, sizeof *a->pool);
    a->heads = gb_xcalloc(nb, sizeof *a->heads);
    gb_map_init(&a->items);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    *state = a;
    return 0;
}

/* ---- small things ----------------------------------------------------------------------------- */

static bool stopping(void *arg)
{
    agent_t *a = arg;
    pthread_mutex_lock(&a->mu);
    bool s = a->stop;
    pthread_mutex_unlock(&a->mu);
    return s;
}

/* Waits NS, or until stop. */
static void nap(agent_t *a, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t due = (int64_t)ts.tv_sec * GB_NS_PER_S + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(due / GB_NS_PER_S);
    ts.tv_nsec = (long)(due % GB_NS_PER_S);
    pthread_mutex_lock(&a->mu);
    while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&a->mu);
}

/* Logs malformed input of kind WHY (static text) the first time it comes: a broken agent can
 * send it with every answer. It always becomes the adapter's last error. */
static void problem(agent_t *a, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(agent_t *a, const char *why, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool seen = false;
    for (size_t i = 0; i < a->nlogged && !seen; i++) seen = !strcmp(a->logged[i], why);
    if (!seen && a->nlogged < sizeof a->logged / sizeof a->logged[0]) a->logged[a->nlogged++] = why;
    if (!seen) {
        gb_adapter_state_error(&a->st, "%s", msg);
        return;
    }
    pthread_mutex_lock(&a->st.mu);
    gb_strlcpy(a->st.st.last_error, msg, sizeof a->st.st.last_error);
    a->st.st.last_error_time = gb_now();
    pthread_mutex_unlock(&a->st.mu);
}

static void count_dups(agent_t *a, uint64_t n)
{
    if (!n) return;
    pthread_mutex_lock(&a->st.mu);
    a->st.st.duplicates += n;
    pthread_mutex_unlock(&a->st.mu);
}

/* ---- HTTP ------------------------------------------------------------------------------------- */

/*
 * GETs the base URL + PATH into a->body and parses it. 0 with *DOC (an MTConnectError too: the
 * caller decides); GB_ECLOSED when stopping; GB_EIO (unreachable, an HTTP error without an
 * MTConnect document) or GB_EPROTO (malformed), each recorded as the adapter's error.
 */
static int get(agent_t *a, const char *path, gb_mtc_doc_t **doc, gb_time_t *arrival)
{
    char *url = gb_xasprintf("%s%s", a->base, path);
    a->body_len = 0;
    a->body_too_big = false;
    curl_easy_setopt(a->curl, CURLOPT_URL, url);
    curl_multi_add_handle(a->multi, a->curl);
    int running = 1;
    CURLcode res = CURLE_OK;
    bool stopped = false;
    while (running) {
        if (curl_multi_perform(a->multi, &running) != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
        if (!running) break;
        if (stopping(a)) {
            stopped = true;
            break;
        }
        curl_multi_poll(a->multi, NULL, 0, 100, NULL);
    }
    int q;
    for (CURLMsg *m; (m = curl_multi_info_read(a->multi, &q));)
        if (m->msg == CURLMSG_DONE) res = m->data.result;
    curl_multi_remove_handle(a->multi, a->curl);
    *arrival = gb_now();
    int rc = 0;
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    if (stopped) {
        rc = GB_ECLOSED;
    } else if (a->body_too_big) {
        problem(a, "too big", "%s: the answer is larger than %u MiB; not read", url,
                GB_MTC_DOC_MAX >> 20);
        gb_adapter_state_count(&a->st, 0, 1, 0);
        rc = GB_EPROTO;
    } else if (res != CURLE_OK) {
        gb_adapter_state_error(&a->st, "cannot get %s: %s", url, curl_easy_strerror(res));
        rc = GB_EIO;
    } else {
        const char *why = NULL;
        if (gb_mtc_parse(a->body ? a->body : "", a->body_len, doc, &why) != 0) {
            if (status != 200) {
                gb_adapter_state_error(&a->st, "%s: HTTP %ld", url, status);
                rc = GB_EIO;
            } else {
                problem(a, why, "%s: malformed document (%s)", url, why);
                gb_adapter_state_count(&a->st, 0, 1, 0);
                rc = GB_EPROTO;
            }
        } else if (status != 200 && (*doc)->kind != GB_MTC_DOC_ERROR) {
            gb_adapter_state_error(&a->st, "%s: HTTP %ld", url, status);
            gb_mtc_doc_free(*doc);
            rc = GB_EIO;
        } else if ((*doc)->skipped) {
            problem(a, (*doc)->skip_why, "%s: %zu malformed part(s) left out: %s", url,
                    (*doc)->skipped, (*doc)->skip_why);
            gb_adapter_state_count(&a->st, 0, (*doc)->skipped, 0);
        }
    }
    /* every Header says how large the buffer is; a request never asks for more */
    if (rc == 0 && (*doc)->header.buffer_size) a->buffer_size = (*doc)->header.buffer_size;
    free(url);
    return rc;
}

/* True when D is an MTConnectError with code CODE. */
static bool has_error(const gb_mtc_doc_t *d, const char *code)
{
    for (size_t i = 0; d->kind == GB_MTC_DOC_ERROR && i < d->nerrors; i++)
        if (!strcmp(d->errors[i].code, code)) return true;
    return false;
}

/* Records that REQUEST got D of the wrong kind, or an error the adapter cannot act on. */
static int refused(agent_t *a, const char *request, const gb_mtc_doc_t *d, gb_mtc_doc_kind_t want)
{
    if (d->kind == GB_MTC_DOC_ERROR)
        gb_adapter_state_error(&a->st, "the agent refused %s: %s: %s", request,
                               d->errors[0].code, d->errors[0].text);
    else
        gb_adapter_state_error(&a->st, "%s answered with an %s document", request,
                               want == GB_MTC_DOC_STREAMS ? "MTConnectDevices" : "MTConnectStreams");
    return GB_EIO;
}

/* get() for a request whose answer must be a document of kind WANT; any other is refused. */
static int get_kind(agent_t *a, const char *path, gb_mtc_doc_kind_t want, gb_mtc_doc_t **d)
{
    gb_time_t arrival;
    int rc = get(a, path, d, &arrival);
    if (rc == 0 && (*d)->kind != want) {
        rc = refused(a, path, *d, want);
        gb_mtc_doc_free(*d);
    }
    return rc;
}

/* ---- /probe: tag addresses to data items ------------------------------------------------------ */

static bool device_is(const gb_mtc_device_t *d, const char *name)
{
    return !strcmp(d->name, name) || !strcmp(d->uuid, name);
}

/* The data item tag T's address names in probe D; NULL, with the reason logged, when none. */
static const gb_mtc_item_t *find_item(agent_t *a, const gb_mtc_doc_t *d, const gb_plant_tag_t *t,
                                      int *field)
{
    char dev[256], key[256];
    *field = parse_address(t->address, dev, sizeof dev, key, sizeof key);
    const char *want = *dev ? dev : a->device;
    const gb_mtc_item_t *by_name = NULL;
    size_t named = 0;
    for (size_t i = 0; i < d->nitems; i++) {
        const gb_mtc_item_t *it = &d->items[i];
        if (*want && !device_is(&d->devices[it->device], want)) continue;
        if (!strcmp(it->id, key)) return it; /* an id is unique: it wins over any name */
        if (!strcmp(it->name, key) && !named++) by_name = it;
    }
    if (named == 1) return by_name;
    if (named > 1)
        gb_warn("mtconnect", "%s: tag '%s': %zu data items are named '%s'%s%s; write its id or "
                "'device:name' (the tag gets nothing)", a->st.name, t->name, named, key,
                *want ? " in device " : "", want);
    else
        gb_warn("mtconnect", "%s: tag '%s': no data item has the id or name '%s'%s%s (the tag gets "
                "nothing)", a->st.name, t->name, key, *want ? " in device " : "", want);
    return NULL;
}

/* Why tag T cannot take FIELD of data item IT; NULL when it can. */
static const char *mismatch(const gb_mtc_item_t *it, const gb_plant_tag_t *t, int field)
{
    bool cond = it->category == GB_MTC_CONDITION;
    if (field != GB_MTC_F_VALUE && !cond && field != GB_MTC_F_CODE)
        return "only a condition has .native_severity, .qualifier and .message";
    if ((cond || it->rep == GB_MTC_REP_DATASET || it->rep == GB_MTC_REP_TABLE ||
         field != GB_MTC_F_VALUE) && t->type != GB_VT_STR)
        return "conditions, their fields, data sets and tables feed string tags";
    if (it->rep == GB_MTC_REP_TIMESERIES && t->type != GB_VT_F64)
        return "a time series feeds a float tag";
    return NULL;
}

/* Binds every tag to its data item in probe D. */
static void resolve(agent_t *a, const gb_mtc_doc_t *d)
{
    gb_map_clear(&a->items);
    gb_map_init(&a->items);
    a->nheads = 0;
    if (*a->device) {
        bool found = false;
        for (size_t i = 0; i < d->ndevices && !found; i++) found = device_is(&d->devices[i], a->device);
        if (!found)
            gb_warn("mtconnect", "%s: the agent has no device '%s'", a->st.name, a->device);
    }
    size_t bound = 0;
    for (size_t i = 0; i < a->env->nbindings; i++) {
        const gb_adapter_binding_t *b = &a->env->bindings[i];
        int field;
        const gb_mtc_item_t *it = find_item(a, d, b->ptag, &field);
        if (!it) continue;
        const char *why = mismatch(it, b->ptag, field);
        if (why) {
            gb_warn("mtconnect", "%s: tag '%s' (address '%s', a %s data item): %s (the tag gets "
                    "nothing)", a->st.name, b->ptag->name, b->ptag->address,
                    gb_mtc_category_name(it->category), why);
            continue;
        }
        char key[2 * GB_MTC_ATTR_MAX + 2];
        snprintf(key, sizeof key, "%s\x1f%s", d->devices[it->device].uuid, it->id);
        uint32_t h;
        if (!gb_map_get(&a->items, key, &h)) {
            h = (uint32_t)a->nheads++;
            gb_map_put(&a->items, key, h);
            a->heads[h] = (head_t){NULL, it->rep, it->sample_rate};
        }
        target_t *t = &a->pool[i];
        *t = (target_t){b->tag, b->ptag->type, field, a->heads[h].first};
        a->heads[h].first = t;
        bound++;
    }
    gb_info("mtconnect", "%s: the agent (instanceId %llu) has %zu devices and %zu data items; "
            "%zu of %zu tags bound", a->st.name, (unsigned long long)d->header.instance_id,
            d->ndevices, d->nitems, bound, a->env->nbindings);
}

/* Notices a new agent instance in D's Header: true when it is one (said once in the log). */
static bool restarted(agent_t *a, const gb_mtc_doc_t *d)
{
    uint64_t id = d->header.instance_id;
    if (!a->have_instance || !id || id == a->instance) return false;
    if (id != a->announced)
        gb_warn("mtconnect", "%s: the agent restarted (instanceId %llu, was %llu): its sequence "
                "numbers start over; reading its devices again and every observation the new "
                "instance holds (what the old one had after sequence %llu was not read)",
                a->st.name, (unsigned long long)id, (unsigned long long)a->instance,
                (unsigned long long)(a->cursor - 1));
    a->announced = id;
    a->need_probe = a->need_sync = true;
    return true;
}

static int probe(agent_t *a)
{
    gb_mtc_doc_t *d;
    int rc = get_kind(a, "/probe", GB_MTC_DOC_DEVICES, &d);
    if (rc) return rc;
    restarted(a, d);
    resolve(a, d);
    a->probed = d->header.instance_id;
    gb_strlcpy(a->model_time, d->header.model_change_time, sizeof a->model_time);
    a->need_probe = false;
    gb_mtc_doc_free(d);
    return 0;
}

/* ---- observations to samples ------------------------------------------------------------------ */

typedef struct adding {
    gb_batch_t *b;
    const target_t *t;
} adding_t;

static bool add_series_value(void *ctx, gb_time_t ts, const char *v, size_t n)
{
    adding_t *c = ctx;
    return gb_mtc_add_value(c->b, ts, c->t->tag, c->t->type, v, n);
}

/* Adds what target T takes of observation O to B; false when the text does not fit the tag. */
static bool add_obs(const head_t *h, const target_t *t, const gb_mtc_obs_t *o, gb_batch_t *b)
{
    const char *v = o->value;
    switch (t->field) {
    case GB_MTC_F_VALUE:
        if (o->category == GB_MTC_CONDITION) v = o->level;
        break;
    case GB_MTC_F_CODE: v = o->native_code; break;
    case GB_MTC_F_SEVERITY: v = o->native_severity; break;
    case GB_MTC_F_QUALIFIER: v = o->qualifier; break;
    default: break; /* a condition's message is its value */
    }
    size_t n = v == o->value ? o->value_len : strlen(v);
    if (t->field == GB_MTC_F_VALUE && o->rep == GB_MTC_REP_TIMESERIES && !o->unavailable) {
        adding_t c = {b, t};
        double rate = o->sample_rate > 0 ? o->sample_rate : h->rate;
        return gb_mtc_each_series_value(o->t, rate, v, n, add_series_value, &c);
    }
    return gb_mtc_add_value(b, o->t, t->tag, t->type, v, n);
}

/* The head of the data item O belongs to; NULL when no tag takes it. */
static const head_t *head_of(agent_t *a, const gb_mtc_obs_t *o)
{
    char key[2 * GB_MTC_ATTR_MAX + 2];
    snprintf(key, sizeof key, "%s\x1f%s", o->device_uuid, o->data_item_id);
    uint32_t h;
    return gb_map_get(&a->items, key, &h) ? &a->heads[h] : NULL;
}

typedef struct bound_obs {
    const gb_mtc_obs_t *o;
    const head_t *h;
} bound_obs_t;

static int by_sequence(const void *x, const void *y)
{
    const gb_mtc_obs_t *a = ((const bound_obs_t *)x)->o, *b = ((const bound_obs_t *)y)->o;
    if (a->sequence != b->sequence) return a->sequence < b->sequence ? -1 : 1;
    return a < b ? -1 : a > b; /* document order among equals */
}

/*
 * Publishes the observations of D with FLOOR <= sequence < CEIL, in sequence order. One below
 * FLOOR, or a second with the same sequence, was published already: it is dropped and counted.
 * False when stopping before the bus took them.
 */
static bool publish_range(agent_t *a, const gb_mtc_doc_t *d, uint64_t floor, uint64_t ceil)
{
    bound_obs_t *order = gb_xmalloc((d->nobs ? d->nobs : 1) * sizeof *order);
    size_t n = 0;
    uint64_t dups = 0, bad = 0;
    for (size_t i = 0; i < d->nobs; i++) {
        const gb_mtc_obs_t *o = &d->obs[i];
        const head_t *h = head_of(a, o);
        if (!h) continue;
        if (o->sequence < floor) {
            for (const target_t *t = h->first; t; t = t->next) dups++;
        } else if (o->sequence < ceil) {
            order[n++] = (bound_obs_t){o, h};
        }
    }
    qsort(order, n, sizeof *order, by_sequence);
    gb_batch_t *b = gb_batch_new(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const gb_mtc_obs_t *o = order[i].o;
        bool again = i > 0 && order[i - 1].o->sequence == o->sequence;
        for (const target_t *t = order[i].h->first; t; t = t->next) {
            if (again) {
                dups++;
            } else if (!add_obs(order[i].h, t, o, b)) {
                bad++;
                problem(a, "value", "data item '%s' sent '%.40s', which does not fit a %s tag",
                        o->data_item_id, o->value, gb_vtype_name(t->type));
            }
        }
    }
    free(order);
    count_dups(a, dups);
    if (bad) gb_adapter_state_count(&a->st, 0, bad, 0);
    bool ok = gb_mtc_publish(&a->st, a->env->bus, &b, stopping, a);
    gb_batch_free(b);
    return ok;
}

/* ---- /current and /sample --------------------------------------------------------------------- */

/*
 * Takes /current. The first time, every value in it is published and sampling goes on from its
 * nextSequence. Later (a new instance, or a cursor the agent no longer holds) sampling goes on
 * from the agent's oldest observation, and /current gives only the values older than that.
 */
static int sync_current(agent_t *a)
{
    gb_mtc_doc_t *d;
    int rc = get_kind(a, "/current", GB_MTC_DOC_STREAMS, &d);
    if (rc) return rc;
    const gb_mtc_header_t *h = &d->header;
    if (h->instance_id != a->probed) { /* the agent restarted between /probe and /current */
        restarted(a, d);
        a->need_probe = true;
        gb_mtc_doc_free(d);
        return 0;
    }
    uint64_t floor, ceil, next;
    if (!a->have_instance) {
        floor = 0;
        ceil = UINT64_MAX;
        next = h->next_seq;
        gb_info("mtconnect", "%s: following the agent (instanceId %llu, version %s) from sequence "
                "%llu", a->st.name, (unsigned long long)h->instance_id, h->version,
                (unsigned long long)next);
    } else {
        /* a new instance counts from 1; the same one from the cursor (or from 1 when it went back
         * behind the cursor: an agent restarted within the second its instanceId counts) */
        bool back = h->instance_id == a->instance && a->cursor > h->next_seq;
        if (back)
            gb_warn("mtconnect", "%s: the agent's sequence numbers went back (to %llu, gemba was at "
                    "%llu) under the same instanceId; reading it again from its first observation",
                    a->st.name, (unsigned long long)h->next_seq, (unsigned long long)a->cursor);
        floor = h->instance_id == a->instance && !back ? a->cursor : 1;
        ceil = next = h->first_seq > floor ? h->first_seq : floor;
        a->synced_in_vain = h->instance_id == a->instance && floor == a->cursor && next == floor;
        if (h->first_seq > floor) {
            uint64_t lost = h->first_seq - floor;
            char msg[256];
            snprintf(msg, sizeof msg, "data lost: sequence numbers %llu to %llu (%llu) left the "
                     "agent's buffer before they were read; going on from %llu, with the current "
                     "values of the data items that changed among them",
                     (unsigned long long)floor, (unsigned long long)h->first_seq - 1,
                     (unsigned long long)lost, (unsigned long long)h->first_seq);
            gb_adapter_state_error(&a->st, "%s", msg);
        }
    }
    if (!publish_range(a, d, floor, ceil)) {
        gb_mtc_doc_free(d);
        return GB_ECLOSED;
    }
    a->have_instance = true;
    a->instance = h->instance_id;
    a->cursor = next;
    a->need_sync = false;
    gb_mtc_doc_free(d);
    return 0;
}

/* One /sample from the cursor. *MORE: the agent holds more after what it sent. */
static int sample(agent_t *a, bool *more)
{
    uint64_t count = a->count;
    if (a->buffer_size && count > a->buffer_size) count = a->buffer_size;
    char path[96];
    snprintf(path, sizeof path, "/sample?from=%llu&count=%llu", (unsigned long long)a->cursor,
             (unsigned long long)count);
    gb_mtc_doc_t *d;
    gb_time_t arrival;
    int rc = get(a, path, &d, &arrival);
    if (rc) return rc;
    const gb_mtc_header_t *h = &d->header;
    *more = true;
    bool off_range = has_error(d, "OUT_OF_RANGE") ||
                     (d->kind == GB_MTC_DOC_STREAMS &&
                      (h->first_seq > a->cursor || h->next_seq < a->cursor));
    if (restarted(a, d)) {
        /* the next step probes the new instance */
    } else if (off_range && a->synced_in_vain) {
        /* /current just said the cursor is inside the buffer: asking again would only loop */
        rc = d->kind == GB_MTC_DOC_ERROR ? refused(a, "/sample", d, GB_MTC_DOC_STREAMS) : GB_EIO;
        if (d->kind != GB_MTC_DOC_ERROR)
            gb_adapter_state_error(&a->st, "the agent's /sample and /current disagree about its "
                                   "buffer (from=%llu)", (unsigned long long)a->cursor);
    } else if (off_range) {
        /* an OUT_OF_RANGE, or an agent that answers outside its buffer rather than refusing:
         * /current says how far the buffer moved on */
        a->need_sync = true;
    } else if (d->kind != GB_MTC_DOC_STREAMS) {
        rc = refused(a, "/sample", d, GB_MTC_DOC_STREAMS);
    } else {
        a->synced_in_vain = false;
        if (!publish_range(a, d, a->cursor, h->next_seq)) {
            gb_mtc_doc_free(d);
            return GB_ECLOSED;
        }
        /* arrival minus the device time of the newest observation */
        const gb_mtc_obs_t *newest = NULL;
        for (size_t i = 0; i < d->nobs; i++)
            if (!newest || d->obs[i].sequence > newest->sequence) newest = &d->obs[i];
        if (newest) {
            pthread_mutex_lock(&a->st.mu);
            a->st.st.clock_offset_ns = arrival - newest->t;
            a->st.st.has_clock_offset = true;
            pthread_mutex_unlock(&a->st.mu);
        }
        a->cursor = h->next_seq;
        *more = h->next_seq <= h->last_seq;
        if (*h->model_change_time && strcmp(h->model_change_time, a->model_time)) {
            gb_info("mtconnect", "%s: the agent's device model changed; reading it again",
                    a->st.name);
            a->need_probe = true;
            *more = true;
        }
    }
    gb_mtc_doc_free(d);
    return rc;
}

/* Whatever comes next: probe, /current, or /sample. */
static int step(agent_t *a, bool *more)
{
    *more = true;
    if (a->need_probe) return probe(a);
    if (a->need_sync) return sync_current(a);
    return sample(a, more);
}

static void *agent_main(void *arg)
{
    agent_t *a = arg;
    int64_t backoff = BACKOFF_MIN;
    bool up = false;
    a->need_probe = a->need_sync = true;
    gb_adapter_state_set(&a->st, GB_CONN_CONNECTING);
    while (!stopping(a)) {
        bool more;
        int rc = step(a, &more);
        if (rc == GB_ECLOSED) break;
        if (rc) {
            up = false;
            gb_adapter_state_set(&a->st, GB_CONN_DISCONNECTED);
            nap(a, backoff);
            backoff = backoff * 2 < a->reconnect_max_ns ? backoff * 2 : a->reconnect_max_ns;
            continue;
        }
        if (!up) {
            up = true;
            backoff = BACKOFF_MIN;
            pthread_mutex_lock(&a->st.mu);
            a->st.st.connects++;
            pthread_mutex_unlock(&a->st.mu);
            gb_adapter_state_set(&a->st, GB_CONN_CONNECTED);
        }
        if (!more) nap(a, a->interval_ns);
    }
    gb_adapter_state_set(&a->st, GB_CONN_STOPPED);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static int agent_start(void *state)
{
    agent_t *a = state;
    if (pthread_create(&a->thread, NULL, agent_main, a) != 0) return GB_EIO;
    a->running = true;
    return 0;
}

static void agent_stop(void *state)
{
    agent_t *a = state;
    if (!a->running) return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    curl_multi_wakeup(a->multi); /* out of a request in flight */
    pthread_join(a->thread, NULL);
    a->running = false;
}

static void agent_destroy(void *state)
{
    agent_t *a = state;
    if (!a) return;
    agent_stop(a);
    curl_multi_cleanup(a->multi);
    curl_easy_cleanup(a->curl);
    curl_slist_free_all(a->headers);
    gb_map_clear(&a->items);
    free(a->base);
    free(a->body);
    free(a->pool);
    free(a->heads);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    gb_adapter_state_clear(&a->st);
    free(a);
}

static void agent_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((agent_t *)state)->st, out);
}

const gb_adapter_class_t gb_mtc_agent_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "mtconnect-agent",
    .summary = "MTConnect agent: polls an agent's REST API (/probe, /current, /sample)",
    .keys = agent_keys,
    .check = agent_check,
    .create = agent_create,
    .start = agent_start,
    .stop = agent_stop,
    .destroy = agent_destroy,
    .status = agent_status,
};
