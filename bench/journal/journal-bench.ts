/**
 * Journal choice, measured: SQLite (WAL, synchronous=FULL, one transaction per group) against
 * the floor of an append-only segment log (write + fdatasync per group, no index, no deletes).
 * Same alerts, same group sizes, same disk, one run. Usage: npm run bench:journal
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteJournal } from "../../src/delivery/journal.js";
import type { Alert } from "../../src/alert.js";

const TOTAL = Number(process.env.BENCH_ALERTS ?? 50_000);
const GROUPS = [1, 10, 100, 1000];

function alert(i: number): Alert {
  return {
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    time: new Date().toISOString(),
    priority: "Warning",
    rule: "Read sensitive file untrusted",
    output: `Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=bash ggparent=sshd evt_type=openat user=root process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow ${i})`,
    output_fields: { "proc.name": "cat", "fd.name": "/etc/shadow", "user.name": "root", "evt.time": 1714557600123456000 + i * 1000 },
    source: "syscall",
    tags: ["filesystem", "mitre_credential_access"],
    hostname: "node-1",
  };
}

async function sqlite(group: number): Promise<number> {
  const j = new SqliteJournal({ dir: mkdtempSync(join(tmpdir(), "bench-j-")), maxBytes: 1e12, fsync: true });
  j.track("out");
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < TOTAL; i += group) {
    const items = [];
    for (let k = 0; k < group && i + k < TOTAL; k++) items.push({ alert: alert(i + k), outputs: ["out"] });
    await j.append(items);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  j.close();
  return TOTAL / s;
}

function segmentLog(group: number): number {
  const fd = openSync(join(mkdtempSync(join(tmpdir(), "bench-s-")), "segment.log"), "a");
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < TOTAL; i += group) {
    let chunk = "";
    for (let k = 0; k < group && i + k < TOTAL; k++) chunk += `${JSON.stringify(alert(i + k))}\n`;
    writeSync(fd, chunk);
    fdatasyncSync(fd);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(fd);
  return TOTAL / s;
}

console.log(`| alerts per group commit | SQLite journal (alerts/s) | bare segment log (alerts/s) | SQLite / segment |`);
console.log(`|---:|---:|---:|---:|`);
for (const g of GROUPS) {
  const a = await sqlite(g);
  const b = segmentLog(g);
  console.log(`| ${g} | ${Math.round(a)} | ${Math.round(b)} | ${(a / b).toFixed(2)} |`);
}
