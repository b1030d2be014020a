// Opens a `sluice report` page in headless Chromium (Debian's, driven by
// playwright-core from tools/node) and checks it: no console errors, no
// page errors, no network request (the page must be self-contained), and
// every chart holds the expected number of series and points, compared
// with the data embedded in the page. Saves a full-page screenshot.
//   node report_check.js REPORT.html SCREENSHOT.png KIND
// KIND: simulate or serve; the charts expected of it, with their series and
// points, are derived from the run's data embedded in the page (expected()).
// Prints TAP; exit status 1 on any failure.
"use strict";
const { fs, path, ok, launch, watch, run } = require("./check_common.js");

const [file, shot, wantKind] = process.argv.slice(2);

// The charts a page of this kind must draw: id -> {series, points}.
function expected(d) {
  const e = {};
  if (d.kind === "simulate") {
    const n = d.timeline.t.length;
    const maxA = Math.max(...d.attempts.map((r) => r[0]));
    e["chart-inflight"] = { series: 2, points: n }; // in flight, the limit
    e["chart-throughput"] = { series: 3, points: n }; // by final status
    e["chart-processing"] = { series: 1, points: d.processing.counts.length };
    e["chart-queue"] = { series: 1, points: d.queue.counts.length };
    e["chart-attempts"] = { series: 3, points: maxA + 1 };
  } else {
    const n = d.timeline.t.length;
    const deps = Object.keys(d.timeline.in_flight).filter((k) => k !== "total");
    const limits = (d.run.params && d.run.params.deployments) || {};
    e["chart-status"] = { series: Object.keys(d.timeline.rate).length, points: n };
    e["chart-latency"] = { series: 3, points: d.latency.t.length };
    e["chart-ttft"] = { series: 3, points: d.ttft.t.length };
    e["chart-inflight"] = { series: 1 + deps.length + deps.filter((k) => limits[k]).length, points: n };
  }
  return e;
}
run(async () => {
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const { problems, requests } = watch(page, (url) => !url.startsWith("file:"));
  await page.goto("file://" + path.resolve(file), { waitUntil: "load", timeout: 30000 });
  await page.waitForFunction(() => window.sluiceReport && window.sluiceReport.ready, null, { timeout: 10000 });
  const charts = await page.evaluate(() => window.sluiceReport.charts.map((c) => ({
    id: c.id, title: c.title, series: c.plot.series.length - 1, points: c.plot.data[0].length,
    lens: c.plot.data.slice(1).map((d) => d.length),
    canvas: !!document.querySelector("#" + c.id + " canvas"),
  })));
  const kind = await page.evaluate(() => window.sluiceReport.data.kind);
  ok(problems.length === 0, "no console errors or page errors" + (problems.length ? ": " + problems.join("; ") : ""));
  ok(requests.length === 0, "no network requests" + (requests.length ? ": " + requests.join(", ") : ""));
  const data = await page.evaluate(() => window.sluiceReport.data);
  ok(kind === wantKind, `report kind ${kind}, expected ${wantKind}`);
  const want = expected(data);
  const ids = Object.keys(want);
  ok(charts.length === ids.length, `${charts.length} charts drawn, expected ${ids.length}`);
  for (const id of ids) {
    const c = charts.find((x) => x.id === id), e = want[id];
    ok(c !== undefined, `chart ${id} drawn`);
    if (!c) continue;
    ok(c.canvas, `chart ${id} has a canvas`);
    ok(c.series === e.series, `chart ${id}: ${c.series} series, expected ${e.series}`);
    ok(c.points === e.points && e.points > 1 && c.lens.every((l) => l === e.points),
       `chart ${id}: ${c.points} points in each series, expected ${e.points}`);
  }
  const tables = await page.evaluate(() => document.querySelectorAll("table:not(.u-legend)").length);
  ok(tables >= (wantKind === "serve" ? 4 : 3), `${tables} tables`);
  await page.screenshot({ path: shot, fullPage: true });
  ok(fs.statSync(shot).size > 10000, `screenshot ${shot}`);
  await browser.close();
});
