#!/usr/bin/python3
"""test_journal_restart.py — history_journal across orderly restarts: the
epoch and id counter are kept (a cursor resumes with exactly the rest, no
gap, no duplicate), info's last_id is intact, a deleted channel stays
deleted, evicted_max_seq survives (a cursor from before an eviction still
gets its gap notice), a torn tail is dropped and the daemon starts, a
corrupt journal refuses to start with a clear line, a journal in use by
another pushgated is refused, and compaction bounds the file size under
the history limits."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *   # noqa: E402
from jutil import KeepAlive, file_size   # noqa: E402


def jdaemon(**keys):
    d = Daemon(**keys)
    d.keys.setdefault('history_journal', os.path.join(d.tmpdir, 'history.journal'))
    return d


def jpath(d):
    return d.keys['history_journal']


def triples(msgs):
    return [(m.get('channel'), m.get('data'), m.get('id')) for m in msgs]


async def resume(d, ch, cursor, n, quiet=0.5):
    """n v1+json messages after cursor, then whatever else came (should be
    nothing) within quiet seconds."""
    async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1) as w:
        got = await recv_n(w, n, json_mode=True) if n else []
        extra = await silence(w, quiet, json_mode=True)
    return got, extra


async def case_same_epoch_exact_rest(d):
    ch = uniq('jr')
    ids = [publish(d, ch, 'm%d' % i)[1]['id'] for i in range(6)]
    st, before = channel_info(d, ch)
    d.restart()
    st, info = channel_info(d, ch)
    tap.is_((st, info.get('last_id'), info.get('messages')), (200, ids[-1], before['messages']),
            'after a restart channel info keeps last_id and the retained count')
    got, extra = await resume(d, ch, ids[2], 3)
    tap.is_(triples(got), [(ch, 'm%d' % i, ids[i]) for i in (3, 4, 5)],
            'a cursor of the old run gets exactly the rest: same epoch, no gap notice')
    tap.is_(extra, None, 'and nothing more (no duplicate)')
    nid = publish(d, ch, 'after')[1]['id']
    tap.is_((epoch_of(nid), seq_of(nid)), (epoch_of(ids[0]), seq_of(ids[-1]) + 1),
            'the next id continues the same epoch and counter')


async def case_deleted_stays_deleted(d):
    ch = uniq('jdel')
    ids = [publish(d, ch, 'd%d' % i)[1]['id'] for i in range(2)]
    tap.ok(delete_channel(d, ch) in (200, 204), 'channel deleted')
    got_before, _ = await resume(d, ch, ids[0], 1, quiet=0.2)
    d.restart()
    st, info = channel_info(d, ch)
    tap.is_(st, 404, 'a deleted channel stays deleted after a restart')
    got_after, extra = await resume(d, ch, ids[0], 1, quiet=0.3)
    tap.is_(got_after, got_before, 'a cursor from before the delete gets the same notice as before the restart')
    tap.ok(got_after and got_after[0].get('type') == 'gap', 'which is a gap notice: %r' % got_after)


async def case_eviction_survives(d):
    ch = uniq('jev')   # history_size=3: m0 and m1 are evicted
    ids = [publish(d, ch, 'm%d' % i)[1]['id'] for i in range(5)]
    want = [{'type': 'gap', 'channels': [ch], 'id': ids[0]}] + \
        [{'id': ids[i], 'channel': ch, 'event': None, 'data': 'm%d' % i} for i in (2, 3, 4)]
    got, _ = await resume(d, ch, ids[0], 4, quiet=0.2)
    tap.is_(got, want, 'before the restart: gap notice, then the retained messages')
    d.restart()
    got, extra = await resume(d, ch, ids[0], 4)
    tap.is_(got, want, 'after it: the same gap notice (evicted_max_seq survived) and messages')
    tap.is_(extra, None, 'nothing more')
    got, extra = await resume(d, ch, ids[1], 3)
    tap.is_([m.get('id') for m in got], ids[2:], 'a cursor at the eviction boundary: no gap notice')


def case_torn_tail(d):
    ch = uniq('jtorn')
    last = publish(d, ch, 'kept')[1]['id']
    d.stop()
    with open(jpath(d), 'ab') as f:
        f.write(b'\x40\x00\x00\x00\x02\x00\x00\x00half a record, as a crash leaves it')
    d.start()
    tap.ok('torn tail' in d.log_text(), 'a torn tail is logged and dropped')
    st, info = channel_info(d, ch)
    tap.is_((st, info.get('last_id')), (200, last), 'everything before it is kept')


def case_corrupt_refuses(d):
    ch = uniq('jbad')
    for i in range(20):
        publish(d, ch, 'x%d' % i)
    d.stop()
    size = file_size(jpath(d))
    with open(jpath(d), 'r+b') as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x55]))
    try:
        d.start()
        started = True
    except DaemonError:
        started = False
    tap.ok(not started, 'damage before durable records refuses to start')
    tap.ok('is corrupt at byte' in d.log_text() and 'move it away' in d.log_text(),
           'with one clear line saying where and what to do')
    os.rename(jpath(d), jpath(d) + '.bad')
    d.start()
    tap.is_(channel_info(d, ch)[0], 404, 'with the file moved away it starts with an empty history')


def case_locked(d):
    other = Daemon(history_journal=jpath(d))
    try:
        other.start()
        started = True
    except DaemonError:
        started = False
    tap.ok(not started, 'a second pushgated on the same journal refuses to start')
    tap.ok('in use by another pushgated' in other.log_text(), 'and says why')
    other.stop(check=False)


def case_compaction_bound():
    d = jdaemon(history_size=5)
    d.start()
    try:
        c = KeepAlive(d.pub_port)
        body = 'x' * 1000
        biggest = 0
        n = 14000
        for i in range(n):
            st, js = c.publish('jc%d' % (i % 2), body)
            if st not in (201, 202):
                raise AssertionError('publish %d: %s %r' % (i, st, js))
            if i % 100 == 0:
                biggest = max(biggest, file_size(jpath(d)))
        c.close()
        tap.ok(4 << 20 < n * 1000, 'published %.1f MB to two channels of history_size 5' % (n / 1000.0))
        tap.ok(biggest < (5 << 20), 'the journal stayed under 4 MiB + 1 MiB (largest seen %d bytes)' % biggest)
        d.restart()
        size = file_size(jpath(d))
        tap.ok(0 < size < 32 * 1024, 'after the start-up compaction only the retained history is left (%d bytes)' % size)
        st, info = channel_info(d, 'jc1')
        tap.is_((st, info.get('messages')), (200, 5), 'and the history is intact')
    finally:
        d.stop()


require_websockets()
with jdaemon(history_size=3) as d:
    tap.run(case_same_epoch_exact_rest, d)
    tap.run(case_deleted_stays_deleted, d)
    tap.run(case_eviction_survives, d)
    tap.run(case_torn_tail, d)
    tap.run(case_locked, d)
    tap.run(case_corrupt_refuses, d)
tap.run(case_compaction_bound, timeout=90)
tap.done()
