/* conn_limits.h — connection limits (global and per client address), trusted
 * proxies, and refusal counters that are logged once per interval rather
 * than once per event. */
#ifndef PG_CONN_LIMITS_H
#define PG_CONN_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

struct pg_config;

enum pg_refusal {
    PG_REFUSE_MAX_CONNECTIONS,
    PG_REFUSE_PER_IP,
    PG_REFUSE_HEADER_TIMEOUT,
    PG_REFUSE_HEADER_SIZE,
    PG_REFUSE_BAD_REQUEST,
    PG_REFUSE_MESSAGE_SIZE,
    PG_REFUSE_RATE,
    PG_REFUSE_SLOW_CONSUMER,
    PG_REFUSE_AUTH,
    PG_REFUSE_ORIGIN,
    PG_REFUSE_EMFILE,
    PG_REFUSE_COUNT
};

/* (Re)reads max_connections, max_connections_per_ip, trusted_proxies.
 * max_connections 0 means: what the open-file limit allows. */
void pg_limits_configure(const struct pg_config *c);
bool pg_limits_trusted_proxy(int family, const uint8_t *addr);
/* Takes one connection slot for addr (family AF_INET/AF_INET6/AF_UNIX);
 * false (and counted) when a limit says no. */
bool pg_limits_acquire(int family, const uint8_t *addr, bool count_global);
void pg_limits_release(int family, const uint8_t *addr, bool count_global);
void pg_limits_count(enum pg_refusal why);
const char *pg_refusal_name(enum pg_refusal why);
uint64_t pg_refusal_total(enum pg_refusal why);
/* Logs the refusals of the last interval, one line. */
void pg_limits_tick(uint64_t now_ms);

#endif
