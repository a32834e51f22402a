/*
 * An MTConnect agent for the integration tests, on libmicrohttpd. It answers /probe, /current and
 * /sample?from=&count= (also under /DEVICE/...) the way cppagent 2.x does -- same document shapes,
 * same Header sequence numbers, an MTConnectError OUT_OF_RANGE (HTTP 400) for a `from` that left
 * its buffer -- over a ring buffer of observations of a lathe running a cycle:
 *
 *   every 40 ticks: READY for 8, ACTIVE for 28 (spindle speed and load change), then the part
 *   counter goes up and the program moves on every 10 parts; cycle c % 5 == 2 raises the SYSTEM
 *   condition to WARNING (ticks 20-29), cycle c % 7 == 6 to FAULT with execution STOPPED (ticks
 *   30-38, no part, a message), after which it is NORMAL again.
 *
 * The machine is a pure function of the tick, so the agent can be killed and started again:
 *   --state FILE         keeps the instanceId, the machine's epoch and the tick the instance began
 *                        at. Started again with the same file, the agent rebuilds its buffer up to
 *                        now: the same sequence numbers for the same observations, including those
 *                        the machine made while the agent was down (as if only the network had
 *                        gone) -- resume without a gap or a duplicate is possible for a client.
 *   --new-instance       with an existing FILE: a restarted agent -- a new instanceId, sequence
 *                        numbers from 1, the buffer starting with the current values; the machine
 *                        goes on where it was.
 *   --buffer N           ring size (default 131072, cppagent's); a small one makes OUT_OF_RANGE.
 *   --tick-ms N          machine tick (default 100).
 *   --run-for-s N        the machine stops changing N seconds after its epoch (0: never).
 *   --schema 1.3|2.0     namespaces and shape (2.0 adds the agent's own Agent device).
 *   --listen HOST:PORT   default 127.0.0.1:0; --ready-file F gets the port once listening.
 * Each request is logged on stderr as one line ("sample from=F count=C -> first=.. next=.. ..."),
 * so a test can see what a client asked.
 */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CYCLE 40

/* ---- the device model ------------------------------------------------------------------------- */

enum { DEV_AGENT, DEV_LATHE };
enum { CAT_SAMPLE, CAT_EVENT, CAT_CONDITION };

typedef struct component {
    int device;
    const char *element, *id, *name;
} component_t;

static const component_t components[] = {
    {DEV_AGENT, "Agent", "agent_2f4c", "Agent"},
    {DEV_LATHE, "Device", "cnc07", "cnc07"},
    {DEV_LATHE, "Controller", "cont", "controller"},
    {DEV_LATHE, "Path", "path1", "path"},
    {DEV_LATHE, "Rotary", "c1", "C"},
};
#define NCOMPONENTS (sizeof components / sizeof components[0])

typedef struct item {
    int component;
    int category;
    const char *id, *name, *type, *sub_type, *units, *element;
} item_t;

enum { I_AGENT_AVAIL, I_AVAIL, I_MODE, I_EXEC, I_PROGRAM, I_PARTS, I_MSG, I_SPEED, I_LOAD, I_SYSTEM, NITEMS };

static const item_t items[NITEMS] = {
    {0, CAT_EVENT, "agent_avail", "", "AVAILABILITY", NULL, NULL, "Availability"},
    {1, CAT_EVENT, "avail", "avail", "AVAILABILITY", NULL, NULL, "Availability"},
    {3, CAT_EVENT, "mode", "mode", "CONTROLLER_MODE", NULL, NULL, "ControllerMode"},
    {3, CAT_EVENT, "exec", "execution", "EXECUTION", NULL, NULL, "Execution"},
    {3, CAT_EVENT, "pgm", "program", "PROGRAM", NULL, NULL, "Program"},
    {3, CAT_EVENT, "pc", "part_count", "PART_COUNT", NULL, NULL, "PartCount"},
    {3, CAT_EVENT, "msg", "message", "MESSAGE", NULL, NULL, "Message"},
    {4, CAT_SAMPLE, "c1_speed", "Sspeed", "ROTARY_VELOCITY", "ACTUAL", "REVOLUTION/MINUTE", "RotaryVelocity"},
    {4, CAT_SAMPLE, "c1_load", "Sload", "LOAD", NULL, "PERCENT", "Load"},
    {2, CAT_CONDITION, "cont_system", "system", "SYSTEM", NULL, NULL, NULL},
};

/* One observation: a value, or a condition (level element, code, severity, qualifier, text). */
typedef struct obs {
    uint64_t seq;
    int item;
    int64_t t;
    char value[64];
    char level[12], code[16], severity[8], qualifier[8];
} obs_t;

/* The machine at tick K, as the observation each item would report. */
static void machine_at(int64_t k, int item, obs_t *o)
{
    int64_t c = k / CYCLE, p = k % CYCLE;
    bool fault_cycle = c % 7 == 6, warn_cycle = c % 5 == 2;
    bool active = p >= 8 && p < 36 && !(fault_cycle && p >= 30);
    long parts = (long)(c - c / 7); /* the cycles before this one, but for the faulty ones */
    if (!fault_cycle && p >= 36) parts++;
    o->item = item;
    o->level[0] = o->code[0] = o->severity[0] = o->qualifier[0] = 0;
    switch (item) {
    case I_AGENT_AVAIL:
    case I_AVAIL: snprintf(o->value, sizeof o->value, "AVAILABLE"); break;
    case I_MODE: snprintf(o->value, sizeof o->value, "AUTOMATIC"); break;
    case I_EXEC:
        snprintf(o->value, sizeof o->value, "%s",
                 active ? "ACTIVE" : fault_cycle && p >= 30 && p < 39 ? "STOPPED" : "READY");
        break;
    case I_PROGRAM: snprintf(o->value, sizeof o->value, "O%ld", 1010 + 10 * ((parts / 10) % 5)); break;
    case I_PARTS: snprintf(o->value, sizeof o->value, "%ld", parts); break;
    case I_MSG:
        /* the message of the last fault, once there was one */
        if (c > 6 || (c == 6 && p >= 30)) {
            snprintf(o->value, sizeof o->value, "Spindle drive overload, call maintenance");
            snprintf(o->code, sizeof o->code, "M301");
        } else {
            snprintf(o->value, sizeof o->value, "UNAVAILABLE");
        }
        break;
    case I_SPEED: snprintf(o->value, sizeof o->value, "%d", active ? 1200 + 50 * (int)((k / 4) % 4) : 0); break;
    case I_LOAD: snprintf(o->value, sizeof o->value, "%.1f", active ? 20.5 + (double)((k * 7) % 25) : 0.0); break;
    case I_SYSTEM:
        if (fault_cycle && p >= 30 && p < 39) {
            snprintf(o->level, sizeof o->level, "Fault");
            snprintf(o->code, sizeof o->code, "SP-301");
            snprintf(o->severity, sizeof o->severity, "1");
            snprintf(o->value, sizeof o->value, "Spindle drive overload");
        } else if (warn_cycle && p >= 20 && p < 30) {
            snprintf(o->level, sizeof o->level, "Warning");
            snprintf(o->code, sizeof o->code, "SP-204");
            snprintf(o->severity, sizeof o->severity, "2");
            snprintf(o->qualifier, sizeof o->qualifier, "HIGH");
            snprintf(o->value, sizeof o->value, "Spindle load high");
        } else {
            snprintf(o->level, sizeof o->level, "Normal");
            o->value[0] = 0;
        }
        break;
    }
}

static bool same(const obs_t *a, const obs_t *b)
{
    return !strcmp(a->value, b->value) && !strcmp(a->level, b->level) && !strcmp(a->code, b->code);
}

/* ---- the agent -------------------------------------------------------------------------------- */

static struct {
    uint64_t instance;
    int64_t epoch_ns, start_tick, tick_ns, end_tick; /* end_tick < 0: runs for ever */
    uint64_t buffer;
    bool v2;
    obs_t *ring;
    obs_t latest[NITEMS];
    uint64_t next;     /* next sequence number */
    int64_t tick;      /* last tick generated */
    bool started;
} A;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put(const obs_t *o, int64_t k)
{
    obs_t *r = &A.ring[A.next % A.buffer];
    *r = *o;
    r->seq = A.next++;
    r->t = A.epoch_ns + k * A.tick_ns;
    A.latest[o->item] = *r;
}

/* Generates every observation up to now (or up to the machine's end). */
static void advance(void)
{
    int64_t k_now = (now_ns() - A.epoch_ns) / A.tick_ns;
    if (A.end_tick >= 0 && k_now > A.end_tick) k_now = A.end_tick;
    if (!A.started) { /* the instance begins with every item's current value */
        int64_t k0 = A.start_tick;
        for (int i = A.v2 ? 0 : 1; i < NITEMS; i++) {
            obs_t o;
            machine_at(k0, i, &o);
            put(&o, k0);
        }
        A.tick = k0;
        A.started = true;
    }
    for (int64_t k = A.tick + 1; k <= k_now; k++) {
        for (int i = 1; i < NITEMS; i++) {
            obs_t o;
            machine_at(k, i, &o);
            if (!same(&o, &A.latest[i])) put(&o, k);
        }
        A.tick = k;
    }
}

static uint64_t first_seq(void)
{
    return A.next > A.buffer ? A.next - A.buffer : 1;
}

/* ---- documents -------------------------------------------------------------------------------- */

typedef struct out {
    char *p;
    size_t n, cap;
} out_t;

static void outf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < o->cap - o->n) {
            o->n += (size_t)w;
            return;
        }
        o->cap = (o->cap + (size_t)w + 1) * 2;
        o->p = realloc(o->p, o->cap);
        if (!o->p) abort();
    }
}

/* S with &, <, > and " escaped, in BUF. */
static const char *esc(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; *s && n + 7 < size; s++) {
        const char *r = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                      : *s == '"' ? "&quot;" : NULL;
        if (r) n += (size_t)sprintf(buf + n, "%s", r);
        else buf[n++] = *s;
    }
    buf[n] = 0;
    return buf;
}

static void time_fmt(int64_t t, bool frac, char *buf, size_t size)
{
    time_t s = (time_t)(t / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) snprintf(buf + n, size - n, ".%06ldZ", (long)(t % 1000000000 / 1000));
    else snprintf(buf + n, size - n, "Z");
}

static const char *device_uuid(int d)
{
    return d == DEV_AGENT ? "2f4c9a7e-agent" : "cnc07-5f3e9a";
}

static const char *device_name(int d)
{
    return d == DEV_AGENT ? "Agent" : "cnc07";
}

static void open_doc(out_t *o, const char *root)
{
    const char *v = A.v2 ? "2.0" : "1.3";
    outf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<%s xmlns:m=\"urn:mtconnect.org:%s:%s\" "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            "xmlns=\"urn:mtconnect.org:%s:%s\" "
            "xsi:schemaLocation=\"urn:mtconnect.org:%s:%s /schemas/%s_%s.xsd\">\n",
         root, root, v, root, v, root, v, root, v);
}

static void header(out_t *o, bool seqs, uint64_t next, uint64_t first, uint64_t last)
{
    char ct[40], mt[40];
    time_fmt(now_ns(), false, ct, sizeof ct);
    time_fmt(A.epoch_ns + A.start_tick * A.tick_ns, true, mt, sizeof mt);
    outf(o, "  <Header creationTime=\"%s\" sender=\"mtc-fixture\" instanceId=\"%" PRIu64 "\" "
            "version=\"%s\"", ct, A.instance, A.v2 ? "2.0.0.12" : "1.3.0.18");
    if (A.v2) outf(o, " deviceModelChangeTime=\"%s\"", mt);
    outf(o, " bufferSize=\"%" PRIu64 "\"", A.buffer);
    if (seqs)
        outf(o, " nextSequence=\"%" PRIu64 "\" firstSequence=\"%" PRIu64 "\" lastSequence=\"%" PRIu64 "\"",
             next, first, last);
    outf(o, "/>\n");
}

static void observation(out_t *o, const obs_t *ob)
{
    const item_t *it = &items[ob->item];
    char ts[40], e1[160], e2[160];
    time_fmt(ob->t, true, ts, sizeof ts);
    const char *el = it->category == CAT_CONDITION ? ob->level : it->element;
    outf(o, "            <%s dataItemId=\"%s\"", el, it->id);
    if (*it->name) outf(o, " name=\"%s\"", it->name);
    outf(o, " sequence=\"%" PRIu64 "\"", ob->seq);
    if (it->sub_type) outf(o, " subType=\"%s\"", it->sub_type);
    outf(o, " timestamp=\"%s\"", ts);
    if (it->category == CAT_CONDITION) outf(o, " type=\"%s\"", it->type);
    if (*ob->code) outf(o, " nativeCode=\"%s\"", esc(ob->code, e1, sizeof e1));
    if (*ob->severity) outf(o, " nativeSeverity=\"%s\"", ob->severity);
    if (*ob->qualifier) outf(o, " qualifier=\"%s\"", ob->qualifier);
    if (*ob->value) outf(o, ">%s</%s>\n", esc(ob->value, e2, sizeof e2), el);
    else outf(o, "/>\n");
}

/* A Streams document of the N observations in SEL (sequence order), grouped the way cppagent does:
 * device, component, then Samples, Events, Condition. */
static void streams(out_t *o, const obs_t *const *sel, size_t n, uint64_t next, uint64_t first,
                    uint64_t last)
{
    static const char *const cats[] = {"Samples", "Events", "Condition"};
    open_doc(o, "MTConnectStreams");
    header(o, true, next, first, last);
    outf(o, "  <Streams>\n");
    for (int d = A.v2 ? DEV_AGENT : DEV_LATHE; d <= DEV_LATHE; d++) {
        bool dev_open = false;
        for (size_t c = 0; c < NCOMPONENTS; c++) {
            if (components[c].device != d) continue;
            bool comp_open = false;
            for (int cat = 0; cat < 3; cat++) {
                bool cat_open = false;
                for (size_t i = 0; i < n; i++) {
                    const item_t *it = &items[sel[i]->item];
                    if (it->component != (int)c || it->category != cat) continue;
                    if (!dev_open) {
                        outf(o, "    <DeviceStream name=\"%s\" uuid=\"%s\">\n", device_name(d), device_uuid(d));
                        dev_open = true;
                    }
                    if (!comp_open) {
                        outf(o, "      <ComponentStream component=\"%s\" name=\"%s\" componentId=\"%s\">\n",
                             components[c].element, components[c].name, components[c].id);
                        comp_open = true;
                    }
                    if (!cat_open) {
                        outf(o, "        <%s>\n", cats[cat]);
                        cat_open = true;
                    }
                    observation(o, sel[i]);
                }
                if (cat_open) outf(o, "        </%s>\n", cats[cat]);
            }
            if (comp_open) outf(o, "      </ComponentStream>\n");
        }
        if (dev_open) outf(o, "    </DeviceStream>\n");
    }
    outf(o, "  </Streams>\n</MTConnectStreams>\n");
}

static void error_doc(out_t *o, const char *code, const char *text)
{
    char e[256];
    open_doc(o, "MTConnectError");
    header(o, false, 0, 0, 0);
    outf(o, "  <Errors>\n    <Error errorCode=\"%s\">%s</Error>\n  </Errors>\n</MTConnectError>\n",
         code, esc(text, e, sizeof e));
}

static void data_items(out_t *o, size_t comp, const char *indent)
{
    bool open = false;
    for (int i = 0; i < NITEMS; i++) {
        const item_t *it = &items[i];
        if (it->component != (int)comp) continue;
        if (!open) outf(o, "%s<DataItems>\n", indent);
        open = true;
        outf(o, "%s  <DataItem category=\"%s\" id=\"%s\"", indent,
             it->category == CAT_SAMPLE ? "SAMPLE" : it->category == CAT_EVENT ? "EVENT" : "CONDITION",
             it->id);
        if (*it->name) outf(o, " name=\"%s\"", it->name);
        if (it->units) outf(o, " nativeUnits=\"%s\"", it->units);
        if (it->sub_type) outf(o, " subType=\"%s\"", it->sub_type);
        outf(o, " type=\"%s\"", it->type);
        if (it->units) outf(o, " units=\"%s\"", it->units);
        outf(o, "/>\n");
    }
    if (open) outf(o, "%s</DataItems>\n", indent);
}

static void probe_doc(out_t *o, int only)
{
    open_doc(o, "MTConnectDevices");
    header(o, false, 0, 0, 0);
    outf(o, "  <Devices>\n");
    if (A.v2 && only != DEV_LATHE) {
        outf(o, "    <Agent id=\"agent_2f4c\" mtconnectVersion=\"2.0\" name=\"Agent\" uuid=\"%s\">\n",
             device_uuid(DEV_AGENT));
        data_items(o, 0, "      ");
        outf(o, "    </Agent>\n");
    }
    if (only != DEV_AGENT) {
        outf(o, "    <Device id=\"cnc07\" name=\"cnc07\" uuid=\"%s\"%s>\n", device_uuid(DEV_LATHE),
             A.v2 ? " mtconnectVersion=\"2.0\"" : "");
        outf(o, "      <Description manufacturer=\"Okuma\" model=\"LB3000 EX II\" serialNumber=\"1138\">2-axis lathe, cell 1</Description>\n");
        data_items(o, 1, "      ");
        outf(o, "      <Components>\n        <Controller id=\"cont\" name=\"controller\">\n");
        data_items(o, 2, "          ");
        outf(o, "          <Components>\n            <Path id=\"path1\" name=\"path\">\n");
        data_items(o, 3, "              ");
        outf(o, "            </Path>\n          </Components>\n        </Controller>\n"
                "        <Axes id=\"axes\" name=\"base\">\n          <Components>\n"
                "            <Rotary id=\"c1\" name=\"C\">\n");
        data_items(o, 4, "              ");
        outf(o, "            </Rotary>\n          </Components>\n        </Axes>\n"
                "      </Components>\n    </Device>\n");
    }
    outf(o, "  </Devices>\n</MTConnectDevices>\n");
}

/* ---- requests --------------------------------------------------------------------------------- */

static enum MHD_Result send_doc(struct MHD_Connection *c, unsigned status, out_t *o)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(o->n, o->p, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "text/xml");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool number(const char *s, uint64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || *s == '-') return false;
    *out = v;
    return true;
}

static bool in_device(int item, int only)
{
    return only < 0 || components[items[item].component].device == only;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    out_t o = {0};
    advance();
    if (strcmp(method, "GET")) {
        error_doc(&o, "UNSUPPORTED", "Only GET is supported");
        return send_doc(c, 405, &o);
    }
    /* /DEVICE/request names one device */
    int only = -1;
    const char *req = url;
    const char *slash = strchr(url + 1, '/');
    if (slash) {
        size_t n = (size_t)(slash - url - 1);
        for (int d = A.v2 ? DEV_AGENT : DEV_LATHE; d <= DEV_LATHE && only < 0; d++)
            if ((strlen(device_name(d)) == n && !strncmp(url + 1, device_name(d), n)) ||
                (strlen(device_uuid(d)) == n && !strncmp(url + 1, device_uuid(d), n)))
                only = d;
        if (only < 0) {
            error_doc(&o, "NO_DEVICE", "Could not find the device");
            fprintf(stderr, "%s -> NO_DEVICE\n", url);
            return send_doc(c, 404, &o);
        }
        req = slash;
    }
    uint64_t first = first_seq(), last = A.next - 1;
    if (!strcmp(req, "/probe")) {
        probe_doc(&o, only);
        fprintf(stderr, "probe instance=%" PRIu64 "\n", A.instance);
        return send_doc(c, 200, &o);
    }
    const obs_t **sel = calloc(A.buffer > NITEMS ? A.buffer : NITEMS, sizeof *sel);
    if (!sel) abort();
    size_t n = 0;
    if (!strcmp(req, "/current")) {
        /* the latest of each item, in sequence order */
        for (int i = 0; i < NITEMS; i++)
            if (A.latest[i].seq && in_device(i, only)) sel[n++] = &A.latest[i];
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && sel[j - 1]->seq > sel[j]->seq; j--) {
                const obs_t *t = sel[j];
                sel[j] = sel[j - 1];
                sel[j - 1] = t;
            }
        streams(&o, sel, n, A.next, first, last);
        fprintf(stderr, "current -> instance=%" PRIu64 " first=%" PRIu64 " next=%" PRIu64 "\n",
                A.instance, first, A.next);
        free(sel);
        return send_doc(c, 200, &o);
    }
    if (!strcmp(req, "/sample")) {
        uint64_t from = first, count = 100;
        const char *fs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
        const char *cs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "count");
        char msg[128] = "";
        if (fs && !number(fs, &from)) snprintf(msg, sizeof msg, "'from' must be a positive integer");
        else if (cs && (!number(cs, &count) || count == 0))
            snprintf(msg, sizeof msg, "'count' must be greater than 0");
        else if (count > A.buffer)
            snprintf(msg, sizeof msg, "'count' must be less than %" PRIu64, A.buffer + 1);
        else if (from < first)
            snprintf(msg, sizeof msg, "'from' must be greater than %" PRIu64, first - 1);
        else if (from > A.next)
            snprintf(msg, sizeof msg, "'from' must be less than %" PRIu64, A.next + 1);
        if (*msg) {
            error_doc(&o, "OUT_OF_RANGE", msg);
            fprintf(stderr, "sample from=%s count=%s -> OUT_OF_RANGE first=%" PRIu64 " (%s)\n",
                    fs ? fs : "-", cs ? cs : "-", first, msg);
            free(sel);
            return send_doc(c, 400, &o);
        }
        uint64_t s = from;
        for (; s < A.next && n < count; s++) {
            const obs_t *r = &A.ring[s % A.buffer];
            if (in_device(r->item, only)) sel[n++] = r;
        }
        streams(&o, sel, n, s, first, last);
        fprintf(stderr, "sample from=%" PRIu64 " count=%" PRIu64 " -> first=%" PRIu64
                " next=%" PRIu64 " last=%" PRIu64 " n=%zu\n", from, count, first, s, last, n);
        free(sel);
        return send_doc(c, 200, &o);
    }
    free(sel);
    error_doc(&o, "INVALID_URI", "The request was not one of probe, current or sample");
    return send_doc(c, 404, &o);
}

/* ---- state, startup --------------------------------------------------------------------------- */

static bool load_state(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    long long epoch, start, tick;
    unsigned long long inst;
    int n = fscanf(f, "instance=%llu epoch_ns=%lld start_tick=%lld tick_ns=%lld", &inst, &epoch,
                   &start, &tick);
    fclose(f);
    if (n != 4 || tick <= 0) {
        fprintf(stderr, "mtc_agent: %s: unreadable state\n", path);
        exit(2);
    }
    A.instance = inst;
    A.epoch_ns = epoch;
    A.start_tick = start;
    A.tick_ns = tick;
    return true;
}

static void save_state(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "instance=%" PRIu64 " epoch_ns=%lld start_tick=%lld tick_ns=%lld\n",
                      A.instance, (long long)A.epoch_ns, (long long)A.start_tick,
                      (long long)A.tick_ns) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "mtc_agent: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static volatile sig_atomic_t stop;

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0", *ready = NULL, *state = NULL;
    bool new_instance = false;
    uint64_t instance = 0;
    long tick_ms = 100, run_for_s = 0;
    A.buffer = 131072;
    A.v2 = true;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--new-instance")) new_instance = true;
        else if (v && !strcmp(argv[i], "--listen")) listen_at = argv[++i];
        else if (v && !strcmp(argv[i], "--ready-file")) ready = argv[++i];
        else if (v && !strcmp(argv[i], "--state")) state = argv[++i];
        else if (v && !strcmp(argv[i], "--instance-id")) instance = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(argv[i], "--buffer")) A.buffer = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(argv[i], "--tick-ms")) tick_ms = atol(argv[++i]);
        else if (v && !strcmp(argv[i], "--run-for-s")) run_for_s = atol(argv[++i]);
        else if (v && !strcmp(argv[i], "--schema")) A.v2 = strcmp(argv[++i], "1.3") != 0;
        else {
            fprintf(stderr, "usage: gb_mtc_agent [--listen HOST:PORT] [--ready-file F] [--state FILE "
                            "[--new-instance]] [--instance-id N] [--buffer N] [--tick-ms N] "
                            "[--run-for-s N] [--schema 1.3|2.0]\n");
            return 2;
        }
    }
    if (A.buffer < 16 || A.buffer > (1u << 24) || tick_ms < 1) {
        fprintf(stderr, "mtc_agent: bad --buffer or --tick-ms\n");
        return 2;
    }
    bool resumed = state && load_state(state);
    if (!resumed) {
        A.instance = instance ? instance : (uint64_t)time(NULL);
        A.epoch_ns = now_ns();
        A.start_tick = 0;
        A.tick_ns = tick_ms * 1000000;
    } else if (new_instance) {
        A.instance = instance ? instance : A.instance + 1;
        A.start_tick = (now_ns() - A.epoch_ns) / A.tick_ns;
    }
    A.end_tick = run_for_s > 0 ? run_for_s * 1000000000 / A.tick_ns : -1;
    if (state) save_state(state);
    A.ring = calloc(A.buffer, sizeof *A.ring);
    if (!A.ring) abort();
    A.next = 1;
    advance();

    char host[64];
    int port;
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof host) return 2;
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = 0;
    port = atoi(colon + 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return 2;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "mtc_agent: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle,
                                            NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mtc_agent: cannot start the HTTP server\n");
        return 1;
    }
    fprintf(stderr, "mtc_agent: instance=%" PRIu64 " %s on port %d, buffer %" PRIu64 "\n",
            A.instance, resumed ? (new_instance ? "restarted" : "resumed") : "new",
            ntohs(sa.sin_port), A.buffer);
    if (ready) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, ready)) {
            fprintf(stderr, "mtc_agent: cannot write %s\n", ready);
            return 1;
        }
    }
    while (!stop) pause();
    MHD_stop_daemon(d);
    free(A.ring);
    return 0;
}
