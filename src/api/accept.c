/*
 * Taking connections: a thread of our own accepts them on the listen socket and hands each to
 * libmicrohttpd with MHD_add_connection, which gives it to the pool thread its socket number
 * picks -- several collectors that connect at once are spread over the pool. Left to
 * libmicrohttpd, every pool thread polls the one listen socket and the first to wake takes all
 * the connections waiting, so a bench's or a plant's writers often all landed on one thread.
 * Spread, their writes are stored on their own connections' threads side by side (store_routes.c)
 * without a hand-off to another thread.
 *
 * A failure to accept that is the machine's (out of file descriptors or memory) is logged once
 * until accepting works again, and the thread waits 100 ms before it tries again instead of
 * spinning; the connection stays in the kernel's queue meanwhile.
 */
#include "api/server.h"
#include "gemba/log.h"
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

/* Takes the connections waiting (the listen socket is non-blocking). *FAILING is set on a
 * failure that needs a pause (logged when it was not set already), and cleared, logged, once
 * every connection waiting has been taken: a table of descriptors that is full again after one
 * connection is not told twice. */
static void take_waiting(gb_api_accept_t *a, bool *failing)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int c = accept4(a->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (*failing) gb_info("http", "accepting connections again");
                *failing = false;
                return;
            }
            /* the client gave up before we took it, or a signal: the next one */
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO) continue;
            if (!*failing)
                gb_error("http", "cannot accept connections: %s (tried again every 100 ms)",
                         strerror(errno));
            *failing = true;
            return;
        }
        /* the socket is libmicrohttpd's from here, closed by it even when it refuses it (its
         * connection limit) */
        MHD_add_connection(a->mhd, c, (struct sockaddr *)&ss, sl);
    }
}

static void *accept_main(void *arg)
{
    gb_api_accept_t *a = arg;
    bool failing = false;
    while (!atomic_load(&a->stop)) {
        /* after a failure, only the stop is waited for, 100 ms: the connections still waiting
         * keep the listen socket readable */
        struct pollfd p[2] = {{.fd = a->wake, .events = POLLIN}, {.fd = a->fd, .events = POLLIN}};
        int n = poll(p, failing ? 1 : 2, failing ? 100 : -1);
        if (n < 0 && errno != EINTR) { /* out of memory, say: as a failure to accept */
            if (!failing)
                gb_error("http", "cannot accept connections: poll: %s (tried again every 100 ms)",
                         strerror(errno));
            failing = true;
            usleep(100 * 1000);
            continue;
        }
        if (n > 0 && p[0].revents) break; /* stopping */
        if (n > 0 || failing) take_waiting(a, &failing);
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
