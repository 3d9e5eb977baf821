/* test_sse_format.c — the SSE encoder (fallback/sse_format.c): known
 * vectors, CR/LF/CRLF bodies, refused fields, and a round trip through an
 * independent text/event-stream parser written from the WHATWG algorithm
 * (below), fed the encoded stream whole, one byte at a time and cut at
 * every offset. */
#include "tap.h"
#include "sse_format.c"
#include "buf.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- a reference parser (HTML §9.2.6), independent of the encoder ---- */

#define MAXEV 64

struct ev {
    char *type;      /* "message" when no event: field */
    char *data;
    char *last_id;
};

struct parser {
    struct pg_buf line, data, type, id_buf;
    char last_id[256];
    bool cr;              /* the previous chunk ended with CR */
    struct ev ev[MAXEV];
    int n;
    long retry;
};

static void p_init(struct parser *p)
{
    memset(p, 0, sizeof *p);
    p->retry = -1;
}

static char *dup0(const struct pg_buf *b)
{
    char *s = malloc(b->len + 1);
    memcpy(s, b->p ? b->p : "", b->len);
    s[b->len] = '\0';
    return s;
}

static void p_dispatch(struct parser *p)
{
    snprintf(p->last_id, sizeof p->last_id, "%s", p->id_buf.p ? p->id_buf.p : "");
    if (p->data.len == 0) {
        p->type.len = 0;
        return;
    }
    p->data.len--;                    /* the last LF */
    if (p->n < MAXEV) {
        struct ev *e = &p->ev[p->n++];
        e->data = dup0(&p->data);
        e->type = p->type.len ? dup0(&p->type) : strdup("message");
        e->last_id = strdup(p->last_id);
    }
    p->data.len = 0;
    p->type.len = 0;
}

static void p_line(struct parser *p, const char *s, size_t n)
{
    if (n == 0) {
        p_dispatch(p);
        return;
    }
    if (s[0] == ':')
        return;
    const char *colon = memchr(s, ':', n);
    size_t fl = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vl = colon ? n - fl - 1 : 0;
    if (vl && v[0] == ' ')
        v++, vl--;
    if (fl == 4 && !memcmp(s, "data", 4)) {
        pg_buf_add(&p->data, v, vl);
        pg_buf_add(&p->data, "\n", 1);
    } else if (fl == 5 && !memcmp(s, "event", 5)) {
        p->type.len = 0;
        pg_buf_add(&p->type, v, vl);
    } else if (fl == 2 && !memcmp(s, "id", 2) && !memchr(v, '\0', vl)) {
        p->id_buf.len = 0;
        pg_buf_add(&p->id_buf, v, vl);
    } else if (fl == 5 && !memcmp(s, "retry", 5)) {
        long r = 0;
        size_t i = 0;
        for (; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
            r = r * 10 + (v[i] - '0');
        if (i == vl && vl)
            p->retry = r;
    }
}

static void p_feed(struct parser *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (p->cr && c == '\n') {        /* the LF of a CRLF cut between chunks */
            p->cr = false;
            continue;
        }
        p->cr = false;
        if (c == '\r' || c == '\n') {
            p_line(p, p->line.p ? p->line.p : "", p->line.len);
            p->line.len = 0;
            p->cr = c == '\r';
        } else {
            pg_buf_add(&p->line, &c, 1);
        }
    }
}

static void p_free(struct parser *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->ev[i].type);
        free(p->ev[i].data);
        free(p->ev[i].last_id);
    }
    pg_buf_free(&p->line);
    pg_buf_free(&p->data);
    pg_buf_free(&p->type);
    pg_buf_free(&p->id_buf);
}

/* The body as a browser must see it: CR, LF and CRLF all become LF. */
static char *normalise(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            o[k++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* ---- tests ---- */

static bool buf_is(const struct pg_buf *b, const char *want)
{
    size_t n = strlen(want);
    return b->len == n && (n == 0 || memcmp(b->p, want, n) == 0);
}

static void vector(const char *name, const char *id, const char *event, const char *data, size_t dl,
                   const char *want)
{
    struct pg_buf b = {0};
    struct pg_sse_event ev = {id, id ? strlen(id) : 0, event, event ? strlen(event) : 0, data, dl};
    int rc = pg_sse_event(&b, &ev);
    ok(rc == PG_SSE_OK && buf_is(&b, want), "vector: %s", name);
    if (!buf_is(&b, want))
        printf("#   got: %.*s\n", (int)b.len, b.p ? b.p : "");
    pg_buf_free(&b);
}

static void test_vectors(void)
{
    vector("id, event, one line", "e-1", "order.paid", "hello", 5,
           "id: e-1\nevent: order.paid\ndata: hello\n\n");
    vector("no id, no event", NULL, NULL, "x", 1, "data: x\n\n");
    vector("LF lines", "1-2", NULL, "a\nb\nc", 5, "id: 1-2\ndata: a\ndata: b\ndata: c\n\n");
    vector("CR lines", NULL, NULL, "a\rb", 3, "data: a\ndata: b\n\n");
    vector("CRLF lines", NULL, NULL, "a\r\nb", 4, "data: a\ndata: b\n\n");
    vector("LF CR is two line ends", NULL, NULL, "a\n\rb", 4, "data: a\ndata: \ndata: b\n\n");
    vector("trailing LF keeps an empty last line", NULL, NULL, "a\n", 2, "data: a\ndata: \n\n");
    vector("only CRLF", NULL, NULL, "\r\n", 2, "data: \ndata: \n\n");
    vector("empty body", NULL, NULL, "", 0, "data: \n\n");
    vector("NULL empty body", NULL, NULL, NULL, 0, "data: \n\n");
    vector("leading space kept", NULL, NULL, " x", 2, "data:  x\n\n");
    vector("colon in data", NULL, NULL, "a: b", 4, "data: a: b\n\n");
    vector("line looking like a field", NULL, NULL, "x\nid: 9", 7, "data: x\ndata: id: 9\n\n");
}

static void test_nul_body(void)
{
    struct pg_buf b = {0};
    pg_sse_data(&b, "a\0b", 3);
    ok(b.len == 10 && memcmp(b.p, "data: a\0b\n", 10) == 0, "a NUL in the body is copied as is");
    pg_buf_free(&b);
}

static void test_fields(void)
{
    struct pg_buf b = {0};
    int rc = pg_sse_field(&b, "id", "1-1", 3);
    is_int(rc, PG_SSE_OK, "field ok");
    ok(buf_is(&b, "id: 1-1\n"), "field text");
    size_t before = b.len;
    rc = pg_sse_field(&b, "id", "1\n1", 3);
    is_int(rc, PG_SSE_EVALUE, "LF in a value refused");
    rc = pg_sse_field(&b, "id", "1\r1", 3);
    is_int(rc, PG_SSE_EVALUE, "CR in a value refused");
    rc = pg_sse_field(&b, "id", "1\0001", 3);
    is_int(rc, PG_SSE_EVALUE, "NUL in a value refused");
    rc = pg_sse_field(&b, "", "x", 1);
    is_int(rc, PG_SSE_ENAME, "empty name refused");
    rc = pg_sse_field(&b, "a:b", "x", 1);
    is_int(rc, PG_SSE_ENAME, "':' in a name refused");
    rc = pg_sse_field(&b, "a\nb", "x", 1);
    is_int(rc, PG_SSE_ENAME, "LF in a name refused");
    is_int(b.len, before, "refused fields write nothing");
    struct pg_sse_event ev = {.id = "x\ny", .id_len = 3, .data = "d", .data_len = 1};
    rc = pg_sse_event(&b, &ev);
    is_int(rc, PG_SSE_EVALUE, "event with LF in its id refused");
    struct pg_sse_event ev2 = {.event = "a\rb", .event_len = 3, .data = "d", .data_len = 1};
    rc = pg_sse_event(&b, &ev2);
    is_int(rc, PG_SSE_EVALUE, "event with CR in its name refused");
    is_int(b.len, before, "refused events write nothing");
    ok(strcmp(pg_sse_strerror(PG_SSE_EVALUE), "ok") != 0 && strcmp(pg_sse_strerror(99), "") != 0,
       "every error has a why string");
    b.len = 0;
    pg_sse_retry(&b, 3000);
    ok(buf_is(&b, "retry: 3000\n"), "retry line");
    b.len = 0;
    pg_sse_comment(&b, "hi\nthere", 8);
    ok(buf_is(&b, ": hi\n: there\n"), "comment split into lines");
    pg_buf_free(&b);
}

/* Encodes bodies[] as a stream (with retry and a comment in between) and
 * checks the parser sees each one, fed with the given chunk size (0: cut
 * once at offset `cut`). */
static bool roundtrip(const char *const *bodies, const size_t *lens, int n, size_t chunk, size_t cut,
                      size_t *stream_len)
{
    struct pg_buf s = {0};
    pg_sse_retry(&s, 1500);
    pg_sse_comment(&s, "open", 4);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "7-%d", i + 1);
        struct pg_sse_event ev = {id, strlen(id), i % 2 ? "ev.x" : NULL, i % 2 ? 4 : 0, bodies[i], lens[i]};
        pg_sse_event(&s, &ev);
    }
    *stream_len = s.len;
    struct parser p;
    p_init(&p);
    if (chunk) {
        for (size_t off = 0; off < s.len; off += chunk)
            p_feed(&p, s.p + off, PG_MIN(chunk, s.len - off));
    } else {
        p_feed(&p, s.p, cut);
        p_feed(&p, s.p + cut, s.len - cut);
    }
    bool good = p.retry == 1500;
    int k = 0;
    for (int i = 0; i < n && good; i++) {
        char *want = normalise(bodies[i], lens[i]);
        char id[16];
        snprintf(id, sizeof id, "7-%d", i + 1);
        good = k < p.n && strcmp(p.ev[k].data, want) == 0 && strcmp(p.ev[k].last_id, id) == 0 &&
               strcmp(p.ev[k].type, i % 2 ? "ev.x" : "message") == 0;
        k++;
        free(want);
    }
    good = good && k == p.n;
    p_free(&p);
    pg_buf_free(&s);
    return good;
}

static const char *const bodies[] = {
    "plain", "two\nlines", "cr\rline", "crlf\r\nline", "end\n", "\n", "\r\n\r\n", "mixed\r\n\n\rx",
    " lead", ":colon", "data: inner", "", "ünïcödé ✓\nzweite", "x\r",
};

static void test_roundtrip(void)
{
    size_t lens[PG_ARRAY_LEN(bodies)];
    int n = (int)PG_ARRAY_LEN(bodies);
    for (int i = 0; i < n; i++)
        lens[i] = strlen(bodies[i]);
    size_t total;
    ok(roundtrip(bodies, lens, n, 1 << 20, 0, &total), "round trip, whole stream");
    ok(roundtrip(bodies, lens, n, 1, 0, &total), "round trip, one byte at a time");
    bool all = true;
    for (size_t cut = 0; cut <= total && all; cut++)
        all = roundtrip(bodies, lens, n, 0, cut, &total);
    ok(all, "round trip, cut at every offset (%zu)", total);
    for (size_t chunk = 2; chunk < 9; chunk++)
        ok(roundtrip(bodies, lens, n, chunk, 0, &total), "round trip, %zu-byte chunks", chunk);
}

/* Every byte pattern of CR, LF and 'a' up to length 6 survives. */
static void test_exhaustive_line_ends(void)
{
    const char alpha[3] = {'a', '\r', '\n'};
    bool all = true;
    int count = 0;
    for (int len = 1; len <= 6 && all; len++) {
        int combos = 1;
        for (int i = 0; i < len; i++)
            combos *= 3;
        for (int c = 0; c < combos && all; c++) {
            char body[8];
            int v = c;
            for (int i = 0; i < len; i++, v /= 3)
                body[i] = alpha[v % 3];
            body[len] = '\0';
            const char *bs[1] = {body};
            size_t ls[1] = {(size_t)len}, total;
            all = roundtrip(bs, ls, 1, 1, 0, &total);
            count++;
            if (!all)
                printf("#   failed body of length %d, combo %d\n", len, c);
        }
    }
    ok(all, "all %d bodies of a, CR, LF up to 6 bytes round-trip", count);
}

static void test_large(void)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) {
        big[i] = (i % 1000 == 999) ? '\n' : 'x';
        lines += big[i] == '\n';
    }
    struct pg_buf b = {0};
    pg_sse_data(&b, big, n);
    size_t dl = 0;
    for (size_t i = 0; i + 6 <= b.len; i++)
        if ((i == 0 || b.p[i - 1] == '\n') && memcmp(b.p + i, "data: ", 6) == 0)
            dl++;
    is_int(dl, lines, "1 MiB body: one data line per line");
    is_int(b.len, n + lines * 6 + 1, "1 MiB body: exact size");
    pg_buf_free(&b);
    free(big);
}

int main(void)
{
    test_vectors();
    test_nul_body();
    test_fields();
    test_roundtrip();
    test_exhaustive_line_ends();
    test_large();
    return done_testing();
}
