/* test_ws_deflate.c — permessage-deflate: the RFC 7692 §7.2.3 example
 * payloads, inflating at every split point and one byte at a time, round
 * trips of many sizes (text, binary, compressible, random), the server frame
 * (RSV1, header length, the small and incompressible cases), every limit
 * (max_size exactly, one byte over, a zip bomb costing at most max + 1
 * bytes), and malformed input: bad data, bytes after the final block, a
 * message cut inside a block, invalid UTF-8, sticky errors.
 *
 * Every compressed input is copied to the end of a page followed by an
 * inaccessible page before it is inflated, so any read past its end faults
 * (picohttpparser's trick) whatever the sanitizer. */
#include "tap.h"
#include "buf.h"
#include "utf8.h"
#include "util.h"
#include "ws_codec.h"
#include "ws_deflate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

/* ---- input placed right before an unreadable page -------------------- */

static uint8_t *guard_base;
static size_t guard_size, page;

/* A copy of p[0..n) that ends exactly at an inaccessible page. */
static const uint8_t *guarded(const void *p, size_t n)
{
    size_t need = ((n + page - 1) / page) * page;
    if (need == 0)
        need = page;
    if (guard_base)
        munmap(guard_base, guard_size);
    guard_size = need + page;
    guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED)
        abort();
    mprotect(guard_base + need, page, PROT_NONE);
    uint8_t *at = guard_base + need - n;
    if (n)
        memcpy(at, p, n);
    return at;
}

/* ---- a sink collecting inflated bytes ---------------------------------- */

struct out {
    struct pg_buf b;
    size_t max_chunk;
    size_t calls;
};

static void sink(void *arg, const uint8_t *p, size_t n)
{
    struct out *o = arg;
    pg_buf_add(&o->b, p, n);
    if (n > o->max_chunk)
        o->max_chunk = n;
    o->calls++;
}

/* Inflates in[0..n) cut at the given split points (sorted, within n), then
 * ends the message. Returns 0 or the first error; the output is in *o. */
static int inflate_split(const void *in, size_t n, const size_t *cuts, size_t ncuts, uint64_t max,
                         bool text, struct out *o)
{
    struct pg_ws_inflater *z = pg_ws_inflater_new(max, text);
    size_t at = 0;
    int err = 0;
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i <= ncuts && !err; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        err = pg_ws_inflate(z, guarded((const uint8_t *)in + at, end - at), end - at, sink, o);
        at = end;
    }
    if (!err)
        err = pg_ws_inflate_end(z, sink, o);
    pg_ws_inflater_free(z);
    return err;
}

static int inflate_all(const void *in, size_t n, uint64_t max, bool text, struct out *o)
{
    return inflate_split(in, n, NULL, 0, max, text, o);
}

static bool out_is(const struct out *o, const void *want, size_t n)
{
    return o->b.len == n && (n == 0 || memcmp(o->b.p, want, n) == 0);
}

/* ---- RFC 7692 §7.2.3 examples ------------------------------------------ */

static const uint8_t hello_fixed[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
static const uint8_t hello_stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
static const uint8_t hello_bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
static const uint8_t hello_two_blocks[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff,
                                           0xca, 0xc9, 0xc9, 0x07, 0x00};

static void test_rfc_examples(void)
{
    static const struct {
        const char *name;
        const uint8_t *p;
        size_t n;
    } v[] = {
        {"7.2.3.1 fixed Huffman", hello_fixed, sizeof hello_fixed},
        {"7.2.3.3 stored block", hello_stored, sizeof hello_stored},
        {"7.2.3.4 BFINAL set", hello_bfinal, sizeof hello_bfinal},
        {"7.2.3.5 two blocks", hello_two_blocks, sizeof hello_two_blocks},
    };
    struct out o;

    for (size_t i = 0; i < PG_ARRAY_LEN(v); i++) {
        int err = inflate_all(v[i].p, v[i].n, 0, true, &o);
        ok(err == 0 && out_is(&o, "Hello", 5), "RFC 7692 %s inflates to Hello", v[i].name);
        pg_buf_free(&o.b);
        bool all = true;
        for (size_t cut = 0; cut <= v[i].n; cut++) {
            err = inflate_split(v[i].p, v[i].n, &cut, 1, 0, true, &o);
            all &= err == 0 && out_is(&o, "Hello", 5);
            pg_buf_free(&o.b);
        }
        ok(all, "RFC 7692 %s: every split point", v[i].name);
        size_t cuts[16];
        for (size_t k = 0; k + 1 < v[i].n; k++)
            cuts[k] = k + 1;
        err = inflate_split(v[i].p, v[i].n, cuts, v[i].n - 1, 0, true, &o);
        ok(err == 0 && out_is(&o, "Hello", 5), "RFC 7692 %s: one byte at a time", v[i].name);
        pg_buf_free(&o.b);
    }
    /* an empty message: no payload at all, "00" (empty stored block
     * header), and zlib's own empty sync flush "02 00" */
    ok(inflate_all(NULL, 0, 0, true, &o) == 0 && o.b.len == 0, "an empty compressed payload is an empty message");
    pg_buf_free(&o.b);
    ok(inflate_all("\x00", 1, 0, true, &o) == 0 && o.b.len == 0, "7.2.3.6: payload 00 is an empty message");
    pg_buf_free(&o.b);
    ok(inflate_all("\x02\x00", 2, 0, true, &o) == 0 && o.b.len == 0, "payload 02 00 is an empty message");
    pg_buf_free(&o.b);
    /* a sender that did not strip the tail (RFC 7692 §7.2.1 says it MUST):
     * our own tail then starts a block that never ends */
    int err = inflate_all("\xf2\x48\xcd\xc9\xc9\x07\x00\x00\x00\xff\xff", 11, 0, true, &o);
    is_int(err, PG_WS_INFLATE_UNENDED, "an unstripped 00 00 ff ff tail: UNENDED");
    pg_buf_free(&o.b);
}

/* ---- compressing ------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, int kind, unsigned seed)
{
    static const char words[] = "{\"sku\":\"SKU-10037\",\"qty\":2,\"price\":\"19.99\",\"name\":\"T-shirt \xc3\xa9t\xc3\xa9\"}";
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        if (kind == 0)
            p[i] = (uint8_t)words[i % (sizeof words - 1)];
        else if (kind == 1)
            p[i] = (uint8_t)rand();
        else
            p[i] = (uint8_t)('a' + rand() % 4);
    }
}

static void test_round_trips(void)
{
    static const size_t sizes[] = {0, 1, 2, 5, 63, 64, 65, 100, 125, 126, 1000, 4095, 16384, 16385,
                                   65535, 65536, 100000, 300000};
    uint8_t *data = malloc(300000);
    bool all = true, tails = true;

    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < PG_ARRAY_LEN(sizes); i++) {
            size_t n = sizes[i];
            fill(data, n, kind, (unsigned)(n + 7 * kind));
            if (kind == 0)
                n = pg_utf8_valid_prefix(data, n); /* whole code points only */
            struct pg_buf c = {0};
            pg_ws_deflate_payload(&c, data, n);
            tails &= !(c.len >= 4 && memcmp(c.p + c.len - 4, "\x00\x00\xff\xff", 4) == 0);
            struct out o;
            int err = inflate_all(c.p, c.len, n, kind == 0, &o);
            if (!(err == 0 && out_is(&o, data, n))) {
                all = false;
                printf("# round trip failed: kind %d size %zu err %d\n", kind, n, err);
            }
            if (n > PG_WS_INFLATE_CHUNK && o.max_chunk > PG_WS_INFLATE_CHUNK)
                all = false;
            pg_buf_free(&o.b);
            pg_buf_free(&c);
        }
    }
    ok(all, "round trips of 18 sizes x (text, random binary, 4-letter text) with max_size = size");
    ok(tails, "no compressed payload ends with 00 00 ff ff");
    /* the compressor is reset between messages: same input, same bytes */
    fill(data, 5000, 0, 1);
    struct pg_buf a = {0}, b = {0};
    pg_ws_deflate_payload(&a, data, 5000);
    pg_ws_deflate_payload(&b, "something else entirely", 23);
    pg_buf_free(&b);
    pg_ws_deflate_payload(&b, data, 5000);
    ok(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "no context takeover: a message compresses the same every time");
    pg_buf_free(&b);
    pg_ws_deflate_thread_cleanup();
    pg_ws_deflate_payload(&b, data, 5000);
    ok(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "the same after pg_ws_deflate_thread_cleanup");
    pg_buf_free(&a);
    pg_buf_free(&b);
    free(data);
}

/* Splits a server frame: returns the header length, sets rsv1, op, len. */
static size_t frame_head(const struct pg_buf *f, bool *rsv1, int *op, uint64_t *len)
{
    const uint8_t *p = (const uint8_t *)f->p;
    *rsv1 = p[0] & 0x40;
    *op = p[0] & 0x0F;
    if ((p[1] & 0x7F) < 126) {
        *len = p[1] & 0x7F;
        return 2;
    }
    if ((p[1] & 0x7F) == 126) {
        *len = (uint64_t)p[2] << 8 | p[3];
        return 4;
    }
    *len = 0;
    for (int i = 0; i < 8; i++)
        *len = *len << 8 | p[2 + i];
    return 10;
}

static void test_frames(void)
{
    struct pg_buf f = {0};
    bool rsv1;
    int op;
    uint64_t len;
    uint8_t *data = malloc(70000);

    ok(!pg_ws_deflate_frame(&f, PG_WS_OP_TEXT, "{\"type\":\"ping\"}", 15), "a 15-byte message is not compressed");
    ok(f.len == 17 && (uint8_t)f.p[0] == 0x81 && f.p[1] == 15 && memcmp(f.p + 2, "{\"type\":\"ping\"}", 15) == 0,
       "it is a plain text frame, RSV1 clear");
    pg_buf_free(&f);

    memset(data, 'a', PG_WS_DEFLATE_MIN - 1);
    ok(!pg_ws_deflate_frame(&f, PG_WS_OP_BINARY, data, PG_WS_DEFLATE_MIN - 1),
       "PG_WS_DEFLATE_MIN - 1 bytes, however compressible, go plain");
    pg_buf_free(&f);
    memset(data, 'a', PG_WS_DEFLATE_MIN);
    ok(pg_ws_deflate_frame(&f, PG_WS_OP_BINARY, data, PG_WS_DEFLATE_MIN), "PG_WS_DEFLATE_MIN compressible bytes are compressed");
    pg_buf_free(&f);

    static const size_t sizes[] = {64, 125, 500, 2048, 70000};
    for (size_t i = 0; i < PG_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        fill(data, n, 0, 3);
        n = pg_utf8_valid_prefix(data, n);
        bool z = pg_ws_deflate_frame(&f, PG_WS_OP_TEXT, data, n);
        size_t hl = frame_head(&f, &rsv1, &op, &len);
        struct out o;
        int err = inflate_all(f.p + hl, (size_t)len, 0, true, &o);
        ok(z && rsv1 && op == PG_WS_OP_TEXT && (uint8_t)f.p[0] & 0x80 && hl + len == f.len && len < n &&
           err == 0 && out_is(&o, data, n),
           "%zu bytes of JSON: one FIN text frame, RSV1, %s length, %llu bytes, inflates back", n,
           hl == 2 ? "7-bit" : hl == 4 ? "16-bit" : "64-bit", (unsigned long long)len);
        pg_buf_free(&o.b);
        pg_buf_free(&f);
    }
    fill(data, 1000, 1, 9);
    ok(!pg_ws_deflate_frame(&f, PG_WS_OP_BINARY, data, 1000), "1000 random bytes do not shrink: sent plain");
    frame_head(&f, &rsv1, &op, &len);
    ok(!rsv1 && op == PG_WS_OP_BINARY && len == 1000 && memcmp(f.p + 4, data, 1000) == 0,
       "as a plain binary frame carrying the bytes");
    pg_buf_free(&f);
    /* appends to what out already holds */
    pg_buf_adds(&f, "xyz");
    pg_ws_deflate_frame(&f, PG_WS_OP_TEXT, "hi", 2);
    ok(f.len == 7 && memcmp(f.p, "xyz\x81\x02hi", 7) == 0, "pg_ws_deflate_frame appends to out");
    pg_buf_free(&f);
    free(data);
}

/* ---- limits -------------------------------------------------------------- */

static void test_limits(void)
{
    uint8_t *data = calloc(1, 1 << 20);
    struct pg_buf c = {0};
    struct out o;

    memcpy(data, "0123456789", 10);
    pg_ws_deflate_payload(&c, data, 1000);
    ok(inflate_all(c.p, c.len, 1000, false, &o) == 0 && o.b.len == 1000, "max_size == message size: accepted");
    pg_buf_free(&o.b);
    int err = inflate_all(c.p, c.len, 999, false, &o);
    is_int(err, PG_WS_INFLATE_TOO_BIG, "max_size == size - 1: PG_WS_INFLATE_TOO_BIG");
    ok(o.b.len <= 999, "nothing past max_size reached the sink (%zu bytes)", o.b.len);
    is_int(pg_ws_inflate_close_code(err), 1009, "which closes with 1009");
    pg_buf_free(&o.b);
    pg_buf_free(&c);

    /* a zip bomb: 1 MiB of zeros is ~1 KB compressed */
    pg_ws_deflate_payload(&c, data, 1 << 20);
    ok(c.len < 2048, "1 MiB of zeros compresses to %zu bytes", c.len);
    struct pg_ws_inflater *z = pg_ws_inflater_new(4096, false);
    memset(&o, 0, sizeof o);
    err = pg_ws_inflate(z, guarded(c.p, c.len), c.len, sink, &o);
    is_int(err, PG_WS_INFLATE_TOO_BIG, "zip bomb with max_size 4096: TOO_BIG during the chunk");
    ok(pg_ws_inflater_total(z) <= 4097, "it inflated at most max_size + 1 bytes (%llu)",
       (unsigned long long)pg_ws_inflater_total(z));
    err = pg_ws_inflate(z, (const uint8_t *)"x", 1, sink, &o);
    is_int(err, PG_WS_INFLATE_TOO_BIG, "the error is sticky (inflate)");
    err = pg_ws_inflate_end(z, sink, &o);
    is_int(err, PG_WS_INFLATE_TOO_BIG, "the error is sticky (end)");
    pg_ws_inflater_free(z);
    pg_buf_free(&o.b);

    /* one byte at a time into the limit */
    z = pg_ws_inflater_new(100000, false);
    memset(&o, 0, sizeof o);
    err = 0;
    for (size_t i = 0; i < c.len && !err; i++)
        err = pg_ws_inflate(z, guarded(c.p + i, 1), 1, sink, &o);
    is_int(err, PG_WS_INFLATE_TOO_BIG, "zip bomb fed one byte at a time: TOO_BIG");
    ok(o.b.len <= 100000 && pg_ws_inflater_total(z) <= 100001, "still bounded by max_size + 1");
    pg_ws_inflater_free(z);
    pg_buf_free(&o.b);

    ok(inflate_all(c.p, c.len, 0, false, &o) == 0 && o.b.len == 1 << 20 && o.max_chunk <= PG_WS_INFLATE_CHUNK,
       "max_size 0 means no limit; sink chunks never exceed PG_WS_INFLATE_CHUNK");
    pg_buf_free(&o.b);
    pg_buf_free(&c);
    free(data);
}

/* ---- malformed input ------------------------------------------------------ */

static void test_malformed(void)
{
    struct out o;
    int err;

    err = inflate_all("\xff\xff\xff\xff\xff", 5, 0, false, &o);
    is_int(err, PG_WS_INFLATE_BAD_DATA, "BTYPE 11 (reserved): BAD_DATA");
    is_int(pg_ws_inflate_close_code(err), 1007, "which closes with 1007");
    pg_buf_free(&o.b);
    err = inflate_all("\x00\x05\x00\x00\x00Hello", 10, 0, false, &o);
    is_int(err, PG_WS_INFLATE_BAD_DATA, "stored block whose NLEN is not ~LEN: BAD_DATA");
    pg_buf_free(&o.b);
    /* BFINAL then more bytes, in the same chunk and in a later one */
    err = inflate_all("\xf3\x48\xcd\xc9\xc9\x07\x00\x01", 8, 0, false, &o);
    is_int(err, PG_WS_INFLATE_TRAILING, "a byte after the final block: TRAILING");
    pg_buf_free(&o.b);
    size_t cut = 7;
    err = inflate_split("\xf3\x48\xcd\xc9\xc9\x07\x00\x01", 8, &cut, 1, 0, false, &o);
    is_int(err, PG_WS_INFLATE_TRAILING, "a byte after the final block, in the next chunk: TRAILING");
    pg_buf_free(&o.b);
    /* a message cut inside a block: every proper prefix of the two-block
     * example that does not end on a boundary is refused */
    bool all = true;
    for (size_t n = 1; n < sizeof hello_fixed - 1; n++) {
        err = inflate_all(hello_fixed, n, 0, false, &o);
        all &= err == PG_WS_INFLATE_UNENDED || err == PG_WS_INFLATE_BAD_DATA;
        pg_buf_free(&o.b);
    }
    ok(all, "every truncation of the 7.2.3.1 payload inside its block is refused");
    /* a stored block announcing more bytes than it has */
    err = inflate_all("\x00\x05\x00\xfa\xff\x48\x65", 7, 0, false, &o);
    ok(err == PG_WS_INFLATE_UNENDED || err == PG_WS_INFLATE_BAD_DATA, "a short stored block is refused (%d)", err);
    pg_buf_free(&o.b);

    /* UTF-8: invalid in the middle, and cut at the end */
    struct pg_buf c = {0};
    pg_ws_deflate_payload(&c, "abc\xc0\xafxyz", 8);
    err = inflate_all(c.p, c.len, 0, true, &o);
    is_int(err, PG_WS_INFLATE_UTF8, "text with an overlong form: UTF8");
    pg_buf_free(&o.b);
    ok(inflate_all(c.p, c.len, 0, false, &o) == 0 && o.b.len == 8, "the same bytes as binary are fine");
    pg_buf_free(&o.b);
    pg_buf_free(&c);
    pg_ws_deflate_payload(&c, "caf\xc3", 4);
    err = inflate_all(c.p, c.len, 0, true, &o);
    is_int(err, PG_WS_INFLATE_UTF8, "text ending inside a sequence: UTF8 at the end");
    pg_buf_free(&o.b);
    pg_buf_free(&c);
    pg_ws_deflate_payload(&c, "caf\xc3\xa9", 5);
    size_t cuts[] = {1, 2, 3};
    ok(inflate_split(c.p, c.len, cuts, c.len >= 4 ? 3 : 0, 0, true, &o) == 0 && out_is(&o, "caf\xc3\xa9", 5),
       "text split anywhere is validated across chunks");
    pg_buf_free(&o.b);
    pg_buf_free(&c);

    /* a client that kept its context (violating client_no_context_takeover):
     * the second message refers back into the first one's window */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    uint8_t m1[256], m2[256];
    const char *text = "a sentence long enough to be referenced by the next message";
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = m1;
    zs.avail_out = sizeof m1;
    deflate(&zs, Z_SYNC_FLUSH);
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = m2;
    zs.avail_out = sizeof m2;
    deflate(&zs, Z_SYNC_FLUSH);
    size_t n2 = sizeof m2 - zs.avail_out - 4;
    deflateEnd(&zs);
    err = inflate_all(m2, n2, 0, true, &o);
    is_int(err, PG_WS_INFLATE_BAD_DATA, "a message referring to a previous one's window: BAD_DATA");
    pg_buf_free(&o.b);

    ok(strcmp(pg_ws_inflate_strerror(0), "no error") == 0 && strcmp(pg_ws_inflate_strerror(-99), "no error") == 0,
       "strerror of 0 and of an unknown value");
    bool fits = true;
    for (int e = -1; e >= -PG_WS_INFLATE_ERR_COUNT; e--)
        fits &= strlen(pg_ws_inflate_strerror(e)) <= 123 && pg_ws_inflate_close_code(e) >= 1007;
    ok(fits, "every why fits a close frame and maps to 1007 or 1009");
    pg_ws_inflater_free(NULL);
    ok(1, "pg_ws_inflater_free(NULL) is a no-op");
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    test_rfc_examples();
    test_round_trips();
    test_frames();
    test_limits();
    test_malformed();
    if (guard_base)
        munmap(guard_base, guard_size);
    pg_ws_deflate_thread_cleanup();
    return done_testing();
}
