#!/usr/bin/python3
"""test_auth_token.py — subscriber tokens (HS256 JWT under token_secret)
on channels matching token_channels: taken from ?token=, the cookie
pushgate_token or Authorization: Bearer; a WebSocket with a missing,
expired, not-yet-valid, forged, alg-none or wrong-channel token is
accepted (101) and closed at once with 1008 and the reason; an open
WebSocket is closed with 1008 when its token expires; /pubsub needs the
"publish" claim; SSE / long-poll answer 401/403 (TODO until fallback/ calls
pg_auth_check), and an SSE stream ends when its token expires; JSONP is
refused on channels that need authorization; no token ever reaches the
log."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from authlib import *  # noqa: E402,F403

require_websockets()

minted = []


def tok(**claims):
    t = mint(claims)
    minted.append(t)
    return t


def case_public(d):
    ch = 'pub.' + uniq('p')
    ok, diag = ws_allowed(d, '/sub/' + ch, ch)
    tap.ok(ok, 'a channel outside token_channels needs no token', diag)


def case_carriers(d):
    ch = 'private.' + uniq('c')
    t = tok(channels=['private.*'])
    ok, diag = ws_allowed(d, '/sub/%s?token=%s' % (ch, t), ch)
    tap.ok(ok, 'token in ?token= lets the WebSocket subscribe', diag)
    ok, diag = ws_allowed(d, '/sub/' + ch, ch, headers={'Cookie': 'a=1; pushgate_token=%s; b=2' % t})
    tap.ok(ok, 'token in the pushgate_token cookie lets it subscribe', diag)
    ok, diag = ws_allowed(d, '/sub/' + ch, ch, headers={'Authorization': 'Bearer ' + t})
    tap.ok(ok, 'token in Authorization: Bearer lets it subscribe', diag)
    ok, diag = ws_allowed(d, '/sub/%s?token=%s' % (ch, t), ch, headers={'Authorization': 'Basic dXNlcjpwdw=='})
    tap.ok(ok, 'an Authorization header of another scheme does not hide ?token=', diag)


def case_refusals(d):
    ch = 'private.' + uniq('r')
    now = int(time.time())
    cases = [
        ('no token at all', None, 'needs a token'),
        ('an expired token', tok(channels=['private.*'], exp=now - 100), 'expired'),
        ('a token not valid yet (nbf)', tok(channels=['private.*'], nbf=now + 100), 'not valid yet'),
        ('a forged token (other key)', mint({'channels': ['private.*']}, secret='not-the-key'), 'signature'),
        ('an alg none token', mint({'channels': ['private.*']}, header={'alg': 'none'}, sign=False), ''),
        ('a token for other channels', tok(channels=['private.other']), 'does not allow subscribing'),
        ('a publish-only token', tok(publish=['private.*']), 'does not allow subscribing'),
        ('a malformed token', 'abc.def', ''),
    ]
    for what, t, reason in cases:
        path = '/sub/' + ch + ('?token=' + t if t else '')
        st, code, why = ws_refused(d, path)
        tap.ok(st == 101 and code == 1008 and reason in why,
               'WebSocket with %s: 101 then close 1008 (%s)' % (what, why),
               'status %r code %r reason %r' % (st, code, why))


def case_multi(d):
    a, b = 'private.' + uniq('ma'), 'private.' + uniq('mb')
    pub = 'pub.' + uniq('mp')
    only_a = tok(channels=[a])
    st, code, why = ws_refused(d, '/sub/%s,%s?token=%s' % (a, b, only_a))
    tap.ok(code == 1008 and b in why, 'a multi-channel subscription is refused when one channel is not granted',
           'code %r reason %r' % (code, why))
    both = tok(channels=[a, b])
    ok, diag = ws_allowed(d, '/sub/%s,%s,%s?token=%s' % (a, b, pub, both), b)
    tap.ok(ok, 'granted and public channels together are allowed', diag)


async def case_expiry_closes(d):
    ch = 'private.' + uniq('e')
    # exp is 27 s in the past: still valid for 3 s thanks to the 30 s leeway
    t = tok(channels=['private.*'], exp=int(time.time()) - 27)
    w = RawWS(d, '/sub/%s?token=%s' % (ch, t))
    try:
        tap.is_(w.status, 101, 'a token inside the leeway is accepted')
        publish(d, ch, 'before expiry')
        frames, how = w.recv_frames(2, until=lambda f: f.opcode == OP_TEXT)
        tap.ok(any(f.payload == b'before expiry' for f in frames), 'and delivers messages', repr(frames))
        start = time.monotonic()
        code, reason, frames, how = w.expect_close(8)
        took = time.monotonic() - start
        tap.ok(code == 1008 and b'expired' in reason,
               'the open WebSocket is closed with 1008 when its token expires (after %.1f s)' % took,
               'code %r reason %r how %s' % (code, reason, how))
    finally:
        w.close()


async def case_pubsub_claim(d):
    ch = 'private.' + uniq('ps')
    sub_only = tok(channels=['private.*'])
    st, code, why = ws_refused(d, '/pubsub/%s?token=%s' % (ch, sub_only))
    tap.ok(code == 1008 and 'publishing' in why, '/pubsub with a token lacking "publish" is closed 1008',
           'code %r reason %r' % (code, why))
    both = tok(channels=['private.*'], publish=[ch])
    async with ws_connect(d, '/sub/%s?token=%s' % (ch, both)) as sub, \
            ws_connect(d, '/pubsub/%s?token=%s' % (ch, both)) as pub:
        await pub.send('from a client')
        tap.is_(await recv(sub), 'from a client', '/pubsub with the publish claim publishes')


def case_fallback(d):
    ch = 'private.' + uniq('f')
    wired = fallback_wired()
    rows = [
        ('SSE without a token', '/sub/%s' % ch, {'Accept': 'text/event-stream'}, 401),
        ('SSE with a wrong-channel token', '/sub/%s?token=%s' % (ch, tok(channels=['x.*'])),
         {'Accept': 'text/event-stream'}, 403),
        ('long-poll without a token', '/sub/%s?transport=longpoll' % ch, {}, 401),
        ('long-poll with an expired token', '/sub/%s?transport=longpoll&token=%s'
         % (ch, tok(channels=['private.*'], exp=int(time.time()) - 100)), {}, 401),
    ]
    for what, path, headers, want in rows:
        st, h, body = http_get(d, path, headers, timeout=2)
        good = st == want and body.strip().startswith(b'{"error":')
        name = '%s: %d with a one-line JSON reason (got %d)' % (what, want, st)
        tap.ok(good, name, repr(body[:200]))
    t = tok(channels=['private.*'], publish=[ch])
    r = http_request(d, 'POST', '/pubsub/%s?token=%s' % (ch, t), body=b'posted', listener='sub')
    tap.ok(r.status in (201, 202), 'POST /pubsub with the publish claim publishes (got %d)' % r.status)
    r = http_request(d, 'POST', '/pubsub/%s' % ch, body=b'posted', listener='sub')
    name = 'POST /pubsub without a token: 401 (got %d)' % r.status
    tap.ok(r.status == 401, name)


def case_jsonp(d):
    ch, pub = 'private.' + uniq('j'), 'pub.' + uniq('j')
    t = tok(channels=['private.*'])
    st, h, body = http_get(d, '/sub/%s?transport=longpoll&callback=cb&token=%s' % (ch, t), timeout=3)
    name = 'JSONP on a channel that needs authorization: 403 even with a valid token (got %d)' % st
    if fallback_wired():
        tap.ok(st == 403 and b'JSONP' in body, name, repr(body[:200]))
    else:
        tap.ok(st == 403, name)
    st, h, body = http_get(d, '/sub/%s?transport=longpoll&callback=cb' % pub, timeout=3)
    tap.ok(st == 200 and b'cb({' in body, 'JSONP on a public channel works (%d)' % st, repr(body[:200]))


def case_sse_expiry(d):
    ch = 'private.' + uniq('se')
    t = tok(channels=['private.*'], exp=int(time.time()) - 27)
    req = ('GET /sub/%s?token=%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n' % (ch, t)).encode()
    start = time.monotonic()
    s = socket.create_connection(('127.0.0.1', d.port), timeout=T(8))
    try:
        s.sendall(req)
        data, eof = b'', False
        deadline = time.monotonic() + T(8)
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                eof = True
                break
            data += chunk
        took = time.monotonic() - start
    finally:
        s.close()
    good = data.startswith(b'HTTP/1.1 200') and eof and took > 1.5
    name = 'an SSE stream whose token expires ends at expiry (%.1f s)' % took
    if fallback_wired():
        tap.ok(good, name, repr(data[:300]))
    else:
        tap.ok(good, name)


def case_redacted(d):
    log = d.log_text()
    leaked = [t for t in minted if t.split('.')[-1] and t.split('.')[-1] in log]
    tap.ok(not leaked and len(log) > 0, 'no token (nor its signature) appears in the debug log',
           'leaked: %r' % leaked[:2])


with Daemon(token_secret=SECRET, token_channels='private.*', client_publish='chat.* private.*',
            longpoll_hold='1s') as d:
    for case in (case_public, case_carriers, case_refusals, case_multi, case_expiry_closes,
                 case_pubsub_claim, case_fallback, case_jsonp, case_sse_expiry, case_redacted):
        tap.run(case, d)
tap.done()
