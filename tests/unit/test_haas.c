/* The Haas MDC codec: replies in the forms real controls send, the framer, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/haas/codec_haas.h"
#include "gemba/error.h"

#include <stdio.h>
#include <string.h>

static gb_haas_reply_t R;

/* A parsed reply as one line: its kind and the fields it sets, or "! WHY" for a malformed one. */
static const char *render(const char *in, size_t len)
{
    static const char *const kinds[] = {"SERIAL", "MODE",    "PROGRAM", "STATUS",
                                        "MACRO",  "INVALID", "UNKNOWN"};
    static char buf[600];
    const char *why = NULL;
    if (gb_haas_parse(in, len, &R, &why) != 0) {
        snprintf(buf, sizeof buf, "! %s", why ? why : "(no reason)");
        return buf;
    }
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", kinds[R.kind]);
    if (R.text.n)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " text=%.*s", (int)R.text.n, R.text.p);
    if (R.status.n)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " status=%.*s", (int)R.status.n, R.status.p);
    if (R.kind == GB_HAAS_PROGRAM)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " parts=%lld", (long long)R.parts);
    if (R.has_var) n += (size_t)snprintf(buf + n, sizeof buf - n, " var=%u", (unsigned)R.var);
    if (R.kind == GB_HAAS_MACRO) snprintf(buf + n, sizeof buf - n, " value=%.17g", R.value);
    return buf;
}

/* Reply bytes and what they parse to; for a malformed reply, "! " and the start of its reason. */
#define C(in, want) {in, sizeof in - 1, want}
static const struct {
    const char *in;
    size_t len;
    const char *want;
} golden[] = {
    /* Q100: STX text ETB CR LF and the prompt, as a control sends it on its TCP port */
    C("\x02SERIAL NUMBER, 1234567\x17\r\n>", "SERIAL text=1234567"),
    /* the ETB after the line end, the prompt of the last reply in front, odd spacing and case */
    C(">\x02Serial  Number,1098765 \r\n\x17", "SERIAL text=1098765"),
    /* Q104; older controls put the mode in parentheses */
    C("MODE, MEM", "MODE text=MEM"),
    C(">MODE, (ZERO RET)\r\n", "MODE text=ZERO RET"),
    /* Q500: the long form, and the short one while a program runs, with or without its comma */
    C("\x02PROGRAM, O01234, IDLE, PARTS, 380\x17\r\n>",
      "PROGRAM text=O01234 status=IDLE parts=380"),
    C("PROGRAM, MDI, FEED HOLD, PARTS, 0", "PROGRAM text=MDI status=FEED HOLD parts=0"),
    C(">PROGRAM, O12345, ALARM ON, PARTS, 999999999999999",
      "PROGRAM text=O12345 status=ALARM ON parts=999999999999999"),
    C("\x02STATUS, BUSY\x17\r\n>", "STATUS status=BUSY"),
    C(">STATUS BUSY\r\n", "STATUS status=BUSY"),
    /* Q600: with its variable, or (newer controls) without; values zero- or space-padded */
    C("\x02MACRO, 5021, 12.5\x17\r\n>", "MACRO var=5021 value=12.5"),
    C(">MACRO, 1.000000\r\n", "MACRO value=1"),
    C("MACRO,       -0.001000", "MACRO value=-0.001"),
    C("MACRO, 3027, 1.2E+03", "MACRO var=3027 value=1200"),
    /* refusals */
    C("\x02INVALID NUMBER\x17\r\n>", "INVALID text=INVALID NUMBER"),
    C("UNKNOWN", "INVALID text=UNKNOWN"),
    C("INVALID COMMAND", "INVALID text=INVALID COMMAND"),
    /* answers to queries the codec does not model, echoes, program output */
    C("SOFTWARE VERSION, 100.17.000.2037", "UNKNOWN text=SOFTWARE VERSION, 100.17.000.2037"),
    C("M30 #1, 380", "UNKNOWN text=M30 #1, 380"),
    C("?Q500", "UNKNOWN text=?Q500"),
    C("A, B, C, D, E, F, G, H, I, J, K", "UNKNOWN text=A, B, C, D, E, F, G, H, I, J, K"),
    /* malformed */
    C("", "! empty"),
    C("\x02\x17\r\n>", "! empty"),
    C("PROGRAM, O01234, IDLE, PARTS, 38O", "! PROGRAM reply with a bad part count"),
    C("PROGRAM, O01234, IDLE, PARTS, -1", "! PROGRAM reply with a bad part count"),
    C("PROGRAM, O01234, IDLE, PARTS, 1234567890123456", "! PROGRAM reply with a bad part count"),
    C("PROGRAM, O01234, IDLE, PARTS", "! PROGRAM reply"),
    C("PROGRAM, O01234, IDLE, PIECES, 3", "! PROGRAM reply"),
    C("PROGRAM, , IDLE, PARTS, 3", "! PROGRAM reply"),
    C("SERIAL NUMBER", "! SERIAL NUMBER"),
    C("SERIAL NUMBER, ", "! SERIAL NUMBER"),
    C("SERIAL NUMBER, 1, 2", "! SERIAL NUMBER"),
    C("MODE, ()", "! MODE"),
    C("STATUS", "! STATUS"),
    C("STATUS, BUSY, NOW", "! STATUS"),
    C("MACRO, twelve", "! MACRO reply with a bad value"),
    C("MACRO, nan", "! MACRO reply with a bad value"),
    C("MACRO, inf", "! MACRO reply with a bad value"),
    C("MACRO, 0x10", "! MACRO reply with a bad value"),
    C("MACRO, 1e999", "! MACRO reply with a bad value"),
    C("MACRO, 5021, ", "! MACRO reply with a bad value"),
    C("MACRO, 0, 1.0", "! MACRO reply with a bad variable"),
    C("MACRO, 1000000, 1.0", "! MACRO reply with a bad variable"),
    C("MACRO, x1, 1.0", "! MACRO reply with a bad variable"),
    C("MACRO", "! MACRO reply is not"),
    C("MACRO, 1, 2, 3", "! MACRO reply is not"),
    C("PROG\x01RAM, O1, IDLE, PARTS, 1", "! control"),
    C("PROGRAM, O1\xe9, IDLE, PARTS, 1", "! control or non-ASCII"),
    C("MODE, M\0EM", "! control"),
};

static void test_golden(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        const char *got = render(golden[i].in, golden[i].len);
        if (strncmp(got, golden[i].want, strlen(golden[i].want)) != 0 ||
            (golden[i].want[0] != '!' && strlen(got) != strlen(golden[i].want))) {
            print_error("case %zu: got '%s', want '%s'\n", i, got, golden[i].want);
            bad++;
        }
    }
    char big[GB_HAAS_REPLY_MAX + 2];
    memset(big, 'A', sizeof big);
    assert_string_equal(render(big, sizeof big), "! reply too long");
    assert_int_equal(bad, 0);
}

static void test_states(void **state)
{
    (void)state;
    static const char *const execution[][2] = {
        {"BUSY", "ACTIVE"},     {"IDLE", "READY"},      {"FEED HOLD", "INTERRUPTED"},
        {"ALARM ON", "STOPPED"}, {"M00 STOP", "STOPPED"}, {"busy", "ACTIVE"}};
    static const char *const modes[][2] = {{"MEM", "AUTOMATIC"}, {"MDI", "MANUAL_DATA_INPUT"},
                                           {"LIST PROG", "EDIT"}, {"EDIT", "EDIT"},
                                           {"ZERO RET", "MANUAL"}, {"jog", "MANUAL"}};
    for (size_t i = 0; i < 6; i++) {
        gb_haas_span_t e = {execution[i][0], strlen(execution[i][0])};
        gb_haas_span_t m = {modes[i][0], strlen(modes[i][0])};
        assert_string_equal(gb_haas_execution(e), execution[i][1]);
        assert_string_equal(gb_haas_controller_mode(m), modes[i][1]);
    }
}

/* Feeds STREAM to the framer; REPLIES get the replies' texts joined by '|'. */
static void frames(const char *stream, size_t len, char *replies, size_t cap)
{
    size_t off = 0, w = 0;
    replies[0] = 0;
    for (;;) {
        size_t used = 0;
        gb_haas_span_t r;
        int rc = gb_haas_frame(stream + off, len - off, &used, &r);
        assert_true(used <= len - off);
        if (rc == 1) {
            assert_true(r.p >= stream + off && r.p + r.n <= stream + len);
            w += (size_t)snprintf(replies + w, cap - w, "%s%.*s", w ? "|" : "", (int)r.n, r.p);
        } else if (rc == GB_EPROTO) {
            w += (size_t)snprintf(replies + w, cap - w, "%s<long>", w ? "|" : "");
        }
        off += used;
        if (rc == 0) break;
    }
}

static void test_framer(void **state)
{
    (void)state;
    char got[1024];
#define FRAMES(s, want)                                                                            \
    do {                                                                                           \
        frames(s, sizeof s - 1, got, sizeof got);                                                  \
        assert_string_equal(got, want);                                                            \
    } while (0)
    FRAMES("\x02SERIAL NUMBER, 1234567\x17\r\n>\x02MODE, MEM\x17\r\n>",
           "SERIAL NUMBER, 1234567|MODE, MEM");
    FRAMES("\x02SERIAL NUMBER, 1\r\n\x17>\x02MODE, MEM\r\n\x17>", "SERIAL NUMBER, 1|MODE, MEM");
    FRAMES(">MACRO, 1.000000\r\n>MACRO, 2.000000\n", "MACRO, 1.000000|MACRO, 2.000000");
    FRAMES("MODE, MEM\rMODE, JOG\r", "MODE, MEM|MODE, JOG");
    /* an incomplete reply waits for its end; an STX cuts off a reply that never ended */
    FRAMES("\x02PROGRAM, O1, IDLE, PA", "");
    FRAMES("\x02PROGRAM, O1, ID\x02STATUS, BUSY\x17", "PROGRAM, O1, ID|STATUS, BUSY");
    FRAMES("\r\n>\x11\x13 ", "");
    /* a line that does not end is dropped once it is longer than any reply */
    char big[GB_HAAS_REPLY_MAX + 10];
    memset(big, 'B', sizeof big);
    frames(big, sizeof big, got, sizeof got);
    assert_string_equal(got, "<long>");
    /* framing left over is noise the framer skips and reports as usable */
    size_t used;
    gb_haas_span_t r;
    assert_int_equal(gb_haas_frame("\x17\r\n>\x02MAC", 8, &used, &r), 0);
    assert_int_equal(used, 5);
    assert_int_equal(gb_haas_frame("", 0, &used, &r), 0);
    assert_int_equal(used, 0);
}

/* A whole exchange, framed and parsed, as the adapter reads it. */
static void test_stream(void **state)
{
    (void)state;
    static const char stream[] = "\x02SERIAL NUMBER, 1234567\x17\r\n>"
                                 "\x02MODE, MEM\x17\r\n>"
                                 "\x02PROGRAM, O01234, IDLE, PARTS, 380\x17\r\n>"
                                 "\x02MACRO, 5021, 12.5\x17\r\n>"
                                 "\x02INVALID NUMBER\x17\r\n>";
    static const gb_haas_kind_t kinds[] = {GB_HAAS_SERIAL, GB_HAAS_MODE, GB_HAAS_PROGRAM,
                                           GB_HAAS_MACRO, GB_HAAS_INVALID};
    size_t off = 0, k = 0, len = sizeof stream - 1;
    for (;;) {
        size_t used;
        gb_haas_span_t r;
        int rc = gb_haas_frame(stream + off, len - off, &used, &r);
        off += used;
        if (rc != 1) break;
        assert_int_equal(gb_haas_parse(r.p, r.n, &R, NULL), 0);
        assert_true(k < 5);
        assert_int_equal(R.kind, kinds[k++]);
    }
    assert_int_equal(k, 5);
    assert_int_equal(off, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_framer),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
