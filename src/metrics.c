/* metrics.c — pushgated's counters, the publish-to-delivery latency
 * histogram and their Prometheus text exposition (see metrics.h for what
 * each figure means and where it is measured).
 *
 * Invariants: nothing here allocates except the renderer (into the
 * caller's buffer, at scrape time); updates are plain increments on the
 * main loop. The exposition follows format 0.0.4: every family has one HELP
 * and one TYPE line before its samples, samples of a family are contiguous,
 * counters end in _total, histogram buckets are cumulative with le="+Inf"
 * equal to _count. */
#include "metrics.h"
#include "buf.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

__thread struct pg_metrics pg_metrics;
/* every thread's copy, [0] the main thread's (pg_metrics_sum) */
static struct pg_metrics *copies[64];

static const struct {
    uint64_t ns;
    const char *le;
} buckets[PG_LATENCY_BUCKETS] = {
    {1000000ull, "0.001"},      {2500000ull, "0.0025"},     {5000000ull, "0.005"},
    {10000000ull, "0.01"},      {25000000ull, "0.025"},     {50000000ull, "0.05"},
    {100000000ull, "0.1"},      {250000000ull, "0.25"},     {500000000ull, "0.5"},
    {1000000000ull, "1"},       {2500000000ull, "2.5"},     {5000000000ull, "5"},
    {10000000000ull, "10"},
};

static const char *const mt_names[PG_MT_COUNT] = {"websocket", "sse", "longpoll"};
static const char *const drop_names[PG_DROP_COUNT] = {
    "slow_consumer", "closing", "deferred", "unsent",
};
static const char *const origin_names[PG_METRICS_ORIGINS] = {"api", "client", "spool"};
static const char *const state_names[PG_STORE_STATE_COUNT] = {"up", "connecting", "down"};
static const char *const pubrefuse_codes[PG_PUBREFUSE_COUNT] = {"400", "413", "503", "other"};

const char *pg_mt_name(enum pg_mt t)
{
    return (unsigned)t < PG_MT_COUNT ? mt_names[t] : "?";
}

const char *pg_drop_name(enum pg_drop d)
{
    return (unsigned)d < PG_DROP_COUNT ? drop_names[d] : "?";
}

const char *pg_origin_name(int origin)
{
    return origin >= 0 && origin < PG_METRICS_ORIGINS ? origin_names[origin] : "?";
}

const char *pg_store_state_name(enum pg_store_state s)
{
    return (unsigned)s < PG_STORE_STATE_COUNT ? state_names[s] : "?";
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pg_metrics_init(void)
{
    memset(&pg_metrics, 0, sizeof pg_metrics);
    pg_metrics.started_wall_ms = pg_wall_ms();
    pg_metrics.started_mono_ms = pg_now_ms();
    pg_metrics.store_backend = "memory";
    pg_metrics.store_state = PG_STORE_STATE_UP;
    pg_metrics.store_state_since_ms = pg_metrics.started_wall_ms;
    pg_metrics_clock_refresh();
    copies[0] = &pg_metrics;
}

void pg_metrics_thread_init(unsigned w)
{
    memset(&pg_metrics, 0, sizeof pg_metrics);
    pg_metrics_clock_refresh();
    if (w < PG_ARRAY_LEN(copies))
        copies[w] = &pg_metrics;
}

static uint64_t load(const uint64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

#define SUM_ARRAY(field)                                  \
    for (size_t k = 0; k < PG_ARRAY_LEN(out->field); k++) \
        out->field[k] += load(&m->field[k])

void pg_metrics_sum(struct pg_metrics *out)
{
    const struct pg_metrics *main = copies[0];
    memset(out, 0, sizeof *out);
    out->store_backend = main->store_backend;
    out->store_state = main->store_state;
    out->store_state_changes = main->store_state_changes;
    out->store_state_since_ms = main->store_state_since_ms;
    out->started_wall_ms = main->started_wall_ms;
    out->started_mono_ms = main->started_mono_ms;
    for (size_t i = 0; i < PG_ARRAY_LEN(copies); i++) {
        const struct pg_metrics *m = copies[i];
        if (!m)
            continue;
        SUM_ARRAY(accepted);
        SUM_ARRAY(subscribes);
        SUM_ARRAY(published);
        SUM_ARRAY(publish_refused);
        SUM_ARRAY(deliveries);
        SUM_ARRAY(dropped);
        SUM_ARRAY(latency.bucket);
        out->latency.count += load(&m->latency.count);
        out->latency.sum_ns += load(&m->latency.sum_ns);
        out->bytes_out += load(&m->bytes_out);
    }
}

/* ---- updates ---- */

void pg_metrics_clock_refresh(void)
{
    pg_metrics.clock_ns = wall_ns();
    pg_metrics.clock_uses = 0;
}

int pg_latency_bucket(uint64_t ns)
{
    int i = 0;
    while (i < PG_LATENCY_BUCKETS && ns > buckets[i].ns)
        i++;
    return i;
}

void pg_metrics_written(uint64_t created_wall_ns)
{
    struct pg_histogram *h = &pg_metrics.latency;
    if (++pg_metrics.clock_uses >= PG_METRICS_CLOCK_REUSE)
        pg_metrics_clock_refresh();
    /* the wall clock may step back: clamp rather than wrap */
    uint64_t ns = pg_metrics.clock_ns > created_wall_ns ? pg_metrics.clock_ns - created_wall_ns : 0;
    pg_metrics_add_relaxed(&h->bucket[pg_latency_bucket(ns)], 1);
    pg_metrics_add_relaxed(&h->count, 1);
    pg_metrics_add_relaxed(&h->sum_ns, ns);
}

void pg_metrics_subscribed(const char *transport)
{
    for (int i = 0; i < PG_MT_COUNT; i++)
        if (strcmp(transport, mt_names[i]) == 0) {
            pg_metrics.subscribes[i]++;
            return;
        }
}

void pg_metrics_published(int origin, uint64_t n)
{
    if (origin >= 0 && origin < PG_METRICS_ORIGINS)
        pg_metrics.published[origin] += n;
}

void pg_metrics_publish_refused(int status)
{
    int i = status == 400 ? PG_PUBREFUSE_400 : status == 413 ? PG_PUBREFUSE_413
          : status == 503 ? PG_PUBREFUSE_503 : PG_PUBREFUSE_OTHER;
    pg_metrics.publish_refused[i]++;
}

void pg_metrics_set_store(const char *backend, enum pg_store_state state)
{
    /* the store's state lives in the main thread's copy, whichever thread
     * saw it change (pg_metrics_sum reads it there) */
    struct pg_metrics *m = copies[0] ? copies[0] : &pg_metrics;
    if ((unsigned)state >= PG_STORE_STATE_COUNT)
        return;
    if (state != m->store_state || strcmp(backend, m->store_backend) != 0) {
        m->store_state_changes++;
        m->store_state_since_ms = pg_wall_ms();
    }
    m->store_backend = backend;
    m->store_state = state;
}

/* ---- exposition writer ---- */

void pg_prom_family(struct pg_buf *b, const char *name, const char *type, const char *help)
{
    pg_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pg_prom_sample(struct pg_buf *b, const char *name, const char *labels, uint64_t v)
{
    if (labels && *labels)
        pg_buf_addf(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
    else
        pg_buf_addf(b, "%s %" PRIu64 "\n", name, v);
}

void pg_prom_label(struct pg_buf *b, const char *key, const char *value, bool first)
{
    if (!first)
        pg_buf_add(b, ",", 1);
    pg_buf_addf(b, "%s=\"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            pg_buf_add(b, "\\\\", 2);
        else if (*p == '"')
            pg_buf_add(b, "\\\"", 2);
        else if (*p == '\n')
            pg_buf_add(b, "\\n", 2);
        else
            pg_buf_add(b, p, 1);
    }
    pg_buf_add(b, "\"", 1);
}

/* One sample with a single label. */
static void sample1(struct pg_buf *b, const char *name, const char *key, const char *value, uint64_t v)
{
    struct pg_buf l = {0};
    pg_prom_label(&l, key, value, true);
    pg_prom_sample(b, name, l.p, v);
    pg_buf_free(&l);
}

/* A family of one label over a fixed name table. */
static void labelled(struct pg_buf *b, const char *name, const char *type, const char *help,
                     const char *key, const char *const *values, const uint64_t *v, int n)
{
    pg_prom_family(b, name, type, help);
    for (int i = 0; i < n; i++)
        sample1(b, name, key, values[i], v[i]);
}

static void scalar(struct pg_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    pg_prom_family(b, name, type, help);
    pg_prom_sample(b, name, NULL, v);
}

/* Seconds from nanoseconds, exactly (no floating point rounding). */
static void add_seconds(struct pg_buf *b, uint64_t ns)
{
    pg_buf_addf(b, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
}

static void render_histogram(struct pg_buf *b, const char *name, const char *help,
                             const struct pg_histogram *h)
{
    pg_prom_family(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < PG_LATENCY_BUCKETS; i++) {
        cum += h->bucket[i];
        pg_buf_addf(b, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, buckets[i].le, cum);
    }
    cum += h->bucket[PG_LATENCY_BUCKETS];
    pg_buf_addf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    pg_buf_addf(b, "%s_sum ", name);
    add_seconds(b, h->sum_ns);
    /* count is kept apart from the buckets: the tests check they agree */
    pg_buf_addf(b, "\n%s_count %" PRIu64 "\n", name, h->count);
}

static void render_connections(struct pg_buf *b, const struct pg_metrics *m,
                               const struct pg_metrics_snapshot *s)
{
    pg_prom_family(b, "pushgate_connections", "gauge",
                   "Open connections by listener and by what they are doing now "
                   "(http: between requests or answering one; longpoll: a held poll).");
    for (size_t i = 0; i < s->n_conns; i++) {
        struct pg_buf l = {0};
        pg_prom_label(&l, "listener", s->conns[i].listener, true);
        pg_prom_label(&l, "transport", s->conns[i].transport, false);
        pg_prom_sample(b, "pushgate_connections", l.p, s->conns[i].n);
        pg_buf_free(&l);
    }
    static const char *const listeners[2] = {"public", "publish"};
    labelled(b, "pushgate_connections_accepted_total", "counter",
             "Connections accepted, by listener.", "listener", listeners, m->accepted, 2);
}

static void render_store(struct pg_buf *b, const struct pg_metrics *m)
{
    pg_prom_family(b, "pushgate_store_info", "gauge", "The channel store in use (always 1).");
    sample1(b, "pushgate_store_info", "backend", m->store_backend, 1);
    scalar(b, "pushgate_store_up", "gauge", "1 when the store accepts publishes, else 0.",
           m->store_state == PG_STORE_STATE_UP);
    uint64_t onehot[PG_STORE_STATE_COUNT] = {0};
    onehot[m->store_state] = 1;
    labelled(b, "pushgate_store_state", "gauge", "The store's state (1 for the current one).",
             "state", state_names, onehot, PG_STORE_STATE_COUNT);
    scalar(b, "pushgate_store_state_changes_total", "counter",
           "Store state changes (connects, losses) since start.", m->store_state_changes);
}

static void render_hub(struct pg_buf *b, const struct pg_metrics_snapshot *s)
{
    scalar(b, "pushgate_channels", "gauge", "Live channels.", s->channels);
    scalar(b, "pushgate_channel_tombstones", "gauge",
           "Deleted or idle channels remembered for gap detection.", s->tombstones);
    scalar(b, "pushgate_subscriptions", "gauge",
           "Channel subscriptions (a subscriber of n channels counts n).", s->subscriptions);
    scalar(b, "pushgate_history_messages", "gauge", "Messages retained in history.", s->retained);
    scalar(b, "pushgate_history_bytes", "gauge",
           "Bytes counted against history_memory_max.", s->retained_bytes);
    scalar(b, "pushgate_messages_alive", "gauge",
           "Messages in memory (history and output queues).", s->messages_alive);
}

static void render_refusals(struct pg_buf *b, const struct pg_metrics_snapshot *s)
{
    pg_prom_family(b, "pushgate_refusals_total", "counter",
                   "Connections and requests refused, by reason.");
    for (size_t i = 0; i < s->n_refusals; i++)
        sample1(b, "pushgate_refusals_total", "reason", s->refusals[i].reason, s->refusals[i].n);
}

static void render_process(struct pg_buf *b, const struct pg_metrics *m, const struct pg_metrics_snapshot *s)
{
    pg_prom_family(b, "pushgate_build_info", "gauge", "pushgated's version (always 1).");
    sample1(b, "pushgate_build_info", "version", s->version ? s->version : "unknown", 1);
    scalar(b, "pushgate_uptime_seconds", "gauge", "Seconds since pushgated started.",
           (s->now_mono_ms - m->started_mono_ms) / 1000);
    scalar(b, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.",
           m->started_wall_ms / 1000);
    if (s->rss_bytes)
        scalar(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               s->rss_bytes);
}

void pg_metrics_render(struct pg_buf *out, const struct pg_metrics *m,
                       const struct pg_metrics_snapshot *s)
{
    render_process(out, m, s);
    render_connections(out, m, s);
    labelled(out, "pushgate_subscribes_total", "counter",
             "Subscribe requests accepted, by transport (a long-poll counts once per poll).",
             "transport", mt_names, m->subscribes, PG_MT_COUNT);
    render_hub(out, s);
    labelled(out, "pushgate_messages_published_total", "counter",
             "Messages published (one per channel of a multi-channel publish), by origin.",
             "origin", origin_names, m->published, PG_METRICS_ORIGINS);
    labelled(out, "pushgate_publishes_refused_total", "counter",
             "Publishes refused, by HTTP status.", "code", pubrefuse_codes, m->publish_refused,
             PG_PUBREFUSE_COUNT);
    labelled(out, "pushgate_deliveries_total", "counter",
             "Messages queued for a subscriber (replays included), by transport.",
             "transport", mt_names, m->deliveries, PG_MT_COUNT);
    labelled(out, "pushgate_deliveries_dropped_total", "counter",
             "Deliveries not made or not completed, by reason.", "reason", drop_names, m->dropped,
             PG_DROP_COUNT);
    scalar(out, "pushgate_bytes_out_total", "counter", "Bytes written to clients (all listeners).",
           m->bytes_out);
    render_histogram(out, "pushgate_delivery_latency_seconds",
                     "Publish-to-delivery time: from the message's creation to the write of its "
                     "last byte to the client's socket.", &m->latency);
    render_refusals(out, s);
    render_store(out, m);
}
