// xrdtest session page: a terminal on a host of a running or held
// session (xterm.js, vendored), over the page's WebSocket
// /sessions/ID/shell. Binary frames carry input; the master's binary
// frames start with a stream byte (1 stdout, 2 stderr), its one text
// frame says how the shell ended.
(function () {
  "use strict";
  var panel = document.getElementById("terminal-panel");
  if (!panel || !window.Terminal || !window.FitAddon) { return; }
  var box = document.getElementById("terminal");
  var title = document.getElementById("terminal-title");
  var state = document.getElementById("terminal-state");
  var session = panel.getAttribute("data-session");
  var csrf = panel.getAttribute("data-csrf");
  var current = null;

  // xterm.js styles the terminal with <style> elements it fills with
  // text, which the page's Content-Security-Policy (no inline style)
  // blocks. Their text goes to constructed style sheets instead, which
  // the policy allows: the policy stays as strict as on every page.
  var styled = false;
  function constructedStyles() {
    if (styled || !("adoptedStyleSheets" in Document.prototype) || !window.CSSStyleSheet || !CSSStyleSheet.prototype.replaceSync) { return; }
    styled = true;
    var create = Document.prototype.createElement;
    Document.prototype.createElement = function (name, opts) {
      if (String(name).toLowerCase() !== "style") { return create.call(this, name, opts); }
      // A <template> holds the place: never rendered, never checked.
      var el = create.call(this, "template");
      var doc = this, sheet = new CSSStyleSheet(), text = "";
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.concat([sheet]);
      var content = { configurable: true, get: function () { return text; }, set: function (v) { text = String(v); sheet.replaceSync(text); } };
      Object.defineProperty(el, "textContent", content);
      Object.defineProperty(el, "innerText", content);
      var remove = el.remove;
      el.remove = function () {
        doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter(function (s) { return s !== sheet; });
        remove.call(el);
      };
      return el;
    };
  }

  function setState(text, cls) {
    state.textContent = text;
    state.className = "badge " + (cls || "");
  }

  function close() {
    if (!current) { return; }
    var c = current;
    current = null;
    window.removeEventListener("resize", c.onResize);
    if (c.ws && c.ws.readyState <= 1) { c.ws.close(1000, "closed by the user"); }
    c.term.dispose();
  }

  function open(host) {
    close();
    panel.hidden = false;
    box.textContent = "";
    title.textContent = "Shell on " + host;
    setState("connecting…", "st-queued");
    constructedStyles();
    var term = new window.Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000 });
    var fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(box);
    fit.fit();
    var q = new URLSearchParams({ host: host, csrf: csrf, tty: "1", rows: String(term.rows), cols: String(term.cols), term: "xterm-256color" });
    var path = "/sessions/" + session + "/shell?" + q.toString();
    var c = { ws: null, term: term, ended: false, opened: false, onResize: function () { fit.fit(); } };
    current = c;
    window.addEventListener("resize", c.onResize);
    // The same request without the upgrade says why a shell would be
    // refused, which a WebSocket cannot tell.
    fetch(path, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.ok) { return null; }
        return r.text().then(function (t) {
          try { return JSON.parse(t).error || t; } catch (e) { return t || ("refused: " + r.status); }
        });
      }, function () { return "the master cannot be reached"; })
      .then(function (refused) {
        if (current !== c) { return; }
        if (refused) { c.ended = true; setState("refused: " + refused, "st-failed"); return; }
        connect(c, path);
      });
  }

  function connect(c, path) {
    var term = c.term;
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + window.location.host + path);
    ws.binaryType = "arraybuffer";
    c.ws = ws;
    var enc = new TextEncoder();
    function send(data) {
      if (ws.readyState !== 1) { return; }
      // Pieces below the master's message limit (a large paste).
      for (var i = 0; i < data.length; i += 16384) { ws.send(data.subarray(i, i + 16384)); }
    }
    ws.addEventListener("open", function () {
      c.opened = true;
      setState("connected", "st-running");
      ws.send(JSON.stringify({ resize: { rows: term.rows, cols: term.cols } }));
      term.focus();
    });
    ws.addEventListener("message", function (ev) {
      if (typeof ev.data === "string") {
        var end = JSON.parse(ev.data);
        c.ended = true;
        if (end.exit !== undefined) {
          setState("exited " + end.exit, end.exit === 0 ? "st-passed" : "st-failed");
        } else {
          setState("ended: " + end.error, "st-failed");
        }
        return;
      }
      term.write(new Uint8Array(ev.data, 1));
    });
    ws.addEventListener("close", function () {
      if (c.ended) { return; }
      setState(c.opened ? "disconnected" : "refused", "st-failed");
    });
    term.onData(function (d) { send(enc.encode(d)); });
    term.onBinary(function (d) {
      var b = new Uint8Array(d.length);
      for (var i = 0; i < d.length; i++) { b[i] = d.charCodeAt(i) & 255; }
      send(b);
    });
    term.onResize(function (s) {
      if (ws.readyState === 1) { ws.send(JSON.stringify({ resize: { rows: s.rows, cols: s.cols } })); }
    });
  }

  // The buttons are in a live part of the page, replaced on refresh:
  // one listener on the document serves them all.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-shell-host]") : null;
    // Blurred: a live part holding the focus is not refreshed.
    if (b) { e.preventDefault(); b.blur(); open(b.getAttribute("data-shell-host")); }
  });
  document.getElementById("terminal-close").addEventListener("click", function () { close(); panel.hidden = true; });
})();
