/* fuzz_redis_bus.c — libFuzzer target for the Redis store's bus payload
 * codec (pg_bus_decode): any bytes, decoded from a buffer of exactly their
 * size; a decoded message must re-encode to the same bytes.
 * clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_redis_bus.c \
 *   src/message.c src/util.c src/buf.c src/utf8.c src/names.c src/log.c */
#include "redis_script.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct pg_bus_msg b;
    const char *why = NULL;
    if (pg_bus_decode(p, size, &b, &why) != PG_BUS_OK) {
        if (!why || !*why)
            abort();
    } else if (b.kind == PG_BUS_MESSAGE) {
        char ep[PG_REDIS_EPOCH_MAX], ch[PG_CHANNEL_MAX + 1], ev[PG_EVENT_MAX + 1];
        memcpy(ep, b.epoch, b.epoch_len);
        ep[b.epoch_len] = '\0';
        memcpy(ch, b.channel, b.channel_len);
        ch[b.channel_len] = '\0';
        memcpy(ev, b.event, b.event_len);
        ev[b.event_len] = '\0';
        size_t n;
        char *again = pg_bus_encode_message(ep, b.seq, b.ms, ch, ev, b.body, b.body_len, &n);
        struct pg_bus_msg c;
        if (pg_bus_decode(again, n, &c, &why) != PG_BUS_OK || c.seq != b.seq || c.ms != b.ms ||
            c.body_len != b.body_len || memcmp(c.body, b.body, b.body_len) != 0)
            abort();
        struct pg_message *m = pg_bus_message(ep, b.seq, b.ms, b.channel, b.channel_len, b.event,
                                              b.event_len, b.body, b.body_len);
        pg_message_unref(m);
        free(again);
    }
    free(p);
    return 0;
}
