/* redis_script.h — what the Redis store says to Redis and how it reads the
 * answers: the Lua scripts (their text and argument layout), the keys, the
 * codec of the pub/sub payloads between nodes, and the reply readers that
 * turn script replies into messages. No I/O and no event2/ include: bytes
 * and parsed replies in, values out (unit-tested in tests/redis/).
 *
 * Keys (one Redis database per pushgate cluster; the pub/sub channels carry
 * the database number because Redis pub/sub ignores databases):
 *   pushgate:epoch          the epoch; created with a random value when missing
 *   pushgate:seq            the one id counter (INCR) for every channel
 *   pushgate:last           hash channel -> last seq published (gap checks)
 *   pushgate:deleted        hash channel -> seq taken by its last DELETE
 *   pushgate:chans          zset channel -> publish time of its newest entry (ms)
 *   pushgate:s:<channel>    the channel's Stream: entry id "<seq>-0", fields
 *                           p (previous seq of the channel), t (publish time,
 *                           Redis clock, ms), e (event or ""), b (body)
 *   pushgate:dedup:<key>    a spool entry's key, applied recently (1 h)
 *   pushgate:trimlock       one node at a time runs the age trim
 *   pushgate:<db>:bus       pub/sub: every message and delete, in seq order
 *   pushgate:<db>:beat:<node>  pub/sub: one node's heartbeat
 *
 * Invariants: every script reads (and when missing re-creates) the epoch
 * and the counter first, together: a lost counter means a new epoch, so a
 * seq is never reused within one epoch. Every message and every delete
 * takes a seq from the counter and is published on the bus inside the same
 * script, so the bus carries them in seq order. The previous-seq field p
 * makes gap detection exact: the first entry a replay returns names the
 * seq before it; if that is above the cursor, something was trimmed. */
#ifndef PG_REDIS_SCRIPT_H
#define PG_REDIS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply;
struct pg_message;

#define PG_REDIS_PREFIX "pushgate:"
#define PG_REDIS_EPOCH_MAX 24          /* with the NUL, as the hub's epoch */

enum pg_redis_script {
    PG_RS_HELLO,     /* K: epoch seq            A: cand beat-channel|""      -> {ep, counter} */
    PG_RS_PUBLISH,   /* K: epoch seq last chans dedup s1..sn
                        A: cand size dedup_px bus (ch ev body)*n         -> {ep, seq*n} | {ep, "dup"} */
    PG_RS_REPLAY,    /* K: epoch seq last deleted s1..sn
                        A: cand cursor_epoch after upto|"" ttl_ms ch*n
                        -> {ep, counter, flags, (index seq t ev body)*} */
    PG_RS_DELETE,    /* K: epoch seq deleted chans stream  A: cand bus ch     -> {ep, existed} */
    PG_RS_INFO,      /* K: epoch seq last stream  A: cand ttl_ms ch           -> {ep, n, last} */
    PG_RS_TRIM,      /* K: chans trimlock  A: ttl_ms node stream-prefix       -> dropped */
    PG_RS_COUNT
};

/* The scripts' Lua text. */
const char *pg_redis_script_text(enum pg_redis_script which);
const char *pg_redis_script_name(enum pg_redis_script which);

/* ---- the bus payload codec ----
 * m\n<epoch>\n<seq>\n<time ms>\n<channel>\n<event>\n<body>   a message
 * d\n<epoch>\n<seq>\n<channel>                                a DELETE
 * h\n<epoch>\n<counter>                                       a heartbeat */
enum pg_bus_kind { PG_BUS_MESSAGE = 'm', PG_BUS_DELETE = 'd', PG_BUS_BEAT = 'h' };
enum pg_bus_err { PG_BUS_OK = 0, PG_BUS_EBAD = -1 };

/* Views into the payload: valid while it is. */
struct pg_bus_msg {
    int kind;
    const char *epoch;
    size_t epoch_len;
    uint64_t seq;               /* beat: the counter */
    uint64_t ms;
    const char *channel, *event, *body;
    size_t channel_len, event_len, body_len;   /* event_len 0: no event */
};

/* Decodes a bus payload. Returns PG_BUS_OK, or PG_BUS_EBAD with a static
 * *why (unknown kind, bad epoch, bad number, bad channel or event name). */
int pg_bus_decode(const char *p, size_t n, struct pg_bus_msg *out, const char **why);
/* Encodes a message the way the publish script does (for the tests). The
 * caller frees *out. */
char *pg_bus_encode_message(const char *epoch, uint64_t seq, uint64_t ms, const char *channel,
                            const char *event, const char *body, size_t body_len, size_t *outlen);

/* A message as the other nodes see it: id set, created_wall_ns from the
 * publish time. Returns a new reference. */
struct pg_message *pg_bus_message(const char *epoch, uint64_t seq, uint64_t ms,
                                  const char *channel, size_t channel_len,
                                  const char *event, size_t event_len,
                                  const char *body, size_t body_len);

/* ---- reply readers (hiredis replies of the scripts above) ---- */

/* True when epoch is 1..23 characters of [0-9a-z] (what pg_cursor_parse takes). */
bool pg_redis_epoch_valid(const char *s, size_t n);
/* r[0] as an epoch into out (PG_REDIS_EPOCH_MAX); false when malformed. */
bool pg_redis_reply_epoch(const struct redisReply *r, char *out);
/* r (an integer or a decimal string) as a uint64; false otherwise. */
bool pg_redis_reply_u64(const struct redisReply *r, uint64_t *v);

/* The replay reply of n channels: epoch and counter, flags[0..n), and the
 * messages (new references, seq order across channels) in *msgs (heap,
 * caller frees) / *n_msgs. names[i] are the requested channels. Returns 0
 * or -1 with *why when the reply is malformed. */
int pg_redis_read_replay(const struct redisReply *r, const char *const *names,
                         const size_t *lens, size_t n, char *epoch, uint64_t *counter,
                         char *flags, struct pg_message ***msgs, size_t *n_msgs, const char **why);

#endif
