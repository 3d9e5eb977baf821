/* fallback_query.c — reads transport, format, cursor and JSONP callback
 * from a subscribe request (see fallback_query.h for the rules).
 * Invariant: *out is fully written on every return; on error it holds the
 * defaults (long-poll, no cursor, no callback), never half-parsed text.
 *
 * Deliberate departures: none; the callback rule is stricter than what
 * JavaScript allows (no reserved-word check is needed because a reserved
 * word can only make the script fail, not do something else). */
#include "fallback_query.h"
#include "http_parse.h"

#include <string.h>

const char *pg_fb_strerror(int err)
{
    switch (err) {
    case PG_FB_OK: return "ok";
    case PG_FB_EENCODING: return "malformed percent-encoding in the query";
    case PG_FB_ETRANSPORT: return "transport must be sse or longpoll (WebSocket needs an Upgrade request)";
    case PG_FB_EFORMAT: return "format must be json or raw (raw only with SSE)";
    case PG_FB_ECURSOR: return "malformed cursor: expected <epoch>-<seq> as in a message id";
    case PG_FB_ECALLBACK: return "callback must be a JavaScript name such as cb or app.push[2] (at most 128 bytes)";
    case PG_FB_ECONFLICT: return "callback (JSONP) works only with long-poll";
    default: return "unknown request error";
    }
}

static bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

bool pg_fb_callback_valid(const char *s, size_t n)
{
    if (n == 0 || n > PG_FB_CALLBACK_MAX)
        return false;
    size_t i = 0;
    bool want_ident = true;
    while (i < n) {
        if (want_ident) {
            if (!ident_start((unsigned char)s[i]))
                return false;
            while (i < n && ident_char((unsigned char)s[i]))
                i++;
            want_ident = false;
        } else if (s[i] == '.') {
            i++;
            want_ident = true;
        } else if (s[i] == '[') {
            size_t d = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == d || i - d > 9 || i == n || s[i] != ']')
                return false;
            i++;
        } else {
            return false;
        }
    }
    return !want_ident;
}

bool pg_fb_cursor_valid(const char *s, size_t n)
{
    const char *dash = n ? memchr(s, '-', n) : NULL;
    if (!dash)
        return false;
    size_t el = (size_t)(dash - s), sl = n - el - 1;
    if (el == 0 || el > 23 || sl == 0 || sl > 20)
        return false;
    for (size_t i = 0; i < el; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    const char *q = dash + 1;
    for (size_t i = 0; i < sl; i++)
        if (q[i] < '0' || q[i] > '9')
            return false;
    /* 20 digits may still pass 2^64 - 1 = 18446744073709551615 */
    return sl < 20 || memcmp(q, "18446744073709551615", 20) <= 0;
}

/* Decodes the first value of key into out[0..cap). Returns its length,
 * -1 when absent, -2 when malformed (bad escape, NUL), -3 when longer
 * than cap - 1. */
static int query_value(const char *q, size_t ql, const char *key, char *out, size_t cap)
{
    const char *v;
    size_t vl;
    if (!q || !pg_query_find(q, ql, key, &v, &vl))
        return -1;
    char tmp[256];
    ssize_t n = pg_url_decode(v, vl, tmp, sizeof tmp, true);
    if (n < 0)
        return vl >= sizeof tmp ? -3 : -2;
    if (memchr(tmp, '\0', (size_t)n))
        return -2;
    if ((size_t)n >= cap)
        return -3;
    memcpy(out, tmp, (size_t)n);
    out[n] = '\0';
    return (int)n;
}

static bool eq_ci(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)lit[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* Does the Accept value list text/event-stream (parameters ignored)? */
static bool accepts_sse(const char *a, size_t n)
{
    size_t i = 0;
    while (a && i < n) {
        while (i < n && (a[i] == ' ' || a[i] == '\t' || a[i] == ','))
            i++;
        size_t start = i;
        while (i < n && a[i] != ',' && a[i] != ';')
            i++;
        size_t end = i;
        while (end > start && (a[end - 1] == ' ' || a[end - 1] == '\t'))
            end--;
        if (eq_ci(a + start, end - start, "text/event-stream"))
            return true;
        while (i < n && a[i] != ',')
            i++;
    }
    return false;
}

static int read_transport(const char *q, size_t ql, int *transport)
{
    char v[16];
    int n = query_value(q, ql, "transport", v, sizeof v);
    if (n == -1)
        return PG_FB_OK;
    if (n == -2)
        return PG_FB_EENCODING;
    if (n >= 0 && strcmp(v, "sse") == 0)
        *transport = PG_FB_SSE;
    else if (n >= 0 && strcmp(v, "longpoll") == 0)
        *transport = PG_FB_LONGPOLL;
    else
        return PG_FB_ETRANSPORT;
    return PG_FB_OK;
}

static int read_format(const char *q, size_t ql, int *format)
{
    char v[16];
    int n = query_value(q, ql, "format", v, sizeof v);
    if (n == -1)
        return PG_FB_OK;
    if (n == -2)
        return PG_FB_EENCODING;
    if (n >= 0 && strcmp(v, "json") == 0)
        *format = 1;
    else if (n >= 0 && strcmp(v, "raw") == 0)
        *format = 2;
    else
        return PG_FB_EFORMAT;
    return PG_FB_OK;
}

static int read_cursor(const char *q, size_t ql, const char *hdr, size_t hl, struct pg_fb_opts *out)
{
    static const char *const keys[] = {"last_id", "last_event_id"};
    if (hdr && hl) {
        if (hl > PG_FB_CURSOR_MAX || !pg_fb_cursor_valid(hdr, hl))
            return PG_FB_ECURSOR;
        memcpy(out->cursor, hdr, hl);
        out->cursor[hl] = '\0';
        out->has_cursor = true;
        return PG_FB_OK;
    }
    for (size_t k = 0; k < 2; k++) {
        int n = query_value(q, ql, keys[k], out->cursor, sizeof out->cursor);
        if (n == -2)
            return PG_FB_EENCODING;
        if (n == -3 || (n > 0 && !pg_fb_cursor_valid(out->cursor, (size_t)n)))
            return PG_FB_ECURSOR;
        if (n > 0) {
            out->has_cursor = true;
            return PG_FB_OK;
        }
    }
    out->cursor[0] = '\0';
    return PG_FB_OK;
}

static int read_callback(const char *q, size_t ql, struct pg_fb_opts *out)
{
    int n = query_value(q, ql, "callback", out->callback, sizeof out->callback);
    if (n == -1)
        return PG_FB_OK;
    if (n == -2)
        return PG_FB_EENCODING;
    if (n < 0 || !pg_fb_callback_valid(out->callback, (size_t)n)) {
        out->callback[0] = '\0';
        return PG_FB_ECALLBACK;
    }
    return PG_FB_OK;
}

static int parse(const char *q, size_t ql, const char *accept, size_t al, const char *lei, size_t ll,
                 struct pg_fb_opts *out)
{
    int transport = 0, format = 0, err;
    if ((err = read_transport(q, ql, &transport)) < 0 || (err = read_format(q, ql, &format)) < 0 ||
        (err = read_callback(q, ql, out)) < 0 || (err = read_cursor(q, ql, lei, ll, out)) < 0)
        return err;
    if (!transport)
        transport = !out->callback[0] && accepts_sse(accept, al) ? PG_FB_SSE : PG_FB_LONGPOLL;
    if (transport == PG_FB_SSE && out->callback[0])
        return PG_FB_ECONFLICT;
    if (transport == PG_FB_LONGPOLL && format == 2)
        return PG_FB_EFORMAT;
    out->transport = transport;
    out->json = format == 1;
    return PG_FB_OK;
}

int pg_fb_parse(const char *query, size_t query_len, const char *accept, size_t accept_len,
                const char *last_event_id, size_t lei_len, struct pg_fb_opts *out)
{
    memset(out, 0, sizeof *out);
    int err = parse(query, query_len, accept, accept_len, last_event_id, lei_len, out);
    if (err < 0) {
        memset(out, 0, sizeof *out);
        out->transport = PG_FB_LONGPOLL;
    }
    return err;
}
