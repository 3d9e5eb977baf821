/* test_redis_script.c — the Redis store's codec (redis_script.c): the bus
 * payloads (known vectors, every truncation, malformed input) and the
 * replay reply reader (hand-built hiredis replies, merged by seq). The Lua
 * scripts themselves run against a real redis-server in the .py tests. */
#include "../unit/tap.h"
#include "redis_script.c"

#include <stdlib.h>

/* (is_int evaluates its arguments twice: call first, then check.) */
static int decode(const char *s, struct pg_bus_msg *b, const char **why)
{
    return pg_bus_decode(s, strlen(s), b, why);
}

static bool view_is(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void test_vectors(void)
{
    struct pg_bus_msg b;
    const char *why = NULL;
    is_int(decode("m\nabc123\n42\n1700000000123\nroom.1\nchat\nhello\nworld", &b, &why), PG_BUS_OK,
           "message with an event decodes");
    ok(b.kind == PG_BUS_MESSAGE && view_is(b.epoch, b.epoch_len, "abc123") && b.seq == 42 &&
           b.ms == 1700000000123ull, "kind, epoch, seq, time");
    ok(view_is(b.channel, b.channel_len, "room.1") && view_is(b.event, b.event_len, "chat"),
       "channel and event");
    ok(view_is(b.body, b.body_len, "hello\nworld"), "the body is the tail, newlines and all");
    is_int(decode("m\n1\n1\n0\nc\n\n", &b, &why), PG_BUS_OK, "no event, empty body");
    ok(b.event_len == 0 && b.body_len == 0, "event and body empty");
    is_int(decode("d\nep\n7\nuser:9", &b, &why), PG_BUS_OK, "delete decodes");
    ok(b.kind == PG_BUS_DELETE && b.seq == 7 && view_is(b.channel, b.channel_len, "user:9"), "delete fields");
    is_int(decode("h\nep\n123", &b, &why), PG_BUS_OK, "beat decodes");
    ok(b.kind == PG_BUS_BEAT && b.seq == 123, "beat counter");
    is_int(decode("h\nep\n18446744073709551615", &b, &why), PG_BUS_OK, "largest counter");
    ok(b.seq == UINT64_MAX, "UINT64_MAX");
}

static void test_binary_body(void)
{
    const char body[] = {'a', 0, '\n', (char)0xff, 'z'};
    size_t n;
    char *p = pg_bus_encode_message("e1", 9, 5, "ch", NULL, body, sizeof body, &n);
    struct pg_bus_msg b;
    const char *why;
    is_int(pg_bus_decode(p, n, &b, &why), PG_BUS_OK, "encoded message with a binary body decodes");
    ok(b.body_len == sizeof body && memcmp(b.body, body, sizeof body) == 0, "binary body intact");
    ok(b.event_len == 0 && b.seq == 9 && b.ms == 5, "no event; seq and time");
    free(p);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "", "m", "x\nep\n1", "m\n", "m\nEP\n1\n0\nc\n\nb", "m\n\n1\n0\nc\n\nb",
        "m\n012345678901234567890123\n1\n0\nc\n\n", "m\nep\n\n0\nc\n\n", "m\nep\n1x\n0\nc\n\n",
        "m\nep\n184467440737095516160\n0\nc\n\n", "m\nep\n18446744073709551616\n0\nc\n\n",
        "m\nep\n1\n-1\nc\n\n", "m\nep\n1\n0\nbad channel\n\n", "m\nep\n1\n0\n\n\n",
        "m\nep\n1\n0\nc\npushgate.x\n", "m\nep\n1\n0\nc\nev ent\n", "d\nep\n1\n", "d\nep\n1\nb@d!",
        "h\nep\n", "h\nep\n1\n", "mm\nep\n1",
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++) {
        struct pg_bus_msg b;
        const char *why = NULL;
        int rc = decode(bad[i], &b, &why);
        ok(rc == PG_BUS_EBAD && why && *why, "malformed payload %zu refused (%s)", i, why ? why : "?");
    }
}

/* Every prefix of a valid message: decodes or is refused, never overreads
 * (each prefix is copied into a buffer of exactly its size for ASan). */
static void test_truncations(void)
{
    const char full[] = "m\nep1\n12\n34\nchan\nev\nbody";
    size_t n = sizeof full - 1, decoded = 0;
    for (size_t k = 0; k <= n; k++) {
        char *p = pg_xmalloc(k ? k : 1);
        memcpy(p, full, k);
        struct pg_bus_msg b;
        const char *why;
        if (pg_bus_decode(p, k, &b, &why) == PG_BUS_OK)
            decoded++;
        free(p);
    }
    /* only the prefixes that end inside the body (or right before it) decode */
    is_int(decoded, 5, "prefixes that still hold every field decode, the others are refused");
}

/* ---- replay replies ---- */

static redisReply *str(const char *s)
{
    redisReply *r = pg_xcalloc(1, sizeof *r);
    r->type = REDIS_REPLY_STRING;
    r->str = pg_xstrdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *num(long long v)
{
    redisReply *r = pg_xcalloc(1, sizeof *r);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *arr(size_t n, redisReply **e)
{
    redisReply *r = pg_xcalloc(1, sizeof *r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = pg_xmalloc(n * sizeof *e);
    memcpy(r->element, e, n * sizeof *e);
    return r;
}

static void reply_free(redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static void test_replay_reply(void)
{
    const char *names[] = {"a", "b"};
    size_t lens[] = {1, 1};
    redisReply *e[] = {
        str("ep9"), str("20"), str("01"),
        num(1), str("3"), str("1000"), str(""), str("a3"),
        num(1), str("7"), str("1000"), str("ev"), str("a7"),
        num(2), str("5"), str("1000"), str(""), str("b5"),
    };
    redisReply *r = arr(PG_ARRAY_LEN(e), e);
    char epoch[PG_REDIS_EPOCH_MAX], flags[2];
    uint64_t counter = 0;
    struct pg_message **msgs;
    size_t n_msgs;
    const char *why;
    int rc = pg_redis_read_replay(r, names, lens, 2, epoch, &counter, flags, &msgs, &n_msgs, &why);
    is_int(rc, 0, "a replay reply reads");
    ok(strcmp(epoch, "ep9") == 0 && counter == 20 && flags[0] == '0' && flags[1] == '1',
       "epoch, counter, flags");
    is_int(n_msgs, 3, "three messages");
    ok(n_msgs == 3 && msgs[0]->seq == 3 && msgs[1]->seq == 5 && msgs[2]->seq == 7,
       "merged across channels by seq");
    ok(n_msgs == 3 && strcmp(msgs[1]->id, "ep9-5") == 0 && strcmp(msgs[1]->channel, "b") == 0 &&
           strcmp(msgs[2]->event, "ev") == 0 && msgs[0]->event == NULL,
       "ids, channels, events");
    ok(n_msgs == 3 && msgs[0]->created_wall_ns == 1000000000ull, "publish time becomes created_wall_ns");
    for (size_t i = 0; i < n_msgs; i++)
        pg_message_unref(msgs[i]);
    free(msgs);
    reply_free(r);

    /* malformed: an index out of range, a flag string of the wrong size */
    redisReply *e2[] = {str("ep9"), str("20"), str("00"), num(3), str("3"), str("1"), str(""), str("x")};
    r = arr(PG_ARRAY_LEN(e2), e2);
    rc = pg_redis_read_replay(r, names, lens, 2, epoch, &counter, flags, &msgs, &n_msgs, &why);
    is_int(rc, -1, "a channel index out of range is refused");
    reply_free(r);
    redisReply *e3[] = {str("ep9"), str("20"), str("0")};
    r = arr(PG_ARRAY_LEN(e3), e3);
    rc = pg_redis_read_replay(r, names, lens, 2, epoch, &counter, flags, &msgs, &n_msgs, &why);
    is_int(rc, -1, "flags for the wrong number of channels are refused");
    reply_free(r);
    redisReply *e4[] = {str("EP"), str("20"), str("00")};
    r = arr(PG_ARRAY_LEN(e4), e4);
    rc = pg_redis_read_replay(r, names, lens, 2, epoch, &counter, flags, &msgs, &n_msgs, &why);
    is_int(rc, -1, "a malformed epoch is refused");
    reply_free(r);
}

static void test_scripts(void)
{
    for (int i = 0; i < PG_RS_COUNT; i++)
        ok(strstr(pg_redis_script_text(i), "redis.call") && pg_redis_script_name(i)[0],
           "script %s has text", pg_redis_script_name(i));
    ok(pg_redis_epoch_valid("18c0ffee1234", 12) && !pg_redis_epoch_valid("", 0) &&
           !pg_redis_epoch_valid("ab-c", 4) && !pg_redis_epoch_valid("a23456789012345678901234", 24),
       "epoch alphabet and length");
}

int main(void)
{
    test_vectors();
    test_binary_body();
    test_malformed();
    test_truncations();
    test_replay_reply();
    test_scripts();
    return done_testing();
}
