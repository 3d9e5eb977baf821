/*
 * demo.js — small helpers the demo pages share: read the query string,
 * turn ?transports=longpoll into client options, and show which transport
 * is live (badge) and what the client did (log). Not needed by shops that
 * use pushgate.js; plain ES5 like the client, so the demos also run in the
 * old browsers the fallbacks are for.
 */
(function (root) {
  "use strict";

  var NAMES = { websocket: "WebSocket", eventsource: "Server-Sent Events",
                longpoll: "long-poll", jsonp: "long-poll (JSONP)" };

  function param(name, dflt) {
    var m = new RegExp("[?&]" + name + "=([^&#]*)").exec(root.location.search);
    return m ? decodeURIComponent(m[1].replace(/\+/g, " ")) : dflt;
  }

  /* Client options from the query: ?transports=longpoll forces a transport
   * for demonstration; ?probeInterval=ms shortens the move-back probe. */
  function options(extra) {
    var o = {}, t = param("transports", ""), p = param("probeInterval", "");
    if (t) { o.transports = t.split(","); }
    if (p) { o.probeInterval = Number(p); }
    for (var k in extra || {}) { if (Object.prototype.hasOwnProperty.call(extra, k)) { o[k] = extra[k]; } }
    return o;
  }

  function text(el, s) {
    if ("textContent" in el) { el.textContent = s; } else { el.innerText = s; }
  }

  /* Keep a <span class="live"> telling the state and the live transport. */
  function badge(sub, el) {
    function show(cls, s) { el.className = "live " + cls; text(el, s); }
    show("", "connecting\u2026");
    sub.on("transport", function (name) { show("on", "live via " + (NAMES[name] || name)); });
    sub.on("connect", function (info) { show("on", "live via " + (NAMES[info.transport] || info.transport)); });
    sub.on("disconnect", function (info) {
      if (info.reconnect) { show("retry", "reconnecting\u2026"); } else { show("off", "not live (" + (info.reason || "stopped") + ")"); }
    });
    sub.on("error", function (e) { if (e.code === "no_transport") { show("off", "no usable transport"); } });
  }

  function log(sub, ol) {
    function add(s, cls) {
      var li = root.document.createElement("li");
      text(li, new Date().toTimeString().slice(0, 8) + "  " + s);
      if (cls) { li.className = cls; }
      ol.appendChild(li);
      ol.scrollTop = ol.scrollHeight;
    }
    sub.on("connecting", function (name) { add("connecting with " + (NAMES[name] || name), "ctl"); });
    sub.on("transport", function (name) { add("live via " + (NAMES[name] || name), "ctl"); });
    sub.on("disconnect", function (i) { add("disconnected (" + i.code + " " + (i.reason || "") + ")", "ctl"); });
    sub.on("gap", function (g) { add("gap notice: some messages of " + g.channels.join(", ") + " are gone", "ctl"); });
    sub.on("deleted", function (c) { add("channel " + c + " deleted", "ctl"); });
    sub.on("error", function (e) { add("error: " + e.code + " " + (e.message || ""), "ctl"); });
    sub.on("message", function (data, meta) {
      add(meta.id + " " + meta.channel + " [" + meta.event + "] " +
          (typeof data === "string" ? data : "(" + data.length + " bytes)"));
    });
    return add;
  }

  /* Links to this page with each transport forced. */
  function transportLinks(el) {
    var base = root.location.pathname, keep = root.location.search.replace(/^\?/, "").split("&"), rest = [];
    for (var i = 0; i < keep.length; i++) {
      if (keep[i] && keep[i].indexOf("transports=") !== 0) { rest.push(keep[i]); }
    }
    var html = [], list = ["websocket", "eventsource", "longpoll"];
    html.push('<a href="' + base + (rest.length ? "?" + rest.join("&") : "") + '">best available</a>');
    for (i = 0; i < list.length; i++) {
      html.push('<a href="' + base + "?" + rest.concat(["transports=" + list[i]]).join("&") + '">' + NAMES[list[i]] + "</a>");
    }
    el.innerHTML = "Force a transport: " + html.join(" &middot; ");
  }

  function escapeHtml(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  root.PGDemo = { param: param, options: options, badge: badge, log: log, text: text,
                  transportLinks: transportLinks, escapeHtml: escapeHtml, names: NAMES };
}(window));
