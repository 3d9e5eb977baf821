/* skeleton.c — a commented minimal transport to copy when adding a new
 * way for browsers (or anything else) to subscribe. It compiles with every
 * build but is linked into nothing.
 *
 * This one streams each message body followed by "\n" as text/plain over
 * a response that never ends ("curl -N" friendly). It shows every piece a
 * transport needs and nothing more:
 *   1. a wire format, registered once at start-up, encoded ONCE per message
 *      by the hub before fan-out (never per subscriber);
 *   2. a struct whose first member is struct pg_subscriber, and one
 *      static const pg_subscriber_ops table (deliver, gap, deleted,
 *      shutdown) — the hub's only view of us;
 *   3. a pg_conn_handler for the connection after the request (input,
 *      EOF, freeing), switched in with c->h / c->proto;
 *   4. a start function called from fallback.c's dispatch with the parsed
 *      channels and cursor.
 *
 * Invariants every transport keeps (DESIGN I2, I4; subscriber.h):
 *   - ops never free or unsubscribe: the hub may be walking a channel
 *     list. Mark the connection closing (pg_conn_close or
 *     pg_conn_close_after_flush) and let on_free unsubscribe later.
 *   - deliver queues a reference (pg_conn_send_msg), never a copy.
 *   - bound what a slow reader costs: subscriber_buffer_max.
 *
 * To make it real: add a transport= value in fallback_query.c, call
 * pg_skel_init() from pg_fallback_init() and pg_skel_start() from
 * fb_subscribe() in fallback.c (after the Origin rule and pg_auth_check:
 * the start function only ever sees allowed requests), and list the file
 * in fallback/fallback.am. */
#include "fallback.h"
#include "fallback_query.h"
#include "buf.h"
#include "config.h"
#include "hub.h"
#include "message.h"
#include "server.h"
#include "util.h"

#include <stdlib.h>

void pg_skel_init(void);
void pg_skel_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o);

/* 2. Our state. The hub hands ops a struct pg_subscriber *; because it is
 * the first member we can cast it back. */
struct pg_skel {
    struct pg_subscriber sub;
    struct pg_conn *c;
    bool ending;        /* the end is queued: queue nothing more */
};

static int fmt_skel = -1;

/* 1. The wire format: the bytes every subscriber of this format gets for m.
 * Runs once per message (in the hub), the result is shared by reference. */
static void encode_skel(const struct pg_message *m, struct pg_buf *out)
{
    pg_buf_reserve(out, m->body_len + 1);
    pg_buf_add(out, m->body, m->body_len);
    pg_buf_add(out, "\n", 1);
}

void pg_skel_init(void)
{
    /* Start-up only, before any message exists. */
    fmt_skel = pg_format_register("skeleton", encode_skel);
}

static void skel_end(struct pg_skel *k)
{
    if (k->ending)
        return;
    k->ending = true;
    pg_conn_close_after_flush(k->c);   /* write what is queued, then close */
}

static void skel_deliver(struct pg_subscriber *s, struct pg_message *m)
{
    struct pg_skel *k = (struct pg_skel *)s;
    const struct pg_encoding *e = &m->enc[s->fmt];   /* built by the hub */
    if (k->ending || (k->c->flags & PG_CONN_CLOSING))
        return;
    if (k->c->q_len && k->c->q_bytes + e->len > pg_srv.cfg->subscriber_buffer_max) {
        pg_conn_drop_queued(k->c);     /* slow reader: drop, close, let it resume */
        k->ending = true;
        pg_conn_close(k->c);
        return;
    }
    pg_conn_send_msg(k->c, m, e->data, e->len);   /* a reference, not a copy */
}

static void skel_gap(struct pg_subscriber *s, const char *const *channels, size_t n, const char *cursor)
{
    /* A plain text stream cannot say "you missed something": a real
     * transport tells the client (see sse.c, longpoll.c). */
}

static void skel_deleted(struct pg_subscriber *s, const char *channel, size_t remaining)
{
    if (remaining == 0)
        skel_end((struct pg_skel *)s);
}

static void skel_shutdown(struct pg_subscriber *s)
{
    skel_end((struct pg_skel *)s);
}

static const struct pg_subscriber_ops skel_ops = {
    .name = "skeleton",
    .deliver = skel_deliver,
    .gap = skel_gap,
    .deleted = skel_deleted,
    .shutdown = skel_shutdown,
};

/* 3. The connection after the request. */
static size_t skel_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    return len;   /* the client has nothing more to say: discard */
}

static void skel_on_eof(struct pg_conn *c)
{
    pg_conn_close(c);   /* reaped after the loop; on_free runs then */
}

static void skel_on_free(struct pg_conn *c)
{
    struct pg_skel *k = c->proto;
    pg_hub_unsubscribe(&k->sub);   /* safe here: never called during fan-out */
    free(k);
    c->proto = NULL;
}

static const struct pg_conn_handler skel_handler = {
    .name = "skeleton",
    .on_data = skel_on_data,
    .on_eof = skel_on_eof,
    .on_free = skel_on_free,
};

/* 4. Start: answer the head, switch the connection to our handler, then
 * subscribe (a cursor replays the missed messages through our ops right
 * away, so everything before must already be queued). */
void pg_skel_start(struct pg_request *r, const struct pg_sub_target *t, const struct pg_fb_opts *o)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    struct pg_conn *c = r->c;
    pg_conn_send_copy(c, head, sizeof head - 1);
    struct pg_skel *k = pg_xcalloc(1, sizeof *k);
    k->c = c;
    k->sub.ops = &skel_ops;
    k->sub.fmt = (uint8_t)fmt_skel;
    c->h = &skel_handler;
    c->proto = k;
    const char *why = NULL;
    const char *cursor = o->has_cursor ? o->cursor : NULL;
    if (pg_hub_subscribe(&k->sub, t->names, t->lens, t->n, cursor, cursor ? strlen(cursor) : 0, &why) < 0)
        skel_end(k);   /* on_free frees k once the connection is reaped */
}
