/* store_memory.c — the embedded in-memory history: a ring of message
 * references per channel (count cap: history_size), one global age list
 * across channels (age cap: history_ttl; memory cap: history_memory_max,
 * counting payloads and their encodings).
 *
 * Invariants: see store.h. Every eviction path goes through evict_oldest,
 * which records evicted_max_seq, so a resuming subscriber is told of a gap
 * instead of silently missing messages. */
#include "store.h"
#include "util.h"

#include <stdlib.h>

static struct {
    struct pg_hub_limits lim;
    struct pg_message *age_head, *age_tail;
    uint64_t retained, bytes;
} st;

void pg_store_init(const struct pg_hub_limits *lim)
{
    memset(&st, 0, sizeof st);
    st.lim = *lim;
}

static void age_unlink(struct pg_message *m)
{
    if (m->age_prev)
        m->age_prev->age_next = m->age_next;
    else
        st.age_head = m->age_next;
    if (m->age_next)
        m->age_next->age_prev = m->age_prev;
    else
        st.age_tail = m->age_prev;
    m->age_prev = m->age_next = NULL;
    m->store_owner = NULL;
}

static void evict_oldest(struct pg_channel *c)
{
    struct pg_message *m = c->ring[c->ring_head];
    c->ring[c->ring_head] = NULL;
    c->ring_head = (c->ring_head + 1) % c->ring_cap;
    c->ring_len--;
    if (m->seq > c->evicted_max_seq)
        c->evicted_max_seq = m->seq;
    age_unlink(m);
    st.retained--;
    st.bytes -= m->mem;
    pg_message_unref(m);
}

static void enforce_memory_cap(void)
{
    while (st.bytes > st.lim.history_memory_max && st.age_head)
        evict_oldest(st.age_head->store_owner);
}

void pg_store_set_limits(const struct pg_hub_limits *lim)
{
    st.lim = *lim;
    enforce_memory_cap();
}

void pg_store_free(void)
{
    while (st.age_head)
        evict_oldest(st.age_head->store_owner);
}

static void ring_grow(struct pg_channel *c, uint32_t want)
{
    struct pg_message **ring = pg_xcalloc(want, sizeof *ring);
    for (uint32_t i = 0; i < c->ring_len; i++)
        ring[i] = c->ring[(c->ring_head + i) % c->ring_cap];
    free(c->ring);
    c->ring = ring;
    c->ring_cap = want;
    c->ring_head = 0;
}

void pg_store_append(struct pg_channel *c, struct pg_message *m)
{
    uint32_t size = st.lim.history_size;
    if (size == 0) {            /* no history: the message is evicted at once */
        if (m->seq > c->evicted_max_seq)
            c->evicted_max_seq = m->seq;
        pg_message_unref(m);
        return;
    }
    while (c->ring_len >= size)
        evict_oldest(c);
    if (c->ring_len == c->ring_cap)
        ring_grow(c, PG_MIN(size, c->ring_cap ? c->ring_cap * 2 : 4));
    c->ring[(c->ring_head + c->ring_len) % c->ring_cap] = m;
    c->ring_len++;
    m->store_owner = c;
    m->age_prev = st.age_tail;
    m->age_next = NULL;
    if (st.age_tail)
        st.age_tail->age_next = m;
    else
        st.age_head = m;
    st.age_tail = m;
    st.retained++;
    st.bytes += m->mem;
    enforce_memory_cap();
}

void pg_store_account(struct pg_message *m, size_t delta)
{
    if (!m->store_owner)
        return;
    st.bytes += delta;
    enforce_memory_cap();
}

void pg_store_clear(struct pg_channel *c)
{
    while (c->ring_len)
        evict_oldest(c);
    free(c->ring);
    c->ring = NULL;
    c->ring_cap = c->ring_head = 0;
}

size_t pg_store_since(const struct pg_channel *c, uint64_t after, struct pg_message **out, size_t max)
{
    /* binary search for the first retained seq > after */
    uint32_t lo = 0, hi = c->ring_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->ring[(c->ring_head + mid) % c->ring_cap]->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t total = c->ring_len - lo;
    for (size_t i = 0; i < total && i < max; i++)
        out[i] = c->ring[(c->ring_head + lo + i) % c->ring_cap];
    return total;
}

void pg_store_expire(uint64_t now_ms)
{
    while (st.age_head && st.age_head->created_ms + st.lim.history_ttl_ms <= now_ms)
        evict_oldest(st.age_head->store_owner);
}

void pg_store_stats(uint64_t *retained, uint64_t *bytes)
{
    *retained = st.retained;
    *bytes = st.bytes;
}
