/* http_parse.h — HTTP/1.x request-head parser, chunked body decoder and
 * URL/form helpers (a codec: bytes in, views out; no I/O, no allocation).
 *
 * Ownership: every pointer this module hands back is a view into the buffer
 * the caller passed in. Views live as long as that buffer is unchanged; the
 * caller drains the head from its buffer only after it is done with them.
 *
 * Return values follow picohttpparser: a count of bytes when done,
 * PG_HTTP_INCOMPLETE ("give me more bytes and call again") or PG_HTTP_ERR
 * ("malformed"; *why then holds a static one-line reason that may be logged
 * or sent in a 400 body as is).
 */
#ifndef PG_HTTP_PARSE_H
#define PG_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PG_HTTP_MAX_HEADERS 48
/* Largest Content-Length accepted (2^53, so it survives a JSON double). */
#define PG_HTTP_MAX_CONTENT_LENGTH ((int64_t)1 << 53)
/* Bounds for the chunked decoder's per-line overhead (see below). */
#define PG_HTTP_CHUNK_EXT_MAX 4096
#define PG_HTTP_TRAILERS_MAX 8192

enum { PG_HTTP_INCOMPLETE = -2, PG_HTTP_ERR = -1 };

struct pg_http_header {
    const char *name;   /* a token; case as sent */
    size_t name_len;
    const char *value;  /* leading and trailing SP/HTAB trimmed; may be empty */
    size_t value_len;
};

struct pg_http_request {
    const char *method; size_t method_len;  /* a token, case-sensitive ("GET") */
    const char *target; size_t target_len;  /* the request-target exactly as sent (for logs) */
    /* request-target up to '?', still percent-encoded; always starts with '/'
     * except "*" for OPTIONS. For an absolute-form target (http://host/p)
     * scheme and authority are stripped, so this is "/p". */
    const char *path; size_t path_len;
    /* After '?', without it, still encoded. NULL/0 when the target has no '?';
     * a non-NULL zero-length view when '?' ends the target. */
    const char *query; size_t query_len;
    int minor_version;                      /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
    struct pg_http_header headers[PG_HTTP_MAX_HEADERS];
    size_t num_headers;
    /* Derived while parsing, so callers never re-scan: */
    int64_t content_length;  /* -1 when absent; otherwise 0..2^53 */
    bool chunked;            /* Transfer-Encoding: chunked (never with content_length >= 0) */
    bool keep_alive;         /* 1.1: unless Connection: close; 1.0: only with Connection: keep-alive */
    bool upgrade_websocket;  /* a Connection header has token "upgrade" and an Upgrade header "websocket" */
};

/* Parses one request head from buf[0..len).
 * Returns the bytes consumed (the head including its blank line, plus any
 * empty lines before the request line) when complete; PG_HTTP_INCOMPLETE when
 * more bytes are needed; PG_HTTP_ERR when malformed, with *why set.
 * Stateless: each call re-parses from buf[0] in time linear in len, so it may
 * be called again on a growing buffer; the caller bounds the head size. Every
 * prefix of a valid head yields PG_HTTP_INCOMPLETE. Never reads past len.
 * *req is fully written on success and unspecified otherwise. */
int pg_http_parse_request(const char *buf, size_t len, struct pg_http_request *req,
                          const char **why);

/* The first header named `name` (case-insensitive), or NULL. */
const struct pg_http_header *pg_http_header_find(const struct pg_http_request *req,
                                                 const char *name);

/* True when the comma-separated list value[0..len) has an element equal to
 * `token` (case-insensitive, SP/HTAB around elements ignored). */
bool pg_http_token_list_has(const char *value, size_t len, const char *token);

/* Incremental in-place decoder for a chunked request body (RFC 9112 §7.1).
 * Zero-initialise, then feed every body byte exactly once, in order, across
 * as many calls as needed. */
struct pg_http_chunked {
    uint64_t size;   /* chunk size being read, then data bytes still to copy */
    uint32_t count;  /* bytes of the current chunk extension, or of all trailers */
    uint8_t state;   /* internal; 0 = expecting the first digit of a chunk size */
};

/* On entry buf[0..*len) holds the next raw bytes of the body. Decodes in
 * place: on return buf[0..*len) holds the body bytes decoded from this call
 * (possibly none); the caller consumes them before the next call.
 * Returns:
 *   PG_HTTP_INCOMPLETE  every input byte was used; call again with more;
 *   PG_HTTP_ERR         malformed (*why set); the body cannot be trusted and
 *                       the connection must be closed after answering 400;
 *   n >= 0              the last chunk and the trailers are consumed; the n
 *                       bytes that followed the body (a pipelined request)
 *                       have been moved to buf[*len .. *len + n).
 * Once complete, further calls decode nothing and return all input as n.
 * Chunk sizes are bounded (< 2^60, no overflow); extensions are skipped but
 * limited to PG_HTTP_CHUNK_EXT_MAX bytes each, trailers are validated and
 * discarded and limited to PG_HTTP_TRAILERS_MAX bytes in all. The caller
 * still bounds the total decoded size. */
ssize_t pg_http_chunked_decode(struct pg_http_chunked *st, char *buf, size_t *len,
                               const char **why);

/* Percent-decodes in[0..len) into out[0..outcap); '+' becomes ' ' only when
 * form is true. Returns the decoded length, or -1 on a bad escape ("%zz",
 * truncated "%4") or when outcap is too small (out may then be partly written).
 * out may equal in (decoding never grows); other overlaps are not allowed.
 * The output is not NUL-terminated and may contain NUL bytes (from "%00"). */
ssize_t pg_url_decode(const char *in, size_t len, char *out, size_t outcap, bool form);

/* Finds key in an application/x-www-form-urlencoded string (a query or a
 * body): keys are compared after decoding ('+' and %XX), byte-exact. Returns
 * true and sets *val and *val_len to the raw (still encoded) value of the first
 * occurrence; a key present without '=' has an empty value. */
bool pg_query_find(const char *query, size_t len, const char *key,
                   const char **val, size_t *val_len);

/* Iterates over the pairs of a form-encoded string: start with
 * *cursor = query and end = query + len. Returns false when no pairs are left;
 * otherwise sets raw views of the next key and value (empty pairs from "&&"
 * are skipped; "k" without '=' gives an empty value; "=v" an empty key) and
 * advances *cursor. */
bool pg_query_next(const char **cursor, const char *end, const char **key, size_t *key_len,
                   const char **val, size_t *val_len);

#endif
