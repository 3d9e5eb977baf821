/* jwt.h — the JWT codec pushgated uses to authorize subscribers and
 * publishers: compact JWS, HS256 only. Bytes in, a verified claim set out;
 * no I/O, no event2/ include.
 *
 * A token is three base64url segments (no padding) "header.payload.sig":
 *   header  a JSON object whose "alg" is exactly "HS256" ("typ" optional,
 *           "crit" refused since no extension is understood);
 *   payload a JSON object with "exp" (required NumericDate), "nbf"
 *           (optional, honoured), "channels" (array of fnmatch globs the
 *           holder may subscribe to), "publish" (optional array of globs it
 *           may publish to), "sub" (optional string); other claims ignored.
 *           At least one of "channels"/"publish" must be present.
 *   sig     HMAC-SHA256 over "header.payload", compared in constant time.
 * Duplicate keys anywhere in header or claims are refused; tokens longer
 * than PG_JWT_MAX_LEN are refused before any decoding.
 */
#ifndef PG_JWT_H
#define PG_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_JWT_MAX_LEN 4096
#define PG_JWT_DEFAULT_LEEWAY 30 /* seconds, both ways, for exp and nbf */

/* A verified claim set. Every string is a heap copy owned by the struct and
 * contains no NUL byte; arrays are NULL when their count is 0. */
struct pg_jwt {
    int64_t exp;       /* "exp", unix seconds (fractions rounded down) */
    int64_t nbf;       /* "nbf", or 0 when absent */
    char **channels;   /* "channels": globs the holder may subscribe to */
    size_t n_channels;
    char **publish;    /* "publish": globs the holder may publish to */
    size_t n_publish;
    char *sub;         /* "sub", or NULL when absent (for logs only) */
};

enum pg_jwt_err {
    PG_JWT_OK = 0,
    PG_JWT_MALFORMED = -1,      /* not a well-formed token or claim set */
    PG_JWT_BAD_ALG = -2,        /* header "alg" missing or not "HS256" */
    PG_JWT_BAD_SIGNATURE = -3,  /* signature does not verify (or no key) */
    PG_JWT_EXPIRED = -4,        /* now >= exp + leeway */
    PG_JWT_NOT_YET_VALID = -5,  /* now + leeway < nbf */
    PG_JWT_MISSING_CLAIM = -6,  /* no "exp", or neither "channels" nor "publish" */
};

/* Verifies token[0..len) (need not be NUL-terminated) with key[0..key_len)
 * at time now (unix seconds) allowing leeway seconds of clock skew. On
 * PG_JWT_OK fills *out, which the caller releases with pg_jwt_free. On error
 * *out is zeroed (pg_jwt_free on it is harmless) and *why is a static
 * one-line reason that never contains token bytes. The payload is parsed
 * only after the signature verifies. An empty key verifies nothing. */
int pg_jwt_verify(const char *token, size_t len, const void *key, size_t key_len,
                  int64_t now, int64_t leeway, struct pg_jwt *out, const char **why);
void pg_jwt_free(struct pg_jwt *t);

/* True if channel (NUL-terminated) matches one of the n globs (fnmatch, no
 * flags: '*' also matches '/' and '.'). False for n == 0 or channel NULL. */
bool pg_jwt_grants(const char *const *globs, size_t n, const char *channel);

/* For tests and tools: signs claims_json (already serialized, used as is)
 * under the header {"alg":"HS256","typ":"JWT"}. Returns a heap string the
 * caller frees, or NULL when the key is empty or too long for OpenSSL. */
char *pg_jwt_sign_hs256(const char *claims_json, const void *key, size_t key_len);

#endif
