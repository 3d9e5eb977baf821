/* test_fcgi_codec.c — FastCGI record codec: known encodings, decoding of
 * the same stream whole, one byte at a time and split at every offset,
 * padding, limits, malformed records, name-value pairs with 1- and 4-byte
 * lengths, CGI response heads cut at every offset. */
#define _GNU_SOURCE
#include "fcgi_codec.h"
#include "util.h"
#include "../unit/tap.h"

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

/* Collects decoder events as text: "T<type>:<id>:<content>|" per record. */
struct sink {
    char out[200000];
    size_t len;
    int stop_after;     /* stop after this many callbacks (0 = never) */
    int calls;
};

static int collect(void *ud, uint8_t type, uint16_t id, const uint8_t *data, size_t len, int flags)
{
    struct sink *s = ud;
    if (flags & PG_FCGI_FIRST)
        s->len += (size_t)snprintf(s->out + s->len, sizeof s->out - s->len, "T%u:%u:", type, id);
    if (s->len + len < sizeof s->out) {
        memcpy(s->out + s->len, data, len);
        s->len += len;
    }
    if (flags & PG_FCGI_LAST)
        s->out[s->len++] = '|';
    s->out[s->len] = '\0';
    s->calls++;
    return s->stop_after && s->calls >= s->stop_after;
}

static size_t build_stream(uint8_t *buf)
{
    size_t o = 0;
    pg_fcgi_put_begin(buf + o, 1, PG_FCGI_RESPONDER, PG_FCGI_KEEP_CONN);
    o += 16;
    uint8_t nv[600];
    size_t n = pg_fcgi_put_nv(nv, "REQUEST_METHOD", 14, "POST", 4);
    char longv[300];
    memset(longv, 'v', sizeof longv);
    n += pg_fcgi_put_nv(nv + n, "LONG", 4, longv, sizeof longv);
    o += pg_fcgi_put_stream(buf + o, PG_FCGI_PARAMS, 1, nv, n);
    o += pg_fcgi_put_stream(buf + o, PG_FCGI_PARAMS, 1, NULL, 0);
    /* a padded STDIN record */
    pg_fcgi_put_header(buf + o, PG_FCGI_STDIN, 1, 5, 3);
    memcpy(buf + o + 8, "hello\0\0\0", 8);
    o += 16;
    o += pg_fcgi_put_stream(buf + o, PG_FCGI_STDIN, 1, NULL, 0);
    pg_fcgi_put_abort(buf + o, 7);
    o += 8;
    return o;
}

static void test_encode(void)
{
    uint8_t b[16];
    pg_fcgi_put_begin(b, 0x0102, PG_FCGI_RESPONDER, PG_FCGI_KEEP_CONN);
    static const uint8_t want_begin[16] = {1, 1, 1, 2, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    ok(memcmp(b, want_begin, 16) == 0, "BEGIN_REQUEST bytes");
    pg_fcgi_put_end(b, 3, 0x01020304, PG_FCGI_OVERLOADED);
    static const uint8_t want_end[16] = {1, 3, 0, 3, 0, 8, 0, 0, 1, 2, 3, 4, 2, 0, 0, 0};
    ok(memcmp(b, want_end, 16) == 0, "END_REQUEST bytes");
    uint8_t nv[400];
    size_t n = pg_fcgi_put_nv(nv, "AB", 2, "xyz", 3);
    ok(n == 7 && memcmp(nv, "\x02\x03" "ABxyz", 7) == 0, "short name-value pair");
    char v200[200];
    memset(v200, 'q', sizeof v200);
    n = pg_fcgi_put_nv(nv, "K", 1, v200, 200);
    ok(n == 1 + 4 + 1 + 200 && nv[0] == 1 && nv[1] == 0x80 && nv[2] == 0 && nv[3] == 0 && nv[4] == 200,
       "4-byte value length");
    is_int(pg_fcgi_nv_size(1, 200), 206, "nv_size with a long value");
    is_int(pg_fcgi_stream_size(0), 8, "empty stream record");
    is_int(pg_fcgi_stream_size(65535), 65543, "one full record");
    is_int(pg_fcgi_stream_size(65536), 65552, "two records");
    uint8_t *big = pg_xmalloc(pg_fcgi_stream_size(70000));
    char *data = pg_xmalloc(70000);
    memset(data, 'd', 70000);
    size_t bl = pg_fcgi_put_stream(big, PG_FCGI_STDOUT, 9, data, 70000);
    is_int(bl, pg_fcgi_stream_size(70000), "stream size matches");
    ok(big[4] == 0xff && big[5] == 0xff && big[65543 + 4] == (4465 >> 8) && big[65543 + 5] == (4465 & 0xff),
       "split into 65535 + 4465");
    free(big);
    free(data);
}

static void test_decode_splits(void)
{
    uint8_t buf[2000];
    size_t n = build_stream(buf);
    struct sink whole = {0};
    bool stopped;
    struct pg_fcgi_decoder d;
    pg_fcgi_decoder_init(&d);
    long used0 = pg_fcgi_decode(&d, buf, n, collect, &whole, &stopped);
    is_int(used0, (long)n, "whole stream consumed");
    ok(pg_fcgi_decoder_idle(&d), "idle after the last record");
    ok(memcmp(whole.out, "T1:1:", 5) == 0, "BEGIN first");
    ok(memmem(whole.out, whole.len, "T5:1:hello|T5:1:|T2:7:|", 23) != NULL, "padded STDIN, end of stdin, ABORT");
    int bad = 0;
    /* one byte at a time */
    struct sink s1 = {0};
    pg_fcgi_decoder_init(&d);
    for (size_t i = 0; i < n; i++)
        if (pg_fcgi_decode(&d, buf + i, 1, collect, &s1, &stopped) != 1)
            bad++;
    ok(!bad && s1.len == whole.len && memcmp(s1.out, whole.out, whole.len) == 0, "one byte at a time gives the same records");
    /* every split point */
    for (size_t cut = 0; cut <= n; cut++) {
        struct sink s = {0};
        pg_fcgi_decoder_init(&d);
        uint8_t *a = pg_xmalloc(cut ? cut : 1), *b = pg_xmalloc(n - cut ? n - cut : 1);
        memcpy(a, buf, cut);
        memcpy(b, buf + cut, n - cut);
        pg_fcgi_decode(&d, a, cut, collect, &s, &stopped);
        pg_fcgi_decode(&d, b, n - cut, collect, &s, &stopped);
        if (s.len != whole.len || memcmp(s.out, whole.out, whole.len) != 0)
            bad++;
        free(a);
        free(b);
    }
    is_int(bad, 0, "every split point gives the same records");
    /* stopping mid-stream and resuming */
    struct sink st = {.stop_after = 2};
    pg_fcgi_decoder_init(&d);
    long used = pg_fcgi_decode(&d, buf, n, collect, &st, &stopped);
    ok(stopped && used > 0 && (size_t)used < n, "callback can stop the decoder (%ld)", used);
    st.stop_after = 0;
    long rest = pg_fcgi_decode(&d, buf + used, n - (size_t)used, collect, &st, &stopped);
    ok(rest == (long)(n - (size_t)used) && st.len == whole.len && memcmp(st.out, whole.out, whole.len) == 0, "and resume where it stopped");
}

static void test_decode_errors(void)
{
    struct pg_fcgi_decoder d;
    struct sink s = {0};
    bool stopped;
    uint8_t v2[8] = {2, 6, 0, 1, 0, 0, 0, 0};
    pg_fcgi_decoder_init(&d);
    long r0 = pg_fcgi_decode(&d, v2, 8, collect, &s, &stopped);
    is_int(r0, PG_FCGI_E_VERSION, "version 2 refused");
    uint8_t bigctl[8];
    pg_fcgi_put_header(bigctl, PG_FCGI_BEGIN_REQUEST, 1, 2000, 0);
    pg_fcgi_decoder_init(&d);
    long r = pg_fcgi_decode(&d, bigctl, 8, collect, &s, &stopped);
    is_int(r, PG_FCGI_E_CONTROL, "huge control record refused");
    ok(strlen(pg_fcgi_strerror(PG_FCGI_E_CONTROL)) > 10, "errors have a why");
    uint16_t role;
    uint8_t flags;
    uint32_t app;
    uint8_t ps;
    r = pg_fcgi_parse_begin((const uint8_t *)"12345", 5, &role, &flags);
    is_int(r, PG_FCGI_E_CONTROL, "short BEGIN body");
    r = pg_fcgi_parse_end((const uint8_t *)"\0\0\1\0\3\0\0\0", 8, &app, &ps);
    is_int(r, 0, "END body");
    ok(app == 256 && ps == 3, "END fields");
}

static int count_nv(void *ud, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
    (*(int *)ud)++;
    return 0;
}

static void test_nv(void)
{
    uint8_t nv[1000];
    char v300[300];
    memset(v300, 'x', sizeof v300);
    size_t n = pg_fcgi_put_nv(nv, "A", 1, "", 0);
    n += pg_fcgi_put_nv(nv + n, v300, 130, v300, 300);
    int c = 0;
    int rc = pg_fcgi_parse_nv(nv, n, count_nv, &c);
    is_int(rc, 0, "pairs parse");
    is_int(c, 2, "two pairs");
    int bad = 0;
    for (size_t cut = 1; cut < n; cut++) {
        uint8_t *p = pg_xmalloc(cut);
        memcpy(p, nv, cut);
        c = 0;
        if (cut != 3 && pg_fcgi_parse_nv(p, cut, count_nv, &c) != PG_FCGI_E_NV)
            bad++;
        free(p);
    }
    is_int(bad, 0, "every truncated pair list is refused");
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 'a'};
    rc = pg_fcgi_parse_nv(huge, sizeof huge, count_nv, &c);
    is_int(rc, PG_FCGI_E_NV, "length past the end refused");
}

static void test_head(void)
{
    static const char resp[] = "Status: 404 Not Found\r\nContent-Type: text/html\r\nX-Pushgate-Publish:  order-7 \r\n\r\nbody";
    struct pg_cgi_header h[8];
    size_t nh = 8;
    int status;
    long hl = pg_cgi_parse_head(resp, sizeof resp - 1, &status, h, &nh);
    is_int(hl, (long)(sizeof resp - 1 - 4), "head length");
    is_int(status, 404, "Status header");
    ok(nh == 3 && h[2].value_len == 7 && memcmp(h[2].value, "order-7", 7) == 0, "values trimmed");
    int bad = 0;
    for (size_t cut = 0; cut < (size_t)hl; cut++) {
        char *p = pg_xmalloc(cut ? cut : 1);
        memcpy(p, resp, cut);
        nh = 8;
        if (pg_cgi_parse_head(p, cut, &status, h, &nh) != PG_FCGI_E_INCOMPLETE)
            bad++;
        free(p);
    }
    is_int(bad, 0, "every cut before the empty line is incomplete");
    nh = 8;
    hl = pg_cgi_parse_head("Location: /x\n\n", 14, &status, h, &nh);
    ok(hl == 14 && status == 302, "LF-only lines; Location means 302");
    nh = 8;
    pg_cgi_parse_head("X: y\r\n\r\n", 8, &status, h, &nh);
    is_int(status, 200, "default 200");
    static const char *const bads[] = {"Status: abc\r\n\r\n", "No colon\r\n\r\n", ": v\r\n\r\n",
                                       "Status: 999\r\n\r\n", "Bad Name: v\r\n\r\n"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bads); i++) {
        nh = 8;
        long r = pg_cgi_parse_head(bads[i], strlen(bads[i]), &status, h, &nh);
        is_int(r, PG_FCGI_E_HEAD, "malformed head refused");
    }
    nh = 1;
    long r = pg_cgi_parse_head("A: 1\r\nB: 2\r\n\r\n", 14, &status, h, &nh);
    is_int(r, PG_FCGI_E_HEAD, "more headers than room");
}

int main(void)
{
    test_encode();
    test_decode_splits();
    test_decode_errors();
    test_nv();
    test_head();
    return done_testing();
}
