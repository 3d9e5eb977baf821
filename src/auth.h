/* auth.h — who may subscribe and who may publish: the one question every
 * transport asks before it subscribes a client or accepts a client publish,
 * and the gate of the publish listener.
 *
 * The rule (first match decides, per channel):
 *   1. the channel matches token_channels: it needs a valid token that grants
 *      it (claim "channels" for subscribing, "publish" for client publishing);
 *   2. it matches an auth_url rule, else an auth_fastcgi rule (first match
 *      within each list): it needs the shop's session check, unless a valid
 *      token grants it;
 *   3. otherwise it is public.
 * A multi-channel subscription is allowed only when every channel is. A
 * WebSocket on /pubsub subscribes and publishes, so there a token must grant
 * both; POST /pubsub only publishes; a GET that is not an upgrade only
 * subscribes.
 *
 * Tokens: HS256 JWT (jwt.h) under token_secret, 30 s leeway, taken from the
 * first of "Authorization: Bearer", ?token= and the cookie pushgate_token.
 * Never logged: see pg_auth_redact.
 *
 * Session checks are asynchronous. When one is needed and no cached answer
 * exists, pg_auth_check saves the request bytes, switches the connection to
 * a waiting handler and returns PG_AUTH_PENDING: from then on the auth
 * module owns the connection. When the answer (or a timeout) arrives, it
 * re-dispatches the saved request with pg_http_replay; during that replay
 * pg_auth_check answers at once (ALLOW, or DENY with the upstream's status),
 * so the transport's normal allow/deny paths run. Callers therefore handle
 * only ALLOW and DENY, and return untouched on PENDING. */
#ifndef PG_AUTH_H
#define PG_AUTH_H

#include "auth_policy.h"   /* pg_auth_redact, pg_auth_check_publish_listen */
#include "router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_config;

enum pg_auth_verdict {
    PG_AUTH_ALLOW = 0,
    PG_AUTH_DENY = -1,
    PG_AUTH_PENDING = 1,
};

#define PG_AUTH_WHY_MAX 160

struct pg_auth_result {
    /* DENY: the HTTP status for SSE / long-poll / POST (401 missing or
     * invalid token, 403 a valid token that does not grant the channel,
     * the session check's own non-2xx status, 502 a failed check, 503 a
     * timed-out or overloaded check). */
    int status;
    /* DENY: one plain line, fit for {"error": why} and a WebSocket close
     * reason (the close frame keeps its first 123 bytes). */
    char why[PG_AUTH_WHY_MAX];
    /* ALLOW: pg_now_ms() time at which the token that granted some channel
     * stops being valid (its exp plus the leeway); 0 when no token limits
     * the connection. WebSocket: close 1008 then; SSE: end the stream. */
    uint64_t expires_ms;
};

/* Decides whether r may do what t asks (see above). Fills *res. On
 * PG_AUTH_PENDING the connection belongs to the auth module until it
 * replays the request: the caller must not answer, switch handlers or touch
 * r->c again. Cheap when no token_channels and no auth rules are set. */
int pg_auth_check(struct pg_request *r, const struct pg_sub_target *t, struct pg_auth_result *res);

/* true when channel (NUL-terminated) needs no authorization at all (no
 * token_channels glob and no auth rule matches): the JSONP rule. */
bool pg_auth_channel_public(const char *channel);

/* The publish listener's gate: with publish_secret set, r must carry
 * "Authorization: Bearer <secret>" (compared in constant time). Returns
 * true when r may go on; otherwise answers 401 itself and returns false. */
bool pg_auth_publish_gate(const struct pg_request *r);

/* Releases the cache, the DNS resolver and the TLS context (at exit). */
void pg_auth_free(void);

#endif
