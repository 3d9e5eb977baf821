/* hub.c — the channel registry, subscriber lists, publish fan-out, replay
 * since an id, delete and idle cleanup (see hub.h for the id invariants).
 *
 * Fan-out (DESIGN I2, I4): a published message is appended to history
 * (the store holds one reference), encoded once for every format its
 * channel's subscribers use, then handed to each subscriber's deliver(),
 * which only queues a reference. Nothing here waits on a socket, and no
 * subscriber is freed while a channel list is being walked.
 *
 * Worker threads (workers.h): the hub is shared state, used holding the
 * process lock; each channel keeps one subscriber list per worker. With
 * one worker, fan-out calls deliver() directly. With several, a message is
 * posted once to every worker that has subscribers of its channel, and
 * that worker fans it out to its own list (fanout_item) on its thread, so
 * a connection's queue is only ever touched by its own thread. A
 * subscriber remembers the seq and the delete count at which it
 * subscribed, so an item already in its worker's inbox is neither
 * delivered twice nor applied to it.
 *
 * With a shared store (store.h, the Redis store) the hub keeps only local
 * subscriber lists: publish, replay, delete and info go to the store, and
 * fan-out happens when the store hands a message back (pg_hub_fanout), on
 * every node in the store's order; see the last section. Departure: that
 * section and the workers' items (fanout_item, the notes) take the file
 * past ~600 lines (about 950), because they need the hub's private channel
 * table and links; splitting them out would publish both in a header. */
#include "hub.h"
#include "channel.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"
#include "workers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define REPLAY_MAX_CHANNELS 256

static struct {
    struct pg_hub_limits lim;
    char epoch[24];
    uint64_t seq;
    uint64_t gap_floor;           /* evicted_max_seq of forgotten tombstones */
    struct pg_channel **table;
    uint32_t mask;                /* table size - 1 */
    uint32_t n_live, n_tomb;
    uint64_t subscriptions, published, delivered;
    uint64_t deletes;             /* deletes so far (pg_subscriber.attach_deletes) */
    uint64_t next_sweep_ms;
} hub;

/* The shared store (store.h), or NULL: the memory store. */
static const struct pg_store_shared *shared;
static const char *store_error;   /* pg_hub_store_error() */

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u;     /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

void pg_hub_init(const struct pg_hub_limits *lim)
{
    memset(&hub, 0, sizeof hub);
    hub.lim = *lim;
    /* A new epoch for every memory store: wall-clock milliseconds. */
    snprintf(hub.epoch, sizeof hub.epoch, "%" PRIu64, pg_wall_ms());
    hub.mask = 1023;
    hub.table = pg_xcalloc(hub.mask + 1, sizeof *hub.table);
    pg_store_init(lim);
}

void pg_hub_set_limits(const struct pg_hub_limits *lim)
{
    hub.lim = *lim;
    pg_store_set_limits(lim);
    if (shared)
        shared->set_limits(lim);
}

const char *pg_hub_epoch(void)
{
    return hub.epoch;
}

uint64_t pg_hub_last_seq(void)
{
    return hub.seq;
}

void pg_hub_cursor(char *out, size_t outcap)
{
    /* no snprintf: SSE heartbeats and long-poll answers call this */
    char d[20];
    size_t el = strlen(hub.epoch), nd = 0;
    uint64_t v = hub.seq;
    do {
        d[sizeof d - ++nd] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (outcap < el + nd + 2) {
        snprintf(out, outcap, "%s-%" PRIu64, hub.epoch, hub.seq);
        return;
    }
    memcpy(out, hub.epoch, el);
    out[el] = '-';
    memcpy(out + el + 1, d + sizeof d - nd, nd);
    out[el + 1 + nd] = '\0';
}

static struct pg_channel *find(const char *name, size_t len, uint32_t h)
{
    for (struct pg_channel *c = hub.table[h & hub.mask]; c; c = c->hnext)
        if (c->hash == h && c->name_len == len && memcmp(c->name, name, len) == 0)
            return c;
    return NULL;
}

static void table_grow(void)
{
    uint32_t mask = hub.mask * 2 + 1;
    struct pg_channel **t = pg_xcalloc(mask + 1, sizeof *t);
    for (uint32_t i = 0; i <= hub.mask; i++) {
        struct pg_channel *c = hub.table[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            c->hnext = t[c->hash & mask];
            t[c->hash & mask] = c;
        }
    }
    free(hub.table);
    hub.table = t;
    hub.mask = mask;
}

static void channel_unlink_free(struct pg_channel *c)
{
    struct pg_channel **pp = &hub.table[c->hash & hub.mask];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    pg_store_clear(c);
    free(c);
}

/* Forgets every tombstone, folding what they remembered into gap_floor. */
static void purge_tombstones(void)
{
    for (uint32_t i = 0; i <= hub.mask; i++) {
        struct pg_channel *c = hub.table[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            if (!c->tombstone || c->n_subs)
                continue;
            if (c->evicted_max_seq > hub.gap_floor)
                hub.gap_floor = c->evicted_max_seq;
            channel_unlink_free(c);
            hub.n_tomb--;
        }
    }
}

/* How many of names[] would need a new live channel. */
static size_t channels_needed(const char *const *names, const size_t *lens, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        struct pg_channel *c = find(names[i], lens[i], hash_name(names[i], lens[i]));
        if (!c || c->tombstone)
            need++;
    }
    return need;
}

static bool reserve_channels(size_t need)
{
    if (hub.n_live + need <= hub.lim.max_channels)
        return true;
    return false;
}

/* Finds or creates a live channel; the caller checked reserve_channels. */
static struct pg_channel *channel_get(const char *name, size_t len)
{
    uint32_t h = hash_name(name, len);
    struct pg_channel *c = find(name, len, h);
    if (c) {
        if (c->tombstone) {
            c->tombstone = false;
            hub.n_tomb--;
            hub.n_live++;
        }
        return c;
    }
    if (hub.n_live + hub.n_tomb >= hub.lim.max_channels)
        purge_tombstones();
    size_t heads_at = (sizeof *c + len + 1 + 7) & ~(size_t)7;
    c = pg_xcalloc(1, heads_at + pg_n_workers * sizeof *c->subs);
    c->subs = (struct pg_sublink **)((char *)c + heads_at);
    memcpy(c->name, name, len);
    c->name_len = (uint16_t)len;
    c->hash = h;
    c->evicted_max_seq = hub.gap_floor;
    c->hnext = hub.table[h & hub.mask];
    hub.table[h & hub.mask] = c;
    hub.n_live++;
    if (hub.n_live + hub.n_tomb > (hub.mask + 1) * 2)
        table_grow();
    return c;
}

static void encode_for_subscribers(struct pg_channel *c, struct pg_message *m)
{
    for (int f = 0; f < PG_FORMAT_MAX; f++) {
        if (!c->fmt_subs[f] || m->enc[f].data)
            continue;
        size_t before = m->mem;
        pg_message_encode(m, f);
        pg_store_account(m, m->mem - before);
    }
}

/* m to worker w's subscribers of c, except those it reached already. */
static void deliver_list(struct pg_channel *c, unsigned w, struct pg_message *m)
{
    for (struct pg_sublink *l = c->subs[w], *next; l; l = next) {
        next = l->next;
        if (m->seq > l->sub->skip_seq) {
            l->sub->ops->deliver(l->sub, m);
            hub.delivered += shared != NULL;   /* memory store: counted at publish */
        }
    }
}

/* On worker pg_worker_self: m to its own subscribers of m's channel. */
static void fanout_item(void *p, uint64_t discard)
{
    struct pg_message *m = p;
    struct pg_channel *c = discard ? NULL : find(m->channel, m->channel_len,
                                                 hash_name(m->channel, m->channel_len));
    if (c)
        deliver_list(c, pg_worker_self, m);
    pg_message_unref(m);
}

/* Hands m to every subscriber of c: directly with one worker, else through
 * the inbox of each worker that has some (see the header). */
static void fanout(struct pg_channel *c, struct pg_message *m)
{
    if (pg_n_workers == 1) {
        deliver_list(c, 0, m);
        return;
    }
    for (unsigned w = 0; w < pg_n_workers; w++)
        if (c->subs[w])
            pg_worker_post(w, fanout_item, pg_message_ref(m), 0);
}

static int publish_shared(struct pg_message **msgs, size_t n, uint32_t *counts, const char **why);

int pg_hub_publish(struct pg_message **msgs, size_t n, uint32_t *counts, const char **why)
{
    const char *names[REPLAY_MAX_CHANNELS];
    size_t lens[REPLAY_MAX_CHANNELS];
    if (n == 0 || n > REPLAY_MAX_CHANNELS) {
        *why = "bad channel count";
        return -1;
    }
    if (shared)
        return publish_shared(msgs, n, counts, why);
    /* one lookup per channel: live channels found here stay valid (only
     * tombstones are freed and the table only relinks when it grows) */
    struct pg_channel *live[REPLAY_MAX_CHANNELS];
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        names[i] = msgs[i]->channel;
        lens[i] = msgs[i]->channel_len;
        live[i] = find(names[i], lens[i], hash_name(names[i], lens[i]));
        if (live[i] && live[i]->tombstone)
            live[i] = NULL;
        need += !live[i];
    }
    if (!reserve_channels(need)) {
        *why = "too many channels (max_channels reached)";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct pg_message *m = msgs[i];
        struct pg_channel *c = live[i] ? live[i] : channel_get(m->channel, m->channel_len);
        pg_message_set_id(m, hub.epoch, ++hub.seq);
        pg_journal_append(m);   /* durable before any reply or delivery leaves */
        c->last_seq = m->seq;
        /* encode before appending, so the memory cap counts the encodings
         * and never evicts the message we are about to deliver */
        encode_for_subscribers(c, m);
        pg_store_append(c, pg_message_ref(m));
        counts[i] = c->n_subs;
        fanout(c, m);
        hub.published++;
        hub.delivered += c->n_subs;
        pg_message_unref(m);
    }
    pg_journal_commit_urgent();
    return 0;
}

bool pg_cursor_parse(const char *s, size_t len, char *epoch, size_t epochcap, uint64_t *seq)
{
    size_t dash = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '-')
            dash = i;
    if (dash == 0 || dash >= len - 1 || dash >= epochcap || len - dash - 1 > 20)
        return false;
    for (size_t i = 0; i < dash; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    uint64_t v = 0;
    for (size_t i = dash + 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    memcpy(epoch, s, dash);
    epoch[dash] = '\0';
    *seq = v;
    return true;
}

static int cmp_seq(const void *a, const void *b)
{
    const struct pg_message *x = *(struct pg_message *const *)a, *y = *(struct pg_message *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sends the gap notice (if any) and the retained messages after `after`. */
static void replay(struct pg_subscriber *s, uint64_t after, bool other_epoch,
                   const char *cursor, size_t cursor_len)
{
    const char *gap[REPLAY_MAX_CHANNELS];
    size_t n_gap = 0, total = 0;
    for (size_t i = 0; i < s->n_links; i++) {
        struct pg_channel *c = s->links[i].chan;
        if (other_epoch || c->evicted_max_seq > after)
            gap[n_gap++] = c->name;
        total += c->ring_len;
    }
    if (n_gap) {
        char cur[64];
        snprintf(cur, sizeof cur, "%.*s", (int)PG_MIN(cursor_len, sizeof cur - 1), cursor);
        s->ops->gap(s, gap, n_gap, cur);
    }
    if (!total)
        return;
    struct pg_message **all = pg_xmalloc(total * sizeof *all);
    size_t got = 0;
    for (size_t i = 0; i < s->n_links; i++)
        got += pg_store_since(s->links[i].chan, after, all + got, total - got);
    qsort(all, got, sizeof *all, cmp_seq);
    /* Hold a reference over encoding and delivery: encoding grows the
     * history's size, and the memory cap may evict some of these meanwhile. */
    for (size_t i = 0; i < got; i++)
        pg_message_ref(all[i]);
    for (size_t i = 0; i < got; i++) {
        struct pg_message *m = all[i];
        if (!s->replay_full) {
            /* encoding counts against history_memory_max: encode only what
             * the subscriber still takes, or the replay would evict the very
             * history it is sending */
            if (!m->enc[s->fmt].data) {
                size_t before = m->mem;
                pg_message_encode(m, s->fmt);
                pg_store_account(m, m->mem - before);
            }
            s->ops->deliver(s, m);
        }
        pg_message_unref(m);
    }
    free(all);
}

static void replay_shared(struct pg_subscriber *s, const char *epoch, uint64_t after,
                          const char *cursor, size_t cursor_len);

int pg_hub_subscribe(struct pg_subscriber *s, const char *const *names, const size_t *lens,
                     size_t n, const char *cursor, size_t cursor_len, const char **why)
{
    char epoch[24];
    uint64_t after = 0;
    if (cursor && !pg_cursor_parse(cursor, cursor_len, epoch, sizeof epoch, &after)) {
        *why = "malformed last_event_id: expected <epoch>-<seq>";
        return -1;
    }
    if (n == 0 || n > REPLAY_MAX_CHANNELS) {
        *why = "bad channel count";
        return -1;
    }
    if (!reserve_channels(channels_needed(names, lens, n))) {
        *why = "too many channels (max_channels reached)";
        return -1;
    }
    s->links = pg_xcalloc(n, sizeof *s->links);
    s->n_links = s->n_live = (uint16_t)n;
    s->worker = (uint8_t)pg_worker_self;
    s->attach_deletes = hub.deletes;
    struct pg_sublink **head;
    for (size_t i = 0; i < n; i++) {
        struct pg_channel *c = channel_get(names[i], lens[i]);
        struct pg_sublink *l = &s->links[i];
        l->sub = s;
        l->chan = c;
        head = &c->subs[s->worker];
        l->next = *head;
        if (*head)
            (*head)->prev = l;
        *head = l;
        c->n_subs++;
        c->fmt_subs[s->fmt]++;
        hub.subscriptions++;
    }
    s->subscribed = true;
    pg_metrics_subscribed(s->ops->name);
    if (cursor && shared)
        replay_shared(s, epoch, after, cursor, cursor_len);
    else if (cursor) {
        bool other_epoch = strcmp(epoch, hub.epoch) != 0;
        replay(s, other_epoch ? 0 : after, other_epoch, cursor, cursor_len);
    }
    if (!shared || !cursor)
        s->skip_seq = hub.seq;   /* what is older was replayed or predates it */
    return 0;
}

static void link_detach(struct pg_sublink *l)
{
    struct pg_channel *c = l->chan;
    if (!c)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        c->subs[l->sub->worker] = l->next;
    if (l->next)
        l->next->prev = l->prev;
    c->n_subs--;
    c->fmt_subs[l->sub->fmt]--;
    l->chan = NULL;
    l->prev = l->next = NULL;
    l->sub->n_live--;
    hub.subscriptions--;
}

void pg_hub_unsubscribe(struct pg_subscriber *s)
{
    if (!s->subscribed)
        return;
    for (size_t i = 0; i < s->n_links; i++)
        link_detach(&s->links[i]);
    free(s->links);
    s->links = NULL;
    s->n_links = 0;
    s->subscribed = false;
}

/* ---- what reaches another worker's subscribers besides messages ---- */

/* A channel event posted to a worker: the channel by name (the record may
 * be gone or replaced by the time the item runs), a number, a cursor. */
struct note {
    uint64_t num;
    char cursor[64];
    uint16_t len;
    char name[];
};

static void post_note(struct pg_channel *c, pg_work_fn fn, uint64_t num, const char *cursor)
{
    for (unsigned w = 0; w < pg_n_workers; w++) {
        if (!c->subs[w])
            continue;
        struct note *n = pg_xmalloc(sizeof *n + c->name_len + 1);
        n->num = num;
        snprintf(n->cursor, sizeof n->cursor, "%s", cursor ? cursor : "");
        n->len = c->name_len;
        memcpy(n->name, c->name, c->name_len + 1);
        pg_worker_post(w, fn, n, 0);
    }
}

static struct pg_channel *note_channel(void *p, uint64_t discard, struct note **n)
{
    *n = p;
    return discard ? NULL : find((*n)->name, (*n)->len, hash_name((*n)->name, (*n)->len));
}

/* Tells worker w's subscribers of c that it was deleted and detaches them,
 * except those that subscribed at or after the delete: memory store,
 * attach_deletes >= deletes; shared store, skip_seq >= seq (their replay
 * was read after the delete). */
static void detach_told(struct pg_channel *c, unsigned w, uint64_t deletes, uint64_t seq)
{
    for (struct pg_sublink *l = c->subs[w], *next; l; l = next) {
        next = l->next;
        struct pg_subscriber *s = l->sub;
        if (s->attach_deletes >= deletes && deletes)
            continue;
        if (s->skip_seq >= seq)
            continue;
        link_detach(l);
        s->ops->deleted(s, c->name, s->n_live);
    }
}

static void deleted_item(void *p, uint64_t discard)
{
    struct note *n;
    struct pg_channel *c = note_channel(p, discard, &n);
    if (c) {
        detach_told(c, pg_worker_self, n->num, UINT64_MAX);
        if (c->tombstone && !c->n_subs && !c->evicted_max_seq) {
            hub.n_tomb--;
            channel_unlink_free(c);
        }
    }
    free(n);
}

static bool info_shared(const char *name, size_t len, struct pg_channel_info *info);
static bool delete_shared(const char *name, size_t len);

bool pg_hub_channel_info(const char *name, size_t len, struct pg_channel_info *info)
{
    store_error = NULL;
    if (shared)
        return info_shared(name, len, info);
    struct pg_channel *c = find(name, len, hash_name(name, len));
    if (!c || c->tombstone)
        return false;
    info->messages = c->ring_len;
    info->subscribers = c->n_subs;
    if (c->last_seq)
        snprintf(info->last_id, sizeof info->last_id, "%s-%" PRIu64, hub.epoch, c->last_seq);
    else
        info->last_id[0] = '\0';
    return true;
}

static void make_tombstone(struct pg_channel *c)
{
    c->tombstone = true;
    hub.n_live--;
    hub.n_tomb++;
}

bool pg_hub_delete(const char *name, size_t len)
{
    store_error = NULL;
    if (shared)
        return delete_shared(name, len);
    struct pg_channel *c = find(name, len, hash_name(name, len));
    if (!c || c->tombstone)
        return false;
    pg_journal_delete(name, len, PG_MAX(c->last_seq, c->evicted_max_seq));
    pg_store_clear(c);
    if (c->last_seq > c->evicted_max_seq)
        c->evicted_max_seq = c->last_seq;
    hub.deletes++;
    if (pg_n_workers == 1)
        detach_told(c, 0, 0, UINT64_MAX);
    else
        post_note(c, deleted_item, hub.deletes, NULL);
    if (c->evicted_max_seq || c->n_subs)   /* kept while workers detach */
        make_tombstone(c);
    else {
        hub.n_live--;
        channel_unlink_free(c);
    }
    return true;
}

static void sweep_idle(void)
{
    for (uint32_t i = 0; i <= hub.mask; i++) {
        struct pg_channel *c = hub.table[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            if (c->tombstone || c->n_subs || c->ring_len)
                continue;
            if (c->evicted_max_seq) {
                pg_store_clear(c);
                make_tombstone(c);
            } else {
                hub.n_live--;
                channel_unlink_free(c);
            }
        }
    }
    if (hub.n_tomb > hub.lim.max_channels)
        purge_tombstones();
}

void pg_hub_tick(uint64_t now_ms)
{
    pg_store_expire(now_ms);
    if (now_ms >= hub.next_sweep_ms) {
        sweep_idle();
        hub.next_sweep_ms = now_ms + 10000;
    }
}

void pg_hub_shutdown(void)
{
    for (uint32_t i = 0; i <= hub.mask; i++)
        for (struct pg_channel *c = hub.table[i]; c; c = c->hnext)
            for (struct pg_sublink *l = c->subs[pg_worker_self]; l; l = l->next)
                l->sub->ops->shutdown(l->sub);
}

void pg_hub_free(void)
{
    for (uint32_t i = 0; i <= hub.mask; i++) {
        struct pg_channel *c = hub.table[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            for (unsigned w = 0; w < pg_n_workers; w++)
                while (c->subs[w])
                    link_detach(c->subs[w]);
            pg_store_clear(c);
            free(c);
        }
    }
    free(hub.table);
    hub.table = NULL;
    pg_store_free();
}

void pg_hub_stats(struct pg_hub_stats *s)
{
    s->channels = hub.n_live;
    s->tombstones = hub.n_tomb;
    pg_store_stats(&s->retained, &s->retained_bytes);
    s->subscriptions = hub.subscriptions;
    s->published = hub.published;
    s->delivered = hub.delivered;
}

/* ---- journal support (journal.h): restore at start-up, snapshots ---- */

/* A channel the cap leaves no room for: its history is dropped, and the
 * floor makes any later channel announce a gap below seq (never a skip). */
static bool restore_room(const char *name, size_t len, uint64_t seq)
{
    if (reserve_channels(channels_needed(&name, &len, 1)))
        return true;
    if (seq > hub.gap_floor)
        hub.gap_floor = seq;
    return false;
}

void pg_hub_restore_clock(const char *epoch, uint64_t seq, uint64_t gap_floor)
{
    snprintf(hub.epoch, sizeof hub.epoch, "%s", epoch);
    hub.seq = PG_MAX(hub.seq, seq);
    hub.gap_floor = PG_MAX(hub.gap_floor, gap_floor);
}

void pg_hub_restore_message(struct pg_message *m, uint64_t seq, bool expired)
{
    hub.seq = PG_MAX(hub.seq, seq);
    if (!restore_room(m->channel, m->channel_len, seq)) {
        pg_message_unref(m);
        return;
    }
    struct pg_channel *c = channel_get(m->channel, m->channel_len);
    pg_message_set_id(m, hub.epoch, seq);
    c->last_seq = PG_MAX(c->last_seq, seq);
    if (expired && c->ring_len == 0) {
        c->evicted_max_seq = PG_MAX(c->evicted_max_seq, seq);
        pg_message_unref(m);
        return;
    }
    pg_store_append(c, m);
}

void pg_hub_restore_channel(const char *name, size_t len, uint64_t evicted_max_seq,
                            uint64_t last_seq)
{
    hub.seq = PG_MAX(hub.seq, PG_MAX(evicted_max_seq, last_seq));
    if (!restore_room(name, len, evicted_max_seq))
        return;
    struct pg_channel *c = channel_get(name, len);
    c->evicted_max_seq = PG_MAX(c->evicted_max_seq, evicted_max_seq);
    c->last_seq = PG_MAX(c->last_seq, last_seq);
    if (!c->ring_len && !c->n_subs && c->evicted_max_seq) {
        pg_store_clear(c);
        make_tombstone(c);
    }
}

void pg_hub_walk_evicted(pg_hub_walk_fn fn, void *arg)
{
    for (uint32_t i = 0; i <= hub.mask; i++)
        for (struct pg_channel *c = hub.table[i]; c; c = c->hnext)
            if (c->evicted_max_seq)
                fn(arg, c->name, c->name_len, c->evicted_max_seq, c->last_seq);
}

struct pg_message **pg_hub_retained(size_t *n)
{
    uint64_t total, bytes;
    pg_store_stats(&total, &bytes);
    struct pg_message **all = pg_xmalloc((total ? total : 1) * sizeof *all);
    size_t got = 0;
    for (uint32_t i = 0; i <= hub.mask; i++)
        for (struct pg_channel *c = hub.table[i]; c; c = c->hnext)
            got += PG_MIN(pg_store_since(c, 0, all + got, total - got), total - got);
    qsort(all, got, sizeof *all, cmp_seq);
    for (size_t i = 0; i < got; i++)
        pg_message_ref(all[i]);
    *n = got;
    return all;
}

uint64_t pg_hub_gap_floor(void)
{
    return hub.gap_floor;
}

/* ---- a shared store (store.h): the hub keeps local subscriber lists ---- */

void pg_hub_set_shared(const struct pg_store_shared *ops)
{
    shared = ops;
}

const char *pg_hub_store_error(void)
{
    return store_error;
}

static struct pg_channel *find_live(const char *name, size_t len)
{
    struct pg_channel *c = find(name, len, hash_name(name, len));
    return c && !c->tombstone ? c : NULL;
}

/* No local history and no local channel record: counts are this node's. */
static int publish_shared(struct pg_message **msgs, size_t n, uint32_t *counts, const char **why)
{
    int rc = shared->publish(msgs, n, why);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct pg_channel *c = find_live(msgs[i]->channel, msgs[i]->channel_len);
        counts[i] = c ? c->n_subs : 0;
        hub.published++;
        pg_message_unref(msgs[i]);
    }
    return 0;
}

/* As replay(), from the shared store; the store not answering is a gap on
 * every channel (the subscriber stays, live). */
static void replay_shared(struct pg_subscriber *s, const char *epoch, uint64_t after,
                          const char *cursor, size_t cursor_len)
{
    const char *names[REPLAY_MAX_CHANNELS], *gap[REPLAY_MAX_CHANNELS];
    size_t lens[REPLAY_MAX_CHANNELS], n_gap = 0;
    char flags[REPLAY_MAX_CHANNELS] = {0};
    struct pg_shared_replay r = {.flags = flags};
    const char *why = NULL;
    for (size_t i = 0; i < s->n_links; i++) {
        names[i] = s->links[i].chan->name;
        lens[i] = s->links[i].chan->name_len;
    }
    if (shared->replay(names, lens, s->n_links, epoch, after, &r, &why) < 0) {
        pg_log_warn("resume from %.*s: %s; sending a gap notice", (int)PG_MIN(cursor_len, 64), cursor, why);
        memset(flags, '1', s->n_links);
    }
    for (size_t i = 0; i < s->n_links; i++)
        if (flags[i] != '0')
            gap[n_gap++] = names[i];
    if (n_gap) {
        char cur[64];
        snprintf(cur, sizeof cur, "%.*s", (int)PG_MIN(cursor_len, sizeof cur - 1), cursor);
        s->ops->gap(s, gap, n_gap, cur);
    }
    for (size_t i = 0; i < r.n_msgs; i++) {
        if (!s->replay_full) {
            pg_message_encode(r.msgs[i], s->fmt);
            s->ops->deliver(s, r.msgs[i]);
        }
        pg_message_unref(r.msgs[i]);
    }
    free(r.msgs);
    s->skip_seq = r.upto;
}

static bool info_shared(const char *name, size_t len, struct pg_channel_info *info)
{
    uint64_t messages = 0, last = 0;
    if (shared->info(name, len, &messages, &last, &store_error) < 0)
        return false;
    struct pg_channel *c = find_live(name, len);
    info->messages = messages;
    info->subscribers = c ? c->n_subs : 0;
    if (last)
        snprintf(info->last_id, sizeof info->last_id, "%s-%" PRIu64, hub.epoch, last);
    else
        info->last_id[0] = '\0';
    return messages || info->subscribers;
}

/* The subscribers are told when the store's delete notice comes back
 * (pg_hub_delete_local), on every node in the same order as messages. */
static bool delete_shared(const char *name, size_t len)
{
    bool found = false;
    if (shared->remove(name, len, &found, &store_error) < 0)
        return false;
    struct pg_channel *c = find_live(name, len);
    return found || (c && c->n_subs);
}

bool pg_hub_wants(const char *name, size_t len)
{
    struct pg_channel *c = find_live(name, len);
    return c && c->n_subs;
}

void pg_hub_fanout(struct pg_message *m)
{
    struct pg_channel *c = find_live(m->channel, m->channel_len);
    if (m->seq > hub.seq)
        hub.seq = m->seq;
    if (c && c->n_subs) {
        encode_for_subscribers(c, m);
        fanout(c, m);
    }
    pg_message_unref(m);
}

static void clock_item(void *p, uint64_t discard)
{
    if (discard)
        return;
    for (uint32_t i = 0; i <= hub.mask; i++)
        for (struct pg_channel *c = hub.table[i]; c; c = c->hnext)
            for (struct pg_sublink *l = c->subs[pg_worker_self]; l; l = l->next)
                l->sub->skip_seq = 0;
}

void pg_hub_set_clock(const char *epoch, uint64_t seq)
{
    if (strcmp(epoch, hub.epoch) == 0) {
        hub.seq = PG_MAX(hub.seq, seq);
        return;
    }
    snprintf(hub.epoch, sizeof hub.epoch, "%s", epoch);
    hub.seq = seq;
    if (pg_n_workers == 1)
        clock_item(NULL, 0);
    else
        pg_worker_post_all(clock_item, NULL, 0);
}

static void delete_local_item(void *p, uint64_t discard)
{
    struct note *n;
    struct pg_channel *c = note_channel(p, discard, &n);
    if (c) {
        detach_told(c, pg_worker_self, 0, n->num);
        if (!c->n_subs && !c->tombstone) {
            hub.n_live--;
            channel_unlink_free(c);
        }
    }
    free(n);
}

void pg_hub_delete_local(const char *name, size_t len, uint64_t delete_seq)
{
    if (delete_seq > hub.seq)
        hub.seq = delete_seq;   /* who subscribes from now on is not told */
    struct pg_channel *c = find_live(name, len);
    if (!c)
        return;
    if (pg_n_workers > 1) {
        post_note(c, delete_local_item, delete_seq, NULL);
        return;
    }
    detach_told(c, 0, 0, delete_seq);
    if (!c->n_subs) {
        hub.n_live--;
        channel_unlink_free(c);
    }
}

static void gap_here(struct pg_channel *c, const char *cursor)
{
    const char *names[1] = {c->name};
    for (struct pg_sublink *l = c->subs[pg_worker_self]; l; l = l->next)
        l->sub->ops->gap(l->sub, names, 1, cursor);
}

static void gap_item(void *p, uint64_t discard)
{
    struct note *n;
    struct pg_channel *c = note_channel(p, discard, &n);
    if (c)
        gap_here(c, n->cursor);
    free(n);
}

void pg_hub_gap_local(const char *name, size_t len, const char *cursor)
{
    struct pg_channel *c = find_live(name, len);
    if (!c)
        return;
    if (pg_n_workers > 1)
        post_note(c, gap_item, 0, cursor);
    else
        gap_here(c, cursor);
}

void pg_hub_walk_subscribed(void (*fn)(void *arg, const char *name, size_t len), void *arg)
{
    for (uint32_t i = 0; i <= hub.mask; i++)
        for (struct pg_channel *c = hub.table[i]; c; c = c->hnext)
            if (!c->tombstone && c->n_subs)
                fn(arg, c->name, c->name_len);
}
