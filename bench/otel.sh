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
BASE=${PORT:-18600}
NAME=otel source "$(dirname "$0")/serve_cpu.sh"
COLLECTOR=$((BASE + 2))
command -v node >/dev/null || { echo "bench/otel.sh: node is not installed (scripts/setup.sh)" >&2; exit 1; }
taskset -c 1 node -e '
let spans = 0;
require("http").createServer((q, s) => {
  let n = 0; q.on("data", (d) => { n += d.length; });
  q.on("end", () => { spans++; s.setHeader("content-type", "application/json"); s.end("{}"); });
}).listen(+process.argv[1], "127.0.0.1");' $COLLECTOR &
pids+=($!)
sleep 0.5
otel_yaml() { # VARIANT
  case $1 in
    off) echo "" ;;
    all) echo "otel: {endpoint: 'http://127.0.0.1:$COLLECTOR', sample: 1.0}" ;;
    tenth) echo "otel: {endpoint: 'http://127.0.0.1:$COLLECTOR', sample: 0.1}" ;;
  esac
}

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
