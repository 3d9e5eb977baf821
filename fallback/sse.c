/* sse.c — the Server-Sent Events subscriber: answers a subscribe request
 * with a text/event-stream that stays open, and implements the hub's
 * subscriber interface by queueing references to once-encoded events.
 *
 * Two wire formats, each built once per message in the hub (message.h):
 * "sse" (id:, event: when the message has one, one data: line per body
 * line; a binary body goes as event "pushgate.binary[ <event>]" with base64
 * data) and "sse-json" (id: and one data: line holding the JSON envelope,
 * no event: line, so every message reaches onmessage). Control events are
 * always named: pushgate.open (data: the current cursor) right after the
 * headers, pushgate.ping every sse_heartbeat (data: the current cursor),
 * pushgate.gap (data: {"channels":[...],"id":cursor}), pushgate.deleted
 * (data: the channel) and pushgate.error (data: {"code","reason"}: the
 * subscription failed, or the token that allowed it expired; the stream
 * ends after it).
 *
 * Invariants: the stream is "HTTP/1.1 200, no Content-Length, Connection:
 * close", so the events need no per-connection framing and the connection
 * ends with the stream; once the end is queued (ending) nothing else is
 * queued; a live subscriber whose queue would pass subscriber_buffer_max
 * loses what was not yet sent and is closed at once (the client resumes
 * with Last-Event-ID: EventSource never dispatches an event cut short),
 * while a catch-up replay larger than the cap is sent up to the cap and the
 * stream then ends cleanly, so each reconnect makes progress.
 *
 * Deliberate departures: pushgate.open carries an id: line (the current
 * cursor) when the request had no cursor, so a plain EventSource that
 * reconnects by itself resumes from the moment it first connected instead
 * of losing what was published while it was away. Input from the client
 * after the request is read and discarded. */
#include "notice.h"
#include "fallback.h"
#include "fallback_query.h"
#include "sse_format.h"
#include "access_log.h"
#include "buf.h"
#include "config.h"
#include "conn_limits.h"
#include "hub.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

#define SSE_RETRY_MS 3000

struct pg_sse {
    struct pg_subscriber sub;   /* first: the hub hands us &sub */
    struct pg_conn *c;
    uint64_t next_beat_ms;      /* next heartbeat (pg_now_ms), 0 = none */
    uint64_t expires_ms;        /* the token's end: pushgate.error, then the end; 0 = none */
    bool ending;                /* the end of the stream is queued */
    bool replaying;             /* inside pg_hub_subscribe: the catch-up replay */
};

static int fmt_raw = -1, fmt_json = -1;

/* ---- formats ---- */

static void encode_raw(const struct pg_message *m, struct pg_buf *out)
{
    if (!m->binary) {
        struct pg_sse_event ev = {
            .id = m->id, .id_len = m->id_len,
            .event = m->event, .event_len = m->event_len,
            .data = m->body, .data_len = m->body_len,
        };
        pg_sse_event(out, &ev);
        return;
    }
    char name[16 + 1 + 256];
    int nl = snprintf(name, sizeof name, "pushgate.binary%s%.*s", m->event ? " " : "",
                      (int)m->event_len, m->event ? m->event : "");
    pg_buf_reserve(out, m->id_len + (size_t)nl + m->body_len / 3 * 4 + 32);
    pg_sse_field(out, "id", m->id, m->id_len);
    pg_sse_field(out, "event", name, (size_t)nl);
    pg_buf_add(out, "data: ", 6);
    pg_buf_base64(out, m->body, m->body_len);
    pg_buf_add(out, "\n\n", 2);
}

static void encode_json(const struct pg_message *m, struct pg_buf *out)
{
    int lp = pg_longpoll_format();
    struct pg_buf env = {0};
    const char *p;
    size_t n;
    if (lp >= 0 && m->enc[lp].data) {       /* the envelope exists: reuse it */
        p = m->enc[lp].data;
        n = m->enc[lp].len;
    } else {
        pg_message_json_envelope(m, &env);
        p = env.p;
        n = env.len;
    }
    struct pg_sse_event ev = {.id = m->id, .id_len = m->id_len, .data = p, .data_len = n};
    pg_sse_event(out, &ev);
    pg_buf_free(&env);
}

void pg_sse_init(void)
{
    fmt_raw = pg_format_register("sse", encode_raw);
    fmt_json = pg_format_register("sse-json", encode_json);
}

/* ---- output ---- */

static struct pg_sse *sse_of(struct pg_subscriber *s)
{
    return (struct pg_sse *)s;
}

static void end_stream(struct pg_sse *e)
{
    if (e->ending)
        return;
    e->ending = true;
    e->next_beat_ms = e->expires_ms = 0;
    pg_conn_close_after_flush(e->c);
}

/* Room for len more bytes under subscriber_buffer_max? If not, the stream
 * ends (what was not sent yet is dropped). */
static bool room_for(struct pg_sse *e, size_t len)
{
    struct pg_conn *c = e->c;
    if (e->ending || (c->flags & PG_CONN_CLOSING))
        return false;
    if (c->q_len && c->q_bytes + len > pg_srv.cfg->subscriber_buffer_max && e->replaying) {
        /* A replay larger than the cap: send what fits and end there; the
         * client reconnects from the last id it got and gets the rest. */
        e->sub.replay_full = true;
        end_stream(e);
        return false;
    }
    if (c->q_len && c->q_bytes + len > pg_srv.cfg->subscriber_buffer_max) {
        /* It cannot drain what it has: close now rather than flush first.
         * A cut event is never dispatched by EventSource, so the client
         * resumes with the id of the last whole event. */
        pg_log_info("conn %llu: slow SSE subscriber over subscriber_buffer_max, closing the stream",
                    (unsigned long long)c->id);
        pg_limits_count(PG_REFUSE_SLOW_CONSUMER);
        pg_access_conn_reason(c, "slow consumer");
        e->ending = true;
        e->next_beat_ms = e->expires_ms = 0;
        pg_conn_drop_queued(c);
        pg_conn_close(c);
        return false;
    }
    return true;
}

/* Queues a control event (event name, one data payload). */
static void send_control(struct pg_sse *e, const char *event, const char *data, size_t len)
{
    struct pg_buf b = {0};
    struct pg_sse_event ev = {.event = event, .event_len = strlen(event), .data = data, .data_len = len};
    pg_sse_event(&b, &ev);
    if (room_for(e, b.len)) {
        size_t n;
        char *p = pg_buf_steal(&b, &n);
        pg_conn_send_owned(e->c, p, n);
    }
    pg_buf_free(&b);
}

static void sse_deliver(struct pg_subscriber *s, struct pg_message *m)
{
    struct pg_sse *e = sse_of(s);
    const struct pg_encoding *enc = &m->enc[s->fmt];
    bool open = !e->ending && !(e->c->flags & PG_CONN_CLOSING);
    if (room_for(e, enc->len)) {
        pg_metrics_delivery(PG_MT_SSE);
        pg_conn_send_msg(e->c, m, enc->data, enc->len);
    } else {
        pg_metrics_drop(!open ? PG_DROP_CLOSING : e->replaying ? PG_DROP_DEFERRED : PG_DROP_SLOW_CONSUMER);
    }
}

static void sse_gap(struct pg_subscriber *s, const char *const *channels, size_t n, const char *cursor)
{
    struct pg_buf b = {0};
    pg_notice_gap(&b, false, channels, n, cursor);
    send_control(sse_of(s), "pushgate.gap", b.p, b.len);
    pg_buf_free(&b);
}

static void sse_deleted(struct pg_subscriber *s, const char *channel, size_t remaining)
{
    struct pg_sse *e = sse_of(s);
    send_control(e, "pushgate.deleted", channel, strlen(channel));
    if (remaining == 0)
        end_stream(e);
}

static void sse_shutdown(struct pg_subscriber *s)
{
    end_stream(sse_of(s));
}

static const struct pg_subscriber_ops sse_ops = {
    .name = "sse",
    .deliver = sse_deliver,
    .gap = sse_gap,
    .deleted = sse_deleted,
    .shutdown = sse_shutdown,
};

/* ---- connection ---- */

/* Heartbeat and token end are checked by the shared tick
 * (pg_conn_tick_all), not by two timers per stream. */
static void sse_on_tick(struct pg_conn *c, uint64_t now)
{
    static const char why[] = "{\"code\":401,\"reason\":\"the token expired: reconnect with a fresh one\"}";
    struct pg_sse *e = c->proto;
    if (e->expires_ms && now >= e->expires_ms) {
        send_control(e, "pushgate.error", why, sizeof why - 1);
        end_stream(e);
        return;
    }
    if (!e->next_beat_ms || now < e->next_beat_ms)
        return;
    char cur[64];
    pg_hub_cursor(cur, sizeof cur);
    send_control(e, "pushgate.ping", cur, strlen(cur));
    if (!e->ending)
        e->next_beat_ms = now + pg_srv.cfg->sse_heartbeat_ms;
}

static size_t sse_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    return len;   /* nothing to read after the request: discard */
}

static void sse_on_eof(struct pg_conn *c)
{
    pg_conn_close(c);
}

static void sse_on_free(struct pg_conn *c)
{
    struct pg_sse *e = c->proto;
    pg_hub_unsubscribe(&e->sub);
    free(e);
    c->proto = NULL;
}

static const struct pg_conn_handler sse_handler = {
    .name = "sse",
    .on_data = sse_on_data,
    .on_tick = sse_on_tick,
    .on_eof = sse_on_eof,
    .on_free = sse_on_free,
};

static void send_head(struct pg_conn *c, const char *extra)
{
    struct pg_buf b = {0};
    pg_buf_adds(&b, "HTTP/1.1 200 OK\r\nServer: pushgate\r\n"
                    "Content-Type: text/event-stream; charset=utf-8\r\n"
                    "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n");
    if (extra)
        pg_buf_adds(&b, extra);
    pg_buf_adds(&b, "\r\n");
    size_t n;
    char *p = pg_buf_steal(&b, &n);
    pg_conn_send_owned(c, p, n);
}

/* retry:, then pushgate.open with the current cursor (and as id: when the
 * client brought no cursor, see the header comment). */
static void send_open(struct pg_conn *c, bool has_cursor)
{
    char cur[64];
    pg_hub_cursor(cur, sizeof cur);
    struct pg_buf b = {0};
    pg_sse_retry(&b, SSE_RETRY_MS);
    struct pg_sse_event ev = {
        .id = has_cursor ? NULL : cur, .id_len = strlen(cur),
        .event = "pushgate.open", .event_len = 13, .data = cur, .data_len = strlen(cur),
    };
    pg_sse_event(&b, &ev);
    size_t n;
    char *p = pg_buf_steal(&b, &n);
    pg_conn_send_owned(c, p, n);
}

static void subscribe_failed(struct pg_sse *e, const char *why)
{
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"code\":503,\"reason\":");
    pg_buf_json_str(&b, why, strlen(why));
    pg_buf_adds(&b, "}");
    send_control(e, "pushgate.error", b.p, b.len);
    pg_buf_free(&b);
    end_stream(e);
}

void pg_sse_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o,
                  const char *extra, uint64_t expires_ms)
{
    struct pg_conn *c = r->c;
    send_head(c, extra);
    if (r->head_only) {
        pg_conn_close_after_flush(c);
        return;
    }
    struct pg_sse *e = pg_xcalloc(1, sizeof *e);
    e->c = c;
    e->sub.ops = &sse_ops;
    e->sub.fmt = (uint8_t)(o->json ? fmt_json : fmt_raw);
    c->h = &sse_handler;
    c->proto = e;
    send_open(c, o->has_cursor);
    const char *why = NULL;
    const char *cursor = o->has_cursor ? o->cursor : NULL;
    e->replaying = true;
    int rc = pg_hub_subscribe(&e->sub, t->names, t->lens, t->n, cursor, cursor ? strlen(cursor) : 0, &why);
    e->replaying = false;
    if (rc < 0) {
        subscribe_failed(e, why);
        return;
    }
    if (e->ending)
        return;
    e->next_beat_ms = pg_now_ms() + pg_srv.cfg->sse_heartbeat_ms;
    e->expires_ms = expires_ms;
    char peer[64];
    pg_log_debug("conn %llu: sse subscriber from %s, %zu channel(s)%s%s%s", (unsigned long long)c->id,
                 pg_conn_peer(c, peer, sizeof peer), t->n, o->json ? ", json" : "",
                 cursor ? ", resuming after " : "", cursor ? cursor : "");
}
