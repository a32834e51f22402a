/*
 * The `haas-mdc` and `haas-mdc-serial` adapters: poll a Haas CNC control's machine data
 * collection (MDC, Setting 143) over its TCP port or its RS-232 port; everything but opening the
 * link is shared. One thread per instance asks, in turn and each waiting for its answer:
 *   ?Q100       serial number -- once per connection, as the handshake
 *   ?Q104       mode                      (when a tag wants mode or controller_mode)
 *   ?Q500       program, status, parts    (when a tag wants program, status, execution or parts)
 *   ?Q600 N     macro variable N          (for each variable a tag names as macro:N)
 * every `interval`. The control sends no time, so values are stamped on arrival.
 *
 * Only a value that changed since the last one published for its tag is published, and every
 * value on the first poll after a connect (so a reconnect re-states the machine): a machine that
 * sits idle costs the store nothing. The part counter is published as the control counts it;
 * the OEE engine takes its deltas, so a value re-stated after a reconnect adds no parts.
 *
 * The link counts as connected once the control has answered; a control that does not answer
 * within `timeout` (a stopped control, a cable pulled, Setting 143 at 0) is reported in the
 * adapter's last_error and the link re-opened, waiting 200 ms, then twice as long each time up to
 * `reconnect_max`. Some controls ignore the first query of a connection, so an unanswered ?Q100 is
 * asked once more before that counts. A malformed reply is counted (`malformed`), logged once for
 * each kind of problem, and costs that one value; a query the control refuses (INVALID NUMBER) is
 * counted in `exceptions` and reported in last_error.
 *
 * A control's TCP port sends every answer to every client connected (up to two): before each
 * query whatever is waiting is dropped, and a reply that cannot be the answer (another kind, or a
 * macro that names another variable) is ignored, logged once.
 */
#include "adapters/haas/haas.h"
#include "adapters/haas/codec_haas.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static const char *const tcp_keys[] = {"host", "port", "interval", "timeout", "reconnect_max",
                                       NULL};
static const char *const serial_keys[] = {"device", "baud", "parity", "data_bits", "stop_bits",
                                          "flow", "interval", "timeout", "reconnect_max", NULL};

/* What a tag address asks for. */
enum { A_SERIAL, A_MODE, A_CONTROLLER_MODE, A_PROGRAM, A_STATUS, A_EXECUTION, A_PARTS, A_MACRO };

/* Addresses by name (macro:N apart), in the order of the enum; text ones feed string tags. */
static const char *const address_names[] = {"serial", "mode", "controller_mode", "program",
                                             "status", "execution", "parts", "macro:N", NULL};

static const char *const parities[] = {"none", "even", "odd", NULL};
static const char *const flows[] = {"none", "xonxoff", "rtscts", NULL};
enum { FLOW_NONE, FLOW_XONXOFF, FLOW_RTSCTS };

static const struct {
    int rate;
    speed_t speed;
} bauds[] = {{300, B300},     {600, B600},     {1200, B1200},     {2400, B2400},
             {4800, B4800},   {9600, B9600},   {19200, B19200},   {38400, B38400},
             {57600, B57600}, {115200, B115200}, {230400, B230400}};
#define NBAUDS (sizeof bauds / sizeof bauds[0])

/* Durations each instance reads: default, and the range check() allows. */
static const struct {
    const char *key;
    int64_t dflt, min, max;
    const char *min_text, *max_text;
} durations[] = {
    {"interval", GB_NS_PER_S, 10 * GB_NS_PER_MS, 3600 * GB_NS_PER_S, "10ms", "1h"},
    {"timeout", 2 * GB_NS_PER_S, 10 * GB_NS_PER_MS, 60 * GB_NS_PER_S, "10ms", "60s"},
    {"reconnect_max", 30 * GB_NS_PER_S, 10 * GB_NS_PER_MS, 3600 * GB_NS_PER_S, "10ms", "1h"},
};
enum { D_INTERVAL, D_TIMEOUT, D_RECONNECT_MAX, ND };

/* Which answer a query waits for. */
enum { WANT_SERIAL, WANT_MODE, WANT_PROGRAM, WANT_MACRO };

typedef struct target {
    uint32_t tag;
    gb_vtype_t type;
    int what;                     /* A_* */
    uint32_t var;                 /* A_MACRO */
    const char *name;             /* the tag's, for messages */
    bool has_last;                /* something was published for it on this connection */
    char last[GB_HAAS_REPLY_MAX]; /* text tags: the value last published */
    size_t last_n;
    double last_num;              /* number tags: the value last published */
} target_t;

typedef struct haas {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    bool serial;                   /* haas-mdc-serial */
    char host[256], port[16];      /* TCP */
    char device[256];              /* serial line */
    int baud, data_bits, stop_bits, parity, flow;
    char where[300];               /* host:port or the device, for messages */
    int64_t dur[ND];               /* D_* */
    target_t *targets;
    size_t ntargets;
    uint32_t *vars;                /* distinct macro variables, ascending */
    size_t nvars;
    bool need_mode, need_program;  /* some tag wants ?Q104, ?Q500 */
    pthread_t thread;
    bool running;
    atomic_bool stop;              /* set by stop(), read by the polling thread */
    /* the polling thread's own */
    char rx[4 * GB_HAAS_REPLY_MAX];
    size_t rxlen;
    gb_time_t rx_time;             /* arrival of the latest bytes */
    char reply[GB_HAAS_REPLY_MAX]; /* the reply being judged, out of rx */
    const char *logged[16];        /* the kinds of malformed reply logged already */
    size_t nlogged;
    bool foreign_logged;
} haas_t;

/* ---- configuration --------------------------------------------------------------------------- */

/* Parses ADDRESS; -1 when it is none of the Haas addresses. */
static int parse_address(const char *address, uint32_t *var)
{
    *var = 0;
    for (int i = 0; i < A_MACRO; i++)
        if (!strcmp(address, address_names[i])) return i;
    if (strncmp(address, "macro:", 6)) return -1;
    const char *d = address + 6;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || n > 6 || d[n]) return -1;
    unsigned long v = strtoul(d, NULL, 10);
    if (v == 0 || v > GB_HAAS_MACRO_MAX) return -1;
    *var = (uint32_t)v;
    return A_MACRO;
}

/* The index in NAMES of KEY's value; DFLT when KEY is absent; reported and -1 when unknown. */
static int choice(const gb_cnode_t *c, const char *key, const char *const *names, int dflt,
                  gb_diag_t *diag)
{
    const char *s;
    if (gb_cfg_str(c, key, false, "adapter", &s, diag) != 0) return dflt;
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) return i;
    if (diag) {
        const gb_cnode_t *v = gb_cnode_get(c, key);
        char list[128] = "";
        for (int i = 0; names[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
        gb_diag_add(diag, v->line, v->col, "'%s' is %s, not '%s'", key, list, s);
    }
    return -1;
}

static const char *type_problem(int what, gb_vtype_t type)
{
    if (type == 0) return NULL; /* the plant loader reported the type */
    if (what == A_PARTS) return type == GB_VT_I64 || type == GB_VT_F64 ? NULL
                                : "'parts' is a counter: it feeds an int (or float) tag";
    if (what == A_MACRO) return type == GB_VT_F64 || type == GB_VT_I64 ? NULL
                                : "a macro variable feeds a float (or int) tag";
    return type == GB_VT_STR ? NULL : "this address is text: it feeds a string tag";
}

static int haas_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                      gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    const char *s;
    int64_t v;
    if (!strcmp(cfg->type, "haas-mdc-serial")) {
        gb_cfg_str(c, "device", true, "haas-mdc-serial adapter", &s, diag);
        if (gb_cfg_int(c, "baud", false, "adapter", 1, 4000000, &v, diag) == 0) {
            size_t i = 0;
            while (i < NBAUDS && bauds[i].rate != v) i++;
            if (i == NBAUDS) {
                const gb_cnode_t *x = gb_cnode_get(c, "baud");
                gb_diag_add(diag, x->line, x->col, "'baud' %lld is not a rate a serial line "
                            "runs at; Haas controls use 1200 to 115200, such as 9600 or 19200",
                            (long long)v);
            }
        }
        gb_cfg_int(c, "data_bits", false, "adapter", 7, 8, &v, diag);
        gb_cfg_int(c, "stop_bits", false, "adapter", 1, 2, &v, diag);
        choice(c, "parity", parities, 0, diag);
        choice(c, "flow", flows, 0, diag);
    } else {
        gb_cfg_str(c, "host", true, "haas-mdc adapter", &s, diag);
        gb_cfg_int(c, "port", false, "adapter", 1, 65535, &v, diag);
    }
    for (int i = 0; i < ND; i++)
        if (gb_cfg_duration(c, durations[i].key, false, "adapter", &v, diag) == 0 &&
            (v < durations[i].min || v > durations[i].max)) {
            const gb_cnode_t *x = gb_cnode_get(c, durations[i].key);
            gb_diag_add(diag, x->line, x->col, "'%s' must be from %s to %s", durations[i].key,
                        durations[i].min_text, durations[i].max_text);
        }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        uint32_t var;
        int what = parse_address(t->address, &var);
        if (what < 0) {
            const char *near = !strncmp(t->address, "macro", 5) ? NULL
                             : gb_did_you_mean(t->address, address_names);
            gb_diag_add(diag, t->line, t->col, "tag '%s': unknown Haas address '%s'%s%s%s; "
                        "expected serial, mode, controller_mode, program, status, execution, "
                        "parts or macro:N (N a macro variable from 1 to %u, such as macro:5021)",
                        t->name, t->address, near ? " (did you mean '" : "", near ? near : "",
                        near ? "'?)" : "", GB_HAAS_MACRO_MAX);
            bad++;
        } else if (type_problem(what, t->type)) {
            gb_diag_add(diag, t->line, t->col, "tag '%s' (address '%s'): %s", t->name,
                        t->address, type_problem(what, t->type));
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int haas_create(const gb_adapter_env_t *env, void **state)
{
    haas_t *h = gb_xcalloc(1, sizeof *h);
    gb_adapter_state_init(&h->st, env->cfg->name);
    h->env = env;
    const gb_cnode_t *c = env->cfg->node;
    h->serial = !strcmp(env->cfg->type, "haas-mdc-serial");
    for (int i = 0; i < ND; i++) {
        h->dur[i] = durations[i].dflt;
        gb_cfg_duration(c, durations[i].key, false, "", &h->dur[i], NULL);
    }
    if (h->serial) {
        const char *dev = "";
        int64_t baud = 9600, db = 7, sb = 1;
        gb_cfg_str(c, "device", false, "", &dev, NULL);
        gb_cfg_int(c, "baud", false, "", 1, 4000000, &baud, NULL);
        gb_cfg_int(c, "data_bits", false, "", 7, 8, &db, NULL);
        gb_cfg_int(c, "stop_bits", false, "", 1, 2, &sb, NULL);
        gb_strlcpy(h->device, dev, sizeof h->device);
        h->baud = (int)baud;
        h->data_bits = (int)db;
        h->stop_bits = (int)sb;
        h->parity = choice(c, "parity", parities, 1, NULL); /* Haas: 7 data bits, even parity */
        h->flow = choice(c, "flow", flows, FLOW_XONXOFF, NULL);
        snprintf(h->where, sizeof h->where, "%s", h->device);
    } else {
        const char *host = "127.0.0.1";
        int64_t port = 5051;
        gb_cfg_str(c, "host", false, "", &host, NULL);
        gb_cfg_int(c, "port", false, "", 1, 65535, &port, NULL);
        gb_strlcpy(h->host, host, sizeof h->host);
        snprintf(h->port, sizeof h->port, "%lld", (long long)port);
        snprintf(h->where, sizeof h->where, "%s:%s", h->host, h->port);
    }
    h->targets = gb_xcalloc(env->nbindings ? env->nbindings : 1, sizeof *h->targets);
    h->vars = gb_xcalloc(env->nbindings ? env->nbindings : 1, sizeof *h->vars);
    for (size_t i = 0; i < env->nbindings; i++) {
        target_t *t = &h->targets[h->ntargets];
        t->what = parse_address(env->bindings[i].ptag->address, &t->var);
        if (t->what < 0) continue; /* check() refused it */
        t->tag = env->bindings[i].tag;
        t->type = env->bindings[i].ptag->type;
        t->name = env->bindings[i].ptag->name;
        h->need_mode |= t->what == A_MODE || t->what == A_CONTROLLER_MODE;
        h->need_program |= t->what >= A_PROGRAM && t->what <= A_PARTS;
        if (t->what == A_MACRO) {
            size_t k = 0;
            while (k < h->nvars && h->vars[k] != t->var) k++;
            if (k == h->nvars) h->vars[h->nvars++] = t->var;
        }
        h->ntargets++;
    }
    qsort(h->vars, h->nvars, sizeof *h->vars, cmp_u32);
    *state = h;
    return 0;
}

/* ---- the link -------------------------------------------------------------------------------- */

static bool stopping(haas_t *h)
{
    return atomic_load(&h->stop);
}

/* Sleeps until DUE (gb_mono_ns time) or until stopped. */
static void sleep_until(haas_t *h, int64_t due)
{
    for (int64_t now = gb_mono_ns(); now < due && !stopping(h); now = gb_mono_ns()) {
        int64_t d = due - now < 50 * GB_NS_PER_MS ? due - now : 50 * GB_NS_PER_MS;
        usleep((useconds_t)(d / GB_NS_PER_US));
    }
}

/* Waits until FD is ready for EVENTS or DEADLINE passes; 1 ready, 0 not (yet), -1 stopping. */
static int wait_fd(haas_t *h, int fd, short events, int64_t deadline)
{
    for (;;) {
        if (stopping(h)) return -1;
        int64_t left = deadline - gb_mono_ns();
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int ms = left > 100 * GB_NS_PER_MS ? 100 : (int)(left / GB_NS_PER_MS) + 1;
        int rc = poll(&p, 1, ms);
        if (rc > 0) return 1;
        if (rc < 0 && errno != EINTR) return 1; /* let the read or write say what is wrong */
    }
}

static int open_tcp(haas_t *h, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(h->host, h->port, &hints, &res);
    if (rc) {
        snprintf(err, errsz, "cannot resolve %s: %s", h->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0 && !stopping(h); ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        /* connect without blocking, so a control that is off costs `timeout`, not minutes */
        int e = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
        if (e == EINPROGRESS) {
            socklen_t len = sizeof e;
            if (wait_fd(h, fd, POLLOUT, gb_mono_ns() + h->dur[D_TIMEOUT]) <= 0) e = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
        }
        if (e) {
            snprintf(err, errsz, "cannot connect to %.200s: %s", h->where, strerror(e));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int open_serial(haas_t *h, char *err, size_t errsz)
{
    int fd = open(h->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", h->device, strerror(errno));
        return -1;
    }
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        snprintf(err, errsz, "%s is not a serial line: %s", h->device, strerror(errno));
        close(fd);
        return -1;
    }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= (h->data_bits == 7 ? CS7 : CS8) | CLOCAL | CREAD;
    if (h->parity > 0) tio.c_cflag |= PARENB | (h->parity == 2 ? PARODD : 0);
    if (h->stop_bits == 2) tio.c_cflag |= CSTOPB;
    if (h->flow == FLOW_RTSCTS) tio.c_cflag |= CRTSCTS;
    if (h->flow == FLOW_XONXOFF) tio.c_iflag |= IXON | IXOFF;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    speed_t speed = B9600;
    for (size_t i = 0; i < NBAUDS; i++)
        if (bauds[i].rate == h->baud) speed = bauds[i].speed;
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        snprintf(err, errsz, "cannot set up %s: %s", h->device, strerror(errno));
        close(fd);
        return -1;
    }
    tcflush(fd, TCIOFLUSH); /* nothing from before counts */
    return fd;
}

/* Sends TEXT; 0, or GB_EIO with ERR. */
static int send_all(haas_t *h, int fd, const char *text, char *err, size_t errsz)
{
    size_t n = strlen(text), off = 0;
    int64_t deadline = gb_mono_ns() + h->dur[D_TIMEOUT];
    while (off < n) {
        ssize_t w = h->serial ? write(fd, text + off, n - off)
                              : send(fd, text + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(err, errsz, "cannot send to %.200s: %s", h->where, strerror(errno));
            return GB_EIO;
        } else if (wait_fd(h, fd, POLLOUT, deadline) <= 0) {
            snprintf(err, errsz, "%.200s takes no more data (flow control held for %lld ms)",
                     h->where, (long long)(h->dur[D_TIMEOUT] / GB_NS_PER_MS));
            return stopping(h) ? GB_ECLOSED : GB_EIO;
        }
    }
    return 0;
}

/* Reads what is there into rx: >0 bytes read, 0 nothing yet, GB_EIO with ERR (closed, failed). */
static int receive(haas_t *h, int fd, char *err, size_t errsz)
{
    ssize_t r = read(fd, h->rx + h->rxlen, sizeof h->rx - h->rxlen);
    if (r > 0) {
        h->rxlen += (size_t)r;
        h->rx_time = gb_now();
        return (int)r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (r == 0 && h->serial) return 0; /* a tty with nobody at the other end reads as empty */
    if (r == 0) snprintf(err, errsz, "the control closed the connection");
    else snprintf(err, errsz, "read from %.200s failed: %s", h->where, strerror(errno));
    return GB_EIO;
}

static void consume(haas_t *h, size_t n)
{
    memmove(h->rx, h->rx + n, h->rxlen - n);
    h->rxlen -= n;
}

static const char too_long[] = "reply too long";

static void count_malformed(haas_t *h, const char *why, const char *text, size_t n)
{
    gb_adapter_state_count(&h->st, 0, 1, 0);
    for (size_t i = 0; i < h->nlogged; i++)
        if (h->logged[i] == why) return;
    if (h->nlogged < sizeof h->logged / sizeof h->logged[0]) h->logged[h->nlogged++] = why;
    char shown[81];
    size_t m = n < sizeof shown - 1 ? n : sizeof shown - 1;
    for (size_t i = 0; i < m; i++)
        shown[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    shown[m] = 0;
    gb_warn("haas", "%s: malformed reply (%s): '%s'; counted, and not logged again", h->st.name,
            why, shown);
}

/* Is R the answer to a query that wants WANT (and VAR)? */
static bool answers(const gb_haas_reply_t *r, int want, uint32_t var)
{
    switch (want) {
    case WANT_SERIAL: return r->kind == GB_HAAS_SERIAL;
    case WANT_MODE: return r->kind == GB_HAAS_MODE;
    case WANT_PROGRAM: return r->kind == GB_HAAS_PROGRAM || r->kind == GB_HAAS_STATUS;
    default: return r->kind == GB_HAAS_MACRO && (!r->has_var || r->var == var);
    }
}

/*
 * Sends query CMD and waits for its answer. 0 with *R (its spans in h->reply) and *T, its arrival;
 * GB_EACCES when the control refused it (*R is the refusal); GB_EPROTO for a malformed answer
 * (counted); GB_ETIMEDOUT or GB_EIO with ERR when the link is silent or lost; GB_ECLOSED when
 * stopping.
 */
static int ask(haas_t *h, int fd, const char *cmd, int want, uint32_t var, gb_haas_reply_t *r,
               gb_time_t *t, char *err, size_t errsz)
{
    /* drop what is waiting: late answers, other clients' answers, DPRNT output (a bounded
     * number of reads: a peer that never stops sending still gets its query) */
    int rc = 0;
    for (int i = 0; i < 64 && (rc = receive(h, fd, err, errsz)) > 0; i++) h->rxlen = 0;
    h->rxlen = 0;
    if (rc < 0) return rc;
    char line[32];
    snprintf(line, sizeof line, "%s\r\n", cmd);
    if ((rc = send_all(h, fd, line, err, errsz)) != 0) return rc;
    int64_t deadline = gb_mono_ns() + h->dur[D_TIMEOUT];
    for (;;) {
        size_t used;
        gb_haas_span_t sp;
        int fr = gb_haas_frame(h->rx, h->rxlen, &used, &sp);
        if (fr == GB_EPROTO || (fr == 1 && sp.n > sizeof h->reply)) {
            count_malformed(h, too_long, h->rx, h->rxlen);
            consume(h, used);
            return GB_EPROTO;
        }
        if (fr == 1) {
            size_t n = sp.n;
            memcpy(h->reply, sp.p, n);
            consume(h, used);
            const char *why;
            if (gb_haas_parse(h->reply, n, r, &why) != 0) {
                count_malformed(h, why, h->reply, n);
                return GB_EPROTO;
            }
            *t = h->rx_time;
            if (r->kind == GB_HAAS_INVALID) return GB_EACCES;
            if (answers(r, want, var)) return 0;
            gb_log_once(&h->foreign_logged, GB_LOG_INFO, "haas", "%s: ignoring '%.*s', which does "
                        "not answer %s (another client on the MDC port, or program output); "
                        "logged once", h->st.name, (int)n, h->reply, cmd);
            continue;
        }
        consume(h, used);
        int w = wait_fd(h, fd, POLLIN, deadline);
        if (w < 0) return GB_ECLOSED;
        if (w == 0) {
            char d[32];
            gb_duration_format(h->dur[D_TIMEOUT], d, sizeof d);
            snprintf(err, errsz, "no reply to %s from %.200s within %s", cmd, h->where, d);
            return GB_ETIMEDOUT;
        }
        if ((rc = receive(h, fd, err, errsz)) < 0) return rc;
        if (rc == 0 && h->serial) usleep(10 * 1000); /* a hung-up tty polls readable: pace it */
    }
}

/* ---- values ---------------------------------------------------------------------------------- */

/* Offers text V for every tag of address WHAT: added to B when it changed. */
static void offer_text(haas_t *h, gb_batch_t *b, int what, gb_haas_span_t v, gb_time_t t)
{
    if (v.n > sizeof h->targets[0].last) v.n = sizeof h->targets[0].last;
    for (size_t i = 0; i < h->ntargets; i++) {
        target_t *tg = &h->targets[i];
        if (tg->what != what || tg->type != GB_VT_STR) continue;
        if (tg->has_last && tg->last_n == v.n && !memcmp(tg->last, v.p, v.n)) continue;
        memcpy(tg->last, v.p, v.n);
        tg->last_n = v.n;
        tg->has_last = true;
        gb_batch_add_str(b, t, tg->tag, GB_Q_GOOD, v.p, v.n);
    }
}

static void offer_static(haas_t *h, gb_batch_t *b, int what, const char *v, gb_time_t t)
{
    offer_text(h, b, what, (gb_haas_span_t){v, strlen(v)}, t);
}

/* Offers number X for every tag of address WHAT (and macro variable VAR). */
static void offer_num(haas_t *h, gb_batch_t *b, int what, uint32_t var, double x, gb_time_t t)
{
    for (size_t i = 0; i < h->ntargets; i++) {
        target_t *tg = &h->targets[i];
        if (tg->what != what || tg->var != var) continue;
        if (tg->has_last && tg->last_num == x) continue;
        if (tg->type == GB_VT_I64) {
            if (x != floor(x) || fabs(x) > 9e15) {
                gb_adapter_state_error(&h->st, "tag %s is an int, but the control sent %g; "
                                       "declare it a float", tg->name, x);
                continue;
            }
            gb_batch_add_i64(b, t, tg->tag, GB_Q_GOOD, (int64_t)x);
        } else if (tg->type == GB_VT_F64) {
            gb_batch_add_f64(b, t, tg->tag, GB_Q_GOOD, x);
        } else {
            continue;
        }
        tg->last_num = x;
        tg->has_last = true;
    }
}

/*
 * Asks CMD and sorts out what did not work: a refusal is counted and reported, a malformed answer
 * was counted by ask(). 0 with an answer in *R; 1 when this round has none; below 0 when the link
 * is lost or stopping (see ask()).
 */
static int query(haas_t *h, int fd, const char *cmd, int want, uint32_t var, gb_haas_reply_t *r,
                 gb_time_t *t, char *err, size_t errsz)
{
    int rc = ask(h, fd, cmd, want, var, r, t, err, errsz);
    if (rc == GB_EACCES) {
        pthread_mutex_lock(&h->st.mu);
        h->st.st.exceptions++;
        pthread_mutex_unlock(&h->st.mu);
        gb_adapter_state_error(&h->st, "the control refused %s: %.*s", cmd, (int)r->text.n,
                               r->text.p);
        return 1;
    }
    return rc == GB_EPROTO ? 1 : rc;
}

/* One round of queries into B. 0, or below 0 when the link is lost (ERR) or stopping. */
static int poll_round(haas_t *h, int fd, gb_batch_t *b, char *err, size_t errsz)
{
    gb_haas_reply_t r;
    gb_time_t t;
    int rc;
    if (h->need_mode) {
        if ((rc = query(h, fd, "?Q104", WANT_MODE, 0, &r, &t, err, errsz)) < 0) return rc;
        if (rc == 0) {
            offer_text(h, b, A_MODE, r.text, t);
            offer_static(h, b, A_CONTROLLER_MODE, gb_haas_controller_mode(r.text), t);
        }
    }
    if (h->need_program) {
        if ((rc = query(h, fd, "?Q500", WANT_PROGRAM, 0, &r, &t, err, errsz)) < 0) return rc;
        if (rc == 0) {
            /* while a program runs the control says only STATUS, BUSY: program and parts keep
             * their last values */
            if (r.kind == GB_HAAS_PROGRAM) {
                offer_text(h, b, A_PROGRAM, r.text, t);
                offer_num(h, b, A_PARTS, 0, (double)r.parts, t);
            }
            offer_text(h, b, A_STATUS, r.status, t);
            offer_static(h, b, A_EXECUTION, gb_haas_execution(r.status), t);
        }
    }
    for (size_t i = 0; i < h->nvars; i++) {
        char cmd[24];
        snprintf(cmd, sizeof cmd, "?Q600 %u", (unsigned)h->vars[i]);
        if ((rc = query(h, fd, cmd, WANT_MACRO, h->vars[i], &r, &t, err, errsz)) < 0) return rc;
        if (rc == 0) offer_num(h, b, A_MACRO, h->vars[i], r.value, t);
    }
    return 0;
}

/*
 * Hands B to the bus, holding on while the bus pushes back: only changes are sent, so a batch let
 * go would be a change lost. false when stopped first (nothing was acknowledged, so nothing the
 * bus took is lost).
 */
static bool publish(haas_t *h, gb_batch_t **b)
{
    size_t n = (*b)->n;
    if (!n) return true;
    int rc;
    while ((rc = gb_bus_publish(h->env->bus, *b, 200 * GB_NS_PER_MS)) == GB_EBUSY) {
        gb_adapter_state_count(&h->st, 0, 0, 1);
        if (stopping(h)) return false;
    }
    if (rc != 0) {
        gb_adapter_state_error(&h->st, "publish failed: %s", gb_strerror(rc));
        gb_batch_reset(*b);
        return true;
    }
    gb_adapter_state_count(&h->st, n, 0, 0);
    *b = gb_batch_new(16);
    return true;
}

/* One connection's life. Returns true when the control answered at all. */
static bool session(haas_t *h, int fd)
{
    char err[300] = "";
    gb_haas_reply_t r;
    gb_time_t t;
    h->rxlen = 0;
    for (size_t i = 0; i < h->ntargets; i++) h->targets[i].has_last = false;
    /* the handshake; some controls let the first query of a connection go unanswered */
    int rc = query(h, fd, "?Q100", WANT_SERIAL, 0, &r, &t, err, sizeof err);
    if (rc == GB_ETIMEDOUT) rc = query(h, fd, "?Q100", WANT_SERIAL, 0, &r, &t, err, sizeof err);
    if (rc == GB_ETIMEDOUT || rc == GB_EIO) gb_adapter_state_error(&h->st, "%s", err);
    if (rc == GB_ETIMEDOUT || rc == GB_EIO || rc == GB_ECLOSED) return false;
    pthread_mutex_lock(&h->st.mu);
    h->st.st.connects++;
    pthread_mutex_unlock(&h->st.mu);
    gb_adapter_state_set(&h->st, GB_CONN_CONNECTED);
    gb_batch_t *b = gb_batch_new(16);
    if (rc == 0) offer_text(h, b, A_SERIAL, r.text, t);
    int64_t next = gb_mono_ns();
    while (!stopping(h)) {
        rc = poll_round(h, fd, b, err, sizeof err);
        if (rc < 0) {
            if (rc != GB_ECLOSED) gb_adapter_state_error(&h->st, "%s; reconnecting", err);
            break;
        }
        if (!publish(h, &b)) break;
        /* keep the cadence; skip beats missed while the control was slow */
        next += h->dur[D_INTERVAL];
        if (next < gb_mono_ns()) next = gb_mono_ns();
        sleep_until(h, next);
    }
    if (b->n) publish(h, &b); /* what the last round gathered before the link went */
    gb_batch_free(b);
    return true;
}

static void *haas_main(void *arg)
{
    haas_t *h = arg;
    int64_t backoff = 200 * GB_NS_PER_MS;
    while (!stopping(h)) {
        gb_adapter_state_set(&h->st, GB_CONN_CONNECTING);
        char err[300];
        int fd = h->serial ? open_serial(h, err, sizeof err) : open_tcp(h, err, sizeof err);
        if (fd >= 0) {
            if (session(h, fd)) backoff = 200 * GB_NS_PER_MS;
            close(fd);
        } else if (!stopping(h)) {
            gb_adapter_state_error(&h->st, "%s", err);
        }
        if (stopping(h)) break;
        gb_adapter_state_set(&h->st, GB_CONN_DISCONNECTED);
        sleep_until(h, gb_mono_ns() + backoff);
        backoff = backoff * 2 < h->dur[D_RECONNECT_MAX] ? backoff * 2 : h->dur[D_RECONNECT_MAX];
    }
    gb_adapter_state_set(&h->st, GB_CONN_STOPPED);
    return NULL;
}

static int haas_start(void *state)
{
    haas_t *h = state;
    h->running = pthread_create(&h->thread, NULL, haas_main, h) == 0;
    return h->running ? 0 : GB_EIO;
}

static void haas_stop(void *state)
{
    haas_t *h = state;
    atomic_store(&h->stop, true);
    if (h->running) pthread_join(h->thread, NULL);
    h->running = false;
}

static void haas_destroy(void *state)
{
    haas_t *h = state;
    if (!h) return;
    haas_stop(h);
    free(h->targets);
    free(h->vars);
    gb_adapter_state_clear(&h->st);
    free(h);
}

static void haas_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((haas_t *)state)->st, out);
}

/* The two classes differ only in their type, summary and keys. */
#define HAAS_CLASS(type_, summary_, keys_)                                                         \
    {                                                                                              \
        .version = GB_ADAPTER_API_VERSION, .type = type_, .summary = summary_, .keys = keys_,     \
        .check = haas_check, .create = haas_create, .start = haas_start, .stop = haas_stop,        \
        .destroy = haas_destroy, .status = haas_status,                                            \
    }

const gb_adapter_class_t gb_haas_mdc_adapter = HAAS_CLASS(
    "haas-mdc", "Haas MDC: polls a Haas CNC control's Q-commands on its TCP port (Setting 143)",
    tcp_keys);

const gb_adapter_class_t gb_haas_mdc_serial_adapter = HAAS_CLASS(
    "haas-mdc-serial",
    "Haas MDC over RS-232: polls a Haas CNC control's Q-commands on its serial port", serial_keys);
