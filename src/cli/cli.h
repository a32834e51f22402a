/*
 * The `gemba` subcommands. main() only dispatches; each command parses its own options and
 * returns the process exit code: 0 ok, 1 runtime failure, 2 bad usage or bad input.
 */
#ifndef GB_CLI_H
#define GB_CLI_H

#include <stddef.h>
#include <stdint.h>

enum { GB_EXIT_OK = 0, GB_EXIT_FAIL = 1, GB_EXIT_USAGE = 2 };

typedef struct gb_command {
    const char *name;
    const char *summary; /* one line for `gemba help` */
    const char *usage;   /* full text for `gemba help NAME` */
    int (*run)(int argc, char **argv);
} gb_command_t;

/* Runs the command named by ARGV[1] (or prints the overview). */
int gb_cli_main(int argc, char **argv);

/* Registers the adapter classes compiled into this binary. Idempotent. */
void gb_cli_register_adapters(void);

/* Prints "gemba CMD: <message>\nsee 'gemba help CMD'" to stderr and returns GB_EXIT_USAGE. */
int gb_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int gb_cmd_serve(int argc, char **argv);
int gb_cmd_check_config(int argc, char **argv);
int gb_cmd_store(int argc, char **argv);
int gb_cmd_oee(int argc, char **argv);
int gb_cmd_replay_shdr(int argc, char **argv);
int gb_cmd_token(int argc, char **argv);
int gb_cmd_user(int argc, char **argv);
int gb_cmd_import(int argc, char **argv);
/* Parses a size: bytes, or a number with kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB. */
int gb_cli_size_parse(const char *s, uint64_t *out);
int gb_cmd_query(int argc, char **argv);
int gb_cmd_sim(int argc, char **argv);

/* Reads and parses a job file, printing its problems (FILE:LINE:COL). 0 or a GB_E* code. */
struct gb_jobs;
int gb_cli_load_jobs(const char *file, struct gb_jobs *out);

extern const char gb_demo_plant_yaml[];
extern const size_t gb_demo_plant_yaml_len;
#define GB_DEMO_PLANT_NAME "examples/demo-plant.yaml (built in)"

#endif
