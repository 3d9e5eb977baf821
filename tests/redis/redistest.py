"""redistest.py — a private redis-server for the Redis store's tests.

Job: start Debian's redis-server on a free loopback port with its own
temporary directory (AOF on, fsync always, no RDB snapshots, as the issue
asks), talk to it over a plain socket (RESP, no client library), stop it by
PID, start it again on the same port and data; and a `nodes` helper that
starts several pushgated (pgtest.Daemon) on it.

Invariants: the server is always stopped by its PID (SIGTERM, then SIGKILL
after 5 s), also when a test raises (pgtest's exit path calls stop_all);
every wait is bounded (pgtest.T()).

Use:
    from redistest import *
    with Redis() as r:
        with Daemon(store=r.url) as a, Daemon(store=r.url) as b: ...
        r.stop(); r.start(); r.cmd('FLUSHALL')
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pgtest
from pgtest import T, free_port, tap

__all__ = ['Redis', 'redis_server_path', 'require_redis']

_live = []


def redis_server_path():
    for p in ('/usr/bin/redis-server', '/usr/local/bin/redis-server'):
        if os.access(p, os.X_OK):
            return p
    return shutil.which('redis-server')


def require_redis():
    """Fails under CI=true, else skips the file, without redis-server."""
    if redis_server_path():
        return
    msg = 'redis-server missing (apt-get install redis-server)'
    if os.environ.get('CI') == 'true':
        tap.ok(False, msg)
        tap.done()
    tap.skip_all(msg)


def _encode(args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode('utf-8')
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def _line(self):
        while b'\r\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('redis closed the connection')
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b'\r\n')
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('redis closed the connection')
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            return RuntimeError(rest.decode())
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError('bad RESP line %r' % line)


class Redis:
    """redis-server on a free 127.0.0.1 port, data in its own temp dir."""

    def __init__(self, port=None, db=0, **conf):
        self.port = port or free_port()
        self.db = db
        self.dir = tempfile.mkdtemp(prefix='pgredis.')
        self.conf = {'save': "''", 'appendonly': 'yes', 'appendfsync': 'always'}
        self.conf.update(conf)
        self.proc = None

    @property
    def url(self):
        return 'redis://127.0.0.1:%d/%d' % (self.port, self.db)

    def argv(self):
        argv = [redis_server_path(), '--port', str(self.port), '--bind', '127.0.0.1',
                '--dir', self.dir, '--daemonize', 'no', '--logfile', os.path.join(self.dir, 'redis.log')]
        for k, v in self.conf.items():
            argv += ['--' + k] + (v.split(' ') if v != "''" else [''])
        return argv

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _live.append(self)
        deadline = time.monotonic() + T(10)
        while True:
            try:
                if self.cmd('PING') == 'PONG':
                    return self
            except (OSError, ConnectionError, RuntimeError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('redis-server did not start (status %s); log: %s'
                                   % (self.proc.poll(), self.log_tail()))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        """Stops the server by its PID; returns its exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(T(5))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self in _live:
            _live.remove(self)
        self.proc = None
        return rc

    def cmd(self, *args, timeout=5):
        """One command on a fresh connection (in self.db); the decoded reply
        (an error reply is returned as a RuntimeError instance)."""
        with socket.create_connection(('127.0.0.1', self.port), timeout=T(timeout)) as s:
            r = _Reader(s)
            if self.db:
                s.sendall(_encode(['SELECT', self.db]))
                r.reply()
            s.sendall(_encode(list(args)))
            return r.reply()

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir, 'redis.log'), 'rb') as f:
                return b'\n'.join(f.read().splitlines()[-lines:]).decode('utf-8', 'replace')
        except OSError:
            return ''

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if tap.failed == 0:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            tap.comment('redis data and log kept in %s' % self.dir)
        return False


def _stop_all_redis():
    for r in list(_live):
        try:
            r.stop()
        except Exception:
            pass


# pgtest stops its daemons on every exit path; stop ours there too
_orig_stop_all = pgtest._stop_all


def _stop_everything():
    _orig_stop_all()
    _stop_all_redis()


pgtest._stop_all = _stop_everything
