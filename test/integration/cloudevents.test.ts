// The cloudevents output's settings and headers, against a real HTTP receiver.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudeventsOutput } from "../../outputs/cloudevents/index.js";
import { ParseContext } from "../../src/config/schema.js";
import { makeAlert } from "../harness/alerts.js";
import { parseCloudEvent } from "../harness/cloudevents-check.js";
import { Receiver } from "../harness/receiver.js";

const receiver = new Receiver();
beforeAll(() => receiver.start());
afterAll(() => receiver.stop());

describe("cloudevents output", () => {
  it("refuses extension names CloudEvents does not allow, naming each", () => {
    const ctx = new ParseContext();
    const config = cloudeventsOutput.schema.parse({ url: "http://x/", extensions: { Cluster: "a", id: "b", ok1: "c" } }, ctx, "outputs[0]");
    cloudeventsOutput.validate!(config, ctx, "outputs[0]");
    expect(ctx.issues.map((i) => i.path).sort()).toEqual(["outputs[0].extensions.Cluster", "outputs[0].extensions.id"]);
  });

  it("carries a subject with quotes and non-ASCII characters in binary mode intact", async () => {
    const ctx = new ParseContext();
    const config = cloudeventsOutput.schema.parse({ url: receiver.url }, ctx, "outputs[0]");
    const out = cloudeventsOutput.create(config, { name: "ce", logger: pino({ level: "silent" }), dataDir: tmpdir() });
    const alert = makeAlert(0, { rule: 'Écriture "sous" /etc — 日本' });
    expect(await out.send([alert], AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
    await out.close();
    const event = parseCloudEvent(receiver.requests.at(-1)!);
    expect(event).toMatchObject({ mode: "binary", attributes: { id: alert.uuid, subject: alert.rule }, data: { uuid: alert.uuid } });
  });
});
