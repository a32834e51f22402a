/*
 * Configuration trees. A YAML file is parsed (libyaml) into a tree of gb_cnode_t that remembers
 * the line and column of every node, so every later check -- by the plant loader or by an adapter
 * validating its own keys -- can say exactly where a problem is. The typed getters below report
 * problems into a gb_diag_t and keep going, so one pass finds every mistake.
 */
#ifndef GEMBA_CONFIG_H
#define GEMBA_CONFIG_H

#include "gemba/diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GB_CNODE_SCALAR, GB_CNODE_MAP, GB_CNODE_SEQ } gb_cnode_kind_t;

typedef struct gb_cnode {
    gb_cnode_kind_t kind;
    int line, col; /* 1-based position of the node's first character */
    char *str;     /* scalar text (owned); NULL for maps and sequences */
    bool plain;    /* scalar written without quotes (so `null` differs from "null") */
    size_t n;      /* map pairs or sequence items */
    struct gb_cnode **keys;  /* map keys, owned; always scalars (str is never NULL) */
    struct gb_cnode **items; /* map values or sequence items, owned */
} gb_cnode_t;

/* Limits on input, so a hostile file cannot exhaust memory (e.g. through alias expansion). */
#define GB_CONFIG_MAX_BYTES (16u << 20)
#define GB_CONFIG_MAX_NODES 1000000u
#define GB_CONFIG_MAX_DEPTH 64

/*
 * Parses one YAML document from BUF. On success *ROOT gets the tree (free with gb_cnode_free).
 * Syntax errors and exceeded limits go to DIAG and return GB_EINVAL (no tree). Problems that
 * leave a usable tree -- duplicate keys, non-text keys -- go to DIAG too, but the tree is returned
 * (0) so that later checks can report everything else: callers must check DIAG as well.
 * An empty document gives an empty map.
 */
int gb_config_parse(const char *buf, size_t len, gb_cnode_t **root, gb_diag_t *diag);

/*
 * The same from the file at PATH (a regular file of at most GB_CONFIG_MAX_BYTES). GB_EIO when it
 * cannot be read (said in DIAG, without a position); otherwise as gb_config_parse.
 */
int gb_config_parse_file(const char *path, gb_cnode_t **root, gb_diag_t *diag);

void gb_cnode_free(gb_cnode_t *n);

/* A new plain scalar node holding a copy of TEXT, placed at LINE:COL (for messages). */
gb_cnode_t *gb_cnode_new_scalar(const char *text, int line, int col);

/*
 * Sets KEY of map M to V, which M takes: the old value is freed, or the pair is appended.
 * For edits of a parsed file before it is loaded (`gemba sim --set`, `gemba serve --speed`).
 */
void gb_cnode_map_put(gb_cnode_t *m, const char *key, gb_cnode_t *v);

/* The value of KEY in map M; NULL when M is not a map or has no such key. */
const gb_cnode_t *gb_cnode_get(const gb_cnode_t *m, const char *key);

/* True for a plain scalar null: empty, ~, null, Null, NULL. */
bool gb_cnode_is_null(const gb_cnode_t *n);

/* "a mapping", "a list", "a text value" -- for messages. */
const char *gb_cnode_kind_name(const gb_cnode_t *n);

/*
 * Reports every key of map M (described as WHAT, e.g. "machine") that is not in ALLOWED (NULL-
 * terminated), with a "did you mean" when one is close. Returns the number of unknown keys.
 */
int gb_cfg_check_keys(const gb_cnode_t *m, const char *what, const char *const *allowed,
                      gb_diag_t *d);

/*
 * Typed getters for key KEY of map M. Each returns 0 when the key was found and valid (*OUT set),
 * GB_ENOENT when it is absent (reported when REQUIRED, *OUT untouched), GB_EINVAL when present but
 * invalid (reported). WHAT names the enclosing object in messages.
 */
int gb_cfg_str(const gb_cnode_t *m, const char *key, bool required, const char *what,
               const char **out, gb_diag_t *d);
int gb_cfg_name(const gb_cnode_t *m, const char *key, bool required, const char *what,
                const char **out, gb_diag_t *d); /* a gb_name_valid() identifier */
int gb_cfg_double(const gb_cnode_t *m, const char *key, bool required, const char *what,
                  double *out, gb_diag_t *d);
int gb_cfg_int(const gb_cnode_t *m, const char *key, bool required, const char *what,
               int64_t min, int64_t max, int64_t *out, gb_diag_t *d);
int gb_cfg_bool(const gb_cnode_t *m, const char *key, bool required, const char *what, bool *out,
                gb_diag_t *d);
int gb_cfg_duration(const gb_cnode_t *m, const char *key, bool required, const char *what,
                    int64_t *out_ns, gb_diag_t *d);
/* A map or a list (KIND) node. */
int gb_cfg_node(const gb_cnode_t *m, const char *key, bool required, const char *what,
                gb_cnode_kind_t kind, const gb_cnode_t **out, gb_diag_t *d);

/* Scalar conversions without a map around them; they report at N's position. */
int gb_cfg_scalar_double(const gb_cnode_t *n, double *out, gb_diag_t *d);
int gb_cfg_scalar_int(const gb_cnode_t *n, int64_t *out, gb_diag_t *d);
int gb_cfg_scalar_bool(const gb_cnode_t *n, bool *out, gb_diag_t *d);

#endif
