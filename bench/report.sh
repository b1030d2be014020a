#!/usr/bin/env bash
# bench/report.sh: the time `sluice report` takes on a 1,000,000-row run
# (issue 13; goal: under 5 s).
#
#   bash bench/report.sh              # both runs, 3 reports each
#   RUNS=1 bash bench/report.sh
#   PG_URL=postgresql://... bash bench/report.sh   # the simulate run on PostgreSQL too
#
# (a) simulate: 1,000,000 requests, concurrency 1000, zero latency, fail
#     rate 0.3 (retries, a few failures), into SQLite; then `sluice report`.
# (b) serve: 1,000,000 rows shaped as `sluice serve` records them (metadata
#     JSON with model, deployment, key, HTTP status, ttfb_ms, tokens, cost;
#     3 deployments, 5 keys, 2% 500s, 10 minutes), bulk-inserted with the
#     sqlite3 shell; then `sluice report` (one pass over the rows:
#     report/serve_pass.h).
# (c), (d) with PG_URL: (a) and (b) on PostgreSQL ((d) inserted with psql
#     into the default schema, sluice).
# Prints each report's wall time, its CPU time (less sensitive than the
# wall time to other work on a shared machine; for PostgreSQL the server's
# CPU is not in it), peak RSS, page size and, once, the time of each query
# (SLUICE_REPORT_TRACE); nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
RUNS=${RUNS:-3}
out=$(mktemp -d /tmp/sluice-bench-report-XXXXXX)
trap 'rm -rf "$out"' EXIT
bin=./build/sluice

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel $(uname -r), SQLite $(sqlite3 --version | cut -d' ' -f1), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"

report() { # DB LABEL [RUN]
  local db=$1 label=$2 i run=()
  [ -z "${3:-}" ] || run=(--run "$3")
  SLUICE_REPORT_TRACE=1 "$bin" report --db "$db" "${run[@]}" -o "$out/trace.html" 2>&1 | grep '^report:' | sed 's/^/    /'
  for i in $(seq 1 "$RUNS"); do
    /usr/bin/time -f "%e %M %U %S" -o "$out/time" "$bin" report --db "$db" "${run[@]}" -o "$out/$label.html" 2>/dev/null
    read -r secs rss user sys <"$out/time"
    echo "  $label report $i: ${secs} s wall, $(python3 -c "print(f'{$user + $sys:.2f}')") s CPU (sluice's; the database server's not counted)," \
         "peak RSS $((rss / 1024)) MiB, page $(($(stat -c %s "$out/$label.html") / 1024)) KiB"
  done
}

echo "== (a) simulate run, 1,000,000 rows (SQLite)"
t0=$(date +%s.%N)
"$bin" simulate --requests 1000000 --concurrency 1000 --latency-ms 0 --fail-rate 0.3 \
  --backoff none --sync normal --quiet --json --db "$out/sim.db" >/dev/null
echo "  made in $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s: $(sqlite3 "$out/sim.db" 'SELECT count(*) FROM requests') rows"
report "$out/sim.db" simulate

echo "== (b) serve-shaped run, 1,000,000 rows (SQLite, bulk insert)"
t0=$(date +%s.%N)
"$bin" migrate up --db "$out/serve.db" >/dev/null
start_us=$(( $(date +%s) * 1000000 ))
sqlite3 "$out/serve.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
INSERT INTO runs (id, command, started_us, finished_us, requests, concurrency, max_in_flight, status, params)
VALUES (1, 'serve', $start_us, $start_us + 600000000, 0, 48, 40, 'completed',
        '{"listen":"127.0.0.1:8080","models":3,"deployments":{"d0":16,"d1":16,"d2":16}}');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO requests (id, created_us, started_us, finished_us, attempts, status, error, metadata)
SELECT (1 << 32) | i, $start_us + i * 600, $start_us + i * 600 + (i % 7) * 100,
       $start_us + i * 600 + 20000 + (i * 7919 % 400000), 1 + (i % 13 = 0),
       CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i % 50 = 0 THEN 'server_error' END,
       json_object('id', 'req_' || i, 'key', 'key' || (i % 5), 'model', 'model' || (i % 3),
                   'deployment', 'd' || (i % 3), 'endpoint', 'chat',
                   'stream', json(CASE WHEN i % 2 THEN 'true' ELSE 'false' END),
                   'status', CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END,
                   'ttfb_ms', CASE WHEN i % 50 = 0 THEN 0 ELSE 5 + (i * 31 % 3000) / 10.0 END,
                   'prompt_tokens', 45, 'completion_tokens', 128, 'prompt_tokens_counted', 45,
                   'fallbacks', i % 97 = 0, 'cost_usd', 0.000083) FROM n;
SQL
echo "  made in $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s: $(sqlite3 "$out/serve.db" 'SELECT count(*) FROM requests') rows"
report "$out/serve.db" serve

if [ -n "${PG_URL:-}" ]; then
  echo "== (c) simulate run, 1,000,000 rows (PostgreSQL)"
  "$bin" simulate --requests 1000000 --concurrency 1000 --latency-ms 0 --fail-rate 0.3 \
    --backoff none --quiet --json --db "$PG_URL" --spool "$out/spool.bin" >/dev/null
  report "$PG_URL" simulate-pg
  echo "== (d) serve-shaped run, 1,000,000 rows (PostgreSQL, bulk insert)"
  t0=$(date +%s.%N)
  run=$(PGOPTIONS="-c search_path=sluice" psql -qAt "$PG_URL" <<SQL
INSERT INTO runs (command, started_at, finished_at, requests, concurrency, max_in_flight, status, params)
VALUES ('serve', now(), now() + interval '10 minutes', 0, 48, 40, 'completed',
        '{"listen":"127.0.0.1:8080","models":3,"deployments":{"d0":16,"d1":16,"d2":16}}') RETURNING id;
SQL
)
  PGOPTIONS="-c search_path=sluice" psql -qAt "$PG_URL" >/dev/null <<SQL
INSERT INTO requests (run_id, request_id, created_at, started_at, finished_at, attempts, status, error, metadata)
SELECT $run, i, r.t + i * interval '600 us', r.t + i * interval '600 us' + (i % 7) * interval '100 us',
       r.t + i * interval '600 us' + interval '20 ms' + (i * 7919 % 400000) * interval '1 us', 1 + (i % 13 = 0)::int,
       CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i % 50 = 0 THEN 'server_error' END,
       jsonb_build_object('id', 'req_' || i, 'key', 'key' || (i % 5), 'model', 'model' || (i % 3),
                   'deployment', 'd' || (i % 3), 'endpoint', 'chat', 'stream', i % 2 = 1,
                   'status', CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END,
                   'ttfb_ms', CASE WHEN i % 50 = 0 THEN 0 ELSE 5 + (i * 31 % 3000) / 10.0 END,
                   'prompt_tokens', 45, 'completion_tokens', 128, 'prompt_tokens_counted', 45,
                   'fallbacks', (i % 97 = 0)::int, 'cost_usd', 0.000083)
FROM generate_series(1::bigint, 1000000) AS i, (SELECT started_at AS t FROM runs WHERE id = $run) r;
SQL
  echo "  made in $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s: run $run"
  report "$PG_URL" serve-pg "$run"
fi
