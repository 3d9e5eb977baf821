/* redis_link.h — state shared by the Redis store's two files, private to
 * them: store_redis.c (the links: connect, reconnect, heartbeat, bus,
 * resync) and redis_ops.c (the scripts run over the command link: the
 * hub's operations, hello, trim). Single-threaded. */
#ifndef PG_REDIS_LINK_H
#define PG_REDIS_LINK_H

#include "config.h"
#include "hub.h"
#include "redis_script.h"

#include <stdbool.h>
#include <stdint.h>

struct redisContext;
struct event_base;
struct pg_message;

struct pg_redis {
    struct pg_store_url url;
    struct event_base *base;
    struct pg_hub_limits lim;
    struct redisContext *sync;          /* the command link; NULL while down */
    char where[300];                    /* "host:port" or "unix:/path", for logs */
    char sha[PG_RS_COUNT][41];          /* SCRIPT LOAD digests */
    char epoch[PG_REDIS_EPOCH_MAX];     /* "" until Redis first answered */
    char stale[PG_REDIS_EPOCH_MAX];     /* the epoch before it */
    char candidate[PG_REDIS_EPOCH_MAX]; /* offered when Redis has none; never twice */
    uint64_t last_seen;                 /* every seq <= it reached this node's hub */
    uint64_t counter;                   /* as read by the last hello */
    char bus[64], beat[96];             /* pub/sub channels */
    char err[512];                      /* the last error, "redis: ..." */
};
extern struct pg_redis pg_redis;

/* store_redis.c */
void pg_redis_new_candidate(void);
/* Makes ep the current epoch when it is not (last_seen 0, hub clock reset,
 * a warning when there was one). Returns true when it changed. */
bool pg_redis_adopt_epoch(const char *ep);
/* The command link failed (I/O error, timeout): closes both links, 503
 * until both are back. */
void pg_redis_sync_failed(const char *why);

/* redis_ops.c */
void pg_redis_ops_register(void);
/* Reads epoch and counter (creating them when missing) into pg_redis;
 * with beat, also publishes the heartbeat. 0 or -1 (pg_redis.err). */
int pg_redis_hello(bool beat);
/* SCRIPT LOAD of every script into pg_redis.sha; 0 or -1 (pg_redis.err). */
int pg_redis_load_scripts(void);
/* Entries of names[0..n) with seq in (after, upto] (UINT64_MAX: up to the
 * counter, read in the same script into *counter), their gap flags, as the
 * replay script reads them (see redis_script.h), for a cursor of epoch. */
int pg_redis_replay_range(const char *const *names, const size_t *lens, size_t n, const char *epoch,
                          uint64_t after, uint64_t upto, char *flags, struct pg_message ***msgs,
                          size_t *n_msgs, uint64_t *counter, const char **why);
/* One round of the age trim (any node; Redis lets one per round do it). */
void pg_redis_trim(void);

#endif
