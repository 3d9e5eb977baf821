"""faultutil.py — what the fault and abuse tests share beyond pgtest.py:
the open-file budget of the test process, the daemon's footprint as the
kernel sees it (/proc/<pid>/fd, VmRSS, VmHWM), /metrics as a dict, many
raw sockets driven by one epoll loop, and access to the fallback tests'
spec-written SSE / long-poll clients (tests/fallback/fbutil.py) and the
journal tests' acknowledged-id publisher (tests/journal/jutil.py).

Invariants: every loop is bounded by a count and a deadline scaled with
pgtest.T(); nothing here talks to anything but loopback; a socket this
module opens is closed by the caller through close_all()."""

import os
import re
import resource
import selectors
import socket
import sys
import time

from pgtest import T, http_request

for _sub in ('fallback', 'journal'):
    _p = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), _sub)
    if _p not in sys.path:
        sys.path.append(_p)

IP_BIND_ADDRESS_NO_PORT = getattr(socket, 'IP_BIND_ADDRESS_NO_PORT', 24)


def raise_nofile():
    """Raises the soft RLIMIT_NOFILE to the hard limit; returns it. The
    daemon inherits the raised limit (its own, separate budget)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_count(pid, sockets_only=False):
    """Open files of a process (-1 when it is gone). sockets_only counts
    sockets alone: under valgrind the tool itself opens files lazily (debug
    information of libraries loaded late), which says nothing about us."""
    try:
        names = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return -1
    if not sockets_only:
        return len(names)
    n = 0
    for name in names:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, name)).startswith('socket:'):
                n += 1
        except OSError:
            pass
    return n


def proc_status_kb(pid, field):
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM, ...), or -1."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0: write 5 to
    clear_refs). Returns False when the kernel refuses."""
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def rss_meaningless():
    """Why the daemon's RSS says nothing about its own memory use (None
    when it does): valgrind runs it, or AddressSanitizer (whose quarantine
    keeps up to 256 MB of freed memory) is linked in."""
    if os.environ.get('PG_VALGRIND') == '1':
        return 'the daemon runs under valgrind'
    from pgtest import daemon_path
    try:
        with open(daemon_path(), 'rb') as f:
            if b'__asan_init' in f.read():
                return 'the daemon is built with AddressSanitizer'
    except OSError:
        pass
    return None


def metrics(d):
    """/metrics of the publish listener as {'name{labels}': float}."""
    r = http_request(d, 'GET', '/metrics')
    out = {}
    for line in r.body.decode('utf-8', 'replace').splitlines():
        if not line or line.startswith('#'):
            continue
        m = re.match(r'^(\S+)\s+(\S+)$', line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def public_connections(d):
    """Open connections of the public listener, all transports (None when
    /metrics does not answer)."""
    try:
        m = metrics(d)
    except OSError:
        return None
    return int(sum(v for k, v in m.items()
                   if k.startswith('pushgate_connections{listener="public"')))


def alive(d):
    return d.proc is not None and d.proc.poll() is None


def open_stalled(port, n, first_bytes, sources=('127.0.0.1',), deadline_s=30, rcvbuf=None):
    """Opens up to n TCP connections to port (round-robin over source
    addresses), each sending first_bytes and then nothing. Blocking
    connects, so the listen backlog paces us instead of SYN retries.
    Returns (sockets, seconds taken, errors)."""
    socks, errors = [], 0
    t0 = time.monotonic()
    deadline = t0 + T(deadline_s)
    for i in range(n):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            src = sources[i % len(sources)]
            if src != '127.0.0.1':
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((src, 0))
            s.settimeout(T(5))
            s.connect(('127.0.0.1', port))
            if first_bytes:
                s.sendall(first_bytes)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            errors += 1
            s.close()
    return socks, time.monotonic() - t0, errors


def drain_until_closed(socks, timeout, first=None, got=None, done=None):
    """Waits (epoll) until each socket reads EOF or a reset (or, with
    done, until done(bytes read so far) is true), keeping what arrives.
    Returns (closed: {sock: bytes}, [sockets neither closed nor done],
    {sock: seconds until closed}); a dict passed as first gets {sock:
    seconds until its first byte or its close}, one passed as got {sock:
    bytes read} for every socket."""
    sel = selectors.DefaultSelector()
    got = {} if got is None else got
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        got[s] = b''
    closed, when, finished = {}, {}, set()
    first = {} if first is None else first
    t0 = time.monotonic()
    deadline = t0 + T(timeout)
    while len(closed) + len(finished) < len(socks):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(min(left, 0.5)):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b''
            first.setdefault(s, time.monotonic() - t0)
            if chunk:
                if len(got[s]) < 65536:
                    got[s] += chunk
                if done and done(got[s]):
                    sel.unregister(s)
                    finished.add(s)
                continue
            sel.unregister(s)
            closed[s] = got[s]
            when[s] = time.monotonic() - t0
    sel.close()
    return closed, [s for s in socks if s not in closed and s not in finished], when


def reply_complete(data):
    """True once data holds a whole HTTP reply (head and Content-Length
    body)."""
    head, sep, body = data.partition(b'\r\n\r\n')
    if not sep:
        return False
    m = re.search(rb'(?im)^content-length:\s*(\d+)', head)
    return len(body) >= int(m.group(1)) if m else False


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def status_of(reply):
    """The status of a raw HTTP reply (0 when there is none)."""
    m = re.match(rb'HTTP/1\.[01] (\d{3})', reply)
    return int(m.group(1)) if m else 0


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]
