/* fuzz_longpoll_query.c — libFuzzer target for fallback/fallback_query.c:
 * the transport / format / cursor / JSONP callback options of a non-upgrade
 * subscribe request. Checks that whatever comes in, the result obeys the
 * codec's promises: a callback kept is a valid JS name, a cursor kept is a
 * valid <epoch>-<seq>, SSE never carries a callback, every error has a
 * reason, the defaults are restored on error, and the same input always
 * gives the same answer.
 *
 * Input layout: 2 control bytes, then the bytes.
 *   ctrl[0], ctrl[1]  where to cut the rest into query | Accept | Last-Event-ID
 *                     (each cut is taken modulo the remaining length + 1)
 * Each part is its own exact-size allocation, so ASan catches overreads. */
#include "fallback_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *q = malloc(n ? n : 1);
    CHECK(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    size_t a = data[0] % (n + 1), b = data[1] % (n - a + 1);
    char *q = dup_exact(rest, a), *acc = dup_exact(rest + a, b), *lei = dup_exact(rest + a + b, n - a - b);

    struct pg_fb_opts o, o2;
    int rc = pg_fb_parse(q, a, acc, b, lei, n - a - b, &o);
    int rc2 = pg_fb_parse(q, a, acc, b, lei, n - a - b, &o2);
    CHECK(rc == rc2 && memcmp(&o, &o2, sizeof o) == 0);
    CHECK(rc <= 0 && pg_fb_strerror(rc)[0]);
    CHECK(o.transport == PG_FB_SSE || o.transport == PG_FB_LONGPOLL);
    CHECK(memchr(o.cursor, '\0', sizeof o.cursor) && memchr(o.callback, '\0', sizeof o.callback));
    if (rc < 0) {
        CHECK(o.transport == PG_FB_LONGPOLL && !o.has_cursor && !o.callback[0] && !o.json);
    } else {
        CHECK(!o.callback[0] || pg_fb_callback_valid(o.callback, strlen(o.callback)));
        CHECK(!o.has_cursor || pg_fb_cursor_valid(o.cursor, strlen(o.cursor)));
        CHECK(!(o.transport == PG_FB_SSE && o.callback[0]));
    }
    /* the validators on raw bytes: never crash; a valid name has no byte
     * outside the rule's alphabet */
    if (pg_fb_callback_valid(lei, n - a - b))
        for (size_t i = 0; i < n - a - b; i++)
            CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$.[]", lei[i]) && lei[i]);
    if (pg_fb_cursor_valid(q, a))
        CHECK(memchr(q, '-', a) != NULL);
    free(q);
    free(acc);
    free(lei);
    return 0;
}
