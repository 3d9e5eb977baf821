#!/usr/bin/python3
"""test_redis_outage.py — the Redis store when Redis goes away: Redis
(appendonly yes, appendfsync always) stopped with SIGTERM for 5 s while A
publishes and restarted: every publish is answered 201/202 or 503, never
left hanging; every acknowledged message reaches the connected subscribers
on both nodes once and in order, and is resumable; no node crashes or
spins. Redis frozen (SIGSTOP) for 2 s: publishes are refused within the
command timeout, then recover. A node started while Redis is down comes up
by itself when Redis does. redis+unix:/path?db=N works."""

import asyncio
import contextlib
import http.client
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgtest import *  # noqa: E402
from redistest import Redis, require_redis  # noqa: E402


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Pacer(threading.Thread):
    """Publishes to one channel on d every `every` s until stopped; records
    (status, id or error, seconds taken) per publish."""

    def __init__(self, d, ch, every=0.01):
        super().__init__(daemon=True)
        self.d, self.ch, self.every = d, ch, every
        self.results = []
        self.halt = threading.Event()

    def run(self):
        conn, i = None, 0
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection('127.0.0.1', self.d.pub_port, timeout=T(5))
                conn.request('POST', '/pub/' + self.ch, body=('p%d' % i).encode())
                r = conn.getresponse()
                body = r.read()
                j = json.loads(body or b'null') or {}
                self.results.append((r.status, j.get('id') or j.get('error'), time.monotonic() - t0))
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.results.append((0, repr(e), time.monotonic() - t0))
                conn = None
            i += 1
            time.sleep(self.every)
        if conn:
            conn.close()

    def acked(self):
        return [x[1] for x in self.results if x[0] in (201, 202)]


async def collect(w, stop, out):
    """Messages (ids) and notices of one WebSocket subscriber until stop."""
    while not stop.is_set():
        try:
            m = await recv_msg(w, 0.2)
        except asyncio.TimeoutError:
            continue
        out.append(m.get('id') if 'type' not in m else 'notice %s' % json.dumps(m))


def is_subsequence(sub, seq):
    it = iter(seq)
    return all(any(x == y for y in it) for x in sub)


def check_delivery(name, got, acked):
    notices = [x for x in got if x.startswith('notice')]
    ids = [x for x in got if not x.startswith('notice')]
    seqs = [seq_of(x) for x in ids]
    tap.ok(not notices, '%s: no gap notice (Redis kept its data)' % name, repr(notices[:3]))
    tap.ok(all(x < y for x, y in zip(seqs, seqs[1:])), '%s: in order, none twice' % name)
    tap.ok(is_subsequence(acked, ids), '%s: every acknowledged message delivered' % name,
           'missing: %r' % sorted(set(acked) - set(ids))[:5])
    extra = sorted(set(ids) - set(acked))
    tap.ok(len(extra) <= 3, '%s: nothing but acknowledged messages (at most a publish whose '
           'reply was lost as Redis stopped)' % name, repr(extra))
    if extra:
        tap.comment('%s: applied by Redis but answered 503: %r' % (name, extra))


async def case_sigterm_5s(a, b, r):
    ch = uniq('out')
    stop = threading.Event()
    async with contextlib.AsyncExitStack() as stack:
        subs = [(n, await stack.enter_async_context(ws_connect(d, '/sub/' + ch, V1)))
                for n, d in [('B', b)] * 10 + [('A', a)] * 3]
        got = [[] for _ in subs]
        readers = [asyncio.ensure_future(collect(w, stop, g)) for (_, w), g in zip(subs, got)]
        pacer = Pacer(a, ch)
        pacer.start()
        await asyncio.sleep(1.5)
        epoch_before = epoch_of(pacer.acked()[-1]) if pacer.acked() else None
        cpu0 = [cpu_seconds(a.pid), cpu_seconds(b.pid)]
        tap.is_(r.stop(), 0, 'redis-server stopped with SIGTERM (exit 0)')
        t_down = time.monotonic()
        await asyncio.sleep(5)
        cpu1 = [cpu_seconds(a.pid), cpu_seconds(b.pid)]
        r.start()
        t_up = time.monotonic()
        ok_again = None
        while time.monotonic() - t_up < T(15):
            await asyncio.sleep(0.1)
            recent = [x for x in pacer.results[-5:] if x[0] in (201, 202)]
            if len(recent) == 5:
                ok_again = time.monotonic() - t_up
                break
        await asyncio.sleep(1.0)
        pacer.halt.set()
        await asyncio.get_running_loop().run_in_executor(None, pacer.join, T(10))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*readers)
        res = pacer.results
        statuses = sorted({x[0] for x in res})
        tap.ok(set(statuses) <= {201, 202, 503}, 'every publish answered 201/202 or 503', repr(statuses))
        refused = [x for x in res if x[0] == 503]
        tap.ok(len(refused) > 50, 'publishes during the outage refused with 503 (%d)' % len(refused))
        slow = max((x[2] for x in refused), default=0)
        tap.ok(slow < T(1.0), 'a refusal never hangs (slowest %.3f s)' % slow)
        tap.comment('503 reasons: %r' % sorted({x[1] for x in refused})[:4])
        tap.ok(ok_again is not None, 'publishing works again %.1f s after Redis restarted' % (ok_again or -1))
        acked = pacer.acked()
        tap.ok(len(acked) > 100, '%d publishes acknowledged in all' % len(acked))
        tap.ok(all(epoch_of(x) == epoch_before for x in acked),
               'same epoch before and after the restart (AOF kept it)')
        for i, ((name, _), g) in enumerate(zip(subs, got)):
            if i in (0, len(subs) - 1):
                check_delivery('subscriber %d on %s' % (i, name), g, acked)
        all_ok = all(is_subsequence(acked, [x for x in g if not x.startswith('notice')]) for g in got)
        tap.ok(all_ok, 'all %d connected subscribers (both nodes) got every acknowledged message'
               % len(subs))
        spent = [cpu1[i] - cpu0[i] for i in range(2)]
        tap.ok(max(spent) < 0.5, 'no node spins while Redis is down (CPU %.2f s, %.2f s in 5 s)'
               % tuple(spent))
    # resumable: from the first acknowledged id, on B
    async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, acked[0]), V1) as w:
        out = []
        while True:
            try:
                m = await recv_msg(w, 1)
            except asyncio.TimeoutError:
                break
            out.append(m.get('id') if 'type' not in m else 'notice')
        tap.ok(is_subsequence(acked[1:], out) and 'notice' not in out,
               'a client resuming on B after the outage gets every acknowledged message',
               'got %d, acked %d' % (len(out), len(acked)))
    tap.ok('redis store up' in b.log_text().split('redis pub/sub link lost')[-1],
           'node B logged the loss and the recovery of its Redis links')


async def case_sigstop(a, b, r):
    ch = uniq('stall')
    stop = threading.Event()
    async with ws_connect(b, '/sub/' + ch, V1) as w:
        got = []
        reader = asyncio.ensure_future(collect(w, stop, got))
        pacer = Pacer(a, ch, every=0.02)
        pacer.start()
        await asyncio.sleep(0.5)
        os.kill(r.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(2)
        os.kill(r.proc.pid, signal.SIGCONT)
        t_cont = time.monotonic()
        ok_again = None
        while time.monotonic() - t_cont < T(15):
            await asyncio.sleep(0.1)
            if len([x for x in pacer.results[-5:] if x[0] in (201, 202)]) == 5:
                ok_again = time.monotonic() - t_cont
                break
        await asyncio.sleep(0.5)
        pacer.halt.set()
        await asyncio.get_running_loop().run_in_executor(None, pacer.join, T(10))
        await asyncio.sleep(1)
        stop.set()
        await reader
    res = pacer.results
    tap.ok({x[0] for x in res} <= {201, 202, 503}, 'Redis frozen: every publish answered 201/202 or 503')
    refused = [x for x in res if x[0] == 503]
    tap.ok(refused and max(x[2] for x in refused) < T(1.0),
           'refused within the command timeout while Redis is frozen (slowest %.3f s)'
           % max([x[2] for x in refused] or [0]))
    tap.ok(ok_again is not None, 'publishing works again %.1f s after SIGCONT' % (ok_again or -1))
    acked = pacer.acked()
    ids = [x for x in got if not x.startswith('notice')]
    tap.ok(is_subsequence(acked, ids) and len(set(ids)) == len(ids),
           'the subscriber on B got every acknowledged message once',
           'missing %r' % sorted(set(acked) - set(ids))[:5])


async def case_start_without_redis():
    r = Redis()
    with Daemon(store=r.url) as d:
        st, j = publish(d, uniq('early'), 'x')
        tap.is_(st, 503, 'a node started while Redis is down answers publishes with 503')
        ch = uniq('early')
        async with ws_connect(d, '/sub/' + ch, V1) as w:
            tap.ok(True, 'and accepts subscribers')
            with r:
                ok = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: poll_until(lambda: publish(d, ch, 'first')[0] in (201, 202), 10))
                tap.ok(ok, 'it starts publishing by itself once Redis answers')
                m = await recv_msg(w, 5)
                tap.is_(m.get('data'), 'first', 'and delivers to its subscriber')


async def case_unix_socket_db():
    r = None
    path = None
    try:
        probe = Redis()
        path = os.path.join(probe.dir, 'redis.sock')
        r = Redis(port=probe.port, db=3, unixsocket=path, unixsocketperm='700')
        r.dir = probe.dir
        r.start()
        store = 'redis+unix:%s?db=3' % path
        with Daemon(store=store) as a, Daemon(store=store) as b:
            ch = uniq('unix')
            async with ws_connect(b, '/sub/' + ch, V1) as w:
                st, j = publish(a, ch, 'over unix')
                tap.is_(st, 202, 'store redis+unix:...?db=3: publish on A (202: A counts its own '
                        'subscribers only, and has none)')
                m = await recv_msg(w)
                tap.is_(m.get('data'), 'over unix', 'delivered on B')
            tap.is_(r.cmd('EXISTS', 'pushgate:s:' + ch), 1, 'the stream is in database 3')
    finally:
        if r:
            r.stop()


def main():
    require_websockets()
    require_redis()
    with Redis() as r:
        keys = dict(store=r.url, history_size=5000)
        with Daemon(**keys) as a, Daemon(**keys) as b:
            tap.run(case_sigterm_5s, a, b, r, timeout=60)
            tap.run(case_sigstop, a, b, r, timeout=40)
    tap.run(case_start_without_redis, timeout=30)
    tap.run(case_unix_socket_db)
    tap.done()


if __name__ == '__main__':
    main()
