/* message.h — the refcounted, immutable published message and its
 * once-built wire encodings.
 *
 * Invariants (DESIGN I2): after pg_message_new returns, id, channel, event
 * and body never change. Every holder (the store's history, each
 * subscriber's output queue) owns one reference; the last pg_message_unref
 * frees it. With worker threads (workers.h) a message is shared by several
 * threads, so the count is atomic then (a plain increment with one worker). Encodings are built at most once per format, in the hub thread,
 * before fan-out (pg_message_encode), and are shared by every subscriber
 * that uses that format: a delivery never copies the payload.
 *
 * Formats are registered by the transports at start-up (pg_format_register),
 * so the hub never knows which transport needs which bytes (DESIGN I1). */
#ifndef PG_MESSAGE_H
#define PG_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_FORMAT_MAX 8

struct pg_message;
struct pg_buf;

/* Builds the encoding of m into out. Called once per (message, format). */
typedef void (*pg_format_encode_fn)(const struct pg_message *m, struct pg_buf *out);

/* Registers a wire format; returns its id (0..PG_FORMAT_MAX-1). Call at
 * start-up only, before any message exists. Aborts when the table is full. */
int pg_format_register(const char *name, pg_format_encode_fn encode);
const char *pg_format_name(int fmt);

struct pg_encoding {
    char *data;   /* NULL until built */
    uint32_t len;
};

struct pg_message {
    uint32_t refs;
    bool binary;              /* body is not valid UTF-8 */
    uint8_t id_len;
    uint8_t event_len;        /* 0: no event name */
    uint16_t channel_len;
    uint64_t seq;             /* global sequence within the store's epoch */
    uint64_t created_ms;      /* monotonic ms, for history_ttl */
    uint64_t created_wall_ns; /* wall clock, for publish-to-delivery latency */
    const char *id;           /* "<epoch>-<seq>", in this allocation */
    const char *channel;      /* in this allocation */
    const char *event;        /* in this allocation, or NULL */
    const char *body;         /* in this allocation */
    size_t body_len;
    char *dedup_key;          /* heap or NULL (spool entries) */
    size_t mem;               /* bytes counted against history_memory_max */
    /* store-private links (the memory store's global age list and owner) */
    struct pg_message *age_prev, *age_next;
    void *store_owner;
    struct pg_encoding enc[PG_FORMAT_MAX];
};

/* Creates a message with refs = 1. The id is assigned later by the store
 * through pg_message_set_id (before any encoding and before fan-out). */
struct pg_message *pg_message_new(const char *channel, size_t channel_len,
                                  const char *event, size_t event_len,
                                  const void *body, size_t body_len);
/* Sets seq and the id string "<epoch>-<seq>". Only before the first encode. */
void pg_message_set_id(struct pg_message *m, const char *epoch, uint64_t seq);
extern bool pg_threaded;   /* workers.h */
static inline struct pg_message *pg_message_ref(struct pg_message *m)
{
    if (pg_threaded)
        __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    else
        m->refs++;
    return m;
}
void pg_message_unref(struct pg_message *m);
/* Builds format fmt if not built yet; returns the encoding. Hub thread only.
 * Adds the encoding's size to m->mem. */
const struct pg_encoding *pg_message_encode(struct pg_message *m, int fmt);

/* The JSON envelope {"id","channel","event","data"[,"encoding"]} shared by
 * the pushgate.v1+json, SSE json and long-poll formats. */
void pg_message_json_envelope(const struct pg_message *m, struct pg_buf *out);

/* Live message count and bytes (all messages, not only retained ones). */
extern uint64_t pg_messages_alive;

#endif
