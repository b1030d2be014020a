#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan,
# into build-fuzz/, which the gcc builds never touch) and runs each for
# SECONDS (default 60), one at a time, on one core.
#
#   scripts/fuzz.sh [--tap FILE] [SECONDS] [TARGET...]
#
# Each target starts from its seed corpus (tests/fuzz/corpus/TARGET, read
# only) and a working corpus that grows across runs
# (build-fuzz/corpus/TARGET, not in git). A crashing input is saved as
# build-fuzz/crashes/TARGET/crash-*; reproduce it with
#   build-fuzz/fuzz_TARGET build-fuzz/crashes/TARGET/crash-...
# Prints one line per target (runs, coverage, corpus, crash) and exits
# non-zero if any target crashed. --tap FILE also writes the results as
# TAP ("ok N - fuzz_TARGET"), which scripts/test.sh counts.
# FUZZ_SEEDS_ONLY=1 uses a fresh scratch corpus (the test run's smoke).
# FUZZ_CFLAGS adds compiler flags, e.g. -DSL_FUZZ_SKIP_PENDING to look past
# the issue 8 defects whose fixes are pending (see docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

tap=""
if [ "${1:-}" = "--tap" ]; then
  tap=$2
  shift 2
fi
seconds=${1:-60}
shift || true

# Target name and the sources it links (besides tests/fuzz/fuzz_NAME.c).
declare -A sources=(
  [http_request]="src/http/parser.c src/http/header.c src/http/chunked.c"
  [http_server]="src/http/server.c src/http/server_write.c src/http/parser.c src/http/header.c src/http/chunked.c src/http/json_scan.c src/http/openai.c src/core/deadlines.c"
  [http_response]="src/http/resp.c src/http/header.c src/http/chunked.c"
  [sse]="src/http/sse.c src/core/buf.c"
  [json]="src/http/json_scan.c src/http/openai.c src/http/parser.c src/http/header.c src/http/chunked.c"
  [config]="src/gateway/config.c src/gateway/config_walk.c src/gateway/config_limits.c src/gateway/config_otel.c src/retry/policy.c src/core/errclass.c src/gateway/target.c src/gateway/provider.c src/providers/gemini_path.c
    src/providers/sigv4.c src/core/buf.c
    src/http/url.c src/http/openai.c src/http/json_scan.c src/http/parser.c src/http/header.c src/http/chunked.c"
  [pg_url]="src/store/pg_url.c"
  [spool]="src/store/spool.c"
  [url]="src/http/url.c src/gateway/target.c src/providers/sigv4.c src/core/buf.c src/http/openai.c src/http/json_scan.c src/http/parser.c src/http/header.c src/http/chunked.c"
  [tokenizer]="src/token/tokenizer.c src/token/pretok.c src/token/ranks.c src/token/unicode_class.c
    src/token/request_tokens.c src/http/json_walk.c src/core/buf.c build-fuzz/token_ranks.S"
  [key_json]="src/store/key_record.c src/http/json_scan.c src/http/json_walk.c src/core/buf.c"
  [eventstream]="src/providers/eventstream.c src/core/crc32.c src/core/buf.c"
  [anthropic]="src/providers/anthropic_request.c src/providers/anthropic_response.c
    src/providers/anthropic_stream.c src/providers/anthropic_error.c src/providers/xlat.c src/providers/xlat_request.c
    src/http/json_write.c
    src/http/json_scan.c src/http/json_walk.c src/http/openai.c src/http/sse.c src/core/buf.c
    src/core/errclass.c"
  [bedrock]="src/providers/bedrock_request.c src/providers/bedrock_response.c
    src/providers/bedrock_stream.c src/providers/bedrock_error.c src/providers/xlat.c src/providers/xlat_request.c
    src/providers/eventstream.c src/providers/sigv4.c src/core/crc32.c src/http/json_write.c
    src/http/json_scan.c src/http/json_walk.c src/http/openai.c src/http/sse.c src/core/buf.c
    src/core/errclass.c"
  [gemini]="src/providers/gemini_path.c src/providers/gemini_request.c src/providers/gemini_options.c src/providers/gemini_schema.c
    src/providers/gemini_response.c src/providers/gemini_stream.c src/providers/gemini_error.c
    src/providers/gemini_embed.c src/providers/xlat.c src/providers/xlat_request.c src/http/json_write.c
    src/http/json_scan.c src/http/json_walk.c src/http/openai.c src/http/sse.c src/core/buf.c
    src/core/errclass.c"
  [messages_front]="src/providers/messages_request.c src/providers/messages_response.c
    src/providers/messages_stream.c src/providers/anthropic_request.c
    src/providers/anthropic_response.c src/providers/anthropic_stream.c
    src/providers/anthropic_error.c src/providers/xlat.c src/providers/xlat_request.c
    src/http/json_write.c src/http/json_scan.c
    src/http/json_walk.c src/http/openai.c src/http/sse.c src/core/buf.c src/core/errclass.c"
  [report_pass]="src/report/serve_pass.c src/report/sim_pass.c src/report/names.c
    src/store/analytics.c src/http/json_scan.c"
  [responses_front]="src/providers/responses_request.c src/providers/responses_response.c
    src/providers/responses_stream.c src/http/json_write.c src/http/json_scan.c
    src/http/json_walk.c src/http/openai.c src/http/sse.c src/core/buf.c"
)
all=(http_request http_server http_response sse json config pg_url spool url tokenizer key_json eventstream anthropic messages_front responses_front bedrock gemini report_pass)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

out=build-fuzz
mkdir -p "$out"
cc=${CC_FUZZ:-clang}
extra=${FUZZ_CFLAGS:-}
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -Wall -Wextra -Wno-missing-field-initializers -Isrc -Itests/fuzz)
read -r -a pkg_cflags <<<"$(pkg-config --cflags libuv yaml-0.1 libpq libcrypto sqlite3)"
read -r -a pkg_libs <<<"$(pkg-config --libs libuv yaml-0.1 libpq libcrypto sqlite3)"

# The rank tables are compiled in from data/tokenizer/ (as meson does).
ranks_asm() {
  sed "s|@RANKS_DIR@|$PWD/data/tokenizer|" src/token/ranks.S.in >"$out/token_ranks.S.new"
  if cmp -s "$out/token_ranks.S.new" "$out/token_ranks.S"; then
    rm "$out/token_ranks.S.new"
  else
    mv "$out/token_ranks.S.new" "$out/token_ranks.S"
  fi
}

build() {
  local t=$1 bin=$out/fuzz_$1
  local srcs=(tests/fuzz/fuzz_$t.c ${sources[$t]})
  local newest
  newest=$(ls -t "${srcs[@]}" tests/fuzz/fuzz.h src/*/*.h scripts/fuzz.sh | head -1)
  if [ -x "$bin" ] && [ "$bin" -nt "$newest" ] && [ "$(cat "$bin.flags" 2>/dev/null)" = "$extra" ]; then
    return 0
  fi
  # shellcheck disable=SC2086 # FUZZ_CFLAGS is a list of flags
  "$cc" "${flags[@]}" $extra "${pkg_cflags[@]}" "${srcs[@]}" -o "$bin" "${pkg_libs[@]}" -lm
  echo "$extra" >"$bin.flags"
}

ranks_asm
for t in "${targets[@]}"; do
  if [ -z "${sources[$t]+x}" ]; then
    echo "fuzz: unknown target '$t' (targets: ${all[*]})" >&2
    exit 2
  fi
  build "$t"
done

scratch=""
cleanup() { [ -z "$scratch" ] || rm -rf "$scratch"; }
trap cleanup EXIT
if [ "${FUZZ_SEEDS_ONLY:-0}" = 1 ]; then
  scratch=$(mktemp -d /tmp/sluice-fuzz-XXXXXX)
fi

status=0
n=0
[ -z "$tap" ] || echo "1..${#targets[@]}" >"$tap"
printf '%-14s %10s %8s %8s %8s  %s\n' target runs exec/s cov corpus result
for t in "${targets[@]}"; do
  n=$((n + 1))
  work=${scratch:-$out}/corpus/$t
  crashes=$out/crashes/$t
  mkdir -p "$work" "$crashes"
  log=$out/fuzz_$t.log
  rc=0
  # -timeout: one input may take at most 10 s (a hang is a finding too);
  # -rss_limit_mb: memory that grows without bound is one as well.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  if [ $rc -eq 0 ]; then
    result=ok
    [ -z "$tap" ] || echo "ok $n - fuzz_$t ${seconds}s ${runs:-?} runs" >>"$tap"
  else
    status=1
    artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/.* to //')
    result="CRASH (exit $rc) ${artifact:-no input saved}; log $log"
    [ -z "$tap" ] || echo "not ok $n - fuzz_$t crashed: ${artifact:-see $log}" >>"$tap"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed)' "$log" | head -3 >&2 || true
  fi
  printf '%-14s %10s %8s %8s %8s  %s\n' "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${corp:-?}" "$result"
done
exit $status
