/* drain.c — a thread that sends a FastCGI-mode bridge's spool to a remote
 * pushgated, oldest entry first, with the entry's key as the dedup key
 * (X-Pushgate-Dedup-Key), removing it after a 2xx and moving it to
 * rejected/ after a 4xx. Anything else (no answer, 5xx) waits a second
 * and retries from the same entry, so order holds. */
#include "bridge/drain.h"
#include "bridge/conf.h"
#include "bridge/forward.h"
#include "bridge/spool_dir.h"
#include "log.h"
#include "pub/pub_client.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

/* Sends one entry. Returns 1 done (removed or rejected), 0 retry later. */
static int drain_one(const struct pg_bridge_conf *c, const struct pg_pub_target *t, const char *key)
{
    struct pg_spool_entry e;
    char err[512];
    int rc = pg_spool_read(c->spool_dir, key, c->max_message_size, &e, err, sizeof err);
    if (rc == -1)
        return 0;
    if (rc < 0) {
        pg_log_error("spool: rejecting %s: %s", key, err);
        pg_spool_reject(c->spool_dir, key, err);
        return 1;
    }
    struct pg_pub_msg m = {e.channels, e.event, c->publish_secret, key, e.body, e.body_len};
    struct pg_pub_reply r;
    int done = 0;
    if (pg_pub_post(t, &m, c->daemon_timeout_ms, &r, err, sizeof err) == 0) {
        if (r.status >= 200 && r.status < 300) {
            pg_spool_remove(c->spool_dir, key);
            done = 1;
        } else if (r.status >= 400 && r.status < 500) {
            pg_log_error("spool: pushgated refused %s (%d): %s", key, r.status, r.body);
            pg_spool_reject(c->spool_dir, key, r.body);
            done = 1;
        }
        pg_pub_reply_free(&r);
    }
    pg_spool_entry_free(&e);
    return done;
}

static void *drain_main(void *arg)
{
    const struct pg_bridge_conf *c = arg;
    struct pg_pub_target t;
    char err[256];
    if (pg_pub_target_parse(c->daemon, &t, err, sizeof err) < 0)
        return NULL;
    for (;;) {
        char **keys;
        long n = pg_spool_list(c->spool_dir, 1000, &keys, err, sizeof err);
        long i = 0;
        while (i < n && drain_one(c, &t, keys[i]))
            i++;
        pg_spool_keys_free(keys, n);
        if (n <= 0 || i < n)
            sleep(1);
    }
    return NULL;
}

void pg_br_drain_start(const struct pg_bridge_conf *c)
{
    if (!c->spool || pg_br_daemon_drains(c))
        return;
    pthread_t th;
    if (pthread_create(&th, NULL, drain_main, (void *)c) == 0)
        pthread_detach(th);
    else
        pg_log_error("cannot start the spool drain thread");
}
