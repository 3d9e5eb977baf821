#!/usr/bin/python3
"""test_ws_handshake.py — the RFC 6455 opening handshake on /sub and
/pubsub, over a raw socket: the accept key, subprotocol selection, 400 for a
bad handshake or a bad channel name, 426 with Sec-WebSocket-Version: 13 for
another version, 403 for a channel clients may not publish to."""

from pgtest import *

RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='


def handshake(d, path='/sub/hs', **kw):
    w = RawWS(d, path, **kw)
    w.close()
    return w


def case_accept(d):
    w = handshake(d)
    tap.is_(w.status, 101, 'a valid upgrade answers 101')
    tap.is_(w.headers.get('sec-websocket-accept'), RFC_ACCEPT, 'Sec-WebSocket-Accept is the RFC 6455 example value')
    tap.ok(w.headers.get('upgrade', '').lower() == 'websocket', 'Upgrade: websocket', repr(w.headers))
    tap.ok('upgrade' in w.headers.get('connection', '').lower(), 'Connection: Upgrade', repr(w.headers))
    tap.ok('sec-websocket-protocol' not in w.headers, 'no subprotocol selected when none was offered', repr(w.headers))
    tap.ok('sec-websocket-extensions' not in w.headers, 'no extension when none was offered', repr(w.headers))


def case_tolerant_headers(d):
    req = ('GET /sub/hs2 HTTP/1.1\r\nhost: 127.0.0.1\r\nuPgRaDe: WebSocket\r\n'
           'connection: keep-alive, Upgrade\r\nsec-websocket-key: %s\r\n'
           'sec-websocket-version: 13\r\nUser-Agent: pgtest\r\n\r\n' % RFC_KEY).encode()
    w = handshake(d, request=req)
    tap.is_(w.status, 101, 'lower/mixed-case names, "Connection: keep-alive, Upgrade" (Firefox) answer 101')


def case_subprotocols(d):
    w = handshake(d, protocols=['chat.example', V1])
    tap.is_((w.status, w.headers.get('sec-websocket-protocol')), (101, V1),
            'pushgate.v1+json is selected from a list of offers')
    w = handshake(d, protocols=['chat.example'])
    tap.ok(w.status != 101 or w.headers.get('sec-websocket-protocol') in (None, ''),
           'an unknown subprotocol is never selected', '%d %r' % (w.status, w.headers))


def case_bad_handshakes(d):
    w = handshake(d, version='8')
    tap.is_(w.status, 426, 'Sec-WebSocket-Version: 8 answers 426')
    tap.ok('13' in w.headers.get('sec-websocket-version', ''), 'the 426 names Sec-WebSocket-Version: 13', repr(w.headers))
    w = handshake(d, version=None)
    tap.ok(w.status in (400, 426), 'no Sec-WebSocket-Version answers 400 or 426', 'status %d' % w.status)
    w = handshake(d, key=None)
    tap.is_(w.status, 400, 'no Sec-WebSocket-Key answers 400')
    w = handshake(d, key='c2hvcnQ=')
    tap.is_(w.status, 400, 'a Sec-WebSocket-Key that is not 16 bytes answers 400')
    w = handshake(d, key='!!!not base64!!!')
    tap.is_(w.status, 400, 'a Sec-WebSocket-Key that is not base64 answers 400')
    req = ('POST /sub/hs HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n' % RFC_KEY).encode()
    w = handshake(d, request=req)
    tap.ok(w.status != 101 and w.status >= 400, 'a POST upgrade is refused', 'status %d' % w.status)


def case_bad_channels(d):
    for path, what in (('/sub/bad!name', 'bad channel name'), ('/sub/' + 'a' * 129, '129-byte name'),
                       ('/sub/', 'empty name'), ('/sub/a,,b', 'empty name in a list')):
        w = handshake(d, path)
        tap.is_(w.status, 400, '%s on /sub answers 400' % what)
    w = handshake(d, '/pubsub/chat.a,chat.b')
    tap.is_(w.status, 400, '/pubsub with a channel list answers 400')
    w = handshake(d, '/pubsub/private.x')
    tap.is_(w.status, 403, '/pubsub on a channel outside client_publish answers 403')
    w = handshake(d, '/pubsub/chat.ok')
    tap.is_(w.status, 101, '/pubsub on a channel matching client_publish upgrades')
    w = handshake(d, '/pubsub/talk:ok')
    tap.is_(w.status, 101, '/pubsub on a channel matching the second client_publish glob upgrades')


def case_non_upgrade_get(d):
    # without Upgrade the same URL is a long-poll (fallback/): HEAD answers
    # at once with the cursor instead of holding
    r = http_request(d, 'HEAD', '/sub/' + uniq('nu'), listener='sub')
    tap.ok(r.status == 204 and r.headers.get('x-last-id'),
           'a GET/HEAD /sub without Upgrade is served by long-poll, not as a WebSocket (%s)' % r.status)


def case_garbage_request(d):
    raw = raw_http(d.port, b'\x16\x03\x01\x00\xa5garbage\r\n\r\n', timeout=3)
    st = parse_http_response(raw)[0]
    tap.ok(st == 0 or st == 400, 'garbage on the public listener gets 400 or a close', repr(raw[:80]))
    st, _ = publish(d, uniq('alive'), b'x')
    tap.ok(st in (201, 202), 'the daemon still works after the bad handshakes', 'status %s' % st)


def main():
    with Daemon(client_publish=['chat.*', 'talk:*']) as d:
        for case in (case_accept, case_tolerant_headers, case_subprotocols, case_bad_handshakes,
                     case_bad_channels, case_non_upgrade_get, case_garbage_request):
            tap.run(case, d)
    tap.done()


main()
