/* The command table, `gemba help`, `gemba version`, and dispatch. */
#include "cli/cli.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "adapters/haas/haas.h"
#include "adapters/modbus/modbus_tcp.h"
#include "adapters/mqtt/mqtt.h"
#include "adapters/mtconnect/agent.h"
#include "adapters/mtconnect/shdr.h"
#include "gemba/sim.h"
#include "util/str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const gb_command_t commands[] = {
    {"serve", "run the daemon: connect machines, keep their signals, serve the API",
     "usage: gemba serve (--config FILE | --demo) [--data DIR] [--listen HOST:PORT]\n"
     "                   [--jobs FILE] [--sync always|INTERVAL] [--max-disk SIZE]\n"
     "                   [--speed N] [--ready-file PATH] [--log-level LEVEL]\n"
     "                   [--tls-cert FILE --tls-key FILE]\n"
     "\n"
     "Runs gemba: loads the plant file, starts its adapters, keeps every sample in the data\n"
     "directory and serves the HTTP API and the dashboard. With no user yet, it logs a one-time\n"
     "link (/setup?code=...) that creates the first admin (see docs/api.md).\n"
     "\n"
     "  --config FILE      the plant file (see docs/plant-file.md)\n"
     "  --demo             run the built-in simulated plant instead (no file needed)\n"
     "  --speed N          simulated machines (the demo, sim adapters) run N times faster\n"
     "                     than the wall clock (default: each sim adapter's speed, else 1)\n"
     "  --data DIR         data directory, created when missing (default ./gemba-data)\n"
     "  --listen HOST:PORT address to serve on (default 127.0.0.1:8080; port 0 takes a free\n"
     "                     port). Only loopback unless you name another address.\n"
     "  --jobs FILE        work orders (see `gemba help oee`); machines start them through\n"
     "                     their `job_tag`\n"
     "  --sync S           always: every write is on disk (fdatasync) before it is acknowledged;\n"
     "                     an interval (default 1s): a crash can lose up to that much of the\n"
     "                     latest data; a clean stop loses nothing\n"
     "  --max-disk SIZE    refuse new samples once the data directory holds this much\n"
     "                     (e.g. 20GiB); what is stored is kept\n"
     "  --tls-cert FILE    serve HTTPS with this certificate (PEM, chain allowed) ...\n"
     "  --tls-key FILE     ... and its private key (PEM); TLS 1.2 and 1.3 only\n"
     "  --ready-file PATH  when ready, write the base URL (e.g. http://127.0.0.1:40123) here\n"
     "  --log-level LEVEL  error, warn, info (default) or debug\n"
     "\n"
     "Logs go to stderr, one logfmt line per event. SIGINT or SIGTERM stop the daemon within\n"
     "two seconds after storing every sample it accepted.\n"
     "Exit: 0 after a clean stop, 1 on a runtime failure (port busy, data lost), 2 on bad\n"
     "usage or a plant file with problems.\n",
     gb_cmd_serve},
    {"check-config", "check a plant file and report every problem with its line and column",
     "usage: gemba check-config FILE...\n"
     "\n"
     "Checks each plant file as `gemba serve` would load it, without connecting to anything.\n"
     "Prints one line per problem on stderr, FILE:LINE:COL: message, and a summary of each\n"
     "valid file on stdout.\n"
     "Exit: 0 when every file is valid, 2 when any has problems or cannot be read.\n",
     gb_cmd_check_config},
    {"oee", "compute OEE, states and downtime from a plant file and recorded signals",
     "usage: gemba oee --plant FILE (--events FILE | --data DIR) [--from T] [--to T]\n"
     "                 [--by machine|shift|day|week|reason|job|product|operator]\n"
     "                 [--jobs FILE]\n"
     "                 [--asset NAME] [--format json|csv]\n"
     "\n"
     "Runs the same engine as `gemba serve` over a recording, for audits and tests. The events\n"
     "file is CSV with the header time,machine,signal,value: time in RFC 3339, machine as named\n"
     "in the plant file, signal one of its tags, or `reason` (a reason path classifying the stop\n"
     "at that time), `scrap` (parts an operator scrapped), `job` (the job that starts;\n"
     "empty ends it) or `operator` (who logs in; empty logs out). Lines may be in any order.\n"
     "With --data DIR it reads every sample the daemon stored there instead.\n"
     "\n"
     "  --from T, --to T   the window (RFC 3339); default: first to last event\n"
     "  --by GROUP         rows per machine (default), shift instance, production day, ISO\n"
     "                     week, downtime reason (a loss Pareto), job, product or operator;\n"
     "                     a total row sums all\n"
     "  --jobs FILE        work orders: CSV with the header job,product,quantity,\n"
     "                     ideal_cycle_time,due (or a JSON array of such objects); a job's\n"
     "                     ideal cycle time is the PRI of the parts made while it runs\n"
     "  --asset NAME       only machines under this machine, line, area or site (name or path)\n"
     "  --format F         json (default) or csv\n"
     "\n"
     "KPIs follow ISO 22400-2 (docs/oee.md). Exit: 0 ok, 2 bad usage or a file with problems\n"
     "(every problem is listed as FILE:LINE:COL: message; nothing is computed from a partly\n"
     "readable file).\n",
     gb_cmd_oee},
    {"replay-shdr", "serve a recorded MTConnect SHDR log like an adapter, for testing",
     "usage: gemba replay-shdr FILE [--listen HOST:PORT] [--speed N|max] [--loop]\n"
     "                         [--start TIME | --keep-time] [--ready-file PATH]\n"
     "\n"
     "Plays a recorded SHDR log to every client that connects, as an MTConnect adapter would,\n"
     "so a plant file can be tried without the machine. Timestamps are moved so the recording\n"
     "starts when the client connects, keeping its spacing. Answers * PING.\n"
     "\n"
     "  --listen HOST:PORT  where to listen (default 127.0.0.1:7878; port 0 takes a free one)\n"
     "  --speed N|max       N times the recorded pace (default 1); max sends as fast as the\n"
     "                      client reads, with time stamps still spaced as recorded\n"
     "  --loop              start over at the end, time moving on\n"
     "  --start TIME        send the stamps as recorded, moved so the first is TIME (RFC 3339),\n"
     "                      the same for every client: one that reconnects gets them again\n"
     "  --keep-time         send the stamps as recorded\n"
     "  --ready-file PATH   when listening, write HOST:PORT here\n"
     "\n"
     "Exit: 0 after SIGINT/SIGTERM, 1 when it cannot listen, 2 on bad usage or an empty file.\n",
     gb_cmd_replay_shdr},
    {"import", "load CSV (time,tag,value) or InfluxDB line protocol into the store",
     "usage: gemba import [--data DIR] [--format csv|lp] [--precision P] FILE...\n"
     "\n"
     "Reads each FILE (- for standard input) into the store in DIR. A file ending in .lp (or\n"
     "--format lp) is InfluxDB line protocol: each field is a series named\n"
     "MEASUREMENT[,TAG=VALUE...]#FIELD, a line without a time gets the time of the import.\n"
     "Otherwise it is CSV with the header time,tag,value: time RFC 3339 (up to 9 fraction\n"
     "digits) or integer ns, value true/false (bool), 12i (int), a number (float) or text.\n"
     "A bad line is refused and reported with its line number; everything else is imported.\n"
     "A second point for the same series and time replaces the first.\n"
     "\n"
     "  --data DIR       the data directory (default ./gemba-data); not one a daemon is using\n"
     "  --format F       csv or lp (default: by file name)\n"
     "  --precision P    line-protocol times in ns (default), us, ms, s, m or h\n"
     "\n"
     "Exit: 0 ok, 1 when the store cannot be written, 2 on bad usage or refused input.\n",
     gb_cmd_import},
    {"query", "read series from the store: raw points or aggregates, as CSV or JSON",
     "usage: gemba query [--data DIR] TAG... [--from T] [--to T] [--agg FUNC --step D]\n"
     "                   [--format csv|json]\n"
     "\n"
     "Prints the points of each series (as `gemba store stats` names them) with\n"
     "from <= time < to, as CSV with the header time,tag,value -- the import format, with\n"
     "floats in the shortest form that reads back exactly -- or as JSON. Times are RFC 3339,\n"
     "integer ns, now, or -DURATION before now (-1h).\n"
     "\n"
     "  --agg FUNC   count, min, max, sum, avg, first, last, stddev, or twa (time-weighted\n"
     "               average: each value holds until the next), one row per --step window\n"
     "               that has data; needs --from and --to\n"
     "  --format F   csv (default) or json\n"
     "\n"
     "Safe to run while the daemon writes. Exit: 0 ok, 1 when the store cannot be read, 2 on\n"
     "bad usage or an unknown series.\n",
     gb_cmd_query},
    {"store", "inspect the data directory (store stats)",
     "usage: gemba store stats [--data DIR] [--format text|json]\n"
     "\n"
     "Reports what the data directory holds: series, points, bytes on disk, bytes per point,\n"
     "and points per series. Safe to run while the daemon writes.\n"
     "Exit: 0 ok, 1 when the store cannot be read, 2 on bad usage.\n",
     gb_cmd_store},
    {"sim", "what-if runs of the plant simulator: throughput, WIP, lead time, bottlenecks",
     "usage: gemba sim MODEL.yaml [--until D] [--warmup D] [--reps N] [--seed S]\n"
     "                 [--set PATH=VALUE ...] [--format table|json] [--threads N]\n"
     "\n"
     "Simulates the machines of a plant file that have a sim: section (or are bound to a sim\n"
     "adapter), with its products, routes, buffers, failures, setups, shifts and repair crew\n"
     "(docs/simulation.md), and reports for each machine the share of time running, starved,\n"
     "blocked, down, in setup, micro-stopped and in planned stop, and for each line the good\n"
     "parts per hour, scrap, WIP and lead time, as means with 95% confidence intervals over\n"
     "the replications, and the bottleneck with the rule that named it. Time starts on a\n"
     "Monday at 00:00 and follows the weekly shift pattern. The same seed prints the same bytes.\n"
     "\n"
     "  --until D      length of each replication, warm-up included (default: the model's\n"
     "                 simulation.until, else 7d)\n"
     "  --warmup D     time at the start whose statistics are deleted (default 1d)\n"
     "  --reps N       independent replications (default 10)\n"
     "  --seed S       random seed (default 1)\n"
     "  --set P=V      change the model before the run; P is a dotted path from the top of\n"
     "                 the file, lists entered by item name, and a machine by its name:\n"
     "                 --set mill01.sim.buffer=5  --set simulation.repair_crew=2\n"
     "                 --set 'lathe01.sim.cycle=normal(40s, 3s)'\n"
     "  --format F     table (default) or json\n"
     "  --threads N    replications run side by side (default: one per CPU; 0 = the same)\n"
     "\n"
     "Exit: 0 ok, 1 when the file cannot be read, 2 on bad usage or a bad model\n"
     "(FILE:LINE:COL: message).\n",
     gb_cmd_sim},
    {"user", "add users, change their passwords, delete them (people of the dashboard)",
     "usage: gemba user add NAME --role ROLE [--data DIR]\n"
     "       gemba user passwd NAME [--data DIR]\n"
     "       gemba user del NAME [--data DIR]\n"
     "       gemba user list [--data DIR]\n"
     "\n"
     "Manages the people who sign in to the API and the dashboard. ROLE is viewer (reads),\n"
     "operator (also classifies stops and enters scrap), engineer (also writes values back and\n"
     "into the historian, changes configuration) or admin (also manages users and tokens and\n"
     "reads the audit log). The password is asked twice on a terminal, or read from the first\n"
     "line of standard input; it is stored only as an argon2id hash. A new password ends the\n"
     "user's sessions. The last admin cannot be deleted.\n"
     "\n"
     "Works on the data directory whether or not a daemon runs on it: a running daemon takes\n"
     "the change at its next request. Every change goes to the audit log (via \"cli\").\n"
     "  --data DIR   the daemon's data directory (default ./gemba-data)\n"
     "Exit: 0 ok, 1 when the directory cannot be written, 2 on bad usage, a bad name or\n"
     "password, a taken or unknown name, or the last admin.\n",
     gb_cmd_user},
    {"token", "create, revoke and list API tokens (for integrations)",
     "usage: gemba token create --role ROLE [--id NAME] [--data DIR]\n"
     "       gemba token revoke ID [--data DIR]\n"
     "       gemba token list [--data DIR]\n"
     "\n"
     "An API token lets a program call the API with the rights of ROLE (viewer, operator,\n"
     "engineer, admin; see `gemba help user`), sent as 'Authorization: Bearer <token>'.\n"
     "create prints the new token; only its hash is stored, so this is the one time it can be\n"
     "read. revoke ends it at once. A running daemon takes either at its next request.\n"
     "  --role ROLE  the token's role (create needs it)\n"
     "  --id NAME    a name for the token, shown as `who` in the audit log (default: ROLE-N)\n"
     "  --data DIR   the daemon's data directory (default ./gemba-data)\n"
     "Exit: 0 ok, 1 when the directory cannot be written, 2 on bad usage, a taken name or an\n"
     "unknown token.\n",
     gb_cmd_token},
    {"version", "print the version", "usage: gemba version\n", cmd_version},
    {"help", "explain a command", "usage: gemba help [COMMAND]\n", cmd_help},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void gb_cli_register_adapters(void)
{
    gb_adapter_register(&gb_sim_adapter);
    gb_sim_register(); /* the plant file's simulation: and sim: sections */
    gb_adapter_register(&gb_shdr_adapter);
    gb_adapter_register(&gb_modbus_tcp_adapter);
    gb_adapter_register(&gb_modbus_rtu_adapter);
    gb_adapter_register(&gb_mqtt_adapter);
    gb_adapter_register(&gb_sparkplug_adapter);
    gb_adapter_register(&gb_haas_mdc_adapter);
    gb_adapter_register(&gb_haas_mdc_serial_adapter);
    gb_adapter_register(&gb_mtc_agent_adapter);
}

int gb_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gemba %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsee 'gemba help %s'\n", cmd);
    return GB_EXIT_USAGE;
}

static void overview(FILE *out)
{
    fprintf(out, "gemba %s: the shop-floor platform: connect machines, keep their signals, "
                 "compute OEE.\n\nusage: gemba COMMAND [OPTIONS]\n\ncommands:\n",
            GB_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'gemba help COMMAND' explains one. Exit codes: 0 ok, 1 runtime failure, "
                 "2 bad usage or bad input.\n");
}

static const gb_command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i].name;
    names[NCOMMANDS] = NULL;
    const char *near = gb_did_you_mean(name, names);
    if (near)
        fprintf(stderr, "gemba: unknown command '%s'; did you mean '%s'?\n", name, near);
    else
        fprintf(stderr, "gemba: unknown command '%s'\n", name);
    fprintf(stderr, "see 'gemba help' for the list\n");
    return GB_EXIT_USAGE;
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) return gb_cli_usage_error("version", "takes no arguments");
    printf("gemba %s\n", GB_VERSION);
    return GB_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        overview(stdout);
        return GB_EXIT_OK;
    }
    if (argc > 2) return gb_cli_usage_error("help", "takes at most one command name");
    const gb_command_t *c = find(argv[1]);
    if (!c) return unknown_command(argv[1]);
    fputs(c->usage, stdout);
    return GB_EXIT_OK;
}

int gb_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return GB_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) return cmd_help(1, argv + 1);
    if (!strcmp(name, "--version")) return cmd_version(1, argv + 1);
    const gb_command_t *c = find(name);
    if (!c) return unknown_command(name);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(c->usage, stdout);
            return GB_EXIT_OK;
        }
    gb_cli_register_adapters();
    return c->run(argc - 1, argv + 1);
}

int gb_cli_size_parse(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return GB_EINVAL;
    static const struct { const char *unit; double mul; } units[] = {
        {"", 1}, {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].unit)) {
            double b = v * units[i].mul;
            if (b < 1 || b > 1.8e19) return GB_EINVAL;
            *out = (uint64_t)b;
            return 0;
        }
    return GB_EINVAL;
}
