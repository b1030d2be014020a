#!/usr/bin/env bash
# Installs what sluice needs to build and test, from Debian packages only.
# Safe to run again: it installs only what is missing. Extra package names
# given as arguments are installed too (bench/serve.sh asks for nginx).
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build clang-format
  libuv1-dev libsqlite3-dev sqlite3 libyaml-dev libssl-dev libcurl4-openssl-dev
  libpq-dev postgresql
  libcriterion-dev
  python3-prometheus-client  # the reference parser the /metrics test runs (/usr/bin/python3)
  clang libclang-rt-14-dev     # libFuzzer: scripts/fuzz.sh and the smoke in scripts/test.sh
  libhttp-parser-dev libjansson-dev  # reference parsers of the differential tests
  redis-server libhiredis-dev  # limits shared across instances (src/limits/redis_link.c) and their tests
  chromium  # the browser test of `sluice report` pages (tests/browser/, driven by npm playwright-core)
)
packages+=("$@")
# node and npm run the reference tokenizer (npm tiktoken) of the tokenizer
# test and benchmark; a machine may already have them from elsewhere.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages the tests and benchmarks use as references, pinned by
# tools/node/package-lock.json.
if [ ! -f tools/node/node_modules/.package-lock.json ] ||
  ! cmp -s tools/node/package-lock.json tools/node/node_modules/.sluice-lock; then
  echo "setup: npm ci in tools/node"
  (cd tools/node && npm ci --silent --no-audit --no-fund && cp package-lock.json node_modules/.sluice-lock)
fi
