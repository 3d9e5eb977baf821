/* buf.h — a growable byte buffer for building replies and encodings, with
 * JSON string escaping and base64. Aborts on out-of-memory (util.h). */
#ifndef PG_BUF_H
#define PG_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pg_buf {
    char *p;      /* heap, always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
};

void pg_buf_reserve(struct pg_buf *b, size_t extra);
void pg_buf_add(struct pg_buf *b, const void *data, size_t len);
void pg_buf_adds(struct pg_buf *b, const char *s);
void pg_buf_addf(struct pg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v in decimal (hot paths: no printf). */
void pg_buf_add_u64(struct pg_buf *b, uint64_t v);
/* Appends s as a quoted JSON string ("..." with escapes; bytes >= 0x80 are
 * copied as is, so s must be valid UTF-8 for the result to be valid JSON). */
void pg_buf_json_str(struct pg_buf *b, const char *s, size_t len);
/* The same escaping without the surrounding quotes (for templates). */
void pg_buf_json_escaped(struct pg_buf *b, const char *s, size_t len);
/* Appends base64 (standard alphabet, padded) of data. */
void pg_buf_base64(struct pg_buf *b, const void *data, size_t len);
/* Hands the heap block to the caller (who frees it) and resets b. */
char *pg_buf_steal(struct pg_buf *b, size_t *len);
void pg_buf_free(struct pg_buf *b);

#endif
