/* store_redis.c — the Redis store's two links and their life: a blocking
 * command link for the hub's synchronous calls (publish, replay, delete,
 * info: one EVALSHA round trip each, redis_ops.c) and an asynchronous
 * pub/sub link on the event loop that carries every message back to every
 * node, this one included, in the counter's one global order.
 *
 * Why blocking commands: a publish must be answered with its id or 503, so
 * it waits for Redis anyway; on loopback a round trip costs ~50 us, and the
 * command link has a 500 ms timeout. A failed or timed-out command closes
 * both links and refuses at once (503) until the pub/sub link has shown
 * Redis alive again: a stalled Redis costs the loop at most one timeout.
 *
 * Debian's hiredis 0.14 has no async timeouts and no reconnect, so:
 *   - reconnect: one libevent timer, backoff 100 ms doubling to 2 s, reset
 *     once both links are up;
 *   - a handshake timeout (SUBSCRIBE confirmed within 2 s of connecting);
 *   - a heartbeat: every second the hello script PUBLISHes the counter on
 *     this node's beat channel; the pub/sub link is declared stalled when
 *     nothing arrived for 3.5 s, and torn down. A beat also proves that
 *     every message up to its counter has been received (same connection,
 *     published before).
 * The async context is freed only outside hiredis callbacks (the kick
 * event), never while hiredis walks its reply queue.
 *
 * Resync after the pub/sub link (re)connects: the counter is read; messages
 * this node may have missed (seq in (last_seen, counter]) are read from
 * the streams of the channels with local subscribers and fanned out in seq
 * order, as if the bus had brought them; a channel whose history no longer
 * covers them gets a gap notice, a channel deleted meanwhile is deleted.
 * A changed epoch (Redis lost its data) gives every local channel a gap
 * notice. Messages the bus brings again afterwards (seq <= last_seen) are
 * dropped, so nothing is delivered twice.
 *
 * Deliberate departures: no TLS, no AUTH (hiredis 0.14 has no TLS; bind
 * Redis to loopback or a unix socket); not Redis Cluster safe. */
#include "store_redis.h"
#include "redis_link.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "redis_script.h"
#include "store.h"
#include "util.h"
#include "workers.h"

#include <hiredis/async.h>

/* The adapter's event callbacks run hiredis (and our reply callbacks)
 * holding the process lock (workers.h). */
static void locked_read(redisAsyncContext *ac)
{
    pg_lock();
    redisAsyncHandleRead(ac);
    pg_unlock();
}

static void locked_write(redisAsyncContext *ac)
{
    pg_lock();
    redisAsyncHandleWrite(ac);
    pg_unlock();
}

#define redisAsyncHandleRead locked_read
#define redisAsyncHandleWrite locked_write
#include <hiredis/adapters/libevent.h>
#undef redisAsyncHandleRead
#undef redisAsyncHandleWrite
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#define CMD_TIMEOUT_MS 500
#define BEAT_MS 1000
#define STALL_MS 3500
#define HANDSHAKE_MS 2000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define TRIM_EVERY_MS 10000
#define CATCHUP_BATCH 500

struct pg_redis pg_redis;
#define R pg_redis

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_SUBSCRIBED };

static struct {
    redisAsyncContext *ac;
    enum link_state link;
    int confirmed;                 /* SUBSCRIBE confirmations (2 channels) */
    bool drop_async;               /* the kick event frees ac */
    bool ever_up, down_logged;
    enum pg_store_state state;
    struct event *retry, *tick, *kick;
    uint64_t backoff_ms, last_rx_ms, next_trim_ms;
} L;

static void schedule_retry(void);

static struct timeval tv_ms(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void update_state(void)
{
    enum pg_store_state s = R.sync && L.link == LINK_SUBSCRIBED ? PG_STORE_STATE_UP
                            : L.ever_up ? PG_STORE_STATE_DOWN : PG_STORE_STATE_CONNECTING;
    if (s == L.state)
        return;
    L.state = s;
    if (s == PG_STORE_STATE_UP) {
        L.ever_up = true;
        L.down_logged = false;
        L.backoff_ms = BACKOFF_MIN_MS;
        pg_log_notice("redis store up (epoch %s, seq %" PRIu64 ")", R.epoch, R.last_seen);
    }
    pg_metrics_set_store("redis", s);
}

/* ---- the epoch ---- */

void pg_redis_new_candidate(void)
{
    uint16_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint16_t)pg_now_ms();
    snprintf(R.candidate, sizeof R.candidate, "%" PRIx64 "%04x", pg_wall_ms(), r);
}

bool pg_redis_adopt_epoch(const char *ep)
{
    if (strcmp(ep, R.epoch) == 0)
        return false;
    if (strcmp(ep, R.candidate) == 0)
        pg_redis_new_candidate();   /* never offer the same epoch twice */
    if (R.epoch[0])
        pg_log_warn("redis: new epoch %s (was %s): Redis lost its data; resuming clients get a gap notice",
                    ep, R.epoch);
    snprintf(R.stale, sizeof R.stale, "%s", R.epoch);
    snprintf(R.epoch, sizeof R.epoch, "%s", ep);
    R.last_seen = 0;
    pg_hub_set_clock(ep, 0);
    return true;
}

/* ---- the command link ---- */

static int select_db(void)
{
    if (!R.url.db)
        return 0;
    redisReply *r = redisCommand(R.sync, "SELECT %u", R.url.db);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        snprintf(R.err, sizeof R.err, "redis: SELECT %u: %s", R.url.db,
                 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") : R.sync->errstr);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

static int sync_connect(void)
{
    struct timeval tv = tv_ms(CMD_TIMEOUT_MS);
    redisContext *c = R.url.kind == PG_STORE_REDIS_UNIX ? redisConnectUnixWithTimeout(R.url.path, tv)
                                                       : redisConnectWithTimeout(R.url.host, R.url.port, tv);
    if (!c || c->err) {
        snprintf(R.err, sizeof R.err, "redis: connect %s: %s", R.where, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return -1;
    }
    R.sync = c;
    if (redisSetTimeout(c, tv) != REDIS_OK || select_db() < 0 || pg_redis_load_scripts() < 0 ||
        pg_redis_hello(false) < 0) {
        if (R.sync) {
            redisFree(R.sync);
            R.sync = NULL;
        }
        return -1;
    }
    return 0;
}

void pg_redis_sync_failed(const char *why)
{
    if (!R.sync)
        return;
    char w[200];
    snprintf(w, sizeof w, "%s", why);   /* why may point into R.err */
    pg_log_warn("redis command link lost (%s; %s): publishes get 503 until Redis answers again", w, R.err);
    snprintf(R.err, sizeof R.err, "redis: %s", w);
    redisFree(R.sync);
    R.sync = NULL;
    L.drop_async = true;            /* reconnect both once Redis shows it is alive */
    event_active(L.kick, EV_TIMEOUT, 0);
    update_state();
}

/* ---- resync: what the bus may have missed ---- */

struct names {
    char **v;
    size_t *len;
    size_t n, cap;
};

static void collect(void *arg, const char *name, size_t len)
{
    struct names *ns = arg;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 64;
        ns->v = pg_xrealloc(ns->v, ns->cap * sizeof *ns->v);
        ns->len = pg_xrealloc(ns->len, ns->cap * sizeof *ns->len);
    }
    ns->v[ns->n] = pg_xstrndup(name, len);
    ns->len[ns->n++] = len;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    free(ns->len);
}

static int cmp_seq(const void *a, const void *b)
{
    const struct pg_message *x = *(struct pg_message *const *)a, *y = *(struct pg_message *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reads (after, upto] of every local channel, all batches before any
 * delivery: a failure delivers nothing (the next resync starts over). */
static int catch_up_read(struct names *ns, uint64_t after, uint64_t upto, char *flags,
                         struct pg_message ***all, size_t *n_all)
{
    *all = NULL;
    *n_all = 0;
    for (size_t at = 0; at < ns->n; at += CATCHUP_BATCH) {
        size_t k = PG_MIN(CATCHUP_BATCH, ns->n - at);
        struct pg_message **msgs;
        size_t n_msgs;
        const char *why;
        uint64_t counter;
        if (pg_redis_replay_range((const char *const *)ns->v + at, ns->len + at, k, R.epoch, after,
                                  upto, flags + at, &msgs, &n_msgs, &counter, &why) < 0)
            return -1;
        *all = pg_xrealloc(*all, (*n_all + n_msgs + 1) * sizeof **all);
        memcpy(*all + *n_all, msgs, n_msgs * sizeof *msgs);
        *n_all += n_msgs;
        free(msgs);
    }
    if (*n_all)
        qsort(*all, *n_all, sizeof **all, cmp_seq);
    return 0;
}

static bool deleted_channel(const struct names *ns, const char *flags, const struct pg_message *m)
{
    for (size_t i = 0; i < ns->n; i++)
        if (flags[i] == 'd' && ns->len[i] == m->channel_len && memcmp(ns->v[i], m->channel, m->channel_len) == 0)
            return true;
    return false;
}

static int catch_up(uint64_t after, uint64_t upto, const char *cursor, bool gaps_sent)
{
    struct names ns = {0};
    pg_hub_walk_subscribed(collect, &ns);
    char *flags = pg_xcalloc(ns.n + 1, 1);
    struct pg_message **all;
    size_t n_all;
    if (catch_up_read(&ns, after, upto, flags, &all, &n_all) < 0) {
        free(all);
        free(flags);
        names_free(&ns);
        return -1;
    }
    for (size_t i = 0; i < ns.n; i++)
        if (flags[i] == '1' && !gaps_sent)
            pg_hub_gap_local(ns.v[i], ns.len[i], cursor);
    for (size_t i = 0; i < n_all; i++) {
        if (deleted_channel(&ns, flags, all[i]))
            pg_message_unref(all[i]);
        else
            pg_hub_fanout(all[i]);
    }
    for (size_t i = 0; i < ns.n; i++)
        if (flags[i] == 'd')
            pg_hub_delete_local(ns.v[i], ns.len[i], upto);
    if (n_all || ns.n)
        pg_log_info("redis: resync after seq %" PRIu64 ": %zu message(s) caught up on %zu local channel(s)",
                    after, n_all, ns.n);
    free(all);
    free(flags);
    names_free(&ns);
    if (upto > R.last_seen)
        R.last_seen = upto;
    pg_hub_set_clock(R.epoch, upto);
    return 0;
}

static void gap_all(void *arg, const char *name, size_t len)
{
    pg_hub_gap_local(name, len, arg);
}

/* The pub/sub link is subscribed: bring this node from (old, after) up to
 * the counter. */
static int resync(const char *old, uint64_t after)
{
    char cursor[64];
    if (pg_redis_hello(false) < 0)
        return -1;
    if (!old[0])
        return 0;                   /* first contact: nothing to compare with */
    snprintf(cursor, sizeof cursor, "%s-%" PRIu64, old, after);
    bool renewed = strcmp(old, R.epoch) != 0;
    if (renewed) {
        pg_hub_walk_subscribed(gap_all, cursor);
        after = 0;
    }
    return catch_up(after, R.counter, cursor, renewed);
}

/* ---- the bus ---- */

static void on_message(const struct pg_bus_msg *b, const char *ep)
{
    if (strcmp(ep, R.epoch) == 0) {
        if (b->seq <= R.last_seen)
            return;                 /* delivered already by a resync */
    } else if (strcmp(ep, R.stale) == 0) {
        /* published before Redis lost its data, seen after: say so */
        char cursor[64];
        snprintf(cursor, sizeof cursor, "%s-%" PRIu64, ep, b->seq - 1);
        pg_hub_gap_local(b->channel, b->channel_len, cursor);
        return;
    } else {
        pg_redis_adopt_epoch(ep);
    }
    R.last_seen = b->seq;
    if (b->kind == PG_BUS_DELETE) {
        pg_hub_delete_local(b->channel, b->channel_len, b->seq);
        pg_hub_set_clock(R.epoch, b->seq);
    } else if (pg_hub_wants(b->channel, b->channel_len)) {
        pg_hub_fanout(pg_bus_message(R.epoch, b->seq, b->ms, b->channel, b->channel_len, b->event,
                                     b->event_len, b->body, b->body_len));
    } else {
        pg_hub_set_clock(R.epoch, b->seq);
    }
}

static void on_payload(const char *p, size_t n)
{
    struct pg_bus_msg b;
    const char *why;
    char ep[PG_REDIS_EPOCH_MAX];
    if (pg_bus_decode(p, n, &b, &why) != PG_BUS_OK) {
        pg_log_warn("redis: dropped a malformed pub/sub payload (%s)", why);
        return;
    }
    memcpy(ep, b.epoch, b.epoch_len);
    ep[b.epoch_len] = '\0';
    if (b.kind != PG_BUS_BEAT) {
        on_message(&b, ep);
        return;
    }
    if (strcmp(ep, R.epoch) != 0 && strcmp(ep, R.stale) != 0)
        pg_redis_adopt_epoch(ep);
    if (strcmp(ep, R.epoch) == 0 && b.seq > R.last_seen) {
        R.last_seen = b.seq;        /* everything up to it came before it */
        pg_hub_set_clock(R.epoch, b.seq);
    }
}

static void on_subscribed(void)
{
    L.link = LINK_SUBSCRIBED;
    L.last_rx_ms = pg_now_ms();
    event_del(L.retry);             /* the handshake timeout */
    char old[PG_REDIS_EPOCH_MAX];
    snprintf(old, sizeof old, "%s", R.epoch);
    uint64_t after = R.last_seen;
    if (!R.sync && sync_connect() < 0) {
        pg_log_debug("%s", R.err);
        L.drop_async = true;
        event_active(L.kick, EV_TIMEOUT, 0);
        return;
    }
    if (resync(old, after) < 0) {
        if (R.sync)                 /* an error reply (LOADING...): try again later */
            pg_redis_sync_failed("resync failed");
        return;
    }
    update_state();
}

static void on_bus(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (!r || ac != L.ac || L.drop_async || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    L.last_rx_ms = pg_now_ms();
    const char *kind = r->element[0]->str;
    /* before both confirmations, messages are left to the resync (they are
     * at or below the counter it reads): they must not raise last_seen */
    if (strcmp(kind, "message") == 0 && r->element[2]->type == REDIS_REPLY_STRING &&
        L.link == LINK_SUBSCRIBED)
        on_payload(r->element[2]->str, r->element[2]->len);
    else if (strcmp(kind, "subscribe") == 0 && ++L.confirmed == 2)
        on_subscribed();
}

/* ---- the pub/sub link ---- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (ac != L.ac || status == REDIS_OK)
        return;
    if (!L.down_logged)
        pg_log_warn("redis pub/sub link: connect %s: %s (retrying)", R.where, ac->errstr);
    L.down_logged = true;
    L.ac = NULL;                    /* hiredis frees it */
    L.link = LINK_IDLE;
    schedule_retry();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    if (ac != L.ac)
        return;
    pg_log_warn("redis pub/sub link lost (%s): local delivery resumes when it is back",
                ac->errstr[0] ? ac->errstr : "closed by Redis");
    L.down_logged = true;
    L.ac = NULL;                    /* hiredis frees it */
    L.link = LINK_IDLE;
    update_state();
    schedule_retry();
}

/* Outside hiredis callbacks only. */
static void async_drop(void)
{
    redisAsyncContext *ac = L.ac;
    L.ac = NULL;
    L.link = LINK_IDLE;
    if (ac)
        redisAsyncFree(ac);
    update_state();
}

static void async_start(void)
{
    redisAsyncContext *ac = R.url.kind == PG_STORE_REDIS_UNIX ? redisAsyncConnectUnix(R.url.path)
                                                             : redisAsyncConnect(R.url.host, R.url.port);
    if (!ac || ac->err) {
        if (!L.down_logged)
            pg_log_warn("redis pub/sub link: connect %s: %s (retrying)", R.where,
                        ac ? ac->errstr : "out of memory");
        L.down_logged = true;
        if (ac)
            redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    L.ac = ac;
    L.link = LINK_CONNECTING;
    L.confirmed = 0;
    redisLibeventAttach(ac, R.base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncCommand(ac, on_bus, NULL, "SUBSCRIBE %s %s", R.bus, R.beat);
    struct timeval tv = tv_ms(HANDSHAKE_MS);
    event_add(L.retry, &tv);
}

static void schedule_retry(void)
{
    struct timeval tv = tv_ms(L.backoff_ms);
    event_del(L.retry);
    event_add(L.retry, &tv);
    L.backoff_ms = PG_MIN(L.backoff_ms * 2, BACKOFF_MAX_MS);
}

PG_LOCKED_EVCB(on_retry)

static void on_retry_locked(evutil_socket_t fd, short what, void *arg)
{
    if (L.link == LINK_CONNECTING) {
        pg_log_warn("redis pub/sub link: no answer from %s within %d ms (retrying)", R.where, HANDSHAKE_MS);
        async_drop();
        schedule_retry();
        return;
    }
    if (L.link == LINK_IDLE)
        async_start();
}

PG_LOCKED_EVCB(on_kick)

static void on_kick_locked(evutil_socket_t fd, short what, void *arg)
{
    if (!L.drop_async)
        return;
    L.drop_async = false;
    async_drop();
    schedule_retry();
}

PG_LOCKED_EVCB(on_tick)

static void on_tick_locked(evutil_socket_t fd, short what, void *arg)
{
    uint64_t now = pg_now_ms();
    if (R.sync && L.link == LINK_SUBSCRIBED)
        pg_redis_hello(true);
    if (L.link == LINK_SUBSCRIBED && now - L.last_rx_ms > STALL_MS)
        redisAsyncHandleRead(L.ac); /* a busy loop may not have read it yet */
    if (L.link == LINK_SUBSCRIBED && now - L.last_rx_ms > STALL_MS) {
        pg_log_warn("redis pub/sub link: nothing from %s for %d ms (stalled?): reconnecting", R.where, STALL_MS);
        async_drop();
        schedule_retry();
    }
    if (R.sync && now >= L.next_trim_ms) {
        pg_redis_trim();
        uint64_t every = PG_MAX(PG_MIN(TRIM_EVERY_MS, R.lim.history_ttl_ms / 2), 1000);
        L.next_trim_ms = now + every;
    }
}

/* ---- open / close ---- */

int pg_store_redis_open(const struct pg_store_url *url, struct event_base *base,
                        const struct pg_hub_limits *lim, char *err, size_t errlen)
{
    memset(&R, 0, sizeof R);
    memset(&L, 0, sizeof L);
    R.url = *url;
    R.base = base;
    R.lim = *lim;
    if (url->kind == PG_STORE_REDIS_UNIX)
        snprintf(R.where, sizeof R.where, "unix:%s", url->path);
    else
        snprintf(R.where, sizeof R.where, "%s:%u", url->host, url->port);
    uint64_t node = 0;
    if (getrandom(&node, sizeof node, 0) != sizeof node)
        node = pg_wall_ms() ^ (uint64_t)getpid() << 40;
    snprintf(R.bus, sizeof R.bus, PG_REDIS_PREFIX "%u:bus", url->db);
    snprintf(R.beat, sizeof R.beat, PG_REDIS_PREFIX "%u:beat:%016" PRIx64, url->db, node);
    pg_redis_new_candidate();
    L.state = PG_STORE_STATE_CONNECTING;
    L.backoff_ms = BACKOFF_MIN_MS;
    L.retry = evtimer_new(base, on_retry, NULL);
    L.kick = event_new(base, -1, 0, on_kick, NULL);
    L.tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!L.retry || !L.kick || !L.tick) {
        snprintf(err, errlen, "redis store: cannot create its timers");
        pg_store_redis_close();
        return -1;
    }
    struct timeval beat = tv_ms(BEAT_MS);
    event_add(L.tick, &beat);
    pg_redis_ops_register();
    pg_metrics_set_store("redis", PG_STORE_STATE_CONNECTING);
    if (sync_connect() < 0) {
        pg_log_warn("%s: publishes get 503 until Redis answers", R.err);
        L.down_logged = true;
    }
    async_start();
    return 0;
}

void pg_store_redis_close(void)
{
    if (L.retry)
        event_free(L.retry);
    if (L.kick)
        event_free(L.kick);
    if (L.tick)
        event_free(L.tick);
    L.retry = L.kick = L.tick = NULL;
    L.drop_async = false;
    redisAsyncContext *ac = L.ac;
    L.ac = NULL;
    if (ac)
        redisAsyncFree(ac);
    if (R.sync)
        redisFree(R.sync);
    R.sync = NULL;
}
