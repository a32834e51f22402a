/*
 * Diagnostics: a list of problems found in an input file, each with a line and column, printed as
 * FILE:LINE:COL: message. Loaders collect every problem they find instead of stopping at the first.
 */
#ifndef GEMBA_DIAG_H
#define GEMBA_DIAG_H

#include <stddef.h>
#include <stdio.h>

typedef struct gb_diag_item {
    int line;  /* 1-based; 0 when the problem has no position */
    int col;   /* 1-based */
    char *msg; /* owned */
} gb_diag_item_t;

typedef struct gb_diag {
    char *file;            /* owned: the name printed before every item */
    gb_diag_item_t *items; /* owned */
    size_t n, cap;
    size_t limit; /* stop recording after this many (0 = 1000) */
} gb_diag_t;

/* Initialises caller storage for diagnostics about FILE (copied). */
void gb_diag_init(gb_diag_t *d, const char *file);

/* Frees everything D owns; D may be reused after gb_diag_init. */
void gb_diag_clear(gb_diag_t *d);

/* Records a problem at LINE:COL. D may be NULL (the problem is ignored). */
void gb_diag_add(gb_diag_t *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sorts by position (stable) and writes one "FILE:LINE:COL: message" line per problem to OUT. */
void gb_diag_print(gb_diag_t *d, FILE *out);

#endif
