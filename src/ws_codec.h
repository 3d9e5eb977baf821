/* ws_codec.h — RFC 6455 frames, server side: an incremental frame parser that
 * unmasks in place and returns one event at a time, and the (unmasked) frame
 * writers. No I/O, no allocation. Why we do not use wslay: see ws_codec.c.
 *
 * Reading, the whole contract:
 *
 *     struct pg_ws_parser p;  pg_ws_parser_init(&p);
 *     for (;;) {
 *         size_t used = pg_ws_parse(&p, buf, len, &lim, &ev);
 *         ...handle ev (its pointers point into buf[0..used))...
 *         drain `used` bytes from the front of buf
 *         if (ev.type == PG_WS_EV_NEED_MORE) wait for more bytes;
 *         if (ev.type == PG_WS_EV_ERROR) send a close with ev.close_code, ev.why; stop reading;
 *     }
 *
 * Ownership: the caller owns buf. The parser writes into it (unmasking the
 * payload in place) and keeps no pointer into it between calls; event views
 * (data, close_reason) are valid until the caller drains or reuses those
 * bytes. A frame header is consumed only when complete and a control frame
 * only when its whole payload (<= 125 bytes) is in buf, so the caller's
 * buffer must be able to hold at least PG_WS_MAX_CONTROL_FRAME bytes; data
 * frame payload is delivered in chunks as it arrives.
 *
 * Events, in order for one data message: zero or more DATA chunks, then
 * MESSAGE_END (which may come from a call with len == 0: keep calling until
 * NEED_MORE). PING, PONG and CLOSE may come between a message's chunks.
 * After CLOSE the parser discards everything (NEED_MORE consuming all of
 * buf); after ERROR it answers the same ERROR forever, consuming nothing.
 */
#ifndef PG_WS_CODEC_H
#define PG_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PG_WS_OP_CONT = 0, PG_WS_OP_TEXT = 1, PG_WS_OP_BINARY = 2,
       PG_WS_OP_CLOSE = 8, PG_WS_OP_PING = 9, PG_WS_OP_PONG = 10 };

/* RFC 6455 §7.4 close codes we send or name. */
enum { PG_WS_CLOSE_NORMAL = 1000, PG_WS_CLOSE_GOING_AWAY = 1001, PG_WS_CLOSE_PROTOCOL = 1002,
       PG_WS_CLOSE_NO_STATUS = 1005, PG_WS_CLOSE_INVALID_DATA = 1007, PG_WS_CLOSE_POLICY = 1008,
       PG_WS_CLOSE_TOO_BIG = 1009, PG_WS_CLOSE_INTERNAL = 1011, PG_WS_CLOSE_TRY_AGAIN = 1013 };

/* Parser errors, one per rule broken; each maps to a close code and a static
 * why string (pg_ws_strerror). */
enum pg_ws_err {
    PG_WS_ERR_UNMASKED = -1,        /* 1002 client frame without mask */
    PG_WS_ERR_RSV = -2,             /* 1002 RSV bit not negotiated / not allowed here */
    PG_WS_ERR_OPCODE = -3,          /* 1002 reserved opcode */
    PG_WS_ERR_CTRL_FRAGMENTED = -4, /* 1002 control frame without FIN */
    PG_WS_ERR_CTRL_TOO_BIG = -5,    /* 1002 control payload > 125 */
    PG_WS_ERR_NO_MESSAGE = -6,      /* 1002 continuation without a started message */
    PG_WS_ERR_MESSAGE_OPEN = -7,    /* 1002 new data frame inside a fragmented message */
    PG_WS_ERR_LENGTH = -8,          /* 1002 64-bit length with the MSB set */
    PG_WS_ERR_TOO_BIG = -9,         /* 1009 message over max_message_size */
    PG_WS_ERR_UTF8 = -10,           /* 1007 text message not UTF-8 */
    PG_WS_ERR_CLOSE_LENGTH = -11,   /* 1002 close payload of 1 byte */
    PG_WS_ERR_CLOSE_CODE = -12,     /* 1002 close code not allowed on the wire */
    PG_WS_ERR_CLOSE_UTF8 = -13,     /* 1007 close reason not UTF-8 */
};
#define PG_WS_ERR_COUNT 13

#define PG_WS_MAX_CONTROL_PAYLOAD 125
#define PG_WS_MAX_HEADER 14                                  /* client: 2 + 8 + 4 mask */
#define PG_WS_MAX_CONTROL_FRAME (PG_WS_MAX_HEADER + PG_WS_MAX_CONTROL_PAYLOAD)
#define PG_WS_CLOSE_FRAME_MAX (2 + PG_WS_MAX_CONTROL_PAYLOAD) /* server close frame */

struct pg_ws_limits {
    uint64_t max_message_size; /* payload bytes of one message on the wire (compressed
                                  when RSV1); 0 means no limit */
    bool deflate;              /* permessage-deflate negotiated: RSV1 allowed on a data
                                  message's first frame */
    bool validate_utf8;        /* check text messages; never applied to a message whose
                                  RSV1 is set (the caller validates after inflating) */
};

/* Per-connection parser state: 32 bytes on LP64 (checked by a static
 * assertion). Everything else a frame needs is read from the caller's buffer
 * in the call that consumes it. Fields are private to ws_codec.c. */
struct pg_ws_parser {
    uint64_t remaining;  /* payload bytes of the current data frame not yet delivered */
    uint64_t msg_len;    /* declared payload bytes of the open data message so far */
    uint8_t mask[4];     /* masking key of the current data frame */
    uint8_t mask_off;    /* 0..3: mask index of the next payload byte */
    uint8_t phase;       /* header / payload / closed / error */
    uint8_t msg_opcode;  /* TEXT or BINARY while a data message is open, else 0 */
    uint8_t flags;       /* FIN of the current frame, RSV1 and UTF-8 check of the message */
    uint8_t utf8;        /* pg_utf8 state of the open text message */
    int8_t err;          /* enum pg_ws_err once in the error phase */
};

enum pg_ws_ev { PG_WS_EV_NEED_MORE, PG_WS_EV_DATA, PG_WS_EV_MESSAGE_END, PG_WS_EV_PING,
                PG_WS_EV_PONG, PG_WS_EV_CLOSE, PG_WS_EV_ERROR };

struct pg_ws_event {
    enum pg_ws_ev type;
    int opcode;               /* DATA, MESSAGE_END: the message opcode (1 text, 2 binary) */
    bool rsv1;                /* DATA, MESSAGE_END: RSV1 of the message's first frame */
    uint8_t *data;            /* DATA: unmasked chunk; PING/PONG/CLOSE: whole payload */
    size_t len;
    uint16_t close_code;      /* CLOSE: the peer's code (1005 for an empty payload);
                                 ERROR: the code to send (1002, 1007, 1009) */
    int err;                  /* ERROR: enum pg_ws_err */
    const char *why;          /* ERROR: static one-line reason, fits a close frame */
    const char *close_reason; /* CLOSE: the peer's reason (UTF-8, not NUL-terminated) */
    size_t close_reason_len;
};

void pg_ws_parser_init(struct pg_ws_parser *p);

/* Consumes bytes from buf[0..len) and fills *ev with the next event; returns
 * the number of bytes consumed, which the caller drains whatever the event
 * (it may be 0, and may be > 0 with NEED_MORE when only a header was
 * consumed). lim may be NULL: no size limit, no deflate, UTF-8 checked. */
size_t pg_ws_parse(struct pg_ws_parser *p, uint8_t *buf, size_t len,
                   const struct pg_ws_limits *lim, struct pg_ws_event *ev);

/* Static reason for an enum pg_ws_err, and the close code it calls for. */
const char *pg_ws_strerror(int err);
uint16_t pg_ws_err_close_code(int err);

/* True for a close code a peer may put on the wire (RFC 6455 §7.4): 1000-1003,
 * 1007-1014, 3000-4999. */
bool pg_ws_close_code_valid(unsigned code);

/* Writes a server (unmasked) frame header for a payload of len bytes into
 * out and returns its size: 2, 4 or 10. */
size_t pg_ws_frame_header(uint8_t out[10], int opcode, bool fin, bool rsv1, uint64_t len);

/* Builds a complete close frame into out (PG_WS_CLOSE_FRAME_MAX = 127 bytes
 * suffice) and returns its size. code 0 or 1005 gives an empty payload (no
 * code, no reason); otherwise the 2-byte code then reason (NULL for none), cut
 * to 123 bytes and to its longest valid UTF-8 prefix. */
size_t pg_ws_close_frame(uint8_t *out, uint16_t code, const char *reason);

#endif
