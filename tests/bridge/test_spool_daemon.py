"""test_spool_daemon.py — the spool end to end with the real pushgated: the
daemon is stopped, publishes through pushgate-fcgi (CGI mode) are spooled,
the daemon restarts with spool_dir and every spooled message arrives once
and in order (a resuming WebSocket subscriber sees them after the gap); a
spooled publish to a refused channel ends in rejected/; entries left over at
start-up are drained before new publishes overtake them."""
import json
import os

from bridgeutil import Tap, cgi_env, prog, run_cgi, tmpdir, wait_until, write
import pgtest
from pgtest import Daemon, V1, publish, recv_msg, recv_n, silence, uniq, ws_connect

t = Tap()
BR = prog('pushgate-fcgi')
if not os.access(BR, os.X_OK):
    t.skip_all('pushgate-fcgi not built')
if not os.access(pgtest.daemon_path(), os.X_OK):
    t.skip_all('pushgated not built')
pgtest.require_websockets()
d0 = tmpdir()
spool = os.path.join(d0, 'spool')
os.mkdir(spool)


def entries():
    return sorted(f for f in os.listdir(spool) if f.endswith('.msg'))


N = 25
with Daemon(spool_dir=spool, spool_poll='200ms') as d:
    conf = write(os.path.join(d0, 'fcgi.conf'),
                 'daemon 127.0.0.1:%d\nspool_dir %s\n' % (d.pub_port, spool))
    ch = uniq('spool')
    st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/' + ch, length=6), b'before', conf)
    t.eq(st, 202, 'bridge publishes straight to the running daemon')
    cursor = json.loads(body).get('id')
    t.ok(cursor, 'and passes its id through', body)
    d.stop()
    codes = []
    for i in range(N):
        b = ('m%02d' % i).encode()
        codes.append(run_cgi(BR, cgi_env(uri='/pg/' + ch, length=len(b), extra={'HTTP_X_EVENT': 'seq'}),
                             b, conf)[0])
    run_cgi(BR, cgi_env(uri='/pg/bad%20name', length=1), b'x', conf)
    t.eq(codes, [202] * N, 'with the daemon stopped every publish is answered 202')
    t.eq(len(entries()), N + 1, 'and spooled')
    d.start()
    t.ok(wait_until(lambda: not entries(), 10), 'the restarted daemon drains the spool')

    async def check():
        async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, cursor), V1) as w:
            first = await recv_msg(w)
            t.eq(first.get('type'), 'gap', 'a cursor from before the restart gets a gap notice')
            got = await recv_n(w, N, json_mode=True)
            t.eq([m.get('data') for m in got], ['m%02d' % i for i in range(N)],
                 'then every spooled message, once, in order')
            t.eq({m.get('event') for m in got}, {'seq'}, 'with its event name')
            t.eq(await silence(w, 0.5, json_mode=True), None, 'none repeated')
    pgtest.run(check(), timeout=20)
    rej = os.path.join(spool, 'rejected')
    t.ok(os.path.isdir(rej) and any(f.endswith('.msg') for f in os.listdir(rej)),
         'the spooled publish the daemon refused (4xx) is in rejected/')
    # while the daemon runs, a new entry is picked up promptly
    ch2 = uniq('spool')
    entry = os.path.join(spool, '.tmp-x')
    write(entry, 'PGSPOOL1\nchannels %s\nlength 4\n\nlate' % ch2)
    os.rename(entry, os.path.join(spool, '99999999999999999999-1-00000001.msg'))
    t.ok(wait_until(lambda: not entries(), 5), 'an entry appearing while running is drained')
    st, info = pgtest.channel_info(d, ch2) if hasattr(pgtest, 'channel_info') else (None, None)
    t.ok(st == 200, 'and its channel exists', info)
t.done()
