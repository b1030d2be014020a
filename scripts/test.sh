#!/usr/bin/env bash
# Installs what is missing, builds (optimised and sanitized), starts the
# services the tests need (a throwaway PostgreSQL cluster on 127.0.0.1,
# the first free port from 25432, in a temporary directory, stopped and
# removed on exit), and
# runs every test under AddressSanitizer + UBSan. Exits non-zero if any
# test fails; if PostgreSQL cannot be started the run fails (its tests are
# never skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh --asan

pg_dir=$(mktemp -d /tmp/sluice-test-pg-XXXXXX)
chmod 755 "$pg_dir" # the server runs as the postgres user
cleanup() {
  bash scripts/pg-cluster.sh stop "$pg_dir/main" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT
if ! SLUICE_TEST_PG_URL=$(PG_CLUSTER_FAST=1 PG_CLUSTER_PORT="${SLUICE_TEST_PG_PORT:-25432}" \
    bash scripts/pg-cluster.sh start "$pg_dir/main"); then
  echo "test: cannot start PostgreSQL for the tests (see above); failing" >&2
  exit 1
fi
export SLUICE_TEST_PG_URL
# The outage tests start and stop clusters of their own with this script.
export SLUICE_TEST_PG_CLUSTER="$PWD/scripts/pg-cluster.sh"
export SLUICE_TEST_PG_TMP="$pg_dir"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
meson test -C build-asan --print-errorlogs --num-processes 2 || status=$?

# A short smoke of every fuzz target (tests/fuzz/, built with clang), from
# its seed corpus, so that a crash fails the run; TAP lines for the tally.
fuzz_tap=build-asan/meson-logs/fuzz.tap
rm -f "$fuzz_tap"
FUZZ_SEEDS_ONLY=1 bash scripts/fuzz.sh --tap "$fuzz_tap" "${SLUICE_FUZZ_SMOKE_SECONDS:-8}" || status=$?

# One closing line that any reader understands, counted from the TAP
# results of every test binary.
python3 - build-asan/meson-logs/testlog.json "$fuzz_tap" <<'PY' || status=1
import json, sys, re
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout", "") or ""
    for m in re.finditer(r"^(not ok|ok)\b(.*)$", out, re.M):
        if "# SKIP" in m.group(2):
            skipped += 1
        elif m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
    if t.get("result") not in ("OK", "EXPECTEDFAIL") and not re.search(r"^not ok", out, re.M):
        failed += 1  # crashed or timed out without a TAP failure line
# The fuzz smoke's TAP (missing: it did not run, which is a failure).
try:
    out = open(sys.argv[2]).read()
except OSError:
    out = "not ok - fuzz smoke did not run\n"
for m in re.finditer(r"^(not ok|ok)\b", out, re.M):
    if m.group(1) == "ok":
        passed += 1
    else:
        failed += 1
print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
exit $status
