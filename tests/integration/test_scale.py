#!/usr/bin/python3
"""test_scale.py — 1,000 WebSocket subscribers of one channel (800 raw, 200
pushgate.v1+json) in one asyncio process, 100 messages published while they
read: every subscriber gets all 100, once, in order, nothing lost."""

import asyncio
import json
import resource
import time

from pgtest import *

N_SUBS = 1000
N_JSON = 200
N_MSGS = 100


async def subscriber(d, ch, json_mode, ready, go):
    async with ws_connect(d, '/sub/' + ch, V1 if json_mode else None, open_timeout=T(20)) as w:
        ready.release()
        await go.wait()
        got = []
        deadline = time.monotonic() + T(30)
        while len(got) < N_MSGS and time.monotonic() < deadline:
            try:
                m = await asyncio.wait_for(w.recv(), max(deadline - time.monotonic(), 0.01))
            except asyncio.TimeoutError:
                break
            if json_mode:
                m = json.loads(m)
                if m.get('type') == 'ping':
                    continue
                m = m.get('data')
            got.append(m)
        return got


async def scale(d):
    ch = uniq('scale')
    ready = asyncio.Semaphore(0)
    go = asyncio.Event()
    tasks = []
    t0 = time.monotonic()
    for i in range(N_SUBS):
        tasks.append(asyncio.ensure_future(subscriber(d, ch, i < N_JSON, ready, go)))
        if i % 100 == 99:          # connect in waves of 100
            for _ in range(100):
                await asyncio.wait_for(ready.acquire(), T(20))
    tap.comment('%d subscribers connected in %.1f s' % (N_SUBS, time.monotonic() - t0))
    go.set()
    loop = asyncio.get_running_loop()

    def publish_all():
        return [publish(d, ch, 'msg-%03d' % i) for i in range(N_MSGS)]

    t1 = time.monotonic()
    replies = await loop.run_in_executor(None, publish_all)
    tap.ok(all(st == 201 for st, _ in replies), 'all %d publishes answered 201' % N_MSGS,
           repr([r for r in replies if r[0] != 201][:3]))
    counts = [j.get('subscribers') for _, j in replies]
    tap.is_(counts[0], N_SUBS, 'the first publish counted %d subscribers' % N_SUBS)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    tap.comment('delivered in %.1f s' % (time.monotonic() - t1))
    want = ['msg-%03d' % i for i in range(N_MSGS)]
    errors = [r for r in results if isinstance(r, BaseException)]
    tap.ok(not errors, 'no subscriber failed', repr(errors[:3]))
    bad = [(i, len(r)) for i, r in enumerate(results) if not isinstance(r, BaseException) and r != want]
    tap.ok(not bad, 'every subscriber got all %d messages once, in order' % N_MSGS,
           'subscribers with other sequences (index, count): %r' % bad[:10])


def main():
    require_websockets()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < N_SUBS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with Daemon(history_size=200) as d:
        tap.run(scale, d, timeout=90)
    tap.done()


main()
