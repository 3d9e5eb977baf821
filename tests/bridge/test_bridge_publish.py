"""test_bridge_publish.py — pushgate-fcgi's publish endpoint in CGI mode and
in FastCGI mode (driven by cgi-fcgi from libfcgi-bin), against a stand-in
publish listener: paths, forms, who may publish, limits, answers passed
through, concurrency, and garbage on the FastCGI socket."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from bridgeutil import (Tap, cgi_env, free_port, prog, run_cgi, run_fcgi, stop, tmpdir,
                        wait_port, write)
from fakepub import FakePub

t = Tap()
BR = prog('pushgate-fcgi')
if not os.access(BR, os.X_OK):
    t.skip_all('pushgate-fcgi not built')
have_cgi_fcgi = shutil.which('cgi-fcgi') is not None
d = tmpdir()


def answer(req, n):
    ch = req.channel
    if ch == 'bad':
        return 400, {"error": "channel name is not valid"}
    if ch == 'slow':
        time.sleep(2)
    return (201 if ch.startswith('sub') else 202), {"id": "1-%d" % n, "channel": ch, "subscribers": 0}


with FakePub(d, answer) as fp:
    conf = write(os.path.join(d, 'fcgi.conf'),
                 'daemon unix:%s\nspool_dir %s/spool\nbridge_secret t0ps3cret\n'
                 'max_message_size 1k\npublish_secret daemonsecret\n' % (fp.unix_path, d))

    def cgi(env, body=b''):
        return run_cgi(BR, env, body, conf)

    st, h, body, err = cgi(cgi_env(uri='/pg/news', length=5, extra={'HTTP_X_EVENT': 'flash'}), b'hello')
    t.eq(st, 202, 'CGI publish answered with the daemon status')
    r = fp.requests[-1]
    t.eq((r.path, r.body, r.headers.get('x-event')), ('/pub/news', b'hello', 'flash'), 'forwarded path, body, event')
    t.eq(r.headers.get('authorization'), 'Bearer daemonsecret', 'publish_secret sent to pushgated')
    t.eq(json.loads(body)['channel'], 'news', 'daemon JSON passed through')
    st, h, body, err = cgi(cgi_env(uri='/pg/sub1,sub2', length=1), b'x')
    t.eq((st, fp.requests[-1].path), (201, '/pub/sub1,sub2'), '201 and multi-channel pass through')
    st, h, body, err = cgi(cgi_env(uri='/pg/bad', length=1), b'x')
    t.eq(st, 400, 'a 4xx from pushgated stays a 4xx')
    t.eq(json.loads(body)['error'], 'channel name is not valid', 'with its error body')

    # PATH_INFO wins; REQUEST_URI relative to SCRIPT_NAME when PATH_INFO is unset (ProxyPass fcgi://)
    cgi(cgi_env(uri='/whatever', script='/x', path_info='/viainfo', length=1), b'x')
    t.eq(fp.requests[-1].path, '/pub/viainfo', 'channel from PATH_INFO')
    cgi(cgi_env(uri='/pg/caf%C3%A9?x=1', length=1), b'x')
    t.eq(fp.requests[-1].channel, 'caf\u00e9', 'REQUEST_URI relative to SCRIPT_NAME, percent-decoded, query dropped')

    # form-encoded publishes
    form = b'channel=orders&event=created&data=%7B%22id%22%3A+7%7D'
    st, h, body, err = cgi(cgi_env(uri='/pg/', ctype='application/x-www-form-urlencoded', length=len(form)), form)
    r = fp.requests[-1]
    t.eq((st, r.channel, r.headers.get('x-event'), r.body), (202, 'orders', 'created', b'{"id": 7}'),
         'form publish: channel, event and data decoded')
    form = b'data=hi'
    cgi(cgi_env(uri='/pg/formchan', ctype='application/x-www-form-urlencoded; charset=UTF-8', length=7), form)
    t.eq((fp.requests[-1].channel, fp.requests[-1].body), ('formchan', b'hi'), 'form with channel in the URL')
    st, h, body, err = cgi(cgi_env(uri='/pg/', ctype='application/x-www-form-urlencoded', length=9), b'channel=x')
    t.eq(st, 400, 'form without data is 400')
    t.ok(b'no data field' in body, 'one clear sentence', body)
    st, h, body, err = cgi(cgi_env(uri='/pg/', ctype='application/x-www-form-urlencoded', length=13), b'data=%zz&c=1')
    t.eq(st, 400, 'malformed %-escape is 400')

    # who may publish
    n = len(fp.requests)
    st, h, body, err = cgi(cgi_env(uri='/pg/news', remote='203.0.113.9', length=1), b'x')
    t.eq(st, 403, 'a remote address without the secret is refused')
    t.eq(len(fp.requests), n, 'and nothing reached pushgated')
    st, h, body, err = cgi(cgi_env(uri='/pg/news', remote='203.0.113.9', length=1,
                                   extra={'HTTP_AUTHORIZATION': 'Bearer wrong'}), b'x')
    t.eq(st, 403, 'a wrong bridge_secret is refused')
    st, h, body, err = cgi(cgi_env(uri='/pg/news', remote='203.0.113.9', length=1,
                                   extra={'HTTP_AUTHORIZATION': 'Bearer t0ps3cret'}), b'x')
    t.eq(st, 202, 'the right bridge_secret publishes from anywhere')
    st, h, body, err = cgi(cgi_env(uri='/pg/news', remote='::ffff:127.0.0.1', length=1), b'x')
    t.eq(st, 202, 'v4-mapped loopback is loopback')

    # bad requests
    st, h, body, err = cgi(cgi_env(method='GET', uri='/pg/news'))
    t.eq((st, h.get('allow')), (405, 'POST'), 'GET is 405 with Allow: POST')
    st, h, body, err = cgi(cgi_env(uri='/pg/a/b', length=1), b'x')
    t.eq(st, 404, 'a path with / below the script is 404')
    st, h, body, err = cgi(cgi_env(uri='/pg/', length=1), b'x')
    t.eq(st, 400, 'no channel is 400')
    st, h, body, err = cgi(cgi_env(uri='/pg/news', length=2000), b'x' * 2000)
    t.eq(st, 413, 'CONTENT_LENGTH over max_message_size is 413')
    st, h, body, err = cgi(cgi_env(uri='/pg/news'), b'y' * 1500)
    t.eq(st, 413, 'a body without CONTENT_LENGTH (chunked) over the limit is 413')
    st, h, body, err = cgi(cgi_env(uri='/pg/news'), b'y' * 700)
    t.eq((st, fp.requests[-1].body), (202, b'y' * 700), 'a body without CONTENT_LENGTH is read to EOF')
    st, h, body, err = cgi(cgi_env(uri='/pg/news', length='12x'), b'x')
    t.eq(st, 400, 'a garbled CONTENT_LENGTH is 400')

    # FastCGI mode
    if not have_cgi_fcgi:
        t.skip('FastCGI mode', 'cgi-fcgi (libfcgi-bin) not installed')
    else:
        port = free_port()
        addr = '127.0.0.1:%d' % port
        log = open(os.path.join(d, 'fcgi.log'), 'wb')
        p = subprocess.Popen([BR, '--config', conf, '--listen', addr, '--threads', '4'],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            t.ok(wait_port(port), 'FastCGI listener up')
            st, h, body, err = run_fcgi(addr, cgi_env(uri='/pg/fast', length=4,
                                                       extra={'HTTP_X_EVENT': 'e1'}), b'abcd')
            r = fp.requests[-1]
            t.eq((st, r.channel, r.body, r.headers.get('x-event')), (202, 'fast', b'abcd', 'e1'),
                 'FastCGI publish forwarded')
            t.eq(int(h.get('content-length', -1)), len(body), 'Content-Length matches the body')
            st, h, body, err = run_fcgi(addr, cgi_env(uri='/pg/bad', length=1), b'x')
            t.eq(st, 400, 'FastCGI: 4xx passed through')
            st, h, body, err = run_fcgi(addr, cgi_env(uri='/pg/news', remote='198.51.100.1', length=1), b'x')
            t.eq(st, 403, 'FastCGI: bridge_allow enforced')
            big = b'z' * 5000
            st, h, body, err = run_fcgi(addr, cgi_env(uri='/pg/news', length=len(big)), big)
            t.eq(st, 413, 'FastCGI: oversized body is 413')

            # one slow request does not block the others
            res = {}

            def slow():
                res['slow'] = run_fcgi(addr, cgi_env(uri='/pg/slow', length=1), b's')[0]
            th = threading.Thread(target=slow)
            th.start()
            time.sleep(0.3)
            t0 = time.time()
            st = run_fcgi(addr, cgi_env(uri='/pg/quick', length=1), b'q')[0]
            el = time.time() - t0
            th.join(10)
            t.ok(st == 202 and el < 1.5, 'a quick request is served while a slow one waits (%.2fs)' % el)
            t.eq(res.get('slow'), 202, 'and the slow one completes')

            # garbage and truncated records never crash it
            for junk in (b'\x00' * 64, b'GET / HTTP/1.1\r\n\r\n', b'\x01\x01\x00\x01\xff\xff\x00\x00abc',
                         bytes(range(256)) * 4, b'\x01\x04\x00\x01\x00\x10\x00\x00\x8f\xff\xff\xffab'):
                try:
                    s = socket.create_connection(('127.0.0.1', port), 2)
                    s.sendall(junk)
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(2)
                    try:
                        s.recv(4096)
                    except OSError:
                        pass
                    s.close()
                except OSError:
                    pass
            time.sleep(0.2)
            t.ok(p.poll() is None, 'malformed FastCGI records did not kill the bridge')
            st = run_fcgi(addr, cgi_env(uri='/pg/after', length=1), b'a')[0]
            t.eq(st, 202, 'and it still serves')
        finally:
            stop(p)
            log.close()

t.done()
