// fake-browser.js — loads www/pushgate.js into a Node vm context whose
// window has a virtual clock and scripted WebSocket, EventSource,
// XMLHttpRequest and <script> (JSONP) fakes, so client-logic.js can drive
// every transport decision without a browser or a server.
// Invariant: nothing here does real I/O or real waiting; time moves only
// through advance(ms).
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const CLIENT = path.join(__dirname, '..', '..', 'www', 'pushgate.js');

function makeClock() {
  let now = 1e12;
  let seq = 0;
  const timers = new Map();
  function add(fn, ms, every) {
    const id = ++seq;
    timers.set(id, { fn, at: now + Math.max(0, ms || 0), every: every ? Math.max(1, ms || 0) : 0 });
    return id;
  }
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, false),
    setInterval: (fn, ms) => add(fn, ms, true),
    clearTimeout: (id) => timers.delete(id),
    clearInterval: (id) => timers.delete(id),
    pending: () => timers.size,
    // Run every timer due within ms, in time order, moving the clock.
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let next = null;
        for (const [id, t] of timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
        if (!next) break;
        const [id, t] = next;
        now = t.at;
        if (t.every) t.at += t.every; else timers.delete(id);
        t.fn();
      }
      now = end;
    },
  };
}

// options: {features: {WebSocket, EventSource, XMLHttpRequest, cors}, href}
function load(options = {}) {
  const feat = Object.assign({ WebSocket: true, EventSource: true, XMLHttpRequest: true, cors: true }, options.features || {});
  const clock = makeClock();
  const log = { ws: [], es: [], xhr: [], scripts: [] };
  const href = new URL(options.href || 'http://shop.example:8080/shop/page.html');

  class FakeWebSocket {
    constructor(url, protocol) {
      this.url = url; this.protocol = protocol; this.readyState = 0; this.sent = []; this.closedByClient = false;
      log.ws.push(this);
    }
    send(text) { if (this.readyState !== 1) throw new Error('not open'); this.sent.push(text); }
    close() { this.closedByClient = true; this.readyState = 3; }
    // server side
    open() { this.readyState = 1; this.onopen && this.onopen({}); }
    message(obj) { this.onmessage && this.onmessage({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) }); }
    serverClose(code, reason) {
      this.readyState = 3;
      this.onerror && this.onerror({});
      this.onclose && this.onclose({ code, reason: reason || '' });
    }
  }
  FakeWebSocket.OPEN = 1;

  class FakeEventSource {
    constructor(url, init) {
      this.url = url; this.init = init; this.listeners = {}; this.readyState = 0; this.closedByClient = false;
      log.es.push(this);
    }
    addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
    close() { this.closedByClient = true; this.readyState = 2; }
    // server side
    event(type, data) {
      if (type === 'pushgate.open') this.readyState = 1;
      for (const fn of this.listeners[type] || []) fn({ type, data: typeof data === 'string' ? data : JSON.stringify(data) });
    }
    error() { this.onerror && this.onerror({}); }
  }

  class FakeXHR {
    constructor() {
      this.readyState = 0; this.headers = {}; this.reqHeaders = {}; this.aborted = false;
      if (feat.cors) this.withCredentials = false;
      log.xhr.push(this);
    }
    open(method, url) { this.method = method; this.url = url; this.readyState = 1; }
    setRequestHeader(k, v) { this.reqHeaders[k] = v; }
    send(body) { this.body = body; }
    abort() { this.aborted = true; }
    getResponseHeader(k) {
      for (const key of Object.keys(this.headers)) if (key.toLowerCase() === k.toLowerCase()) return this.headers[key];
      return null;
    }
    // server side
    respond(status, body, headers) {
      this.status = status; this.responseText = typeof body === 'string' ? body : (body === undefined ? '' : JSON.stringify(body));
      this.headers = headers || {}; this.readyState = 4;
      this.onreadystatechange && this.onreadystatechange();
    }
  }

  const head = {
    children: [],
    appendChild(el) { el.parentNode = head; head.children.push(el); log.scripts.push(el); },
    removeChild(el) { el.parentNode = null; head.children = head.children.filter((c) => c !== el); },
  };
  const document = {
    createElement: (tag) => ({ tag, src: '', parentNode: null }),
    getElementsByTagName: (tag) => (tag === 'head' ? [head] : []),
    documentElement: head,
  };

  const win = {
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout,
    setInterval: clock.setInterval, clearInterval: clock.clearInterval,
    location: { protocol: href.protocol, host: href.host, pathname: href.pathname, href: href.href },
    document, JSON, Uint8Array, console,
  };
  if (feat.WebSocket) win.WebSocket = FakeWebSocket;
  if (feat.EventSource) win.EventSource = FakeEventSource;
  if (feat.XMLHttpRequest) win.XMLHttpRequest = FakeXHR;
  win.window = win;
  const ctx = vm.createContext(win);
  // Date follows the virtual clock; Math.random is fixed so backoff is exact.
  vm.runInContext(`(function (now) {
      var RealDate = Date;
      Date = function () { return new RealDate(now()); };
      Math.random = function () { return 0.5; };
    })`, ctx)(clock.now);
  vm.runInContext(fs.readFileSync(CLIENT, 'utf8'), ctx, { filename: CLIENT });
  // A JSONP answer: run the callback named in the script's URL.
  function jsonpAnswer(script, payload) {
    const name = new URL(script.src, href).searchParams.get('callback');
    win[name](payload);
  }
  function jsonpError(script) { script.onerror && script.onerror({}); }
  return { win, clock, log, jsonpAnswer, jsonpError, PushgateSubscriber: win.PushgateSubscriber, PushgatePublisher: win.PushgatePublisher };
}

// Record every event of a subscriber in order.
function record(sub) {
  const ev = { messages: [], transports: [], connects: 0, disconnects: [], errors: [], gaps: [], deleted: [], connecting: [] };
  sub.on('message', (data, meta) => ev.messages.push({ data, id: meta.id, channel: meta.channel, event: meta.event, transport: meta.transport }));
  sub.on('transport', (name) => ev.transports.push(name));
  sub.on('connect', () => ev.connects++);
  sub.on('connecting', (name) => ev.connecting.push(name));
  sub.on('disconnect', (info) => ev.disconnects.push(info));
  sub.on('error', (err) => ev.errors.push(err));
  sub.on('gap', (g) => ev.gaps.push(g));
  sub.on('deleted', (c) => ev.deleted.push(c));
  return ev;
}

function query(url) {
  return Object.fromEntries(new URL(url, 'http://x/').searchParams);
}

module.exports = { load, record, query };
