/* tap_conn.c — one web-server connection of the tap: FastCGI records in,
 * one php-fpm call per request, the answer streamed back.
 *
 * Changes the tap makes, and no others: request ids and the keep-conn flag
 * towards php-fpm (each request gets its own php-fpm connection, closed
 * after END_REQUEST, so no answer can be matched to the wrong request and no
 * php-fpm worker is held idle), and removing X-Pushgate-* headers from the
 * answer's head. Header lines are copied byte for byte otherwise.
 * The request body is forwarded as it arrives; a copy of at most
 * tap_body_max bytes of a urlencoded body is kept for form-field rules.
 * When php-fpm cannot be reached the web server gets 502.
 * Back-pressure: over 1 MiB unsent to the web server, reading from
 * php-fpm pauses until the web server has taken most of it. */
#include "bridge/conf.h"
#include "bridge/tap_int.h"
#include "bridge/tap_rules.h"
#include "fcgi_client.h"
#include "fcgi_codec.h"
#include "log.h"
#include "util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define PARAMS_MAX (1u << 20)
#define HEAD_MAX (64u << 10)
#define MAX_HEADERS 100
#define MAX_REQS 64
#define OUT_HIGH (1u << 20)
#define OUT_LOW (256u << 10)

struct tconn;

struct treq {
    struct tconn *c;
    struct treq *next;
    uint16_t id;
    bool keep_conn;
    uint8_t *params;
    size_t params_len;
    bool params_done;
    char **pv;                  /* parsed params: name, value, name, value... */
    size_t npv;
    struct pg_fcgi_call *call;
    uint8_t *early;             /* STDIN seen before PARAMS ended */
    size_t early_len;
    bool early_end;
    char *form;                 /* copy of a urlencoded body, or NULL */
    size_t form_len;
    bool form_over;
    char *head;                 /* answer head as received (kept for rules) */
    size_t head_len;
    bool head_done, sent_any;
    int status;
    struct pg_cgi_header hdr[MAX_HEADERS];
    size_t nhdr;
};

struct tconn {
    struct pg_tap *tap;
    struct bufferevent *bev;
    struct pg_fcgi_decoder dec;
    struct treq *reqs;
    size_t nreqs;
    bool closing, paused;
};

static void send_stream(struct tconn *c, uint8_t type, uint16_t id, const void *p, size_t len)
{
    uint8_t *rec = pg_xmalloc(pg_fcgi_stream_size(len));
    size_t n = pg_fcgi_put_stream(rec, type, id, p, len);
    evbuffer_add(bufferevent_get_output(c->bev), rec, n);
    free(rec);
}

static void send_end(struct tconn *c, uint16_t id, uint32_t app, uint8_t proto)
{
    uint8_t rec[16];
    pg_fcgi_put_end(rec, id, app, proto);
    evbuffer_add(bufferevent_get_output(c->bev), rec, sizeof rec);
}

static const char *req_param(void *ud, const char *name)
{
    struct treq *r = ud;
    for (size_t i = 0; i + 1 < r->npv; i += 2)
        if (strcmp(r->pv[i], name) == 0)
            return r->pv[i + 1];
    return NULL;
}

static void req_free(struct treq *r)
{
    struct tconn *c = r->c;
    for (struct treq **pp = &c->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            c->nreqs--;
            break;
        }
    }
    if (r->call)
        pg_fcgi_call_abort(r->call);
    for (size_t i = 0; i < r->npv; i++)
        free(r->pv[i]);
    free(r->pv);
    free(r->params);
    free(r->early);
    free(r->form);
    free(r->head);
    free(r);
}

static void conn_free(struct tconn *c)
{
    while (c->reqs)
        req_free(c->reqs);
    bufferevent_free(c->bev);
    c->tap->nconns--;
    free(c);
}

/* Frees c when it is closing and everything has been written. */
static bool conn_maybe_close(struct tconn *c)
{
    if (c->closing && !c->reqs && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_free(c);
        return true;
    }
    if (c->closing && !c->reqs)
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    return false;
}

static void set_paused(struct tconn *c, bool paused)
{
    if (c->paused == paused)
        return;
    c->paused = paused;
    for (struct treq *r = c->reqs; r; r = r->next)
        if (r->call)
            pg_fcgi_call_pause(r->call, paused);
}

static void check_backpressure(struct tconn *c)
{
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH)
        set_paused(c, true);
}

/* ---- the answer ---- */

static bool is_pushgate_header(const struct pg_cgi_header *h)
{
    return h->name_len >= 11 && strncasecmp(h->name, "X-Pushgate-", 11) == 0;
}

/* Sends the head without X-Pushgate-* lines, then whatever followed it. */
static void forward_head(struct treq *r, size_t hl)
{
    char *out = pg_xmalloc(r->head_len);
    size_t o = 0;
    for (size_t i = 0; i < r->nhdr; i++) {
        const char *start = r->hdr[i].name;
        const char *nl = memchr(start, '\n', (size_t)(r->head + hl - start));
        size_t line = (size_t)(nl - start) + 1;
        if (!is_pushgate_header(&r->hdr[i])) {
            memcpy(out + o, start, line);
            o += line;
        }
    }
    const char *blank = r->head;
    if (r->nhdr) {
        const char *last = r->hdr[r->nhdr - 1].name;
        blank = (const char *)memchr(last, '\n', (size_t)(r->head + hl - last)) + 1;
    }
    size_t rest = r->head_len - (size_t)(blank - r->head);
    memcpy(out + o, blank, rest);
    o += rest;
    send_stream(r->c, PG_FCGI_STDOUT, r->id, out, o);
    free(out);
}

static void on_stdout(void *ud, const uint8_t *p, size_t n)
{
    struct treq *r = ud;
    r->sent_any = true;
    if (r->head_done) {
        send_stream(r->c, PG_FCGI_STDOUT, r->id, p, n);
        check_backpressure(r->c);
        return;
    }
    r->head = pg_xrealloc(r->head, r->head_len + n + 1);
    memcpy(r->head + r->head_len, p, n);
    r->head_len += n;
    r->nhdr = MAX_HEADERS;
    long hl = pg_cgi_parse_head(r->head, r->head_len, &r->status, r->hdr, &r->nhdr);
    if (hl == PG_FCGI_E_INCOMPLETE && r->head_len < HEAD_MAX)
        return;
    r->head_done = true;
    if (hl < 0) {
        /* not a head we understand: pass it through untouched, no rules */
        r->status = 0;
        r->nhdr = 0;
        send_stream(r->c, PG_FCGI_STDOUT, r->id, r->head, r->head_len);
    } else {
        forward_head(r, (size_t)hl);
        r->head_len = (size_t)hl;   /* keep only the head for rules */
    }
    check_backpressure(r->c);
}

static void on_stderr(void *ud, const uint8_t *p, size_t n)
{
    struct treq *r = ud;
    send_stream(r->c, PG_FCGI_STDERR, r->id, p, n);
}

static const struct pg_cgi_header *find_hdr(const struct treq *r, const char *name)
{
    for (size_t i = 0; i < r->nhdr; i++)
        if (pg_view_eq_ci(r->hdr[i].name, r->hdr[i].name_len, name))
            return &r->hdr[i];
    return NULL;
}

static void header_publish(struct treq *r)
{
    const struct pg_cgi_header *ch = find_hdr(r, "X-Pushgate-Publish");
    if (!ch || !ch->value_len)
        return;
    const struct pg_cgi_header *ev = find_hdr(r, "X-Pushgate-Event");
    const struct pg_cgi_header *da = find_hdr(r, "X-Pushgate-Data");
    char *chan = pg_xstrndup(ch->value, ch->value_len);
    char *event = ev ? pg_xstrndup(ev->value, ev->value_len) : NULL;
    pg_tap_publish(r->c->tap, "X-Pushgate-Publish", chan, event, da ? da->value : "{}",
                   da ? da->value_len : 2);
    free(chan);
    free(event);
}

static void emit_rule(void *ud, const char *rule, const char *channel, const char *event,
                      const char *payload)
{
    struct treq *r = ud;
    pg_tap_publish(r->c->tap, rule, channel, event, payload, strlen(payload));
}

static void run_rules(struct treq *r)
{
    if (r->status < 200 || r->status > 599)
        return;
    header_publish(r);
    const char *uri = req_param(r, "REQUEST_URI");
    char *path = uri ? pg_xstrndup(uri, strcspn(uri, "?")) : pg_xstrdup(req_param(r, "SCRIPT_NAME") ? req_param(r, "SCRIPT_NAME") : "");
    const char *q = req_param(r, "QUERY_STRING");
    struct pg_tap_view v = {
        .method = req_param(r, "REQUEST_METHOD"), .path = path, .query = q ? q : "",
        .form = r->form_over ? NULL : r->form, .form_len = r->form_len, .status = r->status,
        .headers = r->hdr, .nheaders = r->nhdr, .param = req_param, .param_ud = r,
    };
    pg_tap_rules_eval(r->c->tap->rules, &v, emit_rule, r);
    free(path);
}

static void on_end(void *ud, int err, uint32_t app, uint8_t proto, const char *why)
{
    struct treq *r = ud;
    struct tconn *c = r->c;
    r->call = NULL;     /* freed by fcgi_client after we return */
    if (err < 0) {
        pg_log_warn("tap: request %s: %s", req_param(r, "REQUEST_URI") ? req_param(r, "REQUEST_URI") : "?", why);
        if (!r->sent_any) {
            static const char bad[] = "Status: 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n"
                                      "<h1>502 Bad Gateway</h1><p>The application is not available.</p>\n";
            send_stream(c, PG_FCGI_STDOUT, r->id, bad, sizeof bad - 1);
        }
    }
    if (!r->head_done && r->head_len)
        send_stream(c, PG_FCGI_STDOUT, r->id, r->head, r->head_len);
    send_stream(c, PG_FCGI_STDOUT, r->id, NULL, 0);
    send_end(c, r->id, err < 0 ? 0 : app, err < 0 ? PG_FCGI_REQUEST_COMPLETE : proto);
    if (err == 0 && r->head_done)
        run_rules(r);
    if (!r->keep_conn)
        c->closing = true;
    req_free(r);
    conn_maybe_close(c);
}

/* ---- the request ---- */

static int collect_param(void *ud, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
    struct treq *r = ud;
    r->pv = pg_xrealloc(r->pv, (r->npv + 2) * sizeof *r->pv);
    r->pv[r->npv++] = pg_xstrndup((const char *)n, nl);
    r->pv[r->npv++] = pg_xstrndup((const char *)v, vl);
    return 0;
}

static void keep_form(struct treq *r, const uint8_t *p, size_t n)
{
    if (r->form_over || !n)
        return;
    const char *ct = req_param(r, "CONTENT_TYPE");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return;
    if (r->form_len + n > r->c->tap->conf->tap_body_max) {
        r->form_over = true;
        return;
    }
    r->form = pg_xrealloc(r->form, r->form_len + n + 1);
    memcpy(r->form + r->form_len, p, n);
    r->form_len += n;
    r->form[r->form_len] = '\0';
}

static void body_bytes(struct treq *r, const uint8_t *p, size_t n)
{
    if (!r->params_done) {
        r->early = pg_xrealloc(r->early, r->early_len + n);
        memcpy(r->early + r->early_len, p, n);
        r->early_len += n;
        r->early_end |= n == 0;
        return;
    }
    keep_form(r, p, n);
    if (r->call)
        pg_fcgi_call_stdin(r->call, p, n);
}

static void start_call(struct treq *r)
{
    static const struct pg_fcgi_call_cb cb = {on_stdout, on_stderr, on_end};
    const struct pg_bridge_conf *conf = r->c->tap->conf;
    if (pg_fcgi_parse_nv(r->params, r->params_len, collect_param, r) < 0) {
        static const char bad[] = "Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nmalformed FastCGI parameters\n";
        send_stream(r->c, PG_FCGI_STDOUT, r->id, bad, sizeof bad - 1);
        send_stream(r->c, PG_FCGI_STDOUT, r->id, NULL, 0);
        send_end(r->c, r->id, 0, PG_FCGI_REQUEST_COMPLETE);
        req_free(r);
        return;
    }
    r->params_done = true;
    r->call = pg_fcgi_call_start(r->c->tap->base, conf->tap_upstream, r->params, r->params_len, &cb, r,
                                 conf->tap_timeout_ms);
    if (r->c->paused)
        pg_fcgi_call_pause(r->call, true);
    if (r->early_len)
        body_bytes(r, r->early, r->early_len);
    if (r->early_end)
        body_bytes(r, NULL, 0);
}

static struct treq *find_req(struct tconn *c, uint16_t id)
{
    for (struct treq *r = c->reqs; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

static void begin_request(struct tconn *c, uint16_t id, const uint8_t *data, size_t len)
{
    uint16_t role;
    uint8_t flags;
    if (id == 0 || find_req(c, id) || pg_fcgi_parse_begin(data, len, &role, &flags) < 0)
        return;
    if (role != PG_FCGI_RESPONDER || c->nreqs >= MAX_REQS) {
        send_end(c, id, 0, role != PG_FCGI_RESPONDER ? PG_FCGI_UNKNOWN_ROLE : PG_FCGI_OVERLOADED);
        return;
    }
    struct treq *r = pg_xcalloc(1, sizeof *r);
    r->c = c;
    r->id = id;
    r->keep_conn = flags & PG_FCGI_KEEP_CONN;
    r->next = c->reqs;
    c->reqs = r;
    c->nreqs++;
}

static void get_values(struct tconn *c, const uint8_t *data, size_t len)
{
    /* answer the three standard variables we know; ignore the rest */
    uint8_t out[128], *p = out + PG_FCGI_HEADER_LEN;
    size_t n = 0;
    n += pg_fcgi_put_nv(p + n, "FCGI_MAX_CONNS", 14, "1000", 4);
    n += pg_fcgi_put_nv(p + n, "FCGI_MAX_REQS", 13, "1000", 4);
    n += pg_fcgi_put_nv(p + n, "FCGI_MPXS_CONNS", 15, "1", 1);
    pg_fcgi_put_header(out, PG_FCGI_GET_VALUES_RESULT, 0, (uint16_t)n, 0);
    evbuffer_add(bufferevent_get_output(c->bev), out, PG_FCGI_HEADER_LEN + n);
}

static int on_record(void *ud, uint8_t type, uint16_t id, const uint8_t *data, size_t len, int flags)
{
    struct tconn *c = ud;
    struct treq *r = id ? find_req(c, id) : NULL;
    if (type == PG_FCGI_BEGIN_REQUEST) {
        begin_request(c, id, data, len);
    } else if (type == PG_FCGI_GET_VALUES && id == 0) {
        get_values(c, data, len);
    } else if (id == 0 && (flags & PG_FCGI_LAST)) {
        uint8_t rec[16];
        pg_fcgi_put_unknown_type(rec, type);
        evbuffer_add(bufferevent_get_output(c->bev), rec, sizeof rec);
    } else if (!r) {
        return 0;   /* a record for a request we do not know: ignore */
    } else if (type == PG_FCGI_ABORT_REQUEST) {
        send_end(c, id, 0, PG_FCGI_REQUEST_COMPLETE);
        if (!r->keep_conn)
            c->closing = true;
        req_free(r);
    } else if (type == PG_FCGI_PARAMS && !r->params_done) {
        if (r->params_len + len > PARAMS_MAX) {
            pg_log_warn("tap: FastCGI parameters over %u bytes: closing the connection", PARAMS_MAX);
            return 1;
        }
        r->params = pg_xrealloc(r->params, r->params_len + len + 1);
        memcpy(r->params + r->params_len, data, len);
        r->params_len += len;
        if ((flags & PG_FCGI_FIRST) && (flags & PG_FCGI_LAST) && len == 0)
            start_call(r);
    } else if (type == PG_FCGI_STDIN) {
        if (len || ((flags & PG_FCGI_FIRST) && (flags & PG_FCGI_LAST)))
            body_bytes(r, data, len);
    }
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct tconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        bool stopped;
        long used = pg_fcgi_decode(&c->dec, v.iov_base, v.iov_len, on_record, c, &stopped);
        if (used < 0 || stopped) {
            if (used < 0)
                pg_log_warn("tap: %s from the web server: closing the connection",
                            pg_fcgi_strerror((int)used));
            conn_free(c);
            return;
        }
        evbuffer_drain(in, (size_t)used);
    }
    conn_maybe_close(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct tconn *c = arg;
    if (conn_maybe_close(c))
        return;
    if (evbuffer_get_length(bufferevent_get_output(bev)) <= OUT_LOW)
        set_paused(c, false);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn_free(arg);     /* EOF or error: abort everything in flight */
}

void pg_tap_conn_new(struct pg_tap *t, evutil_socket_t fd)
{
    struct tconn *c = pg_xcalloc(1, sizeof *c);
    c->tap = t;
    pg_fcgi_decoder_init(&c->dec);
    c->bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    t->nconns++;
}
