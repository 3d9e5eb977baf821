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

#endif
