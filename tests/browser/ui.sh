#!/usr/bin/env bash
# Browser test of the dashboard (/ui of `sluice serve`): a gateway in front
# of a flaky and a streaming upstream, under load, opened in headless
# Chromium (ui_check.js) with the master key as Basic credentials: no
# console errors, nothing fetched from elsewhere, the live charts fill, the
# request browser lists the log and finds a request by its id with its
# attempts. The screenshot is left in OUT_DIR; with --docs it is also copied
# to docs/img/ui.png (the README's image comes from this step).
#   tests/browser/ui.sh SLUICE_BIN OUT_DIR [--docs]
# Fails (never skips) when Chromium or playwright-core is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$1
out=$2
docs=${3:-}
mkdir -p "$out"
source "$here/common.sh"

"$bin" mock --listen 127.0.0.1:0 --latency-ms 5-30 --fail-rate 0.2 --error-mix 500,429 \
  --retry-after 0 --seed 5 >"$work/m1.out" 2>&1 &
pids+=($!)
"$bin" mock --listen 127.0.0.1:0 --latency-ms 10-40 --token-ms 3 >"$work/m2.out" 2>&1 &
pids+=($!)
p1=$(port_of "$work/m1.out")
p2=$(port_of "$work/m2.out")
cat >"$work/serve.yaml" <<YAML
log_bodies: {max_bytes: 4096, redact: ['sk-[A-Za-z0-9]{16,}']}
models:
  - name: gpt-4o-mini
    deployments:
      - {name: east, url: 'http://127.0.0.1:$p1', max_concurrency: 6,
         retry: {max_attempts: 3, backoff: fixed, base_ms: 5}}
      - {name: west, url: 'http://127.0.0.1:$p2', max_concurrency: 4}
  - name: gpt-4o
    deployments:
      - {name: big, url: 'http://127.0.0.1:$p2', max_concurrency: 3}
YAML
SLUICE_MASTER_KEY=mk-browser "$bin" serve --config "$work/serve.yaml" --listen 127.0.0.1:0 \
  --db "$work/serve.db" --quiet >"$work/serve.out" 2>&1 &
pids+=($!)
sp=$(port_of "$work/serve.out")
url=http://127.0.0.1:$sp/v1/chat/completions
# traffic for the whole check (bounded in time), and a first batch in the log
"$bin" load "$url" -d 12s -r 60 -c 8 --quiet >/dev/null &
pids+=($!)
"$bin" load "$url" -d 12s -c 2 --stream --model gpt-4o --quiet >/dev/null &
pids+=($!)
"$bin" load "$url" -n 40 -c 4 --quiet >/dev/null
node "$here/ui_check.js" "http://127.0.0.1:$sp" mk-browser "$out/ui.png"
if [ "$docs" = "--docs" ]; then
  mkdir -p "$root/docs/img"
  cp "$out/ui.png" "$root/docs/img/"
  echo "browser: screenshot copied to docs/img/ui.png"
fi
