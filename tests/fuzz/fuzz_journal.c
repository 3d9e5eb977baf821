/* fuzz_journal.c — libFuzzer target for the history journal's record
 * codec and whole-file scan (src/journal_format.c).
 *
 * Byte 0 chooses the mode:
 * - even: the rest is a raw journal image. It is scanned (every record a
 *   callback receives must lie inside the image), and each of the first
 *   64 offsets is decoded with seed 0 and with the HEAD's nonce.
 * - odd: the rest is a program that builds a well-formed journal (a HEAD,
 *   then records whose type, commit flag and contents come from the input,
 *   with correct CRCs and group offsets), then applies a fuzzer-chosen cut
 *   and byte flip. Random bytes rarely carry valid CRCs, so this mode is
 *   what reaches the torn-versus-corrupt logic. Invariants checked (abort
 *   on violation): unmutated, the scan is OK (or TORN when the last group
 *   is open) and hands out exactly the committed records; cut only, it is
 *   never CORRUPT and hands out exactly the groups the cut leaves whole;
 *   every decode of a proper prefix of a record is INCOMPLETE. */
#include "buf.h"
#include "journal_format.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bounds {
    const uint8_t *lo, *hi;
    uint64_t n;
};

static void check_view(const struct bounds *b, const void *v, size_t n)
{
    const uint8_t *p = v;
    if (n && (!p || p < b->lo || p + n > b->hi))
        abort();
}

static void on_record(void *arg, const struct pg_jrec *r)
{
    struct bounds *b = arg;
    check_view(b, r->epoch, r->epoch_len);
    check_view(b, r->channel, r->channel_len);
    check_view(b, r->event, r->event_len);
    check_view(b, r->dedup, r->dedup_len);
    check_view(b, r->body, r->body_len);
    b->n++;
}

static void raw_mode(const uint8_t *data, size_t size)
{
    uint8_t *img = malloc(size ? size : 1);   /* exact size: ASan sees overreads */
    memcpy(img, data, size);
    struct bounds b = {img, img + size, 0};
    struct pg_jf_scan res;
    pg_jf_scan(img, size, on_record, &b, &res);
    if (res.valid_len > size || b.n != res.records)
        abort();
    uint32_t seed = res.status == PG_JF_SCAN_OK || res.status == PG_JF_SCAN_TORN ? res.head.nonce : 0;
    for (size_t off = 0; off < size && off < 64; off++) {
        struct pg_jrec r;
        const char *why;
        long n = pg_jf_decode(img + off, size - off, 0, &r, &why);
        if (n > (long)(size - off))
            abort();
        n = pg_jf_decode(img + off, size - off, seed, &r, &why);
        if (n > (long)(size - off))
            abort();
    }
    free(img);
}

struct prog {
    const uint8_t *p, *end;
};

static uint8_t next(struct prog *g)
{
    return g->p < g->end ? *g->p++ : 0;
}

#define MAX_RECS 64

struct image {
    struct pg_buf b;
    size_t ends[MAX_RECS + 1];     /* end offset of each committed group */
    uint64_t recs_at[MAX_RECS + 1]; /* records handed out up to that group (with HEAD) */
    int groups;
    uint64_t records;
    size_t gstart, last;
    bool open_group;
};

static void fill_name(char *s, size_t n, struct prog *g)
{
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + next(g) % 26);
}

static void add(struct image *im, struct prog *g, uint32_t seed)
{
    uint8_t op = next(g);
    char ch[64], ev[16], body[256] = {0};
    size_t ch_len = 1 + next(g) % 40, body_len = next(g);
    fill_name(ch, ch_len, g);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (char)next(g);
    struct pg_jrec r = {.type = PG_JREC_MSG + op % 4, .seq = 1 + next(g), .wall_ms = next(g),
                        .evicted_max_seq = next(g), .channel = ch, .channel_len = ch_len};
    if (r.type == PG_JREC_MSG) {
        r.body = (const uint8_t *)body, r.body_len = body_len;
        if (op & 0x10) {
            r.event_len = 1 + next(g) % 15;
            fill_name(ev, r.event_len, g);
            r.event = ev;
        }
        if (op & 0x20)
            r.dedup = body, r.dedup_len = body_len ? body_len : 1;
    } else if (r.type == PG_JREC_DEDUP) {
        r.dedup = ch, r.dedup_len = ch_len;
    }
    uint8_t flags = op & 0x80 ? PG_JF_COMMIT : 0;
    im->last = im->b.len;
    pg_jf_encode(&im->b, &r, seed, flags, (uint32_t)(im->b.len - im->gstart));
    im->records++;
    im->open_group = !flags;
    if (flags) {
        im->gstart = im->b.len;
        im->ends[++im->groups] = im->b.len;
        im->recs_at[im->groups] = im->records;
    }
}

static void check_prefixes(const struct image *im)
{
    /* every proper prefix of the last record is incomplete */
    size_t len = im->b.len - im->last;
    uint8_t *rec = malloc(len);
    memcpy(rec, im->b.p + im->last, len);
    struct pg_jrec r;
    const char *why;
    for (size_t cut = 0; cut < len; cut++)
        if (pg_jf_decode(rec, cut, 0x9e3779b9u, &r, &why) != PG_JF_INCOMPLETE)
            abort();
    free(rec);
}

static void build_mode(const uint8_t *data, size_t size)
{
    struct prog g = {data, data + size};
    const uint32_t seed = 0x9e3779b9u;
    struct image im = {0};
    struct pg_jrec h = {.type = PG_JREC_HEAD, .nonce = seed, .seq = 1, .epoch = "e1", .epoch_len = 2};
    pg_jf_encode(&im.b, &h, 0, PG_JF_COMMIT, 0);
    im.gstart = im.ends[0] = im.b.len;
    im.records = im.recs_at[0] = 1;
    int n = next(&g) % MAX_RECS;
    for (int i = 0; i < n && g.p < g.end; i++)
        add(&im, &g, seed);
    if (im.records > 1)
        check_prefixes(&im);
    size_t cut = ((size_t)next(&g) << 8 | next(&g)) % (im.b.len + 1);
    bool do_cut = next(&g) & 1, do_flip = next(&g) & 1;
    size_t flip_at = ((size_t)next(&g) << 8 | next(&g)) % im.b.len;
    uint8_t flip = next(&g);
    size_t len = do_cut ? PG_MAX(cut, im.ends[0]) : im.b.len;
    uint8_t *img = malloc(len);
    memcpy(img, im.b.p, len);
    if (do_flip && flip_at < len)
        img[flip_at] ^= flip;
    struct bounds b = {img, img + len, 0};
    struct pg_jf_scan res;
    int st = pg_jf_scan(img, len, on_record, &b, &res);
    if (!(do_flip && flip)) {   /* cut only: exactly the whole groups, never corrupt */
        int gi = 0;
        while (gi < im.groups && im.ends[gi + 1] <= len)
            gi++;
        int want = im.ends[gi] == len ? PG_JF_SCAN_OK : PG_JF_SCAN_TORN;
        if (st != want || res.valid_len != im.ends[gi] || b.n != im.recs_at[gi])
            abort();
    }
    if (res.valid_len > len)
        abort();
    free(img);
    pg_buf_free(&im.b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        build_mode(data + 1, size - 1);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}
