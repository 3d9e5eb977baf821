/* fuzz_bridge_conf.c — libFuzzer target for pushgate-fcgi's text formats:
 * fcgi.conf (bridge/conf.c), the webhook mapping file (bridge/hooks_map.c),
 * tap rules (bridge/tap_rules.c), templates (bridge/template.c) and
 * urlencoded forms (bridge/form.c).
 *
 * Input layout: byte 0 chooses the parser (mod 5), the rest is its text,
 * copied into an exact-size allocation so ASan catches any overread.
 * Checks: a failure is exactly one line that starts with "<name>:<line>: "
 * with a line number inside the text; a success frees cleanly; a template
 * that passes pg_tpl_check expands (with a lookup that knows every name)
 * without error.
 * Link with src/bridge/{conf,form,hooks_map,template,tap_rules}.c
 * src/util.c src/log.c. */
#include "bridge/conf.h"
#include "bridge/form.h"
#include "bridge/hooks.h"
#include "bridge/tap_rules.h"
#include "bridge/template.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_err(const char *err, const char *text, size_t n)
{
    int line = 0;
    CHECK(strncmp(err, "fuzz:", 5) == 0);
    CHECK(sscanf(err + 5, "%d", &line) == 1);
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    CHECK(line >= 1 && (size_t)line <= lines + 1);
    CHECK(strchr(err, '\n') == NULL);
}

static const char *know_all(void *ud, const char *name, size_t n, size_t *len)
{
    *len = n;
    return name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int which = data[0] % 5;
    size_t n = size - 1;
    char *text = malloc(n + 1);
    CHECK(text);
    memcpy(text, data + 1, n);
    text[n] = '\0';
    char err[512] = "";
    if (which == 0) {
        struct pg_bridge_conf c;
        pg_bridge_conf_defaults(&c);
        if (pg_bridge_conf_parse(text, n, "fuzz", &c, err, sizeof err) < 0)
            check_err(err, text, n);
        pg_bridge_conf_allows(&c, text);
        pg_bridge_conf_free(&c);
    } else if (which == 1) {
        struct pg_hook_map *m = pg_hook_map_parse(text, n, "fuzz", err, sizeof err);
        if (!m)
            check_err(err, text, n);
        pg_hook_map_free(m);
    } else if (which == 2) {
        struct pg_tap_rules *r = pg_tap_rules_parse(text, n, "fuzz", err, sizeof err);
        if (!r)
            check_err(err, text, n);
        pg_tap_rules_free(r);
    } else if (which == 3 && strlen(text) == n) {
        char *missing = NULL;
        char *out = pg_tpl_expand(text, (data[0] & 8) ? PG_TPL_JSON : PG_TPL_RAW, know_all, NULL, &missing);
        CHECK(out && !missing);
        free(out);
        pg_tpl_check(text);
    } else if (which == 4) {
        size_t ol;
        bool bad;
        char *v = pg_form_get(text, n, "data", &ol, &bad);
        CHECK(!v || ol <= n);
        free(v);
        v = pg_form_decode(text, n, true, &ol);
        CHECK(!v || ol <= n);
        free(v);
    }
    free(text);
    return 0;
}
