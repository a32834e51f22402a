/*
 * gemba replay-shdr: serves a recorded SHDR log on a TCP port the way an MTConnect adapter does,
 * for testing a setup without the machine. Each client gets the recording from its start, with
 * the recorded timing (or N times faster, or as fast as it reads with --speed max). Timestamps
 * are moved so the recording starts now, keeping its spacing; --start TIME moves the recorded
 * stamps by one offset so the first is TIME, the same for every client (a reconnecting client
 * gets the same stamps again, splices included); --keep-time sends them as recorded.
 * `* PING` gets `* PONG <ms>`. With --loop the recording repeats, time moving on.
 */
#include "adapters/mtconnect/codec_shdr.h"
#include "cli/cli.h"
#include "gemba/api.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PONG_MS 10000

typedef struct rline {
    char *text;      /* without the line end */
    size_t ts_len;   /* length of its timestamp field, 0 when it has none */
    gb_time_t t;     /* its time, never before the line's before it */
    gb_time_t rec;   /* its time as recorded */
} rline_t;

typedef struct replay {
    rline_t *lines;
    size_t n;
    gb_time_t first_t, last_t;
    double speed;    /* 0 = max */
    bool loop, keep_time, has_start;
    gb_time_t start; /* --start: where the recording starts for every client */
} replay_t;

typedef struct client {
    const replay_t *r;
    int fd;
} client_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static bool send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Waits until mono time DUE, answering pings; false when the client is gone or we stop. */
static bool wait_until(int fd, int64_t due)
{
    char buf[512];
    for (;;) {
        int64_t now = gb_mono_ns();
        int ms = due > now ? (int)((due - now + GB_NS_PER_MS - 1) / GB_NS_PER_MS) : 0;
        if (ms > 200) ms = 200;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, ms);
        if (g_stop) return false;
        if (pr > 0) {
            ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
            if (r <= 0) return false;
            buf[r] = 0;
            if (strstr(buf, "* PING")) {
                char pong[32];
                int m = snprintf(pong, sizeof pong, "* PONG %d\n", PONG_MS);
                if (!send_all(fd, pong, (size_t)m)) return false;
            }
        }
        if (gb_mono_ns() >= due) return true;
    }
}

static void *play(void *arg)
{
    client_t c = *(client_t *)arg;
    free(arg);
    const replay_t *r = c.r;
    int64_t mono0 = gb_mono_ns();
    gb_time_t wall0 = gb_now();
    gb_time_t span = r->last_t - r->first_t + GB_NS_PER_S; /* a loop resumes a second later */
    char *out = NULL;
    size_t cap = 0;
    for (int round = 0; !g_stop; round++) {
        for (size_t i = 0; i < r->n && !g_stop; i++) {
            const rline_t *l = &r->lines[i];
            gb_time_t rel = l->ts_len ? l->t - r->first_t + (gb_time_t)round * span : -1;
            if (rel >= 0 && r->speed > 0 && !wait_until(c.fd, mono0 + (int64_t)((double)rel / r->speed)))
                goto done;
            size_t len = strlen(l->text) + 64;
            if (len > cap) {
                cap = len * 2;
                out = gb_xrealloc(out, cap);
            }
            size_t n;
            if (l->ts_len && !r->keep_time) {
                char ts[48];
                /* --start: the stamps as recorded, moved; else at --speed N they follow the wall
                 * clock, at max they keep the spacing */
                gb_time_t t =
                    r->has_start
                        ? l->rec - r->first_t + r->start + (gb_time_t)round * span
                        : wall0 + (r->speed > 0 ? (gb_time_t)((double)rel / r->speed) : rel);
                gb_time_format(t, ts, sizeof ts);
                n = (size_t)snprintf(out, cap, "%s%s\n", ts, l->text + l->ts_len);
            } else {
                n = (size_t)snprintf(out, cap, "%s\n", l->text);
            }
            if (!send_all(c.fd, out, n)) goto done;
        }
        if (!r->loop) {
            /* stay connected like an idle adapter, answering pings, until the client leaves */
            while (!g_stop && wait_until(c.fd, gb_mono_ns() + 200 * GB_NS_PER_MS)) {
            }
            break;
        }
    }
done:
    free(out);
    close(c.fd);
    return NULL;
}

static int load(const char *file, replay_t *r)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "gemba replay-shdr: cannot open %s: %s\n", file, strerror(errno));
        return -1;
    }
    char *ln = NULL;
    size_t lcap = 0;
    ssize_t n;
    size_t cap = 0, lineno = 0;
    bool have = false;
    while ((n = getline(&ln, &lcap, f)) > 0) {
        lineno++;
        while (n && (ln[n - 1] == '\n' || ln[n - 1] == '\r')) ln[--n] = 0;
        if (n == 0) continue;
        if (r->n == cap) {
            cap = cap ? cap * 2 : 256;
            r->lines = gb_xrealloc(r->lines, cap * sizeof *r->lines);
        }
        rline_t *l = &r->lines[r->n++];
        memset(l, 0, sizeof *l);
        l->text = gb_xstrdup(ln);
        const char *bar = strchr(ln, '|');
        size_t fl = bar ? (size_t)(bar - ln) : (size_t)n;
        if (fl >= 19 && gb_shdr_time(ln, fl, &l->t) == 0) {
            l->ts_len = fl;
            l->rec = l->t;
            if (have && l->t < r->last_t) /* spliced recordings: keep their order, not their clock */
                l->t = r->last_t;
            if (!have) r->first_t = l->t;
            r->last_t = l->t;
            have = true;
        }
    }
    free(ln);
    fclose(f);
    if (!r->n) {
        fprintf(stderr, "gemba replay-shdr: %s holds no lines\n", file);
        return -1;
    }
    return 0;
}

int gb_cmd_replay_shdr(int argc, char **argv)
{
    const char *listen_on = "127.0.0.1:7878", *speed_s = "1", *ready = NULL, *start = NULL;
    replay_t r = {0};
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"speed", required_argument, NULL, 's'},
        {"loop", no_argument, NULL, 'L'},         {"keep-time", no_argument, NULL, 'k'},
        {"ready-file", required_argument, NULL, 'r'}, {"start", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen_on = optarg; break;
        case 's': speed_s = optarg; break;
        case 'L': r.loop = true; break;
        case 'k': r.keep_time = true; break;
        case 'r': ready = optarg; break;
        case 'S': start = optarg; break;
        case ':': return gb_cli_usage_error("replay-shdr", "option '%s' needs a value", argv[optind - 1]);
        default: return gb_cli_usage_error("replay-shdr", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return gb_cli_usage_error("replay-shdr", "needs one recording FILE");
    if (!strcmp(speed_s, "max")) {
        r.speed = 0;
    } else {
        char *end;
        r.speed = strtod(speed_s, &end);
        if (*end || !(r.speed > 0) || r.speed > 1e6)
            return gb_cli_usage_error("replay-shdr", "--speed is a factor above 0, or max, not '%s'",
                                      speed_s);
    }
    if (start) {
        if (r.keep_time)
            return gb_cli_usage_error("replay-shdr", "--start and --keep-time exclude each other: "
                                      "one moves the stamps, the other keeps them");
        if (gb_time_parse_rfc3339(start, strlen(start), &r.start) != 0)
            return gb_cli_usage_error("replay-shdr", "--start takes an RFC 3339 time such as "
                                      "2026-03-02T06:00:00Z, not '%s'", start);
        r.has_start = true;
    }
    if (load(argv[optind], &r) != 0) return GB_EXIT_USAGE;
    int fd;
    char url[128], err[256];
    int rc = gb_api_listen(listen_on, &fd, url, sizeof url, err, sizeof err);
    if (rc) {
        fprintf(stderr, "gemba replay-shdr: %s\n", err);
        return rc == GB_EINVAL ? GB_EXIT_USAGE : GB_EXIT_FAIL;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    const char *hostport = url + strlen("http://");
    gb_info("replay", "serving %zu lines of %s on %s (speed %s%s)", r.n, argv[optind], hostport,
            speed_s, r.loop ? ", looping" : "");
    if (ready) {
        FILE *f = fopen(ready, "w");
        if (f) {
            fprintf(f, "%s\n", hostport);
            fclose(f);
        }
    }
    while (!g_stop) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        client_t *cl = gb_xmalloc(sizeof *cl);
        *cl = (client_t){&r, cfd};
        pthread_t t;
        if (pthread_create(&t, NULL, play, cl) != 0) {
            close(cfd);
            free(cl);
            continue;
        }
        pthread_detach(t);
    }
    close(fd);
    gb_info("replay", "stopped");
    /* playing threads see g_stop and leave; the process ends with them */
    for (size_t i = 0; i < r.n; i++) free(r.lines[i].text);
    free(r.lines);
    return GB_EXIT_OK;
}
