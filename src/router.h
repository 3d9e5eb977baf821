/* router.h — (listener, method, path) -> handler. The publish listener
 * serves /pub/<channels> (and later /metrics, /status); the public listener
 * serves /sub/<channels> (WebSocket here; SSE and long-poll through the
 * hook the fallback transports register), /pubsub/<channel>, and static
 * files from www_root. */
#ifndef PG_ROUTER_H
#define PG_ROUTER_H

#include "http.h"

#define PG_SUB_MAX_CHANNELS 256

/* A parsed /sub or /pubsub target. */
struct pg_sub_target {
    const char *names[PG_SUB_MAX_CHANNELS];
    size_t lens[PG_SUB_MAX_CHANNELS];
    size_t n;
    bool pubsub;
};

typedef void (*pg_route_fn)(struct pg_request *r, const struct pg_sub_target *t);

/* Registered by the fallback transports at start-up: a non-upgrade GET on
 * /sub or /pubsub, and POST /pubsub. NULL: 406 / 405 with a clear reason. */
void pg_router_set_fallback(pg_route_fn subscribe, pg_route_fn pubsub_post);
void pg_route(struct pg_request *r);

#endif
