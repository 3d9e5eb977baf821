#!/usr/bin/python3
"""test_config.py — configuration errors: a bad key or value in the file
(-c) or on the command line exits with status 2 and one line naming the
file, the line and the problem; `pushgated -t -c good.conf` exits 0;
durations accept ms/s/m/h."""

import os
import shutil
import subprocess
import tempfile

from pgtest import *

TMP = tempfile.mkdtemp(prefix='pgtest-conf.')


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def pushgated(*args):
    """Runs the daemon briefly. Returns (status, output lines)."""
    try:
        p = subprocess.run([daemon_path()] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T(10))
    except subprocess.TimeoutExpired:
        return 'timeout', []
    text = (p.stderr + p.stdout).decode('utf-8', 'replace')
    return p.returncode, [l for l in text.splitlines() if l.strip()]


def good_text():
    return ('# pushgated test configuration\n'
            'listen 127.0.0.1:%d\n'
            'publish_listen 127.0.0.1:%d\n'
            '\n'
            'history_size 50   # trailing comment\n'
            'history_ttl 1h\n'
            'ping_interval 500ms\n'
            'idle_timeout 2m\n'
            'max_message_size 65536\n'
            'client_publish "chat.*"\n'
            'log_level info\n' % (free_port(), free_port()))


def case_good(d=None):
    path = write('good.conf', good_text())
    rc, out = pushgated('-t', '-c', path)
    tap.is_(rc, 0, 'pushgated -t -c good.conf exits 0')
    if rc != 0:
        tap.comment('\n'.join(out))
    for key, val in (('ping_interval', '250ms'), ('ping_interval', '30s'), ('idle_timeout', '10m'),
                     ('history_ttl', '2h'), ('idle_timeout', '45')):
        rc, out = pushgated('-t', '-c', path, '--%s=%s' % (key, val))
        tap.is_(rc, 0, 'duration %s=%s is accepted' % (key, val))


def expect_line_error(name, text, line, word, what):
    path = write(name, text)
    rc, out = pushgated('-c', path)
    tap.is_(rc, 2, '%s: exit status 2' % what)
    tap.is_(len(out), 1, '%s: exactly one line of output' % what)
    msg = out[0] if out else ''
    tap.ok(('%s:%d' % (path, line)) in msg and word in msg,
           '%s: the line names file:%d and %r' % (what, line, word), repr(out))
    rc_t, out_t = pushgated('-t', '-c', path)
    tap.is_(rc_t, 2, '%s: -t also exits 2' % what)


def case_bad_file_lines(d=None):
    base = good_text()
    expect_line_error('badkey.conf', base + 'frobnicate 1\n', 12, 'frobnicate', 'unknown key')
    expect_line_error('badvalue.conf', base.replace('history_size 50 ', 'history_size banana '), 5,
                      'history_size', 'non-numeric history_size')
    expect_line_error('baddur.conf', base.replace('ping_interval 500ms', 'ping_interval 5x'), 7,
                      'ping_interval', 'bad duration unit')
    lines = base.splitlines(True)
    lines[1] = 'listen 127.0.0.1:99999\n'
    expect_line_error('badaddr.conf', ''.join(lines), 2, 'listen', 'bad listen address (port 99999)')
    expect_line_error('noval.conf', base + 'history_size\n', 12, 'history_size', 'key without a value')


def case_bad_args(d=None):
    path = write('good2.conf', good_text())
    for arg, word in (('--frobnicate=1', 'frobnicate'), ('--history_size=-1', 'history_size'),
                      ('--idle_timeout=soon', 'idle_timeout')):
        rc, out = pushgated('-t', '-c', path, arg)
        tap.is_(rc, 2, '%s: exit status 2' % arg)
        tap.ok(len(out) == 1 and word in out[0], '%s: one line naming the problem' % arg, repr(out))
    missing = os.path.join(TMP, 'missing.conf')
    rc, out = pushgated('-c', missing)
    tap.ok(rc not in (0, 'timeout') and any(missing in l for l in out),
           'a missing config file exits non-zero naming the file', '%s %r' % (rc, out))


def main():
    if not os.access(daemon_path(), os.X_OK):
        tap.ok(False, 'no daemon at %s' % daemon_path())
        tap.done()
    for case in (case_good, case_bad_file_lines, case_bad_args):
        tap.run(case)
    if not tap.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    tap.done()


main()
