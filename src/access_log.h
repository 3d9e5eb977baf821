/* access_log.h — the access log (config key access_log; off by default):
 * one line per HTTP request in Combined Log Format plus a duration, and one
 * key=value line per closed connection.
 *
 * Request line (every request the router dispatches, on both listeners):
 *   HOST - - [DD/Mon/YYYY:HH:MM:SS +0000] "METHOD TARGET HTTP/1.x" STATUS BYTES "REFERER" "USER-AGENT" SECONDS
 * HOST is the peer (behind a trusted proxy, its X-Forwarded-For client;
 * "unix" for a unix socket). TARGET is the request-target as sent with the
 * value of every "token" query parameter replaced by [redacted]. Quoted
 * fields escape '"' and '\' with a backslash and bytes outside printable
 * ASCII as \xHH; an absent header is "-". BYTES is the body bytes queued
 * with the answer ("-" for none). SECONDS is the time from dispatch (for a
 * request replayed after a session check: from its first dispatch) to the
 * answer being queued, with microsecond resolution. Times are UTC.
 * When it is written: as soon as the answer is queued. For a WebSocket
 * (101) or SSE stream (200) that is when the stream starts; the close line
 * has the stream's totals. A held long-poll is written when it is
 * answered; a request whose client leaves before any answer gets status
 * 499.
 *
 * Close line (every connection, both listeners):
 *   ts=YYYY-MM-DDTHH:MM:SS.mmmZ event=close conn=ID listener=public|publish peer=HOST
 *   transport=http|websocket|sse|longpoll duration=SECONDS bytes_out=N reason=WHY
 * Values holding a blank, '"', '=' or '\' are double-quoted with '"' and '\'
 * backslash-escaped. transport is the last subscriber transport the
 * connection carried (else what it was at close). reason is the first one
 * recorded ("peer closed", "read error", "write error", "slow consumer", a
 * WebSocket close reason, "client close" when the client sent the close
 * frame), else "server closed" (we ended it after an answer or a stream
 * end), "timeout" (header or idle timeout) or "closed".
 *
 * Invariants: off costs one branch per hook. Lines are buffered and
 * flushed at least once a second and on reopen or close; a connection
 * opened while the log was off gets no close line. Per-connection figures
 * live in a side table indexed by file descriptor (validated by the
 * connection id), because struct pg_conn is not ours to grow; only the
 * bytes written are counted on the connection (c->bytes_out), because the
 * flush pass counts them without the process lock. Every hook runs
 * holding the process lock (workers.h). */
#ifndef PG_ACCESS_LOG_H
#define PG_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_conn;
struct pg_request;

/* Opens (or reopens: SIGHUP) the access log at path, appending; "" or
 * "off" closes it. Returns 0, or -1 with errno set when the file cannot be
 * opened (the previous file then stays in use). */
int pg_access_log_open(const char *path);
/* Flushes and closes (exit). */
void pg_access_log_close(void);
bool pg_access_log_enabled(void);

/* ---- request lines (router.c, longpoll.c) ---- */

struct pg_access_mark {
    bool on;             /* this request is being logged */
    uint32_t q_len;      /* the connection's queue before the answer */
    size_t q_bytes;
    uint64_t start_ns;
    uint64_t start_wall_ms;
};

/* Around one dispatch: begin before routing r, end after. */
void pg_access_begin(const struct pg_request *r, struct pg_access_mark *m);
void pg_access_end(const struct pg_request *r, const struct pg_access_mark *m);
/* Around a later answer to a request that queued nothing when it was
 * dispatched (a held long-poll): no-ops unless such a request is pending
 * on c. */
void pg_access_resume_begin(const struct pg_conn *c, struct pg_access_mark *m);
void pg_access_resume_end(const struct pg_conn *c, const struct pg_access_mark *m);

/* ---- connection figures (conn.c and the transports) ---- */

void pg_access_conn_open(const struct pg_conn *c);
/* Why c is ending; the first reason recorded wins (copied, truncated). */
void pg_access_conn_reason(const struct pg_conn *c, const char *why);
/* c now carries this subscriber transport (a static string). */
void pg_access_conn_transport(const struct pg_conn *c, const char *name);
/* c is being freed: writes its close line. */
void pg_access_conn_close(const struct pg_conn *c);

#endif
