/* ws_transport.h — the WebSocket subscriber (and /pubsub publisher):
 * connection bytes <-> ws_codec events <-> the hub's subscriber interface. */
#ifndef PG_WS_TRANSPORT_H
#define PG_WS_TRANSPORT_H

#include "router.h"

/* Registers the WebSocket message formats; call once at start-up. */
void pg_ws_init(void);
/* Validates the upgrade on r, answers 101 and subscribes (or answers the
 * handshake error). */
void pg_ws_accept(struct pg_request *r, const struct pg_sub_target *t);

#endif
