/*
 * The audit log (see gemba/audit.h): append-only JSON lines, synced, read back newest first.
 *
 * Pages are named by byte offsets: an entry never moves once written, so a page's cursor stays
 * right however many entries arrive while someone reads, and reading a page costs the bytes of
 * that page, not of the whole log.
 */
#include "gemba/audit.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define LINE_LIMIT (1u << 20) /* a longer "line" is not one of ours */

struct gb_audit {
    pthread_mutex_t mu;
    int fd;
    char *path;
};

gb_audit_t *gb_audit_open(const char *data_dir)
{
    char *path = gb_xasprintf("%s/audit.jsonl", data_dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        gb_error("audit", "cannot open %s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    gb_audit_t *a = gb_xcalloc(1, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->fd = fd;
    a->path = path;
    return a;
}

void gb_audit_close(gb_audit_t *a)
{
    if (!a) return;
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}

int gb_audit_write(gb_audit_t *a, const gb_audit_entry_t *e)
{
    char ts[40];
    gb_time_format(gb_now(), ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?}", "time", ts, "who",
                          e->who ? e->who : "?", "via", e->via ? e->via : "?", "action", e->action,
                          "target", e->target, "before", e->before, "after", e->after);
    if (o && e->address) json_object_set_new(o, "address", json_string(e->address));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return GB_EIO;
    size_t n = strlen(s);
    s[n++] = '\n'; /* over the NUL: the line goes out in one write */
    pthread_mutex_lock(&a->mu);
    int rc = 0;
    ssize_t w;
    do w = write(a->fd, s, n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)n || fdatasync(a->fd) != 0) {
        gb_error("audit", "cannot write %s: %s", a->path, w < 0 ? strerror(errno) : "short write");
        rc = GB_EIO;
    }
    pthread_mutex_unlock(&a->mu);
    free(s);
    return rc;
}

/* Reads [off, off + n) of FD into P. */
static int read_at(int fd, char *p, size_t n, int64_t off)
{
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return GB_EIO;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/* Reads the chunk of FD before *BSTART in front of *BUF, which holds [*BSTART, END). */
static int extend(int fd, char **buf, int64_t *bstart, int64_t end)
{
    size_t chunk = (size_t)(*bstart < READ_CHUNK ? *bstart : READ_CHUNK);
    *buf = gb_xrealloc(*buf, (size_t)(end - *bstart) + chunk);
    memmove(*buf + chunk, *buf, (size_t)(end - *bstart));
    *bstart -= (int64_t)chunk;
    return read_at(fd, *buf, chunk, *bstart);
}

int gb_audit_read(gb_audit_t *a, int64_t before, size_t limit, json_t **entries, int64_t *next)
{
    *entries = NULL;
    *next = -1;
    int fd = open(a->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return GB_EIO;
    struct stat st;
    int rc = GB_EIO;
    char *buf = NULL; /* bytes [bstart, end) of the file */
    json_t *arr = json_array();
    if (fstat(fd, &st) != 0) goto out;
    int64_t size = st.st_size, end = before < 0 ? size : before;
    char c;
    if (before > size || (before > 0 && (read_at(fd, &c, 1, before - 1) || c != '\n'))) {
        rc = GB_EINVAL;
        goto out;
    }
    int64_t bstart = end, lend = end; /* the line to emit ends just before lend */
    /* a line still being appended (no newline yet) is not an entry yet */
    while (before < 0 && lend > 0) {
        if (lend - 1 < bstart && extend(fd, &buf, &bstart, end)) goto out;
        if (buf[lend - 1 - bstart] == '\n') break;
        lend--;
    }
    while (json_array_size(arr) < limit && lend > 0) {
        int64_t ls = lend - 1; /* the line is [ls, lend - 1): find ls */
        while (ls > 0) {
            if (ls - 1 < bstart && extend(fd, &buf, &bstart, end)) goto out;
            if (buf[ls - 1 - bstart] == '\n') break;
            if (lend - ls > (int64_t)LINE_LIMIT) goto out; /* not a log we wrote */
            ls--;
        }
        json_t *o = json_loadb(buf + (ls - bstart), (size_t)(lend - 1 - ls), 0, NULL);
        if (json_is_object(o)) json_array_append_new(arr, o);
        else json_decref(o);
        lend = ls;
    }
    *next = lend > 0 ? lend : -1;
    *entries = arr;
    arr = NULL;
    rc = 0;
out:
    json_decref(arr);
    free(buf);
    close(fd);
    return rc;
}
