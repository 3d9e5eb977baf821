/* metrics.h — pushgated's counters and its one histogram, and the
 * Prometheus text exposition (format 0.0.4) they are rendered in.
 *
 * Job: plain counters bumped on the hot path, and a renderer that turns
 * them plus a snapshot of gauges (taken by metrics_http.c from the hub, the
 * connection list and the refusal counters) into exposition text. No I/O
 * here and no event2/ include: the renderer is unit-tested alone
 * (tests/metrics/test_metrics_unit.c).
 *
 * Invariants:
 * - Hot-path updates are a plain increment (inline below): no lock, no
 *   allocation, no syscall. pg_metrics is per thread: each worker
 *   (workers.h) counts in its own copy and pg_metrics_sum adds the copies
 *   at render time. The counters a flush pass bumps without the process
 *   lock (bytes out, latency) are written with relaxed atomic stores by
 *   their one writer, so the sum may read them from another thread.
 * - Counters only grow; gauges come from the snapshot, never from here.
 * - Latency is measured at WRITE time: when the last byte of a queued
 *   message chunk has been handed to the kernel (conn.c), from the
 *   message's created_wall_ns. The wall clock is read once per flush pass
 *   (pg_metrics_clock_refresh, also before a write on a socket that became
 *   writable) and re-read every PG_METRICS_CLOCK_REUSE observations within a
 *   pass, never once per subscriber.
 *
 * Deliberate departures / what the figures mean:
 * - created_wall_ns has millisecond resolution (message.c), so latencies
 *   are exact to about 1 ms; the smallest bucket is 1 ms.
 * - A replayed message (resume by id, a long-poll's next poll) counts with
 *   its full age: that is the client's real publish-to-delivery time, so a
 *   resume after a long absence shows up in the upper buckets.
 * - JSONP long-poll answers are one built copy, not message chunks: they
 *   count as deliveries but not in the latency histogram.
 * - deliveries_total counts messages queued on a subscriber's connection
 *   (replays included). dropped{reason} counts messages that were not
 *   queued (slow_consumer: the subscriber was over subscriber_buffer_max and
 *   is disconnected; closing: it was already closing; deferred: a long-poll
 *   answer or an SSE replay was full at subscriber_buffer_max, and the
 *   client's next request gets the rest from history) or were queued but
 *   discarded unsent (unsent: disconnected as a slow consumer, or the
 *   connection closed first). */
#ifndef PG_METRICS_H
#define PG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_buf;

/* Subscriber transports (label transport=). */
enum pg_mt { PG_MT_WEBSOCKET, PG_MT_SSE, PG_MT_LONGPOLL, PG_MT_COUNT };

/* Why a delivery was dropped (label reason=). */
enum pg_drop {
    PG_DROP_SLOW_CONSUMER,
    PG_DROP_CLOSING,
    PG_DROP_DEFERRED,
    PG_DROP_UNSENT,
    PG_DROP_COUNT
};

/* Who published (label origin=); same values as PG_PUB_ORIGIN_* (publish.h). */
enum { PG_METRICS_ORIGINS = 3 };

/* The store's state, set by the store (memory: always up). */
enum pg_store_state { PG_STORE_STATE_UP, PG_STORE_STATE_CONNECTING, PG_STORE_STATE_DOWN, PG_STORE_STATE_COUNT };

/* Latency buckets (upper bounds, seconds): 1ms 2.5ms 5ms 10ms 25ms 50ms
 * 100ms 250ms 500ms 1s 2.5s 5s 10s, then +Inf. */
#define PG_LATENCY_BUCKETS 13
#define PG_METRICS_CLOCK_REUSE 64

struct pg_histogram {
    uint64_t bucket[PG_LATENCY_BUCKETS + 1];  /* NOT cumulative; [PG_LATENCY_BUCKETS] is +Inf */
    uint64_t count;
    uint64_t sum_ns;
};

/* Publish refusals by HTTP status (label code=). */
enum { PG_PUBREFUSE_400, PG_PUBREFUSE_413, PG_PUBREFUSE_503, PG_PUBREFUSE_OTHER, PG_PUBREFUSE_COUNT };

struct pg_metrics {
    uint64_t accepted[2];                    /* connections accepted: [0] public, [1] publish listener */
    uint64_t subscribes[PG_MT_COUNT];        /* subscribe requests accepted (a long-poll: per poll) */
    uint64_t published[PG_METRICS_ORIGINS];  /* message copies appended (one per channel) */
    uint64_t publish_refused[PG_PUBREFUSE_COUNT];
    uint64_t deliveries[PG_MT_COUNT];
    uint64_t dropped[PG_DROP_COUNT];
    uint64_t bytes_out;                      /* bytes handed to the kernel (TLS: plaintext) */
    struct pg_histogram latency;
    uint64_t clock_ns;                       /* cached wall clock for latency */
    uint32_t clock_uses;                     /* observations since clock_ns was read */
    /* store */
    const char *store_backend;               /* static string: "memory", "redis" */
    enum pg_store_state store_state;
    uint64_t store_state_changes;
    uint64_t store_state_since_ms;           /* wall ms of the last change */
    /* process */
    uint64_t started_wall_ms;
    uint64_t started_mono_ms;
};

extern __thread struct pg_metrics pg_metrics;

/* Resets every counter and records the start time. Call once at start-up,
 * on the main thread (worker 0). */
void pg_metrics_init(void);
/* A worker thread's copy (worker w > 0): zeroed and registered for the sum
 * (64 copies at most, as workers.h's PG_WORKERS_MAX). The registration
 * outlives the thread: sum only while the workers run. */
void pg_metrics_thread_init(unsigned w);
/* The sum of every worker's copy (store state and start time: worker 0's).
 * Call holding the process lock. */
void pg_metrics_sum(struct pg_metrics *out);

/* ---- hot path ---- */

static inline void pg_metrics_delivery(enum pg_mt t)
{
    pg_metrics.deliveries[t]++;
}

static inline void pg_metrics_drop(enum pg_drop why)
{
    pg_metrics.dropped[why]++;
}

/* One writer (this thread), readers elsewhere: a relaxed store, no lock prefix. */
static inline void pg_metrics_add_relaxed(uint64_t *v, uint64_t n)
{
    __atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void pg_metrics_bytes_out(uint64_t n)
{
    pg_metrics_add_relaxed(&pg_metrics.bytes_out, n);
}

/* Reads the wall clock into the cache (once per flush pass). */
void pg_metrics_clock_refresh(void);
/* A message created at created_wall_ns has just been written. */
void pg_metrics_written(uint64_t created_wall_ns);

/* ---- less hot ---- */

/* A subscriber of the transport named name ("websocket", "sse",
 * "longpoll", as in pg_subscriber_ops.name) was subscribed. Unknown names
 * are ignored. */
void pg_metrics_subscribed(const char *transport);
/* n message copies published by origin (PG_PUB_ORIGIN_*). */
void pg_metrics_published(int origin, uint64_t n);
/* A publish was refused with this HTTP status. */
void pg_metrics_publish_refused(int status);
/* A connection was accepted on a public (false) or publish (true) listener. */
static inline void pg_metrics_accepted(bool publish)
{
    pg_metrics.accepted[publish ? 1 : 0]++;
}

/* THE STORE'S HOOK: the store calls this whenever its state changes
 * (backend: a static string, "memory" or "redis"). The memory store is
 * "memory"/UP from pg_metrics_init on; the Redis store calls it with
 * CONNECTING at start, UP once connected, DOWN when the link is lost. */
void pg_metrics_set_store(const char *backend, enum pg_store_state state);
const char *pg_store_state_name(enum pg_store_state s);

const char *pg_mt_name(enum pg_mt t);
const char *pg_drop_name(enum pg_drop d);
const char *pg_origin_name(int origin);

/* ---- rendering ---- */

/* Gauges and foreign counters, sampled by the caller at scrape time. */
#define PG_METRICS_CONN_KINDS 16
#define PG_METRICS_REFUSALS 32

struct pg_metrics_snapshot {
    const char *version;
    uint64_t now_wall_ms, now_mono_ms;
    uint64_t channels, tombstones, subscriptions;
    uint64_t retained, retained_bytes, messages_alive;
    uint64_t rss_bytes;                       /* 0: unknown, not rendered */
    struct {
        const char *listener, *transport;     /* static strings */
        uint64_t n;
    } conns[PG_METRICS_CONN_KINDS];
    size_t n_conns;
    struct {
        const char *reason;                   /* static string */
        uint64_t n;
    } refusals[PG_METRICS_REFUSALS];
    size_t n_refusals;
};

/* Appends the whole exposition of m and snap to out. */
void pg_metrics_render(struct pg_buf *out, const struct pg_metrics *m,
                       const struct pg_metrics_snapshot *snap);

/* Exposition helpers (also used by tests): a family's HELP and TYPE lines;
 * one sample (labels: already rendered 'k="v",...' text or NULL); a label
 * value escaped per the format (\\, \", \n). */
void pg_prom_family(struct pg_buf *b, const char *name, const char *type, const char *help);
void pg_prom_sample(struct pg_buf *b, const char *name, const char *labels, uint64_t v);
void pg_prom_label(struct pg_buf *b, const char *key, const char *value, bool first);

/* The bucket index for a latency in ns (0..PG_LATENCY_BUCKETS). */
int pg_latency_bucket(uint64_t ns);

#endif
