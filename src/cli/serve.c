/*
 * gemba serve: the daemon. Startup goes from what most often fails to what rarely does -- the
 * plant file, the data directory, the listening socket -- so a mistake is reported before any
 * machine is contacted. The main thread then only waits for a signal (every signal this process
 * handles is blocked in all threads and taken here with sigtimedwait) and syncs the store on its
 * interval.
 *
 * The API serves HTTPS when given --tls-cert and --tls-key, HTTP otherwise, on 127.0.0.1 unless
 * told another address. With no user yet, it logs a one-time setup link for the first admin:
 * there is no default password to forget to change.
 *
 * Shutdown order makes "nothing accepted is lost" hold: stop serving HTTP, stop the adapters (no
 * more publishing), let the bus drain every queue into its consumer, then sync and close the
 * store. Only then is the accepted count compared with the stored count and logged.
 */
#include "cli/cli.h"
#include "gemba/adapter.h"
#include "gemba/api.h"
#include "gemba/audit.h"
#include "gemba/auth.h"
#include "gemba/bus.h"
#include "gemba/error.h"
#include "gemba/latest.h"
#include "gemba/calendar.h"
#include "gemba/oee_live.h"
#include "gemba/jobs.h"
#include "gemba/log.h"
#include "gemba/plant.h"
#include "gemba/store.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_QUEUE_SAMPLES (1u << 20)
#define LATEST_QUEUE_SAMPLES (1u << 18)
#define SETUP_TTL (24 * 3600 * GB_NS_PER_S)

typedef struct store_ctx {
    gb_store_t *store;
    const gb_tags_t *tags;
    uint64_t stored; /* the adapters' samples stored: touched only by the store consumer's thread
                      * until the bus has stopped */
} store_ctx_t;

static int store_deliver(void *ctx, const gb_batch_t *b)
{
    store_ctx_t *s = ctx;
    int rc = gb_store_append(s->store, s->tags, b);
    if (rc == 0) s->stored += b->n;
    return rc;
}

static const gb_consumer_ops_t store_consumer = {GB_CONSUMER_API_VERSION, store_deliver, NULL};

/* The OEE engines' results (state changes, shift KPIs): into the store and the latest values. */
typedef struct results_ctx {
    store_ctx_t *store;
    gb_latest_t *latest;
    gb_stream_t *stream;
    uint64_t written; /* touched only by the OEE consumer's thread until the bus has stopped */
} results_ctx_t;

static int results_sink(void *ctx, const gb_batch_t *b)
{
    results_ctx_t *r = ctx;
    int rc = gb_store_append(r->store->store, r->store->tags, b);
    if (rc == 0) {
        gb_latest_consumer.deliver(r->latest, b);
        gb_stream_batch(r->stream, b);
        r->written += b->n;
    }
    return rc;
}

static int write_ready_file(const char *path, const char *url)
{
    char *tmp = gb_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fprintf(f, "%s\n", url) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        gb_error("serve", "cannot write ready file %s: %s", path, strerror(errno));
        unlink(tmp);
        rc = -1;
    }
    free(tmp);
    return rc;
}

int gb_cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *data = "./gemba-data", *listen = "127.0.0.1:8080",
               *ready = NULL, *level = NULL, *jobs_file = NULL, *sync = NULL, *max_disk = NULL,
               *speed = NULL, *tls_cert = NULL, *tls_key = NULL;
    bool demo = false;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"demo", no_argument, NULL, 'D'},
        {"data", required_argument, NULL, 'd'},   {"listen", required_argument, NULL, 'l'},
        {"ready-file", required_argument, NULL, 'r'}, {"log-level", required_argument, NULL, 'L'},
        {"jobs", required_argument, NULL, 'j'},   {"sync", required_argument, NULL, 's'},
        {"max-disk", required_argument, NULL, 'm'}, {"speed", required_argument, NULL, 'S'},
        {"tls-cert", required_argument, NULL, 'C'}, {"tls-key", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'D': demo = true; break;
        case 'd': data = optarg; break;
        case 'l': listen = optarg; break;
        case 'r': ready = optarg; break;
        case 'L': level = optarg; break;
        case 'j': jobs_file = optarg; break;
        case 's': sync = optarg; break;
        case 'm': max_disk = optarg; break;
        case 'S': speed = optarg; break;
        case 'C': tls_cert = optarg; break;
        case 'K': tls_key = optarg; break;
        case ':': return gb_cli_usage_error("serve", "option '%s' needs a value", argv[optind - 1]);
        default: return gb_cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return gb_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!config && !demo)
        return gb_cli_usage_error("serve", "say which plant to run: --config FILE, or --demo");
    if (config && demo) return gb_cli_usage_error("serve", "give --config FILE or --demo, not both");
    if (!tls_cert != !tls_key)
        return gb_cli_usage_error("serve", "HTTPS needs both --tls-cert FILE and --tls-key FILE");
    gb_store_opts_t sopts = {0};
    if (sync && !strcmp(sync, "always")) sopts.sync_always = true;
    else if (sync && (gb_duration_parse(sync, &sopts.sync_interval_ns) != 0 ||
                      sopts.sync_interval_ns < GB_NS_PER_MS))
        return gb_cli_usage_error("serve", "--sync is always or an interval such as 1s, not '%s'", sync);
    if (max_disk && gb_cli_size_parse(max_disk, &sopts.max_disk_bytes) != 0)
        return gb_cli_usage_error("serve", "--max-disk is a size such as 500MB or 20GiB, not '%s'",
                                  max_disk);
    if (speed) {
        char *end;
        double v = strtod(speed, &end);
        if (*end || !(v > 0 && v <= 1e6))
            return gb_cli_usage_error("serve", "--speed is a factor above 0 and at most 1000000, "
                                               "such as 60, not '%s'", speed);
    }
    if (level) {
        gb_log_level_t lv;
        if (gb_log_level_parse(level, &lv) != 0)
            return gb_cli_usage_error("serve", "--log-level is error, warn, info or debug, not '%s'",
                                      level);
        gb_log_set_level(lv);
    }

    gb_api_tls_t tls = {0};
    if (tls_cert) {
        char terr[300];
        if (gb_api_tls_load(tls_cert, tls_key, &tls, terr, sizeof terr) != 0)
            return gb_cli_usage_error("serve", "%s", terr);
    }

    /* 1. the plant */
    gb_diag_t diag;
    gb_diag_init(&diag, demo ? GB_DEMO_PLANT_NAME : config);
    gb_plant_t *plant = NULL;
    int rc = demo ? gb_plant_load_mem(GB_DEMO_PLANT_NAME, gb_demo_plant_yaml,
                                      gb_demo_plant_yaml_len, &plant, &diag)
                  : gb_plant_load_file(config, &plant, &diag);
    if (rc) {
        gb_diag_print(&diag, stderr);
        gb_diag_clear(&diag);
        gb_api_tls_clear(&tls);
        gb_error("serve", "the plant file has problems (listed above); not starting");
        return GB_EXIT_USAGE;
    }
    gb_diag_clear(&diag);
    /* --speed: simulated machines run that many times faster (the sim adapters' `speed`) */
    for (size_t i = 0; speed && i < plant->nadapters; i++)
        if (!strcmp(plant->adapters[i].type, "sim")) {
            gb_cnode_t *n = (gb_cnode_t *)plant->adapters[i].node; /* the plant owns the tree */
            gb_cnode_map_put(n, "speed", gb_cnode_new_scalar(speed, n->line, n->col));
        }

    /* every thread started from here on inherits this mask; signals arrive in sigtimedwait */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    gb_tz_set(plant->timezone); /* process-wide, before any thread: shifts are local time */
    int exit_code = GB_EXIT_FAIL;
    gb_tags_t *tags = gb_plant_build_tags(plant);
    gb_oee_live_t *oee = NULL;
    gb_auth_t *auth = NULL;
    gb_audit_t *audit = NULL;
    gb_bus_t *bus = NULL;
    gb_store_t *store = NULL;
    gb_latest_t *latest = NULL;
    gb_stream_t *stream = NULL;
    gb_adapter_t *adapters = NULL;
    size_t nadapters = 0;
    gb_api_t *api = NULL;
    int fd = -1;
    char url[128], err[256];
    results_ctx_t rctx = {0};
    store_ctx_t sctx = {0};

    /* 2. the socket: a bad or busy address is reported before anything is written */
    rc = gb_api_listen(listen, &fd, url, sizeof url, err, sizeof err);
    if (rc) {
        gb_error("serve", "%s", err);
        exit_code = rc == GB_EINVAL ? GB_EXIT_USAGE : GB_EXIT_FAIL;
        goto out;
    }

    size_t ulen = strlen(url);
    if (tls_cert && ulen + 1 < sizeof url) { /* http://... -> https://... */
        memmove(url + 5, url + 4, ulen - 3);
        memcpy(url, "https", 5);
    }

    /* 3. the data directory */
    gb_retention_t *ret = gb_xcalloc(plant->nretention ? plant->nretention : 1, sizeof *ret);
    for (size_t i = 0; i < plant->nretention; i++)
        ret[i] = (gb_retention_t){plant->retention[i].tags, plant->retention[i].keep_ns,
                                  plant->retention[i].keep_1m_ns, plant->retention[i].keep_1h_ns};
    sopts.retention = ret;
    sopts.nretention = plant->nretention;
    rc = gb_store_open(data, &sopts, &store);
    free(ret); /* the store keeps its own copy */
    if (rc != 0) goto out;

    /* users, tokens and the audit log; the command line may change the first two at any time */
    if (gb_auth_open(data, &auth) != 0 || !(audit = gb_audit_open(data))) goto out;

    /* 4. the bus and its consumers, then the adapters that feed it */
    bus = gb_bus_new(tags);
    latest = gb_latest_new(tags);
    sctx = (store_ctx_t){store, tags, 0};
    gb_bus_subscribe(bus, "store", GB_BUS_BLOCK, STORE_QUEUE_SAMPLES, &store_consumer, &sctx);
    gb_bus_subscribe(bus, "latest", GB_BUS_DROP, LATEST_QUEUE_SAMPLES, &gb_latest_consumer, latest);
    stream = gb_stream_new(plant, tags);
    gb_bus_subscribe(bus, "stream", GB_BUS_DROP, LATEST_QUEUE_SAMPLES, &gb_stream_consumer, stream);
    /* OEE must see every sample to be exact: it pushes back rather than drop */
    /* one instant for "started": the engines' history and /api/v1/health agree on it */
    gb_time_t started = gb_now();
    int64_t started_mono = gb_mono_ns();
    oee = gb_oee_live_new(plant, tags, started);
    if (jobs_file) {
        gb_jobs_t jobs;
        if (gb_cli_load_jobs(jobs_file, &jobs) != 0) {
            exit_code = GB_EXIT_USAGE;
            goto out;
        }
        gb_info("oee", "%zu jobs from %s", jobs.n, jobs_file);
        gb_oee_live_take_jobs(oee, &jobs);
    }
    {
        /* a restart keeps today's states and OEE: rebuild the engines from the store */
        uint64_t fed = 0;
        int64_t t0 = gb_mono_ns();
        if (gb_oee_live_rebuild(oee, data, started - 8 * 86400 * GB_NS_PER_S, &fed) != 0)
            gb_warn("oee", "could not rebuild machine states from %s; starting them afresh", data);
        else if (fed)
            gb_info("oee", "rebuilt machine states from %llu stored samples in %.0f ms",
                    (unsigned long long)fed, (double)(gb_mono_ns() - t0) / 1e6);
    }
    if (gb_oee_live_changes_open(oee, data) != 0) goto out;
    gb_bus_subscribe(bus, "oee", GB_BUS_BLOCK, STORE_QUEUE_SAMPLES, &gb_oee_live_consumer, oee);
    rctx = (results_ctx_t){&sctx, latest, stream, 0};
    gb_oee_live_set_sink(oee, results_sink, &rctx);
    if (gb_bus_start(bus) != 0) goto out;
    if (gb_adapters_create(plant, tags, bus, &adapters, &nadapters) != 0) goto out;

    gb_api_source_t src = {plant, tags, bus, latest, oee, adapters, nadapters, started,
                           started_mono, data, demo, auth, audit, store, stream};
    api = gb_api_start(fd, &src, tls_cert ? &tls : NULL);
    fd = -1; /* taken */
    if (!api) goto out;
    if (gb_adapters_start(adapters, nadapters) != 0) goto out;

    size_t ntags = 0;
    for (size_t i = 0; i < plant->nmachines; i++) ntags += plant->machines[i].ntags;
    gb_info("serve", "gemba %s serving plant '%s' (%zu machines, %zu tags, %zu adapters%s), data in %s",
            GB_VERSION, plant->site, plant->nmachines, ntags, nadapters,
            demo ? ", demo" : "", data);
    gb_info("serve", "listening on %s", url);
    if (!tls_cert && strncmp(url, "http://127.", 11) && strncmp(url, "http://[::1]", 12))
        gb_warn("serve", "%s is reachable from other hosts without TLS: passwords and sessions "
                "cross the network in clear; serve HTTPS (--tls-cert, --tls-key)", url);
    {
        /* no user yet: a one-time link makes the first admin (there is no default password) */
        char code[GB_AUTH_SETUP_CODE_LEN + 1];
        if (gb_auth_setup_begin(auth, gb_now() + SETUP_TTL, code) == 0)
            gb_warn("auth", "no users yet: open %s/setup?code=%s to create the first admin (the "
                    "link works once, for 24 hours; or run `gemba user add NAME --role admin`)",
                    url, code);
        sodium_memzero(code, sizeof code);
    }
    if (ready && write_ready_file(ready, url) != 0) goto out;

    /* 5. wait for a signal; sync the store on its interval meanwhile */
    bool store_failing = false;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            gb_info("serve", "received %s; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        int src_rc = gb_store_tick(store);
        if (src_rc && !store_failing)
            gb_error("store", "cannot write to %s: %s; holding data in memory and retrying", data,
                     gb_strerror(src_rc));
        else if (!src_rc && store_failing)
            gb_info("store", "writing to %s again", data);
        store_failing = src_rc != 0;
    }
    exit_code = GB_EXIT_OK;

out:
    /* 6. shut down in the order that loses nothing */
    gb_stream_close(stream); /* live-stream clients end, so the server can stop */
    gb_api_stop(api);
    if (fd >= 0) close(fd);
    gb_adapters_stop(adapters, nadapters);
    uint64_t lost = 0;
    if (bus) gb_bus_stop(bus, gb_mono_ns() + 1500 * GB_NS_PER_MS, &lost);
    gb_bus_stats_t st = {0};
    if (bus) gb_bus_stats(bus, &st, NULL, 0);
    uint64_t stored = store ? gb_store_appended(store) : 0;
    if (store && gb_store_close(store) != 0) {
        gb_error("serve", "the data directory could not take everything accepted");
        exit_code = GB_EXIT_FAIL;
    }
    /* the adapters' samples, then what else went into the store: the OEE results, and the
     * points written over HTTP */
    uint64_t http = stored - sctx.stored - rctx.written;
    if (bus)
        gb_info("serve",
                "stopped: %llu samples accepted, %llu stored, %llu lost; %llu OEE results stored; "
                "%llu point%s written over HTTP",
                (unsigned long long)st.published, (unsigned long long)sctx.stored,
                (unsigned long long)lost, (unsigned long long)rctx.written,
                (unsigned long long)http, http == 1 ? "" : "s");
    if (lost) exit_code = GB_EXIT_FAIL;
    if (ready && exit_code == GB_EXIT_OK) unlink(ready);
    gb_adapters_destroy(adapters, nadapters);
    gb_bus_free(bus);
    gb_stream_free(stream);
    gb_latest_free(latest);
    gb_oee_live_free(oee);
    gb_auth_free(auth);
    gb_audit_close(audit);
    gb_api_tls_clear(&tls);
    gb_tags_free(tags);
    gb_plant_free(plant);
    return exit_code;
}
