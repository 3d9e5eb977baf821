// harness.js — what the Chromium tests of tests/browser share: finding
// playwright-core (NODE_PATH) and Debian's Chromium, starting pushgated on
// free loopback ports and stopping it by PID, publishing, and opening the
// test page. Not a test itself (browser.am lists it in EXTRA_DIST).
//
// Environment: PG_BUILDDIR, PG_SRCDIR (make check sets them; defaults: this
// tree), NODE_PATH (default $PG_BUILDDIR/node_modules-root/node_modules, as
// filled by npm-setup.sh), PG_SKIP_BROWSER=1 skips, CI=true turns a missing
// Chromium or playwright-core into a failure instead of a skip,
// PG_CHROMIUM overrides /usr/bin/chromium.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const http = require('http');
const { spawn } = require('child_process');
const tap = require('./tap');

const SRCDIR = process.env.PG_SRCDIR || path.resolve(__dirname, '..', '..');
const BUILDDIR = process.env.PG_BUILDDIR || SRCDIR;
const OUTDIR = path.join(BUILDDIR, 'tests', 'browser-output');
const CHROMIUM = process.env.PG_CHROMIUM || '/usr/bin/chromium';
const DAEMON = path.join(BUILDDIR, 'pushgated');
const CI = process.env.CI === 'true' || process.env.CI === '1';

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Daemons still running when this process ends are killed by PID, so an
// interrupted test leaves none behind.
const running = new Set();
process.on('exit', () => {
  for (const pid of running) { try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ } }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(1));

// playwright-core from NODE_PATH (or the default install dir), or skip/fail.
function requirePlaywright() {
  if (process.env.PG_SKIP_BROWSER === '1') tap.skipAll('PG_SKIP_BROWSER=1');
  const dirs = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  dirs.push(path.join(BUILDDIR, 'node_modules-root', 'node_modules'));
  let pw = null;
  try {
    pw = require(require.resolve('playwright-core', { paths: dirs }));
  } catch (e) {
    missing(`playwright-core not found in ${dirs.join(', ')} (run tests/browser/npm-setup.sh)`);
  }
  if (!fs.existsSync(CHROMIUM)) missing(`${CHROMIUM} not found (apt-get install -y chromium)`);
  if (!fs.existsSync(DAEMON)) tap.bail(`${DAEMON} not built`);
  fs.mkdirSync(OUTDIR, { recursive: true });
  return pw;
}

function missing(why) {
  if (CI) tap.bail(`${why}; CI=true makes this a failure`);
  tap.skipAll(why);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// Start pushgated; ports may be given (restart on the same ones).
// Returns {proc, pid, port, pubPort, base, pubBase, log, stop(signal)}.
async function startDaemon(name, ports = {}, extraArgs = []) {
  const port = ports.port || await freePort();
  const pubPort = ports.pubPort || await freePort();
  const log = path.join(OUTDIR, `${name}-pushgated.log`);
  const args = [`--listen=127.0.0.1:${port}`, `--publish-listen=127.0.0.1:${pubPort}`,
    `--www-root=${path.join(SRCDIR, 'www')}`, '--demo', `--log-file=${log}`, '--log-level=debug',
    ...extraArgs];
  const proc = spawn(DAEMON, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  running.add(proc.pid);
  proc.on('exit', (code, sig) => { exited = { code, sig }; running.delete(proc.pid); });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) throw new Error(`pushgated exited at start (${JSON.stringify(exited)}): ${stderr}\n${tail(log)}`);
    if (await canConnect(port) && await canConnect(pubPort)) break;
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`pushgated did not listen on ${port}/${pubPort}: ${stderr}`); }
    await sleep(50);
  }
  const d = {
    proc, pid: proc.pid, port, pubPort, log,
    base: `http://127.0.0.1:${port}`, pubBase: `http://127.0.0.1:${pubPort}`,
    // Stop by PID: the signal, then SIGKILL after 5 s.
    async stop(signal = 'SIGTERM') {
      if (exited) return exited;
      const done = new Promise((r) => proc.once('exit', (code, sig) => r({ code, sig })));
      process.kill(proc.pid, signal);
      const t = setTimeout(() => { if (!exited) process.kill(proc.pid, 'SIGKILL'); }, 5000);
      const res = await done;
      clearTimeout(t);
      return res;
    },
  };
  return d;
}

function tail(file, n = 20) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch (e) { return ''; }
}

function request(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// POST /pub/<channel> on the publish listener; throws unless 2xx.
async function publish(d, channel, body, event) {
  const headers = {};
  if (event) headers['X-Event'] = event;
  const res = await request(`${d.pubBase}/pub/${channel}`, { method: 'POST', body, headers });
  if (res.status < 200 || res.status > 299) throw new Error(`publish to ${channel}: HTTP ${res.status} ${res.body}`);
  return res;
}

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

// A fresh persistent context in a fresh profile dir; close() removes the dir.
async function launch(pw) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-chromium-'));
  const context = await pw.chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, viewport: { width: 1000, height: 760 },
  });
  return {
    context,
    async close() {
      try { await context.close(); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    },
  };
}

// Init scripts that make Chromium look like an older browser.
const INIT = {
  noWebSocket: 'delete window.WebSocket; window.WebSocket = undefined;',
  noEventSource: 'delete window.EventSource; window.EventSource = undefined;',
  noCors: 'delete XMLHttpRequest.prototype.withCredentials;',
};

// www/diagnose.html records what the client reports in window.__pg.
const TEST_PAGE = '/diagnose.html';

// Open the check page of origin with these query settings (see diagnose.html).
async function openFixture(context, origin, params, initScripts = []) {
  const page = await context.newPage();
  for (const s of initScripts) await page.addInitScript(s);
  page.on('pageerror', (e) => tap.diag(`page error: ${e.message}`));
  const qs = new URLSearchParams(params).toString();
  await page.goto(`${origin}${TEST_PAGE}?${qs}`);
  await page.waitForFunction(() => window.__pg && window.__pg.started, null, { timeout: 10000 });
  return page;
}

// State recorded by the check page.
function pageState(page) { return page.evaluate(() => JSON.parse(JSON.stringify(window.__pg))); }

async function waitState(page, predicateSource, timeout = 15000) {
  try {
    await page.waitForFunction(`(function (s) { return ${predicateSource}; })(window.__pg)`, null, { timeout, polling: 50 });
    return true;
  } catch (e) {
    return false;
  }
}

async function screenshot(page, name) {
  const file = path.join(OUTDIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Check received messages against what was published, in order and once each.
function checkSequence(got, want, label) {
  const ids = got.map((m) => m.id);
  const dupIds = ids.filter((id, i) => ids.indexOf(id) !== i);
  tap.is(dupIds, [], `${label}: no duplicate id`);
  const data = got.map((m) => m.data);
  const same = data.length === want.length && data.every((d, i) => d === want[i]);
  const missing = want.filter((w) => !data.includes(w));
  const extra = data.filter((d) => !want.includes(d));
  tap.ok(same, `${label}: all ${want.length} messages, in publish order`,
    `got ${data.length}; missing: ${JSON.stringify(missing.slice(0, 10))}${missing.length > 10 ? '...' : ''}; ` +
    `unexpected: ${JSON.stringify(extra.slice(0, 10))}; first got: ${JSON.stringify(data.slice(0, 5))}`);
}

module.exports = {
  SRCDIR, BUILDDIR, OUTDIR, CI, INIT, TEST_PAGE,
  sleep, requirePlaywright, freePort, startDaemon, request, publish, launch,
  openFixture, pageState, waitState, screenshot, checkSequence, tail,
};
