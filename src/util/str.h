/* Small string helpers used across gemba. Allocation failure here aborts (bookkeeping only). */
#ifndef GB_UTIL_STR_H
#define GB_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort on failure: for small internal bookkeeping only. */
void *gb_xmalloc(size_t n);
void *gb_xcalloc(size_t n, size_t size);
void *gb_xrealloc(void *p, size_t n);
char *gb_xstrdup(const char *s);
char *gb_xstrndup(const char *s, size_t n);
char *gb_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What those do when memory runs out: says so on stderr and aborts. */
_Noreturn void gb_oom(void);

/* Levenshtein edit distance between A and B (ASCII, case-sensitive). */
size_t gb_edit_distance(const char *a, const char *b);

/*
 * The candidate closest to WORD when it is close enough to be a likely typo (distance at most a
 * third of the word, minimum 1, maximum 3); NULL otherwise. CANDIDATES ends with NULL.
 */
const char *gb_did_you_mean(const char *word, const char *const *candidates);

/* Copies SRC into DST of SIZE bytes, always NUL-terminated, truncating. */
void gb_strlcpy(char *dst, const char *src, size_t size);

/*
 * The length of the character at S[0..N) when it is well-formed UTF-8 (1 to 4), else 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut short.
 */
size_t gb_utf8_char(const char *s, size_t n);

/*
 * The length of the longest prefix of S[0..N) that is well-formed UTF-8 (N when all of it is):
 * no overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut short.
 */
size_t gb_utf8_valid(const char *s, size_t n);

/* Replaces each byte of S (NUL-terminated) that is not part of well-formed UTF-8 with '?'. */
void gb_utf8_scrub(char *s);

/* True when S is a valid name: 1-64 characters of [A-Za-z0-9_.-], not starting with '.' or '-'. */
bool gb_name_valid(const char *s);

#endif
