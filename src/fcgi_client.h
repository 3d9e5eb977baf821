/* fcgi_client.h — one FastCGI request to an application server (php-fpm)
 * over libevent: BEGIN_REQUEST, PARAMS, STDIN out; STDOUT, STDERR,
 * END_REQUEST in. Used by the bridge's tap and by pushgated's auth_fastcgi
 * session check.
 *
 * One connection per request, opened for it and closed after END_REQUEST
 * (no FCGI_KEEP_CONN): php-fpm does not multiplex, and an idle kept
 * connection pins a php-fpm worker. So a call can never see another
 * request's answer.
 *
 * Ownership: the call is freed by the library right after on_end returns,
 * or by pg_fcgi_call_abort (after which no callback runs). Callbacks may
 * call pg_fcgi_call_pause/abort on their own call. */
#ifndef PG_FCGI_CLIENT_H
#define PG_FCGI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pg_fcgi_call;

struct pg_fcgi_call_cb {
    /* STDOUT / STDERR content as it arrives (may be NULL). */
    void (*on_stdout)(void *ud, const uint8_t *p, size_t n);
    void (*on_stderr)(void *ud, const uint8_t *p, size_t n);
    /* Exactly once. err 0: END_REQUEST arrived with these statuses. err < 0:
     * the request failed (why: connect refused, timeout, closed early,
     * protocol error); output seen so far was already delivered. */
    void (*on_end)(void *ud, int err, uint32_t app_status, uint8_t proto_status, const char *why);
};

/* Appends one encoded name-value pair to a growable params block. */
void pg_fcgi_params_add(uint8_t **buf, size_t *len, const char *name, const char *value);

/* Starts a RESPONDER request to target ("unix:/path", "/path",
 * "host:port", "[v6]:port") with an encoded params block (copied). The
 * idle timeout bounds every wait for php-fpm (0 = none). Returns the call;
 * a failure to connect is reported through on_end from the event loop,
 * never from inside this function. */
struct pg_fcgi_call *pg_fcgi_call_start(struct event_base *base, const char *target,
                                        const uint8_t *params, size_t params_len,
                                        const struct pg_fcgi_call_cb *cb, void *ud,
                                        int timeout_ms);
/* Sends request body bytes; len 0 ends the body (STDIN end-of-stream). */
void pg_fcgi_call_stdin(struct pg_fcgi_call *c, const void *p, size_t len);
/* Stops or resumes reading the answer (back-pressure). */
void pg_fcgi_call_pause(struct pg_fcgi_call *c, bool paused);
/* Cancels: closes the connection, frees the call, no more callbacks. */
void pg_fcgi_call_abort(struct pg_fcgi_call *c);

#endif
