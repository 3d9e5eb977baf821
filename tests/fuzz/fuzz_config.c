/* fuzz_config.c — libFuzzer target for the configuration loader (config.c)
 * and its codec (config_parse.c): loads fuzzer text as a config file plus
 * command-line overrides, and checks that
 *   - a failure is exactly one line that starts with the file name or with
 *     the offending --key=value argument;
 *   - a success dumps to text that loads again and dumps the same (unless a
 *     secret is set, which the dump hides);
 *   - the codec's value parsers agree with their formatters.
 *
 * Input layout: the file's text, then optionally a NUL byte and up to 8
 * NUL-separated overrides ("--key=value"). The text is copied into its own
 * exact-size allocation, so ASan catches any read past its end.
 * Link with src/config.c src/config_parse.c src/util.c src/log.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static char *dump(const struct pg_config *c)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    CHECK(f);
    pg_config_dump(c, f);
    fclose(f);
    return s;
}

static void check_values(const char *w)
{
    uint64_t v, v2;
    char buf[48];
    if (pg_config_parse_duration(w, &v)) {
        pg_config_format_duration(v, buf, sizeof buf);
        CHECK(pg_config_parse_duration(buf, &v2) && v2 == v);
    }
    if (pg_config_parse_size(w, &v)) {
        pg_config_format_size(v, buf, sizeof buf);
        CHECK(pg_config_parse_size(buf, &v2) && v2 == v);
    }
    struct pg_addr a;
    struct pg_cidr c;
    struct pg_store_url s;
    const char *why = NULL;
    if (!pg_config_parse_addr(w, &a, &why))
        CHECK(why && *why);
    why = NULL;
    if (!pg_config_parse_cidr(w, &c, &why))
        CHECK(why && *why);
    else
        CHECK(pg_cidr_contains(&c, c.family, c.addr));
    why = NULL;
    if (!pg_config_parse_store(w, &s, &why))
        CHECK(why && *why);
}

/* Does err start with arg as the loader shows it (control bytes as '?',
 * at most its first 100 bytes compared)? */
static bool names_arg(const char *err, const char *arg)
{
    size_t i = 0;
    for (; arg[i] && i < 100; i++) {
        unsigned char u = (unsigned char)arg[i];
        char shown = (u < 0x20 || u == 0x7f) ? '?' : arg[i];
        if (err[i] != shown)
            return false;
    }
    return arg[i] || err[i] == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    size_t tlen = nul ? (size_t)(nul - in) : size;
    char *text = malloc(tlen ? tlen : 1);
    CHECK(text);
    memcpy(text, in, tlen);

    char *ov[8];
    size_t nov = 0;
    for (const char *p = nul ? nul + 1 : in + size; p < in + size && nov < 8;) {
        const char *e = memchr(p, '\0', (size_t)(in + size - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(in + size - p);
        ov[nov] = malloc(n + 1);
        CHECK(ov[nov]);
        memcpy(ov[nov], p, n);
        ov[nov++][n] = '\0';
        p += n + 1;
    }

    char err[256];
    err[0] = '\0';
    struct pg_config *c = pg_config_load_text("f.conf", text, tlen, ov, nov, err, sizeof err);
    if (!c) {
        CHECK(*err && !strchr(err, '\n'));
        bool named = strncmp(err, "f.conf:", 7) == 0;
        for (size_t i = 0; i < nov && !named; i++)
            named = names_arg(err, ov[i]);
        CHECK(named);
    } else {
        char *d1 = dump(c);
        if (!strstr(d1, " (set)\n")) {
            struct pg_config *c2 = pg_config_load_text("dump", d1, strlen(d1), NULL, 0, err, sizeof err);
            CHECK(c2);
            char *d2 = dump(c2);
            CHECK(strcmp(d1, d2) == 0);
            free(d2);
            pg_config_free(c2);
        }
        free(d1);
        pg_config_free(c);
    }

    struct pg_strlist w = {0};
    if (pg_config_split(text, tlen, true, &w) == 0)
        for (size_t i = 0; i < w.n; i++)
            check_values(w.v[i]);
    pg_strlist_clear(&w);

    for (size_t i = 0; i < nov; i++)
        free(ov[i]);
    free(text);
    return 0;
}
