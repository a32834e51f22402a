/* The audit log: append-only JSON lines, synced. */
#include "gemba/audit.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gb_audit {
    pthread_mutex_t mu;
    FILE *f;
};

gb_audit_t *gb_audit_open(const char *data_dir)
{
    char *file = gb_xasprintf("%s/audit.jsonl", data_dir);
    FILE *f = fopen(file, "a");
    if (!f) {
        gb_error("audit", "cannot open %s: %s", file, strerror(errno));
        free(file);
        return NULL;
    }
    free(file);
    gb_audit_t *a = gb_xcalloc(1, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->f = f;
    return a;
}

void gb_audit_close(gb_audit_t *a)
{
    if (!a) return;
    fclose(a->f);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int gb_audit_write(gb_audit_t *a, const char *who, const char *action, const char *target,
                   const char *before, const char *after)
{
    char ts[40];
    gb_time_format(gb_now(), ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "time", ts, "who", who, "action",
                          action, "target", target, "before", before, "after", after);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pthread_mutex_lock(&a->mu);
    int rc = 0;
    if (!s || fprintf(a->f, "%s\n", s) < 0 || fflush(a->f) != 0 || fdatasync(fileno(a->f)) != 0) {
        gb_error("audit", "cannot write the audit log: %s", strerror(errno));
        rc = GB_EIO;
    }
    pthread_mutex_unlock(&a->mu);
    free(s);
    return rc;
}
