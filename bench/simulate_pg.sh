#!/usr/bin/env bash
# bench/simulate_pg.sh: `sluice simulate` end to end on PostgreSQL (issue 3).
#
#   bash bench/simulate_pg.sh            # 3 runs
#   RUNS=1 bash bench/simulate_pg.sh
#
# 1,000,000 requests, concurrency 1,000, zero latency, fail rate 0.3, no
# backoff wait; every finished request persisted to PostgreSQL through the
# store (binary COPY batches of 4096 rows over a pool of 2 connections).
# Requests/s counts from the first admission to the moment the last row is
# committed (the run row is closed after the last batch). Goal >= 150,000.
#
# Next to it, the reference: the same 1,000,000 rows sent by psql's \copy
# from a file, in one COPY, into an empty copy of the table with the same
# indexes: what the database itself takes, with a client doing nothing else.
#
# The cluster is a throwaway one (initdb in a temporary directory, the
# first free port from 25439, 127.0.0.1 only) with PostgreSQL's default durability: fsync on,
# synchronous_commit on. Prints one line per run; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
RUNS=${RUNS:-3}
out=$(mktemp -d /tmp/sluice-bench-pg-XXXXXX)
chmod 755 "$out"
trap 'bash scripts/pg-cluster.sh stop "$out/pg" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
url=$(PG_CLUSTER_PORT="${BENCH_PG_PORT:-25439}" bash scripts/pg-cluster.sh start "$out/pg")
bin=./build/sluice

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel $(uname -r), $(psql "$url" -Atc 'SHOW server_version' | cut -d' ' -f1), $(date -u +%F)"
echo "== 1,000,000 requests, concurrency 1000, zero latency, fail rate 0.3, PostgreSQL"
for i in $(seq 1 "$RUNS"); do
  psql -q "$url" -c "DROP SCHEMA IF EXISTS sluice CASCADE" 2>/dev/null
  t0=$(date +%s.%N)
  json=$("$bin" simulate --requests 1000000 --concurrency 1000 --latency-ms 0 \
    --fail-rate 0.3 --backoff none --seed "$i" --quiet --json --db "$url" --spool "$out/spool")
  t1=$(date +%s.%N)
  rows=$(psql "$url" -Atc "SELECT count(*) FROM sluice.requests")
  echo "$json" | ROWS=$rows T0=$t0 T1=$t1 python3 -c "
import json,os,sys; d=json.load(sys.stdin)
print(f\"  run {d['seed']}: {d['throughput_rps']:,.0f} requests/s to the last row \"
      f\"({d['wall_s']:.2f} s; simulator done at {d['processed_s']:.2f} s), \"
      f\"rows {int(os.environ['ROWS']):,}, peak RSS {d['peak_rss_kb']/1024:.0f} MiB, \"
      f\"analytics {d['analytics_s']:.2f} s, whole process {float(os.environ['T1'])-float(os.environ['T0']):.2f} s\")"
done

echo "== reference: one COPY of the same 1,000,000 rows by psql from a file"
psql -q "$url" -c "\\copy sluice.requests TO '$out/rows.bin' (FORMAT binary)"
for i in $(seq 1 "$RUNS"); do
  psql -q "$url" -c "DROP TABLE IF EXISTS ref; CREATE TABLE ref (LIKE sluice.requests INCLUDING ALL)"
  t0=$(date +%s.%N)
  psql -q "$url" -c "\\copy ref FROM '$out/rows.bin' (FORMAT binary)"
  t1=$(date +%s.%N)
  T0=$t0 T1=$t1 python3 -c "
import os; s=float(os.environ['T1'])-float(os.environ['T0'])
print(f'  copy {s:.2f} s = {1e6/s:,.0f} rows/s (primary key and the prompt_tokens index maintained)')"
done
