/*
 * A fake Haas CNC control for the integration tests: answers MDC Q-commands (Q100, Q101, Q102,
 * Q104, Q500, Q600) on a TCP port or a serial line (a pty in the tests) with the framing real
 * controls use. It runs program O01234 in cycles: each ?Q500 is one step, the control is BUSY for
 * CYCLE-1 steps, then the part completes (the counter advances) and it reports IDLE once. The
 * counter is kept in --state FILE, so a control that is killed and started again goes on counting,
 * as a real one does. Macro #5021 reads 12.5, #3027 (spindle speed) 1200 while busy and 0
 * otherwise, other variables below 100000 read 0, and higher ones are refused (INVALID NUMBER).
 *
 * usage: gb_haas_machine (--listen HOST:PORT | --tty PATH) [--ready-file PATH] [--state FILE]
 *                        [--parts N] [--cycle N] [--framing etb|crlf-etb|plain] [--short-macro]
 *                        [--verbose]
 *   --listen        TCP (port 0: a free one); the ready file gets HOST:PORT
 *   --tty           serve the serial line PATH; the ready file gets PATH
 *   --framing       etb: STX text ETB CR LF > (default); crlf-etb: STX text CR LF ETB >;
 *                   plain: > text CR LF
 *   --short-macro   answer ?Q600 as `MACRO, value` (newer controls) instead of
 *                   `MACRO, var, value`
 * SIGUSR1 turns the alarm on or off (status ALARM ON, no parts), SIGUSR2 garbles the next reply,
 * SIGTERM or SIGINT stop it (exit 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t stop, alarm_toggles, garble;

static void on_signal(int s)
{
    if (s == SIGUSR1) alarm_toggles++;
    else if (s == SIGUSR2) garble = 1;
    else stop = 1;
}

static struct {
    long long parts;
    long cycle, steps;
    bool alarm, busy, short_macro, verbose;
    const char *state, *framing;
} m = {380, 4, 0, false, false, false, false, NULL, "etb"};

static void save_parts(void)
{
    if (!m.state) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", m.state);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%lld\n", m.parts);
    if (fclose(f) == 0) rename(tmp, m.state);
}

/* The answer to one request line. */
static void answer(const char *req, char *out, size_t cap)
{
    if (!strcmp(req, "?Q100")) snprintf(out, cap, "SERIAL NUMBER, 1234567");
    else if (!strcmp(req, "?Q101")) snprintf(out, cap, "SOFTWARE VERSION, 100.21.000.1104");
    else if (!strcmp(req, "?Q102")) snprintf(out, cap, "MODEL, VF2");
    else if (!strcmp(req, "?Q104")) snprintf(out, cap, "MODE, MEM");
    else if (!strcmp(req, "?Q500")) {
        if (m.alarm) {
            m.busy = false;
            snprintf(out, cap, "PROGRAM, O01234, ALARM ON, PARTS, %lld", m.parts);
            return;
        }
        m.steps++;
        m.busy = m.steps % m.cycle != 0;
        if (m.busy) {
            snprintf(out, cap, "STATUS, BUSY");
            return;
        }
        m.parts++;
        save_parts();
        snprintf(out, cap, "PROGRAM, O01234, IDLE, PARTS, %lld", m.parts);
    } else if (!strncmp(req, "?Q600 ", 6)) {
        char *end;
        long var = strtol(req + 6, &end, 10);
        double v = var == 5021 ? 12.5 : var == 3027 ? (m.busy ? 1200 : 0) : 0;
        if (*end || var < 1 || var >= 100000) snprintf(out, cap, "INVALID NUMBER");
        else if (m.short_macro) snprintf(out, cap, "MACRO, %12.6f", v);
        else snprintf(out, cap, "MACRO, %ld, %.6f", var, v);
    } else {
        snprintf(out, cap, "UNKNOWN");
    }
}

static void reply(int fd, const char *text)
{
    char buf[512];
    int n;
    if (!strcmp(m.framing, "plain")) n = snprintf(buf, sizeof buf, ">%s\r\n", text);
    else if (!strcmp(m.framing, "crlf-etb")) n = snprintf(buf, sizeof buf, "\x02%s\r\n\x17>", text);
    else n = snprintf(buf, sizeof buf, "\x02%s\x17\r\n>", text);
    if (garble) { /* one malformed reply: a control byte in the middle of the text */
        garble = 0;
        buf[4] = 0x01;
    }
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w <= 0) return;
        off += (int)w;
    }
}

/* Serves the request lines in the bytes read from FD; false when the peer is gone. */
static bool serve(int fd, char *line, size_t *len, size_t cap)
{
    char buf[256];
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (r <= 0) return false;
    for (ssize_t i = 0; i < r; i++) {
        if (buf[i] != '\r' && buf[i] != '\n') {
            if (*len < cap - 1) line[(*len)++] = buf[i];
            continue;
        }
        line[*len] = 0;
        while (*len && line[*len - 1] == ' ') line[--*len] = 0;
        if (*len) {
            char out[256];
            answer(line, out, sizeof out);
            if (m.verbose) fprintf(stderr, "req %s -> %s\n", line, out);
            reply(fd, out);
        }
        *len = 0;
    }
    return true;
}

static int open_tty(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY);
    struct termios tio;
    if (fd < 0 || tcgetattr(fd, &tio) != 0) return -1;
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
    tcflush(fd, TCIOFLUSH); /* a control that was off heard nothing */
    return fd;
}

static int listen_on(const char *hostport, char *bound, size_t cap)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    snprintf(bound, cap, "%s:%d", host, ntohs(sa.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    const char *listen_addr = NULL, *tty = NULL, *ready = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--short-macro")) m.short_macro = true;
        else if (!strcmp(a, "--verbose")) m.verbose = true;
        else if (v && !strcmp(a, "--listen")) listen_addr = argv[++i];
        else if (v && !strcmp(a, "--tty")) tty = argv[++i];
        else if (v && !strcmp(a, "--ready-file")) ready = argv[++i];
        else if (v && !strcmp(a, "--state")) m.state = argv[++i];
        else if (v && !strcmp(a, "--parts")) m.parts = atoll(argv[++i]);
        else if (v && !strcmp(a, "--cycle")) m.cycle = atol(argv[++i]);
        else if (v && !strcmp(a, "--framing")) m.framing = argv[++i];
        else {
            fprintf(stderr, "gb_haas_machine: bad argument '%s'\n", a);
            return 2;
        }
    }
    if (!listen_addr == !tty || m.cycle < 1) {
        fprintf(stderr, "usage: gb_haas_machine (--listen HOST:PORT | --tty PATH) [options]\n");
        return 2;
    }
    FILE *sf = m.state ? fopen(m.state, "r") : NULL;
    if (sf) {
        if (fscanf(sf, "%lld", &m.parts) != 1) m.parts = 0;
        fclose(sf);
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns on a signal */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char where[300];
    int lfd = -1, cfd = -1;
    if (tty) {
        if ((cfd = open_tty(tty)) < 0) {
            fprintf(stderr, "gb_haas_machine: cannot open %s: %s\n", tty, strerror(errno));
            return 1;
        }
        snprintf(where, sizeof where, "%s", tty);
    } else if ((lfd = listen_on(listen_addr, where, sizeof where)) < 0) {
        fprintf(stderr, "gb_haas_machine: cannot listen on %s: %s\n", listen_addr, strerror(errno));
        return 1;
    }
    if (ready) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", where) < 0 || fclose(f) != 0 || rename(tmp, ready) != 0) {
            fprintf(stderr, "gb_haas_machine: cannot write %s\n", ready);
            return 1;
        }
    }
    char line[256];
    size_t len = 0;
    while (!stop) {
        while (alarm_toggles > 0) {
            alarm_toggles--;
            m.alarm = !m.alarm;
        }
        struct pollfd p[2] = {{cfd, POLLIN, 0}, {lfd, POLLIN, 0}};
        if (poll(p, 2, 100) <= 0) continue;
        if (p[1].revents & POLLIN) { /* a new client replaces the old: it is reconnecting */
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                if (cfd >= 0) close(cfd);
                cfd = fd;
                len = 0;
                continue;
            }
        }
        if (cfd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !serve(cfd, line, &len, sizeof line)) {
            if (tty) {
                usleep(50 * 1000); /* nobody at the other end of the line yet */
                continue;
            }
            close(cfd);
            cfd = -1;
        }
    }
    return 0;
}
