/* store_redis.h — the Redis store (`store redis://host:port/db` or
 * `redis+unix:/path?db=N`): history, ids and delivery shared by several
 * pushgated nodes. Built only with hiredis (HAVE_HIREDIS).
 *
 * Single-threaded: every call is on the main event loop. */
#ifndef PG_STORE_REDIS_H
#define PG_STORE_REDIS_H

#include <stddef.h>

struct event_base;
struct pg_store_url;
struct pg_hub_limits;

/* Registers the Redis store with the hub (pg_hub_set_shared) after
 * pg_hub_init and before any listener opens, tries one connection at once
 * (so the epoch is Redis's from the first log line), and keeps connecting
 * in the background when Redis does not answer: meanwhile publishes get
 * 503 and subscribers stay connected. Returns 0, or -1 with one sentence in
 * err (a unix socket path that cannot be a socket, out of descriptors). */
int pg_store_redis_open(const struct pg_store_url *url, struct event_base *base,
                        const struct pg_hub_limits *lim, char *err, size_t errlen);
/* Closes both links and frees the events (idempotent). Before pg_hub_free. */
void pg_store_redis_close(void);

#endif
