#!/usr/bin/python3
"""test_crash_resume.py — kill -9 of pushgated during a steady publish
stream with a subscriber on every transport: WebSocket pushgate.v1+json
(the websockets library), SSE with ?format=json (a spec-written
EventSource parser, Last-Event-ID on reconnect) and long-poll (?last_id=,
cursor from X-Last-Id). The daemon is restarted on the same ports; each
subscriber reconnects by itself (as pushgate.js would) and resumes from the
last id it saw; then more is published. Each transport has a subscriber
that kept up and a laggard that left early and comes back only after the
restart, hundreds of messages behind.

With history_journal: every acknowledged message (before and after the
kill) reaches every subscriber exactly once with its body, no gap notice,
one epoch. Without it: each subscriber gets exactly one gap notice, at the
boundary between the old epoch and the new, which announces whatever
acknowledged message it missed; everything published after the restart
arrives; nothing is ever delivered twice.

tests/journal/test_journal_crash.py covers the same crash for WebSocket
subscribers alone (id contiguity, counter continuation); this file adds the
fallback transports and their reconnect paths."""

import asyncio
import http.client
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *        # noqa: E402,F403
from faultutil import *     # noqa: E402,F403
from fbutil import SSE      # noqa: E402
from jutil import KeepAlive, Publisher   # noqa: E402

ACKED_BEFORE_KILL = 1000
SEEN_BEFORE_KILL = 50
LAGGARD_LEAVES_AT = 20
AFTER = 50


class Sub(threading.Thread):
    """A subscriber that reconnects until stopped. events: ('msg', id, data)
    and ('gap', cursor) in arrival order; connections: how many it made."""

    kind = '?'

    def __init__(self, d, ch, cursor, leave_at=None):
        super().__init__(daemon=True)
        self.d, self.ch, self.cursor, self.leave_at = d, ch, cursor, leave_at
        self.events, self.connections, self.errors = [], 0, []
        self.in_session = False           # inside session(): may still read a dead daemon's bytes
        self.stopping = threading.Event()
        self.back = threading.Event()     # a laggard stays away until this is set
        self.deadline = time.monotonic() + T(60)
        if leave_at:
            self.kind += ' laggard'

    def away(self):
        return bool(self.leave_at) and len(self.ids()) >= self.leave_at and not self.back.is_set()

    def running(self):
        """True while a session should go on."""
        return not self.stopping.is_set() and time.monotonic() < self.deadline and not self.away()

    def msg(self, mid, data):
        self.events.append(('msg', mid, data))
        self.cursor = mid

    def gap(self, cursor):
        self.events.append(('gap', cursor))

    def ids(self):
        return [e[1] for e in self.events if e[0] == 'msg']

    def last_id(self):
        ids = self.ids()
        return ids[-1] if ids else None

    def run(self):
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            if self.away():
                time.sleep(0.05)
                continue
            self.in_session = True
            try:
                self.session()
            except Exception as e:     # refused while the daemon is down, reset, ...
                if len(self.errors) < 50:
                    self.errors.append('%s: %s' % (type(e).__name__, e))
            finally:
                self.in_session = False
            if self.running():
                time.sleep(0.1)


class WSSub(Sub):
    kind = 'websocket'

    def session(self):
        asyncio.run(self.async_session())

    async def async_session(self):
        path = '/sub/%s?last_event_id=%s' % (self.ch, self.cursor)
        async with ws_connect(self.d, path, V1, open_timeout=T(2)) as w:
            self.connections += 1
            while self.running():
                try:
                    m = json.loads(await asyncio.wait_for(w.recv(), 0.2))
                except asyncio.TimeoutError:
                    continue
                except websockets.exceptions.ConnectionClosed:
                    return
                if m.get('type') == 'gap':
                    self.gap(m.get('id'))
                elif 'type' not in m:
                    self.msg(m['id'], m.get('data'))


class SSESub(Sub):
    kind = 'sse'

    def session(self):
        with SSE(self.d, '/sub/%s?format=json' % self.ch, {'Last-Event-ID': self.cursor}, timeout=2) as s:
            if s.status != 200:
                raise RuntimeError('status %s' % s.status)
            self.connections += 1
            while self.running():
                e = s.next(0.2 / TIME_FACTOR)
                if e is None:
                    if s.eof:
                        return
                    continue
                if e.type == 'pushgate.gap':
                    self.gap(e.json().get('id'))
                elif e.type == 'message':
                    js = e.json()
                    self.msg(js['id'], js.get('data'))


class LPSub(Sub):
    kind = 'longpoll'

    def session(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.d.port, timeout=T(5))
        try:
            counted = False
            while self.running():
                conn.request('GET', '/sub/%s?last_id=%s' % (self.ch, self.cursor))
                r = conn.getresponse()
                body = r.read()
                if not counted:
                    self.connections += 1
                    counted = True
                if r.status == 204:
                    continue
                if r.status != 200:
                    raise RuntimeError('status %s: %r' % (r.status, body[:100]))
                for m in json.loads(body):
                    if m.get('type') == 'gap':
                        self.gap(m.get('id'))
                    elif 'type' not in m:
                        self.msg(m['id'], m.get('data'))
                if r.getheader('X-Last-Id'):
                    self.cursor = r.getheader('X-Last-Id')
        finally:
            conn.close()


def start_subs(d, ch, cursor):
    """One subscriber per transport that stays, and one that leaves
    after LAGGARD_LEAVES_AT messages and comes back after the restart."""
    subs = [cls(d, ch, cursor, leave) for leave in (None, LAGGARD_LEAVES_AT) for cls in (WSSub, SSESub, LPSub)]
    for s in subs:
        s.start()
    return subs


def run_and_kill(d, ch, subs):
    """Publishes with two threads until enough is acknowledged and seen,
    then kill -9. Returns the (id, body) acknowledged before the kill."""
    pubs = [Publisher(d.pub_port, ch, tag) for tag in ('a', 'b')]
    for p in pubs:
        p.start()
    deadline = time.monotonic() + T(20)
    while time.monotonic() < deadline and not (
            sum(len(p.acked) for p in pubs) >= ACKED_BEFORE_KILL
            and all(len(s.ids()) >= (s.leave_at or SEEN_BEFORE_KILL) for s in subs)):
        time.sleep(0.01)
    d.signal(signal.SIGKILL)
    for p in pubs:
        p.join(T(10))
    acked = [a for p in pubs for a in p.acked]
    tap.comment('killed with %d acknowledged; seen before the kill: %s'
                % (len(acked), ', '.join('%s %d' % (s.kind, len(s.ids())) for s in subs)))
    tap.ok(len(acked) >= ACKED_BEFORE_KILL and all(len(s.ids()) >= (s.leave_at or SEEN_BEFORE_KILL) for s in subs),
           'the stream was flowing to every transport when killed')
    return acked


def restart_and_publish(d, ch, subs):
    """Restarts on the same ports; publishes AFTER more; waits until every
    subscriber has the last one. Returns the (id, body) acknowledged."""
    rc = d.wait(T(5))
    tap.is_(rc, -signal.SIGKILL, 'pushgated died of SIGKILL mid-stream')
    # the mark counts only once every client has finished reading what the
    # killed daemon had already sent (its session ended); a session started
    # meanwhile is refused, the daemon being down
    poll_until(lambda: not any(s.in_session for s in subs), T(5))
    marks = [len(s.events) for s in subs]
    d.stop(check=False)
    t0 = time.monotonic()
    d.start()
    tap.comment('restarted in %.2f s' % (time.monotonic() - t0))
    for s in subs:
        s.back.set()
    c = KeepAlive(d.pub_port, timeout=T(5))
    after = []
    for i in range(AFTER):
        st, js = c.publish(ch, 'after-%d' % i)
        if st in (201, 202):
            after.append((js['id'], 'after-%d' % i))
    c.close()
    tap.is_(len(after), AFTER, 'every publish after the restart is acknowledged')
    last = after[-1][0] if after else None
    t1 = time.monotonic()
    ok = poll_until(lambda: all(s.last_id() == last for s in subs), 10)
    tap.comment('every subscriber caught up %.2f s after the last publish: %s'
                % (time.monotonic() - t1, ', '.join('%s %s (%d connections)' % (s.kind, s.last_id(), s.connections)
                                                     for s in subs)))
    tap.ok(ok, 'every transport reconnected by itself and got the newest message')
    for s in subs:
        s.stopping.set()
    for s in subs:
        s.join(T(5))
        tap.ok(s.connections >= 2, '%s: reconnected after the crash (%d connections)' % (s.kind, s.connections),
               '\n'.join(s.errors[-5:]))
    return after, marks


def common_checks(s, after):
    ids = s.ids()
    tap.is_(len(ids), len(set(ids)), '%s: no message delivered twice' % s.kind)
    got = set(ids)
    missing = [i for i, _ in after if i not in got]
    tap.ok(not missing, '%s: every message published after the restart arrives' % s.kind, repr(missing[:5]))


def crash_cycle(d, prefix):
    """Subscribers on a fresh channel from its first id, a stream cut by
    kill -9, a restart and publishes after it: (start id, subscribers,
    acknowledged before the kill, published after, restart marks)."""
    ch = uniq(prefix)
    start = publish(d, ch, 'start')[1]['id']
    subs = start_subs(d, ch, start)
    acked = run_and_kill(d, ch, subs)
    after, marks = restart_and_publish(d, ch, subs)
    return start, subs, acked, after, marks


def case_journal(d):
    start, subs, acked, after, marks = crash_cycle(d, 'crashj')
    want = dict(acked + after)
    epoch = epoch_of(start)
    tap.ok(all(epoch_of(i) == epoch for i, _ in after), 'with the journal the restart keeps the epoch')
    for s in subs:
        common_checks(s, after)
        ids = s.ids()
        gaps = [e for e in s.events if e[0] == 'gap']
        tap.is_(gaps, [], '%s: no gap notice' % s.kind)
        missing = [i for i in want if i not in set(ids)]
        tap.ok(not missing, '%s: every acknowledged message arrives (%d acknowledged, %d delivered)'
               % (s.kind, len(want), len(ids)), 'missing %d: %r' % (len(missing), missing[:5]))
        bad = [(e[1], e[2]) for e in s.events if e[0] == 'msg' and e[1] in want and e[2] != want[e[1]]]
        tap.ok(not bad, '%s: each with the body acknowledged with its id' % s.kind, repr(bad[:3]))
        tap.ok(ids == sorted(ids, key=seq_of), '%s: in id order' % s.kind)


def case_no_journal(d):
    start, subs, acked, after, marks = crash_cycle(d, 'crashn')
    old = epoch_of(start)
    tap.ok(after and epoch_of(after[0][0]) != old, 'without the journal the restart is a new epoch')
    for s, mark in zip(subs, marks):
        common_checks(s, after)
        gaps = [k for k, e in enumerate(s.events) if e[0] == 'gap']
        tail = s.events[mark:]
        first_new = next((k for k, e in enumerate(s.events) if e[0] == 'msg' and epoch_of(e[1]) != old),
                         len(s.events))
        last_old = max([k for k, e in enumerate(s.events) if e[0] == 'msg' and epoch_of(e[1]) == old] or [-1])
        seen = set(s.ids())
        lost = [i for i, _ in acked if i not in seen]
        tap.comment('%s: %d of %d acknowledged messages lost with the crash, %d gap notice(s)'
                    % (s.kind, len(lost), len(acked), len(gaps)))
        tap.is_(len(gaps), 1, '%s: exactly one gap notice' % s.kind)
        tap.ok(gaps and last_old < gaps[0] < first_new,
               '%s: the gap notice sits between the old epoch and the new (announces every loss)' % s.kind,
               'gap at %r, last old message at %d, first new at %d' % (gaps, last_old, first_new))
        gap_cursor = s.events[gaps[0]][1] if gaps else None
        tap.is_(gap_cursor, s.events[last_old][1] if last_old >= 0 else None,
                '%s: the gap notice names the last id it had' % s.kind)
        tap.ok(not any(e[0] == 'msg' and epoch_of(e[1]) == old for e in tail),
               '%s: nothing of the old epoch after the restart' % s.kind)


limit = raise_nofile()
require_websockets()
d = Daemon(history_size=100000, history_memory_max='256M', longpoll_hold='1s', sse_heartbeat='1s',
           log_level='info')
d.keys['history_journal'] = os.path.join(d.tmpdir, 'history.journal')
with d:
    tap.run(case_journal, d)
with Daemon(history_size=100000, history_memory_max='256M', longpoll_hold='1s', sse_heartbeat='1s',
            log_level='info') as d2:
    tap.run(case_no_journal, d2)
tap.done()
