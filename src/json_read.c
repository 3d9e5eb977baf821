/* json_read.c — a minimal, strict JSON reader for small documents: bytes in,
 * a tree of pg_json values out (see json_read.h for the grammar it enforces).
 *
 * Invariants: never reads past p + n; every returned tree is fully built (a
 * failed parse frees what it built); nesting depth is bounded by the caller,
 * so the recursive descent and the recursive free use bounded stack.
 *
 * Deliberate departures: none from RFC 8259 in what is accepted; it refuses
 * more than the RFC must (duplicate keys, lone surrogates, invalid UTF-8),
 * as RFC 8259 §8.1/§8.2 and RFC 7515 §4 allow. Numbers are not converted at
 * parse time (no strtod, so no locale), only on request by pg_json_int64.
 */
#include "json_read.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct rd {
    const unsigned char *p, *end;
    int depth, max_depth;
    const char *why;
};

static int fail(struct rd *r, int err, const char *why)
{
    r->why = why;
    return err;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static void skip_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static struct pg_json *node_new(enum pg_json_type type)
{
    struct pg_json *v = pg_xcalloc(1, sizeof(*v));
    v->type = type;
    return v;
}

/* A node with its text stored in the same allocation (numbers: halves the
 * heap cost of "[0,0,0,...]"). */
static struct pg_json *node_new_text(enum pg_json_type type, const unsigned char *text, size_t len)
{
    struct pg_json *v = pg_xcalloc(1, sizeof(*v) + len + 1);
    v->type = type;
    v->str = (char *)(v + 1);
    v->len = len;
    memcpy(v->str, text, len);
    return v;
}

void pg_json_free(struct pg_json *v)
{
    while (v) {
        struct pg_json *next = v->next;
        pg_json_free(v->child);
        if (v->str != (char *)(v + 1))
            free(v->str);
        free(v->key);
        free(v);
        v = next;
    }
}

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-8-encoded surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static int hex4(const unsigned char *s, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - s < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        unsigned d;
        if (is_digit(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At a backslash's successor (r->p): decodes one \uXXXX (pairing
 * surrogates) into *cp and advances past it. */
static int read_u_escape(struct rd *r, unsigned *cp)
{
    unsigned hi, lo;
    if (hex4(r->p, r->end, &hi) < 0)
        return fail(r, PG_JSON_SYNTAX, "bad \\u escape in JSON string");
    r->p += 4;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return fail(r, PG_JSON_SYNTAX, "lone low surrogate in JSON string");
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return PG_JSON_OK;
    }
    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, r->end, &lo) < 0 ||
        lo < 0xDC00 || lo > 0xDFFF)
        return fail(r, PG_JSON_SYNTAX, "unpaired high surrogate in JSON string");
    r->p += 6;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return PG_JSON_OK;
}

/* One escape after the backslash at r->p[-1]; appends to o, returns bytes. */
static int read_escape(struct rd *r, char *o, size_t *wrote)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    unsigned cp;
    unsigned char c = *r->p++;
    const char *hit = c ? strchr(from, c) : NULL;

    if (hit) {
        *o = to[hit - from];
        *wrote = 1;
        return PG_JSON_OK;
    }
    if (c != 'u')
        return fail(r, PG_JSON_SYNTAX, "bad escape in JSON string");
    int err = read_u_escape(r, &cp);
    if (err)
        return err;
    *wrote = put_utf8(o, cp);
    return PG_JSON_OK;
}

/* Byte count up to the closing quote (r->p is just past the opening one). */
static int scan_string(struct rd *r, size_t *raw)
{
    const unsigned char *s = r->p;
    while (s < r->end && *s != '"')
        s += (*s == '\\' && s + 1 < r->end) ? 2 : 1;
    if (s >= r->end)
        return fail(r, PG_JSON_SYNTAX, "unterminated JSON string");
    *raw = (size_t)(s - r->p);
    return PG_JSON_OK;
}

/* At an opening quote: decodes the string into a fresh buffer. Escapes never
 * decode longer than their source, so the raw length bounds the output. */
static int read_string(struct rd *r, char **out, size_t *out_len)
{
    size_t raw, o = 0, step = 0;
    int err;

    r->p++;
    if ((err = scan_string(r, &raw)))
        return err;
    char *buf = pg_xmalloc(raw + 1);
    while (*r->p != '"') {
        unsigned char c = *r->p;
        if (c < 0x20) {
            err = fail(r, PG_JSON_SYNTAX, "control character in JSON string");
        } else if (c == '\\') {
            r->p++;
            err = read_escape(r, buf + o, &step);
        } else if ((step = utf8_seq(r->p, (size_t)(r->end - r->p))) == 0) {
            err = fail(r, PG_JSON_SYNTAX, "invalid UTF-8 in JSON string");
        } else {
            memcpy(buf + o, r->p, step);
            r->p += step;
        }
        if (err) {
            free(buf);
            return err;
        }
        o += step;
    }
    r->p++;
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return PG_JSON_OK;
}

static void skip_digits(struct rd *r)
{
    while (r->p < r->end && is_digit(*r->p))
        r->p++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int read_number(struct rd *r, struct pg_json **out)
{
    const unsigned char *start = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || !is_digit(*r->p))
        return fail(r, PG_JSON_SYNTAX, "bad JSON number");
    if (*r->p++ == '0' && r->p < r->end && is_digit(*r->p))
        return fail(r, PG_JSON_SYNTAX, "leading zero in JSON number");
    skip_digits(r);
    if (r->p < r->end && *r->p == '.') {
        if (++r->p >= r->end || !is_digit(*r->p))
            return fail(r, PG_JSON_SYNTAX, "bad fraction in JSON number");
        skip_digits(r);
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || !is_digit(*r->p))
            return fail(r, PG_JSON_SYNTAX, "bad exponent in JSON number");
        skip_digits(r);
    }
    *out = node_new_text(PG_JSON_NUMBER, start, (size_t)(r->p - start));
    return PG_JSON_OK;
}

static int read_literal(struct rd *r, struct pg_json **out)
{
    static const struct { const char *text; enum pg_json_type type; } lits[] = {
        { "true", PG_JSON_TRUE }, { "false", PG_JSON_FALSE }, { "null", PG_JSON_NULL },
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(lits); i++) {
        size_t n = strlen(lits[i].text);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, lits[i].text, n) == 0) {
            r->p += n;
            *out = node_new(lits[i].type);
            return PG_JSON_OK;
        }
    }
    return fail(r, PG_JSON_SYNTAX, "unexpected character in JSON");
}

static int read_value(struct rd *r, struct pg_json **out);

static int key_cmp(const void *a, const void *b)
{
    const struct pg_json *x = *(const struct pg_json *const *)a;
    const struct pg_json *y = *(const struct pg_json *const *)b;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return memcmp(x->key, y->key, x->key_len);
}

/* Sorts the member names and compares neighbours: O(n log n), so a large
 * hostile object (callers accept up to a megabyte) cannot make it quadratic. */
static bool has_duplicate_keys(const struct pg_json *obj)
{
    bool dup = false;
    if (obj->n < 2)
        return false;
    const struct pg_json **m = pg_xmalloc(obj->n * sizeof(*m));
    size_t i = 0;
    for (const struct pg_json *v = obj->child; v; v = v->next)
        m[i++] = v;
    qsort(m, obj->n, sizeof(*m), key_cmp);
    for (i = 1; i < obj->n && !dup; i++)
        dup = key_cmp(&m[i - 1], &m[i]) == 0;
    free(m);
    return dup;
}

/* One "key": value member of the object *obj; links it after *tail. */
static int read_member(struct rd *r, struct pg_json *obj, struct pg_json **tail)
{
    char *key;
    size_t key_len;
    struct pg_json *v;
    int err;

    skip_ws(r);
    if (r->p >= r->end || *r->p != '"')
        return fail(r, PG_JSON_SYNTAX, "expected a string key in JSON object");
    if ((err = read_string(r, &key, &key_len)))
        return err;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') {
        free(key);
        return fail(r, PG_JSON_SYNTAX, "expected ':' in JSON object");
    }
    r->p++;
    if ((err = read_value(r, &v))) {
        free(key);
        return err;
    }
    v->key = key;
    v->key_len = key_len;
    *(*tail ? &(*tail)->next : &obj->child) = v;
    *tail = v;
    obj->n++;
    return PG_JSON_OK;
}

/* One element of the array *arr; links it after *tail. */
static int read_element(struct rd *r, struct pg_json *arr, struct pg_json **tail)
{
    struct pg_json *v;
    int err = read_value(r, &v);
    if (err)
        return err;
    *(*tail ? &(*tail)->next : &arr->child) = v;
    *tail = v;
    arr->n++;
    return PG_JSON_OK;
}

/* At '[' or '{': reads elements or members up to the matching close. */
static int read_container(struct rd *r, struct pg_json **out)
{
    bool is_obj = *r->p == '{';
    unsigned char close = is_obj ? '}' : ']';
    struct pg_json *c = node_new(is_obj ? PG_JSON_OBJECT : PG_JSON_ARRAY), *tail = NULL;
    int err = PG_JSON_OK;

    if (++r->depth > r->max_depth) {
        err = fail(r, PG_JSON_LIMIT, "JSON nested too deeply");
        goto done;
    }
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        goto done;
    }
    for (;;) {
        err = is_obj ? read_member(r, c, &tail) : read_element(r, c, &tail);
        if (err)
            goto done;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            if (is_obj && has_duplicate_keys(c))
                err = fail(r, PG_JSON_DUPLICATE, "duplicate key in JSON object");
            goto done;
        }
        err = fail(r, PG_JSON_SYNTAX, is_obj ? "expected ',' or '}' in JSON object"
                                             : "expected ',' or ']' in JSON array");
        goto done;
    }
done:
    r->depth--;
    if (err) {
        pg_json_free(c);
        return err;
    }
    *out = c;
    return PG_JSON_OK;
}

static int read_value(struct rd *r, struct pg_json **out)
{
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, PG_JSON_SYNTAX, "unexpected end of JSON");
    unsigned char c = *r->p;
    if (c == '{' || c == '[')
        return read_container(r, out);
    if (c == '-' || is_digit(c))
        return read_number(r, out);
    if (c == '"') {
        struct pg_json *v = node_new(PG_JSON_STRING);
        int err = read_string(r, &v->str, &v->len);
        if (err) {
            free(v);
            return err;
        }
        *out = v;
        return PG_JSON_OK;
    }
    return read_literal(r, out);
}

int pg_json_parse(const char *p, size_t n, size_t max_bytes, int max_depth,
                  struct pg_json **out, const char **why)
{
    struct rd r = { (const unsigned char *)p, (const unsigned char *)p + n, 0, max_depth, NULL };
    struct pg_json *v = NULL;
    int err;

    *out = NULL;
    if (n > max_bytes)
        err = fail(&r, PG_JSON_LIMIT, "JSON document too large");
    else if ((err = read_value(&r, &v)) == PG_JSON_OK) {
        skip_ws(&r);
        if (r.p != r.end) {
            pg_json_free(v);
            err = fail(&r, PG_JSON_SYNTAX, "trailing bytes after JSON value");
        }
    }
    if (err) {
        *why = r.why;
        return err;
    }
    *out = v;
    return PG_JSON_OK;
}

const struct pg_json *pg_json_get(const struct pg_json *obj, const char *key)
{
    size_t len = strlen(key);
    if (!obj || obj->type != PG_JSON_OBJECT)
        return NULL;
    for (const struct pg_json *m = obj->child; m; m = m->next)
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return m;
    return NULL;
}

/* Appends digit d to the magnitude *mag; -1 past INT64_MAX. */
static int mag_push(uint64_t *mag, unsigned d)
{
    if (*mag > ((uint64_t)INT64_MAX - d) / 10)
        return -1;
    *mag = *mag * 10 + d;
    return 0;
}

/* The number's text was validated by read_number, so the grammar holds:
 * digits before the point are int_d (then frac_d after it), scaled by 10^e. */
int pg_json_int64(const struct pg_json *v, int64_t *out)
{
    if (!v || v->type != PG_JSON_NUMBER)
        return -1;
    const char *s = v->str, *end = s + v->len;
    bool neg = *s == '-';
    s += neg;
    const char *ip = s;
    while (s < end && is_digit((unsigned char)*s))
        s++;
    size_t n_int = (size_t)(s - ip), n_frac = 0;
    const char *fp = s + 1;
    if (s < end && *s == '.')
        for (s++; s < end && is_digit((unsigned char)*s); s++)
            n_frac++;
    long e = 0;
    bool e_neg = false;
    if (s < end) { /* 'e' or 'E' */
        s++;
        if (*s == '+' || *s == '-')
            e_neg = *s++ == '-';
        for (; s < end; s++)
            e = e < 100000 ? e * 10 + (*s - '0') : e;
    }
    long point = (long)n_int + (e_neg ? -e : e); /* digits left of the point */
    uint64_t mag = 0;
    bool dropped = false;
    for (size_t i = 0; i < n_int + n_frac; i++) {
        unsigned d = (unsigned)((i < n_int ? ip[i] : fp[i - n_int]) - '0');
        if ((long)i >= point)
            dropped |= d != 0;
        else if (mag_push(&mag, d) < 0)
            return -1;
    }
    for (long i = (long)(n_int + n_frac); i < point && mag; i++)
        if (mag_push(&mag, 0) < 0)
            return -1;
    if (neg && dropped) { /* floor: one more toward -inf */
        if (mag == (uint64_t)INT64_MAX)
            return -1;
        mag++;
    }
    *out = neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}
