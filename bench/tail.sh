#!/usr/bin/env bash
# bench/tail.sh: the figures of issue 12 (the latency tail of sluice serve),
# from bench/serve.sh's parts: cpu (CPU per request next to nginx, closed
# loop), tail (p50/p99/p99.9 added at RATE next to nginx, same rounds, and
# serve's own timestamps), profile (per thread and per request: CPU,
# syscalls, sched_yield, switches, faults, allocations; the loop thread's
# waits for the CPU and who had it). Run it on a quiet machine:
#
#   bash bench/tail.sh                          # DURATION=10 ROUNDS=3 RATE=5000
#   SLUICE_SCHED=idle bash bench/tail.sh        # the SQLite writer at SCHED_IDLE
#   SLUICE_BIN=/path/to/old/sluice bash bench/tail.sh   # a build to compare
exec env PARTS="${PARTS:-cpu tail saturated profile}" bash "$(dirname "$0")/serve.sh"
