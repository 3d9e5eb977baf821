"""test_apache.py — real Apache 2.4 (-DFOREGROUND) with contrib/apache/*.conf,
templated only for ports and paths, in front of pushgated, the bridge
(mod_proxy_fcgi, mod_fcgid, CGI) and the tap before php-fpm."""
import os
import shutil

from bridgeutil import SRCDIR, Tap, prog, watchdog
import pgtest
from servers import Apache, PhpFpm, contrib, template
from stack import Stack, check_bridge_mounts, check_subscribers_through_proxy

t = Tap()
if os.environ.get('PG_SKIP_WEBSERVERS') == '1':
    t.skip_all('PG_SKIP_WEBSERVERS=1 (make distcheck)', 'PG_SKIP_WEBSERVERS')
watchdog(240)
if not os.path.exists('/usr/sbin/apache2'):
    t.skip_all('apache2 not installed (tests/bridge/packages.txt)')
if not os.access(prog('pushgate-fcgi'), os.X_OK) or not os.access(pgtest.daemon_path(), os.X_OK):
    t.skip_all('pushgate-fcgi or pushgated not built')
if not PhpFpm.binary():
    t.skip_all('php-fpm not installed')
pgtest.require_websockets()

st = Stack()
try:
    st.start(url_prefix='/pushgate/')
    d = st.dir
    paths = {
        '127.0.0.1:8080': '127.0.0.1:%d' % st.daemon.port,
        '/var/www/shop': st.www,
        'unix:/run/pushgate/fcgi.sock': 'unix:' + st.fcgi_sock,
        '</VirtualHost>': 'Include %s/bridge.conf\nInclude %s/tap.conf\n</VirtualHost>' % (d, d),
    }
    port = pgtest.free_port()
    paths['*:80'] = '127.0.0.1:%d' % port
    template(contrib('apache', 'pushgate-bridge.conf'), os.path.join(d, 'bridge.conf'),
             {'/usr/bin/pushgate-fcgi': st.binary, '/etc/pushgate/fcgi.conf': st.conf})
    template(contrib('apache', 'pushgate-tap.conf'), os.path.join(d, 'tap.conf'),
             {'/run/pushgate/tap.sock': st.tap_sock})
    with Apache(d, contrib('apache', 'pushgate.conf'), paths, port=port) as ap:
        check_subscribers_through_proxy(t, st, port, 'Apache')
        check_bridge_mounts(t, st, port, 'Apache', ['/pushgate/', '/pushgate-fcgid/', '/pushgate-cgi/'])
        s = open(os.path.join(d, 'site.conf')).read()
        t.ok('Timeout 3600' in s and 'ProxyTimeout 3600' in s, 'contrib sets Timeout and ProxyTimeout')
        b = open(os.path.join(d, 'bridge.conf')).read()
        t.ok('FcgidMaxRequestLen' in b and 'FcgidIOTimeout' in b, 'contrib sets FcgidMaxRequestLen and FcgidIOTimeout')
finally:
    st.stop()
t.done()
