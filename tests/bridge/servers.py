"""servers.py — real web servers for the bridge tests: php-fpm, Apache,
lighttpd, nginx and pushgate-fcgi itself, each started in the foreground on
free loopback ports from a config that is the contrib/ one templated only
for ports and paths (@NAME@ placeholders), waited for with a bound, and
stopped by PID. A failed start dumps the server's error log as TAP comments.
"""
import os
import pwd
import shutil
import signal
import subprocess
import time

from bridgeutil import SRCDIR, T, free_port, prog, stop, wait_path, wait_port
import pgtest


def template(src, dst, values):
    """Copies src to dst replacing each key (a literal string of the contrib
    file: an address, a path) with its value. Every key must occur, so a
    contrib edit cannot silently make the test use its own defaults."""
    with open(src) as f:
        text = f.read()
    for k, v in values.items():
        if k not in text:
            raise RuntimeError('%s: %r not found (template out of date?)' % (src, k))
        text = text.replace(k, str(v))
    with open(dst, 'w') as f:
        f.write(text)
    os.chmod(dst, 0o644)
    return dst


def contrib(*parts):
    return os.path.join(SRCDIR, 'contrib', *parts)


def tail(path, lines=30):
    try:
        with open(path, 'rb') as f:
            return b'\n'.join(f.read().splitlines()[-lines:]).decode('utf-8', 'replace')
    except OSError:
        return ''


class Server:
    """Base: start() runs argv, waits for ready(); stop() by PID."""
    name = 'server'
    log = None

    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None

    def argv(self):
        raise NotImplementedError

    def ready(self):
        raise NotImplementedError

    def start(self, timeout=15):
        out = open(os.path.join(self.dir, '%s.out' % self.name), 'ab')
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     env=self.env(), start_new_session=True)
        out.close()
        pgtest._live.append(self)   # stopped by pgtest even on an uncaught exception
        end = time.time() + T(timeout)
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            if self.ready():
                return self
            time.sleep(0.05)
        self.dump('%s did not start' % self.name)
        self.stop()
        raise RuntimeError('%s did not start: %s' % (self.name, ' '.join(self.argv())))

    def env(self):
        e = dict(os.environ)
        e.pop('PUSHGATE_FCGI_CONF', None)
        return e

    def dump(self, why):
        pgtest.tap.comment('---- %s' % why)
        for p in (os.path.join(self.dir, '%s.out' % self.name), self.log):
            if p and tail(p):
                pgtest.tap.comment('---- %s:\n%s' % (p, tail(p)))

    def stop(self, check=None):
        """SIGTERM (then SIGKILL) by PID, then the same to what is left of
        its process group: FastCGI programs a web server spawned."""
        if self in pgtest._live:
            pgtest._live.remove(self)
        if self.proc is None:
            return
        pgid = self.proc.pid
        stop(self.proc)
        self.proc = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        if a[0] is not None:
            self.dump('exception in the test while %s ran' % self.name)
        self.stop()
        return False


class PhpFpm(Server):
    """php-fpm -F (-R when root) on a unix socket, static pool of 4."""
    name = 'php-fpm'

    def __init__(self, workdir, children=4):
        super().__init__(workdir)
        self.sock = os.path.join(workdir, 'php-fpm.sock')
        self.log = os.path.join(workdir, 'php-fpm.log')
        self.conf = os.path.join(workdir, 'php-fpm.conf')
        with open(self.conf, 'w') as f:
            f.write('[global]\npid = %s/php-fpm.pid\nerror_log = %s\ndaemonize = no\n'
                    '[www]\nlisten = %s\nlisten.mode = 0666\npm = static\npm.max_children = %d\n'
                    'clear_env = yes\ncatch_workers_output = yes\n'
                    % (workdir, self.log, self.sock, children))
            # the workers see only this, not the environment of make check
            for k in ('PUSHGATE_DEMO_DB',):
                if os.environ.get(k):
                    f.write('env[%s] = %s\n' % (k, os.environ[k]))

    @staticmethod
    def binary():
        for b in ('php-fpm', 'php-fpm8.2', 'php-fpm8.3', 'php-fpm8.1'):
            p = shutil.which(b) or shutil.which(b, path='/usr/sbin:/usr/local/sbin')
            if p:
                return p
        return None

    def argv(self):
        a = [self.binary(), '-F', '-n', '-y', self.conf, '-d', 'display_errors=stderr']
        return a + (['-R'] if os.geteuid() == 0 else [])

    def ready(self):
        return os.path.exists(self.sock)


class Bridge(Server):
    """pushgate-fcgi with an fcgi.conf, listening on a loopback port or, with
    unix=PATH, on a unix socket."""
    name = 'pushgate-fcgi'

    def __init__(self, workdir, conf_text, args=(), port=None, unix=None):
        super().__init__(workdir)
        self.port = None if unix else (port or free_port())
        self.unix = unix
        tag = os.path.basename(unix) if unix else str(self.port)
        self.conf = os.path.join(workdir, 'fcgi-%s.conf' % tag)
        with open(self.conf, 'w') as f:
            f.write(conf_text)
        os.chmod(self.conf, 0o644)
        self.args = list(args)
        self.name = 'pushgate-fcgi-%s' % tag

    def argv(self):
        where = 'unix:' + self.unix if self.unix else '127.0.0.1:%d' % self.port
        return [prog('pushgate-fcgi'), '--config', self.conf, '--listen', where] + self.args

    def ready(self):
        if self.unix:
            return os.path.exists(self.unix)
        return wait_port(self.port, 0.05)


def web_user():
    """A user/group Apache can switch to that can read our temp dirs."""
    for u in ('www-data', 'nobody'):
        try:
            pw = pwd.getpwnam(u)
            return u, pw.pw_gid
        except KeyError:
            pass
    return 'root', 0


class Apache(Server):
    """apache2 -DFOREGROUND with a generated main config that Includes the
    contrib site config (templated)."""
    name = 'apache2'
    MODULES = ['mpm_event', 'authz_core', 'authn_core', 'authz_host', 'mime', 'dir', 'alias', 'env',
               'headers', 'proxy', 'proxy_http', 'proxy_fcgi', 'proxy_wstunnel', 'cgid', 'fcgid',
               'setenvif', 'unixd', 'log_config', 'rewrite']

    def __init__(self, workdir, site_conf, values, port=None):
        super().__init__(workdir)
        self.port = port or free_port()
        self.log = os.path.join(workdir, 'apache-error.log')
        user, gid = web_user()
        mods = '\n'.join('LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so' % (m, m)
                         for m in self.MODULES
                         if os.path.exists('/usr/lib/apache2/modules/mod_%s.so' % m))
        site = template(site_conf, os.path.join(workdir, 'site.conf'), values)
        self.conf = os.path.join(workdir, 'apache2.conf')
        with open(self.conf, 'w') as f:
            f.write('ServerRoot /etc/apache2\nServerName localhost\nPidFile %(d)s/apache.pid\n'
                    'DefaultRuntimeDir %(d)s\nMutex file:%(d)s default\n'
                    'User %(user)s\nGroup #%(gid)d\n%(mods)s\n'
                    'TypesConfig /etc/mime.types\nErrorLog %(d)s/apache-error.log\nLogLevel warn\n'
                    'LogFormat "%%h %%r %%>s" plain\nCustomLog %(d)s/apache-access.log plain\n'
                    'FcgidIPCDir %(d)s/fcgid\nFcgidProcessTableFile %(d)s/fcgid/shm\n'
                    'ScriptSock %(d)s/cgid.sock\n'
                    'Listen 127.0.0.1:%(port)d\nInclude %(site)s\n'
                    % {'d': workdir, 'user': user, 'gid': gid, 'mods': mods, 'port': self.port, 'site': site})
        os.makedirs(os.path.join(workdir, 'fcgid'), exist_ok=True)
        if user != 'root':
            for p in (workdir, os.path.join(workdir, 'fcgid')):
                os.chown(p, pwd.getpwnam(user).pw_uid, gid)

    def argv(self):
        return ['/usr/sbin/apache2', '-f', self.conf, '-DFOREGROUND']

    def env(self):
        e = super().env()
        e.update({'APACHE_RUN_DIR': self.dir, 'APACHE_LOCK_DIR': self.dir, 'APACHE_LOG_DIR': self.dir,
                  'APACHE_PID_FILE': os.path.join(self.dir, 'apache.pid')})
        return e

    def ready(self):
        return wait_port(self.port, 0.05)


class Lighttpd(Server):
    """lighttpd -D with a contrib config (templated)."""
    name = 'lighttpd'

    def __init__(self, workdir, conf, port):
        super().__init__(workdir)
        self.port = port
        self.log = os.path.join(workdir, 'lighttpd-run', 'error.log')
        self.conf = conf

    def argv(self):
        return ['/usr/sbin/lighttpd', '-D', '-f', self.conf]

    def ready(self):
        return wait_port(self.port, 0.05)


class Nginx(Server):
    name = 'nginx'

    def __init__(self, workdir, conf, port):
        super().__init__(workdir)
        self.port = port
        self.log = os.path.join(workdir, 'nginx-error.log')
        self.conf = conf

    def argv(self):
        return ['/usr/sbin/nginx', '-c', self.conf, '-p', self.dir, '-g', 'daemon off; pid %s/nginx.pid;'
                % self.dir]

    def ready(self):
        return wait_port(self.port, 0.05)
