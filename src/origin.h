/* origin.h — the Origin rule and the CORS headers shared by every public
 * endpoint a browser script can reach: WebSocket, SSE and long-poll on
 * /sub and /pubsub, and POST /pubsub.
 *
 * The rule (allowed_origins decides):
 *   - no Origin header: allowed (curl, backends, old browsers on same-origin
 *     GETs; a browser always sends Origin on cross-origin requests);
 *   - an Origin listed in allowed_origins (scheme, host and port compared,
 *     default ports implied; "null" only when listed): allowed, with
 *     credentials;
 *   - allowed_origins holds "*": any Origin, without credentials;
 *   - otherwise the Origin's host[:port] must be the request's own: the Host
 *     header, or, when the peer is in trusted_proxies and sent
 *     X-Forwarded-Host, that (and X-Forwarded-Proto, when given, must be the
 *     Origin's scheme). Ports are compared when Host/X-Forwarded-Host names
 *     one or X-Forwarded-Proto implies one; a direct request's Host without
 *     a port means the default port of the Origin's scheme.
 *
 * The pure decision (pg_origin_decide) takes strings and has no I/O, so it is
 * unit-tested alone; pg_origin_check wraps it for a request. */
#ifndef PG_ORIGIN_H
#define PG_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

struct pg_request;
struct pg_strlist;
struct pg_buf;

enum pg_origin_verdict {
    PG_ORIGIN_REFUSED = -1,
    PG_ORIGIN_NONE = 0,    /* no Origin header */
    PG_ORIGIN_SAME = 1,    /* matches the request's host */
    PG_ORIGIN_ANY = 2,     /* allowed by "*" */
    PG_ORIGIN_LISTED = 3,  /* listed: the only verdict that gets credentials */
};

/* The inputs of the rule. host, xf_host, xf_proto: header values or NULL;
 * the forwarded ones are used only when via_trusted_proxy. */
struct pg_origin_in {
    const char *origin; size_t origin_len;   /* NULL: no Origin header */
    const char *host; size_t host_len;
    const char *xf_host; size_t xf_host_len;
    const char *xf_proto; size_t xf_proto_len;
    bool via_trusted_proxy;
};

/* Decides for in against the allowed_origins list. On PG_ORIGIN_REFUSED,
 * *why is a static sentence fit for a 403 body or a log line. */
int pg_origin_decide(const struct pg_origin_in *in, const struct pg_strlist *allowed, const char **why);

/* The rule for a request (config in force, peer address of r->c). */
int pg_origin_check(const struct pg_request *r, const char **why);

/* true unless the rule refuses r; the WebSocket accept calls this and
 * answers 403 with *why when false. */
bool pg_origin_allowed(const struct pg_request *r, const char **why);

/* Appends the CORS response headers (CRLF-terminated lines) for an allowed
 * request: always "Vary: Origin" (plus ", " vary_more when not NULL); with an
 * Origin, Access-Control-Allow-Origin (the Origin itself),
 * Access-Control-Expose-Headers: X-Last-Id, X-Gap, and
 * Access-Control-Allow-Credentials only for PG_ORIGIN_LISTED. */
void pg_origin_cors_headers(const struct pg_request *r, int verdict, const char *vary_more,
                            struct pg_buf *out);

/* Is the peer of r in trusted_proxies? */
bool pg_origin_peer_trusted(const struct pg_request *r);

#endif
