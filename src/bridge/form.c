/* form.c — percent-decoding, urlencoded form fields, secret comparison. */
#include "bridge/form.h"
#include "util.h"

#include <stdlib.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *pg_form_decode(const char *s, size_t n, bool plus_is_space, size_t *out_len)
{
    char *out = pg_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    if (out_len)
        *out_len = (size_t)(o - out);
    return out;
}

char *pg_form_get(const char *p, size_t n, const char *name, size_t *out_len, bool *bad)
{
    size_t nl = strlen(name), i = 0;
    *bad = false;
    while (i < n) {
        const char *amp = memchr(p + i, '&', n - i);
        size_t fl = amp ? (size_t)(amp - (p + i)) : n - i;
        const char *eq = memchr(p + i, '=', fl);
        size_t kl = eq ? (size_t)(eq - (p + i)) : fl;
        size_t dkl;
        char *k = pg_form_decode(p + i, kl, true, &dkl);
        bool match = k && dkl == nl && memcmp(k, name, nl) == 0;
        free(k);
        if (match) {
            const char *v = eq ? eq + 1 : p + i + fl;
            size_t vl = eq ? fl - kl - 1 : 0;
            char *val = pg_form_decode(v, vl, true, out_len);
            *bad = val == NULL;
            return val;
        }
        i += fl + 1;
    }
    return NULL;
}

bool pg_secret_eq(const char *secret, const char *cand, size_t cand_len)
{
    size_t sl = strlen(secret);
    unsigned char diff = (unsigned char)(sl != cand_len);
    for (size_t i = 0; i < cand_len; i++)
        diff |= (unsigned char)(cand[i] ^ secret[i % (sl ? sl : 1)]);
    return diff == 0 && sl > 0;
}
