#!/usr/bin/python3
"""test_pubsub_post.py — POST /pubsub/<channel> on the public listener:
publishes the body under the client-publishing rules (client_publish
globs, the Origin rule, X-Event or ?event=, max_message_size,
pubsub_rate_limit) and answers like the publish API; subscribers on every
transport get the message."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *
from fbutil import *

MAX = 4096
RATE = 5


def post(d, path, body, headers=None):
    h = {'Content-Type': 'text/plain;charset=UTF-8'}
    h.update(headers or {})
    return raw_request(d, 'POST', path, h, body.encode() if isinstance(body, str) else body)


def case_publish(d):
    ch = uniq('chat-')
    with SSE(d, '/sub/%s?format=json' % ch) as s:
        s.next()
        st, h, body = post(d, '/pubsub/' + ch, 'hello', {'X-Event': 'chat.msg', 'Origin': 'http://127.0.0.1:%d' % d.port})
        j = json.loads(body)
        tap.ok(st in (201, 202) and j.get('channel') == ch and j.get('id'), 'POST /pubsub publishes (publish API answer)',
               repr((st, body)))
        tap.is_(st, 201, '201: it reached a subscriber')
        tap.is_(h.get('cache-control'), 'no-store', 'Cache-Control: no-store')
        tap.is_(h.get('access-control-allow-origin'), 'http://127.0.0.1:%d' % d.port, 'CORS headers on the answer')
        e = s.next()
        tap.is_(e.json() if e else None, {'id': j.get('id'), 'channel': ch, 'event': 'chat.msg', 'data': 'hello'},
                'an SSE subscriber receives it with its event name')
        st, h, body = post(d, '/pubsub/%s?event=other.ev' % ch, 'q')
        e = s.next()
        tap.ok(st == 201 and e and e.json()['event'] == 'other.ev', '?event= names the event', repr((st, body)))
        st, h, body = post(d, '/pubsub/' + ch, 'plain')
        e = s.next()
        tap.ok(st == 201 and e and e.json()['event'] is None, 'no event name: event null')
    st, info = channel_info(d, ch)
    tap.is_(info.get('messages'), 3, 'three messages in history')
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch, '1-1'))
    tap.ok(st == 200 and [m['data'] for m in json.loads(body) if 'data' in m] == ['hello', 'q', 'plain'],
           'long-poll sees them too', repr(body))


def case_refused(d):
    ch = uniq('chat-')
    st, h, body = post(d, '/pubsub/' + uniq('private'), 'x')
    tap.ok(st == 403 and b'client_publish' in body, 'channel outside client_publish: 403', repr((st, body)))
    st, h, body = post(d, '/pubsub/' + ch, 'x', {'Origin': 'http://evil.example'})
    tap.ok(st == 403 and b'Origin' in body and 'access-control-allow-origin' not in h,
           'foreign Origin: 403', repr((st, h, body)))
    for hdr, what in (({'X-Event': 'pushgate.fake'}, 'reserved event name'), ({'X-Event': 'bad name'}, 'invalid event'),
                      ({'X-Event': ''}, 'empty X-Event')):
        st, h, body = post(d, '/pubsub/' + ch, 'x', hdr)
        tap.is_(st, 400, '%s: 400' % what)
    st, h, body = post(d, '/pubsub/%s?event=' % ch, 'x')
    tap.is_(st, 400, 'empty ?event=: 400')
    st, h, body = post(d, '/pubsub/' + ch, 'y' * (MAX + 1))
    tap.is_(st, 413, 'over max_message_size: 413')
    st, h, body = post(d, '/pubsub/%s,%s' % (ch, uniq('chat-')), 'x')
    tap.is_(st, 400, 'one channel only')
    st, info = channel_info(d, ch)
    tap.is_(st, 404, 'nothing refused was published')


def case_rate_limit(d):
    ch = uniq('chat-')
    time.sleep(1.05)
    codes = [post(d, '/pubsub/' + ch, 'r%d' % i)[0] for i in range(RATE + 3)]
    tap.ok(codes[:RATE] == [202] * RATE and all(c == 429 for c in codes[RATE:]),
           'pubsub_rate_limit=%d per second per client: then 429' % RATE, repr(codes))
    time.sleep(1.1)
    tap.is_(post(d, '/pubsub/' + ch, 'later')[0], 202, 'allowed again in the next second')
    codes = [post(d, '/pubsub/' + ch, 'f', {'X-Forwarded-For': '203.0.113.%d' % i})[0] for i in range(RATE + 3)]
    tap.ok(all(c == 202 for c in codes), 'behind a trusted proxy each forwarded client counts alone', repr(codes))


with Daemon(client_publish='chat-*', max_message_size=MAX, pubsub_rate_limit=RATE) as d:
    for case in (case_publish, case_refused, case_rate_limit):
        tap.run(case, d)
tap.done()
