/* tap_int.h — what tap.c (listener, publisher thread) and tap_conn.c (one
 * web-server connection) share inside the tap. */
#ifndef PG_BRIDGE_TAP_INT_H
#define PG_BRIDGE_TAP_INT_H

#include <event2/util.h>
#include <stddef.h>

struct event_base;
struct pg_bridge_conf;
struct pg_tap_rules;

struct pg_tap {
    struct event_base *base;
    const struct pg_bridge_conf *conf;
    struct pg_tap_rules *rules;     /* may be NULL: header publishing only */
    size_t nconns;
};

/* Serves one accepted web-server connection (FastCGI records). */
void pg_tap_conn_new(struct pg_tap *t, evutil_socket_t fd);

/* Queues a publish for the publisher thread (never blocks the loop). */
void pg_tap_publish(struct pg_tap *t, const char *why, const char *channel, const char *event,
                    const char *payload, size_t len);

#endif
