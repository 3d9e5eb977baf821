/* subscriber.h — the one interface between the hub and a transport
 * (DESIGN I1). The hub calls these operations; it never asks which
 * transport it talks to. WebSocket, SSE and long-poll each implement one
 * static const table.
 *
 * Contract for implementations (DESIGN I4): no operation may free the
 * subscriber or unsubscribe it, because the hub may be iterating a channel's
 * subscriber list. A subscriber that must go (output over its cap, socket
 * error, no channel left) is marked closing and reaped after the loop by its
 * transport, which then calls pg_hub_unsubscribe. */
#ifndef PG_SUBSCRIBER_H
#define PG_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_message;
struct pg_subscriber;
struct pg_channel;

struct pg_subscriber_ops {
    const char *name;   /* "websocket", "sse", "longpoll": logs and metrics */
    /* Queue m (already encoded in the subscriber's format) for the client. */
    void (*deliver)(struct pg_subscriber *s, struct pg_message *m);
    /* History could not cover the resume point: channels[0..n) missed
     * messages after cursor (the id the subscriber resumed from). */
    void (*gap)(struct pg_subscriber *s, const char *const *channels, size_t n, const char *cursor);
    /* channel was deleted; the hub has already unlinked it. remaining is the
     * number of channels the subscriber still has. */
    void (*deleted)(struct pg_subscriber *s, const char *channel, size_t remaining);
    /* The server is shutting down (WebSocket: close 1001). */
    void (*shutdown)(struct pg_subscriber *s);
};

/* One (subscriber, channel) membership: a node in the channel's list. */
struct pg_sublink {
    struct pg_sublink *prev, *next;
    struct pg_channel *chan;      /* NULL once unlinked (channel deleted) */
    struct pg_subscriber *sub;
};

struct pg_subscriber {
    const struct pg_subscriber_ops *ops;
    struct pg_sublink *links;     /* n_links entries, owned by the hub */
    uint16_t n_links;
    uint16_t n_live;              /* links still attached to a channel */
    uint8_t fmt;                  /* message format id (message.h) */
    bool replay_full;             /* set by the transport when a catch-up replay
                                     reached its output cap: the hub stops
                                     encoding and handing it more (the client
                                     resumes from the last id it got) */
    bool subscribed;
    uint8_t worker;               /* the worker (workers.h) whose thread owns it */
    /* Messages with seq <= skip_seq are skipped by the fan-out: they were
     * replayed already, or published before the subscriber came, and may
     * still be on their way to its worker's inbox. Set by the hub when it
     * subscribes: the shared store's counter when its replay was read, else
     * the hub's newest seq. Reset to 0 on a new shared-store epoch. */
    uint64_t skip_seq;
    /* The hub's delete count when it subscribed: a delete posted to the
     * worker earlier does not detach it (memory store with workers). */
    uint64_t attach_deletes;
};

#endif
