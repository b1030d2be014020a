#!/usr/bin/env bash
# Installs what is missing, builds, and runs `sluice simulate` with its
# defaults on the embedded SQLite database (./sluice.db). Extra arguments
# go to sluice simulate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec ./build/sluice simulate "$@"
