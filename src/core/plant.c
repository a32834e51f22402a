/*
 * The plant-file loader. It walks the configuration tree once, top-down, building the plant
 * model and reporting every problem it meets into the diag without stopping: a user fixing a file
 * wants all the mistakes in one run, each with its line and column and what was expected.
 *
 * Order matters only for references: adapters, reasons and named rule sets are read before the
 * machines that refer to them; rule conditions are checked against each machine that uses them
 * (a shared rule set can be fine for one machine and wrong for another); adapter classes check
 * their own keys and the addresses of the tags bound to them last.
 */
#include "gemba/plant.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "util/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROW(arr, n) ((arr) = gb_xrealloc((arr), ((n) + 1) * sizeof *(arr)), &(arr)[(n)++])

typedef struct {
    gb_plant_t *p;
    gb_diag_t *d;
} ld_t;

static const char *const state_names[] = {"running",      "idle",         "down", "setup",
                                          "planned_stop", "disconnected", NULL};
static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const op_names[] = {"eq", "ne", "lt", "le", "gt", "ge", "in", NULL};
static const char *const type_names[] = {"float", "int", "bool", "string", NULL};

const char *gb_state_name(gb_state_t s)
{
    return s < GB_STATE_COUNT_ ? state_names[s] : "?";
}

static char *dup_or_null(const char *s)
{
    return s ? gb_xstrdup(s) : NULL;
}

/* Reports an unknown NAME among CANDS with a did-you-mean; WHAT is e.g. "adapter". */
static void unknown_ref(ld_t *L, const gb_cnode_t *at, const char *what, const char *name,
                        const char *const *cands)
{
    const char *near = cands ? gb_did_you_mean(name, cands) : NULL;
    if (near)
        gb_diag_add(L->d, at->line, at->col, "unknown %s '%s'; did you mean '%s'?", what, name,
                    near);
    else
        gb_diag_add(L->d, at->line, at->col, "unknown %s '%s'", what, name);
}

/* ---- reasons ------------------------------------------------------------------------------ */

static void add_reason(gb_reason_t **arr, size_t *n, char *path, bool planned, bool leaf)
{
    gb_reason_t *r = GROW(*arr, *n);
    *r = (gb_reason_t){path, planned, leaf};
}

static void reason_tree(ld_t *L, const gb_cnode_t *n, const char *prefix, bool planned,
                        gb_reason_t **arr, size_t *cnt, int depth)
{
    if (depth > 8) {
        gb_diag_add(L->d, n->line, n->col, "reason tree deeper than 8 levels");
        return;
    }
    if (n->kind == GB_CNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            const gb_cnode_t *it = n->items[i];
            if (it->kind != GB_CNODE_SCALAR || !gb_name_valid(it->str)) {
                gb_diag_add(L->d, it->line, it->col,
                            "a reason in a list must be a plain name such as 'breakage'");
                continue;
            }
            char *path = gb_xasprintf("%s/%s", prefix, it->str);
            bool dup = false;
            for (size_t j = 0; j < *cnt && !dup; j++)
                dup = !strcmp((*arr)[j].path, path);
            if (dup) {
                gb_diag_add(L->d, it->line, it->col, "reason '%s' is listed twice", path);
                free(path);
                continue;
            }
            add_reason(arr, cnt, path, planned, true);
        }
        return;
    }
    if (n->kind != GB_CNODE_MAP) {
        gb_diag_add(L->d, n->line, n->col,
                    "expected reasons below '%s': a mapping of names, a list of names, or nothing",
                    prefix);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const gb_cnode_t *k = n->keys[i], *v = n->items[i];
        if (!gb_name_valid(k->str)) {
            gb_diag_add(L->d, k->line, k->col, "'%s' is not a valid reason name", k->str);
            continue;
        }
        char *path = *prefix ? gb_xasprintf("%s/%s", prefix, k->str) : gb_xstrdup(k->str);
        bool leaf = gb_cnode_is_null(v);
        add_reason(arr, cnt, path, planned, leaf);
        if (!leaf) reason_tree(L, v, path, planned, arr, cnt, depth + 1);
    }
}

static void load_reasons(ld_t *L, const gb_cnode_t *root)
{
    const gb_cnode_t *n;
    if (gb_cfg_node(root, "reasons", false, "plant", GB_CNODE_MAP, &n, L->d) == 0) {
        static const char *const tops[] = {"planned", "unplanned", NULL};
        gb_cfg_check_keys(n, "reasons (the top level is 'planned' and 'unplanned')", tops, L->d);
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->keys[i]->str;
            if (strcmp(k, "planned") && strcmp(k, "unplanned")) continue;
            bool planned = !strcmp(k, "planned");
            add_reason(&L->p->reasons, &L->p->nreasons, gb_xstrdup(k), planned,
                       gb_cnode_is_null(n->items[i]));
            if (!gb_cnode_is_null(n->items[i]))
                reason_tree(L, n->items[i], k, planned, &L->p->reasons, &L->p->nreasons, 1);
        }
    }
    if (gb_cfg_node(root, "scrap_reasons", false, "plant", GB_CNODE_MAP, &n, L->d) == 0)
        reason_tree(L, n, "", false, &L->p->scrap_reasons, &L->p->nscrap_reasons, 0);
}

static const gb_reason_t *find_reason(const gb_plant_t *p, const char *path)
{
    for (size_t i = 0; i < p->nreasons; i++)
        if (!strcmp(p->reasons[i].path, path)) return &p->reasons[i];
    return NULL;
}

/* ---- state rules -------------------------------------------------------------------------- */

static void cond_clear(gb_cond_t *c)
{
    free(c->tag);
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i]);
    free(c->values);
    for (size_t i = 0; i < c->nsub; i++)
        cond_clear(&c->sub[i]);
    free(c->sub);
}

static void parse_cond(ld_t *L, const gb_cnode_t *n, gb_cond_t *c, int depth)
{
    memset(c, 0, sizeof *c);
    c->line = n->line;
    c->col = n->col;
    c->kind = GB_COND_ALWAYS;
    if (depth > 16) {
        gb_diag_add(L->d, n->line, n->col, "condition nested deeper than 16 levels");
        return;
    }
    if (n->kind == GB_CNODE_SCALAR && !strcmp(n->str, "always")) return;
    if (n->kind != GB_CNODE_MAP) {
        gb_diag_add(L->d, n->line, n->col,
                    "expected a condition: 'always', or a mapping such as {tag: execution, eq: "
                    "ACTIVE}, {all: [...]}, {any: [...]} or {not: {...}}");
        return;
    }
    const gb_cnode_t *v;
    static const char *const logic[] = {"all", "any", "not", NULL};
    for (int i = 0; logic[i]; i++) {
        if (!(v = gb_cnode_get(n, logic[i]))) continue;
        if (n->n != 1) {
            gb_diag_add(L->d, n->line, n->col, "'%s' must be the only key of its condition",
                        logic[i]);
            return;
        }
        if (i == 2) {
            c->kind = GB_COND_NOT;
            c->sub = gb_xcalloc(1, sizeof *c->sub);
            c->nsub = 1;
            parse_cond(L, v, &c->sub[0], depth + 1);
            return;
        }
        c->kind = i == 0 ? GB_COND_ALL : GB_COND_ANY;
        if (v->kind != GB_CNODE_SEQ || v->n == 0) {
            gb_diag_add(L->d, v->line, v->col, "'%s' takes a non-empty list of conditions",
                        logic[i]);
            return;
        }
        c->sub = gb_xcalloc(v->n, sizeof *c->sub);
        c->nsub = v->n;
        for (size_t j = 0; j < v->n; j++)
            parse_cond(L, v->items[j], &c->sub[j], depth + 1);
        return;
    }
    static const char *const cmp_keys[] = {"tag", "eq", "ne", "lt", "le", "gt", "ge", "in", NULL};
    gb_cfg_check_keys(n, "condition", cmp_keys, L->d);
    const char *tag;
    if (gb_cfg_str(n, "tag", true, "condition", &tag, L->d) != 0) return;
    c->kind = GB_COND_CMP;
    c->tag = gb_xstrdup(tag);
    c->tag_line = gb_cnode_get(n, "tag")->line;
    c->tag_col = gb_cnode_get(n, "tag")->col;
    int found = 0;
    for (size_t k = 0; k < n->n; k++) { /* in file order, so the second comparison is blamed */
        int op = 0;
        while (op_names[op] && (!n->keys[k]->str || strcmp(n->keys[k]->str, op_names[op])))
            op++;
        if (!op_names[op]) continue;
        v = n->items[k];
        if (found++) {
            gb_diag_add(L->d, n->keys[k]->line, n->keys[k]->col,
                        "a condition compares once; split it with 'all' or 'any'");
            continue;
        }
        c->op = (gb_op_t)op;
        if (op == GB_OP_IN) {
            if (v->kind != GB_CNODE_SEQ || v->n == 0) {
                gb_diag_add(L->d, v->line, v->col, "'in' takes a non-empty list of values");
                continue;
            }
            c->values = gb_xcalloc(v->n, sizeof *c->values);
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j]->kind != GB_CNODE_SCALAR) {
                    gb_diag_add(L->d, v->items[j]->line, v->items[j]->col,
                                "values in 'in' must be single values");
                    continue;
                }
                c->values[c->nvalues++] = gb_xstrdup(v->items[j]->str);
            }
        } else if (v->kind != GB_CNODE_SCALAR) {
            gb_diag_add(L->d, v->line, v->col, "'%s' compares with a single value, not %s",
                        op_names[op], gb_cnode_kind_name(v));
        } else {
            c->values = gb_xcalloc(1, sizeof *c->values);
            c->values[c->nvalues++] = gb_xstrdup(v->str);
        }
    }
    if (!found)
        gb_diag_add(L->d, n->line, n->col,
                    "condition on tag '%s' needs one comparison: eq, ne, lt, le, gt, ge or in",
                    tag);
}

static void parse_rules(ld_t *L, const gb_cnode_t *seq, gb_ruleset_t *rs)
{
    static const char *const rule_keys[] = {"name", "state", "when", "reason", NULL};
    for (size_t i = 0; i < seq->n; i++) {
        const gb_cnode_t *n = seq->items[i];
        if (n->kind != GB_CNODE_MAP) {
            gb_diag_add(L->d, n->line, n->col,
                        "a state rule is a mapping such as {state: running, when: {tag: "
                        "execution, eq: ACTIVE}}");
            continue;
        }
        gb_cfg_check_keys(n, "state rule", rule_keys, L->d);
        gb_rule_t *r = GROW(rs->rules, rs->n);
        memset(r, 0, sizeof *r);
        r->line = n->line;
        r->col = n->col;
        const char *s;
        if (gb_cfg_str(n, "name", false, "state rule", &s, L->d) == 0) r->name = gb_xstrdup(s);
        if (gb_cfg_str(n, "state", true, "state rule", &s, L->d) == 0) {
            const gb_cnode_t *sn = gb_cnode_get(n, "state");
            int k = -1;
            for (int j = 0; state_names[j]; j++)
                if (!strcmp(s, state_names[j])) k = j;
            if (k == GB_STATE_DISCONNECTED)
                gb_diag_add(L->d, sn->line, sn->col,
                            "'disconnected' comes from missing data (the machine's "
                            "'disconnected_after'), not from a rule");
            else if (k < 0) {
                static const char *const ruleable[] = {"running", "idle",         "down",
                                                       "setup",   "planned_stop", NULL};
                const char *near = gb_did_you_mean(s, ruleable);
                gb_diag_add(L->d, sn->line, sn->col,
                            "unknown state '%s'%s%s%s; expected running, idle, down, setup or "
                            "planned_stop",
                            s, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            } else
                r->state = (gb_state_t)k;
        }
        const gb_cnode_t *w = gb_cnode_get(n, "when");
        if (w)
            parse_cond(L, w, &r->when, 0);
        else
            r->when = (gb_cond_t){.kind = GB_COND_ALWAYS, .line = n->line, .col = n->col};
        if (gb_cfg_str(n, "reason", false, "state rule", &s, L->d) == 0) {
            const gb_cnode_t *rn = gb_cnode_get(n, "reason");
            if (!find_reason(L->p, s))
                gb_diag_add(L->d, rn->line, rn->col,
                            "unknown reason '%s'; reasons are paths in the 'reasons' tree such "
                            "as unplanned/tooling/breakage",
                            s);
            else
                r->reason = gb_xstrdup(s);
        }
    }
}

static void load_rulesets(ld_t *L, const gb_cnode_t *root)
{
    const gb_cnode_t *n;
    if (gb_cfg_node(root, "state_rules", false, "plant", GB_CNODE_MAP, &n, L->d) != 0) return;
    for (size_t i = 0; i < n->n; i++) {
        const gb_cnode_t *k = n->keys[i], *v = n->items[i];
        if (!gb_name_valid(k->str))
            gb_diag_add(L->d, k->line, k->col, "'%s' is not a valid rule-set name", k->str);
        if (v->kind != GB_CNODE_SEQ) {
            gb_diag_add(L->d, v->line, v->col, "rule set '%s' should be a list of rules, not %s",
                        k->str, gb_cnode_kind_name(v));
            continue;
        }
        gb_ruleset_t *rs = GROW(L->p->rulesets, L->p->nrulesets);
        memset(rs, 0, sizeof *rs);
        rs->name = gb_xstrdup(k->str);
        rs->line = k->line;
        rs->col = k->col;
        parse_rules(L, v, rs);
    }
}

static const gb_plant_tag_t *machine_tag(const gb_machine_t *m, const char *name)
{
    for (size_t i = 0; i < m->ntags; i++)
        if (!strcmp(m->tags[i].name, name)) return &m->tags[i];
    return NULL;
}

static bool literal_fits(const char *s, gb_vtype_t t)
{
    char *end;
    switch (t) {
    case GB_VT_STR:
        return true;
    case GB_VT_BOOL:
        return !strcmp(s, "true") || !strcmp(s, "false");
    case GB_VT_I64:
        errno = 0;
        strtoll(s, &end, 10);
        return *s && !*end && !errno;
    case GB_VT_F64:
        errno = 0;
        strtod(s, &end);
        return *s && !*end && !errno;
    }
    return false;
}

static void check_cond(ld_t *L, const gb_cond_t *c, const gb_machine_t *m)
{
    for (size_t i = 0; i < c->nsub; i++)
        check_cond(L, &c->sub[i], m);
    if (c->kind != GB_COND_CMP) return;
    const gb_plant_tag_t *t = machine_tag(m, c->tag);
    if (t && t->type == 0) return; /* its type was already reported */
    if (!t) {
        const char **names = gb_xcalloc(m->ntags + 1, sizeof *names);
        for (size_t i = 0; i < m->ntags; i++)
            names[i] = m->tags[i].name;
        const char *near = gb_did_you_mean(c->tag, names);
        gb_diag_add(L->d, c->tag_line, c->tag_col,
                    "state rule uses tag '%s', which machine '%s' does not have%s%s%s", c->tag,
                    m->name, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        free(names);
        return;
    }
    if (c->op >= GB_OP_LT && c->op <= GB_OP_GE && t->type != GB_VT_F64 && t->type != GB_VT_I64) {
        gb_diag_add(L->d, c->line, c->col,
                    "'%s' needs a number tag, but '%s' of machine '%s' is a tag of type %s",
                    op_names[c->op], t->name, m->name, gb_vtype_name(t->type));
        return;
    }
    for (size_t i = 0; i < c->nvalues; i++)
        if (!literal_fits(c->values[i], t->type))
            gb_diag_add(L->d, c->line, c->col,
                        "'%s' cannot be a value of tag '%s' of machine '%s', whose type is %s%s",
                        c->values[i], t->name, m->name, gb_vtype_name(t->type),
                        t->type == GB_VT_BOOL ? " (true or false)" : "");
}

/* ---- calendar ----------------------------------------------------------------------------- */

static int parse_days(ld_t *L, const gb_cnode_t *n, uint8_t *out)
{
    const gb_cnode_t *const *items = &n;
    size_t cnt = 1;
    if (n->kind == GB_CNODE_SEQ) {
        items = (const gb_cnode_t *const *)n->items;
        cnt = n->n;
    }
    uint8_t days = 0;
    if (cnt == 0) {
        gb_diag_add(L->d, n->line, n->col,
                    "'days' is empty: name the days the shift starts on, e.g. [mon-fri]");
        return GB_EINVAL;
    }
    for (size_t i = 0; i < cnt; i++) {
        const gb_cnode_t *it = items[i];
        int a = -1, b = -1;
        if (it->kind == GB_CNODE_SCALAR) {
            char buf[16];
            gb_strlcpy(buf, it->str, sizeof buf);
            char *dash = strchr(buf, '-');
            if (dash) *dash = 0;
            for (int j = 0; day_names[j]; j++) {
                if (!strcmp(buf, day_names[j])) a = j;
                if (dash && !strcmp(dash + 1, day_names[j])) b = j;
            }
            if (!dash) b = a;
        }
        if (a < 0 || b < 0) {
            gb_diag_add(L->d, it->line, it->col,
                        "expected a day (mon, tue, wed, thu, fri, sat, sun) or a range such as "
                        "mon-fri");
            return GB_EINVAL;
        }
        for (int j = a;; j = (j + 1) % 7) {
            days |= (uint8_t)(1u << j);
            if (j == b) break;
        }
    }
    *out = days;
    return 0;
}

static int shift_len(const gb_shift_t *s)
{
    int len = s->end_min - s->start_min;
    return len <= 0 ? len + 1440 : len;
}

static int clock_field(ld_t *L, const gb_cnode_t *m, const char *key, const char *what, int *out)
{
    const char *s;
    if (gb_cfg_str(m, key, true, what, &s, L->d) != 0) return GB_EINVAL;
    if (gb_clock_parse(s, out) != 0) {
        const gb_cnode_t *n = gb_cnode_get(m, key);
        gb_diag_add(L->d, n->line, n->col,
                    "'%s' is not a time of day: expected HH:MM between 00:00 and 24:00, "
                    "such as \"06:00\"",
                    s);
        return GB_EINVAL;
    }
    return 0;
}

static void load_shift(ld_t *L, const gb_cnode_t *n)
{
    static const char *const keys[] = {"name",   "days",        "start", "end",
                                       "breaks", "description", NULL};
    gb_cfg_check_keys(n, "shift", keys, L->d);
    gb_shift_t s = {0};
    const char *name;
    bool ok = gb_cfg_name(n, "name", true, "shift", &name, L->d) == 0;
    ok &= clock_field(L, n, "start", "shift", &s.start_min) == 0;
    ok &= clock_field(L, n, "end", "shift", &s.end_min) == 0;
    const gb_cnode_t *dn = gb_cnode_get(n, "days");
    if (!dn)
        gb_diag_add(L->d, n->line, n->col,
                    "shift is missing required key 'days' (e.g. [mon-fri] or [mon, wed])");
    else
        ok &= parse_days(L, dn, &s.days) == 0;
    if (!ok) return;
    for (size_t i = 0; i < L->p->nshifts; i++)
        if (!strcmp(L->p->shifts[i].name, name)) {
            const gb_cnode_t *nn = gb_cnode_get(n, "name");
            gb_diag_add(L->d, nn->line, nn->col, "duplicate shift name '%s'", name);
            return;
        }
    s.name = gb_xstrdup(name);
    const gb_cnode_t *bl;
    if (gb_cfg_node(n, "breaks", false, "shift", GB_CNODE_SEQ, &bl, L->d) == 0) {
        static const char *const bkeys[] = {"name", "start", "duration", NULL};
        int64_t len_ns = (int64_t)shift_len(&s) * 60 * GB_NS_PER_S;
        for (size_t i = 0; i < bl->n; i++) {
            const gb_cnode_t *b = bl->items[i];
            if (b->kind != GB_CNODE_MAP) {
                gb_diag_add(L->d, b->line, b->col,
                            "a break is a mapping such as {start: \"09:00\", duration: 15m}");
                continue;
            }
            gb_cfg_check_keys(b, "break", bkeys, L->d);
            gb_break_t br = {0};
            const char *bname = NULL;
            gb_cfg_str(b, "name", false, "break", &bname, L->d);
            if (clock_field(L, b, "start", "break", &br.start_min) != 0) continue;
            if (gb_cfg_duration(b, "duration", true, "break", &br.duration_ns, L->d) != 0) continue;
            int64_t off = (int64_t)((br.start_min - s.start_min + 1440) % 1440) * 60 * GB_NS_PER_S;
            if (br.duration_ns <= 0 || off + br.duration_ns > len_ns) {
                gb_diag_add(L->d, b->line, b->col, "break does not lie inside shift '%s'", name);
                continue;
            }
            for (size_t j = 0; j < s.nbreaks; j++) {
                int64_t o2 = (int64_t)((s.breaks[j].start_min - s.start_min + 1440) % 1440) * 60 *
                             GB_NS_PER_S;
                if (off < o2 + s.breaks[j].duration_ns && o2 < off + br.duration_ns)
                    gb_diag_add(L->d, b->line, b->col,
                                "break overlaps an earlier break of shift '%s'", name);
            }
            br.name = dup_or_null(bname);
            *GROW(s.breaks, s.nbreaks) = br;
        }
    }
    /* two shifts may not overlap: minute-of-week intervals on a circular week */
    for (size_t i = 0; i < L->p->nshifts; i++) {
        const gb_shift_t *o = &L->p->shifts[i];
        bool reported = false;
        for (int d1 = 0; d1 < 7 && !reported; d1++) {
            if (!(s.days & (1u << d1))) continue;
            int a0 = d1 * 1440 + s.start_min, a1 = a0 + shift_len(&s);
            for (int d2 = 0; d2 < 7 && !reported; d2++) {
                if (!(o->days & (1u << d2))) continue;
                for (int wrap = -1; wrap <= 1 && !reported; wrap++) {
                    int b0 = d2 * 1440 + o->start_min + wrap * 10080, b1 = b0 + shift_len(o);
                    if (a0 < b1 && b0 < a1) {
                        gb_diag_add(L->d, n->line, n->col, "shift '%s' overlaps shift '%s' (on %s)",
                                    name, o->name, day_names[d1]);
                        reported = true;
                    }
                }
            }
        }
    }
    *GROW(L->p->shifts, L->p->nshifts) = s;
}

static int date_field(ld_t *L, const gb_cnode_t *m, const char *key, int *y, int *mo, int *d)
{
    const char *s;
    int rc = gb_cfg_str(m, key, false, "calendar exception", &s, L->d);
    if (rc) return rc;
    if (gb_date_parse(s, y, mo, d) != 0) {
        const gb_cnode_t *n = gb_cnode_get(m, key);
        gb_diag_add(L->d, n->line, n->col, "'%s' is not a date: expected YYYY-MM-DD", s);
        return GB_EINVAL;
    }
    return 0;
}

static void load_calendar(ld_t *L, const gb_cnode_t *root)
{
    const gb_cnode_t *cal, *n;
    if (gb_cfg_node(root, "calendar", false, "plant", GB_CNODE_MAP, &cal, L->d) != 0) return;
    static const char *const keys[] = {"shifts", "exceptions", NULL};
    gb_cfg_check_keys(cal, "calendar", keys, L->d);
    if (gb_cfg_node(cal, "shifts", false, "calendar", GB_CNODE_SEQ, &n, L->d) == 0) {
        for (size_t i = 0; i < n->n; i++) {
            if (n->items[i]->kind != GB_CNODE_MAP)
                gb_diag_add(L->d, n->items[i]->line, n->items[i]->col,
                            "a shift is a mapping with name, days, start and end");
            else
                load_shift(L, n->items[i]);
        }
    }
    if (gb_cfg_node(cal, "exceptions", false, "calendar", GB_CNODE_SEQ, &n, L->d) != 0) return;
    static const char *const ekeys[] = {"date", "from", "to", "shifts", "description", NULL};
    for (size_t i = 0; i < n->n; i++) {
        const gb_cnode_t *e = n->items[i];
        if (e->kind != GB_CNODE_MAP) {
            gb_diag_add(L->d, e->line, e->col,
                        "an exception is a mapping such as {date: 2026-12-24, shifts: [early]}");
            continue;
        }
        gb_cfg_check_keys(e, "calendar exception", ekeys, L->d);
        gb_cal_exception_t x = {0};
        int rd = date_field(L, e, "date", &x.from_y, &x.from_m, &x.from_d);
        int rf = date_field(L, e, "from", &x.from_y, &x.from_m, &x.from_d);
        int rt = date_field(L, e, "to", &x.to_y, &x.to_m, &x.to_d);
        if (rd == GB_EINVAL || rf == GB_EINVAL || rt == GB_EINVAL) continue;
        if (rd == 0 && (rf == 0 || rt == 0)) {
            gb_diag_add(L->d, e->line, e->col, "give either 'date' or 'from' and 'to', not both");
            continue;
        }
        if (rd == 0) {
            x.to_y = x.from_y;
            x.to_m = x.from_m;
            x.to_d = x.from_d;
        } else if (rf != 0 || rt != 0) {
            gb_diag_add(L->d, e->line, e->col,
                        "calendar exception needs 'date', or both 'from' and 'to'");
            continue;
        } else if (x.to_y * 10000 + x.to_m * 100 + x.to_d <
                   x.from_y * 10000 + x.from_m * 100 + x.from_d) {
            gb_diag_add(L->d, e->line, e->col, "'to' is before 'from'");
            continue;
        }
        const gb_cnode_t *sl;
        if (gb_cfg_node(e, "shifts", false, "calendar exception", GB_CNODE_SEQ, &sl, L->d) != 0) {
            if (!gb_cnode_get(e, "shifts"))
                gb_diag_add(L->d, e->line, e->col,
                            "calendar exception needs 'shifts': the shifts that run on those "
                            "days, or [] when the plant is closed");
            continue;
        }
        x.shifts = gb_xcalloc(sl->n, sizeof *x.shifts);
        const char **names = gb_xcalloc(L->p->nshifts + 1, sizeof *names);
        for (size_t j = 0; j < L->p->nshifts; j++)
            names[j] = L->p->shifts[j].name;
        for (size_t j = 0; j < sl->n; j++) {
            const gb_cnode_t *it = sl->items[j];
            size_t k = 0;
            while (k < L->p->nshifts && (it->kind != GB_CNODE_SCALAR || strcmp(names[k], it->str)))
                k++;
            if (k == L->p->nshifts)
                unknown_ref(L, it, "shift", it->kind == GB_CNODE_SCALAR ? it->str : "?", names);
            else
                x.shifts[x.nshifts++] = (uint32_t)k;
        }
        free(names);
        const char *desc = NULL;
        gb_cfg_str(e, "description", false, "calendar exception", &desc, L->d);
        x.description = dup_or_null(desc);
        *GROW(L->p->exceptions, L->p->nexceptions) = x;
    }
}

/* ---- adapters ----------------------------------------------------------------------------- */

static const char *const adapter_common_keys[] = {"name", "type", "description", NULL};

static void load_adapters(ld_t *L, const gb_cnode_t *root)
{
    const gb_cnode_t *n;
    if (gb_cfg_node(root, "adapters", false, "plant", GB_CNODE_SEQ, &n, L->d) != 0) return;
    for (size_t i = 0; i < n->n; i++) {
        const gb_cnode_t *a = n->items[i];
        if (a->kind != GB_CNODE_MAP) {
            gb_diag_add(L->d, a->line, a->col,
                        "an adapter is a mapping with at least 'name' and 'type'");
            continue;
        }
        const char *name = NULL, *type = NULL, *desc = NULL;
        gb_cfg_name(a, "name", true, "adapter", &name, L->d);
        gb_cfg_str(a, "type", true, "adapter", &type, L->d);
        gb_cfg_str(a, "description", false, "adapter", &desc, L->d);
        const gb_adapter_class_t *cls = type ? gb_adapter_class_find(type) : NULL;
        if (type && !cls) {
            const char *known[32];
            size_t k = gb_adapter_class_list(known, 31);
            known[k < 31 ? k : 31] = NULL;
            char list[512] = "";
            for (size_t j = 0; known[j]; j++) {
                strncat(list, j ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, known[j], sizeof list - strlen(list) - 1);
            }
            const char *near = gb_did_you_mean(type, known);
            const gb_cnode_t *tn = gb_cnode_get(a, "type");
            gb_diag_add(L->d, tn->line, tn->col,
                        "unknown adapter type '%s'%s%s%s; this build has: %s", type,
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", list);
        }
        /* unknown keys: the common ones plus the class's own */
        const char *allowed[64];
        size_t na = 0;
        for (size_t j = 0; adapter_common_keys[j]; j++)
            allowed[na++] = adapter_common_keys[j];
        for (size_t j = 0; cls && cls->keys && cls->keys[j] && na < 63; j++)
            allowed[na++] = cls->keys[j];
        allowed[na] = NULL;
        if (cls || !type) gb_cfg_check_keys(a, "adapter", allowed, L->d);
        if (!name) continue;
        for (size_t j = 0; j < L->p->nadapters; j++)
            if (!strcmp(L->p->adapters[j].name, name)) {
                const gb_cnode_t *nn = gb_cnode_get(a, "name");
                gb_diag_add(L->d, nn->line, nn->col,
                            "duplicate adapter name '%s' (first at line %d)", name,
                            L->p->adapters[j].line);
                name = NULL;
                break;
            }
        if (!name) continue;
        gb_adapter_cfg_t *c = GROW(L->p->adapters, L->p->nadapters);
        *c = (gb_adapter_cfg_t){
            gb_xstrdup(name), dup_or_null(type), dup_or_null(desc), a, a->line, a->col};
    }
}

static uint32_t adapter_ref(ld_t *L, const gb_cnode_t *m, const char *what, uint32_t dflt)
{
    const char *name;
    if (gb_cfg_str(m, "adapter", false, what, &name, L->d) != 0) return dflt;
    for (size_t i = 0; i < L->p->nadapters; i++)
        if (!strcmp(L->p->adapters[i].name, name)) return (uint32_t)i;
    const char **names = gb_xcalloc(L->p->nadapters + 1, sizeof *names);
    for (size_t i = 0; i < L->p->nadapters; i++)
        names[i] = L->p->adapters[i].name;
    unknown_ref(L, gb_cnode_get(m, "adapter"), "adapter", name, names);
    free(names);
    return GB_NONE;
}

/* ---- machines ----------------------------------------------------------------------------- */

static void load_tag(ld_t *L, gb_machine_t *m, const gb_cnode_t *n, uint32_t dflt_adapter)
{
    static const char *const keys[] = {"name",    "type",  "unit",   "description", "adapter",
                                       "address", "scale", "offset", "deadband",    NULL};
    if (n->kind != GB_CNODE_MAP) {
        gb_diag_add(L->d, n->line, n->col,
                    "a tag is a mapping such as {name: spindle_load, type: float, unit: \"%%\"}");
        return;
    }
    gb_cfg_check_keys(n, "tag", keys, L->d);
    gb_plant_tag_t t = {.type = GB_VT_F64, .scale = 1, .line = n->line, .col = n->col};
    const char *name = NULL, *s;
    if (gb_cfg_name(n, "name", true, "tag", &name, L->d) != 0) name = NULL;
    if (gb_cfg_str(n, "type", false, "tag", &s, L->d) == 0) {
        int k = -1;
        for (int j = 0; type_names[j]; j++)
            if (!strcmp(s, type_names[j])) k = j;
        if (k < 0) {
            t.type = 0; /* unknown: skip the checks that depend on the type */
            const gb_cnode_t *tn = gb_cnode_get(n, "type");
            const char *near = gb_did_you_mean(s, type_names);
            gb_diag_add(L->d, tn->line, tn->col,
                        "unknown tag type '%s'%s%s%s; expected float, int, bool or string", s,
                        near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        } else
            t.type = (gb_vtype_t)(k + 1);
    }
    bool numeric = t.type == GB_VT_F64 || t.type == GB_VT_I64;
    static const char *const fkeys[] = {"scale", "offset", "deadband"};
    for (int j = 0; j < 3; j++) {
        double v;
        if (gb_cfg_double(n, fkeys[j], false, "tag", &v, L->d) != 0) continue;
        const gb_cnode_t *vn = gb_cnode_get(n, fkeys[j]);
        if (t.type == 0)
            continue;
        else if (j < 2 && t.type != GB_VT_F64)
            gb_diag_add(L->d, vn->line, vn->col,
                        "'%s' applies to float tags only; this tag is %s (declare 'type: float' "
                        "to scale a raw value)",
                        fkeys[j], gb_vtype_name(t.type));
        else if (j == 2 && !numeric)
            gb_diag_add(L->d, vn->line, vn->col, "'deadband' applies to number tags only");
        else if (j == 0 && v == 0)
            gb_diag_add(L->d, vn->line, vn->col, "'scale' must not be 0");
        else if (j == 2 && v < 0)
            gb_diag_add(L->d, vn->line, vn->col, "'deadband' must not be negative");
        else if (j == 0)
            t.scale = v;
        else if (j == 1)
            t.offset = v;
        else
            t.deadband = v;
    }
    t.adapter = adapter_ref(L, n, "tag", dflt_adapter);
    const char *unit = NULL, *desc = NULL, *addr = NULL;
    gb_cfg_str(n, "unit", false, "tag", &unit, L->d);
    gb_cfg_str(n, "description", false, "tag", &desc, L->d);
    gb_cfg_str(n, "address", false, "tag", &addr, L->d);
    if (!name) return;
    if (!strncmp(name, GB_DERIVED_PREFIX, strlen(GB_DERIVED_PREFIX))) {
        const gb_cnode_t *nn = gb_cnode_get(n, "name");
        gb_diag_add(L->d, nn->line, nn->col,
                    "tag names starting with '%s' are gemba's own "
                    "(the OEE results it stores); choose another name",
                    GB_DERIVED_PREFIX);
        return;
    }
    if (machine_tag(m, name)) {
        const gb_cnode_t *nn = gb_cnode_get(n, "name");
        gb_diag_add(L->d, nn->line, nn->col, "machine '%s' already has a tag named '%s'", m->name,
                    name);
        return;
    }
    t.name = gb_xstrdup(name);
    t.unit = dup_or_null(unit);
    t.description = dup_or_null(desc);
    t.address = gb_xstrdup(addr ? addr : name);
    *GROW(m->tags, m->ntags) = t;
}

static void load_machine(ld_t *L, const gb_cnode_t *n, uint32_t line)
{
    static const char *const keys[] = {"name",
                                       "description",
                                       "kind",
                                       "adapter",
                                       "tags",
                                       "state_rules",
                                       "ideal_cycle_time",
                                       "cycle_times",
                                       "cycle_times_by",
                                       "job_tag",
                                       "operator_tag",
                                       "counts",
                                       "micro_stop",
                                       "disconnected_after",
                                       "sim",
                                       NULL};
    if (n->kind != GB_CNODE_MAP) {
        gb_diag_add(L->d, n->line, n->col,
                    "a machine is a mapping with at least 'name' and 'tags'");
        return;
    }
    gb_cfg_check_keys(n, "machine", keys, L->d);
    const char *name = NULL, *s;
    if (gb_cfg_name(n, "name", true, "machine", &name, L->d) != 0) name = NULL;
    for (size_t i = 0; name && i < L->p->nmachines; i++)
        if (!strcmp(L->p->machines[i].name, name)) {
            const gb_cnode_t *nn = gb_cnode_get(n, "name");
            gb_diag_add(L->d, nn->line, nn->col,
                        "duplicate machine name '%s' (first at line %d); machine names are unique "
                        "in a plant",
                        name, L->p->machines[i].pos_line);
            name = NULL;
        }
    gb_machine_t m = {.line = line,
                      .ruleset = GB_NONE,
                      .disconnected_after_ns = 60 * GB_NS_PER_S,
                      .pos_line = n->line,
                      .pos_col = n->col,
                      .node = n};
    const char *shown = NULL;
    gb_cfg_str(n, "name", false, "machine", &shown, NULL);
    m.name = shown ? gb_xstrdup(shown) : gb_xasprintf("(machine at line %d)", n->line);
    if (gb_cfg_str(n, "description", false, "machine", &s, L->d) == 0)
        m.description = gb_xstrdup(s);
    if (gb_cfg_str(n, "kind", false, "machine", &s, L->d) == 0) m.kind = gb_xstrdup(s);
    uint32_t dflt_adapter = adapter_ref(L, n, "machine", GB_NONE);

    const gb_cnode_t *tl;
    if (gb_cfg_node(n, "tags", false, "machine", GB_CNODE_SEQ, &tl, L->d) == 0)
        for (size_t i = 0; i < tl->n; i++)
            load_tag(L, &m, tl->items[i], dflt_adapter);

    int64_t ns;
    if (gb_cfg_duration(n, "ideal_cycle_time", false, "machine", &ns, L->d) == 0) {
        if (ns <= 0)
            gb_diag_add(L->d, gb_cnode_get(n, "ideal_cycle_time")->line,
                        gb_cnode_get(n, "ideal_cycle_time")->col,
                        "'ideal_cycle_time' must be positive");
        m.ideal_cycle_ns = ns;
    }
    if (gb_cfg_duration(n, "disconnected_after", false, "machine", &ns, L->d) == 0) {
        if (ns <= 0)
            gb_diag_add(L->d, gb_cnode_get(n, "disconnected_after")->line,
                        gb_cnode_get(n, "disconnected_after")->col,
                        "'disconnected_after' must be positive");
        m.disconnected_after_ns = ns;
    }
    const gb_cnode_t *ct;
    if (gb_cfg_node(n, "cycle_times", false, "machine", GB_CNODE_MAP, &ct, L->d) == 0) {
        for (size_t i = 0; i < ct->n; i++) {
            const gb_cnode_t *v = ct->items[i];
            int64_t d;
            if (v->kind != GB_CNODE_SCALAR || gb_duration_parse(v->str, &d) != 0 || d <= 0) {
                gb_diag_add(L->d, v->line, v->col,
                            "cycle time of '%s' should be a positive duration such as 42s",
                            ct->keys[i]->str);
                continue;
            }
            gb_cycle_time_t *c = GROW(m.cycle_times, m.ncycle_times);
            c->key = gb_xstrdup(ct->keys[i]->str);
            c->ns = d;
        }
    }
    if (gb_cfg_duration(n, "micro_stop", false, "machine", &ns, L->d) == 0) m.micro_stop_ns = ns;
    if (gb_cfg_str(n, "cycle_times_by", false, "machine", &s, L->d) == 0) {
        const gb_plant_tag_t *t = machine_tag(&m, s);
        const gb_cnode_t *vn = gb_cnode_get(n, "cycle_times_by");
        if (!t)
            gb_diag_add(L->d, vn->line, vn->col,
                        "cycle_times_by names tag '%s', which machine '%s' does not have", s,
                        m.name);
        else
            m.cycle_times_by = gb_xstrdup(s);
    }
    static const char *const label_keys[] = {"job_tag", "operator_tag"};
    char **label_dst[] = {&m.job_tag, &m.operator_tag};
    for (int k = 0; k < 2; k++) {
        if (gb_cfg_str(n, label_keys[k], false, "machine", &s, L->d) != 0) continue;
        const gb_plant_tag_t *t = machine_tag(&m, s);
        const gb_cnode_t *vn = gb_cnode_get(n, label_keys[k]);
        if (!t)
            gb_diag_add(L->d, vn->line, vn->col,
                        "%s names tag '%s', which machine '%s' does "
                        "not have",
                        label_keys[k], s, m.name);
        else if (t->type != GB_VT_STR && t->type != GB_VT_I64 && t->type != 0)
            gb_diag_add(L->d, vn->line, vn->col, "%s needs a string or int tag; '%s' is %s",
                        label_keys[k], s, gb_vtype_name(t->type));
        else
            *label_dst[k] = gb_xstrdup(s);
    }
    const gb_cnode_t *cn;
    if (gb_cfg_node(n, "counts", false, "machine", GB_CNODE_MAP, &cn, L->d) == 0) {
        static const char *const ckeys[] = {"total", "good", "scrap", "counter_max", NULL};
        gb_cfg_check_keys(cn, "counts", ckeys, L->d);
        gb_cfg_int(cn, "counter_max", false, "counts", 1, INT64_MAX, &m.counter_max, L->d);
        char **dst[] = {&m.count_total, &m.count_good, &m.count_scrap};
        for (int j = 0; j < 3; j++) {
            if (gb_cfg_str(cn, ckeys[j], false, "counts", &s, L->d) != 0) continue;
            const gb_cnode_t *vn = gb_cnode_get(cn, ckeys[j]);
            const gb_plant_tag_t *t = machine_tag(&m, s);
            if (!t)
                gb_diag_add(L->d, vn->line, vn->col,
                            "counts.%s names tag '%s', which machine '%s' does not have", ckeys[j],
                            s, m.name);
            else if (t->type != GB_VT_I64 && t->type != GB_VT_F64 && t->type != 0)
                gb_diag_add(L->d, vn->line, vn->col, "counts.%s needs a number tag; '%s' is %s",
                            ckeys[j], s, gb_vtype_name(t->type));
            else
                *dst[j] = gb_xstrdup(s);
        }
    }
    const gb_cnode_t *sr = gb_cnode_get(n, "state_rules");
    if (sr && sr->kind == GB_CNODE_SCALAR) {
        for (size_t i = 0; i < L->p->nrulesets; i++)
            if (!L->p->rulesets[i].is_inline && !strcmp(L->p->rulesets[i].name, sr->str))
                m.ruleset = (uint32_t)i;
        if (m.ruleset == GB_NONE) {
            const char **names = gb_xcalloc(L->p->nrulesets + 1, sizeof *names);
            size_t nn = 0;
            for (size_t i = 0; i < L->p->nrulesets; i++)
                if (!L->p->rulesets[i].is_inline) names[nn++] = L->p->rulesets[i].name;
            unknown_ref(L, sr, "rule set", sr->str, names);
            free(names);
        }
    } else if (sr && sr->kind == GB_CNODE_SEQ) {
        gb_ruleset_t *rs = GROW(L->p->rulesets, L->p->nrulesets);
        memset(rs, 0, sizeof *rs);
        rs->name = gb_xasprintf("%s (inline)", m.name);
        rs->is_inline = true;
        rs->line = sr->line;
        rs->col = sr->col;
        parse_rules(L, sr, rs);
        m.ruleset = (uint32_t)(L->p->nrulesets - 1);
    } else if (sr) {
        gb_diag_add(L->d, sr->line, sr->col,
                    "'state_rules' is the name of a rule set from the top-level 'state_rules', or "
                    "a list of rules");
    } else {
        for (size_t i = 0; i < L->p->nrulesets; i++)
            if (!strcmp(L->p->rulesets[i].name, "default")) m.ruleset = (uint32_t)i;
    }
    if (m.ruleset != GB_NONE) {
        const gb_ruleset_t *rs = &L->p->rulesets[m.ruleset];
        for (size_t i = 0; i < rs->n; i++)
            check_cond(L, &rs->rules[i].when, &m);
    }
    *GROW(L->p->machines, L->p->nmachines) = m;
}

static void load_areas(ld_t *L, const gb_cnode_t *root)
{
    const gb_cnode_t *al;
    if (gb_cfg_node(root, "areas", true, "plant", GB_CNODE_SEQ, &al, L->d) != 0) return;
    static const char *const akeys[] = {"name", "description", "lines", NULL};
    static const char *const lkeys[] = {"name", "description", "machines", NULL};
    for (size_t i = 0; i < al->n; i++) {
        const gb_cnode_t *a = al->items[i];
        if (a->kind != GB_CNODE_MAP) {
            gb_diag_add(L->d, a->line, a->col, "an area is a mapping with 'name' and 'lines'");
            continue;
        }
        gb_cfg_check_keys(a, "area", akeys, L->d);
        const char *name = NULL, *desc = NULL;
        if (gb_cfg_name(a, "name", true, "area", &name, L->d) != 0) continue;
        gb_cfg_str(a, "description", false, "area", &desc, L->d);
        for (size_t j = 0; j < L->p->nareas; j++)
            if (!strcmp(L->p->areas[j].name, name)) {
                const gb_cnode_t *nn = gb_cnode_get(a, "name");
                gb_diag_add(L->d, nn->line, nn->col, "duplicate area name '%s'", name);
            }
        uint32_t area = (uint32_t)L->p->nareas;
        *GROW(L->p->areas, L->p->nareas) = (gb_area_t){gb_xstrdup(name), dup_or_null(desc)};
        const gb_cnode_t *ll;
        if (gb_cfg_node(a, "lines", true, "area", GB_CNODE_SEQ, &ll, L->d) != 0) continue;
        for (size_t j = 0; j < ll->n; j++) {
            const gb_cnode_t *l = ll->items[j];
            if (l->kind != GB_CNODE_MAP) {
                gb_diag_add(L->d, l->line, l->col,
                            "a line is a mapping with 'name' and 'machines'");
                continue;
            }
            gb_cfg_check_keys(l, "line", lkeys, L->d);
            const char *lname = NULL, *ldesc = NULL;
            if (gb_cfg_name(l, "name", true, "line", &lname, L->d) != 0) continue;
            gb_cfg_str(l, "description", false, "line", &ldesc, L->d);
            for (size_t k = 0; k < L->p->nlines; k++)
                if (L->p->lines[k].area == area && !strcmp(L->p->lines[k].name, lname)) {
                    const gb_cnode_t *nn = gb_cnode_get(l, "name");
                    gb_diag_add(L->d, nn->line, nn->col, "duplicate line name '%s' in area '%s'",
                                lname, name);
                }
            uint32_t line = (uint32_t)L->p->nlines;
            *GROW(L->p->lines, L->p->nlines) =
                (gb_line_t){gb_xstrdup(lname), dup_or_null(ldesc), area};
            const gb_cnode_t *ml;
            if (gb_cfg_node(l, "machines", true, "line", GB_CNODE_SEQ, &ml, L->d) != 0) continue;
            for (size_t k = 0; k < ml->n; k++)
                load_machine(L, ml->items[k], line);
        }
    }
}

/* Hands each adapter class its configuration and the tags bound to it. */
static void check_adapters(ld_t *L)
{
    for (size_t i = 0; i < L->p->nadapters; i++) {
        const gb_adapter_cfg_t *a = &L->p->adapters[i];
        const gb_adapter_class_t *cls = a->type ? gb_adapter_class_find(a->type) : NULL;
        if (!cls || !cls->check) continue;
        gb_adapter_binding_t *b = NULL;
        size_t nb = 0;
        for (size_t m = 0; m < L->p->nmachines; m++)
            for (size_t t = 0; t < L->p->machines[m].ntags; t++)
                if (L->p->machines[m].tags[t].adapter == i)
                    *GROW(b, nb) = (gb_adapter_binding_t){GB_NONE, &L->p->machines[m],
                                                          &L->p->machines[m].tags[t]};
        cls->check(a, b, nb, L->d);
        free(b);
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

/*
 * The rollup periods of retention rule R whose points are kept KEEP (0: not known, an error was
 * reported): keep_1m and keep_1h, each a duration or `forever`, each at least KEEP, and keep_1h
 * at least keep_1m. Absent, keep_1m is 0 (no 1-minute rollups outlive the points) and keep_1h
 * is keep_1m: whoever keeps minutes a year wants the hours at least as long.
 */
static int retention_rollups(const gb_cnode_t *r, int64_t keep, int64_t *roll, gb_diag_t *diag)
{
    static const char *const keys[2] = {"keep_1m", "keep_1h"};
    int rc = 0;
    bool given[2] = {false, false};
    for (int w = 0; w < 2; w++) {
        roll[w] = 0;
        const gb_cnode_t *n = gb_cnode_get(r, keys[w]);
        if (!n || gb_cnode_is_null(n)) continue;
        if (n->kind == GB_CNODE_SCALAR && !strcmp(n->str, "forever")) {
            roll[w] = INT64_MAX;
        } else if (gb_cfg_duration(r, keys[w], false, "retention rule", &roll[w], diag) != 0) {
            rc = GB_EINVAL;
            continue;
        }
        given[w] = true;
        if (keep > 0 && roll[w] < keep) {
            gb_diag_add(diag, n->line, n->col,
                        "'%s' must be at least 'keep' (%s): rollups take over from the points "
                        "once those are dropped",
                        keys[w], gb_cnode_get(r, "keep")->str);
            rc = GB_EINVAL;
        } else if (w == 1 && given[0] && roll[1] < roll[0]) {
            gb_diag_add(diag, n->line, n->col,
                        "'keep_1h' must be at least 'keep_1m' (%s): hourly rollups are the ones "
                        "kept longest",
                        gb_cnode_get(r, "keep_1m")->str);
            rc = GB_EINVAL;
        }
    }
    if (!given[1]) roll[1] = roll[0];
    return rc;
}

/* ---- sections read by other modules -------------------------------------------------------- */

#define MAX_EXTS 8
static const gb_plant_ext_t *exts[MAX_EXTS];
static size_t nexts;

int gb_plant_ext_register(const gb_plant_ext_t *ext)
{
    for (size_t i = 0; i < nexts; i++)
        if (exts[i] == ext) return 0;
    if (nexts == MAX_EXTS) return GB_ERANGE;
    exts[nexts++] = ext;
    return 0;
}

/* A tree fresh from the parser, whose problems since BEFORE in DIAG (duplicate keys and the
 * like) still let the rest be checked, but make the load fail. */
static int load_parsed(const char *name, gb_cnode_t *root, size_t before, gb_plant_t **out,
                       gb_diag_t *diag)
{
    if (diag->n > before) {
        gb_plant_t *p = NULL;
        gb_plant_load_tree(name, root, &p, diag);
        gb_plant_free(p);
        return GB_EINVAL;
    }
    return gb_plant_load_tree(name, root, out, diag);
}

int gb_plant_load_mem(const char *name, const char *buf, size_t len, gb_plant_t **out,
                      gb_diag_t *diag)
{
    *out = NULL;
    size_t before = diag->n;
    gb_cnode_t *root;
    if (gb_config_parse(buf, len, &root, diag) != 0) return GB_EINVAL;
    return load_parsed(name, root, before, out, diag);
}

int gb_plant_load_tree(const char *name, gb_cnode_t *root, gb_plant_t **out, gb_diag_t *diag)
{
    *out = NULL;
    size_t before = diag->n;
    ld_t L = {gb_xcalloc(1, sizeof(gb_plant_t)), diag};
    L.p->file = gb_xstrdup(name);
    L.p->root = root;
    if (root->kind != GB_CNODE_MAP) {
        gb_diag_add(
            diag, root->line, root->col,
            "a plant file is a mapping with keys such as site, adapters and areas; found %s",
            gb_cnode_kind_name(root));
        goto out;
    }
    static const char *const top[] = {"version",     "enterprise", "site",    "adapters",
                                      "state_rules", "calendar",   "reasons", "scrap_reasons",
                                      "oee",         "historian",  "areas",   "simulation",
                                      NULL};
    gb_cfg_check_keys(root, "the plant file", top, diag);
    int64_t version;
    if (gb_cfg_int(root, "version", false, "plant", INT64_MIN, INT64_MAX, &version, diag) == 0 &&
        version != 1) {
        const gb_cnode_t *vn = gb_cnode_get(root, "version");
        gb_diag_add(diag, vn->line, vn->col,
                    "plant-file version %lld is not supported; this gemba reads version 1",
                    (long long)version);
    }
    const char *s;
    if (gb_cfg_name(root, "enterprise", false, "plant", &s, diag) == 0)
        L.p->enterprise = gb_xstrdup(s);
    const gb_cnode_t *site;
    if (gb_cfg_node(root, "site", true, "the plant file", GB_CNODE_MAP, &site, diag) == 0) {
        static const char *const skeys[] = {"name", "timezone", "description", NULL};
        gb_cfg_check_keys(site, "site", skeys, diag);
        if (gb_cfg_name(site, "name", true, "site", &s, diag) == 0) L.p->site = gb_xstrdup(s);
        if (gb_cfg_str(site, "description", false, "site", &s, diag) == 0)
            L.p->site_description = gb_xstrdup(s);
        if (gb_cfg_str(site, "timezone", true, "site", &s, diag) == 0) {
            int rc = gb_timezone_check(s);
            const gb_cnode_t *tz = gb_cnode_get(site, "timezone");
            if (rc)
                gb_diag_add(diag, tz->line, tz->col,
                            "unknown time zone '%s': expected an IANA name such as Europe/Berlin, "
                            "America/Chicago or UTC",
                            s);
            else
                L.p->timezone = gb_xstrdup(s);
        }
    }
    L.p->micro_stop_ns = 120 * GB_NS_PER_S;
    const gb_cnode_t *oee;
    if (gb_cfg_node(root, "oee", false, "plant", GB_CNODE_MAP, &oee, diag) == 0) {
        static const char *const okeys[] = {"micro_stop", "late_window", NULL};
        gb_cfg_check_keys(oee, "oee", okeys, diag);
        gb_cfg_duration(oee, "micro_stop", false, "oee", &L.p->micro_stop_ns, diag);
        const gb_cnode_t *lw = gb_cnode_get(oee, "late_window");
        if (gb_cfg_duration(oee, "late_window", false, "oee", &L.p->late_window_ns, diag) == 0 &&
            L.p->late_window_ns <= 0)
            gb_diag_add(diag, lw->line, lw->col,
                        "oee.late_window must be above 0: it is how late a sample may arrive and "
                        "still be placed, such as 8h");
    }
    const gb_cnode_t *hist, *ret;
    if (gb_cfg_node(root, "historian", false, "plant", GB_CNODE_MAP, &hist, diag) == 0) {
        static const char *const hkeys[] = {"retention", NULL};
        gb_cfg_check_keys(hist, "historian", hkeys, diag);
        if (gb_cfg_node(hist, "retention", false, "historian", GB_CNODE_SEQ, &ret, diag) == 0)
            for (size_t i = 0; i < ret->n; i++) {
                const gb_cnode_t *r = ret->items[i];
                if (r->kind != GB_CNODE_MAP) {
                    gb_diag_add(diag, r->line, r->col,
                                "a retention rule is a mapping such as {tags: \"*\", keep: 90d}");
                    continue;
                }
                static const char *const rkeys[] = {"tags", "keep", "keep_1m", "keep_1h", NULL};
                gb_cfg_check_keys(r, "retention rule", rkeys, diag);
                const char *pat;
                int64_t keep;
                int prc = gb_cfg_str(r, "tags", true, "retention rule", &pat, diag);
                int krc = gb_cfg_duration(r, "keep", true, "retention rule", &keep, diag);
                if (krc == 0 && keep <= 0) {
                    const gb_cnode_t *k = gb_cnode_get(r, "keep");
                    gb_diag_add(diag, k->line, k->col, "'keep' must be above 0, such as 90d or 2y");
                    krc = GB_EINVAL;
                }
                int64_t roll[2];
                int rrc = retention_rollups(r, krc == 0 ? keep : 0, roll, diag);
                if (prc || krc || rrc) continue;
                L.p->retention =
                    gb_xrealloc(L.p->retention, (L.p->nretention + 1) * sizeof *L.p->retention);
                L.p->retention[L.p->nretention++] =
                    (gb_plant_retention_t){gb_xstrdup(pat), keep, roll[0], roll[1]};
            }
    }
    load_adapters(&L, root);
    load_reasons(&L, root);
    load_rulesets(&L, root);
    load_calendar(&L, root);
    load_areas(&L, root);
    check_adapters(&L);
    for (size_t i = 0; i < nexts; i++)
        if (exts[i]->check) exts[i]->check(L.p, diag);
out:
    if (diag->n > before) {
        gb_plant_free(L.p);
        return GB_EINVAL;
    }
    *out = L.p;
    return 0;
}

int gb_plant_load_file(const char *path, gb_plant_t **out, gb_diag_t *diag)
{
    *out = NULL;
    size_t before = diag->n;
    gb_cnode_t *root;
    int rc = gb_config_parse_file(path, &root, diag);
    if (rc) return rc == GB_EIO ? rc : GB_EINVAL;
    return load_parsed(path, root, before, out, diag);
}

static void free_reasons(gb_reason_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].path);
    free(r);
}

void gb_plant_free(gb_plant_t *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nretention; i++)
        free(p->retention[i].tags);
    free(p->retention);
    free(p->file);
    free(p->enterprise);
    free(p->site);
    free(p->site_description);
    free(p->timezone);
    for (size_t i = 0; i < p->nadapters; i++) {
        free(p->adapters[i].name);
        free(p->adapters[i].type);
        free(p->adapters[i].description);
    }
    free(p->adapters);
    for (size_t i = 0; i < p->nrulesets; i++) {
        for (size_t j = 0; j < p->rulesets[i].n; j++) {
            free(p->rulesets[i].rules[j].name);
            free(p->rulesets[i].rules[j].reason);
            cond_clear(&p->rulesets[i].rules[j].when);
        }
        free(p->rulesets[i].rules);
        free(p->rulesets[i].name);
    }
    free(p->rulesets);
    for (size_t i = 0; i < p->nareas; i++) {
        free(p->areas[i].name);
        free(p->areas[i].description);
    }
    free(p->areas);
    for (size_t i = 0; i < p->nlines; i++) {
        free(p->lines[i].name);
        free(p->lines[i].description);
    }
    free(p->lines);
    for (size_t i = 0; i < p->nmachines; i++) {
        gb_machine_t *m = &p->machines[i];
        for (size_t j = 0; j < m->ntags; j++) {
            free(m->tags[j].name);
            free(m->tags[j].unit);
            free(m->tags[j].description);
            free(m->tags[j].address);
        }
        free(m->tags);
        for (size_t j = 0; j < m->ncycle_times; j++)
            free(m->cycle_times[j].key);
        free(m->cycle_times);
        free(m->name);
        free(m->description);
        free(m->kind);
        free(m->count_total);
        free(m->count_good);
        free(m->count_scrap);
        free(m->cycle_times_by);
        free(m->job_tag);
        free(m->operator_tag);
    }
    free(p->machines);
    for (size_t i = 0; i < p->nshifts; i++) {
        for (size_t j = 0; j < p->shifts[i].nbreaks; j++)
            free(p->shifts[i].breaks[j].name);
        free(p->shifts[i].breaks);
        free(p->shifts[i].name);
    }
    free(p->shifts);
    for (size_t i = 0; i < p->nexceptions; i++) {
        free(p->exceptions[i].shifts);
        free(p->exceptions[i].description);
    }
    free(p->exceptions);
    free_reasons(p->reasons, p->nreasons);
    free_reasons(p->scrap_reasons, p->nscrap_reasons);
    gb_cnode_free(p->root);
    free(p);
}

char *gb_plant_machine_path(const gb_plant_t *p, const gb_machine_t *m)
{
    const gb_line_t *l = &p->lines[m->line];
    const gb_area_t *a = &p->areas[l->area];
    if (p->enterprise)
        return gb_xasprintf("%s/%s/%s/%s/%s", p->enterprise, p->site, a->name, l->name, m->name);
    return gb_xasprintf("%s/%s/%s/%s", p->site, a->name, l->name, m->name);
}

gb_tags_t *gb_plant_build_tags(const gb_plant_t *p)
{
    gb_tags_t *r = gb_tags_new();
    uint32_t parent = GB_NONE, site, *areas, *lines;
    if (p->enterprise) gb_tags_add_asset(r, GB_ASSET_ENTERPRISE, GB_NONE, p->enterprise, &parent);
    gb_tags_add_asset(r, GB_ASSET_SITE, parent, p->site, &site);
    areas = gb_xcalloc(p->nareas, sizeof *areas);
    lines = gb_xcalloc(p->nlines, sizeof *lines);
    for (size_t i = 0; i < p->nareas; i++)
        gb_tags_add_asset(r, GB_ASSET_AREA, site, p->areas[i].name, &areas[i]);
    for (size_t i = 0; i < p->nlines; i++)
        gb_tags_add_asset(r, GB_ASSET_LINE, areas[p->lines[i].area], p->lines[i].name, &lines[i]);
    for (size_t i = 0; i < p->nmachines; i++) {
        const gb_machine_t *m = &p->machines[i];
        uint32_t mid;
        /* the loader has checked every name and its uniqueness */
        if (gb_tags_add_asset(r, GB_ASSET_MACHINE, lines[m->line], m->name, &mid) != 0) abort();
        for (size_t j = 0; j < m->ntags; j++) {
            const gb_plant_tag_t *pt = &m->tags[j];
            gb_tag_t t = {.name = pt->name,
                          .type = pt->type,
                          .unit = pt->unit,
                          .scale = pt->scale,
                          .offset = pt->offset,
                          .deadband = pt->deadband,
                          .adapter = pt->adapter,
                          .address = pt->address};
            gb_tags_add(r, mid, &t, NULL);
        }
        /* what the OEE engine derives for the machine, kept in the store beside its signals */
        static const struct {
            const char *name;
            gb_vtype_t type;
        } derived[] = {{"oee.state", GB_VT_STR},
                       {"oee.availability", GB_VT_F64},
                       {"oee.effectiveness", GB_VT_F64},
                       {"oee.quality_ratio", GB_VT_F64},
                       {"oee.oee", GB_VT_F64}};
        for (size_t j = 0; j < sizeof derived / sizeof derived[0]; j++) {
            gb_tag_t t = {.name = (char *)derived[j].name,
                          .type = derived[j].type,
                          .scale = 1,
                          .adapter = GB_NONE,
                          .derived = true};
            gb_tags_add(r, mid, &t, NULL);
        }
    }
    free(areas);
    free(lines);
    return r;
}
