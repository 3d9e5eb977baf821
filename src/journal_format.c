/* journal_format.c — the history journal's record codec and whole-file
 * scan (format and rules in journal_format.h). No I/O, no allocation: the
 * scan decodes each committed group twice (once to find its COMMIT record,
 * once to hand its records out) instead of buffering views.
 *
 * Invariants: a record is handed out only when its header CRC, payload CRC,
 * structure and group offset are all right and its group is committed;
 * decoding never reads outside data[0..len). */
#include "journal_format.h"
#include "buf.h"
#include "names.h"

#include <string.h>

/* ---- CRC32C ---- */

static uint32_t crc_table[8][256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
    crc_ready = true;
}

static uint32_t crc_soft(uint32_t c, const uint8_t *p, size_t n)
{
    if (!crc_ready)
        crc_init();
    while (n >= 8) {   /* slice-by-8 */
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
            crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
            crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

static int have_hw = -1;
#endif

uint32_t pg_crc32c(uint32_t crc, const void *data, size_t len)
{
    uint32_t c = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_hw < 0)
        have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (have_hw)
        return ~crc_hw(c, data, len);
#endif
    return ~crc_soft(c, data, len);
}

/* ---- little-endian helpers ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- encoding ---- */

/* Writes the fixed part of r's payload into fixed[] and returns its size;
 * tail[]/tail_len[] describe the variable parts, in order. */
static size_t fixed_part(const struct pg_jrec *r, uint8_t *fixed, const void *tail[4],
                         size_t tail_len[4])
{
    memset(tail_len, 0, 4 * sizeof *tail_len);
    switch (r->type) {
    case PG_JREC_HEAD:
        put32(fixed, PG_JF_VERSION);
        put32(fixed + 4, r->nonce);
        put64(fixed + 8, r->seq);
        put64(fixed + 16, r->evicted_max_seq);
        put64(fixed + 24, r->wall_ms);
        fixed[32] = (uint8_t)r->epoch_len;
        tail[0] = r->epoch, tail_len[0] = r->epoch_len;
        return 33;
    case PG_JREC_MSG:
        put64(fixed, r->seq);
        put64(fixed + 8, r->wall_ms);
        put16(fixed + 16, (uint16_t)r->channel_len);
        fixed[18] = (uint8_t)r->event_len;
        put16(fixed + 19, (uint16_t)r->dedup_len);
        tail[0] = r->channel, tail_len[0] = r->channel_len;
        tail[1] = r->event, tail_len[1] = r->event_len;
        tail[2] = r->dedup, tail_len[2] = r->dedup_len;
        tail[3] = r->body, tail_len[3] = r->body_len;
        return 21;
    case PG_JREC_DELETE:
        put64(fixed, r->seq);
        tail[0] = r->channel, tail_len[0] = r->channel_len;
        return 8;
    case PG_JREC_CHANNEL:
        put64(fixed, r->evicted_max_seq);
        put64(fixed + 8, r->seq);
        tail[0] = r->channel, tail_len[0] = r->channel_len;
        return 16;
    default: /* PG_JREC_DEDUP */
        tail[0] = r->dedup, tail_len[0] = r->dedup_len;
        return 0;
    }
}

static void seal_header(uint8_t *h, uint32_t seed)
{
    put32(h + 16, pg_crc32c(seed, h, 16));
}

size_t pg_jf_encode(struct pg_buf *out, const struct pg_jrec *r, uint32_t seed, uint8_t flags,
                    uint32_t gdelta)
{
    uint8_t fixed[40];
    const void *tail[4];
    size_t tail_len[4];
    size_t nf = fixed_part(r, fixed, tail, tail_len);
    size_t plen = nf + tail_len[0] + tail_len[1] + tail_len[2] + tail_len[3];
    uint32_t pcrc = pg_crc32c(seed, fixed, nf);
    for (int i = 0; i < 4; i++)
        if (tail_len[i])
            pcrc = pg_crc32c(pcrc, tail[i], tail_len[i]);
    uint8_t h[PG_JF_HDR];
    put32(h, (uint32_t)plen);
    h[4] = (uint8_t)r->type;
    h[5] = flags;
    put16(h + 6, 0);
    put32(h + 8, gdelta);
    put32(h + 12, pcrc);
    seal_header(h, seed);
    pg_buf_reserve(out, PG_JF_HDR + plen);
    pg_buf_add(out, h, PG_JF_HDR);
    pg_buf_add(out, fixed, nf);
    for (int i = 0; i < 4; i++)
        if (tail_len[i])
            pg_buf_add(out, tail[i], tail_len[i]);
    return PG_JF_HDR + plen;
}

void pg_jf_mark_commit(uint8_t *rec, uint32_t seed)
{
    rec[5] |= PG_JF_COMMIT;
    seal_header(rec, seed);
}

/* ---- decoding ---- */

static bool epoch_valid(const char *s, size_t n)
{
    if (n == 0 || n > PG_JF_EPOCH_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

static int decode_head(const uint8_t *p, size_t n, struct pg_jrec *r, const char **why)
{
    if (n < 33 || n != 33u + p[32]) {
        *why = "journal header record has the wrong size";
        return PG_JF_BAD_PAYLOAD;
    }
    if (get32(p) != PG_JF_VERSION) {
        *why = "journal format version not supported";
        return PG_JF_BAD_PAYLOAD;
    }
    r->nonce = get32(p + 4);
    r->seq = get64(p + 8);
    r->evicted_max_seq = get64(p + 16);
    r->wall_ms = get64(p + 24);
    r->epoch = (const char *)p + 33;
    r->epoch_len = p[32];
    if (!epoch_valid(r->epoch, r->epoch_len)) {
        *why = "journal header has a malformed epoch";
        return PG_JF_BAD_PAYLOAD;
    }
    return 0;
}

static int decode_msg(const uint8_t *p, size_t n, struct pg_jrec *r, const char **why)
{
    if (n < 21) {
        *why = "message record too short";
        return PG_JF_BAD_PAYLOAD;
    }
    r->seq = get64(p);
    r->wall_ms = get64(p + 8);
    r->channel_len = get16(p + 16);
    r->event_len = p[18];
    r->dedup_len = get16(p + 19);
    size_t vars = r->channel_len + r->event_len + r->dedup_len;
    if (vars > n - 21 || r->dedup_len > PG_JF_DEDUP_MAX) {
        *why = "message record lengths exceed the record";
        return PG_JF_BAD_PAYLOAD;
    }
    const uint8_t *v = p + 21;
    r->channel = (const char *)v;
    r->event = r->event_len ? (const char *)v + r->channel_len : NULL;
    r->dedup = r->dedup_len ? (const char *)v + r->channel_len + r->event_len : NULL;
    r->body = v + vars;
    r->body_len = n - 21 - vars;
    if (!pg_channel_name_valid(r->channel, r->channel_len) ||
        (r->event && !pg_event_name_valid(r->event, r->event_len)) || r->seq == 0) {
        *why = "message record has an invalid channel, event or seq";
        return PG_JF_BAD_PAYLOAD;
    }
    return 0;
}

static int decode_named(const uint8_t *p, size_t n, size_t fixed, struct pg_jrec *r,
                        const char **why)
{
    if (n < fixed || !pg_channel_name_valid((const char *)p + fixed, n - fixed)) {
        *why = "channel record has an invalid channel name";
        return PG_JF_BAD_PAYLOAD;
    }
    r->channel = (const char *)p + fixed;
    r->channel_len = n - fixed;
    return 0;
}

static int decode_payload(const uint8_t *p, size_t n, struct pg_jrec *r, const char **why)
{
    switch (r->type) {
    case PG_JREC_HEAD:
        return decode_head(p, n, r, why);
    case PG_JREC_MSG:
        return decode_msg(p, n, r, why);
    case PG_JREC_DELETE:
        if (n >= 8)
            r->seq = get64(p);
        return decode_named(p, n, 8, r, why);
    case PG_JREC_CHANNEL:
        if (n >= 16) {
            r->evicted_max_seq = get64(p);
            r->seq = get64(p + 8);
        }
        return decode_named(p, n, 16, r, why);
    default: /* PG_JREC_DEDUP */
        if (n == 0 || n > PG_JF_DEDUP_MAX) {
            *why = "dedup record has a bad key length";
            return PG_JF_BAD_PAYLOAD;
        }
        r->dedup = (const char *)p;
        r->dedup_len = n;
        return 0;
    }
}

long pg_jf_decode(const uint8_t *data, size_t len, uint32_t seed, struct pg_jrec *r,
                  const char **why)
{
    memset(r, 0, sizeof *r);
    if (len < PG_JF_HDR) {
        *why = "record header cut short";
        return PG_JF_INCOMPLETE;
    }
    uint32_t plen = get32(data);
    if (get32(data + 16) != pg_crc32c(seed, data, 16)) {
        *why = "record header checksum mismatch";
        return PG_JF_BAD_HEADER;
    }
    if (data[4] < PG_JREC_HEAD || data[4] > PG_JREC_DEDUP || (data[5] & ~PG_JF_COMMIT) ||
        get16(data + 6) != 0 || plen > PG_JF_PAYLOAD_MAX) {
        *why = "record header has an unknown type, flag or size";
        return PG_JF_BAD_HEADER;
    }
    if (len - PG_JF_HDR < plen) {
        *why = "record payload cut short";
        return PG_JF_INCOMPLETE;
    }
    const uint8_t *p = data + PG_JF_HDR;
    if (get32(data + 12) != pg_crc32c(seed, p, plen)) {
        *why = "record payload checksum mismatch";
        return PG_JF_BAD_CRC;
    }
    r->type = data[4];
    r->flags = data[5];
    r->gdelta = get32(data + 8);
    int rc = decode_payload(p, plen, r, why);
    return rc < 0 ? rc : (long)(PG_JF_HDR + plen);
}

/* ---- whole-file scan ---- */

/* Hands out the records of the committed group data[from..to). */
static void emit_group(const uint8_t *data, size_t from, size_t to, uint32_t seed,
                       pg_jf_record_fn fn, void *arg, struct pg_jf_scan *res)
{
    const char *why;
    struct pg_jrec r;
    while (from < to) {
        long n = pg_jf_decode(data + from, to - from, seed, &r, &why);
        if (n <= 0)   /* cannot happen: the group was decoded just before */
            return;
        if (fn)
            fn(arg, &r);
        res->records++;
        from += (size_t)n;
    }
}

/* After a bad record at `bad` (inside the group that started at gstart):
 * true when some valid record after it belongs to a later group, which
 * proves the bad bytes had been made durable (corruption, not a tear). */
static bool later_group_follows(const uint8_t *data, size_t len, size_t bad, uint32_t seed)
{
    struct pg_jrec r;
    const char *why;
    for (size_t p = bad + 1; p + PG_JF_HDR <= len; p++) {
        if (pg_jf_decode(data + p, len - p, seed, &r, &why) <= 0 || r.type == PG_JREC_HEAD)
            continue;
        if (r.gdelta <= p && p - r.gdelta > bad)
            return true;
    }
    return false;
}

static int scan_fail(struct pg_jf_scan *res, int status, size_t off, const char *why)
{
    res->status = status;
    res->bad_off = off;
    res->why = why;
    return status;
}

static int scan_head(const uint8_t *data, size_t len, struct pg_jf_scan *res, size_t *off)
{
    const char *why;
    long n = pg_jf_decode(data, len, 0, &res->head, &why);
    if (n <= 0)
        return scan_fail(res, PG_JF_SCAN_CORRUPT, 0, n == PG_JF_BAD_PAYLOAD ? why
                         : "not a pushgate journal (no valid header record)");
    if (res->head.type != PG_JREC_HEAD || !(res->head.flags & PG_JF_COMMIT) || res->head.gdelta)
        return scan_fail(res, PG_JF_SCAN_CORRUPT, 0, "not a pushgate journal (no valid header record)");
    *off = (size_t)n;
    return 0;
}

int pg_jf_scan(const uint8_t *data, size_t len, pg_jf_record_fn fn, void *arg,
               struct pg_jf_scan *res)
{
    memset(res, 0, sizeof *res);
    if (len == 0)
        return res->status = PG_JF_SCAN_EMPTY;
    size_t off;
    if (scan_head(data, len, res, &off))
        return res->status;
    uint32_t seed = res->head.nonce;
    if (fn)
        fn(arg, &res->head);
    res->records = 1;
    size_t gstart = off;
    while (off < len) {
        struct pg_jrec r;
        const char *why;
        long n = pg_jf_decode(data + off, len - off, seed, &r, &why);
        if (n == PG_JF_BAD_PAYLOAD)
            return scan_fail(res, PG_JF_SCAN_CORRUPT, off, why);
        if (n > 0 && (r.type == PG_JREC_HEAD || r.gdelta != off - gstart))
            return scan_fail(res, PG_JF_SCAN_CORRUPT, off,
                             r.type == PG_JREC_HEAD ? "a second header record" : "commit group offsets do not line up");
        if (n < 0) {
            res->valid_len = gstart;
            if (later_group_follows(data, len, off, seed))
                return scan_fail(res, PG_JF_SCAN_CORRUPT, off, why);
            return scan_fail(res, PG_JF_SCAN_TORN, gstart, why);
        }
        off += (size_t)n;
        if (r.flags & PG_JF_COMMIT) {
            emit_group(data, gstart, off, seed, fn, arg, res);
            gstart = off;
        }
    }
    res->valid_len = gstart;
    if (gstart < len)
        return scan_fail(res, PG_JF_SCAN_TORN, gstart, "a commit group without its commit record");
    res->status = PG_JF_SCAN_OK;
    return res->status;
}
