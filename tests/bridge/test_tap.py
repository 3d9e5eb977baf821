"""test_tap.py — pushgate-fcgi --tap in front of a real php-fpm, driven by
cgi-fcgi (an independent FastCGI client): the unchanged demo admin form
publishes through contrib/php/tap.rules; X-Pushgate-* answer headers publish
and are stripped (other header bytes untouched); large answers and bodies
stream intact; a slow request does not hold up others; php-fpm down gives
502; pushgated down still delivers the PHP answer and spools the publish;
garbage FastCGI records never crash the tap."""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from bridgeutil import (HERE, SRCDIR, Tap, free_port, parse_cgi, prog, stop, tmpdir, wait_until,
                        watchdog, write)
from fakepub import FakePub
from servers import Bridge, PhpFpm

t = Tap()
if os.environ.get('PG_SKIP_WEBSERVERS') == '1':
    t.skip_all('PG_SKIP_WEBSERVERS=1 (make distcheck)', 'PG_SKIP_WEBSERVERS')
watchdog(180)
if not os.access(prog('pushgate-fcgi'), os.X_OK):
    t.skip_all('pushgate-fcgi not built')
if not PhpFpm.binary() or not shutil.which('cgi-fcgi'):
    t.skip_all('php-fpm or cgi-fcgi not installed (tests/bridge/packages.txt)')
d = tmpdir()
os.chmod(d, 0o755)
PHP = os.path.join(HERE, 'php')
DEMO = os.path.join(SRCDIR, 'contrib', 'php', 'demo')
rules = write(os.path.join(d, 'tap.rules'),
              open(os.path.join(SRCDIR, 'contrib', 'php', 'tap.rules')).read() + '\n' +
              open(os.path.join(HERE, 'tap-test.rules')).read())
os.environ['PUSHGATE_DEMO_DB'] = os.path.join(d, 'orders.json')


def fcgi(port, script, method='GET', query='', body=b'', ctype=None, uri=None, timeout=30):
    env = {'PATH': '/usr/bin:/bin', 'GATEWAY_INTERFACE': 'CGI/1.1', 'SERVER_PROTOCOL': 'HTTP/1.1',
           'REQUEST_METHOD': method, 'SCRIPT_FILENAME': script, 'QUERY_STRING': query,
           'SCRIPT_NAME': uri or '/' + os.path.basename(script),
           'REQUEST_URI': (uri or '/' + os.path.basename(script)) + ('?' + query if query else ''),
           'REMOTE_ADDR': '127.0.0.1', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
           'CONTENT_LENGTH': str(len(body))}
    if ctype:
        env['CONTENT_TYPE'] = ctype
    p = subprocess.run(['cgi-fcgi', '-bind', '-connect', '127.0.0.1:%d' % port], input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    return p.stdout


def raw_head(out):
    return out.split(b'\r\n\r\n', 1)[0]


spool = os.path.join(d, 'spool')
with FakePub(d) as fp, PhpFpm(d) as fpm:
    conf = ('daemon unix:%s\nspool_dir %s\ntap_upstream unix:%s\ntap_rules %s\ntap_body_max 64k\n'
            % (fp.unix_path, spool, fpm.sock, rules))
    with Bridge(d, conf) as br:
        form = b'order_id=42&status=shipped'
        out = fcgi(br.port, os.path.join(DEMO, 'admin', 'order_status.php'), 'POST', body=form,
                   ctype='application/x-www-form-urlencoded', uri='/shop/admin/order_status.php')
        st, h, body = parse_cgi(out)
        t.ok(st == 200 and b'Order 42 is now shipped' in body, 'the unchanged PHP form answers through the tap', out[:300])
        t.ok(fp.wait_requests(1, 5), 'and a publish reached pushgated')
        r = fp.requests[0]
        t.eq((r.channel, r.headers.get('x-event')), ('order-42', 'status'), 'rule order-status: channel and event')
        t.eq(json.loads(r.body), {'order': '42', 'status': 'shipped'}, 'payload built from the form fields')

        n = len(fp.requests)
        out = fcgi(br.port, os.path.join(DEMO, 'admin', 'order_status.php'), 'POST', body=b'order_id=42&status=bogus',
                   ctype='application/x-www-form-urlencoded', uri='/shop/admin/order_status.php')
        time.sleep(0.3)
        t.eq((parse_cgi(out)[0], len(fp.requests)), (400, n), 'a 4xx answer does not fire a 2xx rule')
        out = fcgi(br.port, os.path.join(DEMO, 'admin', 'order_status.php'), 'GET', uri='/shop/admin/order_status.php')
        time.sleep(0.3)
        t.ok(parse_cgi(out)[0] == 200 and len(fp.requests) == n, 'a GET does not fire a POST rule')

        out = fcgi(br.port, os.path.join(PHP, 'header_publish.php'), query='id=9')
        head = raw_head(out)
        t.ok(b'X-Pushgate' not in out, 'X-Pushgate-* headers stripped before the browser sees them', head)
        t.ok(b'X-Kept:   spacing  kept\r\n' in head and b'Set-Cookie: sess=abc' in head,
             'other header lines passed byte for byte', head)
        t.ok(out.endswith(b'stock updated\n'), 'body intact')
        t.ok(fp.wait_requests(n + 1, 5), 'X-Pushgate-Publish published')
        r = fp.requests[-1]
        t.eq((r.channel, r.headers.get('x-event'), r.body), ('stock-9', 'stock', b'{"left":3}'),
             'to its channel with X-Pushgate-Event and X-Pushgate-Data')

        n = len(fp.requests)
        out = fcgi(br.port, os.path.join(PHP, 'status.php'), query='code=404')
        t.eq(parse_cgi(out)[0], 404, 'status passes through')
        t.ok(fp.wait_requests(n + 1, 5), 'a 4xx rule fires')
        r = fp.requests[-1]
        t.eq((r.channel, r.headers.get('x-event'), json.loads(r.body)), ('errors', 'http-404', {'status': 404, 'q': '404'}),
             '{status} and {query.*} placeholders, literal braces')

        out = fcgi(br.port, os.path.join(PHP, 'big.php'), query='mb=3')
        st, h, body = parse_cgi(out)
        want = b''.join(bytes([65 + i % 26]) * 65536 for i in range(48))
        t.ok(st == 200 and body == want, 'a 3 MiB answer streams through intact (%d bytes)' % len(body))

        n = len(fp.requests)
        small = b'tag=small&x=' + b'y' * 1000
        out = fcgi(br.port, os.path.join(PHP, 'echo_body.php'), 'POST', body=small, ctype='application/x-www-form-urlencoded')
        t.eq(parse_cgi(out)[2], ('%s %d\n' % (hashlib.md5(small).hexdigest(), len(small))).encode(), 'body forwarded intact')
        t.ok(fp.wait_requests(n + 1, 5) and fp.requests[-1].channel == 'body-small', 'form rule fires for a body within tap_body_max')
        n = len(fp.requests)
        big = b'tag=big&x=' + b'z' * 300000
        out = fcgi(br.port, os.path.join(PHP, 'echo_body.php'), 'POST', body=big, ctype='application/x-www-form-urlencoded')
        t.eq(parse_cgi(out)[2], ('%s %d\n' % (hashlib.md5(big).hexdigest(), len(big))).encode(),
             'a body over tap_body_max streams through intact')
        time.sleep(0.3)
        t.eq(len(fp.requests), n, 'and its form fields are not available to rules')

        res = {}

        def slow():
            res['slow'] = fcgi(br.port, os.path.join(PHP, 'slow.php'), query='ms=2000')
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.3)
        t0 = time.time()
        out = fcgi(br.port, os.path.join(PHP, 'status.php'))
        el = time.time() - t0
        th.join(10)
        t.ok(parse_cgi(out)[0] == 200 and el < 1.0, 'a quick request is not held up by a slow one (%.2fs)' % el)
        t.ok(res.get('slow', b'').endswith(b'slow done\n'), 'and the slow one completes')

        t0 = time.time()
        for i in range(20):
            fcgi(br.port, os.path.join(PHP, 'status.php'))
        per = (time.time() - t0) / 20
        t.ok(per < 0.25, 'tap round trips are quick (%.0f ms per request incl. cgi-fcgi start)' % (per * 1000))

        for junk in (b'\x00' * 64, b'GET / HTTP/1.1\r\n\r\n', b'\x01\x01\x00\x01\x00\x08\x00\x00' + b'\x00' * 8 +
                     b'\x01\x04\x00\x01\x00\x05\x00\x00\xff\xff\xff\xff\x01', bytes(range(256)) * 8):
            try:
                s = socket.create_connection(('127.0.0.1', br.port), 2)
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(2)
                while s.recv(4096):
                    pass
                s.close()
            except OSError:
                pass
        t.ok(br.proc.poll() is None, 'garbage FastCGI records did not kill the tap')
        t.eq(parse_cgi(fcgi(br.port, os.path.join(PHP, 'status.php')))[0], 200, 'and it still serves')

    # pushgated down: PHP answer delivered, publish spooled
    conf_down = ('daemon unix:%s/nosuch.sock\nspool_dir %s\ntap_upstream unix:%s\ntap_rules %s\n'
                 % (d, spool, fpm.sock, rules))
    with Bridge(d, conf_down) as br:
        out = fcgi(br.port, os.path.join(DEMO, 'admin', 'order_status.php'), 'POST', body=b'order_id=7&status=paid',
                   ctype='application/x-www-form-urlencoded', uri='/shop/admin/order_status.php')
        t.ok(b'Order 7 is now paid' in out, 'pushgated down: the PHP answer is still delivered')
        t.ok(wait_until(lambda: os.path.isdir(spool) and any(f.endswith('.msg') for f in os.listdir(spool)), 5),
             'and the publish is spooled')

# php-fpm down: 502
with FakePub(d) as fp:
    conf = 'daemon unix:%s\ntap_upstream unix:%s/no-fpm.sock\n' % (fp.unix_path, d)
    with Bridge(d, conf) as br:
        out = fcgi(br.port, os.path.join(PHP, 'status.php'))
        t.eq(parse_cgi(out)[0], 502, 'php-fpm down: 502 like a web server')
t.done()
