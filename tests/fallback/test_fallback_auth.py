#!/usr/bin/python3
"""test_fallback_auth.py — authorization (auth.h) on the fallback paths:
SSE and long-poll need a token for token_channels (401 without, 403 for a
token that does not grant the channel); JSONP is refused on channels that
need authorization even with a token (a <script> carries cookies, not
intent); POST /pubsub needs the token's "publish" claim; an SSE stream
ends with pushgate.error when its token expires."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *
from fbutil import *

SECRET = 'fallback-test-secret'
LEEWAY = 30


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def token(claims, secret=SECRET):
    head = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), ('%s.%s' % (head, body)).encode(), hashlib.sha256).digest()
    return '%s.%s.%s' % (head, body, b64(sig))


def tok(channels=None, publish=None, exp_in=300):
    c = {'exp': int(time.time()) + exp_in}
    if channels is not None:
        c['channels'] = channels
    if publish is not None:
        c['publish'] = publish
    return token(c)


def case_subscribe(d):
    ch = uniq('priv-')
    st, h, body = raw_request(d, 'GET', '/sub/%s?last_id=1-1' % ch)
    tap.ok(st == 401 and b'token' in body, 'long-poll without a token: 401', repr((st, body)))
    st, h, body = raw_request(d, 'GET', '/sub/' + ch, {'Accept': 'text/event-stream'})
    tap.is_(st, 401, 'SSE without a token: 401')
    st, h, body = raw_request(d, 'GET', '/sub/%s?last_id=1-1&token=%s' % (ch, tok(['other-*'])))
    tap.is_(st, 403, 'a token for other channels: 403')
    t = tok(['priv-*'])
    i = publish(d, ch, 'secret')[1]['id']
    st, h, body = raw_request(d, 'GET', '/sub/%s?last_id=1-1&token=%s' % (ch, t))
    tap.ok(st == 200 and json.loads(body)[-1]['id'] == i, 'long-poll with a granting token', repr((st, body)))
    with SSE(d, '/sub/%s?token=%s' % (ch, t)) as s:
        tap.is_(s.status, 200, 'SSE with a granting token')
    with SSE(d, '/sub/' + ch, {'Authorization': 'Bearer ' + t}) as s:
        tap.is_(s.status, 200, 'SSE with the token in Authorization: Bearer')
    pub_ch = uniq('open')
    st, h, body = raw_request(d, 'GET', '/sub/%s?last_id=1-1' % pub_ch)
    tap.is_(st, 200, 'a public channel needs no token')


def case_jsonp(d):
    ch = uniq('priv-')
    st, h, body = raw_request(d, 'GET', '/sub/%s?callback=cb&token=%s' % (ch, tok(['priv-*'])))
    tap.ok(st == 403 and b'JSONP' in body, 'JSONP on a channel that needs authorization: 403 even with a token',
           repr((st, body)))
    st, h, body = raw_request(d, 'GET', '/sub/%s,%s?callback=cb' % (uniq('pub'), ch))
    tap.is_(st, 403, 'JSONP on a mix of public and private channels: 403')
    st, h, body = raw_request(d, 'GET', '/sub/%s?callback=cb&last_id=1-1' % uniq('pub'))
    tap.ok(st == 200 and body.startswith(b'/**/cb('), 'JSONP on a public channel works', repr((st, body)))


def case_publish(d):
    ch = uniq('priv-')
    st, h, body = raw_request(d, 'POST', '/pubsub/' + ch, {}, b'x')
    tap.is_(st, 401, 'POST /pubsub to a token channel without a token: 401')
    st, h, body = raw_request(d, 'POST', '/pubsub/%s?token=%s' % (ch, tok(['priv-*'])), {}, b'x')
    tap.is_(st, 403, 'a token that may only subscribe: 403')
    st, h, body = raw_request(d, 'POST', '/pubsub/%s?token=%s' % (ch, tok(publish=['priv-*'])), {}, b'x')
    tap.ok(st in (201, 202) and json.loads(body).get('id'), 'a token with "publish": allowed', repr((st, body)))


def case_expiry(d):
    ch = uniq('priv-')
    t = tok(['priv-*'], exp_in=2 - LEEWAY)   # valid for about 2 more seconds (leeway)
    with SSE(d, '/sub/%s?token=%s' % (ch, t)) as s:
        tap.is_(s.status, 200, 'SSE with a token about to expire')
        t0 = time.monotonic()
        s.next()
        e = s.next(5)
        tap.ok(e is not None and e.type == 'pushgate.error' and e.json().get('code') == 401,
               'when the token expires: pushgate.error {"code":401}', repr(e))
        tap.ok(s.wait_eof(2), 'and the stream ends')
        tap.ok(0.5 <= time.monotonic() - t0 <= T(4), 'at about the expiry', '%.2f s' % (time.monotonic() - t0))


with Daemon(token_secret=SECRET, token_channels='priv-*', client_publish='priv-*') as d:
    for case in (case_subscribe, case_jsonp, case_publish, case_expiry):
        tap.run(case, d)
tap.done()
