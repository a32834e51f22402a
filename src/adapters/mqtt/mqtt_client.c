/*
 * The MQTT connection behind the `mqtt` and `sparkplug-b` adapters. One thread per client runs
 * libmosquitto's loop in 100 ms steps (so a stop is seen quickly), connects with back-off doubling
 * from 200 ms to `reconnect_max`, and subscribes again on every connection: a broker that restarted
 * without persistence has forgotten the session.
 *
 * Defaults favour losing nothing: QoS 1 and a persistent session (clean_session: false) with a
 * stable client id, so a broker keeps what arrives while gemba reconnects. The id defaults to
 * gemba-<host name>-<adapter name>; two gemba instances on one broker need distinct ids.
 */
#include "adapters/mqtt/mqtt_client.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <mosquitto.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gb_mqtt {
    struct mosquitto *mosq;
    gb_adapter_state_t *st;
    gb_mqtt_handlers_t h;
    char host[256];
    int port, keepalive_s, qos;
    int64_t reconnect_max_ns;
    char **subs;
    size_t nsubs;
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop, running;
    /* final message, handed from gb_mqtt_stop() to the thread */
    const char *final_topic;
    const void *final_payload;
    size_t final_len;
    /* the thread's own */
    bool connected, refused;
    int final_mid;
    bool final_done;
    char log_err[200]; /* libmosquitto's last error log line (TLS reasons live there) */
    bool tls;
};

/* libmosquitto's global state lives while any client does (its cleanup frees what TLS set up) */
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static int lib_users;

static void lib_ref(void)
{
    pthread_mutex_lock(&lib_mu);
    if (lib_users++ == 0) mosquitto_lib_init();
    pthread_mutex_unlock(&lib_mu);
}

static void lib_unref(void)
{
    pthread_mutex_lock(&lib_mu);
    if (--lib_users == 0) mosquitto_lib_cleanup();
    pthread_mutex_unlock(&lib_mu);
}

/* ---- configuration ----------------------------------------------------------------------------
 */

static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify_hostname", NULL};

int gb_mqtt_check(const gb_cnode_t *c, gb_diag_t *diag)
{
    size_t before = diag->n;
    const char *s;
    int64_t v, ns;
    gb_cfg_str(c, "host", false, "adapter", &s, diag);
    gb_cfg_int(c, "port", false, "adapter", 1, 65535, &v, diag);
    gb_cfg_str(c, "client_id", false, "adapter", &s, diag);
    gb_cfg_str(c, "username", false, "adapter", &s, diag);
    gb_cfg_str(c, "password", false, "adapter", &s, diag);
    gb_cfg_str(c, "password_file", false, "adapter", &s, diag);
    if (gb_cnode_get(c, "password") && gb_cnode_get(c, "password_file")) {
        const gb_cnode_t *n = gb_cnode_get(c, "password_file");
        gb_diag_add(diag, n->line, n->col, "give 'password' or 'password_file', not both");
    }
    if ((gb_cnode_get(c, "password") || gb_cnode_get(c, "password_file")) &&
        !gb_cnode_get(c, "username")) {
        const gb_cnode_t *n = gb_cnode_get(c, "password") ? gb_cnode_get(c, "password")
                                                          : gb_cnode_get(c, "password_file");
        gb_diag_add(diag, n->line, n->col, "a password needs a 'username'");
    }
    gb_cfg_int(c, "keepalive", false, "adapter", 5, 3600, &v, diag);
    if (gb_cfg_duration(c, "reconnect_max", false, "adapter", &ns, diag) == 0 &&
        ns < GB_NS_PER_MS) {
        const gb_cnode_t *n = gb_cnode_get(c, "reconnect_max");
        gb_diag_add(diag, n->line, n->col, "'reconnect_max' must be at least 1ms");
    }
    bool b;
    gb_cfg_bool(c, "clean_session", false, "adapter", &b, diag);
    gb_cfg_int(c, "qos", false, "adapter", 0, 2, &v, diag);
    const gb_cnode_t *tls;
    if (gb_cfg_node(c, "tls", false, "adapter", GB_CNODE_MAP, &tls, diag) == 0) {
        gb_cfg_check_keys(tls, "tls", tls_keys, diag);
        gb_cfg_str(tls, "ca_file", true, "tls", &s, diag); /* the CA of the broker's certificate */
        gb_cfg_str(tls, "cert_file", false, "tls", &s, diag);
        gb_cfg_str(tls, "key_file", false, "tls", &s, diag);
        if (!gb_cnode_get(tls, "cert_file") != !gb_cnode_get(tls, "key_file"))
            gb_diag_add(diag, tls->line, tls->col,
                        "a client certificate needs both 'cert_file' and 'key_file'");
        gb_cfg_bool(tls, "verify_hostname", false, "tls", &b, diag);
    }
    return (int)(diag->n - before);
}

static const char *cfg_str(const gb_cnode_t *c, const char *key, const char *dflt)
{
    const char *s = dflt;
    gb_cfg_str(c, key, false, "", &s, NULL);
    return s;
}

/* Reads the first line of PATH into BUF. */
static int read_secret(const char *path, char *buf, size_t bufsz, char *err, size_t errsz)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errsz, "cannot read password_file %s: %s", path, strerror(errno));
        return GB_EIO;
    }
    if (!fgets(buf, (int)bufsz, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

/* ---- libmosquitto callbacks (on the client's thread) ------------------------------------------
 */

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
    (void)m;
    gb_mqtt_t *c = obj;
    if (level == MOSQ_LOG_ERR) gb_strlcpy(c->log_err, str, sizeof c->log_err);
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    gb_mqtt_t *c = obj;
    if (rc != 0) {
        gb_adapter_state_error(c->st, "the broker refused the connection: %s",
                               mosquitto_connack_string(rc));
        c->refused = true;
        return;
    }
    for (size_t i = 0; i < c->nsubs; i++) {
        int r = mosquitto_subscribe(m, NULL, c->subs[i], c->qos);
        if (r != MOSQ_ERR_SUCCESS)
            gb_adapter_state_error(c->st, "cannot subscribe to %s: %s", c->subs[i],
                                   mosquitto_strerror(r));
    }
    c->connected = true;
    pthread_mutex_lock(&c->st->mu);
    c->st->st.connects++;
    pthread_mutex_unlock(&c->st->mu);
    gb_adapter_state_set(c->st, GB_CONN_CONNECTED);
    if (c->h.connected) c->h.connected(c->h.ctx, c);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    gb_mqtt_t *c = obj;
    c->h.message(c->h.ctx, c, msg->topic, msg->payload,
                 msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, msg->retain);
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m;
    gb_mqtt_t *c = obj;
    if (mid == c->final_mid) c->final_done = true;
}

/* ---- the thread -------------------------------------------------------------------------------
 */

bool gb_mqtt_stopping(gb_mqtt_t *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static void say_goodbye(gb_mqtt_t *c)
{
    pthread_mutex_lock(&c->mu);
    const char *topic = c->final_topic;
    pthread_mutex_unlock(&c->mu);
    if (!topic || !c->connected) return;
    c->final_mid = -1;
    c->final_done = false;
    if (mosquitto_publish(c->mosq, &c->final_mid, topic, (int)c->final_len, c->final_payload, 1,
                          true) != MOSQ_ERR_SUCCESS)
        return;
    int64_t until = gb_mono_ns() + GB_NS_PER_S;
    while (!c->final_done && gb_mono_ns() < until)
        if (mosquitto_loop(c->mosq, 50, 1) != MOSQ_ERR_SUCCESS) break;
}

/*
 * libmosquitto sets up its OpenSSL state on the first TLS connect, behind an unguarded flag: two
 * clients connecting at once would both set it up and one copy would leak. The first TLS connect
 * of the process therefore runs alone; later ones run in parallel.
 */
static pthread_mutex_t tls_first_mu = PTHREAD_MUTEX_INITIALIZER;
static bool tls_first_done; /* guarded by tls_first_mu */

static int tls_connect_guard(gb_mqtt_t *c)
{
    bool alone = false;
    if (c->tls) {
        pthread_mutex_lock(&tls_first_mu);
        alone = !tls_first_done;
        if (!alone) pthread_mutex_unlock(&tls_first_mu);
    }
    int rc = mosquitto_connect(c->mosq, c->host, c->port, c->keepalive_s);
    if (alone) {
        tls_first_done = true;
        pthread_mutex_unlock(&tls_first_mu);
    }
    return rc;
}

/*
 * Records why the connection failed or ended. The wording depends only on whether the broker
 * had accepted this connection, not on the step that failed (a TLS handshake fails in the connect
 * call or in the first loop), so a broker that keeps refusing gemba is logged once.
 */
static void conn_error(gb_mqtt_t *c, int rc)
{
    char why[300];
    if (rc == MOSQ_ERR_ERRNO)
        snprintf(why, sizeof why, "%s", strerror(errno));
    else if (rc == MOSQ_ERR_TLS || c->log_err[0])
        snprintf(why, sizeof why, "%s%s%s", rc == MOSQ_ERR_TLS ? "TLS: " : "",
                 c->log_err[0] ? c->log_err : mosquitto_strerror(rc), "");
    else
        snprintf(why, sizeof why, "%s", mosquitto_strerror(rc));
    if (c->connected)
        gb_adapter_state_error(c->st, "connection to %s:%d lost: %s", c->host, c->port, why);
    else
        gb_adapter_state_error(c->st, "cannot connect to %s:%d: %s", c->host, c->port, why);
}

static void *client_main(void *arg)
{
    gb_mqtt_t *c = arg;
    int64_t backoff = 200 * GB_NS_PER_MS;
    while (!gb_mqtt_stopping(c)) {
        gb_adapter_state_set(c->st, GB_CONN_CONNECTING);
        if (c->h.before_connect) c->h.before_connect(c->h.ctx, c);
        c->connected = c->refused = false;
        c->log_err[0] = 0;
        int rc = tls_connect_guard(c);
        if (rc == MOSQ_ERR_SUCCESS) {
            while (!gb_mqtt_stopping(c) && !c->refused) {
                rc = mosquitto_loop(c->mosq, 100, 1);
                if (rc != MOSQ_ERR_SUCCESS) break;
            }
            if (gb_mqtt_stopping(c))
                say_goodbye(c);
            else if (rc != MOSQ_ERR_SUCCESS && !c->refused)
                conn_error(c, rc);
            if (c->connected) backoff = 200 * GB_NS_PER_MS;
            mosquitto_disconnect(c->mosq);
            mosquitto_loop(c->mosq, 10, 1); /* lets the DISCONNECT out */
        } else {
            conn_error(c, rc);
        }
        c->connected = false;
        if (gb_mqtt_stopping(c)) break;
        gb_adapter_state_set(c->st, GB_CONN_DISCONNECTED);
        for (int64_t slept = 0; slept < backoff && !gb_mqtt_stopping(c); slept += 50 * GB_NS_PER_MS)
            usleep(50 * 1000);
        backoff = backoff * 2 < c->reconnect_max_ns ? backoff * 2 : c->reconnect_max_ns;
    }
    gb_adapter_state_set(c->st, GB_CONN_STOPPED);
    /* a failed TLS handshake leaves OpenSSL's per-thread error state behind; free it with us */
    OPENSSL_thread_stop();
    return NULL;
}

/* ---- life -------------------------------------------------------------------------------------
 */

int gb_mqtt_new(const gb_cnode_t *cfg, const char *name, gb_adapter_state_t *st,
                const char *const *subs, size_t nsubs, const gb_mqtt_handlers_t *h, gb_mqtt_t **out,
                char *err, size_t errsz)
{
    lib_ref();
    *out = NULL;
    gb_mqtt_t *c = gb_xcalloc(1, sizeof *c);
    c->st = st;
    c->h = *h;
    pthread_mutex_init(&c->mu, NULL);
    gb_strlcpy(c->host, cfg_str(cfg, "host", "127.0.0.1"), sizeof c->host);
    int64_t v = 1883;
    gb_cfg_int(cfg, "port", false, "", 1, 65535, &v, NULL);
    c->port = (int)v;
    v = 30;
    gb_cfg_int(cfg, "keepalive", false, "", 5, 3600, &v, NULL);
    c->keepalive_s = (int)v;
    v = 1;
    gb_cfg_int(cfg, "qos", false, "", 0, 2, &v, NULL);
    c->qos = (int)v;
    c->reconnect_max_ns = 30 * GB_NS_PER_S;
    gb_cfg_duration(cfg, "reconnect_max", false, "", &c->reconnect_max_ns, NULL);
    bool clean = false;
    gb_cfg_bool(cfg, "clean_session", false, "", &clean, NULL);
    c->subs = gb_xcalloc(nsubs ? nsubs : 1, sizeof *c->subs);
    for (size_t i = 0; i < nsubs; i++)
        c->subs[i] = gb_xstrdup(subs[i]);
    c->nsubs = nsubs;

    char id[256], hostname[128] = "host";
    gethostname(hostname, sizeof hostname - 1);
    snprintf(id, sizeof id, "gemba-%s-%s", hostname, name);
    c->mosq = mosquitto_new(cfg_str(cfg, "client_id", id), clean, c);
    if (!c->mosq) {
        snprintf(err, errsz, "cannot create an MQTT client: %s", strerror(errno));
        goto fail;
    }
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_threaded_set(c->mosq, true);
    mosquitto_log_callback_set(c->mosq, on_log);
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_message_callback_set(c->mosq, on_message);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    const char *user = cfg_str(cfg, "username", NULL);
    if (user) {
        char pw[512] = "";
        const char *pwp = cfg_str(cfg, "password", NULL),
                   *pwf = cfg_str(cfg, "password_file", NULL);
        if (pwf) {
            if (read_secret(pwf, pw, sizeof pw, err, errsz) != 0) goto fail;
            pwp = pw;
        }
        mosquitto_username_pw_set(c->mosq, user, pwp);
        sodium_memzero(pw, sizeof pw);
    }
    const gb_cnode_t *tls = gb_cnode_get(cfg, "tls");
    if (tls && tls->kind == GB_CNODE_MAP) {
        int rc = mosquitto_tls_set(c->mosq, cfg_str(tls, "ca_file", NULL), NULL,
                                   cfg_str(tls, "cert_file", NULL), cfg_str(tls, "key_file", NULL),
                                   NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errsz, "TLS setup failed: %s (check ca_file, cert_file, key_file)",
                     mosquitto_strerror(rc));
            goto fail;
        }
        bool verify = true;
        gb_cfg_bool(tls, "verify_hostname", false, "", &verify, NULL);
        mosquitto_tls_insecure_set(c->mosq, !verify);
        c->tls = true;
    }
    *out = c;
    return 0;
fail:
    gb_mqtt_free(c);
    return GB_EIO;
}

int gb_mqtt_start(gb_mqtt_t *c)
{
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) return GB_EIO;
    c->running = true;
    return 0;
}

void gb_mqtt_stop(gb_mqtt_t *c, const char *final_topic, const void *payload, size_t len)
{
    if (!c || !c->running) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    c->final_topic = final_topic;
    c->final_payload = payload;
    c->final_len = len;
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->running = false;
}

void gb_mqtt_free(gb_mqtt_t *c)
{
    if (!c) return;
    gb_mqtt_stop(c, NULL, NULL, 0);
    if (c->mosq) mosquitto_destroy(c->mosq);
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free(c->subs);
    pthread_mutex_destroy(&c->mu);
    free(c);
    lib_unref();
}

int gb_mqtt_publish(gb_mqtt_t *c, const char *topic, const void *payload, size_t len, int qos,
                    bool retain)
{
    return mosquitto_publish(c->mosq, NULL, topic, (int)len, payload, qos, retain) ==
                   MOSQ_ERR_SUCCESS
               ? 0
               : GB_EIO;
}

int gb_mqtt_will(gb_mqtt_t *c, const char *topic, const void *payload, size_t len, int qos,
                 bool retain)
{
    return mosquitto_will_set(c->mosq, topic, (int)len, payload, qos, retain) == MOSQ_ERR_SUCCESS
               ? 0
               : GB_EIO;
}
