/* test_journal.c — the history journal: the record codec and scan
 * (journal_format.c: CRC32C vectors, every record type, every split
 * point, every single-byte corruption, limits, torn tails versus
 * corruption) and the files (journal.c with the real hub and memory store:
 * replay keeps the epoch, ids, deletes, evictions and dedup keys; torn
 * tails are dropped; corruption refuses; compaction bounds the file). */
#define _GNU_SOURCE
#include "../../src/journal_format.c"
#include "../../src/journal.c"
#include "tap.h"

#include "buf.h"
#include "hub.h"
#include "journal.h"
#include "message.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define SEED 0x5eed1234u

/* ---- codec ---- */

static void test_crc(void)
{
    is_int(pg_crc32c(0, "123456789", 9), 0xE3069283u, "crc32c check value of \"123456789\"");
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xFF, sizeof ones);
    is_int(pg_crc32c(0, zeros, 32), 0x8A9136AAu, "crc32c of 32 zero bytes (RFC 3720)");
    is_int(pg_crc32c(0, ones, 32), 0x62A8AB43u, "crc32c of 32 0xFF bytes (RFC 3720)");
    is_int(pg_crc32c(pg_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u, "crc32c chains");
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    int same = 1;
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 7)
            if (pg_crc32c(7, buf + off, len) != ~crc_soft(~7u, buf + off, len))
                same = 0;
    ok(same, "hardware and table crc32c agree at every alignment and length");
}

static struct pg_jrec msg_rec(uint64_t seq, const char *ch, const char *ev, const char *dk,
                              const char *body)
{
    struct pg_jrec r = {.type = PG_JREC_MSG, .seq = seq, .wall_ms = 1700000000123u,
                        .channel = ch, .channel_len = strlen(ch)};
    if (ev)
        r.event = ev, r.event_len = strlen(ev);
    if (dk)
        r.dedup = dk, r.dedup_len = strlen(dk);
    r.body = (const uint8_t *)body;
    r.body_len = strlen(body);
    return r;
}

static struct pg_jrec head_rec(const char *epoch, uint64_t seq)
{
    struct pg_jrec r = {.type = PG_JREC_HEAD, .nonce = SEED, .seq = seq, .evicted_max_seq = 3,
                        .wall_ms = 42, .epoch = epoch, .epoch_len = strlen(epoch)};
    return r;
}

static void test_roundtrip(void)
{
    struct pg_buf b = {0};
    struct pg_jrec r = msg_rec(77, "orders.42", "update", "spool-1", "hello \xff body"), d;
    const char *why = NULL;
    size_t n = pg_jf_encode(&b, &r, SEED, PG_JF_COMMIT, 5);
    is_int(n, b.len, "encode returns the record size");
    is_int(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why), n, "message record decodes");
    ok(d.type == PG_JREC_MSG && d.seq == 77 && d.wall_ms == 1700000000123u && d.gdelta == 5 &&
       d.flags == PG_JF_COMMIT, "message fixed fields survive");
    ok(d.channel_len == 9 && !memcmp(d.channel, "orders.42", 9) && d.event_len == 6 &&
       !memcmp(d.event, "update", 6) && d.dedup_len == 7 && !memcmp(d.dedup, "spool-1", 7) &&
       d.body_len == 12 && !memcmp(d.body, "hello \xff body", 12), "message views survive");
    is_int(pg_jf_decode((uint8_t *)b.p, b.len, SEED + 1, &d, &why), PG_JF_BAD_HEADER,
           "another nonce does not decode it");
    pg_buf_free(&b);

    r = msg_rec(1, "c", NULL, NULL, "");
    pg_jf_encode(&b, &r, SEED, 0, 0);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why) > 0 && !d.event && !d.dedup &&
       d.body_len == 0 && d.flags == 0, "message without event, key or body");
    pg_jf_mark_commit((uint8_t *)b.p, SEED);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why) > 0 && d.flags == PG_JF_COMMIT,
       "mark_commit sets the flag and re-seals the header");
    pg_buf_free(&b);

    struct pg_jrec h = head_rec("1796046971899", 9);
    pg_jf_encode(&b, &h, 0, PG_JF_COMMIT, 0);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, 0, &d, &why) > 0 && d.type == PG_JREC_HEAD &&
       d.nonce == SEED && d.seq == 9 && d.evicted_max_seq == 3 && d.wall_ms == 42 &&
       d.epoch_len == 13 && !memcmp(d.epoch, "1796046971899", 13), "head record round trip");
    pg_buf_free(&b);

    struct pg_jrec del = {.type = PG_JREC_DELETE, .seq = 12, .channel = "a:b", .channel_len = 3};
    pg_jf_encode(&b, &del, SEED, 0, 0);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why) > 0 && d.type == PG_JREC_DELETE &&
       d.seq == 12 && d.channel_len == 3, "delete record round trip");
    pg_buf_free(&b);
    struct pg_jrec ch = {.type = PG_JREC_CHANNEL, .evicted_max_seq = 5, .seq = 8, .channel = "x",
                         .channel_len = 1};
    pg_jf_encode(&b, &ch, SEED, 0, 0);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why) > 0 && d.type == PG_JREC_CHANNEL &&
       d.evicted_max_seq == 5 && d.seq == 8, "channel record round trip");
    pg_buf_free(&b);
    struct pg_jrec dk = {.type = PG_JREC_DEDUP, .dedup = "k1", .dedup_len = 2};
    pg_jf_encode(&b, &dk, SEED, 0, 0);
    ok(pg_jf_decode((uint8_t *)b.p, b.len, SEED, &d, &why) > 0 && d.type == PG_JREC_DEDUP &&
       d.dedup_len == 2 && !memcmp(d.dedup, "k1", 2), "dedup record round trip");
    pg_buf_free(&b);
}

static void test_splits_and_flips(void)
{
    struct pg_buf b = {0};
    struct pg_jrec r = msg_rec(5, "chan", "ev", "key", "some body bytes"), d;
    const char *why;
    size_t n = pg_jf_encode(&b, &r, SEED, PG_JF_COMMIT, 0);
    int all_incomplete = 1;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);   /* exact size: ASan catches overreads */
        memcpy(exact, b.p, cut);
        if (pg_jf_decode(exact, cut, SEED, &d, &why) != PG_JF_INCOMPLETE)
            all_incomplete = 0;
        free(exact);
    }
    ok(all_incomplete, "every prefix of a record is incomplete (%zu split points)", n);
    int all_refused = 1;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.p[i] ^= (char)(1 << bit);
            if (pg_jf_decode((uint8_t *)b.p, n, SEED, &d, &why) > 0)
                all_refused = 0;
            b.p[i] ^= (char)(1 << bit);
        }
    ok(all_refused, "every single-bit flip in a record is refused (%zu bytes x 8)", n);
    pg_buf_free(&b);
}

static long enc_dec(const struct pg_jrec *r, uint32_t seed)
{
    struct pg_buf b = {0};
    struct pg_jrec d;
    const char *why;
    pg_jf_encode(&b, r, seed, 0, 0);
    long rc = pg_jf_decode((uint8_t *)b.p, b.len, seed, &d, &why);
    pg_buf_free(&b);
    return rc;
}

static void test_limits(void)
{
    char name[200], key[PG_JF_DEDUP_MAX + 2], ev[70];
    memset(name, 'n', sizeof name);
    memset(key, 'k', sizeof key);
    memset(ev, 'e', sizeof ev);
    struct pg_jrec r = msg_rec(1, "c", NULL, NULL, "b");
    r.channel = name, r.channel_len = PG_CHANNEL_MAX;
    ok(enc_dec(&r, SEED) > 0, "channel of %d bytes accepted", PG_CHANNEL_MAX);
    r.channel_len = PG_CHANNEL_MAX + 1;
    is_int(enc_dec(&r, SEED), PG_JF_BAD_PAYLOAD, "channel one byte too long refused");
    r.channel_len = 1;
    r.event = ev, r.event_len = PG_EVENT_MAX;
    ok(enc_dec(&r, SEED) > 0, "event of %d bytes accepted", PG_EVENT_MAX);
    r.event_len = PG_EVENT_MAX + 1;
    is_int(enc_dec(&r, SEED), PG_JF_BAD_PAYLOAD, "event one byte too long refused");
    r.event = NULL, r.event_len = 0;
    r.dedup = key, r.dedup_len = PG_JF_DEDUP_MAX;
    ok(enc_dec(&r, SEED) > 0, "dedup key of %d bytes accepted", PG_JF_DEDUP_MAX);
    r.dedup_len = PG_JF_DEDUP_MAX + 1;
    is_int(enc_dec(&r, SEED), PG_JF_BAD_PAYLOAD, "dedup key one byte too long refused");
    r.dedup_len = 0, r.dedup = NULL;
    r.seq = 0;
    is_int(enc_dec(&r, SEED), PG_JF_BAD_PAYLOAD, "seq 0 refused");
    r.seq = 1;
    r.channel = "bad name";
    r.channel_len = 8;
    is_int(enc_dec(&r, SEED), PG_JF_BAD_PAYLOAD, "invalid channel name refused");
    char epoch[30];
    memset(epoch, '7', sizeof epoch);
    struct pg_jrec h = head_rec("1", 1);
    h.epoch = epoch, h.epoch_len = PG_JF_EPOCH_MAX;
    ok(enc_dec(&h, 0) > 0, "epoch of %d chars accepted", PG_JF_EPOCH_MAX);
    h.epoch_len = PG_JF_EPOCH_MAX + 1;
    is_int(enc_dec(&h, 0), PG_JF_BAD_PAYLOAD, "epoch one char too long refused");
    h.epoch = "AB", h.epoch_len = 2;
    is_int(enc_dec(&h, 0), PG_JF_BAD_PAYLOAD, "epoch outside [0-9a-z] refused");
    struct pg_jrec dk = {.type = PG_JREC_DEDUP, .dedup = key, .dedup_len = 0};
    is_int(enc_dec(&dk, SEED), PG_JF_BAD_PAYLOAD, "empty dedup record refused");
    /* a header claiming a payload over the limit */
    uint8_t hb[PG_JF_HDR] = {0};
    put32(hb, PG_JF_PAYLOAD_MAX + 1);
    hb[4] = PG_JREC_MSG;
    put32(hb + 16, pg_crc32c(SEED, hb, 16));
    struct pg_jrec d;
    const char *why;
    is_int(pg_jf_decode(hb, sizeof hb, SEED, &d, &why), PG_JF_BAD_HEADER, "payload over the limit refused");
    hb[4] = 9;
    put32(hb, 0);
    put32(hb + 16, pg_crc32c(SEED, hb, 16));
    is_int(pg_jf_decode(hb, sizeof hb, SEED, &d, &why), PG_JF_BAD_HEADER, "unknown type refused");
}

/* ---- scan ---- */

struct collect {
    int n;
    uint64_t seqs[64];
};

static void collect_fn(void *arg, const struct pg_jrec *r)
{
    struct collect *c = arg;
    if (c->n < 64)
        c->seqs[c->n] = r->type == PG_JREC_MSG ? r->seq : 1000u + (uint64_t)r->type;
    c->n++;
}

/* A journal image: HEAD, then groups of messages (sizes in groups[]),
 * seqs 1, 2, ...; ends[] receives each group's end offset. */
static void build_image(struct pg_buf *b, const int *groups, int ngroups, size_t *ends)
{
    struct pg_jrec h = head_rec("abc123", 0);
    pg_jf_encode(b, &h, 0, PG_JF_COMMIT, 0);
    uint64_t seq = 0;
    for (int g = 0; g < ngroups; g++) {
        size_t gstart = b->len, last = 0;
        for (int i = 0; i < groups[g]; i++) {
            char body[40];
            snprintf(body, sizeof body, "message body %llu", (unsigned long long)++seq);
            struct pg_jrec r = msg_rec(seq, "ch", NULL, NULL, body);
            last = b->len;
            pg_jf_encode(b, &r, SEED, 0, (uint32_t)(b->len - gstart));
        }
        pg_jf_mark_commit((uint8_t *)b->p + last, SEED);
        ends[g] = b->len;
    }
}

static void test_scan_basic(void)
{
    int scan_rc;
    struct pg_jf_scan res;
    scan_rc = pg_jf_scan((const uint8_t *)"", 0, NULL, NULL, &res);
    is_int(scan_rc, PG_JF_SCAN_EMPTY, "empty file");
    scan_rc = pg_jf_scan((const uint8_t *)"root:x:0:0:root:/root:/bin/bash\n", 32, NULL, NULL, &res);
    is_int(scan_rc,
           PG_JF_SCAN_CORRUPT, "a file that is not a journal is refused");
    struct pg_buf b = {0};
    int groups[] = {1, 3, 2};
    size_t ends[3];
    build_image(&b, groups, 3, ends);
    struct collect c = {0};
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, collect_fn, &c, &res);
    is_int(scan_rc, PG_JF_SCAN_OK, "clean journal scans OK");
    ok(c.n == 7 && c.seqs[0] == 1000 + PG_JREC_HEAD && c.seqs[1] == 1 && c.seqs[6] == 6,
       "head then every message in order");
    is_int(res.valid_len, b.len, "all bytes valid");
    is_int(res.head.nonce, SEED, "head nonce reported");
    pg_buf_free(&b);
}

static void test_scan_every_cut(void)
{
    struct pg_buf b = {0};
    int groups[] = {2, 1, 3};
    size_t ends[3];
    build_image(&b, groups, 3, ends);
    size_t head_len = ends[0];
    { /* head length: end of group 0 minus its two records */
        struct pg_jrec d;
        const char *why;
        head_len = (size_t)pg_jf_decode((uint8_t *)b.p, b.len, 0, &d, &why);
    }
    int good = 1;
    for (size_t cut = head_len; cut <= b.len; cut++) {
        uint8_t *img = malloc(cut);
        memcpy(img, b.p, cut);
        struct collect c = {0};
        struct pg_jf_scan res;
        int st = pg_jf_scan(img, cut, collect_fn, &c, &res);
        size_t want_len = head_len;
        int want_msgs = 0;
        for (int g = 0, s = 0; g < 3; g++) {
            s += groups[g];
            if (ends[g] <= cut)
                want_len = ends[g], want_msgs = s;
        }
        int want_st = want_len == cut ? PG_JF_SCAN_OK : PG_JF_SCAN_TORN;
        if (st != want_st || res.valid_len != want_len || c.n != want_msgs + 1) {
            good = 0;
            printf("# cut %zu: status %d valid %zu records %d\n", cut, st, res.valid_len, c.n);
        }
        free(img);
    }
    ok(good, "a cut at every offset keeps exactly the complete groups and says torn (%zu cuts)",
       b.len - head_len + 1);
    pg_buf_free(&b);
}

static void test_scan_torn_vs_corrupt(void)
{
    int scan_rc;
    struct pg_buf b = {0};
    int groups[] = {2, 3};
    size_t ends[2];
    build_image(&b, groups, 2, ends);
    struct pg_jf_scan res;
    struct collect c = {0};

    /* a hole (zeros) inside the last group, later records of it intact:
     * power lost during its fdatasync -> torn, group dropped whole */
    size_t hole = ends[0] + 30;
    memset(b.p + hole, 0, 20);
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, collect_fn, &c, &res);
    is_int(scan_rc, PG_JF_SCAN_TORN,
           "a hole in the last group is a torn tail");
    ok(c.n == 3 && res.valid_len == ends[0], "the whole torn group is dropped, earlier ones kept");
    pg_buf_free(&b);

    /* damage in the first group while a later group follows -> corrupt */
    build_image(&b, groups, 2, ends);
    b.p[ends[0] - 5] ^= 0x40;
    c.n = 0;
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, collect_fn, &c, &res);
    is_int(scan_rc, PG_JF_SCAN_CORRUPT,
           "damage followed by a later group is corruption");
    ok(res.why != NULL && res.bad_off < ends[0], "corruption offset and reason reported (%s)",
       res.why ? res.why : "?");
    pg_buf_free(&b);

    /* complete records but no commit record at the end -> torn */
    build_image(&b, groups, 2, ends);
    struct pg_jrec r = msg_rec(99, "ch", NULL, NULL, "x");
    pg_jf_encode(&b, &r, SEED, 0, 0);
    c.n = 0;
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, collect_fn, &c, &res);
    is_int(scan_rc, PG_JF_SCAN_TORN,
           "an uncommitted group at the end is torn");
    ok(c.n == 6 && res.valid_len == ends[1], "its records are not handed out");
    pg_buf_free(&b);

    /* a body that is itself a valid record with another seed is not a record */
    build_image(&b, groups, 2, ends);
    struct pg_buf fake = {0};
    struct pg_jrec fr = msg_rec(500, "ch", NULL, NULL, "fake");
    pg_jf_encode(&fake, &fr, 0, PG_JF_COMMIT, 0);
    struct pg_jrec carrier = msg_rec(6, "ch", NULL, NULL, "");
    carrier.body = (const uint8_t *)fake.p, carrier.body_len = fake.len;
    size_t cstart = b.len;
    pg_jf_encode(&b, &carrier, SEED, 0, 0);
    b.p[cstart + 30] ^= 1;   /* the carrier is torn */
    c.n = 0;
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, collect_fn, &c, &res);
    is_int(scan_rc, PG_JF_SCAN_TORN,
           "a record-looking body inside a torn tail does not make it corruption");
    pg_buf_free(&fake);
    pg_buf_free(&b);

    /* a second head, or group offsets that do not line up -> corrupt */
    build_image(&b, groups, 2, ends);
    struct pg_jrec h = head_rec("abc123", 0);
    pg_jf_encode(&b, &h, SEED, PG_JF_COMMIT, 0);
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, NULL, NULL, &res);
    is_int(scan_rc, PG_JF_SCAN_CORRUPT, "a second head is corruption");
    pg_buf_free(&b);
    build_image(&b, groups, 2, ends);
    r = msg_rec(99, "ch", NULL, NULL, "x");
    pg_jf_encode(&b, &r, SEED, PG_JF_COMMIT, 7);
    scan_rc = pg_jf_scan((uint8_t *)b.p, b.len, NULL, NULL, &res);
    is_int(scan_rc, PG_JF_SCAN_CORRUPT,
           "a wrong group offset is corruption");
    pg_buf_free(&b);
}

/* ---- files, with the real hub ---- */

static char dir[256], path[300];
static struct event_base *base;
static struct pg_hub_limits lim = {.history_size = 3, .history_ttl_ms = 600000,
                                   .history_memory_max = 64u << 20, .max_channels = 1000};
static int n_keys;
static char last_key[64];

static void on_key(const char *key, void *arg)
{
    n_keys++;
    snprintf(last_key, sizeof last_key, "%s", key);
}

static int jopen(char *err, size_t errlen)
{
    struct pg_journal_opts o = {path, &lim, base, on_key, NULL};
    n_keys = 0;
    last_key[0] = '\0';
    return pg_journal_open(&o, err, errlen);
}

static void pub(const char *ch, const char *body, const char *key, char *id_out)
{
    struct pg_message *m = pg_message_new(ch, strlen(ch), NULL, 0, body, strlen(body));
    if (key)
        m->dedup_key = pg_xstrdup(key);
    pg_message_ref(m);
    uint32_t count;
    const char *why;
    pg_hub_publish(&m, 1, &count, &why);
    if (id_out)
        snprintf(id_out, 48, "%s", m->id);
    pg_message_unref(m);
}

static void restart(void)
{
    pg_journal_close();
    pg_hub_free();
    pg_hub_init(&lim);
}

static off_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? sb.st_size : -1;
}

struct walk_probe {
    uint64_t a_evicted, gone_evicted;
};

static void probe(void *arg, const char *name, size_t len, uint64_t ev, uint64_t last)
{
    struct walk_probe *w = arg;
    if (len == 1 && name[0] == 'a')
        w->a_evicted = ev;
    if (len == 4 && !memcmp(name, "gone", 4))
        w->gone_evicted = ev;
}

static void test_files_replay(void)
{
    int rc;
    char err[512] = "", id[48], epoch[32];
    pg_hub_init(&lim);
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "a new journal opens");
    ok(pg_journal_on(), "journal is on");
    snprintf(epoch, sizeof epoch, "%s", pg_hub_epoch());
    for (int i = 1; i <= 5; i++) {
        char body[16];
        snprintf(body, sizeof body, "a%d", i);
        pub("a", body, NULL, NULL);
    }
    pub("b", "b1", "spool-key-1", NULL);
    pub("gone", "g1", NULL, NULL);
    ok(pg_hub_delete("gone", 4), "channel deleted");
    pub("c", "c1", NULL, id);
    pg_journal_sync();
    restart();
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "the journal reopens");
    ok(strcmp(pg_hub_epoch(), epoch) == 0, "the epoch is restored (%s)", pg_hub_epoch());
    is_int(pg_hub_last_seq(), 8, "the id counter is restored");
    struct pg_channel_info info;
    ok(pg_hub_channel_info("a", 1, &info) && info.messages == 3, "history_size applies on replay");
    ok(!pg_hub_channel_info("gone", 4, &info), "a deleted channel stays deleted");
    ok(pg_hub_channel_info("c", 1, &info) && strcmp(info.last_id, id) == 0, "last id intact (%s)",
       info.last_id);
    is_int(n_keys, 1, "the dedup key is handed back");
    ok(strcmp(last_key, "spool-key-1") == 0, "it is the spool key");
    /* evicted_max_seq of "a" is 2 (a1, a2 evicted): in the next snapshot */
    size_t n;
    struct pg_message **all = pg_hub_retained(&n);
    is_int(n, 5, "retained: a3 a4 a5 b1 c1");
    for (size_t i = 0; i < n; i++)
        pg_message_unref(all[i]);
    free(all);
    int found = 0;
    struct walk_probe wp = {0, 0};
    pg_hub_walk_evicted(probe, &wp);
    found = wp.a_evicted == 2 && wp.gone_evicted == 7;
    ok(found, "evicted_max_seq survives (a: %llu, gone: %llu)", (unsigned long long)wp.a_evicted,
       (unsigned long long)wp.gone_evicted);
    /* and once more, from the compacted snapshot */
    restart();
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "the compacted journal reopens");
    wp.a_evicted = wp.gone_evicted = 0;
    pg_hub_walk_evicted(probe, &wp);
    ok(wp.a_evicted == 2 && wp.gone_evicted == 7 && pg_hub_last_seq() == 8 &&
       strcmp(pg_hub_epoch(), epoch) == 0 && n_keys == 1,
       "after compaction: same epoch, counter, evictions and keys");
    restart();
}

static void append_bytes(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "ab");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_files_torn_and_corrupt(void)
{
    int rc;
    char err[512] = "";
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "open");
    uint64_t seq = pg_hub_last_seq();
    pub("t", "t1", NULL, NULL);
    pg_journal_sync();
    pg_journal_close();
    off_t good = file_size(path);
    append_bytes(path, "\x17\x00\x00\x00\x02garbage-torn", 17);
    pg_hub_free();
    pg_hub_init(&lim);
    ok(jopen(err, sizeof err) == 0, "a torn tail is tolerated (%s)", err);
    is_int(pg_hub_last_seq(), seq + 1, "everything before it is kept");
    ok(file_size(path) <= good, "the torn bytes are gone after compaction");
    pg_journal_close();
    /* flip a byte in the middle of the file, followed by intact data */
    long mid = (long)file_size(path) / 2;
    FILE *f = fopen(path, "r+b");
    fseek(f, mid, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, mid, SEEK_SET);
    fputc(ch ^ 0x20, f);
    fclose(f);
    pg_hub_free();
    pg_hub_init(&lim);
    err[0] = '\0';
    rc = jopen(err, sizeof err);
    is_int(rc, -1, "corruption before durable data refuses to start");
    ok(strstr(err, "corrupt at byte") != NULL && !strstr(err, "at byte 0 "), "with a clear error: %s", err);
    ok(!pg_journal_on(), "journal is off after a failed open");
    pg_hub_free();
    pg_hub_init(&lim);
    unlink(path);
}

static void test_files_compaction(void)
{
    int rc;
    char err[512] = "";
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "open for compaction");
    char body[1000];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    off_t max_seen = 0;
    for (int i = 0; i < 12000; i++) {
        pub(i % 2 ? "k1" : "k2", body, NULL, NULL);
        if (i % 50 == 0) {
            pg_journal_sync();
            pg_journal_tick(pg_now_ms());
            event_base_loop(base, EVLOOP_NONBLOCK);
            while (jr.cp)
                event_base_loop(base, EVLOOP_ONCE);
            off_t sz = file_size(path);
            if (sz > max_seen)
                max_seen = sz;
        }
    }
    pg_journal_sync();
    struct pg_journal_stats st;
    pg_journal_stats(&st);
    ok(st.compactions >= 2, "run-time compactions happened (%llu)", (unsigned long long)st.compactions);
    ok(max_seen < (off_t)(COMPACT_MIN + (1u << 20)), "file stayed under 4 MiB + slack while 12 MB were published (max %lld)",
       (long long)max_seen);
    uint64_t seq = pg_hub_last_seq();
    restart();
    rc = jopen(err, sizeof err);
    is_int(rc, 0, "reopens after run-time compactions");
    is_int(pg_hub_last_seq(), seq, "counter intact");
    struct pg_channel_info info;
    ok(pg_hub_channel_info("k1", 2, &info) && info.messages == 3, "history intact");
    ok(file_size(path) < 16 * 1024, "start-up compaction leaves only the retained history (%lld bytes)",
       (long long)file_size(path));
    restart();
    unlink(path);
}

static void test_files_errors(void)
{
    int rc;
    char err[512] = "";
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/journal", dir);
    struct pg_journal_opts o = {bad, &lim, base, NULL, NULL};
    rc = pg_journal_open(&o, err, sizeof err);
    is_int(rc, -1, "a journal in a missing directory is refused");
    ok(*err, "with a reason: %s", err);
    struct pg_journal_opts off = {"", &lim, base, NULL, NULL};
    rc = pg_journal_open(&off, err, sizeof err);
    is_int(rc, 0, "an empty path means off");
    ok(!pg_journal_on(), "and the journal is off");
    pg_journal_sync();   /* no-ops while off */
    pg_journal_tick(pg_now_ms());
    ok(1, "calls while off are no-ops");
}

int main(void)
{
    test_crc();
    test_roundtrip();
    test_splits_and_flips();
    test_limits();
    test_scan_basic();
    test_scan_every_cut();
    test_scan_torn_vs_corrupt();

    snprintf(dir, sizeof dir, "/tmp/test_journal.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/history.journal", dir);
    base = event_base_new();
    pg_log_open("", PG_LOG_ERROR);
    test_files_replay();
    test_files_torn_and_corrupt();
    test_files_compaction();
    test_files_errors();
    pg_hub_free();
    event_base_free(base);
    char lockp[320];
    snprintf(lockp, sizeof lockp, "%s.lock", path);
    unlink(lockp);
    rmdir(dir);
    return done_testing();
}
