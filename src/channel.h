/* channel.h — the channel record shared by the hub (registry, subscriber
 * list) and the store (history). Private to hub.c and store_*.c. */
#ifndef PG_CHANNEL_H
#define PG_CHANNEL_H

#include "message.h"
#include "subscriber.h"

struct pg_channel {
    struct pg_channel *hnext;         /* hash chain */
    struct pg_sublink **subs;         /* per worker (workers.h): its doubly linked
                                         list of memberships; pg_n_workers heads in
                                         this allocation */
    uint32_t hash;
    uint32_t n_subs;                  /* all workers' */
    uint32_t fmt_subs[PG_FORMAT_MAX]; /* subscribers per message format, all workers' */
    uint64_t evicted_max_seq;         /* highest seq evicted in this epoch (I3) */
    uint64_t last_seq;                /* seq of the newest message ever appended */
    bool tombstone;                   /* idle or deleted: kept only for evicted_max_seq
                                         (and, with workers, until each worker has
                                         detached the subscribers a delete told) */
    /* history ring, owned by the store (store_memory.c) */
    struct pg_message **ring;
    uint32_t ring_cap, ring_head, ring_len;
    uint16_t name_len;
    char name[];                      /* NUL-terminated */
};

#endif
