/**
 * The response engine inside a real router (journal, response lane, delivery policy), with a
 * test actionner that acts on an in-memory object so every call can be counted: retries run on
 * the target recorded at the first attempt, a permanent failure is dead-lettered with its
 * reason, a kube-system pod is refused whatever the rule asks, the rate limit refuses past its
 * burst, and Talon's continue semantics decide which actions run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Alert } from "../../src/alert.js";
import { loadConfig } from "../../src/config/index.js";
import { Router } from "../../src/router.js";
import type { ActionResult, Actionner } from "../../src/response/actionner.js";
import { installResponse, type InstalledResponse } from "../../src/response/index.js";
import type { ActionRecord } from "../../src/response/store.js";
import { waitUntil } from "../harness/router-process.js";

interface Calls {
  resolve: number;
  run: { target: string }[];
}

/** Acts on pods named by the alert; answers what `script` says per run (default done). */
function testActionner(name: string, calls: Calls, script: () => ActionResult = () => ({ status: "done", message: "ok" }), continueByDefault = true): Actionner {
  let generation = 0;
  return {
    name,
    description: "test",
    continueByDefault,
    checkParameters: () => [],
    resolve(alert) {
      calls.resolve++;
      generation++;
      const f = alert.output_fields;
      return { ok: true, target: { kind: "pod", description: `pod ${String(f["k8s.ns.name"])}/${String(f["k8s.pod.name"])}`, identity: { namespace: String(f["k8s.ns.name"]), name: String(f["k8s.pod.name"]), uid: `uid-${generation}` } } };
    },
    async run(req) {
      calls.run.push({ target: req.target.identity.uid! });
      return script();
    },
  };
}

const routers: { router: Router; response?: InstalledResponse }[] = [];
afterEach(async () => {
  while (routers.length) await routers.pop()!.router.stop(0);
});

async function start(rules: string, actionners: Actionner[], response: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-response-engine-"));
  writeFileSync(join(dir, "rules.yaml"), rules);
  writeFileSync(
    join(dir, "peregrine.yaml"),
    stringify({ storage: { path: join(dir, "data"), fsync: false }, history: { enabled: false }, outputs: [], response: { enabled: true, rules_files: [join(dir, "rules.yaml")], retry: { initial_ms: 10, max_ms: 50, max_attempts: 4 }, ...response } }),
  );
  const { config, issues } = loadConfig(join(dir, "peregrine.yaml"), {});
  expect(issues.filter((i) => i.severity === "error")).toEqual([]);
  const logger = pino({ level: "silent" });
  const router = new Router(config!, logger);
  const installed = await installResponse(router, config!, logger, { actionners });
  router.start();
  routers.push({ router, ...(installed ? { response: installed } : {}) });
  return { router, store: installed!.store };
}

function alert(rule: string, ns = "default", pod = "web-1"): Alert {
  return { uuid: crypto.randomUUID(), time: new Date().toISOString(), priority: "Critical", rule, output: rule, output_fields: { "k8s.ns.name": ns, "k8s.pod.name": pod }, source: "syscall", tags: [], hostname: "h" };
}

async function settled(store: InstalledResponse["store"], uuid: string, n = 1): Promise<ActionRecord[]> {
  let recs: ActionRecord[] = [];
  await waitUntil(() => {
    recs = store.list({ alert: uuid });
    return recs.length >= n && recs.every((r) => r.status !== "started" && !(r.status === "failed" && r.code === "RESPONSE_ACTION_RETRY"));
  }, 30_000, `the actions of ${uuid}`);
  return recs.sort((a, b) => a.action_index - b.action_index);
}

const ONE = (actionner: string, extra = "") => `
- rule: R
  match: {rules: [Go]}
  actions:
    - action: Act
      actionner: ${actionner}
${extra}`;

describe("response engine in a router", () => {
  it("a transient failure is retried by the lane on the target recorded first, then done once", async () => {
    const calls: Calls = { resolve: 0, run: [] };
    let n = 0;
    const flaky = testActionner("test:flaky", calls, () => (++n < 3 ? { status: "failed", code: "RESPONSE_ACTION_FAILED", message: "API unavailable", retryable: true } : { status: "done", message: "ok" }));
    const { store, router } = await start(ONE("test:flaky"), [flaky]);
    const a = alert("Go");
    await router.accept([a]);
    const [rec] = await settled(store, a.uuid);
    expect(rec!.status).toBe("done");
    expect(rec!.attempts).toBe(3);
    expect(calls.resolve).toBe(1);
    expect(calls.run.map((r) => r.target)).toEqual(["uid-1", "uid-1", "uid-1"]);
  });

  it("a permanent failure is dead-lettered for the response lane with the reason", async () => {
    const calls: Calls = { resolve: 0, run: [] };
    const broken = testActionner("test:broken", calls, () => ({ status: "failed", code: "RESPONSE_ACTION_FAILED", message: "forbidden: pods is forbidden", retryable: false }));
    const { store, router } = await start(ONE("test:broken"), [broken]);
    const a = alert("Go");
    await router.accept([a]);
    const [rec] = await settled(store, a.uuid);
    expect(rec!.status).toBe("failed");
    await waitUntil(() => router.journal.countDeadLetters("response") === 1, 30_000, "the dead letter");
    const dl = router.journal.listDeadLetters({ output: "response" })[0]!;
    expect(dl.uuid).toBe(a.uuid);
    expect(dl.reason).toBe('rule "R", action "Act" (test:broken): forbidden: pods is forbidden');
    expect(calls.run).toHaveLength(1);
  });

  it("a pod in kube-system is refused with a record even when a rule asks for it; run is never called", async () => {
    const calls: Calls = { resolve: 0, run: [] };
    const { store, router } = await start(ONE("test:pods"), [testActionner("test:pods", calls)], { allowlist: { namespaces: ["falco"] } });
    const a = alert("Go", "kube-system", "coredns-1");
    const b = alert("Go", "falco", "falco-x");
    await router.accept([a, b]);
    const [ra] = await settled(store, a.uuid);
    const [rb] = await settled(store, b.uuid);
    expect(ra!.status).toBe("refused");
    expect(ra!.message).toBe("refused: pod kube-system/coredns-1: namespace kube-system is allowlisted (built in)");
    expect(rb!.message).toContain("namespace falco is allowlisted (response.allowlist.namespaces)");
    expect(calls.run).toHaveLength(0);
  });

  it("the rate limit per actionner refuses past its burst, and records it", async () => {
    const calls: Calls = { resolve: 0, run: [] };
    const { store, router } = await start(ONE("test:limited"), [testActionner("test:limited", calls)], { rate_limits: { "test:limited": { per_second: 0.001, burst: 2 } } });
    const alerts = [alert("Go", "a", "p1"), alert("Go", "a", "p2"), alert("Go", "a", "p3")];
    for (const a of alerts) await router.accept([a]);
    const statuses = [];
    for (const a of alerts) statuses.push((await settled(store, a.uuid))[0]!.status);
    expect(statuses.sort()).toEqual(["done", "done", "rate_limited"]);
    expect(calls.run).toHaveLength(2);
  });

  it("Talon's continue: an actionner that stops the chain, an action's continue: true, a rule's continue: false", async () => {
    const calls: Calls = { resolve: 0, run: [] };
    const final = testActionner("test:final", calls, undefined, false);
    const after = testActionner("test:after", calls);
    const rules = `
- rule: Stops
  match: {rules: [Go]}
  actions:
    - action: First
      actionner: test:final
    - action: Never
      actionner: test:after
- rule: Continues
  continue: false
  match: {rules: [Go]}
  actions:
    - action: First
      actionner: test:final
      continue: true
    - action: Then
      actionner: test:after
- rule: Not reached
  match: {rules: [Go]}
  actions:
    - action: Never
      actionner: test:after
`;
    const { store, router } = await start(rules, [final, after]);
    const a = alert("Go");
    await router.accept([a]);
    const recs = await settled(store, a.uuid, 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(store.list({ alert: a.uuid }).map((r) => `${r.rule}/${r.action}:${r.status}`).sort()).toEqual(["Continues/First:done", "Continues/Then:done", "Stops/First:done"]);
    expect(recs).toHaveLength(3);
  });
});
