#!/usr/bin/python3
"""test_privileges.py — started as root with `user`/`group`, pushgated
binds its listeners (the publish unix socket included) and then runs as
that user; an unknown user is refused at start with exit 2 and one line.
Needs root (CI runs as root): skipped otherwise, failed under CI=true."""

import os
import pwd
import grp
import subprocess
import tempfile

from pgtest import *


def uid_of(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('Uid:'):
                return [int(x) for x in line.split()[1:]]
    return None


def main():
    if os.geteuid() != 0:
        if os.environ.get('CI') == 'true':
            tap.ok(False, 'this test needs root (CI runs as root)')
            tap.done()
        tap.skip_all('needs root')
    nobody = pwd.getpwnam('nobody')
    group = grp.getgrgid(nobody.pw_gid).gr_name
    tmp = tempfile.mkdtemp(prefix='pgtest-priv.')
    os.chmod(tmp, 0o755)
    sock = os.path.join(tmp, 'publish.sock')
    with Daemon(user='nobody', group=group, log_file=os.path.join(tmp, 'p.log'), spool_dir='',
                publish_listen=['127.0.0.1:%d' % free_port(), 'unix:' + sock]) as d:
        uids = uid_of(d.pid)
        tap.ok(uids and all(u == nobody.pw_uid for u in uids),
               'runs as nobody after start (real, effective, saved, fs uid: %r)' % uids)
        st = os.stat(sock)
        tap.ok(st.st_mode & 0o777 == 0o660, 'the publish socket has mode 0660 (%o)' % (st.st_mode & 0o777))
        status, body = publish(d, uniq('priv'), b'after the drop')
        tap.ok(status in (201, 202), 'still publishes after dropping root (%s)' % status)
    p = subprocess.run([daemon_path(), '--listen=127.0.0.1:%d' % free_port(),
                        '--publish-listen=127.0.0.1:%d' % free_port(), '--user=no-such-user-pg',
                        '--spool-dir='],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(10))
    out = [l for l in (p.stderr + p.stdout).decode().splitlines() if l.strip()]
    tap.ok(p.returncode == 2 and any('no-such-user-pg' in l for l in out),
           'an unknown user: exit 2 naming it (%s)' % (out[-1:] if out else 'no output'))
    tap.done()


main()
