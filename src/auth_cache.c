/* auth_cache.c — remembers the session check's allow answers for
 * auth_cache_ttl, so a reconnect storm asks php-fpm once per (rule, cookie,
 * origin, channels) rather than once per connection (see auth_policy.h).
 *
 * A fixed open-addressed table of digests: a key lives in one of PROBE
 * slots after its home slot. Invariants: an entry with expires == 0 is
 * empty; only allow answers are stored (a refusal is never cached, so a
 * user who logs in is let in at once); memory is SLOTS * 40 bytes, taken on
 * the first store, whatever the traffic.
 *
 * Deliberate departure from a plain LRU: when all PROBE slots hold live
 * entries the one closest to expiry is replaced. It can only cost an extra
 * session check, never a wrong answer. */
#include "auth_policy.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdlib.h>

#define SLOTS 16384u   /* power of two */
#define PROBE 8u

struct slot {
    uint8_t key[PG_AUTH_KEY_LEN];
    uint64_t expires;
};

static struct slot *tab;
static struct pg_auth_cache_stats stats;

void pg_auth_cache_key(uint8_t key[PG_AUTH_KEY_LEN], const char *const *parts, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        size_t l = strlen(p);
        uint8_t lb[4] = {(uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8), (uint8_t)l};
        EVP_DigestUpdate(ctx, lb, sizeof lb);
        EVP_DigestUpdate(ctx, p, l);
    }
    unsigned int ol = PG_AUTH_KEY_LEN;
    EVP_DigestFinal_ex(ctx, key, &ol);
    EVP_MD_CTX_free(ctx);
}

static uint32_t home(const uint8_t key[PG_AUTH_KEY_LEN])
{
    return ((uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16) & (SLOTS - 1);
}

bool pg_auth_cache_get(const uint8_t key[PG_AUTH_KEY_LEN], uint64_t now_ms)
{
    if (tab) {
        uint32_t h = home(key);
        for (uint32_t i = 0; i < PROBE; i++) {
            struct slot *s = &tab[(h + i) & (SLOTS - 1)];
            if (!s->expires || memcmp(s->key, key, PG_AUTH_KEY_LEN) != 0)
                continue;
            if (now_ms < s->expires) {
                stats.hits++;
                return true;
            }
            s->expires = 0;   /* expired: free the slot */
            break;
        }
    }
    stats.misses++;
    return false;
}

void pg_auth_cache_put(const uint8_t key[PG_AUTH_KEY_LEN], uint64_t expires_ms, uint64_t now_ms)
{
    if (expires_ms <= now_ms)
        return;
    if (!tab)
        tab = pg_xcalloc(SLOTS, sizeof *tab);
    uint32_t h = home(key);
    struct slot *victim = NULL;
    for (uint32_t i = 0; i < PROBE; i++) {
        struct slot *s = &tab[(h + i) & (SLOTS - 1)];
        if (s->expires && memcmp(s->key, key, PG_AUTH_KEY_LEN) == 0) {
            victim = s;    /* refresh in place */
            break;
        }
        if (!s->expires || s->expires <= now_ms) {
            if (!victim || victim->expires > now_ms)
                victim = s;
        } else if (!victim || (victim->expires > now_ms && s->expires < victim->expires)) {
            victim = s;
        }
    }
    if (victim->expires > now_ms && memcmp(victim->key, key, PG_AUTH_KEY_LEN) != 0)
        stats.evicted++;
    memcpy(victim->key, key, PG_AUTH_KEY_LEN);
    victim->expires = expires_ms;
    stats.stored++;
}

void pg_auth_cache_clear(void)
{
    free(tab);
    tab = NULL;
}

void pg_auth_cache_stats(struct pg_auth_cache_stats *st)
{
    *st = stats;
}
