/* test_jwt.c — unit tests for the JWT codec (src/jwt.c) and the strict JSON
 * reader under it (src/json_read.c): known vectors (RFC 7515 A.1, a token
 * minted once by PHP's hash_hmac), every refusal the spec names, every
 * truncation placed against an unreadable page, and the PHP snippet in
 * contrib/php run for real when php-cli is installed.
 *
 * Includes the .c files to reach the static base64url helpers; link with
 * src/util.c (or libpgcore.a) and -lcrypto. Longer than ~600 lines because
 * it also carries the JSON reader's tests (the reader was written for this
 * codec); split them into test_json_read.c if the reader grows.
 */
#include "../../src/json_read.c"
#include "../../src/jwt.c"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#ifndef PG_SRCDIR
#define PG_SRCDIR "."
#endif

static const char KEY[] = "unit-test-secret";
#define KEY_LEN (sizeof(KEY) - 1)
#define NOW 1700000000

/* ---- helpers ---- */

/* is_int evaluates its first argument twice; this evaluates it once. */
static void is_val(long long got, long long want, const char *name)
{
    is_int(got, want, name);
}

static char *b64(const char *s, size_t n)
{
    char *out = pg_xmalloc(n * 4 / 3 + 4);
    b64url_encode((const unsigned char *)s, n, out);
    return out;
}

/* A token with arbitrary header and payload JSON, correctly HS256-signed. */
static char *make_token(const char *header, const char *payload, const void *key, size_t key_len)
{
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    char *si = pg_xasprintf("%s.%s", h, p);
    unsigned char md[JWT_SIG_LEN];
    char sig[64];

    if (hmac_sha256(key, key_len, si, strlen(si), md) < 0)
        abort();
    b64url_encode(md, sizeof(md), sig);
    char *tok = pg_xasprintf("%s.%s", si, sig);
    free(h);
    free(p);
    free(si);
    return tok;
}

static char *signed_hs256(const char *payload)
{
    return make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, KEY, KEY_LEN);
}

/* Verifies tok with KEY at now; checks the code and that an error carries a
 * static reason that does not echo the token. */
static void expect_at(const char *tok, size_t len, int64_t now, int want, const char *name)
{
    struct pg_jwt t;
    const char *why = NULL;
    int rc = pg_jwt_verify(tok, len, KEY, KEY_LEN, now, PG_JWT_DEFAULT_LEEWAY, &t, &why);
    is_val(rc, want, name);
    if (rc != PG_JWT_OK)
        ok(why && !strstr(why, "eyJ") && t.channels == NULL && t.n_channels == 0,
           "%s: reason \"%s\", *out empty", name, why ? why : "(null)");
    pg_jwt_free(&t);
}

static void expect(const char *tok, int want, const char *name)
{
    expect_at(tok, strlen(tok), NOW, want, name);
}

static void expect_payload(const char *payload, int want, const char *name)
{
    char *tok = signed_hs256(payload);
    expect(tok, want, name);
    free(tok);
}

static void expect_header(const char *header, int want, const char *name)
{
    char *tok = make_token(header, "{\"exp\":2000000000,\"channels\":[\"a\"]}", KEY, KEY_LEN);
    expect(tok, want, name);
    free(tok);
}

/* A page followed by an unreadable one: data copied to its end makes any
 * read past the end fault. */
static char *guard;
static size_t page;

static const char *at_page_end(const char *s, size_t n)
{
    memcpy(guard + page - n, s, n);
    return guard + page - n;
}

/* ---- base64url ---- */

static void test_base64url(void)
{
    static const struct { const char *in, *out; } vec[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
        { "\xfb\xff\xbf", "-_-_" },
    };
    unsigned char buf[64];
    char enc[64];

    for (size_t i = 0; i < PG_ARRAY_LEN(vec); i++) {
        size_t n = strlen(vec[i].in);
        b64url_encode((const unsigned char *)vec[i].in, n, enc);
        ok(strcmp(enc, vec[i].out) == 0, "b64url encode \"%s\"", vec[i].out);
        long d = b64url_decode(vec[i].out, strlen(vec[i].out), buf);
        ok(d == (long)n && memcmp(buf, vec[i].in, n) == 0, "b64url decode \"%s\"", vec[i].out);
    }
    static const char *bad[] = { "Zg==", "Zg=", "Zm9v=", "Z", "Zm9vY", "Zm+v", "Zm/v", "Zm9 v",
                                 "Zh", "Zm9", "Zm\n9v", "Zm9v\0" };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++)
        ok(b64url_decode(bad[i], strlen(bad[i]) + (i == PG_ARRAY_LEN(bad) - 1), buf) < 0,
           "b64url refuses bad input #%zu", i);

    int round_trips = 1;
    for (size_t n = 0; n < 48; n++) {
        unsigned char in[48];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        b64url_encode(in, n, enc);
        round_trips &= b64url_decode(enc, strlen(enc), buf) == (long)n && memcmp(in, buf, n) == 0;
    }
    ok(round_trips, "b64url round trip for every length 0..47");
}

/* ---- JSON reader ---- */

static int parse(const char *s, struct pg_json **v)
{
    const char *why;
    return pg_json_parse(s, strlen(s), 4096, 4, v, &why);
}

static void test_json_accepts(void)
{
    static const char *good[] = {
        "{}", "[]", " \t\r\n{ \"a\" : [ 1 , -0.5e+3 , 0 , true , false , null ] } \n",
        "\"x\"", "0", "-0", "1E9", "[[[[]]]]", "{\"a\":{},\"b\":{\"a\":1}}", "\"\\u00e9\\/\\\"\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(good); i++) {
        struct pg_json *v;
        ok(parse(good[i], &v) == PG_JSON_OK, "json accepts good[%zu]", i);
        pg_json_free(v);
    }

    struct pg_json *v;
    ok(parse("\"a\\ud83d\\ude00\\u00e9\\n\\u0000z\"", &v) == PG_JSON_OK && v->len == 10 &&
           memcmp(v->str, "a\xf0\x9f\x98\x80\xc3\xa9\n\0z", 10) == 0,
       "json decodes escapes and surrogate pairs");
    pg_json_free(v);
    ok(parse("{\"k\":[1,2,3],\"\\u006b2\":\"v\"}", &v) == PG_JSON_OK && v->n == 2 &&
           pg_json_get(v, "k")->n == 3 && pg_json_get(v, "k2") && !pg_json_get(v, "k3"),
       "json objects: members, escaped keys, lookups");
    pg_json_free(v);
}

static void test_json_refuses(void)
{
    static const struct { const char *s; int want; } bad[] = {
        { "", PG_JSON_SYNTAX }, { " ", PG_JSON_SYNTAX }, { "{", PG_JSON_SYNTAX },
        { "{\"a\":1,}", PG_JSON_SYNTAX }, { "[1,]", PG_JSON_SYNTAX }, { "[1 2]", PG_JSON_SYNTAX },
        { "{\"a\" 1}", PG_JSON_SYNTAX }, { "{a:1}", PG_JSON_SYNTAX }, { "{'a':1}", PG_JSON_SYNTAX },
        { "01", PG_JSON_SYNTAX }, { "1.", PG_JSON_SYNTAX }, { ".5", PG_JSON_SYNTAX },
        { "1e", PG_JSON_SYNTAX }, { "+1", PG_JSON_SYNTAX }, { "-", PG_JSON_SYNTAX },
        { "NaN", PG_JSON_SYNTAX }, { "Infinity", PG_JSON_SYNTAX }, { "tru", PG_JSON_SYNTAX },
        { "nul", PG_JSON_SYNTAX }, { "truex", PG_JSON_SYNTAX }, { "{} {}", PG_JSON_SYNTAX },
        { "\"abc", PG_JSON_SYNTAX }, { "\"a\\\"", PG_JSON_SYNTAX }, { "\"\\x\"", PG_JSON_SYNTAX },
        { "\"\\u12\"", PG_JSON_SYNTAX }, { "\"\\u12g4\"", PG_JSON_SYNTAX },
        { "\"\\ud83d\"", PG_JSON_SYNTAX }, { "\"\\ud83dx\"", PG_JSON_SYNTAX },
        { "\"\\ud83d\\u0041\"", PG_JSON_SYNTAX }, { "\"\\ude00\"", PG_JSON_SYNTAX },
        { "\"a\tb\"", PG_JSON_SYNTAX }, { "\"\xc3\"", PG_JSON_SYNTAX }, { "\"\xc0\xaf\"", PG_JSON_SYNTAX },
        { "\"\xed\xa0\x80\"", PG_JSON_SYNTAX }, { "\"\xf4\x90\x80\x80\"", PG_JSON_SYNTAX },
        { "\"\xff\"", PG_JSON_SYNTAX }, { "\xef\xbb\xbf{}", PG_JSON_SYNTAX }, { "/**/{}", PG_JSON_SYNTAX },
        { "{\"a\":1,\"a\":2}", PG_JSON_DUPLICATE }, { "[{\"x\":{\"b\":1,\"b\":1}}]", PG_JSON_DUPLICATE },
        { "{\"a\":1,\"\\u0061\":2}", PG_JSON_DUPLICATE }, { "[[[[[]]]]]", PG_JSON_LIMIT },
        { "{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}", PG_JSON_LIMIT },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++) {
        struct pg_json *v = (struct pg_json *)1;
        const char *why = NULL;
        int rc = pg_json_parse(bad[i].s, strlen(bad[i].s), 4096, 4, &v, &why);
        ok(rc == bad[i].want && v == NULL && why, "json refuses bad[%zu] (%s)", i, why ? why : "-");
    }
    struct pg_json *v;
    const char *why;
    is_val(pg_json_parse("[1]", 3, 2, 4, &v, &why), PG_JSON_LIMIT, "json size limit");
    is_val(pg_json_parse("[1]", 3, 3, 4, &v, &why), PG_JSON_OK, "json at size limit");
    pg_json_free(v);
    is_val(pg_json_parse("\"a\"\0", 4, 9, 4, &v, &why), PG_JSON_SYNTAX, "json refuses NUL after value");
}

static void test_json_int64(void)
{
    static const struct { const char *s; int rc; int64_t want; } vec[] = {
        { "0", 0, 0 }, { "-0", 0, 0 }, { "1700000000", 0, 1700000000 },
        { "1.7e9", 0, 1700000000 }, { "17E8", 0, 1700000000 }, { "1700000000.999", 0, 1700000000 },
        { "-1.5", 0, -2 }, { "-2", 0, -2 }, { "-2.0", 0, -2 }, { "0.5", 0, 0 }, { "-0.5", 0, -1 },
        { "9223372036854775807", 0, INT64_MAX }, { "-9223372036854775807", 0, -INT64_MAX },
        { "9223372036854775808", -1, 0 }, { "1e19", -1, 0 }, { "1e999999999999", -1, 0 },
        { "0e999999999999", 0, 0 }, { "5e-999999999999", 0, 0 }, { "123456e-3", 0, 123 },
        { "1", 0, 1 }, { "12.5e1", 0, 125 },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(vec); i++) {
        struct pg_json *v;
        int64_t got = 0;
        parse(vec[i].s, &v);
        int rc = pg_json_int64(v, &got);
        ok(rc == vec[i].rc && (rc < 0 || got == vec[i].want), "int64 of %s (got %lld)", vec[i].s,
           (long long)got);
        pg_json_free(v);
    }
    struct pg_json *v;
    int64_t x;
    parse("\"1\"", &v);
    ok(pg_json_int64(v, &x) < 0 && pg_json_int64(NULL, &x) < 0, "int64 refuses non-numbers");
    pg_json_free(v);
}

/* Large inputs as the WebSocket and webhook callers allow (1 MiB): the
 * duplicate-key check must not be quadratic. */
static void test_json_large(void)
{
    enum { KEYS = 100000 };
    size_t cap = (size_t)KEYS * 16 + 64, o = 0;
    char *doc = pg_xmalloc(cap);
    struct pg_json *v;
    const char *why;

    doc[o++] = '{';
    for (int i = 0; i < KEYS; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"k%d\":%d", i ? "," : "", (i * 7919) % KEYS, i);
    doc[o++] = '}';
    clock_t t0 = clock();
    int rc = pg_json_parse(doc, o, cap, 4, &v, &why);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ok(rc == PG_JSON_OK && v->n == KEYS && pg_json_get(v, "k99999"),
       "object of %d distinct keys (%zu bytes) parses (%.2f s)", KEYS, o, secs);
    pg_json_free(v);

    memcpy(doc + o - 1, ",\"k5\":1}", 9);
    rc = pg_json_parse(doc, o + 7, cap, 4, &v, &why);
    is_val(rc, PG_JSON_DUPLICATE, "the same object with one duplicate key at the end");

    o = 0;
    doc[o++] = '[';
    for (int i = 0; i < KEYS * 5; i++) {
        doc[o++] = '0';
        doc[o++] = ',';
    }
    doc[o - 1] = ']';
    rc = pg_json_parse(doc, o, cap, 4, &v, &why);
    ok(rc == PG_JSON_OK && v->n == KEYS * 5, "array of %d numbers", KEYS * 5);
    pg_json_free(v);
    free(doc);
}

/* ---- known vectors ---- */

/* RFC 7515 Appendix A.1: proves the HMAC and the signing input. Its claims
 * have no "channels", so a verifying signature ends in MISSING_CLAIM. */
static void test_rfc7515_a1(void)
{
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const char jwk_k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    unsigned char key[64];
    long key_len = b64url_decode(jwk_k, strlen(jwk_k), key);
    struct pg_jwt t;
    const char *why;

    is_val(key_len, 64, "RFC 7515 A.1 key decodes");
    is_val(pg_jwt_verify(tok, strlen(tok), key, 64, 1300000000, 30, &t, &why), PG_JWT_MISSING_CLAIM,
           "RFC 7515 A.1: signature verifies, no channels claim");
    key[0] ^= 1;
    is_val(pg_jwt_verify(tok, strlen(tok), key, 64, 1300000000, 30, &t, &why), PG_JWT_BAD_SIGNATURE,
           "RFC 7515 A.1 with another key");
}

/* Computed once with PHP 8.2: the claims are json_encode() output (escaped
 * slash, \u escapes with a surrogate pair) and the signature is
 * hash_hmac('sha256', $signing_input, PHP_KEY, true), base64url. */
static const char PHP_KEY[] = "pushgate-test-key \x00\xff bytes";
static const char PHP_CLAIMS[] = "{\"exp\":2000000000,\"nbf\":1500000000,\"sub\":\"caf\\u00e9 "
                                 "\\ud83d\\ude00\",\"channels\":[\"user.42\",\"news\\/*\"],"
                                 "\"publish\":[\"chat.*\"]}";
static const char PHP_TOKEN[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJleHAiOjIwMDAwMDAwMDAsIm5iZiI6MTUwMDAwMDAwMCwic3ViIjoiY2FmXHUwMGU5IFx1ZDgzZFx1ZGUwMCIsImNo"
    "YW5uZWxzIjpbInVzZXIuNDIiLCJuZXdzXC8qIl0sInB1Ymxpc2giOlsiY2hhdC4qIl19"
    ".XVP4J6Dx3yvxWifSRGMggUYJQBRm5CzYa7yz3GO2LD0";

static void test_php_vector(void)
{
    struct pg_jwt t;
    const char *why = NULL;
    size_t key_len = sizeof(PHP_KEY) - 1;
    int rc = pg_jwt_verify(PHP_TOKEN, strlen(PHP_TOKEN), PHP_KEY, key_len, NOW, 30, &t, &why);

    is_val(rc, PG_JWT_OK, "PHP hash_hmac token verifies");
    is_val(t.exp, 2000000000, "PHP token exp");
    is_val(t.nbf, 1500000000, "PHP token nbf");
    ok(t.n_channels == 2 && strcmp(t.channels[0], "user.42") == 0 && strcmp(t.channels[1], "news/*") == 0,
       "PHP token channels (escaped slash decoded)");
    ok(t.n_publish == 1 && strcmp(t.publish[0], "chat.*") == 0, "PHP token publish");
    ok(t.sub && strcmp(t.sub, "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0, "PHP token sub (surrogate pair)");
    ok(pg_jwt_grants((const char *const *)t.channels, t.n_channels, "news/today") &&
           pg_jwt_grants((const char *const *)t.channels, t.n_channels, "user.42") &&
           !pg_jwt_grants((const char *const *)t.channels, t.n_channels, "user.43") &&
           !pg_jwt_grants((const char *const *)t.publish, t.n_publish, "news/today"),
       "PHP token grants");
    pg_jwt_free(&t);

    char *ours = pg_jwt_sign_hs256(PHP_CLAIMS, PHP_KEY, key_len);
    ok(ours && strcmp(ours, PHP_TOKEN) == 0, "pg_jwt_sign_hs256 reproduces PHP's token byte for byte");
    free(ours);
    expect_at(PHP_TOKEN, strlen(PHP_TOKEN), NOW, PG_JWT_BAD_SIGNATURE, "PHP token under another key");
}

/* ---- verification rules ---- */

static void test_valid_and_times(void)
{
    char *tok = signed_hs256("{\"exp\":1700000100,\"channels\":[\"a.*\"],\"sub\":\"u1\",\"iat\":1,\"x\":{}}");
    struct pg_jwt t;
    const char *why;
    is_val(pg_jwt_verify(tok, strlen(tok), KEY, KEY_LEN, NOW, 30, &t, &why), PG_JWT_OK, "valid token");
    ok(t.n_channels == 1 && t.n_publish == 0 && t.publish == NULL && t.nbf == 0 && strcmp(t.sub, "u1") == 0,
       "valid token fields");
    pg_jwt_free(&t);
    pg_jwt_free(&t);
    ok(1, "pg_jwt_free twice and on NULL is harmless");
    pg_jwt_free(NULL);

    size_t n = strlen(tok);
    expect_at(tok, n, 1700000099, PG_JWT_OK, "1 s before exp");
    expect_at(tok, n, 1700000129, PG_JWT_OK, "exp passed, within leeway");
    expect_at(tok, n, 1700000130, PG_JWT_EXPIRED, "exp passed, at leeway");
    expect_at(tok, n, 1700100000, PG_JWT_EXPIRED, "exp long passed");
    is_val(pg_jwt_verify(tok, n, KEY, KEY_LEN, 1700000100, 0, &t, &why), PG_JWT_EXPIRED, "no leeway: at exp");
    is_val(pg_jwt_verify(tok, n, KEY, KEY_LEN, 1700000100, -5, &t, &why), PG_JWT_EXPIRED,
           "negative leeway counts as 0");
    free(tok);

    tok = signed_hs256("{\"exp\":1800000000,\"nbf\":1700000100,\"channels\":[]}");
    n = strlen(tok);
    expect_at(tok, n, 1700000100, PG_JWT_OK, "at nbf");
    expect_at(tok, n, 1700000070, PG_JWT_OK, "nbf in the future, within leeway");
    expect_at(tok, n, 1700000069, PG_JWT_NOT_YET_VALID, "nbf in the future, beyond leeway");
    free(tok);

    expect_payload("{\"exp\":9223372036854775807,\"channels\":[\"a\"]}", PG_JWT_OK, "exp at INT64_MAX");
    expect_payload("{\"exp\":-9223372036854775807,\"channels\":[\"a\"]}", PG_JWT_EXPIRED, "exp very negative");
    expect_payload("{\"exp\":1.7000001e9,\"channels\":[\"a\"]}", PG_JWT_OK, "exp with exponent");
    expect_payload("{\"exp\":1700000100.5,\"channels\":[\"a\"]}", PG_JWT_OK, "exp with fraction");
    expect_payload("{\"exp\":2e9,\"nbf\":9223372036854775807,\"channels\":[\"a\"]}", PG_JWT_NOT_YET_VALID,
                   "nbf at INT64_MAX");
}

static void test_alg(void)
{
    expect_header("{\"alg\":\"HS256\"}", PG_JWT_OK, "header without typ");
    expect_header("{\"typ\":\"JWT\",\"kid\":\"k1\",\"alg\":\"HS256\"}", PG_JWT_OK, "header with kid");
    expect_header("{\"alg\":\"none\"}", PG_JWT_BAD_ALG, "alg none (with an HS256 signature)");
    expect_header("{\"alg\":\"HS512\"}", PG_JWT_BAD_ALG, "alg HS512");
    expect_header("{\"alg\":\"RS256\"}", PG_JWT_BAD_ALG, "alg RS256");
    expect_header("{\"alg\":\"hs256\"}", PG_JWT_BAD_ALG, "alg hs256 (case)");
    expect_header("{\"alg\":\"HS256 \"}", PG_JWT_BAD_ALG, "alg with trailing space");
    expect_header("{\"alg\":\"HS256\\u0000\"}", PG_JWT_BAD_ALG, "alg with NUL");
    expect_header("{\"alg\":[\"HS256\"]}", PG_JWT_BAD_ALG, "alg as array");
    expect_header("{\"alg\":null}", PG_JWT_BAD_ALG, "alg null");
    expect_header("{\"typ\":\"JWT\"}", PG_JWT_BAD_ALG, "missing alg");
    expect_header("{}", PG_JWT_BAD_ALG, "empty header");
    expect_header("{\"alg\":\"HS256\",\"typ\":1}", PG_JWT_MALFORMED, "typ not a string");
    expect_header("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", PG_JWT_MALFORMED, "crit refused");

    /* The classic: alg none with an empty signature. */
    char *h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26);
    char *p = b64("{\"exp\":2000000000,\"channels\":[\"*\"]}", 35);
    char *tok = pg_xasprintf("%s.%s.", h, p);
    expect(tok, PG_JWT_BAD_ALG, "alg none, empty signature");
    free(tok);
    free(h);
    h = b64("{\"alg\":\"HS256\"}", 15);
    tok = pg_xasprintf("%s.%s.", h, p);
    expect(tok, PG_JWT_BAD_SIGNATURE, "HS256 with empty signature");
    free(tok);
    free(h);
    free(p);
}

static void test_header_shape(void)
{
    expect_header("[]", PG_JWT_MALFORMED, "header is an array");
    expect_header("\"HS256\"", PG_JWT_MALFORMED, "header is a string");
    expect_header("null", PG_JWT_MALFORMED, "header is null");
    expect_header("{\"alg\":\"HS256\"", PG_JWT_MALFORMED, "header truncated JSON");
    expect_header("", PG_JWT_MALFORMED, "header empty");
    expect_header("{\"alg\":\"HS256\",\"alg\":\"none\"}", PG_JWT_MALFORMED, "duplicate alg (HS256 first)");
    expect_header("{\"alg\":\"none\",\"alg\":\"HS256\"}", PG_JWT_MALFORMED, "duplicate alg (HS256 last)");
    expect_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"typ\":\"JWT\"}", PG_JWT_MALFORMED, "duplicate typ");
}

static void test_claims(void)
{
    expect_payload("{\"exp\":2e9,\"exp\":1,\"channels\":[\"a\"]}", PG_JWT_MALFORMED, "duplicate exp");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"channels\":[\"*\"]}", PG_JWT_MALFORMED,
                   "duplicate channels");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"x\":{\"k\":1,\"k\":2}}", PG_JWT_MALFORMED,
                   "duplicate key in a nested claim");
    expect_payload("{\"exp\":2e9,\"channels\":\"a\"}", PG_JWT_MALFORMED, "channels is a string");
    expect_payload("{\"exp\":2e9,\"channels\":{\"a\":1}}", PG_JWT_MALFORMED, "channels is an object");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\",1]}", PG_JWT_MALFORMED, "channels holds a number");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\",[\"b\"]]}", PG_JWT_MALFORMED, "channels holds an array");
    expect_payload("{\"exp\":2e9,\"channels\":[\"\"]}", PG_JWT_MALFORMED, "channels holds an empty glob");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\\u0000*\"]}", PG_JWT_MALFORMED, "channel with NUL");
    expect_payload("{\"exp\":2e9,\"channels\":null}", PG_JWT_MALFORMED, "channels null");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"publish\":\"b\"}", PG_JWT_MALFORMED,
                   "publish is a string");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"sub\":42}", PG_JWT_MALFORMED, "sub is a number");
    expect_payload("{\"exp\":2e9,\"publish\":[\"b\"]}", PG_JWT_OK, "publish only");
    expect_payload("{\"exp\":2e9,\"channels\":[]}", PG_JWT_OK, "empty channels");
    expect_payload("{\"exp\":2e9}", PG_JWT_MISSING_CLAIM, "neither channels nor publish");
    expect_payload("{\"channels\":[\"a\"]}", PG_JWT_MISSING_CLAIM, "no exp");
    expect_payload("{\"exp\":\"2000000000\",\"channels\":[\"a\"]}", PG_JWT_MALFORMED, "exp is a string");
    expect_payload("{\"exp\":null,\"channels\":[\"a\"]}", PG_JWT_MALFORMED, "exp is null");
    expect_payload("{\"exp\":1e20,\"channels\":[\"a\"]}", PG_JWT_MALFORMED, "exp out of range");
    expect_payload("{\"exp\":2e9,\"nbf\":true,\"channels\":[\"a\"]}", PG_JWT_MALFORMED, "nbf is a bool");
    expect_payload("[{\"exp\":2e9,\"channels\":[\"a\"]}]", PG_JWT_MALFORMED, "payload is an array");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"]} x", PG_JWT_MALFORMED, "payload trailing garbage");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"d\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}",
                   PG_JWT_MALFORMED, "payload nested too deeply");
    expect_payload("{\"exp\":2e9,\"channels\":[\"a\"],\"d\":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}", PG_JWT_OK,
                   "payload nested to the limit");
}

static void test_grants(void)
{
    const char *globs[] = { "user.42", "news.*", "room/[ab]?" };
    ok(pg_jwt_grants(globs, 3, "user.42"), "grants exact");
    ok(pg_jwt_grants(globs, 3, "news.sport"), "grants star");
    ok(pg_jwt_grants(globs, 3, "news.a/b"), "star crosses '/' (no FNM_PATHNAME)");
    ok(pg_jwt_grants(globs, 3, "room/b1"), "grants bracket and ?");
    ok(!pg_jwt_grants(globs, 3, "room/c1"), "refuses bracket mismatch");
    ok(!pg_jwt_grants(globs, 3, "user.420"), "refuses prefix only");
    ok(!pg_jwt_grants(globs, 0, "user.42"), "no globs grant nothing");
    ok(!pg_jwt_grants(globs, 3, NULL), "NULL channel");
}

/* ---- token structure ---- */

static void test_tampering(void)
{
    char *tok = signed_hs256("{\"exp\":2000000000,\"channels\":[\"user.1\"]}");
    char *evil = b64("{\"exp\":2000000000,\"channels\":[\"*\"]}", 35);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    char *swapped = pg_xasprintf("%.*s.%s%s", (int)(d1 - tok), tok, evil, d2);
    expect(swapped, PG_JWT_BAD_SIGNATURE, "tampered payload");

    size_t n = strlen(tok);
    char *t2 = pg_xstrdup(tok);
    t2[n - 5] = t2[n - 5] == 'A' ? 'B' : 'A';
    expect(t2, PG_JWT_BAD_SIGNATURE, "tampered signature");
    t2[n - 5] = tok[n - 5];
    t2[n - 1] ^= 1; /* changes unused low bits or the alphabet: never verifies */
    struct pg_jwt t;
    const char *why;
    ok(pg_jwt_verify(t2, n, KEY, KEY_LEN, NOW, 30, &t, &why) != PG_JWT_OK, "last signature char altered");
    is_val(pg_jwt_verify(tok, n, KEY, KEY_LEN - 1, NOW, 30, &t, &why), PG_JWT_BAD_SIGNATURE, "wrong key");
    is_val(pg_jwt_verify(tok, n, "", 0, NOW, 30, &t, &why), PG_JWT_BAD_SIGNATURE, "empty key");
    ok(pg_jwt_sign_hs256("{}", "", 0) == NULL, "signing with an empty key refused");

    int all_refused = 1;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            strcpy(t2, tok);
            t2[i] ^= (char)(1 << bit);
            if (pg_jwt_verify(t2, n, KEY, KEY_LEN, NOW, 30, &t, &why) == PG_JWT_OK) {
                all_refused = 0;
                pg_jwt_free(&t);
            }
        }
    ok(all_refused, "every single-bit flip of every byte is refused");
    free(t2);
    free(swapped);
    free(evil);
    free(tok);
}

static void test_encoding(void)
{
    char *tok = signed_hs256("{\"exp\":2000000000,\"channels\":[\"a\"]}");
    size_t n = strlen(tok);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    char *t;

    t = pg_xasprintf("%.*s=%s", (int)(d1 - tok), tok, d1);
    expect(t, PG_JWT_MALFORMED, "padding in header");
    free(t);
    t = pg_xasprintf("%s=", tok);
    expect(t, PG_JWT_MALFORMED, "padding after signature");
    free(t);
    t = pg_xasprintf("%s==", tok);
    expect(t, PG_JWT_MALFORMED, "double padding after signature");
    free(t);
    t = pg_xstrdup(tok);
    t[3] = '+';
    expect(t, PG_JWT_MALFORMED, "'+' (standard alphabet) in header");
    t[3] = tok[3];
    t[d2 - tok + 2] = '/';
    expect(t, PG_JWT_MALFORMED, "'/' in signature");
    t[d2 - tok + 2] = ' ';
    expect(t, PG_JWT_MALFORMED, "space in signature");
    t[d2 - tok + 2] = tok[d2 - tok + 2];
    t[d1 - tok + 1] = '\0';
    expect_at(t, n, NOW, PG_JWT_MALFORMED, "NUL byte inside the payload segment");
    free(t);
    t = pg_xasprintf("%sA", tok);
    expect(t, PG_JWT_BAD_SIGNATURE, "signature one byte too long");
    free(t);
    t = pg_xasprintf("%sAA", tok);
    expect(t, PG_JWT_MALFORMED, "signature length 1 mod 4");
    free(t);

    t = pg_xasprintf("%s.%s", tok, "AAAA");
    expect(t, PG_JWT_MALFORMED, "four segments");
    free(t);
    t = pg_xasprintf("%s.", tok);
    expect(t, PG_JWT_MALFORMED, "trailing dot");
    free(t);
    t = pg_xasprintf("%.*s", (int)(d2 - tok), tok);
    expect(t, PG_JWT_MALFORMED, "two segments");
    free(t);
    t = pg_xasprintf("%.*s", (int)(d1 - tok), tok);
    expect(t, PG_JWT_MALFORMED, "one segment");
    free(t);
    expect("..", PG_JWT_MALFORMED, "three empty segments");
    expect("", PG_JWT_MALFORMED, "empty token");
    struct pg_jwt jt;
    const char *why;
    is_val(pg_jwt_verify(NULL, 0, KEY, KEY_LEN, NOW, 30, &jt, &why), PG_JWT_MALFORMED, "NULL token");
    t = pg_xasprintf(" %s", tok);
    expect(t, PG_JWT_MALFORMED, "leading space");
    free(t);
    t = pg_xasprintf("Bearer %s", tok);
    expect(t, PG_JWT_MALFORMED, "\"Bearer \" prefix");
    free(t);
    free(tok);
}

/* A token of exactly n bytes: pads a claim until the encoding fits. */
static char *token_of_len(size_t n)
{
    for (size_t pad = 0; pad < n; pad++) {
        char *fill = pg_xmalloc(pad + 1);
        memset(fill, 'x', pad);
        fill[pad] = '\0';
        char *claims = pg_xasprintf("{\"exp\":2000000000,\"channels\":[\"a\"],\"pad\":\"%s\"}", fill);
        char *tok = signed_hs256(claims);
        free(fill);
        free(claims);
        if (strlen(tok) == n)
            return tok;
        if (strlen(tok) > n + 4)
            abort();
        free(tok);
    }
    abort();
}

static void test_limits(void)
{
    char *tok = token_of_len(PG_JWT_MAX_LEN);
    expect_at(at_page_end(tok, PG_JWT_MAX_LEN), PG_JWT_MAX_LEN, NOW, PG_JWT_OK,
              "token of exactly 4096 bytes, ending at an unreadable page");
    free(tok);
    tok = token_of_len(PG_JWT_MAX_LEN + 1);
    expect(tok, PG_JWT_MALFORMED, "token of 4097 bytes");
    free(tok);
}

static void test_truncations(void)
{
    char *tok = signed_hs256("{\"exp\":2000000000,\"nbf\":1,\"channels\":[\"a\\u00e9\",\"b.*\"],"
                             "\"publish\":[\"c\"],\"sub\":\"s\"}");
    size_t n = strlen(tok);
    int all_refused = 1, all_reasons = 1;

    for (size_t i = 0; i < n; i++) {
        struct pg_jwt t;
        const char *why = NULL;
        if (pg_jwt_verify(at_page_end(tok, i), i, KEY, KEY_LEN, NOW, 30, &t, &why) == PG_JWT_OK) {
            all_refused = 0;
            pg_jwt_free(&t);
        }
        all_reasons &= why != NULL;
    }
    ok(all_refused && all_reasons, "every truncation (0..%zu bytes) is refused with a reason", n - 1);
    expect_at(at_page_end(tok, n), n, NOW, PG_JWT_OK, "whole token at the page end verifies");
    free(tok);
}

/* ---- the PHP snippet, run for real ---- */

static void skip(const char *why)
{
    printf("ok %d # SKIP %s\n", ++tap_n, why);
}

static void test_php_snippet(void)
{
    const char *ci = getenv("CI"), *src = getenv("PG_SRCDIR");
    if (system("command -v php >/dev/null 2>&1") != 0) {
        if (ci && strcmp(ci, "true") == 0)
            ok(0, "php-cli is installed (required when CI=true)");
        else
            skip("php-cli not installed");
        return;
    }
    static const char secret[] = "php-snippet secret";
    setenv("PUSHGATE_SECRET", secret, 1);
    char *cmd = pg_xasprintf("php '%s/contrib/php/pushgate-token.php' --ttl=120 --publish='chat.*' "
                             "user.42 'caf\xc3\xa9.*' 2>&1",
                             src && *src ? src : PG_SRCDIR);
    FILE *f = popen(cmd, "r");
    char out[PG_JWT_MAX_LEN + 2] = "";
    size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
    int status = f ? pclose(f) : -1;
    free(cmd);
    unsetenv("PUSHGATE_SECRET");
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    ok(status == 0 && n > 0, "contrib/php/pushgate-token.php runs (%.80s)", out);

    struct pg_jwt t;
    const char *why = "";
    int64_t now = (int64_t)time(NULL);
    int rc = pg_jwt_verify(out, n, secret, sizeof(secret) - 1, now, 30, &t, &why);
    ok(rc == PG_JWT_OK, "PHP snippet's token verifies (%s)", rc ? why : "ok");
    ok(rc == 0 && t.exp >= now + 110 && t.exp <= now + 130, "PHP snippet's exp is now + ttl");
    ok(rc == 0 && t.n_channels == 2 && strcmp(t.channels[0], "user.42") == 0 &&
           strcmp(t.channels[1], "caf\xc3\xa9.*") == 0 && t.n_publish == 1 &&
           strcmp(t.publish[0], "chat.*") == 0,
       "PHP snippet's channels and publish globs");
    pg_jwt_free(&t);
    is_val(pg_jwt_verify(out, n, "other", 5, now, 30, &t, &why), PG_JWT_BAD_SIGNATURE,
           "PHP snippet's token under another secret");
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = PG_MAX(page, (size_t)PG_JWT_MAX_LEN + page - 1) / page * page;
    guard = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard == MAP_FAILED || mprotect(guard + span, page, PROT_NONE) != 0)
        return 99;
    page = span; /* at_page_end places data right before the PROT_NONE page */

    test_base64url();
    test_json_accepts();
    test_json_refuses();
    test_json_int64();
    test_json_large();
    test_rfc7515_a1();
    test_php_vector();
    test_valid_and_times();
    test_alg();
    test_header_shape();
    test_claims();
    test_grants();
    test_tampering();
    test_encoding();
    test_limits();
    test_truncations();
    test_php_snippet();
    munmap(guard, span + page);
    return done_testing();
}
