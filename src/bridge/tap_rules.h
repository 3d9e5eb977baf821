/* tap_rules.h — the tap's rules: on method + path + answer status, publish
 * to a channel built from the request's query/form fields, CGI variables or
 * the answer's headers.
 *
 * File format (documented in pushgate-fcgi(8)): "rule NAME" opens a rule;
 * below it, one "key value" per line ('#' comments):
 *     method POST                  (or GET, ..., or * ; default *)
 *     path /admin/order_status.php (fnmatch pattern on the URL path; required)
 *     status 2xx                   (1xx..5xx, an exact code, or *; default 2xx)
 *     publish order-{form.order_id}          (channel template; required)
 *     event status                            (event template; optional)
 *     payload {"order": "{form.order_id}", "status": "{form.status}"}
 * Placeholders: {form.NAME} (urlencoded request body, when it fit in
 * tap_body_max), {query.NAME}, {param.NAME} (a CGI variable such as
 * REMOTE_USER), {header.NAME} (a response header), {status}. A payload that
 * starts with '{' or '[' is JSON: placeholder values are JSON-escaped.
 * A rule whose placeholders cannot all be filled does not fire (logged). */
#ifndef PG_BRIDGE_TAP_RULES_H
#define PG_BRIDGE_TAP_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct pg_cgi_header;

struct pg_tap_rule {
    char *name;
    int line;
    char *method;       /* NULL = any */
    char *path;         /* fnmatch pattern */
    int status_lo, status_hi;
    char *channel, *event, *payload;
    bool payload_json;
};

struct pg_tap_rules {
    struct pg_tap_rule *v;
    size_t n;
};

/* What a rule sees of one finished request. */
struct pg_tap_view {
    const char *method;
    const char *path;               /* URL path without the query */
    const char *query;              /* QUERY_STRING or "" */
    const char *form;               /* urlencoded body or NULL */
    size_t form_len;
    int status;
    const struct pg_cgi_header *headers;
    size_t nheaders;
    /* a CGI variable by name, or NULL */
    const char *(*param)(void *ud, const char *name);
    void *param_ud;
};

typedef void (*pg_tap_emit)(void *ud, const char *rule, const char *channel, const char *event,
                            const char *payload);

struct pg_tap_rules *pg_tap_rules_parse(const char *text, size_t len, const char *name, char *err,
                                        size_t errlen);
struct pg_tap_rules *pg_tap_rules_load(const char *path, char *err, size_t errlen);
void pg_tap_rules_free(struct pg_tap_rules *r);

/* Runs every rule against v; emit is called for each that fires. */
void pg_tap_rules_eval(const struct pg_tap_rules *r, const struct pg_tap_view *v, pg_tap_emit emit,
                       void *ud);

#endif
