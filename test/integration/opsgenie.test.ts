// The opsgenie output sending straight to the Alert API contract fake: limits and keys.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opsgenieOutput } from "../../outputs/opsgenie/index.js";
import { ParseContext } from "../../src/config/schema.js";
import { makeAlert } from "../harness/alerts.js";
import { startOpsgenieFake, type OpsgenieFake } from "../harness/opsgenie-fake.js";

let fake: OpsgenieFake;
beforeAll(async () => {
  fake = await startOpsgenieFake();
});
afterAll(() => fake.close());

describe("opsgenie output against the Alert API contract fake", () => {
  it("fits an oversized alert to Opsgenie's limits, with a templated alias", async () => {
    const ctx = new ParseContext();
    const config = opsgenieOutput.schema.parse({ api_key: "k", url: fake.url, alias: "{{rule}}/{{hostname}}", responders: [{ type: "team", name: "big" }] }, ctx, "outputs[0]");
    opsgenieOutput.validate!(config, ctx, "outputs[0]");
    expect(ctx.issues).toEqual([]);
    const out = opsgenieOutput.create(config, { name: "og", logger: pino({ level: "silent" }), dataDir: tmpdir() });
    const fields: Record<string, string> = {};
    for (let i = 0; i < 100; i++) fields[`f${i}`] = "v".repeat(1000);
    const alert = makeAlert(0, { rule: "R".repeat(300), output: "o".repeat(20_000), output_fields: fields, tags: Array.from({ length: 30 }, (_, i) => `tag-${i}-${"t".repeat(60)}`) });
    expect(await out.send([alert], AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
    await out.close();
    expect(fake.refusals).toEqual([]);
    const got = fake.alerts.find((a) => a.responders?.[0]?.name === "big")!;
    expect(got.alias).toBe(`${alert.rule}/node-1`.slice(0, 512));
    expect(got.message.length).toBe(130);
    expect(got.tags).toHaveLength(20);
    expect(got.details?.uuid).toBe(alert.uuid);
  });
});
