/*
 * A Modbus TCP server for the integration tests, on libmodbus: known values in every type and
 * byte/word order, a part counter that advances every 100 ms (hr 50), and every request logged on
 * stderr as "req fc=F addr=A n=N" so a test can see how reads were merged. Addresses beyond the
 * mapping answer with exception 2 (illegal data address), as a real device does.
 *
 * usage: gb_modbus_server [--port N | --rtu DEVICE] [--ready-file PATH] [--registers N] [--quiet]
 *        (port 0: a free one; --registers sizes the holding registers, for benchmarks)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static void put64(uint16_t *r, uint64_t v)
{
    for (int i = 0; i < 4; i++) r[i] = (uint16_t)(v >> (48 - 16 * i));
}

int main(int argc, char **argv)
{
    int port = 0, nregs = 200;
    bool quiet = false;
    const char *ready = NULL, *rtu = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--rtu")) {
            rtu = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--quiet")) quiet = true;
        else if (i + 1 < argc && !strcmp(argv[i], "--port")) port = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--ready-file")) ready = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--registers")) nregs = atoi(argv[++i]);
    }
    if (nregs < 200 || nregs > 65536) nregs = 200;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    modbus_mapping_t *mm = modbus_mapping_new(100, 100, nregs, 50);
    for (int i = 200; i < nregs; i++) mm->tab_registers[i] = (uint16_t)i;
    uint16_t *hr = mm->tab_registers, *ir = mm->tab_input_registers;
    hr[0] = 1234;
    hr[1] = 0xFFFE;                  /* int16 -2, uint16 65534 */
    hr[2] = 0x42F7; hr[3] = 0x0000;  /* float32 123.5, abcd */
    hr[4] = 0x0000; hr[5] = 0xC0E8;  /* float32 -7.25, cdab */
    hr[6] = 0x3412; hr[7] = 0x7856;  /* uint32 0x12345678, badc */
    hr[8] = 0x6079; hr[9] = 0xFEFF;  /* int32 -100000, dcba */
    hr[10] = 0x0028;                 /* bits 3 and 5 set */
    hr[20] = 0x4745; hr[21] = 0x4D42; hr[22] = 0x412D; hr[23] = 0x3031; hr[24] = 0; /* "GEMBA-01" */
    double e = 2.718281828;
    uint64_t eb;
    memcpy(&eb, &e, 8);
    put64(hr + 30, eb);              /* float64, abcd */
    put64(hr + 40, (uint64_t)INT64_C(-9000000000)); /* int64, abcd */
    ir[0] = 0xFFFB;                  /* int16 -5 */
    ir[1] = 0x0001; ir[2] = 0x1170;  /* uint32 70000 */
    mm->tab_bits[3] = 1;
    mm->tab_input_bits[7] = 1;

    if (rtu) { /* unit 1 on a serial line (a pty in the tests), 19200 8N1 */
        modbus_t *r = modbus_new_rtu(rtu, 19200, 'N', 8, 1);
        modbus_set_slave(r, 1);
        if (modbus_connect(r) != 0) {
            fprintf(stderr, "cannot open %s: %s\n", rtu, modbus_strerror(errno));
            return 1;
        }
        if (ready) {
            FILE *f = fopen(ready, "w");
            fprintf(f, "%s\n", rtu);
            fclose(f);
        }
        uint8_t rq[MODBUS_RTU_MAX_ADU_LENGTH];
        modbus_set_indication_timeout(r, 0, 200000);
        while (!stop) {
            int n = modbus_receive(r, rq);
            if (n > 0) {
                hr[50]++;
                if (!quiet) fprintf(stderr, "req fc=%d\n", rq[1]);
                modbus_reply(r, rq, n, mm);
            }
        }
        modbus_close(r);
        modbus_free(r);
        modbus_mapping_free(mm);
        return 0;
    }
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    int ls = modbus_tcp_listen(ctx, 4);
    if (ls < 0) {
        fprintf(stderr, "cannot listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    if (ready) {
        FILE *f = fopen(ready, "w");
        fprintf(f, "%d\n", ntohs(sa.sin_port));
        fclose(f);
    }
    fprintf(stderr, "listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    int client = -1;
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    struct timeval last;
    gettimeofday(&last, NULL);
    while (!stop) {
        struct timeval now;
        gettimeofday(&now, NULL);
        if ((now.tv_sec - last.tv_sec) * 1000000 + (now.tv_usec - last.tv_usec) >= 100000) {
            hr[50]++; /* parts keep coming */
            last = now;
        }
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(ls, &rd);
        int maxfd = ls;
        if (client >= 0) {
            FD_SET(client, &rd);
            if (client > maxfd) maxfd = client;
        }
        struct timeval tv = {0, 20000};
        if (select(maxfd + 1, &rd, NULL, NULL, &tv) <= 0) continue;
        if (FD_ISSET(ls, &rd)) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                if (client >= 0) close(client); /* one client at a time: the newest */
                client = c;
                modbus_set_socket(ctx, client);
            }
            continue;
        }
        if (client >= 0 && FD_ISSET(client, &rd)) {
            int n = modbus_receive(ctx, q);
            if (n > 0) {
                int h = modbus_get_header_length(ctx);
                if (!quiet)
                    fprintf(stderr, "req fc=%d addr=%d n=%d\n", q[h], q[h + 1] << 8 | q[h + 2],
                            q[h + 3] << 8 | q[h + 4]);
                modbus_reply(ctx, q, n, mm);
            } else if (n == -1) {
                close(client);
                client = -1;
            }
        }
    }
    if (client >= 0) close(client);
    close(ls);
    modbus_free(ctx);
    modbus_mapping_free(mm);
    return 0;
}
