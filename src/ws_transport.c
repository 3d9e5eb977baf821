/* ws_transport.c — the WebSocket subscriber: moves bytes from the
 * connection into the frame codec, and codec events into pings, closes and
 * (on /pubsub) publishes; implements the hub's subscriber interface by
 * queueing references to once-encoded frames.
 *
 * Two wire formats, each encoded once per message in the hub: "ws" (one
 * data frame whose payload is the body, text when it is UTF-8) and
 * "ws-json" (pushgate.v1+json: one text frame with the JSON envelope).
 * Clients that negotiated permessage-deflate get their twins "ws-deflate"
 * and "ws-json-deflate" (compressed once per message, ws_deflate.c); their
 * compressed messages are inflated by an inflater that exists only while
 * such a message is being read. Compressed data arriving after our close
 * frame is discarded unread.
 *
 * Invariants: a subscriber over subscriber_buffer_max loses its queued
 * frames and gets close 1013, then resumes by id; after our close frame
 * is queued nothing else is queued. */
#include "notice.h"
#include "ws_transport.h"
#include "access_log.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "conn_limits.h"
#include "hub.h"
#include "log.h"
#include "message.h"
#include "origin.h"
#include "metrics.h"
#include "publish.h"
#include "server.h"
#include "util.h"
#include "ws_codec.h"
#include "ws_handshake.h"
#include "ws_deflate.h"
#include "json_read.h"

#include <stdio.h>
#include <stdlib.h>

#define CLIENT_PING_MAX 64

struct pg_ws {
    struct pg_subscriber sub;      /* first: the hub hands us &sub */
    struct pg_conn *c;
    struct pg_ws_parser parser;
    struct pg_buf msg;             /* client message being assembled */
    char *pub_channel;             /* /pubsub: the channel, else NULL */
    uint64_t last_ping_ms;
    uint64_t rate_window_ms;       /* /pubsub rate limit: current 1 s window */
    uint32_t rate_count;
    bool json;
    bool close_sent;
    bool msg_overflow;             /* /sub: message too long to be a ping, ignored */
    bool replaying;                /* inside pg_hub_subscribe: the catch-up replay */
    bool deflate;                  /* permessage-deflate negotiated */
    struct pg_ws_inflater *inflater; /* only while a compressed message is read */
    uint64_t auth_expires_ms;      /* token end (pg_now_ms), 0 = none: close 1008 then */
};

static int fmt_raw, fmt_json, fmt_raw_z, fmt_json_z;

static void encode_raw(const struct pg_message *m, struct pg_buf *out)
{
    uint8_t h[10];
    size_t hl = pg_ws_frame_header(h, m->binary ? PG_WS_OP_BINARY : PG_WS_OP_TEXT, true, false, m->body_len);
    pg_buf_reserve(out, hl + m->body_len);
    pg_buf_add(out, h, hl);
    pg_buf_add(out, m->body, m->body_len);
}

/* One text frame holding an already built JSON text. */
static void frame_text(struct pg_buf *out, const char *json, size_t len)
{
    uint8_t h[10];
    size_t hl = pg_ws_frame_header(h, PG_WS_OP_TEXT, true, false, len);
    pg_buf_reserve(out, hl + len);
    pg_buf_add(out, h, hl);
    pg_buf_add(out, json, len);
}

static void encode_json(const struct pg_message *m, struct pg_buf *out)
{
    struct pg_buf env = {0};
    pg_message_json_envelope(m, &env);
    frame_text(out, env.p, env.len);
    pg_buf_free(&env);
}

/* The permessage-deflate twins: the same frames, compressed (RSV1) unless
 * too small to gain. */
static void encode_raw_z(const struct pg_message *m, struct pg_buf *out)
{
    pg_ws_deflate_frame(out, m->binary ? PG_WS_OP_BINARY : PG_WS_OP_TEXT, m->body, m->body_len);
}

static void encode_json_z(const struct pg_message *m, struct pg_buf *out)
{
    struct pg_buf env = {0};
    pg_message_json_envelope(m, &env);
    pg_ws_deflate_frame(out, PG_WS_OP_TEXT, env.p, env.len);
    pg_buf_free(&env);
}

void pg_ws_init(void)
{
    fmt_raw = pg_format_register("ws", encode_raw);
    fmt_json = pg_format_register("ws-json", encode_json);
    fmt_raw_z = pg_format_register("ws-deflate", encode_raw_z);
    fmt_json_z = pg_format_register("ws-json-deflate", encode_json_z);
}

static struct pg_ws *ws_of(struct pg_subscriber *s)
{
    return (struct pg_ws *)s;
}

/* ---- output ---- */

static void send_json_frame(struct pg_ws *w, const struct pg_buf *json)
{
    struct pg_buf f = {0};
    frame_text(&f, json->p, json->len);
    size_t n;
    char *p = pg_buf_steal(&f, &n);
    pg_conn_send_owned(w->c, p, n);
}

static void send_control(struct pg_ws *w, int opcode, const void *payload, size_t len)
{
    uint8_t f[10 + PG_WS_MAX_CONTROL_PAYLOAD];
    size_t hl = pg_ws_frame_header(f, opcode, true, false, len);
    if (len)
        memcpy(f + hl, payload, len);
    pg_conn_send_copy(w->c, f, hl + len);
}

static void ws_close(struct pg_ws *w, uint16_t code, const char *reason)
{
    if (w->close_sent)
        return;
    w->close_sent = true;
    pg_access_conn_reason(w->c, *reason ? reason : "client close");
    uint8_t f[PG_WS_CLOSE_FRAME_MAX];
    size_t n = pg_ws_close_frame(f, code, reason);
    pg_conn_send_copy(w->c, f, n);
    pg_conn_close_after_flush(w->c);
    pg_log_debug("conn %llu: websocket close %u %s", (unsigned long long)w->c->id, code, reason);
}

static void ws_deliver(struct pg_subscriber *s, struct pg_message *m)
{
    struct pg_ws *w = ws_of(s);
    if (w->close_sent || (w->c->flags & PG_CONN_CLOSING)) {
        pg_metrics_drop(PG_DROP_CLOSING);
        return;
    }
    const struct pg_encoding *e = &m->enc[s->fmt];
    if (w->replaying && w->c->q_bytes + e->len > pg_srv.cfg->subscriber_buffer_max && w->c->q_len) {
        /* a catch-up larger than the cap: send what fits, then close 1013
         * (pg_ws_accept); the client resumes from the last id it got */
        s->replay_full = true;
        pg_metrics_drop(PG_DROP_DEFERRED);
        return;
    }
    if (w->c->q_bytes + e->len > pg_srv.cfg->subscriber_buffer_max && w->c->q_len) {
        pg_log_info("conn %llu: slow subscriber over subscriber_buffer_max, disconnecting",
                    (unsigned long long)w->c->id);
        pg_metrics_drop(PG_DROP_SLOW_CONSUMER);
        pg_limits_count(PG_REFUSE_SLOW_CONSUMER);
        pg_conn_drop_queued(w->c);
        ws_close(w, PG_WS_CLOSE_TRY_AGAIN, "too slow: reconnect and resume");
        return;
    }
    pg_metrics_delivery(PG_MT_WEBSOCKET);
    pg_conn_send_msg(w->c, m, e->data, e->len);
}

static void ws_gap(struct pg_subscriber *s, const char *const *channels, size_t n, const char *cursor)
{
    struct pg_ws *w = ws_of(s);
    if (!w->json || w->close_sent)
        return;
    struct pg_buf b = {0};
    pg_notice_gap(&b, true, channels, n, cursor);
    send_json_frame(w, &b);
    pg_buf_free(&b);
}

static void ws_deleted(struct pg_subscriber *s, const char *channel, size_t remaining)
{
    struct pg_ws *w = ws_of(s);
    if (remaining == 0) {
        ws_close(w, PG_WS_CLOSE_NORMAL, "channel deleted");
        return;
    }
    if (!w->json || w->close_sent)
        return;
    struct pg_buf b = {0};
    pg_notice_deleted(&b, channel);
    send_json_frame(w, &b);
    pg_buf_free(&b);
}

static void ws_shutdown(struct pg_subscriber *s)
{
    ws_close(ws_of(s), PG_WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const struct pg_subscriber_ops ws_ops = {
    .name = "websocket",
    .deliver = ws_deliver,
    .gap = ws_gap,
    .deleted = ws_deleted,
    .shutdown = ws_shutdown,
};

/* ---- client messages ---- */

static void refuse_client_message(struct pg_ws *w, int code, const char *reason)
{
    if (w->json) {
        struct pg_buf b = {0};
        pg_buf_addf(&b, "{\"type\":\"error\",\"code\":%d,\"reason\":", code);
        pg_buf_json_str(&b, reason, strlen(reason));
        pg_buf_adds(&b, "}");
        send_json_frame(w, &b);
        pg_buf_free(&b);
    } else {
        ws_close(w, code == 413 ? PG_WS_CLOSE_TOO_BIG : PG_WS_CLOSE_POLICY, reason);
    }
}

static bool is_json_ping(const char *p, size_t n)
{
    char squeezed[CLIENT_PING_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof squeezed - 1; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            squeezed[k++] = p[i];
    squeezed[k] = '\0';
    return strcmp(squeezed, "{\"type\":\"ping\"}") == 0;
}

static bool rate_ok(struct pg_ws *w)
{
    uint64_t limit = pg_srv.cfg->pubsub_rate_limit;
    if (!limit)
        return true;
    uint64_t now = pg_now_ms();
    if (now - w->rate_window_ms >= 1000) {
        w->rate_window_ms = now;
        w->rate_count = 0;
    }
    return ++w->rate_count <= limit;
}

static bool parse_client_json(const char *p, size_t n, char **event, char **data, size_t *data_len,
                              const char **why);

static void client_publish(struct pg_ws *w, const char *body, size_t len, bool binary)
{
    char *event = NULL, *data = NULL;
    size_t data_len = len;
    const char *why = NULL;
    if (!rate_ok(w)) {
        pg_limits_count(PG_REFUSE_RATE);
        refuse_client_message(w, 429, "too many messages: over pubsub_rate_limit");
        return;
    }
    if (w->json) {
        if (binary || !parse_client_json(body, len, &event, &data, &data_len, &why)) {
            refuse_client_message(w, 400, why ? why : "expected a JSON object {\"event\",\"data\"}");
            return;
        }
        body = data;
    }
    struct pg_publish_req req = {
        .channels = w->pub_channel, .channels_len = strlen(w->pub_channel),
        .event = event, .event_len = event ? strlen(event) : 0,
        .body = body, .body_len = data_len, .origin = PG_PUB_ORIGIN_CLIENT,
    };
    char *reply = NULL;
    int status = pg_publish(&req, &reply);
    if (status >= 300) {
        /* reply is {"error":"..."}: pass its sentence on */
        const char *q = strstr(reply, ":\"");
        char reason[120];
        snprintf(reason, sizeof reason, "%s", q ? q + 2 : "refused");
        char *end = strrchr(reason, '"');
        if (end)
            *end = '\0';
        refuse_client_message(w, status, reason);
    }
    free(reply);
    free(event);
    free(data);
}

static void on_message_end(struct pg_ws *w, int opcode)
{
    const char *body = w->msg.p ? w->msg.p : "";
    if (w->json && opcode == PG_WS_OP_TEXT && !w->msg_overflow && is_json_ping(body, w->msg.len)) {
        static const struct pg_buf pong = {.p = "{\"type\":\"pong\"}", .len = 15};
        send_json_frame(w, &pong);
    } else if (w->pub_channel) {
        client_publish(w, body, w->msg.len, opcode == PG_WS_OP_BINARY);
    } else if (w->json) {
        /* /sub does not publish: say so rather than dropping it silently */
        refuse_client_message(w, 403, "this is a subscribe-only connection: publish on /pubsub/<channel>");
    }
    pg_buf_free(&w->msg);
    w->msg_overflow = false;
}

static void on_data_chunk(struct pg_ws *w, const uint8_t *p, size_t n)
{
    if (!w->pub_channel && w->msg.len + n > CLIENT_PING_MAX) {
        w->msg_overflow = true;   /* not a ping: /sub ignores data frames */
        return;
    }
    pg_buf_add(&w->msg, p, n);
}

/* ---- compressed client messages (RSV1): inflated into msg ---- */

static void inflated_chunk(void *w, const uint8_t *p, size_t n)
{
    on_data_chunk(w, p, n);
}

static int inflate_failed(struct pg_ws *w, int err)
{
    pg_log_info("conn %llu: websocket compressed message: %s", (unsigned long long)w->c->id,
                pg_ws_inflate_strerror(err));
    pg_ws_inflater_free(w->inflater);
    w->inflater = NULL;
    pg_conn_drop_queued(w->c);
    ws_close(w, pg_ws_inflate_close_code(err), pg_ws_inflate_strerror(err));
    return -1;
}

/* Returns 1 when inflated into msg, 0 when discarded (our close is sent),
 * -1 after an error (the connection is closing: stop reading). */
static int inflate_chunk(struct pg_ws *w, int opcode, const uint8_t *p, size_t n)
{
    if (w->close_sent) {
        pg_ws_inflater_free(w->inflater);
        w->inflater = NULL;
        return 0;
    }
    if (!w->inflater)
        w->inflater = pg_ws_inflater_new(pg_srv.cfg->max_message_size, opcode == PG_WS_OP_TEXT);
    int err = pg_ws_inflate(w->inflater, p, n, inflated_chunk, w);
    return err ? inflate_failed(w, err) : 1;
}

/* The compressed message ended: 1 when msg holds all of it, else as above. */
static int inflate_end(struct pg_ws *w, int opcode)
{
    int rc = inflate_chunk(w, opcode, NULL, 0);
    if (rc <= 0)
        return rc;
    int err = pg_ws_inflate_end(w->inflater, inflated_chunk, w);
    pg_ws_inflater_free(w->inflater);
    w->inflater = NULL;
    return err ? inflate_failed(w, err) : 1;
}

static size_t ws_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    struct pg_ws *w = c->proto;
    struct pg_ws_limits lim = {
        .max_message_size = pg_srv.cfg->max_message_size,
        .deflate = w->deflate,
        .validate_utf8 = true,
    };
    size_t used = 0;
    /* loop until the codec needs more bytes: events such as MESSAGE_END
     * may consume nothing, and may follow the last byte */
    while (!(c->flags & (PG_CONN_CLOSING | PG_CONN_LINGER))) {
        struct pg_ws_event ev;
        int z;
        size_t n = pg_ws_parse(&w->parser, data + used, len - used, &lim, &ev);
        used += n;
        switch (ev.type) {
        case PG_WS_EV_NEED_MORE:
            return used;
        case PG_WS_EV_DATA:
            if (!ev.rsv1)
                on_data_chunk(w, ev.data, ev.len);
            else if (inflate_chunk(w, ev.opcode, ev.data, ev.len) < 0)
                return len;
            break;
        case PG_WS_EV_MESSAGE_END:
            if (ev.rsv1 && (z = inflate_end(w, ev.opcode)) <= 0) {
                pg_buf_free(&w->msg);
                w->msg_overflow = false;
                if (z < 0)
                    return len;
                break;
            }
            on_message_end(w, ev.opcode);
            break;
        case PG_WS_EV_PING:
            if (!w->close_sent)
                send_control(w, PG_WS_OP_PONG, ev.data, ev.len);
            break;
        case PG_WS_EV_PONG:
            break;
        case PG_WS_EV_CLOSE:
            if (w->close_sent) {
                pg_conn_close(c);       /* the answer to our close */
                return len;
            }
            ws_close(w, ev.close_code == PG_WS_CLOSE_NO_STATUS ? 0 : ev.close_code, "");
            return len;
        case PG_WS_EV_ERROR:
            pg_log_info("conn %llu: websocket protocol error: %s", (unsigned long long)c->id, ev.why);
            pg_conn_drop_queued(c);
            ws_close(w, ev.close_code, ev.why);
            return len;
        }
    }
    return len;
}

static void ws_on_tick(struct pg_conn *c, uint64_t now)
{
    struct pg_ws *w = c->proto;
    const struct pg_config *cfg = pg_srv.cfg;
    if (w->close_sent)
        return;
    if (w->auth_expires_ms && now >= w->auth_expires_ms) {
        ws_close(w, PG_WS_CLOSE_POLICY, "token has expired");
        return;
    }
    if (now - c->last_read_ms >= cfg->idle_timeout_ms) {
        ws_close(w, PG_WS_CLOSE_GOING_AWAY, "idle timeout");
        return;
    }
    if (now - w->last_ping_ms >= cfg->ping_interval_ms) {
        w->last_ping_ms = now;
        send_control(w, PG_WS_OP_PING, NULL, 0);
        if (w->json) {
            static const struct pg_buf ping = {.p = "{\"type\":\"ping\"}", .len = 15};
            send_json_frame(w, &ping);
        }
    }
}

static void ws_on_eof(struct pg_conn *c)
{
    pg_conn_close(c);
}

static void ws_on_free(struct pg_conn *c)
{
    struct pg_ws *w = c->proto;
    pg_hub_unsubscribe(&w->sub);
    pg_buf_free(&w->msg);
    pg_ws_inflater_free(w->inflater);
    free(w->pub_channel);
    free(w);
    c->proto = NULL;
}

static const struct pg_conn_handler ws_handler = {
    .name = "websocket",
    .on_data = ws_on_data,
    .on_tick = ws_on_tick,
    .on_eof = ws_on_eof,
    .on_free = ws_on_free,
};

void pg_ws_accept(struct pg_request *r, const struct pg_sub_target *t)
{
    struct pg_ws_handshake hs;
    pg_ws_handshake_check(r->head, pg_srv.cfg->websocket_deflate, &hs);
    if (hs.status != 101) {
        size_t len;
        struct pg_buf b = {0};
        pg_buf_adds(&b, "{\"error\":");
        pg_buf_json_str(&b, hs.why, strlen(hs.why));
        pg_buf_adds(&b, "}\n");
        char *body = pg_buf_steal(&b, &len);
        pg_http_respond(r->c, false, hs.status, "application/json",
                        pg_ws_handshake_error_headers(&hs), body, len);
        free(body);
        return;
    }
    const char *owhy = NULL;
    if (!pg_origin_allowed(r, &owhy)) {
        pg_limits_count(PG_REFUSE_ORIGIN);
        pg_http_error(r->c, false, 403, owhy);
        return;
    }
    char cursor[64];
    ssize_t cl = pg_req_query(r, "last_event_id", cursor, sizeof cursor);
    if (cl == -2) {
        pg_req_error(r, 400, "malformed last_event_id");
        return;
    }
    if (cl >= 0 && !hs.json) {
        pg_req_error(r, 400, "resuming with last_event_id needs the pushgate.v1+json subprotocol "
                             "(a raw subscriber gets payloads only)");
        return;
    }
    struct pg_auth_result auth;
    int verdict = pg_auth_check(r, t, &auth);
    if (verdict == PG_AUTH_PENDING)
        return;              /* auth.c owns the connection and replays r */
    struct pg_conn *c = r->c;
    struct pg_ws *w = pg_xcalloc(1, sizeof *w);
    w->c = c;
    w->json = hs.json;
    w->sub.ops = &ws_ops;
    w->sub.fmt = (uint8_t)(hs.json ? fmt_json : fmt_raw);
    w->deflate = hs.deflate;
    if (hs.deflate)
        w->sub.fmt = (uint8_t)(hs.json ? fmt_json_z : fmt_raw_z);
    w->last_ping_ms = pg_now_ms();
    pg_ws_parser_init(&w->parser);
    if (t->pubsub)
        w->pub_channel = pg_xstrndup(t->names[0], t->lens[0]);

    char head[512];
    int hl = pg_ws_handshake_response(&hs, NULL, head, sizeof head);
    pg_conn_send_copy(c, head, (size_t)hl);
    c->h = &ws_handler;
    c->proto = w;
    if (verdict == PG_AUTH_DENY) {
        ws_close(w, PG_WS_CLOSE_POLICY, auth.why);   /* a browser sees 1008, not a refused upgrade */
        return;
    }
    w->auth_expires_ms = auth.expires_ms;
    const char *why = NULL;
    w->replaying = true;
    int sub_rc = pg_hub_subscribe(&w->sub, t->names, t->lens, t->n, cl >= 0 ? cursor : NULL,
                         cl >= 0 ? (size_t)cl : 0, &why);
    w->replaying = false;
    if (sub_rc < 0) {
        ws_close(w, cl >= 0 ? PG_WS_CLOSE_POLICY : PG_WS_CLOSE_TRY_AGAIN, why);
        return;
    }
    if (w->sub.replay_full)
        ws_close(w, PG_WS_CLOSE_TRY_AGAIN, "history larger than subscriber_buffer_max: resume from the last id");
    char peer[64];
    pg_log_debug("conn %llu: websocket %s from %s, %zu channel(s)%s", (unsigned long long)c->id,
                 t->pubsub ? "pubsub" : "subscriber", pg_conn_peer(c, peer, sizeof peer), t->n,
                 hs.json ? ", " PG_WS_SUBPROTOCOL_JSON : "");
}

/* A v1+json client message: {"event": name or null (optional), "data": string}. */
static bool parse_client_json(const char *p, size_t n, char **event, char **data, size_t *data_len,
                              const char **why)
{
    struct pg_json *root = NULL;
    if (pg_json_parse(p, n, pg_srv.cfg->max_message_size + 64, 8, &root, why) != PG_JSON_OK)
        return false;
    bool ok = false;
    const struct pg_json *ev = pg_json_get(root, "event");
    const struct pg_json *d = pg_json_get(root, "data");
    if (root->type != PG_JSON_OBJECT || !d || d->type != PG_JSON_STRING)
        *why = "expected a JSON object with a string \"data\"";
    else if (ev && ev->type != PG_JSON_STRING && ev->type != PG_JSON_NULL)
        *why = "\"event\" must be a string or null";
    else {
        *data = pg_xstrndup(d->str, d->len);
        *data_len = d->len;
        *event = ev && ev->type == PG_JSON_STRING ? pg_xstrndup(ev->str, ev->len) : NULL;
        ok = true;
    }
    pg_json_free(root);
    return ok;
}
