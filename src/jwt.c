/* jwt.c — verifies (and, for tests and tools, signs) HS256 compact JWS
 * tokens and extracts pushgate's claims. Codec: no I/O, no event2/ include.
 *
 * Order of checks, each failing closed: length limit; exactly three
 * segments; strict base64url of each; header is a JSON object with
 * "alg" == "HS256" (the alg is fixed by us, never chosen by the token, so
 * "none", HS512, RS256... are all refused); HMAC-SHA256 compared in
 * constant time; only then the payload is parsed (hostile JSON from an
 * unauthenticated peer never reaches the claim reader); claim types;
 * exp/nbf with leeway.
 *
 * Invariants: never reads outside token[0..len); *why is always a static
 * string and never echoes token bytes; on error *out owns nothing.
 *
 * Deliberate departures from RFC 7515/7519: base64url must be canonical
 * (no padding, unused trailing bits zero) so one signature has one spelling;
 * duplicate JSON keys are refused rather than "last one wins"; "crit" in the
 * header is refused outright (we understand no extension); "exp" is
 * mandatory; "aud"/"iss"/"iat"/"jti" are ignored.
 */
#include "jwt.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json_read.h"
#include "util.h"

#define JWT_JSON_DEPTH 16
#define JWT_SIG_LEN 32 /* SHA-256 */

struct seg {
    const char *p;
    size_t n;
};

/* ---- base64url (RFC 4648 §5, unpadded, canonical) ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes s[0..n) into out (room for n * 3 / 4 bytes). Returns the decoded
 * length, or -1: a byte outside the alphabet (padding included), a length
 * that is 1 mod 4, or non-zero unused bits in the last character. */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (long)o;
}

/* Appends the encoding of in[0..n) at out (room for (n * 4 + 2) / 3 + 1);
 * returns the number of characters written (NUL not counted). */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8 | in[i]) & 0xFFFF;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url_alphabet[acc >> bits & 0x3F];
        }
    }
    if (bits)
        out[o++] = b64url_alphabet[acc << (6 - bits) & 0x3F];
    out[o] = '\0';
    return o;
}

/* ---- HMAC ---- */

static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                       unsigned char md[JWT_SIG_LEN])
{
    unsigned int md_len = 0;
    if (key_len == 0 || key_len > INT_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, n, md, &md_len) || md_len != JWT_SIG_LEN)
        return -1;
    return 0;
}

/* ---- token structure ---- */

/* Splits token into exactly three dot-separated segments. */
static int split(const char *token, size_t len, struct seg s[3])
{
    const char *p = token, *end = token + len;
    for (int i = 0; i < 3; i++) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if ((i < 2) != (dot != NULL))
            return -1;
        s[i].p = p;
        s[i].n = (size_t)((dot ? dot : end) - p);
        p = dot ? dot + 1 : end;
    }
    return 0;
}

/* The header's rules, on a parsed header. */
static int header_rules(const struct pg_json *h, const char **why)
{
    const struct pg_json *alg = pg_json_get(h, "alg"), *typ = pg_json_get(h, "typ");

    *why = NULL;
    if (h->type != PG_JSON_OBJECT)
        *why = "token header is not a JSON object";
    else if (typ && typ->type != PG_JSON_STRING)
        *why = "token \"typ\" is not a string";
    else if (pg_json_get(h, "crit"))
        *why = "token header has \"crit\" (no extension is supported)";
    if (*why)
        return PG_JWT_MALFORMED;
    if (!alg)
        *why = "token header has no \"alg\"";
    else if (alg->type != PG_JSON_STRING || !pg_view_eq(alg->str, alg->len, "HS256"))
        *why = "token \"alg\" is not HS256";
    return *why ? PG_JWT_BAD_ALG : PG_JWT_OK;
}

static int check_header(const unsigned char *json, size_t n, const char **why)
{
    struct pg_json *h;
    int rc;

    if (pg_json_parse((const char *)json, n, PG_JWT_MAX_LEN, JWT_JSON_DEPTH, &h, why) != PG_JSON_OK)
        return PG_JWT_MALFORMED; /* *why from the reader: duplicate key, syntax... */
    rc = header_rules(h, why);
    pg_json_free(h);
    return rc;
}

static int check_signature(const struct seg s[3], const unsigned char *sig, long sig_len,
                           const void *key, size_t key_len, const char **why)
{
    unsigned char md[JWT_SIG_LEN];
    size_t signed_len = s[0].n + 1 + s[1].n; /* "header.payload" */

    if (hmac_sha256(key, key_len, s[0].p, signed_len, md) < 0) {
        *why = "no usable token verification key";
        return PG_JWT_BAD_SIGNATURE;
    }
    if (sig_len != JWT_SIG_LEN || CRYPTO_memcmp(md, sig, JWT_SIG_LEN) != 0) {
        *why = "token signature does not verify";
        return PG_JWT_BAD_SIGNATURE;
    }
    return PG_JWT_OK;
}

/* ---- claims ---- */

/* A string claim as a heap copy; refuses NUL bytes (fnmatch and logs take
 * C strings) and, when nonempty is set, the empty string. */
static char *claim_string(const struct pg_json *v, bool nonempty)
{
    if (v->type != PG_JSON_STRING || memchr(v->str, '\0', v->len) || (nonempty && v->len == 0))
        return NULL;
    return pg_xstrndup(v->str, v->len);
}

/* An optional array of non-empty glob strings. */
static int claim_globs(const struct pg_json *claims, const char *name, char ***out, size_t *n,
                       const char **why)
{
    const struct pg_json *a = pg_json_get(claims, name);
    if (!a)
        return PG_JWT_OK;
    bool ch = name[0] == 'c';
    if (a->type != PG_JSON_ARRAY) {
        *why = ch ? "token claim \"channels\" is not an array"
                  : "token claim \"publish\" is not an array";
        return PG_JWT_MALFORMED;
    }
    if (a->n)
        *out = pg_xcalloc(a->n, sizeof(**out));
    for (const struct pg_json *e = a->child; e; e = e->next) {
        if (!((*out)[*n] = claim_string(e, true))) {
            *why = ch ? "token claim \"channels\" holds a non-string or empty glob"
                      : "token claim \"publish\" holds a non-string or empty glob";
            return PG_JWT_MALFORMED;
        }
        (*n)++;
    }
    return PG_JWT_OK;
}

/* An optional NumericDate; *present tells whether it was there. */
static int claim_time(const struct pg_json *claims, const char *name, int64_t *out,
                      bool *present, const char **why)
{
    const struct pg_json *v = pg_json_get(claims, name);
    *present = v != NULL;
    if (!v)
        return PG_JWT_OK;
    if (v->type != PG_JSON_NUMBER || pg_json_int64(v, out) < 0) {
        *why = name[0] == 'e' ? "token claim \"exp\" is not a NumericDate"
                              : "token claim \"nbf\" is not a NumericDate";
        return PG_JWT_MALFORMED;
    }
    return PG_JWT_OK;
}

static int read_claims(const struct pg_json *c, struct pg_jwt *t, const char **why)
{
    const struct pg_json *sub;
    bool has_exp, has_nbf;
    int rc;

    if (c->type != PG_JSON_OBJECT) {
        *why = "token payload is not a JSON object";
        return PG_JWT_MALFORMED;
    }
    if ((rc = claim_time(c, "exp", &t->exp, &has_exp, why)) ||
        (rc = claim_time(c, "nbf", &t->nbf, &has_nbf, why)) ||
        (rc = claim_globs(c, "channels", &t->channels, &t->n_channels, why)) ||
        (rc = claim_globs(c, "publish", &t->publish, &t->n_publish, why)))
        return rc;
    if ((sub = pg_json_get(c, "sub")) && !(t->sub = claim_string(sub, false))) {
        *why = "token claim \"sub\" is not a string";
        return PG_JWT_MALFORMED;
    }
    if (!has_exp) {
        *why = "token has no \"exp\" claim";
        return PG_JWT_MISSING_CLAIM;
    }
    if (!pg_json_get(c, "channels") && !pg_json_get(c, "publish")) {
        *why = "token has neither a \"channels\" nor a \"publish\" claim";
        return PG_JWT_MISSING_CLAIM;
    }
    return PG_JWT_OK;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int check_times(const struct pg_jwt *t, int64_t now, int64_t leeway, const char **why)
{
    if (leeway < 0)
        leeway = 0;
    if (now >= sat_add(t->exp, leeway)) {
        *why = "token has expired";
        return PG_JWT_EXPIRED;
    }
    if (sat_add(now, leeway) < t->nbf) {
        *why = "token is not valid yet (nbf)";
        return PG_JWT_NOT_YET_VALID;
    }
    return PG_JWT_OK;
}

static int verify_claims(const unsigned char *json, size_t n, int64_t now, int64_t leeway,
                         struct pg_jwt *out, const char **why)
{
    struct pg_json *c;
    int rc;

    if (pg_json_parse((const char *)json, n, PG_JWT_MAX_LEN, JWT_JSON_DEPTH, &c, why) != PG_JSON_OK)
        return PG_JWT_MALFORMED;
    rc = read_claims(c, out, why);
    pg_json_free(c);
    return rc ? rc : check_times(out, now, leeway, why);
}

/* ---- public API ---- */

void pg_jwt_free(struct pg_jwt *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_channels; i++)
        free(t->channels[i]);
    for (size_t i = 0; i < t->n_publish; i++)
        free(t->publish[i]);
    free(t->channels);
    free(t->publish);
    free(t->sub);
    memset(t, 0, sizeof(*t));
}

int pg_jwt_verify(const char *token, size_t len, const void *key, size_t key_len,
                  int64_t now, int64_t leeway, struct pg_jwt *out, const char **why)
{
    /* Decoded segments are at most 3/4 of the token, which is <= MAX_LEN. */
    unsigned char head[PG_JWT_MAX_LEN * 3 / 4], body[PG_JWT_MAX_LEN * 3 / 4];
    unsigned char sig[PG_JWT_MAX_LEN * 3 / 4];
    struct seg s[3];
    long nh, nb, ns;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token || len == 0) {
        *why = "no token";
        return PG_JWT_MALFORMED;
    }
    if (len > PG_JWT_MAX_LEN) {
        *why = "token too long";
        return PG_JWT_MALFORMED;
    }
    if (split(token, len, s) < 0) {
        *why = "token must have exactly three dot-separated segments";
        return PG_JWT_MALFORMED;
    }
    if ((nh = b64url_decode(s[0].p, s[0].n, head)) < 0 ||
        (nb = b64url_decode(s[1].p, s[1].n, body)) < 0 ||
        (ns = b64url_decode(s[2].p, s[2].n, sig)) < 0) {
        *why = "token segment is not unpadded base64url";
        return PG_JWT_MALFORMED;
    }
    if ((rc = check_header(head, (size_t)nh, why)) ||
        (rc = check_signature(s, sig, ns, key, key_len, why)) ||
        (rc = verify_claims(body, (size_t)nb, now, leeway, out, why))) {
        pg_jwt_free(out);
        return rc;
    }
    return PG_JWT_OK;
}

bool pg_jwt_grants(const char *const *globs, size_t n, const char *channel)
{
    if (!channel)
        return false;
    for (size_t i = 0; i < n; i++)
        if (globs[i] && fnmatch(globs[i], channel, 0) == 0)
            return true;
    return false;
}

char *pg_jwt_sign_hs256(const char *claims_json, const void *key, size_t key_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t claims_len = strlen(claims_json);
    size_t cap = (sizeof(header) * 4 + 2) / 3 + (claims_len * 4 + 2) / 3 + (JWT_SIG_LEN * 4 + 2) / 3 + 3;
    char *tok = pg_xmalloc(cap);
    unsigned char md[JWT_SIG_LEN];
    size_t o;

    o = b64url_encode((const unsigned char *)header, sizeof(header) - 1, tok);
    tok[o++] = '.';
    o += b64url_encode((const unsigned char *)claims_json, claims_len, tok + o);
    if (hmac_sha256(key, key_len, tok, o, md) < 0) {
        free(tok);
        return NULL;
    }
    tok[o++] = '.';
    b64url_encode(md, JWT_SIG_LEN, tok + o);
    return tok;
}
