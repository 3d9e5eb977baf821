/* hooks.h — shop webhooks: the mapping file (routes) and the handler for
 * POST <script>/hooks/<route>.
 *
 * Mapping file format (documented in pushgate-fcgi(8)): "route NAME" opens
 * a route; the keys below it configure it, one "key value" per line, '#'
 * comments:
 *     type woocommerce | hmac        how requests are signed
 *     secret TEXT | secret_file PATH the HMAC-SHA256 key (required to serve)
 *     signature_header NAME          hmac: header carrying the signature
 *     signature_encoding hex|base64  hmac: how it is encoded (default hex)
 *     signature_prefix TEXT          hmac: prefix before it (e.g. sha256=)
 *     event TEMPLATE                 default event name for publish lines
 *     publish CHANNEL-TEMPLATE [EVENT-TEMPLATE]   (repeatable)
 *     field NAME [JSON.PATH]         forward this field (repeatable)
 *     payload fields | all           forward only the fields (default) or the body
 * Templates take {json.path} (dots, array indexes) and {header.Name}. */
#ifndef PG_BRIDGE_HOOKS_H
#define PG_BRIDGE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/handler.h"

enum pg_hook_type { PG_HOOK_WOOCOMMERCE = 1, PG_HOOK_HMAC = 2 };
enum pg_hook_enc { PG_HOOK_HEX = 1, PG_HOOK_BASE64 = 2 };

struct pg_hook_pub {
    char *channel;      /* template */
    char *event;        /* template or NULL (route's default) */
};

struct pg_hook_field {
    char *name;         /* key in the forwarded object */
    char *path;         /* JSON path in the request body */
};

struct pg_hook_route {
    char *name;
    int line;           /* where it was defined, for messages */
    int type;           /* enum pg_hook_type */
    char *secret;       /* NULL: the route is refused */
    char *sig_header;   /* as a CGI variable name: HTTP_X_WC_WEBHOOK_SIGNATURE */
    int sig_enc;        /* enum pg_hook_enc */
    char *sig_prefix;   /* or NULL */
    char *event;        /* default event template, or NULL */
    struct pg_hook_pub *pubs;
    size_t npubs;
    struct pg_hook_field *fields;
    size_t nfields;
    bool payload_all;
};

struct pg_hook_map {
    struct pg_hook_route *routes;
    size_t n;
};

/* Parses a mapping file's text; name is used in "name:line: problem"
 * errors. Returns the map (free with pg_hook_map_free), or NULL with err. */
struct pg_hook_map *pg_hook_map_parse(const char *text, size_t len, const char *name,
                                      char *err, size_t errlen);
struct pg_hook_map *pg_hook_map_load(const char *path, char *err, size_t errlen);
void pg_hook_map_free(struct pg_hook_map *m);
const struct pg_hook_route *pg_hook_map_find(const struct pg_hook_map *m, const char *name);

/* Serves POST <script>/hooks/<route> with the already-read body. */
void pg_br_hook_handle(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io,
                       const char *route, const char *body, size_t len);

#endif
