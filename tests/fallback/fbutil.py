"""fbutil.py — clients for the fallback transports' tests (SSE, long-poll,
CORS), written from the specifications and independent of the daemon's
codecs: an EventSource-style stream reader over a plain socket (the WHATWG
text/event-stream algorithm), `curl -N` for a real-world client, and
plain-socket / http.client HTTP for long-poll.

Every wait is bounded and scaled by pgtest.T()."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import time

from pgtest import T, parse_http_response


class Event:
    def __init__(self, type_, data, last_id):
        self.type = type_
        self.data = data
        self.id = last_id

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return 'Event(%r, %r, id=%r)' % (self.type, self.data[:80], self.id)


class EventParser:
    """HTML §9.2.6: lines end in CRLF, LF or CR; data lines joined by LF;
    an event with an empty data buffer is not dispatched."""

    def __init__(self):
        self.buf = b''
        self.data = None
        self.type = ''
        self.id_buf = ''
        self.last_id = ''
        self.retry = None
        self.comments = []
        self.events = []
        self._cr = False

    def feed(self, chunk):
        for b in chunk:
            c = bytes([b])
            if self._cr and c == b'\n':
                self._cr = False
                continue
            self._cr = False
            if c in (b'\r', b'\n'):
                self._line(self.buf.decode('utf-8', 'replace'))
                self.buf = b''
                self._cr = c == b'\r'
            else:
                self.buf += c

    def _line(self, line):
        if line == '':
            self.last_id = self.id_buf
            if self.data is not None:
                self.events.append(Event(self.type or 'message', self.data[:-1], self.last_id))
            self.data = None
            self.type = ''
            return
        if line.startswith(':'):
            self.comments.append(line[1:].lstrip(' '))
            return
        field, sep, value = line.partition(':')
        if value.startswith(' '):
            value = value[1:]
        if field == 'data':
            self.data = (self.data or '') + value + '\n'
        elif field == 'event':
            self.type = value
        elif field == 'id' and '\0' not in value:
            self.id_buf = value
        elif field == 'retry' and value.isdigit():
            self.retry = int(value)


def request_bytes(d, method, path, headers=None, body=b'', host=None):
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: %s' % (host or '127.0.0.1:%d' % d.port)]
    for k, v in (headers or {}).items():
        lines.append('%s: %s' % (k, v))
    if body:
        lines.append('Content-Length: %d' % len(body))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


class SSE:
    """One event stream over a plain socket. status/headers: the reply
    head; events are parsed as they arrive."""

    def __init__(self, d, path, headers=None, accept=True, timeout=5, host=None):
        h = {'Accept': 'text/event-stream'} if accept else {}
        h.update(headers or {})
        self.sock = socket.create_connection(('127.0.0.1', d.port), timeout=T(timeout))
        self.sock.sendall(request_bytes(d, 'GET', path, h, host=host))
        raw = b''
        while b'\r\n\r\n' not in raw:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            raw += chunk
        head, sep, rest = raw.partition(b'\r\n\r\n')
        self.status, self.headers, _ = parse_http_response(head + sep)
        self.raw = rest
        self.parser = EventParser()
        self.parser.feed(rest)
        self.eof = False
        self.taken = 0

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b''
        if not chunk:
            self.eof = True
            return False
        self.raw += chunk
        self.parser.feed(chunk)
        return True

    def next(self, timeout=3, skip_pings=True):
        """The next event (pings skipped unless asked), or None at EOF or
        after the time limit."""
        deadline = time.monotonic() + T(timeout)
        while True:
            while self.taken < len(self.parser.events):
                e = self.parser.events[self.taken]
                self.taken += 1
                if not (skip_pings and e.type == 'pushgate.ping'):
                    return e
            if not self._fill(deadline):
                return None

    def take(self, n, timeout=5, skip_pings=True):
        out = []
        deadline = time.monotonic() + T(timeout)
        while len(out) < n:
            e = self.next(max(deadline - time.monotonic(), 0.001) / T(1), skip_pings)
            if e is None:
                break
            out.append(e)
        return out

    def silence(self, seconds=0.3):
        """None when no (non-ping) event arrives in time, else the event."""
        return self.next(seconds / T(1))

    def wait_eof(self, timeout=3):
        deadline = time.monotonic() + T(timeout)
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def curl_sse(d, path, seconds, headers=None):
    """Runs `curl -sN` for about `seconds` and returns (head text, events).
    None when curl is not installed."""
    curl = shutil.which('curl')
    if not curl:
        return None
    cmd = [curl, '-sN', '-D', '-', '--max-time', '%.1f' % T(seconds), '-H', 'Accept: text/event-stream']
    for k, v in (headers or {}).items():
        cmd += ['-H', '%s: %s' % (k, v)]
    cmd.append(d.http_url(path))
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=T(seconds) + 10).stdout
    head, _, body = out.partition(b'\r\n\r\n')
    p = EventParser()
    p.feed(body)
    return head.decode('latin-1'), p.events


def curl_start(d, path, headers=None, max_time=10):
    """Starts `curl -sN` in the background; returns the Popen (stdout piped)."""
    cmd = [shutil.which('curl') or 'curl', '-sN', '--max-time', '%.1f' % T(max_time),
           '-H', 'Accept: text/event-stream']
    for k, v in (headers or {}).items():
        cmd += ['-H', '%s: %s' % (k, v)]
    cmd.append(d.http_url(path))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


class Poller:
    """Long-poll over one keep-alive connection (http.client)."""

    def __init__(self, d, timeout=10):
        self.d = d
        self.conn = http.client.HTTPConnection('127.0.0.1', d.port, timeout=T(timeout))

    def get(self, path, headers=None, method='GET'):
        """(status, lower-cased headers, body bytes, seconds taken)."""
        t0 = time.monotonic()
        self.conn.request(method, path, headers=headers or {})
        r = self.conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, time.monotonic() - t0

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def poll(d, path, headers=None, method='GET', timeout=10):
    with Poller(d, timeout) as p:
        return p.get(path, headers, method)


def raw_request(d, method, path, headers=None, body=b'', timeout=3, host=None):
    """One request on a fresh socket; (status, headers, body) of the reply
    (read until Content-Length, EOF or the time limit)."""
    with socket.create_connection(('127.0.0.1', d.port), timeout=T(timeout)) as s:
        s.sendall(request_bytes(d, method, path, headers, body, host=host))
        buf = b''
        deadline = time.monotonic() + T(timeout)
        while time.monotonic() < deadline:
            if b'\r\n\r\n' in buf:
                st, hd, bd = parse_http_response(buf)
                if st in (204, 304) or method == 'HEAD':
                    break
                if 'content-length' in hd and len(bd) >= int(hd['content-length']):
                    break
            try:
                s.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
        return parse_http_response(buf)


def seqs(items):
    return [int(m['id'].rsplit('-', 1)[1]) for m in items if 'id' in m and 'type' not in m]
