/**
 * The response engine in a real router process, acting on real processes: process:kill kills
 * the process the alert names (pid and start time), a pid whose start time does not match is
 * never signalled, pid 1 is refused with a clear record whatever the rule says, dry_run records
 * what would have run and runs nothing, a notifier output receives the outcome.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import type { ActionRecord } from "../../src/response/store.js";

const RULES = `
- action: Kill the process
  actionner: process:kill

- rule: Kill reverse shells
  match:
    rules:
      - Reverse shell
    priority: ">=Warning"
    output_fields:
      - k8s.ns.name!=kube-system
  notifiers:
    - hook
  actions:
    - action: Kill the process

- rule: Rehearse
  dry_run: true
  match:
    rules:
      - Rehearsal
  actions:
    - action: Kill the process
`;

interface Sleeper {
  proc: ChildProcess;
  /** Epoch ms just before the spawn: the process started within a few ms of it. */
  startedAt: number;
  exited: Promise<NodeJS.Signals | null>;
}

const sleepers: Sleeper[] = [];
function sleeper(): Sleeper {
  const startedAt = Date.now();
  const proc = spawn("sleep", ["600"], { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((r) => proc.once("exit", (_code, signal) => r(signal)));
  const s = { proc, startedAt, exited };
  sleepers.push(s);
  return s;
}

function alive(s: Sleeper): boolean {
  return s.proc.exitCode === null && s.proc.signalCode === null;
}

/** What the detector sends: proc.pid and proc.duration (ns since the process started) at the alert's time. */
function alertFor(rule: string, pid: number, startedAt: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    rule,
    priority: "Critical",
    output: `${rule} by pid ${pid}`,
    time: new Date(now).toISOString(),
    source: "syscall",
    hostname: "host-a",
    output_fields: { "proc.pid": pid, "proc.name": "sleep", "proc.duration": (now - startedAt) * 1_000_000, "k8s.ns.name": "default", ...extra },
  };
}

let router: RouterProcess;
let hook: Receiver;

async function actionsFor(uuid: string): Promise<ActionRecord[]> {
  const r = await router.get(`/api/response?alert=${uuid}`);
  expect(r.status).toBe(200);
  return (r.json as { actions: ActionRecord[] }).actions;
}

async function post(alert: Record<string, unknown>): Promise<string> {
  const r = await router.post(alert);
  expect(r.status).toBe(200);
  return (r.json as { uuid: string }).uuid;
}

async function finalRecord(uuid: string): Promise<ActionRecord> {
  let rec: ActionRecord | undefined;
  await waitUntil(
    async () => {
      rec = (await actionsFor(uuid))[0];
      return rec !== undefined && rec.status !== "started";
    },
    60_000,
    `the action of alert ${uuid} to be recorded`,
  );
  return rec!;
}

beforeAll(async () => {
  hook = await new Receiver().start();
  const dir = mkdtempSync(join(tmpdir(), "peregrine-response-"));
  const rules = join(dir, "rules.yaml");
  writeFileSync(rules, RULES);
  router = await startRouter({
    config: {
      outputs: [{ name: "hook", type: "webhook", url: hook.url, minimum_priority: "emergency" }],
      response: { enabled: true, rules_files: [rules] },
    },
  });
}, 60_000);

afterAll(async () => {
  await router?.stop();
  await hook?.stop();
  for (const s of sleepers) if (alive(s)) s.proc.kill("SIGKILL");
});

describe("response: process:kill in a real router", () => {
  it("kills the process the alert names, records it done once, and notifies the hook output", async () => {
    const s = sleeper();
    const uuid = await post(alertFor("Reverse shell", s.proc.pid!, s.startedAt));
    const rec = await finalRecord(uuid);
    expect(rec.status, rec.message).toBe("done");
    expect(rec.target?.identity.pid).toBe(String(s.proc.pid));
    expect(rec.target?.identity.start_ticks).toMatch(/^\d+$/);
    expect(rec.attempts).toBe(1);
    expect(await s.exited).toBe("SIGKILL");
    // the notification reached the output named by the rule's notifier, with the outcome
    await waitUntil(() => hook.requests.some((r) => r.body.includes(uuid) && r.body.includes('"response.status":"done"')), 30_000, "the notification");
    const metrics = await router.get("/metrics");
    expect(String(metrics.json)).toMatch(/peregrine_response_actions_total\{actionner="process:kill",status="done"\} 1/);
  });

  it("never signals a pid whose start time is not the alert's (a reused pid)", async () => {
    const s = sleeper();
    // The alert says its process started an hour ago: pid s.pid now belongs to another one.
    const uuid = await post(alertFor("Reverse shell", s.proc.pid!, s.startedAt - 3_600_000));
    const rec = await finalRecord(uuid);
    expect(rec.status).toBe("gone");
    expect(rec.code).toBe("RESPONSE_TARGET_GONE");
    expect(rec.message).toContain("now belongs to another process");
    expect(alive(s)).toBe(true);
  });

  it("refuses pid 1 with a clear record although the rule asks for it", async () => {
    // pid 1's true start time, so only the allowlist stands in the way
    const uuid = await post(alertFor("Reverse shell", 1, Date.now(), { "proc.pid.ts": procStartNs(1) }));
    const rec = await finalRecord(uuid);
    expect(rec.status, rec.message).toBe("refused");
    expect(rec.code).toBe("RESPONSE_REFUSED");
    expect(rec.message).toContain("pid 1 (the init process) is never touched");
    expect(rec.target?.identity.pid).toBe("1");
  });

  it("refuses the router's own pid", async () => {
    const uuid = await post(alertFor("Reverse shell", router.proc.pid!, Date.now(), { "proc.pid.ts": procStartNs(router.proc.pid!) }));
    const rec = await finalRecord(uuid);
    expect(rec.status, rec.message).toBe("refused");
    expect(rec.message).toContain("is the router itself");
    expect(router.proc.exitCode).toBe(null);
  });

  it("does not match a kube-system alert (the rule's output_fields)", async () => {
    const s = sleeper();
    const uuid = await post(alertFor("Reverse shell", s.proc.pid!, s.startedAt, { "k8s.ns.name": "kube-system" }));
    // a later alert that matches is handled: the first one, journaled before it, was never for the response lane
    const probe = sleeper();
    const probeUuid = await post(alertFor("Reverse shell", probe.proc.pid!, probe.startedAt));
    expect((await finalRecord(probeUuid)).status).toBe("done");
    expect(await actionsFor(uuid)).toEqual([]);
    expect(alive(s)).toBe(true);
  });

  it("dry_run records what would have run and runs nothing", async () => {
    const s = sleeper();
    const uuid = await post(alertFor("Rehearsal", s.proc.pid!, s.startedAt));
    const rec = await finalRecord(uuid);
    expect(rec.status).toBe("dry_run");
    expect(rec.message).toContain(`would run process:kill on pid ${s.proc.pid} (sleep)`);
    expect(alive(s)).toBe(true);
  });

  it("an alert without the process's start time is recorded unresolved, not acted on", async () => {
    const s = sleeper();
    const a = alertFor("Reverse shell", s.proc.pid!, s.startedAt);
    delete (a.output_fields as Record<string, unknown>)["proc.duration"];
    const rec = await finalRecord(await post(a));
    expect(rec.status).toBe("unresolved");
    expect(rec.message).toContain("add %proc.duration");
    expect(alive(s)).toBe(true);
  });
});

/** A process's start as epoch ns, as the detector knows it (proc.pid.ts). */
function procStartNs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return (Date.now() - uptime * 1000 + ticks * 10) * 1_000_000;
}
