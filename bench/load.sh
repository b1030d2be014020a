#!/usr/bin/env bash
# bench/load.sh: `sluice load` against wrk, and `sluice mock` against nginx.
#
#   bash bench/load.sh                     # 64 connections, 10 s per run, 2 runs each
#   CONNS=256 DURATION=5 RUNS=3 bash bench/load.sh
#
# nginx (Debian nginx-light, one worker, private config, 127.0.0.1 only,
# keep-alive, access_log off) answers every request with a fixed ~340-byte
# chat-completion JSON body (`return 200 '...'`), pinned to CPU0. wrk and
# `sluice load` are pinned to CPU1, send the same POST request (same
# headers, same body) over the same number of keep-alive connections for
# the same duration, alternating: wrk, sluice, wrk, sluice, ...
# Goal: sluice load generates at least as many requests/s as wrk.
# Then the same pair of clients drives `sluice mock` (zero latency, pinned to
# CPU0 too), answering the same POST with its own chat-completion body.
# Goal: sluice mock serves at least 90% of nginx's requests/s.
# TARGETS="nginx" skips the mock; TARGETS="mock" skips nginx.
# Prints one line per run and a summary; nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
CONNS=${CONNS:-64}
DURATION=${DURATION:-10}
RUNS=${RUNS:-2}
PORT=${PORT:-18089}
bin=$PWD/build/sluice
for tool in nginx wrk taskset; do
  command -v "$tool" >/dev/null || { echo "bench/load.sh: $tool is not installed" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "bench/load.sh: needs 2 cores (server on CPU0, client on CPU1)" >&2; exit 1; }

dir=$(mktemp -d /tmp/sluice-bench-load-XXXXXX)
cleanup() {
  [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$dir"
}
trap cleanup EXIT

body='{"id":"chatcmpl-8f3a2b1c","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Air molecules scatter the blue part of sunlight far more than the red."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":16,"total_tokens":41}}'
req='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly."},{"role":"user","content":"Explain in two sentences why the sky is blue, for a curious ten-year-old."}],"max_tokens":128,"temperature":0.7}'

cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$PORT;
    location / {
      default_type application/json;
      return 200 '$body';
    }
  }
}
CONF
taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" 2>/dev/null
sleep 0.3
url=http://127.0.0.1:$PORT/v1/chat/completions
size=$(curl -s -o /dev/null -w '%{size_download}' -X POST -d "$req" "$url" 2>/dev/null || echo "?")

# The same request for both: POST, same headers, same body. wrk formats it
# once from these globals (no request() function, so no Lua per request).
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["User-Agent"] = "sluice-load/0.1.0"
wrk.headers["Accept"] = "application/json"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$req'
LUA
printf '%s' "$req" >"$dir/body.json"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel $(uname -r), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(date -u +%F)"
echo "nginx on CPU0 (1 worker), clients on CPU1; $CONNS connections, ${DURATION} s per run;" \
     "response body $size bytes"

# wrk's latency lines: "50%  242.00us" -> milliseconds.
to_ms() { python3 -c "
import sys,re
m=re.match(r'([\d.]+)(us|ms|s)$', sys.argv[1]); v=float(m.group(1))
print(f'{v/1000 if m.group(2)==\"us\" else v*1000 if m.group(2)==\"s\" else v:.3f}')" "$1"; }

# CPU seconds (user + system) of the server process so far, from /proc.
server_pid=
ncpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$server_pid/stat"; }
per_req() { python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) * 1e6 / max(int(sys.argv[3]), 1):.1f}')" "$@"; }

results=()
run_target() { # NAME URL
  local name=$1 url=$2
  for i in $(seq 1 "$RUNS"); do
    n0=$(ncpu)
    out=$(taskset -c 1 /usr/bin/time -f "%U %S" -o "$dir/cpu" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$dir/post.lua" --latency "$url")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
    p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
    errs=$(echo "$out" | awk '/Socket errors|Non-2xx/ {print}' | tr '\n' ' ')
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    cpu=$(awk -v n="$n" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$dir/cpu")
    srv=$(per_req "$n0" "$(ncpu)" "$n")
    printf "  %-6s wrk          run %d: %10.0f requests/s  p50 %.3f ms  p99 %.3f ms  CPU us/request: client %s, server %s %s\n" "$name" "$i" "$rps" "$p50" "$p99" "$cpu" "$srv" "$errs"
    results+=("$name-wrk $rps")

    n0=$(ncpu)
    json=$(taskset -c 1 /usr/bin/time -f "%U %S" -o "$dir/cpu" "$bin" load "$url" -c "$CONNS" -d "${DURATION}s" --body "$dir/body.json" \
      -H "Content-Type: application/json" --json --quiet)
    n1=$(ncpu)
    echo "$json" | CPU="$(cat "$dir/cpu")" N0=$n0 N1=$n1 NAME=$name python3 -c "
import json,os,sys; d=json.load(sys.stdin)
bad=d['requests']-d['status'].get('200',0)
cpu=sum(map(float,os.environ['CPU'].split()))*1e6/max(d['requests'],1)
srv=(float(os.environ['N1'])-float(os.environ['N0']))*1e6/max(d['requests'],1)
print(f\"  {os.environ['NAME']:<6} sluice load  run $i: {d['rps']:10.0f} requests/s  p50 {d['p50_ms']:.3f} ms  p99 {d['p99_ms']:.3f} ms  CPU us/request: client {cpu:.1f}, server {srv:.1f}\"
      + (f'  ({bad} not 200)' if bad else ''))"
    results+=("$name-sluice $(echo "$json" | python3 -c "import json,sys; print(json.load(sys.stdin)['rps'])")")
  done
}

TARGETS=${TARGETS:-"nginx mock"}
if [[ $TARGETS == *nginx* ]]; then
  server_pid=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
  run_target nginx "$url"
fi
if [[ $TARGETS == *mock* ]]; then
  taskset -c 0 "$bin" mock --listen 127.0.0.1:$((PORT + 1)) --quiet &
  mock_pid=$!
  sleep 0.3
  server_pid=$mock_pid
  run_target mock "http://127.0.0.1:$((PORT + 1))/v1/chat/completions"
  kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true
fi

printf '%s\n' "${results[@]}" | python3 -c "
import sys
runs={}
for l in sys.stdin:
    k,v=l.split(); runs.setdefault(k,[]).append(float(v))
mean=lambda k: sum(runs[k])/len(runs[k]) if k in runs else None
w,s=mean('nginx-wrk'),mean('nginx-sluice')
if w and s: print(f'nginx: wrk {w:,.0f} requests/s, sluice load {s:,.0f} requests/s, ratio {s/w:.3f} (goal >= 1)')
for c in ('wrk','sluice'):
    n,m=mean('nginx-'+c),mean('mock-'+c)
    if n and m: print(f'driven by {c}: sluice mock {m:,.0f} requests/s, nginx {n:,.0f} requests/s, ratio {m/n:.3f} (goal >= 0.9)')
"
