#!/usr/bin/python3
"""test_shutdown.py — SIGTERM: every WebSocket (raw, v1+json, multi-channel,
/pubsub, and a raw-socket client that never answers the close) gets close
1001, and the process exits with status 0 within 5 s."""

import asyncio
import signal
import threading
import time

from pgtest import *


def unresponsive(d, out):
    """A raw-socket subscriber that reads but never answers the close."""
    with RawWS(d, '/sub/' + uniq('deaf')) as w:
        out['status'] = w.status
        out['ready'].set()
        code, _, _, how = w.expect_close(8)
        out['code'], out['how'] = code, how


async def shutdown(d):
    ch = uniq('bye')
    info = {'ready': threading.Event()}
    t = threading.Thread(target=unresponsive, args=(d, info))
    t.start()
    async with ws_connect(d, '/sub/' + ch) as raw, \
            ws_connect(d, '/sub/%s,%s' % (ch, uniq('other')), V1) as js, \
            ws_connect(d, '/pubsub/chat.' + ch) as ps:
        info['ready'].wait(T(5))
        publish(d, ch, 'before')
        await recv(raw)
        await recv_msg(js)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        codes = await asyncio.gather(wait_close(raw, 6), wait_close(js, 6), wait_close(ps, 6))
        for (code, _, msgs), who in zip(codes, ('raw', 'v1+json multi-channel', 'pubsub')):
            tap.is_(code, 1001, '%s subscriber gets close 1001 on SIGTERM' % who)
        rc = await asyncio.get_running_loop().run_in_executor(None, d.wait, T(6))
        dt = time.monotonic() - t0
    t.join(T(10))
    tap.is_(info.get('code'), 1001, 'a client that never answers the close also gets 1001')
    tap.ok(rc is not None and dt <= T(5), 'the process exits within 5 s of SIGTERM', 'exit after %.2f s' % dt)
    tap.is_(rc, 0, 'exit status 0')


def main():
    require_websockets()
    d = Daemon(client_publish='chat.*', check_exit=False)
    with d:
        tap.run(shutdown, d)
    tap.done()


main()
