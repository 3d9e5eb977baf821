"""test_bridge_spool.py — the bridge's side of the spool against a stand-in
publish listener: pushgated away, restarting (no socket) or answering 503
gets a durable entry and 202 {"spooled":true}; a non-empty spool takes new
publishes too (order); CGI mode with a remote daemon answers 503; a
FastCGI-mode bridge drains its own spool to a remote daemon, in order, with
the entry key as X-Pushgate-Dedup-Key, 4xx entries go to rejected/."""
import json
import os
import subprocess

from bridgeutil import (Tap, cgi_env, free_port, prog, run_cgi, run_fcgi, stop, tmpdir,
                        wait_port, wait_until, write)
from fakepub import FakePub

t = Tap()
BR = prog('pushgate-fcgi')
if not os.access(BR, os.X_OK):
    t.skip_all('pushgate-fcgi not built')
d = tmpdir()
spool = os.path.join(d, 'spool')


def entries():
    try:
        return sorted(f for f in os.listdir(spool) if f.endswith('.msg'))
    except FileNotFoundError:
        return []


def read_entry(name):
    with open(os.path.join(spool, name), 'rb') as f:
        return f.read()


mode = {'status': 503}


def answer(req, n):
    if mode['status'] == 503:
        return 503, {"error": "store unavailable"}
    if req.channel == 'bad':
        return 400, {"error": "bad channel"}
    return 202, {"id": "1-%d" % n, "channel": req.channel, "subscribers": 0}


with FakePub(d, answer) as fp:
    conf = write(os.path.join(d, 'local.conf'), 'daemon unix:%s\nspool_dir %s\n' % (fp.unix_path, spool))
    st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/a', length=2, extra={'HTTP_X_EVENT': 'e'}), b'm1', conf)
    t.eq((st, json.loads(body)), (202, {'spooled': True}), 'daemon answering 503: spooled, 202 {"spooled":true}')
    t.eq(len(entries()), 1, 'one entry on disk')
    t.ok(read_entry(entries()[0]).endswith(b'event e\nlength 2\n\nm1'), 'entry holds channel, event, body')
    st = (os.stat(os.path.join(spool, entries()[0])).st_mode & 0o777)
    t.eq(st, 0o640, 'entry is mode 0640 (group-readable for pushgated)')
    mode['status'] = 202
    n = len(fp.requests)
    st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/a', length=2), b'm2', conf)
    t.eq((st, len(entries()), len(fp.requests)), (202, 2, n), 'spool not empty: the next publish is spooled too, not sent')
    names = entries()
    t.ok(names[0] < names[1] and read_entry(names[1]).endswith(b'm2'), 'entries sort in the order accepted')

missing = write(os.path.join(d, 'missing.conf'),
                'daemon unix:%s/nosuch.sock\nspool_dir %s\n' % (d, spool))
st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/b', length=2), b'm3', missing)
t.eq((st, len(entries())), (202, 3), 'no daemon socket (restarting): spooled')

nospool = write(os.path.join(d, 'nospool.conf'), 'daemon unix:%s/nosuch.sock\nspool off\n' % d)
st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/b', length=2), b'm4', nospool)
t.eq(st, 503, 'spool off and no daemon: 503')
t.ok(b'not reachable' in body, 'with a clear sentence', body)

remote = write(os.path.join(d, 'remote.conf'),
               'daemon 127.0.0.1:%d\nspool_dir %s\nspool_drainer bridge\n' % (free_port(), spool))
st, h, body, err = run_cgi(BR, cgi_env(uri='/pg/b', length=2), b'm5', remote)
t.eq((st, len(entries())), (503, 3), 'CGI mode with a remote daemon answers 503 instead of spooling')

# a FastCGI bridge drains its own spool to a remote daemon
bad = run_cgi(BR, cgi_env(uri='/pg/bad', length=1), b'x', missing)[0]
t.eq(bad, 202, 'a publish to a channel the daemon will refuse is spooled too')
with FakePub(d, answer) as fp:
    mode['status'] = 202
    conf = write(os.path.join(d, 'drain.conf'),
                 'daemon %s\nspool_dir %s\nspool_drainer bridge\n' % (fp.tcp, spool))
    port = free_port()
    log = open(os.path.join(d, 'drain.log'), 'wb')
    p = subprocess.Popen([BR, '--config', conf, '--listen', '127.0.0.1:%d' % port],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        t.ok(wait_port(port), 'FastCGI bridge up')
        t.ok(wait_until(lambda: not entries(), 10), 'its drain thread emptied the spool')
        got = [(r.channel, r.body) for r in fp.requests]
        t.eq(got, [('a', b'm1'), ('a', b'm2'), ('b', b'm3'), ('bad', b'x')], 'every entry sent once, in order')
        keys = [r.headers.get('x-pushgate-dedup-key') for r in fp.requests]
        t.ok(all(keys) and keys == sorted(keys), 'each with its key as X-Pushgate-Dedup-Key', keys)
        t.eq(fp.requests[0].headers.get('x-event'), 'e', 'event kept')
        rej = os.path.join(spool, 'rejected')
        t.eq(len([f for f in os.listdir(rej) if f.endswith('.msg')]) if os.path.isdir(rej) else 0, 1,
             'the 4xx entry moved to rejected/')
        st = run_fcgi('127.0.0.1:%d' % port, cgi_env(uri='/pg/live', length=1), b'l')[0]
        t.eq((st, fp.requests[-1].channel), (202, 'live'), 'then publishes go straight through again')
    finally:
        stop(p)
        log.close()
t.done()
