#!/bin/sh
# Kernel-side cost of the sensor's BPF programs, from the kernel's own BPF statistics
# (kernel.bpf_stats_enabled): average nanoseconds per run while a storm of openat/close runs.
# Run as root from the repository root:  sh bench/sensor/prog-cost.sh [SENSOR FLAGS...]
# e.g.  sh bench/sensor/prog-cost.sh --syscalls openat,close   (storm captured)
#       sh bench/sensor/prog-cost.sh --syscalls execve         (storm not in the interest set)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
node "$ROOT/scripts/build-sensor.mjs"
STORM=$(mktemp -d)/storm
cc -O2 -o "$STORM" "$ROOT/bench/sensor/storm.c"
FILE=$(mktemp)
before=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1
"$ROOT/sensor/build/peregrine-sensor" "$@" > /dev/null &
SENSOR=$!
sleep 1
"$STORM" "$FILE" "${ITERATIONS:-200000}" > /dev/null
bpftool prog show -j | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    for (const p of JSON.parse(s))
      if (p.name?.startsWith("pg_") && p.run_cnt)
        console.log(`${p.name}: ${p.run_cnt} runs, ${(p.run_time_ns / p.run_cnt).toFixed(1)} ns/run`);
  });'
kill "$SENSOR"
wait "$SENSOR" || true
sysctl -q kernel.bpf_stats_enabled="$before"
rm -f "$FILE" "$STORM"
