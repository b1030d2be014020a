# bench/serve_cpu.sh: what the benches that read serve's CPU per request
# share (sourced by bench/otel.sh and bench/ui.sh): the build, the tools,
# a temporary directory and the processes to stop at exit, a zero-latency
# `sluice mock` on CPU1, and serve on CPU0 with a config's preamble.
#   NAME=otel source bench/serve_cpu.sh   (then: start_serve "PREAMBLE", stop_serve, cpu_of PID)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build.sh
CONNS=${CONNS:-32}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
bin=$PWD/build/sluice
source bench/lib.sh
bench_setup "$NAME" taskset curl bc
SERVE=$BASE MOCK=$((BASE + 1))
taskset -c 1 "$bin" mock --listen 127.0.0.1:$MOCK --quiet &
pids+=($!)
sleep 0.5

start_serve() { # PREAMBLE (top-level config lines, may be empty)
  cat >"$dir/serve.yaml" <<CONF
$1
models:
  - name: m
    deployments:
      - {url: 'http://127.0.0.1:$MOCK', max_concurrency: 20000, queue_length: 100000}
CONF
  bench_serve "'${1:-(no preamble)}'"
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($14 + $15) / hz}' "/proc/$1/stat"; }
for s in json stream; do
  st=$([ $s = stream ] && echo ',"stream":true' || echo '')
  printf '{"model":"m","max_tokens":16%s,"messages":[{"role":"user","content":"Summarize a famous novel."}]}' \
    "$st" >"$dir/chat_$s.json"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "kernel $(uname -r), $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg)"
