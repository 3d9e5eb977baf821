/* utf8.h — incremental UTF-8 validation (RFC 3629), a codec with no I/O.
 *
 * The validator is a byte-class state machine whose whole state is one small
 * integer, so a WebSocket text message split across frames (or a frame split
 * across reads) is validated piece by piece without buffering:
 *
 *     uint32_t st = PG_UTF8_ACCEPT;
 *     st = pg_utf8_step(st, chunk1, n1);
 *     st = pg_utf8_step(st, chunk2, n2);
 *     if (st != PG_UTF8_ACCEPT) ... invalid (REJECT) or incomplete (other)
 *
 * State encoding: PG_UTF8_ACCEPT (0) means "at a code point boundary, all
 * valid so far"; PG_UTF8_REJECT (1) is sticky and means "invalid"; any other
 * value (2..8) means "inside a multi-byte sequence": valid so far, but a
 * message that ends there is invalid. Rejected: stray continuation bytes,
 * overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF), code points above U+10FFFF (F4 90.., F5..FF) and truncated
 * sequences followed by a non-continuation byte.
 */
#ifndef PG_UTF8_H
#define PG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_UTF8_ACCEPT 0u
#define PG_UTF8_REJECT 1u

/* Feeds n more bytes of s to a validator in `state` and returns the new
 * state. REJECT is returned as soon as the input cannot be valid (and stays
 * REJECT whatever follows). s may be NULL when n is 0. */
uint32_t pg_utf8_step(uint32_t state, const uint8_t *s, size_t n);

/* True when s[0..n) is complete, valid UTF-8 (n == 0 is valid). */
bool pg_utf8_valid(const void *s, size_t n);

/* Length of the longest prefix of s[0..n) made only of whole, valid code
 * points: n itself for valid input. Use it to cut a string to a byte budget
 * on a code point boundary: pg_utf8_valid_prefix(s, PG_MIN(n, budget)). */
size_t pg_utf8_valid_prefix(const void *s, size_t n);

#endif
