/* io.h — the callback sink one bridge request is served through, so the
 * same handler serves CGI (environ, stdin, stdout) and FastCGI
 * (FCGX_GetParam, FCGX_GetStr, FCGX_PutStr) requests. */
#ifndef PG_BRIDGE_IO_H
#define PG_BRIDGE_IO_H

#include <stddef.h>
#include <sys/types.h>

struct pg_br_io {
    /* A CGI variable ("REQUEST_METHOD", "HTTP_X_EVENT"...) or NULL. The
     * string lives until the request is finished. */
    const char *(*param)(void *ud, const char *name);
    /* Reads up to n body bytes: >0 bytes, 0 at end of body, <0 error. */
    ssize_t (*read)(void *ud, char *buf, size_t n);
    /* Writes n response bytes (CGI response: head then body). 0 or -1. */
    int (*write)(void *ud, const char *p, size_t n);
    void *ud;
    int fastcgi;            /* 1 in FastCGI mode (a long-lived process) */
};

/* Writes a complete CGI response: Status, Content-Type, Content-Length,
 * optional extra header lines (each ending in \r\n), then body. */
void pg_br_reply(const struct pg_br_io *io, int status, const char *ctype,
                 const char *extra_headers, const char *body, size_t len);
/* A JSON {"error": msg} reply (msg is escaped). */
void pg_br_reply_error(const struct pg_br_io *io, int status, const char *msg);
/* Escapes s for a JSON string body (without quotes); heap string. */
char *pg_br_json_escape(const char *s, size_t n);

#endif
