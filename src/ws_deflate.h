/* ws_deflate.h — permessage-deflate (RFC 7692) payloads, with no context
 * takeover in either direction: compress one server message into a complete
 * frame, and inflate one client message incrementally under a size bound.
 * A codec: zlib only, no I/O, no event2/ include.
 *
 * Sending, once per message (the frame is then shared by every subscriber
 * that negotiated the extension):
 *
 *     struct pg_buf f = {0};
 *     pg_ws_deflate_frame(&f, PG_WS_OP_TEXT, payload, len);
 *
 * Receiving one message whose first frame had RSV1 (the inflater exists only
 * from its first chunk to its end, so an idle connection holds none):
 *
 *     struct pg_ws_inflater *z = pg_ws_inflater_new(max_message_size, is_text);
 *     err = pg_ws_inflate(z, chunk, n, sink, arg);      for each DATA chunk
 *     err = pg_ws_inflate_end(z, sink, arg);            at MESSAGE_END
 *     pg_ws_inflater_free(z);                           always, also after an error
 *
 * sink(arg, data, len) receives the inflated bytes in order, in chunks of at
 * most PG_WS_INFLATE_CHUNK bytes; data is valid during the call only.
 */
#ifndef PG_WS_DEFLATE_H
#define PG_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_buf;

/* Payloads shorter than this are sent uncompressed (RSV1 clear). Measured
 * on JSON: 16, 32 and 48 bytes compress to 18, 33 and 48; 64 to 61, 76 to
 * 70, 108 to 96: below 64 bytes deflate saves nothing and still costs the
 * receiver an inflate. */
#define PG_WS_DEFLATE_MIN 64

/* zlib level for server messages: each is compressed once, whatever the
 * number of subscribers. A 1.9 KB JSON order update: level 6 takes ~240k
 * instructions (~15 us here) for 25% of its size, level 1 ~190k for 27%,
 * level 9 ~250k for 25%. */
#ifndef PG_WS_DEFLATE_LEVEL
#define PG_WS_DEFLATE_LEVEL 6
#endif

#define PG_WS_INFLATE_CHUNK 16384

/* Appends to out one complete unmasked data frame (FIN set, opcode TEXT or
 * BINARY) carrying payload[0..len): compressed with RSV1 set, or
 * uncompressed with RSV1 clear when len < PG_WS_DEFLATE_MIN or compression
 * would not shrink it. Returns true when the frame is compressed. Aborts on
 * out-of-memory only. Any thread may call it: each thread keeps its own
 * compressor (thread-local, about 260 KB, made on first use). */
bool pg_ws_deflate_frame(struct pg_buf *out, int opcode, const void *payload, size_t len);

/* Appends the RFC 7692 compressed form of in[0..len) to out: a raw deflate
 * stream of a fresh compressor ended by a sync flush whose trailing
 * 00 00 ff ff is removed (§7.2.1). */
void pg_ws_deflate_payload(struct pg_buf *out, const void *in, size_t len);

/* Frees this thread's compressor (it is re-created on next use). */
void pg_ws_deflate_thread_cleanup(void);

/* Inflate errors: small negative values, each with a close code and a static
 * why usable as a close reason. */
enum pg_ws_inflate_err {
    PG_WS_INFLATE_TOO_BIG = -1,   /* 1009 inflated message over the limit */
    PG_WS_INFLATE_BAD_DATA = -2,  /* 1007 not a valid deflate stream */
    PG_WS_INFLATE_TRAILING = -3,  /* 1007 bytes after the final deflate block */
    PG_WS_INFLATE_UNENDED = -4,   /* 1007 message does not end at a block boundary */
    PG_WS_INFLATE_UTF8 = -5,      /* 1007 inflated text message is not UTF-8 */
};
#define PG_WS_INFLATE_ERR_COUNT 5

typedef void (*pg_ws_inflate_sink)(void *arg, const uint8_t *data, size_t len);

struct pg_ws_inflater;

/* A fresh inflater for one message: at most max_size inflated bytes (0: no
 * limit); text: validate the inflated bytes as UTF-8. About 7 KB, plus
 * zlib's 32 KB window once output is produced, both freed by
 * pg_ws_inflater_free. */
struct pg_ws_inflater *pg_ws_inflater_new(uint64_t max_size, bool text);

/* Inflates in[0..n) (a compressed chunk, already unmasked), passing the
 * output to sink. Never inflates more than max_size + 1 bytes in all, so a
 * "zip bomb" costs at most the limit. Returns 0 or an enum
 * pg_ws_inflate_err; after an error the inflater is only good for
 * pg_ws_inflater_free. */
int pg_ws_inflate(struct pg_ws_inflater *z, const uint8_t *in, size_t n,
                  pg_ws_inflate_sink sink, void *arg);

/* The message ended: appends the 00 00 ff ff tail, flushes the last output
 * to sink, and checks that the stream ended on a block boundary and (text)
 * is complete UTF-8. Returns 0 or an enum pg_ws_inflate_err. */
int pg_ws_inflate_end(struct pg_ws_inflater *z, pg_ws_inflate_sink sink, void *arg);

/* Inflated bytes so far. */
uint64_t pg_ws_inflater_total(const struct pg_ws_inflater *z);

/* NULL is ignored. */
void pg_ws_inflater_free(struct pg_ws_inflater *z);

const char *pg_ws_inflate_strerror(int err);
uint16_t pg_ws_inflate_close_code(int err);

#endif
