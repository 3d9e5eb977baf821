/* ws_handshake.c — server side of the WebSocket opening handshake: request
 * checks, Sec-WebSocket-Accept, subprotocol and permessage-deflate
 * negotiation, and the 101 response head. A codec: no I/O, no allocation.
 *
 * Invariants: pg_ws_handshake_check writes all of *hs on every path; accept
 * is set only with status 101; nothing in *hs points into the request, so
 * the caller may drain the request head right after the check.
 *
 * Why this is ours: libevent 2.1.12's evhttp cannot hand a connection over
 * after a 101, so pushgated parses request heads itself (http_parse.c) and
 * upgrades here; wslay has no handshake code.
 *
 * Negotiation (RFC 7692): every Sec-WebSocket-Extensions header is walked
 * offer by offer (comma separated; parameters after ';'; values may be
 * quoted). The first permessage-deflate offer whose parameters are all known,
 * not repeated, well-formed, and that does not ask server_max_window_bits
 * below 15 is accepted; we always answer server_no_context_takeover and
 * client_no_context_takeover, so a connection keeps no compression state
 * between messages and one compressed frame can be shared by all subscribers.
 * A header that is not valid extension syntax stops the walk of that header
 * (its remaining offers are declined) but never fails the handshake.
 *
 * Deliberate departures: subprotocol names are compared case-sensitively (as
 * RFC 6455 §11.3.4 registers them) while extension names are compared
 * case-insensitively; Sec-WebSocket-Key's padding bits are not required to be
 * zero; Host and Origin are left to the caller (router / auth). When the
 * accepted offer carried server_max_window_bits=15 we echo it, as RFC 7692
 * §7.1.2.1 requires of a server that accepts such an offer.
 */
#include "ws_handshake.h"

#include "http_parse.h"
#include "util.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- header helpers ---------------------------------------------------- */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool name_is(const struct pg_http_header *h, const char *name)
{
    return pg_view_eq_ci(h->name, h->name_len, name);
}

/* True when any header called name has token in its comma list (case-insensitive). */
static bool any_header_has_token(const struct pg_http_request *req, const char *name,
                                 const char *token)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct pg_http_header *h = &req->headers[i];
        if (name_is(h, name) && pg_http_token_list_has(h->value, h->value_len, token))
            return true;
    }
    return false;
}

static size_t header_count(const struct pg_http_request *req, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < req->num_headers; i++)
        n += name_is(&req->headers[i], name);
    return n;
}

/* True when the comma list v[0..n) has an element equal to want, byte-exact. */
static bool list_has_exact(const char *v, size_t n, const char *want)
{
    const char *p = v, *end = v + n;

    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *t = e ? e : end;
        while (s < t && is_ows(*s))
            s++;
        while (t > s && is_ows(t[-1]))
            t--;
        if (pg_view_eq(s, (size_t)(t - s), want))
            return true;
        p = e ? e + 1 : end;
    }
    return false;
}

/* ---- Sec-WebSocket-Key and -Accept ----------------------------------- */

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Base64 of exactly 16 bytes: 22 alphabet characters and "==". */
static bool key_valid(const char *k, size_t n)
{
    if (n != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64(k[i]))
            return false;
    return true;
}

/* accept = base64(SHA-1(key ++ GUID)): 28 characters and a NUL. */
static bool make_accept(const char *key, size_t n, char accept[29])
{
    char in[24 + sizeof(WS_GUID)];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    memcpy(in, key, n);
    memcpy(in + n, WS_GUID, sizeof(WS_GUID) - 1);
    if (!EVP_Digest(in, n + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return false;
    return EVP_EncodeBlock((unsigned char *)accept, md, 20) == 28;
}

/* ---- permessage-deflate offers ------------------------------------- */

struct pmd_offer {
    bool seen_snct, seen_cnct, seen_smwb, seen_cmwb; /* parameters present */
    bool bad;                                        /* the offer is declined */
};

/* "8".."15" without leading zeros. */
static bool window_bits_valid(const char *v, size_t n)
{
    if (n == 1)
        return v[0] >= '8' && v[0] <= '9';
    return n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5';
}

static bool once(bool *seen)
{
    bool first = !*seen;
    *seen = true;
    return first;
}

/* One parameter of a permessage-deflate offer; val is NULL when it had none. */
static void offer_param(struct pmd_offer *o, const char *name, size_t nlen, const char *val,
                        size_t vlen)
{
    if (pg_view_eq_ci(name, nlen, "server_no_context_takeover")) {
        o->bad |= !once(&o->seen_snct) || val;
    } else if (pg_view_eq_ci(name, nlen, "client_no_context_takeover")) {
        o->bad |= !once(&o->seen_cnct) || val;
    } else if (pg_view_eq_ci(name, nlen, "server_max_window_bits")) {
        /* we compress with a full window only: anything below 15 is declined */
        o->bad |= !once(&o->seen_smwb) || !val || !pg_view_eq(val, vlen, "15");
    } else if (pg_view_eq_ci(name, nlen, "client_max_window_bits")) {
        o->bad |= !once(&o->seen_cmwb) || (val && !window_bits_valid(val, vlen));
    } else {
        o->bad = true;
    }
}

/* A scanner over one Sec-WebSocket-Extensions value. */
struct ext_scan {
    const char *p, *end;
};

static void skip_ows(struct ext_scan *s)
{
    while (s->p < s->end && is_ows(*s->p))
        s->p++;
}

static bool peek(struct ext_scan *s, char c)
{
    skip_ows(s);
    return s->p < s->end && *s->p == c;
}

static size_t scan_token(struct ext_scan *s, const char **tok)
{
    skip_ows(s);
    *tok = s->p;
    while (s->p < s->end && is_tchar((unsigned char)*s->p))
        s->p++;
    return (size_t)(s->p - *tok);
}

/* A quoted-string whose unescaped content must be a token (RFC 6455 §9.1);
 * its first cap characters are copied to buf. Returns the content's length
 * (possibly > cap) or -1 when unterminated or not a token. */
static int scan_quoted(struct ext_scan *s, char *buf, size_t cap)
{
    size_t n = 0;

    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '"') {
            s->p++;
            return n > INT_MAX ? -1 : (int)n;
        }
        if (*s->p == '\\' && ++s->p == s->end)
            return -1;
        if (!is_tchar((unsigned char)*s->p))
            return -1;
        if (n < cap)
            buf[n] = *s->p;
        n++;
    }
    return -1;
}

/* Parameter value after '=': a token, or a quoted string that unquotes to a
 * token. Sets *val (into s, or buf for a quoted one) and returns its length
 * (a quoted one cut to cap: no valid value is that long), or -1. */
static int scan_value(struct ext_scan *s, char *buf, size_t cap, const char **val)
{
    size_t n;
    int q;

    if (!peek(s, '"')) {
        n = scan_token(s, val);
        return n > 0 && n <= INT_MAX ? (int)n : -1;
    }
    q = scan_quoted(s, buf, cap);
    *val = buf;
    return q > 0 ? (int)PG_MIN((size_t)q, cap) : -1;
}

/* One offer: name then parameters, up to (not including) ',' or the end.
 * Returns false on a syntax error. *is_pmd_ok: a permessage-deflate offer we
 * can accept; *o: its parameters. */
static bool scan_offer(struct ext_scan *s, bool *is_pmd_ok, struct pmd_offer *o)
{
    const char *name, *pname, *val;
    size_t nlen = scan_token(s, &name), plen;
    bool pmd = pg_view_eq_ci(name, nlen, "permessage-deflate");
    char buf[32];
    int vlen;

    memset(o, 0, sizeof(*o));
    if (nlen == 0)
        return false;
    while (peek(s, ';')) {
        s->p++;
        if ((plen = scan_token(s, &pname)) == 0)
            return false;
        val = NULL;
        vlen = 0;
        if (peek(s, '=')) {
            s->p++;
            if ((vlen = scan_value(s, buf, sizeof(buf), &val)) < 0)
                return false;
        }
        if (pmd)
            offer_param(o, pname, plen, val, (size_t)vlen);
    }
    *is_pmd_ok = pmd && !o->bad;
    skip_ows(s);
    return s->p == s->end || *s->p == ',';
}

/* Walks one header value; true when it holds an acceptable offer (first one wins). */
static bool scan_extensions(const char *v, size_t n, struct pmd_offer *chosen)
{
    struct ext_scan s = {v, v + n};
    struct pmd_offer o;
    bool ok;

    for (;;) {
        while (peek(&s, ','))
            s.p++;
        if (s.p == s.end)
            return false;
        ok = false;
        if (!scan_offer(&s, &ok, &o))
            return false;
        if (ok) {
            *chosen = o;
            return true;
        }
    }
}

static void negotiate_deflate(const struct pg_http_request *req, struct pg_ws_handshake *hs)
{
    struct pmd_offer o;

    for (size_t i = 0; i < req->num_headers; i++) {
        const struct pg_http_header *h = &req->headers[i];
        if (name_is(h, "Sec-WebSocket-Extensions") && scan_extensions(h->value, h->value_len, &o)) {
            hs->deflate = true;
            hs->deflate_server_max_window_bits = o.seen_smwb;
            return;
        }
    }
}

/* ---- the checks ------------------------------------------------------ */

static bool offers_json(const struct pg_http_request *req)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct pg_http_header *h = &req->headers[i];
        if (name_is(h, "Sec-WebSocket-Protocol") &&
            list_has_exact(h->value, h->value_len, PG_WS_SUBPROTOCOL_JSON))
            return true;
    }
    return false;
}

static int refuse(const char **why, const char *reason, int status)
{
    *why = reason;
    return status;
}

/* The request checks in RFC 6455 §4.2.1 order; returns the status (101 when
 * all pass, *why NULL) and fills hs->accept. */
static int check_request(const struct pg_http_request *req, struct pg_ws_handshake *hs,
                         const char **why)
{
    const struct pg_http_header *ver, *key;

    if (!pg_view_eq(req->method, req->method_len, "GET"))
        return refuse(why, "WebSocket upgrade needs GET", 405);
    if (req->minor_version < 1)
        return refuse(why, "WebSocket upgrade needs HTTP/1.1", 400);
    if (!any_header_has_token(req, "Upgrade", "websocket"))
        return refuse(why, "missing Upgrade: websocket", 400);
    if (!any_header_has_token(req, "Connection", "Upgrade"))
        return refuse(why, "missing Connection: Upgrade", 400);
    ver = pg_http_header_find(req, "Sec-WebSocket-Version");
    if (!ver || header_count(req, "Sec-WebSocket-Version") != 1 ||
        !pg_view_eq(ver->value, ver->value_len, "13"))
        return refuse(why, "Sec-WebSocket-Version must be 13", 426);
    key = pg_http_header_find(req, "Sec-WebSocket-Key");
    if (!key)
        return refuse(why, "missing Sec-WebSocket-Key", 400);
    if (header_count(req, "Sec-WebSocket-Key") != 1 || !key_valid(key->value, key->value_len))
        return refuse(why, "bad Sec-WebSocket-Key", 400);
    if (!make_accept(key->value, key->value_len, hs->accept))
        return refuse(why, "cannot compute Sec-WebSocket-Accept", 400);
    *why = NULL;
    return 101;
}

void pg_ws_handshake_check(const struct pg_http_request *req, bool allow_deflate,
                           struct pg_ws_handshake *hs)
{
    memset(hs, 0, sizeof(*hs));
    hs->status = check_request(req, hs, &hs->why);
    if (hs->status != 101) {
        hs->accept[0] = '\0';
        return;
    }
    hs->json = offers_json(req);
    if (allow_deflate)
        negotiate_deflate(req, hs);
}

/* ---- the answer ------------------------------------------------------ */

int pg_ws_handshake_response(const struct pg_ws_handshake *hs, const char *extra_headers,
                             char *out, size_t outcap)
{
    int n;

    if (hs->status != 101)
        return -1;
    n = snprintf(out, outcap,
                 "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n"
                 "%s%s%s"
                 "%s%s%s%s"
                 "%s\r\n",
                 hs->accept,
                 hs->json ? "Sec-WebSocket-Protocol: " : "",
                 hs->json ? PG_WS_SUBPROTOCOL_JSON : "",
                 hs->json ? "\r\n" : "",
                 hs->deflate ? "Sec-WebSocket-Extensions: " : "",
                 hs->deflate ? PG_WS_DEFLATE_RESPONSE : "",
                 hs->deflate && hs->deflate_server_max_window_bits ? "; server_max_window_bits=15" : "",
                 hs->deflate ? "\r\n" : "",
                 extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= outcap)
        return -1;
    return n;
}

const char *pg_ws_handshake_error_headers(const struct pg_ws_handshake *hs)
{
    if (hs->status == 426)
        return "Sec-WebSocket-Version: 13\r\n";
    if (hs->status == 405)
        return "Allow: GET\r\n";
    return "";
}
