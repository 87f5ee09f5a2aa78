/**
 * An action runs at most once per alert and rule across a SIGKILL of the router between
 * "action started" (target recorded, fsynced) and "action recorded" (its outcome):
 *
 * - killed before it acted: after restart the action runs once, on the recorded target;
 * - killed after it acted, before the outcome was written: after restart the recorded target
 *   is checked, found gone, and nothing else is signalled (a process started since, even
 *   from the same rule's alert, is not the recorded one).
 *
 * The pause between the two steps is the engine's test hook (PEREGRINE_TEST_RESPONSE_PAUSE).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

const RULES = `
- rule: Kill crypto miners
  match:
    rules: [Crypto miner]
  actions:
    - action: Kill it
      actionner: process:kill
`;

function victim(): { proc: ChildProcess; startedAt: number; exited: Promise<NodeJS.Signals | null> } {
  const startedAt = Date.now();
  const proc = spawn("sleep", ["600"], { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((r) => proc.once("exit", (_c, s) => r(s)));
  cleanups.push(() => void (proc.exitCode === null && proc.signalCode === null && proc.kill("SIGKILL")));
  return { proc, startedAt, exited };
}

interface Row {
  status: string;
  attempts: number;
  target: string | null;
  message: string;
}

function rows(dataDir: string): Row[] {
  const db = new Database(join(dataDir, "response.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT status, attempts, target, message FROM actions").all() as Row[];
  } finally {
    db.close();
  }
}

async function routerWith(config: Record<string, unknown>, dataDir: string | undefined, env: Record<string, string>): Promise<RouterProcess> {
  const r = await startRouter({ config, ...(dataDir ? { dataDir } : {}), env });
  cleanups.push(() => r.kill());
  return r;
}

function setup(): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-response-crash-"));
  const rules = join(dir, "rules.yaml");
  writeFileSync(rules, RULES);
  return { outputs: [], response: { enabled: true, rules_files: [rules], retry: { initial_ms: 50, max_ms: 500 } } };
}

async function killAt(pauseAt: "started" | "ran") {
  const config = setup();
  const v = victim();
  let router = await routerWith(config, undefined, { PEREGRINE_TEST_RESPONSE_PAUSE: pauseAt });
  const dataDir = router.dataDir;
  const now = Date.now();
  const res = await router.post({
    rule: "Crypto miner",
    priority: "Critical",
    output: "xmrig started",
    time: new Date(now).toISOString(),
    output_fields: { "proc.pid": v.proc.pid, "proc.name": "sleep", "proc.duration": (now - v.startedAt) * 1_000_000 },
  });
  expect(res.status).toBe(200);
  // "started" is fsynced just before the pause; with "ran", the victim dies before it
  await waitUntil(() => rows(dataDir).length === 1, 30_000, "the action to be recorded as started");
  if (pauseAt === "ran") expect(await v.exited).toBe("SIGKILL");
  const before = rows(dataDir);
  expect(before).toHaveLength(1);
  expect(before[0]!.status).toBe("started");
  expect(before[0]!.attempts).toBe(1);
  const recorded = JSON.parse(before[0]!.target!) as { identity: Record<string, string> };
  expect(recorded.identity.pid).toBe(String(v.proc.pid));

  await router.kill();
  router = await routerWith(config, dataDir, {});
  await waitUntil(() => rows(dataDir)[0]!.status !== "started", 60_000, "the action to be recorded after the restart");
  const after = rows(dataDir);
  expect(after).toHaveLength(1);
  // the same target as recorded before the crash, never a newly resolved one
  expect(JSON.parse(after[0]!.target!)).toEqual(recorded);
  expect(after[0]!.attempts).toBe(2);
  // the alert is delivered to the response lane: nothing pending, nothing dead-lettered
  await waitUntil(async () => {
    const o = (await router.get("/api/outputs")).json as { outputs: { name: string; queue_depth: number; dead_lettered: number }[] };
    const lane = o.outputs.find((x) => x.name === "response");
    return lane !== undefined && lane.queue_depth === 0;
  }, 30_000, "the response lane to drain");
  return { v, after: after[0]!, router };
}

describe("reliability: SIGKILL between action started and action recorded", () => {
  it("killed before acting: after restart the action runs once, on the recorded target", async () => {
    const { v, after } = await killAt("started");
    expect(after.status, after.message).toBe("done");
    expect(await v.exited).toBe("SIGKILL");
  }, 180_000);

  it("killed after acting: after restart the recorded target is checked, found gone, and nothing is run again", async () => {
    const { after } = await killAt("ran");
    expect(after.status, after.message).toBe("gone");
    expect(after.message).toMatch(/is gone/);
  }, 180_000);
});
