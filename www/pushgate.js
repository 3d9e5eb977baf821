/*
 * pushgate.js — the browser client of pushgated: one live subscription to one
 * or more channels over WebSocket, Server-Sent Events or long-poll (XHR, or
 * JSONP across origins without CORS), plus a small publisher for chat.
 *
 *   var sub = new PushgateSubscriber("/sub/order-42,user-7");
 *   sub.on("message", function (data, meta) { ... meta.id, meta.channel ... });
 *   sub.start();
 *
 * Invariants:
 * - The page sees every message once, in id order: the client resumes from
 *   the last id it delivered (also across a transport switch and a probe),
 *   and drops any id it has seen or any id of the current epoch whose seq is
 *   not above the cursor (ids are "<epoch>-<seq>", one seq for the store).
 * - At most one connection delivers to the page at a time, apart from a probe
 *   of a better transport, whose deliveries go through the same de-duplication
 *   and which replaces the current connection as soon as it proves itself.
 * - A callback of a closed connection never reaches the page (conn.dead).
 * - A 1000 close (channel deleted) or the last channel deleted ends the
 *   subscription: no reconnect.
 *
 * Deliberate departures:
 * - EventSource's own reconnects are not used: on any error the client closes
 *   it and reconnects itself, so backoff, fallback and the resume cursor are
 *   the same for every transport.
 * - WebSocket and EventSource cannot see an HTTP 401/403; after an early
 *   failure with a tokenProvider the client fetches a fresh token once and
 *   retries the same transport before it falls back.
 * - Plain ES5 without dependencies or a build step; old browsers (no
 *   WebSocket, no EventSource, no CORS) are served by the later transports.
 * - One file past the usual ~600 lines, so that a shop adds one script tag;
 *   it reads in layers: helpers, events, the subscriber's state machine,
 *   the four transports (each opens a connection and returns its close
 *   function), then the publisher.
 */
(function (root) {
  "use strict";

  var WS_PROTOCOL = "pushgate.v1+json";
  var ORDER = ["websocket", "eventsource", "longpoll"];
  var DEFAULTS = {
    transports: ORDER,
    token: null,            /* sent as ?token= */
    tokenProvider: null,    /* function (cb) { cb(err, token); } */
    lastEventId: null,      /* resume from this id on the first connect */
    withCredentials: false, /* cookies on cross-origin EventSource/XHR */
    minDelay: 1000,         /* reconnect backoff, ms (jittered) */
    maxDelay: 30000,
    maxRetries: 4,          /* failures of a transport that has worked before it is left */
    openTimeout: 5000,      /* WebSocket open / pushgate.open must come within */
    proveTime: 3000,        /* a connection up this long has "worked" */
    heartbeat: 15000,       /* the server's sse_heartbeat; dead after two missed */
    pingInterval: 25000,    /* WebSocket: ping when quiet this long */
    pollTimeout: 40000,     /* long-poll request limit (hold is 25 s) */
    pollSettle: 1000,       /* a first poll held this long counts as connected */
    probeInterval: 180000   /* on a fallback, try the better transport again */
  };

  /* ---- small helpers ---------------------------------------------------- */

  function now() { return new Date().getTime(); }
  function isArray(v) { return Object.prototype.toString.call(v) === "[object Array]"; }
  function indexOf(list, v) {
    for (var i = 0; i < list.length; i++) { if (list[i] === v) { return i; } }
    return -1;
  }
  function extend(to, from) {
    for (var k in from) { if (Object.prototype.hasOwnProperty.call(from, k)) { to[k] = from[k]; } }
    return to;
  }
  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return undefined; }
  }
  function later(fn, ms) { return root.setTimeout(fn, ms); }
  function cancel(t) { if (t) { root.clearTimeout(t); } return null; }

  /* "<epoch>-<seq>" -> {epoch, seq}; null for an id of another shape. */
  function parseId(id) {
    if (typeof id !== "string") { return null; }
    var dash = id.lastIndexOf("-");
    if (dash < 0 || !/^[0-9]+$/.test(id.slice(dash + 1))) { return null; }
    return { epoch: id.slice(0, dash), seq: parseInt(id.slice(dash + 1), 10) };
  }

  /* Backoff: full step doubles from min to max; half of it is random. */
  function backoff(attempt, min, max) {
    var d = Math.min(max, min * Math.pow(2, Math.max(0, attempt - 1)));
    return Math.round(d / 2 + Math.random() * d / 2);
  }

  function absoluteUrl(url) {
    if (/^[a-z][a-z0-9+.\-]*:/i.test(url)) { return url; }
    var loc = root.location;
    if (url.slice(0, 2) === "//") { return loc.protocol + url; }
    if (url.charAt(0) === "/") { return loc.protocol + "//" + loc.host + url; }
    return loc.protocol + "//" + loc.host + loc.pathname.replace(/[^\/]*$/, "") + url;
  }
  function originOf(abs) {
    var m = /^([a-z][a-z0-9+.\-]*:\/\/[^\/?#]+)/i.exec(abs);
    return m ? m[1].toLowerCase() : "";
  }
  function isCrossOrigin(url) {
    var loc = root.location;
    if (!loc || !loc.host) { return false; }
    return originOf(absoluteUrl(url)) !== (loc.protocol + "//" + loc.host).toLowerCase();
  }
  function addParams(url, params) {
    var hash = "", h = url.indexOf("#");
    if (h >= 0) { hash = url.slice(h); url = url.slice(0, h); }
    for (var i = 0; i < params.length; i++) {
      if (params[i][1] === null || params[i][1] === undefined) { continue; }
      url += (url.indexOf("?") < 0 ? "?" : "&") + params[i][0] + "=" +
        encodeURIComponent(String(params[i][1]));
    }
    return url + hash;
  }

  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  /* base64 -> Uint8Array (or an array of numbers where typed arrays are missing). */
  function decodeBase64(s) {
    var out = [], bits = 0, n = 0;
    s = String(s).replace(/[^A-Za-z0-9+\/]/g, "");
    for (var i = 0; i < s.length; i++) {
      bits = (bits << 6) | B64.indexOf(s.charAt(i));
      n += 6;
      if (n >= 8) { n -= 8; out.push((bits >> n) & 255); }
    }
    return typeof root.Uint8Array !== "undefined" ? new root.Uint8Array(out) : out;
  }

  function supported(name, crossOrigin) {
    switch (name) {
    case "websocket": return typeof root.WebSocket !== "undefined";
    case "eventsource": return typeof root.EventSource !== "undefined";
    case "longpoll":
      if (typeof root.XMLHttpRequest === "undefined") { return false; }
      return !crossOrigin || "withCredentials" in new root.XMLHttpRequest();
    case "jsonp": return !!(root.document && root.document.createElement);
    }
    return false;
  }

  /* The user's list -> the transports this browser can use, best first.
   * Across origins "longpoll" is followed by "jsonp" for servers without CORS. */
  function transportOrder(list, crossOrigin) {
    var out = [], names = [];
    for (var i = 0; i < list.length; i++) {
      var n = list[i] === "sse" ? "eventsource" : list[i];
      names.push(n);
      if (n === "longpoll" && crossOrigin) { names.push("jsonp"); }
    }
    for (i = 0; i < names.length; i++) {
      if (indexOf(out, names[i]) < 0 && supported(names[i], crossOrigin)) { out.push(names[i]); }
    }
    return out;
  }

  /* ---- events ------------------------------------------------------------ */

  function Emitter() { this._handlers = {}; }
  Emitter.prototype.on = function (name, fn) {
    (this._handlers[name] = this._handlers[name] || []).push(fn);
    return this;
  };
  Emitter.prototype.off = function (name, fn) {
    var list = this._handlers[name] || [], i = indexOf(list, fn);
    if (i >= 0) { list.splice(i, 1); }
    return this;
  };
  /* A throwing handler must not break the client: rethrow it later. */
  Emitter.prototype.emit = function (name) {
    var list = (this._handlers[name] || []).slice(), args = Array.prototype.slice.call(arguments, 1);
    for (var i = 0; i < list.length; i++) {
      try { list[i].apply(this, args); } catch (e) { later(function () { throw e; }, 0); }
    }
  };

  /* ---- the subscriber ---------------------------------------------------- */

  function PushgateSubscriber(url, options) {
    Emitter.call(this);
    this.options = extend(extend({}, DEFAULTS), options || {});
    var q = url.indexOf("?"), base = q < 0 ? url : url.slice(0, q);
    var slash = base.lastIndexOf("/");
    this._prefix = base.slice(0, slash + 1);
    this._query = q < 0 ? "" : url.slice(q);
    this._segments = base.slice(slash + 1).split(",");
    this.channels = [];
    for (var i = 0; i < this._segments.length; i++) {
      this.channels.push(decodeURIComponent(this._segments[i]));
    }
    this.url = url;
    this.crossOrigin = isCrossOrigin(url);
    this.transports = transportOrder(this.options.transports, this.crossOrigin);
    this.transport = null;      /* name of the live transport, or null */
    this._lastTransport = null; /* the last one reported by "transport" */
    this.state = "idle";        /* idle | connecting | open | closed */
    this.lastEventId = this.options.lastEventId || null;
    this._token = this.options.token;
    this._seen = {};
    this._seenList = [];
    this._worked = {};          /* transport name -> it has proven itself */
    this._failures = {};        /* transport name -> consecutive failures */
    this._attempt = 0;          /* backoff step, 0 after a connection proved */
    this._index = 0;            /* transports[_index] is the one in use */
    this._conn = null;
    this._probe = null;
    this._timer = null;
    this._probeTimer = null;
    this._serial = 0;
  }
  PushgateSubscriber.prototype = new Emitter();
  PushgateSubscriber.prototype.constructor = PushgateSubscriber;

  PushgateSubscriber.prototype.start = function () {
    if (this.state === "connecting" || this.state === "open") { return this; }
    if (!this.transports.length || !this.channels.length) {
      this.state = "closed";
      this.emit("error", this.channels.length ?
        { code: "no_transport", message: "no usable transport in this browser" } :
        { code: "no_channel", message: "no channel left to subscribe to" });
      return this;
    }
    this.state = "connecting";
    this._index = 0;
    if (!this._token && this.options.tokenProvider) {
      this._refreshToken(this._connectNow);
    } else {
      this._connectNow();
    }
    return this;
  };

  PushgateSubscriber.prototype.stop = function () {
    this._finish({ code: 0, reason: "stopped" }, "idle");
    return this;
  };

  /* End the subscription: close everything, tell the page once. */
  PushgateSubscriber.prototype._finish = function (info, state) {
    var wasOpen = this.state === "open", name = this.transport;
    this._timer = cancel(this._timer);
    this._probeTimer = cancel(this._probeTimer);
    this._kill(this._probe);
    this._kill(this._conn);
    this._probe = this._conn = null;
    this.state = state;
    this.transport = null;
    if (wasOpen) {
      this.emit("disconnect", extend({ transport: name, reconnect: false }, info));
    }
  };

  PushgateSubscriber.prototype._refreshToken = function (then) {
    var self = this, called = false;
    try {
      this.options.tokenProvider(function (err, token) {
        if (called || self.state === "idle" || self.state === "closed") { return; }
        called = true;
        if (err) {
          self.emit("error", { code: "token", message: String(err) });
        } else {
          self._token = token;
        }
        then.call(self);
      });
    } catch (e) {
      this.emit("error", { code: "token", message: String(e) });
      then.call(this);
    }
  };

  PushgateSubscriber.prototype._connectNow = function () {
    this._timer = cancel(this._timer);
    if (this.state !== "connecting") { return; }
    this._conn = this._open(this._index, false);
  };

  /* Open transports[index]; a probe runs beside the live connection. */
  PushgateSubscriber.prototype._open = function (index, probe) {
    var name = this.transports[index];
    var conn = { name: name, index: index, probe: probe, serial: ++this._serial,
                 up: false, proven: false, dead: false, timers: [], close: null,
                 authRetry: false };
    if (!probe) { this.emit("connecting", name); }
    try {
      conn.close = TRANSPORTS[name](this, conn);
    } catch (e) {
      var self = this;
      conn.close = function () {};
      later(function () { self._closed(conn, { code: 0, reason: String(e.message || e) }); }, 0);
    }
    return conn;
  };

  PushgateSubscriber.prototype._kill = function (conn) {
    if (!conn || conn.dead) { return; }
    conn.dead = true;
    for (var i = 0; i < conn.timers.length; i++) { cancel(conn.timers[i]); }
    try { conn.close(); } catch (e) { /* closing is best effort */ }
  };

  /* The URL a transport connects to, with the current channels and cursor. */
  PushgateSubscriber.prototype.urlFor = function (name, extra) {
    var segs = [];
    for (var i = 0; i < this._segments.length; i++) {
      if (indexOf(this.channels, decodeURIComponent(this._segments[i])) >= 0) { segs.push(this._segments[i]); }
    }
    var url = this._prefix + segs.join(",") + this._query, p = [];
    if (name === "eventsource") {
      p = [["transport", "sse"], ["format", "json"], ["last_event_id", this.lastEventId]];
    } else if (name === "longpoll" || name === "jsonp") {
      p = [["transport", "longpoll"], ["last_id", this.lastEventId]];
    } else {
      p = [["last_event_id", this.lastEventId]];
    }
    p.push(["token", this._token]);
    url = addParams(url, p.concat(extra || []));
    return name === "websocket" ? absoluteUrl(url).replace(/^http/i, "ws") : url;
  };

  /* ---- what transports call --------------------------------------------- */

  /* The connection is usable (WebSocket open, pushgate.open, first poll). */
  PushgateSubscriber.prototype._up = function (conn) {
    if (conn.dead || conn.up) { return; }
    conn.up = true;
    var self = this;
    conn.timers.push(later(function () { self._proven(conn); }, this.options.proveTime));
    if (conn.probe) { return; }
    this.state = "open";
    this.emit("connect", { transport: conn.name });
    this._setTransport(conn.name);
  };

  /* "transport" fires when the live transport differs from the last one,
   * not on every reconnect of the same one. */
  PushgateSubscriber.prototype._setTransport = function (name) {
    this.transport = name;
    if (this._lastTransport !== name) {
      this._lastTransport = name;
      this.emit("transport", name);
    }
  };

  /* The connection has delivered something or lived proveTime: it works. */
  PushgateSubscriber.prototype._proven = function (conn) {
    if (conn.dead || conn.proven) { return; }
    if (!conn.up) { this._up(conn); }
    conn.proven = true;
    this._worked[conn.name] = true;
    this._failures[conn.name] = 0;
    this._attempt = 0;
    if (conn.probe) {
      this._promote(conn);
    } else if (conn.index > 0) {
      this._scheduleProbe(0);
    }
  };

  /* A probe of a better transport works: it becomes the live connection. */
  PushgateSubscriber.prototype._promote = function (probe) {
    var old = this._conn;
    this._probe = null;
    this._probeTimer = cancel(this._probeTimer);
    probe.probe = false;
    this._conn = probe;
    this._index = probe.index;
    this._kill(old);
    this.state = "open";
    this._setTransport(probe.name);
    if (probe.index > 0) { this._scheduleProbe(0); }
  };

  PushgateSubscriber.prototype._scheduleProbe = function (index) {
    var self = this, ms = this.options.probeInterval;
    this._probeTimer = cancel(this._probeTimer);
    this._probeTimer = later(function () {
      self._probeTimer = null;
      if (self.state === "open" && !self._probe && index < self._index) {
        self._probe = self._open(index, true);
      }
    }, Math.round(ms * (0.8 + Math.random() * 0.4)));
  };

  /* One decoded item: a message envelope or a control object. */
  PushgateSubscriber.prototype._item = function (conn, obj) {
    if (conn.dead || !obj || typeof obj !== "object") { return; }
    switch (obj.type) {
    case undefined:
    case null:
      if (!conn.proven) { this._proven(conn); }
      if (!conn.dead) { this._deliver(obj, conn.name); }
      return;
    case "gap":
      this.emit("gap", { channels: obj.channels || [], id: obj.id, transport: conn.name });
      return;
    case "deleted":
      this._deleted(obj.channel, conn);
      return;
    case "error":
      this.emit("error", { code: obj.code, message: obj.reason, transport: conn.name });
      return;
    }
  };

  PushgateSubscriber.prototype._deleted = function (channel, conn) {
    var i = indexOf(this.channels, channel);
    if (i < 0) { return; }
    this.channels.splice(i, 1);
    this.emit("deleted", channel);
    if (!this.channels.length) {
      this._finish({ code: 1000, reason: "channel deleted" }, "closed");
    }
  };

  PushgateSubscriber.prototype._deliver = function (env, transport) {
    var id = env.id === undefined || env.id === null ? null : String(env.id);
    if (id !== null) {
      if (this._seen[id]) { return; }
      var cur = parseId(this.lastEventId), got = parseId(id);
      if (cur && got && cur.epoch === got.epoch && got.seq <= cur.seq) { return; }
      this._remember(id);
      this.lastEventId = id;
    }
    var data = env.data;
    if (env.encoding === "base64") { data = decodeBase64(data); }
    this.emit("message", data, { id: id, channel: env.channel, event: env.event || "message",
                                 transport: transport, encoding: env.encoding || null });
  };

  PushgateSubscriber.prototype._remember = function (id) {
    this._seen[id] = true;
    this._seenList.push(id);
    if (this._seenList.length > 1024) { delete this._seen[this._seenList.shift()]; }
  };

  /* A cursor the server hands out (X-Last-Id, last_id, pushgate.open). */
  PushgateSubscriber.prototype._cursor = function (conn, id, onlyIfNone) {
    if (conn.dead || !id || (onlyIfNone && this.lastEventId)) { return; }
    var cur = parseId(this.lastEventId), got = parseId(id);
    if (cur && got && cur.epoch === got.epoch && got.seq < cur.seq) { return; }
    this.lastEventId = String(id);
  };

  /* The connection ended. info: {code, reason, status, auth, maybeAuth, deleted}. */
  PushgateSubscriber.prototype._closed = function (conn, info) {
    if (conn.dead) { return; }
    this._kill(conn);
    if (conn.probe) { return this._probeFailed(conn); }
    if (conn !== this._conn || this.state === "idle" || this.state === "closed") { return; }
    if (info.deleted) {
      /* pushgated closes with 1000 instead of a last "deleted" frame. */
      var left = this.channels;
      this.channels = [];
      for (var i = 0; i < left.length; i++) { this.emit("deleted", left[i]); }
      return this._finish(info, "closed");
    }
    var wasOpen = this.state === "open";
    this._kill(this._probe);
    this._probe = this._conn = null;
    this._probeTimer = cancel(this._probeTimer);
    this.state = "connecting";
    this.transport = null;
    if (wasOpen) {
      this.emit("disconnect", extend({ transport: conn.name, reconnect: true }, info));
    }
    if (info.auth) {
      this.emit("error", { code: "auth", message: info.reason || "not authorised",
                           status: info.status, transport: conn.name });
    }
    this._retry(conn, info);
  };

  /* Choose what to open next after conn failed or ended. */
  PushgateSubscriber.prototype._retry = function (conn, info) {
    var opt = this.options, name = conn.name;
    var authish = info.auth || (info.maybeAuth && !conn.proven);
    if (authish && opt.tokenProvider && !conn.authRetry) {
      this._refreshToken(function () { this._reopenSame(true); });
      return;
    }
    if (conn.proven) {
      /* It worked: come back soon, a little later when told we were slow. */
      this._attempt = info.slow ? 3 : 1;
      return this._wait(backoff(this._attempt, opt.minDelay, opt.maxDelay));
    }
    this._failures[name] = (this._failures[name] || 0) + 1;
    this._attempt++;
    if (this._worked[name] && this._failures[name] < opt.maxRetries) {
      return this._wait(backoff(this._attempt, opt.minDelay, opt.maxDelay));
    }
    this._failures[name] = 0;
    this._index = (conn.index + 1) % this.transports.length;
    /* Next transport at once; once all have failed, back off. */
    this._wait(this._index === 0 ? backoff(this._attempt, opt.minDelay, opt.maxDelay) : 0);
  };

  PushgateSubscriber.prototype._reopenSame = function (authRetry) {
    if (this.state !== "connecting") { return; }
    this._conn = this._open(this._index, false);
    this._conn.authRetry = authRetry;
  };

  PushgateSubscriber.prototype._wait = function (ms) {
    var self = this;
    this._timer = cancel(this._timer);
    this._timer = later(function () { self._connectNow(); }, ms);
  };

  PushgateSubscriber.prototype._probeFailed = function (probe) {
    this._probe = null;
    if (this.state !== "open") { return; }
    var next = probe.index + 1;
    if (next < this._index) {
      this._probe = this._open(next, true);
    } else {
      this._scheduleProbe(0);
    }
  };

  /* ---- transports: each opens conn and returns its close function --------- */

  var TRANSPORTS = {};

  TRANSPORTS.websocket = function (sub, conn) {
    var opt = sub.options, ws = new root.WebSocket(sub.urlFor("websocket"), WS_PROTOCOL);
    var lastFrame = now(), pinged = false, ticker = null;
    var openTimer = later(function () { fail({ code: 0, reason: "WebSocket did not open" }); }, opt.openTimeout);
    conn.timers.push(openTimer);

    function fail(info) { sub._closed(conn, info); }
    function tick() {
      if (now() - lastFrame < opt.pingInterval) { pinged = false; return; }
      if (pinged) { return fail({ code: 0, reason: "no answer to ping" }); }
      pinged = true;
      try { ws.send('{"type":"ping"}'); } catch (e) { /* close follows */ }
    }
    ws.onopen = function () {
      cancel(openTimer);
      lastFrame = now();
      ticker = root.setInterval(tick, Math.max(1000, Math.round(opt.pingInterval / 2)));
      sub._up(conn);
    };
    ws.onmessage = function (ev) {
      lastFrame = now();
      pinged = false;
      var obj = typeof ev.data === "string" ? parseJson(ev.data) : undefined;
      if (obj === undefined) {
        return sub.emit("error", { code: "bad_frame", message: "not a pushgate.v1+json frame", transport: "websocket" });
      }
      if (!conn.proven) { sub._proven(conn); }
      sub._item(conn, obj);
    };
    ws.onerror = function () { /* onclose follows with the code */ };
    ws.onclose = function (ev) {
      var code = ev.code;
      fail({ code: code, reason: ev.reason || "", deleted: code === 1000,
             auth: code === 1008, shutdown: code === 1001, slow: code === 1013 });
    };
    return function () {
      if (ticker) { root.clearInterval(ticker); }
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    };
  };

  function parseControl(data, field) {
    var obj = parseJson(data);
    if (obj && typeof obj === "object") { return obj; }
    var o = {};
    o[field] = field === "channels" ? String(data || "").split(",") : data;
    return o;
  }

  TRANSPORTS.eventsource = function (sub, conn) {
    var opt = sub.options;
    var es = new root.EventSource(sub.urlFor("eventsource"),
                                  opt.withCredentials ? { withCredentials: true } : undefined);
    var beat = null;
    var openTimer = later(function () { fail({ code: 0, reason: "no pushgate.open (buffering proxy?)" }); },
                          opt.openTimeout);
    conn.timers.push(openTimer);

    function fail(info) { sub._closed(conn, info); }
    function alive() {
      cancel(beat);
      beat = later(function () { fail({ code: 0, reason: "heartbeat missed" }); }, 2 * opt.heartbeat + 2000);
    }
    function opened() {
      if (conn.up) { return; }
      cancel(openTimer);
      sub._proven(conn);
    }
    function on(name, fn) { es.addEventListener(name, function (ev) { if (!conn.dead) { alive(); fn(ev); } }, false); }

    on("pushgate.open", function (ev) { sub._cursor(conn, ev.data, true); opened(); });
    on("pushgate.ping", function () {});
    on("message", function (ev) {
      var obj = parseJson(ev.data);
      if (!obj || typeof obj !== "object") {
        return sub.emit("error", { code: "bad_event", message: "SSE data is not a JSON envelope", transport: "eventsource" });
      }
      opened();
      sub._item(conn, obj);
    });
    on("pushgate.gap", function (ev) { sub._item(conn, extend(parseControl(ev.data, "channels"), { type: "gap" })); });
    on("pushgate.deleted", function (ev) { sub._item(conn, { type: "deleted", channel: ev.data }); });
    on("pushgate.error", function (ev) { sub._item(conn, extend(parseControl(ev.data, "reason"), { type: "error" })); });
    es.onerror = function () {
      if (!conn.dead) { fail({ code: 0, reason: "event stream ended", maybeAuth: !conn.up }); }
    };
    return function () { cancel(beat); es.onerror = null; es.close(); };
  };

  /* X-Gap header or JSONP "gap": absent, false, "0" or "false" mean none. */
  function isGap(v) {
    return !(v === null || v === undefined || v === false || v === "" || v === "0" || v === "false");
  }

  /* Long-poll (XHR) and JSONP share the loop: ask, deliver, ask again. */
  function pollLoop(sub, conn, request) {
    var first = true;
    function ask() {
      if (conn.dead) { return; }
      if (first) {
        conn.timers.push(later(function () { sub._up(conn); }, sub.options.pollSettle));
      }
      request(answer);
    }
    /* answer(err, items, cursor, gap) with err = {status, reason, auth, cors}. */
    function answer(err, items, cursor, gap) {
      if (conn.dead) { return; }
      if (err) { return sub._closed(conn, err); }
      first = false;
      sub._proven(conn);
      var sawGap = false;
      for (var i = 0; i < items.length && !conn.dead; i++) {
        if (items[i] && items[i].type === "gap") { sawGap = true; }
        sub._item(conn, items[i]);
      }
      if (isGap(gap) && !sawGap && !conn.dead) {
        sub._item(conn, { type: "gap", channels: typeof gap === "string" && gap !== "1" && gap !== "true" ? gap.split(",") : [] });
      }
      sub._cursor(conn, cursor, false);
      ask();
    }
    return ask;
  }

  TRANSPORTS.longpoll = function (sub, conn) {
    var opt = sub.options, xhr = null, timer = null;
    function request(answer) {
      xhr = new root.XMLHttpRequest();
      xhr.open("GET", sub.urlFor("longpoll"), true);
      if (opt.withCredentials) { xhr.withCredentials = true; }
      timer = later(function () {
        xhr.onreadystatechange = null;
        xhr.abort();
        answer({ code: 0, reason: "long-poll timed out" });
      }, opt.pollTimeout);
      xhr.onreadystatechange = function () {
        if (xhr.readyState !== 4 || conn.dead) { return; }
        cancel(timer);
        var st = xhr.status;
        if (st === 200 || st === 204) {
          var items = st === 200 && xhr.responseText ? parseJson(xhr.responseText) : [];
          if (!isArray(items)) { return answer({ code: 0, status: st, reason: "long-poll answer is not a JSON array" }); }
          return answer(null, items, xhr.getResponseHeader("X-Last-Id"), xhr.getResponseHeader("X-Gap"));
        }
        answer({ code: 0, status: st, reason: st ? "HTTP " + st : "network error",
                 auth: st === 401 || st === 403 });
      };
      xhr.send(null);
    }
    pollLoop(sub, conn, request)();
    return function () {
      cancel(timer);
      if (xhr) { xhr.onreadystatechange = null; try { xhr.abort(); } catch (e) { /* done */ } }
    };
  };

  var jsonpSerial = 0;
  TRANSPORTS.jsonp = function (sub, conn) {
    var doc = root.document, script = null, name = null, timer = null;
    /* answered: the script ran, its global can go; else a late answer must
     * still find a function. */
    function cleanup(answered) {
      cancel(timer);
      if (script && script.parentNode) { script.parentNode.removeChild(script); }
      if (name) {
        root[name] = answered ? undefined : function () {};
        if (answered) { try { delete root[name]; } catch (e) { /* old IE */ } }
      }
      script = name = null;
    }
    function request(answer) {
      var done = false;
      function finish(err, res) {
        if (done) { return; }
        done = true;
        cleanup(!err);
        if (err) { return answer(err); }
        if (!res || !isArray(res.messages)) { return answer({ code: 0, reason: "bad JSONP answer" }); }
        answer(null, res.messages, res.last_id, res.gap);
      }
      name = "__pushgate_jsonp_" + (++jsonpSerial);
      root[name] = function (res) { finish(null, res); };
      script = doc.createElement("script");
      script.async = true;
      script.onerror = function () { finish({ code: 0, reason: "JSONP request failed", maybeAuth: !conn.proven }); };
      script.src = sub.urlFor("jsonp", [["callback", name]]);
      timer = later(function () { finish({ code: 0, reason: "JSONP timed out" }); }, sub.options.pollTimeout);
      (doc.getElementsByTagName("head")[0] || doc.documentElement).appendChild(script);
    }
    /* A script inserted before the page's load event delays it, and a held
     * poll would keep the page "loading" for ever: start after load. */
    var start = pollLoop(sub, conn, request);
    afterLoad(function () { if (!conn.dead) { start(); } });
    return function () { cleanup(false); };
  };

  function afterLoad(fn) {
    var doc = root.document;
    if (!doc || doc.readyState === undefined || doc.readyState === "complete") { return fn(); }
    if (root.addEventListener) {
      root.addEventListener("load", fn, false);
    } else if (root.attachEvent) {
      root.attachEvent("onload", fn);
    } else {
      fn();
    }
  }

  /* ---- publishing (chat) --------------------------------------------------- */

  /* POST url with data as the body. cb(err, {status, id, transport}). */
  function post(url, data, opts, cb) {
    opts = opts || {};
    var xhr = new root.XMLHttpRequest();
    xhr.open("POST", addParams(url, [["token", opts.token]]), true);
    xhr.setRequestHeader("Content-Type", opts.contentType || "text/plain;charset=UTF-8");
    if (opts.event) { xhr.setRequestHeader("X-Event", opts.event); }
    if (opts.withCredentials) { xhr.withCredentials = true; }
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var st = xhr.status, body = parseJson(xhr.responseText || "");
      var info = { status: st, id: body && body.id, transport: "post" };
      if (!cb) { return; }
      if (st >= 200 && st < 300) { cb(null, info); } else { cb(new Error(st ? "HTTP " + st : "network error"), info); }
    };
    xhr.send(typeof data === "string" ? data : JSON.stringify(data));
  }

  /* One-shot publish: PushgateSubscriber.publish("/pubsub/chat-1", text, cb). */
  PushgateSubscriber.publish = function (url, data, opts, cb) {
    if (typeof opts === "function") { cb = opts; opts = {}; }
    post(url, data, opts, cb);
  };

  /* A publisher keeps a WebSocket to /pubsub/<channel> where it can and
   * POSTs otherwise. options: transports, token, withCredentials. */
  function PushgatePublisher(url, options) {
    this.url = url;
    this.options = extend({ transports: ORDER, token: null, withCredentials: false }, options || {});
    this._ws = null;
    this._closed = false;
    this._failures = 0;
    this._useWs = indexOf(this.options.transports, "websocket") >= 0 && typeof root.WebSocket !== "undefined";
    if (this._useWs) { this._openWs(); }
  }

  PushgatePublisher.prototype._openWs = function () {
    var self = this, ws;
    try {
      ws = new root.WebSocket(absoluteUrl(addParams(this.url, [["token", this.options.token]])).replace(/^http/i, "ws"),
                              WS_PROTOCOL);
    } catch (e) { return; }
    this._ws = ws;
    ws.onopen = function () { self._failures = 0; };
    ws.onclose = function (ev) {
      self._ws = null;
      if (self._closed || ev.code === 1000) { return; }
      self._failures++;
      later(function () { if (!self._closed) { self._openWs(); } },
            backoff(self._failures, 1000, 30000));
    };
  };

  /* send(data, [{event}], [cb]): cb(err, {transport}). */
  PushgatePublisher.prototype.send = function (data, opts, cb) {
    if (typeof opts === "function") { cb = opts; opts = {}; }
    opts = opts || {};
    var text = typeof data === "string" ? data : JSON.stringify(data);
    var ws = this._ws;
    if (ws && ws.readyState === 1) {
      var frame = { data: text };
      if (opts.event) { frame.event = opts.event; }
      ws.send(JSON.stringify(frame));
      if (cb) { later(function () { cb(null, { transport: "websocket" }); }, 0); }
      return this;
    }
    post(this.url, text, extend({ token: this.options.token, withCredentials: this.options.withCredentials }, opts), cb);
    return this;
  };

  PushgatePublisher.prototype.close = function () {
    this._closed = true;
    if (this._ws) { try { this._ws.close(); } catch (e) { /* closed */ } this._ws = null; }
  };

  PushgateSubscriber.Publisher = PushgatePublisher;
  PushgateSubscriber.version = "1";
  root.PushgateSubscriber = PushgateSubscriber;
  root.PushgatePublisher = PushgatePublisher;
  if (typeof module === "object" && module && module.exports) {
    module.exports = { PushgateSubscriber: PushgateSubscriber, PushgatePublisher: PushgatePublisher };
  }
}(typeof window !== "undefined" ? window : this));
