#!/usr/bin/env bash
# bench/ui.sh: what the dashboard costs `sluice serve` (issue 13): serve's
# CPU per request with no dashboard open, and with live pages open (LIVE
# connections to /ui/live, each reading its event a second, as a browser's
# EventSource does), JSON and streamed. Goal: within 2% of none open.
#
#   bash bench/ui.sh
#   ROUNDS=1 DURATION=2 bash bench/ui.sh
#
# serve pinned to CPU0 (logging on, SQLite, SLUICE_MASTER_KEY set in both
# variants) in front of a zero-latency `sluice mock` (16 tokens an answer);
# mock, the live readers (curl) and `sluice load` share CPU1, so serve's
# own CPU per request can be read from /proc. Variants interleaved, ROUNDS
# times; medians printed.
BASE=${PORT:-18650}
LIVE=${LIVE:-3}
NAME=ui source "$(dirname "$0")/serve_cpu.sh"
export SLUICE_MASTER_KEY=bench-master-key
live_pids=()
open_live() { # N readers of /ui/live
  for _ in $(seq "$1"); do
    taskset -c 1 curl -sN -o /dev/null -H "Authorization: Bearer $SLUICE_MASTER_KEY" \
      "http://127.0.0.1:$SERVE/ui/live" &
    live_pids+=($!); pids+=($!)
  done
  sleep 1.5 # connected, and the first events sent
}
close_live() { for p in "${live_pids[@]}"; do kill "$p" 2>/dev/null || true; done; live_pids=(); }

results=$dir/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for v in closed open; do
    start_serve ""
    [ $v = open ] && open_live "$LIVE"
    for mode in json stream; do
      url="http://127.0.0.1:$SERVE/v1/chat/completions"
      taskset -c 1 "$bin" load "$url" --body "$dir/chat_$mode.json" -c 8 -d 1s --quiet --json >/dev/null
      s0=$(cpu_of "$serve_pid")
      j=$(taskset -c 1 "$bin" load "$url" --body "$dir/chat_$mode.json" -c "$CONNS" -d "${DURATION}s" --quiet --json)
      s1=$(cpu_of "$serve_pid")
      echo "$v $mode $(echo "$s1 - $s0" | bc -l) $j" >>"$results"
    done
    close_live
    stop_serve
  done
  echo "  round $round done" >&2
done

python3 - "$results" "$CONNS" "$DURATION" "$LIVE" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, mode, cpu, j = line.split(" ", 3)
    rows.setdefault((v, mode), []).append((float(cpu), json.loads(j)))
med = statistics.median
print(f"== zero-latency upstream, {sys.argv[2]} connections, closed loop, {sys.argv[3]}s each; "
      f"'open': {sys.argv[4]} live pages reading /ui/live")
for mode in ("json", "stream"):
    print(f"-- {mode}")
    base = None
    for v in ("closed", "open"):
        rs = rows.get((v, mode))
        if not rs:
            continue
        cpu = [r[0] * 1e6 / max(r[1]["requests"], 1) for r in rs]
        c = med(cpu)
        base = base or c
        print(f"  dashboard {v:<6} {med(r[1]['rps'] for r in rs):7.0f} requests/s  "
              f"p99 {med(r[1]['p99_ms'] for r in rs) * 1e3:6.0f} us  serve CPU {c:5.1f} us/request "
              f"({c / base:.3f}x closed)  [rounds: " + " ".join(f"{x:.1f}" for x in cpu) + "]")
PY
