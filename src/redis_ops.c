/* redis_ops.c — the Redis store's scripts run over the blocking command
 * link: the hub's shared-store operations (store.h: publish, replay,
 * remove, info), the hello (epoch, counter, heartbeat) and the age trim.
 *
 * Each operation is one EVALSHA round trip (EVAL is never needed: the
 * scripts are loaded when the link connects, and loaded again once when
 * Redis answers NOSCRIPT after a SCRIPT FLUSH or a restart). An I/O error or
 * a timeout closes the link (pg_redis_sync_failed) and the caller answers
 * 503; an error reply (OOM under maxmemory noeviction, LOADING while Redis
 * reads its AOF) is answered 503 with Redis's words and keeps the link.
 * Nothing here delivers to subscribers: the bus does (store_redis.c). */
#include "redis_link.h"
#include "log.h"
#include "message.h"
#include "store.h"
#include "util.h"

#include <hiredis/hiredis.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define R pg_redis
#define DEDUP_PX "3600000"          /* a spool key is remembered for an hour */

/* An EVALSHA argument vector; addf strings are owned and freed with it. */
struct cmd {
    const char **v;
    size_t *len;
    char **owned;
    int n, n_owned;
};

static void add(struct cmd *c, const char *s, size_t n)
{
    c->v[c->n] = s;
    c->len[c->n++] = n;
}

static void adds(struct cmd *c, const char *s)
{
    add(c, s, strlen(s));
}

static void addf(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct cmd *c, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = pg_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(p, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap2);
    va_end(ap2);
    c->owned[c->n_owned++] = p;
    adds(c, p);
}

/* room: the number of keys and arguments that will follow. */
static void cmd_init(struct cmd *c, int nkeys, int room)
{
    int cap = room + 3;
    c->v = pg_xmalloc((size_t)cap * sizeof *c->v);
    c->len = pg_xmalloc((size_t)cap * sizeof *c->len);
    c->owned = pg_xmalloc((size_t)cap * sizeof *c->owned);
    c->n = c->n_owned = 0;
    adds(c, "EVALSHA");
    adds(c, "");                    /* the digest, set by run() */
    addf(c, "%d", nkeys);
}

static void cmd_free(struct cmd *c)
{
    for (int i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->v);
    free(c->len);
    free(c->owned);
}

static void add_stream(struct cmd *c, const char *name, size_t len)
{
    addf(c, PG_REDIS_PREFIX "s:%.*s", (int)len, name);
}

static redisReply *call(struct cmd *c, enum pg_redis_script which)
{
    c->v[1] = R.sha[which];
    c->len[1] = strlen(R.sha[which]);
    return redisCommandArgv(R.sync, c->n, c->v, c->len);
}

int pg_redis_load_scripts(void)
{
    for (int i = 0; i < PG_RS_COUNT; i++) {
        redisReply *r = redisCommand(R.sync, "SCRIPT LOAD %s", pg_redis_script_text(i));
        bool ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(R.sha[i], r->str, 41);
        else
            snprintf(R.err, sizeof R.err, "redis: SCRIPT LOAD %s: %s", pg_redis_script_name(i),
                     r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") : R.sync->errstr);
        if (r)
            freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* The reply, or NULL with *why (the link is closed on I/O errors). */
static redisReply *run(struct cmd *c, enum pg_redis_script which, const char **why)
{
    if (!R.sync) {
        *why = "redis unavailable (reconnecting)";
        return NULL;
    }
    redisReply *r = call(c, which);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = pg_redis_load_scripts() == 0 ? call(c, which) : NULL;
    }
    if (!r) {
        pg_redis_sync_failed(R.sync && R.sync->errstr[0] ? R.sync->errstr : "no reply");
        *why = R.err;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(R.err, sizeof R.err, "redis: %s: %s", pg_redis_script_name(which), r->str);
        pg_log_warn("%s", R.err);
        freeReplyObject(r);
        *why = R.err;
        return NULL;
    }
    return r;
}

/* r is an array of at least min elements whose first is the epoch, which
 * becomes the current one. */
static bool take_epoch(redisReply *r, size_t min, const char **why)
{
    char ep[PG_REDIS_EPOCH_MAX];
    if (r->type != REDIS_REPLY_ARRAY || r->elements < min || !pg_redis_reply_epoch(r->element[0], ep)) {
        *why = "redis: malformed script reply";
        return false;
    }
    pg_redis_adopt_epoch(ep);
    return true;
}

static void add_clock_keys(struct cmd *c)
{
    adds(c, PG_REDIS_PREFIX "epoch");
    adds(c, PG_REDIS_PREFIX "seq");
}

int pg_redis_hello(bool beat)
{
    struct cmd c;
    const char *why;
    cmd_init(&c, 2, 4);
    add_clock_keys(&c);
    adds(&c, R.candidate);
    adds(&c, beat ? R.beat : "");
    bool first = !R.epoch[0];
    redisReply *r = run(&c, PG_RS_HELLO, &why);
    cmd_free(&c);
    if (!r)
        return -1;
    uint64_t counter;
    bool ok = take_epoch(r, 2, &why) && pg_redis_reply_u64(r->element[1], &counter);
    freeReplyObject(r);
    if (!ok) {
        snprintf(R.err, sizeof R.err, "redis: malformed hello reply");
        return -1;
    }
    R.counter = counter;
    if (first) {                    /* nothing before this node's start to deliver */
        R.last_seen = counter;
        pg_hub_set_clock(R.epoch, counter);
    }
    return 0;
}

void pg_redis_trim(void)
{
    struct cmd c;
    const char *why;
    cmd_init(&c, 2, 5);
    adds(&c, PG_REDIS_PREFIX "chans");
    adds(&c, PG_REDIS_PREFIX "trimlock");
    addf(&c, "%" PRIu64, R.lim.history_ttl_ms);
    adds(&c, R.beat);
    adds(&c, PG_REDIS_PREFIX "s:");
    redisReply *r = run(&c, PG_RS_TRIM, &why);
    cmd_free(&c);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        pg_log_info("redis: dropped %lld expired channel histories", r->integer);
    freeReplyObject(r);
}

/* ---- the hub's operations (store.h) ---- */

static int op_publish(struct pg_message *const *msgs, size_t n, const char **why)
{
    struct cmd c;
    const char *dedup = msgs[0]->dedup_key;
    cmd_init(&c, 5 + (int)n, 9 + 4 * (int)n);
    add_clock_keys(&c);
    adds(&c, PG_REDIS_PREFIX "last");
    adds(&c, PG_REDIS_PREFIX "chans");
    addf(&c, PG_REDIS_PREFIX "dedup:%s", dedup ? dedup : "");
    for (size_t i = 0; i < n; i++)
        add_stream(&c, msgs[i]->channel, msgs[i]->channel_len);
    adds(&c, R.candidate);
    addf(&c, "%" PRIu32, R.lim.history_size);
    adds(&c, dedup ? DEDUP_PX : "0");
    adds(&c, R.bus);
    for (size_t i = 0; i < n; i++) {
        add(&c, msgs[i]->channel, msgs[i]->channel_len);
        add(&c, msgs[i]->event ? msgs[i]->event : "", msgs[i]->event_len);
        add(&c, msgs[i]->body, msgs[i]->body_len);
    }
    redisReply *r = run(&c, PG_RS_PUBLISH, why);
    cmd_free(&c);
    if (!r)
        return -1;
    int rc = -1;
    if (!take_epoch(r, 2, why))
        goto done;
    if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, "dup") == 0) {
        rc = PG_HUB_DUPLICATE;
        goto done;
    }
    uint64_t seq;
    for (size_t i = 0; i < n; i++)
        if (r->elements != n + 1 || !pg_redis_reply_u64(r->element[i + 1], &seq)) {
            *why = "redis: malformed publish reply";
            goto done;
        }
    for (size_t i = 0; i < n; i++) {
        pg_redis_reply_u64(r->element[i + 1], &seq);
        pg_message_set_id(msgs[i], R.epoch, seq);
    }
    rc = 0;
done:
    freeReplyObject(r);
    return rc;
}

int pg_redis_replay_range(const char *const *names, const size_t *lens, size_t n, const char *epoch,
                          uint64_t after, uint64_t upto, char *flags, struct pg_message ***msgs,
                          size_t *n_msgs, uint64_t *counter, const char **why)
{
    struct cmd c;
    cmd_init(&c, 4 + (int)n, 9 + 2 * (int)n);
    add_clock_keys(&c);
    adds(&c, PG_REDIS_PREFIX "last");
    adds(&c, PG_REDIS_PREFIX "deleted");
    for (size_t i = 0; i < n; i++)
        add_stream(&c, names[i], lens[i]);
    adds(&c, R.candidate);
    adds(&c, epoch);
    addf(&c, "%" PRIu64, after);
    if (upto == UINT64_MAX)
        adds(&c, "");
    else
        addf(&c, "%" PRIu64, upto);
    addf(&c, "%" PRIu64, R.lim.history_ttl_ms);
    for (size_t i = 0; i < n; i++)
        add(&c, names[i], lens[i]);
    redisReply *r = run(&c, PG_RS_REPLAY, why);
    cmd_free(&c);
    if (!r)
        return -1;
    char ep[PG_REDIS_EPOCH_MAX];
    int rc = pg_redis_read_replay(r, names, lens, n, ep, counter, flags, msgs, n_msgs, why);
    freeReplyObject(r);
    if (rc == 0)
        pg_redis_adopt_epoch(ep);   /* the messages carry ep already */
    return rc;
}

static int op_replay(const char *const *names, const size_t *lens, size_t n, const char *epoch,
                     uint64_t after, struct pg_shared_replay *out, const char **why)
{
    if (pg_redis_replay_range(names, lens, n, epoch, after, UINT64_MAX, out->flags, &out->msgs,
                              &out->n_msgs, &out->upto, why) < 0)
        return -1;
    snprintf(out->epoch, sizeof out->epoch, "%s", R.epoch);
    return 0;
}

static int op_remove(const char *name, size_t len, bool *found, const char **why)
{
    struct cmd c;
    cmd_init(&c, 5, 8);
    add_clock_keys(&c);
    adds(&c, PG_REDIS_PREFIX "deleted");
    adds(&c, PG_REDIS_PREFIX "chans");
    add_stream(&c, name, len);
    adds(&c, R.candidate);
    adds(&c, R.bus);
    add(&c, name, len);
    redisReply *r = run(&c, PG_RS_DELETE, why);
    cmd_free(&c);
    if (!r)
        return -1;
    uint64_t existed = 0;
    bool ok = take_epoch(r, 2, why) && pg_redis_reply_u64(r->element[1], &existed);
    freeReplyObject(r);
    if (!ok)
        return -1;
    *found = existed != 0;
    return 0;
}

static int op_info(const char *name, size_t len, uint64_t *messages, uint64_t *last, const char **why)
{
    struct cmd c;
    cmd_init(&c, 4, 7);
    add_clock_keys(&c);
    adds(&c, PG_REDIS_PREFIX "last");
    add_stream(&c, name, len);
    adds(&c, R.candidate);
    addf(&c, "%" PRIu64, R.lim.history_ttl_ms);
    add(&c, name, len);
    redisReply *r = run(&c, PG_RS_INFO, why);
    cmd_free(&c);
    if (!r)
        return -1;
    bool ok = take_epoch(r, 3, why) && pg_redis_reply_u64(r->element[1], messages) &&
              pg_redis_reply_u64(r->element[2], last);
    freeReplyObject(r);
    if (!ok)
        *why = "redis: malformed info reply";
    return ok ? 0 : -1;
}

static void op_set_limits(const struct pg_hub_limits *lim)
{
    R.lim = *lim;
}

static const struct pg_store_shared redis_ops = {
    .publish = op_publish,
    .replay = op_replay,
    .remove = op_remove,
    .info = op_info,
    .set_limits = op_set_limits,
};

void pg_redis_ops_register(void)
{
    pg_hub_set_shared(&redis_ops);
}
