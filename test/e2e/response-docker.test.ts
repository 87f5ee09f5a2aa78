/**
 * docker:stop and docker:pause against a real Docker Engine (the harness's `docker` service),
 * run by a real router from a response rule: the container really stops or pauses, a container
 * on the allowlist is refused with a record, and one that is gone is recorded gone.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "../harness/services.js";
import { DOCKER_HOST, dockerCli } from "../harness/services/docker.js";
import { TESTBASE } from "../harness/images/images.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { isRoot } from "../unit/sensor/helpers.js";
import type { ActionRecord } from "../../src/response/store.js";

const RULES = `
- rule: Stop drifted containers
  match:
    rules: [Drift detected]
  actions:
    - action: Stop the container
      actionner: docker:stop
      parameters:
        timeout: 1

- rule: Freeze miners
  match:
    rules: [Miner detected]
  actions:
    - action: Pause the container
      actionner: docker:pause
`;

describe.skipIf(!isRoot)("response: docker actionners against a real Docker Engine (root)", () => {
  const made: string[] = [];
  let router: RouterProcess;
  const protectedName = `pg-resp-keep-${randomBytes(3).toString("hex")}`;

  beforeAll(async () => {
    await services.start("docker");
    const dir = mkdtempSync(join(tmpdir(), "peregrine-response-docker-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    router = await startRouter({
      config: { outputs: [], response: { enabled: true, rules_files: [rules], allowlist: { containers: [protectedName] } } },
      env: { DOCKER_HOST },
    });
  }, 300_000);

  afterAll(async () => {
    await router?.stop();
    for (const name of made) dockerCli(["rm", "--force", name]);
  });

  function start(name = `pg-resp-${randomBytes(4).toString("hex")}`): { name: string; id: string } {
    made.push(name);
    const r = dockerCli(["run", "--detach", "--name", name, TESTBASE.ref, "sleep", "600"]);
    if (!r.ok) throw new Error(`docker run: ${r.err}`);
    return { name, id: r.out.trim() };
  }

  function state(name: string): { Running: boolean; Paused: boolean } {
    return (JSON.parse(dockerCli(["inspect", name]).out) as { State: { Running: boolean; Paused: boolean } }[])[0]!.State;
  }

  async function act(rule: string, fields: Record<string, unknown>): Promise<ActionRecord> {
    const res = await router.post({ rule, priority: "Critical", output: rule, time: new Date().toISOString(), output_fields: fields });
    expect(res.status).toBe(200);
    const uuid = (res.json as { uuid: string }).uuid;
    let rec: ActionRecord | undefined;
    await waitUntil(
      async () => {
        rec = ((await router.get(`/api/response?alert=${uuid}`)).json as { actions: ActionRecord[] }).actions[0];
        return rec !== undefined && rec.status !== "started";
      },
      60_000,
      "the action to be recorded",
    );
    return rec!;
  }

  it("docker:stop stops the container the alert names (container.id)", async () => {
    const c = start();
    expect(state(c.name).Running).toBe(true);
    const rec = await act("Drift detected", { "container.id": c.id.slice(0, 12), "container.name": c.name });
    expect(rec.status, rec.message).toBe("done");
    expect(rec.target?.identity.id).toBe(c.id);
    expect(state(c.name).Running).toBe(false);
  }, 120_000);

  it("docker:pause pauses it", async () => {
    const c = start();
    const rec = await act("Miner detected", { "container.id": c.id.slice(0, 12) });
    expect(rec.status, rec.message).toBe("done");
    expect(state(c.name).Paused).toBe(true);
  }, 120_000);

  it("an allowlisted container is refused with a record, and keeps running", async () => {
    const c = start(protectedName);
    const rec = await act("Drift detected", { "container.id": c.id.slice(0, 12) });
    expect(rec.status).toBe("refused");
    expect(rec.code).toBe("RESPONSE_REFUSED");
    expect(rec.message).toContain(`container ${protectedName} is allowlisted`);
    expect(state(c.name).Running).toBe(true);
  }, 120_000);

  it("a container that no longer exists is recorded gone", async () => {
    const rec = await act("Drift detected", { "container.id": "0123456789ab" });
    expect(rec.status).toBe("gone");
    expect(rec.code).toBe("RESPONSE_TARGET_GONE");
  }, 60_000);
});
