/* listener.h — listening sockets (TCP v4/v6 and UNIX), accept loop, and
 * back-off on EMFILE so a full descriptor table never makes us spin.
 *
 * Workers (workers.h): the listeners live on worker 0's loop, which
 * accepts and hands each connection to the worker with the fewest
 * connections (through its inbox); that worker owns it from then on.
 * Accepting is a small part of a connection's cost, and one accepting
 * thread balances the workers exactly, whatever the kernel's timing. */
#ifndef PG_LISTENER_H
#define PG_LISTENER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

struct pg_conn_handler;

enum pg_listener_kind { PG_LISTEN_PUBLIC, PG_LISTEN_PUBLISH };

/* Parses and binds addr ("host:port", "[v6]:port", "unix:/path"; a "tls:"
 * prefix is reported through *tls). unix sockets get mode 0660 and, when
 * group is non-empty, that group. Returns 0 or -1 with a message in err. */
int pg_listener_add(struct event_base *base, const char *addr, enum pg_listener_kind kind,
                    const char *group, const struct pg_conn_handler *h, char *err, size_t errlen);
/* Stops accepting on every listener (graceful shutdown); unlinks unix paths. */
void pg_listener_close_all(void);
/* Number of listeners bound. */
int pg_listener_count(void);

#endif
