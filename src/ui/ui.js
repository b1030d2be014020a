/* sluice dashboard (/ui): live charts from /ui/live (one SSE event a
 * second, computed by the gateway from in-memory counters) drawn with
 * uPlot (inlined before this script), and the request browser over
 * /ui/api/requests (newest first, filtered, a page at a time by keyset).
 * window.sluiceUi tells a test what was drawn and found. */
(function () {
  "use strict";
  var root = document.getElementById("ui");
  root.textContent = "";
  var KEEP = 300; /* points: five minutes */
  var state = { events: 0, charts: {}, rows: 0, detail: null, errors: [] };
  window.sluiceUi = state;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits });
  }
  function card(title, note) {
    var s = el("section", "card");
    s.appendChild(el("h2", null, title));
    if (note) s.appendChild(el("p", "note", note));
    root.appendChild(s);
    return s;
  }

  var h1 = el("h1", null, "sluice dashboard");
  var conn = el("span", "state", "connecting…");
  h1.appendChild(conn);
  root.appendChild(h1);

  /* ---- live ---- */
  var live = card("Live", "One point a second, from the gateway's counters; the last five minutes.");
  var grid = el("div", "grid");
  live.appendChild(grid);
  var palette = { "2xx": "#16a34a", "4xx": "#ca8a04", "5xx": "#dc2626", cancelled: "#6b7280",
                  p50: "#2563eb", p99: "#9333ea", retries: "#ea580c", in_flight: "#0891b2" };
  var defs = [
    { id: "chart-rps", title: "requests/s by status", series: ["2xx", "4xx", "5xx", "cancelled"] },
    { id: "chart-latency", title: "latency, ms", series: ["p50", "p99"] },
    { id: "chart-ttft", title: "time to first token, ms", series: ["p50", "p99"] },
    { id: "chart-load", title: "retries/s and requests in flight", series: ["retries", "in_flight"] },
  ];
  var xs = [], ys = {};
  defs.forEach(function (d) {
    ys[d.id] = d.series.map(function () { return []; });
    var holder = el("div");
    holder.id = d.id;
    grid.appendChild(holder);
    var w = Math.max(320, Math.min(600, (grid.clientWidth || 1100) / 2 - 12));
    var u = new uPlot({
      title: d.title, width: w, height: 220,
      scales: { x: { time: true } },
      series: [{}].concat(d.series.map(function (s) {
        return { label: s, stroke: palette[s], width: 2, spanGaps: false };
      })),
      axes: [{}, { size: 56 }],
    }, [xs].concat(ys[d.id]), holder);
    state.charts[d.id] = { series: d.series.length, points: 0, plot: u };
  });
  var deps = el("div");
  live.appendChild(deps);

  function push(ev) {
    xs.push(ev.t / 1000);
    var vals = {
      "chart-rps": [ev.status["2xx"], ev.status["4xx"], ev.status["5xx"], ev.status.cancelled],
      "chart-latency": [ev.latency_ms.p50, ev.latency_ms.p99],
      "chart-ttft": [ev.ttft_ms.p50, ev.ttft_ms.p99],
      "chart-load": [ev.retries, ev.in_flight],
    };
    var drop = xs.length > KEEP;
    if (drop) xs.shift();
    defs.forEach(function (d) {
      vals[d.id].forEach(function (v, i) {
        ys[d.id][i].push(v);
        if (drop) ys[d.id][i].shift();
      });
      var c = state.charts[d.id];
      c.plot.setData([xs].concat(ys[d.id]));
      c.points = xs.length;
    });
    var t = el("table");
    t.id = "deployments";
    var head = el("tr");
    ["deployment", "model", "in flight", "limit", "queued", ""].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    t.appendChild(head);
    ev.deployments.forEach(function (d) {
      var tr = el("tr");
      tr.appendChild(el("td", null, d.name));
      tr.appendChild(el("td", null, d.model));
      tr.appendChild(el("td", "num", fmt(d.in_flight)));
      tr.appendChild(el("td", "num", fmt(d.limit)));
      tr.appendChild(el("td", "num", fmt(d.queued)));
      tr.appendChild(el("td", d.cooling ? "cool" : null, d.cooling ? "cooling down" : ""));
      t.appendChild(tr);
    });
    deps.textContent = "";
    deps.appendChild(t);
    state.events++;
  }

  function connect() {
    var es = new EventSource("/ui/live");
    es.onopen = function () { conn.textContent = "live"; conn.className = "state on"; };
    es.onmessage = function (m) {
      try { push(JSON.parse(m.data)); } catch (e) { state.errors.push(String(e)); }
    };
    es.onerror = function () { conn.textContent = "reconnecting…"; conn.className = "state"; };
  }
  connect();

  /* ---- the request browser ---- */
  var browser = card("Requests",
    "The request log of this run, newest first. Filter, page with Older, click a row for its detail.");
  var form = el("form");
  var inputs = {};
  function field(name, kind, options) {
    var f;
    if (kind === "select") {
      f = el("select");
      options.forEach(function (o) { var op = el("option", null, o || "any " + name); op.value = o; f.appendChild(op); });
    } else {
      f = el("input");
      f.placeholder = name;
      f.size = 14;
    }
    f.name = name;
    inputs[name] = f;
    form.appendChild(f);
  }
  field("status", "select", ["", "succeeded", "failed", "cancelled"]);
  /* the time window: the last N minutes (the API takes since/until in µs) */
  var within = el("select");
  within.name = "within";
  [["", "any time"], ["5", "last 5 min"], ["15", "last 15 min"], ["60", "last hour"],
   ["1440", "last day"]].forEach(function (o) {
    var op = el("option", null, o[1]); op.value = o[0]; within.appendChild(op);
  });
  form.appendChild(within);
  field("model");
  field("deployment");
  field("key");
  field("error");
  field("http");
  var go = el("button", null, "Filter");
  go.type = "submit";
  form.appendChild(go);
  var idInput = el("input");
  idInput.placeholder = "request id";
  idInput.name = "find";
  idInput.size = 24;
  form.appendChild(idInput);
  var find = el("button", null, "Find");
  find.id = "find";
  find.type = "button";
  form.appendChild(find);
  browser.appendChild(form);
  var list = el("div");
  browser.appendChild(list);
  var more = el("button", null, "Older");
  more.id = "older";
  more.style.display = "none";
  browser.appendChild(more);
  var detail = el("div");
  browser.appendChild(detail);

  var next = null;
  function query(before) {
    var q = [];
    Object.keys(inputs).forEach(function (k) {
      if (inputs[k].value) q.push(k + "=" + encodeURIComponent(inputs[k].value));
    });
    if (within.value) q.push("since=" + (Date.now() - within.value * 60000) * 1000);
    if (before) q.push("before=" + before);
    q.push("limit=50");
    return "/ui/api/requests?" + q.join("&");
  }
  function cellRow(r) {
    var m = r.metadata || {};
    var tr = el("tr", "row");
    var ms = r.finished_us && r.created_us ? (r.finished_us - r.created_us) / 1000 : null;
    [new Date(r.created_us / 1000).toISOString().replace("T", " ").slice(0, 23), m.id, m.model,
     m.deployment, r.status, m.status, ms, m.ttfb_ms, m.prompt_tokens, m.completion_tokens,
     r.attempts, r.error || ""].forEach(function (c, i) {
      var td = el("td", typeof c === "number" ? "num" : (i === 4 && r.status !== "succeeded" ? r.status : null), fmt(c));
      tr.appendChild(td);
    });
    tr.onclick = function () { show(r); };
    return tr;
  }
  function load(before) {
    return fetch(query(before)).then(function (res) { return res.json(); }).then(function (page) {
      if (!page.rows) throw new Error(page.error ? page.error.message : "no rows");
      var t = list.querySelector("table");
      if (!before || !t) {
        list.textContent = "";
        t = el("table");
        var head = el("tr");
        ["created", "id", "model", "deployment", "outcome", "HTTP", "ms", "TTFB ms", "prompt",
         "completion", "attempts", "error"].forEach(function (h) { head.appendChild(el("th", null, h)); });
        t.appendChild(head);
        list.appendChild(t);
        state.rows = 0;
      }
      page.rows.forEach(function (r) { t.appendChild(cellRow(r)); state.rows++; });
      next = page.next;
      more.style.display = next ? "" : "none";
      state.loaded = true;
    }).catch(function (e) { state.errors.push(String(e)); list.textContent = String(e); });
  }
  function show(r) {
    var m = r.metadata || {};
    detail.textContent = "";
    var c = el("section", "card");
    c.id = "detail";
    c.appendChild(el("h2", null, "Request " + (m.id || r.row)));
    var t = el("table");
    function line(k, v) {
      var tr = el("tr");
      tr.appendChild(el("th", null, k));
      tr.appendChild(el("td", null, fmt(v)));
      t.appendChild(tr);
    }
    line("outcome", r.status + (r.error ? " (" + r.error + ")" : ""));
    line("HTTP status", m.status);
    line("model", m.model);
    line("deployment (last)", m.deployment);
    line("endpoint", m.endpoint);
    line("key", m.key || "");
    line("stream", m.stream ? "yes" : "no");
    line("attempts", r.attempts);
    line("fallbacks", m.fallbacks);
    line("created", new Date(r.created_us / 1000).toISOString());
    line("queue, ms", r.started_us ? (r.started_us - r.created_us) / 1000 : null);
    line("processing, ms", r.started_us ? (r.finished_us - r.started_us) / 1000 : null);
    line("first byte, ms", m.ttfb_ms);
    line("tokens (prompt, completion)", fmt(m.prompt_tokens) + ", " + fmt(m.completion_tokens));
    line("prompt tokens counted", m.prompt_tokens_counted);
    if (m.cost_usd !== undefined) line("cost, USD", m.cost_usd);
    c.appendChild(t);
    if (m.tries) {
      c.appendChild(el("h2", null, "Attempts"));
      var a = el("table");
      var head = el("tr");
      ["#", "deployment", "HTTP", "error", "ms"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      a.appendChild(head);
      m.tries.forEach(function (x, i) {
        var tr = el("tr");
        [i + 1, x[0], x[1] || "–", x[2] || "", x[3]].forEach(function (v) {
          tr.appendChild(el("td", typeof v === "number" ? "num" : null, fmt(v)));
        });
        a.appendChild(tr);
      });
      c.appendChild(a);
    }
    var conv = el("div");
    c.appendChild(conv);
    fetch("/ui/api/requests/" + encodeURIComponent(m.id || "") + "/conversation")
      .then(function (res) { return res.json(); })
      .then(function (cv) {
        if (!cv.messages || !cv.messages.length) return; /* no body log for it */
        conv.appendChild(el("h2", null, "Conversation"));
        var ct = el("table");
        ct.id = "conversation";
        cv.messages.forEach(function (msg) {
          var tr = el("tr");
          tr.appendChild(el("th", null, msg.role));
          var td = el("td", null, msg.content);
          td.style.whiteSpace = "pre-wrap";
          tr.appendChild(td);
          ct.appendChild(tr);
        });
        conv.appendChild(ct);
        state.detail.messages = cv.messages.length;
      }).catch(function (e) { state.errors.push(String(e)); });
    var raw = el("details");
    raw.appendChild(el("summary", null, "the row's metadata"));
    raw.appendChild(el("pre", null, JSON.stringify(m, null, 2)));
    c.appendChild(raw);
    detail.appendChild(c);
    state.detail = { id: m.id, attempts: r.attempts, tries: m.tries ? m.tries.length : 0 };
    c.scrollIntoView({ block: "nearest" });
  }
  form.onsubmit = function (e) { e.preventDefault(); load(null); };
  more.onclick = function () { if (next) load(next); };
  find.onclick = function () {
    var id = idInput.value.trim();
    if (!id) return;
    fetch("/ui/api/requests/" + encodeURIComponent(id)).then(function (res) { return res.json(); })
      .then(function (page) {
        if (page.rows && page.rows.length) show(page.rows[0]);
        else { detail.textContent = "no request " + id + " in this run"; state.detail = { missing: id }; }
      }).catch(function (e) { state.errors.push(String(e)); });
  };
  load(null);
})();
