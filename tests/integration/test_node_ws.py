#!/usr/bin/python3
"""test_node_ws.py — the daemon against a second independent client, Node's
`ws` (node/ws_client.js), found through NODE_PATH. Without node or `ws` the
file fails under CI=true and prints a TAP skip otherwise."""

import json
import os
import shutil
import subprocess

from pgtest import *

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'node', 'ws_client.js')


def missing(reason):
    if os.environ.get('CI') == 'true':
        tap.ok(False, reason + ' (required under CI=true)')
        tap.done()
    tap.skip_all(reason)


def case_node(d):
    ch, chat = uniq('node'), 'chat.' + uniq('node')
    try:
        p = subprocess.run(['node', SCRIPT, 'ws://127.0.0.1:%d' % d.port,
                            'http://127.0.0.1:%d' % d.pub_port, ch, chat],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=T(30))
    except subprocess.TimeoutExpired:
        tap.ok(False, 'node client finished')
        return
    lines = p.stdout.decode('utf-8', 'replace').strip().splitlines()
    try:
        r = json.loads(lines[-1])
    except (IndexError, ValueError):
        tap.ok(False, 'node client printed a JSON report', 'stdout %r stderr %r' % (p.stdout[-500:], p.stderr[-500:]))
        return
    if r.get('missing_ws'):
        missing('node module ws not found through NODE_PATH=%r' % os.environ.get('NODE_PATH', ''))
    tap.ok(p.returncode == 0 and not r.get('error'), 'node client ran to the end', repr(r.get('error')))
    n = 20
    tap.is_(r.get('statuses'), [201] * (n + 1), 'publishes answered 201')
    want = [{'binary': False, 'text': 'n%d' % i} for i in range(n)] + [{'binary': True, 'text': 'ff00'}]
    tap.is_(r.get('raw'), want, 'ws raw subscriber got every message in order, binary as binary')
    tap.is_(r.get('protocol'), V1, 'ws negotiated pushgate.v1+json')
    js = r.get('json') or []
    tap.is_([m.get('data') for m in js[:n]], ['n%d' % i for i in range(n)], 'ws v1+json subscriber got every message')
    tap.ok(len(js) == n + 1 and js[n].get('encoding') == 'base64', 'binary body base64 in v1+json', repr(js[-1:]))
    tap.is_(r.get('echo'), {'binary': False, 'text': 'from node'}, '/pubsub echoes the node client message')
    tap.is_(r.get('pong'), 'node-ping', 'pong carries the ping payload')
    tap.is_((r.get('close') or {}).get('code'), 4000, 'close code 4000 is echoed')


def main():
    if not shutil.which('node'):
        missing('node not installed')
    probe = subprocess.run(['node', '-e', 'require("ws")'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=T(20))
    if probe.returncode != 0:
        missing('node module ws not found through NODE_PATH=%r' % os.environ.get('NODE_PATH', ''))
    with Daemon(client_publish='chat.*') as d:
        tap.run(case_node, d)
    tap.done()


main()
