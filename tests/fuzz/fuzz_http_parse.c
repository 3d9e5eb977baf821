/* fuzz_http_parse.c — libFuzzer target for http_parse.c: parses a request
 * head, checks that every view lies inside the input and that a prefix never
 * disagrees with the whole, then chunked-decodes the rest in fuzzer-chosen
 * pieces and checks the pieces decode exactly like one call.
 *
 * Input layout: 4 control bytes, then the bytes on the wire.
 *   ctrl[0..1]  where to cut the head for the prefix check
 *   ctrl[2]     bit 0: chunk-decode the whole input when the head is invalid
 *   ctrl[2..3]  seed for the chunk piece sizes; ctrl[3] % 64 + 1 is the
 *               largest piece
 * Every buffer handed to the codec is its own exact-size allocation, so ASan
 * catches any read past the end.
 */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static char *dup_exact(const char *p, size_t n)
{
    char *q = malloc(n ? n : 1);
    CHECK(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

static void check_within(const char *v, size_t n, const char *lo, const char *hi)
{
    if (n == 0 && v == NULL)
        return;
    CHECK(v >= lo && v <= hi && n <= (size_t)(hi - v));
}

static void check_form(const char *q, size_t n)
{
    const char *cur = q, *end = q + n, *k, *v;
    size_t kl, vl;
    char *out = malloc(n ? n : 1);
    CHECK(out);
    while (pg_query_next(&cur, end, &k, &kl, &v, &vl)) {
        check_within(k, kl, q, end);
        check_within(v, vl, q, end);
        CHECK(cur >= q && cur <= end);
        ssize_t r = pg_url_decode(k, kl, out, n, true);
        CHECK(r >= -1 && r <= (ssize_t)kl);
        r = pg_url_decode(v, vl, out, vl, false);
        CHECK(r >= -1 && r <= (ssize_t)vl);
    }
    if (pg_query_find(q, n, "id", &v, &vl))
        check_within(v, vl, q, end);
    free(out);
}

static void check_request(const char *buf, int r, const struct pg_http_request *req)
{
    const char *end = buf + r;
    CHECK(req->method_len > 0);
    check_within(req->method, req->method_len, buf, end);
    check_within(req->target, req->target_len, buf, end);
    check_within(req->path, req->path_len, req->target, req->target + req->target_len);
    check_within(req->query, req->query_len, req->target, req->target + req->target_len);
    CHECK(req->path_len > 0 && (req->path[0] == '/' || req->path[0] == '*'));
    CHECK(req->minor_version == 0 || req->minor_version == 1);
    CHECK(req->num_headers <= PG_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct pg_http_header *h = &req->headers[i];
        CHECK(h->name_len > 0);
        check_within(h->name, h->name_len, buf, end);
        check_within(h->value, h->value_len, buf, end);
        CHECK(h->value_len == 0 || (h->value[0] != ' ' && h->value[h->value_len - 1] != ' '));
    }
    CHECK(req->content_length >= -1 && req->content_length <= PG_HTTP_MAX_CONTENT_LENGTH);
    CHECK(!(req->chunked && req->content_length >= 0));
    if (req->query)
        check_form(req->query, req->query_len);
}

/* A prefix of the head answers INCOMPLETE before the end, the same after it,
 * and never an error the whole did not give. */
static void check_prefix(const char *data, size_t n, size_t k, int full, const char *full_why)
{
    struct pg_http_request req;
    const char *why = NULL;
    char *p = dup_exact(data, k);
    int r = pg_http_parse_request(p, k, &req, &why);
    if (full >= 0)
        CHECK(k < (size_t)full ? r == PG_HTTP_INCOMPLETE : r == full);
    else if (full == PG_HTTP_INCOMPLETE)
        CHECK(r == PG_HTTP_INCOMPLETE);
    else
        CHECK(r == PG_HTTP_INCOMPLETE || (r == PG_HTTP_ERR && why == full_why));
    free(p);
}

struct decoded {
    ssize_t status;
    const char *why;
    char *out;  /* decoded body followed by the bytes handed back */
    size_t out_len, rest_len;
};

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Decodes body[0..n) in pieces of 1..max_piece bytes drawn from seed
 * (max_piece 0: one piece). */
static void decode(const char *body, size_t n, uint32_t max_piece, uint32_t seed,
                   struct decoded *d)
{
    struct pg_http_chunked st = { 0 };
    size_t from = 0;
    d->out = malloc(n ? n : 1);
    CHECK(d->out);
    d->out_len = d->rest_len = 0;
    d->status = PG_HTTP_INCOMPLETE;
    d->why = NULL;
    while (from < n && d->status == PG_HTTP_INCOMPLETE) {
        size_t piece = max_piece ? 1 + next_rand(&seed) % max_piece : n;
        piece = piece > n - from ? n - from : piece;
        char *p = dup_exact(body + from, piece);
        size_t len = piece;
        d->status = pg_http_chunked_decode(&st, p, &len, &d->why);
        CHECK(d->status >= PG_HTTP_INCOMPLETE && len <= piece);
        if (d->status >= 0)
            CHECK((size_t)d->status <= piece - len);
        if (d->status != PG_HTTP_ERR) {
            memcpy(d->out + d->out_len, p, len);
            d->out_len += len;
        }
        if (d->status >= 0) {
            d->rest_len = (size_t)d->status + (n - from - piece);
            memcpy(d->out + d->out_len, p + len, (size_t)d->status);
            memcpy(d->out + d->out_len + d->status, body + from + piece, n - from - piece);
        }
        CHECK(d->status != PG_HTTP_ERR || d->why != NULL);
        free(p);
        from += piece;
    }
}

static void check_chunked(const char *body, size_t n, uint32_t seed)
{
    struct decoded whole, split;
    decode(body, n, 0, 0, &whole);
    decode(body, n, 1 + (seed & 0xff) % 64, seed | 1, &split);
    if (whole.status >= 0) {
        CHECK(split.status >= 0 && split.out_len == whole.out_len &&
              split.rest_len == whole.rest_len &&
              !memcmp(split.out, whole.out, whole.out_len + whole.rest_len));
    } else {
        CHECK(split.status == whole.status && split.why == whole.why);
        if (whole.status == PG_HTTP_INCOMPLETE)
            CHECK(split.out_len == whole.out_len && !memcmp(split.out, whole.out, whole.out_len));
    }
    free(whole.out);
    free(split.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t cut = (size_t)data[0] << 8 | data[1];
    uint32_t seed = (uint32_t)data[2] << 8 | data[3];
    const char *in = (const char *)data + 4;
    size_t n = size - 4;

    char *buf = dup_exact(in, n);
    struct pg_http_request req;
    const char *why = NULL;
    int r = pg_http_parse_request(buf, n, &req, &why);
    CHECK(r >= PG_HTTP_INCOMPLETE && r <= (int)n);
    CHECK(r != PG_HTTP_ERR || why != NULL);
    if (r >= 0)
        check_request(buf, r, &req);
    check_prefix(in, n, cut % (n + 1), r, why);

    if (r >= 0 && req.chunked)
        check_chunked(in + r, n - (size_t)r, seed);
    else if (r < 0 && (data[2] & 1))
        check_chunked(in, n, seed);
    free(buf);
    return 0;
}
