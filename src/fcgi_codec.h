/* fcgi_codec.h — FastCGI records, both directions (codec: bytes in, events
 * out; no I/O, no event2/ include). Shared by the bridge's tap (server side
 * towards the web server, client side towards php-fpm) and the daemon's
 * auth_fastcgi session check.
 *
 * Decoding is incremental and never buffers stream content: feed any
 * number of bytes, get one callback per piece of record content. Control
 * records (BEGIN_REQUEST, END_REQUEST, ABORT_REQUEST, GET_VALUES*,
 * UNKNOWN_TYPE) are delivered whole, since their content is small
 * (at most PG_FCGI_CONTROL_MAX bytes; larger ones are an error).
 *
 * Encoding writes into caller buffers sized by the *_size() helpers; we
 * never pad (padding is optional; the decoder skips any padding it gets).
 *
 * Errors: small negative enums with a static why string (pg_fcgi_strerror). */
#ifndef PG_FCGI_CODEC_H
#define PG_FCGI_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PG_FCGI_BEGIN_REQUEST = 1, PG_FCGI_ABORT_REQUEST = 2, PG_FCGI_END_REQUEST = 3,
    PG_FCGI_PARAMS = 4, PG_FCGI_STDIN = 5, PG_FCGI_STDOUT = 6, PG_FCGI_STDERR = 7,
    PG_FCGI_DATA = 8, PG_FCGI_GET_VALUES = 9, PG_FCGI_GET_VALUES_RESULT = 10,
    PG_FCGI_UNKNOWN_TYPE = 11,
};
enum { PG_FCGI_RESPONDER = 1, PG_FCGI_AUTHORIZER = 2, PG_FCGI_FILTER = 3 };
enum { PG_FCGI_KEEP_CONN = 1 };
enum { PG_FCGI_REQUEST_COMPLETE = 0, PG_FCGI_CANT_MPX_CONN = 1, PG_FCGI_OVERLOADED = 2,
       PG_FCGI_UNKNOWN_ROLE = 3 };

#define PG_FCGI_HEADER_LEN 8
#define PG_FCGI_MAX_CONTENT 65535
#define PG_FCGI_CONTROL_MAX 1024

enum pg_fcgi_err {
    PG_FCGI_OK = 0,
    PG_FCGI_E_VERSION = -1,     /* version byte is not 1 */
    PG_FCGI_E_CONTROL = -2,     /* control record too large or too short */
    PG_FCGI_E_NV = -3,          /* malformed name-value pairs */
    PG_FCGI_E_HEAD = -4,        /* malformed CGI response head */
    PG_FCGI_E_STOPPED = -5,     /* the callback asked to stop */
    PG_FCGI_E_INCOMPLETE = -6,  /* need more bytes (response head parser) */
};

const char *pg_fcgi_strerror(int err);

/* ---- decoding ---- */

/* One piece of a record's content. flags: PG_FCGI_FIRST on the first call
 * for a record (also made, with len 0, for empty records), PG_FCGI_LAST on
 * the last. data points into the caller's input (stream types) or into the
 * decoder (control types); it lives until the callback returns. Return 0
 * to go on, non-zero to stop decoding (pg_fcgi_decode returns
 * PG_FCGI_E_STOPPED; the bytes of this piece count as consumed). */
enum { PG_FCGI_FIRST = 1, PG_FCGI_LAST = 2 };
typedef int (*pg_fcgi_record_cb)(void *ud, uint8_t type, uint16_t id, const uint8_t *data,
                                 size_t len, int flags);

struct pg_fcgi_decoder {
    uint8_t hdr[PG_FCGI_HEADER_LEN];
    size_t hdr_have;
    uint8_t type;
    uint16_t id;
    size_t content_left;        /* content bytes still to come */
    size_t content_len;
    size_t pad_left;
    bool in_record;
    bool first_sent;
    uint8_t ctl[PG_FCGI_CONTROL_MAX];
    size_t ctl_have;
    uint64_t consumed;          /* total bytes consumed, for messages */
};

void pg_fcgi_decoder_init(struct pg_fcgi_decoder *d);
/* Feeds p[0..n). Returns the number of bytes consumed (n unless the
 * callback stopped, then <= n, with *stopped set), or a negative error;
 * after an error the decoder is dead (the stream cannot be resynced). */
long pg_fcgi_decode(struct pg_fcgi_decoder *d, const uint8_t *p, size_t n, pg_fcgi_record_cb cb,
                    void *ud, bool *stopped);
/* True between records (no partial header, content or padding pending). */
bool pg_fcgi_decoder_idle(const struct pg_fcgi_decoder *d);

/* BEGIN_REQUEST content (8 bytes): role and flags. Returns 0 or E_CONTROL. */
int pg_fcgi_parse_begin(const uint8_t *c, size_t len, uint16_t *role, uint8_t *flags);
/* END_REQUEST content (8 bytes). Returns 0 or E_CONTROL. */
int pg_fcgi_parse_end(const uint8_t *c, size_t len, uint32_t *app_status, uint8_t *proto_status);

/* Name-value pairs of a complete PARAMS (or GET_VALUES) stream. Calls cb
 * for each pair (views into p); returns 0, E_NV, or E_STOPPED when cb
 * returns non-zero. */
typedef int (*pg_fcgi_nv_cb)(void *ud, const uint8_t *name, size_t nlen, const uint8_t *value,
                             size_t vlen);
int pg_fcgi_parse_nv(const uint8_t *p, size_t n, pg_fcgi_nv_cb cb, void *ud);

/* ---- encoding ---- */

/* Writes an 8-byte record header (out holds 8 bytes; the put_* below
 * write 8 or 16 as said). */
void pg_fcgi_put_header(uint8_t *out, uint8_t type, uint16_t id, uint16_t len,
                        uint8_t pad);
/* BEGIN_REQUEST record (16 bytes). */
void pg_fcgi_put_begin(uint8_t *out, uint16_t id, uint16_t role, uint8_t flags);
/* END_REQUEST record (16 bytes). */
void pg_fcgi_put_end(uint8_t *out, uint16_t id, uint32_t app_status, uint8_t proto_status);
/* ABORT_REQUEST record (8 bytes). */
void pg_fcgi_put_abort(uint8_t *out, uint16_t id);
/* UNKNOWN_TYPE record (16 bytes). */
void pg_fcgi_put_unknown_type(uint8_t *out, uint8_t type);

/* Bytes one name-value pair takes (1- or 4-byte lengths), or 0 when a
 * length is over 2^31-1. */
size_t pg_fcgi_nv_size(size_t nlen, size_t vlen);
/* Writes one pair; returns bytes written (pg_fcgi_nv_size). */
size_t pg_fcgi_put_nv(uint8_t *out, const void *name, size_t nlen, const void *value, size_t vlen);

/* Bytes needed to send len bytes as a stream of records (no terminator). */
size_t pg_fcgi_stream_size(size_t len);
/* Writes data as records of type (PARAMS, STDIN, STDOUT, STDERR) of at
 * most PG_FCGI_MAX_CONTENT bytes each; len 0 writes the empty record that
 * ends the stream. Returns bytes written. */
size_t pg_fcgi_put_stream(uint8_t *out, uint8_t type, uint16_t id, const void *data, size_t len);

/* ---- CGI response heads (from STDOUT bytes) ---- */

struct pg_cgi_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Parses the head of a CGI response in p[0..n): header lines ending in
 * LF or CRLF, up to an empty line. Status comes from "Status: NNN ...",
 * else 302 when a Location header is present, else 200. Returns the head
 * length (bytes up to and including the empty line), E_INCOMPLETE when
 * the empty line has not arrived yet, or E_HEAD (malformed line, more than
 * *nheaders headers, bad Status). On success *nheaders is the count. */
long pg_cgi_parse_head(const char *p, size_t n, int *status, struct pg_cgi_header *h,
                       size_t *nheaders);

#endif
