/* auth_session.h — one session check: ask the shop whether the browser
 * behind a Cookie may have some channels, over HTTP (auth_url, libevent's
 * evhttp client, http:// or https://) or FastCGI (auth_fastcgi, the shared
 * client of fcgi_client.h, talking to php-fpm).
 *
 * Ownership: the check is owned by this module from start to its one
 * callback; the callback runs from the event loop (never from inside
 * pg_auth_session_start), and the check is freed right after it returns.
 * pg_auth_session_cancel before the callback frees it with no callback.
 * Nothing here logs a cookie. */
#ifndef PG_AUTH_SESSION_H
#define PG_AUTH_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct pg_rule;
struct pg_auth_session;

/* What the subscriber sent, forwarded to the shop. Every field is
 * NUL-terminated; "" (never NULL) when absent. Copied by start. */
struct pg_session_query {
    const char *cookie;      /* all Cookie headers, "; "-joined */
    const char *origin;
    const char *host;        /* the Host the browser used */
    const char *user_agent;
    const char *peer;        /* the client's address */
    const char *channels;    /* the channels this rule covers, ","-joined */
};

enum pg_session_outcome {
    PG_SESSION_ANSWER = 0,   /* status and body hold the shop's answer */
    PG_SESSION_FAILED = 1,   /* no answer (connect, protocol): err says why */
    PG_SESSION_TIMEOUT = 2,  /* no answer within the time limit */
};

/* body: up to PG_SESSION_BODY_MAX bytes of the answer's body (not
 * NUL-terminated), valid during the call. err: a line for the log, never
 * for the client. */
typedef void (*pg_session_cb)(void *ud, int outcome, int status, const char *body, size_t len,
                              const char *err);

#define PG_SESSION_BODY_MAX 1024

/* Starts a check of rule (auth_fastcgi when fastcgi, else auth_url), each
 * wait bounded by timeout_ms. Never NULL. */
struct pg_auth_session *pg_auth_session_start(struct event_base *base, const struct pg_rule *rule,
                                              bool fastcgi, const struct pg_session_query *q,
                                              int timeout_ms, pg_session_cb cb, void *ud);
void pg_auth_session_cancel(struct pg_auth_session *s);
/* Frees the shared resolver and TLS context (at exit, no check pending). */
void pg_auth_session_free_all(void);

#endif
