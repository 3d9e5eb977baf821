/* conf.h — pushgate-fcgi's own configuration (fcgi.conf): one immutable
 * struct built from "key value" lines, with file:line errors.
 *
 * The file is $(sysconfdir)/pushgate/fcgi.conf, or the path in
 * PUSHGATE_FCGI_CONF (a CGI program gets no arguments), or --config. */
#ifndef PG_BRIDGE_CONF_H
#define PG_BRIDGE_CONF_H

#include <stdbool.h>
#include "config.h"   /* struct pg_cidr, shared with pushgated's config */

#include <stddef.h>
#include <stdint.h>


/* Who drains the spool: auto = pushgated when its address is on this host
 * (unix socket, loopback), else the FastCGI bridge; "bridge" covers a
 * loopback address that is a tunnel to another host. */
enum { PG_DRAINER_AUTO = 0, PG_DRAINER_DAEMON = 1, PG_DRAINER_BRIDGE = 2 };

struct pg_bridge_conf {
    char *daemon;           /* pushgated's publish listener address */
    char *publish_secret;   /* sent to pushgated as Authorization: Bearer, or NULL */
    struct pg_cidr *allow;  /* bridge_allow: who may publish without bridge_secret */
    size_t nallow;
    char *bridge_secret;    /* Authorization: Bearer accepted from anywhere, or NULL */
    char *spool_dir;        /* durable hand-off directory */
    bool spool;             /* spool when pushgated is away (spool on|off) */
    int spool_drainer;      /* PG_DRAINER_*: who empties the spool */
    size_t max_message_size;
    int daemon_timeout_ms;  /* bound on one publish to pushgated */
    int threads;            /* FastCGI accept threads */
    char *url_prefix;       /* where the bridge is mounted, or NULL (derive from SCRIPT_NAME) */
    char *webhooks;         /* mapping file path, or NULL (no webhook routes) */
    char *listen;           /* default --listen, or NULL */
    char *tap_upstream;     /* default --tap (php-fpm address), or NULL */
    char *tap_rules;        /* default --rules, or NULL */
    size_t tap_body_max;    /* request bytes kept for form-field rules */
    int tap_timeout_ms;     /* bound on one php-fpm request */
    int log_level;
};

/* Fills c with the defaults (every pointer field owned by c). */
void pg_bridge_conf_defaults(struct pg_bridge_conf *c);
void pg_bridge_conf_free(struct pg_bridge_conf *c);

/* Parses text[0..len) named name (for errors) into c, on top of what c
 * already holds. Returns 0, or -1 with "name:line: problem" in err. */
int pg_bridge_conf_parse(const char *text, size_t len, const char *name,
                         struct pg_bridge_conf *c, char *err, size_t errlen);

/* Defaults, then the file at path. missing_ok: a missing file leaves the
 * defaults. Returns 0 or -1 with a sentence in err. */
int pg_bridge_conf_load(const char *path, bool missing_ok, struct pg_bridge_conf *c,
                        char *err, size_t errlen);

/* True when the textual address addr (REMOTE_ADDR) is inside one of the
 * allowed networks. A v4-mapped v6 address matches v4 networks. */
bool pg_bridge_conf_allows(const struct pg_bridge_conf *c, const char *addr);

/* Reads a whole small file into a heap buffer (NUL-terminated). Returns
 * it, or NULL with errno set. */
char *pg_bridge_read_file(const char *path, size_t max, size_t *len);

/* Writes "name:line: <formatted problem>" into err and returns -1: the one
 * error style of the bridge's config, rule and mapping parsers. */
int pg_bridge_perr(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
