// Opens the dashboard of a running `sluice serve` in headless Chromium
// (Debian's, driven by playwright-core from tools/node), signed in with the
// master key as Basic credentials, and checks it: no console or page
// errors, no request to another origin, the live charts hold their series
// with a point per event received, the deployments' table, the request
// browser's rows, and a request found by its id (one that was retried, so
// that its attempts show). Saves a full-page screenshot.
//   node ui_check.js BASE_URL MASTER_KEY SCREENSHOT.png
// Prints TAP; exit status 1 on any failure.
"use strict";
const { fs, ok, launch, watch, run } = require("./check_common.js");

const [base, key, shot] = process.argv.slice(2);

run(async () => {
  const auth = "Basic " + Buffer.from("admin:" + key).toString("base64");
  // a retried request to look up: from the API, as any client of it
  const api = await fetch(`${base}/ui/api/requests?limit=200`, { headers: { authorization: auth } });
  const listing = await api.json();
  ok(api.status === 200 && listing.rows.length > 0, `the API lists ${listing.rows.length} rows`);
  const retried = listing.rows.find((r) => r.attempts > 1 && r.metadata && r.metadata.tries);
  ok(retried !== undefined, "a retried request is in the log");

  const browser = await launch();
  const context = await browser.newContext({
    viewport: { width: 1240, height: 1000 },
    httpCredentials: { username: "admin", password: key },
  });
  const page = await context.newPage();
  const { problems, requests: foreign } = watch(page, (url) => !url.startsWith(base));
  const res = await page.goto(`${base}/ui`, { waitUntil: "load", timeout: 30000 });
  ok(res.status() === 200, `GET /ui answered ${res.status()}`);
  await page.waitForFunction(() => window.sluiceUi && window.sluiceUi.events >= 3 && window.sluiceUi.loaded,
    null, { timeout: 15000 });
  const s = await page.evaluate(() => {
    const u = window.sluiceUi;
    const charts = {};
    for (const id of Object.keys(u.charts)) {
      const c = u.charts[id];
      charts[id] = { series: c.plot.series.length - 1, points: c.plot.data[0].length,
                     lens: c.plot.data.slice(1).map((d) => d.length),
                     canvas: !!document.querySelector("#" + id + " canvas") };
    }
    return { events: u.events, charts, rows: u.rows, errors: u.errors,
             deps: document.querySelectorAll("#deployments tr").length - 1 };
  });
  const want = { "chart-rps": 4, "chart-latency": 2, "chart-ttft": 2, "chart-load": 2 };
  for (const id of Object.keys(want)) {
    const c = s.charts[id];
    ok(c && c.canvas, `chart ${id} drawn`);
    ok(c && c.series === want[id], `chart ${id}: ${c && c.series} series, expected ${want[id]}`);
    ok(c && c.points >= 3 && c.points <= s.events + 1 && c.lens.every((l) => l === c.points),
       `chart ${id}: ${c && c.points} points in each series for ${s.events} events`);
  }
  const rps = await page.evaluate(() => window.sluiceUi.charts["chart-rps"].plot.data[1].reduce((a, b) => a + (b || 0), 0));
  ok(rps > 0, `the live feed counted ${rps} successful requests`);
  ok(s.deps === 3, `the deployments' table has ${s.deps} rows, expected 3`);
  ok(s.rows > 0 && s.rows <= 50, `the request browser shows ${s.rows} rows (a page of at most 50)`);
  // find the retried request by its id: its detail with its attempts
  if (retried) {
    await page.fill("input[name=find]", retried.metadata.id);
    await page.click("#find");
    await page.waitForFunction((id) => window.sluiceUi.detail && window.sluiceUi.detail.id === id,
      retried.metadata.id, { timeout: 10000 });
    const d = await page.evaluate(() => window.sluiceUi.detail);
    ok(d.tries === retried.metadata.tries.length && d.tries > 1,
       `the detail of ${retried.metadata.id} shows ${d.tries} attempts`);
    await page.waitForFunction(() => window.sluiceUi.detail.messages > 0, null, { timeout: 10000 });
    const conv = await page.textContent("#conversation");
    ok(conv.includes("assistant"), "the detail shows the request's conversation (the body log)");
    const text = await page.textContent("#detail");
    ok(text.includes("Attempts") && text.includes(retried.metadata.deployment), "the attempts table is on the page");
  }
  await page.screenshot({ path: shot, fullPage: true });
  ok(fs.statSync(shot).size > 10000, `screenshot ${shot}`);
  // older pages by keyset
  const before = s.rows;
  if (await page.isVisible("#older")) {
    await page.click("#older");
    await page.waitForFunction((b) => window.sluiceUi.rows > b, before, { timeout: 10000 });
    ok(true, "Older loads the next page");
  }
  ok(problems.length === 0, "no console errors or page errors" + (problems.length ? ": " + problems.join("; ") : ""));
  ok(foreign.length === 0, "nothing fetched from elsewhere" + (foreign.length ? ": " + foreign.join(", ") : ""));
  ok(s.errors.length === 0, "the page's own errors: " + (s.errors.join("; ") || "none"));
  await browser.close();
});
