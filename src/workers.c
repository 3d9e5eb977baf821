/* workers.c — the worker threads and their inboxes (see workers.h for the
 * invariants; the process lock itself is in plock.c).
 *
 * An inbox is an array swapped out whole by its worker's drain. A post
 * wakes the worker (event_active, which libevent makes thread-safe once
 * evthread_use_pthreads ran) only when the inbox goes from empty to
 * non-empty, so a burst of publishes costs one wake-up per worker, not one
 * per message. */
#define _GNU_SOURCE
#include "workers.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

unsigned pg_n_workers = 1;
__thread unsigned pg_worker_self;


struct item {
    pg_work_fn fn;
    void *p;
    uint64_t u;
};

struct worker {
    struct event_base *base;
    struct event *wake;
    struct item *items;           /* posted, not yet run (under the lock) */
    size_t n, cap;
    pthread_t tid;
    bool started;
};

static struct worker wk[PG_WORKERS_MAX];
static void (*thread_start)(unsigned w), (*thread_stop)(unsigned w);

unsigned pg_workers_resolve(uint64_t configured)
{
    if (configured == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        configured = sched_getaffinity(0, sizeof set, &set) == 0 ? (uint64_t)CPU_COUNT(&set) : 1;
    }
    if (configured < 1)
        configured = 1;
    return configured > PG_WORKERS_MAX ? PG_WORKERS_MAX : (unsigned)configured;
}

/* Runs what was posted to this worker, in order, holding the lock. */
static void drain(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    pg_lock();
    while (w->n) {
        struct item *v = w->items;
        size_t n = w->n;
        w->items = NULL;
        w->n = w->cap = 0;
        for (size_t i = 0; i < n; i++)
            v[i].fn(v[i].p, v[i].u);
        if (!w->items) {          /* reuse the array unless a new one grew meanwhile */
            w->items = v;
            w->cap = n;
        } else {
            free(v);
        }
    }
    pg_unlock();
}

int pg_workers_setup(unsigned n)
{
    pg_n_workers = n;
    if (n > 1 && evthread_use_pthreads() < 0)
        return -1;
    for (unsigned i = 1; i < n; i++) {
        wk[i].base = pg_workers_new_base();
        if (!wk[i].base)
            return -1;
    }
    return 0;
}

struct event_base *pg_workers_new_base(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    if (pg_n_workers == 1)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    struct event_base *b = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return b;
}

void pg_workers_set_main_base(struct event_base *base)
{
    wk[0].base = base;
}

struct event_base *pg_worker_base(unsigned i)
{
    return wk[i].base;
}

static void wake_event(struct worker *w)
{
    if (!w->wake)
        w->wake = event_new(w->base, -1, 0, drain, w);
}

void pg_worker_post(unsigned i, pg_work_fn fn, void *p, uint64_t u)
{
    struct worker *w = &wk[i];
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->items = pg_xrealloc(w->items, w->cap * sizeof *w->items);
    }
    w->items[w->n++] = (struct item){fn, p, u};
    wake_event(w);   /* posts may come before the threads start (store set-up) */
    if (w->n == 1)
        event_active(w->wake, 0, 0);
}

void pg_worker_post_all(pg_work_fn fn, void *p, uint64_t u)
{
    for (unsigned i = 0; i < pg_n_workers; i++)
        pg_worker_post(i, fn, p, u);
}

static void *worker_main(void *arg)
{
    pg_worker_self = (unsigned)(uintptr_t)arg;
    struct worker *w = &wk[pg_worker_self];
    pg_lock();
    thread_start(pg_worker_self);
    pg_unlock();
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    thread_stop(pg_worker_self);
    return NULL;
}

int pg_workers_start(void (*start)(unsigned w), void (*stop)(unsigned w))
{
    thread_start = start;
    thread_stop = stop;
    for (unsigned i = 0; i < pg_n_workers; i++)
        wake_event(&wk[i]);
    if (pg_n_workers < 2)
        return 0;
    pg_threaded = true;
    for (unsigned i = 1; i < pg_n_workers; i++) {
        int e = pthread_create(&wk[i].tid, NULL, worker_main, (void *)(uintptr_t)i);
        if (e) {
            pg_log_error("cannot start worker %u: %s", i, strerror(e));
            return -1;
        }
        wk[i].started = true;
    }
    return 0;
}

void pg_workers_join(void)
{
    for (unsigned i = 1; i < pg_n_workers; i++)
        if (wk[i].started)
            event_base_loopexit(wk[i].base, NULL);
    for (unsigned i = 1; i < pg_n_workers; i++)
        if (wk[i].started) {
            pthread_join(wk[i].tid, NULL);
            wk[i].started = false;
        }
    pg_threaded = false;
}

void pg_workers_free(void)
{
    for (unsigned i = 0; i < pg_n_workers; i++) {
        struct worker *w = &wk[i];
        /* what was posted and never ran holds message references */
        for (size_t k = 0; k < w->n; k++)
            w->items[k].fn(w->items[k].p, PG_WORK_DISCARD);
        free(w->items);
        w->items = NULL;
        w->n = w->cap = 0;
        if (w->wake)
            event_free(w->wake);
        w->wake = NULL;
        if (i > 0 && w->base)
            event_base_free(w->base);
        w->base = NULL;
    }
}
