#!/usr/bin/python3
"""test_keepalive.py — with ping_interval=1s and idle_timeout=3s: raw
subscribers get WebSocket pings, v1+json subscribers {"type":"ping"}; a
client that sends nothing is closed after idle_timeout (not before); clients
that answer pings or send {"type":"ping"} stay open and keep receiving."""

import asyncio
import json
import socket
import time

from pgtest import *

PING = 1.0
IDLE = 3.0


def silent_client(d):
    """A raw-socket client that never sends anything after the handshake.
    Returns (seconds until the server closed, close code or None, pings seen)."""
    with RawWS(d, '/sub/' + uniq('idle')) as w:
        t0 = time.monotonic()
        frames, how = w.recv_frames(IDLE + 4)
        dt = time.monotonic() - t0
        close = frames[-1].close_code() if how == 'close' else None
        if how == 'close':
            w.wait_eof(2)
        return dt, how, close, sum(1 for f in frames if f.opcode == OP_PING)


def case_raw_pings(d):
    with RawWS(d, '/sub/' + uniq('ping')) as w:
        t0 = time.monotonic()
        stamps = []
        while len(stamps) < 2 and time.monotonic() - t0 < T(PING * 4):
            try:
                f = w.recv_frame(PING * 4)
            except socket.timeout:
                break
            if f is None:
                break
            if f.opcode == OP_PING:
                stamps.append(time.monotonic() - t0)
                w.send_frame(OP_PONG, f.payload)
        tap.is_(len(stamps), 2, 'a raw subscriber gets WebSocket pings')
        tap.ok(len(stamps) == 2 and stamps[0] <= T(PING * 1.5 + 0.5) and 0.5 * PING <= stamps[1] - stamps[0] <= T(PING * 2),
               'about every ping_interval (1 s)', 'ping times: %r' % stamps)


async def case_json_pings(d):
    async with ws_connect(d, '/sub/' + uniq('jping'), V1) as w:
        t0 = time.monotonic()
        m = await recv_json(w, PING * 2 + 0.5)
        tap.is_(m, {'type': 'ping'}, 'a v1+json subscriber gets {"type":"ping"}')
        tap.ok(time.monotonic() - t0 <= T(PING * 1.5 + 0.5), 'within about ping_interval',
               '%.2f s' % (time.monotonic() - t0))


async def case_idle_and_alive(d):
    loop = asyncio.get_running_loop()
    idle = loop.run_in_executor(None, silent_client, d)
    try:
        await alive_while_idle(d, idle)
    finally:
        await asyncio.gather(idle, return_exceptions=True)


async def alive_while_idle(d, idle):
    ch = uniq('alive')
    async with ws_connect(d, '/sub/' + ch) as raw, ws_connect(d, '/sub/' + ch, V1) as js:
        t0 = time.monotonic()
        pings = pongs = 0
        while time.monotonic() - t0 < 2 * IDLE:
            await js.send(json.dumps({'type': 'ping'}))
            pings += 1
            try:
                if (await recv_msg(js, 1)) == {'type': 'pong'}:
                    pongs += 1
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(0.7)
        tap.is_(pongs, pings, 'every {"type":"ping"} got a {"type":"pong"} within 1 s')
        dt, how, code, server_pings = await idle
        tap.ok(how in ('close', 'eof'), 'a client that sends nothing is closed', 'how=%s' % how)
        tap.ok(IDLE - 0.5 <= dt <= T(IDLE + 2), 'after about idle_timeout (3 s), not before',
               'closed after %.2f s (how=%s, code=%s, pings seen=%d)' % (dt, how, code, server_pings))
        tap.comment('idle close: how=%s code=%s after %.2f s' % (how, code, dt))
        publish(d, ch, 'still here')
        try:
            got_raw = await recv(raw)
        except Exception as e:
            got_raw = repr(e)
        tap.is_(got_raw, 'still here', 'a raw client answering pings is open after 2 x idle_timeout')
        got_js = None
        for _ in range(5):   # a late pong may come first
            try:
                m = await recv_msg(js)
            except Exception as e:
                got_js = repr(e)
                break
            if m != {'type': 'pong'}:
                got_js = m.get('data', m)
                break
        tap.is_(got_js, 'still here', 'a v1+json client sending {"type":"ping"} is open after 2 x idle_timeout')


def main():
    require_websockets()
    with Daemon(ping_interval='1s', idle_timeout='3000ms') as d:
        for case in (case_raw_pings, case_json_pings, case_idle_and_alive):
            tap.run(case, d)
    tap.done()


main()
