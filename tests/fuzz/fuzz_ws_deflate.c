/* fuzz_ws_deflate.c — libFuzzer target for permessage-deflate: inflating
 * arbitrary "compressed" client messages under a size limit, and the
 * compress -> inflate round trip of arbitrary bytes.
 *
 * Input layout: byte 0 chooses the mode (bit 0 text, bits 1-2 the scale of
 * max_size: none, bytes, KiB units, MiB units), bytes 1-2 the limit value,
 * bytes 3-4 seed the split points; the rest is the compressed message. It is
 * inflated twice, whole and in fuzzer-chosen pieces, each piece an
 * exact-size heap copy (so ASan sees any overread). The target aborts when
 * the two runs disagree (error, or output when both succeed), when more
 * than max_size + 1 bytes are inflated, when a successful message is over
 * max_size or (text) not UTF-8, when a sink chunk is empty or over
 * PG_WS_INFLATE_CHUNK, or when an error has no close code 1007/1009. Then
 * the same bytes are compressed and must inflate back to themselves. */
#include "buf.h"
#include "utf8.h"
#include "ws_deflate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
    uint64_t h;
    uint64_t len;
    uint32_t utf8;
    struct pg_buf keep;  /* the output itself, for the round trip */
    bool keep_it;
};

static void sink(void *arg, const uint8_t *p, size_t n)
{
    struct out *o = arg;
    if (n == 0 || n > PG_WS_INFLATE_CHUNK)
        abort();
    for (size_t i = 0; i < n; i++)
        o->h = (o->h ^ p[i]) * 0x100000001b3ull;
    o->len += n;
    o->utf8 = pg_utf8_step(o->utf8, p, n);
    if (o->keep_it)
        pg_buf_add(&o->keep, p, n);
}

static void out_init(struct out *o, bool keep)
{
    memset(o, 0, sizeof *o);
    o->h = 0xcbf29ce484222325ull;
    o->utf8 = PG_UTF8_ACCEPT;
    o->keep_it = keep;
}

/* Feeds p[0..n) in pieces whose sizes come from a small LCG seeded by seed
 * (seed 0: one piece). Returns 0 or the error. */
static int inflate_pieces(const uint8_t *p, size_t n, uint64_t max, bool text, unsigned seed,
                          struct out *o)
{
    struct pg_ws_inflater *z = pg_ws_inflater_new(max, text);
    uint32_t r = seed;
    size_t at = 0;
    int err = 0;

    while (at < n && !err) {
        size_t k = n - at;
        if (seed) {
            r = r * 1103515245u + 12345u;
            k = 1 + (r >> 16) % 97;
            if (k > n - at)
                k = n - at;
        }
        uint8_t *copy = malloc(k);
        memcpy(copy, p + at, k);
        err = pg_ws_inflate(z, copy, k, sink, o);
        free(copy);
        at += k;
    }
    if (!err)
        err = pg_ws_inflate_end(z, sink, o);
    if (pg_ws_inflater_total(z) > (max ? max + 1 : UINT64_MAX))
        abort();
    pg_ws_inflater_free(z);
    if (err && pg_ws_inflate_close_code(err) != 1007 && pg_ws_inflate_close_code(err) != 1009)
        abort();
    if (!err && ((max && o->len > max) || (text && o->utf8 != PG_UTF8_ACCEPT)))
        abort();
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    bool text = data[0] & 1;
    uint64_t v = (uint64_t)data[1] << 8 | data[2];
    static const uint64_t scale[4] = {0, 1, 1024, 1024 * 1024};
    uint64_t max = scale[(data[0] >> 1) & 3] * v;
    unsigned seed = (unsigned)data[3] << 8 | data[4];
    const uint8_t *p = data + 5;
    size_t n = size - 5;

    struct out whole, split;
    out_init(&whole, false);
    out_init(&split, false);
    int e1 = inflate_pieces(p, n, max, text, 0, &whole);
    int e2 = inflate_pieces(p, n, max, text, seed | 1, &split);
    if (e1 != e2 || (!e1 && (whole.h != split.h || whole.len != split.len)))
        abort();

    /* round trip: our compressor's output inflates back to the input */
    struct pg_buf c = {0};
    pg_ws_deflate_payload(&c, p, n);
    struct out back;
    out_init(&back, true);
    int e3 = inflate_pieces((const uint8_t *)c.p, c.len, n, false, seed, &back);
    if (e3 || back.len != n || (n && memcmp(back.keep.p, p, n) != 0))
        abort();
    pg_buf_free(&back.keep);
    pg_buf_free(&c);
    return 0;
}
