#!/usr/bin/env bash
# Refreshes third_party/uplot/ (compiled into `sluice report` pages) from
# the uplot package npm installed in tools/node (pinned by its
# package-lock.json; scripts/setup.sh runs npm ci). The copy is committed
# so that building sluice needs no npm; tests/tools/uplot_vendored.sh
# fails when it differs from the pinned package.
#   scripts/vendor-uplot.sh           copy
#   scripts/vendor-uplot.sh --check   exit 1 when the copy differs
set -euo pipefail
cd "$(dirname "$0")/.."
src=tools/node/node_modules/uplot
dst=third_party/uplot
files=(dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE)
[ -f "$src/package.json" ] || { echo "vendor-uplot: $src missing; run scripts/setup.sh (npm ci)" >&2; exit 1; }
version=$(node -p "require('./$src/package.json').version")
if [ "${1:-}" = "--check" ]; then
  for f in "${files[@]}"; do
    cmp -s "$src/$f" "$dst/$(basename "$f")" || { echo "vendor-uplot: $dst/$(basename "$f") differs from $src/$f (run scripts/vendor-uplot.sh)" >&2; exit 1; }
  done
  [ "$(cat "$dst/VERSION")" = "$version" ] || { echo "vendor-uplot: $dst/VERSION is not $version" >&2; exit 1; }
  echo "vendor-uplot: $dst matches uplot $version"
  exit 0
fi
mkdir -p "$dst"
for f in "${files[@]}"; do cp "$src/$f" "$dst/$(basename "$f")"; done
echo "$version" > "$dst/VERSION"
echo "vendor-uplot: copied uplot $version into $dst"
