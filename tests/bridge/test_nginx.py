"""test_nginx.py — Debian's nginx with contrib/nginx/pushgate.conf, templated
only for ports and paths, in front of pushgated, the bridge and the tap
before php-fpm."""
import os
import pwd
import shutil

from bridgeutil import Tap, prog, watchdog
import pgtest
from servers import Nginx, PhpFpm, contrib, template, web_user
from stack import Stack, check_bridge_mounts, check_subscribers_through_proxy

t = Tap()
if os.environ.get('PG_SKIP_WEBSERVERS') == '1':
    t.skip_all('PG_SKIP_WEBSERVERS=1 (make distcheck)', 'PG_SKIP_WEBSERVERS')
watchdog(240)
if not os.path.exists('/usr/sbin/nginx'):
    t.skip_all('nginx not installed (tests/bridge/packages.txt)')
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
    user, gid = web_user()
    tmp = os.path.join(d, 'nginx-tmp')
    os.makedirs(tmp, exist_ok=True)
    if user != 'root':
        os.chown(tmp, pwd.getpwnam(user).pw_uid, gid)
    site = template(contrib('nginx', 'pushgate.conf'), os.path.join(d, 'nginx-site.conf'), {
        'listen 80;': 'listen 127.0.0.1:%d;' % port,
        'root /var/www/shop;': 'root %s;' % st.www,
        '127.0.0.1:8080': '127.0.0.1:%d' % st.daemon.port,
        'unix:/run/pushgate/fcgi.sock': 'unix:' + st.fcgi_sock,
        'unix:/run/pushgate/tap.sock': 'unix:' + st.tap_sock,
    })
    # relative includes (fastcgi_params) resolve next to the main config
    shutil.copy('/etc/nginx/fastcgi_params', os.path.join(d, 'fastcgi_params'))
    main = os.path.join(d, 'nginx.conf')
    with open(main, 'w') as f:
        f.write('user %s;\nworker_processes 1;\nerror_log %s/nginx-error.log;\n'
                'events { worker_connections 256; }\n'
                'http {\n  include /etc/nginx/mime.types;\n  access_log off;\n'
                '  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n'
                '  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n'
                '  include %s;\n}\n' % (user, d, tmp, tmp, tmp, tmp, tmp, site))
    with Nginx(d, main, port) as ng:
        check_subscribers_through_proxy(t, st, port, 'nginx')
        check_bridge_mounts(t, st, port, 'nginx', ['/pushgate/'])
finally:
    st.stop()
t.done()
