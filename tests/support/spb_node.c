/*
 * A Sparkplug B edge node for tests: one node with one device, driven by commands on stdin, so a
 * test can make it send data, skip a seq, resend a message, die with or without its will, and
 * see it answer a Rebirth request. Encodes with the same schema gemba decodes with.
 *
 *   gb_spb_node --port P --group G --edge E --device D [--bdseq N] [--user U --password W]
 *
 * Node metrics: bdSeq, "Node Control/Rebirth", "Properties/Uptime" (Int64, alias 1).
 * Device metrics: "Inputs/Temperature" (Float, 10), "Counts/Total" (UInt32, 11),
 * "Execution" (String, 12), "Signed/Offset" (Int16, 13), "Running" (Boolean, 14).
 *
 * Commands (one per line): data TEMP COUNT EXEC OFFSET RUNNING | ndata UPTIME | gap | dup |
 * death BDSEQ | ddeath | crash (exit without DISCONNECT: the broker sends the will) | quit.
 * Prints "ready" once born, "rebirth" when it answers a Rebirth request, "ok" after each command.
 */
#include "sparkplug_b.pb-c.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef Gemba__Sparkplug__Payload payload_t;
typedef Gemba__Sparkplug__Payload__Metric metric_t;

static struct mosquitto *mosq;
static const char *group = "g", *edge = "e", *device = "d";
static uint64_t bdseq;
static int seq;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static float temp = 20.5f;
static uint32_t count;
static char exec_state[64] = "READY";
static int offset = -5;
static bool running;
static int64_t uptime;
static uint8_t last_buf[4096];
static size_t last_len;
static char last_topic[256];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void m_init(metric_t *m, const char *name, uint64_t alias, uint32_t dt)
{
    gemba__sparkplug__payload__metric__init(m);
    m->name = (char *)name;
    if (alias) {
        m->has_alias = true;
        m->alias = alias;
    }
    m->has_datatype = dt != 0;
    m->datatype = dt;
}

static void send_payload(const char *type, bool dev, metric_t **ms, size_t n, bool with_seq,
                         bool retain_copy)
{
    payload_t p = GEMBA__SPARKPLUG__PAYLOAD__INIT;
    p.has_timestamp = true;
    p.timestamp = now_ms();
    p.n_metrics = n;
    p.metrics = ms;
    if (with_seq) {
        p.has_seq = true;
        p.seq = (uint64_t)seq;
        seq = (seq + 1) % 256;
    }
    uint8_t buf[4096];
    size_t len = gemba__sparkplug__payload__pack(&p, buf);
    char topic[256];
    snprintf(topic, sizeof topic, "spBv1.0/%s/%s/%s%s%s", group, type, edge, dev ? "/" : "",
             dev ? device : "");
    mosquitto_publish(mosq, NULL, topic, (int)len, buf, 0, false);
    if (retain_copy) {
        memcpy(last_buf, buf, len);
        last_len = len;
        strcpy(last_topic, topic);
    }
}

static void set_values(metric_t *ms, bool names)
{
    m_init(&ms[0], names ? "Inputs/Temperature" : NULL, 10, names ? 9 : 0);
    ms[0].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
    ms[0].float_value = temp;
    m_init(&ms[1], names ? "Counts/Total" : NULL, 11, names ? 7 : 0);
    ms[1].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_INT_VALUE;
    ms[1].int_value = count;
    m_init(&ms[2], names ? "Execution" : NULL, 12, names ? 12 : 0);
    ms[2].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_STRING_VALUE;
    ms[2].string_value = exec_state;
    m_init(&ms[3], names ? "Signed/Offset" : NULL, 13, 2); /* Int16: sign needs the type */
    ms[3].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_INT_VALUE;
    ms[3].int_value = (uint32_t)(int32_t)offset;
    m_init(&ms[4], names ? "Running" : NULL, 14, names ? 11 : 0);
    ms[4].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
    ms[4].boolean_value = running;
}

static void births(void)
{
    metric_t nm[3], *np[3] = {&nm[0], &nm[1], &nm[2]};
    m_init(&nm[0], "bdSeq", 0, 8);
    nm[0].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE;
    nm[0].long_value = bdseq;
    m_init(&nm[1], "Node Control/Rebirth", 0, 11);
    nm[1].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
    m_init(&nm[2], "Properties/Uptime", 1, 4);
    nm[2].value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE;
    nm[2].long_value = (uint64_t)uptime;
    seq = 0;
    send_payload("NBIRTH", false, np, 3, true, false);
    metric_t dm[5], *dp[5] = {&dm[0], &dm[1], &dm[2], &dm[3], &dm[4]};
    set_values(dm, true);
    send_payload("DBIRTH", true, dp, 5, true, false);
}

static void set_will(void)
{
    metric_t m, *mp[1] = {&m};
    m_init(&m, "bdSeq", 0, 8);
    m.value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE;
    m.long_value = bdseq;
    payload_t p = GEMBA__SPARKPLUG__PAYLOAD__INIT;
    p.has_timestamp = true;
    p.timestamp = now_ms();
    p.n_metrics = 1;
    p.metrics = mp;
    uint8_t buf[256];
    size_t len = gemba__sparkplug__payload__pack(&p, buf);
    char topic[256];
    snprintf(topic, sizeof topic, "spBv1.0/%s/NDEATH/%s", group, edge);
    mosquitto_will_set(mosq, topic, (int)len, buf, 1, false);
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc) {
        fprintf(stderr, "spb_node: refused: %s\n", mosquitto_connack_string(rc));
        return;
    }
    char topic[256];
    snprintf(topic, sizeof topic, "spBv1.0/%s/NCMD/%s", group, edge);
    mosquitto_subscribe(m, NULL, topic, 0);
    pthread_mutex_lock(&mu);
    births();
    pthread_mutex_unlock(&mu);
    printf("ready\n");
    fflush(stdout);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    (void)obj;
    payload_t *p = gemba__sparkplug__payload__unpack(NULL, (size_t)msg->payloadlen, msg->payload);
    if (!p) return;
    for (size_t i = 0; i < p->n_metrics; i++)
        if (p->metrics[i]->name && !strcmp(p->metrics[i]->name, "Node Control/Rebirth") &&
            p->metrics[i]->boolean_value) {
            pthread_mutex_lock(&mu);
            births();
            pthread_mutex_unlock(&mu);
            printf("rebirth\n");
            fflush(stdout);
        }
    gemba__sparkplug__payload__free_unpacked(p, NULL);
}

int main(int argc, char **argv)
{
    int port = 1883;
    const char *user = NULL, *pw = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--group"))
            group = argv[i + 1];
        else if (!strcmp(argv[i], "--edge"))
            edge = argv[i + 1];
        else if (!strcmp(argv[i], "--device"))
            device = argv[i + 1];
        else if (!strcmp(argv[i], "--bdseq"))
            bdseq = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--user"))
            user = argv[i + 1];
        else if (!strcmp(argv[i], "--password"))
            pw = argv[i + 1];
        else {
            fprintf(stderr, "spb_node: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mosquitto_lib_init();
    char id[128];
    snprintf(id, sizeof id, "spb-node-%s", edge);
    mosq = mosquitto_new(id, true, NULL);
    if (user) mosquitto_username_pw_set(mosq, user, pw);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_message_callback_set(mosq, on_message);
    set_will();
    mosquitto_reconnect_delay_set(mosq, 1, 1, false);
    if (mosquitto_connect(mosq, "127.0.0.1", port, 10) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "spb_node: cannot connect to port %d\n", port);
        return 1;
    }
    mosquitto_loop_start(mosq);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "";
        sscanf(line, "%31s", cmd);
        pthread_mutex_lock(&mu);
        if (!strcmp(cmd, "data")) {
            int r = 0;
            sscanf(line, "%*s %f %u %63s %d %d", &temp, &count, exec_state, &offset, &r);
            running = r != 0;
            metric_t dm[5], *dp[5] = {&dm[0], &dm[1], &dm[2], &dm[3], &dm[4]};
            set_values(dm, false);
            send_payload("DDATA", true, dp, 5, true, true);
        } else if (!strcmp(cmd, "ndata")) {
            sscanf(line, "%*s %ld", &uptime);
            metric_t m, *mp[1] = {&m};
            m_init(&m, NULL, 1, 0);
            m.value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE;
            m.long_value = (uint64_t)uptime;
            send_payload("NDATA", false, mp, 1, true, true);
        } else if (!strcmp(cmd, "gap")) {
            seq = (seq + 1) % 256;
        } else if (!strcmp(cmd, "dup")) {
            mosquitto_publish(mosq, NULL, last_topic, (int)last_len, last_buf, 0, false);
        } else if (!strcmp(cmd, "death")) {
            unsigned long long b = 0;
            sscanf(line, "%*s %llu", &b);
            metric_t m, *mp[1] = {&m};
            m_init(&m, "bdSeq", 0, 8);
            m.value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE;
            m.long_value = b;
            send_payload("NDEATH", false, mp, 1, false, false);
        } else if (!strcmp(cmd, "ddeath")) {
            send_payload("DDEATH", true, NULL, 0, true, false);
        } else if (!strcmp(cmd, "crash")) {
            _exit(0); /* no DISCONNECT: the broker publishes the will */
        } else if (!strcmp(cmd, "quit")) {
            pthread_mutex_unlock(&mu);
            break;
        }
        pthread_mutex_unlock(&mu);
        usleep(20 * 1000); /* let the loop thread send it */
        printf("ok\n");
    }
    mosquitto_disconnect(mosq);
    mosquitto_loop_stop(mosq, false);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    return 0;
}
