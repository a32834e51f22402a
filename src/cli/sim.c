/*
 * gemba sim: what-if runs of a plant file's simulation model. --set edits the parsed file before
 * it is loaded, so an override is checked exactly like the file itself and a study states which
 * overrides it ran with.
 *
 * Simulated time starts on a Monday at 00:00 UTC and follows the plant's weekly shift pattern, so
 * a study's numbers do not depend on the day it is run (calendar exceptions and daylight-saving
 * changes, which belong to real dates, play no part).
 */
#include "cli/cli.h"
#include "gemba/calendar.h"
#include "gemba/config.h"
#include "gemba/error.h"
#include "gemba/plant.h"
#include "gemba/sim.h"
#include "util/str.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_T0 (INT64_C(4) * 86400 * GB_NS_PER_S) /* 1970-01-05T00:00:00Z, a Monday */
#define MAX_SETS 256

static void place(gb_cnode_t *n, int line, int col)
{
    n->line = line;
    n->col = col;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) place(n->keys[i], line, col);
        place(n->items[i], line, col);
    }
}

/* The item of sequence S named SEG (an item {name: SEG}) or at index SEG; -1 when none. */
static long seq_find(const gb_cnode_t *s, const char *seg)
{
    for (size_t i = 0; i < s->n; i++) {
        const gb_cnode_t *nm = gb_cnode_get(s->items[i], "name");
        if (nm && nm->kind == GB_CNODE_SCALAR && !strcmp(nm->str, seg)) return (long)i;
    }
    char *end;
    errno = 0;
    long v = strtol(seg, &end, 10);
    return !*end && end != seg && !errno && v >= 0 && (size_t)v < s->n ? v : -1;
}

static gb_cnode_t *find_machine_node(gb_cnode_t *root, const char *name)
{
    gb_cnode_t *areas = (gb_cnode_t *)gb_cnode_get(root, "areas");
    for (size_t a = 0; areas && areas->kind == GB_CNODE_SEQ && a < areas->n; a++) {
        gb_cnode_t *lines = (gb_cnode_t *)gb_cnode_get(areas->items[a], "lines");
        for (size_t l = 0; lines && lines->kind == GB_CNODE_SEQ && l < lines->n; l++) {
            gb_cnode_t *ms = (gb_cnode_t *)gb_cnode_get(lines->items[l], "machines");
            long i = ms && ms->kind == GB_CNODE_SEQ ? seq_find(ms, name) : -1;
            if (i >= 0) return ms->items[i];
        }
    }
    return NULL;
}

/*
 * Applies one PATH=VALUE to the tree. PATH is dot-separated keys from the top of the file; a list
 * is entered by an item's name or index; a first segment that is no top-level key names a
 * machine (lathe01.sim.cycle). VALUE is YAML (42s, exp(2h), [a, b], {ttf: exp(8h), ttr: 20m}).
 * Missing mappings on the way are created.
 */
static int apply_set(gb_cnode_t *root, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "gemba sim: --set '%s': expected PATH=VALUE, such as "
                        "lathe01.sim.cycle=40s\n", arg);
        return GB_EINVAL;
    }
    char *path = gb_xstrndup(arg, (size_t)(eq - arg));
    const char *value = eq + 1;
    gb_diag_t vd;
    gb_diag_init(&vd, "--set value");
    gb_cnode_t *v = NULL;
    int rc = gb_config_parse(value, strlen(value), &v, &vd);
    if (rc == 0 && vd.n) rc = GB_EINVAL;
    if (rc) {
        fprintf(stderr, "gemba sim: --set '%s': the value is not valid YAML%s%s\n", arg,
                vd.n ? ": " : "", vd.n ? vd.items[0].msg : "");
        goto out;
    }
    if (v->kind == GB_CNODE_MAP && v->n == 0 && !*value) { /* empty: YAML null */
        gb_cnode_free(v);
        v = gb_cnode_new_scalar("", 0, 0);
    }
    gb_cnode_t *node = root;
    char *save = NULL;
    char *seg = strtok_r(path, ".", &save);
    bool first = true;
    rc = GB_EINVAL;
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (first && !gb_cnode_get(root, seg)) {
            gb_cnode_t *m = find_machine_node(root, seg);
            if (m) {
                node = m;
                first = false;
                seg = next;
                if (!seg) {
                    fprintf(stderr, "gemba sim: --set '%s': say what to set on machine '%s', "
                                    "such as %s.sim.cycle=40s\n", arg, path, path);
                    goto out;
                }
                continue;
            }
        }
        first = false;
        if (node->kind == GB_CNODE_MAP) {
            size_t i = 0;
            while (i < node->n && strcmp(node->keys[i]->str, seg)) i++;
            if (!next) {
                place(v, i < node->n ? node->items[i]->line : node->line,
                      i < node->n ? node->items[i]->col : node->col);
                gb_cnode_map_put(node, seg, v);
                v = NULL;
                rc = 0;
                goto out;
            }
            if (i == node->n) {
                gb_cnode_t *m = gb_xcalloc(1, sizeof *m);
                m->kind = GB_CNODE_MAP;
                m->line = node->line;
                m->col = node->col;
                gb_cnode_map_put(node, seg, m);
            }
            node = node->items[i];
        } else if (node->kind == GB_CNODE_SEQ) {
            long i = seq_find(node, seg);
            if (i < 0) {
                fprintf(stderr, "gemba sim: --set '%s': the list at line %d has no item named "
                                "'%s'\n", arg, node->line, seg);
                goto out;
            }
            if (!next) {
                place(v, node->items[i]->line, node->items[i]->col);
                gb_cnode_free(node->items[i]);
                node->items[i] = v;
                v = NULL;
                rc = 0;
                goto out;
            }
            node = node->items[i];
        } else {
            fprintf(stderr, "gemba sim: --set '%s': '%s' is inside a value (line %d), not a "
                            "mapping or a list\n", arg, seg, node->line);
            goto out;
        }
        seg = next;
    }
    fprintf(stderr, "gemba sim: --set '%s': an empty path\n", arg);
out:
    gb_cnode_free(v);
    gb_diag_clear(&vd);
    free(path);
    return rc;
}

static int parse_secs(const char *opt, const char *s, double *out)
{
    int64_t ns;
    if (gb_duration_parse(s, &ns) != 0)
        return gb_cli_usage_error("sim", "%s '%s': expected a duration such as 30d or 8h", opt, s);
    *out = (double)ns / 1e9;
    return 0;
}

int gb_cmd_sim(int argc, char **argv)
{
    const char *until = NULL, *warmup = NULL, *reps = NULL, *seed = NULL, *format = "table",
               *threads = NULL;
    char *sets[MAX_SETS];
    size_t nsets = 0;
    static const struct option opts[] = {{"until", required_argument, NULL, 'u'},
                                         {"warmup", required_argument, NULL, 'w'},
                                         {"reps", required_argument, NULL, 'r'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"set", required_argument, NULL, 'S'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"threads", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'u': until = optarg; break;
        case 'w': warmup = optarg; break;
        case 'r': reps = optarg; break;
        case 's': seed = optarg; break;
        case 'f': format = optarg; break;
        case 't': threads = optarg; break;
        case 'S':
            if (nsets == MAX_SETS) return gb_cli_usage_error("sim", "at most %d --set", MAX_SETS);
            sets[nsets++] = optarg;
            break;
        case ':': return gb_cli_usage_error("sim", "option '%s' needs a value", argv[optind - 1]);
        default: return gb_cli_usage_error("sim", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return gb_cli_usage_error("sim", optind == argc ? "needs a model (plant) file"
                                                        : "takes one model file");
    if (strcmp(format, "json") && strcmp(format, "table"))
        return gb_cli_usage_error("sim", "--format is json or table, not '%s'", format);
    const char *file = argv[optind];

    gb_diag_t d;
    gb_diag_init(&d, file);
    gb_cnode_t *root = NULL;
    int rc = gb_config_parse_file(file, &root, &d);
    if (rc || d.n) {
        gb_diag_print(&d, stderr);
        gb_diag_clear(&d);
        gb_cnode_free(root);
        return rc == GB_EIO ? GB_EXIT_FAIL : GB_EXIT_USAGE;
    }
    for (size_t i = 0; i < nsets; i++)
        if (root->kind != GB_CNODE_MAP || apply_set(root, sets[i]) != 0) {
            gb_diag_clear(&d);
            gb_cnode_free(root);
            return GB_EXIT_USAGE;
        }
    gb_plant_t *p = NULL;
    gb_sim_model_t *md = NULL;
    if (gb_plant_load_tree(file, root, &p, &d) != 0 || gb_sim_model_build(p, &md, &d) != 0) {
        gb_diag_print(&d, stderr);
        gb_diag_clear(&d);
        gb_plant_free(p);
        return GB_EXIT_USAGE;
    }
    gb_diag_clear(&d);

    gb_sim_study_opts_t o = {0};
    gb_sim_model_defaults(md, &o);
    o.t0 = SIM_T0;
    int u = 0;
    if (until && (u = parse_secs("--until", until, &o.until))) goto usage;
    if (warmup && (u = parse_secs("--warmup", warmup, &o.warmup))) goto usage;
    if (reps) {
        char *end;
        long v = strtol(reps, &end, 10);
        if (*end || v < 1 || v > 100000) {
            u = gb_cli_usage_error("sim", "--reps is a number from 1 to 100000, not '%s'", reps);
            goto usage;
        }
        o.reps = (uint32_t)v;
    }
    if (seed) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        if (*end || errno || seed[0] == '-') {
            u = gb_cli_usage_error("sim", "--seed is a whole number, not '%s'", seed);
            goto usage;
        }
        o.seed = v;
    }
    if (threads) {
        char *end;
        long v = strtol(threads, &end, 10);
        if (*end || v < 0 || v > 1024) {
            u = gb_cli_usage_error("sim", "--threads is a number from 0 (one per CPU) to 1024");
            goto usage;
        }
        o.threads = (uint32_t)v;
    }
    if (o.warmup >= o.until) {
        u = gb_cli_usage_error("sim", "the run (--until, here %gs) must be longer than the "
                                      "warm-up (--warmup, here %gs)", o.until, o.warmup);
        goto usage;
    }
    gb_tz_set("UTC");
    gb_sim_study_t *st;
    if (gb_sim_study_run(md, &o, &st) != 0) {
        u = gb_cli_usage_error("sim", "cannot run with these options");
        goto usage;
    }
    char *out = strcmp(format, "json") ? gb_sim_study_table(st, file)
                                       : gb_sim_study_json(st, file, sets, nsets);
    fputs(out, stdout);
    free(out);
    gb_sim_study_free(st);
    gb_sim_model_free(md);
    gb_plant_free(p);
    return fflush(stdout) == 0 ? GB_EXIT_OK : GB_EXIT_FAIL;
usage:
    gb_sim_model_free(md);
    gb_plant_free(p);
    return u ? u : GB_EXIT_USAGE;
}
