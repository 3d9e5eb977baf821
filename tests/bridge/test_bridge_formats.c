/* test_bridge_formats.c — pushgate-fcgi's text formats and small codecs:
 * fcgi.conf (every key, every limit, file:line errors), bridge_allow
 * networks, urlencoded forms, templates, the webhook mapping file and tap
 * rules (parse errors and evaluation). */
#include "bridge/conf.h"
#include "bridge/form.h"
#include "bridge/hooks.h"
#include "bridge/tap_rules.h"
#include "bridge/template.h"
#include "fcgi_codec.h"
#include "log.h"
#include "util.h"
#include "../unit/tap.h"

#include <stdio.h>
#include <stdlib.h>

static int parse_conf(const char *text, struct pg_bridge_conf *c, char *err)
{
    pg_bridge_conf_defaults(c);
    return pg_bridge_conf_parse(text, strlen(text), "t.conf", c, err, 256);
}

static void test_conf(void)
{
    struct pg_bridge_conf c;
    char err[256];
    ok(parse_conf("", &c, err) == 0 && strcmp(c.daemon, "unix:/run/pushgate/publish.sock") == 0 &&
       c.max_message_size == 256 * 1024 && c.spool && c.threads == 4, "defaults");
    ok(pg_bridge_conf_allows(&c, "127.0.0.1") && pg_bridge_conf_allows(&c, "127.9.9.9") &&
       pg_bridge_conf_allows(&c, "::1") && !pg_bridge_conf_allows(&c, "10.0.0.1") &&
       !pg_bridge_conf_allows(&c, NULL) && !pg_bridge_conf_allows(&c, "garbage"), "default bridge_allow is loopback");
    pg_bridge_conf_free(&c);
    const char *full = "# c\n\n  daemon = 127.0.0.1:8081  \r\npublish_secret ps\nbridge_allow 10.1.0.0/16, 192.0.2.7\n"
                       "bridge_allow 2001:db8::/32\nbridge_secret bs\nspool off\nspool_dir /s\nspool_drainer bridge\n"
                       "max_message_size 2m\ndaemon_timeout 1500ms\ntap_timeout 2s\nthreads 8\nurl_prefix /p/\n"
                       "webhooks /w\nlisten :9000\ntap_upstream unix:/f\ntap_rules /r\ntap_body_max 64k\nlog_level debug\n";
    int rc = parse_conf(full, &c, err);
    ok(rc == 0, "every key parses (%s)", rc ? err : "ok");
    ok(strcmp(c.daemon, "127.0.0.1:8081") == 0 && !c.spool && c.spool_drainer == PG_DRAINER_BRIDGE &&
       c.max_message_size == 2u << 20 && c.daemon_timeout_ms == 1500 && c.tap_timeout_ms == 2000 &&
       c.threads == 8 && c.tap_body_max == 65536 && c.log_level == PG_LOG_DEBUG, "values");
    ok(pg_bridge_conf_allows(&c, "10.1.200.3") && pg_bridge_conf_allows(&c, "192.0.2.7") &&
       !pg_bridge_conf_allows(&c, "192.0.2.8") && pg_bridge_conf_allows(&c, "2001:db8::5") &&
       !pg_bridge_conf_allows(&c, "127.0.0.1") && pg_bridge_conf_allows(&c, "::ffff:10.1.0.9"),
       "bridge_allow lines add up and replace the default");
    pg_bridge_conf_free(&c);
    ok(parse_conf("bridge_allow none\n", &c, err) == 0 && c.nallow == 0, "bridge_allow none");
    pg_bridge_conf_free(&c);
    static const struct { const char *text, *want; } bad[] = {
        {"bogus 1\n", "t.conf:1: unknown key 'bogus'"},
        {"\ndaemon\n", "t.conf:2: 'daemon' has no value"},
        {"threads 0\n", "t.conf:1: threads: threads wants"},
        {"threads 257\n", "t.conf:1: threads"},
        {"max_message_size 65m\n", "t.conf:1: max_message_size"},
        {"max_message_size -1\n", "t.conf:1: max_message_size"},
        {"daemon_timeout 5x\n", "t.conf:1: daemon_timeout"},
        {"bridge_allow 300.1.1.1\n", "t.conf:1: bridge_allow"},
        {"bridge_allow 10.0.0.0/40\n", "t.conf:1: bridge_allow"},
        {"spool maybe\n", "t.conf:1: spool"},
        {"spool_drainer who\n", "t.conf:1: spool_drainer"},
        {"log_level loud\n", "t.conf:1: log_level"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++) {
        rc = parse_conf(bad[i].text, &c, err);
        ok(rc < 0 && strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "error: %s", err);
        pg_bridge_conf_free(&c);
    }
    rc = parse_conf("daemon a\0b\n", &c, err);
    pg_bridge_conf_free(&c);
    char nul[] = "daemon a\0b\n";
    pg_bridge_conf_defaults(&c);
    rc = pg_bridge_conf_parse(nul, sizeof nul - 1, "t.conf", &c, err, sizeof err);
    ok(rc < 0 && strstr(err, "NUL"), "NUL byte refused");
    pg_bridge_conf_free(&c);
}

static void test_form(void)
{
    size_t n;
    bool bad;
    char *v = pg_form_get("a=1&channel=x%2Cy&data=h%C3%A9llo+w&data=2", 42, "data", &n, &bad);
    ok(v && strcmp(v, "h\xc3\xa9llo w") == 0 && !bad, "first data field decoded");
    free(v);
    v = pg_form_get("a=1&channel=x%2Cy", 17, "channel", &n, &bad);
    ok(v && strcmp(v, "x,y") == 0, "%%2C decodes");
    free(v);
    ok(!pg_form_get("a=1", 3, "b", &n, &bad) && !bad, "absent field");
    v = pg_form_get("flag&b=", 7, "flag", &n, &bad);
    ok(v && n == 0, "field without = is empty");
    free(v);
    v = pg_form_get("b=", 2, "b", &n, &bad);
    ok(v && n == 0, "empty value");
    free(v);
    ok(!pg_form_get("d=%4", 4, "d", &n, &bad) && bad, "truncated escape is bad");
    ok(!pg_form_get("d=%g0", 5, "d", &n, &bad) && bad, "non-hex escape is bad");
    v = pg_form_decode("a%00b", 5, false, &n);
    ok(v && n == 3 && v[1] == '\0', "%%00 kept with its length");
    free(v);
    v = pg_form_decode("a+b", 3, false, &n);
    ok(v && strcmp(v, "a+b") == 0, "+ stays in paths");
    free(v);
    ok(pg_secret_eq("abc", "abc", 3) && !pg_secret_eq("abc", "abd", 3) && !pg_secret_eq("abc", "ab", 2) &&
       !pg_secret_eq("abc", "abcd", 4) && !pg_secret_eq("", "", 0), "secret comparison");
}

static const char *lk(void *ud, const char *name, size_t n, size_t *len)
{
    if (n == 1 && name[0] == 'q') {
        *len = 5;
        return "a\"b\n!";
    }
    if (n == 3 && memcmp(name, "a.b", 3) == 0) {
        *len = 1;
        return "7";
    }
    return NULL;
}

static void test_template(void)
{
    char *miss;
    char *s = pg_tpl_expand("order-{a.b}", PG_TPL_RAW, lk, NULL, &miss);
    ok(s && strcmp(s, "order-7") == 0, "raw expansion");
    free(s);
    s = pg_tpl_expand("{\"v\": \"{q}\", \"n\": {a.b}} {{x}} }}", PG_TPL_JSON, lk, NULL, &miss);
    ok(s && strcmp(s, "{\"v\": \"a\\\"b\\n!\", \"n\": 7} {x} }") == 0, "JSON escaping, literal braces: %s", s ? s : "");
    free(s);
    s = pg_tpl_expand("x-{nope}", PG_TPL_RAW, lk, NULL, &miss);
    ok(!s && miss && strcmp(miss, "nope") == 0, "unknown placeholder named");
    free(miss);
    ok(pg_tpl_check("a-{b") != NULL, "unclosed placeholder refused");
    ok(pg_tpl_check("{\"a\": 1}") == NULL && pg_tpl_check("{}") == NULL && pg_tpl_check("x}") == NULL,
       "non-placeholder braces are literal");
}

static void test_hooks_map(void)
{
    char err[256];
    const char *text = "route r1\n type hmac\n secret s\n signature_header X-Sig\n publish c-{id} ev\n field id\n"
                       " field city billing.city\nroute woo\n type woocommerce\n secret t\n event {header.X-WC-Webhook-Topic}\n"
                       " publish order-{id}\n payload all\n";
    struct pg_hook_map *m = pg_hook_map_parse(text, strlen(text), "m", err, sizeof err);
    ok(m && m->n == 2, "two routes (%s)", m ? "ok" : err);
    const struct pg_hook_route *r = pg_hook_map_find(m, "r1");
    ok(r && r->type == PG_HOOK_HMAC && strcmp(r->sig_header, "HTTP_X_SIG") == 0 && r->sig_enc == PG_HOOK_HEX &&
       r->npubs == 1 && strcmp(r->pubs[0].event, "ev") == 0 && r->nfields == 2 &&
       strcmp(r->fields[1].path, "billing.city") == 0, "hmac route fields");
    r = pg_hook_map_find(m, "woo");
    ok(r && strcmp(r->sig_header, "HTTP_X_WC_WEBHOOK_SIGNATURE") == 0 && r->sig_enc == PG_HOOK_BASE64 &&
       r->payload_all, "woocommerce route defaults");
    ok(!pg_hook_map_find(m, "zz"), "unknown route");
    pg_hook_map_free(m);
    static const struct { const char *text, *want; } bad[] = {
        {"route a b\n", "m:1: route name"},
        {"route a\n type hmac\n publish x\n", "m:1: route a (type hmac) needs signature_header"},
        {"route a\n type woocommerce\n signature_header X\n publish x\n", "m:1: route a: woocommerce"},
        {"route a\n type hmac\n signature_encoding b32\n", "m:3: signature_encoding"},
        {"route a\n type hmac\n payload some\n", "m:3: payload"},
        {"route a\n type hmac\n field a b c\n", "m:3: field"},
        {"route a\n type hmac\n publish a b c\n", "m:3: publish wants"},
        {"route a\n type hmac\n signature_header X Y\n", "m:3: signature_header"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++) {
        m = pg_hook_map_parse(bad[i].text, strlen(bad[i].text), "m", err, sizeof err);
        ok(!m && strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "mapping error: %s", err);
    }
}

struct fired {
    char buf[1024];
    int n;
};

static void emit(void *ud, const char *rule, const char *ch, const char *ev, const char *payload)
{
    struct fired *f = ud;
    size_t l = strlen(f->buf);
    snprintf(f->buf + l, sizeof f->buf - l, "%s|%s|%s|%s;", rule, ch, ev ? ev : "-", payload);
    f->n++;
}

static const char *params(void *ud, const char *name)
{
    return strcmp(name, "REMOTE_USER") == 0 ? "admin" : NULL;
}

static void test_tap_rules(void)
{
    char err[256];
    const char *text = "rule a\n method POST\n path */admin/*.php\n publish order-{form.id}\n event st\n"
                       " payload {\"s\": \"{form.s}\", \"u\": \"{param.REMOTE_USER}\"}\n"
                       "rule b\n path /x\n status 404\n publish e-{status}-{query.q}-{header.X-H}\n";
    struct pg_tap_rules *r = pg_tap_rules_parse(text, strlen(text), "r", err, sizeof err);
    ok(r && r->n == 2, "rules parse (%s)", r ? "ok" : err);
    struct pg_cgi_header h[1] = {{"X-H", 3, "hv", 2}};
    struct pg_tap_view v = {.method = "POST", .path = "/shop/admin/o.php", .query = "", .form = "id=42&s=sh%22ip",
                            .form_len = 15, .status = 201, .headers = h, .nheaders = 1, .param = params};
    struct fired f = {{0}, 0};
    pg_tap_rules_eval(r, &v, emit, &f);
    ok(f.n == 1 && strcmp(f.buf, "a|order-42|st|{\"s\": \"sh\\\"ip\", \"u\": \"admin\"};") == 0, "rule a fires: %s", f.buf);
    v.method = "GET";
    f = (struct fired){{0}, 0};
    pg_tap_rules_eval(r, &v, emit, &f);
    is_int(f.n, 0, "method must match");
    v.method = "POST";
    v.status = 500;
    pg_tap_rules_eval(r, &v, emit, &f);
    is_int(f.n, 0, "status class must match");
    v.status = 201;
    v.form = NULL;
    pg_tap_rules_eval(r, &v, emit, &f);
    is_int(f.n, 0, "no form (body over tap_body_max): the rule does not fire");
    struct pg_tap_view v2 = {.method = "GET", .path = "/x", .query = "q=z+1", .status = 404, .headers = h,
                             .nheaders = 1, .param = params};
    pg_tap_rules_eval(r, &v2, emit, &f);
    ok(f.n == 1 && strcmp(f.buf, "b|e-404-z 1-hv|-|;") == 0, "status, query and header placeholders: %s", f.buf);
    pg_tap_rules_free(r);
    static const struct { const char *text, *want; } bad[] = {
        {"method GET\n", "r:1: 'method' before"},
        {"rule a\n publish x\n", "r:1: rule a has no path"},
        {"rule a\n path /x\n", "r:1: rule a has no publish"},
        {"rule a\n path x\n", "r:2: path wants"},
        {"rule a\n status 6xx\n", "r:2: status wants"},
        {"rule a\n color red\n", "r:2: unknown key"},
        {"rule a\n path /x\n publish {a\n", "r:3: publish template"},
    };
    for (size_t i = 0; i < PG_ARRAY_LEN(bad); i++) {
        r = pg_tap_rules_parse(bad[i].text, strlen(bad[i].text), "r", err, sizeof err);
        ok(!r && strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "rules error: %s", err);
    }
}

int main(void)
{
    pg_log_open(NULL, PG_LOG_ERROR);
    test_conf();
    test_form();
    test_template();
    test_hooks_map();
    test_tap_rules();
    return done_testing();
}
