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
