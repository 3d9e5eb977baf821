/* sse_format.c — the text/event-stream encoder (see sse_format.h for the
 * line rules). Invariant: every function either appends complete lines or
 * appends nothing; an event always ends with the blank line that
 * dispatches it.
 *
 * Deliberate departures: none from the format. We never write a UTF-8 BOM
 * (optional, and a proxy that re-chunks could duplicate it), and we always
 * write "name: value" with one space, never the bare "name" form. */
#include "sse_format.h"
#include "buf.h"

#include <stdio.h>
#include <string.h>

const char *pg_sse_strerror(int err)
{
    switch (err) {
    case PG_SSE_OK: return "ok";
    case PG_SSE_ENAME: return "an SSE field name must be non-empty, without ':', CR, LF or NUL";
    case PG_SSE_EVALUE: return "an SSE id, event or retry value must not contain CR, LF or NUL";
    default: return "unknown SSE error";
    }
}

static int check_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return -1;
    return 0;
}

static void add_field(struct pg_buf *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
    pg_buf_reserve(out, nlen + vlen + 3);
    pg_buf_add(out, name, nlen);
    pg_buf_add(out, ": ", 2);
    pg_buf_add(out, value, vlen);
    pg_buf_add(out, "\n", 1);
}

int pg_sse_field(struct pg_buf *out, const char *name, const char *value, size_t len)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || check_line(name, nlen) < 0 || memchr(name, ':', nlen))
        return PG_SSE_ENAME;
    if (check_line(value, len) < 0)
        return PG_SSE_EVALUE;
    add_field(out, name, nlen, value, len);
    return PG_SSE_OK;
}

/* Appends prefix, the line and LF for every line of text (CR, LF and CRLF
 * end a line); a text ending with a line end has a last, empty line; an
 * empty text is one empty line. */
static void each_line(struct pg_buf *out, const char *prefix, size_t plen, const char *text, size_t len)
{
    size_t start = 0, i = 0;
    pg_buf_reserve(out, len + plen + 2);
    for (;;) {
        while (i < len && text[i] != '\r' && text[i] != '\n')
            i++;
        pg_buf_add(out, prefix, plen);
        pg_buf_add(out, text + start, i - start);
        pg_buf_add(out, "\n", 1);
        if (i == len)
            return;
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
            i++;
        start = ++i;
    }
}

void pg_sse_data(struct pg_buf *out, const char *body, size_t len)
{
    each_line(out, "data: ", 6, body ? body : "", len);
}

void pg_sse_comment(struct pg_buf *out, const char *text, size_t len)
{
    each_line(out, ": ", 2, text ? text : "", len);
}

int pg_sse_event(struct pg_buf *out, const struct pg_sse_event *ev)
{
    if ((ev->id && check_line(ev->id, ev->id_len) < 0) ||
        (ev->event && check_line(ev->event, ev->event_len) < 0))
        return PG_SSE_EVALUE;
    pg_buf_reserve(out, ev->id_len + ev->event_len + ev->data_len + 32);
    if (ev->id)
        add_field(out, "id", 2, ev->id, ev->id_len);
    if (ev->event)
        add_field(out, "event", 5, ev->event, ev->event_len);
    pg_sse_data(out, ev->data, ev->data_len);
    pg_buf_add(out, "\n", 1);
    return PG_SSE_OK;
}

void pg_sse_retry(struct pg_buf *out, uint32_t ms)
{
    char v[16];
    int n = snprintf(v, sizeof v, "%u", (unsigned)ms);
    add_field(out, "retry", 5, v, (size_t)n);
}
