#!/usr/bin/env bash
# bench/providers.sh: what translating another provider's API costs in
# `sluice serve` (issue 10): serve's CPU per request for a deployment of
# each provider next to the OpenAI pass-through, JSON and streamed, and the
# other APIs in front (Anthropic's Messages API, OpenAI's Responses API).
#
#   bash bench/providers.sh
#   ROUNDS=1 DURATION=2 VARIANTS="openai anthropic" bash bench/providers.sh
#
# Each variant is a fresh `sluice serve` pinned to CPU0 (logging on, SQLite)
# in front of a zero-latency `sluice mock --api X` (16 tokens an answer);
# mock and `sluice load` share CPU1, so serve's own CPU per request can be
# read from /proc. Every request asks for 16 tokens (a stream: 16 events);
# the clients do not ask for the usage chunk (the gateway does). Variants (those whose mock this build has):
#   openai        OpenAI's API, passed through (the baseline)
#   anthropic     provider: anthropic (request, answer, stream translated)
#   gemini        provider: gemini
#   bedrock       provider: bedrock (signed; the stream's binary framing)
#   messages      a Messages API client on the OpenAI deployment (translated both ways)
#   messages_native  a Messages API client on the Anthropic deployment (passed through)
#   responses     a Responses API client on the OpenAI deployment
# For each, JSON and stream, ROUNDS times (interleaved; medians printed):
# CONNS connections, closed loop, DURATION: requests/s, p50/p99 and serve's
# CPU µs per request, and its ratio to openai's. Goal (issue 10): within
# 1.3x of the OpenAI pass-through.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
VARIANTS=${VARIANTS:-"openai anthropic gemini bedrock messages messages_native responses"}
CONNS=${CONNS:-32}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
BASE=${PORT:-18400}
bin=$PWD/build/sluice
source bench/lib.sh
bench_setup providers taskset
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 SLUICE_BENCH_KEY=sk-bench

SERVE=$BASE
declare -A mock_port
port=$((BASE + 1))
for api in openai anthropic gemini bedrock; do
  "$bin" mock --api "$api" --help >/dev/null 2>&1 || continue # not in this build
  taskset -c 1 "$bin" mock --api "$api" --listen 127.0.0.1:$port --quiet 2>/dev/null &
  p=$!; sleep 0.3
  if kill -0 "$p" 2>/dev/null; then pids+=("$p"); mock_port[$api]=$port; fi
  port=$((port + 1))
done

cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# the deployment of each provider (its mock), model "m"
deployment() { # API
  local u="http://127.0.0.1:${mock_port[$1]}"
  case $1 in
    openai) echo "{url: '$u', max_concurrency: 20000, queue_length: 100000}" ;;
    anthropic) echo "{provider: anthropic, url: '$u', api_key_env: SLUICE_BENCH_KEY, max_concurrency: 20000, queue_length: 100000}" ;;
    gemini) echo "{provider: gemini, url: '$u/v1beta', api_key_env: SLUICE_BENCH_KEY, max_concurrency: 20000, queue_length: 100000}" ;;
    bedrock) echo "{provider: bedrock, url: '$u', region: us-east-1, max_concurrency: 20000, queue_length: 100000}" ;;
  esac
}

start_serve() { # API
  cat >"$dir/serve.yaml" <<CONF
models:
  - name: m
    deployments:
      - $(deployment "$1")
CONF
  bench_serve "'$1'"
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; }

prompt="Summarize the plot of a famous novel in three sentences, please."
for s in json stream; do
  st=$([ $s = stream ] && echo ',"stream":true' || echo '')
  printf '{"model":"m","max_tokens":16%s,"messages":[{"role":"user","content":"%s"}]}' "$st" "$prompt" \
    >"$dir/messages_$s.json"
  printf '{"model":"m","max_output_tokens":16%s,"input":"%s"}' "$st" "$prompt" >"$dir/responses_$s.json"
  printf '{"model":"m","max_tokens":16%s,"messages":[{"role":"user","content":"%s"}]}' "$st" "$prompt" \
    >"$dir/chat_$s.json"
done

# VARIANT MODE: the load's arguments
load_args() {
  case $1 in
    messages|messages_native) echo "http://127.0.0.1:$SERVE/v1/messages --body $dir/messages_$2.json -H x-api-key:k" ;;
    responses) echo "http://127.0.0.1:$SERVE/v1/responses --body $dir/responses_$2.json" ;;
    *) echo "http://127.0.0.1:$SERVE/v1/chat/completions --body $dir/chat_$2.json" ;;
  esac
}
api_of() { case $1 in messages|responses) echo openai ;; messages_native) echo anthropic ;; *) echo "$1" ;; esac; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "kernel $(uname -r), $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS rounds, the variants interleaved; each figure the median of the rounds"
results=$dir/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for v in $VARIANTS; do
    api=$(api_of "$v")
    [ -n "${mock_port[$api]:-}" ] || { [ "$round" = 1 ] && echo "  $v: skipped (no mock --api $api)"; continue; }
    start_serve "$api" || continue
    for mode in json stream; do
      # shellcheck disable=SC2046
      taskset -c 1 "$bin" load $(load_args "$v" "$mode") -c 8 -d 1s --quiet --json >/dev/null
      s0=$(cpu_of "$serve_pid")
      # shellcheck disable=SC2046
      j=$(taskset -c 1 "$bin" load $(load_args "$v" "$mode") -c "$CONNS" -d "${DURATION}s" --quiet --json)
      s1=$(cpu_of "$serve_pid")
      echo "$v $mode $(echo "$s1 - $s0" | bc -l) $j" >>"$results"
    done
    stop_serve
  done
  echo "  round $round done" >&2
done

python3 - "$results" "$CONNS" "$DURATION" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, mode, cpu, j = line.split(" ", 3)
    rows.setdefault((v, mode), []).append((float(cpu), json.loads(j)))
order = []
for v, _ in rows:
    if v not in order:
        order.append(v)
med = statistics.median
def fig(v, mode):
    rs = rows.get((v, mode))
    if not rs:
        return None
    return {
        "rps": med(r[1]["rps"] for r in rs),
        "p50": med(r[1]["p50_ms"] for r in rs) * 1e3,
        "p99": med(r[1]["p99_ms"] for r in rs) * 1e3,
        "cpu": med(r[0] * 1e6 / max(r[1]["requests"], 1) for r in rs),
        "all": [r[0] * 1e6 / max(r[1]["requests"], 1) for r in rs],
        "bad": sum(r[1]["requests"] - r[1]["status"].get("200", 0) for r in rs),
    }
print(f"== zero-latency upstream, {sys.argv[2]} connections, closed loop, {sys.argv[3]}s each")
for mode in ("json", "stream"):
    base = fig("openai", mode)
    print(f"-- {mode}")
    for v in order:
        f = fig(v, mode)
        if f is None:
            continue
        ratio = f" ({f['cpu'] / base['cpu']:.2f}x openai)" if base and v != "openai" else ""
        line = (f"  {v:<16} {f['rps']:7.0f} requests/s  p50 {f['p50']:6.0f} us  p99 {f['p99']:6.0f} us"
                f"  serve CPU {f['cpu']:5.1f} us/request{ratio}"
                f"  [rounds: " + " ".join(f"{x:.1f}" for x in f["all"]) + "]")
        if f["bad"]:
            line += f"  ({f['bad']} not 200)"
        print(line)
PY
