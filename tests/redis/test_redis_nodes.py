#!/usr/bin/python3
"""test_redis_nodes.py — two pushgated nodes on one Redis (store redis://):
a publish on A reaches WebSocket, SSE and long-poll subscribers on B (and
on A) exactly once and in order; a client resumes on B with an id it got
from A (WebSocket last_event_id, SSE Last-Event-ID, long-poll last_id);
messages published while subscribers resume are neither lost nor repeated;
gap notices for trimmed, expired and deleted history and for a new epoch
after FLUSHALL; DELETE on A disconnects the channel's subscribers on B;
channel info counts the local node's subscribers; rediss:// is refused."""

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fallback'))

from pgtest import *  # noqa: E402
from redistest import Redis, require_redis  # noqa: E402
from fbutil import SSE, Poller, poll  # noqa: E402

N_MSGS, N_WS_B, N_WS_A, N_SSE, N_LP = 1000, 200, 10, 10, 5


class Publisher:
    """POSTs over one keep-alive connection to a node's publish listener."""

    def __init__(self, d):
        self.conn = http.client.HTTPConnection('127.0.0.1', d.pub_port, timeout=T(5))

    def pub(self, ch, body, headers=None):
        self.conn.request('POST', '/pub/' + ch, body=body.encode(), headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, json.loads(data or b'null')

    def close(self):
        self.conn.close()


def publish_many(d, ch, n, prefix='m', pause=0.0):
    p = Publisher(d)
    ids = []
    try:
        for i in range(n):
            st, j = p.pub(ch, '%s%d' % (prefix, i))
            if st not in (201, 202):
                raise AssertionError('publish %d answered %d %r' % (i, st, j))
            ids.append(j['id'])
            if pause:
                time.sleep(pause)
    finally:
        p.close()
    return ids


def sse_collect(d, ch, n, out, timeout):
    """One SSE subscriber on d: the ids of the first n message events."""
    ids = []
    with SSE(d, '/sub/' + ch, timeout=timeout) as s:
        out['ready'] = out.get('ready', 0) + 1
        deadline = time.monotonic() + T(timeout)
        while len(ids) < n and time.monotonic() < deadline:
            e = s.next(max(deadline - time.monotonic(), 0.01) / TIME_FACTOR)
            if e is None:
                break
            if e.type == 'message':
                ids.append(e.id)
            elif e.type != 'pushgate.open':
                ids.append('unexpected %s %s' % (e.type, e.data))
    out.setdefault('sse', []).append(ids)


def lp_collect(d, ch, n, out, timeout):
    """One long-poll client on d: polls with last_id until n messages."""
    ids, cursor = [], None
    deadline = time.monotonic() + T(timeout)
    with Poller(d, timeout=timeout) as p:
        while len(ids) < n and time.monotonic() < deadline:
            path = '/sub/' + ch + ('?last_id=' + cursor if cursor else '')
            st, h, body, _ = p.get(path)
            if st == 200:
                items = json.loads(body)
                ids += [m['id'] if 'id' in m and 'type' not in m else 'notice %r' % m for m in items]
            elif st != 204:
                ids.append('status %d' % st)
                break
            cursor = h.get('x-last-id', cursor)
    out.setdefault('lp', []).append(ids)


async def ws_ids(w, n, timeout):
    got = await recv_n(w, n, timeout=timeout, json_mode=True)
    return [m.get('id') if 'type' not in m else 'notice %r' % m for m in got]


async def case_fanout_exactly_once(a, b):
    ch = uniq('fan')
    timeout = 60
    async with contextlib.AsyncExitStack() as stack:
        ws_b = [await stack.enter_async_context(ws_connect(b, '/sub/' + ch, V1)) for _ in range(N_WS_B)]
        ws_a = [await stack.enter_async_context(ws_connect(a, '/sub/' + ch, V1)) for _ in range(N_WS_A)]
        out, threads = {}, []
        for _ in range(N_SSE):
            threads.append(threading.Thread(target=sse_collect, args=(b, ch, N_MSGS, out, timeout)))
        for _ in range(N_LP):
            threads.append(threading.Thread(target=lp_collect, args=(b, ch, N_MSGS, out, timeout)))
        for t in threads:
            t.start()
        want_b = N_WS_B + N_SSE + N_LP
        subs = poll_until(lambda: channel_info(b, ch)[1] and channel_info(b, ch)[1]['subscribers'] == want_b, 10)
        tap.ok(subs, 'node B counts its %d local subscribers' % want_b, repr(channel_info(b, ch)))
        loop = asyncio.get_running_loop()
        pub = loop.run_in_executor(None, publish_many, a, ch, N_MSGS)
        results = await asyncio.gather(*[ws_ids(w, N_MSGS, timeout) for w in ws_b + ws_a])
        ids = await pub
        tap.is_(len(set(ids)), N_MSGS, '%d publishes on A acknowledged with distinct ids' % N_MSGS)
        tap.ok(all(seq_of(x) < seq_of(y) for x, y in zip(ids, ids[1:])), 'ids rise in publish order')
        bad_b = [i for i, r in enumerate(results[:N_WS_B]) if r != ids]
        tap.ok(not bad_b, '%d WebSocket subscribers on B got all %d messages once, in order'
               % (N_WS_B, N_MSGS), 'first bad: %r' % (results[bad_b[0]][:5] if bad_b else None))
        bad_a = [i for i, r in enumerate(results[N_WS_B:]) if r != ids]
        tap.ok(not bad_a, '%d WebSocket subscribers on the publishing node A too' % N_WS_A)
        extra = await asyncio.gather(*[silence(w, 0.3, json_mode=True) for w in ws_b[:20] + ws_a])
        tap.ok(all(e is None for e in extra), 'nothing after the last message (no double delivery)',
               repr([e for e in extra if e][:3]))
        for t in threads:
            await loop.run_in_executor(None, t.join, T(timeout))
        sse = out.get('sse', [])
        tap.ok(len(sse) == N_SSE and all(r == ids for r in sse),
               '%d SSE subscribers on B got every message once, in order' % N_SSE,
               repr([r[:5] for r in sse if r != ids][:2]))
        lp = out.get('lp', [])
        tap.ok(len(lp) == N_LP and all(r == ids for r in lp),
               '%d long-poll subscribers on B got every message once, in order' % N_LP,
               repr([(len(r), r[:5]) for r in lp if r != ids][:2]))


async def case_resume_on_other_node(a, b):
    ch = uniq('res')
    ids = [publish(a, ch, 'r%d' % i)[1]['id'] for i in range(5)]
    async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, ids[1]), V1) as w:
        got = await recv_n(w, 3, json_mode=True)
        tap.is_([m.get('id') for m in got], ids[2:],
                'WebSocket: an id from node A resumes on node B with the messages after it')
        tap.is_(await silence(w, json_mode=True), None, 'no gap notice, nothing repeated')
        live = publish(a, ch, 'live')[1]['id']
        m = await recv_msg(w)
        tap.is_((m.get('id'), m.get('data')), (live, 'live'), 'then what A publishes live')
        tap.is_(await silence(w, json_mode=True), None, 'the live message once')
    with SSE(b, '/sub/' + ch, headers={'Last-Event-ID': ids[2]}) as s:
        evs = []
        while len(evs) < 3:
            e = s.next(3)
            if e is None:
                break
            if e.type != 'pushgate.open':
                evs.append(e)
        tap.is_([(e.type, e.id) for e in evs], [('message', i) for i in ids[3:] + [live]],
                'SSE: Last-Event-ID from A resumes on B')
    st, h, body, _ = poll(b, '/sub/%s?last_id=%s' % (ch, ids[3]))
    tap.is_((st, [m.get('id') for m in json.loads(body or b'[]')]), (200, [ids[4], live]),
            'long-poll: last_id from A resumes on B')


def case_resume_race(a, b):
    """Subscribers resume on B while A publishes: each gets every message
    after its cursor exactly once, in order (the replay and the live stream
    overlap; skip_seq drops what the replay already gave)."""
    ch = uniq('race')
    first = publish(a, ch, 'start')[1]['id']
    published, done = [], threading.Event()

    def pub():
        try:
            published.extend(publish_many(a, ch, 300, 'x', pause=0.002))
        finally:
            done.set()

    async def resumer(delay):
        await asyncio.sleep(delay)
        got = []
        async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, first), V1) as w:
            while True:
                try:
                    m = await recv_msg(w, 2)
                except asyncio.TimeoutError:
                    return got
                got.append(m.get('id') if 'type' not in m else 'notice %r' % m)

    async def main():
        t = threading.Thread(target=pub)
        t.start()
        res = await asyncio.gather(*[resumer(i * 0.03) for i in range(20)])
        t.join()
        return res

    res = run(main(), timeout=60)
    tap.is_(len(published), 300, 'publisher on A done')
    bad = [r for r in res if r != published]
    tap.ok(not bad, '20 subscribers resuming on B during publishing got every message once, in order',
           'first bad (len %d): %r' % (len(bad[0]), bad[0][:8]) if bad else None)


async def case_gap_trimmed(a, b):
    """history_size=50 on these nodes."""
    ch, other = uniq('trim'), uniq('keep')
    cursor = publish(a, other, 'k0')[1]['id']
    ids = [publish(a, ch, 't%d' % i)[1]['id'] for i in range(60)]
    kid = publish(a, other, 'k1')[1]['id']
    async with ws_connect(b, '/sub/%s,%s?last_event_id=%s' % (ch, other, cursor), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': cursor},
                'trimmed by history_size: the gap notice names only that channel')
        got = await recv_n(w, 51, json_mode=True)
        tap.is_([x.get('id') for x in got], ids[10:] + [kid], 'then the retained messages in id order')
        tap.is_(await silence(w, json_mode=True), None, 'nothing repeated')
    async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, ids[9]), V1) as w:
        got = await recv_n(w, 50, json_mode=True)
        tap.is_([x.get('id') for x in got], ids[10:], 'a cursor at the last trimmed message: no gap')


async def case_channel_info_and_delete(a, b):
    ch, two = uniq('del'), uniq('del2')
    ids = [publish(a, ch, 'd%d' % i)[1]['id'] for i in range(3)]
    async with ws_connect(b, '/sub/' + ch, V1) as w1, \
            ws_connect(b, '/sub/%s,%s' % (ch, two), V1) as w2:
        st, info = channel_info(b, ch)
        tap.is_((st, info), (200, {'channel': ch, 'messages': 3, 'subscribers': 2, 'last_id': ids[2]}),
                'channel info on B: messages and last id from Redis, subscribers of B')
        st, info = channel_info(a, ch)
        tap.is_((st, info.get('messages'), info.get('subscribers')), (200, 3, 0),
                'channel info on A: the same history, A has no local subscriber')
        sse = SSE(b, '/sub/' + ch)
        sse.next(2)         # pushgate.open
        tap.is_(delete_channel(a, ch), 204, 'DELETE on A: 204')
        code, reason, msgs = await wait_close(w1, 3)
        tap.is_((code, reason), (1000, 'channel deleted'), 'a subscriber of only that channel on B is closed')
        m = await recv_msg(w2)
        tap.is_(m, {'type': 'deleted', 'channel': ch}, 'a multi-channel subscriber on B is told')
        e = sse.next(3)
        tap.is_((e.type, e.data) if e else None, ('pushgate.deleted', ch), 'an SSE subscriber on B is told')
        sse.close()
    tap.is_(channel_info(a, ch)[0], 404, 'channel info after DELETE: 404 on A')
    tap.is_(delete_channel(b, ch), 404, 'DELETE again (on B): 404')
    async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, ids[0]), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': ids[0]},
                'resuming below a deleted history: gap notice')


async def case_flushall_new_epoch(a, b, r):
    ch = uniq('flush')
    old = publish(a, ch, 'before')[1]['id']
    async with ws_connect(b, '/sub/' + ch, V1) as live:
        tap.is_(r.cmd('FLUSHALL'), 'OK', 'FLUSHALL')
        new = publish(a, ch, 'after')[1]['id']
        tap.ok(epoch_of(new) != epoch_of(old), 'the first publish after FLUSHALL has a new epoch',
               '%s then %s' % (old, new))
        m = await recv_msg(live)
        tap.is_((m.get('id'), m.get('data')), (new, 'after'),
                'a subscriber connected on B through the flush gets the new-epoch message')
    async with ws_connect(b, '/sub/%s?last_event_id=%s' % (ch, old), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': old},
                'resuming on B with an id of the lost epoch: gap notice')
        m = await recv_msg(w)
        tap.is_(m.get('id'), new, 'then every retained message of the new epoch')


def case_ttl(r):
    with Daemon(store=r.url, history_ttl='1s') as c:
        ch = uniq('ttl')
        ids = [publish(c, ch, 'e%d' % i)[1]['id'] for i in range(2)]
        tap.is_(channel_info(c, ch)[1].get('messages'), 2, 'two messages in history')
        time.sleep(T(1.3))
        tap.ok(poll_until(lambda: channel_info(c, ch)[0] == 404, 2),
               'after history_ttl the channel has no history left (404)', repr(channel_info(c, ch)))

        async def resume():
            async with ws_connect(c, '/sub/%s?last_event_id=%s' % (ch, ids[0]), V1) as w:
                m = await recv_msg(w)
                tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': ids[0]},
                        'resuming past expired messages: gap notice')
                tap.is_(await silence(w, json_mode=True), None, 'and no expired message')
        run(resume())


def case_rediss_refused():
    p = subprocess.run([daemon_path(), '-t', '--store=rediss://127.0.0.1:6379/0'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=T(10))
    out = p.stdout.decode('utf-8', 'replace').strip()
    tap.ok(p.returncode != 0, 'store rediss:// is refused at start-up', out)
    tap.comment('pushgated -t --store=rediss://...: %s' % out)


def main():
    require_websockets()
    require_redis()
    with Redis() as r:
        keys = dict(store=r.url, history_size=1100)
        with Daemon(**keys) as a, Daemon(**keys) as b:
            tap.run(case_fanout_exactly_once, a, b, timeout=90)
            tap.run(case_resume_on_other_node, a, b)
            tap.run(case_resume_race, a, b)
            tap.run(case_channel_info_and_delete, a, b)
            tap.run(case_flushall_new_epoch, a, b, r)
        keys['history_size'] = 50
        with Daemon(**keys) as a, Daemon(**keys) as b:
            tap.run(case_gap_trimmed, a, b)
        tap.run(case_ttl, r)
    tap.run(case_rediss_refused)
    tap.done()


if __name__ == '__main__':
    main()
