/* sse_format.h — the Server-Sent Events wire codec (WHATWG HTML §9.2,
 * "text/event-stream"): field lines, events whose body becomes one
 * `data:` line per line, comments and `retry:`. Bytes in, bytes out into a
 * pg_buf; no I/O, no event2/ include.
 *
 * Line handling: a body may use LF, CR or CRLF between lines (the three
 * line ends the format knows); each line becomes one "data: <line>\n" and
 * every line end is written as LF, so a browser's event.data is the body
 * with each CR, LF or CRLF turned into LF. A body ending with a line end
 * gets a final empty data line, so that end survives (the browser strips
 * exactly one trailing LF). A space always follows the colon, so a line
 * that itself starts with a space keeps it.
 *
 * Errors (codec style): a small negative enum and a static why string.
 * Field names and single-line values (id, event, retry) must not hold CR,
 * LF or NUL; the encoders refuse them without writing anything. */
#ifndef PG_SSE_FORMAT_H
#define PG_SSE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

struct pg_buf;

enum pg_sse_err {
    PG_SSE_OK = 0,
    PG_SSE_ENAME = -1,    /* field name empty, or holds ':', CR, LF or NUL */
    PG_SSE_EVALUE = -2,   /* single-line value holds CR, LF or NUL */
};

/* A static one-line reason for err. */
const char *pg_sse_strerror(int err);

/* One event. NULL id / event: that line is left out. data may be NULL only
 * when data_len is 0 (one empty data line is written). */
struct pg_sse_event {
    const char *id;
    size_t id_len;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
};

/* Appends "name: value\n". Returns PG_SSE_OK, or an error with out unchanged. */
int pg_sse_field(struct pg_buf *out, const char *name, const char *value, size_t len);

/* Appends one "data: <line>\n" per line of body (any of CR, LF, CRLF ends
 * a line). Never fails: any byte but CR and LF is copied as is. */
void pg_sse_data(struct pg_buf *out, const char *body, size_t len);

/* Appends a whole event: [id:] [event:] data: lines, then the blank line
 * that dispatches it. Returns PG_SSE_OK, or an error with out unchanged. */
int pg_sse_event(struct pg_buf *out, const struct pg_sse_event *ev);

/* Appends "retry: <ms>\n" (a reconnection-time hint; no event). */
void pg_sse_retry(struct pg_buf *out, uint32_t ms);

/* Appends a comment: one ": <line>\n" per line of text. Browsers ignore
 * comments; they keep proxies from timing out a silent stream. */
void pg_sse_comment(struct pg_buf *out, const char *text, size_t len);

#endif
