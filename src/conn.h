/* conn.h — one client connection: a non-blocking socket, one libevent
 * event, an input buffer that exists only while a message is incomplete,
 * and an output queue of shared chunks written with writev.
 *
 * Invariants:
 * - A connection is never freed inside a callback that may be walking a
 *   list (fan-out, tick): pg_conn_close marks it closing and the flush pass
 *   that runs after the current callbacks reaps it (DESIGN I4).
 * - Output is a queue of references: a queued message chunk holds one
 *   message reference, released when written or dropped. Writes are
 *   deferred to one flush pass per loop iteration, so several messages
 *   queued in one iteration leave in one writev.
 * - Idle connections hold no input buffer and no heap output queue: the
 *   queue has two inline slots, and the input buffer is freed once empty.
 * - With worker threads (workers.h) a connection belongs to the worker that
 *   accepted it: only that thread touches it. The functions below act on
 *   the calling thread's connections unless their name says _all. */
#ifndef PG_CONN_H
#define PG_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct pg_conn;
struct pg_message;
struct pg_listener;

struct pg_conn_handler {
    const char *name;
    /* New input in data[0..len) (mutable, e.g. for in-place unmasking).
     * Returns the bytes consumed; 0 means "need more input" unless the
     * handler switched c->h (then the rest goes to the new handler). */
    size_t (*on_data)(struct pg_conn *c, uint8_t *data, size_t len);
    /* Called about once per tick interval: timeouts, pings. Optional. */
    void (*on_tick)(struct pg_conn *c, uint64_t now_ms);
    /* The output queue became empty. Optional. */
    void (*on_drain)(struct pg_conn *c);
    /* The peer closed its side (EOF). Optional; default closes. */
    void (*on_eof)(struct pg_conn *c);
    /* Frees c->proto (and unsubscribes). Called once, from the reaper. */
    void (*on_free)(struct pg_conn *c);
};

struct pg_chunk {
    struct pg_message *msg;   /* reference held, or NULL */
    const char *data;
    uint32_t len;
    bool owned;               /* msg == NULL: data is heap memory we free (else static) */
};

enum {
    PG_CONN_CLOSING = 1 << 0,      /* reap at the next flush pass; no more I/O */
    PG_CONN_CLOSE_AFTER = 1 << 1,  /* half-close once the queue is written */
    PG_CONN_WRITE_WAIT = 1 << 2,   /* EV_WRITE registered: socket buffer full */
    PG_CONN_IN_FLUSH = 1 << 3,     /* on the pending-flush list */
    PG_CONN_LINGER = 1 << 4,       /* write side shut: drain input until EOF */
    PG_CONN_PUBLISH = 1 << 5,      /* accepted on a publish listener */
    PG_CONN_HTTP_MID = 1 << 6,     /* part of an HTTP request has arrived */
    PG_CONN_TLS = 1 << 7,          /* accepted on a tls: listener */
};

struct pg_conn {
    struct event ev;
    const struct pg_conn_handler *h;
    void *proto;                   /* handler state */
    struct pg_conn *prev, *next;   /* all connections */
    struct pg_conn *flush_next;    /* pending-flush list */
    uint8_t *in;                   /* unconsumed input, NULL when none */
    uint32_t in_len, in_cap;
    struct pg_chunk *q;            /* ring: q_inline or heap */
    uint32_t q_cap, q_head, q_len;
    uint32_t q_off;                /* bytes of the head chunk already written */
    size_t q_bytes;                /* bytes queued, for subscriber_buffer_max */
    struct pg_chunk q_inline[2];
    uint64_t id;
    uint64_t created_ms;
    uint64_t last_read_ms;
    uint64_t deadline_ms;          /* handler-defined (header timeout, linger) */
    uint64_t bytes_out;            /* written to the socket (access log) */
    struct ssl_st *ssl;            /* TLS session, NULL on plain sockets */
    uint32_t tls_retry_len;        /* length of an SSL_write to repeat, 0 when none */
    int fd;
    uint16_t flags;
    uint8_t family;                /* AF_INET, AF_INET6, AF_UNIX */
    uint8_t addr[16];              /* socket peer address (limits, trusted proxies) */
    uint8_t fwd_family;            /* 0, or the X-Forwarded-For client of a trusted proxy */
    uint8_t fwd_addr[16];
    bool publish_listener;         /* = PG_CONN_PUBLISH, never changes: read by /metrics
                                      from other threads, unlike flags */
};

/* This worker's connection layer, on its loop (call on the worker's thread). */
void pg_conn_init(struct event_base *base);
/* Wraps an accepted socket; starts with handler h. */
struct pg_conn *pg_conn_new(int fd, const struct sockaddr *sa, socklen_t salen,
                            const struct pg_conn_handler *h, uint16_t flags);

/* Queue output. _msg takes a new reference to m; _owned takes ownership of
 * heap data; _copy copies len bytes (small control frames). */
void pg_conn_send_msg(struct pg_conn *c, struct pg_message *m, const char *data, uint32_t len);
void pg_conn_send_owned(struct pg_conn *c, char *data, size_t len);
void pg_conn_send_copy(struct pg_conn *c, const void *data, size_t len);
/* Queues bytes that outlive every connection (string literals): no copy. */
void pg_conn_send_static(struct pg_conn *c, const char *data, size_t len);
/* Drops every queued chunk that has not started to go out. */
void pg_conn_drop_queued(struct pg_conn *c);
/* Marks c for closing; it is reaped after the current callbacks. */
void pg_conn_close(struct pg_conn *c);
/* Writes what is queued, then half-closes and waits briefly for the peer's
 * EOF before closing (so a final frame or reply is not lost to a reset). */
void pg_conn_close_after_flush(struct pg_conn *c);
/* Formats the peer address ("1.2.3.4", "::1", "unix"). */
const char *pg_conn_peer(const struct pg_conn *c, char *buf, size_t buflen);

/* Calls on_tick of every connection; reaps lingering ones. */
void pg_conn_tick_all(uint64_t now_ms);
/* Applies f to every connection of this worker (shutdown). */
void pg_conn_foreach(void (*f)(struct pg_conn *c, void *arg), void *arg);
/* Applies f to every connection of every worker, holding the process lock;
 * f may only read c->h and c->publish_listener. */
void pg_conn_foreach_all(void (*f)(struct pg_conn *c, void *arg), void *arg);
/* Open connections of all workers / of worker w (holding the lock). */
size_t pg_conn_count(void);
size_t pg_conn_count_worker(unsigned w);
/* Closes every connection of every worker at once (final exit, after the
 * worker threads ended). */
void pg_conn_free_all(void);

#endif
