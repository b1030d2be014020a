#!/usr/bin/env bash
# bench/http_client.sh: CPU cost per request of the HTTP client (libcurl
# multi on libuv), next to the CPU nginx spends serving the same requests.
#
#   bash bench/http_client.sh              # 3 runs of each case
#   RUNS=1 N=20000 bash bench/http_client.sh   # N requests per run (sequential: N/5)
#
# A private nginx (own config, prefix and pid file in a temp dir, one worker,
# 127.0.0.1 on a high port; the system service is not touched) returns a
# fixed ~340-byte chat-completion body. nginx runs on CPU0, the client on
# CPU1. Cases: sequential GET (concurrency 1), GET and POST (~600-byte chat
# request) at concurrency 16 and 64, all over kept-alive connections.
# Client CPU is getrusage of the bench process; nginx CPU is the worker's
# utime+stime from /proc over the same run. Nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
RUNS=${RUNS:-3}
N=${N:-100000}
PORT=${PORT:-18481}
dir=$(mktemp -d /tmp/sluice-nginx-XXXXXX)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a fixed response body used to benchmark the HTTP path."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}'
mkdir -p "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT reuseport backlog=4096;
    location / {
      default_type application/json;
      return 200 '$body';
    }
  }
}
CONF
taskset -c 0 nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
  sleep 0.1
done
worker=$(pgrep -P "$nginx_pid" | head -1)
ticks=$(getconf CLK_TCK)
worker_cpu() { awk '{print $14 + $15}' "/proc/$worker/stat"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel $(uname -r), libcurl $(curl-config --version | cut -d' ' -f2), libuv $(pkg-config --modversion libuv),"\
     "nginx $(nginx -v 2>&1 | cut -d/ -f2), $(date -u +%F)"
run() { # requests, concurrency, extra flags
  local n=$1
  for i in $(seq 1 "$RUNS"); do
    c0=$(worker_cpu)
    line=$(taskset -c 1 ./build/http_client_bench "http://127.0.0.1:$PORT/v1/chat/completions" \
      -n "$n" -c "$2" ${3:-})
    c1=$(worker_cpu)
    reqs=$(echo "$line" | sed -E 's/.*, ([0-9]+) requests,.*/\1/')
    # the warm-up (n/10, at most 1000) also hit nginx during this window
    warm=$(( n / 10 < 1000 ? n / 10 : 1000 ))
    ng=$(awk -v d=$((c1 - c0)) -v t="$ticks" -v r=$((reqs + warm)) 'BEGIN{printf "%.1f", d / t * 1e6 / r}')
    echo "  $line; nginx CPU $ng us/request"
  done
}
echo "== sequential GET"; run $((N / 5)) 1
echo "== GET, concurrency 16"; run "$N" 16
echo "== POST chat body, concurrency 16"; run "$N" 16 --post
echo "== GET, concurrency 64"; run "$N" 64
