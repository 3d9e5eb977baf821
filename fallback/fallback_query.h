/* fallback_query.h — what a non-upgrade subscribe request asks for: the
 * transport (SSE or long-poll), the SSE format, the resume cursor and the
 * JSONP callback, read from the query string and two headers (Accept,
 * Last-Event-ID). A codec: views in, one struct out; no I/O, no event2/
 * include, so it is unit-tested and fuzzed alone (tests/fuzz/
 * fuzz_longpoll_query.c).
 *
 * The rules, all in one place:
 * - transport: ?transport=sse or ?transport=longpoll; without it, SSE when
 *   Accept lists text/event-stream (and no callback is given), else long-poll.
 * - format: ?format=json (SSE: unnamed events carrying the JSON envelope;
 *   long-poll answers are JSON anyway) or ?format=raw (SSE only).
 * - cursor: the Last-Event-ID header first (an EventSource reconnecting by
 *   itself sends its newest id there while the URL keeps the old query),
 *   then ?last_id=, then ?last_event_id=. An empty value counts as absent.
 *   Syntax "<epoch>-<seq>" (epoch [0-9a-z]{1,23}, seq decimal < 2^64).
 * - callback: ?callback=NAME turns a long-poll answer into JSONP; NAME must
 *   pass pg_fb_callback_valid. Refused with SSE.
 * Other keys (token, cache busters such as _=123) are ignored. A key given
 * twice counts by its first occurrence. */
#ifndef PG_FALLBACK_QUERY_H
#define PG_FALLBACK_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define PG_FB_CURSOR_MAX 48     /* "<epoch>-<seq>": 23 + 1 + 20 */
#define PG_FB_CALLBACK_MAX 128

enum pg_fb_transport { PG_FB_SSE = 1, PG_FB_LONGPOLL = 2 };

struct pg_fb_opts {
    int transport;                         /* PG_FB_SSE or PG_FB_LONGPOLL */
    bool json;                             /* SSE: ?format=json */
    bool has_cursor;
    char cursor[PG_FB_CURSOR_MAX + 1];     /* NUL-terminated when has_cursor */
    char callback[PG_FB_CALLBACK_MAX + 1]; /* "" = no JSONP */
};

enum pg_fb_err {
    PG_FB_OK = 0,
    PG_FB_EENCODING = -1,   /* a value we read has a bad %-escape or a NUL */
    PG_FB_ETRANSPORT = -2,  /* unknown transport= */
    PG_FB_EFORMAT = -3,     /* unknown format=, or raw with long-poll */
    PG_FB_ECURSOR = -4,     /* cursor not <epoch>-<seq> */
    PG_FB_ECALLBACK = -5,   /* callback is not a plain JS name */
    PG_FB_ECONFLICT = -6,   /* callback with SSE */
};

/* A static one-line reason, usable as a 400 body. */
const char *pg_fb_strerror(int err);

/* Parses the request. query: the raw query (after '?', still encoded) or
 * NULL; accept / last_event_id: header values or NULL. Fills *out (fully,
 * also on error) and returns PG_FB_OK or a negative pg_fb_err. */
int pg_fb_parse(const char *query, size_t query_len, const char *accept, size_t accept_len,
                const char *last_event_id, size_t lei_len, struct pg_fb_opts *out);

/* A JSONP callback: 1..PG_FB_CALLBACK_MAX bytes of
 *     name  := ident ( "." ident | "[" digit{1,9} "]" )*
 *     ident := [A-Za-z_$] [A-Za-z0-9_$]*
 * e.g. cb, jQuery1234_5678, app.handlers[3].onPush. No quotes, parentheses,
 * operators or spaces, so the name can only ever be a property lookup. */
bool pg_fb_callback_valid(const char *s, size_t n);

/* "<epoch>-<seq>" as the hub writes ids (hub.h). */
bool pg_fb_cursor_valid(const char *s, size_t n);

#endif
