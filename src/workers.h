/* workers.h — `workers N`: N threads, each with its own libevent loop and
 * its own connections, one process lock over the shared state, and one
 * inbox per worker through which the hub hands it published messages.
 *
 * Worker 0 is the main thread: it also owns the signals, the hub's tick,
 * the journal, the spool, the Redis links and the listening sockets. It
 * accepts every connection and hands it to the worker with the fewest
 * (listener.c), which owns it for its whole life.
 *
 * Invariants:
 * - A connection, its events and its subscriber are only ever touched by
 *   the thread of the worker that accepted it.
 * - Shared state (hub and store, journal, limits, auth caches, config,
 *   access log, metrics counters) is only touched holding the process lock
 *   (pg_lock). Every event callback takes it, except the connection layer's
 *   flush pass, which writes its own worker's queues to their sockets
 *   without it (conn.c takes it back for the parts that need it).
 * - Another worker's subscribers are reached only through its inbox
 *   (pg_worker_post, called holding the lock). Items run in the order they
 *   were posted, holding the lock, on the owner's thread; since every post
 *   happens under the lock, each worker sees a channel's messages in the
 *   order the hub appended them.
 * - Nothing holding the lock ever waits for another worker's event (no
 *   event_del of another base: it could wait for a callback that waits for
 *   the lock).
 * - With one worker pg_threaded stays false: the lock is a no-op, nothing
 *   is posted (the hub delivers directly), libevent runs without locks:
 *   exactly the single-threaded server. */
#ifndef PG_WORKERS_H
#define PG_WORKERS_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#define PG_WORKERS_MAX 64

extern bool pg_threaded;
extern unsigned pg_n_workers;
extern __thread unsigned pg_worker_self;   /* 0 on the main thread */

void pg_lock_slow(void);
void pg_unlock_slow(void);
static inline void pg_lock(void)
{
    if (pg_threaded)
        pg_lock_slow();
}
static inline void pg_unlock(void)
{
    if (pg_threaded)
        pg_unlock_slow();
}

/* Defines event callback `name` as `name##_locked` run holding the lock. */
#define PG_LOCKED_EVCB(name)                                                 \
    static void name##_locked(evutil_socket_t, short, void *);               \
    static void name(evutil_socket_t fd_, short what_, void *arg_)           \
    {                                                                        \
        pg_lock();                                                           \
        name##_locked(fd_, what_, arg_);                                     \
        pg_unlock();                                                         \
    }

/* The configured count, or for 0 the CPUs in the affinity mask; 1..MAX. */
unsigned pg_workers_resolve(uint64_t configured);
/* Sets up n workers: turns on libevent's locking when n > 1 and creates
 * the bases of workers 1..n-1 (worker 0's is main_base, created after this
 * call by the caller through pg_workers_new_base). */
int pg_workers_setup(unsigned n);
struct event_base *pg_workers_new_base(void);
void pg_workers_set_main_base(struct event_base *base);
/* The loop of worker i; pg_loop() is the calling thread's. */
struct event_base *pg_worker_base(unsigned i);
static inline struct event_base *pg_loop(void)
{
    return pg_worker_base(pg_worker_self);
}

/* Runs fn(p, u) on worker w's thread, holding the lock, after the items
 * posted to w before it. Call holding the lock. An item still queued at
 * exit gets u = PG_WORK_DISCARD instead (it then only releases what p
 * holds); the hub and main.c post u = 0 and read it as that flag. */
typedef void (*pg_work_fn)(void *p, uint64_t u);
void pg_worker_post(unsigned w, pg_work_fn fn, void *p, uint64_t u);
/* Posts fn to every worker (this one included: it runs from its loop). */
void pg_worker_post_all(pg_work_fn fn, void *p, uint64_t u);

/* Starts threads 1..n-1; each runs thread_start(w) holding the lock (its
 * per-thread set-up: connection layer, tick), then its loop, then
 * thread_stop(w) (frees what its __thread variables hold). Sets
 * pg_threaded. Returns -1 when a thread cannot start. */
int pg_workers_start(void (*thread_start)(unsigned w), void (*thread_stop)(unsigned w));
/* Ends the loops of workers 1..n-1 and joins them (main thread, not
 * holding the lock); clears pg_threaded. */
void pg_workers_join(void);
/* Frees the inboxes (an item never run gets PG_WORK_DISCARD: it only
 * releases what p holds) and the bases of workers 1..n-1. */
#define PG_WORK_DISCARD UINT64_MAX
void pg_workers_free(void);

#endif
