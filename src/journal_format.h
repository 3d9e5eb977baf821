/* journal_format.h — the history journal's record codec: CRC32C, record
 * encoding, one-record decoding and the whole-file scan that tells a torn
 * tail from corruption. No I/O, no event2/ include (DESIGN I5): bytes in,
 * records out, so it is unit-tested and fuzzed alone (journal.c does the
 * files).
 *
 * A journal file is a sequence of records, each a 20-byte header and a
 * payload; integers are little-endian:
 *
 *   0  u32 len      payload bytes (<= PG_JF_PAYLOAD_MAX)
 *   4  u8  type     PG_JREC_*
 *   5  u8  flags    PG_JF_COMMIT on the last record of a commit group
 *   6  u16 zero
 *   8  u32 gdelta   bytes from the start of this record's commit group
 *  12  u32 pcrc     CRC32C of the payload, seeded
 *  16  u32 hcrc     CRC32C of header bytes 0..15, seeded
 *
 * The first record is a HEAD, seeded with 0; it carries a random nonce
 * that seeds every other record's CRCs, so bytes that merely look like a
 * record (a message body holding a copy of a journal) never pass as one.
 *
 * Commit groups: everything appended between two fdatasyncs is written as
 * one group, its last record flagged PG_JF_COMMIT. A scan applies a group
 * only once its COMMIT record is read, so a torn group (a crash before the
 * fdatasync returned, hence never acknowledged) is dropped whole: a
 * publish to several channels is never half restored. A bad record is a
 * torn tail when nothing after it belongs to a later group (that group
 * could only have been written after this one was durable); otherwise it
 * is corruption and the scan says so instead of silently dropping
 * acknowledged messages.
 *
 * Payloads (after the header):
 *   HEAD     u32 version, u32 nonce, u64 seq, u64 gap_floor, u64 wall_ms,
 *            u8 epoch_len, epoch ([0-9a-z], 1..23 bytes)
 *   MSG      u64 seq, u64 wall_ms, u16 channel_len, u8 event_len,
 *            u16 dedup_len, channel, event, dedup key, body (the rest)
 *   DELETE   u64 seq (the channel's last seq), channel (the rest)
 *   CHANNEL  u64 evicted_max_seq, u64 last_seq, channel (the rest)
 *   DEDUP    key (the rest)
 *
 * Error style: small negative PG_JF_* codes plus a static `why` string. */
#ifndef PG_JOURNAL_FORMAT_H
#define PG_JOURNAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_buf;

#define PG_JF_HDR 20
#define PG_JF_VERSION 1
#define PG_JF_COMMIT 0x01
#define PG_JF_PAYLOAD_MAX ((uint32_t)1 << 30 | (uint32_t)1 << 16) /* max_message_size + names */
#define PG_JF_EPOCH_MAX 23
#define PG_JF_DEDUP_MAX 1024

enum pg_jrec_type {
    PG_JREC_HEAD = 1,
    PG_JREC_MSG = 2,
    PG_JREC_DELETE = 3,
    PG_JREC_CHANNEL = 4,
    PG_JREC_DEDUP = 5,
};

enum {
    PG_JF_INCOMPLETE = -1,   /* the record runs past the end of the data */
    PG_JF_BAD_HEADER = -2,   /* header CRC, type, flags or length wrong */
    PG_JF_BAD_CRC = -3,      /* payload CRC wrong */
    PG_JF_BAD_PAYLOAD = -4,  /* CRC right but the payload is malformed */
};

/* One decoded record. Views point into the decoded data and live as long
 * as it does. Fields a type does not use are zero/NULL. */
struct pg_jrec {
    int type;
    uint8_t flags;
    uint32_t gdelta;
    uint64_t seq;              /* HEAD: id counter; MSG: its seq; DELETE, CHANNEL: last seq */
    uint64_t wall_ms;          /* HEAD: written; MSG: published */
    uint64_t evicted_max_seq;  /* HEAD: gap floor; CHANNEL */
    uint32_t nonce;            /* HEAD */
    const char *epoch;         /* HEAD */
    size_t epoch_len;
    const char *channel;       /* MSG, DELETE, CHANNEL */
    size_t channel_len;
    const char *event;         /* MSG; NULL when none */
    size_t event_len;
    const char *dedup;         /* MSG (NULL when none), DEDUP */
    size_t dedup_len;
    const uint8_t *body;       /* MSG */
    size_t body_len;
};

/* CRC32C (Castagnoli), chainable: pg_crc32c(pg_crc32c(0, a), b) is the
 * CRC of a then b. Uses SSE4.2 where the CPU has it. */
uint32_t pg_crc32c(uint32_t crc, const void *data, size_t len);

/* Appends r (its type and the fields that type uses) as one record with
 * the given CRC seed, flags and group offset. Returns the record's size.
 * The caller keeps lengths within the limits above (the daemon's own
 * limits are tighter). */
size_t pg_jf_encode(struct pg_buf *out, const struct pg_jrec *r, uint32_t seed, uint8_t flags,
                    uint32_t gdelta);
/* Sets PG_JF_COMMIT on the record whose header starts at rec (re-sealing
 * its header CRC). */
void pg_jf_mark_commit(uint8_t *rec, uint32_t seed);

/* Decodes the record at data[0..len) with CRC seed `seed`. Returns its
 * size (> 0) with *r filled, or a PG_JF_* code with *why. */
long pg_jf_decode(const uint8_t *data, size_t len, uint32_t seed, struct pg_jrec *r,
                  const char **why);

/* ---- whole-file scan ---- */

enum pg_jf_scan_status {
    PG_JF_SCAN_EMPTY = 0,    /* no bytes at all: a new journal */
    PG_JF_SCAN_OK = 1,       /* every byte belongs to a committed group */
    PG_JF_SCAN_TORN = 2,     /* a torn (never acknowledged) group at the end was dropped */
    PG_JF_SCAN_CORRUPT = 3,  /* damage before durable data, or not a journal */
};

struct pg_jf_scan {
    int status;
    size_t valid_len;        /* bytes of committed groups (the rest is torn or bad) */
    size_t bad_off;          /* TORN/CORRUPT: offset of the first dropped byte */
    const char *why;         /* TORN/CORRUPT: what was wrong there */
    uint64_t records;        /* records handed to the callback */
    struct pg_jrec head;     /* the HEAD record (valid unless EMPTY/CORRUPT) */
};

/* Called once per record of each committed group, in file order (the
 * HEAD first). Views live as long as the scanned data. */
typedef void (*pg_jf_record_fn)(void *arg, const struct pg_jrec *r);

/* Scans a whole journal image. Records are handed to fn (may be NULL)
 * group by group; a torn tail is never handed out. Returns res->status. */
int pg_jf_scan(const uint8_t *data, size_t len, pg_jf_record_fn fn, void *arg,
               struct pg_jf_scan *res);

#endif
