/*
 * The plant file: one YAML document that describes a site -- its ISA-95 hierarchy (areas, lines,
 * machines), each machine's tags and where they come from (adapters), the rules that turn signals
 * into machine states, the shift calendar, the reason-code trees and ideal cycle times.
 * docs/plant-file.md documents every key. The loader checks everything it can before a daemon
 * starts and reports every problem as FILE:LINE:COL: message.
 */
#ifndef GEMBA_PLANT_H
#define GEMBA_PLANT_H

#include "gemba/config.h"
#include "gemba/diag.h"
#include "gemba/sample.h"
#include "gemba/tags.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    GB_STATE_RUNNING,
    GB_STATE_IDLE,
    GB_STATE_DOWN,
    GB_STATE_SETUP,
    GB_STATE_PLANNED_STOP,
    GB_STATE_DISCONNECTED,
    GB_STATE_COUNT_
} gb_state_t;

/* "running", "idle", "down", "setup", "planned_stop", "disconnected". */
const char *gb_state_name(gb_state_t s);

typedef enum { GB_COND_ALWAYS, GB_COND_CMP, GB_COND_ALL, GB_COND_ANY, GB_COND_NOT } gb_cond_kind_t;
typedef enum { GB_OP_EQ, GB_OP_NE, GB_OP_LT, GB_OP_LE, GB_OP_GT, GB_OP_GE, GB_OP_IN } gb_op_t;

typedef struct gb_cond {
    gb_cond_kind_t kind;
    int line, col;
    char *tag;              /* CMP: tag name within the machine */
    int tag_line, tag_col;
    gb_op_t op;
    char **values;          /* CMP: literals as written (one, or several for `in`) */
    size_t nvalues;
    struct gb_cond *sub;    /* ALL / ANY / NOT operands */
    size_t nsub;
} gb_cond_t;

typedef struct gb_rule {
    char *name;      /* may be NULL: then "rule N of SET" */
    gb_state_t state;
    gb_cond_t when;
    char *reason;    /* a reason path to assign automatically, or NULL */
    int line, col;
} gb_rule_t;

/* An ordered list of rules: the first that matches decides the state (its index is its priority). */
typedef struct gb_ruleset {
    char *name;      /* "<machine> (inline)" for a machine's own list */
    bool is_inline;  /* a machine's own list: not addressable by name */
    gb_rule_t *rules;
    size_t n;
    int line, col;
} gb_ruleset_t;

typedef struct gb_plant_tag {
    char *name;
    gb_vtype_t type;      /* 0 only inside a load that fails: the file gave an unknown type */
    char *unit, *description;
    uint32_t adapter;     /* index in plant->adapters, GB_NONE when none */
    char *address;        /* defaults to the name */
    double scale, offset, deadband;
    int line, col;
} gb_plant_tag_t;

typedef struct gb_cycle_time {
    char *key;  /* product or program */
    int64_t ns;
} gb_cycle_time_t;

typedef struct gb_machine {
    char *name, *description, *kind;
    uint32_t line;              /* index in plant->lines */
    gb_plant_tag_t *tags;
    size_t ntags;
    uint32_t ruleset;           /* index in plant->rulesets, GB_NONE when none */
    int64_t ideal_cycle_ns;     /* 0 when not given */
    gb_cycle_time_t *cycle_times;
    size_t ncycle_times;
    char *count_total, *count_good, *count_scrap; /* tag names, or NULL */
    int64_t counter_max;        /* a counter wraps to 0 after this value; 0 = a drop is a reset */
    char *cycle_times_by;       /* tag whose value picks the cycle_times entry, or NULL */
    char *job_tag;              /* tag whose value starts the job of that id, or NULL */
    char *operator_tag;         /* tag whose value is the operator logged in, or NULL */
    int64_t micro_stop_ns;      /* stops shorter than this are speed loss (plant default if 0) */
    int64_t disconnected_after_ns;
    int pos_line, pos_col;
    const gb_cnode_t *node;     /* the machine's mapping in plant->root (for `sim:` and the like) */
} gb_machine_t;

typedef struct gb_line { char *name, *description; uint32_t area; } gb_line_t;
typedef struct gb_area { char *name, *description; } gb_area_t;

typedef struct gb_adapter_cfg {
    char *name, *type, *description;
    const gb_cnode_t *node; /* the adapter's mapping, kept for the adapter to read */
    int line, col;
} gb_adapter_cfg_t;

typedef struct gb_break {
    char *name;
    int start_min;  /* minutes since midnight */
    int64_t duration_ns;
} gb_break_t;

typedef struct gb_shift {
    char *name;
    int start_min, end_min; /* end <= start: the shift ends the next day */
    uint8_t days;           /* bit 0 = Monday ... bit 6 = Sunday: days the shift starts on */
    gb_break_t *breaks;
    size_t nbreaks;
} gb_shift_t;

typedef struct gb_cal_exception {
    int from_y, from_m, from_d, to_y, to_m, to_d; /* inclusive date range */
    char *description;
    uint32_t *shifts; /* shifts that run on those days (none = closed) */
    size_t nshifts;
} gb_cal_exception_t;

typedef struct gb_reason {
    char *path;   /* e.g. "unplanned/tooling/breakage" */
    bool planned; /* under the `planned` branch */
    bool leaf;
} gb_reason_t;

/*
 * historian.retention: how long the points of the series whose path matches TAGS are kept, and
 * their 1-minute and 1-hour rollups (0: none beyond the points; INT64_MAX: forever).
 */
typedef struct gb_plant_retention {
    char *tags;      /* a glob over series paths (fnmatch), such as "acme/plant1/line2/..." */
    int64_t keep_ns; /* > 0 */
    int64_t keep_1m_ns, keep_1h_ns; /* 0, or >= keep_ns, and keep_1h_ns >= keep_1m_ns */
} gb_plant_retention_t;

typedef struct gb_plant {
    char *file;
    char *enterprise; /* NULL when not given */
    char *site, *site_description, *timezone;
    int64_t micro_stop_ns;       /* oee.micro_stop: default 2 min */
    int64_t late_window_ns;      /* oee.late_window: default 8 h */
    gb_adapter_cfg_t *adapters;  size_t nadapters;
    gb_ruleset_t *rulesets;      size_t nrulesets;
    gb_area_t *areas;            size_t nareas;
    gb_line_t *lines;            size_t nlines;
    gb_machine_t *machines;      size_t nmachines;
    gb_shift_t *shifts;          size_t nshifts;
    gb_cal_exception_t *exceptions; size_t nexceptions;
    gb_reason_t *reasons;        size_t nreasons;
    gb_reason_t *scrap_reasons;  size_t nscrap_reasons;
    gb_plant_retention_t *retention; size_t nretention; /* first match wins; none: kept forever */
    gb_cnode_t *root; /* owned: the parsed file, which adapter configs point into */
} gb_plant_t;

/*
 * Loads and checks the plant file at PATH. On success *OUT gets the plant (free with
 * gb_plant_free). Every problem goes to DIAG (whose file name the caller set). Returns 0,
 * GB_EINVAL when the file has problems, GB_EIO when it cannot be read (also reported in DIAG).
 * Adapter types are looked up among the registered adapter classes (gemba/adapter.h).
 */
int gb_plant_load_file(const char *path, gb_plant_t **out, gb_diag_t *diag);

/* The same from memory; NAME is used in messages. */
int gb_plant_load_mem(const char *name, const char *buf, size_t len, gb_plant_t **out,
                      gb_diag_t *diag);

/*
 * The same from a parsed tree (gemba/config.h), which the plant takes (it is freed with the plant,
 * or here on failure). Lets a caller edit the tree first, as `gemba sim --set` does.
 */
int gb_plant_load_tree(const char *name, gb_cnode_t *root, gb_plant_t **out, gb_diag_t *diag);

void gb_plant_free(gb_plant_t *p);

/*
 * A part of the plant file that another module reads: the top-level key `simulation` and the
 * machine key `sim` belong to the simulator (src/sim). The loader accepts those keys and, once the
 * rest of the plant is loaded, calls CHECK, which reports its problems into DIAG the same way.
 * Register before loading any plant (at startup, before threads); at most 8.
 */
typedef struct gb_plant_ext {
    const char *name;
    void (*check)(const gb_plant_t *p, gb_diag_t *diag);
} gb_plant_ext_t;

int gb_plant_ext_register(const gb_plant_ext_t *ext);

/* Builds the tag registry of P: enterprise, site, areas, lines, machines and their tags. */
gb_tags_t *gb_plant_build_tags(const gb_plant_t *p);

/* The full asset path of machine M, e.g. "acme/plant1/machining/line2/cnc07" (owned by caller). */
char *gb_plant_machine_path(const gb_plant_t *p, const gb_machine_t *m);

#endif
