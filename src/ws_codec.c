/* ws_codec.c — RFC 6455 framing, server side: parse client frames (unmasking
 * in place, one event per call) and write unmasked server frame headers.
 *
 * Why our own codec and not Debian's wslay 1.1.1 (the model we imitate):
 * wslay's event context embeds a 4 KiB input buffer in every connection and
 * copies each queued outgoing message into its own queue. pushgated must
 * hold 19,000 idle subscribers in under 2 KB each and share one encoded frame
 * among all subscribers of a channel (DESIGN.md I2), so it needs a parser
 * whose state is 32 bytes, that works on the connection's own input buffer,
 * and a writer that only produces headers. (libevent 2.1.12's evhttp cannot
 * hand a connection over after a 101 either, so the upgrade and the framing
 * are ours anyway; see ws_handshake.c.)
 *
 * Design: a frame header is parsed only once it is complete in the caller's
 * buffer (at most 14 bytes), so the parser never buffers header bytes;
 * control frames likewise wait until their whole payload (<= 125 bytes) is
 * in the buffer. Between calls only the position inside a data frame is
 * kept: remaining length, mask and mask phase, the open message's opcode,
 * flags and UTF-8 state. Every rule that can be checked from the first two
 * bytes is checked before the rest of the header arrives, and the declared
 * length is checked against the message limit before any payload arrives
 * (a 2^63-byte frame fails at once).
 *
 * Invariants: msg_opcode != 0 exactly while a data message is open, and
 * msg_len <= max_message_size then; remaining, mask and mask_off describe
 * the current frame only in PH_PAYLOAD; after an error every call answers
 * the same error and consumes nothing.
 *
 * Deliberate departures: a non-minimal length encoding (126 with a 16-bit
 * length < 126, 127 with a 64-bit length < 65536) is accepted, as browsers
 * and most servers do; RFC 6455 puts the "minimal" rule on the sender only.
 * Bytes after a received close frame are discarded, not parsed.
 */
#include "ws_codec.h"

#include "utf8.h"

#include <string.h>

_Static_assert(sizeof(struct pg_ws_parser) <= 40, "pg_ws_parser must stay small: one per connection");

enum { PH_HEADER, PH_PAYLOAD, PH_CLOSED, PH_ERROR };

enum {
    F_FIN = 1,   /* the current data frame is the message's last */
    F_RSV1 = 2,  /* the open message's first frame had RSV1 */
    F_UTF8 = 4,  /* the open message is text and is validated here */
};

static const struct {
    uint16_t code;
    const char *why;
} errors[PG_WS_ERR_COUNT] = {
    [-PG_WS_ERR_UNMASKED - 1] = {PG_WS_CLOSE_PROTOCOL, "client frame is not masked"},
    [-PG_WS_ERR_RSV - 1] = {PG_WS_CLOSE_PROTOCOL, "reserved bit set"},
    [-PG_WS_ERR_OPCODE - 1] = {PG_WS_CLOSE_PROTOCOL, "reserved opcode"},
    [-PG_WS_ERR_CTRL_FRAGMENTED - 1] = {PG_WS_CLOSE_PROTOCOL, "fragmented control frame"},
    [-PG_WS_ERR_CTRL_TOO_BIG - 1] = {PG_WS_CLOSE_PROTOCOL, "control frame over 125 bytes"},
    [-PG_WS_ERR_NO_MESSAGE - 1] = {PG_WS_CLOSE_PROTOCOL, "continuation frame without a message"},
    [-PG_WS_ERR_MESSAGE_OPEN - 1] = {PG_WS_CLOSE_PROTOCOL, "new data frame inside a fragmented message"},
    [-PG_WS_ERR_LENGTH - 1] = {PG_WS_CLOSE_PROTOCOL, "frame length has its most significant bit set"},
    [-PG_WS_ERR_TOO_BIG - 1] = {PG_WS_CLOSE_TOO_BIG, "message too big"},
    [-PG_WS_ERR_UTF8 - 1] = {PG_WS_CLOSE_INVALID_DATA, "text message is not valid UTF-8"},
    [-PG_WS_ERR_CLOSE_LENGTH - 1] = {PG_WS_CLOSE_PROTOCOL, "close frame with a 1-byte payload"},
    [-PG_WS_ERR_CLOSE_CODE - 1] = {PG_WS_CLOSE_PROTOCOL, "invalid close code"},
    [-PG_WS_ERR_CLOSE_UTF8 - 1] = {PG_WS_CLOSE_INVALID_DATA, "close reason is not valid UTF-8"},
};

const char *pg_ws_strerror(int err)
{
    if (err >= 0 || err < -PG_WS_ERR_COUNT)
        return "no error";
    return errors[-err - 1].why;
}

uint16_t pg_ws_err_close_code(int err)
{
    if (err >= 0 || err < -PG_WS_ERR_COUNT)
        return PG_WS_CLOSE_NORMAL;
    return errors[-err - 1].code;
}

bool pg_ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    if (code < 1000 || code > 1014)
        return false;
    return code != 1004 && code != 1005 && code != 1006;
}

void pg_ws_parser_init(struct pg_ws_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->phase = PH_HEADER;
    p->utf8 = PG_UTF8_ACCEPT;
}

/* Enters the error phase and describes it in *ev. */
static void fail(struct pg_ws_parser *p, int err, struct pg_ws_event *ev)
{
    p->phase = PH_ERROR;
    p->err = (int8_t)err;
    ev->type = PG_WS_EV_ERROR;
    ev->err = err;
    ev->why = pg_ws_strerror(err);
    ev->close_code = pg_ws_err_close_code(err);
}

/* XORs d[0..n) with the mask starting at mask index off; returns the mask
 * index of the byte after. Eight bytes at a time through a rotated key. */
static unsigned unmask(uint8_t *d, size_t n, const uint8_t mask[4], unsigned off)
{
    uint8_t key8[8];
    uint64_t key, w;
    size_t i = 0;

    for (unsigned k = 0; k < 8; k++)
        key8[k] = mask[(off + k) & 3];
    memcpy(&key, key8, 8);
    for (; n - i >= 8; i += 8) {
        memcpy(&w, d + i, 8);
        w ^= key;
        memcpy(d + i, &w, 8);
    }
    for (; i < n; i++)
        d[i] ^= key8[i & 7];
    return (unsigned)((off + n) & 3);
}

static uint64_t read_be(const uint8_t *b, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | b[i];
    return v;
}

/* The rules that the first two header bytes decide. Returns 0 or an error. */
static int check_first_bytes(const struct pg_ws_parser *p, uint8_t b0, uint8_t b1,
                             const struct pg_ws_limits *lim)
{
    unsigned op = b0 & 0x0F;
    bool fin = b0 & 0x80, rsv1 = b0 & 0x40;

    if (b0 & 0x30)
        return PG_WS_ERR_RSV;
    if ((op > PG_WS_OP_BINARY && op < PG_WS_OP_CLOSE) || op > PG_WS_OP_PONG)
        return PG_WS_ERR_OPCODE;
    if (rsv1 && !(lim->deflate && (op == PG_WS_OP_TEXT || op == PG_WS_OP_BINARY)))
        return PG_WS_ERR_RSV;
    if (op >= PG_WS_OP_CLOSE) {
        if (!fin)
            return PG_WS_ERR_CTRL_FRAGMENTED;
        if ((b1 & 0x7F) > PG_WS_MAX_CONTROL_PAYLOAD)
            return PG_WS_ERR_CTRL_TOO_BIG;
    } else if (op == PG_WS_OP_CONT && !p->msg_opcode) {
        return PG_WS_ERR_NO_MESSAGE;
    } else if (op != PG_WS_OP_CONT && p->msg_opcode) {
        return PG_WS_ERR_MESSAGE_OPEN;
    }
    if (!(b1 & 0x80))
        return PG_WS_ERR_UNMASKED;
    return 0;
}

/* Validates a close payload and fills the CLOSE event. Returns 0 or an error. */
static int close_event(uint8_t *pl, size_t n, struct pg_ws_event *ev)
{
    ev->type = PG_WS_EV_CLOSE;
    ev->data = pl;
    ev->len = n;
    if (n == 0) {
        ev->close_code = PG_WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1)
        return PG_WS_ERR_CLOSE_LENGTH;
    ev->close_code = (uint16_t)read_be(pl, 2);
    if (!pg_ws_close_code_valid(ev->close_code))
        return PG_WS_ERR_CLOSE_CODE;
    if (!pg_utf8_valid(pl + 2, n - 2))
        return PG_WS_ERR_CLOSE_UTF8;
    ev->close_reason = (const char *)pl + 2;
    ev->close_reason_len = n - 2;
    return 0;
}

/* A whole control frame is in buf: unmask it and describe it. */
static size_t control_frame(struct pg_ws_parser *p, uint8_t *buf, size_t hlen, size_t plen,
                            unsigned op, struct pg_ws_event *ev)
{
    uint8_t *pl = buf + hlen;
    int err;

    unmask(pl, plen, buf + hlen - 4, 0);
    if (op == PG_WS_OP_CLOSE) {
        err = close_event(pl, plen, ev);
        if (err) {
            fail(p, err, ev);
            return 0;
        }
        p->phase = PH_CLOSED;
    } else {
        ev->type = op == PG_WS_OP_PING ? PG_WS_EV_PING : PG_WS_EV_PONG;
        ev->data = pl;
        ev->len = plen;
    }
    return hlen + plen;
}

/* A data frame header of hlen bytes declaring flen payload bytes: start (or
 * continue) the message and enter the payload phase. */
static void data_frame(struct pg_ws_parser *p, const uint8_t *buf, size_t hlen, uint64_t flen,
                       const struct pg_ws_limits *lim)
{
    unsigned op = buf[0] & 0x0F;

    if (op != PG_WS_OP_CONT) {
        p->msg_opcode = (uint8_t)op;
        p->msg_len = 0;
        p->utf8 = PG_UTF8_ACCEPT;
        p->flags = 0;
        if (buf[0] & 0x40)
            p->flags |= F_RSV1;
        else if (op == PG_WS_OP_TEXT && lim->validate_utf8)
            p->flags |= F_UTF8;
    }
    if (buf[0] & 0x80)
        p->flags |= F_FIN;
    else
        p->flags &= (uint8_t)~F_FIN;
    p->msg_len += flen;
    p->remaining = flen;
    memcpy(p->mask, buf + hlen - 4, 4);
    p->mask_off = 0;
    p->phase = PH_PAYLOAD;
}

/* PH_HEADER: consumes a whole header (data frame: the header only; control
 * frame: header and payload) or nothing. Returns bytes consumed; ev->type
 * stays NEED_MORE when the caller should go on with the payload phase or
 * wait for more bytes. */
static size_t parse_header(struct pg_ws_parser *p, uint8_t *buf, size_t n,
                           const struct pg_ws_limits *lim, struct pg_ws_event *ev)
{
    unsigned op, len7, extra;
    uint64_t flen;
    size_t hlen;
    int err;

    if (n < 2)
        return 0;
    err = check_first_bytes(p, buf[0], buf[1], lim);
    if (err) {
        fail(p, err, ev);
        return 0;
    }
    op = buf[0] & 0x0F;
    len7 = buf[1] & 0x7F;
    extra = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    hlen = 2 + extra + 4;
    if (n < hlen)
        return 0;
    flen = extra ? read_be(buf + 2, extra) : len7;
    if (flen >> 63) {
        fail(p, PG_WS_ERR_LENGTH, ev);
        return 0;
    }
    if (op >= PG_WS_OP_CLOSE)
        return n < hlen + flen ? 0 : control_frame(p, buf, hlen, (size_t)flen, op, ev);
    if (lim->max_message_size && flen > lim->max_message_size - (op ? 0 : p->msg_len)) {
        fail(p, PG_WS_ERR_TOO_BIG, ev);
        return 0;
    }
    data_frame(p, buf, hlen, flen, lim);
    return hlen;
}

/* PH_PAYLOAD with nothing left of the frame: end the message or go back to
 * reading headers. Returns true when an event was produced. */
static bool frame_done(struct pg_ws_parser *p, struct pg_ws_event *ev)
{
    p->phase = PH_HEADER;
    if (!(p->flags & F_FIN))
        return false;
    if ((p->flags & F_UTF8) && p->utf8 != PG_UTF8_ACCEPT) {
        fail(p, PG_WS_ERR_UTF8, ev);
        return true;
    }
    ev->type = PG_WS_EV_MESSAGE_END;
    ev->opcode = p->msg_opcode;
    ev->rsv1 = p->flags & F_RSV1;
    p->msg_opcode = 0;
    p->msg_len = 0;
    p->flags = 0;
    p->utf8 = PG_UTF8_ACCEPT;
    return true;
}

/* PH_PAYLOAD with bytes available: unmask and deliver a chunk. Returns its
 * size (0 on error). */
static size_t payload_chunk(struct pg_ws_parser *p, uint8_t *buf, size_t n, struct pg_ws_event *ev)
{
    size_t chunk = p->remaining < n ? (size_t)p->remaining : n;

    p->mask_off = (uint8_t)unmask(buf, chunk, p->mask, p->mask_off);
    if (p->flags & F_UTF8) {
        p->utf8 = (uint8_t)pg_utf8_step(p->utf8, buf, chunk);
        if (p->utf8 == PG_UTF8_REJECT) {
            fail(p, PG_WS_ERR_UTF8, ev);
            return 0;
        }
    }
    p->remaining -= chunk;
    ev->type = PG_WS_EV_DATA;
    ev->opcode = p->msg_opcode;
    ev->rsv1 = p->flags & F_RSV1;
    ev->data = buf;
    ev->len = chunk;
    return chunk;
}

size_t pg_ws_parse(struct pg_ws_parser *p, uint8_t *buf, size_t len,
                   const struct pg_ws_limits *lim, struct pg_ws_event *ev)
{
    static const struct pg_ws_limits defaults = {0, false, true};
    static uint8_t no_bytes[1];
    size_t used = 0, n;

    memset(ev, 0, sizeof(*ev));
    ev->type = PG_WS_EV_NEED_MORE;
    if (!lim)
        lim = &defaults;
    if (!buf) /* (NULL, 0): no pointer arithmetic on NULL below */
        buf = no_bytes, len = 0;
    for (;;) {
        switch (p->phase) {
        case PH_HEADER:
            n = parse_header(p, buf + used, len - used, lim, ev);
            used += n;
            if (ev->type != PG_WS_EV_NEED_MORE || p->phase != PH_PAYLOAD)
                return used;
            break;
        case PH_PAYLOAD:
            if (p->remaining == 0) {
                if (frame_done(p, ev))
                    return used;
                break;
            }
            if (used == len)
                return used;
            return used + payload_chunk(p, buf + used, len - used, ev);
        case PH_CLOSED:
            return len;
        default:
            fail(p, p->err, ev);
            return 0;
        }
    }
}

size_t pg_ws_frame_header(uint8_t out[10], int opcode, bool fin, bool rsv1, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t pg_ws_close_frame(uint8_t *out, uint16_t code, const char *reason)
{
    size_t rlen = 0;

    if (code == 0 || code == PG_WS_CLOSE_NO_STATUS)
        return pg_ws_frame_header(out, PG_WS_OP_CLOSE, true, false, 0);
    if (reason) {
        rlen = strnlen(reason, PG_WS_MAX_CONTROL_PAYLOAD - 2);
        rlen = pg_utf8_valid_prefix(reason, rlen);
    }
    pg_ws_frame_header(out, PG_WS_OP_CLOSE, true, false, 2 + rlen);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    memcpy(out + 4, reason ? reason : "", rlen);
    return 4 + rlen;
}
