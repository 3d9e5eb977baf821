/* form.h — application/x-www-form-urlencoded and URL helpers (codec, no
 * I/O). */
#ifndef PG_BRIDGE_FORM_H
#define PG_BRIDGE_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes s[0..n) ('+' becomes ' ' when plus_is_space). Returns a
 * heap string and its length in *out_len, or NULL when an escape is
 * malformed. The result may contain NUL bytes; check out_len. */
char *pg_form_decode(const char *s, size_t n, bool plus_is_space, size_t *out_len);

/* The first value of field name in a urlencoded body p[0..n), decoded,
 * or NULL when absent. *bad is set when the field is present but
 * malformed. */
char *pg_form_get(const char *p, size_t n, const char *name, size_t *out_len, bool *bad);

/* Constant-time comparison of a secret with a candidate. */
bool pg_secret_eq(const char *secret, const char *candidate, size_t cand_len);

#endif
