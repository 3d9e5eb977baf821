/* http_parse.c — parses HTTP/1.x request heads into views of the caller's
 * buffer, decodes chunked bodies in place, and splits/decodes form-encoded
 * strings. A codec: no I/O, no allocation, no event2/ include.
 *
 * Invariants
 * - Never reads at or past buf + len; every returned view lies inside buf.
 * - The head parser is stateless and sequential: it reads left to right once
 *   (plus one pass over a few header values), so a call is linear in len and
 *   the caller may simply call again on a grown buffer. Because it only fails
 *   on bytes it has seen, every prefix of a valid head is INCOMPLETE, and a
 *   hostile prefix fails as soon as it is visibly wrong (before the caller's
 *   size limit), e.g. a TLS ClientHello on the plain port.
 * - The chunked decoder keeps its whole state in struct pg_http_chunked, so a
 *   body may be split anywhere; its output never overtakes its input.
 *
 * Deliberate departures and choices
 * - Head lines may end in bare LF (as picohttpparser and most servers allow),
 *   but a CR must be followed by LF. Empty lines before the request line are
 *   skipped (RFC 9112 §2.2).
 * - Exactly one SP separates the parts of the request line.
 * - The request-target may hold obs-text bytes (>= 0x80) that some legacy
 *   clients send unencoded; controls, SP and DEL are refused.
 * - An absolute-form target must have a path ("http://h" without "/" is
 *   refused) so that path always points into the buffer.
 * - Refused outright, since we sit behind proxies and must not be smuggled
 *   past: obs-fold; whitespace before the colon; Content-Length that is not
 *   plain digits (no "5, 5" lists) or disagrees with a duplicate;
 *   Transfer-Encoding together with Content-Length, in an HTTP/1.0 request,
 *   or with any coding but a single "chunked"; more than one Host header.
 *   A missing Host in HTTP/1.1 is left to the router.
 * - Chunked framing is stricter than the head: every line ends in CRLF (bare
 *   LF is a known smuggling lever there), whitespace is allowed only between
 *   the size and ';' or CRLF. Trailers are validated and dropped.
 * - Size: past the ~600-line guide because the brief makes the head parser,
 *   the chunked decoder and the form helpers one module; the three sections
 *   below are the seam (http_chunked.c, form.c) should it grow further.
 */
#include "http_parse.h"

#include "util.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* ---- character classes ------------------------------------------------ */

/* tchar (RFC 9110 §5.6.2): what methods and header names are made of. */
static const bool tchar_table[256] = {
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
    ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true,
    ['\''] = true, ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true,
    ['^'] = true, ['_'] = true, ['`'] = true, ['|'] = true, ['~'] = true,
};

static bool is_tchar(unsigned char c)
{
    return tchar_table[c];
}

/* field-vchar / obs-text or SP/HTAB: what may appear inside a header value. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Next element of a comma-separated list at *p (OWS trimmed, maybe empty);
 * false when the list is used up. */
static bool next_list_elem(const char **p, const char *end, const char **elem, size_t *len)
{
    if (*p >= end)
        return false;
    const char *comma = memchr(*p, ',', (size_t)(end - *p));
    const char *s = *p, *t = comma ? comma : end;
    *p = comma ? comma + 1 : end;
    while (s < t && is_ows(*s))
        s++;
    while (t > s && is_ows(t[-1]))
        t--;
    *elem = s;
    *len = (size_t)(t - s);
    return true;
}

static int fail(const char **why, const char *reason)
{
    *why = reason;
    return PG_HTTP_ERR;
}

/* ---- request head ----------------------------------------------------- */

/* A read position; `end` is one past the last readable byte. */
struct cur {
    const char *p;
    const char *end;
};

/* Facts gathered across header lines, folded into the request at the end. */
struct head_facts {
    bool te_seen;        /* a Transfer-Encoding header was present */
    bool host_seen;
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool upgrade_ws;
};

/* Eats one line ending at c->p. Returns 1 when eaten, 0 when c->p is not a
 * line ending, or INCOMPLETE/ERR. */
static int eat_eol(struct cur *c, const char **why)
{
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (*c->p == '\n') {
        c->p++;
        return 1;
    }
    if (*c->p != '\r')
        return 0;
    if (c->end - c->p < 2)
        return PG_HTTP_INCOMPLETE;
    if (c->p[1] != '\n')
        return fail(why, "CR not followed by LF in request head");
    c->p += 2;
    return 1;
}

static int parse_method(struct cur *c, struct pg_http_request *req, const char **why)
{
    const char *m = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (c->p == m && *m == 0x16)
        return fail(why, "TLS handshake on a plain-text port");
    if (c->p == m)
        return fail(why, "invalid character in method");
    if (*c->p != ' ')
        return fail(why, "invalid character in method");
    req->method = m;
    req->method_len = (size_t)(c->p - m);
    c->p++;
    return 0;
}

static int scan_target(struct cur *c, struct pg_http_request *req, const char **why)
{
    const char *t = c->p;
    while (c->p < c->end && is_target_char((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (c->p == t)
        return fail(why, "missing request-target");
    if (*c->p == '\r' || *c->p == '\n')
        return fail(why, "HTTP/0.9 requests are not supported");
    if (*c->p != ' ')
        return fail(why, "invalid character in request-target");
    req->target = t;
    req->target_len = (size_t)(c->p - t);
    c->p++;
    return 0;
}

/* Reads "HTTP/1.0" or "HTTP/1.1" and the line ending after it. */
static int parse_version(struct cur *c, struct pg_http_request *req, const char **why)
{
    static const char lit[] = "HTTP/";
    for (size_t i = 0; i < sizeof(lit) - 1; i++, c->p++) {
        if (c->p == c->end)
            return PG_HTTP_INCOMPLETE;
        if (*c->p != lit[i])
            return fail(why, "invalid HTTP version");
    }
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (*c->p == '2' && pg_view_eq(req->method, req->method_len, "PRI"))
        return fail(why, "HTTP/2 connection preface is not supported");
    if (*c->p != '1')
        return fail(why, *c->p >= '0' && *c->p <= '9' ? "unsupported HTTP version"
                                                       : "invalid HTTP version");
    if (++c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (*c->p++ != '.')
        return fail(why, "invalid HTTP version");
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (*c->p != '0' && *c->p != '1')
        return fail(why, "unsupported HTTP version");
    req->minor_version = *c->p++ - '0';
    int r = eat_eol(c, why);
    if (r == 0)
        return fail(why, "invalid HTTP version");
    return r < 0 ? r : 0;
}

/* Length of a case-insensitive "http://" or "https://" prefix of t, or 0. */
static size_t scheme_len(const char *t, size_t n)
{
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
        return 7;
    if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
        return 8;
    return 0;
}

/* Splits the raw target into path and query (after the version is known, so
 * an HTTP/2 preface gets its own reason rather than one about "*"). */
static int split_target(struct pg_http_request *req, const char **why)
{
    const char *t = req->target, *end = t + req->target_len;
    size_t s = scheme_len(t, req->target_len);
    req->query = NULL;
    req->query_len = 0;
    if (req->target_len == 1 && *t == '*') {
        if (!pg_view_eq(req->method, req->method_len, "OPTIONS"))
            return fail(why, "asterisk-form request-target is only allowed with OPTIONS");
        req->path = t;
        req->path_len = 1;
        return 0;
    }
    if (s > 0) {
        const char *a = t + s;
        while (a < end && *a != '/' && *a != '?')
            a++;
        if (a == t + s)
            return fail(why, "absolute-form request-target without a host");
        if (a == end || *a != '/')
            return fail(why, "absolute-form request-target without a path");
        t = a;
    } else if (*t != '/') {
        return fail(why, "request-target must start with '/'");
    }
    const char *q = memchr(t, '?', (size_t)(end - t));
    req->path = t;
    req->path_len = (size_t)((q ? q : end) - t);
    if (q) {
        req->query = q + 1;
        req->query_len = (size_t)(end - q - 1);
    }
    return 0;
}

static int parse_request_line(struct cur *c, struct pg_http_request *req, const char **why)
{
    int r;
    while ((r = eat_eol(c, why)) == 1)
        ; /* empty lines before the request line */
    if (r < 0)
        return r;
    if ((r = parse_method(c, req, why)) < 0)
        return r;
    if ((r = scan_target(c, req, why)) < 0)
        return r;
    if ((r = parse_version(c, req, why)) < 0)
        return r;
    return split_target(req, why);
}

/* Content-Length: 1*DIGIT, at most 2^53. */
static int parse_content_length(const char *v, size_t n, int64_t *out, const char **why)
{
    int64_t x = 0;
    if (n == 0)
        return fail(why, "empty Content-Length");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(why, "invalid Content-Length");
        x = x * 10 + (v[i] - '0');
        if (x > PG_HTTP_MAX_CONTENT_LENGTH)
            return fail(why, "Content-Length too large");
    }
    *out = x;
    return 0;
}

static int note_content_length(struct pg_http_request *req, const struct pg_http_header *h,
                               const char **why)
{
    int64_t cl;
    if (parse_content_length(h->value, h->value_len, &cl, why) < 0)
        return PG_HTTP_ERR;
    if (req->content_length >= 0 && req->content_length != cl)
        return fail(why, "conflicting Content-Length headers");
    req->content_length = cl;
    return 0;
}

/* Transfer-Encoding: the whole list (over all such headers) must be exactly
 * one "chunked". Empty list elements are allowed by the list syntax. */
static int note_transfer_encoding(struct pg_http_request *req, struct head_facts *f,
                                  const struct pg_http_header *h, const char **why)
{
    const char *p = h->value, *end = p + h->value_len, *e;
    size_t n;
    if (req->minor_version == 0)
        return fail(why, "Transfer-Encoding in an HTTP/1.0 request");
    f->te_seen = true;
    while (next_list_elem(&p, end, &e, &n)) {
        if (n == 0)
            continue;
        if (!pg_view_eq_ci(e, n, "chunked"))
            return fail(why, "Transfer-Encoding other than chunked");
        if (req->chunked)
            return fail(why, "Transfer-Encoding chunked applied twice");
        req->chunked = true;
    }
    return 0;
}

static int note_header(struct pg_http_request *req, struct head_facts *f,
                       const struct pg_http_header *h, const char **why)
{
    const char *n = h->name;
    size_t nl = h->name_len;
    if (pg_view_eq_ci(n, nl, "content-length"))
        return note_content_length(req, h, why);
    if (pg_view_eq_ci(n, nl, "transfer-encoding"))
        return note_transfer_encoding(req, f, h, why);
    if (pg_view_eq_ci(n, nl, "host")) {
        if (f->host_seen)
            return fail(why, "more than one Host header");
        f->host_seen = true;
    } else if (pg_view_eq_ci(n, nl, "connection")) {
        f->conn_close |= pg_http_token_list_has(h->value, h->value_len, "close");
        f->conn_keep_alive |= pg_http_token_list_has(h->value, h->value_len, "keep-alive");
        f->conn_upgrade |= pg_http_token_list_has(h->value, h->value_len, "upgrade");
    } else if (pg_view_eq_ci(n, nl, "upgrade")) {
        f->upgrade_ws |= pg_http_token_list_has(h->value, h->value_len, "websocket");
    }
    return 0;
}

/* Reads "name:" at c->p into h. */
static int parse_header_name(struct cur *c, struct pg_http_header *h, const char **why)
{
    const char *n = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return PG_HTTP_INCOMPLETE;
    if (*c->p != ':') {
        const char *w = c->p;
        while (w < c->end && is_ows(*w))
            w++;
        if (w == c->end)
            return PG_HTTP_INCOMPLETE; /* to tell the two reasons apart */
        if (*w == ':' && w > c->p)
            return fail(why, "whitespace between header name and colon");
        return fail(why, "invalid character in header name");
    }
    if (c->p == n)
        return fail(why, "empty header name");
    h->name = n;
    h->name_len = (size_t)(c->p - n);
    c->p++;
    return 0;
}

/* Reads the value after the colon up to and including the line ending. */
static int parse_header_value(struct cur *c, struct pg_http_header *h, const char **why)
{
    while (c->p < c->end && is_ows(*c->p))
        c->p++;
    const char *v = c->p;
    while (c->p < c->end && is_value_char((unsigned char)*c->p))
        c->p++;
    const char *ve = c->p;
    int r = eat_eol(c, why);
    if (r == 0)
        return fail(why, "invalid character in header value");
    if (r < 0)
        return r;
    while (ve > v && is_ows(ve[-1]))
        ve--;
    h->value = v;
    h->value_len = (size_t)(ve - v);
    return 0;
}

static int parse_headers(struct cur *c, struct pg_http_request *req, struct head_facts *f,
                         const char **why)
{
    for (;;) {
        int r = eat_eol(c, why);
        if (r != 0)
            return r < 0 ? r : 0; /* the blank line ends the head */
        if (is_ows(*c->p))
            return fail(why, req->num_headers ? "obsolete line folding is not supported"
                                              : "whitespace before the first header");
        if (req->num_headers == PG_HTTP_MAX_HEADERS)
            return fail(why, "too many headers");
        struct pg_http_header *h = &req->headers[req->num_headers];
        if ((r = parse_header_name(c, h, why)) < 0 || (r = parse_header_value(c, h, why)) < 0)
            return r;
        req->num_headers++;
        if (note_header(req, f, h, why) < 0)
            return PG_HTTP_ERR;
    }
}

static int finish_head(struct pg_http_request *req, const struct head_facts *f, const char **why)
{
    if (f->te_seen && !req->chunked)
        return fail(why, "empty Transfer-Encoding");
    if (req->chunked && req->content_length >= 0)
        return fail(why, "both Transfer-Encoding and Content-Length");
    if (req->minor_version == 1)
        req->keep_alive = !f->conn_close;
    else
        req->keep_alive = f->conn_keep_alive && !f->conn_close;
    req->upgrade_websocket = f->conn_upgrade && f->upgrade_ws;
    return 0;
}

int pg_http_parse_request(const char *buf, size_t len, struct pg_http_request *req,
                          const char **why)
{
    struct cur c = { buf, buf + len };
    struct head_facts f = { 0 };
    int r;
    memset(req, 0, offsetof(struct pg_http_request, headers));
    req->num_headers = 0;
    req->content_length = -1;
    req->chunked = req->keep_alive = req->upgrade_websocket = false;
    if ((r = parse_request_line(&c, req, why)) < 0)
        return r;
    if ((r = parse_headers(&c, req, &f, why)) < 0)
        return r;
    if ((r = finish_head(req, &f, why)) < 0)
        return r;
    if (c.p - buf > INT_MAX)
        return fail(why, "request head too large");
    return (int)(c.p - buf);
}

const struct pg_http_header *pg_http_header_find(const struct pg_http_request *req,
                                                 const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct pg_http_header *h = &req->headers[i];
        if (pg_view_eq_ci(h->name, h->name_len, name))
            return h;
    }
    return NULL;
}

bool pg_http_token_list_has(const char *value, size_t len, const char *token)
{
    const char *p = value, *end = value + len, *e;
    size_t n;
    while (next_list_elem(&p, end, &e, &n))
        if (pg_view_eq_ci(e, n, token))
            return true;
    return false;
}

/* ---- chunked body ----------------------------------------------------- */

enum chunk_state {
    CK_SIZE_FIRST = 0, /* first hex digit of a chunk size */
    CK_SIZE,           /* more hex digits */
    CK_SIZE_WS,        /* BWS after the size: then ';' or CR */
    CK_EXT,            /* chunk extension, skipped up to CR */
    CK_SIZE_LF,        /* LF ending the size line */
    CK_DATA,           /* copying st->size data bytes */
    CK_DATA_CR,        /* CRLF after the data */
    CK_DATA_LF,
    CK_TR_START,       /* start of a trailer line or of the final CRLF */
    CK_TR_NAME,
    CK_TR_VALUE,
    CK_TR_LF,          /* LF ending a trailer line */
    CK_END_LF,         /* LF of the final CRLF */
    CK_DONE,
};

static int chunk_size_byte(struct pg_http_chunked *st, unsigned char c, const char **why)
{
    int d = hex_value(c);
    if (d >= 0 && st->state != CK_SIZE_WS) {
        if (st->size >> 56)
            return fail(why, "chunk size too large");
        st->size = st->size << 4 | (uint64_t)d;
        st->state = CK_SIZE;
    } else if (st->state == CK_SIZE_FIRST) {
        return fail(why, "invalid chunk size");
    } else if (is_ows((char)c)) {
        st->state = CK_SIZE_WS;
    } else if (c == ';') {
        st->state = CK_EXT;
        st->count = 0;
    } else if (c == '\r') {
        st->state = CK_SIZE_LF;
    } else {
        return fail(why, "invalid chunk size");
    }
    return 0;
}

static int chunk_ext_byte(struct pg_http_chunked *st, unsigned char c, const char **why)
{
    if (c == '\r') {
        st->state = CK_SIZE_LF;
        return 0;
    }
    if (!is_value_char(c))
        return fail(why, "invalid character in chunk extension");
    if (++st->count > PG_HTTP_CHUNK_EXT_MAX)
        return fail(why, "chunk extension too long");
    return 0;
}

static int chunk_trailer_byte(struct pg_http_chunked *st, unsigned char c, const char **why)
{
    if (++st->count > PG_HTTP_TRAILERS_MAX)
        return fail(why, "trailers too long");
    switch (st->state) {
    case CK_TR_START:
        if (c == '\r')
            st->state = CK_END_LF;
        else if (is_tchar(c))
            st->state = CK_TR_NAME;
        else
            return fail(why, "invalid character in trailer name");
        return 0;
    case CK_TR_NAME:
        if (c == ':')
            st->state = CK_TR_VALUE;
        else if (!is_tchar(c))
            return fail(why, "invalid character in trailer name");
        return 0;
    case CK_TR_VALUE:
        if (c == '\r')
            st->state = CK_TR_LF;
        else if (!is_value_char(c))
            return fail(why, "invalid character in trailer value");
        return 0;
    default: /* CK_TR_LF, CK_END_LF */
        if (c != '\n')
            return fail(why, "CR not followed by LF in trailers");
        st->state = st->state == CK_TR_LF ? CK_TR_START : CK_DONE;
        return 0;
    }
}

/* Advances the state machine by one framing byte (never in CK_DATA). */
static int chunk_byte(struct pg_http_chunked *st, unsigned char c, const char **why)
{
    switch (st->state) {
    case CK_SIZE_FIRST:
    case CK_SIZE:
    case CK_SIZE_WS:
        return chunk_size_byte(st, c, why);
    case CK_EXT:
        return chunk_ext_byte(st, c, why);
    case CK_SIZE_LF:
        if (c != '\n')
            return fail(why, "chunk size line not ended by CRLF");
        st->state = st->size ? CK_DATA : CK_TR_START;
        st->count = 0;
        return 0;
    case CK_DATA_CR:
    case CK_DATA_LF:
        if (c != (st->state == CK_DATA_CR ? '\r' : '\n'))
            return fail(why, "chunk data not followed by CRLF");
        st->state = st->state == CK_DATA_CR ? CK_DATA_LF : CK_SIZE_FIRST;
        return 0;
    default:
        return chunk_trailer_byte(st, c, why);
    }
}

ssize_t pg_http_chunked_decode(struct pg_http_chunked *st, char *buf, size_t *len,
                               const char **why)
{
    size_t src = 0, dst = 0, n = *len;
    while (src < n && st->state != CK_DONE) {
        if (st->state == CK_DATA) {
            size_t take = (size_t)PG_MIN((uint64_t)(n - src), st->size);
            memmove(buf + dst, buf + src, take);
            src += take;
            dst += take;
            st->size -= take;
            if (st->size == 0)
                st->state = CK_DATA_CR;
        } else if (chunk_byte(st, (unsigned char)buf[src++], why) < 0) {
            *len = dst;
            return PG_HTTP_ERR;
        }
    }
    *len = dst;
    if (st->state != CK_DONE)
        return PG_HTTP_INCOMPLETE;
    memmove(buf + dst, buf + src, n - src);
    return (ssize_t)(n - src);
}

/* ---- form-encoded strings --------------------------------------------- */

/* Decodes the character at s[*i] ('%XX', '+' when form, else itself) and
 * advances *i; -1 on a bad or truncated escape. */
static int decode_char(const char *s, size_t n, size_t *i, bool form)
{
    unsigned char c = (unsigned char)s[*i];
    if (c != '%') {
        (*i)++;
        return form && c == '+' ? ' ' : c;
    }
    if (n - *i < 3)
        return -1;
    int hi = hex_value((unsigned char)s[*i + 1]), lo = hex_value((unsigned char)s[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

ssize_t pg_url_decode(const char *in, size_t len, char *out, size_t outcap, bool form)
{
    size_t i = 0, o = 0;
    while (i < len) {
        int c = decode_char(in, len, &i, form);
        if (c < 0 || o == outcap)
            return -1;
        out[o++] = (char)c; /* o < i: safe when out == in */
    }
    return (ssize_t)o;
}

/* Does the raw (encoded) key raw[0..n) decode to the C string key? */
static bool key_matches(const char *raw, size_t n, const char *key)
{
    size_t i = 0;
    while (i < n) {
        int c = decode_char(raw, n, &i, true);
        if (c < 0 || *key == '\0' || c != (unsigned char)*key++)
            return false;
    }
    return *key == '\0';
}

bool pg_query_next(const char **cursor, const char *end, const char **key, size_t *key_len,
                   const char **val, size_t *val_len)
{
    const char *p = *cursor;
    while (p < end && *p == '&')
        p++;
    if (p >= end) {
        *cursor = end;
        return false;
    }
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *seg_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(seg_end - p));
    *key = p;
    *key_len = (size_t)((eq ? eq : seg_end) - p);
    *val = eq ? eq + 1 : seg_end;
    *val_len = (size_t)(seg_end - *val);
    *cursor = amp ? amp + 1 : end;
    return true;
}

bool pg_query_find(const char *query, size_t len, const char *key, const char **val,
                   size_t *val_len)
{
    const char *k, *v, *cur = query;
    size_t kl, vl;
    if (!query)
        return false;
    const char *end = query + len;
    while (pg_query_next(&cur, end, &k, &kl, &v, &vl)) {
        if (key_matches(k, kl, key)) {
            *val = v;
            *val_len = vl;
            return true;
        }
    }
    return false;
}
