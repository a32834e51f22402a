/*
 * YAML to gb_cnode_t. libyaml's loader composes the document (resolving anchors and aliases);
 * we then copy it into our own tree with 1-based positions, checking limits on depth and on the
 * number of nodes as we go, because an alias can make a small file describe a huge tree. Duplicate
 * keys, which libyaml accepts silently, are reported: in a plant file they are always a mistake.
 */
#include "gemba/config.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

void gb_cnode_free(gb_cnode_t *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) gb_cnode_free(n->keys[i]);
        gb_cnode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->str);
    free(n);
}

gb_cnode_t *gb_cnode_new_scalar(const char *text, int line, int col)
{
    gb_cnode_t *n = gb_xcalloc(1, sizeof *n);
    n->kind = GB_CNODE_SCALAR;
    n->str = gb_xstrdup(text);
    n->plain = true;
    n->line = line;
    n->col = col;
    return n;
}

void gb_cnode_map_put(gb_cnode_t *m, const char *key, gb_cnode_t *v)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->keys[i]->str, key)) {
            gb_cnode_free(m->items[i]);
            m->items[i] = v;
            return;
        }
    m->keys = gb_xrealloc(m->keys, (m->n + 1) * sizeof *m->keys);
    m->items = gb_xrealloc(m->items, (m->n + 1) * sizeof *m->items);
    m->keys[m->n] = gb_cnode_new_scalar(key, v->line, v->col);
    m->items[m->n++] = v;
}

typedef struct {
    yaml_document_t *doc;
    size_t nodes;
    gb_diag_t *diag;
    bool failed;
} conv_t;

static gb_cnode_t *convert(conv_t *cv, int index, int depth)
{
    yaml_node_t *yn = yaml_document_get_node(cv->doc, index);
    if (!yn || cv->failed) return NULL;
    int line = (int)yn->start_mark.line + 1, col = (int)yn->start_mark.column + 1;
    if (depth > GB_CONFIG_MAX_DEPTH) {
        gb_diag_add(cv->diag, line, col, "nesting deeper than %d levels", GB_CONFIG_MAX_DEPTH);
        cv->failed = true;
        return NULL;
    }
    if (++cv->nodes > GB_CONFIG_MAX_NODES) {
        gb_diag_add(cv->diag, line, col,
                    "document expands to more than %u nodes (aliases?); refusing to load it",
                    GB_CONFIG_MAX_NODES);
        cv->failed = true;
        return NULL;
    }
    gb_cnode_t *n = gb_xcalloc(1, sizeof *n);
    n->line = line;
    n->col = col;
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        n->kind = GB_CNODE_SCALAR;
        n->str = gb_xstrndup((const char *)yn->data.scalar.value, yn->data.scalar.length);
        n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (strlen(n->str) != yn->data.scalar.length) {
            gb_diag_add(cv->diag, line, col, "text contains a NUL character");
            cv->failed = true;
        }
        break;
    case YAML_SEQUENCE_NODE: {
        n->kind = GB_CNODE_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = gb_xcalloc(cnt, sizeof *n->items);
        for (size_t i = 0; i < cnt && !cv->failed; i++) {
            n->items[i] = convert(cv, yn->data.sequence.items.start[i], depth + 1);
            if (n->items[i]) n->n = i + 1;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        n->kind = GB_CNODE_MAP;
        size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->keys = gb_xcalloc(cnt, sizeof *n->keys);
        n->items = gb_xcalloc(cnt, sizeof *n->items);
        for (size_t i = 0; i < cnt && !cv->failed; i++) {
            yaml_node_pair_t *p = &yn->data.mapping.pairs.start[i];
            gb_cnode_t *k = convert(cv, p->key, depth + 1);
            gb_cnode_t *v = k ? convert(cv, p->value, depth + 1) : NULL;
            if (!k || !v) {
                gb_cnode_free(k);
                gb_cnode_free(v);
                break;
            }
            if (k->kind != GB_CNODE_SCALAR) {
                /* reported and left out, so every key in the tree is text */
                gb_diag_add(cv->diag, k->line, k->col, "a key must be plain text, not %s",
                            gb_cnode_kind_name(k));
                gb_cnode_free(k);
                gb_cnode_free(v);
                continue;
            } else {
                for (size_t j = 0; j < n->n; j++) {
                    if (strcmp(n->keys[j]->str, k->str) == 0) {
                        gb_diag_add(cv->diag, k->line, k->col,
                                    "duplicate key '%s' (first given at line %d)", k->str,
                                    n->keys[j]->line);
                        break;
                    }
                }
            }
            n->keys[n->n] = k;
            n->items[n->n] = v;
            n->n++;
        }
        break;
    }
    default:
        n->kind = GB_CNODE_SCALAR;
        n->str = gb_xstrdup("");
        n->plain = true;
        break;
    }
    return n;
}

int gb_config_parse(const char *buf, size_t len, gb_cnode_t **root, gb_diag_t *diag)
{
    *root = NULL;
    if (len > GB_CONFIG_MAX_BYTES) {
        gb_diag_add(diag, 0, 0, "file is larger than %u bytes", GB_CONFIG_MAX_BYTES);
        return GB_EINVAL;
    }
    size_t before = diag->n;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return GB_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int rc = GB_EINVAL;
    if (!yaml_parser_load(&parser, &doc)) {
        /* libyaml gives the problem and, often, what it was reading when it found it */
        int line = (int)parser.problem_mark.line + 1, col = (int)parser.problem_mark.column + 1;
        if (parser.context)
            gb_diag_add(diag, line, col, "YAML syntax: %s %s (from line %d)", parser.problem,
                        parser.context, (int)parser.context_mark.line + 1);
        else
            gb_diag_add(diag, line, col, "YAML syntax: %s",
                        parser.problem ? parser.problem : "unreadable input");
        yaml_parser_delete(&parser);
        return GB_EINVAL;
    }
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    if (!top) {
        gb_cnode_t *empty = gb_xcalloc(1, sizeof *empty);
        empty->kind = GB_CNODE_MAP;
        empty->line = empty->col = 1;
        *root = empty;
        rc = 0;
        goto out;
    }
    /* a second document in the stream is almost certainly a paste mistake */
    yaml_document_t next;
    if (yaml_parser_load(&parser, &next)) {
        if (yaml_document_get_root_node(&next))
            gb_diag_add(diag, (int)next.start_mark.line + 1, (int)next.start_mark.column + 1,
                        "a plant file holds one YAML document; found a second one here");
        yaml_document_delete(&next);
    }
    conv_t cv = {&doc, 0, diag, false};
    gb_cnode_t *n = convert(&cv, 1, 0);
    (void)before;
    if (cv.failed) {
        gb_cnode_free(n);
        goto out;
    }
    *root = n;
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

const gb_cnode_t *gb_cnode_get(const gb_cnode_t *m, const char *key)
{
    if (!m || m->kind != GB_CNODE_MAP) return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (m->keys[i]->str && strcmp(m->keys[i]->str, key) == 0) return m->items[i];
    return NULL;
}

bool gb_cnode_is_null(const gb_cnode_t *n)
{
    if (!n || n->kind != GB_CNODE_SCALAR || !n->plain) return false;
    const char *s = n->str;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

const char *gb_cnode_kind_name(const gb_cnode_t *n)
{
    if (!n) return "nothing";
    switch (n->kind) {
    case GB_CNODE_MAP: return "a mapping (key: value)";
    case GB_CNODE_SEQ: return "a list";
    case GB_CNODE_SCALAR: return gb_cnode_is_null(n) ? "an empty value" : "a single value";
    }
    return "?";
}

int gb_cfg_check_keys(const gb_cnode_t *m, const char *what, const char *const *allowed,
                      gb_diag_t *d)
{
    int bad = 0;
    if (!m || m->kind != GB_CNODE_MAP) return 0;
    for (size_t i = 0; i < m->n; i++) {
        const gb_cnode_t *k = m->keys[i];
        if (!k->str) continue;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, k->str) == 0;
        if (ok) continue;
        bad++;
        const char *near = gb_did_you_mean(k->str, allowed);
        if (near)
            gb_diag_add(d, k->line, k->col, "unknown key '%s' in %s; did you mean '%s'?", k->str,
                        what, near);
        else
            gb_diag_add(d, k->line, k->col, "unknown key '%s' in %s", k->str, what);
    }
    return bad;
}

/* Finds KEY; reports it missing when required. Returns the node or NULL. */
static const gb_cnode_t *lookup(const gb_cnode_t *m, const char *key, bool required,
                                const char *what, gb_diag_t *d)
{
    const gb_cnode_t *n = gb_cnode_get(m, key);
    if (n && gb_cnode_is_null(n) && required) n = NULL;
    if (!n && required && m)
        gb_diag_add(d, m->line, m->col, "%s is missing required key '%s'", what, key);
    return n;
}

static int need_scalar(const gb_cnode_t *n, const char *key, const char *expect, gb_diag_t *d)
{
    if (n->kind == GB_CNODE_SCALAR) return 0;
    gb_diag_add(d, n->line, n->col, "'%s' should be %s, not %s", key, expect,
                gb_cnode_kind_name(n));
    return GB_EINVAL;
}

int gb_cfg_str(const gb_cnode_t *m, const char *key, bool required, const char *what,
               const char **out, gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    if (need_scalar(n, key, "text", d)) return GB_EINVAL;
    *out = n->str;
    return 0;
}

int gb_cfg_name(const gb_cnode_t *m, const char *key, bool required, const char *what,
                const char **out, gb_diag_t *d)
{
    const char *s;
    int rc = gb_cfg_str(m, key, required, what, &s, d);
    if (rc) return rc;
    if (!gb_name_valid(s)) {
        const gb_cnode_t *n = gb_cnode_get(m, key);
        gb_diag_add(d, n->line, n->col,
                    "'%s' is not a valid name: use 1-64 letters, digits, '_', '-' or '.', "
                    "not starting with '-' or '.'",
                    s);
        return GB_EINVAL;
    }
    *out = s;
    return 0;
}

/* Reports that N is not EXPECTED, quoting a scalar or naming the kind of anything else. */
static int wrong_value(const gb_cnode_t *n, const char *expected, gb_diag_t *d)
{
    if (n->kind == GB_CNODE_SCALAR)
        gb_diag_add(d, n->line, n->col, "expected %s, got '%s'", expected, n->str);
    else
        gb_diag_add(d, n->line, n->col, "expected %s, got %s", expected, gb_cnode_kind_name(n));
    return GB_EINVAL;
}

int gb_cfg_scalar_double(const gb_cnode_t *n, double *out, gb_diag_t *d)
{
    if (n->kind == GB_CNODE_SCALAR && *n->str) {
        char *end;
        errno = 0;
        double v = strtod(n->str, &end);
        if (!*end && errno == 0 && isfinite(v)) {
            *out = v;
            return 0;
        }
    }
    return wrong_value(n, "a number", d);
}

int gb_cfg_scalar_int(const gb_cnode_t *n, int64_t *out, gb_diag_t *d)
{
    if (n->kind == GB_CNODE_SCALAR && *n->str) {
        char *end;
        errno = 0;
        long long v = strtoll(n->str, &end, 10);
        if (!*end && errno == 0) {
            *out = v;
            return 0;
        }
    }
    return wrong_value(n, "a whole number", d);
}

int gb_cfg_scalar_bool(const gb_cnode_t *n, bool *out, gb_diag_t *d)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
    if (n->kind == GB_CNODE_SCALAR) {
        for (int i = 0; i < 3; i++) {
            if (!strcmp(n->str, t[i])) return *out = true, 0;
            if (!strcmp(n->str, f[i])) return *out = false, 0;
        }
    }
    return wrong_value(n, "true or false", d);
}

int gb_cfg_double(const gb_cnode_t *m, const char *key, bool required, const char *what,
                  double *out, gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    return gb_cfg_scalar_double(n, out, d);
}

int gb_cfg_int(const gb_cnode_t *m, const char *key, bool required, const char *what, int64_t min,
               int64_t max, int64_t *out, gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    int64_t v;
    if (gb_cfg_scalar_int(n, &v, d)) return GB_EINVAL;
    if (v < min || v > max) {
        gb_diag_add(d, n->line, n->col, "'%s' must be between %lld and %lld, got %lld", key,
                    (long long)min, (long long)max, (long long)v);
        return GB_EINVAL;
    }
    *out = v;
    return 0;
}

int gb_cfg_bool(const gb_cnode_t *m, const char *key, bool required, const char *what, bool *out,
                gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    return gb_cfg_scalar_bool(n, out, d);
}

int gb_cfg_duration(const gb_cnode_t *m, const char *key, bool required, const char *what,
                    int64_t *out_ns, gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    if (need_scalar(n, key, "a duration", d)) return GB_EINVAL;
    int prc = gb_duration_parse(n->str, out_ns);
    if (prc == GB_ERANGE) {
        gb_diag_add(d, n->line, n->col, "'%s' is out of range: a duration is not negative and at "
                    "most about 140 years", n->str);
        return GB_EINVAL;
    }
    if (prc != 0) {
        gb_diag_add(d, n->line, n->col,
                    "'%s' is not a valid duration: expected a number with a unit (ns, us, ms, s, "
                    "m, h, d) such as 90s, 2m or 1h30m",
                    n->str);
        return GB_EINVAL;
    }
    return 0;
}

int gb_cfg_node(const gb_cnode_t *m, const char *key, bool required, const char *what,
                gb_cnode_kind_t kind, const gb_cnode_t **out, gb_diag_t *d)
{
    const gb_cnode_t *n = lookup(m, key, required, what, d);
    if (!n || (!required && gb_cnode_is_null(n))) return GB_ENOENT;
    if (n->kind != kind) {
        gb_diag_add(d, n->line, n->col, "'%s' should be %s, not %s", key,
                    kind == GB_CNODE_SEQ ? "a list" : "a mapping (key: value)",
                    gb_cnode_kind_name(n));
        return GB_EINVAL;
    }
    *out = n;
    return 0;
}

int gb_config_parse_file(const char *path, gb_cnode_t **root, gb_diag_t *diag)
{
    *root = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        gb_diag_add(diag, 0, 0, "cannot open: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return GB_EIO;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > GB_CONFIG_MAX_BYTES) {
        gb_diag_add(diag, 0, 0,
                    S_ISREG(st.st_mode) ? "file is larger than 16 MiB" : "not a regular file");
        close(fd);
        return GB_EIO;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = gb_xmalloc(len + 1);
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    int rc = gb_config_parse(buf, got, root, diag);
    free(buf);
    return rc;
}
