#!/usr/bin/python3
"""test_tls.py — tls: listeners with a certificate made at test time by
`openssl req`: wss:// subscribers and an https:// publish listener, TLS 1.2
as the minimum, garbage and plain HTTP on a TLS port, and a certificate
reload on SIGHUP that serves the new certificate to new connections without
dropping the open ones."""

import asyncio
import hashlib
import http.client
import os
import signal
import ssl
import subprocess
import tempfile

from pgtest import *


def make_cert(tmp, name, cn):
    key, crt = os.path.join(tmp, name + '.key'), os.path.join(tmp, name + '.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                    '-out', crt, '-days', '2', '-subj', '/CN=' + cn,
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    return crt, key


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx


def peer_fingerprint(port, cafile):
    import socket
    ctx = client_ctx(cafile)
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(('127.0.0.1', port), timeout=T(3)) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def https_publish(port, cafile, channel, body):
    c = http.client.HTTPSConnection('127.0.0.1', port, context=client_ctx(cafile), timeout=T(5))
    c.request('POST', '/pub/' + channel, body=body)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def main():
    require_websockets()
    tmp = tempfile.mkdtemp(prefix='pgtest-tls.')
    crt, key = make_cert(tmp, 'a', 'first')
    port, pub = free_port(), free_port()
    ch = uniq('tls')
    with Daemon(listen='tls:127.0.0.1:%d' % port, publish_listen='tls:127.0.0.1:%d' % pub,
                tls_cert=crt, tls_key=key) as d:
        ctx = client_ctx(crt)

        async def body():
            import websockets
            async with websockets.connect('wss://127.0.0.1:%d/sub/%s' % (port, ch), ssl=ctx,
                                          subprotocols=[V1]) as w:
                tap.is_(https_publish(pub, crt, ch, b'over tls'), 201,
                        'an https:// publish reaches a wss:// subscriber (201)')
                m = await recv_msg(w)
                tap.is_(m.get('data'), 'over tls', 'the wss:// subscriber receives it')
                big = b'x' * 300000
                tap.is_(https_publish(pub, crt, ch, big), 201, 'a 300 kB message over TLS')
                m = await recv_msg(w, 10)
                tap.is_(len(m.get('data', '')), 300000, 'arrives whole through TLS records')
                before = peer_fingerprint(port, crt)
                new_crt, new_key = make_cert(tmp, 'b', 'second')
                os.replace(new_crt, crt)
                os.replace(new_key, key)
                d.signal(signal.SIGHUP)
                poll_until(lambda: 'configuration reloaded' in d.log_text(), timeout=T(3))
                after = peer_fingerprint(port, crt)
                tap.ok(before != after, 'SIGHUP reloads the certificate for new connections')
                tap.is_(https_publish(pub, crt, ch, b'after reload'), 201, 'publish after the reload')
                m = await recv_msg(w)
                tap.is_(m.get('data'), 'after reload', 'the open wss:// connection survived the reload')
        run(body(), timeout=40)

        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            old.set_ciphers('ALL:@SECLEVEL=0')
        except ssl.SSLError:
            pass
        import socket
        refused = False
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=T(3)) as s:
                with old.wrap_socket(s):
                    pass
        except (ssl.SSLError, OSError):
            refused = True
        tap.ok(refused, 'TLS 1.1 is refused (1.2 is the minimum)')
        reply = raw_http(port, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', timeout=3)
        tap.ok(not reply.startswith(b'HTTP/1.1 200'), 'plain HTTP on a TLS port gets no page')
        tap.ok(https_publish(pub, crt, ch, b'still alive') in (201, 202), 'and the daemon still serves')
    tap.done()


main()
