/* test_origin.c — the Origin rule (src/origin.c, pg_origin_decide): no
 * Origin, same host with and without ports, trusted-proxy forwarded host
 * and proto, listed origins with default ports, "*", "null", malformed
 * Origins, and the CORS header lines. */
#include "tap.h"
#include "origin.c"

#include <stdio.h>

struct pg_server pg_srv;   /* origin.c reads the config through it */

static struct pg_strlist list_of(const char *const *v, size_t n)
{
    struct pg_strlist l = {(char **)v, n};
    return l;
}

static int decide(const char *origin, const char *host, const char *xfh, const char *xfp, bool trusted,
                  const struct pg_strlist *allowed)
{
    struct pg_origin_in in = {
        origin, origin ? strlen(origin) : 0, host, host ? strlen(host) : 0,
        xfh, xfh ? strlen(xfh) : 0, xfp, xfp ? strlen(xfp) : 0, trusted,
    };
    const char *why = NULL;
    int v = pg_origin_decide(&in, allowed, &why);
    if (v == PG_ORIGIN_REFUSED && (!why || !*why))
        return 99;   /* a refusal must say why */
    return v;
}

static void test_default_rule(void)
{
    struct pg_strlist none = {0};
    is_int(decide(NULL, "shop.example", NULL, NULL, false, &none), PG_ORIGIN_NONE, "no Origin: allowed");
    is_int(decide("http://shop.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "same host, default port");
    is_int(decide("https://shop.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "same host over https, Host without port");
    is_int(decide("http://SHOP.example", "shop.EXAMPLE", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "host compared case-insensitively");
    is_int(decide("HTTP://shop.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "scheme case-insensitive");
    is_int(decide("http://127.0.0.1:8080", "127.0.0.1:8080", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "same host and port");
    is_int(decide("http://127.0.0.1:8081", "127.0.0.1:8080", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "other port refused");
    is_int(decide("http://shop.example:8080", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "direct: Host without port means the default port");
    is_int(decide("http://shop.example:80", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "explicit default port equals none");
    is_int(decide("http://shop.example", "shop.example:80", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "Host with the default port");
    is_int(decide("http://evil.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "foreign host refused");
    is_int(decide("http://shop.example.evil", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "suffix trick refused");
    is_int(decide("http://[::1]:8080", "[::1]:8080", NULL, NULL, false, &none), PG_ORIGIN_SAME,
           "IPv6 literal same host");
    is_int(decide("http://shop.example", NULL, NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "no Host header: refused");
    is_int(decide("null", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED, "Origin null refused");
    is_int(decide("http://shop.example/path", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "Origin with a path refused");
    is_int(decide("http://user@shop.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "Origin with userinfo refused");
    is_int(decide("ftp://shop.example", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "non-http scheme never same host");
    is_int(decide("http://shop.example:0", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "port 0 malformed");
    is_int(decide("http://shop.example:65536", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED,
           "port over 65535 malformed");
    is_int(decide("http://", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED, "empty host");
    is_int(decide("", "shop.example", NULL, NULL, false, &none), PG_ORIGIN_REFUSED, "empty Origin");
}

static void test_proxy(void)
{
    struct pg_strlist none = {0};
    is_int(decide("https://shop.example", "127.0.0.1:8080", "shop.example", "https", true, &none),
           PG_ORIGIN_SAME, "trusted proxy: X-Forwarded-Host and -Proto count");
    is_int(decide("https://shop.example", "127.0.0.1:8080", "shop.example", "https", false, &none),
           PG_ORIGIN_REFUSED, "untrusted peer: X-Forwarded-Host ignored");
    is_int(decide("http://shop.example", "127.0.0.1:8080", "shop.example", "https", true, &none),
           PG_ORIGIN_REFUSED, "X-Forwarded-Proto must be the Origin's scheme");
    is_int(decide("https://shop.example:8443", "x", "shop.example", "https", true, &none),
           PG_ORIGIN_REFUSED, "X-Forwarded-Proto implies its default port");
    is_int(decide("https://shop.example:8443", "x", "shop.example:8443", "https", true, &none),
           PG_ORIGIN_SAME, "X-Forwarded-Host with a port");
    is_int(decide("http://shop.example:8080", "x", "shop.example", NULL, true, &none), PG_ORIGIN_SAME,
           "proxy without port or proto: host only");
    is_int(decide("http://shop.example:8080", "shop.example", NULL, NULL, true, &none), PG_ORIGIN_SAME,
           "trusted proxy passing a Host without port: host only");
    is_int(decide("https://shop.example", "x", "shop.example, inner.local", "https, http", true, &none),
           PG_ORIGIN_SAME, "first element of forwarded lists");
    is_int(decide("https://other.example", "x", "shop.example", "https", true, &none), PG_ORIGIN_REFUSED,
           "proxy: foreign host refused");
}

static void test_lists(void)
{
    const char *const l1[] = {"https://partner.example", "http://localhost:3000", "null"};
    struct pg_strlist a = list_of(l1, 3);
    is_int(decide("https://partner.example", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_LISTED,
           "listed origin");
    is_int(decide("https://PARTNER.example:443", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_LISTED,
           "listed origin, explicit default port and case");
    is_int(decide("http://partner.example", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_REFUSED,
           "listed https does not allow http");
    is_int(decide("http://localhost:3000", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_LISTED,
           "listed with port");
    is_int(decide("http://localhost:3001", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_REFUSED,
           "other port not listed");
    is_int(decide("null", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_LISTED, "listed null");
    is_int(decide("http://shop.example", "shop.example", NULL, NULL, false, &a), PG_ORIGIN_SAME,
           "same host still allowed with a list");
    const char *const l2[] = {"*"};
    struct pg_strlist any = list_of(l2, 1);
    is_int(decide("http://evil.example", "shop.example", NULL, NULL, false, &any), PG_ORIGIN_ANY, "* allows all");
    is_int(decide("null", "shop.example", NULL, NULL, false, &any), PG_ORIGIN_ANY, "* allows null");
    is_int(decide("http://shop.example", "shop.example", NULL, NULL, false, &any), PG_ORIGIN_SAME,
           "* : same host is still SAME");
    const char *const l3[] = {"*", "https://partner.example"};
    struct pg_strlist both = list_of(l3, 2);
    is_int(decide("https://partner.example", "x", NULL, NULL, false, &both), PG_ORIGIN_LISTED,
           "listed beats * (credentials)");
}

static void test_headers(void)
{
    struct pg_http_request head;
    const char *why = NULL;
    const char *raw = "GET /sub/a HTTP/1.1\r\nHost: x\r\nOrigin: https://p.example\r\n\r\n";
    int hl = pg_http_parse_request(raw, strlen(raw), &head, &why);
    struct pg_request r = {.head = &head};
    ok(hl > 0, "request parsed");
    struct pg_buf b = {0};
    pg_origin_cors_headers(&r, PG_ORIGIN_LISTED, NULL, &b);
    ok(strstr(b.p, "Vary: Origin\r\n") && strstr(b.p, "Access-Control-Allow-Origin: https://p.example\r\n") &&
       strstr(b.p, "Access-Control-Expose-Headers: X-Last-Id, X-Gap\r\n") &&
       strstr(b.p, "Access-Control-Allow-Credentials: true\r\n"), "listed: allow origin, expose, credentials");
    pg_buf_free(&b);
    pg_origin_cors_headers(&r, PG_ORIGIN_ANY, NULL, &b);
    ok(strstr(b.p, "Access-Control-Allow-Origin: https://p.example\r\n") && !strstr(b.p, "Credentials"),
       "*: allow origin without credentials");
    pg_buf_free(&b);
    pg_origin_cors_headers(&r, PG_ORIGIN_NONE, NULL, &b);
    ok(!strcmp(b.p, "Vary: Origin\r\n"), "no verdict: only Vary");
    pg_buf_free(&b);
    pg_origin_cors_headers(&r, PG_ORIGIN_NONE, "Accept", &b);
    ok(!strcmp(b.p, "Vary: Origin, Accept\r\n"), "one Vary line with more names");
    pg_buf_free(&b);
}

int main(void)
{
    test_default_rule();
    test_proxy();
    test_lists();
    test_headers();
    return done_testing();
}
