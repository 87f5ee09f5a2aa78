/**
 * Latency of process:kill through a real router: from the alert's POST to the process's death
 * (the bench is the victim's parent, so its `exit` event is the moment the kernel reaped it),
 * and the router's own figure from its action journal (alert accepted at routing → outcome
 * recorded, fsynced). p50 and p99 over BENCH_N alerts posted one at a time, each naming a fresh
 * `sleep` by proc.pid and proc.duration, as the detector does.
 *
 * Usage: node --import tsx bench/response/process-kill.ts   (BENCH_N=300 by default)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startRouter } from "../../test/harness/router-process.js";

const N = Number(process.env.BENCH_N ?? 300);
const WARMUP = 20;

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const fmt = (v: number[]) => `p50 ${pct(v, 50).toFixed(2)} ms, p99 ${pct(v, 99).toFixed(2)} ms, max ${Math.max(...v).toFixed(2)} ms (n=${v.length})`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-bench-response-"));
  writeFileSync(join(dir, "rules.yaml"), "- rule: Kill\n  match: {rules: [Reverse shell]}\n  actions:\n    - action: Kill it\n      actionner: process:kill\n");
  const router = await startRouter({
    config: {
      outputs: [],
      log: { level: "warn" },
      response: { enabled: true, rules_files: [join(dir, "rules.yaml")], rate_limit: { per_second: 0, burst: 1 } },
    },
  });
  const endToEnd: number[] = [];
  const uuids: string[] = [];
  try {
    for (let i = 0; i < N + WARMUP; i++) {
      const startedAt = Date.now();
      const victim = spawn("sleep", ["600"], { stdio: "ignore" });
      const exited = new Promise<bigint>((r) => victim.once("exit", () => r(process.hrtime.bigint())));
      await new Promise((r) => setTimeout(r, 2));
      const now = Date.now();
      const t0 = process.hrtime.bigint();
      const res = await router.post({
        rule: "Reverse shell",
        priority: "Critical",
        output: "nc -e /bin/sh",
        time: new Date(now).toISOString(),
        output_fields: { "proc.pid": victim.pid, "proc.name": "sleep", "proc.duration": (now - startedAt) * 1_000_000 },
      });
      if (res.status !== 200) throw new Error(`POST: ${res.status} ${JSON.stringify(res.json)}`);
      const t1 = await Promise.race([exited, new Promise<bigint>((_r, reject) => setTimeout(() => reject(new Error(`pid ${victim.pid} not killed in 30 s`)), 30_000))]);
      if (i >= WARMUP) {
        endToEnd.push(Number(t1 - t0) / 1e6);
        uuids.push((res.json as { uuid: string }).uuid);
      }
    }
    // the router's own figure: accepted (routing) -> outcome recorded
    await new Promise((r) => setTimeout(r, 500));
    const db = new Database(join(router.dataDir, "response.db"), { readonly: true });
    const rows = db.prepare("SELECT alert_uuid, status, accepted_at, started_at, finished_at FROM actions").all() as { alert_uuid: string; status: string; accepted_at: number; started_at: number; finished_at: number }[];
    db.close();
    const want = new Set(uuids);
    const measured = rows.filter((r) => want.has(r.alert_uuid));
    const notDone = measured.filter((r) => r.status !== "done");
    const recorded = measured.map((r) => r.finished_at - r.accepted_at);
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(`process:kill, one alert at a time, ${N} alerts after ${WARMUP} warm-up`);
    console.log(`  POST sent -> process reaped (end to end):      ${fmt(endToEnd)}`);
    console.log(`  accepted -> outcome recorded (action journal): ${fmt(recorded)} (ms resolution)`);
    console.log(`  actions not done: ${notDone.length}`);
  } finally {
    await router.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
