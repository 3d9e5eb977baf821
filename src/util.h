/* util.h — allocation wrappers that abort on out-of-memory, and small helpers
 * shared by every module (daemon, bridge, tests).
 *
 * Error style: allocation failure is not an error path we handle; it aborts
 * with a message, so the error branches that remain exist for hostile input.
 */
#ifndef PG_UTIL_H
#define PG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

void *pg_xmalloc(size_t n);
void *pg_xcalloc(size_t n, size_t size);
void *pg_xrealloc(void *p, size_t n);
char *pg_xstrdup(const char *s);
char *pg_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string (abort on OOM). */
char *pg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define PG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PG_CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

/* Case-insensitive compare of a (p,n) view with a NUL-terminated literal. */
bool pg_view_eq_ci(const char *p, size_t n, const char *lit);
/* Exact compare of a (p,n) view with a NUL-terminated literal. */
bool pg_view_eq(const char *p, size_t n, const char *lit);

/* Monotonic clock in milliseconds / nanoseconds. */
uint64_t pg_now_ms(void);
uint64_t pg_now_ns(void);
/* Wall clock in milliseconds since the Unix epoch. */
uint64_t pg_wall_ms(void);

#endif
