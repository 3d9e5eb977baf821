/* conn_limits.c — global and per-address connection caps, trusted proxies,
 * refusal counters.
 *
 * Per-address counts live in a small chained hash keyed by the 16-byte
 * address; an entry exists only while its count is above zero, so memory
 * follows the number of distinct connected addresses. Addresses in
 * trusted_proxies are never limited themselves (their X-Forwarded-For
 * client is, see http.c). Refusals are counted per reason and reported in
 * one log line per interval. */
#include "conn_limits.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define BUCKETS 4096
#define LOG_INTERVAL_MS 10000
#define FD_RESERVE 64

struct ipcount {
    struct ipcount *next;
    uint8_t family;
    uint8_t addr[16];
    uint32_t n;
};

static struct {
    uint64_t max_total, max_per_ip;
    struct pg_cidr *proxies;
    size_t n_proxies;
    uint64_t total;
    struct ipcount *table[BUCKETS];
    uint64_t refused[PG_REFUSE_COUNT], logged[PG_REFUSE_COUNT];
    uint64_t next_log_ms;
} lim;

static const char *const names[PG_REFUSE_COUNT] = {
    "max_connections", "max_connections_per_ip", "header_timeout", "max_header_size",
    "bad_request", "max_message_size", "pubsub_rate_limit", "slow_consumer", "auth",
    "origin", "out_of_file_descriptors",
};

const char *pg_refusal_name(enum pg_refusal why)
{
    return names[why];
}

uint64_t pg_refusal_total(enum pg_refusal why)
{
    return lim.refused[why];
}

void pg_limits_configure(const struct pg_config *c)
{
    lim.max_per_ip = c->max_connections_per_ip;
    lim.max_total = c->max_connections;
    if (!lim.max_total) {
        struct rlimit rl;
        lim.max_total = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > FD_RESERVE * 2
                            ? rl.rlim_cur - FD_RESERVE : 1024;
    }
    free(lim.proxies);
    lim.n_proxies = c->trusted_proxies.n;
    lim.proxies = pg_xcalloc(lim.n_proxies ? lim.n_proxies : 1, sizeof *lim.proxies);
    for (size_t i = 0; i < lim.n_proxies; i++) {
        const char *why;
        if (!pg_config_parse_cidr(c->trusted_proxies.v[i], &lim.proxies[i], &why))
            lim.proxies[i].family = -1;   /* validated by config already */
    }
}

bool pg_limits_trusted_proxy(int family, const uint8_t *addr)
{
    if (family == AF_UNIX)
        return true;
    for (size_t i = 0; i < lim.n_proxies; i++)
        if (lim.proxies[i].family != -1 && pg_cidr_contains(&lim.proxies[i], family, addr))
            return true;
    return false;
}

static size_t addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

static struct ipcount **slot(int family, const uint8_t *addr)
{
    uint32_t h = 2166136261u ^ (uint32_t)family;
    for (size_t i = 0; i < addr_len(family); i++)
        h = (h ^ addr[i]) * 16777619u;
    struct ipcount **pp = &lim.table[h % BUCKETS];
    while (*pp && ((*pp)->family != family || memcmp((*pp)->addr, addr, addr_len(family)) != 0))
        pp = &(*pp)->next;
    return pp;
}

bool pg_limits_acquire(int family, const uint8_t *addr, bool count_global)
{
    if (count_global && lim.total >= lim.max_total) {
        pg_limits_count(PG_REFUSE_MAX_CONNECTIONS);
        return false;
    }
    bool limited = lim.max_per_ip && family != AF_UNIX && !pg_limits_trusted_proxy(family, addr);
    if (limited) {
        struct ipcount **pp = slot(family, addr);
        if (*pp && (*pp)->n >= lim.max_per_ip) {
            pg_limits_count(PG_REFUSE_PER_IP);
            return false;
        }
        if (!*pp) {
            *pp = pg_xcalloc(1, sizeof **pp);
            (*pp)->family = (uint8_t)family;
            memcpy((*pp)->addr, addr, addr_len(family));
        }
        (*pp)->n++;
    }
    if (count_global)
        lim.total++;
    return true;
}

void pg_limits_release(int family, const uint8_t *addr, bool count_global)
{
    if (count_global && lim.total)
        lim.total--;
    if (family == AF_UNIX)
        return;
    struct ipcount **pp = slot(family, addr);
    if (*pp && --(*pp)->n == 0) {
        struct ipcount *dead = *pp;
        *pp = dead->next;
        free(dead);
    }
}

void pg_limits_count(enum pg_refusal why)
{
    lim.refused[why]++;
}

void pg_limits_tick(uint64_t now_ms)
{
    if (now_ms < lim.next_log_ms)
        return;
    lim.next_log_ms = now_ms + LOG_INTERVAL_MS;
    char line[512];
    size_t n = 0;
    for (int i = 0; i < PG_REFUSE_COUNT; i++) {
        uint64_t d = lim.refused[i] - lim.logged[i];
        if (!d)
            continue;
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %llu", n ? ", " : "", names[i],
                              (unsigned long long)d);
        lim.logged[i] = lim.refused[i];
        if (n >= sizeof line)
            break;
    }
    if (n)
        pg_log_warn("refused in the last %d s: %s", LOG_INTERVAL_MS / 1000, line);
}
