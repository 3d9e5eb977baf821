/* spool.c — drains pushgate-fcgi's spool directory into pg_publish().
 *
 * Each tick lists the entries (oldest first) and publishes them in order
 * with dedup_key = the entry's key, so re-applying one after a crash
 * between "appended" and "unlinked" is a no-op (publish.c remembers keys).
 * Outcome per entry:
 *   2xx      appended (and journaled when the journal is on): unlink it.
 *   4xx      refused for good: move it to rejected/ with a .why file, log
 *            it, go on with the next entry (never retried forever).
 *   other    (503: store unavailable) stop here and retry this same entry
 *            next tick, so order holds.
 *   unreadable / malformed: rejected like a 4xx.
 * Ticks come from a poll_ms timer and, where inotify works, from a new
 * name appearing in the directory. A tick handles at most BATCH entries
 * and then yields to the event loop (re-armed at zero delay), so a large
 * backlog never stalls subscribers.
 *
 * Departure: the tick runs synchronously on the event loop; a spool entry
 * is at most max_message_size plus a small head, read with one pread. */
#define _GNU_SOURCE
#include "spool.h"
#include "bridge/spool_dir.h"
#include "log.h"
#include "publish.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 256
#define ENTRY_MAX ((size_t)64 << 20)

static struct {
    char *dir;
    uint64_t poll_ms;
    struct event *timer;
    struct event *watch;
    int inotify_fd;
    uint64_t drained, rejected;
} sp = {.inotify_fd = -1};

static void arm(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(sp.timer, &tv);
}

/* Publishes one entry. Returns 1 to go on with the next, 0 to stop. */
static int drain_one(const char *key)
{
    struct pg_spool_entry e;
    char err[512];
    int rc = pg_spool_read(sp.dir, key, ENTRY_MAX, &e, err, sizeof err);
    if (rc == -1) {
        pg_log_warn("spool: %s (will retry)", err);
        return 0;
    }
    if (rc < 0) {
        pg_log_error("spool: rejected %s: %s", key, err);
        pg_spool_reject(sp.dir, key, err);
        sp.rejected++;
        return 1;
    }
    struct pg_publish_req req = {
        .channels = e.channels, .channels_len = strlen(e.channels),
        .event = e.event, .event_len = e.event ? strlen(e.event) : 0,
        .body = e.body, .body_len = e.body_len,
        .dedup_key = key, .origin = PG_PUB_ORIGIN_SPOOL,
    };
    char *reply = NULL;
    int status = pg_publish(&req, &reply);
    int go_on = 1;
    if (status >= 200 && status < 300) {
        if (pg_spool_remove(sp.dir, key) < 0)
            pg_log_error("spool: cannot remove %s/%s.msg: %s", sp.dir, key, strerror(errno));
        sp.drained++;
    } else if (status >= 400 && status < 500) {
        pg_log_error("spool: pushgated refused %s for %s (%d): %s", key, e.channels, status,
                     reply ? reply : "");
        pg_spool_reject(sp.dir, key, reply ? reply : "refused");
        sp.rejected++;
    } else {
        pg_log_warn("spool: publish of %s answered %d, retrying later", key, status);
        go_on = 0;
    }
    free(reply);
    pg_spool_entry_free(&e);
    return go_on;
}

PG_LOCKED_EVCB(tick)

static void tick_locked(evutil_socket_t fd, short what, void *arg)
{
    char **keys = NULL;
    char err[512];
    long n = pg_spool_list(sp.dir, BATCH, &keys, err, sizeof err);
    if (n < 0)
        pg_log_warn("spool: %s", err);
    long i = 0;
    while (i < n && drain_one(keys[i]))
        i++;
    pg_spool_keys_free(keys, n);
    if (i > 0)
        pg_log_info("spool: handled %ld entr%s from %s", i, i == 1 ? "y" : "ies", sp.dir);
    arm(n == BATCH && i == n ? 0 : sp.poll_ms);
}

PG_LOCKED_EVCB(on_inotify)

static void on_inotify_locked(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    bool any = false;
    while (read(fd, buf, sizeof buf) > 0)
        any = true;
    if (any && evtimer_pending(sp.timer, NULL)) {
        evtimer_del(sp.timer);
        arm(0);
    }
}

static void watch_dir(struct event_base *base)
{
    sp.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sp.inotify_fd < 0)
        return;
    if (inotify_add_watch(sp.inotify_fd, sp.dir, IN_MOVED_TO) < 0) {
        close(sp.inotify_fd);
        sp.inotify_fd = -1;
        return;
    }
    sp.watch = event_new(base, sp.inotify_fd, EV_READ | EV_PERSIST, on_inotify, NULL);
    event_add(sp.watch, NULL);
}

int pg_spool_start(struct event_base *base, const char *dir, uint64_t poll_ms, char *err,
                   size_t errlen)
{
    struct stat st;
    pg_spool_stop();
    if (!dir || !*dir)
        return 0;
    if (mkdir(dir, 02770) < 0 && errno != EEXIST) {
        /* not ours to create (tmpfiles, the package or the bridge will):
         * keep polling; the first entry written is picked up */
        pg_log_warn("spool_dir %s: cannot create it (%s); draining it once it exists", dir,
                    strerror(errno));
    } else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "spool_dir %s: not a directory", dir);
        return -1;
    } else if (access(dir, R_OK | W_OK | X_OK) < 0) {
        snprintf(err, errlen, "spool_dir %s: %s (the daemon must read and remove entries)",
                 dir, strerror(errno));
        return -1;
    }
    sp.dir = pg_xstrdup(dir);
    sp.poll_ms = poll_ms ? poll_ms : 1000;
    sp.timer = evtimer_new(base, tick, NULL);
    watch_dir(base);
    arm(0);
    return 0;
}

void pg_spool_stop(void)
{
    if (sp.timer)
        event_free(sp.timer);
    if (sp.watch)
        event_free(sp.watch);
    if (sp.inotify_fd >= 0)
        close(sp.inotify_fd);
    free(sp.dir);
    sp.timer = sp.watch = NULL;
    sp.inotify_fd = -1;
    sp.dir = NULL;
}
