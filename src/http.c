/* http.c — the HTTP/1.1 side of a connection: request head and body via
 * the codec, dispatch to the router, replies (see http.h).
 *
 * Timeouts: a request must arrive whole within header_timeout of its first
 * byte (slowloris), and a new connection must send its first request within
 * header_timeout; an idle keep-alive connection is closed after
 * idle_timeout. One deadline per connection, checked by the shared tick. */
#include "http.h"
#include "buf.h"
#include "config.h"
#include "conn_limits.h"
#include "log.h"
#include "router.h"
#include "server.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

const char *pg_http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void respond(struct pg_conn *c, bool keep_alive, int status, const char *ctype,
                    const char *extra, const void *body, size_t len, bool head_only)
{
    struct pg_buf b = {0};
    pg_buf_reserve(&b, 256 + (head_only ? 0 : len));
    /* no printf: this runs once per publish and per long-poll answer */
    pg_buf_adds(&b, "HTTP/1.1 ");
    pg_buf_add_u64(&b, (uint64_t)status);
    pg_buf_adds(&b, " ");
    pg_buf_adds(&b, pg_http_reason(status));
    pg_buf_adds(&b, "\r\nServer: pushgate\r\n");
    if (status != 204 && status != 304 && status != 101) {
        if (ctype) {
            pg_buf_adds(&b, "Content-Type: ");
            pg_buf_adds(&b, ctype);
            pg_buf_adds(&b, "\r\n");
        }
        pg_buf_adds(&b, "Content-Length: ");
        pg_buf_add_u64(&b, len);
        pg_buf_adds(&b, "\r\n");
    }
    if (!keep_alive)
        pg_buf_adds(&b, "Connection: close\r\n");
    if (extra)
        pg_buf_adds(&b, extra);
    pg_buf_adds(&b, "\r\n");
    if (body && len && !head_only && status != 204 && status != 304)
        pg_buf_add(&b, body, len);
    size_t n;
    char *p = pg_buf_steal(&b, &n);
    pg_conn_send_owned(c, p, n);
    if (!keep_alive)
        pg_conn_close_after_flush(c);
}

void pg_http_respond(struct pg_conn *c, bool keep_alive, int status, const char *ctype,
                     const char *extra, const void *body, size_t len)
{
    respond(c, keep_alive, status, ctype, extra, body, len, false);
}

static char *error_json(const char *why, size_t *len)
{
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"error\":");
    pg_buf_json_str(&b, why, strlen(why));
    pg_buf_adds(&b, "}\n");
    return pg_buf_steal(&b, len);
}

void pg_http_error(struct pg_conn *c, bool keep_alive, int status, const char *why)
{
    size_t len;
    char *body = error_json(why, &len);
    respond(c, keep_alive, status, "application/json", NULL, body, len, false);
    free(body);
}

void pg_req_respond(const struct pg_request *r, int status, const char *ctype,
                    const char *extra, const void *body, size_t len)
{
    respond(r->c, r->keep_alive, status, ctype, extra, body, len, r->head_only);
}

void pg_req_error(const struct pg_request *r, int status, const char *why)
{
    size_t len;
    char *body = error_json(why, &len);
    respond(r->c, r->keep_alive, status, "application/json", NULL, body, len, r->head_only);
    free(body);
}

ssize_t pg_req_query(const struct pg_request *r, const char *key, char *out, size_t outcap)
{
    const char *v;
    size_t vl;
    if (!r->head->query || !pg_query_find(r->head->query, r->head->query_len, key, &v, &vl))
        return -1;
    if (outcap == 0)
        return -2;
    ssize_t n = pg_url_decode(v, vl, out, outcap - 1, true);
    if (n < 0 || memchr(out, '\0', (size_t)n))
        return -2;
    out[n] = '\0';
    return n;
}

/* A chunked body being read: the decoder's state and what it decoded so
 * far, kept on the connection (c->proto; HTTP mode has no other state) so
 * each read decodes only its new bytes: linear in the body, not quadratic. */
struct chunked_progress {
    struct pg_http_chunked st;
    struct pg_buf body;
    size_t raw_done;        /* raw body bytes already through the decoder */
};

static void chunked_progress_free(struct pg_conn *c)
{
    struct chunked_progress *p = c->proto;
    if (!p)
        return;
    pg_buf_free(&p->body);
    free(p);
    c->proto = NULL;
}

/* Decodes the new part of a chunked body that follows the head. Returns
 * the raw bytes the body spans (> 0) once complete, with *body a heap copy
 * (NULL when it was too large and 413 is queued); 0 when incomplete; -1 on
 * error (reply queued, connection closing). */
static ssize_t chunked_body(struct pg_conn *c, const char *raw, size_t raw_len, bool ka,
                            char **body, size_t *body_len)
{
    struct chunked_progress *p = c->proto;
    if (!p)
        c->proto = p = pg_xcalloc(1, sizeof *p);
    size_t n = raw_len - p->raw_done;
    char *slice = pg_xmalloc(n + 1);
    memcpy(slice, raw + p->raw_done, n);
    size_t len = n;
    const char *why = NULL;
    ssize_t rest = pg_http_chunked_decode(&p->st, slice, &len, &why);
    if (rest < 0 && rest != PG_HTTP_INCOMPLETE) {
        free(slice);
        chunked_progress_free(c);
        pg_http_error(c, false, 400, why ? why : "malformed chunked body");
        return -1;
    }
    pg_buf_add(&p->body, slice, len);
    free(slice);
    bool too_big = p->body.len > pg_srv.cfg->max_message_size;
    if (rest == PG_HTTP_INCOMPLETE) {
        p->raw_done = raw_len;
        if (!too_big)
            return 0;
        chunked_progress_free(c);
        pg_limits_count(PG_REFUSE_MESSAGE_SIZE);
        pg_http_error(c, false, 413, "the message is larger than max_message_size");
        return -1;
    }
    size_t used = p->raw_done + (n - (size_t)rest);
    if (too_big) {
        chunked_progress_free(c);
        pg_limits_count(PG_REFUSE_MESSAGE_SIZE);
        pg_http_error(c, ka, 413, "the message is larger than max_message_size");
        return (ssize_t)used;
    }
    *body = pg_buf_steal(&p->body, body_len);
    chunked_progress_free(c);
    return (ssize_t)used;
}

/* A trusted proxy's X-Forwarded-For names the real client: its rightmost
 * address becomes the connection's client for per-address limits and logs.
 * Returns false when that client is over its limit. */
static bool use_forwarded_for(struct pg_conn *c, const struct pg_http_request *req)
{
    if (c->flags & PG_CONN_PUBLISH)
        return true;
    if (!pg_limits_trusted_proxy(c->family, c->addr))
        return true;
    const struct pg_http_header *h = pg_http_header_find(req, "X-Forwarded-For");
    if (!h || !h->value_len)
        return true;
    const char *v = h->value, *end = h->value + h->value_len, *start = end;
    while (start > v && start[-1] != ',')
        start--;
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    char ip[64];
    size_t n = (size_t)(end - start);
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof ip)
        return true;
    memcpy(ip, start, n);
    ip[n] = '\0';
    uint8_t addr[16];
    int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, ip, addr) != 1)
        return true;
    if (!pg_limits_acquire(family, addr, false))
        return false;
    c->fwd_family = (uint8_t)family;
    memcpy(c->fwd_addr, addr, family == AF_INET ? 4 : 16);
    return true;
}

static size_t http_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    const struct pg_config *cfg = pg_srv.cfg;
    if (c->flags & (PG_CONN_CLOSE_AFTER | PG_CONN_LINGER))
        return len;   /* a final reply is going out: ignore the rest */
    if (!(c->flags & PG_CONN_HTTP_MID)) {
        c->flags |= PG_CONN_HTTP_MID;
        c->deadline_ms = pg_now_ms() + cfg->header_timeout_ms;
    }
    struct pg_http_request req;
    const char *why = NULL;
    int hl = pg_http_parse_request((const char *)data, len, &req, &why);
    if (hl == PG_HTTP_INCOMPLETE) {
        if (len > cfg->max_header_size) {
            pg_limits_count(PG_REFUSE_HEADER_SIZE);
            pg_http_error(c, false, 431, "request head larger than max_header_size");
            return len;
        }
        return 0;
    }
    if (hl == PG_HTTP_ERR) {
        bool too_many = why && strstr(why, "too many headers");
        pg_limits_count(too_many ? PG_REFUSE_HEADER_SIZE : PG_REFUSE_BAD_REQUEST);
        pg_http_error(c, false, too_many ? 431 : 400, why ? why : "malformed request");
        return len;
    }
    if ((size_t)hl > cfg->max_header_size) {
        pg_limits_count(PG_REFUSE_HEADER_SIZE);
        pg_http_error(c, false, 431, "request head larger than max_header_size");
        return len;
    }
    if (!c->fwd_family && !use_forwarded_for(c, &req)) {
        pg_http_error(c, false, 429, "too many connections from this address");
        return len;
    }
    char *chunked = NULL;
    const char *body = (const char *)data + hl;
    size_t body_len = 0, used = (size_t)hl;
    if (req.content_length > 0) {
        if ((uint64_t)req.content_length > cfg->max_message_size) {
            pg_limits_count(PG_REFUSE_MESSAGE_SIZE);
            pg_http_error(c, false, 413, "the message is larger than max_message_size");
            return len;
        }
        if (len - (size_t)hl < (size_t)req.content_length)
            return 0;
        body_len = (size_t)req.content_length;
        used += body_len;
    } else if (req.chunked) {
        ssize_t raw = chunked_body(c, body, len - (size_t)hl, req.keep_alive, &chunked, &body_len);
        if (raw < 0)
            return len;
        if (raw == 0)
            return 0;
        used += (size_t)raw;
        if (!chunked) {          /* too large, already answered */
            c->flags &= (uint16_t)~PG_CONN_HTTP_MID;
            return used;
        }
        body = chunked;
    }
    c->flags &= (uint16_t)~PG_CONN_HTTP_MID;
    c->deadline_ms = 0;

    char *path = pg_xmalloc(req.path_len + 1);
    ssize_t pl = pg_url_decode(req.path, req.path_len, path, req.path_len, false);
    if (pl < 0 || memchr(path, '\0', (size_t)pl)) {
        free(path);
        free(chunked);
        pg_http_error(c, false, 400, "malformed percent-encoding in the path");
        return len;
    }
    path[pl] = '\0';
    struct pg_request r = {
        .c = c, .head = &req, .path = path, .path_len = (size_t)pl,
        .body = body, .body_len = body_len,
        .keep_alive = req.keep_alive && !pg_srv.stopping,
        .head_only = pg_view_eq(req.method, req.method_len, "HEAD"),
        .raw = (const char *)data, .raw_len = used,
    };
    pg_route(&r);
    free(path);
    free(chunked);
    return used;
}

static void http_on_tick(struct pg_conn *c, uint64_t now)
{
    if (c->flags & PG_CONN_CLOSE_AFTER)
        return;
    if (c->flags & PG_CONN_HTTP_MID) {
        if (now >= c->deadline_ms) {
            pg_limits_count(PG_REFUSE_HEADER_TIMEOUT);
            pg_http_error(c, false, 408, "the request did not arrive within header_timeout");
            c->flags &= (uint16_t)~PG_CONN_HTTP_MID;
        }
        return;
    }
    if (!c->deadline_ms) {     /* new or idle keep-alive connection */
        uint64_t t = c->created_ms == c->last_read_ms ? pg_srv.cfg->header_timeout_ms
                                                      : pg_srv.cfg->idle_timeout_ms;
        c->deadline_ms = c->last_read_ms + t;
    }
    if (now >= c->deadline_ms && c->q_len == 0)
        pg_conn_close(c);
}

static void http_on_drain(struct pg_conn *c)
{
}

static void http_on_free(struct pg_conn *c)
{
    chunked_progress_free(c);   /* a client that left mid-body */
}

const struct pg_conn_handler pg_http_handler = {
    .name = "http",
    .on_data = http_on_data,
    .on_tick = http_on_tick,
    .on_drain = http_on_drain,
    .on_free = http_on_free,
};

/* Feeds in[0..n) to the HTTP reader as fresh input; keeps what it leaves. */
static void feed(struct pg_conn *c, uint8_t *in, size_t n)
{
    size_t used = 0;
    while (used < n && !(c->flags & PG_CONN_CLOSING)) {
        const struct pg_conn_handler *h = c->h;
        size_t u = h->on_data(c, in + used, n - used);
        used += u;
        if (!u && h == c->h)
            break;
    }
    if (used < n && !(c->flags & PG_CONN_CLOSING)) {
        c->in = pg_xmalloc(n - used);
        memcpy(c->in, in + used, n - used);
        c->in_len = c->in_cap = (uint32_t)(n - used);
    }
}

void pg_http_resume(struct pg_conn *c)
{
    c->h = &pg_http_handler;
    c->proto = NULL;
    c->deadline_ms = 0;
    if (c->in_len) {
        /* a pipelined request waited behind the held reply */
        uint8_t *in = c->in;
        uint32_t n = c->in_len;
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        feed(c, in, n);
        free(in);
    }
}

void pg_http_replay(struct pg_conn *c, char *raw, size_t len)
{
    c->h = &pg_http_handler;
    c->proto = NULL;
    c->deadline_ms = 0;
    size_t n = len + c->in_len;
    uint8_t *all = pg_xmalloc(n ? n : 1);
    memcpy(all, raw, len);
    if (c->in_len)
        memcpy(all + len, c->in, c->in_len);
    free(raw);
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    feed(c, all, n);
    free(all);
}
