"""test_contrib_files.py — the contrib/ files that no web-server test starts:
systemd units (systemd-analyze verify, binaries templated to the build),
logrotate (logrotate -d), the sample fcgi.conf with every key uncommented,
the sample tap rules, the PHP publish example (PHP's own functions only)
against a stand-in publish listener, and the README sections."""
import os
import re
import shutil
import subprocess

from bridgeutil import SRCDIR, Tap, prog, run, tmpdir, write
from fakepub import FakePub

t = Tap()
d = tmpdir()
C = os.path.join(SRCDIR, 'contrib')
BR = prog('pushgate-fcgi')

# systemd units
units = ['pushgated.service', 'pushgate-fcgi.socket', 'pushgate-fcgi.service', 'pushgate-tap.service']
if shutil.which('systemd-analyze') and os.access(BR, os.X_OK):
    sd = os.path.join(d, 'systemd')
    os.mkdir(sd)
    daemon = os.path.join(os.environ.get('PG_BUILDDIR', SRCDIR), 'pushgated')
    for u in units:
        text = open(os.path.join(C, 'systemd', u)).read()
        text = text.replace('/usr/sbin/pushgated', daemon if os.access(daemon, os.X_OK) else BR)
        text = text.replace('/usr/bin/pushgate-fcgi', BR)
        write(os.path.join(sd, u), text)
    rc, out, err = run(['systemd-analyze', 'verify', '--man=no'] + [os.path.join(sd, u) for u in units])
    t.ok(rc == 0 and not re.search(r'Failed to|ignoring|not executable|Unknown', err.decode()),
         'systemd-analyze verify accepts the units', err.decode())
    text = open(os.path.join(C, 'systemd', 'pushgated.service')).read()
    t.ok('User=pushgate' in text and 'RuntimeDirectory=pushgate' in text,
         'pushgated runs as a dedicated user with a socket directory')
    sock = open(os.path.join(C, 'systemd', 'pushgate-fcgi.socket')).read()
    svc = open(os.path.join(C, 'systemd', 'pushgate-fcgi.service')).read()
    t.ok('StandardInput=socket' in svc and 'ListenStream=/run/pushgate/fcgi.sock' in sock,
         'the bridge gets its socket on fd 0 like from a web server')
else:
    t.skip('systemd-analyze verify', 'systemd-analyze or pushgate-fcgi missing')

# logrotate
if shutil.which('logrotate') or os.path.exists('/usr/sbin/logrotate'):
    lr = shutil.which('logrotate') or '/usr/sbin/logrotate'
    logs = os.path.join(d, 'log')
    os.mkdir(logs, 0o750)
    write(os.path.join(logs, 'pushgated.log'), 'line\n')
    conf = write(os.path.join(d, 'logrotate.conf'),
                 open(os.path.join(C, 'logrotate', 'pushgate')).read().replace('/var/log/pushgate', logs))
    rc, out, err = run([lr, '-d', '-s', os.path.join(d, 'lr.state'), conf])
    text = (out + err).decode()
    t.ok(rc == 0 and 'error' not in text.lower() and 'rotating pattern: %s/*.log' % logs in text,
         'logrotate -d accepts contrib/logrotate/pushgate', text)
else:
    t.skip('logrotate -d', 'logrotate not installed (tests/bridge/packages.txt)')

# sample fcgi.conf: every key with a value, uncommented, parses
if os.access(BR, os.X_OK):
    lines = []
    for line in open(os.path.join(C, 'fcgi.conf')):
        m = re.match(r'#([a-z_]+) (\S.*)$', line.strip())
        if m and m.group(1) not in ('tap_upstream', 'tap_rules', 'webhooks', 'listen'):
            lines.append('%s %s' % (m.group(1), m.group(2)))
    conf = write(os.path.join(d, 'fcgi.conf'), '\n'.join(lines) + '\n')
    rc, out, err = run([BR, '--config', conf, '--check'])
    t.ok(rc == 0 and len(lines) >= 12, 'contrib/fcgi.conf with its keys uncommented passes --check (%d keys)' % len(lines), err)
    rc, out, err = run([BR, '--config', conf, '--check', '--tap', 'unix:/nonexistent', '--rules',
                        os.path.join(C, 'php', 'tap.rules')])
    t.ok(rc == 0 and b'2 tap rules' in out, 'contrib/php/tap.rules passes --check', out + err)
    bad = write(os.path.join(d, 'bad.conf'), '# comment\ndaemon unix:/x\nbridge_allow 10.0.0.0/33\n')
    rc, out, err = run([BR, '--config', bad, '--check'])
    t.ok(rc == 1 and err.startswith(('pushgate-fcgi: %s:3: bridge_allow' % bad).encode()) and err.count(b'\n') == 1,
         'a bad fcgi.conf value is one line with file:line', err)
    rc, out, err = run([BR, '--config', os.path.join(d, 'missing.conf'), '--check'])
    t.ok(rc == 1 and b'cannot read' in err, 'an explicit missing config is an error', err)
    rc, out, err = run([BR, '--check'], env={'PUSHGATE_FCGI_CONF': bad})
    t.eq(rc, 1, 'PUSHGATE_FCGI_CONF names the config file')
    rules = write(os.path.join(d, 'bad.rules'), 'rule a\n  path /x\n  publish order-{form.id\n')
    rc, out, err = run([BR, '--config', conf, '--check', '--tap', 'unix:/x', '--rules', rules])
    t.ok(rc == 1 and (rules + ':3: publish template').encode() in err, 'a bad tap rule names file:line', err)

# the PHP publish example
php = shutil.which('php') or shutil.which('php-cgi')
if shutil.which('php'):
    for f in ('pushgate-publish.php', 'demo/order.php', 'demo/admin/order_status.php'):
        rc, out, err = run(['php', '-l', os.path.join(C, 'php', f)])
        t.eq(rc, 0, 'php -l contrib/php/%s' % f)
    with FakePub(d) as fp:
        ex = os.path.join(C, 'php', 'pushgate-publish.php')
        rc, out, err = run(['php', ex, 'order-42', '{"status":"shipped"}', 'status', 'unix://' + fp.unix_path])
        r = fp.requests[-1] if fp.requests else None
        t.ok(rc == 0 and r and r.channel == 'order-42' and r.body == b'{"status":"shipped"}'
             and r.headers.get('x-event') == 'status', 'pushgate-publish.php publishes over a unix socket', out + err)
        rc, out, err = run(['php', ex, 'a,b', 'x', '', 'tcp://' + fp.tcp],
                           env={'PUSHGATE_PUBLISH_SECRET': 'phpsecret'})
        r = fp.requests[-1]
        t.ok(rc == 0 and r.path == '/pub/a,b' and r.headers.get('authorization') == 'Bearer phpsecret',
             'and over TCP to several channels with the secret from the environment', out + err)
    rc, out, err = run(['php', ex, 'c', 'm', '', 'unix://' + os.path.join(d, 'none.sock')])
    t.ok(rc == 1 and b'cannot connect' in out, 'pushgated away: status 0 and a clear message', out)
else:
    t.skip('PHP example', 'php not installed')

# README sections
readme = open(os.path.join(C, 'README.md')).read()
for section in ('Apache', 'lighttpd', 'nginx', 'systemd', 'WooCommerce', 'tap'):
    t.ok(re.search(r'^#+ .*%s' % section, readme, re.M | re.I), 'contrib/README.md has a %s section' % section)
t.done()
