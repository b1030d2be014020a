#!/usr/bin/env bash
# bench/limits_serve.sh: what a key's limits cost in `sluice serve`, held in
# the process and held in Redis (issue 11).
#
#   bash bench/limits_serve.sh
#   ROUNDS=1 DURATION=2 VARIANTS="none local redis" bash bench/limits_serve.sh
#
# One static key (YAML, sha256) is sent with every request; the variants
# differ only in its limits and in where they are held. Each variant is a
# fresh `sluice serve` pinned to CPU0, in front of a zero-latency
# `sluice mock`, called by `sluice load`; mock, load and redis-server share
# CPU1, so serve's own CPU per request can be read from /proc.
#   none        the key has no limits (the baseline: auth, routing, logging)
#   local       rpm + max_parallel, in the process
#   local_tpm   rpm + tpm + max_parallel: the prompt is counted exactly, on
#               the thread pool, before admission
#   redis_dep   `redis:` and a key without limits: only the deployment's
#               max_concurrency is held in Redis (a semaphore with leases)
#   redis       rpm + max_parallel held in Redis (and the deployment's semaphore)
#   redis_tpm   rpm + tpm + max_parallel held in Redis
# Limits high enough never to refuse: the figures are the cost of checking.
# For each variant, ROUNDS times (the variants interleaved, so that the
# machine's other load falls on all of them alike; the medians are printed):
#   cpu:     CONNS connections, closed loop, DURATION: requests/s, p50/p99,
#            serve's CPU µs per request (and, for the Redis variants,
#            redis-server's script calls and CPU µs per request)
#   rate:    an open loop at RATE requests/s (default 2000, what every variant
#            sustains): serve's CPU µs per request at the same load, the
#            fair comparison (a serve that is less busy wakes up for fewer
#            events at a time and pays more per request)
#   latency: one connection, closed loop, DURATION: p50/p99; the difference
#            to `none` is what the limiter adds to a request's latency (the
#            Redis variants: the round trip(s) to Redis)
# Goal (issue 11): the Redis path adds at most one round trip (p50 under
# 100 µs on loopback) and no more than 5 µs of gateway CPU per request.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
VARIANTS=${VARIANTS:-"none local local_tpm redis_dep redis redis_tpm"}
CONNS=${CONNS:-64}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-2000}
BASE=${PORT:-18300}
bin=$PWD/build/sluice
source bench/lib.sh
bench_setup limits_serve taskset redis-server

MOCK=$BASE SERVE=$((BASE + 1)) REDIS=$((BASE + 2))
KEY=sk-bench-limits
SHA=$("$bin" serve --hash-key "$KEY")

taskset -c 1 "$bin" mock --listen 127.0.0.1:$MOCK --quiet &
pids+=("$!"); sleep 0.3
taskset -c 1 redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no \
  --loglevel warning >"$dir/redis.log" 2>&1 &
redis_pid=$!; pids+=("$redis_pid"); sleep 0.3

# the script calls (EVALSHA) Redis has run; the commands inside a script count apart
redis_calls() { redis-cli -p $REDIS info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($14 + $15) / hz}' "/proc/$1/stat"; }

start_serve() { # VARIANT
  local limits="" redis=""
  case $1 in
    local|redis) limits="rpm: 100000000, max_parallel: 100000" ;;
    local_tpm|redis_tpm) limits="rpm: 100000000, tpm: 4000000000, max_parallel: 100000" ;;
  esac
  case $1 in redis*) redis="redis: redis://127.0.0.1:$REDIS/0" ;; esac
  cat >"$dir/serve.yaml" <<CONF
$redis
keys:
  - {name: bench, sha256: $SHA${limits:+, $limits}}
models:
  - name: "*"
    deployments:
      - url: http://127.0.0.1:$MOCK
        max_concurrency: 20000
        queue_length: 100000
CONF
  bench_serve "'$1'"
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; }

load() { taskset -c 1 "$bin" load "http://127.0.0.1:$SERVE/v1/chat/completions" \
  -H "Authorization: Bearer $KEY" "$@" --json --quiet; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "kernel $(uname -r), $(redis-server --version | sed 's/ sha=.*//'), $(date -u +%F)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS rounds, the variants interleaved; each figure the median of the rounds"
# One line per measurement: VARIANT PART SERVE_CPU_S REDIS_CPU_S REDIS_COMMANDS JSON
results=$dir/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for v in $VARIANTS; do
    start_serve "$v" || { echo "  $v: skipped (serve refused the config)"; continue; }
    load -c 8 -d 1s >/dev/null # warm up: connections, the thread pool, Redis's script cache
    s0=$(cpu_of "$serve_pid"); r0=$(cpu_of "$redis_pid"); n0=$(redis_calls)
    j=$(load -c "$CONNS" -d "${DURATION}s")
    s1=$(cpu_of "$serve_pid"); r1=$(cpu_of "$redis_pid"); n1=$(redis_calls)
    echo "$v cpu $(echo "$s1 - $s0" | bc -l) $(echo "$r1 - $r0" | bc -l) $((n1 - n0)) $j" >>"$results"
    s0=$(cpu_of "$serve_pid")
    j=$(load -r "$RATE" -c 64 -d "${DURATION}s")
    s1=$(cpu_of "$serve_pid")
    echo "$v rate $(echo "$s1 - $s0" | bc -l) 0 0 $j" >>"$results"
    echo "$v latency 0 0 0 $(load -c 1 -d "${DURATION}s")" >>"$results"
    stop_serve
  done
  echo "  round $round done" >&2
done

python3 - "$results" "$CONNS" "$DURATION" "$RATE" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, part, scpu, rcpu, calls, j = line.split(" ", 5)
    rows.setdefault((v, part), []).append((float(scpu), float(rcpu), json.loads(j), int(calls)))
order = []
for v, _ in rows:
    if v not in order:
        order.append(v)
med = statistics.median

def fig(v, part):
    rs = rows.get((v, part), [])
    if not rs:
        return None
    f = {k: med(r[2][k] for r in rs) for k in ("rps", "p50_ms", "p99_ms")}
    f["scpu"] = med(r[0] * 1e6 / max(r[2]["requests"], 1) for r in rs)
    f["rcpu"] = med(r[1] * 1e6 / max(r[2]["requests"], 1) for r in rs)
    f["calls"] = med(r[3] / max(r[2]["requests"], 1) for r in rs)
    f["all_scpu"] = [r[0] * 1e6 / max(r[2]["requests"], 1) for r in rs]
    f["bad"] = sum(r[2]["requests"] - r[2]["status"].get("200", 0) for r in rs)
    return f

def table(part, title, cpu):
    print(title)
    base = fig("none", part)
    for v in order:
        f = fig(v, part)
        line = (f"  {v:<10} {f['rps']:8.0f} requests/s  p50 {f['p50_ms']*1e3:6.0f} us  "
                f"p99 {f['p99_ms']*1e3:6.0f} us")
        if cpu:
            line += f"  serve CPU {f['scpu']:5.1f} us/request"
            if base and v != "none":
                line += f" ({f['scpu'] - base['scpu']:+.1f})"
            if part == "cpu" and v.startswith("redis"):
                line += f"  redis-server {f['calls']:.2f} calls, {f['rcpu']:4.1f} us CPU/request"
            line += "  [rounds: " + " ".join(f"{x:.1f}" for x in f["all_scpu"]) + "]"
        elif base and v != "none":
            line += (f"  added p50 {(f['p50_ms'] - base['p50_ms'])*1e3:+4.0f} us  "
                     f"p99 {(f['p99_ms'] - base['p99_ms'])*1e3:+5.0f} us")
        if f["bad"]:
            line += f"  ({f['bad']} not 200)"
        print(line)

conns, duration, rate = sys.argv[2:5]
table("cpu", f"== cpu: zero-latency upstream, {conns} connections, closed loop, {duration}s each",
      True)
table("rate", f"== rate: open loop at {rate}/s, {duration}s each: every variant does the same work",
      True)
table("latency", f"== latency: one connection, closed loop, {duration}s each (added: minus none's)",
      False)
PY
