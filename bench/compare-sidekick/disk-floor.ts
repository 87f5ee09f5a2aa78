/**
 * The disk's floor for an acknowledged-after-fsync alert: the latency of a small append to a
 * file followed by fdatasync, on the file system the router's journal lives on (the temporary
 * directory), measured in the same run as the routers. No durable router can answer a lone
 * request faster than this.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DiskFloor {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Appends `bytes` and fdatasyncs, one after another, for `seconds` (at most `maxSamples` times). */
export function measureDiskFloor(options: { seconds?: number; bytes?: number; maxSamples?: number } = {}): DiskFloor {
  const seconds = options.seconds ?? 3;
  const payload = Buffer.alloc(options.bytes ?? 512, 0x61);
  const maxSamples = options.maxSamples ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), "peregrine-disk-floor-"));
  const fd = openSync(join(dir, "append.log"), "a");
  const took: number[] = [];
  try {
    const end = performance.now() + seconds * 1000;
    while (took.length < maxSamples && performance.now() < end) {
      const t0 = performance.now();
      writeSync(fd, payload);
      fdatasyncSync(fd);
      took.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...took].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = measureDiskFloor();
  console.log(`append+fdatasync: p50 ${f.p50Ms.toFixed(3)} ms, p99 ${f.p99Ms.toFixed(3)} ms, mean ${f.meanMs.toFixed(3)} ms (${f.samples} samples)`);
}
