#!/usr/bin/env bash
# bench/sigv4.sh: the CPU of one AWS SigV4 signature (bench/sigv4_bench.c),
# on CPU0, ROUNDS times. What every attempt to a Bedrock deployment pays.
#
#   bash bench/sigv4.sh            # N=200000 ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
N=${N:-200000}
ROUNDS=${ROUNDS:-5}
for _ in $(seq "$ROUNDS"); do taskset -c 0 build/sigv4_bench "$N"; done
