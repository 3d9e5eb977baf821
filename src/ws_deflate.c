/* ws_deflate.c — permessage-deflate (RFC 7692) with no context takeover:
 * one server message -> one compressed frame, and one client message ->
 * inflated bytes under a size bound. A codec: zlib in, bytes out, no I/O.
 *
 * Design. Sending: each message is compressed by a compressor reset to a
 * fresh state (server_no_context_takeover), so the frame does not depend on
 * what a connection received before and the hub builds it once for every
 * deflate subscriber. The compressor is thread-local and reused
 * (deflateReset) rather than created per message: creating one allocates
 * ~260 KB. Output goes to a thread-local scratch buffer first so the
 * encoding kept with the message is sized to the compressed bytes, not to
 * deflateBound of the input. Receiving: an inflater lives only for one
 * message (client_no_context_takeover, always negotiated), so idle
 * connections hold no zlib state; its output is handed to a sink in chunks
 * of at most PG_WS_INFLATE_CHUNK bytes and never past max_size + 1 bytes.
 *
 * Invariants: a compressed frame's payload never ends with 00 00 ff ff (the
 * sync-flush tail is stripped, §7.2.1); an inflater's total never exceeds
 * max_size + 1; after an inflate error every call answers that error.
 *
 * Deliberate departures: small or incompressible payloads are sent without
 * compression (RSV1 clear), which RFC 7692 §6 allows per message; corrupt
 * compressed data closes with 1007 (invalid payload data, as Node's ws does)
 * rather than 1002; a client message must end on a deflate block boundary
 * (or with a final block), which RFC 7692 §7.2.2 implies and some servers do
 * not check, so a sender that leaves the 00 00 ff ff tail in is refused; an
 * empty compressed payload (no block at all) is taken as an empty message,
 * as zlib-based peers do. Measurements behind PG_WS_DEFLATE_MIN and PG_WS_DEFLATE_LEVEL are
 * in ws_deflate.h; bench/deflate-bench.c measures the daemon end to end.
 */
#include "ws_deflate.h"

#include "buf.h"
#include "utf8.h"
#include "util.h"
#include "ws_codec.h"

#include <stdlib.h>
#include <zlib.h>

#define SCRATCH_KEEP (64 * 1024) /* a larger scratch buffer is freed after use */

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    return pg_xcalloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    free(p);
}

/* ---- compressing ----------------------------------------------------- */

static __thread struct {
    z_stream z;
    bool ready;
    struct pg_buf scratch;
} tls;

static z_stream *compressor(void)
{
    if (!tls.ready) {
        memset(&tls.z, 0, sizeof tls.z);
        tls.z.zalloc = z_alloc;
        tls.z.zfree = z_free;
        if (deflateInit2(&tls.z, PG_WS_DEFLATE_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            abort(); /* only a bad parameter or out-of-memory can get here */
        tls.ready = true;
    } else {
        deflateReset(&tls.z);
    }
    return &tls.z;
}

void pg_ws_deflate_thread_cleanup(void)
{
    if (tls.ready)
        deflateEnd(&tls.z);
    tls.ready = false;
    pg_buf_free(&tls.scratch);
}

void pg_ws_deflate_payload(struct pg_buf *out, const void *in, size_t len)
{
    z_stream *z = compressor();
    z->next_in = (Bytef *)(uintptr_t)in;
    do {
        /* deflate takes uInt lengths: feed at most 1 GiB per call */
        size_t step = PG_MIN(len, (size_t)1 << 30);
        z->avail_in = (uInt)step;
        len -= step;
        int flush = len ? Z_NO_FLUSH : Z_SYNC_FLUSH;
        do {
            size_t room = deflateBound(z, z->avail_in) + 16;
            pg_buf_reserve(out, room);
            z->next_out = (Bytef *)out->p + out->len;
            z->avail_out = (uInt)room;
            deflate(z, flush); /* Z_OK or Z_BUF_ERROR (no progress): both fine */
            out->len += room - z->avail_out;
        } while (z->avail_out == 0 || z->avail_in);
    } while (len);
    /* a sync flush always ends with the empty stored block 00 00 ff ff */
    if (out->len >= 4 && memcmp(out->p + out->len - 4, sync_tail, 4) == 0)
        out->len -= 4;
    out->p[out->len] = '\0';
}

static void add_frame(struct pg_buf *out, int opcode, bool rsv1, const void *payload, size_t len)
{
    uint8_t h[10];
    size_t hl = pg_ws_frame_header(h, opcode, true, rsv1, len);
    pg_buf_reserve(out, hl + len);
    pg_buf_add(out, h, hl);
    pg_buf_add(out, payload, len);
}

bool pg_ws_deflate_frame(struct pg_buf *out, int opcode, const void *payload, size_t len)
{
    if (len < PG_WS_DEFLATE_MIN) {
        add_frame(out, opcode, false, payload, len);
        return false;
    }
    struct pg_buf *s = &tls.scratch;
    s->len = 0;
    pg_ws_deflate_payload(s, payload, len);
    bool compressed = s->len < len;
    if (compressed)
        add_frame(out, opcode, true, s->p, s->len);
    else
        add_frame(out, opcode, false, payload, len);
    if (s->cap > SCRATCH_KEEP)
        pg_buf_free(s);
    return compressed;
}

/* ---- inflating --------------------------------------------------------- */

struct pg_ws_inflater {
    z_stream z;
    uint64_t max;      /* inflated bytes allowed; 0: no limit */
    uint64_t total;    /* inflated bytes so far */
    uint32_t utf8;     /* pg_utf8 state when text */
    int err;           /* sticky error, 0 when none */
    bool text;
    bool ended;        /* a final (BFINAL) block was inflated */
};

static const struct {
    uint16_t code;
    const char *why;
} errors[PG_WS_INFLATE_ERR_COUNT] = {
    [-PG_WS_INFLATE_TOO_BIG - 1] = {PG_WS_CLOSE_TOO_BIG, "message too big once inflated"},
    [-PG_WS_INFLATE_BAD_DATA - 1] = {PG_WS_CLOSE_INVALID_DATA, "invalid compressed data"},
    [-PG_WS_INFLATE_TRAILING - 1] = {PG_WS_CLOSE_INVALID_DATA, "compressed data after the final block"},
    [-PG_WS_INFLATE_UNENDED - 1] = {PG_WS_CLOSE_INVALID_DATA,
                                    "compressed message does not end on a block boundary"},
    [-PG_WS_INFLATE_UTF8 - 1] = {PG_WS_CLOSE_INVALID_DATA, "text message is not valid UTF-8"},
};

const char *pg_ws_inflate_strerror(int err)
{
    if (err >= 0 || err < -PG_WS_INFLATE_ERR_COUNT)
        return "no error";
    return errors[-err - 1].why;
}

uint16_t pg_ws_inflate_close_code(int err)
{
    if (err >= 0 || err < -PG_WS_INFLATE_ERR_COUNT)
        return PG_WS_CLOSE_NORMAL;
    return errors[-err - 1].code;
}

struct pg_ws_inflater *pg_ws_inflater_new(uint64_t max_size, bool text)
{
    struct pg_ws_inflater *z = pg_xcalloc(1, sizeof *z);
    z->z.zalloc = z_alloc;
    z->z.zfree = z_free;
    if (inflateInit2(&z->z, -15) != Z_OK)
        abort(); /* only a bad parameter or out-of-memory can get here */
    z->max = max_size;
    z->text = text;
    z->utf8 = PG_UTF8_ACCEPT;
    return z;
}

void pg_ws_inflater_free(struct pg_ws_inflater *z)
{
    if (!z)
        return;
    inflateEnd(&z->z);
    free(z);
}

uint64_t pg_ws_inflater_total(const struct pg_ws_inflater *z)
{
    return z->total;
}

static int fail(struct pg_ws_inflater *z, int err)
{
    z->err = err;
    return err;
}

/* Accounts for and hands on got freshly inflated bytes. */
static int emit(struct pg_ws_inflater *z, const uint8_t *buf, size_t got,
                pg_ws_inflate_sink sink, void *arg)
{
    /* UTF-8 first: which error wins must not depend on the chunking, and
     * got never extends past byte max_size + 1 */
    if (z->text) {
        z->utf8 = pg_utf8_step(z->utf8, buf, got);
        if (z->utf8 == PG_UTF8_REJECT)
            return fail(z, PG_WS_INFLATE_UTF8);
    }
    z->total += got;
    if (z->max && z->total > z->max)
        return fail(z, PG_WS_INFLATE_TOO_BIG);
    if (got)
        sink(arg, buf, got);
    return 0;
}

/* Runs inflate over in[0..n) until the input is used up and no output is
 * pending, or the stream ended. *left: input bytes not consumed (only after
 * the end of the stream). */
static int run(struct pg_ws_inflater *z, const uint8_t *in, size_t n, int flush, size_t *left,
               pg_ws_inflate_sink sink, void *arg)
{
    uint8_t buf[PG_WS_INFLATE_CHUNK];

    z->z.next_in = (Bytef *)(uintptr_t)in;
    for (;;) {
        size_t step = PG_MIN(n, (size_t)1 << 30); /* zlib counts in uInt */
        size_t room = sizeof buf;
        if (z->max && z->max - z->total < room)
            room = (size_t)(z->max - z->total) + 1; /* one byte more shows "too big" */
        z->z.avail_in = (uInt)step;
        z->z.next_out = buf;
        z->z.avail_out = (uInt)room;
        int rc = inflate(&z->z, flush);
        size_t used = step - z->z.avail_in, got = room - z->z.avail_out;
        n -= used;
        /* output first: the error reported does not depend on how the
         * input was cut into chunks */
        int err = emit(z, buf, got, sink, arg);
        if (err)
            return err;
        if (rc == Z_STREAM_END)
            z->ended = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return fail(z, PG_WS_INFLATE_BAD_DATA);
        if (z->ended || (n == 0 && z->z.avail_out != 0) || (used == 0 && got == 0))
            break; /* the last test is a guard: zlib always progresses here */
    }
    *left = n;
    return 0;
}

int pg_ws_inflate(struct pg_ws_inflater *z, const uint8_t *in, size_t n,
                  pg_ws_inflate_sink sink, void *arg)
{
    size_t left = 0;

    if (z->err)
        return z->err;
    if (n == 0)
        return 0;
    if (z->ended)
        return fail(z, PG_WS_INFLATE_TRAILING);
    int err = run(z, in, n, Z_SYNC_FLUSH, &left, sink, arg);
    if (err)
        return err;
    return left ? fail(z, PG_WS_INFLATE_TRAILING) : 0;
}

int pg_ws_inflate_end(struct pg_ws_inflater *z, pg_ws_inflate_sink sink, void *arg)
{
    size_t left = 0;

    if (z->err)
        return z->err;
    if (!z->ended && z->z.total_in == 0) {
        /* an empty payload: no block at all, taken as an empty message */
    } else if (!z->ended) {
        /* Z_BLOCK stops right after the tail's empty stored block, where
         * data_type reports "at a block boundary" (+128) */
        int err = run(z, sync_tail, sizeof sync_tail, Z_BLOCK, &left, sink, arg);
        if (err)
            return err;
        if (!z->ended && (left || !(z->z.data_type & 128)))
            return fail(z, PG_WS_INFLATE_UNENDED);
    }
    if (z->text && z->utf8 != PG_UTF8_ACCEPT)
        return fail(z, PG_WS_INFLATE_UTF8);
    return 0;
}
