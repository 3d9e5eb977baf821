"""test_lighttpd.py — real lighttpd 1.4 (-D) with contrib/lighttpd/*.conf,
templated only for ports and paths, in front of pushgated, the bridge
(FastCGI socket, bin-path spawned, mod_cgi) and the tap before php-fpm."""
import os

from bridgeutil import Tap, prog, watchdog
import pgtest
from servers import Lighttpd, PhpFpm, contrib, template, web_user
from stack import Stack, check_bridge_mounts, check_subscribers_through_proxy

t = Tap()
if os.environ.get('PG_SKIP_WEBSERVERS') == '1':
    t.skip_all('PG_SKIP_WEBSERVERS=1 (make distcheck)', 'PG_SKIP_WEBSERVERS')
watchdog(240)
if not os.path.exists('/usr/sbin/lighttpd'):
    t.skip_all('lighttpd not installed (tests/bridge/packages.txt)')
if not os.access(prog('pushgate-fcgi'), os.X_OK) or not os.access(pgtest.daemon_path(), os.X_OK):
    t.skip_all('pushgate-fcgi or pushgated not built')
if not PhpFpm.binary():
    t.skip_all('php-fpm not installed')
pgtest.require_websockets()

st = Stack()
try:
    st.start(url_prefix='/pushgate/')
    d = st.dir
    port = pgtest.free_port()
    os.makedirs(os.path.join(d, 'lighttpd-run'), exist_ok=True)
    user, gid = web_user()
    if user != 'root':
        import pwd
        os.chown(os.path.join(d, 'lighttpd-run'), pwd.getpwnam(user).pw_uid, gid)
    inc = template(contrib('lighttpd', 'pushgate.conf'), os.path.join(d, 'pushgate-lighttpd.conf'), {
        '"port" => 8080': '"port" => %d' % st.daemon.port,
        '"socket" => "/run/pushgate/fcgi.sock"': '"socket" => "%s"' % st.fcgi_sock,
        '/run/lighttpd/pushgate-fcgi.sock': os.path.join(d, 'lighttpd-run', 'spawn.sock'),
        '/usr/bin/pushgate-fcgi': st.binary,
        '/etc/pushgate/fcgi.conf': st.conf,
    })
    tap = template(contrib('lighttpd', 'pushgate-tap.conf'), os.path.join(d, 'pushgate-tap-lighttpd.conf'),
                   {'"socket" => "/run/pushgate/tap.sock"': '"socket" => "%s"' % st.tap_sock})
    main = os.path.join(d, 'lighttpd-main.conf')
    with open(main, 'w') as f:
        f.write('server.document-root = "%s"\nserver.port = %d\nserver.bind = "127.0.0.1"\n'
                'server.errorlog = "%s/lighttpd-run/error.log"\nserver.pid-file = "%s/lighttpd.pid"\n'
                'server.username = "%s"\nserver.groupname = "%s"\n'
                'mimetype.assign = ( ".js" => "application/javascript", ".html" => "text/html" )\n'
                'index-file.names = ( "index.php" )\ninclude "%s"\ninclude "%s"\n'
                % (st.www, port, d, d, user, user if user != 'root' else 'root', inc, tap))
    with Lighttpd(d, main, port) as lt:
        check_subscribers_through_proxy(t, st, port, 'lighttpd')
        check_bridge_mounts(t, st, port, 'lighttpd', ['/pushgate/', '/pushgate-spawn/', '/pushgate-cgi/'])
        text = open(inc).read()
        t.ok('mod_wstunnel' not in text.split('server.modules')[1].split(')')[0],
             'contrib proxies WebSockets with mod_proxy, not mod_wstunnel')
finally:
    st.stop()
t.done()
