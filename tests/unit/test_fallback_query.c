/* test_fallback_query.c — the subscribe request options codec
 * (fallback/fallback_query.c): transport choice, format, cursor sources and
 * their precedence, the JSONP callback rule, malformed input, limits. */
#include "tap.h"
#include "fallback_query.c"

#include <stdio.h>
#include <string.h>

/* s with control bytes as \xNN, for test names. */
static const char *shown(const char *s)
{
    static char out[256];
    size_t k = 0;
    for (; *s && k < sizeof out - 5; s++)
        k += (size_t)snprintf(out + k, sizeof out - k, (unsigned char)*s < 0x20 ? "\\x%02x" : "%c",
                              (unsigned char)*s);
    out[k] = '\0';
    return out;
}

static int qparse(const char *q, const char *accept, const char *lei, struct pg_fb_opts *o)
{
    return pg_fb_parse(q, q ? strlen(q) : 0, accept, accept ? strlen(accept) : 0, lei,
                       lei ? strlen(lei) : 0, o);
}

static void test_transport(void)
{
    struct pg_fb_opts o;
    int rc = qparse(NULL, NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL && !o.json && !o.has_cursor && !o.callback[0],
       "no query, no Accept: long-poll");
    rc = qparse(NULL, "text/event-stream", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE, "Accept: text/event-stream: SSE");
    rc = qparse(NULL, "application/json, Text/Event-Stream;q=0.9", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE, "Accept list with parameters, any case: SSE");
    rc = qparse(NULL, "*/*", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL, "Accept: */*: long-poll");
    rc = qparse(NULL, "text/event-streamx", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL, "text/event-streamx is not SSE");
    rc = qparse("transport=sse", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE, "?transport=sse");
    rc = qparse("transport=longpoll", "text/event-stream", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL, "?transport=longpoll wins over Accept");
    rc = qparse("transport=websocket", NULL, NULL, &o);
    is_int(rc, PG_FB_ETRANSPORT, "?transport=websocket without an upgrade: refused");
    rc = qparse("transport=SSE", NULL, NULL, &o);
    is_int(rc, PG_FB_ETRANSPORT, "transport values are lower case");
    rc = qparse("transport=", NULL, NULL, &o);
    is_int(rc, PG_FB_ETRANSPORT, "empty transport refused");
    rc = qparse("transport=%zz", NULL, NULL, &o);
    is_int(rc, PG_FB_EENCODING, "bad escape refused");
    rc = qparse("transport=ss%00e", NULL, NULL, &o);
    is_int(rc, PG_FB_EENCODING, "NUL refused");
    rc = qparse("token=abc&_=1234&transport=sse", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE, "unknown keys are ignored");
    rc = qparse("transport=sse&transport=bogus", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE, "the first occurrence of a key counts");
}

static void test_format(void)
{
    struct pg_fb_opts o;
    int rc = qparse("transport=sse&format=json", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_SSE && o.json, "SSE format=json");
    rc = qparse("format=raw", "text/event-stream", NULL, &o);
    ok(rc == 0 && !o.json, "SSE format=raw");
    rc = qparse("format=json", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL, "long-poll format=json is fine");
    rc = qparse("format=raw", NULL, NULL, &o);
    is_int(rc, PG_FB_EFORMAT, "long-poll format=raw refused");
    rc = qparse("transport=sse&format=xml", NULL, NULL, &o);
    is_int(rc, PG_FB_EFORMAT, "unknown format refused");
}

static void test_cursor(void)
{
    struct pg_fb_opts o;
    int rc = qparse("last_id=1700000000000-42", NULL, NULL, &o);
    ok(rc == 0 && o.has_cursor && !strcmp(o.cursor, "1700000000000-42"), "?last_id=");
    rc = qparse("last_event_id=abc-1", NULL, NULL, &o);
    ok(rc == 0 && o.has_cursor && !strcmp(o.cursor, "abc-1"), "?last_event_id=");
    rc = qparse("last_event_id=5-1&last_id=5-2", NULL, NULL, &o);
    ok(rc == 0 && !strcmp(o.cursor, "5-2"), "last_id before last_event_id");
    rc = qparse("last_event_id=5-1", "text/event-stream", "5-9", &o);
    ok(rc == 0 && !strcmp(o.cursor, "5-9"), "the Last-Event-ID header wins (EventSource reconnect)");
    rc = qparse("last_event_id=5-1", NULL, "", &o);
    ok(rc == 0 && !strcmp(o.cursor, "5-1"), "an empty header counts as absent");
    rc = qparse("last_id=", NULL, NULL, &o);
    ok(rc == 0 && !o.has_cursor, "an empty last_id counts as absent");
    rc = qparse("last_id=&last_event_id=3-3", NULL, NULL, &o);
    ok(rc == 0 && !strcmp(o.cursor, "3-3"), "empty last_id falls through to last_event_id");
    rc = qparse("last_id=12", NULL, NULL, &o);
    is_int(rc, PG_FB_ECURSOR, "cursor without a dash refused");
    rc = qparse(NULL, NULL, "x y-1", &o);
    is_int(rc, PG_FB_ECURSOR, "malformed header refused");
    rc = qparse("last_id=1-18446744073709551616", NULL, NULL, &o);
    is_int(rc, PG_FB_ECURSOR, "seq over 2^64-1 refused");
    rc = qparse("last_id=1-18446744073709551615", NULL, NULL, &o);
    is_int(rc, PG_FB_OK, "seq 2^64-1 accepted");
    char q[512];
    snprintf(q, sizeof q, "last_id=%0300d-1", 1);
    rc = qparse(q, NULL, NULL, &o);
    is_int(rc, PG_FB_ECURSOR, "a 300-byte cursor refused");
    ok(!o.has_cursor && o.transport == PG_FB_LONGPOLL, "on error the options are the defaults");

    static const struct { const char *s; bool valid; } c[] = {
        {"1-1", true}, {"abcdefghijklmnopqrstuvw-1", true}, {"abcdefghijklmnopqrstuvwx-1", false},
        {"-1", false}, {"1-", false}, {"A-1", false}, {"1--1", false}, {"1-1a", false},
        {"1-012345678901234567890", false}, {"1-01234567890123456789", true}, {"1-99999999999999999999", false},
        {"", false}, {"1-1 ", false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ok(pg_fb_cursor_valid(c[i].s, strlen(c[i].s)) == c[i].valid, "cursor '%s' %s", shown(c[i].s),
           c[i].valid ? "valid" : "invalid");
}

static void test_callback(void)
{
    static const struct { const char *s; bool valid; } c[] = {
        {"cb", true}, {"_", true}, {"$", true}, {"jQuery1234_5678", true}, {"__pushgate_jsonp_12", true},
        {"app.handlers.onPush", true}, {"a[0]", true}, {"a[123456789].b", true}, {"a.b[2][3]", true},
        {"", false}, {"1cb", false}, {"a.", false}, {".a", false}, {"a..b", false}, {"a[]", false},
        {"a[1234567890]", false}, {"a[x]", false}, {"a[1", false}, {"a]", false}, {"a b", false},
        {"a(1)", false}, {"alert(document.cookie)//", false}, {"a;b", false}, {"a-b", false},
        {"a'b", false}, {"a\"b", false}, {"a\nb", false}, {"a\\u0062", false}, {"<script>", false},
        {"a.1", false}, {"ü", false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ok(pg_fb_callback_valid(c[i].s, strlen(c[i].s)) == c[i].valid, "callback '%s' %s", shown(c[i].s),
           c[i].valid ? "valid" : "invalid");
    char longname[PG_FB_CALLBACK_MAX + 2];
    memset(longname, 'a', sizeof longname);
    ok(pg_fb_callback_valid(longname, PG_FB_CALLBACK_MAX), "callback of %d bytes valid", PG_FB_CALLBACK_MAX);
    ok(!pg_fb_callback_valid(longname, PG_FB_CALLBACK_MAX + 1), "callback of %d bytes invalid",
       PG_FB_CALLBACK_MAX + 1);

    struct pg_fb_opts o;
    int rc = qparse("callback=cb&last_id=1-1", NULL, NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL && !strcmp(o.callback, "cb"), "callback selects long-poll JSONP");
    rc = qparse("callback=cb", "text/event-stream", NULL, &o);
    ok(rc == 0 && o.transport == PG_FB_LONGPOLL, "callback wins over Accept: text/event-stream");
    rc = qparse("callback=cb&transport=sse", NULL, NULL, &o);
    is_int(rc, PG_FB_ECONFLICT, "callback with transport=sse refused");
    rc = qparse("callback=a%28%29", NULL, NULL, &o);
    is_int(rc, PG_FB_ECALLBACK, "decoded callback 'a()' refused");
    ok(!o.callback[0], "refused callback not kept");
    rc = qparse("callback=a.b%5B1%5D", NULL, NULL, &o);
    ok(rc == 0 && !strcmp(o.callback, "a.b[1]"), "percent-encoded brackets decoded and accepted");
    char q[400];
    snprintf(q, sizeof q, "callback=%0200d", 0);
    q[9] = 'a';
    rc = qparse(q, NULL, NULL, &o);
    is_int(rc, PG_FB_ECALLBACK, "200-byte callback refused");
    rc = qparse("callback=", NULL, NULL, &o);
    is_int(rc, PG_FB_ECALLBACK, "empty callback refused");
}

/* Every prefix of a valid query parses without crashing and every error
 * has a reason. */
static void test_prefixes(void)
{
    const char *q = "transport=sse&format=json&last_event_id=17-42&token=x%20y&callback=a.b[1]";
    bool fine = true;
    for (size_t n = 0; n <= strlen(q); n++) {
        struct pg_fb_opts o;
        int rc = pg_fb_parse(q, n, "text/event-stream", 17, NULL, 0, &o);
        fine = fine && (rc <= 0) && pg_fb_strerror(rc)[0];
    }
    ok(fine, "every prefix of a query parses to a result or an error with a reason");
    ok(strcmp(pg_fb_strerror(-99), "") != 0, "unknown errors have a reason too");
}

int main(void)
{
    test_transport();
    test_format();
    test_cursor();
    test_callback();
    test_prefixes();
    return done_testing();
}
