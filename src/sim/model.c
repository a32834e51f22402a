/*
 * From plant file to simulation model. The plant file already describes lines, machines, ideal
 * cycle times and the shift calendar; the simulator adds, per machine, a `sim:` section (how long
 * a part takes, how it fails, setups, micro-stops, scrap, its input buffer) and, for the plant, a
 * `simulation:` section (products and routes, arrival processes, parallel stations, the repair
 * crew). What is left out has a default a plant engineer would expect: one product per line that
 * visits the line's machines in the order the file lists them, fed by an unlimited supply.
 *
 * A machine is simulated when it has a `sim:` section or a tag bound to an adapter of type `sim`;
 * the latter get a generic model (from the ideal cycle time) when they have no `sim:` section, so
 * that any plant file can run against the simulator by changing only its adapter.
 *
 * Every problem is reported at its FILE:LINE:COL, like the rest of the plant file.
 */
#include "gemba/error.h"
#include "sim/sim_internal.h"
#include "util/str.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MEAN 1e-3 /* seconds: the shortest mean cycle, interarrival or micro-stop spacing */
#define GROW(arr, n) ((arr) = gb_xrealloc((arr), ((n) + 1) * sizeof *(arr)), &(arr)[(n)++])

typedef struct {
    gb_sim_model_t *md;
    const gb_plant_t *p;
    gb_diag_t *d;
    const gb_cnode_t *sim;  /* the simulation: section or NULL */
    const gb_cnode_t **msim; /* per model machine: its sim: section or NULL */
} bld_t;

static void at(bld_t *B, const gb_cnode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void at(bld_t *B, const gb_cnode_t *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gb_diag_add(B->d, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

static bool bound_to_sim(const gb_plant_t *p, const gb_machine_t *m)
{
    for (size_t t = 0; t < m->ntags; t++) {
        uint32_t a = m->tags[t].adapter;
        if (a != GB_NONE && a < p->nadapters && p->adapters[a].type &&
            !strcmp(p->adapters[a].type, "sim"))
            return true;
    }
    return false;
}

static uint32_t find_machine(const gb_sim_model_t *md, const char *name)
{
    for (uint32_t i = 0; i < md->nm; i++)
        if (!strcmp(md->m[i].name, name)) return i;
    return SIM_NONE;
}

static uint32_t find_product(const gb_sim_model_t *md, const char *name)
{
    for (uint32_t i = 0; i < md->nprod; i++)
        if (!strcmp(md->prod[i].name, name)) return i;
    return SIM_NONE;
}

/* A station by its name, or by the name of one of its machines. */
static uint32_t find_station(const gb_sim_model_t *md, const char *name)
{
    for (uint32_t i = 0; i < md->nst; i++)
        if (!strcmp(md->st[i].name, name)) return i;
    uint32_t m = find_machine(md, name);
    return m == SIM_NONE ? SIM_NONE : md->m[m].station;
}

static int dist_at(bld_t *B, const gb_cnode_t *map, const char *key, bool required,
                   const char *what, gb_dist_t *out)
{
    const gb_cnode_t *n = gb_cnode_get(map, key);
    if (!n) {
        if (required) at(B, map, "%s needs '%s' (a time or a distribution, such as exp(2h))", what, key);
        return GB_ENOENT;
    }
    return gb_dist_parse_node(n, out, B->d);
}

/* A buffer capacity: a count of places, or `unlimited`. */
static int capacity(bld_t *B, const gb_cnode_t *n, uint64_t *out)
{
    if (n->kind == GB_CNODE_SCALAR &&
        (!strcmp(n->str, "unlimited") || !strcmp(n->str, "inf") || !strcmp(n->str, "infinite"))) {
        *out = SIM_UNLIMITED;
        return 0;
    }
    int64_t v;
    if (n->kind != GB_CNODE_SCALAR || gb_cfg_scalar_int(n, &v, NULL) != 0 || v < 0 ||
        v > 100000000) {
        at(B, n, "a buffer is a number of places from 0 (none: blocking after service) to "
                 "100000000, or 'unlimited'");
        return GB_EINVAL;
    }
    *out = (uint64_t)v;
    return 0;
}

/*
 * gb_cfg_check_keys, plus a hint for the likeliest slip: inside {...} or [...] YAML splits on
 * commas, so {cycle: normal(42s, 3s)} reads as a key "3s)". Such keys get the fix instead.
 */
static void check_keys(bld_t *B, const gb_cnode_t *m, const char *what, const char *const *keys)
{
    bool split = false;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->str;
        size_t n = strlen(k);
        if (n && k[n - 1] == ')' && !strchr(k, '(')) {
            at(B, m->keys[i],
               "'%s' looks like the end of a distribution cut at a comma: inside {...} or [...] "
               "quote a distribution that has commas, such as \"normal(42s, 3s)\"", k);
            split = true;
        }
    }
    if (!split) gb_cfg_check_keys(m, what, keys, B->d);
}

/* ---- lines, machines, stations ------------------------------------------------------------ */

static uint32_t line_of(bld_t *B, uint32_t plant_line)
{
    gb_sim_model_t *md = B->md;
    for (uint32_t i = 0; i < md->nline; i++)
        if (md->line[i].plant == plant_line) return i;
    sim_line_t *l = GROW(md->line, md->nline);
    l->name = gb_xstrdup(B->p->lines[plant_line].name);
    l->plant = plant_line;
    return md->nline - 1;
}

static void pick_machines(bld_t *B)
{
    const gb_plant_t *p = B->p;
    gb_sim_model_t *md = B->md;
    for (size_t i = 0; i < p->nmachines; i++) {
        const gb_machine_t *pm = &p->machines[i];
        const gb_cnode_t *sn = pm->node ? gb_cnode_get(pm->node, "sim") : NULL;
        if (!sn && !bound_to_sim(p, pm)) continue;
        if (sn && sn->kind != GB_CNODE_MAP) {
            at(B, sn, "machine '%s': 'sim' is a mapping with keys such as cycle, failures, "
                      "setup, scrap and buffer", pm->name);
            sn = NULL;
        }
        sim_machine_t *m = GROW(md->m, md->nm);
        memset(m, 0, sizeof *m);
        m->name = gb_xstrdup(pm->name);
        m->plant = (uint32_t)i;
        m->line = line_of(B, pm->line);
        m->station = SIM_NONE;
        m->ideal_cycle = pm->ideal_cycle_ns ? (double)pm->ideal_cycle_ns / 1e9 : 0;
        B->msim = gb_xrealloc(B->msim, md->nm * sizeof *B->msim);
        B->msim[md->nm - 1] = sn;
    }
}

static void load_stations(bld_t *B)
{
    gb_sim_model_t *md = B->md;
    const gb_cnode_t *sl = B->sim ? gb_cnode_get(B->sim, "stations") : NULL;
    if (sl && sl->kind != GB_CNODE_SEQ) {
        at(B, sl, "'stations' is a list of {name, machines: [...], buffer}");
        sl = NULL;
    }
    static const char *const skeys[] = {"name", "machines", "buffer", NULL};
    for (size_t i = 0; sl && i < sl->n; i++) {
        const gb_cnode_t *sn = sl->items[i];
        if (sn->kind != GB_CNODE_MAP) {
            at(B, sn, "a station is a mapping {name, machines: [...], buffer}: machines in "
                      "parallel that share one input buffer");
            continue;
        }
        check_keys(B, sn, "station", skeys);
        const char *name;
        const gb_cnode_t *ml;
        if (gb_cfg_name(sn, "name", true, "station", &name, B->d) != 0) continue;
        if (gb_cfg_node(sn, "machines", true, "station", GB_CNODE_SEQ, &ml, B->d) != 0) continue;
        if (find_station(md, name) != SIM_NONE || find_machine(md, name) != SIM_NONE) {
            at(B, gb_cnode_get(sn, "name"),
               "station name '%s' is already used by a station or a machine", name);
            continue;
        }
        sim_station_t st = {gb_xstrdup(name), NULL, 0, 0, SIM_NONE};
        const gb_cnode_t *bn = gb_cnode_get(sn, "buffer");
        if (bn) capacity(B, bn, &st.cap);
        for (size_t k = 0; k < ml->n; k++) {
            const gb_cnode_t *it = ml->items[k];
            uint32_t mi = it->kind == GB_CNODE_SCALAR ? find_machine(md, it->str) : SIM_NONE;
            if (mi == SIM_NONE) {
                at(B, it, "station '%s': '%s' is not a simulated machine (a machine with a "
                          "'sim:' section or bound to a sim adapter)",
                   name, it->kind == GB_CNODE_SCALAR ? it->str : "?");
                continue;
            }
            if (md->m[mi].station != SIM_NONE) {
                at(B, it, "machine '%s' is already in station '%s'", it->str,
                   md->m[mi].station == md->nst ? name : md->st[md->m[mi].station].name);
                continue;
            }
            if (B->msim[mi] && gb_cnode_get(B->msim[mi], "buffer"))
                at(B, gb_cnode_get(B->msim[mi], "buffer"),
                   "machine '%s' is in station '%s', whose 'buffer' sets its input buffer; "
                   "remove this one",
                   it->str, name);
            md->m[mi].station = md->nst;
            *GROW(st.m, st.nm) = mi;
        }
        if (st.nm == 0) {
            if (ml->n == 0) at(B, ml, "station '%s' has no machines", name);
            free(st.name);
            continue;
        }
        *GROW(md->st, md->nst) = st;
    }
    for (uint32_t mi = 0; mi < md->nm; mi++) {
        sim_machine_t *m = &md->m[mi];
        if (m->station != SIM_NONE) continue;
        sim_station_t st = {gb_xstrdup(m->name), NULL, 0, 0, SIM_NONE};
        const gb_cnode_t *bn = B->msim[mi] ? gb_cnode_get(B->msim[mi], "buffer") : NULL;
        if (bn) capacity(B, bn, &st.cap);
        else if (!B->msim[mi]) st.cap = 10; /* the generic model */
        *GROW(st.m, st.nm) = mi;
        m->station = md->nst;
        *GROW(md->st, md->nst) = st;
    }
}

/* ---- products and sources ----------------------------------------------------------------- */

static void default_products(bld_t *B)
{
    gb_sim_model_t *md = B->md;
    for (uint32_t l = 0; l < md->nline; l++) {
        sim_product_t pr = {gb_xstrdup(md->line[l].name), NULL, NULL, 0, l, 1, 1};
        pr.program = gb_xstrdup(pr.name);
        for (uint32_t mi = 0; mi < md->nm; mi++) {
            if (md->m[mi].line != l) continue;
            uint32_t st = md->m[mi].station;
            bool seen = false;
            for (uint32_t k = 0; k < pr.nroute; k++) seen |= pr.route[k] == st;
            if (!seen) *GROW(pr.route, pr.nroute) = st;
        }
        *GROW(md->prod, md->nprod) = pr;
    }
}

static void load_products(bld_t *B)
{
    gb_sim_model_t *md = B->md;
    const gb_cnode_t *pl = B->sim ? gb_cnode_get(B->sim, "products") : NULL;
    if (!pl) {
        default_products(B);
        return;
    }
    if (pl->kind != GB_CNODE_SEQ || pl->n == 0) {
        at(B, pl, "'products' is a list of {name, route: [stations or machines...]}");
        return;
    }
    static const char *const pkeys[] = {"name", "route", "line", "mix", "lot_size", "program", NULL};
    for (size_t i = 0; i < pl->n; i++) {
        const gb_cnode_t *pn = pl->items[i];
        if (pn->kind != GB_CNODE_MAP) {
            at(B, pn, "a product is a mapping {name, route: [...], mix, lot_size, program}");
            continue;
        }
        check_keys(B, pn, "product", pkeys);
        const char *name, *s;
        const gb_cnode_t *rl;
        if (gb_cfg_name(pn, "name", true, "product", &name, B->d) != 0) continue;
        if (find_product(md, name) != SIM_NONE) {
            at(B, gb_cnode_get(pn, "name"), "duplicate product '%s'", name);
            continue;
        }
        if (gb_cfg_node(pn, "route", true, "product", GB_CNODE_SEQ, &rl, B->d) != 0) continue;
        sim_product_t pr = {gb_xstrdup(name), NULL, NULL, 0, SIM_NONE, 1, 1};
        pr.program = gb_xstrdup(gb_cfg_str(pn, "program", false, "product", &s, B->d) == 0 ? s
                                                                                       : name);
        for (size_t k = 0; k < rl->n; k++) {
            const gb_cnode_t *it = rl->items[k];
            uint32_t st = it->kind == GB_CNODE_SCALAR ? find_station(md, it->str) : SIM_NONE;
            if (st == SIM_NONE) {
                at(B, it, "product '%s': route step '%s' is not a station or a simulated machine",
                   name, it->kind == GB_CNODE_SCALAR ? it->str : "?");
                continue;
            }
            *GROW(pr.route, pr.nroute) = st;
        }
        if (rl->n == 0) at(B, rl, "product '%s': the route is empty", name);
        if (gb_cfg_double(pn, "mix", false, "product", &pr.mix, B->d) == 0 &&
            !(pr.mix > 0 && isfinite(pr.mix)))
            at(B, gb_cnode_get(pn, "mix"), "'mix' is a weight above 0, such as 0.3 or 3");
        int64_t lot;
        if (gb_cfg_int(pn, "lot_size", false, "product", 1, 1000000000, &lot, B->d) == 0)
            pr.lot = (uint32_t)lot;
        const char *ln;
        if (gb_cfg_name(pn, "line", false, "product", &ln, B->d) == 0) {
            for (uint32_t l = 0; l < md->nline; l++)
                if (!strcmp(md->line[l].name, ln)) pr.line = l;
            if (pr.line == SIM_NONE)
                at(B, gb_cnode_get(pn, "line"), "product '%s': '%s' is not a line with "
                                                "simulated machines", name, ln);
        }
        if (pr.line == SIM_NONE && pr.nroute) {
            const sim_station_t *last = &md->st[pr.route[pr.nroute - 1]];
            pr.line = md->m[last->m[0]].line;
        }
        if (pr.line == SIM_NONE) pr.line = 0;
        *GROW(md->prod, md->nprod) = pr;
    }
}

static void set_mix(sim_source_t *src, const gb_sim_model_t *md)
{
    double tot = 0, c = 0;
    for (uint32_t k = 0; k < src->np; k++) tot += md->prod[src->products[k]].mix;
    src->cum = gb_xmalloc(src->np * sizeof *src->cum);
    for (uint32_t k = 0; k < src->np; k++) {
        c += md->prod[src->products[k]].mix;
        src->cum[k] = k + 1 == src->np ? 1.0 : c / tot;
    }
}

static void load_sources(bld_t *B)
{
    gb_sim_model_t *md = B->md;
    bool *fed = gb_xcalloc(md->nprod + 1, sizeof *fed);
    const gb_cnode_t *sl = B->sim ? gb_cnode_get(B->sim, "sources") : NULL;
    if (sl && sl->kind != GB_CNODE_SEQ) {
        at(B, sl, "'sources' is a list of {name, interarrival, products, when_full}");
        sl = NULL;
    }
    static const char *const skeys[] = {"name", "interarrival", "products", "when_full", NULL};
    for (size_t i = 0; sl && i < sl->n; i++) {
        const gb_cnode_t *sn = sl->items[i];
        if (sn->kind != GB_CNODE_MAP) {
            at(B, sn, "a source is a mapping {name, interarrival: exp(2m), products: [...], "
                      "when_full: wait or lose}");
            continue;
        }
        check_keys(B, sn, "source", skeys);
        const char *name, *wf;
        if (gb_cfg_name(sn, "name", true, "source", &name, B->d) != 0) continue;
        sim_source_t src = {0};
        src.name = gb_xstrdup(name);
        bool bad = dist_at(B, sn, "interarrival", true, "a source", &src.inter) != 0;
        if (!bad && !(gb_dist_mean(&src.inter) >= MIN_MEAN)) {
            at(B, gb_cnode_get(sn, "interarrival"), "source '%s': arrivals must be at least 1ms "
                                                   "apart on average", name);
            bad = true;
        }
        if (gb_cfg_str(sn, "when_full", false, "source", &wf, B->d) == 0) {
            if (!strcmp(wf, "lose")) src.lose = true;
            else if (strcmp(wf, "wait"))
                at(B, gb_cnode_get(sn, "when_full"),
                   "'when_full' is 'wait' (the part waits for room; arrivals pause) or 'lose' "
                   "(the part is turned away)");
        }
        const gb_cnode_t *pl = gb_cnode_get(sn, "products");
        if (pl && pl->kind == GB_CNODE_SEQ) {
            for (size_t k = 0; k < pl->n; k++) {
                const gb_cnode_t *it = pl->items[k];
                uint32_t pi = it->kind == GB_CNODE_SCALAR ? find_product(md, it->str) : SIM_NONE;
                if (pi == SIM_NONE) {
                    at(B, it, "source '%s': '%s' is not a product", name,
                       it->kind == GB_CNODE_SCALAR ? it->str : "?");
                    continue;
                }
                *GROW(src.products, src.np) = pi;
            }
        } else if (pl) {
            at(B, pl, "'products' of a source is a list of product names");
        } else {
            for (uint32_t k = 0; k < md->nprod; k++) *GROW(src.products, src.np) = k;
        }
        for (uint32_t k = 0; k < src.np; k++) fed[src.products[k]] = true;
        if (src.np == 0 || bad) {
            gb_dist_clear(&src.inter);
            free(src.name);
            free(src.products);
            continue;
        }
        set_mix(&src, md);
        *GROW(md->src, md->nsrc) = src;
    }
    /* every other route start never runs dry */
    for (uint32_t k = 0; k < md->nprod; k++) {
        if (fed[k] || md->prod[k].nroute == 0) continue;
        uint32_t sti = md->prod[k].route[0];
        sim_station_t *st = &md->st[sti];
        if (st->supply == SIM_NONE) {
            sim_source_t src = {0};
            src.name = gb_xasprintf("supply of %s", st->name);
            src.unlimited = true;
            st->supply = md->nsrc;
            *GROW(md->src, md->nsrc) = src;
        }
        sim_source_t *src = &md->src[st->supply];
        *GROW(src->products, src->np) = k;
    }
    for (uint32_t j = 0; j < md->nsrc; j++)
        if (md->src[j].unlimited) set_mix(&md->src[j], md);
    free(fed);
}

/* ---- a machine's sim: section ------------------------------------------------------------- */

static void generic_machine(bld_t *B, uint32_t mi)
{
    sim_machine_t *m = &B->md->m[mi];
    double c = m->ideal_cycle > 0 ? m->ideal_cycle : 30;
    if (m->ideal_cycle <= 0) m->ideal_cycle = c;
    for (uint32_t k = 0; k < B->md->nprod; k++)
        m->cycle[k] = (gb_dist_t){GB_DIST_LOGNORMAL, {0}, NULL, 0};
    char err[128];
    char txt[96];
    snprintf(txt, sizeof txt, "lognormal(%.6gs, %.6gs)", c * 1.04, c * 0.05);
    for (uint32_t k = 0; k < B->md->nprod; k++) gb_dist_parse(txt, &m->cycle[k], err, sizeof err);
    static const struct { const char *name, *alarm, *ttf, *ttr; } gen[] = {
        {"tool breakage", "1010 TOOL BREAKAGE", "exp(1h)", "lognormal(4m, 2m)"},
        {"spindle overload", "2035 SPINDLE OVERLOAD", "exp(1h)", "lognormal(2m, 1m)"},
        {"servo fault", "4100 AXIS SERVO FAULT", "exp(2h)", "lognormal(8m, 4m)"},
    };
    m->nfail = 3;
    m->fail = gb_xcalloc(3, sizeof *m->fail);
    for (int k = 0; k < 3; k++) {
        m->fail[k].name = gb_xstrdup(gen[k].name);
        m->fail[k].alarm = gb_xstrdup(gen[k].alarm);
        gb_dist_parse(gen[k].ttf, &m->fail[k].ttf, err, sizeof err);
        gb_dist_parse(gen[k].ttr, &m->fail[k].ttr, err, sizeof err);
    }
    m->micro = true;
    gb_dist_parse("exp(15m)", &m->micro_every, err, sizeof err);
    gb_dist_parse("uniform(5s, 45s)", &m->micro_len, err, sizeof err);
    m->scrap = 0.02;
}

static void load_cycle(bld_t *B, uint32_t mi, const gb_cnode_t *sn)
{
    gb_sim_model_t *md = B->md;
    sim_machine_t *m = &md->m[mi];
    const gb_machine_t *pm = &B->p->machines[m->plant];
    const gb_cnode_t *cn = gb_cnode_get(sn, "cycle");
    bool *set = gb_xcalloc(md->nprod + 1, sizeof *set);
    bool reported = false; /* a bad cycle: no second complaint that it is missing */
    if (cn && (cn->kind == GB_CNODE_SCALAR || gb_cnode_get(cn, "empirical"))) {
        gb_dist_t d;
        reported = true;
        if (gb_dist_parse_node(cn, &d, B->d) == 0) {
            for (uint32_t k = 0; k < md->nprod; k++) {
                gb_dist_copy(&m->cycle[k], &d);
                set[k] = true;
            }
            gb_dist_clear(&d);
        }
    } else if (cn && cn->kind == GB_CNODE_MAP) {
        for (size_t i = 0; i < cn->n; i++) {
            uint32_t k = find_product(md, cn->keys[i]->str);
            size_t kl = strlen(cn->keys[i]->str);
            if (k == SIM_NONE && kl && cn->keys[i]->str[kl - 1] == ')') {
                reported = true; /* the rest of a distribution cut at a comma: said already */
                continue;
            }
            if (k == SIM_NONE) {
                at(B, cn->keys[i], "machine '%s': cycle for '%s', which is not a product", m->name,
                   cn->keys[i]->str);
                continue;
            }
            if (gb_dist_parse_node(cn->items[i], &m->cycle[k], B->d) == 0) set[k] = true;
            else reported = true;
        }
    } else if (cn) {
        at(B, cn, "'cycle' is a time or a distribution, or a mapping from product to one");
        reported = true;
    }
    /* not given: the plant's cycle time for the product (or program), else the ideal cycle */
    for (uint32_t k = 0; k < md->nprod; k++) {
        if (set[k]) continue;
        int64_t ns = pm->ideal_cycle_ns;
        for (size_t j = 0; j < pm->ncycle_times; j++)
            if (!strcmp(pm->cycle_times[j].key, md->prod[k].name) ||
                !strcmp(pm->cycle_times[j].key, md->prod[k].program))
                ns = pm->cycle_times[j].ns;
        if (ns > 0) {
            m->cycle[k] = (gb_dist_t){GB_DIST_CONST, {(double)ns / 1e9}, NULL, 0};
            set[k] = true;
        }
    }
    /* only the products that pass this machine need one */
    for (uint32_t k = 0; k < md->nprod; k++) {
        if (set[k]) continue;
        bool visits = false;
        for (uint32_t r = 0; r < md->prod[k].nroute; r++) visits |= md->prod[k].route[r] == m->station;
        if (visits && !reported)
            at(B, cn ? cn : sn,
               "machine '%s': no cycle time for product '%s': give sim.cycle (such as "
               "normal(42s, 3s)), or ideal_cycle_time",
               m->name, md->prod[k].name);
    }
    /* a part in no time would let one instant hold endless events */
    for (uint32_t k = 0; k < md->nprod; k++)
        if (set[k] && !(gb_dist_mean(&m->cycle[k]) >= MIN_MEAN)) {
            at(B, cn ? cn : sn, "machine '%s': the cycle of '%s' is under 1ms on average; a "
                                "machine needs time to make a part", m->name, md->prod[k].name);
            break;
        }
    if (m->ideal_cycle <= 0)
        for (uint32_t k = 0; k < md->nprod && m->ideal_cycle <= 0; k++)
            if (set[k]) m->ideal_cycle = gb_dist_mean(&m->cycle[k]);
    free(set);
}

static void load_failures(bld_t *B, uint32_t mi, const gb_cnode_t *sn)
{
    sim_machine_t *m = &B->md->m[mi];
    const gb_cnode_t *fl = gb_cnode_get(sn, "failures");
    if (!fl) return;
    if (fl->kind != GB_CNODE_SEQ) {
        at(B, fl, "'failures' is a list of {name, ttf, ttr, by: operating or calendar, alarm}");
        return;
    }
    if (fl->n > SIM_MAX_FAILURES) {
        at(B, fl, "at most %d failure modes per machine", SIM_MAX_FAILURES);
        return;
    }
    static const char *const fkeys[] = {"name", "ttf", "ttr", "by", "alarm", NULL};
    m->fail = gb_xcalloc(fl->n ? fl->n : 1, sizeof *m->fail);
    for (size_t i = 0; i < fl->n; i++) {
        const gb_cnode_t *fn = fl->items[i];
        if (fn->kind != GB_CNODE_MAP) {
            at(B, fn, "a failure mode is a mapping such as {name: tool breakage, ttf: exp(8h), "
                      "ttr: lognormal(20m, 10m)}");
            continue;
        }
        check_keys(B, fn, "failure mode", fkeys);
        sim_failure_t f = {0};
        const char *s;
        int a = dist_at(B, fn, "ttf", true, "a failure mode", &f.ttf);
        int b = dist_at(B, fn, "ttr", true, "a failure mode", &f.ttr);
        if (a == 0 && !(gb_dist_mean(&f.ttf) >= MIN_MEAN))
            at(B, gb_cnode_get(fn, "ttf"), "the time to failure must be at least 1ms on average");
        if (gb_cfg_str(fn, "by", false, "failure mode", &s, B->d) == 0) {
            if (!strcmp(s, "calendar")) f.calendar = true;
            else if (strcmp(s, "operating"))
                at(B, gb_cnode_get(fn, "by"),
                   "'by' is 'operating' (the time to failure counts only while the machine "
                   "works) or 'calendar' (it counts all the time)");
        }
        if (gb_cfg_str(fn, "name", false, "failure mode", &s, B->d) == 0 && *s)
            f.name = gb_xstrdup(s);
        else
            f.name = gb_xasprintf("failure %zu", i + 1);
        if (gb_cfg_str(fn, "alarm", false, "failure mode", &s, B->d) == 0) f.alarm = gb_xstrdup(s);
        if (a || b) {
            gb_dist_clear(&f.ttf);
            gb_dist_clear(&f.ttr);
            free(f.name);
            free(f.alarm);
            continue;
        }
        m->fail[m->nfail++] = f;
    }
}

static void load_setups(bld_t *B, uint32_t mi, const gb_cnode_t *sn)
{
    gb_sim_model_t *md = B->md;
    sim_machine_t *m = &md->m[mi];
    uint32_t np = md->nprod;
    gb_dist_t any;
    bool has_any = dist_at(B, sn, "setup", false, "sim", &any) == 0;
    const gb_cnode_t *sl = gb_cnode_get(sn, "setups");
    if (!has_any && !sl) return;
    m->setup = gb_xcalloc((size_t)np * np, sizeof *m->setup);
    m->has_setup = true;
    if (has_any) {
        for (uint32_t a = 0; a < np; a++)
            for (uint32_t b = 0; b < np; b++)
                if (a != b) gb_dist_copy(&m->setup[a * np + b], &any);
        gb_dist_clear(&any);
    }
    if (!sl) return;
    if (sl->kind != GB_CNODE_SEQ) {
        at(B, sl, "'setups' is a list of {from: PRODUCT or '*', to: PRODUCT or '*', time: ...}");
        return;
    }
    static const char *const skeys[] = {"from", "to", "time", NULL};
    for (size_t i = 0; i < sl->n; i++) {
        const gb_cnode_t *e = sl->items[i];
        if (e->kind != GB_CNODE_MAP) {
            at(B, e, "a setup is a mapping {from: PRODUCT, to: PRODUCT, time: 10m}");
            continue;
        }
        check_keys(B, e, "setup", skeys);
        const char *from, *to;
        if (gb_cfg_str(e, "from", true, "setup", &from, B->d) ||
            gb_cfg_str(e, "to", true, "setup", &to, B->d))
            continue;
        uint32_t f = strcmp(from, "*") ? find_product(md, from) : SIM_NONE - 1;
        uint32_t t = strcmp(to, "*") ? find_product(md, to) : SIM_NONE - 1;
        if (f == SIM_NONE) at(B, gb_cnode_get(e, "from"), "'%s' is not a product", from);
        if (t == SIM_NONE) at(B, gb_cnode_get(e, "to"), "'%s' is not a product", to);
        gb_dist_t d;
        if (dist_at(B, e, "time", true, "a setup", &d) != 0) continue;
        if (f == SIM_NONE || t == SIM_NONE) { /* said above; the time was read for nothing */
            gb_dist_clear(&d);
            continue;
        }
        for (uint32_t a = 0; a < np; a++)
            for (uint32_t b = 0; b < np; b++)
                if (a != b && (f == SIM_NONE - 1 || f == a) && (t == SIM_NONE - 1 || t == b)) {
                    gb_dist_clear(&m->setup[a * np + b]);
                    gb_dist_copy(&m->setup[a * np + b], &d);
                }
        gb_dist_clear(&d);
    }
}

static void load_machine_sim(bld_t *B, uint32_t mi)
{
    sim_machine_t *m = &B->md->m[mi];
    m->cycle = gb_xcalloc(B->md->nprod ? B->md->nprod : 1, sizeof *m->cycle);
    const gb_cnode_t *sn = B->msim[mi];
    if (!sn) {
        generic_machine(B, mi);
        return;
    }
    static const char *const keys[] = {"cycle", "failures", "setup",  "setups",
                                       "micro_stops", "scrap", "buffer", NULL};
    check_keys(B, sn, "sim", keys);
    load_cycle(B, mi, sn);
    load_failures(B, mi, sn);
    load_setups(B, mi, sn);
    const gb_cnode_t *ms = gb_cnode_get(sn, "micro_stops");
    if (ms && ms->kind != GB_CNODE_MAP) {
        at(B, ms, "'micro_stops' is a mapping {every: exp(20m), duration: uniform(5s, 60s)}");
    } else if (ms) {
        static const char *const mkeys[] = {"every", "duration", NULL};
        check_keys(B, ms, "micro_stops", mkeys);
        int a = dist_at(B, ms, "every", true, "micro_stops", &m->micro_every);
        int b = dist_at(B, ms, "duration", true, "micro_stops", &m->micro_len);
        m->micro = a == 0 && b == 0;
        if (m->micro && !(gb_dist_mean(&m->micro_every) >= MIN_MEAN)) {
            at(B, gb_cnode_get(ms, "every"), "micro-stops must come on average at least 1ms apart");
            m->micro = false;
        }
    }
    const gb_cnode_t *sc = gb_cnode_get(sn, "scrap");
    if (sc) {
        double v = -1;
        char *end = NULL;
        if (sc->kind == GB_CNODE_SCALAR) v = strtod(sc->str, &end);
        if (end && *end == '%' && end[1] == 0) v /= 100;
        else if (!end || *end) v = -1;
        if (!(v >= 0 && v < 1))
            at(B, sc, "'scrap' is the share of parts scrapped: from 0 to below 1, such as 0.02 "
                      "or 2%%");
        else
            m->scrap = v;
    }
}

/* ---- the simulation: section -------------------------------------------------------------- */

static void load_settings(bld_t *B)
{
    gb_sim_model_t *md = B->md;
    md->calendar = true;
    md->until = 7 * 86400.0;
    md->warmup = 86400.0;
    md->reps = 10;
    md->seed = 1;
    const gb_cnode_t *s = B->sim;
    if (!s) return;
    static const char *const keys[] = {"products", "sources", "stations", "repair_crew",
                                       "calendar", "until",   "warmup",   "reps",
                                       "seed",     NULL};
    check_keys(B, s, "simulation", keys);
    int64_t v, ns;
    if (gb_cfg_int(s, "repair_crew", false, "simulation", 1, 1000000, &v, B->d) == 0)
        md->crew = (uint32_t)v;
    gb_cfg_bool(s, "calendar", false, "simulation", &md->calendar, B->d);
    if (gb_cfg_duration(s, "until", false, "simulation", &ns, B->d) == 0) md->until = (double)ns / 1e9;
    if (gb_cfg_duration(s, "warmup", false, "simulation", &ns, B->d) == 0) md->warmup = (double)ns / 1e9;
    if (md->until <= md->warmup)
        at(B, gb_cnode_get(s, "until") ? gb_cnode_get(s, "until") : s,
           "'until' (the length of a run) must be longer than 'warmup'");
    if (gb_cfg_int(s, "reps", false, "simulation", 1, 100000, &v, B->d) == 0) md->reps = (uint32_t)v;
    if (gb_cfg_int(s, "seed", false, "simulation", 0, INT64_MAX, &v, B->d) == 0)
        md->seed = (uint64_t)v;
}

void gb_sim_model_free(gb_sim_model_t *md)
{
    if (!md) return;
    for (uint32_t i = 0; i < md->nm; i++) {
        sim_machine_t *m = &md->m[i];
        free(m->name);
        if (m->cycle)
            for (uint32_t k = 0; k < md->nprod; k++) gb_dist_clear(&m->cycle[k]);
        free(m->cycle);
        for (uint32_t k = 0; k < m->nfail; k++) {
            free(m->fail[k].name);
            free(m->fail[k].alarm);
            gb_dist_clear(&m->fail[k].ttf);
            gb_dist_clear(&m->fail[k].ttr);
        }
        free(m->fail);
        if (m->setup)
            for (size_t k = 0; k < (size_t)md->nprod * md->nprod; k++) gb_dist_clear(&m->setup[k]);
        free(m->setup);
        gb_dist_clear(&m->micro_every);
        gb_dist_clear(&m->micro_len);
    }
    free(md->m);
    for (uint32_t i = 0; i < md->nst; i++) {
        free(md->st[i].name);
        free(md->st[i].m);
    }
    free(md->st);
    for (uint32_t i = 0; i < md->nprod; i++) {
        free(md->prod[i].name);
        free(md->prod[i].program);
        free(md->prod[i].route);
    }
    free(md->prod);
    for (uint32_t i = 0; i < md->nsrc; i++) {
        free(md->src[i].name);
        gb_dist_clear(&md->src[i].inter);
        free(md->src[i].products);
        free(md->src[i].cum);
    }
    free(md->src);
    for (uint32_t i = 0; i < md->nline; i++) free(md->line[i].name);
    free(md->line);
    free(md);
}

int gb_sim_model_build(const gb_plant_t *p, gb_sim_model_t **out, gb_diag_t *d)
{
    *out = NULL;
    size_t before = d->n;
    gb_sim_model_t *md = gb_xcalloc(1, sizeof *md);
    md->plant = p;
    bld_t B = {md, p, d, p->root ? gb_cnode_get(p->root, "simulation") : NULL, NULL};
    if (B.sim && B.sim->kind != GB_CNODE_MAP) {
        at(&B, B.sim, "'simulation' is a mapping with keys such as products, sources, stations "
                      "and repair_crew");
        B.sim = NULL;
    }
    load_settings(&B);
    pick_machines(&B);
    if (md->nm == 0) {
        at(&B, B.sim ? B.sim : p->root,
           "no machine is simulated: give machines a 'sim:' section (such as sim: {cycle: 42s}), "
           "or bind their tags to an adapter of type sim");
        goto out;
    }
    load_stations(&B);
    load_products(&B);
    load_sources(&B);
    for (uint32_t i = 0; i < md->nm; i++) load_machine_sim(&B, i);
    /* a machine no product visits would stand still all run: a mistake */
    for (uint32_t i = 0; i < md->nst; i++) {
        bool used = false;
        for (uint32_t k = 0; k < md->nprod; k++)
            for (uint32_t r = 0; r < md->prod[k].nroute; r++) used |= md->prod[k].route[r] == i;
        if (!used) {
            const gb_machine_t *pm = &p->machines[md->m[md->st[i].m[0]].plant];
            gb_diag_add(d, pm->pos_line, pm->pos_col,
                        "machine '%s' is simulated but on no product's route",
                        md->m[md->st[i].m[0]].name);
        }
    }
out:
    free(B.msim);
    if (d->n > before) {
        gb_sim_model_free(md);
        return GB_EINVAL;
    }
    *out = md;
    return 0;
}

void gb_sim_model_defaults(const gb_sim_model_t *md, gb_sim_study_opts_t *o)
{
    o->until = md->until;
    o->warmup = md->warmup;
    o->reps = md->reps;
    o->seed = md->seed;
}

/* The plant loader's hook: check the simulator's sections with the rest of the file. */
static void check(const gb_plant_t *p, gb_diag_t *d)
{
    bool any = p->root && gb_cnode_get(p->root, "simulation");
    for (size_t i = 0; i < p->nmachines && !any; i++)
        any = (p->machines[i].node && gb_cnode_get(p->machines[i].node, "sim")) ||
              bound_to_sim(p, &p->machines[i]);
    if (!any) return;
    gb_sim_model_t *md;
    if (gb_sim_model_build(p, &md, d) == 0) gb_sim_model_free(md);
}

static const gb_plant_ext_t sim_ext = {"simulation", check};

void gb_sim_register(void)
{
    gb_plant_ext_register(&sim_ext);
}
