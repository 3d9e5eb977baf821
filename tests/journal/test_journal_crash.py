#!/usr/bin/python3
"""test_journal_crash.py — kill -9 of pushgated during a steady publish
stream (two keep-alive publisher threads counting acknowledged ids, four
WebSocket pushgate.v1+json subscribers, one of which left early), then a restart on the same ports
and every subscriber resuming from the last id it saw.

With history_journal: the same epoch, no gap notice, every acknowledged id
present exactly once across before-and-after, with its body, ids
contiguous (nothing skipped), and new ids continue the counter. Without
it: the restart is a new epoch and each resuming subscriber is told of the
gap (naming the channel and its cursor), and nothing is repeated."""

import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *   # noqa: E402
from jutil import Publisher   # noqa: E402

N_SUBS = 4                 # the last one leaves early and resumes far behind
LAGGARD_LEAVES_AT = 100
ACKED_BEFORE_KILL = 600


async def collect(ws, out, limit=None):
    """Appends every v1+json message to out until the connection ends (or,
    with a limit, until that many arrived: then it leaves)."""
    try:
        while limit is None or len(out) < limit:
            m = await ws.recv()
            js = json.loads(m)
            if js.get('type') != 'ping':
                out.append(js)
        await ws.close()
    except websockets.exceptions.ConnectionClosed:
        pass


async def run_until_killed(d, ch):
    """Subscribes, publishes until enough is acknowledged, kill -9s the
    daemon mid-stream. Returns (per-subscriber messages, publishers)."""
    subs = [await ws_connect(d, '/sub/' + ch, V1).__aenter__() for _ in range(N_SUBS)]
    got = [[] for _ in subs]
    limits = [None] * (N_SUBS - 1) + [LAGGARD_LEAVES_AT]
    tasks = [asyncio.ensure_future(collect(w, g, n)) for w, g, n in zip(subs, got, limits)]
    pubs = [Publisher(d.pub_port, ch, tag) for tag in ('a', 'b')]
    for p in pubs:
        p.start()
    deadline = time.monotonic() + T(20)
    while sum(len(p.acked) for p in pubs) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    d.signal(signal.SIGKILL)
    for p in pubs:
        await asyncio.get_event_loop().run_in_executor(None, p.join, T(10))
    await asyncio.wait_for(asyncio.gather(*tasks), T(10))
    for w in subs:
        await w.close()
    return got, pubs


async def resume_all(d, ch, got, quiet=1.0):
    """Each subscriber resumes from the last id it saw; returns what each
    got until quiet seconds of silence."""
    after = []
    for g in got:
        cursor = g[-1]['id']
        async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1) as w:
            msgs = []
            while True:
                m = await silence(w, quiet, json_mode=True)
                if m is None:
                    break
                msgs.append(json.loads(m))
            after.append(msgs)
    return after


def restart_after_kill(d):
    rc = d.wait(T(5))
    tap.is_(rc, -signal.SIGKILL, 'pushgated died of SIGKILL mid-stream')
    d.stop(check=False)
    d.start()


async def case_crash_with_journal(d):
    ch = uniq('crash')
    got, pubs = await run_until_killed(d, ch)
    acked = [a for p in pubs for a in p.acked]
    tap.comment('acknowledged before the kill: %d; seen per subscriber: %s'
                % (len(acked), [len(g) for g in got]))
    tap.ok(len(acked) >= ACKED_BEFORE_KILL and all(got), 'the stream was flowing when killed')
    restart_after_kill(d)
    after = await resume_all(d, ch, got)
    epoch = epoch_of(acked[0][0])
    want = dict(acked)
    for i, (before, aft) in enumerate(zip(got, after)):
        msgs = before + aft
        ids = [m.get('id') for m in msgs]
        gaps = [m for m in aft if m.get('type') == 'gap']
        tap.ok(not gaps, 'subscriber %d: no gap notice on resume' % i, repr(gaps[:1]))
        tap.ok(all(epoch_of(x) == epoch for x in ids), 'subscriber %d: one epoch across the crash' % i)
        tap.is_(len(ids), len(set(ids)), 'subscriber %d: no id delivered twice' % i)
        missing = [x for x in want if x not in set(ids)]
        tap.ok(not missing, 'subscriber %d: every acknowledged id is there (%d before, %d after resume)'
               % (i, len(before), len(aft)), 'missing: %r' % missing[:5])
        seqs = sorted(seq_of(x) for x in ids)
        tap.is_(seqs, list(range(1, len(seqs) + 1)), 'subscriber %d: ids contiguous from 1, none skipped' % i)
        bad = [m for m in msgs if m.get('id') in want and m.get('data') != want[m['id']]]
        tap.ok(not bad, 'subscriber %d: every body is the one acknowledged with its id' % i, repr(bad[:2]))
    top = max(seq_of(m['id']) for g in got + after for m in g)
    nid = publish(d, ch, 'after-restart')[1]['id']
    tap.is_((epoch_of(nid), seq_of(nid)), (epoch, top + 1),
            'the next publish continues the counter (no id reused)')


async def case_crash_without_journal(d):
    ch = uniq('nojournal')
    got, pubs = await run_until_killed(d, ch)
    acked = [a for p in pubs for a in p.acked]
    tap.ok(len(acked) >= ACKED_BEFORE_KILL and all(got), 'the stream was flowing when killed')
    restart_after_kill(d)
    nid = publish(d, ch, 'new-run')[1]['id']
    after = await resume_all(d, ch, got, quiet=0.5)
    old_epoch = epoch_of(acked[0][0])
    tap.ok(epoch_of(nid) != old_epoch, 'without the journal the restart is a new epoch')
    for i, (before, aft) in enumerate(zip(got, after)):
        cursor = before[-1]['id']
        tap.is_(aft[:1], [{'type': 'gap', 'channels': [ch], 'id': cursor}],
                'subscriber %d: the loss is announced by a gap notice with its cursor' % i)
        ids = [m.get('id') for m in before + aft[1:]]
        tap.is_(len(ids), len(set(ids)), 'subscriber %d: nothing repeated' % i)
        tap.is_([m.get('data') for m in aft[1:]], ['new-run'], 'subscriber %d: then the new run\'s history' % i)


require_websockets()
d = Daemon(history_size=100000, history_memory_max='256M')
d.keys['history_journal'] = os.path.join(d.tmpdir, 'history.journal')
with d:
    tap.run(case_crash_with_journal, d, timeout=90)
with Daemon(history_size=100000) as d2:
    tap.run(case_crash_without_journal, d2, timeout=90)
tap.done()
