/* test_ws_handshake.c — the opening handshake: the RFC 6455 accept key
 * example, every request check with its status, subprotocol and
 * permessage-deflate (RFC 7692) negotiation, and the 101 response bytes.
 * Requests are raw text parsed by the real http_parse.c. */
#include "tap.h"
#include "http_parse.h"
#include "ws_handshake.h"

#include <stdlib.h>
#include <string.h>

#define KEY_LINE "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define GOOD_HEAD "GET /ws/chan HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" \
                  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"

static struct pg_http_request req; /* large: keep it off the stack */

/* Parses text (a full head, "\r\n" appended) and checks it; returns the status. */
static int check(const char *text, bool allow_deflate, struct pg_ws_handshake *hs)
{
    char *head = malloc(strlen(text) + 3);
    const char *why = NULL;
    int n;

    strcpy(head, text);
    strcat(head, "\r\n");
    n = pg_http_parse_request(head, strlen(head), &req, &why);
    if (n <= 0) {
        printf("# test request does not parse: %s\n", why ? why : "incomplete");
        free(head);
        return -1;
    }
    pg_ws_handshake_check(&req, allow_deflate, hs);
    free(head); /* the handshake keeps no pointer into the request */
    return hs->status;
}

static void accept_key(void)
{
    struct pg_ws_handshake hs;
    char out[512];
    int n;

    is_int(check(GOOD_HEAD KEY_LINE, true, &hs), 101, "RFC 6455 §1.3 request is accepted");
    ok(strcmp(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "accept key of the RFC example (%s)", hs.accept);
    ok(!hs.json && !hs.deflate && hs.why == NULL, "no subprotocol, no extension, no reason");
    n = pg_ws_handshake_response(&hs, NULL, out, sizeof(out));
    ok(n > 0 && strcmp(out, "HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                            "\r\n") == 0 && (size_t)n == strlen(out),
       "minimal 101 response");

    check(GOOD_HEAD "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n", true, &hs);
    ok(hs.status == 101 && strcmp(hs.accept, "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=") == 0,
       "accept key for bytes 1..16 (%s)", hs.accept);
}

static void request_checks(void)
{
    static const struct {
        const char *text;
        int status;
        const char *name;
    } cases[] = {
        {"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 405, "POST is 405"},
        {"get /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 405, "method is case-sensitive"},
        {"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 400, "HTTP/1.0 is 400"},
        {"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" KEY_LINE,
         400, "no Upgrade header"},
        {"GET /ws HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         KEY_LINE, 400, "Upgrade: h2c"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" KEY_LINE,
         400, "no Connection header"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 400, "Connection without Upgrade"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY_LINE,
         426, "no Sec-WebSocket-Version is 426"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 8\r\n" KEY_LINE, 426, "version 8 is 426"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n" KEY_LINE, 426, "two versions is 426"},
        {GOOD_HEAD, 400, "no key"},
        {GOOD_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n", 400, "key 23 characters"},
        {GOOD_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n", 400, "key 25 characters"},
        {GOOD_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ*==\r\n", 400, "key with a non-base64 character"},
        {GOOD_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n", 400, "key without padding (18 bytes)"},
        {GOOD_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n", 400, "key of 15 bytes"},
        {GOOD_HEAD KEY_LINE KEY_LINE, 400, "two keys"},
        {"GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 101, "Upgrade case-insensitive, Connection list"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n" KEY_LINE, 101, "Connection token in a second header"},
        {"GET /ws HTTP/1.1\r\nUPGRADE: websocket\r\nconnection: Upgrade\r\n"
         "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 101,
         "header names case-insensitive"},
    };
    struct pg_ws_handshake hs;
    char out[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = check(cases[i].text, true, &hs);
        ok(st == cases[i].status && (st == 101) == (hs.why == NULL), "%s: %d (%s)", cases[i].name,
           st, hs.why ? hs.why : "-");
    }
    check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY_LINE, true, &hs);
    ok(strcmp(pg_ws_handshake_error_headers(&hs), "Sec-WebSocket-Version: 13\r\n") == 0,
       "426 carries Sec-WebSocket-Version: 13");
    is_int(pg_ws_handshake_response(&hs, NULL, out, sizeof(out)), -1, "no 101 response for a 426");
    check("POST /ws HTTP/1.1\r\n", true, &hs);
    ok(hs.status == 405 && strcmp(pg_ws_handshake_error_headers(&hs), "Allow: GET\r\n") == 0,
       "405 carries Allow: GET");
    check(GOOD_HEAD, true, &hs);
    ok(strcmp(pg_ws_handshake_error_headers(&hs), "") == 0, "400 carries no extra header");
}

static void subprotocols(void)
{
    static const struct {
        const char *lines;
        bool json;
        const char *name;
    } cases[] = {
        {"Sec-WebSocket-Protocol: pushgate.v1+json\r\n", true, "only offer"},
        {"Sec-WebSocket-Protocol: chat, pushgate.v1+json\r\n", true, "second in the list"},
        {"Sec-WebSocket-Protocol: chat,pushgate.v1+json , x\r\n", true, "odd spacing"},
        {"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: pushgate.v1+json\r\n", true,
         "in a second header"},
        {"Sec-WebSocket-Protocol: chat\r\n", false, "other protocol only"},
        {"Sec-WebSocket-Protocol: pushgate.v1+jsonx\r\n", false, "longer name"},
        {"Sec-WebSocket-Protocol: pushgate.v1\r\n", false, "prefix"},
        {"Sec-WebSocket-Protocol: PUSHGATE.V1+JSON\r\n", false, "case-sensitive"},
        {"", false, "no header"},
    };
    struct pg_ws_handshake hs;
    char text[512], out[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), GOOD_HEAD KEY_LINE "%s", cases[i].lines);
        check(text, true, &hs);
        ok(hs.status == 101 && hs.json == cases[i].json, "subprotocol: %s", cases[i].name);
    }
    check(GOOD_HEAD KEY_LINE "Sec-WebSocket-Protocol: chat, pushgate.v1+json\r\n", false, &hs);
    pg_ws_handshake_response(&hs, NULL, out, sizeof(out));
    ok(strstr(out, "\r\nSec-WebSocket-Protocol: pushgate.v1+json\r\n") != NULL, "response names the subprotocol");
}

static void extensions(void)
{
    static const struct {
        const char *lines;
        int deflate; /* 0 no, 1 yes, 2 yes with server_max_window_bits=15 echoed */
        const char *name;
    } cases[] = {
        {"Sec-WebSocket-Extensions: permessage-deflate\r\n", 1, "bare offer (Firefox)"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", 1,
         "client_max_window_bits without value (Chrome)"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n", 1,
         "client_max_window_bits=10"},
        {"Sec-WebSocket-Extensions: permessage-deflate;client_max_window_bits=\"8\"\r\n", 1,
         "quoted client_max_window_bits"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
         "client_no_context_takeover\r\n", 1, "both no_context_takeover"},
        {"Sec-WebSocket-Extensions: PerMessage-Deflate\r\n", 1, "extension name case-insensitive"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n", 2,
         "server_max_window_bits=15 accepted and echoed"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"15\"\r\n", 2,
         "quoted server_max_window_bits=15"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n", 0,
         "server_max_window_bits=10 declined"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10, "
         "permessage-deflate; client_max_window_bits\r\n", 1, "fallback offer accepted"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits\r\n", 0,
         "server_max_window_bits without value"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=015\r\n", 0,
         "server_max_window_bits with a leading zero"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16\r\n", 0,
         "client_max_window_bits=16"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=7\r\n", 0,
         "client_max_window_bits=7"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=08\r\n", 0,
         "client_max_window_bits=08"},
        {"Sec-WebSocket-Extensions: permessage-deflate; foo\r\n", 0, "unknown parameter"},
        {"Sec-WebSocket-Extensions: permessage-deflate; foo, permessage-deflate\r\n", 1,
         "unknown parameter, then a good offer"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover\r\n", 0, "duplicate parameter"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; "
         "client_max_window_bits=9\r\n", 0, "duplicate client_max_window_bits"},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=1\r\n", 0,
         "value on a flag parameter"},
        {"Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate\r\n", 1,
         "after another extension"},
        {"Sec-WebSocket-Extensions: foo; bar=\"baz\"; q=1, permessage-deflate\r\n", 1,
         "after an extension with parameters"},
        {"Sec-WebSocket-Extensions: foo\r\nSec-WebSocket-Extensions: permessage-deflate\r\n", 1,
         "in a second header"},
        {"Sec-WebSocket-Extensions: ,, permessage-deflate ,\r\n", 1, "empty list elements"},
        {"Sec-WebSocket-Extensions: permessage-deflate;\r\n", 0, "empty parameter"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\r\n", 0, "empty value"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"10\r\n", 0,
         "unterminated quote"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"1 0\"\r\n", 0,
         "quoted value that is not a token"},
        {"Sec-WebSocket-Extensions: foo bar, permessage-deflate\r\n", 0,
         "syntax error stops the header"},
        {"Sec-WebSocket-Extensions: foo bar\r\nSec-WebSocket-Extensions: permessage-deflate\r\n", 1,
         "syntax error in one header, good offer in the next"},
        {"Sec-WebSocket-Extensions: foo; x=\"a\\\"b\", permessage-deflate\r\n", 0,
         "escaped quote: unquotes to a non-token"},
        {"Sec-WebSocket-Extensions: foo; x=\"a\\b\", permessage-deflate\r\n", 1,
         "escaped token character"},
        {"Sec-WebSocket-Extensions: foo; x=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
         "permessage-deflate\r\n", 1, "long quoted value on another extension"},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="
         "\"1000000000000000000000000000000000000000000000000000000000000000000000000000000\"\r\n", 0,
         "very long quoted window bits"},
        {"Sec-WebSocket-Extensions: permessage-deflate x\r\n", 0, "junk after the name"},
        {"Sec-WebSocket-Extensions: ;;;\r\n", 0, "only separators"},
        {"", 0, "no header"},
    };
    struct pg_ws_handshake hs;
    char text[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), GOOD_HEAD KEY_LINE "%s", cases[i].lines);
        check(text, true, &hs);
        ok(hs.status == 101 && hs.deflate == (cases[i].deflate != 0) &&
               hs.deflate_server_max_window_bits == (cases[i].deflate == 2),
           "deflate: %s", cases[i].name);
    }
    check(GOOD_HEAD KEY_LINE "Sec-WebSocket-Extensions: permessage-deflate\r\n", false, &hs);
    ok(hs.status == 101 && !hs.deflate, "deflate: not negotiated when our config disallows it");
}

static void responses(void)
{
    struct pg_ws_handshake hs;
    char out[512], small[512];
    const char *want =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: pushgate.v1+json\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
        "client_no_context_takeover\r\n"
        "X-Pushgate-Id: 7\r\n"
        "\r\n";
    int n, bad = 0;

    check(GOOD_HEAD KEY_LINE "Sec-WebSocket-Protocol: pushgate.v1+json\r\n"
          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", true, &hs);
    n = pg_ws_handshake_response(&hs, "X-Pushgate-Id: 7\r\n", out, sizeof(out));
    ok(n == (int)strlen(want) && strcmp(out, want) == 0, "full 101 response with extra headers");
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        char *exact = malloc(cap ? cap : 1);
        bad += pg_ws_handshake_response(&hs, "X-Pushgate-Id: 7\r\n", exact, cap) != -1;
        free(exact);
    }
    is_int(bad, 0, "every outcap up to the length (no room for NUL) gives -1");
    n = pg_ws_handshake_response(&hs, "X-Pushgate-Id: 7\r\n", small, strlen(want) + 1);
    is_int(n, (int)strlen(want), "outcap of length + 1 is enough");

    check(GOOD_HEAD KEY_LINE "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n",
          true, &hs);
    pg_ws_handshake_response(&hs, NULL, out, sizeof(out));
    ok(strstr(out, "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                   "client_no_context_takeover; server_max_window_bits=15\r\n") != NULL,
       "server_max_window_bits=15 echoed in the response");
}

int main(void)
{
    accept_key();
    request_checks();
    subprotocols();
    extensions();
    responses();
    return done_testing();
}
