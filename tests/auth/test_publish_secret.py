#!/usr/bin/python3
"""test_publish_secret.py — with publish_secret set, every request to the
publish listener (publish, channel info, delete) needs "Authorization:
Bearer <secret>", otherwise 401 with WWW-Authenticate; the subscriber
listener is not affected; the secret never reaches the log. A
publish_listen address that is neither loopback nor unix, without
publish_secret, makes pushgated refuse to start (exit 2, one line naming
publish_secret) — TODO until main.c calls pg_auth_check_publish_listen;
with the secret it starts."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from authlib import *  # noqa: E402,F403

PUB_SECRET = 'pub-s3cret-value'
GOOD = {'Authorization': 'Bearer ' + PUB_SECRET}


def case_gate(d):
    ch = uniq('sec')
    r = http_request(d, 'POST', '/pub/' + ch, body=b'x')
    tap.ok(r.status == 401 and 'bearer' in r.headers.get('www-authenticate', '').lower(),
           'publish without Authorization: 401 with WWW-Authenticate: Bearer', repr(r))
    tap.ok((r.json() or {}).get('error'), 'the 401 has a JSON reason', repr(r))
    for what, h in (('a wrong secret', 'Bearer not-it'), ('a longer secret', 'Bearer ' + PUB_SECRET + 'x'),
                    ('a prefix of the secret', 'Bearer ' + PUB_SECRET[:-1]),
                    ('Basic instead of Bearer', 'Basic ' + PUB_SECRET)):
        r = http_request(d, 'POST', '/pub/' + ch, body=b'x', headers={'Authorization': h})
        tap.is_(r.status, 401, 'publish with %s: 401' % what)
    st, body = publish(d, ch, 'hello', headers=GOOD)
    tap.ok(st in (201, 202), 'publish with the right secret is accepted (%d)' % st, repr(body))
    r = http_request(d, 'GET', '/pub/' + ch)
    tap.is_(r.status, 401, 'channel info without the secret: 401')
    r = http_request(d, 'GET', '/pub/' + ch, headers=GOOD)
    tap.ok(r.status == 200 and (r.json() or {}).get('messages') == 1, 'channel info with the secret works', repr(r))
    r = http_request(d, 'DELETE', '/pub/' + ch)
    tap.is_(r.status, 401, 'DELETE without the secret: 401')
    r = http_request(d, 'GET', '/nothing-here')
    tap.is_(r.status, 401, 'any other path of the publish listener: 401 first')
    r = http_request(d, 'GET', '/', listener='sub')
    tap.ok(r.status != 401, 'the subscriber listener does not ask for the publish secret (%d)' % r.status)
    tap.ok(PUB_SECRET not in d.log_text(), 'the secret is not in the log')


def run_daemon(args, timeout=5):
    proc = subprocess.Popen([daemon_path()] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=T(timeout))
        return proc.returncode, err.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=T(5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return None, ''


def case_exposed():
    port = free_port()
    args = ['--listen=127.0.0.1:%d' % free_port(), '--publish-listen=0.0.0.0:%d' % port,
            '--www_root=', '--log_level=error']
    rc, err = run_daemon(args, timeout=2)
    lines = [l for l in err.splitlines() if l.strip()]
    good = rc == 2 and len(lines) == 1 and 'publish_secret' in lines[0]
    name = 'publish_listen 0.0.0.0 without publish_secret: exit 2 with one line (rc %r: %s)' % (
        rc, lines[0] if lines else 'no output')
    wired = 'pg_auth_check_publish_listen' in open(os.path.join(srcdir(), 'src', 'main.c')).read()
    tap.ok(good, name, err)
    with Daemon(publish_listen='0.0.0.0:%d' % port, publish_secret=PUB_SECRET) as d:
        st, _ = publish(d, uniq('exp'), 'x', headers=GOOD)
        tap.ok(st in (201, 202), 'publish_listen 0.0.0.0 with publish_secret starts and serves (%d)' % st)


with Daemon(publish_secret=PUB_SECRET) as d:
    tap.run(case_gate, d)
tap.run(case_exposed)
tap.done()
