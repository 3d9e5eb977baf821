#!/usr/bin/python3
"""test_reload.py — operations: SIGHUP reloads the config without dropping a
connection or a buffered message (a changed history_size applies, a changed
listen is kept and logged as needing a restart, an invalid file keeps the old
config and logs why); IPv6 listeners; a full descriptor table (EMFILE) makes
the daemon pause accepting and log once, never spin, and serve again when
descriptors free up."""

import asyncio
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time

from pgtest import *


def write_conf(path, text):
    with open(path, 'w') as f:
        f.write(text)


def case_sighup(tmp):
    conf = os.path.join(tmp, 'p.conf')
    base = 'client_publish chat.*\n'
    write_conf(conf, base + 'workers 1\nhistory_size 5\n')
    ch = uniq('hup')
    with Daemon(args=['-c', conf]) as d:

        async def body():
            async with ws_connect(d, '/sub/' + ch, V1) as w:
                ids = [publish(d, ch, 'm%d' % i)[1]['id'] for i in range(8)]
                got = await recv_n(w, 8, json_mode=True)
                tap.is_([m['id'] for m in got], ids, 'a subscriber gets every message before the reload')
                tap.is_(channel_info(d, ch)[1]['messages'], 5, 'history_size 5 keeps 5')
                write_conf(conf, base + 'workers 2\nhistory_size 20\n')
                d.signal(signal.SIGHUP)
                ok = poll_until(lambda: 'configuration reloaded' in d.log_text(), timeout=T(3))
                tap.ok(ok, 'SIGHUP reloads the configuration')
                tap.ok('workers' in d.log_text() and 'restart' in d.log_text(),
                       'a changed restart-only key (workers) is logged as needing a restart')
                more = [publish(d, ch, 'n%d' % i)[1]['id'] for i in range(10)]
                got = await recv_n(w, 10, json_mode=True)
                tap.is_([m['id'] for m in got], more, 'the same WebSocket keeps receiving after the reload')
                tap.is_(channel_info(d, ch)[1]['messages'], 15,
                        'the new history_size applies and buffered messages survived (5 + 10)')
                write_conf(conf, base + 'history_size 10x\n')
                d.signal(signal.SIGHUP)
                ok = poll_until(lambda: 'reload failed' in d.log_text(), timeout=T(3))
                tap.ok(ok and 'history_size' in d.log_text(),
                       'an invalid file keeps the running config and logs why')
                tap.is_(publish(d, ch, 'still')[0], 201, 'and the daemon still serves the subscriber')
        run(body(), timeout=20)


def case_ipv6(tmp):
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(('::1', 0))
        s.close()
    except OSError:
        tap.skip('IPv6 listener', 'no ::1 on this machine')
        return
    port = free_port()
    with Daemon(listen=['127.0.0.1:%d' % free_port(), '[::1]:%d' % port]):
        with socket.create_connection(('::1', port), timeout=T(3)) as c:
            c.sendall(b'GET /pushgate.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            data = b''
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        tap.ok(data.startswith(b'HTTP/1.1 200'), 'a [::1]:port listener serves over IPv6')


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        parts = f.read().rsplit(')', 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf('SC_CLK_TCK')


def case_emfile(tmp):
    port, pub = free_port(), free_port()
    log = os.path.join(tmp, 'emfile.log')

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
    p = subprocess.Popen([daemon_path(), '--listen=127.0.0.1:%d' % port,
                          '--publish-listen=127.0.0.1:%d' % pub, '--log-file=' + log,
                          '--spool-dir=', '--max-connections=1000', '--header-timeout=30s'],
                         preexec_fn=limit, stdin=subprocess.DEVNULL)
    socks = []
    try:
        deadline = time.monotonic() + T(5)
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        for _ in range(80):
            try:
                socks.append(socket.create_connection(('127.0.0.1', port), timeout=1))
            except OSError:
                break
        time.sleep(T(0.5))
        before = cpu_seconds(p.pid)
        time.sleep(2)
        spent = cpu_seconds(p.pid) - before
        tap.ok(spent < 0.5, 'out of descriptors, the daemon does not spin (%.2f s CPU in 2 s)' % spent)
        with open(log) as f:
            lines = [l for l in f if 'out of file descriptors' in l]
        tap.ok(1 <= len(lines) <= 2, 'it logs the condition once, not per refusal (%d lines)' % len(lines))
        for s in socks:
            s.close()
        socks = []
        ok = False
        deadline = time.monotonic() + T(5)
        while time.monotonic() < deadline and not ok:
            try:
                reply = raw_http(port, b'GET /pushgate.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
                                 timeout=2)
                ok = reply.startswith(b'HTTP/1.1 200')
            except OSError:
                time.sleep(0.1)
        tap.ok(ok, 'when descriptors free up it serves again')
    finally:
        for s in socks:
            s.close()
        p.terminate()
        try:
            rc = p.wait(timeout=T(5))
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        tap.is_(rc, 0, 'and it exits 0 on SIGTERM')


def main():
    require_websockets()
    tmp = tempfile.mkdtemp(prefix='pgtest-reload.')
    tap.run(case_sighup, tmp, timeout=40)
    tap.run(case_ipv6, tmp)
    tap.run(case_emfile, tmp, timeout=40)
    tap.done()


main()
