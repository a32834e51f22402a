/* Collected diagnostics, printed sorted by position so the output reads like the file. */
#include "gemba/diag.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void gb_diag_init(gb_diag_t *d, const char *file)
{
    memset(d, 0, sizeof *d);
    d->file = gb_xstrdup(file ? file : "-");
}

void gb_diag_clear(gb_diag_t *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->items[i].msg);
    free(d->items);
    free(d->file);
    memset(d, 0, sizeof *d);
}

void gb_diag_add(gb_diag_t *d, int line, int col, const char *fmt, ...)
{
    if (!d) return; /* a caller that only wants the value, not the complaint */
    size_t limit = d->limit ? d->limit : 1000;
    if (d->n >= limit) return;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = gb_xrealloc(d->items, d->cap * sizeof *d->items);
    }
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    d->items[d->n++] = (gb_diag_item_t){line, col, gb_xstrdup(buf)};
}

void gb_diag_print(gb_diag_t *d, FILE *out)
{
    /* insertion sort: stable, and lists are short */
    for (size_t i = 1; i < d->n; i++) {
        gb_diag_item_t it = d->items[i];
        size_t j = i;
        while (j > 0 && (d->items[j - 1].line > it.line ||
                         (d->items[j - 1].line == it.line && d->items[j - 1].col > it.col))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = it;
    }
    for (size_t i = 0; i < d->n; i++) {
        /* a YAML alias shares one node between places: its problem is said once */
        bool dup = false;
        for (size_t j = i; j-- > 0 && d->items[j].line == d->items[i].line &&
                           d->items[j].col == d->items[i].col && !dup;)
            dup = !strcmp(d->items[j].msg, d->items[i].msg);
        if (dup) continue;
        if (d->items[i].line > 0)
            fprintf(out, "%s:%d:%d: %s\n", d->file, d->items[i].line, d->items[i].col,
                    d->items[i].msg);
        else
            fprintf(out, "%s: %s\n", d->file, d->items[i].msg);
    }
}
