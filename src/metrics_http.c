/* metrics_http.c — GET /metrics, /status and /dashboard on the publish
 * listener (see metrics_http.h). Gathers the gauges the counters in
 * metrics.c do not hold (hub, connection list, refusal counters, memory)
 * at request time, then renders.
 *
 * Invariants: nothing here runs on the delivery path; a scrape walks the
 * connection list once (O(connections), fine at a scrape every few
 * seconds). /status never shows a secret: only whether one is set.
 *
 * Deliberate departure: the dashboard page is read from the package's
 * www directory on each request (a few kB), not compiled in, so the page
 * can be edited without a rebuild; the public listener never serves it
 * (router.c refuses /dashboard.html there). */
#include "metrics_http.h"
#include "pg_autoconf.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "conn_limits.h"
#include "hub.h"
#include "message.h"
#include "metrics.h"
#include "server.h"
#include "util.h"
#include "workers.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define DASHBOARD_MAX (256u << 10)
#define NO_STORE "Cache-Control: no-store\r\n"

static char *dashboard_dir;

void pg_metrics_set_dashboard_dir(const char *dir)
{
    free(dashboard_dir);
    dashboard_dir = dir && *dir ? pg_xstrdup(dir) : NULL;
}

/* ---- the snapshot ---- */

/* The (listener, transport) row of s, created at 0 when missing (NULL
 * when the table is full). */
static uint64_t *conn_row(struct pg_metrics_snapshot *s, const char *listener, const char *transport)
{
    for (size_t i = 0; i < s->n_conns; i++)
        if (strcmp(s->conns[i].listener, listener) == 0 && strcmp(s->conns[i].transport, transport) == 0)
            return &s->conns[i].n;
    if (s->n_conns == PG_METRICS_CONN_KINDS)
        return NULL;
    s->conns[s->n_conns].listener = listener;
    s->conns[s->n_conns].transport = transport;
    s->conns[s->n_conns].n = 0;
    return &s->conns[s->n_conns++].n;
}

static void count_conn(struct pg_conn *c, void *arg)
{
    const char *listener = c->publish_listener ? "publish" : "public";
    uint64_t *n = conn_row(arg, listener, c->h && c->h->name ? c->h->name : "unknown");
    if (n)
        (*n)++;
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long size = 0, rss = 0;
    if (!f)
        return 0;
    int n = fscanf(f, "%llu %llu", &size, &rss);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? rss * (uint64_t)page : 0;
}

static void snapshot(struct pg_metrics_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->version = PACKAGE_VERSION;
    s->now_wall_ms = pg_wall_ms();
    s->now_mono_ms = pg_now_ms();
    struct pg_hub_stats hs;
    pg_hub_stats(&hs);
    s->channels = hs.channels;
    s->tombstones = hs.tombstones;
    s->subscriptions = hs.subscriptions;
    s->retained = hs.retained;
    s->retained_bytes = hs.retained_bytes;
    s->messages_alive = __atomic_load_n(&pg_messages_alive, __ATOMIC_RELAXED);
    s->rss_bytes = rss_bytes();
    /* every transport has a line, even at 0, so a dashboard sees it */
    static const char *const kinds[] = {"http", "websocket", "sse", "longpoll"};
    for (size_t i = 0; i < PG_ARRAY_LEN(kinds); i++)
        conn_row(s, "public", kinds[i]);
    conn_row(s, "publish", "http");
    pg_conn_foreach_all(count_conn, s);
    for (int i = 0; i < PG_REFUSE_COUNT && i < PG_METRICS_REFUSALS; i++) {
        s->refusals[i].reason = pg_refusal_name((enum pg_refusal)i);
        s->refusals[i].n = pg_refusal_total((enum pg_refusal)i);
        s->n_refusals++;
    }
}

/* ---- /metrics ---- */

/* Connections owned by each worker thread (workers.h). */
static void render_workers(struct pg_buf *b)
{
    pg_prom_family(b, "pushgate_worker_connections", "gauge",
                   "Open connections by the worker thread that owns them.");
    for (unsigned i = 0; i < pg_n_workers; i++) {
        char l[32];
        snprintf(l, sizeof l, "worker=\"%u\"", i);
        pg_prom_sample(b, "pushgate_worker_connections", l, pg_conn_count_worker(i));
    }
}

static void serve_metrics(struct pg_request *r)
{
    struct pg_metrics_snapshot s;
    snapshot(&s);
    struct pg_buf b = {0};
    pg_buf_reserve(&b, 8192);
    struct pg_metrics m;
    pg_metrics_sum(&m);
    pg_metrics_render(&b, &m, &s);
    render_workers(&b);
    pg_req_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", NO_STORE, b.p, b.len);
    pg_buf_free(&b);
}

/* ---- /status ---- */

static void json_key(struct pg_buf *b, const char *key, bool *first)
{
    pg_buf_adds(b, *first ? "" : ",");
    *first = false;
    pg_buf_json_str(b, key, strlen(key));
    pg_buf_add(b, ":", 1);
}

static void json_str(struct pg_buf *b, const char *key, const char *v, bool *first)
{
    json_key(b, key, first);
    pg_buf_json_str(b, v, strlen(v));
}

static void json_u64(struct pg_buf *b, const char *key, uint64_t v, bool *first)
{
    json_key(b, key, first);
    pg_buf_addf(b, "%" PRIu64, v);
}

static void json_bool(struct pg_buf *b, const char *key, bool v, bool *first)
{
    json_key(b, key, first);
    pg_buf_adds(b, v ? "true" : "false");
}

static void json_list(struct pg_buf *b, const char *key, const struct pg_strlist *l, bool *first)
{
    json_key(b, key, first);
    pg_buf_add(b, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            pg_buf_add(b, ",", 1);
        pg_buf_json_str(b, l->v[i], strlen(l->v[i]));
    }
    pg_buf_add(b, "]", 1);
}

/* {"name": v[i], ...} over a fixed table. */
static void json_table(struct pg_buf *b, const char *key, const char *(*name)(int), const uint64_t *v,
                       int n, bool *first)
{
    bool f = true;
    json_key(b, key, first);
    pg_buf_add(b, "{", 1);
    for (int i = 0; i < n; i++)
        json_u64(b, name(i), v[i], &f);
    pg_buf_add(b, "}", 1);
}

static const char *mt_name(int i) { return pg_mt_name((enum pg_mt)i); }
static const char *drop_name(int i) { return pg_drop_name((enum pg_drop)i); }

static void status_config(struct pg_buf *b, const struct pg_config *c)
{
    bool f = true;
    pg_buf_adds(b, ",\"config\":{");
    json_list(b, "listen", &c->listen, &f);
    json_list(b, "publish_listen", &c->publish_listen, &f);
    json_str(b, "store", c->store, &f);
    json_u64(b, "history_size", c->history_size, &f);
    json_u64(b, "history_ttl_ms", c->history_ttl_ms, &f);
    json_u64(b, "history_memory_max", c->history_memory_max, &f);
    json_u64(b, "max_message_size", c->max_message_size, &f);
    json_u64(b, "max_channels", c->max_channels, &f);
    json_u64(b, "max_connections", c->max_connections, &f);
    json_u64(b, "max_connections_per_ip", c->max_connections_per_ip, &f);
    json_u64(b, "subscriber_buffer_max", c->subscriber_buffer_max, &f);
    json_u64(b, "workers", c->workers, &f);
    json_u64(b, "ping_interval_ms", c->ping_interval_ms, &f);
    json_u64(b, "idle_timeout_ms", c->idle_timeout_ms, &f);
    json_u64(b, "longpoll_hold_ms", c->longpoll_hold_ms, &f);
    json_bool(b, "websocket_deflate", c->websocket_deflate, &f);
    json_list(b, "client_publish", &c->client_publish, &f);
    json_bool(b, "publish_secret_set", *c->publish_secret != '\0', &f);
    json_bool(b, "token_auth", *c->token_secret != '\0', &f);
    json_bool(b, "session_auth", c->auth_url.n + c->auth_fastcgi.n > 0, &f);
    json_bool(b, "tls", *c->tls_cert != '\0', &f);
    json_bool(b, "access_log", *c->access_log != '\0', &f);
    json_bool(b, "journal", *c->history_journal != '\0', &f);
    json_bool(b, "spool", *c->spool_dir != '\0', &f);
    pg_buf_add(b, "}", 1);
}

static void status_counts(struct pg_buf *b, const struct pg_metrics_snapshot *s,
                          const struct pg_metrics *m)
{
    bool f = true;
    pg_buf_adds(b, ",\"counts\":{");
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_conns; i++)
        total += s->conns[i].n;
    json_u64(b, "connections", total, &f);
    json_key(b, "connections_by_transport", &f);
    bool g = true;
    pg_buf_add(b, "{", 1);
    for (size_t i = 0; i < s->n_conns; i++) {
        char k[64];
        snprintf(k, sizeof k, "%s/%s", s->conns[i].listener, s->conns[i].transport);
        json_u64(b, k, s->conns[i].n, &g);
    }
    pg_buf_add(b, "}", 1);
    json_u64(b, "channels", s->channels, &f);
    json_u64(b, "subscriptions", s->subscriptions, &f);
    json_u64(b, "history_messages", s->retained, &f);
    json_u64(b, "history_bytes", s->retained_bytes, &f);
    json_table(b, "published", pg_origin_name, m->published, PG_METRICS_ORIGINS, &f);
    json_table(b, "subscribes", mt_name, m->subscribes, PG_MT_COUNT, &f);
    json_table(b, "deliveries", mt_name, m->deliveries, PG_MT_COUNT, &f);
    json_table(b, "dropped", drop_name, m->dropped, PG_DROP_COUNT, &f);
    json_key(b, "refused", &f);
    g = true;
    pg_buf_add(b, "{", 1);
    for (size_t i = 0; i < s->n_refusals; i++)
        json_u64(b, s->refusals[i].reason, s->refusals[i].n, &g);
    pg_buf_add(b, "}", 1);
    json_u64(b, "bytes_out", m->bytes_out, &f);
    pg_buf_add(b, "}", 1);
}

static void iso_time(char *out, size_t cap, uint64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void serve_status(struct pg_request *r)
{
    struct pg_metrics_snapshot s;
    snapshot(&s);
    struct pg_metrics sum;
    pg_metrics_sum(&sum);
    const struct pg_metrics *m = &sum;
    struct pg_buf b = {0};
    bool f = true;
    char when[32], cursor[64];
    iso_time(when, sizeof when, m->started_wall_ms);
    pg_hub_cursor(cursor, sizeof cursor);
    pg_buf_add(&b, "{", 1);
    json_str(&b, "name", "pushgated", &f);
    json_str(&b, "version", PACKAGE_VERSION, &f);
    json_u64(&b, "pid", (uint64_t)getpid(), &f);
    json_str(&b, "started", when, &f);
    json_u64(&b, "uptime_seconds", (s.now_mono_ms - m->started_mono_ms) / 1000, &f);
    json_bool(&b, "stopping", pg_srv.stopping, &f);
    json_str(&b, "epoch", pg_hub_epoch(), &f);
    json_str(&b, "cursor", cursor, &f);
    pg_buf_adds(&b, ",\"store\":{");
    bool g = true;
    json_str(&b, "backend", m->store_backend, &g);
    json_str(&b, "state", pg_store_state_name(m->store_state), &g);
    pg_buf_add(&b, "}", 1);
    status_config(&b, pg_srv.cfg);
    status_counts(&b, &s, m);
    pg_buf_adds(&b, "}\n");
    pg_req_respond(r, 200, "application/json", NO_STORE, b.p, b.len);
    pg_buf_free(&b);
}

/* ---- /dashboard ---- */

static char *read_small_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return NULL;
    }
    char *p = pg_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return p;
}

static void serve_dashboard(struct pg_request *r)
{
    size_t len = 0;
    char *path = dashboard_dir ? pg_xasprintf("%s/dashboard.html", dashboard_dir) : NULL;
    char *page = path ? read_small_file(path, DASHBOARD_MAX, &len) : NULL;
    free(path);
    if (!page) {
        pg_req_error(r, 404, "the dashboard page (dashboard.html) is not installed");
        return;
    }
    pg_req_respond(r, 200, "text/html; charset=utf-8",
                   NO_STORE "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                   "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                   "style-src 'unsafe-inline'; connect-src 'self'\r\n",
                   page, len);
    free(page);
}

bool pg_metrics_route(struct pg_request *r)
{
    void (*serve)(struct pg_request *) = NULL;
    if (strcmp(r->path, "/metrics") == 0)
        serve = serve_metrics;
    else if (strcmp(r->path, "/status") == 0)
        serve = serve_status;
    else if (strcmp(r->path, "/dashboard") == 0)
        serve = serve_dashboard;
    else
        return false;
    const char *m = r->head->method;
    size_t ml = r->head->method_len;
    if (!pg_view_eq(m, ml, "GET") && !pg_view_eq(m, ml, "HEAD"))
        pg_req_respond(r, 405, "application/json", "Allow: GET, HEAD\r\n",
                       "{\"error\":\"use GET\"}\n", 19);
    else
        serve(r);
    return true;
}
