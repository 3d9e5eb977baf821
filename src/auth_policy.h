/* auth_policy.h — the pure half of authorization: which rule a channel
 * falls under, where a token hides in a request's header values, the
 * session-check cache, secrets compared in constant time, log redaction and
 * the publish-listen start-up rule. No I/O, no event2/ include: everything
 * here takes strings and a config and is unit-tested alone
 * (tests/unit/test_auth.c). The glue that applies it to a live request is
 * auth.c. */
#ifndef PG_AUTH_POLICY_H
#define PG_AUTH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_config;
struct pg_rule;

enum pg_auth_need {
    PG_NEED_NONE = 0,     /* public */
    PG_NEED_TOKEN = 1,    /* token_channels */
    PG_NEED_SESSION = 2,  /* an auth_url or auth_fastcgi rule */
};

/* What channel (NUL-terminated) needs under c. For PG_NEED_SESSION sets
 * *rule (pointing into c) and *fastcgi; auth_url rules are tried before
 * auth_fastcgi rules, the first match in each list wins. */
int pg_auth_need(const struct pg_config *c, const char *channel, const struct pg_rule **rule,
                 bool *fastcgi);

/* "Bearer <token>" (scheme case-insensitive, blanks around the token
 * ignored): true and a view of the token, false for any other scheme or an
 * empty token. */
bool pg_auth_bearer(const char *value, size_t len, const char **tok, size_t *tok_len);

/* Finds cookie name in a Cookie header value ("a=1; b=2"): true and a view
 * of its value (surrounding double quotes removed). */
bool pg_auth_cookie(const char *value, size_t len, const char *name, const char **val,
                    size_t *val_len);

/* Constant-time equality of given[0..len) and the NUL-terminated secret
 * (SHA-256 of both compared with CRYPTO_memcmp, so neither content nor
 * length leaks through timing). False when secret is empty. */
bool pg_auth_secret_eq(const char *given, size_t len, const char *secret);

/* Is the publish listen address text (config syntax) loopback or unix?
 * false also for an address that does not parse. */
bool pg_auth_addr_is_local(const char *addr);

/* Start-up check (main.c calls it before opening listeners): every
 * publish_listen address must be loopback or a unix socket unless
 * publish_secret is set. Returns 0, or -1 with one line in
 * err ("publish_listen 0.0.0.0:8081: ..."). */
int pg_auth_check_publish_listen(const struct pg_config *c, char *err, size_t errlen);

/* Copies a request target (or any text holding a query string) into out
 * (NUL-terminated, truncated to cap) with the value of every "token"
 * parameter replaced by "[redacted]". Returns the length written. Use it
 * on every target that goes into a log line. */
size_t pg_auth_redact(const char *in, size_t len, char *out, size_t cap);

/* ---- the session-check cache (auth_cache.c) ----
 * Remembers "allowed until" for keys that are SHA-256 digests of (rule,
 * cookie, origin, channels), so no session cookie is kept in memory. A
 * fixed table with bounded probing: when a neighbourhood is full of live
 * entries the one closest to expiry is replaced, so memory is bounded
 * whatever the traffic. Only allow answers are ever stored. */

#define PG_AUTH_KEY_LEN 32

/* Digest of n NUL-terminated parts (each length-prefixed, so parts cannot
 * run into each other). */
void pg_auth_cache_key(uint8_t key[PG_AUTH_KEY_LEN], const char *const *parts, size_t n);
/* true when key was stored and now_ms is before its expiry. */
bool pg_auth_cache_get(const uint8_t key[PG_AUTH_KEY_LEN], uint64_t now_ms);
/* Stores key until expires_ms (allocates the table on first use). */
void pg_auth_cache_put(const uint8_t key[PG_AUTH_KEY_LEN], uint64_t expires_ms, uint64_t now_ms);
/* Frees the table. */
void pg_auth_cache_clear(void);

struct pg_auth_cache_stats {
    uint64_t hits, misses, stored, evicted;
};
void pg_auth_cache_stats(struct pg_auth_cache_stats *st);

#endif
