/* drain.h — a FastCGI-mode bridge's own spool drainer, used only when
 * pushgated is on another host (a same-host pushgated drains the spool
 * itself, src/spool.c). */
#ifndef PG_BRIDGE_DRAIN_H
#define PG_BRIDGE_DRAIN_H

struct pg_bridge_conf;

/* Starts the drain thread when the daemon address is not local; no-op
 * otherwise. */
void pg_br_drain_start(const struct pg_bridge_conf *c);

#endif
