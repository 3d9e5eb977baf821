/* template.c — expands "{name}" placeholders; see template.h.
 *
 * A placeholder is '{', one or more of A-Z a-z 0-9 _ . - , then '}'. Any
 * other brace is literal text, so a JSON payload template such as
 * {"order": "{form.order_id}"} needs no escaping; "{{" and "}}" are
 * literal braces where a literal would otherwise read as a placeholder. */
#include "bridge/template.h"
#include "buf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* Length of the placeholder name at t[i] == '{' (0 when not a name), and
 * whether it is closed by '}'. */
static size_t name_at(const char *t, size_t i, bool *closed)
{
    size_t n = 0;
    while (name_char(t[i + 1 + n]))
        n++;
    *closed = n > 0 && t[i + 1 + n] == '}';
    return n;
}

const char *pg_tpl_check(const char *t)
{
    for (size_t i = 0; t[i]; i++) {
        bool closed;
        if ((t[i] == '{' && t[i + 1] == '{') || (t[i] == '}' && t[i + 1] == '}'))
            i++;
        else if (t[i] == '{' && name_at(t, i, &closed) && !closed)
            return "a placeholder '{name' has no closing '}' (write '{{' for a literal brace)";
    }
    return NULL;
}

char *pg_tpl_expand(const char *t, enum pg_tpl_escape esc, pg_tpl_lookup fn, void *ud,
                    char **missing)
{
    struct pg_buf b = {0};
    *missing = NULL;
    pg_buf_add(&b, "", 0);
    for (size_t i = 0; t[i];) {
        bool closed;
        if ((t[i] == '{' && t[i + 1] == '{') || (t[i] == '}' && t[i + 1] == '}')) {
            pg_buf_add(&b, t + i, 1);
            i += 2;
            continue;
        }
        size_t n = t[i] == '{' ? name_at(t, i, &closed) : 0;
        if (!n || !closed) {
            pg_buf_add(&b, t + i, 1);
            i++;
            continue;
        }
        size_t vl = 0;
        const char *v = fn(ud, t + i + 1, n, &vl);
        if (!v) {
            *missing = pg_xstrndup(t + i + 1, n);
            pg_buf_free(&b);
            return NULL;
        }
        if (esc == PG_TPL_JSON)
            pg_buf_json_escaped(&b, v, vl);
        else
            pg_buf_add(&b, v, vl);
        i += n + 2;
    }
    return pg_buf_steal(&b, NULL);
}
