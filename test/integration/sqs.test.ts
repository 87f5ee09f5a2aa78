// The SQS output on its own against the harness's moto server: a FIFO queue keeps the order of
// a batch split over several calls and stores a resent alert once (the uuid is the
// deduplication id); the healthcheck names a missing queue.
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqsOutput } from "../../outputs/sqs/index.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Alert } from "../../src/alert.js";
import type { Output } from "../../src/delivery/output.js";
import { makeAlerts } from "../harness/alerts.js";
import { S3 } from "../harness/endpoints.js";
import { services } from "../harness/services.js";

const client = new SQSClient({
  endpoint: S3.endpoint,
  region: S3.region,
  credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey },
});

function createSqs(options: Record<string, unknown>): Output {
  const ctx = new ParseContext();
  const config = sqsOutput.schema.parse(
    { endpoint: S3.endpoint, access_key_id: S3.accessKeyId, secret_access_key: S3.secretAccessKey, region: S3.region, ...options },
    ctx,
    "outputs[0]",
  );
  sqsOutput.validate!(config, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return sqsOutput.create(config, { name: "queue", logger: pino({ level: "silent" }), dataDir: "/tmp" });
}

async function readAll(url: string): Promise<Alert[]> {
  const got: Alert[] = [];
  for (;;) {
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) return got;
    for (const m of messages) got.push(JSON.parse(m.Body!) as Alert);
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

let release: (() => void) | undefined;
beforeAll(async () => {
  release = await services.useExclusively("s3");
  await services.start("s3");
});
afterAll(() => {
  client.destroy();
  release?.();
});

describe("sqs output against moto", () => {
  it("a FIFO queue: 25 alerts over three calls arrive in order, a resend is stored once", async () => {
    const url = (await client.send(new CreateQueueCommand({ QueueName: `peregrine-${Date.now()}.fifo`, Attributes: { FifoQueue: "true" } }))).QueueUrl!;
    const out = createSqs({ queue_url: url });
    try {
      const alerts = makeAlerts(25);
      expect(await out.send(alerts, AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
      expect(await out.send(alerts.slice(0, 5), AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
      const got = await readAll(url);
      expect(got.map((a) => a.uuid)).toEqual(alerts.map((a) => a.uuid));
      expect(got[0]).toEqual(alerts[0]);
    } finally {
      await out.close();
    }
  });

  it("the healthcheck names a queue that does not exist", async () => {
    const out = createSqs({ queue_url: `${S3.endpoint}/123456789012/peregrine-missing-${Date.now()}` });
    try {
      await expect(out.healthcheck!(AbortSignal.timeout(30_000))).rejects.toThrow(/queue .*peregrine-missing-\d+ does not exist/);
    } finally {
      await out.close();
    }
  });
});
