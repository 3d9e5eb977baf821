/* hub.c — the channel registry, subscriber lists, publish fan-out, replay
 * since an id, delete and idle cleanup (see hub.h for the id invariants).
 *
 * Fan-out (DESIGN I2, I4): a published message is appended to history
 * (the store holds one reference), encoded once for every format its
 * channel's subscribers use, then handed to each subscriber's deliver(),
 * which only queues a reference. Nothing here waits on a socket, and no
 * subscriber is freed while a channel list is being walked. */
#include "hub.h"
#include "channel.h"
#include "log.h"
#include "store.h"
#include "util.h"

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
    uint64_t next_sweep_ms;
} hub;

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
    snprintf(out, outcap, "%s-%" PRIu64, hub.epoch, hub.seq);
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
            if (!c->tombstone)
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
    c = pg_xcalloc(1, sizeof *c + len + 1);
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

int pg_hub_publish(struct pg_message **msgs, size_t n, uint32_t *counts, const char **why)
{
    const char *names[REPLAY_MAX_CHANNELS];
    size_t lens[REPLAY_MAX_CHANNELS];
    if (n == 0 || n > REPLAY_MAX_CHANNELS) {
        *why = "bad channel count";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = msgs[i]->channel;
        lens[i] = msgs[i]->channel_len;
    }
    if (!reserve_channels(channels_needed(names, lens, n))) {
        *why = "too many channels (max_channels reached)";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct pg_message *m = msgs[i];
        struct pg_channel *c = channel_get(m->channel, m->channel_len);
        pg_message_set_id(m, hub.epoch, ++hub.seq);
        c->last_seq = m->seq;
        /* encode before appending, so the memory cap counts the encodings
         * and never evicts the message we are about to deliver */
        encode_for_subscribers(c, m);
        pg_store_append(c, pg_message_ref(m));
        counts[i] = c->n_subs;
        for (struct pg_sublink *l = c->subs, *next; l; l = next) {
            next = l->next;
            l->sub->ops->deliver(l->sub, m);
        }
        hub.published++;
        hub.delivered += c->n_subs;
        pg_message_unref(m);
    }
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
        if (!m->enc[s->fmt].data) {
            size_t before = m->mem;
            pg_message_encode(m, s->fmt);
            pg_store_account(m, m->mem - before);
        }
        s->ops->deliver(s, m);
        pg_message_unref(m);
    }
    free(all);
}

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
    for (size_t i = 0; i < n; i++) {
        struct pg_channel *c = channel_get(names[i], lens[i]);
        struct pg_sublink *l = &s->links[i];
        l->sub = s;
        l->chan = c;
        l->next = c->subs;
        if (c->subs)
            c->subs->prev = l;
        c->subs = l;
        c->n_subs++;
        c->fmt_subs[s->fmt]++;
        hub.subscriptions++;
    }
    s->subscribed = true;
    if (cursor) {
        bool other_epoch = strcmp(epoch, hub.epoch) != 0;
        replay(s, other_epoch ? 0 : after, other_epoch, cursor, cursor_len);
    }
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
        c->subs = l->next;
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

bool pg_hub_channel_info(const char *name, size_t len, struct pg_channel_info *info)
{
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
    struct pg_channel *c = find(name, len, hash_name(name, len));
    if (!c || c->tombstone)
        return false;
    pg_store_clear(c);
    if (c->last_seq > c->evicted_max_seq)
        c->evicted_max_seq = c->last_seq;
    for (struct pg_sublink *l = c->subs, *next; l; l = next) {
        next = l->next;
        struct pg_subscriber *s = l->sub;
        link_detach(l);
        s->ops->deleted(s, c->name, s->n_live);
    }
    if (c->evicted_max_seq)
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
            for (struct pg_sublink *l = c->subs; l; l = l->next)
                l->sub->ops->shutdown(l->sub);
}

void pg_hub_free(void)
{
    for (uint32_t i = 0; i <= hub.mask; i++) {
        struct pg_channel *c = hub.table[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            while (c->subs)
                link_detach(c->subs);
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
