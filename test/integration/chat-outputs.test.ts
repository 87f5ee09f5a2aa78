// Each chat output sending straight to its service's contract fake: every message it builds
// is within the service's documented schema and limits (an oversized alert is cut, not
// refused), bursts become one digest message, alert text cannot ping anyone, and the
// service's 429 answer is read for its wait.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { makeAlert, makeAlerts, runId } from "../harness/alerts.js";
import { startChatFake, type ChatFake, type ChatService } from "../harness/chat-fakes.js";

const SERVICES: ChatService[] = ["teams", "discord", "mattermost", "googlechat", "rocketchat", "telegram", "webex"];
const signal = () => AbortSignal.timeout(30_000);

function create(type: string, options: Record<string, unknown>): Output {
  const def = OUTPUT_TYPES[type]!;
  const ctx = new ParseContext();
  const config = def.schema.parse(options, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return def.create(config as never, { name: type, logger: pino({ level: "silent" }), dataDir: tmpdir() });
}

for (const service of SERVICES) {
  describe(`${service} output against its contract fake`, () => {
    let fake: ChatFake;
    beforeAll(async () => {
      fake = await startChatFake(service, { perSecond: 1000, burst: 1000 });
    });
    afterAll(() => fake.close());

    const sent = (run: string) => fake.messages.filter((m) => m.hook === run).map((m) => JSON.stringify(m.payload));

    it("sends one alert as one message carrying its uuid", async () => {
      const run = runId();
      const out = create(service, fake.target(run));
      const alert = makeAlert(1);
      expect(await out.send([alert], signal())).toEqual({ kind: "ok" });
      await out.close();
      expect(fake.refusals).toEqual([]);
      expect(sent(run)).toHaveLength(1);
      expect(sent(run)[0]).toContain(alert.uuid);
      expect(sent(run)[0]).toContain("Test rule 1");
    });

    it("cuts an oversized alert to the service's limits instead of losing it", async () => {
      const run = runId();
      const out = create(service, fake.target(run));
      const fields: Record<string, string> = {};
      for (let i = 0; i < 60; i++) fields[`field.${i}`] = "x".repeat(3000);
      const alert = makeAlert(2, { output: `huge ${"é<&>*_".repeat(20_000)}`, output_fields: fields });
      expect(await out.send([alert], signal())).toEqual({ kind: "ok" });
      await out.close();
      expect(fake.refusals).toEqual([]);
      expect(sent(run)[0]).toContain(alert.uuid);
      expect(sent(run)[0]).toContain("truncated");
    });

    it("sends a burst as one digest: the most severe alert in full, the rest counted by rule", async () => {
      const run = runId();
      const out = create(service, fake.target(run));
      const burst = makeAlerts(40, (i) => ({ priority: i === 17 ? "Emergency" : "Notice" }));
      expect(await out.send(burst, signal())).toEqual({ kind: "ok" });
      await out.close();
      expect(fake.refusals).toEqual([]);
      expect(sent(run)).toHaveLength(1);
      const body = sent(run)[0]!;
      expect(body).toContain(burst[17]!.uuid);
      expect(body).not.toContain(burst[0]!.uuid);
      // Rules by count: rule 0 holds 14 of the other 39, rule 1 13, rule 2 (the lead's) 12.
      expect(body).toContain("39 more alerts in the last minute: 14 × Test rule 0, 13 × Test rule 1, 12 × Test rule 2");
    });

    it("without a digest, shows as many alerts in full as fit and notes the rest", async () => {
      const run = runId();
      const out = create(service, { ...fake.target(run), digest: { enabled: false } });
      const batch = makeAlerts(30, () => ({ output: "y".repeat(1500) }));
      expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
      await out.close();
      expect(fake.refusals).toEqual([]);
      const body = sent(run)[0]!;
      expect(body).toContain(batch[0]!.uuid);
      const shown = batch.filter((a) => body.includes(a.uuid)).length;
      if (shown < batch.length) expect(body).toContain(`${batch.length - shown} more alerts not shown`);
    });

    it("keeps alert text from pinging the channel", async () => {
      const run = runId();
      const out = create(service, fake.target(run));
      expect(await out.send([makeAlert(3, { output: "hello @channel @here @all <!channel> <users/all> <@all>" })], signal())).toEqual({ kind: "ok" });
      await out.close();
      const body = sent(run)[0]!;
      expect(body).not.toMatch(/(^|[^\w\\])@(channel|here|all)\b/);
      // Angle-bracket mentions are markup only where the service reads them so (Teams does not).
      if (service !== "teams") expect(body).not.toMatch(/<(!channel|users\/all|@all)>/);
    });

    it("reads the service's 429 for how long to wait, and retries 5xx", async () => {
      const run = runId();
      const out = create(service, fake.target(run));
      fake.setFault({ status: 429, retryAfter: 7 });
      try {
        const limited = await out.send([makeAlert(4)], signal());
        expect(limited).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 7000 });
        // Another webhook: this one must now wait out the 7 s.
        const other = create(service, fake.target(runId()));
        fake.setFault({ status: 503 });
        expect(await other.send([makeAlert(5)], signal())).toMatchObject({ kind: "retry", status: 503 });
        await other.close();
      } finally {
        fake.setFault(undefined);
        await out.close();
      }
    });

    it("puts a revoked webhook's refusal down as permanent", async () => {
      const run = runId();
      const out = create(service, fake.revokedTarget(run));
      const result = await out.send([makeAlert(6)], signal());
      await out.close();
      expect(result).toMatchObject({ kind: "reject" });
      expect(sent(run)).toEqual([]);
    });
  });
}
