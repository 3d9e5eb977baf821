/* form.c — urlencoded form fields (on the HTTP codec's pg_query_find and
 * pg_url_decode, as heap strings), secret comparison. */
#include "bridge/form.h"
#include "http_parse.h"
#include "util.h"

#include <stdlib.h>

char *pg_form_decode(const char *s, size_t n, bool plus_is_space, size_t *out_len)
{
    char *out = pg_xmalloc(n + 1);
    ssize_t len = pg_url_decode(s, n, out, n, plus_is_space);
    if (len < 0) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    if (out_len)
        *out_len = (size_t)len;
    return out;
}

char *pg_form_get(const char *p, size_t n, const char *name, size_t *out_len, bool *bad)
{
    const char *v;
    size_t vl;
    *bad = false;
    if (!pg_query_find(p, n, name, &v, &vl))
        return NULL;
    char *val = pg_form_decode(v, vl, true, out_len);
    *bad = val == NULL;
    return val;
}

bool pg_secret_eq(const char *secret, const char *cand, size_t cand_len)
{
    size_t sl = strlen(secret);
    unsigned char diff = (unsigned char)(sl != cand_len);
    for (size_t i = 0; i < cand_len; i++)
        diff |= (unsigned char)(cand[i] ^ secret[i % (sl ? sl : 1)]);
    return diff == 0 && sl > 0;
}
