"""bench/serve.sh PARTS=profile: what sluice serve's threads did per proxied
request, and what kept its loop thread waiting for the CPU.

argv: perf-stat CSV (--per-thread -x,) of the counters, another of the
uprobes (malloc, calloc, realloc, vsnprintf; libuv's timer starts and
stops and handle closes; from a second run: uprobes slow the threads down), `perf
script -F tid,time,event,trace` of sched_switch/sched_wakeup on the proxy's
CPU, the loop thread's id, the other threads' ids (comma-separated).
REQ and ALLOC_REQ in the environment: the requests of each run.
The saturated part passes /dev/null for both CSVs: then only the loop's
waits are printed.
"""
import collections
import os
import re
import sys

stat_csv, alloc_csv, sched_txt, loop = sys.argv[1:5]
own = set(filter(None, sys.argv[5].split(","))) if len(sys.argv) > 5 else set()
req = max(int(os.environ.get("REQ", "1")), 1)
alloc_req = max(int(os.environ.get("ALLOC_REQ", "0")), 1)

# ---- counters per thread, per request -------------------------------------
by_name = collections.defaultdict(dict)  # thread name -> event -> value per request
for path, n in ((stat_csv, req), (alloc_csv, alloc_req)):
    if not os.path.exists(path):
        continue
    for line in open(path):
        f = line.strip().split(",")
        if len(f) < 4 or line.startswith("#") or f[1].startswith("<"):
            continue
        comm, tid = f[0].rsplit("-", 1)
        name = "loop" if tid == loop else comm  # pool threads share the process name
        ev = re.sub(r"^probe_\w+:sluice_bench_", "", f[3]).replace("raw_syscalls:sys_enter", "syscalls")
        ev = ev.replace("__vsnprintf_internal", "vsnprintf")
        ev = ev.replace("syscalls:sys_enter_sched_yield", "sched_yield")
        by_name[name][ev] = by_name[name].get(ev, 0) + float(f[1]) / n
cols = ["task-clock", "syscalls", "sched_yield", "context-switches", "page-faults",
        "malloc", "calloc", "realloc"]
if by_name:
    print(f"  per proxied request ({req} requests; allocations from a second run of {alloc_req}):")
    print("  " + f"{'thread':<14}" + "".join(f"{c:>17}" for c in cols))
for name, ev in sorted(by_name.items(), key=lambda kv: -kv[1].get("task-clock", 0)):
    cells = []
    for c in cols:
        if c not in ev:
            cells.append(f"{'-':>17}")
        elif c == "task-clock":
            cells.append(f"{ev[c] * 1000:>14.2f} us")
        else:
            cells.append(f"{ev[c]:>17.3f}")
    print("  " + f"{name:<14}" + "".join(cells))
more = ["uv_timer_start", "uv_timer_stop", "uv_close", "vsnprintf"]
if any(c in ev for ev in by_name.values() for c in more):
    print("  " + f"{'thread':<14}" + "".join(f"{c:>17}" for c in more))
    for name, ev in sorted(by_name.items(), key=lambda kv: -kv[1].get("task-clock", 0)):
        if any(c in ev for c in more):
            print("  " + f"{name:<14}" + "".join(f"{ev.get(c, 0):>17.3f}" for c in more))

# ---- the loop thread's run-queue waits ------------------------------------
sw = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> "
                r"next_comm=(.*?) next_pid=(\d+)")
wk = re.compile(r"sched_wakeup: comm=(.*?) pid=(\d+)")
waiting_since = None
cur = cur_name = None
cur_start = 0.0
ran = collections.Counter()  # CPU time others got while the loop waited
waits = []
for line in open(sched_txt):
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    t = float(parts[1].rstrip(":"))
    m = sw.search(line)
    if m:
        _, prev, state, next_comm, nxt = m.groups()
        if waiting_since is not None and cur is not None and cur != loop:
            ran["sluice: " + cur_name if cur in own else cur_name] += t - cur_start
        if prev == loop and state.startswith("R"):
            waiting_since = t  # preempted (or yielded) while runnable
        if nxt == loop and waiting_since is not None:
            waits.append(t - waiting_since)
            waiting_since = None
        cur, cur_name, cur_start = nxt, next_comm, t
        continue
    m = wk.search(line)
    if m and m.group(2) == loop and waiting_since is None:
        waiting_since = t  # woken: runnable from now on
        cur_start = t
waits.sort()
if waits:
    def pct(p):
        return waits[min(len(waits) - 1, int(p * len(waits)))] * 1e6
    print(f"  loop thread: {len(waits)} waits for the CPU once runnable: p50 {pct(.5):.0f} us, "
          f"p99 {pct(.99):.0f} us, p99.9 {pct(.999):.0f} us, max {waits[-1] * 1e6:.0f} us, "
          f"total {sum(waits) * 1e3:.1f} ms")
    print("  who had the CPU while the loop waited (ms):",
          ", ".join(f"{k} {v * 1e3:.1f}" for k, v in ran.most_common(6)))
    ours = {k: v for k, v in ran.items() if k.startswith("sluice: ")}
    print(f"  of which serve's own threads: {sum(ours.values()) * 1e3:.1f} ms",
          "(" + ", ".join(f"{k[8:]} {v * 1e3:.1f}" for k, v in sorted(ours.items())) + ")")
