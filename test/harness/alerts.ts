/** Alerts for output tests: valid, distinct, with a run id so each test finds its own. */
import { randomUUID } from "node:crypto";
import type { Alert, Priority } from "../../src/alert.js";

export function runId(): string {
  return `r${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** RFC 3339 with nanosecond digits, `offsetMs` from now (microsecond and nanosecond digits from `i`). */
export function nanoTime(offsetMs: number, i = 0): string {
  const iso = new Date(Date.now() + offsetMs).toISOString(); // ...sss Z
  return `${iso.slice(0, 23)}${String(i % 1_000_000).padStart(6, "0")}Z`;
}

export function makeAlert(i: number, overrides: Partial<Alert> = {}): Alert {
  const priorities: Priority[] = ["Critical", "Warning", "Notice"];
  const rule = overrides.rule ?? `Test rule ${i % 3}`;
  const alert: Alert = {
    uuid: randomUUID(),
    time: nanoTime(-1000 + (i % 1000), i),
    priority: priorities[i % priorities.length]!,
    rule,
    output: `${rule} triggered (seq=${i} user=root proc.name=cat fd.name=/etc/shadow)`,
    output_fields: {
      "proc.name": "cat",
      "proc.pid": 1000 + i,
      "user.name": "root",
      "fd.name": "/etc/shadow",
      "k8s.ns.name": "payments",
      seq: i,
    },
    source: "syscall",
    tags: ["test", "filesystem"],
    hostname: "node-1",
    ...overrides,
  };
  return alert;
}

export function makeAlerts(n: number, overrides: (i: number) => Partial<Alert> = () => ({})): Alert[] {
  return Array.from({ length: n }, (_, i) => makeAlert(i, overrides(i)));
}
