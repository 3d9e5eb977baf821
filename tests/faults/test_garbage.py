#!/usr/bin/python3
"""test_garbage.py — garbage on every listener (public TCP, publish TCP,
publish unix socket): seeded random bytes, HTTP/0.9, huge headers (431),
a 100 KB request line, invalid UTF-8, bad %-escapes and NUL bytes in
channel names and heads (400), a TLS ClientHello on a plain port, request
smuggling shapes and absurd lengths on the publish API; on WebSockets
(/sub and /pubsub): unmasked frames, reserved opcodes and RSV bits (1002),
2^63 and 2^63-1 length headers (1002 / 1009 at once, no allocation), a frame
trickled one byte at a time (still understood), a frame header that stalls
(cut by idle_timeout).

Every refusal is a clear one (an HTTP status with a JSON reason, or a
WebSocket close code), arrives at once (only a head that never completes
waits for header_timeout), the daemon stays alive and serves a publish and
a subscriber after every group, its open files return to where they were,
its RSS does not jump, and it exits 0 on SIGTERM (with PG_VALGRIND=1: no
leak or memory error either, the harness turns those into exit 99).

tests/integration/test_ws_frames.py holds the full RFC 6455 framing
matrix; this file throws the same kinds of bytes at every listener and
checks that nothing else suffers."""

import json
import os
import random
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *        # noqa: E402,F403
from faultutil import *     # noqa: E402,F403

HEADER_TIMEOUT = T(2)
IDLE = T(3)
MAX_HEAD = 4096
MAX_MSG = 65536
FAST = T(1)         # a refusal that needs no timeout comes within this
ERR_STATUSES = (400, 408, 413, 414, 431, 501, 505)
CLIENT_PUB = 'gb-*'


class Listener:
    def __init__(self, name, port=None, unix=None):
        self.name, self.port, self.unix = name, port, unix

    def connect(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(T(3))
            s.connect(self.unix)
        else:
            s = socket.create_connection(('127.0.0.1', self.port), timeout=T(3))
        return s


def listeners(d):
    return [Listener('public', port=d.port), Listener('publish', port=d.pub_port),
            Listener('publish-unix', unix=d.keys['publish_listen'][1][5:])]


def exchange_many(lst, payloads, timeout):
    """Sends each payload on its own connection, all at once, and reads
    until a whole reply came or the server closed. Returns [(reply bytes,
    answered or closed?, seconds until the reply's first byte, or the
    close)]."""
    socks, t0 = [], time.monotonic()
    for p in payloads:
        s = lst.connect()
        try:
            s.sendall(p)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except socket.timeout:
            pass
        s.setblocking(False)
        socks.append(s)
    first, got = {}, {}
    closed, still, when = drain_until_closed(socks, timeout, first, got, done=reply_complete)
    out = [(got[s], s not in still, first.get(s, time.monotonic() - t0)) for s in socks]
    close_all(socks)
    return out


def reply_json_ok(reply):
    """A 4xx/5xx reply's body is a one-line JSON reason."""
    head, _, body = reply.partition(b'\r\n\r\n')
    if not body:
        return True     # the head was refused before a body could follow (e.g. cut by the peer)
    try:
        return bool(json.loads(body.decode('utf-8')).get('error'))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def serves(d, what):
    """A publish and a long-poll resume both work; one TAP line."""
    ch = uniq('alive')
    t0 = time.monotonic()
    try:
        a = publish(d, ch, 'one')[1]['id']
        b = publish(d, ch, 'two')[1]['id']
        r = http_request(d, 'GET', '/sub/%s?last_id=%s' % (ch, a), listener='sub')
        good = r.status == 200 and [m.get('id') for m in r.json() or []] == [b]
    except (OSError, TypeError, KeyError) as e:
        good, r = False, e
    tap.ok(alive(d) and good, 'after %s: alive and serving (%.3f s)' % (what, time.monotonic() - t0), repr(r))


def check_group(name, results, want, fast=True):
    """One TAP line per group: every reply is one of want (0 = closed
    without a reply), with a JSON reason, and came at once."""
    statuses = [status_of(r) for r, _, _ in results]
    slow = [round(t, 2) for _, _, t in results if t > FAST] if fast else []
    bad = [s for s in statuses if s not in want]
    open_ = [i for i, (_, closed, _) in enumerate(results) if not closed]
    no_reason = [status_of(r) for r, _, _ in results if status_of(r) and not reply_json_ok(r)]
    tap.ok(not bad and not slow and not open_ and not no_reason,
           '%s: %s%s' % (name, ', '.join(str(s) for s in sorted(set(statuses))),
                         ' at once' if fast else ''),
           'statuses %r (want %r); slow: %r; left open: %r; no JSON reason: %r'
           % (statuses, want, slow, open_, no_reason))


def rss_check(d, rss0, name):
    grew = proc_status_kb(d.pid, 'VmRSS') - rss0
    if rss_meaningless():
        tap.skip(name, rss_meaningless(), covered_elsewhere=True)  # run-all's plain stage
    else:
        tap.ok(grew < 16 * 1024, '%s (RSS +%d kB)' % (name, grew))


def tls_client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname='localhost')
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def case_random(d):
    rnd = random.Random(20251130)
    blobs = [bytes(rnd.getrandbits(8) for _ in range(rnd.choice((1, 7, 64, 500, 3000, 8192))))
             for _ in range(24)]
    blobs += [b'\r\n' * 10, b'\x00' * 100, b' ' * 50 + b'\r\n\r\n', b'\xff\xfe\xfd\r\n\r\n']
    for lst in listeners(d):
        res = exchange_many(lst, blobs, HEADER_TIMEOUT + T(3))
        check_group('%s: %d random blobs answered with an error or closed' % (lst.name, len(blobs)),
                    res, (0,) + ERR_STATUSES, fast=False)
        late = [t for _, _, t in res if t > HEADER_TIMEOUT + T(1.5)]
        tap.ok(not late, '%s: none held past header_timeout' % lst.name, repr(late))
    serves(d, 'random bytes')


def case_http_heads(d):
    big_hdr = b'GET /sub/x HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * (MAX_HEAD + 10) + b'\r\n\r\n'
    many = b'GET /sub/x HTTP/1.1\r\nHost: x\r\n' + b''.join(b'X-H%d: %s\r\n' % (i, b'b' * 60) for i in range(100)) + b'\r\n'
    many_unterminated = many[:-2]
    count_only = b'GET /sub/x HTTP/1.1\r\nHost: x\r\n' + b''.join(b'X-H%d: b\r\n' % i for i in range(200)) + b'\r\n'
    long_line = b'GET /sub/' + b'a' * 100000 + b' HTTP/1.1\r\nHost: x\r\n\r\n'
    for lst in listeners(d):
        pub = lst.name != 'public'
        verb = b'POST /pub/x' if pub else b'GET /sub/x'
        check_group('%s: HTTP/0.9 "GET /" gets 400 or 505' % lst.name,
                    exchange_many(lst, [b'GET /\r\n', b'GET /\r\n\r\n'], T(3)), (400, 505))
        check_group('%s: one header over max_header_size gets 431' % lst.name,
                    exchange_many(lst, [big_hdr.replace(b'GET /sub/x', verb)], T(3)), (431,))
        check_group('%s: 100 headers over max_header_size together get 431 (ended or not)' % lst.name,
                    exchange_many(lst, [many.replace(b'GET /sub/x', verb),
                                        many_unterminated.replace(b'GET /sub/x', verb)], T(3)), (431,))
        check_group('%s: 200 tiny headers within max_header_size get 400 or 431' % lst.name,
                    exchange_many(lst, [count_only.replace(b'GET /sub/x', verb)], T(3)), (400, 431))
        check_group('%s: a 100 KB request line gets 414 or 431' % lst.name,
                    exchange_many(lst, [long_line], T(3)), (414, 431))
        check_group('%s: a TLS ClientHello on the plain port gets 400 or a close' % lst.name,
                    exchange_many(lst, [tls_client_hello()], T(3)), (0, 400))
        check_group('%s: unknown versions and methods get 400, 501 or 505' % lst.name,
                    exchange_many(lst, [b'GET / HTTP/2.0\r\nHost: x\r\n\r\n', b'GET / HTTP/1.x\r\n\r\n',
                                        b'G\x01T / HTTP/1.1\r\n\r\n', b'GET / FTP/1.1\r\n\r\n',
                                        b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'], T(3)),
                    (400, 501, 505))
        check_group('%s: NUL bytes in the request line or a header get 400' % lst.name,
                    exchange_many(lst, [verb + b'\x00y HTTP/1.1\r\nHost: x\r\n\r\n',
                                        verb + b' HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n',
                                        verb + b' HTTP/1.1\r\nHost: x\r\nX-\x00: a\r\n\r\n',
                                        verb + b' HTTP/1.1\x00\r\nHost: x\r\n\r\n'], T(3)), (400,))
        check_group('%s: bare LF, obs-fold and spaces before the colon get 400' % lst.name,
                    exchange_many(lst, [verb + b' HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n',
                                        verb + b' HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n',
                                        verb + b' HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n'], T(3)), (400,))
    serves(d, 'malformed heads')


BAD_NAMES = [b'%FF', b'caf%C3', b'caf\xc3', b'\xff\xfe', b'a%2', b'a%zz', b'a%00b', b'%2e%2e%2fetc',
             b'a%20b', b'a/b', b'%E2%82%AC', b'x' * 129, b'a,,b', b',', b'a%2Cb%FF']


def case_channel_names(d):
    sub = Listener('public', port=d.port)
    lp = [b'GET /sub/%s HTTP/1.1\r\nHost: x\r\n\r\n' % n for n in BAD_NAMES]
    check_group('public: long-poll with %d malformed channel names gets 400' % len(BAD_NAMES),
                exchange_many(sub, lp, T(3)), (400,))
    sse = [b'GET /sub/%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n' % n for n in BAD_NAMES]
    check_group('public: SSE with malformed channel names gets 400', exchange_many(sub, sse, T(3)), (400,))
    ws = [b'GET /%s/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' % (p, n)
          for p in (b'sub', b'pubsub') for n in BAD_NAMES]
    check_group('public: WebSocket upgrades to malformed channel names get 400', exchange_many(sub, ws, T(3)), (400,))
    for lst in listeners(d)[1:]:
        reqs = [b'%s /pub/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx' % (m, n)
                for m in (b'POST', b'GET', b'DELETE') for n in BAD_NAMES]
        check_group('%s: publish, info and delete of malformed channel names get 400' % lst.name,
                    exchange_many(lst, reqs, T(3)), (400,))
    serves(d, 'malformed channel names')


def case_publish_bodies(d):
    n = MAX_MSG
    reqs = [
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nx',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nab',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % (n + 1),
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n',
        b'POST /pub/gb-x HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n',
    ]
    for lst in listeners(d)[1:]:
        rss0 = proc_status_kb(d.pid, 'VmRSS')
        res = exchange_many(lst, reqs, T(3))
        check_group('%s: bad lengths, smuggling shapes and oversize bodies get 400/413/501 at once' % lst.name,
                    res, (400, 413, 501))
        tap.comment('%s: %s' % (lst.name, [status_of(r) for r, _, _ in res]))
        rss_check(d, rss0, '%s: absurd lengths allocate nothing' % lst.name)
    ch = uniq('gb-after')
    tap.is_(channel_info(d, ch)[0], 404, 'none of them published anything')
    info = channel_info(d, 'gb-x')
    tap.ok(info[0] == 404 or (info[1] or {}).get('messages') == 0, 'no message reached gb-x', repr(info))
    serves(d, 'publish body abuse')


def ws_case(d, path, frames, want, name):
    with RawWS(d, path, protocols=[V1] if path.startswith('/sub/') else None) as w:
        if w.status != 101:
            tap.ok(False, name, 'handshake answered %d' % w.status)
            return
        t0 = time.monotonic()
        for f in frames:
            w.send(f)
        code, reason, got, how = w.expect_close(3)
        dt = time.monotonic() - t0
        eof = w.wait_eof(3)
        tap.ok(code in want and dt <= FAST and eof, '%s: close %s at once (%.3f s), then EOF'
               % (name, code, dt), 'want %r, got %s %r (%s), eof %s' % (want, code, reason, how, eof))


def case_ws_frames(d):
    rss0 = proc_status_kb(d.pid, 'VmRSS')
    for path in ('/sub/' + uniq('gbw'), '/pubsub/' + uniq('gb-w')):
        where = path.split('/')[1]
        ws_case(d, path, [ws_frame(OP_TEXT, b'hi', mask=False)], (1002,), '%s: an unmasked text frame' % where)
        ws_case(d, path, [ws_frame(OP_PING, b'', mask=False)], (1002,), '%s: an unmasked empty ping' % where)
        for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
            ws_case(d, path, [ws_frame(op, b'x')], (1002,), '%s: reserved opcode 0x%X' % (where, op))
        for rsv in (1, 2, 4, 7):
            ws_case(d, path, [ws_frame(OP_TEXT, b'x', rsv=rsv)], (1002,), '%s: RSV bits %d' % (where, rsv))
        ws_case(d, path, [ws_frame(OP_BINARY, b'', length=1 << 63)], (1002, 1009),
                '%s: a 2^63-length frame header' % where)
        ws_case(d, path, [ws_frame(OP_BINARY, b'', length=(1 << 63) - 1)], (1009, 1002, 1003, 1008),
                '%s: a 2^63-1-length frame header' % where)
        ws_case(d, path, [ws_frame(OP_TEXT, b'abc', length=MAX_MSG * 4)], (1009, 1003, 1008),
                '%s: a frame announcing 4 x max_message_size' % where)
        ws_case(d, path, [ws_frame(OP_TEXT, b'\xc3\x28 not utf-8')], (1007, 1003, 1008),
                '%s: invalid UTF-8 in a text frame' % where)
    rss_check(d, rss0, 'frame headers announcing 2^63 bytes allocate nothing')
    serves(d, 'WebSocket frame abuse')


def case_ws_slowloris(d):
    path = '/sub/' + uniq('gbslow')
    with RawWS(d, path) as w:
        frame = ws_frame(OP_PING, b'slowly')
        t0 = time.monotonic()
        for i in range(len(frame)):
            w.send(frame[i:i + 1])
            time.sleep(0.1)
        f = w.recv_frame(3)
        while f is not None and f.opcode == OP_PING:      # the server's own keep-alive pings
            f = w.recv_frame(3)
        tap.ok(f is not None and (f.opcode, f.payload) == (OP_PONG, b'slowly'),
               'a ping trickled one byte every 100 ms is understood (pong after %.2f s)'
               % (time.monotonic() - t0), repr(f))
    with RawWS(d, path) as w:
        t0 = time.monotonic()
        w.send(b'\x89')         # the first byte of a ping header, then nothing
        eof = w.wait_eof(IDLE + T(3))
        dt = time.monotonic() - t0
        tap.ok(eof and dt <= IDLE + T(2), 'a frame header that stalls is cut by idle_timeout (%.2f s)' % dt)
    with RawWS(d, path) as w:
        t0 = time.monotonic()
        w.send(b'\x82\xff' + (1 << 40).to_bytes(8, 'big')[:5])   # a 64-bit length, cut in the middle
        eof = w.wait_eof(IDLE + T(3))
        dt = time.monotonic() - t0
        tap.ok(eof and dt <= IDLE + T(2), 'an extended length that stalls is cut by idle_timeout (%.2f s)' % dt)
    serves(d, 'WebSocket slowloris')


def case_no_leak(d, base_fds):
    back = poll_until(lambda: fd_count(d.pid, sockets_only=True) <= base_fds, timeout=5)
    tap.ok(back, 'daemon sockets back to %d (now %d): no connection leaked'
           % (base_fds, fd_count(d.pid, sockets_only=True)))
    tap.ok(poll_until(lambda: public_connections(d) == 0, 3), '/metrics: no public connection left open')
    m = metrics(d)
    counts = {k.split('"')[1]: int(v) for k, v in m.items() if k.startswith('pushgate_refusals_total{')}
    tap.comment('refusals counted: %r' % {k: v for k, v in counts.items() if v})
    tap.ok(counts.get('bad_request', 0) > 0 and counts.get('max_header_size', 0) > 0,
           '/metrics counts bad_request and max_header_size refusals')


require_websockets()
d = Daemon(header_timeout='%dms' % int(HEADER_TIMEOUT * 1000), idle_timeout='%dms' % int(IDLE * 1000),
           ping_interval='1s', max_header_size=MAX_HEAD, max_message_size=MAX_MSG,
           client_publish=CLIENT_PUB, log_level='info', longpoll_hold='1s')
d.keys['publish_listen'] = [d.keys['publish_listen'], 'unix:%s/pub.sock' % d.tmpdir]
with d:
    fds = fd_count(d.pid, sockets_only=True)
    serves(d, 'start-up')
    for case in (case_random, case_http_heads, case_channel_names, case_publish_bodies,
                 case_ws_frames, case_ws_slowloris):
        tap.run(case, d)
    tap.run(case_no_leak, d, fds)
tap.done()
