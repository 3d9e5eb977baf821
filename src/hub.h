/* hub.h — channels: registry, subscriber lists, publish fan-out, replay
 * since an id, delete, idle cleanup. Every call holds the process lock
 * (workers.h); subscribers are fanned out on their own worker's thread.
 *
 * Ids (DESIGN I3): "<epoch>-<seq>", one seq counter for the whole store,
 * never reset by DELETE. A channel remembers the highest seq it evicted for
 * the whole epoch, even after idle cleanup (it then lingers as a small
 * tombstone; when tombstones would exceed max_channels they are folded into
 * one global floor, which can only cause an extra gap notice, never a
 * silent skip). */
#ifndef PG_HUB_H
#define PG_HUB_H

#include "subscriber.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_message;

struct pg_hub_limits {
    uint32_t history_size;
    uint64_t history_ttl_ms;
    uint64_t history_memory_max;
    uint32_t max_channels;
};

struct pg_channel_info {
    uint64_t messages;
    uint64_t subscribers;
    char last_id[48];       /* "" when no message was ever published in this epoch */
};

void pg_hub_init(const struct pg_hub_limits *lim);
void pg_hub_set_limits(const struct pg_hub_limits *lim); /* reload */
void pg_hub_free(void);
const char *pg_hub_epoch(void);
uint64_t pg_hub_last_seq(void);
/* Current cursor: "<epoch>-<last seq>". */
void pg_hub_cursor(char *out, size_t outcap);

/* Publishes msgs[0..n): one per channel, all or nothing. On success assigns
 * ids, appends to history, fans out, stores each copy's subscriber count
 * in counts[i] and returns 0. Returns -1 with *why (nothing appended) when
 * the channel cap would be exceeded or the shared store cannot answer, and
 * PG_HUB_DUPLICATE (shared store: msgs[0]->dedup_key was applied already,
 * nothing appended). Takes over the callers' references only on 0.
 * Shared store (store.h): the ids come from the store, counts[i] are this
 * node's local subscribers, and the fan-out happens when the store hands
 * the message back (pg_hub_fanout), on every node. */
#define PG_HUB_DUPLICATE 1
int pg_hub_publish(struct pg_message **msgs, size_t n, uint32_t *counts, const char **why);

/* Subscribes s to channels (validated names), after the caller filled
 * s->ops and s->fmt. With a cursor, first replays what the subscriber missed
 * (gap notice first when history cannot cover it). Returns 0, or -1 with
 * *why (channel cap; malformed cursor). */
int pg_hub_subscribe(struct pg_subscriber *s, const char *const *names, const size_t *lens,
                     size_t n, const char *cursor, size_t cursor_len, const char **why);
/* Detaches s from every channel it is still in and frees its links. */
void pg_hub_unsubscribe(struct pg_subscriber *s);

/* Looks up a channel; false when it does not exist (or only as tombstone). */
bool pg_hub_channel_info(const char *name, size_t len, struct pg_channel_info *info);
/* Deletes a channel: history dropped, subscribers told. false when absent. */
bool pg_hub_delete(const char *name, size_t len);
/* After pg_hub_channel_info or pg_hub_delete returned false: NULL when the
 * channel is absent, else why the shared store could not answer (503). */
const char *pg_hub_store_error(void);
/* Periodic work: history TTL, idle channel cleanup. */
void pg_hub_tick(uint64_t now_ms);
/* Tells every subscriber of the calling worker the server is going away. */
void pg_hub_shutdown(void);

/* Parses a cursor "<epoch>-<seq>"; false when malformed. */
bool pg_cursor_parse(const char *s, size_t len, char *epoch, size_t epochcap, uint64_t *seq);

struct pg_hub_stats {
    uint64_t channels, tombstones, retained, retained_bytes, subscriptions;
    uint64_t published, delivered;
};
void pg_hub_stats(struct pg_hub_stats *st);

#endif
