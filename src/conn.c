/* conn.c — one client connection: socket, one event, input buffer only
 * while a message is incomplete, output queue of shared chunks written with
 * writev in one deferred flush pass per loop iteration (see conn.h).
 *
 * Departure from the design card: no bufferevents. A bufferevent costs two
 * evbuffers and two events per connection, and evbuffer_add_reference one
 * allocation per delivery; a ring of (message, pointer, length) chunks
 * with two inline slots costs none for the common one-message case and
 * lets several pending messages leave in one writev. */
#include "conn.h"
#include "access_log.h"
#include "conn_limits.h"
#include "journal.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "tls.h"
#include "util.h"
#include "workers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define LINGER_MS 2000
#define CLOSE_GRACE_MS 2000
#define IOV_BATCH 64

/* One per worker (workers.h): its connections, written only by its thread. */
struct layer {
    struct event_base *base;
    struct event flush_ev;
    struct pg_conn *all;
    struct pg_conn *flush_head;
    size_t count;                 /* changed and summed holding the process lock */
    uint64_t next_id;
    uint8_t rbuf[READ_CHUNK];
};

static __thread struct layer *cl;              /* this thread's */
static struct layer *layers[PG_WORKERS_MAX];   /* every worker's, by index */

static void conn_event(evutil_socket_t fd, short what, void *arg);
static void flush_pass(evutil_socket_t fd, short what, void *arg);

void pg_conn_init(struct event_base *base)
{
    cl = pg_xcalloc(1, sizeof *cl);
    layers[pg_worker_self] = cl;
    cl->base = base;
    /* ids stay unique across workers: worker w counts from w << 48 */
    cl->next_id = (uint64_t)pg_worker_self << 48;
    event_assign(&cl->flush_ev, base, -1, 0, flush_pass, NULL);
}

static void set_events(struct pg_conn *c, short what)
{
    event_del(&c->ev);
    event_assign(&c->ev, cl->base, c->fd, what | EV_PERSIST, conn_event, c);
    event_add(&c->ev, NULL);
}

struct pg_conn *pg_conn_new(int fd, const struct sockaddr *sa, socklen_t salen,
                            const struct pg_conn_handler *h, uint16_t flags)
{
    struct pg_conn *c = pg_xcalloc(1, sizeof *c);
    c->fd = fd;
    c->h = h;
    c->flags = flags;
    c->publish_listener = (flags & PG_CONN_PUBLISH) != 0;
    c->id = ++cl->next_id;
    c->created_ms = c->last_read_ms = pg_now_ms();
    c->q = c->q_inline;
    c->q_cap = PG_ARRAY_LEN(c->q_inline);
    c->family = (uint8_t)sa->sa_family;
    if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in))
        memcpy(c->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6))
        memcpy(c->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    if (sa->sa_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (flags & PG_CONN_TLS)
        c->ssl = pg_tls_new(fd);
    c->next = cl->all;
    if (cl->all)
        cl->all->prev = c;
    cl->all = c;
    cl->count++;
    pg_metrics_accepted(flags & PG_CONN_PUBLISH);
    pg_access_conn_open(c);
    event_assign(&c->ev, cl->base, fd, EV_READ | EV_PERSIST, conn_event, c);
    event_add(&c->ev, NULL);
    if ((flags & PG_CONN_TLS) && !c->ssl)
        pg_conn_close(c);
    return c;
}

/* ---- socket I/O, plain or TLS ---- */

#define TLS_STAGE 16384

/* writev, or one SSL_write of the first bytes of iov (OpenSSL has no
 * gather write). A retried SSL_write repeats the same length, as OpenSSL
 * requires; ACCEPT_MOVING_WRITE_BUFFER allows the bytes to move. */
static ssize_t conn_send(struct pg_conn *c, const struct iovec *iov, int n)
{
    if (!c->ssl)
        return writev(c->fd, iov, n);
    static __thread char stage[TLS_STAGE];
    size_t want = c->tls_retry_len ? c->tls_retry_len : sizeof stage, len = 0;
    for (int i = 0; i < n && len < want; i++) {
        size_t k = PG_MIN(iov[i].iov_len, want - len);
        memcpy(stage + len, iov[i].iov_base, k);
        len += k;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, stage, (int)len);
    if (r > 0) {
        c->tls_retry_len = 0;
        return r;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        c->tls_retry_len = (uint32_t)len;
        errno = EAGAIN;
        return -1;
    }
    errno = EPIPE;
    return -1;
}

static ssize_t conn_recv(struct pg_conn *c, void *buf, size_t len)
{
    if (!c->ssl)
        return read(c->fd, buf, len);
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, (int)PG_MIN(len, INT32_MAX));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        pg_log_debug("conn %llu: TLS error: %s", (unsigned long long)c->id,
                     ERR_reason_error_string(ERR_peek_error()) ? ERR_reason_error_string(ERR_peek_error()) : "closed");
        errno = ECONNRESET;
        return -1;
    }
}

const char *pg_conn_peer(const struct pg_conn *c, char *buf, size_t buflen)
{
    if (c->fwd_family)
        return inet_ntop(c->fwd_family, c->fwd_addr, buf, (socklen_t)buflen);
    if (c->family == AF_INET)
        return inet_ntop(AF_INET, c->addr, buf, (socklen_t)buflen);
    if (c->family == AF_INET6)
        return inet_ntop(AF_INET6, c->addr, buf, (socklen_t)buflen);
    snprintf(buf, buflen, "unix");
    return buf;
}

size_t pg_conn_count(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < pg_n_workers; i++)
        n += pg_conn_count_worker(i);
    return n;
}

size_t pg_conn_count_worker(unsigned w)
{
    return w < pg_n_workers && layers[w] ? layers[w]->count : 0;
}

/* ---- output queue ---- */

static void want_flush(struct pg_conn *c)
{
    if (c->flags & PG_CONN_IN_FLUSH)
        return;
    c->flags |= PG_CONN_IN_FLUSH;
    if (!cl->flush_head)
        event_active(&cl->flush_ev, 0, 0);
    c->flush_next = cl->flush_head;
    cl->flush_head = c;
}

static void chunk_release(struct pg_chunk *k)
{
    if (k->msg)
        pg_message_unref(k->msg);
    else if (k->owned)
        free((void *)k->data);
}

static void queue_push(struct pg_conn *c, struct pg_message *m, const char *data, uint32_t len,
                       bool owned)
{
    if (c->q_len == c->q_cap) {
        uint32_t cap = c->q_cap * 2;
        struct pg_chunk *q = pg_xmalloc(cap * sizeof *q);
        for (uint32_t i = 0; i < c->q_len; i++)
            q[i] = c->q[(c->q_head + i) % c->q_cap];
        if (c->q != c->q_inline)
            free(c->q);
        c->q = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    struct pg_chunk *k = &c->q[(c->q_head + c->q_len) % c->q_cap];
    k->msg = m;
    k->data = data;
    k->len = len;
    k->owned = owned;
    c->q_len++;
    c->q_bytes += len;
    want_flush(c);
}

void pg_conn_send_msg(struct pg_conn *c, struct pg_message *m, const char *data, uint32_t len)
{
    if (c->flags & PG_CONN_CLOSING)
        return;
    queue_push(c, pg_message_ref(m), data, len, false);
}

void pg_conn_send_owned(struct pg_conn *c, char *data, size_t len)
{
    if ((c->flags & PG_CONN_CLOSING) || len == 0) {
        free(data);
        return;
    }
    queue_push(c, NULL, data, (uint32_t)len, true);
}

void pg_conn_send_copy(struct pg_conn *c, const void *data, size_t len)
{
    if (c->flags & PG_CONN_CLOSING)
        return;
    char *p = pg_xmalloc(len);
    memcpy(p, data, len);
    queue_push(c, NULL, p, (uint32_t)len, true);
}

void pg_conn_send_static(struct pg_conn *c, const char *data, size_t len)
{
    if ((c->flags & PG_CONN_CLOSING) || len == 0)
        return;
    queue_push(c, NULL, data, (uint32_t)len, false);
}

static void queue_pop(struct pg_conn *c)
{
    struct pg_chunk *k = &c->q[c->q_head];
    c->q_bytes -= k->len;
    chunk_release(k);
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    c->q_off = 0;
}

static void queue_shrink(struct pg_conn *c)
{
    if (c->q_len || c->q == c->q_inline)
        return;
    free(c->q);
    c->q = c->q_inline;
    c->q_cap = PG_ARRAY_LEN(c->q_inline);
    c->q_head = 0;
}

void pg_conn_drop_queued(struct pg_conn *c)
{
    uint32_t keep = c->q_off ? 1 : 0;
    while (c->q_len > keep) {
        uint32_t last = (c->q_head + c->q_len - 1) % c->q_cap;
        c->q_bytes -= c->q[last].len;
        if (c->q[last].msg)
            pg_metrics_drop(PG_DROP_UNSENT);
        chunk_release(&c->q[last]);
        c->q_len--;
    }
    queue_shrink(c);
}

/* Writes as much of the queue as the socket takes. Returns -1 on a socket
 * error (the connection is then closing). */
static int conn_write(struct pg_conn *c)
{
    pg_journal_sync_if_pending();   /* group commit: nothing leaves before its journal records are durable */
    while (c->q_len) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (uint32_t i = 0; i < c->q_len && n < IOV_BATCH; i++, n++) {
            const struct pg_chunk *k = &c->q[(c->q_head + i) % c->q_cap];
            uint32_t off = i == 0 ? c->q_off : 0;
            iov[n].iov_base = (void *)(k->data + off);
            iov[n].iov_len = k->len - off;
        }
        ssize_t w = conn_send(c, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!(c->flags & PG_CONN_WRITE_WAIT)) {
                    c->flags |= PG_CONN_WRITE_WAIT;
                    set_events(c, EV_READ | EV_WRITE);
                }
                return 0;
            }
            pg_lock();
            pg_log_debug("conn %llu: write: %s", (unsigned long long)c->id, strerror(errno));
            pg_access_conn_reason(c, "write error");
            pg_unlock();
            pg_conn_close(c);
            return -1;
        }
        size_t left = (size_t)w;
        pg_metrics_bytes_out((uint64_t)w);
        c->bytes_out += (uint64_t)w;
        while (left && c->q_len) {
            struct pg_chunk *k = &c->q[c->q_head];
            size_t rest = k->len - c->q_off;
            if (left < rest) {
                c->q_off += (uint32_t)left;
                left = 0;
            } else {
                left -= rest;
                if (k->msg)
                    pg_metrics_written(k->msg->created_wall_ns);   /* latency at write time */
                queue_pop(c);
            }
        }
    }
    queue_shrink(c);
    if (c->flags & PG_CONN_WRITE_WAIT) {
        c->flags &= (uint16_t)~PG_CONN_WRITE_WAIT;
        set_events(c, EV_READ);
    }
    if (c->flags & PG_CONN_CLOSE_AFTER) {
        c->flags &= (uint16_t)~PG_CONN_CLOSE_AFTER;
        c->flags |= PG_CONN_LINGER;
        c->deadline_ms = pg_now_ms() + LINGER_MS;
        if (c->ssl)
            SSL_shutdown(c->ssl);
        shutdown(c->fd, SHUT_WR);
    } else if (c->h->on_drain) {
        pg_lock();
        c->h->on_drain(c);
        pg_unlock();
    }
    return 0;
}

/* ---- closing and reaping ---- */

void pg_conn_close(struct pg_conn *c)
{
    if (c->flags & PG_CONN_CLOSING)
        return;
    c->flags |= PG_CONN_CLOSING;
    event_del(&c->ev);
    want_flush(c);
}

void pg_conn_close_after_flush(struct pg_conn *c)
{
    if (c->flags & (PG_CONN_CLOSING | PG_CONN_LINGER | PG_CONN_CLOSE_AFTER))
        return;
    c->flags |= PG_CONN_CLOSE_AFTER;
    /* a peer that never reads cannot hold the connection: the tick closes
     * it once this grace is over, written or not */
    c->deadline_ms = pg_now_ms() + CLOSE_GRACE_MS;
    want_flush(c);
}

static void conn_free(struct pg_conn *c)
{
    pg_access_conn_close(c);
    if (c->h->on_free)
        c->h->on_free(c);
    event_del(&c->ev);
    if (c->ssl)
        SSL_free(c->ssl);
    close(c->fd);
    pg_limits_release(c->family, c->addr, true);
    if (c->fwd_family)
        pg_limits_release(c->fwd_family, c->fwd_addr, false);
    while (c->q_len) {
        if (c->q[c->q_head].msg)
            pg_metrics_drop(PG_DROP_UNSENT);
        queue_pop(c);
    }
    queue_shrink(c);
    free(c->in);
    if (c->prev)
        c->prev->next = c->next;
    else
        cl->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cl->count--;
    free(c);
}

/* Runs without the process lock (workers.h): it writes this worker's own
 * queues; conn_write takes the lock for on_drain and the journal, and the
 * reaping below holds it (on_free unsubscribes, limits are shared). */
static void flush_pass(evutil_socket_t fd, short what, void *arg)
{
    /* Handlers may queue more output (on_drain) while we walk: take the
     * list and loop until it stays empty. */
    pg_metrics_clock_refresh();   /* one clock reading per pass (latency) */
    while (cl->flush_head) {
        struct pg_conn *list = cl->flush_head;
        cl->flush_head = NULL;
        struct pg_conn *reap = NULL;
        while (list) {
            struct pg_conn *c = list;
            list = c->flush_next;
            c->flags &= (uint16_t)~PG_CONN_IN_FLUSH;
            if (!(c->flags & PG_CONN_CLOSING) && !(c->flags & PG_CONN_WRITE_WAIT))
                conn_write(c);
            if (c->flags & PG_CONN_CLOSING) {
                c->flush_next = reap;
                reap = c;
            }
        }
        if (!reap)
            continue;
        pg_lock();
        while (reap) {
            struct pg_conn *c = reap;
            reap = c->flush_next;
            if (c->flags & PG_CONN_IN_FLUSH) {
                /* re-queued meanwhile: unlink from the new list first */
                struct pg_conn **pp = &cl->flush_head;
                while (*pp && *pp != c)
                    pp = &(*pp)->flush_next;
                if (*pp)
                    *pp = c->flush_next;
            }
            conn_free(c);
        }
        pg_unlock();
    }
}

/* ---- input ---- */

static void process_input(struct pg_conn *c, uint8_t *data, size_t len)
{
    while (len && !(c->flags & (PG_CONN_CLOSING | PG_CONN_LINGER))) {
        const struct pg_conn_handler *h = c->h;
        size_t used = h->on_data(c, data, len);
        data += used;
        len -= used;
        if (used == 0 && h == c->h)
            break;
    }
    if (c->flags & (PG_CONN_CLOSING | PG_CONN_LINGER))
        len = 0;
    /* keep the unconsumed tail; data may point into c->in itself */
    if (len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        return;
    }
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        memmove(c->in, data, len);
    } else {
        if (c->in_cap < len) {
            free(c->in);
            c->in_cap = (uint32_t)len;
            c->in = pg_xmalloc(c->in_cap);
        }
        memcpy(c->in, data, len);
    }
    c->in_len = (uint32_t)len;
}

static void conn_read(struct pg_conn *c)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t r;
        uint8_t *dst;
        size_t room;
        if (c->in_len) {
            if (c->in_cap - c->in_len < 4096) {
                c->in_cap = c->in_cap * 2 < c->in_len + 16384 ? c->in_len + 16384 : c->in_cap * 2;
                c->in = pg_xrealloc(c->in, c->in_cap);
            }
            dst = c->in + c->in_len;
            room = c->in_cap - c->in_len;
        } else {
            dst = cl->rbuf;
            room = sizeof cl->rbuf;
        }
        r = conn_recv(c, dst, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                pg_access_conn_reason(c, "read error");
                pg_conn_close(c);
            }
            return;
        }
        if (r == 0) {
            if (!(c->flags & PG_CONN_LINGER))
                pg_access_conn_reason(c, "peer closed");
            if ((c->flags & PG_CONN_LINGER) || !c->h->on_eof)
                pg_conn_close(c);
            else {
                event_del(&c->ev);
                c->h->on_eof(c);
            }
            return;
        }
        c->last_read_ms = pg_now_ms();
        if (c->flags & PG_CONN_LINGER)
            continue;           /* discard: we already said goodbye */
        if (c->in_len) {
            c->in_len += (uint32_t)r;
            process_input(c, c->in, c->in_len);
        } else {
            process_input(c, dst, (size_t)r);
        }
        if ((c->flags & PG_CONN_CLOSING) || ((size_t)r < room && !(c->ssl && SSL_pending(c->ssl))))
            return;
    }
}

PG_LOCKED_EVCB(conn_event)

static void conn_event_locked(evutil_socket_t fd, short what, void *arg)
{
    struct pg_conn *c = arg;
    if (c->flags & PG_CONN_CLOSING)
        return;
    if (what & EV_WRITE) {
        pg_metrics_clock_refresh();
        c->flags &= (uint16_t)~PG_CONN_WRITE_WAIT;
        set_events(c, EV_READ);
        if (conn_write(c) < 0)
            return;
    }
    if (what & EV_READ)
        conn_read(c);
}

void pg_conn_tick_all(uint64_t now_ms)
{
    for (struct pg_conn *c = cl->all; c; c = c->next) {
        if (c->flags & PG_CONN_CLOSING)
            continue;
        if (c->flags & (PG_CONN_LINGER | PG_CONN_CLOSE_AFTER)) {
            if (now_ms >= c->deadline_ms)
                pg_conn_close(c);
            continue;
        }
        if (c->h->on_tick)
            c->h->on_tick(c, now_ms);
    }
}

void pg_conn_foreach(void (*f)(struct pg_conn *c, void *arg), void *arg)
{
    for (struct pg_conn *c = cl->all, *next; c; c = next) {
        next = c->next;
        f(c, arg);
    }
}

void pg_conn_foreach_all(void (*f)(struct pg_conn *c, void *arg), void *arg)
{
    for (unsigned i = 0; i < pg_n_workers; i++)
        if (layers[i])
            for (struct pg_conn *c = layers[i]->all; c; c = c->next)
                f(c, arg);
}

void pg_conn_free_all(void)
{
    for (unsigned i = 0; i < pg_n_workers; i++) {
        cl = layers[i];
        if (!cl)
            continue;
        while (cl->all)
            conn_free(cl->all);
        cl->flush_head = NULL;
        event_del(&cl->flush_ev);
        free(cl);
        layers[i] = NULL;
    }
    cl = NULL;
}
