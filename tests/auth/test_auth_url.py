#!/usr/bin/python3
"""test_auth_url.py — the session check over HTTP (auth_url) against a
small Python server on a free loopback port: the subscriber's Cookie,
Origin and X-Pushgate-Channels reach it; a 2xx answer lets the WebSocket
subscribe, a 403 is passed back (101 then 1008 with the server's short
body); allow answers are cached for auth_cache_ttl (the server counts its
hits) and refusals are not; with auth_cache_ttl 0 every subscription asks;
a valid token granting the channel skips the check; a slow server gives
"session check timed out", an absent one "could not be made"; a client
that leaves while its check runs costs nothing; https:// verifies the
server against SSL_CERT_FILE; SSE gets the refusal as HTTP status (TODO
until fallback/ calls pg_auth_check)."""

import os
import ssl
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from authlib import *  # noqa: E402,F403

require_websockets()


def case_allow_and_forward(d, srv):
    ch = 'order-' + uniq('a')
    other = 'order-' + uniq('b')
    hdr = {'Cookie': 'session=good; theme=dark', 'Origin': 'http://127.0.0.1:%d' % d.port}
    ok, diag = ws_allowed(d, '/sub/%s,%s' % (ch, other), ch, headers=hdr)
    tap.ok(ok, 'a 2xx session check lets the WebSocket subscribe', diag)
    last = srv.last
    tap.is_(last.get('x-pushgate-channels'), '%s,%s' % (ch, other), 'X-Pushgate-Channels names the channels')
    tap.is_(last.get('cookie'), 'session=good; theme=dark', 'the Cookie header is forwarded')
    tap.is_(last.get('origin'), hdr['Origin'], 'the Origin header is forwarded')
    tap.is_(last.get('path'), '/check?site=1', 'the URL path and query are used as configured')


def case_deny(d, srv):
    ch = 'order-' + uniq('d')
    st, code, why = ws_refused(d, '/sub/' + ch, headers={'Cookie': 'session=bad'})
    tap.ok(st == 101 and code == 1008 and why == 'not logged in',
           'a 403 session check: 101 then 1008 with the server\'s short body as reason',
           'status %r code %r reason %r' % (st, code, why))
    st, code, why = ws_refused(d, '/sub/' + ch, headers={'Cookie': 'session=long'})
    tap.ok(code == 1008 and 'HTTP 403' in why, 'a long body is not passed on, the status is',
           'code %r reason %r' % (code, why))
    n = srv.hits('session=bad')
    ws_refused(d, '/sub/' + ch, headers={'Cookie': 'session=bad'})
    tap.is_(srv.hits('session=bad'), n + 1, 'a refusal is not cached: the next attempt asks again')


def case_cache(d, srv):
    ch = 'order-' + uniq('c')
    cookie = 'session=good; n=%s' % uniq('k')
    for i in range(3):
        ok, diag = ws_allowed(d, '/sub/' + ch, ch, headers={'Cookie': cookie})
        tap.ok(ok, 'subscription %d with the same cookie is allowed' % (i + 1), diag)
    tap.is_(srv.hits(cookie), 1, 'within auth_cache_ttl the server was asked once')
    ok, _ = ws_allowed(d, '/sub/' + ch, ch, headers={'Cookie': cookie, 'Origin': 'http://127.0.0.1:%d' % d.port})
    tap.is_(srv.hits(cookie), 2, 'another Origin is another cache entry')


def case_token_skips(d, srv):
    ch = 'order-' + uniq('t')
    t = mint({'channels': ['order-*']})
    before = srv.total
    ok, diag = ws_allowed(d, '/sub/%s?token=%s' % (ch, t), ch)
    tap.ok(ok and srv.total == before, 'a valid token granting the channel skips the session check',
           '%s, server asked %d time(s)' % (diag, srv.total - before))


def case_two_rules(d, srv):
    a, b = 'order-' + uniq('ra'), 'shop-' + uniq('rb')
    cookie = 'session=good; two=%s' % uniq('r')
    ok, diag = ws_allowed(d, '/sub/%s,%s' % (a, b), b, headers={'Cookie': cookie})
    tap.ok(ok, 'channels under two rules: both checks pass, the subscription is allowed', diag)
    tap.is_(srv.hits(cookie), 2, 'one check per rule')


def case_timeout(d, srv):
    ch = 'order-' + uniq('s')
    start = time.monotonic()
    st, code, why = ws_refused(d, '/sub/' + ch, headers={'Cookie': 'session=slow'}, timeout=8)
    took = time.monotonic() - start
    tap.ok(code == 1008 and why == 'session check timed out' and took < T(5),
           'a session check slower than header_timeout: 1008 "session check timed out" (%.1f s)' % took,
           'code %r reason %r' % (code, why))


def case_client_leaves(d, srv):
    ch = 'order-' + uniq('l')
    s = socket.create_connection(('127.0.0.1', d.port), timeout=T(3))
    s.sendall(('GET /sub/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
               'Cookie: session=slow\r\n\r\n' % ch).encode())
    time.sleep(0.3)
    s.close()
    ok, diag = ws_allowed(d, '/sub/' + ch, ch, headers={'Cookie': 'session=good'})
    tap.ok(ok, 'a client that leaves during its check does not disturb the next one', diag)


def case_fallback(d, srv):
    ch = 'order-' + uniq('f')
    wired = fallback_wired()
    check = tap.ok
    st, h, body = http_get(d, '/sub/' + ch, {'Accept': 'text/event-stream', 'Cookie': 'session=bad'}, timeout=2)
    check(st == 403 and b'not logged in' in body,
          'SSE refused by the session check: 403 with the reason (got %d)' % st, repr(body[:200]))
    # SSE allowed after a check: the saved request is replayed into a stream
    cookie = 'session=good; sse=%s' % uniq('s')
    s = socket.create_connection(('127.0.0.1', d.port), timeout=T(3))
    try:
        s.sendall(('GET /sub/%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nCookie: %s\r\n\r\n'
                   % (ch, cookie)).encode())
        data = b''
        while b'pushgate.open' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        publish(d, ch, 'to the stream')
        while b'to the stream' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    check(data.startswith(b'HTTP/1.1 200') and b'data: to the stream' in data and srv.hits(cookie) == 1,
          'SSE allowed by the session check streams messages', repr(data[:300]))
    # POST /pubsub: the saved request is replayed with its body
    async def post_and_receive():
        async with ws_connect(d, '/sub/' + ch, extra_headers={'Cookie': 'session=good'}) as sub:
            r = http_request(d, 'POST', '/pubsub/' + ch, body=b'posted after the check',
                             headers={'Cookie': 'session=good; post=%s' % uniq('p')}, listener='sub')
            check(r.status in (201, 202), 'POST /pubsub allowed by the session check publishes (%d)' % r.status)
            check(await recv(sub) == 'posted after the check', 'with its body intact')
        r = http_request(d, 'POST', '/pubsub/' + ch, body=b'x', headers={'Cookie': 'session=bad'}, listener='sub')
        check(r.status == 403, 'POST /pubsub refused by the session check: 403 (%d)' % r.status)
    run(post_and_receive())


def case_no_cache(srv):
    with Daemon(auth_url='order-* ' + srv.url('/check'), auth_cache_ttl='0') as d:
        ch = 'order-' + uniq('n')
        cookie = 'session=good; nc=%s' % uniq('n')
        for i in range(2):
            ok, diag = ws_allowed(d, '/sub/' + ch, ch, headers={'Cookie': cookie})
            tap.ok(ok, 'auth_cache_ttl 0: subscription %d is allowed (the answer is not looped)' % (i + 1), diag)
        tap.is_(srv.hits(cookie), 2, 'auth_cache_ttl 0: every subscription asks')


def case_unreachable():
    port = free_port()
    with Daemon(auth_url='order-* http://127.0.0.1:%d/check' % port) as d:
        st, code, why = ws_refused(d, '/sub/order-x', headers={'Cookie': 'session=good'})
        tap.ok(code == 1008 and why == 'the session check could not be made',
               'an unreachable auth_url: 1008 "the session check could not be made"',
               'code %r reason %r' % (code, why))
        tap.ok('session check(s) failed' in d.log_text(), 'and the log says why')


def case_hostname():
    with AuthServer() as srv, Daemon(auth_url='order-* ' + srv.url(host='localhost')) as d:
        ok, diag = ws_allowed(d, '/sub/order-h', 'order-h', headers={'Cookie': 'session=good'})
        tap.ok(ok and srv.total == 1, 'an auth_url naming a host (localhost, from /etc/hosts) works', diag)


def make_cert(dirname):
    key, crt = os.path.join(dirname, 'k.pem'), os.path.join(dirname, 'c.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', key, '-out', crt], check=True, capture_output=True, timeout=60)
    return key, crt


def case_https():
    tmp = tempfile.mkdtemp(prefix='pgtls.')
    try:
        https_checks(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def https_checks(tmp):
    key, crt = make_cert(tmp)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    with AuthServer(tls_ctx=ctx) as srv:
        env = dict(os.environ, SSL_CERT_FILE=crt)
        with Daemon(auth_url='order-* ' + srv.url('/check', scheme='https'), env=env) as d:
            ok, diag = ws_allowed(d, '/sub/order-tls', 'order-tls', headers={'Cookie': 'session=good'})
            tap.ok(ok, 'https:// auth_url with a trusted certificate allows', diag)
        with Daemon(auth_url='order-* ' + srv.url('/check', scheme='https')) as d:
            st, code, why = ws_refused(d, '/sub/order-tls', headers={'Cookie': 'session=good'})
            tap.ok(code == 1008 and 'could not be made' in why,
                   'https:// auth_url with an untrusted certificate is not trusted', 'code %r %r' % (code, why))
            tap.ok('TLS' in d.log_text() or 'certificate' in d.log_text(), 'and the log says it was TLS',
                   d.log_text()[-600:])


with AuthServer(slow_s=T(4)) as srv:
    rules = ['order-* ' + srv.url('/check?site=1'), 'shop-* ' + srv.url('/shop')]
    with Daemon(auth_url=rules, header_timeout='2s', token_secret=SECRET, client_publish='order-*') as d:
        for case in (case_allow_and_forward, case_deny, case_cache, case_token_skips, case_two_rules,
                     case_timeout, case_client_leaves, case_fallback):
            tap.run(case, d, srv)
    tap.run(case_no_cache, srv)
tap.run(case_unreachable)
tap.run(case_hostname)
tap.run(case_https)
tap.done()
