/* json_read.h — a minimal, strict JSON reader for small documents (JWT
 * headers and claims): bytes in, a tree of values out. No I/O.
 *
 * Strict means RFC 8259 and nothing more: one value surrounded by optional
 * whitespace (space, tab, LF, CR); no comments, no trailing commas, no
 * leading zeros, no NaN/Infinity, no BOM, no raw control characters in
 * strings; input must be valid UTF-8 (no overlongs, no encoded surrogates);
 * \uXXXX escapes must pair surrogates correctly. Duplicate keys in any object
 * are refused (RFC 7515 §4 / RFC 7519 §4 ask for that of JWT parsers).
 *
 * Limits: the caller gives a maximum input size and nesting depth. Time is
 * O(n log n) in the input (the duplicate-key check sorts each object's
 * names); memory is one ~64-byte node per value plus the decoded strings,
 * so a hostile "[0,0,0,...]" costs ~40 bytes of heap per input byte until
 * pg_json_free. Pick max_bytes with that in mind.
 *
 * Ownership: pg_json_parse returns a tree the caller frees with
 * pg_json_free. Strings are decoded, NUL-terminated copies; they may contain
 * NUL bytes (from \u0000), so use the stored length when that matters.
 * Numbers keep their source text; convert with pg_json_int64.
 */
#ifndef PG_JSON_READ_H
#define PG_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

enum pg_json_type {
    PG_JSON_NULL,
    PG_JSON_FALSE,
    PG_JSON_TRUE,
    PG_JSON_NUMBER,
    PG_JSON_STRING,
    PG_JSON_ARRAY,
    PG_JSON_OBJECT,
};

struct pg_json {
    enum pg_json_type type;
    char *str;              /* STRING: decoded text; NUMBER: source text; else NULL */
    size_t len;             /* bytes in str, without the terminating NUL */
    char *key;              /* member name when this value sits in an object, else NULL */
    size_t key_len;
    struct pg_json *child;  /* ARRAY/OBJECT: first element or member, in source order */
    size_t n;               /* ARRAY/OBJECT: number of elements or members */
    struct pg_json *next;   /* next sibling in the parent array/object */
};

enum pg_json_err {
    PG_JSON_OK = 0,
    PG_JSON_SYNTAX = -1,    /* not JSON, or not strict JSON */
    PG_JSON_LIMIT = -2,     /* too large or too deeply nested */
    PG_JSON_DUPLICATE = -3, /* an object names the same key twice */
};

/* Parses p[0..n) (need not be NUL-terminated) into *out. Returns PG_JSON_OK,
 * or an error with *out NULL and *why a static one-line reason. */
int pg_json_parse(const char *p, size_t n, size_t max_bytes, int max_depth,
                  struct pg_json **out, const char **why);
void pg_json_free(struct pg_json *v);

/* The member named key (NUL-terminated, compared by length and bytes) of an
 * object, or NULL (also when obj is not an object). */
const struct pg_json *pg_json_get(const struct pg_json *obj, const char *key);

/* A NUMBER as an int64: fractions and exponents are allowed and rounded
 * toward negative infinity; the magnitude must stay within INT64_MAX.
 * Returns 0, or -1 (v is not a number, or out of range). Locale-free. */
int pg_json_int64(const struct pg_json *v, int64_t *out);

#endif
