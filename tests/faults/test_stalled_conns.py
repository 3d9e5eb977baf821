#!/usr/bin/python3
"""test_stalled_conns.py — a connection flood that stalls: 10,000 sockets
(5,000 when the open-file limit cannot hold 10,000 here) that send half a
WebSocket upgrade, or nothing, and then stall. While they are held, a new
WebSocket subscriber and a publish are served within 1 s; the stalled ones
are reaped by header_timeout (408 or EOF), and the daemon's open files
(/proc/<pid>/fd) and /metrics connection gauge fall back to where they
were. A slowloris that trickles one header byte every 250 ms is reaped by
the same deadline (it bounds the whole head, not the silence). With
loopback not trusted, one address is held to max_connections_per_ip while
another is still served.

Figures (connections held, open and reap times, daemon fds) are printed
as TAP comments for the closing report."""

import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *        # noqa: E402,F403
from faultutil import *     # noqa: E402,F403

HEADER_TIMEOUT = T(3)           # seconds; opening 10,000 takes < 1 s
SOURCES = tuple('127.0.0.%d' % i for i in range(2, 12))
HALF = (b'GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
        b'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n')


async def serve_one(d, ch):
    """Seconds for: a new v1+json WebSocket subscribe, a publish, and its
    delivery."""
    t0 = time.monotonic()
    async with ws_connect(d, '/sub/' + ch, V1) as w:
        t_sub = time.monotonic() - t0
        st, js = await asyncio.get_event_loop().run_in_executor(None, publish, d, ch, 'hello')
        m = await recv_msg(w, 5)
        t_all = time.monotonic() - t0
    return t_sub, t_all, st, m.get('data'), (js or {}).get('id') == m.get('id')


def case_flood(d, n_total):
    base_fds = fd_count(d.pid)
    n_silent = n_total // 10
    ch = uniq('flood')
    half, t_half, err_half = open_stalled(d.port, n_total - n_silent, HALF % ch.encode(), SOURCES, 40)
    silent, t_silent, err_silent = open_stalled(d.port, n_silent, b'', SOURCES, 10)
    t_open = t_half + t_silent
    socks = half + silent
    # the kernel completes a connect before the daemon accepts it (and,
    # with workers, hands it to one): give the accepting a moment
    poll_until(lambda: fd_count(d.pid) - base_fds >= n_total * 0.98, timeout=1)
    held = fd_count(d.pid) - base_fds
    tap.comment('opened %d stalled connections (%d half requests, %d silent) in %.2f s; '
                '%d connect errors; daemon fds %d -> %d'
                % (len(socks), len(half), len(silent), t_open, err_half + err_silent,
                   base_fds, base_fds + held))
    tap.ok(len(socks) == n_total and err_half + err_silent == 0,
           'all %d connections opened (%d errors)' % (n_total, err_half + err_silent))
    tap.ok(held >= n_total * 0.98 or t_open > HEADER_TIMEOUT,
           'the daemon holds them: %d more open files' % held)
    t_sub, t_all, st, data, same = run(serve_one(d, uniq('ok')), timeout=10)
    tap.comment('while %d are stalled: subscribed in %.3f s, publish delivered after %.3f s'
                % (len(socks), t_sub, t_all))
    tap.ok(st in (201, 202) and data == 'hello' and same, 'a new subscriber gets a new publish')
    tap.ok(t_all <= T(1), 'subscribe + publish + delivery within 1 s (%.3f s)' % t_all)
    closed, still, when = drain_until_closed(socks, HEADER_TIMEOUT + T(6))
    got408 = sum(1 for s in half if status_of(closed.get(s, b'')) == 408)
    other = sorted({status_of(closed[s]) for s in closed} - {0, 408})
    silent_reply = sum(1 for s in silent if closed.get(s))
    times = sorted(when.values())
    tap.comment('reaped %d of %d: %d half requests answered 408, %d closed without a reply; '
                'closed after median %.2f s, last %.2f s (header_timeout %.1f s)'
                % (len(closed), len(socks), got408, len(closed) - got408,
                   percentile(times, 0.5), times[-1] if times else -1, HEADER_TIMEOUT))
    tap.is_(len(still), 0, 'every stalled connection is closed by the server within header_timeout')
    tap.ok(got408 >= len(half) * 0.99, 'half requests get 408 Request Timeout (%d of %d)' % (got408, len(half)))
    tap.is_(other, [], 'no other status than 408 on a stalled connection')
    tap.is_(silent_reply, 0, 'a connection that sent nothing is closed without a reply')
    close_all(socks)
    back = poll_until(lambda: fd_count(d.pid) <= base_fds + 4, timeout=5)
    tap.ok(back, 'daemon open files back to %d (now %d)' % (base_fds, fd_count(d.pid)))
    tap.is_(public_connections(d), 0, '/metrics: no public connection left open')
    refused = metrics(d).get('pushgate_refusals_total{reason="header_timeout"}', 0)
    tap.ok(refused >= got408, '/metrics counts header_timeout refusals (%d)' % refused)
    t_sub, t_all, st, data, same = run(serve_one(d, uniq('after')), timeout=10)
    tap.ok(data == 'hello' and t_all <= T(1), 'after the flood: served within 1 s (%.3f s)' % t_all)


def case_trickle(d):
    """20 slowloris connections trickling one byte each every 250 ms."""
    n = 20
    socks = [socket.create_connection(('127.0.0.1', d.port), timeout=T(3)) for _ in range(n)]
    head = b'GET /sub/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + b'a' * 4000
    t0 = time.monotonic()
    pos, open_, replies, when = 0, list(socks), {}, {}
    while open_ and pos < len(head) and time.monotonic() - t0 < HEADER_TIMEOUT + T(5):
        for s in list(open_):
            try:
                s.send(head[pos:pos + 1])
            except OSError:
                pass
        pos += 1
        time.sleep(0.25)
        for s in list(open_):      # a reply or EOF ends that connection's test
            s.setblocking(False)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            replies[s] = data
            when[s] = time.monotonic() - t0
            open_.remove(s)
    last = max(when.values()) if when else -1
    tap.comment('slowloris: %d of %d trickling connections answered after %.2f s (%d bytes sent each); '
                'header_timeout %.1f s' % (len(replies), n, last, pos, HEADER_TIMEOUT))
    tap.is_(len(open_), 0, 'slowloris trickling one byte every 250 ms is cut off')
    tap.ok(0 < last <= HEADER_TIMEOUT + T(2), 'within header_timeout of its first byte (%.2f s)' % last)
    tap.ok(all(status_of(b) in (0, 408) for b in replies.values()), 'with 408 or a plain close',
           repr(set(replies.values())))
    close_all(socks)


def case_per_ip(d):
    """trusted_proxies excludes loopback here: 127.0.0.2 is held to
    max_connections_per_ip (50) while 127.0.0.3 is still served."""
    ch = uniq('ip')
    socks, _, errs = open_stalled(d.port, 60, HALF % ch.encode(), ('127.0.0.2',), 10)
    closed, still, when = drain_until_closed(socks, T(1.5))
    tap.comment('per-ip: 60 from 127.0.0.2: %d held, %d refused at once (%s)'
                % (len(still), len(closed), sorted({status_of(b) for b in closed.values()})))
    tap.is_(len(still), 50, 'one address holds exactly max_connections_per_ip (50) connections')
    tap.ok(all(status_of(b) in (0, 429, 503) for b in closed.values()), 'the rest are refused (EOF, 429 or 503)')
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind(('127.0.0.3', 0))
    s.settimeout(T(3))
    s.connect(('127.0.0.1', d.port))
    s.sendall(b'GET /sub/%s?last_id=1-1 HTTP/1.1\r\nHost: x\r\n\r\n' % ch.encode())
    reply = s.recv(4096)
    s.close()
    tap.is_(status_of(reply), 200, 'another address is still served (long-poll with a cursor: 200)')
    close_all(socks)


limit = raise_nofile()
N = 10000 if limit >= 10000 + 500 else 5000
tap.comment('open-file limit of the test process (and the daemon): %d; flood of %d' % (limit, N))
require_websockets()
with Daemon(header_timeout='%dms' % int(HEADER_TIMEOUT * 1000), max_connections_per_ip=0,
            log_level='info', longpoll_hold='1s') as d:
    tap.run(case_flood, d, N)
    tap.run(case_trickle, d)
with Daemon(trusted_proxies='10.255.255.255/32', max_connections_per_ip=50,
            header_timeout='%dms' % int(T(5) * 1000), log_level='info', longpoll_hold='1s') as d:
    tap.run(case_per_ip, d)
tap.done()
