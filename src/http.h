/* http.h — the HTTP/1.1 side of a connection: read a request head and
 * body with the codec (http_parse.c), hand a complete request to the router,
 * write replies. Keep-alive and pipelining: requests are answered in order,
 * one at a time. */
#ifndef PG_HTTP_H
#define PG_HTTP_H

#include "conn.h"
#include "http_parse.h"

#include <stdbool.h>
#include <stddef.h>

struct pg_request {
    struct pg_conn *c;
    const struct pg_http_request *head;  /* views live during dispatch only */
    const char *path;                    /* percent-decoded path, NUL-terminated */
    size_t path_len;
    const char *body;                    /* decoded body (chunked undone) */
    size_t body_len;
    bool keep_alive;
    bool head_only;                      /* HEAD: no body in the reply */
    const char *raw;                     /* the whole request as received (head and */
    size_t raw_len;                      /* raw body), for pg_http_replay */
};

extern const struct pg_conn_handler pg_http_handler;

/* Queues a complete response. extra: CRLF-terminated header lines or NULL.
 * Without keep_alive the connection closes once the reply is written. */
void pg_http_respond(struct pg_conn *c, bool keep_alive, int status, const char *ctype,
                     const char *extra, const void *body, size_t len);
/* JSON error body {"error":"why"} (why is one plain sentence). */
void pg_http_error(struct pg_conn *c, bool keep_alive, int status, const char *why);
void pg_req_respond(const struct pg_request *r, int status, const char *ctype,
                    const char *extra, const void *body, size_t len);
void pg_req_error(const struct pg_request *r, int status, const char *why);
const char *pg_http_reason(int status);
/* Finds a query parameter and percent-decodes it into out (NUL-terminated).
 * Returns its length, -1 when absent, -2 when malformed or too long. */
ssize_t pg_req_query(const struct pg_request *r, const char *key, char *out, size_t outcap);
/* Returns the connection to HTTP request reading (after a held reply). */
void pg_http_resume(struct pg_conn *c);
/* Returns the connection to HTTP and processes raw[0..len) (a request saved
 * from r->raw, taken over: freed here) as if it had just arrived, before any
 * input buffered meanwhile. Used to re-dispatch a request after an
 * asynchronous check (the session check of auth.c). */
void pg_http_replay(struct pg_conn *c, char *raw, size_t len);

#endif
