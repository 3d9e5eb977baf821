#!/usr/bin/python3
"""test_cors.py — the Origin rule and CORS on /sub and /pubsub for SSE,
long-poll, WebSocket and the OPTIONS preflight: no Origin allowed; the
request's own host[:port] allowed (Host, or a trusted proxy's
X-Forwarded-Host/-Proto); foreign hosts and other ports refused with 403
and no Access-Control-Allow-Origin; listed origins allowed with
credentials; "*" opens to all without credentials; Vary: Origin and
Access-Control-Expose-Headers: X-Last-Id, X-Gap on answers."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *
from fbutil import *

PARTNER = 'https://partner.example'


def same(d):
    return 'http://127.0.0.1:%d' % d.port


def lp(d, ch, origin=None, extra=None, method='GET'):
    h = {'Origin': origin} if origin else {}
    h.update(extra or {})
    return raw_request(d, method, '/sub/%s?last_id=1-1' % ch, h)


def sse_status(d, ch, origin, extra=None):
    h = {'Origin': origin} if origin else {}
    h.update(extra or {})
    with SSE(d, '/sub/' + ch, h) as s:
        return s.status, s.headers


def ws_status(d, ch, origin):
    with RawWS(d, '/sub/' + ch, headers={'Origin': origin} if origin else None) as w:
        return w.status


def case_default(d):
    ch = uniq('def')
    st, h, _ = lp(d, ch)
    tap.ok(st == 200 and 'access-control-allow-origin' not in h and 'origin' in h.get('vary', '').lower(),
           'no Origin: allowed, no CORS headers, Vary: Origin', repr((st, h)))
    st, h, _ = lp(d, ch, same(d))
    tap.ok(st == 200 and h.get('access-control-allow-origin') == same(d), 'same host:port allowed (long-poll)',
           repr((st, h)))
    tap.is_(h.get('access-control-expose-headers'), 'X-Last-Id, X-Gap', 'Expose-Headers: X-Last-Id, X-Gap')
    tap.ok('access-control-allow-credentials' not in h, 'no credentials for a same-host origin')
    st, h, body = lp(d, ch, 'http://evil.example')
    tap.ok(st == 403 and 'access-control-allow-origin' not in h and b'Origin' in body,
           'foreign Origin refused: 403, no Allow-Origin', repr((st, h, body)))
    st, h, _ = lp(d, ch, 'http://127.0.0.1:1')
    tap.is_(st, 403, 'same host, other port: refused')
    st, h, _ = lp(d, ch, 'null')
    tap.is_(st, 403, 'Origin null refused by default')
    st, h = sse_status(d, ch, same(d))
    tap.ok(st == 200 and h.get('access-control-allow-origin') == same(d), 'same host allowed (SSE)', repr(h))
    st, h = sse_status(d, ch, 'http://evil.example')
    tap.is_(st, 403, 'foreign Origin refused (SSE)')
    tap.is_(ws_status(d, ch, same(d)), 101, 'same host allowed (WebSocket)')
    tap.is_(ws_status(d, ch, 'http://evil.example'), 403, 'foreign Origin refused (WebSocket)')


def case_proxy(d):
    """trusted_proxies holds loopback (the default)."""
    ch = uniq('px')
    fwd = {'X-Forwarded-Host': 'shop.example', 'X-Forwarded-Proto': 'https'}
    st, h, _ = lp(d, ch, 'https://shop.example', fwd)
    tap.ok(st == 200 and h.get('access-control-allow-origin') == 'https://shop.example',
           'trusted proxy: X-Forwarded-Host/-Proto decide', repr((st, h)))
    st, h, _ = lp(d, ch, 'http://shop.example', fwd)
    tap.is_(st, 403, 'trusted proxy: a scheme other than X-Forwarded-Proto refused')
    st, h, _ = lp(d, ch, 'https://other.example', fwd)
    tap.is_(st, 403, 'trusted proxy: another host refused')
    tap.is_(ws_status(d, ch, same(d)), 101, 'WebSocket same host through the rule')


def case_untrusted_proxy():
    with Daemon(trusted_proxies='10.0.0.0/8') as d:
        st, h, _ = lp(d, uniq('ut'), 'https://shop.example',
                      {'X-Forwarded-Host': 'shop.example', 'X-Forwarded-Proto': 'https'})
        tap.is_(st, 403, 'an untrusted peer cannot claim a host with X-Forwarded-Host')
        st, h, _ = lp(d, uniq('ut'), same(d))
        tap.is_(st, 200, 'its own Host still counts')


def case_listed():
    with Daemon(allowed_origins=[PARTNER, 'http://localhost:3000']) as d:
        ch = uniq('li')
        st, h, _ = lp(d, ch, PARTNER)
        tap.ok(st == 200 and h.get('access-control-allow-origin') == PARTNER and
               h.get('access-control-allow-credentials') == 'true', 'listed Origin: allowed with credentials',
               repr((st, h)))
        st, h, _ = lp(d, ch, 'https://partner.example:443')
        tap.is_(st, 200, 'listed Origin with its default port written out')
        st, h, _ = lp(d, ch, 'http://localhost:3001')
        tap.is_(st, 403, 'unlisted port refused')
        st, h, _ = lp(d, ch, same(d))
        tap.ok(st == 200 and 'access-control-allow-credentials' not in h, 'same host still allowed, no credentials')
        st, h = sse_status(d, ch, PARTNER)
        tap.ok(st == 200 and h.get('access-control-allow-credentials') == 'true', 'listed Origin (SSE)', repr(h))
        tap.is_(ws_status(d, ch, PARTNER), 101, 'listed Origin (WebSocket)')
        tap.is_(ws_status(d, ch, 'https://evil.example'), 403, 'unlisted Origin (WebSocket)')


def case_star():
    with Daemon(allowed_origins='*') as d:
        ch = uniq('st')
        st, h, _ = lp(d, ch, 'http://anyone.example')
        tap.ok(st == 200 and h.get('access-control-allow-origin') == 'http://anyone.example' and
               'access-control-allow-credentials' not in h, '"*": any Origin, without credentials', repr((st, h)))
        tap.is_(ws_status(d, ch, 'http://anyone.example'), 101, '"*" (WebSocket)')
        st, h, _ = raw_request(d, 'OPTIONS', '/sub/' + ch, {'Origin': 'http://anyone.example',
                                                            'Access-Control-Request-Method': 'GET'})
        tap.ok(st == 204 and h.get('access-control-allow-origin') == 'http://anyone.example',
               '"*": preflight allowed', repr((st, h)))


def case_preflight(d):
    ch = uniq('pf')
    req = {'Origin': same(d), 'Access-Control-Request-Method': 'GET',
           'Access-Control-Request-Headers': 'last-event-id'}
    st, h, body = raw_request(d, 'OPTIONS', '/sub/' + ch, req)
    tap.is_(st, 204, 'preflight OPTIONS /sub: 204')
    tap.is_(h.get('access-control-allow-origin'), same(d), 'Allow-Origin echoes the Origin')
    tap.ok('GET' in h.get('access-control-allow-methods', '') and 'POST' not in h.get('access-control-allow-methods', ''),
           '/sub allows GET (not POST)', repr(h))
    tap.ok('last-event-id' in h.get('access-control-allow-headers', '').lower(), 'Last-Event-ID allowed', repr(h))
    tap.ok('origin' in h.get('vary', '').lower(), 'Vary: Origin on the preflight', repr(h))
    tap.is_(h.get('cache-control'), 'no-store', 'preflight not cached by HTTP caches')
    tap.is_(h.get('access-control-max-age'), '0', 'nor by the browser (Access-Control-Max-Age: 0)')
    req['Access-Control-Request-Method'] = 'POST'
    req['Access-Control-Request-Headers'] = 'x-event, content-type'
    st, h, body = raw_request(d, 'OPTIONS', '/pubsub/chat-' + ch, req)
    tap.ok(st == 204 and 'POST' in h.get('access-control-allow-methods', '') and
           'x-event' in h.get('access-control-allow-headers', '').lower(),
           'preflight OPTIONS /pubsub: POST and X-Event allowed', repr((st, h)))
    st, h, body = raw_request(d, 'OPTIONS', '/sub/' + ch, {'Origin': 'http://evil.example',
                                                          'Access-Control-Request-Method': 'GET'})
    tap.ok(st == 403 and 'access-control-allow-origin' not in h, 'preflight from a foreign Origin: 403',
           repr((st, h)))
    st, h, body = raw_request(d, 'OPTIONS', '/sub/' + ch)
    tap.ok(st == 204 and 'GET' in h.get('allow', '') and 'access-control-allow-methods' not in h,
           'OPTIONS without Origin: 204 with Allow only', repr((st, h)))


with Daemon(client_publish='chat-*') as d:
    for case in (case_default, case_proxy, case_preflight):
        tap.run(case, d)
tap.run(case_untrusted_proxy)
tap.run(case_listed)
tap.run(case_star)
tap.done()
