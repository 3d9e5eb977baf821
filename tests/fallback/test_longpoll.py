#!/usr/bin/python3
"""test_longpoll.py — long-poll on /sub/<channels>: 204 with X-Last-Id when
longpoll_hold (1 s here) passes; ?last_id= answers at once from history; a
held poll answers when a message arrives, with everything that arrived in
that loop iteration; X-Last-Id semantics (last message element, else the
current cursor, so a gap is reported once); 200 rapid publishes while no
poll is outstanding are all delivered once, in order, by the following
polls (and by a poller running during the burst); gap and deleted
elements; JSONP (valid and invalid callbacks, 200 on timeout, U+2028
escaped); keep-alive and a pipelined request behind a held poll; a client
that goes away is unsubscribed; a held poll is answered at shutdown."""

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *
from fbutil import *

HOLD = 1.0


def pub(d, ch, body, event=None):
    st, j = publish(d, ch, body, event=event)
    assert st in (201, 202), (st, j)
    return j['id'] if 'id' in j else [m['id'] for m in j['messages']]


def cursor_now(d):
    """The current cursor, from a publish on a scratch channel."""
    return pub(d, uniq('cur'), 'cursor')


def case_hold_timeout(d):
    ch = uniq('hold')
    before = cursor_now(d)
    st, h, body, dt = poll(d, '/sub/' + ch)
    tap.is_(st, 204, 'no message within longpoll_hold: 204')
    tap.is_(body, b'', '204 has no body')
    tap.ok(HOLD * 0.8 <= dt <= T(HOLD + 1.0), 'after about longpoll_hold (1 s)', '%.2f s' % dt)
    tap.is_(h.get('x-last-id'), before, 'X-Last-Id: the current cursor')
    tap.is_(h.get('cache-control'), 'no-store', 'Cache-Control: no-store')
    tap.ok('origin' in h.get('vary', '').lower(), 'Vary: Origin')


def case_buffered(d):
    ch = uniq('buf')
    ids = [pub(d, ch, 'b%d' % i, event='e' if i == 1 else None) for i in range(4)]
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch, ids[0]))
    tap.is_(st, 200, 'last_id with buffered messages: 200')
    tap.ok(dt < T(0.5), 'at once', '%.2f s' % dt)
    tap.is_(h.get('content-type'), 'application/json', 'application/json')
    items = json.loads(body)
    tap.is_(items, [{'id': ids[i], 'channel': ch, 'event': 'e' if i == 1 else None, 'data': 'b%d' % i}
                    for i in (1, 2, 3)], 'a JSON array of {"id","channel","event","data"} after that id')
    tap.is_(h.get('x-last-id'), ids[3], 'X-Last-Id: the last message element')
    tap.ok('x-gap' not in h, 'no X-Gap')
    i = pub(d, ch, b'\xff\x00')
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch, ids[3]))
    tap.is_(json.loads(body), [{'id': i, 'channel': ch, 'event': None, 'data': '/wA=', 'encoding': 'base64'}],
            'binary: base64 data with "encoding":"base64"')


def case_live(d):
    ch = uniq('live')
    result = {}

    def waiter():
        result['r'] = poll(d, '/sub/' + ch)

    t = threading.Thread(target=waiter)
    t.start()
    poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers'), 2)
    i = pub(d, ch, 'now')
    t.join(T(5))
    st, h, body, dt = result['r']
    tap.is_(st, 200, 'a held poll answers when a message arrives')
    tap.ok(dt < T(HOLD * 0.9), 'before the hold time', '%.2f s' % dt)
    tap.is_([m['id'] for m in json.loads(body)], [i], 'with that message')
    tap.is_(h.get('x-last-id'), i, 'X-Last-Id is its id')
    tap.is_((channel_info(d, ch)[1] or {}).get('subscribers'), 0, 'the poll is unsubscribed after answering')


def case_same_iteration(d):
    a, b = uniq('ia'), uniq('ib')
    result = {}

    def waiter():
        result['r'] = poll(d, '/sub/%s,%s' % (a, b))

    t = threading.Thread(target=waiter)
    t.start()
    poll_until(lambda: (channel_info(d, b)[1] or {}).get('subscribers'), 2)
    ids = pub(d, '%s,%s' % (a, b), 'both')
    t.join(T(5))
    st, h, body, dt = result['r']
    tap.is_([m['id'] for m in json.loads(body)], ids,
            'one publish to two channels: both messages in one answer (everything of that loop iteration)')


def case_burst(d):
    """200 rapid publishes while no poll is outstanding, then polls."""
    ch = uniq('burst')
    start = cursor_now(d)
    ids = [pub(d, ch, 'n%d' % i) for i in range(200)]
    got, cur, polls = [], start, 0
    with Poller(d) as p:
        while polls < 20:
            st, h, body, dt = p.get('/sub/%s?last_id=%s' % (ch, cur))
            polls += 1
            if st == 204:
                break
            got += json.loads(body)
            cur = h['x-last-id']
    tap.is_([m['id'] for m in got], ids, '200 rapid publishes: every message once, in order')
    tap.is_(cur, ids[-1], 'the cursor ends at the last message')


def case_burst_while_polling(d):
    ch = uniq('bwp')
    start = cursor_now(d)
    got, stop = [], threading.Event()
    errors = []

    def poller():
        cur = start
        with Poller(d) as p:
            while not stop.is_set() or cur != want[-1]:
                st, h, body, dt = p.get('/sub/%s?last_id=%s' % (ch, cur))
                if st == 200:
                    got.extend(json.loads(body))
                elif st != 204:
                    errors.append(st)
                    return
                cur = h['x-last-id']
                if stop.is_set() and st == 204:
                    return

    want = [None]
    t = threading.Thread(target=poller)
    t.start()
    want[:] = [pub(d, ch, 'w%d' % i) for i in range(200)]
    stop.set()
    t.join(T(20))
    tap.is_(errors, [], 'no poll error')
    tap.is_([m['id'] for m in got], want, '200 publishes during a poll loop: none lost, none repeated')


def case_cursor_semantics(d):
    """history_size=300: evict by a cursor of another epoch."""
    ch = uniq('sem')
    other = '1-5'
    i = pub(d, ch, 'kept')
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch, other))
    items = json.loads(body)
    tap.is_(items[0], {'type': 'gap', 'channels': [ch], 'id': other}, 'a gap element first')
    tap.is_(h.get('x-gap'), '1', 'X-Gap: 1')
    tap.is_(h.get('x-last-id'), i, 'X-Last-Id: the last message element')
    ch2 = uniq('sem2')
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch2, other))
    tap.is_((st, json.loads(body)), (200, [{'type': 'gap', 'channels': [ch2], 'id': other}]),
            'only a gap element when nothing is retained')
    cur = h.get('x-last-id')
    tap.ok(cur and not cur.startswith('1-') and h.get('x-gap') == '1',
           'X-Last-Id: the current cursor when the answer holds no message', repr(h))
    st, h, body, dt = poll(d, '/sub/%s?last_id=%s' % (ch2, cur))
    tap.ok(st == 204 and 'x-gap' not in h, 'polling again with it: no second gap, just the hold', repr((st, h)))


def case_deleted(d):
    ch = uniq('del')
    result = {}

    def waiter():
        result['r'] = poll(d, '/sub/' + ch)

    t = threading.Thread(target=waiter)
    t.start()
    poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers'), 2)
    delete_channel(d, ch)
    t.join(T(5))
    st, h, body, dt = result['r']
    tap.is_((st, json.loads(body)), (200, [{'type': 'deleted', 'channel': ch}]),
            'a deleted channel: a {"type":"deleted"} element')


def jsonp_parts(body):
    m = re.match(rb'^/\*\*/([A-Za-z_$][\w$.\[\]]*)\((.*)\);\n?$', body, re.S)
    return (m.group(1).decode(), json.loads(m.group(2))) if m else (None, None)


def case_jsonp(d):
    ch = uniq('jp')
    ids = [pub(d, ch, 'p%d' % i) for i in range(3)]
    st, h, body, dt = poll(d, '/sub/%s?callback=app.cb%%5B2%%5D&last_id=%s' % (ch, ids[0]))
    name, obj = jsonp_parts(body)
    tap.is_(st, 200, 'JSONP: 200')
    tap.ok(h.get('content-type', '').startswith('application/javascript'), 'application/javascript', repr(h))
    tap.is_(h.get('x-content-type-options'), 'nosniff', 'X-Content-Type-Options: nosniff')
    tap.is_(name, 'app.cb[2]', 'the callback wraps the answer (after /**/)')
    tap.is_(obj, {'messages': [{'id': ids[i], 'channel': ch, 'event': None, 'data': 'p%d' % i} for i in (1, 2)],
                  'last_id': ids[2], 'gap': False}, '{"messages":[...],"last_id":"...","gap":false}')
    st, h, body, dt = poll(d, '/sub/%s?callback=cb&last_id=%s' % (ch, ids[2]))
    name, obj = jsonp_parts(body)
    tap.ok(st == 200 and obj == {'messages': [], 'last_id': obj and obj['last_id'], 'gap': False} and obj['last_id'],
           'JSONP hold timeout: 200 with no messages and the cursor', repr((st, body)))
    st, h, body, dt = poll(d, '/sub/%s?callback=cb&last_id=1-1' % ch)
    name, obj = jsonp_parts(body)
    tap.ok(obj and obj['gap'] is True and obj['messages'][0]['type'] == 'gap', 'JSONP gap: "gap":true', repr(body))
    i = pub(d, ch, 'line\u2028sep\u2029para')
    st, h, body, dt = poll(d, '/sub/%s?callback=cb&last_id=%s' % (ch, ids[2]))
    name, obj = jsonp_parts(body)
    tap.ok(b'\\u2028' in body and b'\\u2029' in body and '\u2028'.encode() not in body,
           'U+2028/U+2029 escaped in JSONP', repr(body))
    tap.is_(obj and obj['messages'][0]['data'], 'line\u2028sep\u2029para', 'and decode to the same text')
    for bad in ('alert(1)', '1x', 'a..b', 'a%20b', 'x%3Balert(1)', 'a[b]', 'a' * 200, ''):
        st, h, body, dt = poll(d, '/sub/%s?callback=%s' % (ch, bad))
        tap.ok(st == 400 and b'callback' in body, 'invalid callback %r: 400' % bad[:20], repr((st, body)))


def case_keepalive_pipelined(d):
    ch = uniq('ka')
    with Poller(d) as p:
        st1, h1, _, _ = p.get('/sub/' + ch)
        i = pub(d, ch, 'x')
        st2, h2, body, _ = p.get('/sub/%s?last_id=%s' % (ch, h1['x-last-id']))
        tap.ok(st1 == 204 and st2 == 200 and json.loads(body)[0]['id'] == i,
               'two polls on one keep-alive connection', repr((st1, st2, body)))
    with socket.create_connection(('127.0.0.1', d.port), timeout=T(5)) as s:
        req = request_bytes(d, 'GET', '/sub/' + ch) + request_bytes(d, 'GET', '/sub/%s?last_id=%s' % (ch, '1-1'))
        s.sendall(req)
        buf = recv_replies(s, 2, T(4))
        tap.ok(buf.startswith(b'HTTP/1.1 204') and buf.count(b'HTTP/1.1 200') == 1,
               'a pipelined request waits behind the held poll, then is answered', repr(buf[:300]))


def case_disconnect(d):
    ch = uniq('gone')
    s = socket.create_connection(('127.0.0.1', d.port), timeout=T(3))
    s.sendall(request_bytes(d, 'GET', '/sub/' + ch))
    tap.ok(poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 1, 2), 'the poll is held')
    s.close()
    tap.ok(poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 0, 2),
           'a client that goes away is unsubscribed before the hold ends')


def case_head_and_errors(d):
    ch = uniq('he')
    st, h, body = raw_request(d, 'HEAD', '/sub/' + ch)
    tap.ok(st == 204 and h.get('x-last-id'), 'HEAD: 204 at once with X-Last-Id', repr((st, h)))
    st, h, body, dt = poll(d, '/sub/%s?last_id=nope' % ch)
    tap.ok(st == 400 and b'cursor' in body, 'malformed last_id: 400', repr(body))
    st, h, body, dt = poll(d, '/sub/%s?format=raw' % ch)
    tap.is_(st, 400, 'format=raw with long-poll: 400')


def case_shutdown():
    d = Daemon(longpoll_hold='25s', check_exit=False).start()
    ch = uniq('sd')
    result = {}

    def waiter():
        result['r'] = poll(d, '/sub/' + ch, timeout=10)

    t = threading.Thread(target=waiter)
    t.start()
    poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers'), 2)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    t.join(T(5))
    st, h, body, dt = result.get('r', (None, {}, b'', 0))
    tap.is_(st, 204, 'a held poll is answered 204 at shutdown')
    tap.ok(time.monotonic() - t0 < T(2), 'promptly', '%.2f s' % (time.monotonic() - t0))
    tap.is_(h.get('connection', '').lower(), 'close', 'with Connection: close')
    tap.is_(d.wait(T(5)), 0, 'the daemon exits 0')
    d.stop(check=False)


with Daemon(longpoll_hold='%dms' % int(HOLD * 1000), history_size=300) as d:
    for case in (case_hold_timeout, case_buffered, case_live, case_same_iteration, case_burst,
                 case_burst_while_polling, case_cursor_semantics, case_deleted, case_jsonp,
                 case_keepalive_pipelined, case_disconnect, case_head_and_errors):
        tap.run(case, d)
tap.run(case_shutdown)
tap.done()
