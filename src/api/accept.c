/*
 * Taking connections: a thread of our own accepts them on the listen socket and hands each to
 * libmicrohttpd with MHD_add_connection, which gives it to the pool thread its socket number
 * picks -- several collectors that connect at once are spread over the pool. Left to
 * libmicrohttpd, every pool thread polls the one listen socket and the first to wake takes all
 * the connections waiting, so a bench's or a plant's writers often all landed on one thread.
 * Spread, their writes are stored on their own connections' threads side by side (store_routes.c)
 * without a hand-off to another thread.
 *
 * At GB_API_CONNECTIONS_MAX connections, and after a failure to accept that is the machine's (out
 * of file descriptors or memory), the thread pauses 100 ms at a time instead of spinning, and
 * the connections wait in the kernel's queue meanwhile; each pause is told once when it starts
 * and once when it ends.
 */
#include "api/server.h"
#include "gemba/log.h"
#include "util/quiet.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct gb_api_accept {
    int fd;   /* the listen socket (ours: closed at the stop) */
    int wake; /* an eventfd written to stop the thread */
    atomic_bool stop;
    struct MHD_Daemon *mhd;
    pthread_t th;
};

/* Why taking connections pauses (100 ms at a time), each told once when it starts and ends --
 * the limit of connections at most once a minute, as a burst of them may reach it again and
 * again. */
typedef enum { TAKING, FAILING, FULL } pause_why_t;

typedef struct pause_state {
    pause_why_t why;
    bool told; /* that this pause began */
} pause_state_t;

static gb_quiet_t full_said = GB_QUIET_INIT; /* the limit, told once a minute */

static void enter(pause_state_t *st, pause_why_t to, const char *err)
{
    if (st->why == to) return;
    if (st->told && st->why == FAILING) gb_info("http", "accepting connections again");
    if (st->told && st->why == FULL)
        gb_info("http", "below the limit of %d connections again", GB_API_CONNECTIONS_MAX);
    st->why = to;
    st->told = false;
    if (to == FAILING) {
        gb_error("http", "cannot accept connections: %s (tried again every 100 ms)", err);
        st->told = true;
    } else if (to == FULL) {
        uint64_t unsaid;
        st->told = gb_quiet_say(&full_said, "full", &unsaid);
        if (st->told)
            gb_warn("http",
                    "at the limit of %d connections: new ones wait in the kernel's queue until "
                    "some close",
                    GB_API_CONNECTIONS_MAX);
    }
}

/* An error of accept that concerns one connection only: the next one is taken. Linux passes a
 * connection's pending network errors on this way; EPERM is a firewall's refusal. */
static bool one_connection(int e)
{
    switch (e) {
    case ECONNABORTED:
    case EINTR:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:
        return true;
    }
    return false;
}

/* Takes the connections waiting (the listen socket is non-blocking) while there is room for
 * them: until the queue is empty (then TAKING) or a pause is due (ST->why says why). */
static void take_waiting(gb_api_accept_t *a, pause_state_t *st)
{
    for (;;) {
        const union MHD_DaemonInfo *in =
            MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (in && in->num_connections >= GB_API_CONNECTIONS_MAX) {
            enter(st, FULL, NULL);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int c = accept4(a->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                enter(st, TAKING, NULL);
                return;
            }
            if (one_connection(errno)) continue;
            enter(st, FAILING, strerror(errno));
            return;
        }
        /* the socket is libmicrohttpd's from here, closed by it even when it refuses it (its
         * own limit, above ours, reached in a burst before its count caught up) */
        if (MHD_add_connection(a->mhd, c, (struct sockaddr *)&ss, sl) != MHD_YES) {
            enter(st, FULL, NULL);
            return;
        }
    }
}

static void *accept_main(void *arg)
{
    gb_api_accept_t *a = arg;
    pause_state_t st = {TAKING, false};
    while (!atomic_load(&a->stop)) {
        /* in a pause, only the stop is waited for, 100 ms: the connections still waiting keep
         * the listen socket readable */
        bool pause = st.why != TAKING;
        struct pollfd p[2] = {{.fd = a->wake, .events = POLLIN}, {.fd = a->fd, .events = POLLIN}};
        int n = poll(p, pause ? 1 : 2, pause ? 100 : -1);
        if (n < 0 && errno != EINTR) { /* out of memory, say: as a failure to accept */
            enter(&st, FAILING, strerror(errno));
            usleep(100 * 1000);
            continue;
        }
        if (n > 0 && p[0].revents) break; /* stopping */
        if (n > 0 || pause) take_waiting(a, &st);
    }
    return NULL;
}

gb_api_accept_t *gb_api_accept_start(int fd, struct MHD_Daemon *mhd)
{
    gb_api_accept_t *a = gb_xcalloc(1, sizeof *a);
    a->fd = fd;
    a->mhd = mhd;
    a->wake = eventfd(0, EFD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    if (a->wake < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        pthread_create(&a->th, NULL, accept_main, a) != 0) {
        gb_error("http", "cannot start taking connections: %s", strerror(errno));
        if (a->wake >= 0) close(a->wake);
        free(a);
        return NULL;
    }
    pthread_setname_np(a->th, "http-accept");
    return a;
}

void gb_api_accept_stop(gb_api_accept_t *a)
{
    if (!a) return;
    uint64_t one = 1;
    atomic_store(&a->stop, true); /* seen within 100 ms even if poll keeps failing */
    /* an eventfd's counter takes a 1 (it could only refuse at 2^64 - 2) */
    while (write(a->wake, &one, sizeof one) < 0 && errno == EINTR) {
    }
    pthread_join(a->th, NULL);
    close(a->wake);
    close(a->fd);
    free(a);
}
