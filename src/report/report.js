/* sluice report: draws the charts and tables of one run from the JSON in
 * #report-data with uPlot (inlined before this script). Everything is
 * computed by `sluice report` in the database; this script only lays it
 * out. window.sluiceReport lists the charts drawn (for the browser test). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var root = document.getElementById("report");
  root.textContent = "";
  var drawn = [];
  window.sluiceReport = { data: data, charts: drawn, ready: false };
  var palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
                 "#db2777", "#4b5563", "#65a30d", "#7c3aed", "#0d9488", "#b91c1c", "#1d4ed8",
                 "#a16207", "#475569", "#be185d"];
  var statusColor = { succeeded: "#16a34a", failed: "#dc2626", cancelled: "#6b7280" };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 3 : digits });
  }
  function section(title, note) {
    var s = el("section", "card");
    s.appendChild(el("h2", null, title));
    if (note) s.appendChild(el("p", "note", note));
    root.appendChild(s);
    return s;
  }
  function table(parent, head, rows) {
    var t = el("table");
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    var thead = el("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    var body = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c) { row.appendChild(el("td", typeof c === "number" ? "num" : null, fmt(c))); });
      body.appendChild(row);
    });
    t.appendChild(body);
    parent.appendChild(t);
    return t;
  }
  function width(parent) {
    return Math.max(320, Math.min(1100, (parent.clientWidth || 900) - 8));
  }
  /* One uPlot chart: xs, then [{label, values, color, dash, bars}]. */
  function chart(parent, id, title, xLabel, yLabel, xs, series, opts) {
    opts = opts || {};
    var holder = el("div", "chart");
    holder.id = id;
    parent.appendChild(holder);
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : null;
    var s = [{ label: xLabel }];
    series.forEach(function (x, i) {
      var c = x.color || palette[i % palette.length];
      s.push({
        label: x.label, stroke: c, width: x.bars ? 1 : 1.5, dash: x.dash,
        fill: x.bars ? c + "99" : undefined, paths: x.bars ? bars : undefined,
        points: { show: false }, spanGaps: true,
        value: function (u, v) { return fmt(v); }
      });
    });
    var u = new uPlot({
      title: title, width: width(parent), height: opts.height || 260,
      scales: { x: { time: false }, y: { range: function (u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.08 : 1]; } } },
      axes: [{ label: xLabel }, { label: yLabel, size: 70 }],
      series: s,
      hooks: opts.marks ? { draw: [function (u) { drawMarks(u, opts.marks); }] } : {}
    }, [xs].concat(series.map(function (x) { return x.values; })), holder);
    drawn.push({ id: id, title: title, series: series.length, points: xs.length, plot: u });
    return u;
  }
  /* Vertical marks (percentiles) across a chart. */
  function drawMarks(u, marks) {
    var ctx = u.ctx;
    ctx.save();
    marks.forEach(function (m, i) {
      var x = u.valToPos(m.at, "x", true);
      ctx.strokeStyle = m.color;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillStyle = m.color;
      ctx.font = (12 * devicePixelRatio) + "px sans-serif";
      ctx.fillText(m.label, x + 4, u.bbox.top + 14 * devicePixelRatio * (i + 1));
    });
    ctx.restore();
  }
  function constant(n, v) { var a = new Array(n); for (var i = 0; i < n; i++) a[i] = v; return a; }
  function histXs(h) { return h.counts.map(function (_, i) { return i * h.bin_ms; }); }

  function header() {
    var r = data.run, st = data.stats;
    var h = el("header");
    h.appendChild(el("h1", null, "sluice " + r.command + " run " + r.id));
    var when = new Date(r.t0_us / 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    h.appendChild(el("p", "note", "status " + r.status + " · started " + when + " · span " +
                     fmt(r.span_s) + " s · " + fmt(st.db_rows !== undefined ? st.db_rows : st.requests) + " rows · database " + r.database));
    root.appendChild(h);
    var p = el("details");
    p.appendChild(el("summary", null, "run parameters"));
    p.appendChild(el("pre", null, JSON.stringify(r.params, null, 2)));
    root.appendChild(p);
  }

  function simulate() {
    var st = data.stats, tl = data.timeline, n = tl.t.length;
    var sum = section("Summary");
    table(sum, ["requests", "succeeded", "failed", "cancelled", "retries", "p50 ms", "p95 ms",
                "p99 ms", "avg queue ms", "max in flight", "limit"],
          [[st.requests, st.succeeded, st.failed, st.cancelled, st.retries, st.p50_ms, st.p95_ms,
            st.p99_ms, st.avg_queue_ms, st.max_in_flight, st.concurrency]]);

    var s = section("In flight over time",
      "Requests between start (the semaphore taken) and finish, averaged over each " +
      fmt(tl.bucket_s * 1000) + " ms bucket, against the concurrency limit. Highest recorded: " +
      fmt(st.max_in_flight) + ".");
    chart(s, "chart-inflight", "in flight", "seconds", "requests", tl.t,
          [{ label: "in flight (bucket average)", values: tl.in_flight.total },
           { label: "limit", values: constant(n, st.concurrency), color: "#dc2626", dash: [8, 4] }]);

    s = section("Throughput", "Requests finished per second, by final status, per bucket.");
    chart(s, "chart-throughput", "throughput", "seconds", "requests/s", tl.t,
          ["succeeded", "failed", "cancelled"].map(function (k) {
            return { label: k, values: tl.rate[k], color: statusColor[k] };
          }));

    var ph = data.processing;
    s = section("Processing time",
      "Start to finish of each request that ran (its attempts and the backoff waits between " +
      "them), in bins of " + fmt(ph.bin_ms) + " ms; p50/p95/p99 are exact (nearest rank)." +
      (ph.overflow ? " " + fmt(ph.overflow) + " requests took " + fmt(ph.overflow_from_ms) +
       " ms or more (not drawn)." : ""));
    chart(s, "chart-processing", "processing time", "milliseconds", "requests", histXs(ph),
          [{ label: "requests", values: ph.counts, bars: true }],
          { marks: [{ at: st.p50_ms, label: "p50 " + fmt(st.p50_ms) + " ms", color: "#16a34a" },
                    { at: st.p95_ms, label: "p95 " + fmt(st.p95_ms) + " ms", color: "#ea580c" },
                    { at: st.p99_ms, label: "p99 " + fmt(st.p99_ms) + " ms", color: "#dc2626" }] });

    var qh = data.queue;
    s = section("Queue wait",
      "Created to started: the wait for a free slot, in bins of " + fmt(qh.bin_ms) +
      " ms (average " + fmt(st.avg_queue_ms) + " ms).");
    chart(s, "chart-queue", "queue wait", "milliseconds", "requests", histXs(qh),
          [{ label: "requests", values: qh.counts, bars: true }]);

    /* attempts per request, by final status; error classes of the failures */
    var byAttempts = {}, errors = {}, maxA = 0;
    data.attempts.forEach(function (row) {
      var a = row[0], status = row[1], err = row[2], count = row[3];
      maxA = Math.max(maxA, a);
      byAttempts[a] = byAttempts[a] || { succeeded: 0, failed: 0, cancelled: 0 };
      byAttempts[a][status] = (byAttempts[a][status] || 0) + count;
      if (err) errors[err] = (errors[err] || 0) + count;
    });
    var xs = [];
    for (var a = 0; a <= maxA; a++) xs.push(a);
    s = section("Attempts per request", "How many attempts each request took, stacked by final " +
                "status (0: cancelled before it ran).");
    var order = ["cancelled", "failed", "succeeded"]; /* tallest (the whole stack) drawn first */
    chart(s, "chart-attempts", "attempts per request", "attempts", "requests", xs,
          order.map(function (k, i) {
            return { label: k, color: statusColor[k], bars: true,
                     values: xs.map(function (a) {
                       var b = byAttempts[a], v = 0;
                       if (b) for (var j = i; j < order.length; j++) v += b[order[j]];
                       return v;
                     }) };
          }));
    table(s, ["attempts", "succeeded", "failed", "cancelled"], xs.filter(function (a) {
      return byAttempts[a];
    }).map(function (a) {
      var b = byAttempts[a];
      return [a, b.succeeded, b.failed, b.cancelled];
    }));

    s = section("Error classes", "The error of each request that did not succeed (its last attempt's).");
    var names = Object.keys(errors).sort(function (x, y) { return errors[y] - errors[x]; });
    var total = st.db_rows || 1;
    if (names.length === 0) s.appendChild(el("p", null, "No errors."));
    else table(s, ["class", "requests", "share of all"], names.map(function (k) {
      return [k, errors[k], (100 * errors[k] / total).toFixed(3) + " %"];
    }));

    s = section("Makespan against ideal",
      "Ideal: all busy time (attempts and backoff waits) packed onto the " + fmt(st.concurrency) +
      " slots with no gap. Efficiency = ideal / makespan.");
    var bars = el("div", "bars"), m = Math.max(st.makespan_s, st.ideal_makespan_s) || 1;
    [["makespan", st.makespan_s, "#2563eb"], ["ideal", st.ideal_makespan_s, "#16a34a"]].forEach(function (b) {
      var row = el("div", "bar-row");
      row.appendChild(el("span", "bar-label", b[0]));
      var bar = el("span", "bar");
      bar.style.width = (100 * b[1] / m).toFixed(2) + "%";
      bar.style.background = b[2];
      row.appendChild(bar);
      row.appendChild(el("span", "bar-value", fmt(b[1]) + " s"));
      bars.appendChild(row);
    });
    s.appendChild(bars);
    s.appendChild(el("p", null, "efficiency " + fmt(st.efficiency)));
  }

  function serve() {
    var st = data.stats, tl = data.timeline, n = tl.t.length;
    var lat = st.latency_ms || {}, ttfb = st.ttfb_ms || {};
    var sum = section("Summary");
    table(sum, ["requests", "succeeded", "failed", "cancelled", "retries", "fallbacks",
                "latency p50 ms", "p95 ms", "p99 ms", "TTFT p50 ms", "p99 ms"],
          [[st.requests, st.succeeded, st.failed, st.cancelled, st.retries, st.fallbacks,
            lat.p50, lat.p95, lat.p99, ttfb.p50, ttfb.p99]]);

    var s = section("Requests per second by status",
      "Responses finished per second, by the HTTP status the client got, per " +
      fmt(tl.bucket_s * 1000) + " ms bucket.");
    var codes = Object.keys(tl.rate).sort();
    chart(s, "chart-status", "requests per second", "seconds", "requests/s", tl.t,
          codes.map(function (k, i) {
            var c = /^2/.test(k) ? "#16a34a" : /^4/.test(k) ? palette[(i % 5) + 3] : /^5/.test(k) ? "#dc2626" : undefined;
            return { label: k === "0" ? "no status" : String(k), values: tl.rate[k], color: c };
          }));

    [["latency", "Latency percentiles", "Request in to response out (queue included), by the bucket it finished in."],
     ["ttft", "Time to first token percentiles", "Request in to the first byte sent to the client, for requests that sent one."]]
      .forEach(function (p) {
        var d = data[p[0]];
        s = section(p[1], p[2] + " Nearest rank over the requests of each " + fmt(d.bucket_s) + " s bucket.");
        if (d.t.length === 0) { s.appendChild(el("p", null, "No data.")); return; }
        chart(s, "chart-" + p[0], p[1], "seconds", "milliseconds", d.t,
              [{ label: "p50", values: d.p50, color: "#16a34a" },
               { label: "p95", values: d.p95, color: "#ea580c" },
               { label: "p99", values: d.p99, color: "#dc2626" }]);
      });

    var limits = (data.run.params && data.run.params.deployments) || {};
    s = section("In flight by deployment",
      "Requests between admission and finish, averaged over each bucket, counted against the " +
      "deployment that answered last (a request that fell back is counted on its last " +
      "deployment for its whole time), with each deployment's max_concurrency (dashed) when the " +
      "run recorded it.");
    var lines = [{ label: "total", values: tl.in_flight.total, color: "#111827" }], i = 0;
    Object.keys(tl.in_flight).forEach(function (d) {
      if (d === "total") return;
      var c = palette[i++ % palette.length];
      lines.push({ label: d || "(none)", values: tl.in_flight[d], color: c });
      if (limits[d]) lines.push({ label: d + " limit", values: constant(n, limits[d]), color: c, dash: [8, 4] });
    });
    chart(s, "chart-inflight", "in flight", "seconds", "requests", tl.t, lines);

    var groups = data.groups || {};
    [["model", "Models"], ["deployment", "Deployments"], ["key", "Keys"]].forEach(function (g) {
      s = section(g[1], g[0] === "key" ? "By virtual key id (empty: no key)." : null);
      var rows = (groups[g[0]] || []).map(function (r) {
        return [r.name || "(none)", r.requests, r.succeeded, r.failed, r.retries, r.fallbacks,
                r.cancelled, r.prompt_tokens, r.completion_tokens,
                r.rows_with_cost ? "$" + r.cost_usd.toFixed(6) : "–"];
      });
      table(s, [g[0], "requests", "succeeded", "errors", "retries", "fallbacks", "cancelled",
                "prompt tokens", "completion tokens", "cost"], rows);
    });
  }

  header();
  if (data.kind === "serve") serve();
  else simulate();
  window.sluiceReport.ready = true;
  document.body.setAttribute("data-ready", "1");
})();
