/* test_ws_codec.c — the WebSocket frame parser and writers: RFC 6455 §5.7
 * example frames, every error with its close code, every split point and one
 * byte at a time, UTF-8 split across fragments at every position, limits,
 * and random valid streams at random splits.
 *
 * The harness plays the caller: it keeps unconsumed bytes, and before each
 * pg_ws_parse copies them into an exact-size heap block so that ASan catches
 * any read or write past len. Events are logged in a split-independent form:
 * a message's DATA chunks are joined and logged at MESSAGE_END. */
#include "tap.h"
#include "ws_codec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PG_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- building client frames ------------------------------------------ */

struct bytes {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 16;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* b0 is the whole first byte (FIN, RSV, opcode); the frame is masked with KEY. */
static void frame(struct bytes *b, uint8_t b0, const void *payload, size_t n)
{
    uint8_t h[14];
    size_t hl = pg_ws_frame_header(h, 0, false, false, n);
    uint8_t *m = malloc(n ? n : 1);

    h[0] = b0;
    h[1] |= 0x80;
    memcpy(h + hl, KEY, 4);
    put(b, h, hl + 4);
    for (size_t i = 0; i < n; i++)
        m[i] = ((const uint8_t *)payload)[i] ^ KEY[i & 3];
    put(b, m, n);
    free(m);
}

#define FIN 0x80
#define RSV1 0x40

/* ---- running the parser like a caller -------------------------------- */

struct run {
    char log[4096];
    size_t loglen;
    struct bytes msg;   /* DATA of the open message */
    int events;
    int err_code;       /* close code of the ERROR, or 0 */
    int bad_views;      /* event views outside the consumed bytes */
};

static void logf_(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->loglen, sizeof(r->log) - r->loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->loglen = PG_MIN(r->loglen + (size_t)n, sizeof(r->log) - 1);
}

static void log_bytes(struct run *r, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && r->loglen < sizeof(r->log) - 8; i++)
        logf_(r, (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '%') ? "%c" : "%%%02x", p[i]);
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static bool in_view(const uint8_t *v, size_t n, const uint8_t *buf, size_t used)
{
    return n == 0 || (v >= buf && v + n <= buf + used);
}

/* Records one event; returns false when the run must stop (ERROR). */
static bool record(struct run *r, const struct pg_ws_event *ev, const uint8_t *buf, size_t used)
{
    r->events++;
    switch (ev->type) {
    case PG_WS_EV_NEED_MORE:
        break;
    case PG_WS_EV_DATA:
        r->bad_views += !in_view(ev->data, ev->len, buf, used) || ev->len == 0;
        put(&r->msg, ev->data, ev->len);
        break;
    case PG_WS_EV_MESSAGE_END:
        logf_(r, "[%s%s:", ev->opcode == 1 ? "text" : "bin", ev->rsv1 ? "+rsv1" : "");
        if (r->msg.n <= 64)
            log_bytes(r, r->msg.p, r->msg.n);
        else
            logf_(r, "%zu bytes, fnv %08x", r->msg.n, fnv(r->msg.p, r->msg.n));
        logf_(r, "]");
        r->msg.n = 0;
        break;
    case PG_WS_EV_PING:
    case PG_WS_EV_PONG:
        r->bad_views += !in_view(ev->data, ev->len, buf, used);
        logf_(r, "[%s:", ev->type == PG_WS_EV_PING ? "ping" : "pong");
        log_bytes(r, ev->data, ev->len);
        logf_(r, "]");
        break;
    case PG_WS_EV_CLOSE:
        r->bad_views += !in_view((const uint8_t *)ev->close_reason, ev->close_reason_len, buf, used);
        logf_(r, "[close %u:", ev->close_code);
        log_bytes(r, (const uint8_t *)ev->close_reason, ev->close_reason_len);
        logf_(r, "]");
        break;
    case PG_WS_EV_ERROR:
        logf_(r, "[error %u %d]", ev->close_code, ev->err);
        r->err_code = ev->close_code;
        return false;
    }
    return true;
}

/* Feeds in[0..n): the first `first` bytes as one piece, the rest in pieces
 * of `step` bytes. Returns the log (in r). */
static void run(struct run *r, const uint8_t *in, size_t n, size_t first, size_t step,
                const struct pg_ws_limits *lim)
{
    struct pg_ws_parser p;
    struct pg_ws_event ev;
    uint8_t *pending = malloc(n + 1);
    size_t have = 0, fed = 0;
    bool go = true;

    memset(r, 0, sizeof(*r));
    pg_ws_parser_init(&p);
    while (go && fed < n) {
        size_t piece = fed == 0 && first ? first : step;
        piece = PG_MIN(piece, n - fed);
        memcpy(pending + have, in + fed, piece);
        have += piece;
        fed += piece;
        for (int guard = 0; go; guard++) {
            uint8_t *exact = malloc(have ? have : 1);
            size_t used;
            memcpy(exact, pending, have);
            used = pg_ws_parse(&p, exact, have, lim, &ev);
            if (used > have || guard > 1000)
                r->bad_views++, go = false;
            else
                go = record(r, &ev, exact, used);
            memcpy(pending, exact + used, have - used);
            have -= used;
            free(exact);
            if (ev.type == PG_WS_EV_NEED_MORE)
                break;
        }
    }
    if (go && (r->msg.n || have))
        logf_(r, "[partial %zu+%zu]", r->msg.n, have);
    free(r->msg.p);
    r->msg.p = NULL;
    free(pending);
}

/* Runs whole, one byte at a time and split at every offset (for long
 * streams: every offset near either end and every `stride`-th between); all
 * must log `want` (NULL: whatever the whole run logs). Returns the close
 * code of the error, or 0. */
static int check_stream_stride(const struct bytes *b, const struct pg_ws_limits *lim,
                               const char *want, const char *name, size_t stride)
{
    struct run whole, r;
    int mismatches = 0;

    run(&whole, b->p, b->n, 0, b->n ? b->n : 1, lim);
    if (want && strcmp(whole.log, want) != 0)
        printf("#   want %s\n#   got  %s\n", want, whole.log);
    ok(!want || strcmp(whole.log, want) == 0, "%s: whole", name);
    run(&r, b->p, b->n, 0, 1, lim);
    mismatches += strcmp(r.log, whole.log) != 0 || r.bad_views;
    for (size_t k = 1; k < b->n; k++) {
        if (k > 40 && k + 40 < b->n && k % stride)
            continue;
        run(&r, b->p, b->n, k, b->n, lim);
        mismatches += strcmp(r.log, whole.log) != 0 || r.bad_views;
    }
    ok(mismatches == 0 && whole.bad_views == 0, "%s: byte by byte and split at every offset (%d differ)",
       name, mismatches);
    return whole.err_code;
}

static int check_stream(const struct bytes *b, const struct pg_ws_limits *lim, const char *want,
                        const char *name)
{
    return check_stream_stride(b, lim, want, name, 1);
}

static const struct pg_ws_limits plain = {0, false, true};
static const struct pg_ws_limits deflate = {0, true, true};

static void reset(struct bytes *b)
{
    b->n = 0;
}

/* ---- RFC 6455 §5.7 examples ---------------------------------------- */

static void rfc_examples(void)
{
    static const uint8_t unmasked_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t frag1_hdr[] = {0x01, 0x03}, frag2_hdr[] = {0x80, 0x02};
    static const uint8_t ping_hdr[] = {0x89, 0x05};
    static const uint8_t hdr256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t hdr64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    struct bytes b = {0};
    uint8_t h[10], *big;
    char want[128];

    put(&b, unmasked_hello, sizeof(unmasked_hello));
    is_int(check_stream(&b, &plain, "[error 1002 -1]", "5.7 unmasked Hello is refused"), 1002,
           "unmasked client frame: close 1002");

    reset(&b);
    put(&b, masked_hello, sizeof(masked_hello));
    check_stream(&b, &plain, "[text:Hello]", "5.7 masked Hello");
    reset(&b);
    frame(&b, 0x81, "Hello", 5);
    ok(b.n == sizeof(masked_hello) && memcmp(b.p, masked_hello, b.n) == 0,
       "our masking reproduces the RFC's masked Hello");

    reset(&b);
    frame(&b, 0x01, "Hel", 3);
    frame(&b, 0x80, "lo", 2);
    check_stream(&b, &plain, "[text:Hello]", "5.7 fragmented Hello");
    is_int(pg_ws_frame_header(h, PG_WS_OP_TEXT, false, false, 3), 2, "writer: first fragment header size");
    ok(memcmp(h, frag1_hdr, 2) == 0, "writer: first fragment header bytes 01 03");
    pg_ws_frame_header(h, PG_WS_OP_CONT, true, false, 2);
    ok(memcmp(h, frag2_hdr, 2) == 0, "writer: last fragment header bytes 80 02");

    reset(&b);
    frame(&b, 0x89, "Hello", 5);
    check_stream(&b, &plain, "[ping:Hello]", "5.7 ping Hello (masked)");
    pg_ws_frame_header(h, PG_WS_OP_PING, true, false, 5);
    ok(memcmp(h, ping_hdr, 2) == 0, "writer: ping header 89 05");

    reset(&b);
    put(&b, masked_pong, sizeof(masked_pong));
    check_stream(&b, &plain, "[pong:Hello]", "5.7 masked pong Hello");

    big = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 8));
    is_int(pg_ws_frame_header(h, PG_WS_OP_BINARY, true, false, 256), 4, "writer: 256 bytes needs 4");
    ok(memcmp(h, hdr256, 4) == 0, "writer: 256-byte header 82 7E 01 00");
    reset(&b);
    frame(&b, 0x82, big, 256);
    snprintf(want, sizeof(want), "[bin:256 bytes, fnv %08x]", fnv(big, 256));
    check_stream(&b, &plain, want, "5.7 256-byte binary");
    is_int(pg_ws_frame_header(h, PG_WS_OP_BINARY, true, false, 65536), 10, "writer: 64 KiB needs 10");
    ok(memcmp(h, hdr64k, 10) == 0, "writer: 64 KiB header 82 7F 00 00 00 00 00 01 00 00");
    reset(&b);
    frame(&b, 0x82, big, 65536);
    snprintf(want, sizeof(want), "[bin:65536 bytes, fnv %08x]", fnv(big, 65536));
    check_stream_stride(&b, &plain, want, "5.7 64 KiB binary", 997);
    free(big);
    free(b.p);
}

static void writer_lengths(void)
{
    static const struct { uint64_t len; size_t size; } cases[] = {
        {0, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}, {UINT64_C(1) << 32, 10},
        {(UINT64_C(1) << 63) - 1, 10}};
    uint8_t h[10];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = pg_ws_frame_header(h, PG_WS_OP_BINARY, true, false, cases[i].len);
        uint64_t got = n == 2 ? h[1] : 0;
        for (size_t k = 2; k < n; k++)
            got = (got << 8) | h[k];
        ok(n == cases[i].size && got == cases[i].len && (n == 2 || h[1] == (n == 4 ? 126 : 127)),
           "writer: length %llu in %zu bytes", (unsigned long long)cases[i].len, cases[i].size);
    }
    pg_ws_frame_header(h, PG_WS_OP_TEXT, true, true, 1);
    is_int(h[0], 0xC1, "writer: FIN + RSV1 + text");
    pg_ws_frame_header(h, PG_WS_OP_CONT, false, false, 1);
    is_int(h[0], 0x00, "writer: continuation without FIN");
    pg_ws_frame_header(h, PG_WS_OP_PONG, true, false, 0);
    is_int(h[0], 0x8A, "writer: pong");
    is_int(h[1] & 0x80, 0, "writer: server frames are not masked");
}

/* ---- errors ---------------------------------------------------------- */

static void expect_error(const struct bytes *b, const struct pg_ws_limits *lim, int code, int err,
                         const char *name)
{
    char want[64];
    snprintf(want, sizeof(want), "[error %d %d]", code, err);
    check_stream(b, lim, want, name);
}

static void errors(void)
{
    struct bytes b = {0};
    uint8_t raw[16];
    char name[64];

    reset(&b);
    frame(&b, 0x81 | 0x20, "x", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_RSV, "RSV2 set");
    reset(&b);
    frame(&b, 0x81 | 0x10, "x", 1);
    expect_error(&b, &deflate, 1002, PG_WS_ERR_RSV, "RSV3 set even with deflate");
    reset(&b);
    frame(&b, 0x81 | RSV1, "x", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_RSV, "RSV1 without deflate");
    reset(&b);
    frame(&b, 0x01 | RSV1, "x", 1);
    frame(&b, 0x80 | RSV1, "y", 1);
    expect_error(&b, &deflate, 1002, PG_WS_ERR_RSV, "RSV1 on a continuation");
    reset(&b);
    frame(&b, 0x89 | RSV1, "x", 1);
    expect_error(&b, &deflate, 1002, PG_WS_ERR_RSV, "RSV1 on a ping");

    for (int op = 3; op < 16; op++) {
        if (op >= 8 && op <= 10)
            continue;
        reset(&b);
        frame(&b, (uint8_t)(0x80 | op), "", 0);
        snprintf(name, sizeof(name), "reserved opcode %d", op);
        expect_error(&b, &plain, 1002, PG_WS_ERR_OPCODE, name);
    }

    reset(&b);
    frame(&b, 0x09, "x", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_CTRL_FRAGMENTED, "fragmented ping");
    reset(&b);
    frame(&b, 0x08, "", 0);
    expect_error(&b, &plain, 1002, PG_WS_ERR_CTRL_FRAGMENTED, "fragmented close");
    {
        uint8_t p126[126];
        memset(p126, 'p', sizeof(p126));
        reset(&b);
        frame(&b, 0x89, p126, 126);
        expect_error(&b, &plain, 1002, PG_WS_ERR_CTRL_TOO_BIG, "ping of 126 bytes");
        reset(&b);
        frame(&b, 0x89, p126, 125);
        check_stream(&b, &plain, NULL, "ping of 125 bytes is fine");
    }

    reset(&b);
    frame(&b, 0x80, "x", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_NO_MESSAGE, "continuation without a message");
    reset(&b);
    frame(&b, 0x81, "a", 1);
    frame(&b, 0x00, "x", 1);
    check_stream(&b, &plain, "[text:a][error 1002 -6]", "continuation after a finished message");
    reset(&b);
    frame(&b, 0x01, "a", 1);
    frame(&b, 0x82, "x", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_MESSAGE_OPEN, "binary frame inside a fragmented text");

    /* 64-bit length with the MSB set: fails once the header is complete */
    memcpy(raw, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01", 10);
    memcpy(raw + 10, KEY, 4);
    reset(&b);
    put(&b, raw, 14);
    expect_error(&b, &plain, 1002, PG_WS_ERR_LENGTH, "64-bit length with MSB set");

    free(b.p);
}

static void limits(void)
{
    struct pg_ws_limits lim = {10, false, true};
    struct pg_ws_parser p;
    struct pg_ws_event ev;
    struct bytes b = {0};
    uint8_t raw[14];
    size_t used;

    reset(&b);
    frame(&b, 0x82, "0123456789", 10);
    check_stream(&b, &lim, "[bin:0123456789]", "message of exactly max_message_size");
    reset(&b);
    frame(&b, 0x82, "0123456789A", 11);
    expect_error(&b, &lim, 1009, PG_WS_ERR_TOO_BIG, "one byte over max_message_size");
    reset(&b);
    frame(&b, 0x02, "012345", 6);
    frame(&b, 0x80, "6789A", 5);
    expect_error(&b, &lim, 1009, PG_WS_ERR_TOO_BIG, "fragments adding up over the limit");
    reset(&b);
    frame(&b, 0x02, "01234", 5);
    frame(&b, 0x89, "ping", 4);
    frame(&b, 0x80, "56789", 5);
    frame(&b, 0x82, "0123456789", 10);
    check_stream(&b, &lim, "[ping:ping][bin:0123456789][bin:0123456789]",
                 "limit counts per message, not per connection; pings do not count");

    /* a 2^63-1 frame fails on its header alone, before any payload */
    memcpy(raw, "\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10);
    memcpy(raw + 10, KEY, 4);
    lim.max_message_size = 1 << 20;
    pg_ws_parser_init(&p);
    used = pg_ws_parse(&p, raw, 13, &lim, &ev);
    is_int(used, 0, "huge frame: incomplete header consumes nothing");
    is_int(ev.type, PG_WS_EV_NEED_MORE, "huge frame: incomplete header needs more");
    pg_ws_parse(&p, raw, 14, &lim, &ev);
    ok(ev.type == PG_WS_EV_ERROR && ev.close_code == 1009, "huge frame: 1009 as soon as its header is complete");
    lim.max_message_size = 0;
    pg_ws_parser_init(&p);
    used = pg_ws_parse(&p, raw, 14, &lim, &ev);
    is_int(used, 14, "no limit: a huge frame's header is consumed");
    is_int(ev.type, PG_WS_EV_NEED_MORE, "no limit: then it waits for payload");
    free(b.p);
}

static void close_frames(void)
{
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                     1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
                                       2999, 5000, 65535};
    struct bytes b = {0};
    uint8_t pl[4];
    char want[64], name[64];

    reset(&b);
    frame(&b, 0x88, "", 0);
    check_stream(&b, &plain, "[close 1005:]", "empty close payload reads as 1005");
    reset(&b);
    frame(&b, 0x88, "\x03\xe8" "bye \xe2\x82\xac", 9);
    check_stream(&b, &plain, "[close 1000:bye %e2%82%ac]", "close with code and UTF-8 reason");
    reset(&b);
    frame(&b, 0x88, "\x03", 1);
    expect_error(&b, &plain, 1002, PG_WS_ERR_CLOSE_LENGTH, "close payload of 1 byte");
    reset(&b);
    frame(&b, 0x88, "\x03\xe8\xc0\x80", 4);
    expect_error(&b, &plain, 1007, PG_WS_ERR_CLOSE_UTF8, "close reason not UTF-8");
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        pl[0] = (uint8_t)(valid[i] >> 8), pl[1] = (uint8_t)valid[i];
        reset(&b);
        frame(&b, 0x88, pl, 2);
        snprintf(want, sizeof(want), "[close %u:]", valid[i]);
        snprintf(name, sizeof(name), "close code %u accepted", valid[i]);
        check_stream(&b, &plain, want, name);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        pl[0] = (uint8_t)(invalid[i] >> 8), pl[1] = (uint8_t)invalid[i];
        reset(&b);
        frame(&b, 0x88, pl, 2);
        snprintf(name, sizeof(name), "close code %u refused", invalid[i]);
        expect_error(&b, &plain, 1002, PG_WS_ERR_CLOSE_CODE, name);
    }
    /* bytes after a close are discarded */
    reset(&b);
    frame(&b, 0x88, "\x03\xe9", 2);
    frame(&b, 0x81, "late", 4);
    put(&b, "garbage", 7);
    check_stream(&b, &plain, "[close 1001:]", "after a close, everything is discarded");
    /* close in the middle of a fragmented message */
    reset(&b);
    frame(&b, 0x01, "par", 3);
    frame(&b, 0x88, "\x03\xe8", 2);
    check_stream(&b, &plain, "[close 1000:][partial 3+0]", "close between fragments");
    free(b.p);
}

static void close_writer(void)
{
    uint8_t out[PG_WS_CLOSE_FRAME_MAX + 8];
    char reason[300];
    size_t n;

    n = pg_ws_close_frame(out, 1000, "bye");
    ok(n == 7 && memcmp(out, "\x88\x05\x03\xe8" "bye", 7) == 0, "close frame 1000 bye");
    n = pg_ws_close_frame(out, 1002, NULL);
    ok(n == 4 && memcmp(out, "\x88\x02\x03\xea", 4) == 0, "close frame without reason");
    n = pg_ws_close_frame(out, 0, "ignored");
    ok(n == 2 && out[0] == 0x88 && out[1] == 0, "code 0: empty close frame");
    n = pg_ws_close_frame(out, 1005, NULL);
    ok(n == 2 && out[1] == 0, "code 1005: empty close frame");

    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    n = pg_ws_close_frame(out, 1011, reason);
    ok(n == 127 && out[1] == 125, "long reason cut to a 125-byte payload");
    /* a 3-byte character straddling byte 123 of the reason */
    memset(reason, 'r', 122);
    memcpy(reason + 121, "\xe2\x82\xac", 3);
    reason[124] = '\0';
    n = pg_ws_close_frame(out, 1011, reason);
    ok(n == 2 + 2 + 121 && out[1] == 123, "reason cut before a character that would not fit");
    memcpy(reason + 120, "\xe2\x82\xac", 4);
    n = pg_ws_close_frame(out, 1011, reason);
    ok(n == 2 + 2 + 123, "character ending exactly at the limit is kept");
    n = pg_ws_close_frame(out, 1008, "ok\xff bad");
    ok(n == 6 && out[1] == 4, "invalid UTF-8 reason cut to its valid prefix");

    /* our own close frames parse back (once masked, as a client would) */
    {
        struct bytes b = {0};
        n = pg_ws_close_frame(out, 4000, "bye \xe2\x82\xac");
        frame(&b, out[0], out + 2, n - 2);
        check_stream(&b, &plain, "[close 4000:bye %e2%82%ac]", "close frame round trip");
        free(b.p);
    }
}

/* ---- messages, UTF-8, interleaving ------------------------------------ */

static void messages(void)
{
    struct bytes b = {0};
    struct pg_ws_limits novalidate = {0, false, false};

    reset(&b);
    frame(&b, 0x01, "Hel", 3);
    frame(&b, 0x89, "x", 1);
    frame(&b, 0x00, "", 0);
    frame(&b, 0x8a, "", 0);
    frame(&b, 0x80, "lo", 2);
    frame(&b, 0x81, "", 0);
    frame(&b, 0x82, "\x00\xff", 2);
    check_stream(&b, &plain, "[ping:x][pong:][text:Hello][text:][bin:%00%ff]",
                 "control frames between fragments, empty frames and messages");

    reset(&b);
    frame(&b, 0x81 | RSV1, "\xff\xfe", 2);
    frame(&b, 0x02 | RSV1, "a", 1);
    frame(&b, 0x80, "b", 1);
    check_stream(&b, &deflate, "[text+rsv1:%ff%fe][bin+rsv1:ab]",
                 "deflate: RSV1 on first frames, compressed text not UTF-8 checked");
    reset(&b);
    frame(&b, 0x81, "\xff", 1);
    check_stream(&b, &novalidate, "[text:%ff]", "validate_utf8 false passes invalid text");
    check_stream(&b, &deflate, "[error 1007 -10]", "deflate but no RSV1: text still checked");
    reset(&b);
    frame(&b, 0x82, "\xff", 1);
    check_stream(&b, &plain, "[bin:%ff]", "binary is not UTF-8 checked");
    free(b.p);
}

static void utf8_across_fragments(void)
{
    static const char good[] = "k\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9d\x84\x9e\xe2\x82\xac!";
    static const char bad_surrogate[] = "ab\xed\xa0\x80" "cd";
    static const char bad_high[] = "ab\xf4\x90\x80\x80";
    static const char bad_overlong[] = "\xc0\xaf";
    static const char truncated[] = "ab\xe2\x82";
    size_t n = sizeof(good) - 1;
    struct bytes b = {0};
    struct run r, r1;
    int bad = 0;
    char want[256];

    snprintf(want, sizeof(want), "[text:");
    for (size_t i = 0; i < n; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want),
                 ((uint8_t)good[i] >= 0x20 && (uint8_t)good[i] < 0x7f) ? "%c" : "%%%02x", (uint8_t)good[i]);
    strcat(want, "]");
    for (size_t k = 0; k <= n; k++) {
        for (size_t j = k; j <= n; j++) {
            reset(&b);
            frame(&b, 0x01, good, k);
            frame(&b, 0x89, "p", 1);
            frame(&b, 0x00, good + k, j - k);
            frame(&b, 0x80, good + j, n - j);
            run(&r, b.p, b.n, 0, b.n, &plain);
            run(&r1, b.p, b.n, 0, 1, &plain);
            bad += strncmp(r.log, "[ping:p]", 8) != 0 || strcmp(r.log + 8, want) != 0 ||
                   strcmp(r.log, r1.log) != 0;
        }
    }
    is_int(bad, 0, "valid UTF-8 split into three fragments at every pair of positions");

    struct { const char *s; size_t n; const char *name; } cases[] = {
        {bad_surrogate, sizeof(bad_surrogate) - 1, "surrogate"},
        {bad_high, sizeof(bad_high) - 1, "above U+10FFFF"},
        {bad_overlong, sizeof(bad_overlong) - 1, "overlong"},
        {truncated, sizeof(truncated) - 1, "truncated at message end"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        bad = 0;
        for (size_t k = 0; k <= cases[c].n; k++) {
            reset(&b);
            frame(&b, 0x01, cases[c].s, k);
            frame(&b, 0x80, cases[c].s + k, cases[c].n - k);
            run(&r, b.p, b.n, 0, b.n, &plain);
            run(&r1, b.p, b.n, 0, 1, &plain);
            bad += strcmp(r.log, "[error 1007 -10]") != 0 || strcmp(r1.log, r.log) != 0;
        }
        ok(bad == 0, "invalid UTF-8 (%s) split at every position: 1007", cases[c].name);
    }

    /* fail fast: the bad byte is reported before the frame is complete */
    {
        struct pg_ws_parser p;
        struct pg_ws_event ev;
        uint8_t *buf;
        size_t used;
        reset(&b);
        frame(&b, 0x81, "abc\xff" "defghijklmnop", 17);
        buf = malloc(b.n);
        memcpy(buf, b.p, b.n);
        pg_ws_parser_init(&p);
        used = pg_ws_parse(&p, buf, 6 + 3, &plain, &ev);
        ok(used == 9 && ev.type == PG_WS_EV_DATA && ev.len == 3, "fail fast: first chunk delivered");
        pg_ws_parse(&p, buf + used, 2, &plain, &ev);
        ok(ev.type == PG_WS_EV_ERROR && ev.close_code == 1007, "fail fast: 1007 at the bad byte, mid-frame");
        free(buf);
    }
    free(b.p);
}

static void sticky_error(void)
{
    struct pg_ws_parser p;
    struct pg_ws_event ev;
    struct bytes b = {0};
    size_t used;

    frame(&b, 0x80, "x", 1);
    pg_ws_parser_init(&p);
    used = pg_ws_parse(&p, b.p, b.n, NULL, &ev);
    ok(used == 0 && ev.type == PG_WS_EV_ERROR && ev.close_code == 1002 && ev.why && *ev.why,
       "error consumes nothing, has a close code and a reason");
    reset(&b);
    frame(&b, 0x81, "fine", 4);
    used = pg_ws_parse(&p, b.p, b.n, NULL, &ev);
    ok(used == 0 && ev.type == PG_WS_EV_ERROR && ev.err == PG_WS_ERR_NO_MESSAGE,
       "after an error the parser stays in error");
    used = pg_ws_parse(&p, NULL, 0, NULL, &ev);
    ok(used == 0 && ev.type == PG_WS_EV_ERROR, "stays in error with no input");
    free(b.p);
}

static void api_details(void)
{
    struct pg_ws_parser p;
    struct pg_ws_event ev;
    int bad = 0;

    ok(sizeof(struct pg_ws_parser) <= 40, "parser state is %zu bytes (<= 40)", sizeof(struct pg_ws_parser));
    pg_ws_parser_init(&p);
    size_t used = pg_ws_parse(&p, NULL, 0, NULL, &ev);
    is_int(used, 0, "empty input consumes nothing");
    is_int(ev.type, PG_WS_EV_NEED_MORE, "empty input needs more");
    for (int e = -1; e >= -PG_WS_ERR_COUNT; e--) {
        unsigned code = pg_ws_err_close_code(e);
        bad += !pg_ws_strerror(e)[0] || strlen(pg_ws_strerror(e)) > 123 ||
               (code != 1002 && code != 1007 && code != 1009);
    }
    is_int(bad, 0, "every error has a reason that fits a close frame and a 1002/1007/1009 code");
    ok(strcmp(pg_ws_strerror(0), "no error") == 0 && strcmp(pg_ws_strerror(-99), "no error") == 0,
       "strerror of a non-error");
}

/* ---- random valid streams at random splits ------------------------------ */

static void random_streams(void)
{
    unsigned seed = 7;
    struct bytes b = {0};
    uint8_t payload[300];
    struct run whole, r;
    int bad = 0;

    for (int iter = 0; iter < 300; iter++) {
        reset(&b);
        int frames = 1 + rand_r(&seed) % 8;
        bool open = false;
        for (int f = 0; f < frames || open; f++) {
            size_t n = (size_t)(rand_r(&seed) % 3 == 0 ? rand_r(&seed) % 300 : rand_r(&seed) % 10);
            for (size_t i = 0; i < n; i++)
                payload[i] = (uint8_t)('a' + rand_r(&seed) % 26);
            int kind = rand_r(&seed) % 4;
            if (kind == 0) {
                frame(&b, 0x89, payload, n % 126);
            } else {
                bool fin = f + 1 >= frames || rand_r(&seed) % 2;
                uint8_t op = open ? 0 : (uint8_t)(1 + rand_r(&seed) % 2);
                frame(&b, (uint8_t)((fin ? 0x80 : 0) | op), payload, n);
                open = !fin;
            }
        }
        run(&whole, b.p, b.n, 0, b.n, &plain);
        for (int t = 0; t < 5; t++) {
            run(&r, b.p, b.n, (size_t)rand_r(&seed) % (b.n + 1), 1 + (size_t)rand_r(&seed) % 20, &plain);
            bad += strcmp(r.log, whole.log) != 0 || r.bad_views || r.err_code;
        }
        bad += whole.err_code != 0;
    }
    free(b.p);
    is_int(bad, 0, "random valid streams give the same events at random splits");
}

int main(void)
{
    rfc_examples();
    writer_lengths();
    errors();
    limits();
    close_frames();
    close_writer();
    messages();
    utf8_across_fragments();
    sticky_error();
    api_details();
    random_streams();
    return done_testing();
}
