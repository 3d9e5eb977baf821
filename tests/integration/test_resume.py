#!/usr/bin/python3
"""test_resume.py — ?last_event_id= (pushgate.v1+json): replay after the
cursor in id order then live, none repeated, none skipped; gap notices for a
cursor of another epoch (daemon restart, memory store) and for channels that
evicted messages above the cursor (history_size, history_ttl,
history_memory_max), naming only those channels; raw mode refuses a cursor."""

import asyncio
import threading
import time

from pgtest import *


def pub_ids(d, items):
    """items: (channel, body) -> list of ids in order."""
    return [publish(d, ch, body)[1]['id'] for ch, body in items]


def triples(msgs):
    return [(m.get('channel'), m.get('data'), m.get('id')) for m in msgs]


async def case_same_epoch(d):
    ch = uniq('re')
    ids = pub_ids(d, [(ch, 'm%d' % i) for i in range(5)])
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, ids[1]), V1) as w:
        got = await recv_n(w, 3, json_mode=True)
        tap.is_(triples(got), [(ch, 'm%d' % i, ids[i]) for i in (2, 3, 4)],
                'replays the messages after the cursor, in order, no gap')
        tap.is_(await silence(w, json_mode=True), None, 'nothing else before live messages')
        live = publish(d, ch, 'live')[1]['id']
        m = await recv_msg(w)
        tap.is_((m.get('data'), m.get('id')), ('live', live), 'then live messages')
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, live), V1) as w:
        tap.is_(await silence(w, 0.5, json_mode=True), None, 'a cursor at the newest message replays nothing')


async def case_multi_channel_id_order(d):
    a, b = uniq('ra'), uniq('rb')
    items = [(a, 'a1'), (b, 'b1'), (a, 'a2'), (b, 'b2'), (a, 'a3')]
    ids = pub_ids(d, items)
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (a, b, ids[0]), V1) as w:
        got = await recv_n(w, 4, json_mode=True)
        tap.is_(triples(got), [(c, body, i) for (c, body), i in zip(items[1:], ids[1:])],
                'multi-channel replay is in id order across channels')
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')


async def case_raw_mode_refuses_cursor(d):
    ch = uniq('rr')
    i = publish(d, ch, 'x')[1]['id']
    r = RawWS(d, '/sub/%s?last_event_id=%s' % (ch, i))
    tap.is_(r.status, 400, 'raw-mode subscribe with last_event_id answers 400')
    r.close()


async def case_malformed_cursor(d):
    ch = uniq('bad')
    publish(d, ch, 'x')
    for cursor in ('garbage', '12', '-5', '1-', '1-x', '1-2-3'):
        try:
            async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1) as w:
                code, reason, msgs = await wait_close(w, 2)
                tap.is_(code, 1008, 'malformed cursor %r: refused with 400 or closed with 1008' % cursor)
        except websockets.exceptions.InvalidStatusCode as e:
            tap.is_(e.status_code, 400, 'malformed cursor %r: refused with 400 or closed with 1008' % cursor)


async def case_other_epoch_cursor(d):
    ch = uniq('fake')
    ids = pub_ids(d, [(ch, 'f1'), (ch, 'f2')])
    cursor = '1-1' if epoch_of(ids[0]) != '1' else '2-1'
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': cursor},
                'a cursor of another epoch gets a gap notice naming the channel and the cursor')
        got = await recv_n(w, 2, json_mode=True)
        tap.is_(triples(got), [(ch, 'f1', ids[0]), (ch, 'f2', ids[1])], 'then every retained message')
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')
    # the seq of another epoch's cursor says nothing about this epoch
    high = epoch_of(cursor) + '-999999999'
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, high), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': high},
                'another epoch with a seq above ours: gap notice')
        got = await recv_n(w, 2, json_mode=True)
        tap.is_(triples(got), [(ch, 'f1', ids[0]), (ch, 'f2', ids[1])],
                'then every retained message, whatever the cursor seq')


async def case_evicted_one_of_two(d):
    """history_size=3 on this daemon."""
    a, b, other = uniq('ea'), uniq('eb'), uniq('ec')
    cursor = publish(d, other, 'cursor')[1]['id']
    a_ids = pub_ids(d, [(a, 'a%d' % i) for i in range(5)])
    b_id = publish(d, b, 'b0')[1]['id']
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (a, b, cursor), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [a], 'id': cursor},
                'history_size eviction: the gap notice names only the channel that evicted')
        got = await recv_n(w, 4, json_mode=True)
        tap.is_(triples(got), [(a, 'a2', a_ids[2]), (a, 'a3', a_ids[3]), (a, 'a4', a_ids[4]),
                               (b, 'b0', b_id)], 'then the retained messages in id order')
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')
    # a cursor at or above the highest evicted seq: no gap
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (a, b, a_ids[1]), V1) as w:
        got = await recv_n(w, 4, json_mode=True)
        tap.is_([m.get('data') for m in got], ['a2', 'a3', 'a4', 'b0'],
                'cursor at the last evicted message: no gap, the retained ones')


def case_race_publish_while_resuming(d):
    """Messages published while subscribers connect with a cursor arrive
    exactly once, in order, none skipped."""
    ch = uniq('race')
    first = publish(d, ch, 'start')[1]['id']
    n = 300
    published = []

    def publisher():
        for i in range(n):
            published.append(publish(d, ch, 'r%d' % i)[1]['id'])

    async def subscriber(delay):
        await asyncio.sleep(delay)
        got = []
        async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, first), V1) as w:
            deadline = time.monotonic() + T(15)
            while len(got) < n and time.monotonic() < deadline:
                try:
                    m = await recv_msg(w, 1)
                except asyncio.TimeoutError:
                    if len(published) == n:
                        break
                    continue
                got.append(m.get('id'))
            extra = await silence(w, 0.3, json_mode=True)
        return got, extra

    async def main():
        t = threading.Thread(target=publisher)
        t.start()
        res = await asyncio.gather(*(subscriber(0.01 * k) for k in range(8)))
        t.join(T(20))
        return res

    results = run(main(), 30)
    for k, (got, extra) in enumerate(results):
        tap.ok(got == published and extra is None,
               'subscriber %d connecting during publishing got all %d once, in order' % (k, n),
               'got %d ids, extra %r; first mismatch: %r' % (
                   len(got), extra,
                   next(((i, g, p) for i, (g, p) in enumerate(zip(got, published)) if g != p), None)))


async def case_restart_new_epoch(d):
    ch, other = uniq('ep'), uniq('ep2')
    old = pub_ids(d, [(ch, 'old1'), (ch, 'old2')])
    d.restart()
    new = pub_ids(d, [(ch, 'new1'), (ch, 'new2'), (other, 'o1')])
    tap.ok(epoch_of(new[0]) != epoch_of(old[0]), 'restart (memory store) changes the epoch',
           '%r -> %r' % (old, new))
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, old[0]), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [ch], 'id': old[0]},
                'old-epoch cursor after restart: gap notice first')
        got = await recv_n(w, 2, json_mode=True)
        tap.is_(triples(got), [(ch, 'new1', new[0]), (ch, 'new2', new[1])],
                'then every retained message of the new epoch')
        live = publish(d, ch, 'live')[1]['id']
        m = await recv_msg(w)
        tap.is_((m.get('data'), m.get('id')), ('live', live), 'then live')
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (ch, other, old[1]), V1) as w:
        m = await recv_msg(w)
        tap.ok(m.get('type') == 'gap' and m.get('id') == old[1] and ch in (m.get('channels') or []),
               'multi-channel old-epoch cursor: a gap notice first', repr(m))
        got = await recv_n(w, 4, json_mode=True)
        tap.is_([x.get('data') for x in got], ['new1', 'new2', 'o1', 'live'],
                'then every retained message of both channels in id order')


async def case_ttl(d):
    """history_ttl on this daemon: TTL seconds."""
    t, u, other = uniq('ta'), uniq('tb'), uniq('tc')
    cursor = publish(d, other, 'cursor')[1]['id']
    publish(d, t, 'expires')
    time.sleep(TTL + 1.0)
    t2 = publish(d, t, 'fresh')[1]['id']
    u1 = publish(d, u, 'u-fresh')[1]['id']
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (t, u, cursor), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [t], 'id': cursor},
                'history_ttl expiry: gap notice names only the channel that lost a message')
        got = await recv_n(w, 2, json_mode=True)
        tap.is_(triples(got), [(t, 'fresh', t2), (u, 'u-fresh', u1)], 'then the unexpired ones')
        tap.is_(await silence(w, json_mode=True), None, 'the expired message is not delivered')


async def case_memory_max(d):
    """history_memory_max=20000 on this daemon."""
    a, b, other = uniq('mma'), uniq('mmb'), uniq('mmc')
    cursor = publish(d, other, 'c')[1]['id']
    a_ids = pub_ids(d, [(a, ('%03d' % i) + 'x' * 997) for i in range(40)])
    b_id = publish(d, b, 'small')[1]['id']
    async with ws_connect(d, '/sub/%s,%s?last_event_id=%s' % (a, b, cursor), V1) as w:
        m = await recv_msg(w)
        tap.is_(m, {'type': 'gap', 'channels': [a], 'id': cursor},
                'history_memory_max eviction: gap notice names only the channel that evicted')
        got = []
        while len(got) <= 41:
            m = await recv_msg(w)
            got.append(m.get('id'))
            if m.get('channel') == b:
                break
        kept = len(got) - 1
        tap.ok(0 < kept < 40 and got == a_ids[40 - kept:] + [b_id],
               'then a suffix of the big channel (some evicted) and the small message, in id order',
               'got %d of the 40 (%r ...), then %r' % (kept, got[:3], got[-1:]))
        tap.is_(await silence(w, json_mode=True), None, 'none repeated')


TTL = 2


def main():
    require_websockets()
    global TTL
    TTL = int(round(2 * min(TIME_FACTOR, 2)))
    with Daemon(history_size=3) as d:
        for case in (case_same_epoch, case_multi_channel_id_order, case_raw_mode_refuses_cursor,
                     case_malformed_cursor, case_other_epoch_cursor, case_evicted_one_of_two):
            tap.run(case, d)
    with Daemon(history_size=1000) as d:
        tap.run(case_race_publish_while_resuming, d)
        tap.run(case_restart_new_epoch, d)
    with Daemon(history_size=100, history_ttl='%ds' % TTL) as d:
        tap.run(case_ttl, d)
    with Daemon(history_size=1000, history_memory_max=20000) as d:
        tap.run(case_memory_max, d)
    tap.done()


main()
