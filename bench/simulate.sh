#!/usr/bin/env bash
# bench/simulate.sh: figures for `sluice simulate` (issue: foundation).
#
#   bash bench/simulate.sh            # both parts, 3 runs each
#   RUNS=1 bash bench/simulate.sh     # quicker
#   PARTS=throughput bash bench/simulate.sh
#
# (a) efficiency: the default scenario (500 requests, concurrency 10,
#     100-500 ms attempts, fail rate 0.3, full-jitter backoff); efficiency
#     is the ideal makespan (all attempt and backoff time / concurrency)
#     over the actual one. Goal >= 0.97.
# (b) throughput: 1,000,000 requests, concurrency 1,000, zero latency, fail
#     rate 0.3, no backoff wait, every finished request persisted to SQLite
#     (synchronous=FULL, then NORMAL). Requests/s is counted to the moment
#     the last row is committed; peak RSS per request from getrusage.
#     Goals: >= 400,000 requests/s, < 256 bytes of peak RSS per request.
#
# Prints one line per run and a summary; nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
RUNS=${RUNS:-3}
PARTS=${PARTS:-"efficiency throughput"}
out=$(mktemp -d /tmp/sluice-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
bin=./build/sluice

field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel $(uname -r), SQLite $(sqlite3 --version | cut -d' ' -f1), $(date -u +%F)"

if [[ $PARTS == *efficiency* ]]; then
  echo "== (a) default scenario efficiency (goal >= 0.97)"
  for i in $(seq 1 "$RUNS"); do
    json=$("$bin" simulate --seed "$i" --quiet --json --db "$out/eff-$i.db")
    echo "$json" | python3 -c "
import json,sys; d=json.load(sys.stdin)
print(f\"  seed {d['seed']}: makespan {d['makespan_s']:.2f} s, ideal {d['ideal_makespan_s']:.2f} s, \"
      f\"efficiency {d['efficiency']:.3f}, retries {d['retries']}, failed {d['failed']}\")"
  done
fi

if [[ $PARTS == *throughput* ]]; then
  for sync in full normal; do
    echo "== (b) 1,000,000 requests, concurrency 1000, zero latency, fail rate 0.3, sync=$sync"
    for i in $(seq 1 "$RUNS"); do
      rm -f "$out"/tp.db*
      t0=$(date +%s.%N)
      json=$("$bin" simulate --requests 1000000 --concurrency 1000 --latency-ms 0 \
        --fail-rate 0.3 --backoff none --seed "$i" --sync "$sync" --quiet --json --db "$out/tp.db")
      t1=$(date +%s.%N)
      rows=$(sqlite3 "$out/tp.db" "SELECT count(*) FROM requests")
      echo "$json" | ROWS=$rows T0=$t0 T1=$t1 python3 -c "
import json,os,sys; d=json.load(sys.stdin)
print(f\"  run {d['seed']}: {d['throughput_rps']:,.0f} requests/s to the last row \"
      f\"({d['wall_s']:.2f} s; simulator done at {d['processed_s']:.2f} s), \"
      f\"{d['retries']:,} retries, rows {int(os.environ['ROWS']):,}, \"
      f\"peak RSS {d['peak_rss_kb']/1024:.0f} MiB = {d['peak_rss_kb']*1024/d['requests']:.0f} B/request, \"
      f\"analytics {d['analytics_s']:.2f} s, whole process {float(os.environ['T1'])-float(os.environ['T0']):.2f} s\")"
    done
  done
fi
