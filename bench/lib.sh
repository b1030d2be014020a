# What the serve benches share (sourced): `bench_setup NAME TOOL...` checks
# that the tools are installed, raises the open-file limit, makes a
# temporary directory $dir and an empty list $pids, and at exit kills every
# pid in $pids, runs bench_on_exit when the script defines one, and removes
# $dir. $bench_name names the bench in messages.
bench_setup() {
  local name=$1 tool
  bench_name=$name
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench/$name.sh: $tool is not installed" >&2; exit 1; }
  done
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  dir=$(mktemp -d "/tmp/sluice-bench-$name-XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  sleep 0.3
  rm -rf "$dir"
}

# `bench_serve WHAT`: sluice serve ($bin) on CPU0 with $dir/serve.yaml,
# listening on $SERVE, its log in a fresh $dir/serve.db; waits for /ready
# (5 s). Sets serve_pid (and adds it to $pids); 1 with serve's stderr and
# WHAT (which config) when it did not start.
bench_serve() {
  rm -f "$dir"/serve.db*
  taskset -c 0 "$bin" serve --config "$dir/serve.yaml" --listen 127.0.0.1:$SERVE \
    --db "$dir/serve.db" --quiet >/dev/null 2>"$dir/serve.err" &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SERVE/ready" 2>/dev/null && return 0
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/$bench_name.sh: sluice serve did not start for $1:" >&2
  cat "$dir/serve.err" >&2
  return 1
}
