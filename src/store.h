/* store.h — channel history: append (ids are assigned by the hub before),
 * range since a seq, clear, age and memory caps. The memory store
 * (store_memory.c) is the embedded default.
 *
 * Invariant: a channel's history is in seq order; the store's global age
 * list is in seq order too, so the globally oldest retained message is
 * always also the oldest of its channel. Every eviction raises the
 * channel's evicted_max_seq before the message reference is dropped. */
#ifndef PG_STORE_H
#define PG_STORE_H

#include "channel.h"
#include "hub.h"

void pg_store_init(const struct pg_hub_limits *lim);
void pg_store_set_limits(const struct pg_hub_limits *lim);
void pg_store_free(void);
/* Appends m (takes one reference) and applies the count and memory caps. */
void pg_store_append(struct pg_channel *c, struct pg_message *m);
/* m's size grew by delta (an encoding was built); re-applies the memory cap. */
void pg_store_account(struct pg_message *m, size_t delta);
/* Drops the whole history of c (DELETE, channel reuse). */
void pg_store_clear(struct pg_channel *c);
/* Retained messages of c with seq > after, oldest first: stores up to max
 * borrowed pointers in out and returns how many there are in total. */
size_t pg_store_since(const struct pg_channel *c, uint64_t after, struct pg_message **out, size_t max);
/* Evicts what history_ttl has expired. */
void pg_store_expire(uint64_t now_ms);
void pg_store_stats(uint64_t *retained, uint64_t *bytes);

/* ---- a shared store (store_redis.c): several nodes, one history ----
 *
 * When one is set (pg_hub_set_shared) the hub keeps only its local
 * subscriber lists: ids, history, replay, delete and channel info go to the
 * shared store, and a publish is NOT fanned out by the node that took it:
 * every node (that one included) fans out when the store hands the message
 * back through pg_hub_fanout, in the store's one global order. Every call
 * is synchronous; -1 means the store could not answer (*why says why; the
 * caller answers 503), and nothing was changed. */

/* What a replay read from the shared store. */
struct pg_shared_replay {
    char epoch[24];                /* the store's current epoch */
    uint64_t upto;                 /* the id counter read with the history */
    char *flags;                   /* [n] in: zeroed by the hub; out: '0' no gap,
                                      '1' gap, 'd' deleted after the cursor */
    struct pg_message **msgs;      /* heap array in seq order, ids set; the
                                      hub owns one reference each and frees it */
    size_t n_msgs;
};

struct pg_store_shared {
    /* Appends msgs[0..n) atomically and sets their ids. Returns 0, 1 when
     * msgs[0]->dedup_key was applied already (nothing appended), or -1. */
    int (*publish)(struct pg_message *const *msgs, size_t n, const char **why);
    /* Messages of names[0..n) with seq > after (after = 0 and a gap for
     * every channel when epoch is not the current one), and gap flags. */
    int (*replay)(const char *const *names, const size_t *lens, size_t n, const char *epoch,
                  uint64_t after, struct pg_shared_replay *out, const char **why);
    /* Deletes a channel's history on every node; *found: it had one. */
    int (*remove)(const char *name, size_t len, bool *found, const char **why);
    /* Retained (unexpired) messages and the last seq ever published (0: none). */
    int (*info)(const char *name, size_t len, uint64_t *messages, uint64_t *last_seq,
                const char **why);
    void (*set_limits)(const struct pg_hub_limits *lim);
};

/* Called once at start-up, before any subscriber exists. */
void pg_hub_set_shared(const struct pg_store_shared *ops);
/* True when the channel has local subscribers (the store builds a message
 * for pg_hub_fanout only then). */
bool pg_hub_wants(const char *name, size_t len);
/* Fans m (id set) out to the channel's local subscribers whose skip_seq is
 * below m->seq, without touching history; raises the cursor. Takes the
 * caller's reference. */
void pg_hub_fanout(struct pg_message *m);
/* The store's epoch and the highest seq this node has seen. A new epoch
 * resets every subscriber's skip_seq; the same epoch only raises seq. */
void pg_hub_set_clock(const char *epoch, uint64_t seq);
/* A channel was deleted at delete_seq: its local subscribers (those that
 * did not resume past delete_seq) are told and detached. */
void pg_hub_delete_local(const char *name, size_t len, uint64_t delete_seq);
/* Sends a gap notice (this channel, cursor) to its local subscribers. */
void pg_hub_gap_local(const char *name, size_t len, const char *cursor);
/* Calls fn for every channel with local subscribers. fn must not subscribe
 * or unsubscribe. */
void pg_hub_walk_subscribed(void (*fn)(void *arg, const char *name, size_t len), void *arg);

#endif
