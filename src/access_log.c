/* access_log.c — the access log: Combined Log Format request lines plus a
 * duration, and key=value close lines (formats and when each is written:
 * access_log.h).
 *
 * The status and body size of an answer are read back from what the
 * dispatch queued on the connection (the head chunk starts "HTTP/1.x NNN"),
 * so no reply path needs to know about logging. Writes are deferred to
 * the flush pass (conn.c), so during one dispatch the queue only grows.
 *
 * Deliberate departure: per-connection figures live in a side table
 * indexed by fd (see access_log.h). */
#include "access_log.h"
#include "auth_policy.h"
#include "buf.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define FLUSH_MS 1000
#define REASON_MAX 40
#define FILE_BUFFER 65536

/* One per fd while the access log has ever been on (88 bytes; the bytes
 * written are counted on the connection itself, by its flush pass). */
struct entry {
    uint64_t id;                /* the connection's id; 0 = unused slot */
    const char *transport;      /* static, or NULL */
    char *pending;              /* request line waiting for its answer: prefix, NUL, suffix */
    uint64_t pending_start_ns, pending_wall_ms;
    uint32_t pending_split;     /* offset of the suffix */
    char reason[REASON_MAX];    /* "" until the first reason (truncated copy) */
};

static struct {
    FILE *f;
    char *path;
    char *buf;                  /* the FILE's buffer (setvbuf) */
    struct event *flush_ev;
    struct entry *tab;          /* indexed by fd; NULL until a log was first opened */
    size_t tab_len;
} al;

bool pg_access_log_enabled(void)
{
    return al.f != NULL;
}

/* ---- file ---- */

PG_LOCKED_EVCB(on_flush)

static void on_flush_locked(evutil_socket_t fd, short what, void *arg)
{
    if (al.f)
        fflush(al.f);
}

static void start_flush_timer(void)
{
    if (al.flush_ev || !pg_srv.base)
        return;
    al.flush_ev = event_new(pg_srv.base, -1, EV_PERSIST, on_flush, NULL);
    struct timeval tv = {FLUSH_MS / 1000, (FLUSH_MS % 1000) * 1000};
    event_add(al.flush_ev, &tv);
}

static void close_file(void)
{
    if (al.f)
        fclose(al.f);
    al.f = NULL;
    free(al.buf);
    al.buf = NULL;
    free(al.path);
    al.path = NULL;
}

int pg_access_log_open(const char *path)
{
    if (!path || !*path || strcmp(path, "off") == 0) {
        if (al.f)
            pg_log_info("access log closed");
        close_file();
        return 0;
    }
    FILE *f = fopen(path, "ae");
    if (!f)
        return -1;
    char *buf = pg_xmalloc(FILE_BUFFER);
    setvbuf(f, buf, _IOFBF, FILE_BUFFER);
    close_file();
    al.f = f;
    al.buf = buf;
    al.path = pg_xstrdup(path);
    if (!al.tab) {
        al.tab_len = 1024;
        al.tab = pg_xcalloc(al.tab_len, sizeof *al.tab);
    }
    start_flush_timer();
    pg_log_info("access log: %s", path);
    return 0;
}

void pg_access_log_close(void)
{
    close_file();
    if (al.flush_ev)
        event_free(al.flush_ev);
    al.flush_ev = NULL;
    for (size_t i = 0; i < al.tab_len; i++)
        free(al.tab[i].pending);
    free(al.tab);
    al.tab = NULL;
    al.tab_len = 0;
}

static void emit(const struct pg_buf *line)
{
    if (al.f && line->len)
        fwrite(line->p, 1, line->len, al.f);
}

/* ---- formatting ---- */

/* Text for a quoted CLF field: '"' and '\' escaped, bytes outside
 * printable ASCII as \xHH. */
static void add_escaped(struct pg_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            pg_buf_addf(b, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            pg_buf_addf(b, "\\x%02X", ch);
        else
            pg_buf_add(b, s + i, 1);
    }
}

/* A target or URL, escaped, with every token=VALUE made token=[redacted]
 * (pg_auth_redact: the one redaction rule for every log line). */
static void add_target(struct pg_buf *b, const char *t, size_t n)
{
    size_t cap = n * 3 + 16;         /* "[redacted]" may be longer than a value */
    char *tmp = pg_xmalloc(cap);
    size_t len = pg_auth_redact(t, n, tmp, cap);
    add_escaped(b, tmp, PG_MIN(len, cap - 1));
    free(tmp);
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void add_clf_time(struct pg_buf *b, uint64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    pg_buf_addf(b, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday, months[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void add_iso_time(struct pg_buf *b, uint64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    pg_buf_addf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

static void add_header_field(struct pg_buf *b, const struct pg_request *r, const char *name)
{
    const struct pg_http_header *h = pg_http_header_find(r->head, name);
    pg_buf_add(b, " \"", 2);
    if (h && h->value_len)
        add_target(b, h->value, h->value_len);
    else
        pg_buf_add(b, "-", 1);
    pg_buf_add(b, "\"", 1);
}

/* prefix: HOST - - [TIME] "REQUEST"; suffix: "REFERER" "UA". */
static size_t format_request(struct pg_buf *b, const struct pg_request *r, uint64_t wall_ms)
{
    char peer[64];
    pg_buf_adds(b, pg_conn_peer(r->c, peer, sizeof peer) ? peer : "-");
    pg_buf_adds(b, " - - ");
    add_clf_time(b, wall_ms);
    pg_buf_add(b, " \"", 2);
    add_escaped(b, r->head->method, r->head->method_len);
    pg_buf_add(b, " ", 1);
    add_target(b, r->head->target, r->head->target_len);
    pg_buf_addf(b, " HTTP/1.%d\"", r->head->minor_version);
    size_t split = b->len;
    add_header_field(b, r, "Referer");
    add_header_field(b, r, "User-Agent");
    return split;
}

static void write_request(const char *prefix, size_t plen, const char *suffix, int status,
                          size_t bytes, uint64_t dur_ns)
{
    struct pg_buf b = {0};
    pg_buf_add(&b, prefix, plen);
    if (bytes)
        pg_buf_addf(&b, " %03d %zu", status, bytes);
    else
        pg_buf_addf(&b, " %03d -", status);
    pg_buf_adds(&b, suffix);
    uint64_t us = dur_ns / 1000;
    pg_buf_addf(&b, " %llu.%06llu\n", (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
    emit(&b);
    pg_buf_free(&b);
}

/* ---- the side table ---- */

static struct entry *entry_of(const struct pg_conn *c)
{
    if (!al.tab || c->fd < 0 || (size_t)c->fd >= al.tab_len)
        return NULL;
    struct entry *e = &al.tab[c->fd];
    return e->id == c->id ? e : NULL;
}

static void pending_drop(struct entry *e)
{
    free(e->pending);
    e->pending = NULL;
}

/* ---- request lines ---- */

/* Status and body bytes of what was queued on c since m. */
static void answer_of(const struct pg_conn *c, const struct pg_access_mark *m, int *status, size_t *bytes)
{
    *status = 0;
    *bytes = 0;
    if (c->q_len <= m->q_len)
        return;
    const struct pg_chunk *k = &c->q[(c->q_head + m->q_len) % c->q_cap];
    const char *d = k->data;
    if (k->len >= 12 && memcmp(d, "HTTP/1.", 7) == 0 && d[8] == ' ' &&
        d[9] >= '1' && d[9] <= '5' && d[10] >= '0' && d[10] <= '9' && d[11] >= '0' && d[11] <= '9')
        *status = (d[9] - '0') * 100 + (d[10] - '0') * 10 + (d[11] - '0');
    size_t head = k->len;
    for (size_t i = 0; i + 3 < k->len; i++)
        if (d[i] == '\r' && d[i + 1] == '\n' && d[i + 2] == '\r' && d[i + 3] == '\n') {
            head = i + 4;
            break;
        }
    size_t total = c->q_bytes > m->q_bytes ? c->q_bytes - m->q_bytes : 0;
    *bytes = total > head ? total - head : 0;
}

void pg_access_begin(const struct pg_request *r, struct pg_access_mark *m)
{
    m->on = al.f != NULL;
    if (!m->on)
        return;
    const struct pg_conn *c = r->c;
    m->q_len = c->q_len;
    m->q_bytes = c->q_bytes;
    m->start_ns = pg_now_ns();
    m->start_wall_ms = pg_wall_ms();
    struct entry *e = entry_of(c);
    if (e && e->pending) {
        /* a replay after a session check: time it from its first dispatch */
        m->start_ns = e->pending_start_ns;
        m->start_wall_ms = e->pending_wall_ms;
        pending_drop(e);
    }
}

void pg_access_end(const struct pg_request *r, const struct pg_access_mark *m)
{
    if (!m->on || !al.f)
        return;
    const struct pg_conn *c = r->c;
    struct pg_buf b = {0};
    size_t split = format_request(&b, r, m->start_wall_ms);
    int status;
    size_t bytes;
    answer_of(c, m, &status, &bytes);
    struct entry *e = entry_of(c);
    if (!status && e && !(c->flags & PG_CONN_CLOSING)) {
        /* answered later (held long-poll, session check): keep the line
         * as prefix, NUL, suffix */
        pending_drop(e);
        e->pending = pg_xmalloc(b.len + 2);
        memcpy(e->pending, b.p, split);
        e->pending[split] = '\0';
        memcpy(e->pending + split + 1, b.p + split, b.len - split + 1);
        e->pending_split = (uint32_t)split + 1;
        e->pending_start_ns = m->start_ns;
        e->pending_wall_ms = m->start_wall_ms;
        pg_buf_free(&b);
        return;
    }
    if (e && status && c->h && strcmp(c->h->name, "http") != 0)
        e->transport = c->h->name;
    write_request(b.p, split, b.p + split, status ? status : 499, bytes, pg_now_ns() - m->start_ns);
    pg_buf_free(&b);
}

void pg_access_resume_begin(const struct pg_conn *c, struct pg_access_mark *m)
{
    struct entry *e = entry_of(c);
    m->on = e && e->pending;
    if (!m->on)
        return;
    m->q_len = c->q_len;
    m->q_bytes = c->q_bytes;
}

void pg_access_resume_end(const struct pg_conn *c, const struct pg_access_mark *m)
{
    struct entry *e = entry_of(c);
    if (!m->on || !e || !e->pending)
        return;
    int status;
    size_t bytes;
    answer_of(c, m, &status, &bytes);
    write_request(e->pending, strlen(e->pending), e->pending + e->pending_split,
                  status ? status : 499, bytes, pg_now_ns() - e->pending_start_ns);
    pending_drop(e);
}

/* ---- connection figures ---- */

void pg_access_conn_open(const struct pg_conn *c)
{
    if (!al.tab || c->fd < 0)
        return;
    size_t fd = (size_t)c->fd;
    if (fd >= al.tab_len) {
        size_t len = PG_MAX(al.tab_len * 2, fd + 1);
        al.tab = pg_xrealloc(al.tab, len * sizeof *al.tab);
        memset(al.tab + al.tab_len, 0, (len - al.tab_len) * sizeof *al.tab);
        al.tab_len = len;
    }
    struct entry *e = &al.tab[fd];
    pending_drop(e);
    memset(e, 0, sizeof *e);
    e->id = c->id;
}

void pg_access_conn_reason(const struct pg_conn *c, const char *why)
{
    struct entry *e = entry_of(c);
    if (e && !e->reason[0])
        snprintf(e->reason, sizeof e->reason, "%s", why && *why ? why : "unknown");
}

void pg_access_conn_transport(const struct pg_conn *c, const char *name)
{
    struct entry *e = entry_of(c);
    if (e)
        e->transport = name;
}

/* key=value, quoted when the value needs it. */
static void add_kv(struct pg_buf *b, const char *key, const char *v)
{
    bool quote = !*v;
    for (const char *p = v; *p && !quote; p++)
        quote = *p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20;
    pg_buf_addf(b, " %s=", key);
    if (!quote) {
        pg_buf_adds(b, v);
        return;
    }
    pg_buf_add(b, "\"", 1);
    add_escaped(b, v, strlen(v));
    pg_buf_add(b, "\"", 1);
}

static const char *close_reason(const struct pg_conn *c, const struct entry *e)
{
    if (e->reason[0])
        return e->reason;
    if (c->flags & PG_CONN_LINGER)
        return "server closed";
    if (c->deadline_ms && pg_now_ms() >= c->deadline_ms)
        return "timeout";
    return "closed";
}

static void write_close(const struct pg_conn *c, const struct entry *e)
{
    struct pg_buf b = {0};
    char peer[64];
    uint64_t dur = pg_now_ms() - c->created_ms;
    pg_buf_adds(&b, "ts=");
    add_iso_time(&b, pg_wall_ms());
    pg_buf_addf(&b, " event=close conn=%llu", (unsigned long long)c->id);
    add_kv(&b, "listener", (c->flags & PG_CONN_PUBLISH) ? "publish" : "public");
    add_kv(&b, "peer", pg_conn_peer(c, peer, sizeof peer) ? peer : "-");
    add_kv(&b, "transport", e->transport ? e->transport : c->h ? c->h->name : "-");
    pg_buf_addf(&b, " duration=%llu.%03llu bytes_out=%llu", (unsigned long long)(dur / 1000),
                (unsigned long long)(dur % 1000), (unsigned long long)c->bytes_out);
    add_kv(&b, "reason", close_reason(c, e));
    pg_buf_add(&b, "\n", 1);
    emit(&b);
    pg_buf_free(&b);
}

void pg_access_conn_close(const struct pg_conn *c)
{
    struct entry *e = entry_of(c);
    if (!e)
        return;
    if (e->pending && al.f)
        write_request(e->pending, strlen(e->pending), e->pending + e->pending_split, 499, 0,
                      pg_now_ns() - e->pending_start_ns);
    if (al.f)
        write_close(c, e);
    pending_drop(e);
    memset(e, 0, sizeof *e);
}
