/*
 * GB_CLONES marks a hot loop of the block codecs to be compiled twice, for AVX2 and for any
 * x86-64, the one the CPU can run picked when the program loads (an ifunc). The optimiser can
 * then use 256-bit vectors (64-bit compares, for the minima and maxima the codecs look for) on
 * the machines that have them, while the binary still runs on every x86-64. Elsewhere (other
 * architectures, a C library without ifuncs) it is the plain build.
 */
#ifndef GB_UTIL_CLONES_H
#define GB_UTIL_CLONES_H

#include <stdlib.h> /* __GLIBC__ */

#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#define GB_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GB_CLONES
#endif

#endif
