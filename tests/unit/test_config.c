/* test_config.c — unit tests for the configuration (src/config.c and its
 * codec src/config_parse.c): every value type and its limits, the exact
 * error lines (file:line and --key=value), list semantics (the file adds up,
 * the command line replaces), dashes for underscores, quoting, the demo flag,
 * the restart-key diff, dump round trips, every truncation of a config, and
 * the docs: each key of the table must be in contrib/pushgate.conf (with its
 * default) and in doc/pushgated.8 (with its default), and nothing else may.
 *
 * Includes the .c files to reach the key table; link with src/util.c and
 * src/log.c only. The docs are found through $PG_SRCDIR, else the PG_SRCDIR
 * macro, else relative to this file.
 */
#include "../../src/config.c"
#include "../../src/config_parse.c"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

static char err[512];

/* ------------------------------------------------------------ helpers */

static struct pg_config *load_ov(const char *text, const char *const *ov, size_t n)
{
    err[0] = '\0';
    return pg_config_load_text("t.conf", text, strlen(text), (char *const *)ov, n, err,
                               sizeof err);
}

static struct pg_config *load(const char *text)
{
    return load_ov(text, NULL, 0);
}

/* The config must fail with exactly `want`. */
static void fails_ov(const char *text, const char *const *ov, size_t n, const char *want)
{
    struct pg_config *c = load_ov(text, ov, n);
    ok(!c && strcmp(err, want) == 0, "error: %s%s%s", want, c || strcmp(err, want) ? " -- got: " : "",
       c ? "(loaded)" : strcmp(err, want) ? err : "");
    pg_config_free(c);
}

static void fails(const char *text, const char *want)
{
    fails_ov(text, NULL, 0, want);
}

static void fails_arg(const char *arg, const char *want)
{
    const char *ov[] = {arg};
    fails_ov("", ov, 1, want);
}

static char *dump_str(const struct pg_config *c)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    pg_config_dump(c, f);
    fclose(f);
    return s;
}

static const struct key *key_named(const char *name)
{
    long i = kidx(name);
    return i < 0 ? NULL : &keys[i];
}

/* The value part of key's dump line ("" for an empty list). */
static char *value_text(const char *name, const struct pg_config *c)
{
    char *t = key_text(key_named(name), c);
    size_t kn = strlen(name);
    char *v = pg_xstrdup(t[kn] == ' ' ? t + kn + 1 : t + kn);
    v[strcspn(v, "\n")] = '\0';
    free(t);
    return v;
}

static void is_str(const char *got, const char *want, const char *name)
{
    ok(got && strcmp(got, want) == 0, "%s (got '%s', want '%s')", name, got ? got : "(null)", want);
}

static void is_list(const struct pg_strlist *l, const char *want, const char *name)
{
    char buf[1024] = "";
    for (size_t i = 0; i < l->n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "|" : "", l->v[i]);
    is_str(buf, want, name);
}

/* ------------------------------------------------------------ defaults */

static void test_defaults(void)
{
    struct pg_config *c = pg_config_new_defaults();
    is_list(&c->listen, "0.0.0.0:8080", "default listen");
    is_list(&c->publish_listen, "127.0.0.1:8081|unix:/run/pushgate/publish.sock", "default publish_listen");
    is_str(c->publish_socket_group, "", "default publish_socket_group");
    is_int(c->client_publish.n, 0, "default client_publish empty");
    is_int(c->history_size, 100, "default history_size");
    is_int(c->history_ttl_ms, 600000, "default history_ttl 10m");
    is_int(c->history_memory_max, 64 << 20, "default history_memory_max 64M");
    is_int(c->max_message_size, 1 << 20, "default max_message_size 1M");
    is_int(c->max_channels, 100000, "default max_channels");
    is_int(c->max_channels_per_subscription, 64, "default max_channels_per_subscription");
    is_str(c->www_root, "auto", "default www_root");
    is_int(c->log_level, PG_LOG_INFO, "default log_level info");
    is_str(c->log_file, "", "default log_file");
    is_str(c->access_log, "", "default access_log off");
    is_int(c->ping_interval_ms, 30000, "default ping_interval");
    is_int(c->idle_timeout_ms, 75000, "default idle_timeout");
    is_int(c->sse_heartbeat_ms, 15000, "default sse_heartbeat");
    is_int(c->longpoll_hold_ms, 25000, "default longpoll_hold");
    is_int(c->allowed_origins.n, 0, "default allowed_origins empty");
    is_list(&c->trusted_proxies, "127.0.0.0/8|::1", "default trusted_proxies");
    ok(!*c->tls_cert && !*c->tls_key && !*c->tls_chain, "default tls files empty");
    is_str(c->token_secret, "", "default token_secret");
    is_int(c->token_channels.n, 0, "default token_channels");
    is_int(c->auth_url.n + c->auth_fastcgi.n, 0, "default no auth rules");
    is_int(c->auth_cache_ttl_ms, 30000, "default auth_cache_ttl");
    is_str(c->publish_secret, "", "default publish_secret");
    is_int(c->max_connections, 0, "default max_connections");
    is_int(c->max_connections_per_ip, 256, "default max_connections_per_ip");
    is_int(c->max_header_size, 8192, "default max_header_size");
    is_int(c->header_timeout_ms, 10000, "default header_timeout");
    is_int(c->subscriber_buffer_max, 1 << 20, "default subscriber_buffer_max");
    is_int(c->pubsub_rate_limit, 50, "default pubsub_rate_limit");
    is_str(c->history_journal, "", "default history_journal");
    is_str(c->store, "memory", "default store");
    is_int(c->workers, 0, "default workers");
    ok(c->websocket_deflate, "default websocket_deflate on");
    ok(!*c->user && !*c->group, "default user/group empty");
    is_str(c->spool_dir, "/var/spool/pushgate", "default spool_dir");
    is_int(c->spool_poll_ms, 1000, "default spool_poll");
    ok(!c->demo, "default demo off");

    struct pg_config *l = load("");
    char *a = dump_str(c), *b = l ? dump_str(l) : NULL;
    ok(b && strcmp(a, b) == 0, "an empty file gives the defaults");
    struct pg_config *n = pg_config_load(NULL, NULL, 0, err, sizeof err);
    char *d = n ? dump_str(n) : NULL;
    ok(d && strcmp(a, d) == 0, "no file at all gives the defaults");
    free(a), free(b), free(d);
    pg_config_free(c), pg_config_free(l), pg_config_free(n);

    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        ok(k->doc && *k->doc && !strchr(k->doc, '\n') && k->arg && *k->arg,
           "key %s has a one-line doc and an argument shape", k->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(keys[j].name, k->name) == 0)
                ok(0, "key %s appears twice in the table", k->name);
    }
}

/* ------------------------------------------------------------ the codec */

static void splits(const char *line, bool comments, const char *want)
{
    struct pg_strlist w = {0};
    int rc = pg_config_split(line, strlen(line), comments, &w);
    char buf[512] = "";
    for (size_t i = 0; i < w.n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s[%s]", i ? " " : "", w.v[i]);
    ok(rc == 0 && strcmp(buf, want) == 0, "split <%s> -> %s (got %s, rc %d)", line, want, buf, rc);
    pg_strlist_clear(&w);
}

static void split_fails(const char *line, int want)
{
    struct pg_strlist w = {0};
    int rc = pg_config_split(line, strlen(line), true, &w);
    ok(rc == want && w.n == 0, "split <%s> fails with %s (got %d)", line, pg_config_strerror(want), rc);
    pg_strlist_clear(&w);
}

static void test_split(void)
{
    splits("", true, "");
    splits("   \t ", true, "");
    splits("# comment", true, "");
    splits("a b\tc", true, "[a] [b] [c]");
    splits("  key   value  ", true, "[key] [value]");
    splits("key value # comment", true, "[key] [value]");
    splits("key val#ue", true, "[key] [val#ue]");
    splits("key \"a b # c\"", true, "[key] [a b # c]");
    splits("key \"\"", true, "[key] []");
    splits("key \"a\\\"b\\\\c\\d\"", true, "[key] [a\"b\\c\\d]");
    splits("key a\\b", true, "[key] [a\\b]");
    splits("key \"x\"\t# c", true, "[key] [x]");
    splits("a # b", false, "[a] [#] [b]");
    splits("\"\\\\\"", true, "[\\]");
    split_fails("key \"abc", PG_CONFIG_EQUOTE);
    split_fails("key \"abc\\\"", PG_CONFIG_EQUOTE);
    split_fails("key \"a\"b", PG_CONFIG_EAFTERQUOTE);
    split_fails("key \"a\"#b", PG_CONFIG_EAFTERQUOTE);
    split_fails("key ab\"c\"", PG_CONFIG_ESTRAYQUOTE);
    split_fails("key a\x01" "b", PG_CONFIG_ECTRL);
    split_fails("key \"a\x7f\"", PG_CONFIG_ECTRL);
    ok(strcmp(pg_config_strerror(-99), "bad syntax") == 0, "unknown error code has a reason");

    /* a quoted word never reads past len: cut a line at every offset */
    const char *line = "key \"a \\\" b\" c # d";
    for (size_t n = 0; n <= strlen(line); n++) {
        char *cut = pg_xstrndup(line, n);
        struct pg_strlist w = {0};
        int rc = pg_config_split(cut, n, true, &w);
        ok(rc <= 0 && (rc == 0 || w.n == 0), "split of the first %zu bytes is clean (rc %d)", n, rc);
        pg_strlist_clear(&w);
        free(cut);
    }

    static const char *const words[] = {"", "a", "a b", "#x", "x#", "\"", "a\\b", "\\\"", "tab\there", "é"};
    for (size_t i = 0; i < PG_ARRAY_LEN(words); i++) {
        char *q = pg_config_quote(words[i]);
        struct pg_strlist w = {0};
        int rc = pg_config_split(q, strlen(q), true, &w);
        ok(rc == 0 && w.n == 1 && strcmp(w.v[0], words[i]) == 0, "quote/split round trip of <%s> via <%s>",
           words[i], q);
        pg_strlist_clear(&w);
        free(q);
    }
}

static void test_numbers(void)
{
    uint64_t v;
    ok(pg_config_parse_uint("0", &v) && v == 0, "uint 0");
    ok(pg_config_parse_uint("18446744073709551615", &v) && v == UINT64_MAX, "uint max");
    ok(!pg_config_parse_uint("18446744073709551616", &v), "uint overflow");
    ok(!pg_config_parse_uint("99999999999999999999999", &v), "uint long overflow");
    static const char *const bad_uint[] = {"", "-1", "+1", " 1", "1 ", "1k", "0x10", "1.0", "abc"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bad_uint); i++)
        ok(!pg_config_parse_uint(bad_uint[i], &v), "uint refuses <%s>", bad_uint[i]);

    struct { const char *s; uint64_t ms; } durs[] = {
        {"0", 0}, {"5", 5000}, {"5s", 5000}, {"250ms", 250}, {"10m", 600000}, {"2h", 7200000},
        {"0ms", 0}, {"1500ms", 1500}, {"90s", 90000},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(durs); i++)
        ok(pg_config_parse_duration(durs[i].s, &v) && v == durs[i].ms, "duration %s = %llu ms",
           durs[i].s, (unsigned long long)durs[i].ms);
    static const char *const bad_dur[] = {"", "s", "1.5s", "5d", "5S", "5 s", "-5s", "10mss",
                                          "18446744073709551615h", "5sec", "m5"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bad_dur); i++)
        ok(!pg_config_parse_duration(bad_dur[i], &v), "duration refuses <%s>", bad_dur[i]);

    struct { const char *s; uint64_t b; } sizes[] = {
        {"0", 0}, {"512", 512}, {"8k", 8192}, {"8K", 8192}, {"64M", 64 << 20}, {"64m", 64 << 20},
        {"1G", 1ull << 30}, {"3g", 3ull << 30}, {"16777215G", 16777215ull << 30},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(sizes); i++)
        ok(pg_config_parse_size(sizes[i].s, &v) && v == sizes[i].b, "size %s", sizes[i].s);
    static const char *const bad_size[] = {"", "k", "1kB", "1KiB", "1T", "1.5M", "-1", "17179869184G",
                                           "1 k"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bad_size); i++)
        ok(!pg_config_parse_size(bad_size[i], &v), "size refuses <%s>", bad_size[i]);

    static const char *const yes[] = {"on", "yes", "true", "1", "ON", "Yes", "TRUE"};
    static const char *const no[] = {"off", "no", "false", "0", "OFF", "No", "False"};
    bool b;
    for (size_t i = 0; i < PG_ARRAY_LEN(yes); i++)
        ok(pg_config_parse_bool(yes[i], &b) && b, "bool %s is true", yes[i]);
    for (size_t i = 0; i < PG_ARRAY_LEN(no); i++)
        ok(pg_config_parse_bool(no[i], &b) && !b, "bool %s is false", no[i]);
    static const char *const bad_bool[] = {"", "2", "y", "n", "enable", "onn", "o"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bad_bool); i++)
        ok(!pg_config_parse_bool(bad_bool[i], &b), "bool refuses <%s>", bad_bool[i]);

    char buf[48];
    struct { uint64_t ms; const char *s; } fd[] = {
        {0, "0s"}, {1, "1ms"}, {1500, "1500ms"}, {30000, "30s"}, {600000, "10m"}, {90000, "90s"},
        {7200000, "2h"}, {3600000 + 60000, "61m"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(fd); i++) {
        pg_config_format_duration(fd[i].ms, buf, sizeof buf);
        is_str(buf, fd[i].s, "format duration");
    }
    struct { uint64_t b; const char *s; } fs[] = {
        {0, "0"}, {1000, "1000"}, {1024, "1k"}, {8192, "8k"}, {1 << 20, "1M"}, {1536, "1536"},
        {3ull << 30, "3G"}, {(1ull << 30) + 1024, "1048577k"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(fs); i++) {
        pg_config_format_size(fs[i].b, buf, sizeof buf);
        is_str(buf, fs[i].s, "format size");
    }
    /* format then parse gives the same value, at many magnitudes */
    for (uint64_t x = 1; x < (1ull << 40); x = x * 3 + 7) {
        uint64_t y, z;
        pg_config_format_duration(x, buf, sizeof buf);
        bool d = pg_config_parse_duration(buf, &y) && y == x;
        pg_config_format_size(x, buf, sizeof buf);
        bool s = pg_config_parse_size(buf, &z) && z == x;
        if (!d || !s)
            ok(0, "format/parse round trip of %llu", (unsigned long long)x);
    }
    ok(1, "format/parse round trips at many magnitudes");
}

static void addr_ok(const char *s, bool tls, bool is_unix, const char *host, unsigned port,
                    const char *path)
{
    struct pg_addr a;
    const char *why = "";
    bool r = pg_config_parse_addr(s, &a, &why);
    ok(r && a.tls == tls && a.is_unix == is_unix && strcmp(a.host, host) == 0 && a.port == port &&
           strcmp(a.path, path) == 0,
       "addr %s (%s)", s, r ? "parsed" : why);
}

static void addr_bad(const char *s, const char *why_part)
{
    struct pg_addr a;
    const char *why = NULL;
    bool r = pg_config_parse_addr(s, &a, &why);
    ok(!r && why && strstr(why, why_part), "addr <%s> refused: %s", s, why ? why : "(accepted)");
}

static void test_addr(void)
{
    addr_ok("0.0.0.0:8080", false, false, "0.0.0.0", 8080, "");
    addr_ok("127.0.0.1:1", false, false, "127.0.0.1", 1, "");
    addr_ok("localhost:65535", false, false, "localhost", 65535, "");
    addr_ok("push.example.com:443", false, false, "push.example.com", 443, "");
    addr_ok("[::1]:8080", false, false, "::1", 8080, "");
    addr_ok("[::]:80", false, false, "::", 80, "");
    addr_ok("tls:0.0.0.0:443", true, false, "0.0.0.0", 443, "");
    addr_ok("tls:[2001:db8::1]:443", true, false, "2001:db8::1", 443, "");
    addr_ok("unix:/run/pushgate/publish.sock", false, true, "", 0, "/run/pushgate/publish.sock");
    addr_ok("tls:unix:/tmp/s", true, true, "", 0, "/tmp/s");
    addr_bad("0.0.0.0", "missing ':port'");
    addr_bad("0.0.0.0:", "port");
    addr_bad("0.0.0.0:0", "port");
    addr_bad("0.0.0.0:65536", "port");
    addr_bad("0.0.0.0:080x", "port");
    addr_bad("0.0.0.0:-1", "port");
    addr_bad("0.0.0.0:000080", "port");
    addr_bad(":8080", "host");
    addr_bad("::1:8080", "brackets");
    addr_bad("[::1]8080", "':port'");
    addr_bad("[::1:8080", "']'");
    addr_bad("[1.2.3.4]:80", "IPv6");
    addr_bad("[]:80", "host");
    addr_bad("999.1.1.1:80", "host");
    addr_bad("1.2.3:80", "host");
    addr_bad("ho_st:80", "host");
    addr_bad("-host:80", "host");
    addr_bad("a..b:80", "host");
    addr_bad("unix:", "absolute");
    addr_bad("unix:relative.sock", "absolute");
    addr_bad("tls:", "host");
    char longp[200];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "unix:/", 6);
    longp[sizeof longp - 1] = '\0';
    addr_bad(longp, "too long");
    char longh[300];
    memset(longh, 'a', sizeof longh);
    strcpy(longh + 290, ":80");
    addr_bad(longh, "host");
}

static bool cidr_has(const char *cidr, const char *ip)
{
    struct pg_cidr c;
    const char *why;
    unsigned char a[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (!pg_config_parse_cidr(cidr, &c, &why) || inet_pton(fam, ip, a) != 1)
        return false;
    return pg_cidr_contains(&c, fam, a);
}

static void test_cidr_store(void)
{
    struct pg_cidr c;
    const char *why = NULL;
    ok(pg_config_parse_cidr("127.0.0.0/8", &c, &why) && c.family == AF_INET && c.prefix == 8, "cidr v4/8");
    ok(pg_config_parse_cidr("::1", &c, &why) && c.family == AF_INET6 && c.prefix == 128, "bare v6 = /128");
    ok(pg_config_parse_cidr("10.1.2.3", &c, &why) && c.prefix == 32, "bare v4 = /32");
    ok(pg_config_parse_cidr("0.0.0.0/0", &c, &why) && c.prefix == 0, "v4/0");
    ok(pg_config_parse_cidr("10.1.2.3/8", &c, &why) && c.addr[1] == 0 && c.addr[3] == 0,
       "host bits are cleared");
    static const char *const bad[] = {"", "/8", "1.2.3.4/33", "::1/129", "1.2.3.4/", "1.2.3.4/a",
                                      "1.2.3/8", "host/8", "1.2.3.4/0008", "1.2.3.4//8"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++)
        ok(!pg_config_parse_cidr(bad[i], &c, &why), "cidr refuses <%s>", bad[i]);
    ok(cidr_has("127.0.0.0/8", "127.9.9.9"), "127/8 holds 127.9.9.9");
    ok(!cidr_has("127.0.0.0/8", "128.0.0.1"), "127/8 lacks 128.0.0.1");
    ok(cidr_has("10.0.0.0/9", "10.127.255.255") && !cidr_has("10.0.0.0/9", "10.128.0.0"), "/9 edge");
    ok(cidr_has("0.0.0.0/0", "8.8.8.8"), "/0 holds all");
    ok(cidr_has("::1", "::1") && !cidr_has("::1", "::2"), "::1/128");
    ok(cidr_has("127.0.0.0/8", "::ffff:127.0.0.1"), "a v4-mapped v6 address matches a v4 block");
    ok(!cidr_has("::1", "127.0.0.1") && !cidr_has("127.0.0.0/8", "::1"), "families do not mix");
    ok(cidr_has("2001:db8::/32", "2001:db8:ffff::1") && !cidr_has("2001:db8::/32", "2001:db9::1"),
       "v6 /32");

    struct pg_store_url s;
    ok(pg_config_parse_store("memory", &s, &why) && s.kind == PG_STORE_MEMORY, "store memory");
    ok(pg_config_parse_store("redis://127.0.0.1:6380/2", &s, &why) && s.kind == PG_STORE_REDIS_TCP &&
           !strcmp(s.host, "127.0.0.1") && s.port == 6380 && s.db == 2, "store redis tcp");
    ok(pg_config_parse_store("redis://localhost", &s, &why) && s.port == 6379 && s.db == 0,
       "store redis defaults");
    ok(pg_config_parse_store("redis://[::1]:7000/", &s, &why) && !strcmp(s.host, "::1") && s.port == 7000,
       "store redis v6");
    ok(pg_config_parse_store("redis+unix:/run/redis.sock?db=3", &s, &why) &&
           s.kind == PG_STORE_REDIS_UNIX && !strcmp(s.path, "/run/redis.sock") && s.db == 3,
       "store redis unix");
    ok(pg_config_parse_store("redis+unix:/run/redis.sock", &s, &why) && s.db == 0, "store redis unix db 0");
    static const char *const badst[] = {"", "Memory", "redis://", "redis://:6379", "redis://h:0",
                                        "redis://h:6379/x", "redis://h/99999999", "redis+unix:",
                                        "redis+unix:rel", "redis+unix:/s?db=", "redis+unix:/s?x=1",
                                        "postgres://h", "redis:/h"};
    for (size_t i = 0; i < PG_ARRAY_LEN(badst); i++)
        ok(!pg_config_parse_store(badst[i], &s, &why), "store refuses <%s>", badst[i]);
}

/* ------------------------------------------------------------ the loader */

static void test_values(void)
{
    struct pg_config *c = load("history_size 7\nhistory_ttl 250ms\nhistory_memory_max 2G\n"
                               "websocket_deflate no\nlog_level DEBUG\nlog_file /var/log/pg.log\n"
                               "access_log /var/log/pg.access\nwww_root \"\"\nstore redis://r:1/0\n"
                               "max_connections 0\nworkers 4\nauth_cache_ttl 0\nmax_header_size 1k\n"
                               "user nobody\ngroup nogroup\n");
    ok(c != NULL, "a config with every type loads (%s)", err);
    if (!c)
        return;
    is_int(c->history_size, 7, "uint");
    is_int(c->history_ttl_ms, 250, "duration ms");
    is_int(c->history_memory_max, 2ull << 30, "size G");
    ok(!c->websocket_deflate, "bool no");
    is_int(c->log_level, PG_LOG_DEBUG, "log level, any case");
    is_str(c->log_file, "/var/log/pg.log", "path");
    is_str(c->access_log, "/var/log/pg.access", "access_log path");
    is_str(c->www_root, "", "quoted empty string");
    is_str(c->store, "redis://r:1/0", "store url");
    is_int(c->workers, 4, "workers");
    is_int(c->auth_cache_ttl_ms, 0, "auth_cache_ttl may be 0");
    is_int(c->max_header_size, 1024, "max_header_size at its minimum");
    is_str(c->user, "nobody", "user");
    pg_config_free(c);

    c = load("access_log off\nlog_level warning\n");
    ok(c && !*c->access_log && c->log_level == PG_LOG_WARN, "access_log off is empty; 'warning' is warn");
    pg_config_free(c);
}

static void test_errors(void)
{
    fails("\n\n# x\n\nhistroy_size 10\n", "t.conf:5: unknown key 'histroy_size'");
    fails("history_size 10x", "t.conf:1: history_size: '10x' is not a number");
    fails("history_size -1", "t.conf:1: history_size: '-1' is not a number");
    fails("history_size 10000001", "t.conf:1: history_size: '10000001' is out of range (0 to 10000000)");
    fails("max_channels 0", "t.conf:1: max_channels: '0' must be more than 0");
    fails("workers 65", "t.conf:1: workers: '65' is out of range (0 to 64)");
    fails("history_ttl 10x",
          "t.conf:1: history_ttl: '10x' is not a duration (use ms, s, m or h; bare = seconds)");
    fails("history_ttl 0", "t.conf:1: history_ttl: '0' must be more than 0");
    fails("ping_interval 0ms", "t.conf:1: ping_interval: '0ms' must be more than 0");
    fails("header_timeout 2h", "t.conf:1: header_timeout: '2h' is out of range (1ms to 1h)");
    fails("max_message_size 1T", "t.conf:1: max_message_size: '1T' is not a size (use k, M or G; bare = bytes)");
    fails("max_header_size 1000", "t.conf:1: max_header_size: '1000' is out of range (1k to 1M)");
    fails("max_message_size 2G", "t.conf:1: max_message_size: '2G' is out of range (1 to 1G)");
    fails("websocket_deflate maybe", "t.conf:1: websocket_deflate: 'maybe' is not a boolean (use on or off)");
    fails("log_level loud",
          "t.conf:1: log_level: 'loud' is not a log level (error, warn, notice, info, debug)");
    fails("history_size 1\nhistory_size 2", "t.conf:2: history_size: already set on line 1");
    fails("history_size", "t.conf:1: history_size: missing value (N)");
    fails("log_file a b",
          "t.conf:1: log_file takes one value, got 2 (quote a value that contains spaces)");
    fails("token_secret \"abc", "t.conf:1: unterminated quote");
    fails("token_secret a\"b\"", "t.conf:1: stray '\"' inside a word (quote the whole value)");
    fails("store mongodb://x",
          "t.conf:1: store: 'mongodb://x': expected memory, redis://host:port/db or redis+unix:/path?db=N");
    fails("listen 0.0.0.0:99999", "t.conf:1: listen: '0.0.0.0:99999': port must be a number from 1 to 65535");
    fails("trusted_proxies 10.0.0.0/33", "t.conf:1: trusted_proxies: '10.0.0.0/33': prefix length must be 0 to 32");
    fails("allowed_origins shop.example", "t.conf:1: allowed_origins: 'shop.example': an origin is scheme://host[:port] (http or https), or *");
    fails("allowed_origins https://a/", "t.conf:1: allowed_origins: 'https://a/': an origin has no path (drop the trailing /...)");
    fails("user -root", "t.conf:1: user: '-root': a name must not start with '-'");
    fails("group a/b", "t.conf:1: group: 'a/b': not a user or group name");
    fails("history_size 1\x01", "t.conf:1: control character in value");
    struct pg_config *c = pg_config_load_text("t.conf", "history_size 1\n\0", 16, NULL, 0, err, sizeof err);
    ok(!c && strcmp(err, "t.conf:2: NUL byte (is this a text file?)") == 0, "NUL on line 2 (%s)", err);
    fails("history_size 5\r\nnope 1\r\n", "t.conf:2: unknown key 'nope'");

    /* long values are shortened in the message, which stays one line */
    char big[4000];
    memset(big, '9', sizeof big);
    memcpy(big, "history_size x", 14);
    big[sizeof big - 1] = '\0';
    c = load(big);
    ok(!c && strlen(err) < 200 && strstr(err, "...' is not a number") && !strchr(err, '\n'),
       "a long bad value is shortened: %s", err);

    /* rules */
    fails("auth_url chat-*", "t.conf:1: auth_url: a rule is 'GLOB URL' (2 words), got 1 word");
    fails("auth_url a http://x y", "t.conf:1: auth_url: a rule is 'GLOB URL' (2 words), got 3 words");
    fails("auth_url a ftp://x", "t.conf:1: auth_url: the URL must start with http:// or https://");
    fails("auth_fastcgi a unix:/run/php.sock",
          "t.conf:1: auth_fastcgi: a rule is 'GLOB SOCKET SCRIPT' (3 words), got 2 words");
    fails("auth_fastcgi a unix:/run/php.sock auth.php",
          "t.conf:1: auth_fastcgi: the script must be an absolute path (SCRIPT_FILENAME)");
    fails("auth_fastcgi a php /a.php", "t.conf:1: auth_fastcgi: missing ':port'");
    fails("auth_fastcgi a tls:127.0.0.1:9000 /a.php", "t.conf:1: auth_fastcgi: a FastCGI socket cannot use tls:");

    /* across keys: the place named is the value's own line */
    fails("tls_cert /c.pem\n\nlisten 127.0.0.1:80 tls:0.0.0.0:443\n",
          "t.conf:1: tls_cert is set but tls_key is not");
    fails("# x\nlisten 127.0.0.1:80\nlisten tls:0.0.0.0:443\n",
          "t.conf:3: listen: 'tls:0.0.0.0:443' needs tls_cert and tls_key");
    fails("tls_key /k.pem\n", "t.conf:1: tls_key is set but tls_cert is not");
    fails("tls_chain /ch.pem\n", "t.conf:1: tls_chain is set but tls_cert is not");
    fails("listen 127.0.0.1:8081\n",
          "t.conf:1: listen: '127.0.0.1:8081' is also in publish_listen");
    fails("listen 127.0.0.1:1\npublish_listen 127.0.0.1:2\npublish_listen 127.0.0.1:1\n",
          "t.conf:3: publish_listen: '127.0.0.1:1' is also in listen");
    fails("listen 127.0.0.1:80 tls:127.0.0.1:80\ntls_cert /c\ntls_key /k\n",
          "t.conf:1: listen: 'tls:127.0.0.1:80' is given twice");
    fails("\nlisten\n", "t.conf:2: listen: at least one address is needed");
    fails("store redis://h\nhistory_journal /j\n", "t.conf:2: history_journal works only with store memory");
    c = load("listen tls:0.0.0.0:443\ntls_cert /c.pem\ntls_key /k.pem\ntls_chain /ch.pem\n");
    ok(c != NULL, "tls: listener with cert and key loads (%s)", err);
    pg_config_free(c);

    /* command line */
    fails_arg("--history-size=10x", "--history-size=10x: history_size: '10x' is not a number");
    fails_arg("--histroy_size=10", "--histroy_size=10: unknown key 'histroy_size'");
    fails_arg("history_size=10", "history_size=10: expected --key=value");
    fails_arg("--listen", "--listen: listen: missing '=value' (ADDR...)");
    fails_arg("--history_size", "--history_size: history_size: missing '=value' (N)");
    fails_arg("--listen=", "--listen=: listen: at least one address is needed");
    fails_arg("--log_file=a\nb", "--log_file=a?b: log_file: control character in value");
    fails_arg("--listen=\"a", "--listen=\"a: listen: unterminated quote");
    fails_arg("--listen=tls:0.0.0.0:1", "--listen=tls:0.0.0.0:1: listen: 'tls:0.0.0.0:1' needs tls_cert and tls_key");
    fails_arg("--auth_url=a", "--auth_url=a: auth_url: a rule is 'GLOB URL' (2 words), got 1 word");
    const char *two[] = {"--history_size=1", "--history_size=2"};
    c = load_ov("", two, 2);
    ok(c && c->history_size == 2, "on the command line the last value wins");
    pg_config_free(c);
    const char *fileover[] = {"--history_size=9"};
    c = load_ov("history_size 3\n", fileover, 1);
    ok(c && c->history_size == 9, "the command line wins over the file");
    pg_config_free(c);

    /* files */
    c = pg_config_load("/nonexistent/pushgate.conf", NULL, 0, err, sizeof err);
    ok(!c && strcmp(err, "/nonexistent/pushgate.conf: cannot open: No such file or directory") == 0,
       "a missing file: %s", err);
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("history_size 12\n\nbogus 1\n", f);
    fclose(f);
    c = pg_config_load(path, NULL, 0, err, sizeof err);
    char want[200];
    snprintf(want, sizeof want, "%s:3: unknown key 'bogus'", path);
    ok(!c && strcmp(err, want) == 0, "file errors name the path and line: %s", err);
    f = fopen(path, "w");
    fputs("history_size 12\n", f);
    fclose(f);
    const char *ov[] = {"--max-channels=5"};
    c = pg_config_load(path, (char *const *)ov, 1, err, sizeof err);
    ok(c && c->history_size == 12 && c->max_channels == 5, "a real file plus an override");
    pg_config_free(c);
    f = fopen(path, "w");
    for (int i = 0; i < 70000; i++)
        fputs("# padding padding\n", f);
    fclose(f);
    c = pg_config_load(path, NULL, 0, err, sizeof err);
    ok(!c && strstr(err, "larger than 1048576 bytes"), "an oversized file is refused: %s", err);
    f = fopen(path, "w");
    fputs("listen [::1]:9\n", f);
    fclose(f);
    c = pg_config_load(path, NULL, 0, NULL, 0);
    ok(c && c->listen.n == 1, "err may be NULL with errlen 0");
    pg_config_free(c);
    c = pg_config_load(path, (char *const *)(const char *[]){"x"}, 1, NULL, 0);
    ok(!c, "a failure with no error buffer is still a failure");
    unlink(path);
}

static void test_lists(void)
{
    struct pg_config *c = load("listen 127.0.0.1:1\nlisten 127.0.0.1:2 [::1]:3\n"
                               "client_publish a-* b\nclient_publish c\n");
    ok(c != NULL, "lists load (%s)", err);
    if (c) {
        is_list(&c->listen, "127.0.0.1:1|127.0.0.1:2|[::1]:3", "file: the first line replaces the default, the rest add up");
        is_list(&c->client_publish, "a-*|b|c", "file: list values add up");
        is_list(&c->publish_listen, "127.0.0.1:8081|unix:/run/pushgate/publish.sock", "untouched list keeps its default");
    }
    pg_config_free(c);

    const char *ov1[] = {"--listen=127.0.0.1:9"};
    c = load_ov("listen 127.0.0.1:1\nlisten 127.0.0.1:2\n", ov1, 1);
    ok(c && c->listen.n == 1 && !strcmp(c->listen.v[0], "127.0.0.1:9"), "command line replaces the file's values");
    pg_config_free(c);

    const char *ov2[] = {"--listen=127.0.0.1:9", "--listen=127.0.0.1:10 127.0.0.1:11"};
    c = load_ov("listen 127.0.0.1:1\n", ov2, 2);
    ok(c != NULL, "two list overrides (%s)", err);
    if (c)
        is_list(&c->listen, "127.0.0.1:9|127.0.0.1:10|127.0.0.1:11", "command line values add up among themselves");
    pg_config_free(c);

    const char *ov3[] = {"--trusted_proxies=10.0.0.0/8"};
    c = load_ov("", ov3, 1);
    ok(c != NULL, "cmd list without a file");
    if (c)
        is_list(&c->trusted_proxies, "10.0.0.0/8", "command line replaces the default");
    pg_config_free(c);

    const char *ov4[] = {"--trusted_proxies="};
    c = load_ov("trusted_proxies 10.0.0.0/8\n", ov4, 1);
    ok(c && c->trusted_proxies.n == 0, "an empty --key= clears a list");
    pg_config_free(c);

    c = load("trusted_proxies\n");
    ok(c && c->trusted_proxies.n == 0, "a list key with no value in the file is empty");
    pg_config_free(c);

    c = load("auth_url chat-* http://127.0.0.1/auth?x=1\n"
             "auth_url \"private *\" https://shop/a\n"
             "auth_fastcgi orders-* unix:/run/php/fpm.sock /srv/shop/auth.php\n"
             "auth_fastcgi x-* 127.0.0.1:9000 /a.php\n");
    ok(c && c->auth_url.n == 2 && c->auth_fastcgi.n == 2, "rules add up in the file (%s)", err);
    if (c) {
        is_str(c->auth_url.v[0].glob, "chat-*", "rule glob");
        is_str(c->auth_url.v[0].target, "http://127.0.0.1/auth?x=1", "rule url");
        ok(c->auth_url.v[0].script == NULL, "auth_url has no script");
        is_str(c->auth_url.v[1].glob, "private *", "a rule word may be quoted");
        is_str(c->auth_fastcgi.v[0].target, "unix:/run/php/fpm.sock", "fcgi socket");
        is_str(c->auth_fastcgi.v[0].script, "/srv/shop/auth.php", "fcgi script");
    }
    pg_config_free(c);

    const char *ov5[] = {"--auth_url=z-* http://a/", "--auth_url=y-* http://b/"};
    c = load_ov("auth_url chat-* http://127.0.0.1/\n", ov5, 2);
    ok(c && c->auth_url.n == 2 && !strcmp(c->auth_url.v[0].glob, "z-*") &&
           !strcmp(c->auth_url.v[1].target, "http://b/"),
       "rules on the command line replace the file's, one rule per argument");
    pg_config_free(c);
}

static void test_names_quotes_demo(void)
{
    const char *ov[] = {"--publish-listen=127.0.0.1:7", "--max_connections-per-ip=3", "--Log-Level=info"};
    struct pg_config *c = load_ov("", ov, 2);
    ok(c && c->publish_listen.n == 1 && c->max_connections_per_ip == 3, "dashes and underscores are alike");
    pg_config_free(c);
    fails_ov("", ov + 2, 1, "--Log-Level=info: unknown key 'Log-Level'");
    c = load("max-channels 9\n");
    ok(c && c->max_channels == 9, "the file accepts dashes too");
    pg_config_free(c);

    ok(pg_config_is_key("publish_listen") && pg_config_is_key("--publish-listen") &&
           pg_config_is_key("--publish-listen=x") && pg_config_is_key("demo"),
       "pg_config_is_key accepts key, --key, --key=value, dashes");
    ok(!pg_config_is_key("--nope") && !pg_config_is_key("") && !pg_config_is_key("--") &&
           !pg_config_is_key("-c") && !pg_config_is_key("--listen_") && !pg_config_is_key("--liste"),
       "pg_config_is_key refuses others");

    c = load("token_secret \"s3cr3t with # and \\\"quotes\\\"\"  # comment\n"
             "log_file \"/var/log/push gate.log\"\npublish_secret abc#def\n");
    ok(c != NULL, "quoted values load (%s)", err);
    if (c) {
        is_str(c->token_secret, "s3cr3t with # and \"quotes\"", "quoted secret with # and escapes");
        is_str(c->log_file, "/var/log/push gate.log", "quoted path with a space");
        is_str(c->publish_secret, "abc#def", "# inside a word is not a comment");
    }
    pg_config_free(c);
    const char *lit[] = {"--token_secret=\"a b\"", "--log_file=/x y"};
    c = load_ov("", lit, 2);
    ok(c && !strcmp(c->token_secret, "\"a b\"") && !strcmp(c->log_file, "/x y"),
       "command-line single values are literal");
    pg_config_free(c);

    c = load("demo on\n");
    ok(c && c->demo && pg_strlist_contains(&c->client_publish, "chat-*"), "demo adds chat-* to client_publish");
    pg_config_free(c);
    const char *demo[] = {"--demo"};
    c = load_ov("client_publish room-*\n", demo, 1);
    ok(c && c->demo, "--demo alone switches it on");
    if (c)
        is_list(&c->client_publish, "room-*|chat-*", "demo adds to the configured globs");
    pg_config_free(c);
    c = load("client_publish chat-*\ndemo yes\n");
    ok(c && c->client_publish.n == 1, "demo does not add chat-* twice");
    pg_config_free(c);
    const char *nodemo[] = {"--demo=off"};
    c = load_ov("demo on\n", nodemo, 1);
    ok(c && !c->demo && c->client_publish.n == 0, "--demo=off wins over the file");
    pg_config_free(c);
    const char *booleq[] = {"--websocket-deflate"};
    c = load_ov("websocket_deflate off\n", booleq, 1);
    ok(c && c->websocket_deflate, "any boolean --key alone means on");
    pg_config_free(c);
}

static void test_restart_dump(void)
{
    struct pg_config *a = load("history_size 5\n");
    const char *ov[] = {"--listen=127.0.0.1:1", "--workers=2", "--history_size=6", "--log_level=debug"};
    struct pg_config *b = load_ov("history_size 5\n", ov, 4);
    char out[128];
    ok(a && b, "two configs load");
    if (!a || !b)
        return;
    is_int(pg_config_restart_keys_changed(a, a, out, sizeof out), 0, "no change, no restart keys");
    is_str(out, "", "empty list");
    is_int(pg_config_restart_keys_changed(a, b, out, sizeof out), 2, "listen and workers changed");
    is_str(out, "listen, workers", "names, comma-separated");
    is_int(pg_config_restart_keys_changed(a, b, NULL, 0), 2, "out may be NULL");
    char small[8];
    is_int(pg_config_restart_keys_changed(a, b, small, sizeof small), 2, "count despite truncation");
    is_str(small, "listen,", "truncated and terminated");
    const char *all[] = {"--publish_listen=127.0.0.1:2", "--publish-socket-group=www-data", "--store=redis://h",
                         "--user=pg", "--group=pg", "--history_journal=/j", "--store=memory"};
    struct pg_config *d = load_ov("", all, 7);
    ok(d != NULL, "every restart key set (%s)", err);
    if (d) {
        is_int(pg_config_restart_keys_changed(a, d, out, sizeof out), 5, "five restart keys (store set back)");
        is_str(out, "publish_listen, publish_socket_group, user, group, history_journal", "their names");
        pg_config_keep_restart_keys(d, a);
        is_int(pg_config_restart_keys_changed(a, d, out, sizeof out), 0, "keep_restart_keys copies them back");
        is_list(&d->publish_listen, "127.0.0.1:8081|unix:/run/pushgate/publish.sock", "copied list");
    }
    struct pg_config *e = load("store redis://h\n");
    ok(e && pg_config_restart_keys_changed(a, e, out, sizeof out) == 1 && !strcmp(out, "store"), "store");
    pg_config_free(e);
    pg_config_keep_restart_keys(b, a);
    ok(b->history_size == 6 && b->log_level == PG_LOG_DEBUG && b->listen.n == 1 &&
           !strcmp(b->listen.v[0], "0.0.0.0:8080") && b->workers == 0,
       "reloadable keys keep their new values");
    pg_config_free(a), pg_config_free(b), pg_config_free(d);

    /* dump: secrets hidden, everything else re-loadable */
    struct pg_config *c = load("token_secret s\npublish_secret \"p q\"\n");
    char *s = c ? dump_str(c) : NULL;
    ok(s && strstr(s, "\ntoken_secret (set)\n") && strstr(s, "\npublish_secret (set)\n") && !strstr(s, "p q"),
       "dump shows secrets as (set)");
    free(s);
    pg_config_free(c);
    c = pg_config_new_defaults();
    s = dump_str(c);
    ok(strstr(s, "\ntoken_secret \"\"\n") && strstr(s, "\naccess_log off\n") &&
           strstr(s, "\nhistory_ttl 10m\n") && strstr(s, "\nclient_publish\n") &&
           strstr(s, "listen 0.0.0.0:8080\n") && strstr(s, "\nauth_url\n"),
       "dump of the defaults");
    size_t lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    is_int(lines, NKEYS, "one line per key");
    free(s);
    pg_config_free(c);

    const char *rich = "listen 127.0.0.1:1 \"unix:/tmp/a b.sock\"\nclient_publish \"#x\" a\\b\n"
                       "auth_url \"a b\" http://x/\nauth_url c http://y/\n"
                       "auth_fastcgi d unix:/s /p.php\nhistory_ttl 1500ms\nmax_message_size 1536\n"
                       "log_file \"q\\\"uote\"\ndemo on\nwww_root \"\"\naccess_log /a\n";
    c = load(rich);
    ok(c != NULL, "a rich config loads (%s)", err);
    if (c) {
        char *d1 = dump_str(c);
        struct pg_config *c2 = load(d1);
        char *d2 = c2 ? dump_str(c2) : NULL;
        ok(d2 && strcmp(d1, d2) == 0, "dump -> load -> dump is stable (%s)", c2 ? "" : err);
        free(d1), free(d2);
        pg_config_free(c2);
    }
    pg_config_free(c);

    char *h = NULL;
    size_t hn = 0;
    FILE *f = open_memstream(&h, &hn);
    pg_config_help(f);
    fclose(f);
    bool all_keys = true;
    for (size_t i = 0; i < NKEYS; i++) {
        char needle[80];
        snprintf(needle, sizeof needle, "--%s=", keys[i].name);
        all_keys &= strstr(h, needle) != NULL;
    }
    ok(all_keys && strstr(h, "(default: 100)"), "help lists every key");
    free(h);
}

/* Every truncation and every one-byte change of a valid config: no crash,
 * either a config or a one-line error naming t.conf. */
static void test_hostile(void)
{
    const char *text = "listen 127.0.0.1:1 [::1]:2\nhistory_ttl 10m\ntoken_secret \"a b\"\n"
                       "auth_url x http://h/\nstore redis+unix:/r?db=1\n";
    size_t len = strlen(text);
    bool clean = true;
    for (size_t n = 0; n <= len; n++) {
        err[0] = '\0';
        struct pg_config *c = pg_config_load_text("t.conf", text, n, NULL, 0, err, sizeof err);
        if (!c && (strncmp(err, "t.conf:", 7) || strchr(err, '\n')))
            clean = false;
        pg_config_free(c);
    }
    ok(clean, "every truncation loads or fails cleanly");
    static const char subst[] = {'\0', '\n', '"', '\\', '#', ' ', ':', '/', '0', 'x', '\x7f', '\xff'};
    char *buf = pg_xstrdup(text);
    clean = true;
    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < sizeof subst; j++) {
            char keep = buf[i];
            buf[i] = subst[j];
            err[0] = '\0';
            struct pg_config *c = pg_config_load_text("t.conf", buf, len, NULL, 0, err, sizeof err);
            if (!c && (strncmp(err, "t.conf:", 7) || strchr(err, '\n')))
                clean = false;
            pg_config_free(c);
            buf[i] = keep;
        }
    }
    free(buf);
    ok(clean, "every one-byte substitution loads or fails cleanly");
}

/* ------------------------------------------------------------ the docs */

static char *slurp(const char *rel)
{
    const char *dirs[3] = {getenv("PG_SRCDIR"), NULL, NULL};
#ifdef PG_SRCDIR
    dirs[1] = PG_SRCDIR;
#endif
    char here[512];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *slash = strrchr(here, '/');
    snprintf(slash ? slash : here, sizeof here - (size_t)((slash ? slash : here) - here), "%s",
             slash ? "/../.." : "../..");
    dirs[2] = here;
    for (size_t i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        char *p = pg_xasprintf("%s/%s", dirs[i], rel);
        FILE *f = fopen(p, "r");
        free(p);
        if (!f)
            continue;
        char *s = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&s, &n);
        int ch;
        while ((ch = fgetc(f)) != EOF)
            fputc(ch, m);
        fclose(m);
        fclose(f);
        return s;
    }
    return NULL;
}

static bool is_key_word(const char *s, size_t n)
{
    if (!n || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

/* Each key: exactly one "#key value" line whose value equals the default. */
static void test_sample(void)
{
    char *text = slurp("contrib/pushgate.conf");
    ok(text != NULL, "contrib/pushgate.conf is readable");
    if (!text)
        return;
    struct pg_config *def = pg_config_new_defaults();
    struct pg_config *as_is = load(text);
    ok(as_is != NULL, "the sample loads as it is (%s)", err);
    char *d0 = dump_str(def), *d1 = as_is ? dump_str(as_is) : NULL;
    ok(d1 && strcmp(d0, d1) == 0, "the sample as it is gives the defaults");
    free(d1);
    pg_config_free(as_is);

    int seen[PG_ARRAY_LEN(keys)] = {0};
    char *uncommented = pg_xstrdup("");
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        size_t kn = strcspn(line + 1, " \n");
        if (line[0] == '#' && is_key_word(line + 1, kn)) {
            long ki = key_index(line + 1, kn);
            char *one = pg_xstrndup(line + 1, n - 1);
            if (ki < 0) {
                ok(0, "sample line '%s' names a key of the table", one);
            } else {
                seen[ki]++;
                struct pg_config *c = load(one);
                char *got = c ? value_text(keys[ki].name, c) : pg_xstrdup(err);
                char *want = value_text(keys[ki].name, def);
                ok(c && strcmp(got, want) == 0, "sample: %s shows its default '%s' (got '%s')",
                   keys[ki].name, want, got);
                free(got), free(want);
                pg_config_free(c);
                char *u = pg_xasprintf("%s%s\n", uncommented, one);
                free(uncommented);
                uncommented = u;
            }
            free(one);
        }
        line += n + (nl ? 1 : 0);
    }
    for (size_t i = 0; i < NKEYS; i++)
        ok(seen[i] == 1, "sample lists %s exactly once (%d)", keys[i].name, seen[i]);
    struct pg_config *all = load(uncommented);
    char *d2 = all ? dump_str(all) : NULL;
    ok(d2 && strcmp(d0, d2) == 0, "the sample with every key uncommented gives the defaults (%s)",
       all ? "" : err);
    free(d0), free(d2), free(uncommented), free(text);
    pg_config_free(all), pg_config_free(def);
}

/* Roff to plain text, roughly: macros dropped, font escapes and quotes gone. */
static char *roff_plain(const char *s, size_t n)
{
    char *out = pg_xmalloc(n + 1), *o = out;
    bool line_start = true;
    for (size_t i = 0; i < n; i++) {
        if (line_start && s[i] == '.') {
            while (i < n && s[i] != ' ' && s[i] != '\n')
                i++;
            if (i >= n || s[i] == '\n') {
                *o++ = ' ';
                continue;
            }
            continue;
        }
        line_start = s[i] == '\n';
        if (s[i] == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == 'f' && i + 2 < n) {
                i += 2;
                continue;
            }
            if (e == '(' && i + 3 < n) {
                *o++ = '?';
                i += 3;
                continue;
            }
            *o++ = e == 'e' ? '\\' : e;
            i++;
            continue;
        }
        *o++ = s[i] == '"' ? ' ' : s[i] == '\n' ? ' ' : s[i];
    }
    *o = '\0';
    /* squeeze blanks */
    char *r = out, *w = out;
    for (; *r; r++)
        if (!(*r == ' ' && w > out && w[-1] == ' '))
            *w++ = *r;
    *w = '\0';
    return out;
}

/* Each key: one .TP entry in CONFIGURATION whose tag starts with the key, and
 * whose text has "Default" and the default value; restart keys say so. */
static void test_manpage(void)
{
    char *text = slurp("doc/pushgated.8");
    ok(text != NULL, "doc/pushgated.8 is readable");
    if (!text)
        return;
    char *sec = strstr(text, "\n.SH CONFIGURATION\n");
    ok(sec != NULL, "the man page has a CONFIGURATION section");
    if (!sec) {
        free(text);
        return;
    }
    char *end = strstr(sec + 1, "\n.SH ");
    size_t seclen = end ? (size_t)(end - sec) : strlen(sec);
    int seen[PG_ARRAY_LEN(keys)] = {0};
    for (char *tp = sec; (tp = strstr(tp, "\n.TP\n")) && tp < sec + seclen;) {
        char *tag = tp + 5, *q = tag;
        while (*q && *q != ' ' && *q != '\n')
            q++;
        while (*q == ' ' || *q == '"')
            q++;
        size_t kn = strcspn(q, " \"\n");
        char *next = strstr(tag, "\n.TP\n"), *nsec = strstr(tag, "\n.S");
        if (!next || (nsec && nsec < next))
            next = nsec ? nsec : tag + strlen(tag);
        tp = next;
        if (!is_key_word(q, kn))
            continue;
        long ki = key_index(q, kn);
        char *name = pg_xstrndup(q, kn);
        if (ki < 0) {
            ok(0, "man page entry '%s' names a key of the table", name);
            free(name);
            continue;
        }
        seen[ki]++;
        char *plain = roff_plain(tag, (size_t)(next - tag));
        const struct key *k = &keys[ki];
        char *dflt = strstr(plain, "Default");
        ok(dflt && (!*k->def || strstr(dflt, k->def)), "man: %s gives its default '%s'", name, k->def);
        if (k->flags & F_RESTART)
            ok(strstr(plain, "Restart only") != NULL, "man: %s says it needs a restart", name);
        free(plain);
        free(name);
    }
    for (size_t i = 0; i < NKEYS; i++)
        ok(seen[i] == 1, "man page documents %s exactly once (%d)", keys[i].name, seen[i]);
    ok(strstr(text, "configuration") && strstr(text, " OK") && strstr(text, "SIGHUP") && strstr(text, "1001") &&
           strstr(text, "/pubsub/") && strstr(text, "DELETE /pub/"),
       "man page covers -t, signals and URLs");
    free(text);
}

int main(void)
{
    test_defaults();
    test_split();
    test_numbers();
    test_addr();
    test_cidr_store();
    test_values();
    test_errors();
    test_lists();
    test_names_quotes_demo();
    test_restart_dump();
    test_hostile();
    test_sample();
    test_manpage();
    return done_testing();
}
