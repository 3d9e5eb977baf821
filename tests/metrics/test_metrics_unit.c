/* test_metrics_unit.c — metrics.c alone: latency bucket boundaries (le is
 * inclusive), the cached clock and its clamp, counters by label, store
 * state changes, and the exposition text (HELP/TYPE before samples, label
 * escapes, cumulative buckets ending in +Inf == _count, exact _sum). */
#include "metrics.h"
#include "buf.h"
#include "../unit/tap.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_buckets(void)
{
    is_int(pg_latency_bucket(0), 0, "0 ns: first bucket");
    is_int(pg_latency_bucket(1000000), 0, "exactly 1 ms: le=0.001 (inclusive)");
    is_int(pg_latency_bucket(1000001), 1, "1 ms + 1 ns: le=0.0025");
    is_int(pg_latency_bucket(2500000), 1, "2.5 ms: le=0.0025");
    is_int(pg_latency_bucket(999999999), 9, "just under 1 s: le=1");
    is_int(pg_latency_bucket(10000000000ull), 12, "10 s: le=10");
    is_int(pg_latency_bucket(10000000001ull), PG_LATENCY_BUCKETS, "over 10 s: +Inf");
    is_int(pg_latency_bucket(UINT64_MAX), PG_LATENCY_BUCKETS, "UINT64_MAX: +Inf");
}

static void test_observe(void)
{
    pg_metrics_init();
    uint64_t now = pg_metrics.clock_ns;
    ok(now > 1500000000ull * 1000000000ull, "init reads the wall clock");
    pg_metrics_written(now - 3000000);          /* 3 ms */
    pg_metrics_written(now + 5000000);          /* created "in the future": clamps to 0 */
    const struct pg_histogram *h = &pg_metrics.latency;
    is_int(h->count, 2, "two observations");
    is_int(h->bucket[2], 1, "3 ms lands in le=0.005");
    is_int(h->bucket[0], 1, "a negative latency counts as 0");
    ok(h->sum_ns >= 3000000 && h->sum_ns < 3000000 + 1000000000ull, "sum holds the 3 ms");
    /* the clock is re-read every PG_METRICS_CLOCK_REUSE observations */
    pg_metrics.clock_ns = 1;                     /* stale on purpose */
    pg_metrics.clock_uses = 0;
    for (int i = 0; i < PG_METRICS_CLOCK_REUSE - 1; i++)
        pg_metrics_written(0);
    is_int(pg_metrics.clock_ns, 1, "the cached clock is reused within a batch");
    pg_metrics_written(0);
    ok(pg_metrics.clock_ns > 1, "and re-read after %d observations", PG_METRICS_CLOCK_REUSE);
    is_int(pg_metrics.clock_uses, 0, "the reuse count restarts");
}

static void test_counters(void)
{
    pg_metrics_init();
    pg_metrics_subscribed("websocket");
    pg_metrics_subscribed("sse");
    pg_metrics_subscribed("sse");
    pg_metrics_subscribed("carrier-pigeon");
    is_int(pg_metrics.subscribes[PG_MT_WEBSOCKET], 1, "subscribed: websocket");
    is_int(pg_metrics.subscribes[PG_MT_SSE], 2, "subscribed: sse");
    is_int(pg_metrics.subscribes[PG_MT_LONGPOLL], 0, "an unknown transport is ignored");
    pg_metrics_published(0, 3);
    pg_metrics_published(2, 1);
    pg_metrics_published(7, 100);
    is_int(pg_metrics.published[0] + pg_metrics.published[2], 4, "published by origin");
    is_int(pg_metrics.published[1], 0, "an unknown origin is ignored");
    pg_metrics_publish_refused(400);
    pg_metrics_publish_refused(413);
    pg_metrics_publish_refused(418);
    is_int(pg_metrics.publish_refused[PG_PUBREFUSE_400], 1, "refused 400");
    is_int(pg_metrics.publish_refused[PG_PUBREFUSE_413], 1, "refused 413");
    is_int(pg_metrics.publish_refused[PG_PUBREFUSE_OTHER], 1, "refused other");
    is_int(pg_metrics.store_state_changes, 0, "memory store: no change yet");
    pg_metrics_set_store("redis", PG_STORE_STATE_CONNECTING);
    pg_metrics_set_store("redis", PG_STORE_STATE_CONNECTING);
    pg_metrics_set_store("redis", PG_STORE_STATE_UP);
    pg_metrics_set_store("redis", PG_STORE_STATE_COUNT);      /* invalid: ignored */
    is_int(pg_metrics.store_state_changes, 2, "two real state changes counted");
    ok(strcmp(pg_metrics.store_backend, "redis") == 0 && pg_metrics.store_state == PG_STORE_STATE_UP,
       "store is redis, up");
    ok(strcmp(pg_mt_name(PG_MT_COUNT), "?") == 0 && strcmp(pg_drop_name(PG_DROP_COUNT), "?") == 0 &&
       strcmp(pg_origin_name(-1), "?") == 0 && strcmp(pg_store_state_name(PG_STORE_STATE_COUNT), "?") == 0,
       "out-of-range names are \"?\"");
}

/* Every sample line's metric family was declared by a TYPE line before it. */
static bool typed_before_use(const char *text)
{
    char types[64][96];
    int nt = 0;
    for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
        char name[96];
        if (sscanf(l, "# TYPE %95s", name) == 1 && nt < 64) {
            snprintf(types[nt++], sizeof types[0], "%s", name);
            continue;
        }
        if (*l == '#')
            continue;
        size_t n = strcspn(l, "{ ");
        bool found = false;
        for (int i = 0; i < nt && !found; i++) {
            size_t tl = strlen(types[i]);
            found = n >= tl && strncmp(l, types[i], tl) == 0 &&
                    (n == tl || strncmp(l + tl, "_bucket", n - tl) == 0 ||
                     strncmp(l + tl, "_sum", n - tl) == 0 || strncmp(l + tl, "_count", n - tl) == 0);
        }
        if (!found) {
            printf("# untyped: %.*s\n", (int)strcspn(l, "\n"), l);
            return false;
        }
    }
    return true;
}

static void test_render(void)
{
    pg_metrics_init();
    pg_metrics.clock_ns = 100ull * 1000000000u;
    pg_metrics_written(pg_metrics.clock_ns - 1500000);          /* 1.5 ms */
    pg_metrics_written(pg_metrics.clock_ns - 20000000000ull);   /* 20 s: +Inf */
    pg_metrics.deliveries[PG_MT_SSE] = 7;
    struct pg_metrics_snapshot s = {.version = "1.2.3", .now_mono_ms = pg_metrics.started_mono_ms + 5000,
                                    .channels = 4};
    s.conns[0].listener = "public";
    s.conns[0].transport = "we\"ird\\name\nx";
    s.conns[0].n = 2;
    s.n_conns = 1;
    s.refusals[0].reason = "bad_request";
    s.refusals[0].n = 9;
    s.n_refusals = 1;
    struct pg_buf b = {0};
    pg_metrics_render(&b, &pg_metrics, &s);
    const char *t = b.p;
    ok(t && b.len > 1000 && t[b.len - 1] == '\n', "renders text ending in a newline");
    ok(typed_before_use(t), "every sample follows its family's TYPE line");
    ok(strstr(t, "# HELP pushgate_deliveries_total ") && strstr(t, "# TYPE pushgate_deliveries_total counter\n"),
       "HELP and TYPE lines");
    ok(strstr(t, "pushgate_deliveries_total{transport=\"sse\"} 7\n") != NULL, "a labelled counter");
    ok(strstr(t, "transport=\"we\\\"ird\\\\name\\nx\"} 2\n") != NULL, "label value escapes \\\" \\\\ \\n");
    ok(strstr(t, "pushgate_refusals_total{reason=\"bad_request\"} 9\n") != NULL, "refusals from the snapshot");
    ok(strstr(t, "pushgate_build_info{version=\"1.2.3\"} 1\n") != NULL, "build info");
    ok(strstr(t, "pushgate_uptime_seconds 5\n") != NULL, "uptime from the snapshot's clock");
    ok(strstr(t, "pushgate_delivery_latency_seconds_bucket{le=\"0.001\"} 0\n") &&
       strstr(t, "pushgate_delivery_latency_seconds_bucket{le=\"0.0025\"} 1\n") &&
       strstr(t, "pushgate_delivery_latency_seconds_bucket{le=\"10\"} 1\n") &&
       strstr(t, "pushgate_delivery_latency_seconds_bucket{le=\"+Inf\"} 2\n") &&
       strstr(t, "pushgate_delivery_latency_seconds_count 2\n"),
       "cumulative buckets, +Inf == count");
    ok(strstr(t, "pushgate_delivery_latency_seconds_sum 20.001500000\n") != NULL, "exact sum in seconds");
    ok(strstr(t, "pushgate_store_state{state=\"up\"} 1\n") && strstr(t, "pushgate_store_state{state=\"down\"} 0\n"),
       "store state one-hot");
    ok(strstr(t, "process_resident_memory_bytes") == NULL, "an unknown RSS is not rendered");
    pg_buf_free(&b);
}

int main(void)
{
    test_buckets();
    test_observe();
    test_counters();
    test_render();
    return done_testing();
}
