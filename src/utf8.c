/* utf8.c — incremental UTF-8 validation: a byte-class state machine.
 *
 * Design: every byte maps to one of 12 classes (ASCII, three continuation
 * ranges 80..8F / 90..9F / A0..BF, the lead bytes that restrict the next
 * byte's range, and "never valid"); a 9 x 12 table maps (state, class) to the
 * next state. The continuation ranges are split exactly where the four
 * restricted leads need them:
 *     E0 -> A0..BF (no overlong 3-byte)      ED -> 80..9F (no surrogates)
 *     F0 -> 90..BF (no overlong 4-byte)      F4 -> 80..8F (<= U+10FFFF)
 * so no code point is ever decoded: validation is one table load per byte.
 *
 * Fast path: at a code point boundary, ASCII runs are skipped 16 then 8 bytes
 * at a time (unaligned 64-bit loads through memcpy, tested against 0x80 in
 * each byte). Text that is mostly ASCII — JSON — costs about one load per 8
 * bytes.
 *
 * Invariants: PG_UTF8_REJECT is absorbing; states are < PG_UTF8_NSTATES, and
 * a state outside that range given by a caller is treated as REJECT.
 */
#include "utf8.h"

#include <string.h>

enum {
    S_ACCEPT = PG_UTF8_ACCEPT,
    S_REJECT = PG_UTF8_REJECT,
    S_CONT1,  /* one more continuation byte 80..BF */
    S_CONT2,  /* two more */
    S_CONT3,  /* three more */
    S_E0,     /* after E0: A0..BF, then one more */
    S_ED,     /* after ED: 80..9F, then one more */
    S_F0,     /* after F0: 90..BF, then two more */
    S_F4,     /* after F4: 80..8F, then two more */
    PG_UTF8_NSTATES
};

enum { C_ASCII, C_80, C_90, C_A0, C_BAD, C_2B, C_E0, C_3B, C_ED, C_F0, C_4B, C_F4, C_N };

static const uint8_t byte_class[256] = {
    [0x00 ... 0x7F] = C_ASCII,
    [0x80 ... 0x8F] = C_80,
    [0x90 ... 0x9F] = C_90,
    [0xA0 ... 0xBF] = C_A0,
    [0xC0 ... 0xC1] = C_BAD,
    [0xC2 ... 0xDF] = C_2B,
    [0xE0] = C_E0,
    [0xE1 ... 0xEC] = C_3B,
    [0xED] = C_ED,
    [0xEE ... 0xEF] = C_3B,
    [0xF0] = C_F0,
    [0xF1 ... 0xF3] = C_4B,
    [0xF4] = C_F4,
    [0xF5 ... 0xFF] = C_BAD,
};

#define R S_REJECT
static const uint8_t next_state[PG_UTF8_NSTATES][C_N] = {
    /*            ASCII    80       90       A0       BAD 2B       E0    3B       ED    F0    4B       F4 */
    [S_ACCEPT] = {S_ACCEPT, R,      R,       R,       R, S_CONT1, S_E0, S_CONT2, S_ED, S_F0, S_CONT3, S_F4},
    [S_REJECT] = {R,       R,       R,       R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_CONT1]  = {R,       S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R,    R,    R,       R,    R,    R,       R},
    [S_CONT2]  = {R,       S_CONT1, S_CONT1, S_CONT1, R, R,       R,    R,       R,    R,    R,       R},
    [S_CONT3]  = {R,       S_CONT2, S_CONT2, S_CONT2, R, R,       R,    R,       R,    R,    R,       R},
    [S_E0]     = {R,       R,       R,       S_CONT1, R, R,       R,    R,       R,    R,    R,       R},
    [S_ED]     = {R,       S_CONT1, S_CONT1, R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_F0]     = {R,       R,       S_CONT2, S_CONT2, R, R,       R,    R,       R,    R,    R,       R},
    [S_F4]     = {R,       S_CONT2, R,       R,       R, R,       R,    R,       R,    R,    R,       R},
};
#undef R

#define HIGH_BITS 0x8080808080808080ull

/* Number of leading bytes of s[0..n) that are ASCII, counted 16 then 8 at a
 * time (may stop short of the first non-ASCII byte by up to 15 bytes). */
static size_t ascii_run(const uint8_t *s, size_t n)
{
    size_t i = 0;
    uint64_t w, w2;

    while (n - i >= 16) {
        memcpy(&w, s + i, 8);
        memcpy(&w2, s + i + 8, 8);
        if ((w | w2) & HIGH_BITS)
            break;
        i += 16;
    }
    while (n - i >= 8) {
        memcpy(&w, s + i, 8);
        if (w & HIGH_BITS)
            break;
        i += 8;
    }
    return i;
}

uint32_t pg_utf8_step(uint32_t state, const uint8_t *s, size_t n)
{
    size_t i = 0;

    if (state >= PG_UTF8_NSTATES)
        return PG_UTF8_REJECT;
    while (i < n) {
        if (state == S_ACCEPT && s[i] < 0x80) {
            i += ascii_run(s + i, n - i);
            while (i < n && s[i] < 0x80) /* the last < 16 */
                i++;
            if (i == n)
                break;
        }
        state = next_state[state][byte_class[s[i++]]];
        if (state == S_REJECT)
            return PG_UTF8_REJECT;
    }
    return state;
}

bool pg_utf8_valid(const void *s, size_t n)
{
    return pg_utf8_step(PG_UTF8_ACCEPT, s, n) == PG_UTF8_ACCEPT;
}

size_t pg_utf8_valid_prefix(const void *s, size_t n)
{
    const uint8_t *p = s;
    uint32_t state = S_ACCEPT;
    size_t i, good = 0;

    for (i = 0; i < n; i++) {
        state = next_state[state][byte_class[p[i]]];
        if (state == S_REJECT)
            break;
        if (state == S_ACCEPT)
            good = i + 1;
    }
    return good;
}
