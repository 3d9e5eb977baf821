#!/usr/bin/python3
"""test_slow_reader.py — a subscriber that never reads while 50 MB (500 x
100 KB) is published to its channel, once over WebSocket (pushgate.v1+json,
raw socket with a 4 KB receive buffer) and once over SSE.

With history_memory_max=8M and subscriber_buffer_max=1M: the daemon's
peak RSS (VmHWM, also sampled every 10 ms) grows by at most 8M + 1M + 16M
over its warmed-up RSS; no publish waits on the stalled socket; the
subscriber is cut off (WebSocket: close 1013 when it finally reads, or EOF;
SSE: the stream ends); what it did receive is a gap-free prefix. It then
resumes from the last whole message it got (WebSocket ?last_event_id=
with the websockets library, SSE Last-Event-ID with a spec-written
EventSource parser): one gap notice naming the channel and its cursor,
then exactly the messages still in history up to the newest, none it
already had, none twice.

Figures (RSS growth, publish times, messages before the cut-off, resume
rounds) are printed as TAP comments."""

import asyncio
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *        # noqa: E402,F403
from faultutil import *     # noqa: E402,F403
from fbutil import SSE, EventParser   # noqa: E402
from jutil import KeepAlive           # noqa: E402

N_MSGS = 500
MSG_SIZE = 100 * 1024
HIST_MAX = 8 << 20
BUF_MAX = 1 << 20
SLACK = 16 << 20
RCVBUF = 4096


def body(i):
    head = ('%06d:' % i).encode()
    return head + b'abcdefghijklmnopqrstuvwxyz'[i % 26:i % 26 + 1] * (MSG_SIZE - len(head))


class RssSampler(threading.Thread):
    """Samples VmRSS every 10 ms; peak_kb is the highest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self):
        deadline = time.monotonic() + T(60)
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, 'VmRSS'))
            time.sleep(0.01)


def slow_socket(d, request):
    """A connected socket with a small receive buffer (set before connect,
    so the window stays small) that has sent request and read the reply
    head. Returns (socket, status, bytes after the head)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.settimeout(T(5))
    s.connect(('127.0.0.1', d.port))
    s.sendall(request)
    raw = b''
    while b'\r\n\r\n' not in raw and len(raw) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        raw += chunk
    head, _, rest = raw.partition(b'\r\n\r\n')
    return s, status_of(head), rest


def read_all(s, first, timeout):
    """Everything until EOF (or the time limit). Returns (bytes, eof)."""
    data, deadline = bytearray(first), time.monotonic() + T(timeout)
    while time.monotonic() < deadline:
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return bytes(data), False
        except ConnectionResetError:
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
    return bytes(data), False


def parse_frames(data):
    """Server frames from raw bytes: ([(opcode, payload)], trailing bytes
    of a cut frame)."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n, p = b1 & 0x7F, pos + 2
        if n == 126:
            if p + 2 > len(data):
                break
            n, p = int.from_bytes(data[p:p + 2], 'big'), p + 2
        elif n == 127:
            if p + 8 > len(data):
                break
            n, p = int.from_bytes(data[p:p + 8], 'big'), p + 8
        if p + n > len(data):
            break
        out.append((b0 & 0x0F, data[p:p + n]))
        pos = p + n
    return out, len(data) - pos


def publish_all(d, ch):
    """Publishes N_MSGS bodies over one keep-alive connection. Returns
    (ids, slowest publish in s, total s)."""
    ids, slowest = [], 0.0
    c = KeepAlive(d.pub_port, timeout=T(10))
    t0 = time.monotonic()
    try:
        for i in range(N_MSGS):
            t = time.monotonic()
            st, js = c.publish(ch, body(i))
            slowest = max(slowest, time.monotonic() - t)
            if st not in (201, 202) or not js:
                tap.comment('publish %d: status %s %r' % (i, st, js))
                break
            ids.append(js['id'])
    finally:
        c.close()
    return ids, slowest, time.monotonic() - t0


def check_rss(d, base_kb, sampler, hwm_valid, what):
    """Peak RSS since the sampler started (and since VmHWM was reset,
    when hwm_valid) against the bound; one TAP line."""
    sampler.stop.set()
    sampler.join(T(2))
    hwm = proc_status_kb(d.pid, 'VmHWM')
    peak = max(sampler.peak_kb, hwm if hwm_valid else 0)
    growth = (peak - base_kb) * 1024
    bound = HIST_MAX + BUF_MAX + SLACK
    tap.comment('%s: RSS %d kB before, peak %d kB (VmHWM %d, sampled %d): growth %.1f MB, bound %.1f MB'
                % (what, base_kb, peak, hwm, sampler.peak_kb, growth / 1048576.0, bound / 1048576.0))
    name = '%s: RSS grew by %.1f MB <= history_memory_max + subscriber_buffer_max + 16 MB' % (
        what, growth / 1048576.0)
    if rss_meaningless():
        tap.skip(name, rss_meaningless(), covered_elsewhere=True)  # run-all's plain stage
    else:
        tap.ok(growth <= bound, name)


def expect_resume(what, ids, have_last, got_ids, notices, retained, ch):
    """Checks what a resume from have_last delivered: got_ids in order,
    notices as (messages before it, notice)."""
    seen_at = ids.index(have_last)
    want = ids[-retained:] if retained else []
    tap.ok(retained and ids.index(want[0]) > seen_at + 1,
           '%s: history evicted messages after the cursor (%d retained of %d)' % (what, retained, len(ids)))
    tap.is_(notices[:1], [(0, {'channels': [ch], 'id': have_last})],
            '%s: a gap notice naming the channel and the cursor, before any message' % what)
    tap.is_(len(notices), 1, '%s: exactly one gap notice' % what)
    tap.is_(len(got_ids), len(set(got_ids)), '%s: no message twice' % what)
    tap.ok(not set(got_ids) & set(ids[:seen_at + 1]), '%s: nothing it already had' % what)
    tap.ok(got_ids == want, '%s: exactly the %d messages still in history, in order, up to the newest'
           % (what, len(want)), 'got %d: %r..%r, want %d: %r..%r'
           % (len(got_ids), got_ids[:1], got_ids[-1:], len(want), want[:1], want[-1:]))


def warm_base(d):
    """Warms the daemon up (a publish, a subscriber) and returns its RSS."""
    ch = uniq('warm')
    publish(d, ch, 'x' * 1000)
    raw_http(d.port, b'GET /sub/%s?last_id=1-1 HTTP/1.1\r\nHost: x\r\n\r\n' % ch.encode())
    time.sleep(0.2)
    return proc_status_kb(d.pid, 'VmRSS')


async def ws_resume(d, ch, cursor, rounds=20):
    """Resumes over v1+json from cursor; a close (1013 or other) means
    reconnect from the last id got, as pushgate.js does; three failed
    handshakes in a row end it. Returns (ids, gap notices as (messages
    before it, notice), connections, close codes and handshake errors)."""
    got, notices, ends, failed = [], [], [], 0
    for r in range(rounds):
        try:
            w = await ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1).__aenter__()
        except (websockets.exceptions.InvalidHandshake, OSError) as e:
            ends.append('handshake failed: %s' % e)
            failed += 1
            if failed == 3:
                return got, notices, r + 1, ends
            continue
        failed = 0
        try:
            while True:
                try:
                    m = await recv_msg(w, 1.5)
                except asyncio.TimeoutError:
                    return got, notices, r + 1, ends
                except websockets.exceptions.ConnectionClosed as e:
                    ends.append(e.rcvd.code if e.rcvd else 1006)
                    break
                if m.get('type') == 'gap':
                    notices.append((len(got), {'channels': m.get('channels'), 'id': m.get('id')}))
                elif 'id' in m:
                    got.append(m['id'])
                    cursor = m['id']
        finally:
            await w.close()
    return got, notices, rounds, ends


def flood_stalled(d, ch, base_kb, kind):
    """Publishes N_MSGS to ch, whose one subscriber never reads, sampling
    the daemon's RSS; checks every publish was acknowledged without
    waiting and the RSS bound. Returns the ids."""
    poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 1, 2)
    hwm_valid = reset_hwm(d.pid)
    sampler = RssSampler(d.pid)
    sampler.start()
    ids, slowest, total = publish_all(d, ch)
    tap.comment('%s: published %d x %d KB in %.2f s (slowest publish %.3f s)'
                % (kind, len(ids), MSG_SIZE // 1024, total, slowest))
    tap.is_(len(ids), N_MSGS, '%s: every publish acknowledged' % kind)
    tap.ok(slowest < T(1), '%s: no publish waited on the stalled subscriber (slowest %.3f s)'
           % (kind, slowest))
    check_rss(d, base_kb, sampler, hwm_valid, kind)
    return ids


def case_ws(d, base_kb):
    ch = uniq('slowws')
    req = ('GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
           'Sec-WebSocket-Protocol: %s\r\n\r\n' % (ch, V1)).encode()
    s, st, first = slow_socket(d, req)
    tap.is_(st, 101, 'the slow WebSocket subscriber is upgraded')
    ids = flood_stalled(d, ch, base_kb, 'websocket')
    slow = metrics(d).get('pushgate_refusals_total{reason="slow_consumer"}', 0)
    tap.ok(slow >= 1, 'websocket: /metrics counts the slow_consumer refusal (%d)' % slow)
    t0 = time.monotonic()
    cut = poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 0
                     and public_connections(d) == 0, 5)
    tap.ok(cut, 'websocket: cut off and released while it still does not read '
           '(no subscription, no connection left after %.1f s)' % (time.monotonic() - t0),
           'subscribers %s, public connections %s' % ((channel_info(d, ch)[1] or {}).get('subscribers'),
                                                      public_connections(d)))
    data, eof = read_all(s, first, 10)
    s.close()
    frames, cut_bytes = parse_frames(data)
    msgs = [json.loads(p) for op, p in frames if op == OP_TEXT]
    closes = [p for op, p in frames if op == OP_CLOSE]
    code = int.from_bytes(closes[0][:2], 'big') if closes and len(closes[0]) >= 2 else None
    tap.comment('websocket: the subscriber finally read %d bytes: %d messages, close %s %r, eof %s, '
                '%d bytes of a cut frame' % (len(data), len(msgs), code, closes[0][2:] if closes else b'',
                                             eof, cut_bytes))
    tap.ok(code == 1013 or (code is None and eof), 'websocket: close 1013 (or EOF) after what it got')
    tap.ok(not (closes and cut_bytes), 'websocket: a close frame is never preceded by a cut frame')
    got = [m.get('id') for m in msgs if 'id' in m]
    tap.ok(got and got == ids[:len(got)], 'websocket: what it got is a prefix of the stream, no gap (%d)' % len(got))
    tap.ok(len(got) < N_MSGS, 'websocket: and not all of it (it was cut off)')
    retained = (channel_info(d, ch)[1] or {}).get('messages', 0)
    rids, notices, rounds, codes = run(ws_resume(d, ch, got[-1]), timeout=40)
    tap.ok(not [c for c in codes if isinstance(c, str)], 'websocket resume: every handshake succeeds', repr(codes))
    tap.comment('websocket: resume from %s: %d messages in %d connection(s), closes %s'
                % (got[-1], len(rids), rounds, codes))
    expect_resume('websocket resume', ids, got[-1], rids, notices, retained, ch)
    # A catch-up bigger than subscriber_buffer_max is sent up to the cap and
    # closed with 1013, like an SSE stream that ends: each reconnect resumes
    # from the last id it got, so it always makes progress.
    tap.ok(1 <= rounds <= 20 and all(c == 1013 for c in codes[:-1] if isinstance(c, int)),
           'websocket resume: a replay larger than subscriber_buffer_max arrives in rounds '
           'closed with 1013, each resuming where the last stopped (%d)' % rounds, 'closes: %r' % codes)


def sse_resume(d, ch, cursor, rounds=20):
    """Resumes with Last-Event-ID; a stream that ends is resumed from the
    last id got. Returns (ids, gap notices as (messages before it,
    notice), rounds)."""
    got, notices = [], []
    for r in range(rounds):
        with SSE(d, '/sub/' + ch, {'Last-Event-ID': cursor}, timeout=10) as s:
            if s.status != 200:
                tap.comment('SSE resume: status %s' % s.status)
                return got, notices, r + 1
            while True:
                e = s.next(1.5)
                if e is None:
                    if not s.eof:
                        return got, notices, r + 1
                    break
                if e.type == 'pushgate.gap':
                    notices.append((len(got), e.json()))
                elif e.type == 'message':
                    got.append(e.id)
                    cursor = e.id
    return got, notices, rounds


def case_sse(d, base_kb):
    ch = uniq('slowsse')
    req = ('GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n' % ch).encode()
    s, st, first = slow_socket(d, req)
    tap.is_(st, 200, 'the slow SSE subscriber gets its stream')
    ids = flood_stalled(d, ch, base_kb, 'sse')
    slow = metrics(d).get('pushgate_refusals_total{reason="slow_consumer"}', 0)
    tap.ok(slow >= 2, 'sse: /metrics counts the slow_consumer refusal (%d in all)' % slow)
    cut = poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 0
                     and public_connections(d) == 0, 5)
    tap.ok(cut, 'sse: cut off and released while it still does not read')
    data, eof = read_all(s, first, 10)
    s.close()
    p = EventParser()
    p.feed(data)
    got = [e.id for e in p.events if e.type == 'message']
    tap.comment('sse: the subscriber finally read %d bytes: %d messages, eof %s'
                % (len(data), len(got), eof))
    tap.ok(eof, 'sse: the stream ends')
    tap.ok(got and got == ids[:len(got)], 'sse: what it got is a prefix of the stream, no gap (%d)' % len(got))
    tap.ok(len(got) < N_MSGS, 'sse: and not all of it (it was cut off)')
    retained = (channel_info(d, ch)[1] or {}).get('messages', 0)
    rids, notices, rounds = sse_resume(d, ch, got[-1])
    tap.comment('sse: resume from %s: %d messages in %d stream(s)' % (got[-1], len(rids), rounds))
    expect_resume('sse resume', ids, got[-1], rids, notices, retained, ch)


require_websockets()
with Daemon(history_memory_max='8M', subscriber_buffer_max='1M', history_size=100000,
            log_level='info', sse_heartbeat='30s') as d:
    base = warm_base(d)
    tap.run(case_ws, d, base, timeout=60)
    tap.run(case_sse, d, base)
tap.done()
