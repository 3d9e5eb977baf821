#!/usr/bin/python3
"""test_workers.py — `workers 4`: 400 subscribers (WebSocket v1+json, SSE,
long-poll) on 8 channels, on connections the kernel spreads over the
workers (/metrics shows more than one worker owning some); 2,000 publishes
from 4 publisher threads; every subscriber gets every message of its
channel exactly once and in id order; resume with last_event_id after the
burst; DELETE reaches subscribers of every worker; graceful shutdown sends
1001 to subscribers of every worker and exits 0."""

import asyncio
import json
import re
import signal
import threading
import time

from pgtest import *

WORKERS = 4
CHANNELS = 8
N_WS, N_SSE, N_LP = 200, 120, 80
PUBLISHES = 2000
PUBLISHERS = 4


def seq(msg_id):
    return seq_of(msg_id)


def metric(d, name):
    st = http_request(d, 'GET', '/metrics')
    text = st.body.decode()
    return {m.group(1) or '': float(m.group(2))
            for m in re.finditer(r'^%s(?:\{([^}]*)\})? (\S+)$' % re.escape(name), text, re.M)}


class Sub:
    def __init__(self, kind, ch):
        self.kind, self.ch, self.ids, self.dups = kind, ch, [], 0

    def add(self, msg_id):
        self.ids.append(msg_id)


async def ws_sub(d, s, ready, stop):
    import websockets
    async with websockets.connect(d.sub_url('/sub/' + s.ch), subprotocols=[V1],
                                  max_size=None, open_timeout=T(10)) as w:
        ready.release()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(w.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            m = json.loads(raw)
            if isinstance(m, dict) and 'id' in m and 'type' not in m:
                s.add(m['id'])


async def sse_sub(d, s, ready, stop):
    r, w = await asyncio.open_connection('127.0.0.1', d.port)
    w.write(('GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'
             % s.ch).encode())
    await w.drain()
    buf = b''
    while b'\r\n\r\n' not in buf:
        buf += await r.read(4096)
    buf = buf.partition(b'\r\n\r\n')[2]
    ready.release()
    ev_id, ev_type = None, None
    while not stop.is_set():
        while b'\n' in buf:
            line, _, buf = buf.partition(b'\n')
            line = line.rstrip(b'\r').decode()
            if line == '':
                if ev_id and ev_type in (None, 'message'):
                    s.add(ev_id)
                ev_id, ev_type = None, None
            elif line.startswith('id:'):
                ev_id = line[3:].strip()
            elif line.startswith('event:'):
                ev_type = line[6:].strip()
        try:
            chunk = await asyncio.wait_for(r.read(65536), 0.2)
        except asyncio.TimeoutError:
            continue
        if not chunk:
            break
        buf += chunk
    w.close()


async def lp_get(d, path):
    r, w = await asyncio.open_connection('127.0.0.1', d.port)
    w.write(('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' % path).encode())
    await w.drain()
    data = await r.read()
    w.close()
    head, _, body = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1])
    hdrs = {}
    for l in head.split(b'\r\n')[1:]:
        k, _, v = l.decode().partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


async def lp_sub(d, s, cursor, ready, stop, done):
    ready.release()
    while not (stop.is_set() or done()):
        st, h, body = await lp_get(d, '/sub/%s?last_id=%s' % (s.ch, cursor))
        if st == 200:
            for m in json.loads(body):
                if 'id' in m and 'type' not in m:
                    s.add(m['id'])
        elif st != 204:
            raise AssertionError('long-poll answered %d' % st)
        cursor = h.get('x-last-id', cursor)


def publisher(d, jobs, out, lock):
    while True:
        with lock:
            if not jobs:
                return
            ch, n = jobs.pop()
        st, j = publish(d, ch, 'm%d' % n)
        assert st in (201, 202), (st, j)
        with lock:
            out.append((ch, j['id']))


def case_fanout(d):
    chans = [uniq('wk%d-' % i) for i in range(CHANNELS)]
    subs = ([Sub('ws', chans[i % CHANNELS]) for i in range(N_WS)]
            + [Sub('sse', chans[i % CHANNELS]) for i in range(N_SSE)]
            + [Sub('lp', chans[i % CHANNELS]) for i in range(N_LP)])
    cursor = publish(d, uniq('cur'), 'start')[1]['id']
    published = []
    expected_total = [None]

    async def main():
        stop = asyncio.Event()
        ready = asyncio.Semaphore(0)
        got_all = lambda s: expected_total[0] is not None and len(s.ids) >= expected_total[0][s.ch]
        tasks = []
        for s in subs:
            if s.kind == 'ws':
                tasks.append(asyncio.create_task(ws_sub(d, s, ready, stop)))
            elif s.kind == 'sse':
                tasks.append(asyncio.create_task(sse_sub(d, s, ready, stop)))
            else:
                tasks.append(asyncio.create_task(lp_sub(d, s, cursor, ready, stop,
                                                        lambda s=s: got_all(s))))
        for _ in subs:
            await asyncio.wait_for(ready.acquire(), T(20))
        live = N_WS + N_SSE
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + T(10)
        while time.monotonic() < deadline:
            subsc = await loop.run_in_executor(None, metric, d, 'pushgate_subscriptions')
            if subsc.get('', 0) >= live:
                break
            await asyncio.sleep(0.1)
        per_worker = await loop.run_in_executor(None, metric, d, 'pushgate_worker_connections')
        busy = [k for k, v in per_worker.items() if v > 0]
        tap.comment('connections per worker: %s' % ', '.join(
            '%s %d' % (k, v) for k, v in sorted(per_worker.items())))
        tap.ok(len(per_worker) == WORKERS, '/metrics lists %d workers' % WORKERS, repr(per_worker))
        tap.ok(len(busy) > 1, 'connections landed on more than one worker', repr(per_worker))
        jobs = [(chans[n % CHANNELS], n) for n in range(PUBLISHES)][::-1]
        lock = threading.Lock()
        threads = [threading.Thread(target=publisher, args=(d, jobs, published, lock))
                   for _ in range(PUBLISHERS)]
        t0 = time.monotonic()
        await loop.run_in_executor(None, lambda: ([t.start() for t in threads], [t.join() for t in threads]))
        tap.is_(len(published), PUBLISHES, '%d publishes from %d threads acknowledged in %.1f s'
                % (PUBLISHES, PUBLISHERS, time.monotonic() - t0))
        counts = {}
        for ch, _ in published:
            counts[ch] = counts.get(ch, 0) + 1
        expected_total[0] = counts
        deadline = time.monotonic() + T(30)
        while time.monotonic() < deadline and not all(len(s.ids) >= counts[s.ch] for s in subs):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)   # duplicates would arrive meanwhile
        stop.set()
        for t in tasks:
            try:
                await asyncio.wait_for(t, T(5))
            except Exception:
                t.cancel()

    run(main(), timeout=T(120))
    want = {}
    for ch, i in sorted(published, key=lambda p: seq(p[1])):
        want.setdefault(ch, []).append(i)
    for kind in ('ws', 'sse', 'lp'):
        group = [s for s in subs if s.kind == kind]
        bad = [s for s in group if s.ids != want[s.ch]]
        diag = None
        if bad:
            s = bad[0]
            diag = '%s on %s: got %d want %d; first difference at %s' % (
                kind, s.ch, len(s.ids), len(want[s.ch]),
                next((k for k, (a, b) in enumerate(zip(s.ids, want[s.ch])) if a != b), min(len(s.ids), len(want[s.ch]))))
        tap.ok(not bad, '%d %s subscribers: every message of their channel once, in id order'
               % (len(group), kind), diag)
    state['chans'], state['want'] = chans, want


async def case_resume(d):
    chans, want = state['chans'], state['want']
    ch = chans[0]
    ids = want[ch]
    cut = ids[len(ids) // 2]
    rest = ids[len(ids) // 2 + 1:]
    for attempt in range(6):     # new connections: several workers
        async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cut), V1) as w:
            got = []
            while len(got) < min(len(rest), 100):
                m = await recv_msg(w, 5)
                if 'id' in m and 'type' not in m:
                    got.append(m['id'])
        if got != rest[:len(got)]:
            break
    tap.is_(got, rest[:len(got)], 'resume with last_event_id replays from history in order (6 connections)')


async def case_delete(d):
    ch, other = uniq('wkdel'), uniq('wkkeep')
    path = '/sub/%s,%s' % (ch, other)   # multi-channel: the notice, not a close
    async with ws_connect(d, path, V1) as a, ws_connect(d, path, V1) as b, \
            ws_connect(d, path, V1) as c, ws_connect(d, path, V1) as e:
        conns = [a, b, c, e]
        st, j = publish(d, ch, 'before')
        tap.is_(j.get('subscribers'), 4, 'four subscribers of one channel')
        for w in conns:
            m = await recv_msg(w, 5)
            assert m.get('data') == 'before', m
        tap.is_(delete_channel(d, ch), 204, 'DELETE answers 204')
        notes = [await recv_msg(w, 5) for w in conns]
        tap.ok(all(n == {'type': 'deleted', 'channel': ch} for n in notes),
               'every subscriber (on any worker) gets the deleted notice', repr(notes))


async def case_shutdown(d):
    import websockets
    ws = [await websockets.connect(d.sub_url('/sub/' + uniq('wkstop')), subprotocols=[V1])
          for _ in range(12)]
    per_worker = metric(d, 'pushgate_worker_connections')
    tap.ok(sum(1 for v in per_worker.values() if v > 0) > 1, 'shutdown: subscribers on several workers',
           repr(per_worker))
    d.signal(signal.SIGTERM)
    codes = []
    for w in ws:
        try:
            await asyncio.wait_for(w.wait_closed(), T(6))
        except asyncio.TimeoutError:
            pass
        codes.append(w.close_code)
    tap.ok(all(c == 1001 for c in codes), 'every subscriber gets close 1001', repr(codes))
    st = d.wait(T(8))
    tap.is_(st, 0, 'pushgated exits 0 after SIGTERM')


state = {}
require_websockets()
with Daemon(workers=WORKERS, history_size=PUBLISHES, ping_interval='60s', log_level='info',
            check_exit=False) as d:
    tap.ok('4 workers' in d.log_text(), 'the start-up line says 4 workers')
    tap.run(case_fanout, d, timeout=180)
    if state:
        tap.run(case_resume, d)
    tap.run(case_delete, d)
    tap.run(case_shutdown, d)
tap.done()
