/* test_http_parse.c — unit tests for the HTTP/1.x request codec (http_parse.c):
 * known requests, every prefix and split, every limit, malformed input.
 *
 * Every input is copied so that its last byte sits right before a PROT_NONE
 * page (as picohttpparser's tests do), so any read past len crashes the test
 * instead of passing by luck.
 */
#include "http_parse.h"
#include "tap.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_SPAN (64 * 1024) /* readable bytes before the guard page */

static char *guard_base;

static void guard_init(void)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t span = GUARD_SPAN + (size_t)page;
    guard_base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED || mprotect(guard_base + GUARD_SPAN, (size_t)page, PROT_NONE)) {
        perror("mmap/mprotect");
        exit(2);
    }
}

/* Copies data so that it ends right at the guard page; returns the copy. */
static char *guard_place(const void *data, size_t n)
{
    if (n > GUARD_SPAN) {
        fprintf(stderr, "input too large for the guard buffer\n");
        exit(2);
    }
    char *p = guard_base + GUARD_SPAN - n;
    memcpy(p, data, n);
    return p;
}

static int parse(const char *s, size_t n, struct pg_http_request *req, const char **why)
{
    *why = NULL;
    return pg_http_parse_request(guard_place(s, n), n, req, why);
}

static int parse_str(const char *s, struct pg_http_request *req, const char **why)
{
    return parse(s, strlen(s), req, why);
}

static bool view_is(const char *p, size_t n, const char *want)
{
    return p && strlen(want) == n && memcmp(p, want, n) == 0;
}

static bool header_is(const struct pg_http_request *req, const char *name, const char *want)
{
    const struct pg_http_header *h = pg_http_header_find(req, name);
    return h && view_is(h->value, h->value_len, want);
}

/* ---- request heads ---------------------------------------------------- */

static const char ws_get[] =
    "GET /ws/chat?last_id=17-42&x=%20 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://example.com\r\n"
    "\r\n";

static void test_websocket_get(void)
{
    struct pg_http_request req;
    const char *why;
    int r = parse_str(ws_get, &req, &why);
    is_int(r, strlen(ws_get), "ws GET: consumes the whole head");
    ok(view_is(req.method, req.method_len, "GET"), "ws GET: method");
    ok(view_is(req.target, req.target_len, "/ws/chat?last_id=17-42&x=%20"), "ws GET: raw target");
    ok(view_is(req.path, req.path_len, "/ws/chat"), "ws GET: path");
    ok(view_is(req.query, req.query_len, "last_id=17-42&x=%20"), "ws GET: query");
    is_int(req.minor_version, 1, "ws GET: HTTP/1.1");
    is_int(req.num_headers, 6, "ws GET: six headers");
    ok(view_is(req.headers[0].name, req.headers[0].name_len, "Host"), "ws GET: first name as sent");
    ok(header_is(&req, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), "ws GET: key (ci lookup)");
    ok(header_is(&req, "SEC-WEBSOCKET-VERSION", "13"), "ws GET: version");
    ok(pg_http_header_find(&req, "Cookie") == NULL, "ws GET: absent header is NULL");
    is_int(req.content_length, -1, "ws GET: no Content-Length");
    ok(!req.chunked, "ws GET: not chunked");
    ok(req.keep_alive, "ws GET: keep-alive");
    ok(req.upgrade_websocket, "ws GET: upgrade_websocket");
}

static const char post_body[] =
    "POST /pub/news HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "{\"a\":\"b12\"}";

static void test_post(void)
{
    struct pg_http_request req;
    const char *why;
    size_t head = strlen(post_body) - 11;
    int r = parse_str(post_body, &req, &why);
    is_int(r, head, "POST: consumes the head only");
    ok(view_is(req.method, req.method_len, "POST"), "POST: method");
    ok(view_is(req.path, req.path_len, "/pub/news") && !req.query && !req.query_len,
       "POST: path, no query");
    is_int(req.content_length, 11, "POST: Content-Length");
    ok(!req.chunked && req.keep_alive && !req.upgrade_websocket, "POST: flags");

    static const char chunked[] = "POST /pub/a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n";
    r = parse_str(chunked, &req, &why);
    ok(r == (int)strlen(chunked) && req.chunked && req.content_length == -1,
       "POST: Transfer-Encoding chunked (case-insensitive)");
    static const char te_list[] = "POST /pub/a HTTP/1.1\r\nTransfer-Encoding: , chunked ,\r\n\r\n";
    r = parse_str(te_list, &req, &why);
    ok(r > 0 && req.chunked, "POST: empty list elements around chunked");
}

static void test_query_split(void)
{
    static const struct {
        const char *target, *path, *query; /* query NULL: absent */
    } cases[] = {
        { "/a?b", "/a", "b" },
        { "/a?", "/a", "" },
        { "/a", "/a", NULL },
        { "/?", "/", "" },
        { "/a?b?c=d", "/a", "b?c=d" },
        { "/p%20q?x=%3F", "/p%20q", "x=%3F" },
        { "/caf\xc3\xa9", "/caf\xc3\xa9", NULL },
        { "http://example.com:80/x?y", "/x", "y" },
        { "HTTPS://h/", "/", NULL },
        { "http://h/?", "/", "" },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(cases); i++) {
        char buf[256];
        struct pg_http_request req;
        const char *why;
        snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\n\r\n", cases[i].target);
        int r = parse_str(buf, &req, &why);
        bool q_ok = cases[i].query ? view_is(req.query, req.query_len, cases[i].query)
                                   : (!req.query && !req.query_len);
        ok(r == (int)strlen(buf) && view_is(req.path, req.path_len, cases[i].path) && q_ok &&
               view_is(req.target, req.target_len, cases[i].target),
           "target %s -> path %s, query %s", cases[i].target, cases[i].path,
           cases[i].query ? cases[i].query : "(none)");
    }
    struct pg_http_request req;
    const char *why;
    int r = parse_str("OPTIONS * HTTP/1.1\r\n\r\n", &req, &why);
    ok(r > 0 && view_is(req.path, req.path_len, "*") && !req.query, "OPTIONS *");
}

static void test_keep_alive(void)
{
    static const struct {
        const char *head;
        bool ka, up;
    } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", true, false },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, false },
        { "GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false, false },
        { "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true, false },
        { "GET / HTTP/1.0\r\n\r\n", false, false },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false },
        { "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nConnection: close\r\n\r\n", false, false },
        { "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true, false },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", true, false },
        { "GET / HTTP/1.1\r\nUpgrade: h2c, WebSocket\r\nConnection: x\r\nConnection: Upgrade\r\n\r\n",
          true, true },
        { "GET / HTTP/1.1\r\nUpgrade: websocket/13\r\nConnection: upgrade\r\n\r\n", true, false },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(cases); i++) {
        struct pg_http_request req;
        const char *why;
        int r = parse_str(cases[i].head, &req, &why);
        ok(r > 0 && req.keep_alive == cases[i].ka && req.upgrade_websocket == cases[i].up,
           "keep-alive/upgrade case %zu (ka %d, upgrade %d)", i, cases[i].ka, cases[i].up);
    }
}

static void test_lenient_forms(void)
{
    struct pg_http_request req;
    const char *why;
    static const char lf[] = "GET /x HTTP/1.0\nHost: a\nX-Empty:\n\n";
    int r = parse_str(lf, &req, &why);
    ok(r == (int)strlen(lf) && req.minor_version == 0 && header_is(&req, "x-empty", ""),
       "bare LF line endings, empty value");

    static const char lead[] = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
    r = parse_str(lead, &req, &why);
    ok(r == (int)strlen(lead) && view_is(req.method, req.method_len, "GET"),
       "empty lines before the request line are skipped");

    static const char trim[] = "GET / HTTP/1.1\r\nA:   a b \t \r\nB:\t\r\nC: caf\xc3\xa9\r\n\r\n";
    r = parse_str(trim, &req, &why);
    ok(r > 0 && header_is(&req, "A", "a b") && header_is(&req, "B", "") &&
           header_is(&req, "C", "caf\xc3\xa9"),
       "OWS trimmed, empty value, obs-text kept");

    static const char dup[] = "GET / HTTP/1.1\r\nX: 1\r\nx: 2\r\nContent-Length: 05\r\n"
                              "content-length: 5\r\n\r\n";
    r = parse_str(dup, &req, &why);
    ok(r > 0 && header_is(&req, "X", "1") && req.num_headers == 4 && req.content_length == 5,
       "first match wins; agreeing duplicate Content-Length");

    static const char pipelined[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    r = parse_str(pipelined, &req, &why);
    is_int(r, strlen(pipelined) / 2, "pipelined: stops after the first head");

    r = parse_str("GET / HTTP/1.1\r\nContent-Length: 9007199254740992\r\n\r\n", &req, &why);
    ok(r > 0 && req.content_length == PG_HTTP_MAX_CONTENT_LENGTH, "Content-Length 2^53 accepted");
}

static void test_max_headers(void)
{
    char buf[4096];
    struct pg_http_request req;
    const char *why;
    for (int n = PG_HTTP_MAX_HEADERS; n <= PG_HTTP_MAX_HEADERS + 1; n++) {
        size_t o = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "X-%d: %d\r\n", i, i);
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\r\n");
        int r = parse(buf, o, &req, &why);
        if (n == PG_HTTP_MAX_HEADERS)
            ok(r == (int)o && req.num_headers == PG_HTTP_MAX_HEADERS, "%d headers accepted", n);
        else
            ok(r == PG_HTTP_ERR && why && !strcmp(why, "too many headers"), "%d headers refused", n);
    }
}

/* Every prefix of a valid head is INCOMPLETE; the whole gives the same answer
 * as any longer buffer. Each prefix ends at the guard page. */
static void test_every_prefix(void)
{
    const char *valid[] = { ws_get, post_body, "GET / HTTP/1.0\n\n", "\r\nOPTIONS * HTTP/1.1\r\n\r\n" };
    for (size_t i = 0; i < PG_ARRAY_LEN(valid); i++) {
        struct pg_http_request req;
        const char *why;
        size_t n = strlen(valid[i]);
        int full = parse(valid[i], n, &req, &why);
        bool all = full > 0;
        for (size_t k = 0; k < (size_t)full && all; k++)
            all = parse(valid[i], k, &req, &why) == PG_HTTP_INCOMPLETE;
        for (size_t k = (size_t)full; k <= n && all; k++)
            all = parse(valid[i], k, &req, &why) == full;
        ok(all, "valid head %zu: every prefix INCOMPLETE, then %d", i, full);
    }
}

#define M(s, w) { s, sizeof(s) - 1, w }
static const struct {
    const char *in;
    size_t len;
    const char *why;
} malformed[] = {
    M("GET /\r\n\r\n", "HTTP/0.9 requests are not supported"),
    M("GET /index.html\n", "HTTP/0.9 requests are not supported"),
    M("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/2 connection preface is not supported"),
    M("GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version"),
    M("GET / HTTP/1.2\r\n\r\n", "unsupported HTTP version"),
    M("GET / HTTP/0.9\r\n\r\n", "unsupported HTTP version"),
    M("GET / HTTP/1.1 \r\n\r\n", "invalid HTTP version"),
    M("GET / HTTP/1.10\r\n\r\n", "invalid HTTP version"),
    M("GET / http/1.1\r\n\r\n", "invalid HTTP version"),
    M("GET / HTTP/1,1\r\n\r\n", "invalid HTTP version"),
    M("GET / HTTP/x.1\r\n\r\n", "invalid HTTP version"),
    M("GET  / HTTP/1.1\r\n\r\n", "missing request-target"),
    M("GET / HTTP/1.1\rX", "CR not followed by LF in request head"),
    M("G(T / HTTP/1.1\r\n\r\n", "invalid character in method"),
    M(" GET / HTTP/1.1\r\n\r\n", "invalid character in method"),
    M("GET\t/ HTTP/1.1\r\n\r\n", "invalid character in method"),
    M("\x16\x03\x01\x02\x00\x01", "TLS handshake on a plain-text port"),
    M("GET foo HTTP/1.1\r\n\r\n", "request-target must start with '/'"),
    M("CONNECT example.com:443 HTTP/1.1\r\n\r\n", "request-target must start with '/'"),
    M("GET * HTTP/1.1\r\n\r\n", "asterisk-form request-target is only allowed with OPTIONS"),
    M("GET http://h HTTP/1.1\r\n\r\n", "absolute-form request-target without a path"),
    M("GET http://h?x HTTP/1.1\r\n\r\n", "absolute-form request-target without a path"),
    M("GET http:/// HTTP/1.1\r\n\r\n", "absolute-form request-target without a host"),
    M("GET /a\x01 HTTP/1.1\r\n\r\n", "invalid character in request-target"),
    M("GET /a\x7f HTTP/1.1\r\n\r\n", "invalid character in request-target"),
    M("GET /a\tb HTTP/1.1\r\n\r\n", "invalid character in request-target"),
    M("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", "invalid character in header name"),
    M("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", "invalid character in header name"),
    M("GET / HTTP/1.1\r\nHost\r\n\r\n", "invalid character in header name"),
    M("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace between header name and colon"),
    M("GET / HTTP/1.1\r\n: x\r\n\r\n", "empty header name"),
    M("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", "obsolete line folding is not supported"),
    M("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", "obsolete line folding is not supported"),
    M("GET / HTTP/1.1\r\n X: a\r\n\r\n", "whitespace before the first header"),
    M("GET / HTTP/1.1\r\nX: a\x01 b\r\n\r\n", "invalid character in header value"),
    M("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "invalid character in header value"),
    M("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", "invalid character in header value"),
    M("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "CR not followed by LF in request head"),
    M("GET / HTTP/1.1\r\n\r\r\n", "CR not followed by LF in request head"),
    M("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: 5,5\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", "invalid Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", "empty Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: 9007199254740993\r\n\r\n", "Content-Length too large"),
    M("GET / HTTP/1.1\r\nContent-Length: 999999999999999999999999999\r\n\r\n",
      "Content-Length too large"),
    M("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "conflicting Content-Length headers"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding other than chunked"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "Transfer-Encoding other than chunked"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", "Transfer-Encoding other than chunked"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
      "Transfer-Encoding other than chunked"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", "Transfer-Encoding other than chunked"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "Transfer-Encoding chunked applied twice"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "Transfer-Encoding chunked applied twice"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", "empty Transfer-Encoding"),
    M("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      "both Transfer-Encoding and Content-Length"),
    M("GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "both Transfer-Encoding and Content-Length"),
    M("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 request"),
    M("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "more than one Host header"),
};
#undef M

/* Each malformed head fails with its reason; its prefixes never succeed, and
 * once a prefix fails every longer one fails the same way. */
static void test_malformed(void)
{
    for (size_t i = 0; i < PG_ARRAY_LEN(malformed); i++) {
        struct pg_http_request req;
        const char *why, *first_why = NULL;
        const char *in = malformed[i].in;
        size_t n = malformed[i].len;
        int r = parse(in, n, &req, &why);
        bool monotonic = true;
        for (size_t k = 0; k <= n && monotonic; k++) {
            int rk = parse(in, k, &req, &why);
            if (first_why)
                monotonic = rk == PG_HTTP_ERR && why == first_why;
            else if (rk == PG_HTTP_ERR)
                first_why = why;
            else
                monotonic = rk == PG_HTTP_INCOMPLETE || k == n;
        }
        parse(in, n, &req, &why);
        ok(r == PG_HTTP_ERR && why && !strcmp(why, malformed[i].why) && monotonic,
           "malformed %zu: %s (got %s)", i, malformed[i].why, why ? why : "no reason");
    }
}

static void test_huge_value(void)
{
    size_t n = 60000;
    char *buf = malloc(n);
    static const char start[] = "GET / HTTP/1.1\r\nX: ";
    memcpy(buf, start, sizeof(start) - 1);
    memset(buf + sizeof(start) - 1, 'v', n - (sizeof(start) - 1) - 4);
    memcpy(buf + n - 4, "\r\n\r\n", 4);
    struct pg_http_request req;
    const char *why;
    int r = parse(buf, n, &req, &why);
    ok(r == (int)n && req.headers[0].value_len == n - (sizeof(start) - 1) - 4, "60 KB header value");
    free(buf);
}

/* ---- chunked bodies --------------------------------------------------- */

struct decode_result {
    ssize_t status;        /* last return value */
    const char *why;
    char out[1024];        /* decoded body */
    size_t out_len;
    char rest[1024];       /* bytes handed back after the body */
    size_t rest_len;
};

/* Feeds in[0..n) in pieces ending at cuts[0..ncuts) (ascending), each piece
 * copied to the guard page; stops at the first non-INCOMPLETE answer. */
static void decode_pieces(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                          struct decode_result *res)
{
    struct pg_http_chunked st = { 0 };
    size_t from = 0;
    memset(res, 0, sizeof(*res));
    res->status = PG_HTTP_INCOMPLETE;
    for (size_t i = 0; i <= ncuts && res->status == PG_HTTP_INCOMPLETE; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        size_t len = to - from;
        char *p = guard_place(in + from, len);
        res->status = pg_http_chunked_decode(&st, p, &len, &res->why);
        if (res->status == PG_HTTP_ERR)
            break;
        if (len > to - from || res->out_len + len > sizeof(res->out)) {
            res->status = -99;
            break;
        }
        memcpy(res->out + res->out_len, p, len);
        res->out_len += len;
        if (res->status >= 0) {
            memcpy(res->rest, p + len, (size_t)res->status);
            res->rest_len = (size_t)res->status;
            /* whatever came after this piece was never fed: append it too */
            memcpy(res->rest + res->rest_len, in + to, n - to);
            res->rest_len += n - to;
        }
        from = to;
    }
}

static bool same_result(const struct decode_result *a, const struct decode_result *b)
{
    return a->status >= 0 ? (b->status >= 0 && a->out_len == b->out_len &&
                             !memcmp(a->out, b->out, a->out_len) && a->rest_len == b->rest_len &&
                             !memcmp(a->rest, b->rest, a->rest_len))
                          : (a->status == b->status && a->why == b->why);
}

static const char chunked_body[] = "5\r\nhello\r\n"
                                   "6;name=value; x=\"q s\"\r\n world\r\n"
                                   "A \r\n, chunked!\r\n"
                                   "0003 ;e\r\n:-)\r\n"
                                   "0\r\n"
                                   "X-Trailer: v\r\n"
                                   "Other:\r\n"
                                   "\r\n";
static const char chunked_after[] = "GET /next HTTP/1.1\r\n\r\n";
static const char chunked_decoded[] = "hello world, chunked!:-)";

static void test_chunked_known(void)
{
    char in[512];
    size_t n = (size_t)snprintf(in, sizeof(in), "%s%s", chunked_body, chunked_after);
    struct decode_result res;
    decode_pieces(in, n, NULL, 0, &res);
    ok(res.status == (ssize_t)strlen(chunked_after) && view_is(res.out, res.out_len, chunked_decoded) &&
           view_is(res.rest, res.rest_len, chunked_after),
       "chunked: one call decodes the body and hands back the next request");

    size_t cuts[512];
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    struct decode_result one;
    decode_pieces(in, n, cuts, n - 1, &one);
    ok(same_result(&res, &one), "chunked: one byte at a time");

    bool all = true;
    for (size_t a = 0; a <= n && all; a++) {
        struct decode_result r2;
        decode_pieces(in, n, &a, 1, &r2);
        all = same_result(&res, &r2);
    }
    ok(all, "chunked: split at every offset");

    all = true;
    for (size_t a = 0; a <= n && all; a += 3)
        for (size_t b = a; b <= n && all; b += 5) {
            size_t c2[2] = { a, b };
            struct decode_result r3;
            decode_pieces(in, n, c2, 2, &r3);
            all = same_result(&res, &r3);
        }
    ok(all, "chunked: split at many offset pairs");

    struct pg_http_chunked st = { 0 };
    char tail[] = "0\r\n\r\nxyz";
    size_t len = sizeof(tail) - 1;
    const char *why;
    ssize_t r = pg_http_chunked_decode(&st, tail, &len, &why);
    ok(r == 3 && len == 0 && !memcmp(tail, "xyz", 3), "chunked: empty body");
    char more[] = "abc";
    len = 3;
    r = pg_http_chunked_decode(&st, more, &len, &why);
    ok(r == 3 && len == 0, "chunked: after the end everything is handed back");
    len = 0;
    struct pg_http_chunked st2 = { 0 };
    ok(pg_http_chunked_decode(&st2, more, &len, &why) == PG_HTTP_INCOMPLETE && len == 0,
       "chunked: empty input is INCOMPLETE");
}

/* dst = head + n copies of fill + tail, NUL-terminated. */
static void make_long(char *dst, const char *head, char fill, size_t n, const char *tail)
{
    size_t o = strlen(head);
    memcpy(dst, head, o);
    memset(dst + o, fill, n);
    strcpy(dst + o + n, tail);
}

static void test_chunked_malformed(void)
{
    static char ext_long[PG_HTTP_CHUNK_EXT_MAX + 32], tr_long[PG_HTTP_TRAILERS_MAX + 32];
    make_long(ext_long, "1;", 'e', PG_HTTP_CHUNK_EXT_MAX + 1, "\r\nx\r\n0\r\n\r\n");
    make_long(tr_long, "0\r\nX:", 't', PG_HTTP_TRAILERS_MAX - 3, "\r\n\r\n");
    const struct {
        const char *in, *why;
    } cases[] = {
        { "x\r\n", "invalid chunk size" },
        { "\r\n", "invalid chunk size" },
        { ";e\r\n", "invalid chunk size" },
        { "-1\r\n", "invalid chunk size" },
        { "0x5\r\n", "invalid chunk size" },
        { "5 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size" },
        { "5\nhello\r\n0\r\n\r\n", "invalid chunk size" },
        { "5\r\rhello\r\n0\r\n\r\n", "chunk size line not ended by CRLF" },
        { "5\r\nhelloX\r\n0\r\n\r\n", "chunk data not followed by CRLF" },
        { "5\r\nhello\n0\r\n\r\n", "chunk data not followed by CRLF" },
        { "5\r\nhello\r\r0\r\n\r\n", "chunk data not followed by CRLF" },
        { "1000000000000000\r\n", "chunk size too large" },
        { "00000000000000000000ffffffffffffffffff\r\n", "chunk size too large" },
        { "1;a\x01\r\nx\r\n0\r\n\r\n", "invalid character in chunk extension" },
        { "1;a\nb\r\nx\r\n0\r\n\r\n", "invalid character in chunk extension" },
        { ext_long, "chunk extension too long" },
        { "0\r\n X: y\r\n\r\n", "invalid character in trailer name" },
        { "0\r\nX\r\n\r\n", "invalid character in trailer name" },
        { "0\r\nX y: z\r\n\r\n", "invalid character in trailer name" },
        { "0\r\nX: a\x01\r\n\r\n", "invalid character in trailer value" },
        { "0\r\nX: a\n\r\n", "invalid character in trailer value" },
        { "0\r\nX: a\r\r\n", "CR not followed by LF in trailers" },
        { "0\r\n\r\r", "CR not followed by LF in trailers" },
        { "0\r\n\n", "invalid character in trailer name" },
        { tr_long, "trailers too long" },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(cases); i++) {
        const char *in = cases[i].in;
        size_t n = strlen(in);
        struct decode_result whole, split;
        decode_pieces(in, n, NULL, 0, &whole);
        bool all = whole.status == PG_HTTP_ERR && !strcmp(whole.why, cases[i].why);
        for (size_t a = 0; a <= n && all; a++) {
            decode_pieces(in, n, &a, 1, &split);
            all = same_result(&whole, &split);
        }
        ok(all, "chunked malformed %zu: %s (got %s)", i, cases[i].why,
           whole.status == PG_HTTP_ERR ? whole.why : "no error");
    }

    /* Bounds that are just inside the limits. */
    struct decode_result res;
    const char *fine = "fffffffffffffff\r\nabc";
    decode_pieces(fine, strlen(fine), NULL, 0, &res);
    ok(res.status == PG_HTTP_INCOMPLETE && view_is(res.out, res.out_len, "abc"),
       "chunked: 15 hex digits accepted");
    make_long(ext_long, "1;", 'e', PG_HTTP_CHUNK_EXT_MAX, "\r\nx\r\n0\r\n\r\n");
    decode_pieces(ext_long, strlen(ext_long), NULL, 0, &res);
    ok(res.status == 0 && view_is(res.out, res.out_len, "x"), "chunked: extension at its limit");
    /* "X:" + value + CRLF + CRLF is exactly the trailer budget */
    make_long(tr_long, "0\r\nX:", 't', PG_HTTP_TRAILERS_MAX - 6, "\r\n\r\n");
    decode_pieces(tr_long, strlen(tr_long), NULL, 0, &res);
    ok(res.status == 0 && res.out_len == 0, "chunked: trailers at their limit");
}

/* ---- URL and form helpers --------------------------------------------- */

static void test_url_decode(void)
{
    static const struct {
        const char *in;
        bool form;
        ssize_t want_len;
        const char *want;
    } cases[] = {
        { "", false, 0, "" },
        { "abc", false, 3, "abc" },
        { "a%20b", false, 3, "a b" },
        { "a+b", false, 3, "a+b" },
        { "a+b", true, 3, "a b" },
        { "%2B+%2b", true, 3, "+ +" },
        { "%e2%82%AC", false, 3, "\xe2\x82\xac" },
        { "%00x", false, 2, "\0x" },
        { "%zz", false, -1, NULL },
        { "%g0", false, -1, NULL },
        { "%0g", false, -1, NULL },
        { "ab%4", false, -1, NULL },
        { "ab%", false, -1, NULL },
        { "%%41", false, -1, NULL },
        { "%41%", true, -1, NULL },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(cases); i++) {
        char out[64];
        size_t n = strlen(cases[i].in);
        const char *in = guard_place(cases[i].in, n);
        ssize_t r = pg_url_decode(in, n, out, sizeof(out), cases[i].form);
        ok(r == cases[i].want_len && (r < 0 || !memcmp(out, cases[i].want, (size_t)r)),
           "url_decode \"%s\"%s -> %zd", cases[i].in, cases[i].form ? " (form)" : "",
           cases[i].want_len);
    }
    char buf[] = "x%3Dy+z%26";
    ssize_t r = pg_url_decode(buf, strlen(buf), buf, sizeof(buf), true);
    ok(r == 6 && !memcmp(buf, "x=y z&", 6), "url_decode in place");
    char small[3];
    is_int(pg_url_decode("abcd", 4, small, 3, false), -1, "url_decode: outcap too small");
    is_int(pg_url_decode("a%41c", 5, small, 3, false), 3, "url_decode: outcap exactly enough");
}

static bool find_is(const char *q, const char *key, const char *want)
{
    const char *v = NULL;
    size_t vl = 0;
    size_t n = strlen(q);
    bool found = pg_query_find(guard_place(q, n), n, key, &v, &vl);
    return want ? found && view_is(v, vl, want) : !found;
}

static void test_query(void)
{
    ok(find_is("a=1&b=2&a=3", "a", "1"), "query: first occurrence");
    ok(find_is("a=1&b=2&a=3", "b", "2"), "query: later key");
    ok(find_is("a=1&b=2", "c", NULL), "query: absent key");
    ok(find_is("ab=1&a", "a", ""), "query: key without '=' is empty, prefix is no match");
    ok(find_is("a=&b", "a", ""), "query: empty value");
    ok(find_is("&&a=1&&", "a", "1"), "query: empty pairs skipped");
    ok(find_is("a=1=2", "a", "1=2"), "query: value keeps later '='");
    ok(find_is("last%5Fid=5-3", "last_id", "5-3"), "query: encoded key matches");
    ok(find_is("a+b=1", "a b", "1"), "query: '+' in key is a space");
    ok(find_is("x=1%zz", "x", "1%zz"), "query: value stays raw, bad escape and all");
    ok(find_is("k%zz=1&k%4=2&k%=3&k=4", "k", "4"), "query: keys with bad escapes never match");
    ok(find_is("=x&y=1", "y", "1"), "query: empty key tolerated");
    ok(find_is("", "a", NULL), "query: empty string");
    ok(find_is("a", "a", ""), "query: lone key");
    const char *v;
    size_t vl;
    ok(!pg_query_find(NULL, 0, "a", &v, &vl), "query: NULL query");

    static const char q[] = "a=1&&b&=c&d=%20+&";
    const char *expect[][2] = { { "a", "1" }, { "b", "" }, { "", "c" }, { "d", "%20+" } };
    const char *base = guard_place(q, sizeof(q) - 1), *end = base + sizeof(q) - 1, *cur = base;
    const char *k;
    size_t kl, i = 0;
    bool good = true;
    while (pg_query_next(&cur, end, &k, &kl, &v, &vl)) {
        good = good && i < PG_ARRAY_LEN(expect) && view_is(k, kl, expect[i][0]) &&
               view_is(v, vl, expect[i][1]) && k >= base && v + vl <= end;
        i++;
    }
    ok(good && i == PG_ARRAY_LEN(expect) && cur == end, "query_next: all pairs in order");
}

static void test_token_list(void)
{
    ok(pg_http_token_list_has("keep-alive, Upgrade", 19, "upgrade"), "token list: second, ci");
    ok(pg_http_token_list_has(" , close ,", 10, "close"), "token list: OWS and empty elements");
    ok(pg_http_token_list_has("\tclose\t", 7, "close"), "token list: HTAB trimmed");
    ok(!pg_http_token_list_has("closed", 6, "close"), "token list: no prefix match");
    ok(!pg_http_token_list_has("up grade", 8, "upgrade"), "token list: no inner space");
    ok(!pg_http_token_list_has("", 0, "close"), "token list: empty");
    ok(!pg_http_token_list_has("close", 4, "close"), "token list: respects len");
}

int main(void)
{
    guard_init();
    test_websocket_get();
    test_post();
    test_query_split();
    test_keep_alive();
    test_lenient_forms();
    test_max_headers();
    test_every_prefix();
    test_malformed();
    test_huge_value();
    test_chunked_known();
    test_chunked_malformed();
    test_url_decode();
    test_query();
    test_token_list();
    return done_testing();
}
