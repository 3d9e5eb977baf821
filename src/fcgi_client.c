/* fcgi_client.c — a FastCGI client request on a libevent bufferevent.
 *
 * Glue only: records are built and parsed by fcgi_codec.c. The request is
 * written into the bufferevent before the connection completes (libevent
 * flushes it once connected). A call ends exactly once: END_REQUEST,
 * error, EOF or timeout all go through finish(), which runs on_end and
 * frees. While a callback runs, `in_cb` defers a free requested by abort
 * until the decoder loop unwinds. */
#include "fcgi_client.h"
#include "fcgi_codec.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

struct pg_fcgi_call {
    struct bufferevent *bev;
    struct event *fail_ev;          /* reports a start-up failure from the loop */
    struct pg_fcgi_decoder dec;
    struct pg_fcgi_call_cb cb;
    void *ud;
    char why[160];
    bool in_cb, dead, done, stdin_ended;
};

void pg_fcgi_params_add(uint8_t **buf, size_t *len, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    size_t need = pg_fcgi_nv_size(nl, vl);
    *buf = pg_xrealloc(*buf, *len + need);
    *len += pg_fcgi_put_nv(*buf + *len, name, nl, value, vl);
}

static void call_free(struct pg_fcgi_call *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->fail_ev)
        event_free(c->fail_ev);
    free(c);
}

static void finish(struct pg_fcgi_call *c, int err, uint32_t app, uint8_t proto, const char *why)
{
    if (c->done)
        return;
    c->done = true;
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (!c->dead && c->cb.on_end) {
        c->in_cb = true;
        c->cb.on_end(c->ud, err, app, proto, why);
        c->in_cb = false;
    }
    c->dead = true;
}

static int on_record(void *ud, uint8_t type, uint16_t id, const uint8_t *data, size_t len, int flags)
{
    struct pg_fcgi_call *c = ud;
    if (id != 1)
        return 0;   /* management records or strays: ignore */
    c->in_cb = true;
    if (type == PG_FCGI_STDOUT && len && c->cb.on_stdout)
        c->cb.on_stdout(c->ud, data, len);
    else if (type == PG_FCGI_STDERR && len && c->cb.on_stderr)
        c->cb.on_stderr(c->ud, data, len);
    c->in_cb = false;
    if (type == PG_FCGI_END_REQUEST) {
        uint32_t app;
        uint8_t proto;
        if (pg_fcgi_parse_end(data, len, &app, &proto) < 0)
            finish(c, -1, 0, 0, "malformed END_REQUEST from the application");
        else
            finish(c, 0, app, proto, NULL);
    }
    return c->dead || c->done;
}

static void on_read_locked(struct bufferevent *bev, void *arg);
static void on_read(struct bufferevent *bev, void *arg)
{
    pg_lock();
    on_read_locked(bev, arg);
    pg_unlock();
}

static void on_read_locked(struct bufferevent *bev, void *arg)
{
    struct pg_fcgi_call *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->dead && !c->done && evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        bool stopped;
        long used = pg_fcgi_decode(&c->dec, v.iov_base, v.iov_len, on_record, c, &stopped);
        if (used < 0) {
            finish(c, -1, 0, 0, pg_fcgi_strerror((int)used));
            break;
        }
        evbuffer_drain(in, (size_t)used);
    }
    if (c->dead)
        call_free(c);
}

static void on_event_locked(struct bufferevent *bev, short what, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    pg_lock();
    on_event_locked(bev, what, arg);
    pg_unlock();
}

static void on_event_locked(struct bufferevent *bev, short what, void *arg)
{
    struct pg_fcgi_call *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_TIMEOUT)
        snprintf(c->why, sizeof c->why, "the application did not answer in time");
    else if (what & BEV_EVENT_EOF)
        snprintf(c->why, sizeof c->why, "the application closed the connection before END_REQUEST");
    else
        snprintf(c->why, sizeof c->why, "connection to the application failed: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    finish(c, -1, 0, 0, c->why);
    call_free(c);
}

PG_LOCKED_EVCB(on_fail)

static void on_fail_locked(evutil_socket_t fd, short what, void *arg)
{
    struct pg_fcgi_call *c = arg;
    finish(c, -1, 0, 0, c->why);
    call_free(c);
}

/* Resolves target into *ss. Returns 0, or -1 with c->why set. */
static int resolve(struct pg_fcgi_call *c, const char *target, struct sockaddr_storage *ss,
                   socklen_t *sl)
{
    const char *path = strncmp(target, "unix:", 5) == 0 ? target + 5 : target;
    if (path[0] == '/') {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        if (strlen(path) >= sizeof sun->sun_path) {
            snprintf(c->why, sizeof c->why, "socket path too long");
            return -1;
        }
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        *sl = sizeof *sun;
        return 0;
    }
    char host[256];
    const char *colon = strrchr(target, ':');
    size_t hl = colon ? (size_t)(colon - target) : 0;
    if (!colon || hl == 0 || hl >= sizeof host) {
        snprintf(c->why, sizeof c->why, "bad application address '%.100s'", target);
        return -1;
    }
    memcpy(host, target[0] == '[' ? target + 1 : target, hl);
    host[target[0] == '[' ? hl - 2 : hl] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(c->why, sizeof c->why, "cannot resolve %.100s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void write_head(struct pg_fcgi_call *c, const uint8_t *params, size_t plen)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    uint8_t begin[16];
    pg_fcgi_put_begin(begin, 1, PG_FCGI_RESPONDER, 0);
    evbuffer_add(out, begin, sizeof begin);
    size_t sz = pg_fcgi_stream_size(plen) + PG_FCGI_HEADER_LEN;
    uint8_t *rec = pg_xmalloc(sz);
    size_t n = plen ? pg_fcgi_put_stream(rec, PG_FCGI_PARAMS, 1, params, plen) : 0;
    n += pg_fcgi_put_stream(rec + n, PG_FCGI_PARAMS, 1, NULL, 0);
    evbuffer_add(out, rec, n);
    free(rec);
}

struct pg_fcgi_call *pg_fcgi_call_start(struct event_base *base, const char *target,
                                        const uint8_t *params, size_t params_len,
                                        const struct pg_fcgi_call_cb *cb, void *ud,
                                        int timeout_ms)
{
    struct pg_fcgi_call *c = pg_xcalloc(1, sizeof *c);
    c->cb = *cb;
    c->ud = ud;
    pg_fcgi_decoder_init(&c->dec);
    struct sockaddr_storage ss = {0};
    socklen_t sl = 0;
    if (resolve(c, target, &ss, &sl) == 0) {
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
        if (timeout_ms > 0) {
            struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
            bufferevent_set_timeouts(c->bev, &tv, &tv);
        }
        write_head(c, params, params_len);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)sl) == 0)
            return c;
        snprintf(c->why, sizeof c->why, "cannot connect to the application at %.100s: %s", target,
                 strerror(errno));
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->fail_ev = event_new(base, -1, 0, on_fail, c);
    event_active(c->fail_ev, EV_TIMEOUT, 1);
    return c;
}

void pg_fcgi_call_stdin(struct pg_fcgi_call *c, const void *p, size_t len)
{
    if (!c->bev || c->done || c->stdin_ended)
        return;
    uint8_t *rec = pg_xmalloc(pg_fcgi_stream_size(len));
    size_t n = pg_fcgi_put_stream(rec, PG_FCGI_STDIN, 1, p, len);
    evbuffer_add(bufferevent_get_output(c->bev), rec, n);
    free(rec);
    c->stdin_ended = len == 0;
}

void pg_fcgi_call_pause(struct pg_fcgi_call *c, bool paused)
{
    if (!c->bev || c->done)
        return;
    if (paused)
        bufferevent_disable(c->bev, EV_READ);
    else
        bufferevent_enable(c->bev, EV_READ);
}

void pg_fcgi_call_abort(struct pg_fcgi_call *c)
{
    c->dead = true;
    c->done = true;
    if (c->in_cb)
        return;     /* freed when the read loop unwinds */
    call_free(c);
}
