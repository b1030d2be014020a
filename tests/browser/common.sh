# What the browser tests share (sourced by report.sh and ui.sh): a work
# directory and the processes to stop at exit, and the port a server
# prints in its "listening on http://127.0.0.1:PORT" line.
work=$(mktemp -d "/tmp/sluice-browser-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port_of() {
  local file=$1 i
  for i in $(seq 1 400); do # 20 s: sanitized builds start slowly
    if grep -qo 'listening on http://127.0.0.1:[0-9]*' "$file" 2>/dev/null; then
      grep -o 'listening on http://127.0.0.1:[0-9]*' "$file" | head -1 | sed 's/.*://'
      return 0
    fi
    sleep 0.05
  done
  echo "browser: no listening line in $file" >&2
  return 1
}

# A gateway under test: two mocks (a flaky one, a steady streaming one) and
# `sluice serve` in front of them, three deployments on two models, its log
# in $work/serve.db. $1: YAML before the models (may be empty); $2: the flaky
# deployment's max_attempts. Sets serve_pid, base (the gateway) and url.
start_serve() {
  local head=$1 attempts=$2 p1 p2 sp
  "$bin" mock --listen 127.0.0.1:0 --latency-ms 5-40 --fail-rate 0.2 --error-mix 500,429 \
    --retry-after 0 --seed 3 >"$work/m1.out" 2>&1 &
  pids+=($!)
  "$bin" mock --listen 127.0.0.1:0 --latency-ms 10-60 --token-ms 2 >"$work/m2.out" 2>&1 &
  pids+=($!)
  p1=$(port_of "$work/m1.out")
  p2=$(port_of "$work/m2.out")
  cat >"$work/serve.yaml" <<YAML
$head
models:
  - name: gpt-4o-mini
    deployments:
      - {name: east, url: 'http://127.0.0.1:$p1', max_concurrency: 6,
         retry: {max_attempts: $attempts, backoff: fixed, base_ms: 5}}
      - {name: west, url: 'http://127.0.0.1:$p2', max_concurrency: 4}
  - name: gpt-4o
    deployments:
      - {name: big, url: 'http://127.0.0.1:$p2', max_concurrency: 3}
YAML
  "$bin" serve --config "$work/serve.yaml" --listen 127.0.0.1:0 --db "$work/serve.db" \
    --quiet >"$work/serve.out" 2>&1 &
  serve_pid=$!
  pids+=($serve_pid)
  sp=$(port_of "$work/serve.out")
  base=http://127.0.0.1:$sp
  url=$base/v1/chat/completions
}
