/* plock.c — the process lock and the flag that says worker threads run
 * (declared in workers.h). Here, in the core library, because code shared
 * with programs that never start threads (fcgi_client.c in pushgate-fcgi,
 * message.c in the tests) takes it: there pg_threaded stays false and
 * pg_lock is one branch.
 *
 * The lock is a plain mutex made recursive per thread with a depth
 * counter, so code reached both from a locked callback and from a flush
 * pass (which runs without the lock) can take it either way. */
#include "workers.h"

#include <pthread.h>

bool pg_threaded;

static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned depth;

void pg_lock_slow(void)
{
    if (depth++ == 0)
        pthread_mutex_lock(&big);
}

void pg_unlock_slow(void)
{
    if (--depth == 0)
        pthread_mutex_unlock(&big);
}
