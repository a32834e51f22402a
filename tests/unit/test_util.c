/* util: the string map, edit distance and suggestions, names, log-once, quiet lines, diagnostics
 * order, the block pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/diag.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/map.h"
#include "util/pool.h"
#include "util/quiet.h"
#include "util/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void test_map(void **state)
{
    (void)state;
    gb_map_t m;
    gb_map_init(&m);
    char key[32];
    for (uint32_t i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "machine%u/tag", i);
        assert_true(gb_map_put(&m, key, i * 3));
    }
    assert_false(gb_map_put(&m, "machine42/tag", 1));
    uint32_t v;
    for (uint32_t i = 0; i < 10000; i += 7) {
        snprintf(key, sizeof key, "machine%u/tag", i);
        assert_true(gb_map_get(&m, key, &v));
        assert_int_equal(v, i * 3);
    }
    assert_false(gb_map_get(&m, "machine10000/tag", &v));
    assert_int_equal(m.n, 10000);
    gb_map_clear(&m);
    assert_false(gb_map_get(&m, "x", &v));
}

/* A key hashed with one byte read as another hashes as the key with that byte written, for every
 * length (the short keys' paths and the long ones') and every position; and a key made in place
 * that way is found. */
static void test_map_hash_sub(void **state)
{
    (void)state;
    char key[48], made[48];
    for (size_t n = 1; n <= 40; n++) {
        for (size_t i = 0; i < n; i++)
            key[i] = (char)('a' + (i * 7 + n) % 26);
        key[n] = 0;
        for (size_t at = 0; at < n; at++) {
            memcpy(made, key, n + 1);
            made[at] = '#';
            assert_int_equal(gb_map_hash_sub(key, n, at, '#'), gb_map_hash_n(made, n));
            /* a byte that was not '#' before: the hash is not that of the key as it was */
            assert_int_not_equal(gb_map_hash_sub(key, n, at, '#'), gb_map_hash_n(key, n));
        }
    }
    gb_map_t m;
    gb_map_init(&m);
    assert_true(gb_map_put(&m, "plant,tag=t00042#f", 7));
    char line[] = "plant,tag=t00042 f=33.7";
    uint32_t h = gb_map_hash_sub(line, 18, 16, '#'), v = 0;
    line[16] = '#';
    line[18] = 0;
    assert_true(gb_map_get_hn(&m, line, 18, h, &v));
    assert_int_equal(v, 7);
    gb_map_clear(&m);
}

static void test_suggestions(void **state)
{
    (void)state;
    assert_int_equal(gb_edit_distance("tags", "tags"), 0);
    assert_int_equal(gb_edit_distance("tgas", "tags"), 1); /* transposition */
    assert_int_equal(gb_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(gb_edit_distance("", "abc"), 3);
    static const char *const keys[] = {"name", "tags", "adapter", "ideal_cycle_time", NULL};
    assert_string_equal(gb_did_you_mean("tgas", keys), "tags");
    assert_string_equal(gb_did_you_mean("adaptor", keys), "adapter");
    assert_string_equal(gb_did_you_mean("ideal_cycletime", keys), "ideal_cycle_time");
    assert_null(gb_did_you_mean("speed", keys));
    assert_null(gb_did_you_mean("x", keys));
}

static void test_names(void **state)
{
    (void)state;
    assert_true(gb_name_valid("cnc07"));
    assert_true(gb_name_valid("Line_2.a-b"));
    assert_false(gb_name_valid(""));
    assert_false(gb_name_valid("-x"));
    assert_false(gb_name_valid(".x"));
    assert_false(gb_name_valid("a b"));
    assert_false(gb_name_valid("a/b"));
    assert_false(
        gb_name_valid("0123456789012345678901234567890123456789012345678901234567890123456789"));
    char buf[4];
    gb_strlcpy(buf, "abcdef", sizeof buf);
    assert_string_equal(buf, "abc");
}

static void test_log_once_and_levels(void **state)
{
    (void)state;
    gb_log_level_t lv;
    assert_int_equal(gb_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, GB_LOG_DEBUG);
    assert_int_equal(gb_log_level_parse("warning", &lv), 0);
    assert_int_equal(lv, GB_LOG_WARN);
    assert_int_not_equal(gb_log_level_parse("loud", &lv), 0);
    bool key = false;
    assert_true(gb_log_once(&key, GB_LOG_INFO, "test", "first"));
    assert_false(gb_log_once(&key, GB_LOG_INFO, "test", "second"));
    key = false;
    assert_true(gb_log_once(&key, GB_LOG_INFO, "test", "after reset"));
}

static void test_diag_sorted(void **state)
{
    (void)state;
    gb_diag_t d;
    gb_diag_init(&d, "f.yaml");
    gb_diag_add(&d, 9, 1, "c");
    gb_diag_add(&d, 2, 5, "b");
    gb_diag_add(&d, 2, 3, "a");
    gb_diag_add(&d, 0, 0, "whole file");
    gb_diag_add(NULL, 1, 1, "ignored");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    gb_diag_print(&d, f);
    fclose(f);
    assert_string_equal(out, "f.yaml: whole file\nf.yaml:2:3: a\nf.yaml:2:5: b\nf.yaml:9:1: c\n");
    free(out);
    gb_diag_clear(&d);
}

static void test_rfc3339(void **state)
{
    (void)state;
    gb_time_t t;
#define P(s) gb_time_parse_rfc3339(s, strlen(s), &t)
    assert_int_equal(P("2026-11-23T06:00:00Z"), 0);
    assert_int_equal(t, INT64_C(1795413600) * GB_NS_PER_S);
    assert_int_equal(P("2026-11-23T07:00:00+01:00"), 0);
    assert_int_equal(t, INT64_C(1795413600) * GB_NS_PER_S);
    assert_int_equal(P("2026-11-23t05:30:00.5-00:30"), 0);
    assert_int_equal(t, INT64_C(1795413600) * GB_NS_PER_S + 500 * GB_NS_PER_MS);
    assert_int_equal(P("2026-11-23 06:00:00.000000001Z"), 0);
    assert_int_equal(t, INT64_C(1795413600) * GB_NS_PER_S + 1);
    assert_int_equal(P("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(t, 0);
    assert_int_equal(P("2261-12-31T23:59:59Z"), 0);
    assert_true(t > 0);                                 /* still representable */
    assert_int_not_equal(P("2262-06-01T00:00:00Z"), 0); /* beyond int64 ns */
    assert_int_not_equal(P("4052-11-23T05:00:00Z"), 0);
    assert_int_not_equal(P("2026-11-23T06:00:00"), 0); /* no zone */
    assert_int_not_equal(P("2026-11-23T06:00Z"), 0);
    assert_int_not_equal(P("2026-02-30T06:00:00Z"), 0);
    assert_int_not_equal(P("2026-11-23T24:00:00Z"), 0);
    assert_int_not_equal(P("2026-11-23T06:00:00.Z"), 0);
    assert_int_not_equal(P("2026-11-23T06:00:00.1234567890Z"), 0);
    assert_int_not_equal(P("2026-11-23T06:00:00+0100"), 0);
    assert_int_not_equal(P("2026-11-23T06:00:00Zjunk"), 0);
#undef P
    char buf[40];
    gb_time_format(INT64_C(1795413600) * GB_NS_PER_S, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23T06:00:00Z");
    gb_time_format(INT64_C(1795413600) * GB_NS_PER_S + 1500 * GB_NS_PER_US, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23T06:00:00.001500Z");
    gb_time_format(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
}

/* A plain decoder for the check: the code point of a 1-4 byte sequence, or -1 when malformed. */
static long ref_utf8(const unsigned char *p, size_t n)
{
    if (!n) return -1;
    unsigned c = p[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (!len || len != n) return -1;
    long cp = len == 1 ? (long)c : (long)(c & (0xff >> (len + 1)));
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80) return -1;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    static const long least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    return cp;
}

static void test_utf8(void **state)
{
    (void)state;
    /* every sequence of one to three bytes, and four-byte ones on a grid, against the plain decoder
     */
    unsigned char b[4];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        assert_int_equal(gb_utf8_valid((char *)b, 1) == 1, ref_utf8(b, 1) >= 0);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            bool two = ref_utf8(b, 2) >= 0;
            assert_int_equal(gb_utf8_valid((char *)b, 2) == 2, two || (x < 0x80 && y < 0x80));
            if (x < 0xe0 || x > 0xf4) continue;
            for (unsigned z = 0; z < 256; z += x >= 0xf0 ? 7 : 1) {
                b[2] = (unsigned char)z;
                if (x < 0xf0) {
                    assert_int_equal(gb_utf8_valid((char *)b, 3) == 3, ref_utf8(b, 3) >= 0);
                    continue;
                }
                for (unsigned w = 0x70; w < 0xd0; w += 13) {
                    b[3] = (unsigned char)w;
                    assert_int_equal(gb_utf8_valid((char *)b, 4) == 4, ref_utf8(b, 4) >= 0);
                }
            }
        }
    }
    /* where the bad byte is, past runs of ASCII and of good sequences */
    const char *t = "spindle load \xc3\xa4 \xe2\x82\xac \xf0\x9f\x8f\xad ok";
    assert_int_equal(gb_utf8_valid(t, strlen(t)), strlen(t));
    char u[64];
    snprintf(u, sizeof u, "%s\xed\xa0\x80tail", t); /* a surrogate */
    assert_int_equal(gb_utf8_valid(u, strlen(u)), strlen(t));
    assert_int_equal(gb_utf8_valid("abcdefgh\xc3", 9), 8);         /* cut short at the end */
    assert_int_equal(gb_utf8_valid("abcdefghij\xc0\x80", 12), 10); /* overlong */
    char v[] = "ok \xff\xc3\xa4 \xe2\x82 x";
    gb_utf8_scrub(v);
    assert_string_equal(v, "ok ?\xc3\xa4 ?? x");
}

/* A key is said once a minute, the ones left out counted; other keys are not held back. */
static void test_quiet(void **state)
{
    (void)state;
    static gb_quiet_t q = GB_QUIET_INIT;
    uint64_t unsaid = 99;
    assert_true(gb_quiet_say(&q, "401 127.0.0.1", &unsaid));
    assert_int_equal(unsaid, 0);
    for (int i = 0; i < 5; i++)
        assert_false(gb_quiet_say(&q, "401 127.0.0.1", &unsaid));
    assert_true(gb_quiet_say(&q, "401 127.0.0.2", &unsaid));
    assert_true(gb_quiet_say(&q, "403 127.0.0.1", &unsaid));
    /* a minute later (the slots' times moved back), the next one says how many were left out */
    for (int k = 0; k < GB_QUIET_SLOTS; k++)
        q.slot[k].said -= 61 * GB_NS_PER_S;
    assert_true(gb_quiet_say(&q, "401 127.0.0.1", &unsaid));
    assert_int_equal(unsaid, 5);
    assert_false(gb_quiet_say(&q, "401 127.0.0.1", &unsaid));
    /* keys are told apart on their first GB_QUIET_KEY - 1 bytes */
    char a[300], b[300];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = 0;
    memcpy(b, a, sizeof b);
    b[10] = 'y';
    assert_true(gb_quiet_say(&q, a, &unsaid));
    assert_true(gb_quiet_say(&q, b, &unsaid));
    assert_false(gb_quiet_say(&q, a, &unsaid));
}

static void test_pool(void **state)
{
    (void)state;
    gb_pool_t p;
    gb_pool_init(&p);
    assert_int_equal(gb_pool_size(1), 64);
    assert_int_equal(gb_pool_size(64), 64);
    assert_int_equal(gb_pool_size(65), 128);
    assert_int_equal(gb_pool_size(GB_POOL_SLAB / 4), GB_POOL_SLAB / 4);
    assert_int_equal(gb_pool_size(GB_POOL_SLAB / 4 + 1), GB_POOL_SLAB / 4 + (2u << 20));
    /* a block given back is the next one of its size; blocks of a size do not overlap */
    char *a = gb_pool_alloc(&p, 100), *b = gb_pool_alloc(&p, 128);
    assert_true(b >= a + 128 || a >= b + 128);
    assert_int_equal((uintptr_t)a % 64, 0);
    memset(a, 1, 100);
    memset(b, 2, 128);
    gb_pool_free(&p, a, 100);
    assert_ptr_equal(gb_pool_alloc(&p, 120), a);
    assert_int_equal(b[127], 2);
    /* grown: the kept bytes stay, the block moves only when its size is not enough */
    for (int i = 0; i < 100; i++)
        a[i] = (char)i;
    assert_ptr_equal(gb_pool_grow(&p, a, 100, 128, 100), a);
    char *g = gb_pool_grow(&p, a, 128, 5000, 100);
    assert_ptr_not_equal(g, a);
    for (int i = 0; i < 100; i++)
        assert_int_equal(g[i], i);
    assert_ptr_equal(gb_pool_alloc(&p, 90), a); /* the old block went back */
    /* past a slab's worth: the rest of the first is listed, more slabs are mapped */
    size_t big = GB_POOL_SLAB / 4, nb = 0;
    char *blocks[16];
    for (; nb < 16; nb++) {
        blocks[nb] = gb_pool_alloc(&p, big);
        memset(blocks[nb], (int)nb, big);
    }
    assert_true(p.nslabs >= 4);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal(blocks[i][big - 1], (char)i);
    /* the first slab's rest, a little under 8 MiB, was cut into 4 MiB, 2 MiB ... and listed */
    assert_non_null(p.free[22 - GB_POOL_MIN_SHIFT]);
    assert_non_null(p.free[21 - GB_POOL_MIN_SHIFT]);
    /* a large block is a mapping of its own, grown in place or moved with its bytes */
    char *l = gb_pool_alloc(&p, 9u << 20);
    memset(l, 7, 9u << 20);
    size_t mapped = p.mapped;
    char *l2 = gb_pool_grow(&p, l, 9u << 20, 40u << 20, 9u << 20);
    assert_int_equal(l2[0], 7);
    assert_int_equal(l2[(9u << 20) - 1], 7);
    l2[(40u << 20) - 1] = 1;
    assert_int_equal(p.mapped, mapped + (30u << 20));
    gb_pool_free(&p, l2, 40u << 20);
    assert_int_equal(p.mapped, mapped - (10u << 20));
    /* a slab block grown past the slab size becomes a large one, its bytes kept */
    char *s = gb_pool_alloc(&p, 4096);
    memset(s, 9, 4096);
    char *s2 = gb_pool_grow(&p, s, 4096, 12u << 20, 4096);
    assert_int_equal(s2[4095], 9);
    gb_pool_free(&p, s2, 12u << 20);
    gb_pool_clear(&p);
    assert_int_equal(p.nslabs, 0);

    /* ahead: every block's pages are there before it is first written (the first slab's
     * faulted in as it is cut, the next ones made ready by the pool's thread, which starts once
     * the first slab is past half cut) */
    gb_pool_init(&p);
    gb_pool_ahead(&p);
    char *c[40];
    static unsigned char in[(4u << 20) / 4096];
    for (size_t i = 0; i < 40; i++) { /* 4 MiB each, 8 to a slab: 5 slabs */
        c[i] = gb_pool_alloc(&p, 4u << 20);
        assert_int_equal(mincore(c[i], 4u << 20, in), 0);
        for (size_t k = 0; k < sizeof in; k++)
            assert_int_equal(in[k] & 1, 1);
        memset(c[i], (int)i, 4u << 20);
        assert_int_equal(p.helper_on, i >= 5); /* 12 MiB left before the sixth was cut */
    }
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(c[i][(4u << 20) - 1], (char)i);
    assert_int_equal(p.nslabs, 5);
    gb_pool_clear(&p); /* the thread stopped, the slab made ahead (if any) unmapped */
    assert_false(p.helper_on);

    /* trim: blocks given back of a page and more go back to the system, all their pages (such a
     * block starts on a page, however the blocks before it fell), and are taken again, as new
     * memory, before any new block is cut */
    gb_pool_init(&p);
    char *odd = gb_pool_alloc(&p, 100), *t[8], *half = gb_pool_alloc(&p, 2048);
    char *small = gb_pool_alloc(&p, 4096);
    for (size_t i = 0; i < 8; i++) {
        t[i] = gb_pool_alloc(&p, 64u << 10);
        assert_int_equal((uintptr_t)t[i] % 4096, 0);
        memset(t[i], 1, 64u << 10);
    }
    assert_int_equal((uintptr_t)small % 4096, 0);
    memset(small, 1, 4096);
    for (size_t i = 0; i < 8; i++)
        gb_pool_free(&p, t[i], 64u << 10);
    gb_pool_free(&p, small, 4096);
    gb_pool_free(&p, half, 2048);
    gb_pool_trim(&p);
    assert_int_equal(p.cold[16 - GB_POOL_MIN_SHIFT].n, 8);
    assert_int_equal(p.cold[12 - GB_POOL_MIN_SHIFT].n, 1);
    assert_ptr_equal(p.free[11 - GB_POOL_MIN_SHIFT], half); /* under a page: kept as it is */
    unsigned char resident[16];
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(mincore(t[i], 64u << 10, resident), 0);
        for (int k = 0; k < 16; k++)
            assert_int_equal(resident[k] & 1, 0);
    }
    assert_int_equal(mincore(small, 4096, resident), 0);
    assert_int_equal(resident[0] & 1, 0);
    char *again = gb_pool_alloc(&p, 40000);
    assert_ptr_equal(again, t[0]);   /* the last trimmed of its size first */
    assert_int_equal(again[100], 0); /* new memory: zeros */
    again[100] = 5;
    assert_int_equal(p.cold[16 - GB_POOL_MIN_SHIFT].n, 7);
    gb_pool_free(&p, odd, 100);
    gb_pool_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_hash_sub),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_log_once_and_levels),
        cmocka_unit_test(test_diag_sorted),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
