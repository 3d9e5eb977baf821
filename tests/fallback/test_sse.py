#!/usr/bin/python3
"""test_sse.py — Server-Sent Events on /sub/<channels>: the reply head;
retry: and pushgate.open (the current cursor) first; framing of event names,
multi-line bodies (LF, CR, CRLF), binary bodies and ?format=json; pings
every sse_heartbeat; Last-Event-ID resume (header, query, header wins) with
exactly the missed messages and no duplicates; gap and deleted notices; the
slow-consumer cap; bad requests; curl -N as an independent client; the
stream ends promptly at shutdown."""

import base64
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *
from fbutil import *

BEAT = 0.5


def pub(d, ch, body, event=None):
    st, j = publish(d, ch, body, event=event)
    assert st in (201, 202), (st, j)
    return j['id']


def case_head_and_open(d):
    ch = uniq('open')
    last = pub(d, uniq('other'), 'x')
    with SSE(d, '/sub/' + ch) as s:
        tap.is_(s.status, 200, 'SSE answers 200')
        h = s.headers
        tap.ok(h.get('content-type', '').startswith('text/event-stream'), 'Content-Type text/event-stream', repr(h))
        tap.is_(h.get('cache-control'), 'no-cache', 'Cache-Control: no-cache')
        tap.is_(h.get('x-accel-buffering'), 'no', 'X-Accel-Buffering: no')
        tap.ok('content-length' not in h, 'no Content-Length (the stream has no end)')
        tap.ok('origin' in h.get('vary', '').lower(), 'Vary: Origin')
        e = s.next()
        tap.is_((e.type, e.data), ('pushgate.open', last), 'first event: pushgate.open with the current cursor')
        tap.ok(s.raw.startswith(b'retry: '), 'retry: is sent first, once', repr(s.raw[:40]))
        tap.is_(s.parser.retry, 3000, 'retry value in ms')
        tap.is_(e.id, last, 'a fresh stream gets the cursor as its last event id (native reconnect resumes)')


def case_framing(d):
    ch = uniq('frame')
    with SSE(d, '/sub/' + ch) as s:
        s.next()
        bodies = [('plain', None), ('two\nlines', 'order.paid'), ('cr\rline', None), ('crlf\r\nline', None),
                  ('trailing\n', None), (' leading space', 'e'), ('ünïcödé ✓', None), ('', 'empty'),
                  ('data: looks like a field\nid: 99', None)]
        ids = [pub(d, ch, b, e) for b, e in bodies]
        got = s.take(len(bodies))
        tap.is_(len(got), len(bodies), 'every message arrives')
        want = [(e or 'message', b.replace('\r\n', '\n').replace('\r', '\n'), i)
                for (b, e), i in zip(bodies, ids)]
        tap.is_([(g.type, g.data, g.id) for g in got], want,
                'event names, ids and bodies (CR, LF, CRLF become LF) as EventSource sees them')
        tap.ok(b'id: %s\nevent: order.paid\ndata: two\ndata: lines\n\n' % ids[1].encode() in s.raw,
               'one data: line per body line', repr(s.raw[-400:]))
        tap.is_(s.silence(), None, 'nothing repeated')


def case_binary(d):
    ch = uniq('bin')
    with SSE(d, '/sub/' + ch) as s:
        s.next()
        raw = bytes(range(256))
        i1 = pub(d, ch, raw)
        i2 = pub(d, ch, b'\xff\xfe', 'blob')
        a, b = s.take(2)
        tap.is_((a.type, base64.b64decode(a.data), a.id), ('pushgate.binary', raw, i1),
                'binary body: event pushgate.binary, base64 data')
        tap.is_((b.type, base64.b64decode(b.data), b.id), ('pushgate.binary blob', b'\xff\xfe', i2),
                'binary with an event name: "pushgate.binary <name>"')


def case_format_json(d):
    ch = uniq('json')
    with SSE(d, '/sub/%s?format=json' % ch) as s:
        o = s.next()
        tap.is_(o.type, 'pushgate.open', 'format=json: control events stay named')
        i1 = pub(d, ch, 'a\nb', 'ev.1')
        i2 = pub(d, ch, b'\x00\x80')
        i3 = pub(d, ch, 'no event')
        a, b, c = s.take(3)
        tap.is_((a.type, a.id, a.json()), ('message', i1, {'id': i1, 'channel': ch, 'event': 'ev.1', 'data': 'a\nb'}),
                'format=json: an unnamed event whose data is the JSON envelope')
        tap.is_(b.json(), {'id': i2, 'channel': ch, 'event': None, 'data': base64.b64encode(b'\x00\x80').decode(),
                           'encoding': 'base64'}, 'binary envelope has "encoding":"base64"')
        tap.is_((c.type, c.json()['event']), ('message', None), 'no event name: event null')
        tap.ok(b'event: ' not in s.raw.split(b'pushgate.open', 1)[1], 'no event: line for messages',
               repr(s.raw[-300:]))


def case_pings(d):
    with SSE(d, '/sub/' + uniq('ping')) as s:
        t0 = time.monotonic()
        s.next()
        pings = []
        while len(pings) < 3 and time.monotonic() - t0 < T(BEAT * 6):
            e = s.next(BEAT * 3, skip_pings=False)
            if e is None:
                break
            if e.type == 'pushgate.ping':
                pings.append((time.monotonic() - t0, e.data))
        tap.is_(len(pings), 3, 'pushgate.ping arrives repeatedly (sse_heartbeat=500ms)')
        tap.ok(pings and pings[0][0] <= T(BEAT * 2) and pings[-1][0] <= T(BEAT * 4 + 0.5),
               'about every sse_heartbeat', repr(pings))
        tap.ok(all(p[1] and '-' in p[1] for p in pings), 'ping data is the current cursor (never empty)', repr(pings))


def case_resume(d):
    """history_size=5: each round uses a fresh channel of 5 messages."""
    for how, path, headers in (('Last-Event-ID header', '/sub/{ch}', {'Last-Event-ID': 1}),
                               ('?last_event_id=', '/sub/{ch}?last_event_id={1}', {}),
                               ('?last_id=', '/sub/{ch}?transport=sse&last_id={1}', {}),
                               ('header over an older query', '/sub/{ch}?last_event_id={0}',
                                {'Last-Event-ID': 1})):
        ch = uniq('res')
        ids = [pub(d, ch, 'm%d' % i) for i in range(5)]
        path = path.format(*ids, ch=ch)
        headers = {k: ids[v] for k, v in headers.items()}
        with SSE(d, path, headers) as s:
            o = s.next()
            got = s.take(3)
            tap.is_([(e.data, e.id) for e in got], [('m%d' % i, ids[i]) for i in range(2, 5)],
                    '%s: exactly the missed messages, in order' % how)
            tap.is_(o.id, '', '%s: pushgate.open carries no id when resuming' % how)
            live = pub(d, ch, 'live')
            e = s.next()
            tap.is_((e.data, e.id), ('live', live), '%s: then live messages' % how)
            tap.is_(s.silence(), None, '%s: no duplicate' % how)
    with SSE(d, '/sub/' + ch, {'Last-Event-ID': live}) as s:
        s.next()
        tap.is_(s.silence(0.4), None, 'resuming at the newest id replays nothing')


def case_multi_channel_resume(d):
    a, b = uniq('ma'), uniq('mb')
    items = [(a, 'a1'), (b, 'b1'), (a, 'a2'), (b, 'b2')]
    ids = [pub(d, c, body) for c, body in items]
    with SSE(d, '/sub/%s,%s' % (a, b), {'Last-Event-ID': ids[0]}) as s:
        s.next()
        got = s.take(3)
        tap.is_([e.id for e in got], ids[1:], 'multi-channel resume in id order across channels')


def case_gap(d):
    """history_size=5 on this daemon."""
    ch = uniq('gap')
    ids = [pub(d, ch, 'g%d' % i) for i in range(8)]
    with SSE(d, '/sub/' + ch, {'Last-Event-ID': ids[0]}) as s:
        s.next()
        g = s.next()
        tap.is_(g.type, 'pushgate.gap', 'evicted history: pushgate.gap first')
        tap.is_(g.json() if g else None, {'channels': [ch], 'id': ids[0]}, 'gap data: {"channels":[...],"id":cursor}')
        got = s.take(5)
        tap.is_([e.id for e in got], ids[3:], 'then every retained message')
    other = '1-1' if not ids[0].startswith('1-') else '2-1'
    with SSE(d, '/sub/%s?format=json' % ch, {'Last-Event-ID': other}) as s:
        s.next()
        g = s.next()
        tap.is_((g.type, g.json()), ('pushgate.gap', {'channels': [ch], 'id': other}),
                'a cursor of another epoch: gap (format=json too)')


def case_deleted(d):
    a, b = uniq('da'), uniq('db')
    with SSE(d, '/sub/%s,%s' % (a, b)) as s:
        s.next()
        pub(d, a, 'x')
        pub(d, b, 'y')
        s.take(2)
        tap.is_(delete_channel(d, a), 204, 'delete one channel')
        e = s.next()
        tap.is_((e.type, e.data), ('pushgate.deleted', a), 'pushgate.deleted with the channel as data')
        i = pub(d, b, 'still')
        e = s.next()
        tap.is_((e.data, e.id), ('still', i), 'the stream goes on for the other channel')
        delete_channel(d, b)
        e = s.next()
        tap.is_((e.type, e.data), ('pushgate.deleted', b), 'second channel deleted')
        tap.ok(s.wait_eof(), 'the stream ends when no channel is left')


def case_bad_requests(d):
    ch = uniq('bad')
    for path, headers, what in (('/sub/%s?transport=bogus' % ch, {}, 'unknown transport'),
                                ('/sub/%s?transport=sse&callback=cb' % ch, {}, 'callback with SSE'),
                                ('/sub/%s?format=xml' % ch, {}, 'unknown format'),
                                ('/sub/' + ch, {'Last-Event-ID': 'garbage'}, 'malformed Last-Event-ID'),
                                ('/sub/%s?last_event_id=1-x' % ch, {}, 'malformed last_event_id')):
        st, h, body = raw_request(d, 'GET', path, dict({'Accept': 'text/event-stream'}, **headers))
        tap.ok(st == 400 and b'"error"' in body, '%s: 400 with a JSON reason' % what, '%r %r' % (st, body))
    st, h, body = raw_request(d, 'HEAD', '/sub/' + ch, {'Accept': 'text/event-stream'})
    tap.ok(st == 200 and h.get('content-type', '').startswith('text/event-stream') and body == b'',
           'HEAD: the SSE head and no body', '%r %r %r' % (st, h, body))


def case_curl(d):
    ch = uniq('curl')
    p = curl_start(d, '/sub/%s?format=json' % ch, max_time=4)
    try:
        info = poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers'), 3)
        tap.ok(info, 'curl -N is subscribed')
        i = pub(d, ch, 'to curl')
        out = b''
        deadline = time.monotonic() + T(3)
        os.set_blocking(p.stdout.fileno(), False)
        while i.encode() not in out and time.monotonic() < deadline:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            time.sleep(0.05)
        parser = EventParser()
        parser.feed(out)
        ev = [e for e in parser.events if e.type == 'message']
        tap.ok(ev and json.loads(ev[0].data)['data'] == 'to curl' and ev[0].id == i,
               'curl -N receives the message as it is published', repr(out[-300:]))
    finally:
        p.kill()
        p.wait()


def case_slow_consumer():
    with Daemon(subscriber_buffer_max='64k') as d:
        ch = uniq('slow')
        s = SSE(d, '/sub/' + ch)
        body = 'z' * 500000
        for _ in range(60):
            pub(d, ch, body)
        gone = poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 0, 5)
        tap.ok(gone, 'a subscriber that does not read is dropped past subscriber_buffer_max')
        s.close()
        with SSE(d, '/sub/' + ch) as s2:
            tap.is_(s2.status, 200, 'the daemon still serves')
        ch = uniq('big')
        ids = [pub(d, ch, 'b%d' % i + 'y' * 20000) for i in range(10)]
        got, cur, streams = [], ids[0], 0
        while len(got) < 9 and streams < 20:
            with SSE(d, '/sub/' + ch, {'Last-Event-ID': cur}) as s:
                streams += 1
                s.next()
                while True:
                    e = s.next(2)
                    if e is None:
                        break
                    got.append(e.id)
                    cur = e.id
                if streams == 1:
                    tap.ok(s.eof, 'a replay over the cap ends the stream cleanly')
        tap.is_(got, ids[1:], 'a replay larger than subscriber_buffer_max arrives whole over reconnects, no duplicate')
        tap.ok(streams > 1, 'it took several streams (%d)' % streams)


def case_shutdown():
    d = Daemon(check_exit=False).start()
    with SSE(d, '/sub/' + uniq('down')) as s:
        s.next()
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        tap.ok(s.wait_eof(3), 'the stream ends at shutdown')
        tap.ok(time.monotonic() - t0 < T(2), 'promptly', '%.2f s' % (time.monotonic() - t0))
    tap.is_(d.wait(T(5)), 0, 'the daemon exits 0')
    d.stop(check=False)


with Daemon(sse_heartbeat='%dms' % int(BEAT * 1000), history_size=5) as d:
    for case in (case_head_and_open, case_framing, case_binary, case_format_json, case_pings, case_resume,
                 case_multi_channel_resume, case_gap, case_deleted, case_bad_requests, case_curl):
        tap.run(case, d)
tap.run(case_slow_consumer)
tap.run(case_shutdown)
tap.done()
