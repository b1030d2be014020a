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
)
packages+=("$@")

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
