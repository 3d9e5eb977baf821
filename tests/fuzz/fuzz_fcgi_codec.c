/* fuzz_fcgi_codec.c — libFuzzer target for src/fcgi_codec.c.
 *
 * Input layout: byte 0 picks split points (the input is fed to the
 * decoder in pieces whose sizes come from the following bytes when bit 0
 * is set, else whole); the rest is a byte stream of FastCGI records. Checks:
 *   - the decoder consumes exactly what it is given, never more, and the
 *     records it reports are the same whatever the split points;
 *   - content of PARAMS records, parsed as name-value pairs, never reads
 *     past its end (each copied into an exact-size allocation);
 *   - STDOUT content, parsed as a CGI response head, returns a length
 *     within the input or an error;
 *   - re-encoding the reported stream records and decoding them again
 *     gives the same records.
 * Link with src/fcgi_codec.c src/util.c. */
#include "fcgi_codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct acc {
    uint8_t *p;
    size_t len, cap;
};

static void add(struct acc *a, const void *p, size_t n)
{
    if (a->len + n > a->cap) {
        a->cap = (a->len + n) * 2 + 64;
        a->p = realloc(a->p, a->cap);
        CHECK(a->p);
    }
    if (n)
        memcpy(a->p + a->len, p, n);
    a->len += n;
}

/* Records as "type id len content" in a flat log. */
static int record(void *ud, uint8_t type, uint16_t id, const uint8_t *data, size_t len, int flags)
{
    struct acc *a = ud;
    uint8_t h[4] = {type, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)flags};
    add(a, h, (flags & PG_FCGI_FIRST) ? 3 : 0);
    add(a, data, len);
    if (flags & PG_FCGI_LAST)
        add(a, "|", 1);
    if (type == PG_FCGI_PARAMS && len) {
        uint8_t *copy = malloc(len);
        CHECK(copy);
        memcpy(copy, data, len);
        pg_fcgi_parse_nv(copy, len, NULL, NULL);
        free(copy);
    }
    if (type == PG_FCGI_STDOUT && len) {
        char *copy = malloc(len);
        CHECK(copy);
        memcpy(copy, data, len);
        struct pg_cgi_header h2[16];
        size_t nh = 16;
        int st;
        long r = pg_cgi_parse_head(copy, len, &st, h2, &nh);
        CHECK(r < 0 || ((size_t)r <= len && nh <= 16 && st >= 100 && st <= 599));
        free(copy);
    }
    if (type == PG_FCGI_BEGIN_REQUEST) {
        uint16_t role;
        uint8_t fl;
        pg_fcgi_parse_begin(data, len, &role, &fl);
    }
    return 0;
}

static long feed(const uint8_t *p, size_t n, const uint8_t *splits, size_t nsplits, struct acc *log)
{
    struct pg_fcgi_decoder d;
    pg_fcgi_decoder_init(&d);
    size_t i = 0, s = 0;
    while (i < n) {
        size_t piece = nsplits ? (size_t)splits[s++ % nsplits] + 1 : n - i;
        if (piece > n - i)
            piece = n - i;
        uint8_t *copy = malloc(piece);
        CHECK(copy);
        memcpy(copy, p + i, piece);
        bool stopped;
        long used = pg_fcgi_decode(&d, copy, piece, record, log, &stopped);
        free(copy);
        if (used < 0)
            return used;
        CHECK((size_t)used == piece && !stopped);
        i += piece;
    }
    return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool split = data[0] & 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct acc whole = {0}, pieces = {0};
    long r1 = feed(p, n, NULL, 0, &whole);
    long r2 = feed(p, n, split ? p : NULL, split ? (n < 16 ? n : 16) : 0, &pieces);
    CHECK((r1 < 0) == (r2 < 0));
    if (r1 >= 0)
        CHECK(whole.len == pieces.len && (whole.len == 0 || memcmp(whole.p, pieces.p, whole.len) == 0));
    /* encoder round trip on a stream built from the input */
    size_t sz = pg_fcgi_stream_size(n);
    uint8_t *enc = malloc(sz);
    CHECK(enc);
    CHECK(pg_fcgi_put_stream(enc, PG_FCGI_STDOUT, 3, p, n) == sz);
    struct acc again = {0};
    CHECK(feed(enc, sz, NULL, 0, &again) == (long)sz);
    free(enc);
    free(whole.p);
    free(pieces.p);
    free(again.p);
    return 0;
}
