#!/usr/bin/env bash
# bench/otel.sh: what tracing costs `sluice serve` (issue 13): serve's CPU
# per request with `otel:` off, on with every request traced (sample 1.0)
# and on with a tenth traced (sample 0.1), JSON and streamed, exporting to
# a collector that takes everything (a node HTTP server answering 200).
#
#   bash bench/otel.sh
#   ROUNDS=1 DURATION=2 bash bench/otel.sh
#
# serve pinned to CPU0 (logging on, SQLite) in front of a zero-latency
# `sluice mock` (16 tokens an answer); mock, collector and `sluice load`
# share CPU1, so serve's own CPU per request can be read from /proc (the
# exporter's thread is serve's: its encoding and sending are counted).
# Variants interleaved, ROUNDS times; medians printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
CONNS=${CONNS:-32}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
BASE=${PORT:-18600}
bin=$PWD/build/sluice
command -v taskset >/dev/null || { echo "bench/otel.sh: taskset is not installed" >&2; exit 1; }
command -v node >/dev/null || { echo "bench/otel.sh: node is not installed (scripts/setup.sh)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /tmp/sluice-bench-otel-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  rm -rf "$dir"
}
trap cleanup EXIT
SERVE=$BASE MOCK=$((BASE + 1)) COLLECTOR=$((BASE + 2))
taskset -c 1 "$bin" mock --listen 127.0.0.1:$MOCK --quiet &
pids+=($!)
taskset -c 1 node -e '
let spans = 0;
require("http").createServer((q, s) => {
  let n = 0; q.on("data", (d) => { n += d.length; });
  q.on("end", () => { spans++; s.setHeader("content-type", "application/json"); s.end("{}"); });
}).listen(+process.argv[1], "127.0.0.1");' $COLLECTOR &
pids+=($!)
sleep 0.5

start_serve() { # OTEL-YAML
  cat >"$dir/serve.yaml" <<CONF
$1
models:
  - name: m
    deployments:
      - {url: 'http://127.0.0.1:$MOCK', max_concurrency: 20000, queue_length: 100000}
CONF
  rm -f "$dir"/serve.db*
  taskset -c 0 "$bin" serve --config "$dir/serve.yaml" --listen 127.0.0.1:$SERVE \
    --db "$dir/serve.db" --quiet >/dev/null 2>"$dir/serve.err" &
  serve_pid=$!; pids+=("$serve_pid")
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SERVE/ready" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/otel.sh: sluice serve did not start:" >&2; cat "$dir/serve.err" >&2; return 1
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($14 + $15) / hz}' "/proc/$1/stat"; }
otel_yaml() { # VARIANT
  case $1 in
    off) echo "" ;;
    all) echo "otel: {endpoint: 'http://127.0.0.1:$COLLECTOR', sample: 1.0}" ;;
    tenth) echo "otel: {endpoint: 'http://127.0.0.1:$COLLECTOR', sample: 0.1}" ;;
  esac
}
for s in json stream; do
  st=$([ $s = stream ] && echo ',"stream":true' || echo '')
  printf '{"model":"m","max_tokens":16%s,"messages":[{"role":"user","content":"Summarize a famous novel."}]}' \
    "$st" >"$dir/chat_$s.json"
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "kernel $(uname -r), $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=$dir/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for v in off all tenth; do
    start_serve "$(otel_yaml $v)"
    for mode in json stream; do
      url="http://127.0.0.1:$SERVE/v1/chat/completions"
      taskset -c 1 "$bin" load "$url" --body "$dir/chat_$mode.json" -c 8 -d 1s --quiet --json >/dev/null
      s0=$(cpu_of "$serve_pid")
      j=$(taskset -c 1 "$bin" load "$url" --body "$dir/chat_$mode.json" -c "$CONNS" -d "${DURATION}s" --quiet --json)
      sleep 1.2 # the exporter's last batch of this run, counted in this run
      s1=$(cpu_of "$serve_pid")
      exported=$(curl -fsS "http://127.0.0.1:$SERVE/metrics" | awk '/^sluice_otel_traces_exported_total/ {print $2}')
      echo "$v $mode $(echo "$s1 - $s0" | bc -l) ${exported:-0} $j" >>"$results"
    done
    stop_serve
  done
  echo "  round $round done" >&2
done

python3 - "$results" "$CONNS" "$DURATION" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, mode, cpu, exported, j = line.split(" ", 4)
    rows.setdefault((v, mode), []).append((float(cpu), int(float(exported)), json.loads(j)))
med = statistics.median
print(f"== zero-latency upstream, {sys.argv[2]} connections, closed loop, {sys.argv[3]}s each; "
      "serve CPU includes the exporter thread")
for mode in ("json", "stream"):
    print(f"-- {mode}")
    base = None
    for v in ("off", "all", "tenth"):
        rs = rows.get((v, mode))
        if not rs:
            continue
        cpu = [r[0] * 1e6 / max(r[2]["requests"], 1) for r in rs]
        c = med(cpu)
        base = base or c
        print(f"  otel {v:<6} {med(r[2]['rps'] for r in rs):7.0f} requests/s  "
              f"p99 {med(r[2]['p99_ms'] for r in rs) * 1e3:6.0f} us  serve CPU {c:5.1f} us/request "
              f"({c / base:.3f}x off)  traces exported (last round) {rs[-1][1]}  "
              f"[rounds: " + " ".join(f"{x:.1f}" for x in cpu) + "]")
PY
