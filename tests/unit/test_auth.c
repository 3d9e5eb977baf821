/* test_auth.c — unit tests of the pure half of authorization
 * (auth_policy.c, auth_cache.c): rule selection, token carriers, constant-
 * time secrets, the publish-listen rule, log redaction at every output
 * size, and the session-check cache (expiry, refresh, bounded eviction). */
#include "../../src/auth_policy.c"
#include "../../src/auth_cache.c"
#include "tap.h"

#include <stdlib.h>

static struct pg_config *load(const char *text)
{
    char err[256] = "";
    struct pg_config *c = pg_config_load_text("t.conf", text, strlen(text), NULL, 0, err, sizeof err);
    ok(c != NULL, "config loads%s%s", c ? "" : ": ", c ? "" : err);
    return c;
}

static void test_need(void)
{
    struct pg_config *c = load("token_channels private.* vip-?\n"
                               "auth_url order-* http://127.0.0.1/a\n"
                               "auth_url private.both http://127.0.0.1/b\n"
                               "auth_url shop-* http://127.0.0.1/c\n"
                               "auth_fastcgi order-* unix:/run/f.sock /srv/x.php\n"
                               "auth_fastcgi fc-* unix:/run/f.sock /srv/y.php\n");
    if (!c)
        return;
    const struct pg_rule *r = NULL;
    bool fcgi = true;
    is_int(pg_auth_need(c, "private.a", &r, &fcgi), PG_NEED_TOKEN, "token_channels glob: token");
    is_int(pg_auth_need(c, "vip-1", NULL, NULL), PG_NEED_TOKEN, "second token glob: token");
    is_int(pg_auth_need(c, "vip-12", NULL, NULL), PG_NEED_NONE, "? matches one character only");
    is_int(pg_auth_need(c, "private.both", NULL, NULL), PG_NEED_TOKEN, "token_channels wins over a rule");
    is_int(pg_auth_need(c, "order-9", &r, &fcgi), PG_NEED_SESSION, "auth_url glob: session");
    ok(r && !fcgi && strcmp(r->target, "http://127.0.0.1/a") == 0, "auth_url rules come before auth_fastcgi");
    is_int(pg_auth_need(c, "shop-x", &r, &fcgi), PG_NEED_SESSION, "third auth_url rule");
    ok(r && strcmp(r->target, "http://127.0.0.1/c") == 0, "the first matching auth_url rule wins");
    is_int(pg_auth_need(c, "fc-1", &r, &fcgi), PG_NEED_SESSION, "auth_fastcgi glob: session");
    ok(r && fcgi && strcmp(r->script, "/srv/y.php") == 0, "auth_fastcgi rule and script");
    is_int(pg_auth_need(c, "public", &r, &fcgi), PG_NEED_NONE, "other channels are public");
    pg_config_free(c);
    c = load("");
    is_int(pg_auth_need(c, "anything", NULL, NULL), PG_NEED_NONE, "defaults: everything public");
    pg_config_free(c);
}

static void bearer_case(const char *v, const char *want)
{
    const char *t = NULL;
    size_t n = 0;
    bool got = pg_auth_bearer(v, strlen(v), &t, &n);
    if (!want)
        ok(!got, "'%s' is not a bearer token", v);
    else
        ok(got && n == strlen(want) && memcmp(t, want, n) == 0, "'%s' -> '%s'", v, want);
}

static void cookie_case(const char *v, const char *want)
{
    const char *t = NULL;
    size_t n = 0;
    bool got = pg_auth_cookie(v, strlen(v), "pushgate_token", &t, &n);
    if (!want)
        ok(!got, "cookie '%s' has no pushgate_token", v);
    else
        ok(got && n == strlen(want) && memcmp(t, want, n) == 0, "cookie '%s' -> '%s'", v, want);
}

static void test_carriers(void)
{
    bearer_case("Bearer abc.def.ghi", "abc.def.ghi");
    bearer_case("bearer   abc  ", "abc");
    bearer_case("BEARER\tx", "x");
    bearer_case("Bearer", NULL);
    bearer_case("Bearer ", NULL);
    bearer_case("Bearer    ", NULL);
    bearer_case("Bearerabc", NULL);
    bearer_case("Basic dXNlcjpw", NULL);
    bearer_case("", NULL);
    cookie_case("pushgate_token=t1", "t1");
    cookie_case("a=1; pushgate_token=t2; b=2", "t2");
    cookie_case("a=1;pushgate_token=t3", "t3");
    cookie_case("a=1;  pushgate_token=\"t4\"  ", "t4");
    cookie_case("pushgate_tokenx=1; xpushgate_token=2", NULL);
    cookie_case("pushgate_token", NULL);
    cookie_case("pushgate_token=", "");
    cookie_case("a=1; pushgate_token=first; pushgate_token=second", "first");
    cookie_case("", NULL);
    cookie_case(";;;", NULL);
}

static void test_secret(void)
{
    ok(pg_auth_secret_eq("s3cret", 6, "s3cret"), "the right secret matches");
    ok(!pg_auth_secret_eq("s3cre", 5, "s3cret"), "a prefix does not");
    ok(!pg_auth_secret_eq("s3cretx", 7, "s3cret"), "a longer one does not");
    ok(!pg_auth_secret_eq("S3cret", 6, "s3cret"), "case matters");
    ok(!pg_auth_secret_eq("", 0, ""), "an empty secret never matches");
    ok(!pg_auth_secret_eq("x", 1, NULL), "no secret never matches");
    ok(pg_auth_secret_eq("a\0b", 3, "a") == false, "embedded NUL is compared, not a terminator");
}

static void test_local(void)
{
    const char *yes[] = {"127.0.0.1:8081", "127.9.9.9:1", "[::1]:8081", "localhost:8081",
                         "LOCALHOST:1", "unix:/run/pushgate/publish.sock", "[::ffff:127.0.0.1]:1",
                         "tls:127.0.0.1:8443"};
    const char *no[] = {"0.0.0.0:8081", "[::]:8081", "10.0.0.1:80", "192.168.1.1:1",
                        "example.com:80", "[::ffff:10.0.0.1]:1", "garbage", "", ":80"};
    for (size_t i = 0; i < PG_ARRAY_LEN(yes); i++)
        ok(pg_auth_addr_is_local(yes[i]), "%s is local", yes[i]);
    for (size_t i = 0; i < PG_ARRAY_LEN(no); i++)
        ok(!pg_auth_addr_is_local(no[i]), "'%s' is not local", no[i]);

    char err[300] = "";
    struct pg_config *c = load("");
    is_int(pg_auth_check_publish_listen(c, err, sizeof err), 0, "default publish_listen passes");
    pg_config_free(c);
    c = load("publish_listen 127.0.0.1:1 0.0.0.0:8081\n");
    is_int(pg_auth_check_publish_listen(c, err, sizeof err), -1, "0.0.0.0 without a secret fails");
    ok(strstr(err, "0.0.0.0:8081") && strstr(err, "publish_secret") && !strchr(err, '\n'),
       "one line naming the address and publish_secret: %s", err);
    pg_config_free(c);
    c = load("publish_listen 0.0.0.0:8081\npublish_secret xyz\n");
    is_int(pg_auth_check_publish_listen(c, err, sizeof err), 0, "0.0.0.0 with a secret passes");
    pg_config_free(c);
    char tiny[8];
    c = load("publish_listen [::]:8081\n");
    is_int(pg_auth_check_publish_listen(c, tiny, sizeof tiny), -1, "a small error buffer is fine");
    ok(strlen(tiny) == sizeof tiny - 1, "and the line is truncated, NUL-terminated");
    pg_config_free(c);
}

static void redact_case(const char *in, const char *want)
{
    char out[256];
    size_t n = pg_auth_redact(in, strlen(in), out, sizeof out);
    ok(n == strlen(want) && strcmp(out, want) == 0, "redact '%s' -> '%s' (got '%s')", in, want, out);
}

static void test_redact(void)
{
    redact_case("/sub/a?token=abc.def.ghi", "/sub/a?token=[redacted]");
    redact_case("/sub/a?x=1&token=abc&y=2", "/sub/a?x=1&token=[redacted]&y=2");
    redact_case("/sub/a?token=a&token=b", "/sub/a?token=[redacted]&token=[redacted]");
    redact_case("/sub/a?%74oken=abc", "/sub/a?%74oken=[redacted]");
    redact_case("/sub/a?tok%65n=abc;z=1", "/sub/a?tok%65n=[redacted];z=1");
    redact_case("/sub/a?tokens=abc&xtoken=1", "/sub/a?tokens=abc&xtoken=1");
    redact_case("/sub/a?token", "/sub/a?token");
    redact_case("/sub/a?token=abc#frag=token=1", "/sub/a?token=[redacted]#frag=token=1");
    redact_case("/sub/token=abc", "/sub/token=abc");
    redact_case("/sub/a?", "/sub/a?");
    redact_case("", "");
    /* every output size: always NUL-terminated, never the secret, a prefix
     * of the full answer */
    const char *in = "/sub/a,b?last_event_id=1-2&token=SECRETVALUE&z=9";
    char full[256];
    pg_auth_redact(in, strlen(in), full, sizeof full);
    bool good = true;
    for (size_t cap = 1; cap < sizeof full; cap++) {
        char *out = malloc(cap);
        size_t n = pg_auth_redact(in, strlen(in), out, cap);
        good = good && n < cap && out[n] == '\0' && strncmp(out, full, n) == 0 &&
               !strstr(out, "SECRET") && n == PG_MIN(strlen(full), cap - 1);
        free(out);
    }
    ok(good, "every output size: truncated prefix, NUL-terminated, no token bytes");
    char none[1] = {'x'};
    is_int(pg_auth_redact(in, strlen(in), none, 0), 0, "cap 0 writes nothing");
    ok(none[0] == 'x', "and leaves the buffer alone");
}

static void key_of(uint8_t k[PG_AUTH_KEY_LEN], const char *a, const char *b)
{
    const char *parts[] = {a, b};
    pg_auth_cache_key(k, parts, 2);
}

static void test_cache(void)
{
    uint8_t k1[PG_AUTH_KEY_LEN], k2[PG_AUTH_KEY_LEN], k3[PG_AUTH_KEY_LEN];
    key_of(k1, "a", "bc");
    key_of(k2, "ab", "c");
    key_of(k3, "a", "bc");
    ok(memcmp(k1, k2, sizeof k1) != 0, "parts cannot run into each other");
    ok(memcmp(k1, k3, sizeof k1) == 0, "the same parts give the same key");
    ok(!pg_auth_cache_get(k1, 1000), "an empty cache misses");
    pg_auth_cache_put(k1, 2000, 1000);
    ok(pg_auth_cache_get(k1, 1999), "a stored key hits before its expiry");
    ok(!pg_auth_cache_get(k2, 1500), "another key misses");
    ok(!pg_auth_cache_get(k1, 2000), "and misses at its expiry");
    ok(!pg_auth_cache_get(k1, 1500), "an expired entry is gone");
    pg_auth_cache_put(k1, 1000, 1000);
    ok(!pg_auth_cache_get(k1, 999), "an expiry not in the future is not stored");
    pg_auth_cache_put(k1, 3000, 1000);
    pg_auth_cache_put(k1, 5000, 2000);
    ok(pg_auth_cache_get(k1, 4000), "storing again refreshes the expiry");

    /* PROBE + 2 keys with the same home slot: bounded, evicts the soonest */
    uint8_t keys[PROBE + 2][PG_AUTH_KEY_LEN];
    struct pg_auth_cache_stats before, after;
    pg_auth_cache_stats(&before);
    for (size_t i = 0; i < PG_ARRAY_LEN(keys); i++) {
        memset(keys[i], 0, PG_AUTH_KEY_LEN);
        keys[i][0] = 0x42;
        keys[i][31] = (uint8_t)(i + 1);
        pg_auth_cache_put(keys[i], 10000 + (i == 3 ? 0 : 1000 * (uint64_t)(i + 1)), 100);
    }
    pg_auth_cache_stats(&after);
    is_int(after.evicted - before.evicted, 2, "two entries evicted from a full neighbourhood");
    ok(!pg_auth_cache_get(keys[3], 200), "the entry closest to expiry went first");
    ok(pg_auth_cache_get(keys[PROBE + 1], 200) && pg_auth_cache_get(keys[PROBE], 200),
       "the newest entries are there");
    int live = 0;
    for (size_t i = 0; i < PG_ARRAY_LEN(keys); i++)
        live += pg_auth_cache_get(keys[i], 200);
    is_int(live, PROBE, "the neighbourhood holds PROBE entries");
    /* an expired slot is reused without counting an eviction */
    pg_auth_cache_stats(&before);
    uint8_t fresh[PG_AUTH_KEY_LEN] = {0x42, [31] = 0xee};
    pg_auth_cache_put(fresh, 999999, 50000);
    pg_auth_cache_stats(&after);
    is_int(after.evicted - before.evicted, 0, "an expired slot is reused, nothing evicted");
    ok(pg_auth_cache_get(fresh, 50001), "the new entry is there");
    pg_auth_cache_clear();
    ok(!pg_auth_cache_get(fresh, 50001), "clear forgets everything");
    pg_auth_cache_clear();
}

int main(void)
{
    test_need();
    test_carriers();
    test_secret();
    test_local();
    test_redact();
    test_cache();
    return done_testing();
}
