/* config.c — the key table and the loader: defaults, then the file, then the
 * command line, into one struct pg_config; dump, help and reload helpers.
 *
 * Adding a key is one row in `keys` (plus its field in config.h, a line in
 * contrib/pushgate.conf and an entry in doc/pushgated.8, which the unit test
 * enforces).
 *
 * Layering rule: each source (defaults, file, command line) sets a key anew.
 * A list key's first occurrence in a source replaces what earlier sources
 * gave, and later occurrences in the same source add up. A single-value key
 * may appear once per file (a repeat is an error: it is nearly always a
 * forgotten line); on the command line the last one wins.
 *
 * Invariants: the struct is complete after every successful load (every
 * string non-NULL); all checks that involve several keys run after the last
 * source, and name the place (file:line or --key=value) of the value that
 * fails, so the admin can find it.
 *
 * Deliberate departures from the brief: the file also accepts dashes in key
 * names; on the command line a single-value key takes its value literally
 * (the shell already did the quoting), while list and rule keys are split as
 * in the file; publish_socket_group is restart-only too (the group is applied
 * when the socket is bound); history_journal with a redis store is an error
 * (the journal sits under the memory store only).
 *
 * Size: past the ~600-line guide on purpose: the table and everything that
 * walks it (loader, checks across keys, dump, diff) share its static types;
 * the value codec already lives in config_parse.c. Next seam, if it grows:
 * the output half (write_key and below) into config_dump.c behind a private
 * header declaring `keys`.
 */
#include "config.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

enum ktype { K_STR, K_UINT, K_DUR, K_SIZE, K_BOOL, K_LEVEL, K_LIST, K_RULE };

enum {
    F_RESTART = 1, /* applied only at start-up */
    F_SECRET = 2,  /* dumped as "(set)" */
    F_OFF = 4,     /* string: the word "off" means "" */
};

/* Returns NULL when the word is acceptable, else a static reason. */
typedef const char *(*check_fn)(const char *word);

struct key {
    const char *name;
    enum ktype type;
    unsigned flags;
    size_t off;         /* of the field in struct pg_config */
    const char *def;    /* default, in the file syntax */
    uint64_t min, max;  /* numbers: bounds; K_RULE: min = words in a rule */
    check_fn check;     /* strings and each list word / rule */
    const char *arg;    /* the value's shape, for errors and --help */
    const char *doc;    /* one line */
};

static const char *check_addr(const char *w);
static const char *check_cidr(const char *w);
static const char *check_glob(const char *w);
static const char *check_origin(const char *w);
static const char *check_store(const char *w);
static const char *check_name(const char *w);
static const char *check_url_rule(const char *w);
static const char *check_fcgi_rule(const char *w);

#define OFF(f) offsetof(struct pg_config, f)
#define U64MAX UINT64_MAX
#define DAY (24ull * 3600 * 1000)
#define GiB (1ull << 30)
#define STR(n, f, d, fl, chk, arg, doc) {n, K_STR, fl, OFF(f), d, 0, 0, chk, arg, doc}
#define LIST(n, f, d, fl, chk, arg, doc) {n, K_LIST, fl, OFF(f), d, 0, 0, chk, arg, doc}
#define RULE(n, f, words, chk, arg, doc) {n, K_RULE, 0, OFF(f), "", words, words, chk, arg, doc}
#define NUM(t, n, f, d, fl, lo, hi, doc, arg) {n, t, fl, OFF(f), d, lo, hi, NULL, arg, doc}
#define UINT(...) NUM(K_UINT, __VA_ARGS__, "N")
#define DUR(...) NUM(K_DUR, __VA_ARGS__, "DURATION")
#define SIZE(...) NUM(K_SIZE, __VA_ARGS__, "SIZE")
#define BOOL(n, f, d, doc) {n, K_BOOL, 0, OFF(f), d, 0, 0, NULL, "on|off", doc}

static const struct key keys[] = {
    /* listeners */
    LIST("listen", listen, "0.0.0.0:8080", F_RESTART, check_addr, "ADDR...", "where browsers connect (host:port, [v6]:port, unix:/path; tls: prefix for TLS)"),
    LIST("publish_listen", publish_listen, "127.0.0.1:8081 unix:/run/pushgate/publish.sock", F_RESTART, check_addr, "ADDR...", "where backends publish (keep it on loopback or a unix socket)"),
    STR("publish_socket_group", publish_socket_group, "", F_RESTART, check_name, "GROUP", "group owning the publish unix sockets (mode 0660); empty = ours"),
    /* channels & history */
    LIST("client_publish", client_publish, "", 0, check_glob, "GLOB...", "channels browsers may publish to themselves (/pubsub/)"),
    BOOL("demo", demo, "off", "demo mode: adds chat-* to client_publish"),
    UINT("history_size", history_size, "100", 0, 0, 10000000, "messages kept per channel for replay (0 = none)"),
    DUR("history_ttl", history_ttl_ms, "10m", 0, 1, 365 * DAY, "how long a message stays in history"),
    SIZE("history_memory_max", history_memory_max, "64M", 0, 1, 1024 * GiB, "memory cap of all histories together; oldest messages go first"),
    SIZE("max_message_size", max_message_size, "1M", 0, 1, GiB, "largest message body accepted"),
    UINT("max_channels", max_channels, "100000", 0, 1, UINT32_MAX, "most channels that may exist at once"),
    UINT("max_channels_per_subscription", max_channels_per_subscription, "64", 0, 1, 4096, "most channels in one subscription"),
    /* transports */
    DUR("ping_interval", ping_interval_ms, "30s", 0, 1, DAY, "WebSocket ping period"),
    DUR("idle_timeout", idle_timeout_ms, "75s", 0, 1, DAY, "close a connection that sent nothing for this long"),
    DUR("sse_heartbeat", sse_heartbeat_ms, "15s", 0, 1, DAY, "SSE comment line period"),
    DUR("longpoll_hold", longpoll_hold_ms, "25s", 0, 1, DAY, "how long a long-poll request waits for a message"),
    BOOL("websocket_deflate", websocket_deflate, "on", "offer permessage-deflate"),
    STR("www_root", www_root, "auto", 0, NULL, "DIR", "static files (pushgate.js, demo pages); auto = installed copy; empty = none"),
    /* security */
    LIST("allowed_origins", allowed_origins, "", 0, check_origin, "ORIGIN...", "Origins allowed to subscribe (* = any); empty = same host only"),
    LIST("trusted_proxies", trusted_proxies, "127.0.0.0/8 ::1", 0, check_cidr, "CIDR...", "proxies whose X-Forwarded-For is believed"),
    STR("tls_cert", tls_cert, "", 0, NULL, "FILE", "PEM certificate for tls: listeners"),
    STR("tls_key", tls_key, "", 0, NULL, "FILE", "PEM private key for tls: listeners"),
    STR("tls_chain", tls_chain, "", 0, NULL, "FILE", "PEM intermediate certificates"),
    STR("token_secret", token_secret, "", F_SECRET, NULL, "SECRET", "HS256 key of subscribe tokens (JWT)"),
    LIST("token_channels", token_channels, "", 0, check_glob, "GLOB...", "channels that need a token to subscribe"),
    RULE("auth_url", auth_url, 2, check_url_rule, "GLOB URL", "ask URL (with the browser's cookies) before subscribing to matching channels"),
    RULE("auth_fastcgi", auth_fastcgi, 3, check_fcgi_rule, "GLOB SOCKET SCRIPT", "ask a FastCGI app (php-fpm) before subscribing to matching channels"),
    DUR("auth_cache_ttl", auth_cache_ttl_ms, "30s", 0, 0, DAY, "how long an auth answer is reused (0 = never)"),
    STR("publish_secret", publish_secret, "", F_SECRET, NULL, "SECRET", "bearer secret the publish API requires"),
    STR("user", user, "", F_RESTART, check_name, "USER", "switch to this user after binding"),
    STR("group", group, "", F_RESTART, check_name, "GROUP", "switch to this group after binding"),
    /* limits */
    UINT("max_connections", max_connections, "0", 0, 0, 10000000, "most open connections (0 = what the open-file limit allows)"),
    UINT("max_connections_per_ip", max_connections_per_ip, "256", 0, 0, 10000000, "most connections from one address (0 = no limit)"),
    SIZE("max_header_size", max_header_size, "8k", 0, 1024, 1u << 20, "largest HTTP request head"),
    DUR("header_timeout", header_timeout_ms, "10s", 0, 1, 3600000, "time allowed to send a request head"),
    SIZE("subscriber_buffer_max", subscriber_buffer_max, "1M", 0, 1, GiB, "output queued for a slow subscriber before it is dropped"),
    UINT("pubsub_rate_limit", pubsub_rate_limit, "50", 0, 0, 1000000, "messages per second a /pubsub/ connection may send (0 = no limit)"),
    UINT("workers", workers, "0", F_RESTART, 0, 64, "event-loop threads (0 = one per CPU)"),
    /* storage */
    STR("store", store, "memory", F_RESTART, check_store, "STORE", "memory, redis://host:port/db or redis+unix:/path?db=N"),
    STR("history_journal", history_journal, "", F_RESTART, NULL, "FILE", "append-only journal that keeps history across restarts (memory store)"),
    STR("spool_dir", spool_dir, "/var/spool/pushgate", 0, NULL, "DIR", "where pushgate-fcgi leaves messages while the daemon is away"),
    DUR("spool_poll", spool_poll_ms, "1s", 0, 1, 3600000, "how often the spool directory is drained"),
    /* logging */
    {"log_level", K_LEVEL, 0, OFF(log_level), "info", 0, 0, NULL, "LEVEL", "error, warn, notice, info or debug"},
    STR("log_file", log_file, "", 0, NULL, "FILE", "log file (reopened on SIGHUP); empty = stderr"),
    STR("access_log", access_log, "off", F_OFF, NULL, "FILE|off", "one line per request and per closed connection"),
};

#define NKEYS PG_ARRAY_LEN(keys)

/* ------------------------------------------------------------- checks */

static const char *check_addr(const char *w)
{
    struct pg_addr a;
    const char *why = NULL;
    return pg_config_parse_addr(w, &a, &why) ? NULL : why;
}

static const char *check_cidr(const char *w)
{
    struct pg_cidr c;
    const char *why = NULL;
    return pg_config_parse_cidr(w, &c, &why) ? NULL : why;
}

static const char *check_store(const char *w)
{
    struct pg_store_url s;
    const char *why = NULL;
    return pg_config_parse_store(w, &s, &why) ? NULL : why;
}

static const char *check_glob(const char *w)
{
    return *w ? NULL : "empty channel pattern";
}

static const char *check_origin(const char *w)
{
    if (strcmp(w, "*") == 0 || strcmp(w, "null") == 0)
        return NULL;
    const char *rest = !strncmp(w, "http://", 7) ? w + 7 : !strncmp(w, "https://", 8) ? w + 8 : NULL;
    if (!rest || !*rest)
        return "an origin is scheme://host[:port] (http or https), or *";
    if (strchr(rest, '/'))
        return "an origin has no path (drop the trailing /...)";
    return NULL;
}

static const char *check_name(const char *w)
{
    if (!*w)
        return NULL;
    if (*w == '-')
        return "a name must not start with '-'";
    for (const char *p = w; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr("._-$", *p))
            return "not a user or group name";
    return NULL;
}

/* Rule checks get the rule's words joined as "w0\0w1\0w2\0" (see add_rule). */
static const char *check_url_rule(const char *w)
{
    const char *url = w + strlen(w) + 1;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return "the URL must start with http:// or https://";
    return NULL;
}

static const char *check_fcgi_rule(const char *w)
{
    const char *sock = w + strlen(w) + 1;
    const char *script = sock + strlen(sock) + 1;
    struct pg_addr a;
    const char *why = NULL;
    if (!pg_config_parse_addr(sock, &a, &why))
        return why;
    if (a.tls)
        return "a FastCGI socket cannot use tls:";
    if (*script != '/')
        return "the script must be an absolute path (SCRIPT_FILENAME)";
    return NULL;
}

/* ------------------------------------------------------------- fields */

#define FIELD(c, k, T) ((T *)((char *)(c) + (k)->off))
#define CFIELD(c, k, T) ((const T *)((const char *)(c) + (k)->off))

static void rules_clear(struct pg_rulelist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].glob);
        free(l->v[i].target);
        free(l->v[i].script);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void rules_push(struct pg_rulelist *l, char *const *w, size_t n)
{
    l->v = pg_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    struct pg_rule *r = &l->v[l->n++];
    r->glob = pg_xstrdup(w[0]);
    r->target = pg_xstrdup(w[1]);
    r->script = n > 2 ? pg_xstrdup(w[2]) : NULL;
}

static void field_clear(struct pg_config *c, const struct key *k)
{
    switch (k->type) {
    case K_STR:
        free(*FIELD(c, k, char *));
        *FIELD(c, k, char *) = NULL;
        break;
    case K_LIST:
        pg_strlist_clear(FIELD(c, k, struct pg_strlist));
        break;
    case K_RULE:
        rules_clear(FIELD(c, k, struct pg_rulelist));
        break;
    default:
        break;
    }
}

static void field_copy(struct pg_config *dst, const struct pg_config *src, const struct key *k)
{
    field_clear(dst, k);
    switch (k->type) {
    case K_STR:
        *FIELD(dst, k, char *) = pg_xstrdup(*CFIELD(src, k, char *));
        break;
    case K_LIST: {
        const struct pg_strlist *l = CFIELD(src, k, struct pg_strlist);
        for (size_t i = 0; i < l->n; i++)
            pg_strlist_push(FIELD(dst, k, struct pg_strlist), l->v[i]);
        break;
    }
    case K_RULE: {
        const struct pg_rulelist *l = CFIELD(src, k, struct pg_rulelist);
        for (size_t i = 0; i < l->n; i++) {
            char *w[3] = {l->v[i].glob, l->v[i].target, l->v[i].script};
            rules_push(FIELD(dst, k, struct pg_rulelist), w, w[2] ? 3 : 2);
        }
        break;
    }
    case K_UINT: case K_DUR: case K_SIZE:
        *FIELD(dst, k, uint64_t) = *CFIELD(src, k, uint64_t);
        break;
    case K_BOOL:
        *FIELD(dst, k, bool) = *CFIELD(src, k, bool);
        break;
    case K_LEVEL:
        *FIELD(dst, k, int) = *CFIELD(src, k, int);
        break;
    }
}

void pg_config_free(struct pg_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        field_clear(c, &keys[i]);
    free(c);
}

/* ------------------------------------------------------------ loader */

enum source { SRC_DEFAULT, SRC_FILE, SRC_ARGV };

struct loader {
    struct pg_config *c;
    enum source src;
    enum source set_by[NKEYS];
    unsigned line_of[NKEYS];           /* file line that set a single-value key */
    char *where[NKEYS];                /* place of the key's last setting */
    struct pg_strlist item_where[NKEYS]; /* list keys: place of each value */
    char *err;
    size_t errlen;
};

/* s for an error line: at most cap - 4 bytes, then "...", control bytes as '?'. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t n = 0, lim = cap > 4 ? cap - 4 : 0;
    for (; s[n] && n < lim; n++)
        buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    strcpy(buf + n, s[n] ? "..." : "");
    return buf;
}

static int fail(struct loader *ld, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, const char *where, const char *fmt, ...)
{
    char w[200], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->errlen)
        snprintf(ld->err, ld->errlen, "%s: %s", shown(where, w, sizeof w), msg);
    return -1;
}

static int fail_value(struct loader *ld, const char *where, const struct key *k, const char *v,
                      const char *what)
{
    char b[64];
    return fail(ld, where, "%s: '%s' %s", k->name, shown(v, b, sizeof b), what);
}

/* A check's reason: "key: 'value': why". */
static int fail_check(struct loader *ld, const char *where, const struct key *k, const char *v,
                      const char *why)
{
    char b[64];
    return fail(ld, where, "%s: '%s': %s", k->name, shown(v, b, sizeof b), why);
}

static void note_where(struct loader *ld, size_t ki, const char *where)
{
    free(ld->where[ki]);
    ld->where[ki] = pg_xstrdup(where);
}

static int set_number(struct loader *ld, const struct key *k, const char *v, const char *where)
{
    uint64_t n;
    bool okay = k->type == K_UINT ? pg_config_parse_uint(v, &n)
              : k->type == K_DUR  ? pg_config_parse_duration(v, &n)
                                  : pg_config_parse_size(v, &n);
    if (!okay)
        return fail_value(ld, where, k, v,
                          k->type == K_UINT ? "is not a number"
                          : k->type == K_DUR ? "is not a duration (use ms, s, m or h; bare = seconds)"
                                             : "is not a size (use k, M or G; bare = bytes)");
    if (n < k->min && k->min == 1)
        return fail_value(ld, where, k, v, "must be more than 0");
    if (n < k->min || n > k->max) {
        char lo[32], hi[32], msg[100];
        if (k->type == K_UINT) {
            snprintf(lo, sizeof lo, "%llu", (unsigned long long)k->min);
            snprintf(hi, sizeof hi, "%llu", (unsigned long long)k->max);
        } else if (k->type == K_DUR) {
            pg_config_format_duration(k->min, lo, sizeof lo);
            pg_config_format_duration(k->max, hi, sizeof hi);
        } else {
            pg_config_format_size(k->min, lo, sizeof lo);
            pg_config_format_size(k->max, hi, sizeof hi);
        }
        snprintf(msg, sizeof msg, "is out of range (%s to %s)", lo, hi);
        return fail_value(ld, where, k, v, msg);
    }
    *FIELD(ld->c, k, uint64_t) = n;
    return 0;
}

static int set_scalar(struct loader *ld, const struct key *k, const char *v, const char *where)
{
    const char *why;
    switch (k->type) {
    case K_UINT: case K_DUR: case K_SIZE:
        return set_number(ld, k, v, where);
    case K_BOOL:
        if (!pg_config_parse_bool(v, FIELD(ld->c, k, bool)))
            return fail_value(ld, where, k, v, "is not a boolean (use on or off)");
        return 0;
    case K_LEVEL: {
        int lvl = pg_log_level_parse(v);
        if (lvl < 0)
            return fail_value(ld, where, k, v, "is not a log level (error, warn, notice, info, debug)");
        *FIELD(ld->c, k, int) = lvl;
        return 0;
    }
    default:
        break;
    }
    if (k->check && (why = k->check(v)) != NULL)
        return fail_check(ld, where, k, v, why);
    if ((k->flags & F_OFF) && strcmp(v, "off") == 0)
        v = "";
    field_clear(ld->c, k);
    *FIELD(ld->c, k, char *) = pg_xstrdup(v);
    return 0;
}

static int add_list(struct loader *ld, size_t ki, char *const *w, size_t n, const char *where)
{
    const struct key *k = &keys[ki];
    const char *why;
    for (size_t i = 0; i < n; i++) {
        if (k->check && (why = k->check(w[i])) != NULL)
            return fail_check(ld, where, k, w[i], why);
        pg_strlist_push(FIELD(ld->c, k, struct pg_strlist), w[i]);
        pg_strlist_push(&ld->item_where[ki], where);
    }
    return 0;
}

static int add_rule(struct loader *ld, const struct key *k, char *const *w, size_t n,
                    const char *where)
{
    if (n == 0)
        return 0;
    if (n != k->min)
        return fail(ld, where, "%s: a rule is '%s' (%llu words), got %zu word%s", k->name, k->arg,
                    (unsigned long long)k->min, n, n == 1 ? "" : "s");
    char *joined = pg_xasprintf("%s%c%s%c%s", w[0], 0, w[1], 0, n > 2 ? w[2] : "");
    const char *why = k->check(joined);
    free(joined);
    if (why)
        return fail(ld, where, "%s: %s", k->name, why);
    rules_push(FIELD(ld->c, k, struct pg_rulelist), w, n);
    return 0;
}

/* Applies one occurrence of key ki with its words. `line` is the file line
 * (0 outside the file); scalar keys take exactly one word. */
static int apply(struct loader *ld, size_t ki, char *const *w, size_t n, const char *where,
                 unsigned line)
{
    const struct key *k = &keys[ki];
    bool fresh = ld->set_by[ki] != ld->src;
    if (k->type != K_LIST && k->type != K_RULE) {
        if (ld->src == SRC_FILE && !fresh)
            return fail(ld, where, "%s: already set on line %u", k->name, ld->line_of[ki]);
        if (n != 1)
            return n == 0 ? fail(ld, where, "%s: missing value (%s)", k->name, k->arg)
                          : fail(ld, where, "%s takes one value, got %zu (quote a value that "
                                            "contains spaces)", k->name, n);
    }
    if (fresh && (k->type == K_LIST || k->type == K_RULE)) {
        field_clear(ld->c, k);
        pg_strlist_clear(&ld->item_where[ki]);
    }
    int rc = k->type == K_LIST ? add_list(ld, ki, w, n, where)
           : k->type == K_RULE ? add_rule(ld, k, w, n, where)
                               : set_scalar(ld, k, w[0], where);
    if (rc < 0)
        return rc;
    ld->set_by[ki] = ld->src;
    ld->line_of[ki] = line;
    note_where(ld, ki, where);
    return 0;
}

/* Index of the key named by name[0..n) (dashes = underscores), or -1. */
static long key_index(const char *name, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *kn = keys[i].name;
        size_t j = 0;
        for (; j < n && kn[j]; j++)
            if (kn[j] != (name[j] == '-' ? '_' : name[j]))
                break;
        if (j == n && !kn[j])
            return (long)i;
    }
    return -1;
}

bool pg_config_is_key(const char *name)
{
    if (strncmp(name, "--", 2) == 0)
        name += 2;
    return key_index(name, strcspn(name, "=")) >= 0;
}

/* --------------------------------------------------------- one line each */

/* A file line (without its newline): "key value..." or blank or comment. */
static int load_line(struct loader *ld, const char *name, unsigned line, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    char where[300];
    snprintf(where, sizeof where, "%s:%u", name, line);
    struct pg_strlist w = {0};
    int rc = pg_config_split(s, n, true, &w);
    if (rc < 0)
        return fail(ld, where, "%s", pg_config_strerror(rc));
    if (w.n == 0)
        return 0;
    long ki = key_index(w.v[0], strlen(w.v[0]));
    if (ki < 0) {
        char b[64];
        rc = fail(ld, where, "unknown key '%s'", shown(w.v[0], b, sizeof b));
    } else {
        rc = apply(ld, (size_t)ki, w.v + 1, w.n - 1, where, line);
    }
    pg_strlist_clear(&w);
    return rc;
}

static int load_text(struct loader *ld, const char *name, const char *text, size_t len)
{
    unsigned line = 1;
    for (size_t i = 0; i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        char where[300];
        if (memchr(text + i, '\0', n)) {
            snprintf(where, sizeof where, "%s:%u", name, line);
            return fail(ld, where, "NUL byte (is this a text file?)");
        }
        if (load_line(ld, name, line, text + i, n) < 0)
            return -1;
        i += n + 1;
    }
    return 0;
}

#define MAX_FILE (1u << 20)

static int load_file(struct loader *ld, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(ld, path, "cannot open: %s", strerror(errno));
    char *buf = pg_xmalloc(MAX_FILE + 1);
    size_t len = fread(buf, 1, MAX_FILE + 1, f);
    int rc;
    if (ferror(f))
        rc = fail(ld, path, "cannot read: %s", strerror(errno));
    else if (len > MAX_FILE)
        rc = fail(ld, path, "larger than %u bytes: not a configuration file", MAX_FILE);
    else
        rc = load_text(ld, path, buf, len);
    free(buf);
    fclose(f);
    return rc;
}

/* "--key=value", "--key" (booleans: on). */
static int load_override(struct loader *ld, const char *arg)
{
    char b[64];
    if (strncmp(arg, "--", 2) != 0)
        return fail(ld, arg, "expected --key=value");
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nn = eq ? (size_t)(eq - name) : strlen(name);
    long ki = key_index(name, nn);
    if (ki < 0) {
        char *kn = pg_xstrndup(name, nn);
        int rc = fail(ld, arg, "unknown key '%s'", shown(kn, b, sizeof b));
        free(kn);
        return rc;
    }
    const struct key *k = &keys[ki];
    if (!eq && k->type != K_BOOL)
        return fail(ld, arg, "%s: missing '=value' (%s)", k->name, k->arg);
    const char *v = eq ? eq + 1 : "on";
    struct pg_strlist w = {0};
    if (k->type == K_LIST || k->type == K_RULE) {
        int rc = pg_config_split(v, strlen(v), false, &w);
        if (rc < 0)
            return fail(ld, arg, "%s: %s", k->name, pg_config_strerror(rc));
    } else {
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return fail(ld, arg, "%s: %s", k->name, pg_config_strerror(PG_CONFIG_ECTRL));
        pg_strlist_push(&w, v);
    }
    int rc = apply(ld, (size_t)ki, w.v, w.n, arg, 0);
    pg_strlist_clear(&w);
    return rc;
}

/* -------------------------------------------------- checks across keys */

static long kidx(const char *name)
{
    return key_index(name, strlen(name));
}

/* Location of value i of list key name (or of the key's last setting). */
static const char *where_item(struct loader *ld, const char *name, size_t i)
{
    long ki = kidx(name);
    if (i < ld->item_where[ki].n)
        return ld->item_where[ki].v[i];
    return ld->where[ki] ? ld->where[ki] : "(defaults)";
}

static int check_tls_files(struct loader *ld)
{
    const struct pg_config *c = ld->c;
    if (*c->tls_key && !*c->tls_cert)
        return fail(ld, where_item(ld, "tls_key", 0), "tls_key is set but tls_cert is not");
    if (*c->tls_cert && !*c->tls_key)
        return fail(ld, where_item(ld, "tls_cert", 0), "tls_cert is set but tls_key is not");
    if (*c->tls_chain && !*c->tls_cert)
        return fail(ld, where_item(ld, "tls_chain", 0), "tls_chain is set but tls_cert is not");
    return 0;
}

/* One listener list: tls: needs files; no address twice across both lists.
 * seen holds "bare address", seen_at where it was set, seen_in its key. */
struct seen_addrs {
    struct pg_strlist addr, at, in;
};

static int check_listeners(struct loader *ld, const char *name, const struct pg_strlist *l,
                           struct seen_addrs *seen)
{
    char b[64];
    for (size_t i = 0; i < l->n; i++) {
        const char *a = l->v[i], *bare = strncmp(a, "tls:", 4) == 0 ? a + 4 : a;
        const char *at = where_item(ld, name, i);
        if (bare != a && !*ld->c->tls_cert)
            return fail(ld, at, "%s: '%s' needs tls_cert and tls_key", name, shown(a, b, sizeof b));
        for (size_t j = 0; j < seen->addr.n; j++) {
            if (strcmp(seen->addr.v[j], bare) != 0)
                continue;
            const char *other = seen->in.v[j];
            if (strcmp(other, name) == 0)
                return fail(ld, at, "%s: '%s' is given twice", name, shown(a, b, sizeof b));
            if (strcmp(at, "(defaults)") == 0)   /* name the place the admin wrote */
                return fail(ld, seen->at.v[j], "%s: '%s' is also in %s", other,
                            shown(seen->addr.v[j], b, sizeof b), name);
            return fail(ld, at, "%s: '%s' is also in %s", name, shown(a, b, sizeof b), other);
        }
        pg_strlist_push(&seen->addr, bare);
        pg_strlist_push(&seen->at, at);
        pg_strlist_push(&seen->in, name);
    }
    return 0;
}

static int check_all(struct loader *ld)
{
    struct pg_config *c = ld->c;
    struct seen_addrs seen;
    memset(&seen, 0, sizeof seen);
    int rc = check_tls_files(ld);
    if (rc == 0)
        rc = check_listeners(ld, "listen", &c->listen, &seen);
    if (rc == 0)
        rc = check_listeners(ld, "publish_listen", &c->publish_listen, &seen);
    pg_strlist_clear(&seen.addr);
    pg_strlist_clear(&seen.at);
    pg_strlist_clear(&seen.in);
    if (rc < 0)
        return rc;
    if (c->listen.n == 0)
        return fail(ld, where_item(ld, "listen", 0), "listen: at least one address is needed");
    if (*c->history_journal && strcmp(c->store, "memory") != 0)
        return fail(ld, where_item(ld, "history_journal", 0),
                    "history_journal works only with store memory");
    if (c->demo && !pg_strlist_contains(&c->client_publish, "chat-*"))
        pg_strlist_push(&c->client_publish, "chat-*");
    return 0;
}

/* ------------------------------------------------------------ entry points */

static void loader_deinit(struct loader *ld)
{
    for (size_t i = 0; i < NKEYS; i++) {
        free(ld->where[i]);
        pg_strlist_clear(&ld->item_where[i]);
    }
}

static void load_defaults(struct loader *ld)
{
    ld->src = SRC_DEFAULT;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        struct pg_strlist w = {0};
        if (k->type == K_LIST || k->type == K_RULE) {
            if (pg_config_split(k->def, strlen(k->def), false, &w) < 0)
                abort();
        } else {
            pg_strlist_push(&w, k->def);
        }
        if (apply(ld, i, w.v, w.n, "(defaults)", 0) < 0) {
            fprintf(stderr, "pushgate: bad built-in default: %s\n", ld->err);
            abort();
        }
        pg_strlist_clear(&w);
    }
}

struct pg_config *pg_config_new_defaults(void)
{
    char err[256];
    struct loader ld = {.c = pg_xcalloc(1, sizeof(struct pg_config)), .err = err,
                        .errlen = sizeof err};
    load_defaults(&ld);
    loader_deinit(&ld);
    return ld.c;
}

static struct pg_config *load_any(const char *name, const char *path, const char *text, size_t len,
                              char *const *ov, size_t nov, char *err, size_t errlen)
{
    char scratch[1];
    struct loader ld = {.c = pg_xcalloc(1, sizeof(struct pg_config)),
                        .err = errlen ? err : scratch, .errlen = errlen ? errlen : 1};
    load_defaults(&ld);
    ld.src = SRC_FILE;
    int rc = 0;
    if (path)
        rc = load_file(&ld, path);
    else if (text)
        rc = load_text(&ld, name ? name : "(config)", text, len);
    ld.src = SRC_ARGV;
    for (size_t i = 0; rc == 0 && i < nov; i++)
        rc = load_override(&ld, ov[i]);
    if (rc == 0)
        rc = check_all(&ld);
    loader_deinit(&ld);
    if (rc < 0) {
        pg_config_free(ld.c);
        return NULL;
    }
    return ld.c;
}

struct pg_config *pg_config_load(const char *path, char *const *overrides, size_t n_overrides,
                                 char *err, size_t errlen)
{
    return load_any(NULL, path, NULL, 0, overrides, n_overrides, err, errlen);
}

struct pg_config *pg_config_load_text(const char *name, const char *text, size_t len,
                                      char *const *overrides, size_t n_overrides,
                                      char *err, size_t errlen)
{
    return load_any(name, NULL, text ? text : "", len, overrides, n_overrides, err, errlen);
}

/* ------------------------------------------------------------ output */

static void put_word(FILE *f, const char *w)
{
    char *q = pg_config_quote(w);
    fprintf(f, " %s", q);
    free(q);
}

/* The key's line(s) in the file syntax; reveal shows secrets. */
static void write_key(FILE *f, const struct key *k, const struct pg_config *c, bool reveal)
{
    char buf[48];
    switch (k->type) {
    case K_STR: {
        const char *s = *CFIELD(c, k, char *);
        fputs(k->name, f);
        if ((k->flags & F_SECRET) && *s && !reveal)
            fputs(" (set)", f);
        else if ((k->flags & F_OFF) && !*s)
            fputs(" off", f);
        else
            put_word(f, s);
        break;
    }
    case K_LIST: {
        const struct pg_strlist *l = CFIELD(c, k, struct pg_strlist);
        fputs(k->name, f);
        for (size_t i = 0; i < l->n; i++)
            put_word(f, l->v[i]);
        break;
    }
    case K_RULE: {
        const struct pg_rulelist *l = CFIELD(c, k, struct pg_rulelist);
        if (l->n == 0)
            fputs(k->name, f);
        for (size_t i = 0; i < l->n; i++) {
            fprintf(f, "%s%s", i ? "\n" : "", k->name);
            put_word(f, l->v[i].glob);
            put_word(f, l->v[i].target);
            if (l->v[i].script)
                put_word(f, l->v[i].script);
        }
        break;
    }
    case K_UINT:
        fprintf(f, "%s %llu", k->name, (unsigned long long)*CFIELD(c, k, uint64_t));
        break;
    case K_DUR:
        pg_config_format_duration(*CFIELD(c, k, uint64_t), buf, sizeof buf);
        fprintf(f, "%s %s", k->name, buf);
        break;
    case K_SIZE:
        pg_config_format_size(*CFIELD(c, k, uint64_t), buf, sizeof buf);
        fprintf(f, "%s %s", k->name, buf);
        break;
    case K_BOOL:
        fprintf(f, "%s %s", k->name, *CFIELD(c, k, bool) ? "on" : "off");
        break;
    case K_LEVEL:
        fprintf(f, "%s %s", k->name, pg_log_level_name(*CFIELD(c, k, int)));
        break;
    }
    fputc('\n', f);
}

void pg_config_dump(const struct pg_config *c, FILE *f)
{
    for (size_t i = 0; i < NKEYS; i++)
        write_key(f, &keys[i], c, false);
}

void pg_config_help(FILE *f)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        char opt[64];
        snprintf(opt, sizeof opt, "--%s=%s", k->name, k->arg);
        fprintf(f, "  %-40s %s", opt, k->doc);
        if (*k->def)
            fprintf(f, " (default: %s)", k->def);
        if (k->flags & F_RESTART)
            fputs(" [restart]", f);
        fputc('\n', f);
    }
}

/* The key's dump text (secrets revealed), heap. */
static char *key_text(const struct key *k, const struct pg_config *c)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        abort();
    write_key(f, k, c, true);
    fclose(f);
    return s;
}

size_t pg_config_restart_keys_changed(const struct pg_config *a, const struct pg_config *b,
                                      char *out, size_t outcap)
{
    size_t count = 0, used = 0;
    if (outcap)
        out[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        if (!(keys[i].flags & F_RESTART))
            continue;
        char *ta = key_text(&keys[i], a), *tb = key_text(&keys[i], b);
        if (strcmp(ta, tb) != 0) {
            if (used < outcap) {
                int m = snprintf(out + used, outcap - used, "%s%s", count ? ", " : "", keys[i].name);
                used += m > 0 ? (size_t)m : 0;
            }
            count++;
        }
        free(ta);
        free(tb);
    }
    return count;
}

void pg_config_keep_restart_keys(struct pg_config *fresh, const struct pg_config *running)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].flags & F_RESTART)
            field_copy(fresh, running, &keys[i]);
}
