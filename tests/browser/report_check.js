// Opens a `sluice report` page in headless Chromium (Debian's, driven by
// playwright-core from tools/node) and checks it: no console errors, no
// page errors, no network request (the page must be self-contained), and
// every chart holds the expected number of series and points, compared
// with the data embedded in the page. Saves a full-page screenshot.
//   node report_check.js REPORT.html SCREENSHOT.png [EXPECT.json]
// EXPECT.json: {"kind": "...", "charts": {"chart-id": {"series": N, "points": N}}}
// Prints TAP; exit status 1 on any failure.
"use strict";
const path = require("path");
const fs = require("fs");
const root = path.resolve(__dirname, "../..");
const { chromium } = require(path.join(root, "tools/node/node_modules/playwright-core"));

const [file, shot, expectFile] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
let n = 0, failed = 0;
function ok(cond, what) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${what}`);
}

(async () => {
  if (!fs.existsSync(executablePath)) {
    console.log(`Bail out! no Chromium at ${executablePath} (scripts/setup.sh installs it)`);
    process.exit(1);
  }
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: 30000 });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [], requests = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
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
  if (expectFile) {
    const expect = JSON.parse(fs.readFileSync(expectFile, "utf8"));
    ok(kind === expect.kind, `report kind ${kind}, expected ${expect.kind}`);
    const ids = Object.keys(expect.charts);
    ok(charts.length === ids.length, `${charts.length} charts drawn, expected ${ids.length}`);
    for (const id of ids) {
      const c = charts.find((x) => x.id === id), e = expect.charts[id];
      ok(c !== undefined, `chart ${id} drawn`);
      if (!c) continue;
      ok(c.canvas, `chart ${id} has a canvas`);
      ok(c.series === e.series, `chart ${id}: ${c.series} series, expected ${e.series}`);
      ok(c.points === e.points && c.lens.every((l) => l === e.points),
         `chart ${id}: ${c.points} points in each series, expected ${e.points}`);
    }
  }
  await page.screenshot({ path: shot, fullPage: true });
  ok(fs.statSync(shot).size > 10000, `screenshot ${shot}`);
  await browser.close();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`Bail out! ${e && e.stack ? e.stack.split("\n")[0] : e}`);
  process.exit(1);
});
