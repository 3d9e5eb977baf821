/* test_workers.c — workers.c alone: the worker count from the affinity
 * mask, items posted from one thread run on the worker they were posted to,
 * on its thread, in posting order, holding the process lock; an item never
 * run is handed PG_WORK_DISCARD when the inboxes are freed. The daemon's
 * order and no-loss end to end: tests/integration/test_workers.py. */
#define _GNU_SOURCE
#include "tap.h"
#include "../../src/workers.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3
#define ITEMS 3000

static struct {
    uint64_t last[WORKERS];      /* newest u run by worker w */
    unsigned ran[WORKERS];
    unsigned out_of_order, wrong_thread, discarded;
    unsigned started[WORKERS];
    unsigned stopped;
} seen;

static unsigned ran_total(void)
{
    unsigned n = 0;
    pg_lock();
    for (int w = 0; w < WORKERS; w++)
        n += seen.ran[w];
    pg_unlock();
    return n;
}

static void record(void *p, uint64_t u)
{
    unsigned w = (unsigned)(uintptr_t)p;
    if (u == PG_WORK_DISCARD) {
        seen.discarded++;
        return;
    }
    if (pg_worker_self != w)
        seen.wrong_thread++;
    if (u <= seen.last[w] && seen.ran[w])
        seen.out_of_order++;
    seen.last[w] = u;
    seen.ran[w]++;
}

static void thread_start(unsigned w)
{
    seen.started[w] = pg_worker_self == w ? 1 : 2;
}

static void thread_stop(unsigned w)
{
    __atomic_add_fetch(&seen.stopped, 1, __ATOMIC_RELAXED);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    is_int(pg_workers_resolve(0), CPU_COUNT(&set), "workers 0 = CPUs in the affinity mask");
    is_int(pg_workers_resolve(3), 3, "workers 3");
    is_int(pg_workers_resolve(1000), PG_WORKERS_MAX, "capped at PG_WORKERS_MAX");

    ok(pg_workers_setup(WORKERS) == 0, "set up %d workers", WORKERS);
    struct event_base *main_base = pg_workers_new_base();
    pg_workers_set_main_base(main_base);
    ok(main_base && pg_worker_base(1) && pg_worker_base(2) && pg_worker_base(1) != main_base,
       "one loop per worker");
    ok(pg_workers_start(thread_start, thread_stop) == 0 && pg_threaded, "threads started");

    /* posted from this thread (worker 0) to all three, interleaved */
    pg_lock();
    for (unsigned i = 1; i <= ITEMS; i++)
        pg_worker_post(i % WORKERS, record, (void *)(uintptr_t)(i % WORKERS), i);
    pg_lock();      /* recursive on one thread */
    pg_unlock();
    pg_unlock();
    uint64_t deadline = now_ms() + 10000;
    while (ran_total() < ITEMS && now_ms() < deadline)
        event_base_loop(main_base, EVLOOP_NONBLOCK);   /* worker 0's share runs here */
    pg_lock();
    is_int(seen.ran[0] + seen.ran[1] + seen.ran[2], ITEMS, "every item ran once");
    is_int(seen.ran[1], ITEMS / WORKERS, "worker 1 ran its share");
    is_int(seen.out_of_order, 0, "in posting order on every worker");
    is_int(seen.wrong_thread, 0, "each on its worker's thread");
    ok(seen.started[1] == 1 && seen.started[2] == 1, "each thread ran its start hook as itself");
    pg_unlock();

    pg_workers_join();
    ok(!pg_threaded, "joined: single-threaded again");
    is_int(seen.stopped, WORKERS - 1, "each thread ran its stop hook");
    pg_worker_post(2, record, (void *)2, 1);
    pg_worker_post(1, record, (void *)1, 2);
    pg_workers_free();
    is_int(seen.discarded, 2, "items never run are discarded when the inboxes are freed");
    event_base_free(main_base);
    return done_testing();
}
