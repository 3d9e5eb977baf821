/* fallback.h — the transports for browsers and networks without WebSocket:
 * Server-Sent Events (sse.c) and HTTP long-poll (longpoll.c, with JSONP),
 * plus POST /pubsub and the CORS preflight (fallback.c). Each transport is
 * one static const pg_subscriber_ops table behind the hub's one interface;
 * the hub, the store and the WebSocket code never learn which one they
 * talk to.
 *
 * Start-up: pg_fallback_init() after pg_ws_init() (it registers the SSE and
 * long-poll message formats, so it must run before any message exists) and
 * installs the router's fallback hooks. */
#ifndef PG_FALLBACK_H
#define PG_FALLBACK_H

#include "router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_fb_opts;

/* Registers the formats "sse", "sse-json" and "longpoll-json" and calls
 * pg_router_set_fallback. Call once at start-up. */
void pg_fallback_init(void);

/* OPTIONS on /sub/<channels> or /pubsub/<channel>: the CORS preflight
 * (204 with the Access-Control-Allow-* headers for an allowed Origin, 403
 * with a JSON reason for a refused one, a plain 204 with Allow otherwise). */
void pg_fallback_options(struct pg_request *r);

/* SECURITY HOOK — JSONP answers only for channels that need no
 * authorization: a <script> request carries the user's cookies but no
 * Origin, so any page could read a private channel through it. A channel
 * is public when no token_channels glob and no auth_url / auth_fastcgi
 * rule matches it (pg_auth_channel_public). name is not NUL-terminated. */
bool pg_fallback_channel_public(const char *name, size_t len);

/* ---- internal to fallback/ ---- */

/* An error reply with the request's CORS lines (extra, may be NULL) so a
 * cross-origin script can read it. */
void pg_fallback_error(const struct pg_request *r, const char *extra, int status, const char *why);

/* Start a subscriber on r (already checked: Origin, options, auth).
 * extra: the CORS header lines for the reply (copied). expires_ms: the
 * pg_now_ms() time the token that allowed it stops being valid, 0 = never
 * (SSE ends the stream then; a long-poll is answered by then at the latest). */
void pg_sse_init(void);
void pg_sse_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o,
                  const char *extra, uint64_t expires_ms);
void pg_longpoll_init(void);
void pg_longpoll_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o,
                       const char *extra, uint64_t expires_ms);
/* The long-poll format id: its encoding is the bare JSON envelope, which
 * the SSE json format reuses when it was built first. -1 before init. */
int pg_longpoll_format(void);

#endif
