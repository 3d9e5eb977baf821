/* fuzz_jwt.c — libFuzzer target for the JWT codec and its JSON reader.
 *
 * The first input byte picks what the rest is:
 *   0  the whole token (hostile bytes from an unauthenticated peer);
 *   1  the payload JSON of a correctly signed HS256 token, so the claim
 *      reader and JSON parser behind the signature check are reached;
 *   2  the header JSON of a correctly signed token with a fixed payload;
 *   3  a token whose payload is signed, then cut at a fuzzer-chosen byte.
 * Whatever verifies must satisfy the struct's documented invariants.
 *
 * Includes src/jwt.c to reach its static base64url and HMAC helpers; link
 * with src/json_read.c, src/util.c and -lcrypto:
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_jwt.c \
 *         src/json_read.c src/util.c -lcrypto
 */
#include "../../src/jwt.c"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char KEY[] = "fuzz-key";
#define NOW 1700000000

static void check_claims(const struct pg_jwt *t)
{
    assert(t->n_channels == 0 || t->channels);
    assert(t->n_publish == 0 || t->publish);
    for (size_t i = 0; i < t->n_channels; i++)
        assert(t->channels[i] && t->channels[i][0]);
    for (size_t i = 0; i < t->n_publish; i++)
        assert(t->publish[i] && t->publish[i][0]);
    assert(NOW < sat_add(t->exp, PG_JWT_DEFAULT_LEEWAY));
    (void)pg_jwt_grants((const char *const *)t->channels, t->n_channels, "user.42");
}

static void verify(const char *tok, size_t len)
{
    struct pg_jwt t;
    const char *why = NULL;
    int rc = pg_jwt_verify(tok, len, KEY, sizeof(KEY) - 1, NOW, PG_JWT_DEFAULT_LEEWAY, &t, &why);
    if (rc == PG_JWT_OK)
        check_claims(&t);
    else
        assert(why && rc >= PG_JWT_MISSING_CLAIM && rc < 0 && !t.channels && !t.publish && !t.sub);
    pg_jwt_free(&t);
}

/* header and payload are raw bytes (may hold NUL); signs them with KEY. */
static char *sign_raw(const uint8_t *h, size_t hn, const uint8_t *p, size_t pn, size_t *len)
{
    char *tok = pg_xmalloc((hn + pn + JWT_SIG_LEN) * 4 / 3 + 16);
    unsigned char md[JWT_SIG_LEN];
    size_t o = b64url_encode(h, hn, tok);
    tok[o++] = '.';
    o += b64url_encode(p, pn, tok + o);
    if (hmac_sha256(KEY, sizeof(KEY) - 1, tok, o, md) < 0)
        abort();
    tok[o++] = '.';
    o += b64url_encode(md, sizeof(md), tok + o);
    *len = o;
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char payload[] = "{\"exp\":2000000000,\"channels\":[\"a.*\"]}";
    char *tok;
    size_t len;

    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    data++, size--;
    if (mode == 0) {
        /* An exact-size heap copy, so ASan sees any overread. */
        tok = pg_xmalloc(size ? size : 1);
        memcpy(tok, data, size);
        verify(tok, size);
        free(tok);
        return 0;
    }
    if (mode == 1 || mode == 3) {
        tok = sign_raw((const uint8_t *)header, sizeof(header) - 1, data, size, &len);
    } else {
        tok = sign_raw(data, size, (const uint8_t *)payload, sizeof(payload) - 1, &len);
    }
    if (mode == 3 && size > 0)
        len = data[0] % (len + 1);
    verify(tok, len);
    free(tok);
    return 0;
}
