# What the serve benches share (sourced): `bench_setup NAME TOOL...` checks
# that the tools are installed, raises the open-file limit, makes a
# temporary directory $dir and an empty list $pids, and at exit kills every
# pid in $pids, runs bench_on_exit when the script defines one, and removes
# $dir.
bench_setup() {
  local name=$1 tool
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
