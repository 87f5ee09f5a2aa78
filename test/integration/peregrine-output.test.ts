/**
 * The `peregrine` output against a real router process (its ingest auth and body limit, a
 * webhook output behind it to a receiver): what it sends and how it reads the router's answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { ParseContext } from "../../src/config/schema.js";
import { createLogger } from "../../src/log.js";
import type { Output, SendResult } from "../../src/delivery/output.js";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import { makeAlerts } from "../harness/alerts.js";
import { freePort, Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

const TOKEN = "node-token-1";
const logger = createLogger({ level: "silent", pretty: false });

function peregrine(options: Record<string, unknown>, batchMaxEvents = 500): Output {
  const def = OUTPUT_TYPES.peregrine!;
  const ctx = new ParseContext();
  const config = def.schema.parse(options, ctx, "o");
  expect(ctx.issues).toEqual([]);
  return def.create(config, { name: "router", logger, dataDir: "/nonexistent", batchMaxEvents });
}

const send = (o: Output, batch: readonly Alert[]): Promise<SendResult> => o.send(batch, new AbortController().signal);

describe("peregrine output", () => {
  const receiver = new Receiver();
  let router: RouterProcess;
  const outputs: Output[] = [];
  const output = (options: Record<string, unknown>) => {
    const o = peregrine(options);
    outputs.push(o);
    return o;
  };
  const arrived = () => new Set(receiver.alerts().map((a) => a.uuid));
  const allArrived = (alerts: readonly Alert[]) =>
    waitUntil(() => alerts.every((a) => arrived().has(a.uuid)), 60_000, `${alerts.length} alerts at the receiver`);

  beforeAll(async () => {
    await receiver.start();
    router = await startRouter({
      config: {
        ingest: { auth: { tokens: [TOKEN] }, max_body_bytes: 4096 },
        outputs: [{ name: "hook", type: "webhook", url: receiver.url, batch: { max_events: 100 } }],
      },
    });
  });

  afterAll(async () => {
    for (const o of outputs) await o.close();
    await router?.stop();
    await receiver.stop();
  });

  it("posts a batch as one JSON array with the bearer token; the router keeps the uuids", async () => {
    const alerts = makeAlerts(3);
    expect(await send(output({ url: router.url, token: TOKEN }), alerts)).toEqual({ kind: "ok" });
    await allArrived(alerts);
  });

  it("a wrong token is a permanent refusal with the router's reason", async () => {
    const r = await send(output({ url: router.url, token: "wrong" }), makeAlerts(2));
    expect(r).toMatchObject({ kind: "reject", status: 401 });
    expect((r as { reason: string }).reason).toContain("INGEST_UNAUTHORIZED");
  });

  it("a batch refused for one alert is sent again without it: the others arrive, that one is refused alone", async () => {
    const alerts = makeAlerts(5);
    const bad = { ...alerts[2]!, priority: "Bogus" } as unknown as Alert;
    const batch = [alerts[0]!, alerts[1]!, bad, alerts[3]!, alerts[4]!];
    const r = await send(output({ url: router.url, token: TOKEN }), batch);
    expect(r.kind).toBe("partial");
    const failed = (r as Extract<SendResult, { kind: "partial" }>).failed;
    expect(failed.map((f) => [f.index, f.result.kind])).toEqual([[2, "reject"]]);
    expect((failed[0]!.result as { reason: string }).reason).toContain("priority");
    const good = batch.filter((a) => a !== bad);
    await allArrived(good);
    expect(arrived().has(bad.uuid)).toBe(false);
  });

  it("a batch larger than the router's body limit is sent in halves until each part fits", async () => {
    // ~600 bytes each: 16 of them are more than twice the router's 4 KiB limit
    const alerts = makeAlerts(16, (i) => ({ output: `padded ${i} ${"x".repeat(300)}` }));
    expect(JSON.stringify(alerts).length).toBeGreaterThan(2 * 4096);
    expect(await send(output({ url: router.url, token: TOKEN }), alerts)).toEqual({ kind: "ok" });
    await allArrived(alerts);
  });

  it("a router that cannot be reached is worth retrying", async () => {
    const r = await send(output({ url: `http://127.0.0.1:${await freePort()}`, token: TOKEN }), makeAlerts(1));
    expect(r.kind).toBe("retry");
  });

  it("config: url is required and must be a URL; an empty token is refused", () => {
    const def = OUTPUT_TYPES.peregrine!;
    const ctx = new ParseContext();
    def.schema.parse({ url: "not a url", token: "" }, ctx, "o");
    expect(ctx.issues.filter((i) => i.severity === "error").map((i) => i.path).sort()).toEqual(["o.token", "o.url"]);
  });
});
