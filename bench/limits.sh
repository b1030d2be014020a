#!/usr/bin/env bash
# bench/limits.sh: the cost of a limit check. (a) The local sliding window
# (src/limits/window.c) per take; (b) sl_redis_admit against a redis-server
# this script starts on a private loopback port (no persistence, killed at
# the end), with 1 op (RPM) and 4 ops (RPM + TPM + budget + semaphore), one
# call at a time and 64 in flight: p50/p99 latency and the CPU time of the
# calling process per call. The bench runs on CPU0, redis-server on CPU1.
# Goal (issue 11): p50 under 100 µs on loopback, at most 5 µs of gateway
# CPU per request.
#
#   bash bench/limits.sh            # TAKES=20000000 CALLS=50000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
TAKES=${TAKES:-20000000}
CALLS=${CALLS:-50000}
bin=${BUILD:-build}/limits_bench
taskset -c 0 "$bin" local "$TAKES"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c 1 redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
  --loglevel warning >/dev/null 2>&1 &
redis=$!
trap 'kill $redis 2>/dev/null; wait $redis 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$port"
timeout 300 taskset -c 0 "$bin" redis "redis://127.0.0.1:$port" "$CALLS"
