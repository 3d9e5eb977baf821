/* fallback.c — the router's hooks for everything on /sub and /pubsub that
 * is not a WebSocket upgrade: picks SSE or long-poll for a subscribe GET,
 * publishes POST /pubsub bodies, answers the CORS preflight. The Origin
 * rule (origin.h) runs first on each; the transports live in sse.c and
 * longpoll.c.
 *
 * Order of checks on a subscribe: Origin (403), the request options (400),
 * JSONP only on public channels (403), then authorization (auth.h: it may
 * take the connection for an asynchronous session check and replay the
 * request, which then comes through here again and is answered at once).
 *
 * POST /pubsub/<channel> follows the WebSocket client-publishing rules:
 * the router already checked client_publish; the Origin rule, the event
 * name (X-Event header or ?event=), authorization (a token's "publish"
 * claim or the session check), max_message_size and pubsub_rate_limit
 * apply; the answer is the publish API's.
 *
 * Deliberate departure: pubsub_rate_limit counts per WebSocket connection,
 * but a POST client may open a connection per message, so here it counts
 * per client address (behind a trusted proxy, the address the proxy
 * appended to X-Forwarded-For) in a small fixed table; when the table is
 * full of addresses active in the current second, a new address is not
 * limited rather than evicting an active one. */
#include "conn_limits.h"
#include "fallback.h"
#include "fallback_query.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "names.h"
#include "origin.h"
#include "publish.h"
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

#define RATE_SLOTS 1024
#define RATE_PROBE 8
#define CORS_ALLOW_HEADERS \
    "Authorization, Last-Event-ID, X-Event, Content-Type, Accept, Cache-Control, X-Requested-With"

bool pg_fallback_channel_public(const char *name, size_t len)
{
    char ch[PG_CHANNEL_MAX + 1];
    if (len > PG_CHANNEL_MAX)
        return false;
    memcpy(ch, name, len);
    ch[len] = '\0';
    return pg_auth_channel_public(ch);
}

void pg_fallback_error(const struct pg_request *r, const char *extra, int status, const char *why)
{
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"error\":");
    pg_buf_json_str(&b, why, strlen(why));
    pg_buf_adds(&b, "}\n");
    pg_req_respond(r, status, "application/json", extra, b.p, b.len);
    pg_buf_free(&b);
}

static const char *header(const struct pg_request *r, const char *name, size_t *len)
{
    const struct pg_http_header *h = pg_http_header_find(r->head, name);
    *len = h ? h->value_len : 0;
    return h ? h->value : NULL;
}

/* Runs the Origin rule; on refusal answers 403 and returns false. On
 * success fills cors with the reply's CORS lines. */
static bool origin_gate(const struct pg_request *r, const char *vary_more, struct pg_buf *cors,
                        int *verdict)
{
    const char *why = NULL;
    int v = pg_origin_check(r, &why);
    if (v == PG_ORIGIN_REFUSED) {
        pg_limits_count(PG_REFUSE_ORIGIN);
        char peer[64];
        pg_log_info("conn %llu: %s from %s refused: %s", (unsigned long long)r->c->id,
                    r->path, pg_conn_peer(r->c, peer, sizeof peer), why);
        pg_fallback_error(r, "Vary: Origin\r\n", 403, why);
        return false;
    }
    pg_origin_cors_headers(r, v, vary_more, cors);
    if (verdict)
        *verdict = v;
    return true;
}

static void fb_subscribe(struct pg_request *r, const struct pg_sub_target *t)
{
    struct pg_buf cors = {0};
    if (!origin_gate(r, "Accept, Last-Event-ID", &cors, NULL))
        return;
    size_t al, ll;
    const char *accept = header(r, "Accept", &al);
    const char *lei = header(r, "Last-Event-ID", &ll);
    struct pg_fb_opts o;
    int err = pg_fb_parse(r->head->query, r->head->query_len, accept, al, lei, ll, &o);
    bool public = true;
    for (size_t i = 0; err == PG_FB_OK && i < t->n && o.callback[0]; i++)
        public = public && pg_fallback_channel_public(t->names[i], t->lens[i]);
    struct pg_auth_result auth;
    int av = PG_AUTH_DENY;
    if (err < 0)
        pg_fallback_error(r, cors.p, 400, pg_fb_strerror(err));
    else if (!public)
        pg_fallback_error(r, cors.p, 403, "JSONP is only available for channels that need no authorization");
    else if ((av = pg_auth_check(r, t, &auth)) == PG_AUTH_DENY)
        pg_fallback_error(r, cors.p, auth.status, auth.why);
    else if (av == PG_AUTH_ALLOW && o.transport == PG_FB_SSE)
        pg_sse_start(r, t, &o, cors.p, auth.expires_ms);
    else if (av == PG_AUTH_ALLOW)
        pg_longpoll_start(r, t, &o, cors.p, auth.expires_ms);
    /* PG_AUTH_PENDING: auth.c owns the connection and replays r later */
    pg_buf_free(&cors);
}

/* ---- POST /pubsub ---- */

static struct {
    char key[48];
    uint64_t window_ms;
    uint32_t count;
} rate[RATE_SLOTS];

/* The client's address: the peer, or behind a trusted proxy the last
 * X-Forwarded-For element (the one that proxy appended). */
static void client_key(const struct pg_request *r, char *out, size_t cap)
{
    size_t n;
    const char *xff = header(r, "X-Forwarded-For", &n);
    if (xff && n && pg_origin_peer_trusted(r)) {
        size_t start = n;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        while (start < n && (xff[start] == ' ' || xff[start] == '\t'))
            start++;
        snprintf(out, cap, "%.*s", (int)(n - start), xff + start);
        if (*out)
            return;
    }
    pg_conn_peer(r->c, out, cap);
}

static bool rate_ok(const struct pg_request *r)
{
    uint64_t limit = pg_srv.cfg->pubsub_rate_limit, now = pg_now_ms();
    if (!limit)
        return true;
    char key[48];
    client_key(r, key, sizeof key);
    uint32_t h = 2166136261u;
    for (const char *k = key; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    int free_slot = -1;
    for (int i = 0; i < RATE_PROBE; i++) {
        int s = (int)((h + (uint32_t)i) % RATE_SLOTS);
        if (strcmp(rate[s].key, key) == 0) {
            if (now - rate[s].window_ms >= 1000) {
                rate[s].window_ms = now;
                rate[s].count = 0;
            }
            return ++rate[s].count <= limit;
        }
        if (free_slot < 0 && (!rate[s].key[0] || now - rate[s].window_ms >= 1000))
            free_slot = s;
    }
    if (free_slot >= 0) {
        snprintf(rate[free_slot].key, sizeof rate[free_slot].key, "%s", key);
        rate[free_slot].window_ms = now;
        rate[free_slot].count = 1;
    }
    return true;
}

/* The event name: X-Event, else ?event=. false (answered 400) when bad. */
static bool read_event(const struct pg_request *r, const char *cors, char *buf, size_t cap,
                       const char **ev, size_t *ev_len)
{
    size_t n;
    const char *h = header(r, "X-Event", &n);
    *ev = NULL;
    *ev_len = 0;
    if (h) {
        *ev = h;
        *ev_len = n;
    } else {
        ssize_t q = pg_req_query(r, "event", buf, cap);
        if (q >= 0) {
            *ev = buf;
            *ev_len = (size_t)q;
        } else if (q == -2) {
            *ev_len = 0;
            *ev = buf;
        }
    }
    if (*ev && !pg_event_name_valid(*ev, *ev_len)) {
        pg_fallback_error(r, cors, 400, PG_EVENT_RULE);
        return false;
    }
    return true;
}

static void fb_pubsub_post(struct pg_request *r, const struct pg_sub_target *t)
{
    struct pg_buf cors = {0};
    if (!origin_gate(r, NULL, &cors, NULL))
        return;
    char evbuf[PG_EVENT_MAX * 3 + 1];
    const char *ev;
    size_t ev_len;
    if (!read_event(r, cors.p, evbuf, sizeof evbuf, &ev, &ev_len)) {
        pg_buf_free(&cors);
        return;
    }
    struct pg_auth_result auth;
    int av = pg_auth_check(r, t, &auth);
    if (av != PG_AUTH_ALLOW || !rate_ok(r)) {
        if (av == PG_AUTH_DENY)
            pg_fallback_error(r, cors.p, auth.status, auth.why);
        else if (av == PG_AUTH_ALLOW) {
            pg_limits_count(PG_REFUSE_RATE);
            pg_fallback_error(r, cors.p, 429, "too many messages: over pubsub_rate_limit");
        }
        pg_buf_free(&cors);   /* PG_AUTH_PENDING: auth.c replays r later */
        return;
    }
    struct pg_publish_req req = {
        .channels = t->names[0], .channels_len = t->lens[0],
        .event = ev, .event_len = ev_len,
        .body = r->body, .body_len = r->body_len,
        .origin = PG_PUB_ORIGIN_CLIENT,
    };
    char *reply = NULL;
    int status = pg_publish(&req, &reply);
    pg_buf_adds(&cors, "Cache-Control: no-store\r\n");
    pg_req_respond(r, status, "application/json", cors.p, reply, strlen(reply));
    free(reply);
    pg_buf_free(&cors);
}

/* ---- OPTIONS ---- */

void pg_fallback_options(struct pg_request *r)
{
    bool pubsub = r->path_len >= 8 && memcmp(r->path, "/pubsub/", 8) == 0;
    const char *methods = pubsub ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS";
    struct pg_buf h = {0};
    int verdict = PG_ORIGIN_NONE;
    if (!origin_gate(r, "Access-Control-Request-Method, Access-Control-Request-Headers", &h, &verdict))
        return;
    pg_buf_addf(&h, "Allow: %s\r\nCache-Control: no-store\r\n", methods);
    size_t n;
    if (verdict > PG_ORIGIN_NONE && header(r, "Access-Control-Request-Method", &n)) {
        pg_buf_addf(&h, "Access-Control-Allow-Methods: %s\r\n"
                        "Access-Control-Allow-Headers: " CORS_ALLOW_HEADERS "\r\n"
                        "Access-Control-Max-Age: 0\r\n",
                    methods);
    }
    pg_req_respond(r, 204, NULL, h.p, NULL, 0);
    pg_buf_free(&h);
}

void pg_fallback_init(void)
{
    /* long-poll first: the hub builds formats in id order, so the bare
     * envelope exists when "sse-json" is built and is reused there */
    pg_longpoll_init();
    pg_sse_init();
    pg_router_set_fallback(fb_subscribe, fb_pubsub_post);
}
