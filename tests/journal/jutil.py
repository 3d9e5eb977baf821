"""jutil.py — helpers shared by the history-journal tests and the bench:
a keep-alive publisher (one HTTP/1.1 connection, many POSTs), a publisher
thread that records every acknowledged id, and small file helpers.

Invariants: a publish counts as acknowledged only when its 2xx reply was
read whole; any connection error ends the publisher thread (the daemon is
expected to die under it in the crash tests)."""

import http.client
import json
import os
import socket
import threading
import time


class KeepAlive:
    """POST /pub/<channel> over one persistent connection (TCP or UNIX)."""

    def __init__(self, port=None, unix=None, timeout=5):
        if unix:
            self.conn = http.client.HTTPConnection('localhost', timeout=timeout)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(unix)
            self.conn.sock = s
        else:
            self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)

    def publish(self, channel, body):
        """(status, json) of one publish; raises on a connection error."""
        if isinstance(body, str):
            body = body.encode()
        self.conn.request('POST', '/pub/' + channel, body=body)
        r = self.conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None

    def close(self):
        self.conn.close()


class Publisher(threading.Thread):
    """Publishes "<tag>-<n>" bodies to channel until stopped or the
    connection fails; acked is the list of (id, body) acknowledged."""

    def __init__(self, port, channel, tag='p', pause=0.0):
        super().__init__(daemon=True)
        self.port, self.channel, self.tag, self.pause = port, channel, tag, pause
        self.acked = []
        self.error = None
        self.stopping = threading.Event()

    def run(self):
        try:
            c = KeepAlive(self.port)
        except OSError as e:
            self.error = e
            return
        n = 0
        try:
            while not self.stopping.is_set():
                n += 1
                body = '%s-%d' % (self.tag, n)
                st, js = c.publish(self.channel, body)
                if st not in (201, 202) or not js or 'id' not in js:
                    self.error = 'status %s: %r' % (st, js)
                    return
                self.acked.append((js['id'], body))
                if self.pause:
                    time.sleep(self.pause)
        except (OSError, http.client.HTTPException) as e:
            self.error = e
        finally:
            c.close()


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return -1
