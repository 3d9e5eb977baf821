/* config.h — pushgated's configuration: defaults, then a file, then
 * --key=value overrides, turned into one plain struct that is never changed
 * after load (a reload builds a new one and swaps it in).
 *
 * Error style (start-up and config): functions that can fail return NULL or
 * -1 and write ONE line into a caller-provided buffer: "FILE:LINE: problem"
 * or "--key=value: problem". Nothing here logs or exits.
 *
 * The line/value codec (tokenizer, numbers, addresses, CIDRs, store URLs)
 * lives in config_parse.c and has no I/O; the key table, the loader, dump and
 * reload helpers live in config.c.
 */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef PG_SYSCONFDIR
#define PG_CONFIG_DEFAULT_PATH PG_SYSCONFDIR "/pushgate/pushgate.conf"
#else
#define PG_CONFIG_DEFAULT_PATH "/etc/pushgate/pushgate.conf"
#endif

/* A list of owned strings; v is NULL when n is 0. */
struct pg_strlist {
    char **v;
    size_t n;
};

/* One auth rule. auth_url: glob, target = URL, script = NULL.
 * auth_fastcgi: glob, target = socket address, script = SCRIPT_FILENAME. */
struct pg_rule {
    char *glob;
    char *target;
    char *script;
};

struct pg_rulelist {
    struct pg_rule *v;
    size_t n;
};

/* The effective configuration. Every string is owned and never NULL ("" when
 * unset); durations are milliseconds, sizes bytes. Treat as read-only. */
struct pg_config {
    /* listeners */
    struct pg_strlist listen;          /* subscriber listeners: pg_config_parse_addr() */
    struct pg_strlist publish_listen;  /* publish API listeners (loopback / unix) */
    char *publish_socket_group;        /* group of the publish unix sockets; "" = ours */
    /* channels & history */
    struct pg_strlist client_publish;  /* fnmatch(3) globs clients may publish to */
    bool demo;                         /* on: "chat-*" was added to client_publish */
    uint64_t history_size;             /* messages kept per channel (0 = none) */
    uint64_t history_ttl_ms;
    uint64_t history_memory_max;       /* bytes, all channels together */
    uint64_t max_message_size;
    uint64_t max_channels;
    uint64_t max_channels_per_subscription;
    /* transports */
    uint64_t ping_interval_ms;
    uint64_t idle_timeout_ms;
    uint64_t sse_heartbeat_ms;
    uint64_t longpoll_hold_ms;
    bool websocket_deflate;
    char *www_root;                    /* "auto" (main resolves), "" = no static files */
    /* security */
    struct pg_strlist allowed_origins; /* empty = same-host rule; "*" = any */
    struct pg_strlist trusted_proxies; /* CIDRs: pg_config_parse_cidr() */
    char *tls_cert, *tls_key, *tls_chain;
    char *token_secret;                /* "" = no token check */
    struct pg_strlist token_channels;  /* globs that need a token */
    struct pg_rulelist auth_url;       /* first matching rule wins */
    struct pg_rulelist auth_fastcgi;
    uint64_t auth_cache_ttl_ms;        /* 0 = no cache */
    char *publish_secret;              /* "" = no secret on the publish API */
    char *user, *group;                /* "" = do not switch */
    /* limits */
    uint64_t max_connections;          /* 0 = what the open-file limit allows */
    uint64_t max_connections_per_ip;   /* 0 = no per-address limit */
    uint64_t max_header_size;
    uint64_t header_timeout_ms;
    uint64_t subscriber_buffer_max;
    uint64_t pubsub_rate_limit;        /* messages/s per connection, 0 = unlimited */
    uint64_t workers;                  /* 0 = CPUs in the affinity mask */
    /* storage */
    char *store;                       /* "memory" or a redis URL: pg_config_parse_store() */
    char *history_journal;             /* "" = no journal */
    char *spool_dir;                   /* "" = no spool */
    uint64_t spool_poll_ms;
    /* logging */
    int log_level;                     /* enum pg_log_level (log.h) */
    char *log_file;                    /* "" = stderr */
    char *access_log;                  /* "" = off */
};

/* A fresh config holding every default. Never NULL. Free with pg_config_free. */
struct pg_config *pg_config_new_defaults(void);

/* Loads defaults, then the file at path (NULL: no file), then the overrides
 * ("--key=value" strings; "--flag" alone means on for a boolean key). The
 * caller keeps ownership of every argument. Returns a new config, or NULL
 * with one line ("FILE:LINE: problem") in err. */
struct pg_config *pg_config_load(const char *path, char *const *overrides, size_t n_overrides,
                                 char *err, size_t errlen);

/* As pg_config_load, with the file's text in memory; name is used in errors. */
struct pg_config *pg_config_load_text(const char *name, const char *text, size_t len,
                                      char *const *overrides, size_t n_overrides,
                                      char *err, size_t errlen);

void pg_config_free(struct pg_config *c);

/* Writes the names of the restart-only keys (listen, publish_listen,
 * publish_socket_group, store, workers, user, group, history_journal) whose
 * values differ between a and b into out, ", "-separated and NUL-terminated
 * (truncated to outcap; out may be NULL when outcap is 0). Returns how many. */
size_t pg_config_restart_keys_changed(const struct pg_config *a, const struct pg_config *b,
                                      char *out, size_t outcap);

/* On reload: copies every restart-only key's value from running into fresh,
 * so fresh describes what the process really does. */
void pg_config_keep_restart_keys(struct pg_config *fresh, const struct pg_config *running);

/* true when name is a key; accepts "--key", "--key=value", dashes for
 * underscores ("--publish-listen" == "publish_listen"). */
bool pg_config_is_key(const char *name);

/* Every key with its effective value, one "key value" line each in the file
 * syntax (rule keys: one line per rule); secrets print as "(set)". */
void pg_config_dump(const struct pg_config *c, FILE *f);

/* "  --key=ARG   explanation (default: X)" for every key, for --help. */
void pg_config_help(FILE *f);

/* ---- the line/value codec (config_parse.c): no I/O, no allocation unless
 * said. Errors: a negative enum and a static why string. ---- */

enum pg_config_err {
    PG_CONFIG_OK = 0,
    PG_CONFIG_EQUOTE = -1,      /* unterminated quote */
    PG_CONFIG_EAFTERQUOTE = -2, /* text right after a closing quote */
    PG_CONFIG_ESTRAYQUOTE = -3, /* a quote inside an unquoted word */
    PG_CONFIG_ECTRL = -4,       /* a control character */
};
const char *pg_config_strerror(int err);

/* Splits text (len bytes, no newline) into words: blanks separate words,
 * "double quotes" keep blanks (with \" and \\ as escapes), and when comments
 * is true a word starting with # ends the line. Appends heap copies to out
 * (the caller frees them with pg_strlist_clear). On error out is unchanged. */
int pg_config_split(const char *text, size_t len, bool comments, struct pg_strlist *out);

/* Whether a word must be quoted to survive pg_config_split, and the quoted
 * form (heap, caller frees). */
bool pg_config_needs_quotes(const char *word);
char *pg_config_quote(const char *word);

/* Values. Each returns true and sets *out, or false for malformed/overflow. */
bool pg_config_parse_uint(const char *s, uint64_t *out);
bool pg_config_parse_duration(const char *s, uint64_t *ms); /* 250ms 30s 10m 2h; bare = s */
bool pg_config_parse_size(const char *s, uint64_t *bytes);  /* 512 8k 64M 1G (1024-based) */
bool pg_config_parse_bool(const char *s, bool *out);        /* on off yes no true false 1 0 */
/* Shortest exact text for a value ("10m", "1500ms", "64M", "1000"). */
void pg_config_format_duration(uint64_t ms, char *buf, size_t cap);
void pg_config_format_size(uint64_t bytes, char *buf, size_t cap);

/* A listen address: [tls:](host:port | [v6]:port | unix:/path). */
struct pg_addr {
    bool tls;
    bool is_unix;
    char host[256];     /* without brackets; "" for unix */
    uint16_t port;      /* 1..65535; 0 for unix */
    char path[108];     /* unix socket path (absolute) */
};
/* Returns true, or false with *why set to a static reason. */
bool pg_config_parse_addr(const char *text, struct pg_addr *out, const char **why);

/* A CIDR block "a.b.c.d/n", "v6/n", or a bare address (full-length prefix).
 * Host bits beyond the prefix are cleared. */
struct pg_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order; 4 bytes used for AF_INET */
    unsigned prefix;
};
bool pg_config_parse_cidr(const char *text, struct pg_cidr *out, const char **why);
/* Does the block hold addr (4 or 16 bytes of family)? An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) matches IPv4 blocks. */
bool pg_cidr_contains(const struct pg_cidr *c, int family, const void *addr);

/* The store key: "memory", "redis://host[:port][/db]" (port 6379, db 0 by
 * default; [v6] hosts), or "redis+unix:/path[?db=N]". */
enum pg_store_kind { PG_STORE_MEMORY, PG_STORE_REDIS_TCP, PG_STORE_REDIS_UNIX };
struct pg_store_url {
    enum pg_store_kind kind;
    char host[256];
    uint16_t port;
    char path[108];
    unsigned db;
};
bool pg_config_parse_store(const char *text, struct pg_store_url *out, const char **why);

/* pg_strlist helpers (heap copies; pg_strlist_clear frees and zeroes). */
void pg_strlist_push(struct pg_strlist *l, const char *s);
void pg_strlist_clear(struct pg_strlist *l);
bool pg_strlist_contains(const struct pg_strlist *l, const char *s);

#endif
