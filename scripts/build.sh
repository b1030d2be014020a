#!/usr/bin/env bash
# Builds sluice: build/ (optimised, what users and benchmarks run) and,
# with --asan, build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer,
# what the tests run).
set -euo pipefail
cd "$(dirname "$0")/.."

setup_dir() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

setup_dir build --buildtype=release -Db_ndebug=true
if [ "${1:-}" = "--asan" ]; then
  setup_dir build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=undefined -Dc_link_args=-fno-sanitize-recover=undefined
fi
