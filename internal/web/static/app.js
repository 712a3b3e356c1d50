// xrdtest pages: live refresh and streamed output. No HTML is ever built
// from data: refreshed parts come from the server's escaped page, parsed
// by DOMParser (which runs no script), and output is appended as text.
(function () {
  "use strict";

  var liveState = document.getElementById("live-state");
  function setState(text) { if (liveState) { liveState.textContent = text; } }

  // refresh fetches this page again and swaps every [data-live-id] part.
  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    var ctl = window.AbortController ? new AbortController() : null;
    var abort = ctl ? setTimeout(function () { ctl.abort(); }, 10000) : null;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" }, signal: ctl ? ctl.signal : undefined })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-id]").forEach(function (el) {
          var fresh = doc.querySelector('[data-live-id="' + el.getAttribute("data-live-id") + '"]');
          if (fresh && !el.contains(document.activeElement) && !el.querySelector("details[open]")) {
            el.replaceWith(document.importNode(fresh, true));
          }
        });
      })
      .catch(function () {})
      .then(function () {
        if (abort) { clearTimeout(abort); }
        refreshing = false;
        if (again) { again = false; setTimeout(refresh, 200); }
      });
  }

  var timer = null;
  function soon() { if (!timer) { timer = setTimeout(function () { timer = null; refresh(); }, 150); } }

  var live = document.body.getAttribute("data-live");
  if (live && window.EventSource) {
    var es = new EventSource(live);
    // A change between the page's rendering and the stream's start (or
    // while reconnecting) would be missed: refresh once connected, and
    // now and then anyway.
    es.addEventListener("open", function () { setState("live"); soon(); });
    var every = setInterval(soon, 10000);
    es.addEventListener("change", soon);
    es.addEventListener("end", function () { es.close(); clearInterval(every); setState("finished"); refresh(); });
    es.addEventListener("error", function () { setState("reconnecting…"); });
  }

  // Streamed output: each "output" event carries {"t": text}.
  var out = document.getElementById("output");
  var src = out && out.getAttribute("data-stream");
  if (src && window.EventSource) {
    var stream = new EventSource(src);
    var badge = document.getElementById("stream-state");
    stream.addEventListener("output", function (e) {
      var atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
      out.appendChild(document.createTextNode(JSON.parse(e.data).t));
      if (atBottom) { out.scrollTop = out.scrollHeight; }
    });
    stream.addEventListener("end", function (e) {
      stream.close();
      var d = JSON.parse(e.data);
      if (badge) {
        badge.textContent = "complete: " + d.status;
        badge.className = "badge st-" + String(d.status).replace(/[^a-z]/g, "");
      }
      out.setAttribute("data-complete", "1");
      refresh();
    });
  }
})();
