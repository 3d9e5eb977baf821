/* fuzz_ws_codec.c — libFuzzer target for the WebSocket frame parser.
 *
 * Input layout: byte 0 chooses the limits (bit 0 deflate, bit 1
 * validate_utf8, bits 2-3 the scale of max_message_size: none, bytes,
 * 64 KiB units, 4 GiB units), bytes 1-2 the limit value, bytes 3-4 seed the
 * split points; the rest is the client byte stream. The stream is parsed
 * twice, whole and in fuzzer-chosen pieces, each call on an exact-size heap
 * copy of the unconsumed bytes (so ASan sees any overrun). The target aborts
 * when an event view leaves the consumed bytes, when more than len bytes are
 * consumed, when a call loops without progress, or when the two runs disagree
 * on the split-independent event log (a message's data is hashed as a whole
 * at MESSAGE_END). */
#include "ws_codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct log {
    uint64_t h;       /* hash of the event sequence */
    uint64_t msg;     /* hash of the open message's data so far */
    uint64_t msg_len;
    bool error;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t mix_u(uint64_t h, uint64_t v)
{
    return mix(h, &v, sizeof(v));
}

static void check_view(const void *v, size_t n, const uint8_t *buf, size_t used)
{
    const uint8_t *p = v;
    if (n && (!p || p < buf || p + n > buf + used))
        abort();
}

/* Records one event; returns false once the run must stop. */
static bool record(struct log *lg, const struct pg_ws_event *ev, const uint8_t *buf, size_t used)
{
    switch (ev->type) {
    case PG_WS_EV_NEED_MORE:
        return true;
    case PG_WS_EV_DATA:
        check_view(ev->data, ev->len, buf, used);
        if (ev->len == 0)
            abort();
        lg->msg = mix(lg->msg, ev->data, ev->len);
        lg->msg_len += ev->len;
        return true;
    case PG_WS_EV_MESSAGE_END:
        lg->h = mix_u(mix_u(mix_u(lg->h, 100 + ev->opcode + 10 * ev->rsv1), lg->msg), lg->msg_len);
        lg->msg = 0xcbf29ce484222325ull;
        lg->msg_len = 0;
        return true;
    case PG_WS_EV_PING:
    case PG_WS_EV_PONG:
        check_view(ev->data, ev->len, buf, used);
        if (ev->len > PG_WS_MAX_CONTROL_PAYLOAD)
            abort();
        lg->h = mix(mix_u(lg->h, ev->type), ev->data, ev->len);
        return true;
    case PG_WS_EV_CLOSE:
        check_view(ev->close_reason, ev->close_reason_len, buf, used);
        lg->h = mix(mix_u(mix_u(lg->h, ev->type), ev->close_code), ev->close_reason,
                    ev->close_reason_len);
        return true;
    case PG_WS_EV_ERROR:
        if (!ev->why || (ev->close_code != 1002 && ev->close_code != 1007 && ev->close_code != 1009))
            abort();
        lg->h = mix_u(mix_u(lg->h, ev->close_code), (uint64_t)(int64_t)ev->err);
        lg->error = true;
        return false;
    }
    abort();
}

/* Parses everything in pending[0..*have) until NEED_MORE or ERROR. */
static bool drain(struct pg_ws_parser *p, uint8_t *pending, size_t *have,
                  const struct pg_ws_limits *lim, struct log *lg)
{
    struct pg_ws_event ev;
    size_t guard = 2 * *have + 4;

    for (;;) {
        uint8_t *exact = malloc(*have ? *have : 1);
        size_t used;
        bool go;

        memcpy(exact, pending, *have);
        used = pg_ws_parse(p, exact, *have, lim, &ev);
        if (used > *have || guard-- == 0)
            abort();
        go = record(lg, &ev, exact, used);
        memcpy(pending, exact + used, *have - used);
        *have -= used;
        free(exact);
        if (!go || ev.type == PG_WS_EV_NEED_MORE)
            return go;
    }
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* One run; piece sizes from seed (0: the whole stream at once). */
static struct log run(const uint8_t *in, size_t n, const struct pg_ws_limits *lim, uint32_t seed)
{
    struct log lg = {0xcbf29ce484222325ull, 0xcbf29ce484222325ull, 0, false};
    struct pg_ws_parser p;
    uint8_t *pending = malloc(n ? n : 1);
    size_t have = 0, fed = 0, maxpiece = 1 + (seed >> 24) % 40;

    pg_ws_parser_init(&p);
    while (fed < n) {
        size_t piece = seed ? 1 + next_rand(&seed) % maxpiece : n;
        if (piece > n - fed)
            piece = n - fed;
        memcpy(pending + have, in + fed, piece);
        have += piece;
        fed += piece;
        if (!drain(&p, pending, &have, lim, &lg))
            break;
    }
    if (!lg.error)
        lg.h = mix_u(mix_u(mix_u(lg.h, lg.msg), lg.msg_len), have);
    free(pending);
    return lg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned scale[4] = {0, 0, 16, 32};
    struct pg_ws_limits lim;
    struct log whole, split;
    uint32_t seed;

    if (size < 5)
        return 0;
    lim.deflate = data[0] & 1;
    lim.validate_utf8 = data[0] & 2;
    lim.max_message_size = ((data[0] >> 2) & 3) ? (uint64_t)(data[1] | data[2] << 8) << scale[(data[0] >> 2) & 3] : 0;
    seed = (uint32_t)(data[3] | data[4] << 8) * 2654435761u | 1;
    data += 5;
    size -= 5;

    whole = run(data, size, &lim, 0);
    split = run(data, size, &lim, seed);
    if (whole.h != split.h || whole.error != split.error)
        abort();
    return 0;
}
