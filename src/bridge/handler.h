/* handler.h — serves one bridge request (publish or webhook) through a
 * struct pg_br_io, whichever way the web server ran us. */
#ifndef PG_BRIDGE_HANDLER_H
#define PG_BRIDGE_HANDLER_H

#include <stdbool.h>

#include "bridge/io.h"

struct pg_bridge_conf;
struct pg_hook_map;

struct pg_bridge_ctx {
    const struct pg_bridge_conf *conf;
    const struct pg_hook_map *hooks;    /* NULL: no webhook routes */
    bool may_spool;                     /* see pg_br_may_spool */
};

void pg_bridge_handle(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io);

#endif
