#!/usr/bin/python3
"""test_auth_fastcgi.py — the session check over FastCGI (auth_fastcgi)
against a real php-fpm (Debian's php-fpm8.2, started here on a unix socket
in a temp dir) running the shipped contrib/php/pushgate-auth.php with PHP's
own sessions: the logged-in user gets "user.<id>", another user's channel
is refused 403 with the script's reason, no session is refused 401; allow
answers are cached (php-fpm's access log counts the requests); php-fpm
being down gives "could not be made"."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from authlib import *  # noqa: E402,F403

require_websockets()

if not php_fpm_binary():
    if os.environ.get('CI') == 'true':
        tap.ok(False, 'php-fpm8.2 is not installed (apt-get install php8.2-fpm)')
        tap.done()
    tap.skip_all('php-fpm8.2 is not installed')

SCRIPT = os.path.realpath(os.path.join(srcdir(), 'contrib', 'php', 'pushgate-auth.php'))
SID = 'pgtestsession0123456789abcdefABCD'   # 33 chars of [0-9a-zA-Z]
SID2 = 'pgtestsessionZYXWVUTSRQ9876543210ab'


def case_allow(d, fpm):
    before = fpm.requests()
    ok, diag = ws_allowed(d, '/sub/user.42', 'user.42', headers={'Cookie': 'PHPSESSID=' + SID})
    tap.ok(ok, 'php-fpm running pushgate-auth.php allows the logged-in user\'s channel', diag)
    tap.ok(poll_until(lambda: fpm.requests() == before + 1, 2), 'php-fpm served one request',
           'access log lines: %d -> %d' % (before, fpm.requests()))


def case_cache(d, fpm):
    for i in range(3):
        ok, diag = ws_allowed(d, '/sub/user.7', 'user.7', headers={'Cookie': 'PHPSESSID=' + SID2})
        tap.ok(ok, 'user 7, subscription %d: allowed' % (i + 1), diag)
    poll_until(lambda: False, 0.3)
    lines = open(fpm.access_log).read().count('pushgate-auth.php')
    tap.is_(lines, 2, 'the three subscriptions of user 7 cost php-fpm one request (plus user 42\'s)')


def case_deny(d, fpm):
    st, code, why = ws_refused(d, '/sub/user.7', headers={'Cookie': 'PHPSESSID=' + SID})
    tap.ok(st == 101 and code == 1008 and why == 'not your channel: user.7',
           'another user\'s channel: 101 then 1008 with the script\'s reason',
           'status %r code %r reason %r' % (st, code, why))
    st, code, why = ws_refused(d, '/sub/user.42')
    tap.ok(code == 1008 and why == 'not logged in', 'no session: 1008 "not logged in"',
           'code %r reason %r' % (code, why))
    st, code, why = ws_refused(d, '/sub/user.42,user.7', headers={'Cookie': 'PHPSESSID=' + SID})
    tap.ok(code == 1008 and 'user.7' in why, 'a subscription with one foreign channel is refused',
           'code %r reason %r' % (code, why))


def case_fpm_down(d, fpm):
    fpm.stop()
    st, code, why = ws_refused(d, '/sub/user.99', headers={'Cookie': 'PHPSESSID=' + SID})
    tap.ok(code == 1008 and why == 'the session check could not be made',
           'php-fpm gone: 1008 "the session check could not be made"', 'code %r reason %r' % (code, why))


fpm = PhpFpm()
fpm.session(SID, 'user_id|i:42;')
fpm.session(SID2, 'user_id|i:7;')
with fpm:
    rule = 'user.* unix:%s %s' % (fpm.sock, SCRIPT)
    with Daemon(auth_fastcgi=rule) as d:
        for case in (case_allow, case_cache, case_deny, case_fpm_down):
            tap.run(case, d, fpm)
tap.done()
