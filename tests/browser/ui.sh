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

SLUICE_MASTER_KEY=mk-browser start_serve \
  "log_bodies: {max_bytes: 4096, redact: ['sk-[A-Za-z0-9]{16,}']}" 3
# traffic for the whole check (bounded in time), and a first batch in the log
"$bin" load "$url" -d 12s -r 60 -c 8 --quiet >/dev/null &
pids+=($!)
"$bin" load "$url" -d 12s -c 2 --stream --model gpt-4o --quiet >/dev/null &
pids+=($!)
"$bin" load "$url" -n 40 -c 4 --quiet >/dev/null
node "$here/ui_check.js" "$base" mk-browser "$out/ui.png"
if [ "$docs" = "--docs" ]; then
  mkdir -p "$root/docs/img"
  cp "$out/ui.png" "$root/docs/img/"
  echo "browser: screenshot copied to docs/img/ui.png"
fi
