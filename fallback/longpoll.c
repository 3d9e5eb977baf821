/* longpoll.c — the long-poll subscriber: holds a subscribe request until
 * something arrives for its channels or longpoll_hold passes, and answers
 * exactly once; then the connection goes back to reading requests.
 *
 * One poll: subscribe through the hub with the client's cursor (?last_id=),
 * which replays synchronously what the client missed (gap notice first).
 * Anything replayed is answered at once; otherwise the request is held.
 * deliver/gap/deleted only collect (the hub may be walking a channel list)
 * and wake the poll's event; the answer is written from that event, after
 * the current loop iteration's publishes, so it holds everything that
 * arrived meanwhile. The answer is a JSON array of elements: messages
 * (the registered "longpoll-json" format, the shared JSON envelope built
 * once per message in the hub and queued by reference) and notices
 * {"type":"gap","channels":[...],"id":...} / {"type":"deleted","channel":...}.
 * X-Last-Id is the id of the last message element or, when there is none,
 * the hub's current cursor; X-Gap: 1 when a gap element is present. A held
 * poll that times out gets 204. With ?callback= the answer is JSONP,
 * cb({"messages":[...],"last_id":"...","gap":bool}); after an empty
 * comment (against content sniffing), with status 200 always (a script
 * sees neither headers nor a 204).
 *
 * Invariants: a poll is answered exactly once and unsubscribed before its
 * answer is queued; it is subscribed only while held; its state is freed
 * by the answer or by the connection's on_free (client gone), never both.
 * No message is lost or repeated between polls: the cursor of one answer
 * covers exactly the elements in it (when an answer is cut at
 * subscriber_buffer_max, X-Last-Id is the last message it holds and the
 * next poll replays the rest from history).
 *
 * Deliberate departures: HEAD is answered at once (204 with X-Last-Id, no
 * hold). JSONP bodies are built as one copy instead of queued references,
 * because U+2028 and U+2029 must be escaped for pre-ES2019 browsers. */
#include "notice.h"
#include "fallback.h"
#include "fallback_query.h"
#include "access_log.h"
#include "buf.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "server.h"
#include "util.h"
#include "workers.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

/* One element of the answer: a message reference or an owned notice. */
struct lp_item {
    struct pg_message *m;
    char *notice;
    uint32_t len;
};

struct pg_lp {
    struct pg_subscriber sub;   /* first: the hub hands us &sub */
    struct pg_conn *c;
    struct event ev;            /* hold timer; activated to answer now */
    struct lp_item *items;
    size_t n, cap;
    size_t bytes;               /* element bytes collected */
    char *callback;             /* JSONP name, or NULL */
    char *extra;                /* CORS header lines, or NULL */
    bool held;                  /* on the connection, waiting; the event may fire */
    bool full;                  /* answer cut at subscriber_buffer_max: later messages wait for the next poll */
    bool gap;
    bool keep_alive;
    uint64_t expires_ms;        /* token end (pg_now_ms), 0 = none: hold no longer */
};

static int fmt_lp = -1;

static void encode_lp(const struct pg_message *m, struct pg_buf *out)
{
    pg_message_json_envelope(m, out);
}

void pg_longpoll_init(void)
{
    fmt_lp = pg_format_register("longpoll-json", encode_lp);
}

int pg_longpoll_format(void)
{
    return fmt_lp;
}

/* ---- collecting ---- */

static struct pg_lp *lp_of(struct pg_subscriber *s)
{
    return (struct pg_lp *)s;
}

static void wake(struct pg_lp *p)
{
    if (p->held)
        event_active(&p->ev, EV_TIMEOUT, 0);
}

static void push(struct pg_lp *p, struct pg_message *m, char *notice, size_t len)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->items = pg_xrealloc(p->items, p->cap * sizeof *p->items);
    }
    p->items[p->n++] = (struct lp_item){.m = m, .notice = notice, .len = (uint32_t)len};
    p->bytes += len + 1;
    wake(p);
}

static bool has_message(const struct pg_lp *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].m)
            return true;
    return false;
}

static void lp_deliver(struct pg_subscriber *s, struct pg_message *m)
{
    struct pg_lp *p = lp_of(s);
    const struct pg_encoding *e = &m->enc[s->fmt];
    if (p->full) {
        pg_metrics_drop(PG_DROP_DEFERRED);
        return;
    }
    if (p->bytes + e->len > pg_srv.cfg->subscriber_buffer_max && has_message(p)) {
        p->full = true;     /* the next poll resumes after our last message */
        s->replay_full = true;
        pg_metrics_drop(PG_DROP_DEFERRED);
        return;
    }
    pg_metrics_delivery(PG_MT_LONGPOLL);
    push(p, pg_message_ref(m), NULL, e->len);
}

static void lp_gap(struct pg_subscriber *s, const char *const *channels, size_t n, const char *cursor)
{
    struct pg_lp *p = lp_of(s);
    struct pg_buf b = {0};
    pg_notice_gap(&b, true, channels, n, cursor);
    p->gap = true;
    size_t len;
    char *j = pg_buf_steal(&b, &len);
    push(p, NULL, j, len);
}

static void lp_deleted(struct pg_subscriber *s, const char *channel, size_t remaining)
{
    struct pg_buf b = {0};
    pg_notice_deleted(&b, channel);
    size_t len;
    char *j = pg_buf_steal(&b, &len);
    push(lp_of(s), NULL, j, len);
}

static void lp_shutdown(struct pg_subscriber *s)
{
    struct pg_lp *p = lp_of(s);
    p->keep_alive = false;
    wake(p);
}

static const struct pg_subscriber_ops lp_ops = {
    .name = "longpoll",
    .deliver = lp_deliver,
    .gap = lp_gap,
    .deleted = lp_deleted,
    .shutdown = lp_shutdown,
};

/* ---- answering ---- */

static void lp_free(struct pg_lp *p)
{
    event_del(&p->ev);
    pg_hub_unsubscribe(&p->sub);
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].m)
            pg_message_unref(p->items[i].m);
        free(p->items[i].notice);
    }
    free(p->items);
    free(p->callback);
    free(p->extra);
    free(p);
}

/* X-Last-Id: the last message element's id, else the current cursor. */
static void last_id(const struct pg_lp *p, char *out, size_t cap)
{
    for (size_t i = p->n; i-- > 0;)
        if (p->items[i].m) {
            const struct pg_message *m = p->items[i].m;
            size_t n = PG_MIN((size_t)m->id_len, cap - 1);
            memcpy(out, m->id, n);
            out[n] = '\0';
            return;
        }
    pg_hub_cursor(out, cap);
}

static char *answer_headers(const struct pg_lp *p, const char *cursor, bool jsonp)
{
    struct pg_buf h = {0};
    pg_buf_reserve(&h, 256);
    pg_buf_adds(&h, "Cache-Control: no-store\r\nX-Last-Id: ");
    pg_buf_adds(&h, cursor);
    pg_buf_adds(&h, "\r\n");
    if (p->gap)
        pg_buf_adds(&h, "X-Gap: 1\r\n");
    if (jsonp)
        pg_buf_adds(&h, "X-Content-Type-Options: nosniff\r\n");
    if (p->extra)
        pg_buf_adds(&h, p->extra);
    return pg_buf_steal(&h, NULL);
}

static const char *item_data(const struct pg_lp *p, const struct lp_item *it)
{
    return it->m ? it->m->enc[p->sub.fmt].data : it->notice;
}

/* Appends JSON text, escaping U+2028/U+2029 (valid JSON, not valid
 * JavaScript before ES2019; they can only occur inside strings). */
static void add_js_safe(struct pg_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if ((unsigned char)s[i] != 0xE2 || (unsigned char)s[i + 1] != 0x80 ||
            ((unsigned char)s[i + 2] != 0xA8 && (unsigned char)s[i + 2] != 0xA9))
            continue;
        pg_buf_add(b, s + run, i - run);
        pg_buf_adds(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
        i += 2;
        run = i + 1;
    }
    pg_buf_add(b, s + run, n - run);
}

static void answer_jsonp(struct pg_lp *p, const char *cursor, const char *headers)
{
    struct pg_buf b = {0};
    pg_buf_reserve(&b, p->bytes + 96);
    pg_buf_addf(&b, "/**/%s({\"messages\":[", p->callback);
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            pg_buf_add(&b, ",", 1);
        add_js_safe(&b, item_data(p, &p->items[i]), p->items[i].len);
    }
    pg_buf_addf(&b, "],\"last_id\":\"%s\",\"gap\":%s});\n", cursor, p->gap ? "true" : "false");
    pg_http_respond(p->c, p->keep_alive, 200, "application/javascript; charset=utf-8", headers, b.p, b.len);
    pg_buf_free(&b);
}

/* The JSON array goes out as queued references: the head (with the
 * Content-Length of the whole array) first, then "[", the elements with
 * their separators, "]". */
static void answer_json(struct pg_lp *p, const char *headers)
{
    struct pg_conn *c = p->c;
    if (p->n == 0) {
        pg_http_respond(c, p->keep_alive, 204, NULL, headers, NULL, 0);
        return;
    }
    size_t total = 2 + p->n - 1;
    for (size_t i = 0; i < p->n; i++)
        total += p->items[i].len;
    pg_http_respond(c, p->keep_alive, 200, "application/json", headers, NULL, total);
    pg_conn_send_static(c, "[", 1);
    for (size_t i = 0; i < p->n; i++) {
        struct lp_item *it = &p->items[i];
        if (i)
            pg_conn_send_static(c, ",", 1);
        if (it->m) {
            pg_conn_send_msg(c, it->m, item_data(p, it), it->len);
        } else {
            pg_conn_send_owned(c, it->notice, it->len);
            it->notice = NULL;
        }
    }
    pg_conn_send_static(c, "]", 1);
}

/* Answers and frees p. A held poll's connection then reads requests again
 * (pg_http_resume; it closes instead when keep-alive is off). */
static void answer(struct pg_lp *p)
{
    struct pg_conn *c = p->c;
    bool held = p->held;
    p->held = false;
    pg_hub_unsubscribe(&p->sub);
    if (pg_srv.stopping)
        p->keep_alive = false;
    char cursor[64];
    last_id(p, cursor, sizeof cursor);
    char *headers = answer_headers(p, cursor, p->callback != NULL);
    struct pg_access_mark mark;
    pg_access_resume_begin(c, &mark);
    if (p->callback)
        answer_jsonp(p, cursor, headers);
    else
        answer_json(p, headers);
    pg_access_resume_end(c, &mark);
    free(headers);
    pg_log_debug("conn %llu: long-poll answer, %zu element(s), last id %s", (unsigned long long)c->id,
                 p->n, cursor);
    if (held)
        c->proto = NULL;
    lp_free(p);
    if (held)
        pg_http_resume(c);
}

PG_LOCKED_EVCB(on_wake)

static void on_wake_locked(evutil_socket_t fd, short what, void *arg)
{
    answer(arg);
}

/* ---- the held connection ---- */

static size_t lp_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    /* A pipelined request waits in the input buffer for pg_http_resume;
     * bound what a client can pile up meanwhile. */
    const struct pg_config *cfg = pg_srv.cfg;
    if (len > cfg->max_header_size + cfg->max_message_size) {
        pg_log_info("conn %llu: too much pipelined input behind a held long-poll", (unsigned long long)c->id);
        pg_conn_close(c);
        return len;
    }
    return 0;
}

static void lp_on_eof(struct pg_conn *c)
{
    pg_conn_close(c);   /* the client went away: on_free cleans up */
}

static void lp_on_free(struct pg_conn *c)
{
    struct pg_lp *p = c->proto;
    c->proto = NULL;
    if (p)
        lp_free(p);
}

static const struct pg_conn_handler lp_handler = {
    .name = "longpoll",
    .on_data = lp_on_data,
    .on_eof = lp_on_eof,
    .on_free = lp_on_free,
};

static void hold(struct pg_lp *p)
{
    uint64_t ms = pg_srv.cfg->longpoll_hold_ms, now = pg_now_ms();
    if (p->expires_ms && p->expires_ms < now + ms)
        ms = p->expires_ms > now ? p->expires_ms - now : 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    p->held = true;
    p->c->h = &lp_handler;
    p->c->proto = p;
    event_add(&p->ev, &tv);
}

void pg_longpoll_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o,
                       const char *extra, uint64_t expires_ms)
{
    struct pg_lp *p = pg_xcalloc(1, sizeof *p);
    p->c = r->c;
    p->sub.ops = &lp_ops;
    p->sub.fmt = (uint8_t)fmt_lp;
    p->keep_alive = r->keep_alive;
    p->expires_ms = expires_ms;
    p->callback = o->callback[0] && !r->head_only ? pg_xstrdup(o->callback) : NULL;
    p->extra = extra ? pg_xstrdup(extra) : NULL;
    event_assign(&p->ev, pg_loop(), -1, 0, on_wake, p);
    pg_access_conn_transport(r->c, "longpoll");
    if (r->head_only) {
        answer(p);
        return;
    }
    const char *why = NULL;
    const char *cursor = o->has_cursor ? o->cursor : NULL;
    if (pg_hub_subscribe(&p->sub, t->names, t->lens, t->n, cursor, cursor ? strlen(cursor) : 0, &why) < 0) {
        pg_fallback_error(r, extra, 503, why);   /* the cursor was checked before */
        lp_free(p);
        return;
    }
    if (p->n)
        answer(p);              /* replayed: answer at once */
    else if (pg_srv.stopping)
        answer(p);
    else
        hold(p);
}
