// What the browser checks share (report_check.js, ui_check.js): TAP output,
// Debian's Chromium through playwright-core from tools/node, a page's
// console errors, page errors and requests to watch, and the run itself
// (the plan and the exit status at the end, a bail-out on any throw).
"use strict";
const path = require("path");
const fs = require("fs");
const root = path.resolve(__dirname, "../..");
const { chromium } = require(path.join(root, "tools/node/node_modules/playwright-core"));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

let n = 0, failed = 0;
function ok(cond, what) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${what}`);
}

async function launch() {
  if (!fs.existsSync(executablePath)) {
    console.log(`Bail out! no Chromium at ${executablePath} (scripts/setup.sh installs it)`);
    process.exit(1);
  }
  return chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: 30000 });
}

// Collects a page's console errors and warnings, page errors, and the
// requests for which foreign(url) says true.
function watch(page, foreign) {
  const w = { problems: [], requests: [] };
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") w.problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => w.problems.push(`page error: ${e.message}`));
  page.on("request", (r) => { if (foreign(r.url())) w.requests.push(r.url()); });
  return w;
}

// Runs the check, then prints the plan and exits 1 on any failure.
function run(check) {
  check().then(() => {
    console.log(`1..${n}`);
    process.exit(failed ? 1 : 0);
  }).catch((e) => {
    console.log(`Bail out! ${e && e.stack ? e.stack.split("\n")[0] : e}`);
    process.exit(1);
  });
}

module.exports = { fs, path, ok, launch, watch, run };
