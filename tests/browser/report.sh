#!/usr/bin/env bash
# Browser test of `sluice report`: makes a small simulate run and a short
# serve run (sluice mock x2 -> sluice serve -> sluice load), writes their
# reports, and opens each in headless Chromium (report_check.js): no
# console errors, no network, every chart with the expected series and
# points. Screenshots are left in OUT_DIR; with --docs they are also copied
# to docs/img/ (the README's images come from this step).
#   tests/browser/report.sh SLUICE_BIN OUT_DIR [--docs]
# Fails (never skips) when Chromium or playwright-core is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$1
out=$2
docs=${3:-}
mkdir -p "$out"
source "$here/common.sh"

# simulate: retries, a queue, a few permanent failures
"$bin" simulate --requests 3000 --concurrency 16 --latency-ms 2-30 --fail-rate 0.25 \
  --error-mix rate_limited:2,unavailable:2,timeout:1,bad_request:1 --backoff-base-ms 10 \
  --seed 42 --quiet --db "$work/sim.db" --report "$out/report-simulate.html" >/dev/null

# serve: a flaky and a steady upstream, three deployments, streamed traffic
start_serve "" 2
"$bin" load "$url" -d 3s -r 150 -c 16 --quiet >/dev/null &
l1=$!
"$bin" load "$url" -d 3s -c 3 --stream --model gpt-4o --quiet >/dev/null &
l2=$!
"$bin" load "$url" -n 20 -c 1 --model nope --quiet >/dev/null
wait $l1 $l2
kill "$serve_pid"
wait "$serve_pid" || { echo "browser: serve did not stop cleanly" >&2; cat "$work/serve.out" >&2; exit 1; }
"$bin" report --db "$work/serve.db" -o "$out/report-serve.html" 2>/dev/null

status=0
for kind in simulate serve; do
  node "$here/report_check.js" "$out/report-$kind.html" "$out/report-$kind.png" "$kind" || status=1
done
if [ "$docs" = "--docs" ] && [ $status -eq 0 ]; then
  mkdir -p "$root/docs/img"
  cp "$out/report-simulate.png" "$out/report-serve.png" "$root/docs/img/"
  echo "browser: screenshots copied to docs/img/"
fi
exit $status
