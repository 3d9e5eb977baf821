/* journal.h — the optional history journal (`history_journal <path>`):
 * durability for the embedded memory store. Every published message and
 * every DELETE is appended; records appended during one loop iteration
 * are written and fdatasync'd as one commit group before any reply or
 * delivery leaves (conn.c calls pg_journal_sync_if_pending before writing a socket),
 * so a crash never loses an acknowledged or delivered message. At start-up
 * the journal is replayed into the hub (same epoch, same id counter, same
 * per-channel evicted_max_seq, DELETEs, and the spool's dedup keys) and
 * compacted; while running it is compacted again whenever it outgrows
 * its retained history. Single-threaded: every call is on the main loop.
 *
 * Off (path "") every function is a cheap no-op. */
#ifndef PG_JOURNAL_H
#define PG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pg_message;
struct pg_hub_limits;

struct pg_journal_opts {
    const char *path;                     /* the journal file; its directory must exist */
    const struct pg_hub_limits *lim;      /* history_ttl applies to replayed messages */
    struct event_base *base;              /* for the run-time compaction steps */
    /* Called after replay with each remembered dedup key (spool entries),
     * oldest first, so publish.c can refill its set. May be NULL. */
    void (*dedup_key)(const char *key, void *arg);
    void *dedup_arg;
};

/* Opens (creating when missing) and locks the journal, replays it into the
 * hub (after pg_hub_init, before any listener opens), drops a torn tail,
 * and compacts it. Returns 0, or -1 with one sentence in err (unreadable,
 * corrupt before durable data, locked by another pushgated, not writable). */
int pg_journal_open(const struct pg_journal_opts *o, char *err, size_t errlen);
/* Syncs what is pending and closes (idempotent). */
void pg_journal_close(void);
bool pg_journal_on(void);

/* Hub hooks (hub.c). m has its id; nothing is written until the next
 * pg_journal_sync. No-ops while off or while replaying. */
void pg_journal_append(const struct pg_message *m);
void pg_journal_delete(const char *name, size_t len, uint64_t last_seq);
/* After a publish: commits at once when it carried a dedup key (a spool
 * entry is unlinked as soon as pg_publish returns). */
void pg_journal_commit_urgent(void);

/* Group commit: writes and fdatasyncs every record appended since the last
 * call (one write, one fdatasync). Cheap when nothing is pending. On a
 * write or fdatasync error pushgated logs why and exits at once, before
 * any acknowledgement of those records can leave: a journal that cannot
 * be written can keep no promise (as PostgreSQL after a failed fsync). */
void pg_journal_sync(void);
/* The same from a worker's flush pass, which runs without the process
 * lock (workers.h): one atomic load when nothing is pending. */
void pg_journal_sync_if_pending(void);

/* Periodic: starts a run-time compaction when the file has grown by more
 * than max(4 MiB, its size after the last compaction). */
void pg_journal_tick(uint64_t now_ms);

struct pg_journal_stats {
    uint64_t bytes;            /* current file size */
    uint64_t syncs;            /* commit groups written */
    uint64_t records;          /* records appended since start */
    uint64_t sync_ns_total, sync_ns_max;
    uint64_t compactions;
};
void pg_journal_stats(struct pg_journal_stats *st);

/* ---- implemented in hub.c, for the journal only (replay and snapshot) ---- */

/* Restores the epoch and raises the id counter and the global gap floor. */
void pg_hub_restore_clock(const char *epoch, uint64_t seq, uint64_t gap_floor);
/* Restores one message with its seq (takes the reference). expired: its
 * history_ttl has passed; it is then counted as evicted instead of kept
 * (unless newer history already sits in its channel). */
void pg_hub_restore_message(struct pg_message *m, uint64_t seq, bool expired);
/* Restores a channel's evicted_max_seq and last seq; a channel without
 * history becomes a tombstone. */
void pg_hub_restore_channel(const char *name, size_t len, uint64_t evicted_max_seq,
                            uint64_t last_seq);
/* Channels that remember an eviction (evicted_max_seq > 0), for snapshots. */
typedef void (*pg_hub_walk_fn)(void *arg, const char *name, size_t len,
                               uint64_t evicted_max_seq, uint64_t last_seq);
void pg_hub_walk_evicted(pg_hub_walk_fn fn, void *arg);
/* Every retained message in seq order, each with a new reference: the
 * caller unrefs each and frees the array. */
struct pg_message **pg_hub_retained(size_t *n);
uint64_t pg_hub_gap_floor(void);

#endif
