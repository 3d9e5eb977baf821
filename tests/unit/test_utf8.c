/* test_utf8.c — the UTF-8 validator: known valid and invalid sequences
 * (Autobahn 6.x style: overlongs, surrogates, > U+10FFFF, truncation), every
 * split point, the 8-byte ASCII fast path at every alignment, and a
 * class-exhaustive comparison against a plain code point decoder. */
#include "tap.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* A plain decoder, written for clarity: the reference the DFA must match. */
static bool ref_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Valid only when every split into two steps gives ACCEPT, and invalid only
 * when no split does; also checks one byte at a time. Returns the verdict or
 * -1 when the splits disagree. Copies into an exact-size heap block so ASan
 * sees any overread. */
static int check_splits(const void *str, size_t n)
{
    uint8_t *s = malloc(n ? n : 1);
    bool whole;
    int verdict;
    uint32_t st;

    memcpy(s, str, n);
    whole = pg_utf8_valid(s, n);
    verdict = whole;
    for (size_t k = 0; k <= n; k++) {
        st = pg_utf8_step(pg_utf8_step(PG_UTF8_ACCEPT, s, k), s + k, n - k);
        if ((st == PG_UTF8_ACCEPT) != whole)
            verdict = -1;
    }
    st = PG_UTF8_ACCEPT;
    for (size_t k = 0; k < n; k++)
        st = pg_utf8_step(st, s + k, 1);
    if ((st == PG_UTF8_ACCEPT) != whole)
        verdict = -1;
    free(s);
    return verdict;
}

#define VALID(lit, name) is_int(check_splits(lit, sizeof(lit) - 1), 1, "valid: " name)
#define INVALID(lit, name) is_int(check_splits(lit, sizeof(lit) - 1), 0, "invalid: " name)

static void known_sequences(void)
{
    VALID("", "empty");
    VALID("Hello-\x7f\x01", "ASCII and controls");
    VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "kosme (Autobahn 6.2)");
    VALID("\xc2\x80", "U+0080, first 2-byte");
    VALID("\xdf\xbf", "U+07FF, last 2-byte");
    VALID("\xe0\xa0\x80", "U+0800, first 3-byte");
    VALID("\xed\x9f\xbf", "U+D7FF, below surrogates");
    VALID("\xee\x80\x80", "U+E000, above surrogates");
    VALID("\xef\xbf\xbf", "U+FFFF");
    VALID("\xef\xbf\xbe", "U+FFFE noncharacter is valid UTF-8");
    VALID("\xf0\x90\x80\x80", "U+10000, first 4-byte");
    VALID("\xf4\x8f\xbf\xbf", "U+10FFFF, last code point");
    VALID("\xf0\x9d\x84\x9e" "\xe2\x82\xac" "a", "G clef, euro, a");
    VALID("\x00", "NUL");

    INVALID("\x80", "lone continuation 80");
    INVALID("\xbf", "lone continuation BF");
    INVALID("\xc0\x80", "overlong NUL C0 80");
    INVALID("\xc1\xbf", "overlong C1 BF");
    INVALID("\xe0\x80\x80", "overlong E0 80 80");
    INVALID("\xe0\x9f\xbf", "overlong E0 9F BF");
    INVALID("\xf0\x80\x80\x80", "overlong F0 80 80 80");
    INVALID("\xf0\x8f\xbf\xbf", "overlong F0 8F BF BF");
    INVALID("\xed\xa0\x80", "surrogate U+D800");
    INVALID("\xed\xbf\xbf", "surrogate U+DFFF");
    INVALID("\xed\xa0\x80\xed\xb0\x80", "surrogate pair");
    INVALID("\xf4\x90\x80\x80", "U+110000 (F4 90 80 80)");
    INVALID("\xf5\x80\x80\x80", "F5 lead");
    INVALID("\xf7\xbf\xbf\xbf", "U+1FFFFF");
    INVALID("\xf8\x88\x80\x80\x80", "5-byte form");
    INVALID("\xfc\x84\x80\x80\x80\x80", "6-byte form");
    INVALID("\xfe", "FE");
    INVALID("\xff", "FF");
    INVALID("\xc2", "truncated 2-byte at end");
    INVALID("\xe0\xa0", "truncated 3-byte at end");
    INVALID("\xf0\x90\x80", "truncated 4-byte at end");
    INVALID("\xc2\x41", "2-byte lead then ASCII");
    INVALID("\xe1\x80\xc0", "3-byte with bad last byte");
    INVALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
            "kosme then surrogate (Autobahn 6.3.1)");
}

static void states(void)
{
    uint32_t st = pg_utf8_step(PG_UTF8_ACCEPT, (const uint8_t *)"\xe2\x82", 2);
    ok(st != PG_UTF8_ACCEPT && st != PG_UTF8_REJECT, "inside a sequence: neither ACCEPT nor REJECT");
    is_int(pg_utf8_step(st, (const uint8_t *)"\xac", 1), PG_UTF8_ACCEPT, "completed across steps");
    is_int(pg_utf8_step(PG_UTF8_REJECT, (const uint8_t *)"a", 1), PG_UTF8_REJECT, "REJECT is sticky");
    is_int(pg_utf8_step(PG_UTF8_ACCEPT, (const uint8_t *)"\xf4\x90", 2), PG_UTF8_REJECT,
           "F4 90 rejected at its second byte (fail fast)");
    is_int(pg_utf8_step(PG_UTF8_ACCEPT, (const uint8_t *)"\xed\xa0", 2), PG_UTF8_REJECT,
           "ED A0 rejected at its second byte");
    is_int(pg_utf8_step(999, (const uint8_t *)"a", 1), PG_UTF8_REJECT, "out-of-range state is REJECT");
    is_int(pg_utf8_step(PG_UTF8_ACCEPT, NULL, 0), PG_UTF8_ACCEPT, "NULL with n == 0");
    is_int(pg_utf8_step(st, NULL, 0), st, "n == 0 keeps the state");
}

/* ASCII runs with one non-ASCII sequence (valid or not) at every offset. */
static void fast_path(void)
{
    uint8_t buf[80];
    int bad = 0;

    for (size_t len = 0; len <= 72; len++) {
        for (size_t at = 0; at + 3 <= len; at++) {
            memset(buf, 'a', len);
            memcpy(buf + at, "\xe2\x82\xac", 3);
            bad += check_splits(buf, len) != 1;
            buf[at + 2] = 'x';
            bad += check_splits(buf, len) != 0;
        }
        memset(buf, 'a', len);
        if (len)
            buf[len - 1] = 0x80;
        bad += check_splits(buf, len) != (len == 0);
    }
    is_int(bad, 0, "ASCII runs with a sequence at every offset and length, every split");
}

/* Every 1- and 2-byte string, and 3- and 4-byte strings whose later bytes
 * range over one representative of every byte class and boundary. */
static void exhaustive(void)
{
    static const uint8_t reps[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                   0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
                                   0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    size_t nr = sizeof(reps);
    uint8_t s[4];
    long bad = 0, count = 0;

    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        bad += pg_utf8_valid(s, 1) != ref_valid(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            bad += pg_utf8_valid(s, 2) != ref_valid(s, 2);
            for (size_t c = 0; c < nr; c++) {
                s[2] = reps[c];
                bad += pg_utf8_valid(s, 3) != ref_valid(s, 3);
                for (size_t d = 0; d < nr; d++) {
                    s[3] = reps[d];
                    bad += pg_utf8_valid(s, 4) != ref_valid(s, 4);
                    count++;
                }
            }
        }
    }
    ok(bad == 0, "DFA agrees with the reference decoder on %ld class-exhaustive strings (%ld differ)",
       count, bad);
}

static void random_strings(void)
{
    uint8_t s[24];
    unsigned seed = 12345;
    long bad = 0;

    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand_r(&seed) % 24);
        for (size_t k = 0; k < n; k++) {
            int r = rand_r(&seed);
            /* mostly plausible bytes: ASCII, continuation, leads */
            s[k] = (uint8_t)((r & 3) == 0 ? (r >> 2) & 0x7f : (r & 3) == 1 ? 0x80 | ((r >> 2) & 0x3f)
                                                                          : 0xc0 | ((r >> 2) & 0x3f));
        }
        bad += pg_utf8_valid(s, n) != ref_valid(s, n);
    }
    is_int(bad, 0, "random strings agree with the reference decoder");
}

static void prefixes(void)
{
    const char *euro = "ab\xe2\x82\xac";
    is_int(pg_utf8_valid_prefix(euro, 5), 5, "valid prefix of a valid string is all of it");
    is_int(pg_utf8_valid_prefix(euro, 4), 2, "cut inside a sequence backs off to its start");
    is_int(pg_utf8_valid_prefix(euro, 3), 2, "cut after the lead backs off");
    is_int(pg_utf8_valid_prefix("ab\xff" "cd", 5), 2, "stops before an invalid byte");
    is_int(pg_utf8_valid_prefix("", 0), 0, "empty");
    is_int(pg_utf8_valid_prefix("\xf0\x9d\x84\x9e", 4), 4, "4-byte sequence");
}

int main(void)
{
    known_sequences();
    states();
    fast_path();
    exhaustive();
    random_strings();
    prefixes();
    return done_testing();
}
