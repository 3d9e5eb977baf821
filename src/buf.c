/* buf.c — growable byte buffer, JSON string escaping, base64. */
#include "buf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void pg_buf_reserve(struct pg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->p = pg_xrealloc(b->p, cap);
    b->cap = cap;
}

void pg_buf_add(struct pg_buf *b, const void *data, size_t len)
{
    pg_buf_reserve(b, len);
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void pg_buf_adds(struct pg_buf *b, const char *s)
{
    pg_buf_add(b, s, strlen(s));
}

/* One vsnprintf when the text fits the room already reserved (the usual
 * case: replies reserve ahead), a second one only when it did not. */
void pg_buf_addf(struct pg_buf *b, const char *fmt, ...)
{
    va_list ap;
    pg_buf_reserve(b, 64);
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->p[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        pg_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void pg_buf_add_u64(struct pg_buf *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    pg_buf_add(b, d + sizeof d - n, n);
}

void pg_buf_json_escaped(struct pg_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    pg_buf_reserve(b, len);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        pg_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            n = 6;
        }
        pg_buf_add(b, esc, n);
    }
    pg_buf_add(b, s + run, len - run);
}

void pg_buf_json_str(struct pg_buf *b, const char *s, size_t len)
{
    pg_buf_reserve(b, len + 2);
    pg_buf_add(b, "\"", 1);
    pg_buf_json_escaped(b, s, len);
    pg_buf_add(b, "\"", 1);
}

void pg_buf_base64(struct pg_buf *b, const void *data, size_t len)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    pg_buf_reserve(b, (len + 2) / 3 * 4);
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63]; *o++ = tbl[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

char *pg_buf_steal(struct pg_buf *b, size_t *len)
{
    if (!b->p)
        pg_buf_reserve(b, 0), b->p[0] = '\0';
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void pg_buf_free(struct pg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
